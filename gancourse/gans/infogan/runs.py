"""Several InfoGAN runs (seeds, the no-L_I ablation) with one call, optionally in parallel.

A code-accuracy claim needs several seeds (the categorical code finds the digits in most runs,
not all), so notebook 14 trains one model per seed plus the ablation. :func:`train_runs` runs
those jobs one after another, or in ``workers`` fresh ("spawn") processes with one torch
thread each. Each job seeds itself (``torch.manual_seed(seed)`` before building the networks,
``config.seed = seed`` for the trainer's noise and data order), so a job's result does not
depend on which process ran it. Every job trains through :class:`InfoGANTrainer`, i.e. the
course's one loop.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from typing import Any

import torch

from gancourse.gans.infogan.models import InfoDiscriminator, InfoGenerator, QHead
from gancourse.gans.infogan.trainer import InfoGANTrainer
from gancourse.training import TrainConfig


@dataclass
class InfoGANSetup:
    """Everything that defines one InfoGAN run except the seed and the ablation switch."""

    steps: int = 2000
    batch_size: int = 64
    z_dim: int = 62
    n_cat: int = 10
    n_cont: int = 2
    ngf: int = 32
    ndf: int = 32
    fc: int = 256
    q_hidden: int = 128
    lr_g: float = 1e-3                 # the paper's MNIST rates: 1e-3 for G, 2e-4 for D
    lr_d: float = 2e-4
    lr_q: float | None = None          # None: the rate of Q's optimiser role
    lambda_cat: float = 1.0
    lambda_cont: float = 0.1
    q_role: str = "D"
    learn_var: bool = False
    log_every: int = 25
    image_size: int = 28
    channels: int = 1
    extra: dict[str, Any] = field(default_factory=dict)   # more TrainConfig fields


def build_trainer(images: torch.Tensor, setup: InfoGANSetup, seed: int, info: bool = True,
                  device: str | torch.device = "cpu", progress: bool = False) -> InfoGANTrainer:
    """An untrained :class:`InfoGANTrainer` for ``images`` (N, C, H, W) in [-1, 1]:
    networks initialised from ``seed``, ``info=False`` the ablation without L_I in G's loss."""
    s = setup
    torch.manual_seed(seed)
    netG = InfoGenerator(s.z_dim, s.n_cat, s.n_cont, s.channels, s.image_size, s.ngf, s.fc)
    netD = InfoDiscriminator(s.channels, s.image_size, s.ndf, s.fc)
    netQ = QHead(s.fc, s.n_cat, s.n_cont, s.q_hidden, learn_var=s.learn_var)
    config = TrainConfig(steps=s.steps, batch_size=s.batch_size, z_dim=s.z_dim, lr_g=s.lr_g,
                         lr_d=s.lr_d, log_every=s.log_every, progress=progress, seed=seed, **s.extra)
    return InfoGANTrainer(netG, netD, netQ, images, config, lambda_cat=s.lambda_cat,
                          lambda_cont=s.lambda_cont, lr_q=s.lr_q, q_role=s.q_role,
                          info_in_g=info, device=device)


def _job(images: torch.Tensor, setup: dict[str, Any], seed: int, info: bool) -> dict[str, Any]:
    """One run in a worker process: its networks' weights and its history."""
    torch.set_num_threads(1)
    tr = build_trainer(images, InfoGANSetup(**setup), seed, info)
    t0 = time.perf_counter()
    tr.fit()
    return {"networks": {k: v.state_dict() for k, v in tr.networks.items()},
            "history": tr.history, "snapshots": tr.snapshots, "wall_s": time.perf_counter() - t0}


def train_runs(images: torch.Tensor, setup: InfoGANSetup, jobs: Sequence[tuple[int, bool]],
               workers: int = 1, device: str | torch.device = "cpu",
               progress: bool = False) -> list[InfoGANTrainer]:
    """Train one InfoGAN per job ``(seed, info)`` and return the trainers, in job order.

    ``workers`` > 1 runs the jobs in that many spawned CPU processes (one thread each) and
    loads their weights into trainers built here (for a GPU, or one job, use 1). Each trainer's
    ``wall_s`` holds the seconds its training took.
    """
    jobs = [(int(s), bool(i)) for s, i in jobs]
    if not jobs or workers < 1:
        raise ValueError(f"need at least one (seed, info) job and workers >= 1, got {jobs}, {workers}")
    images = images.detach().cpu().contiguous()
    if workers == 1 or len(jobs) == 1:
        out = []
        for seed, info in jobs:
            tr = build_trainer(images, setup, seed, info, device=device, progress=progress)
            t0 = time.perf_counter()
            tr.fit()
            tr.wall_s = time.perf_counter() - t0
            out.append(tr)
        return out
    with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(_job, images, asdict(setup), seed, info) for seed, info in jobs]
        results = [f.result() for f in futures]
    out = []
    for (seed, info), res in zip(jobs, results):
        tr = build_trainer(images, setup, seed, info, device=device)
        for name, state in res["networks"].items():
            tr.networks[name].load_state_dict(state)
        tr.history, tr.snapshots, tr.step = res["history"], res["snapshots"], setup.steps
        tr.wall_s = res["wall_s"]
        out.append(tr)
    return out
