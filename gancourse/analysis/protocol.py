"""The toy mode-collapse protocol (PacGAN, Lin et al., 2018; VEEGAN, Srivastava et al., 2017).

Every method of :data:`METHODS` is trained on a toy mixture (``grid25``: 25 Gaussians on
{-4, -2, 0, 2, 4}², σ = 0.05; ``ring8``: 8 on a circle of radius 1, σ = 0.01) with the same
generator and the same budget (:class:`ToySetup`), once per seed; 2,500 samples are scored with
:func:`gancourse.metrics.mode_metrics` (high quality: within 3σ of the nearest mode; a mode is
covered when a high-quality sample lands on it; reverse KL of the mode histogram), and
:func:`protocol` reports mean ± standard error over the seeds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from gancourse.data import toy as make_toy
from gancourse.gans.collapse import (
    BatchFeatureMLP,
    MinibatchDiscrimination,
    MinibatchStdDev,
    MixtureGenerator,
    PackedDiscriminator,
    UnrolledGANTrainer,
)
from gancourse.metrics import mode_metrics
from gancourse.models import MLPDiscriminator, MLPGenerator
from gancourse.training import GANTrainer, TrainConfig

METHODS = ("gan", "wgan-gp", "minibatch-disc", "mbstd", "pacgan2", "pacgan4", "unrolled", "mix-g")
TOYS = ("grid25", "ring8")
LABELS = {"gan": "GAN (non-saturating)", "wgan-gp": "WGAN-GP", "minibatch-disc": "minibatch discrimination",
          "mbstd": "minibatch stddev", "pacgan2": "PacGAN2", "pacgan4": "PacGAN4",
          "unrolled": "unrolled GAN (k = 5)", "mix-g": "several generators"}
# PacGAN paper, Table 1 (grid-25, 2,500 samples, mean over 10 runs): modes covered, HQ share.
PACGAN_TABLE1 = {"gan": (17.3, 0.948), "pacgan4": (24.8, 0.936)}


@dataclass(frozen=True)
class ToySetup:
    """One generator and budget shared by every method of the protocol.

    G: MLP z (z_dim) -> R² with ``g_hidden`` ReLU layers; D: MLP with ``d_hidden`` LeakyReLU
    layers. ``steps`` generator updates with Adam(lr, betas), both learning rates falling
    linearly to 0 over the last ``lr_decay`` share of the run; ``batch_size`` samples per
    update (PacGAN-m sees m times as many, packed into ``batch_size`` decisions). ``ema``:
    decay of the averaged G that is evaluated (None: the raw G). WGAN-GP takes
    ``n_critic_wgan`` critic steps per generator step, the unrolled GAN looks ``unroll_steps``
    D steps ahead, ``mix-g`` uses ``n_generators`` generators.
    """

    steps: int = 10_000
    batch_size: int = 256
    z_dim: int = 2
    g_hidden: tuple[int, ...] = (128, 128, 128)
    d_hidden: tuple[int, ...] = (128, 128, 128)
    lr: float = 2e-3
    betas: tuple[float, float] = (0.5, 0.999)
    lr_decay: float = 0.5
    ema: float | None = 0.999
    n_critic_wgan: int = 5
    unroll_steps: int = 5
    n_generators: int = 8


def mixture_widths(g_hidden: Sequence[int], n: int) -> tuple[int, ...]:
    """Hidden widths of each of ``n`` generators with as many weights in all as one G of
    ``g_hidden``: a width-h layer pair has h² weights, n pairs of width h/√n have h² too."""
    return tuple(max(1, round(h / math.sqrt(n))) for h in g_hidden)


def make_trainer(method: str, toy: str, setup: ToySetup, seed: int = 0) -> GANTrainer:
    """The trainer for ``method`` (one of :data:`METHODS`) on ``toy`` ("grid25" | "ring8").

    Every method uses the same generator (``mix-g``: ``n_generators`` generators of
    :func:`mixture_widths`, the same number of weights), the same number of generator steps
    and the same discriminator body; what differs is what the method is about.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; valid: {', '.join(METHODS)}")
    if toy not in TOYS:
        raise ValueError(f"unknown toy {toy!r}; valid: {', '.join(TOYS)}")
    torch.manual_seed(seed)
    data = make_toy(toy)
    cfg = dict(steps=setup.steps, batch_size=setup.batch_size, z_dim=setup.z_dim, lr_g=setup.lr,
               lr_d=setup.lr, betas=setup.betas, lr_decay=setup.lr_decay, ema=setup.ema,
               progress=False, seed=seed, log_every=max(1, setup.steps // 100),
               sample_every=setup.steps)
    if method == "mix-g":
        netG: torch.nn.Module = MixtureGenerator(setup.n_generators, setup.z_dim, 2,
                                                 mixture_widths(setup.g_hidden, setup.n_generators))
    else:
        netG = MLPGenerator(setup.z_dim, (2,), hidden=setup.g_hidden, out_activation=None)
    netD: torch.nn.Module = MLPDiscriminator(2, hidden=setup.d_hidden)
    if method == "wgan-gp":
        cfg.update(loss="wgan", penalty="gp", n_critic=setup.n_critic_wgan, betas=(0.5, 0.9))
    elif method == "minibatch-disc":
        netD = BatchFeatureMLP(2, setup.d_hidden, MinibatchDiscrimination(setup.d_hidden[-1]))
    elif method == "mbstd":
        netD = BatchFeatureMLP(2, setup.d_hidden, MinibatchStdDev(group_size=4))
    elif method.startswith("pacgan"):
        m = int(method[len("pacgan"):])
        netD = PackedDiscriminator(MLPDiscriminator(2 * m, hidden=setup.d_hidden), m)
        cfg.update(batch_size=setup.batch_size * m)
    config = TrainConfig(**cfg)
    if method == "unrolled":
        return UnrolledGANTrainer(netG, netD, data, config, device="cpu",
                                  unroll_steps=setup.unroll_steps)
    return GANTrainer(netG, netD, data, config, device="cpu")


def run_method(method: str, toy: str, setup: ToySetup, seed: int = 0,
               n_samples: int = 2500) -> dict[str, Any]:
    """Train one method once and score ``n_samples`` samples with :func:`mode_metrics`.

    Returns the metrics plus ``samples`` (n_samples, 2) numpy, ``time_s``, ``method``,
    ``toy`` and ``seed``.
    """
    t0 = time.perf_counter()
    trainer = make_trainer(method, toy, setup, seed)
    trainer.fit()
    samples = trainer.sample(n_samples, seed=10_000 + seed)                 # (N, 2)
    data = make_toy(toy)
    result = mode_metrics(samples, data.centers, data.sigma)
    result.update(method=method, toy=toy, seed=seed, samples=samples.numpy(),
                  time_s=time.perf_counter() - t0)
    return result


def _run_job(args: tuple[str, str, dict[str, Any], int, int]) -> dict[str, Any]:
    method, toy, setup, seed, n_samples = args
    torch.set_num_threads(1)
    return run_method(method, toy, ToySetup(**setup), seed, n_samples)


def mean_se(values: Sequence[float]) -> tuple[float, float]:
    """Mean and standard error s / sqrt(n) (s the sample standard deviation; 0 for n = 1)."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        raise ValueError("need at least one value")
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else 0.0


def protocol(methods: Sequence[str] | Mapping[str, Sequence[int]], toy: str, setup: ToySetup,
             seeds: Sequence[int] = range(5), n_samples: int = 2500, workers: int = 1,
             progress: bool = True) -> dict[str, dict[str, Any]]:
    """The PacGAN protocol: each method trained once per seed, scored on ``n_samples``.

    ``methods`` is a list (every method gets ``seeds``) or a mapping {method: its seeds}.
    Returns {method: {"modes": (mean, se), "hq": (mean, se), "kl": (mean, se),
    "runs": [per-seed results of :func:`run_method`, in seed order], "time_s": total seconds}}.
    ``workers`` > 1 runs the (method, seed) jobs in that many fresh ("spawn") processes with
    one torch thread each (one thread in this process otherwise), so the results do not
    depend on it: each job seeds itself.
    """
    plan = dict(methods) if isinstance(methods, Mapping) else {m: list(seeds) for m in methods}
    for method, method_seeds in plan.items():
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; valid: {', '.join(METHODS)}")
        if not list(method_seeds):
            raise ValueError(f"method {method!r} has no seeds")
    if toy not in TOYS:
        raise ValueError(f"unknown toy {toy!r}; valid: {', '.join(TOYS)}")
    if not plan or workers < 1:
        raise ValueError(f"need at least one method and workers >= 1, got {list(plan)}, {workers}")
    jobs = [(m, toy, asdict(setup), s, n_samples) for m, ss in plan.items() for s in ss]
    bar = tqdm(total=len(jobs), desc=f"{toy} protocol", disable=not progress)
    if workers == 1:
        results, threads = [], torch.get_num_threads()
        torch.set_num_threads(1)                           # as in the worker processes
        try:
            for job in jobs:
                results.append(run_method(job[0], toy, setup, job[3], n_samples))
                bar.update(1)
        finally:
            torch.set_num_threads(threads)
    else:
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            futures = [pool.submit(_run_job, job) for job in jobs]
            for _ in as_completed(futures):
                bar.update(1)
            results = [f.result() for f in futures]
    bar.close()
    out: dict[str, dict[str, Any]] = {}
    for method in plan:
        runs = [r for r in results if r["method"] == method]
        out[method] = {"modes": mean_se([r["modes_covered"] for r in runs]),
                       "hq": mean_se([r["hq_share"] for r in runs]),
                       "kl": mean_se([r["reverse_kl"] for r in runs]),
                       "runs": runs, "time_s": sum(r["time_s"] for r in runs)}
    return out


def results_table(results: Mapping[str, Mapping[str, Any]],
                  anchors: Mapping[str, tuple[float, float]] = PACGAN_TABLE1) -> str:
    """A Markdown table of :func:`protocol` results (mean ± se), with published anchors."""
    lines = ["| method | seeds | modes covered | high-quality share | reverse KL | s per run "
             "| published (modes, HQ) |", "|---|---|---|---|---|---|---|"]
    for method, r in results.items():
        n = len(r["runs"])
        pub = anchors.get(method)
        pub_s = f"{pub[0]:.1f}, {100 * pub[1]:.1f} %" if pub else ""
        lines.append(f"| {LABELS.get(method, method)} | {n} | {r['modes'][0]:.1f} ± {r['modes'][1]:.1f} "
                     f"| {100 * r['hq'][0]:.1f} ± {100 * r['hq'][1]:.1f} % "
                     f"| {r['kl'][0]:.3f} ± {r['kl'][1]:.3f} | {r['time_s'] / n:.0f} | {pub_s} |")
    return "\n".join(lines)
