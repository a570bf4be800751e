"""The digits benchmark: one generator, one budget, every loss family.

Notebooks 07-11 each train their GAN variant (LSGAN, WGAN, WGAN-GP, SNGAN, BEGAN; 07 also
the non-saturating GAN it improves on) on handwritten digits under the same conditions, so
that their numbers can stand in one table:

* the same DCGAN generator (:func:`make_generator`), built from the same seed, so every
  variant starts from identical weights;
* the same budget (:class:`Budget`): generator updates, batch size, z_dim, widths; a
  variant may take several critic steps per generator step (WGAN's n_critic), which the
  wall time records;
* the same evaluation (:func:`evaluate`): the package's digit classifier judges ``n_eval``
  samples of fixed codes against the held-out split.

What a variant may change: its discriminator (normalisation, spectral norm, autoencoder),
its loss pair, its optimiser and learning rates. Results are recorded as
``bench.<variant>.<metric>`` (:func:`record`), so a ``gancourse run`` over the notebooks
collects the whole table (:func:`table`). :func:`save_generator` keeps each trained
generator (``<output root>/bench/<profile>/<variant>.pt``) so that notebook 13 can put them all
on one leaderboard (:func:`load_generators`).
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gancourse.metrics.classifier import Classifier
from gancourse.metrics.image import class_histogram, evaluate_images
from gancourse.models.dcgan import DCGANGenerator
from gancourse.runtime import atomic_write_bytes, default_output_root
from gancourse.runtime import record as _record
from gancourse.training import TrainConfig

VARIANTS = ("gan", "lsgan", "wgan", "wgan-gp", "sngan", "began")
METRICS = ("fd", "confident_share", "class_coverage", "entropy", "min_class_share", "time_s")


@dataclass(frozen=True)
class Budget:
    """What every variant gets: ``steps`` generator updates on batches of ``batch_size``,
    a DCGAN generator z_dim -> (1, image_size, image_size) of width ``ngf`` (``ndf`` for
    discriminators), judged on ``n_eval`` samples."""

    steps: int
    batch_size: int
    z_dim: int
    ngf: int
    ndf: int
    n_eval: int
    image_size: int = 28


BUDGETS: dict[str, Budget] = {
    "smoke": Budget(steps=60, batch_size=32, z_dim=16, ngf=16, ndf=16, n_eval=500),
    "cpu": Budget(steps=1500, batch_size=64, z_dim=16, ngf=32, ndf=32, n_eval=1000),
    "gpu": Budget(steps=10_000, batch_size=64, z_dim=100, ngf=64, ndf=64, n_eval=10_000),
    # the gpu budget's shapes with a few steps: what `gancourse run --profile gpu --dry` trains
    "gpu-dry": Budget(steps=12, batch_size=64, z_dim=100, ngf=64, ndf=64, n_eval=500),
}


def budget(mode: str) -> Budget:
    """The benchmark budget of a run mode (``smoke``, ``cpu``, ``gpu`` or ``gpu-dry``:
    ``Context.mode``)."""
    if mode not in BUDGETS:
        raise ValueError(f"unknown profile {mode!r}; valid profiles are {', '.join(BUDGETS)}")
    return BUDGETS[mode]


def make_generator(b: Budget, channels: int = 1, seed: int = 0) -> DCGANGenerator:
    """The benchmark generator, initialised from ``seed`` (same seed, same starting weights)."""
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        return DCGANGenerator(z_dim=b.z_dim, channels=channels, image_size=b.image_size, ngf=b.ngf)
    finally:
        torch.random.set_rng_state(state)


def train_config(b: Budget, seed: int = 0, **overrides: Any) -> TrainConfig:
    """A :class:`TrainConfig` with the budget's steps, batch size and z_dim; ``overrides``
    set the variant's own choices (loss, n_critic, optimizer, lr_g, lr_d, betas, penalty,
    clip, ...). Overriding the budget itself is an error: the comparison would be unfair."""
    fixed = {"steps", "batch_size", "z_dim"}
    if fixed & overrides.keys():
        raise ValueError(f"{', '.join(sorted(fixed & overrides.keys()))} belong to the budget and "
                         f"cannot be overridden; change the Budget instead")
    return TrainConfig(steps=b.steps, batch_size=b.batch_size, z_dim=b.z_dim, seed=seed, **overrides)


def eval_codes(b: Budget, seed: int = 0) -> torch.Tensor:
    """The fixed codes every variant is judged on: (n_eval, z_dim), drawn from ``seed``."""
    return torch.randn(b.n_eval, b.z_dim, generator=torch.Generator().manual_seed(10_000 + seed))


@torch.no_grad()
def evaluate(netG: nn.Module, classifier: Classifier, held_out: torch.Tensor, b: Budget,
             seed: int = 0) -> dict[str, float]:
    """Judge ``netG`` (eval mode, on :func:`eval_codes`) against held-out real images.

    Returns ``fd`` (classifier-feature Fréchet distance), ``confident_share``,
    ``class_coverage``, ``entropy`` of the class histogram and ``min_class_share`` (the
    rarest digit's share: 0 when a class is dropped, 0.1 when all are equally frequent).
    """
    z = eval_codes(b, seed)
    device = next(netG.parameters()).device
    was_training = netG.training
    netG.eval()
    try:
        fake = torch.cat([netG(c.to(device)).float().cpu() for c in z.split(500)])  # (n, C, H, W)
    finally:
        netG.train(was_training)
    out = evaluate_images(fake.clamp(-1, 1), classifier, real=held_out)
    out["min_class_share"] = float(class_histogram(classifier.predict(fake.clamp(-1, 1))[1]).min())
    return {k: float(v) for k, v in out.items()}


def record(variant: str, result: Mapping[str, float], time_s: float) -> dict[str, float]:
    """Record ``bench.<variant>.<metric>`` for the metrics of :func:`evaluate` and the wall
    time of training; returns the recorded row."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; valid variants are {', '.join(VARIANTS)}")
    missing = [m for m in METRICS if m != "time_s" and m not in result]
    if missing:
        raise ValueError(f"result lacks {', '.join(missing)}; pass the dict from bench.evaluate")
    row = {m: float(result[m]) for m in METRICS if m != "time_s"}
    row["time_s"] = float(time_s)
    for m, v in row.items():
        _record(f"bench.{variant}.{m}", v)
    return row


def table(metrics: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Rows ``{"variant", <metric>: value}`` from recorded metrics (one flat dict, e.g. the
    union of several notebooks' metrics files), in :data:`VARIANTS` order; missing metrics
    are NaN and variants without any are left out."""
    rows = []
    for v in VARIANTS:
        vals = {m: metrics.get(f"bench.{v}.{m}", math.nan) for m in METRICS}
        if not all(isinstance(x, float) and math.isnan(x) for x in vals.values()):
            rows.append({"variant": v, **vals})
    return rows


def budget_dict(b: Budget) -> dict[str, int]:
    """The budget as a plain dict (for printing next to results)."""
    return asdict(b)


FORMAT = "gancourse-bench-generator-v1"


def generator_path(variant: str, profile: str, root: str | Path | None = None) -> Path:
    """Where :func:`save_generator` keeps a variant's generator for a profile."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; valid variants are {', '.join(VARIANTS)}")
    budget(profile)                                                  # validates the profile
    return Path(root or default_output_root()) / "bench" / profile / f"{variant}.pt"


def save_generator(netG: nn.Module, variant: str, profile: str, result: Mapping[str, float] | None = None,
                   root: str | Path | None = None) -> Path:
    """Save a trained bench generator (weights, budget, metrics) atomically; returns the path."""
    if not isinstance(netG, DCGANGenerator):
        raise TypeError(f"the bench generator is a DCGANGenerator (bench.make_generator), got "
                        f"{type(netG).__name__}")
    buf = io.BytesIO()
    torch.save({"format": FORMAT, "variant": variant, "budget": asdict(budget(profile)),
                "state": {k: v.detach().cpu() for k, v in netG.state_dict().items()},
                "result": dict(result or {})}, buf)
    return atomic_write_bytes(generator_path(variant, profile, root), buf.getvalue())


def load_generators(profile: str, root: str | Path | None = None,
                    channels: int = 1) -> dict[str, tuple[DCGANGenerator, dict[str, float]]]:
    """The bench generators saved for ``profile``: {variant: (netG in eval mode, metrics)}.

    Variants never saved are absent. A file that is corrupt, not a bench generator, or made
    with another budget raises ValueError naming it (delete it and rerun its notebook).
    """
    b, out = budget(profile), {}
    for variant in VARIANTS:
        path = generator_path(variant, profile, root)
        if not path.exists():
            continue
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:
            raise ValueError(f"{path} is corrupt or unreadable ({type(err).__name__}); delete it "
                             f"and rerun the notebook that trains {variant!r}") from err
        if not isinstance(saved, dict) or saved.get("format") != FORMAT:
            raise ValueError(f"{path} is not a gancourse bench generator (expected {FORMAT!r})")
        if saved["budget"] != asdict(b):
            raise ValueError(f"{path} was trained with budget {saved['budget']}, not the current "
                             f"{profile!r} budget {asdict(b)}; rerun the notebook that trains {variant!r}")
        netG = make_generator(b, channels=channels)
        netG.load_state_dict(saved["state"])
        out[variant] = (netG.eval(), saved["result"])
    return out
