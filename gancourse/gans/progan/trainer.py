"""Progressive growing as trainer state: the schedule, the trainer, images at each resolution.

Training starts at 4×4 and doubles the resolution after each stage (Karras et al., 2018). A
new resolution r is first *faded in* over ``fade_steps`` generator steps, α rising linearly
from 0 to 1, then trained at α = 1 for ``stable_steps`` steps. The real images D sees are
downscaled to r (2×2 average pooling, repeatedly) and, during the fade, blended the same way as
G's output,

    x_r(α) = (1 − α) · up(down(x_r)) + α · x_r,

so that D never sees a real/fake difference that is only a matter of resolution.

:class:`ProGANTrainer` is a :class:`~gancourse.training.GANTrainer` whose :meth:`before_step`
sets the phase (r, α) from the step, which it checkpoints with :meth:`extra_state`, so a
resumed run is the uninterrupted one.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gancourse import losses as L
from gancourse.gans.progan.models import ProDiscriminator, ProGenerator, resolutions
from gancourse.training import Batch, GANTrainer

Tensor = torch.Tensor


# ----------------------------------------------------------------------------- images
def downscale(images: Tensor, resolution: int) -> Tensor:
    """(B, C, R, R) -> (B, C, r, r) by r/R average pooling (the paper's box filter)."""
    size = images.shape[-1]
    if resolution > size or size % resolution:
        raise ValueError(f"cannot downscale {size} px images to {resolution} px: the resolution "
                         f"must divide the image size")
    return images if resolution == size else F.avg_pool2d(images, size // resolution)


def real_at(images: Tensor, resolution: int, alpha: float = 1.0) -> Tensor:
    """Real images as D sees them at (resolution, alpha): downscaled, and during a fade blended
    with their half-resolution version upsampled (nearest), like G's output."""
    x = downscale(images, resolution)                                           # (B, C, r, r)
    if alpha < 1.0:
        low = F.interpolate(F.avg_pool2d(x, 2), scale_factor=2, mode="nearest")
        x = torch.lerp(low, x, alpha)
    return x


def to_judge(images: Tensor, size: int) -> Tensor:
    """Upsample (B, C, r, r) images to the judge's ``size`` (bilinear), clamped to [-1, 1].

    Generated images of an early stage and real images downscaled to the same r both go through
    this, so the judge compares like with like."""
    if images.shape[-1] == size:
        return images.clamp(-1, 1)
    return F.interpolate(images, size=(size, size), mode="bilinear",
                         align_corners=False).clamp(-1, 1)


def fd_ratio(fake: Tensor, real: Tensor, classifier: nn.Module, seed: int = 0) -> dict[str, float]:
    """Feature Fréchet distance of ``fake`` to real images as a ratio to real-vs-real, at equal
    sample sizes (the protocol of :func:`gancourse.metrics.compare_with_real`, FD only).

    ``real`` (held-out images, (N, C, S, S)) is shuffled with ``seed`` and split into halves A
    and B of n = N // 2; then ratio = FD(n fakes, B) / FD(A, B). Pass fakes and real images at
    the judge's size (:func:`to_judge`), both degraded the same way for an early stage.
    """
    from gancourse.metrics import frechet_distance

    n = len(real) // 2
    if n < 2 or len(fake) < n:
        raise ValueError(f"need at least 4 real images and as many fakes as half of them; got "
                         f"{len(real)} real and {len(fake)} fakes (need >= {n})")
    order = torch.randperm(len(real), generator=torch.Generator().manual_seed(seed))
    feats_a, _ = classifier.predict(real[order[:n]])
    feats_b, _ = classifier.predict(real[order[n:2 * n]])
    feats_f, _ = classifier.predict(fake[:n])
    fd, real_fd = frechet_distance(feats_f, feats_b), frechet_distance(feats_a, feats_b)
    return {"fd": fd, "real_fd": real_fd, "ratio": fd / real_fd, "n": n}


# ----------------------------------------------------------------------------- schedule
@dataclass(frozen=True)
class GrowthSchedule:
    """Stages of generator steps: ``stable_steps[0]`` at the first resolution, then for each
    next resolution i ``fade_steps[i - 1]`` of fade-in followed by ``stable_steps[i]`` at α = 1.

    Each of ``stable_steps`` and ``fade_steps`` is one number for every resolution or a tuple
    (one per resolution; one per resolution after the first for ``fade_steps``). A fade of 0
    steps switches the new resolution on at once (the ablation without fade-in).
    """

    max_resolution: int = 32
    stable_steps: int | tuple[int, ...] = 500
    fade_steps: int | tuple[int, ...] = 500

    def __post_init__(self):
        res = resolutions(self.max_resolution)
        stable, fade = self.stable_steps, self.fade_steps
        stable = (stable,) * len(res) if isinstance(stable, int) else tuple(int(s) for s in stable)
        fade = (fade,) * (len(res) - 1) if isinstance(fade, int) else tuple(int(f) for f in fade)
        if len(stable) != len(res) or len(fade) != len(res) - 1:
            raise ValueError(f"stable_steps needs one entry per resolution {res} and fade_steps one "
                             f"per resolution after the first; got {len(stable)} and {len(fade)}")
        if min(stable) < 1 or min(fade, default=0) < 0:
            raise ValueError(f"need stable_steps >= 1 and fade_steps >= 0, got {stable} and {fade}")
        object.__setattr__(self, "stable_steps", stable)
        object.__setattr__(self, "fade_steps", fade)

    @property
    def resolutions(self) -> list[int]:
        return resolutions(self.max_resolution)

    def stages(self) -> list[tuple[int, int, int, int]]:
        """(resolution, first step, end step (exclusive), fade steps) of each resolution's stage."""
        out, start = [], 0
        for i, r in enumerate(self.resolutions):
            fade = self.fade_steps[i - 1] if i else 0
            out.append((r, start, start + fade + self.stable_steps[i], fade))
            start += fade + self.stable_steps[i]
        return out

    @property
    def total_steps(self) -> int:
        return self.stages()[-1][2]

    def phase(self, step: int) -> tuple[int, float]:
        """(resolution, α) at generator step ``step`` (0-based); α = t / fade during the t-th
        step of a fade, 1 otherwise; past the end, the last phase."""
        if step < 0:
            raise ValueError(f"step must be >= 0, got {step}")
        for r, start, end, fade in self.stages():
            if step < end:
                t = step - start
                return r, (t / fade if t < fade else 1.0)
        return self.resolutions[-1], 1.0

    def stage_end(self, resolution: int) -> int:
        """The step at which the stage of ``resolution`` ends (exclusive)."""
        for r, _, end, _ in self.stages():
            if r == resolution:
                return end
        raise ValueError(f"resolution {resolution} is not in the schedule {self.resolutions}")


# ----------------------------------------------------------------------------- trainer
class ProGANTrainer(GANTrainer):
    """Trains a :class:`ProGenerator` against a :class:`ProDiscriminator` as they grow.

    ``config.steps`` may not exceed ``schedule.total_steps`` (fewer: the run stops early, e.g. a
    branch that resumes another run's checkpoint and trains one more stage). The phase (r, α) is
    trainer state: :meth:`before_step` sets it on G, D (and the EMA copy of G) from the step, and
    :meth:`extra_state` saves it with the generator kept at the end of each stage
    (:attr:`stage_generators`, the EMA copy when ``config.ema`` is set), so resuming is exact.
    Any loss pair of :mod:`gancourse.losses` works; ``penalty="r1"`` or ``"gp"`` act on the real
    images at the current resolution. ``penalty_every`` = k > 1 computes the penalty only on
    every k-th step, k times as strong (StyleGAN2's *lazy regularisation*: the same expected
    penalty for a k-th of its cost).
    """

    def __init__(self, netG: ProGenerator, netD: ProDiscriminator, data: Any, config,
                 schedule: GrowthSchedule, penalty_every: int = 1, **kwargs: Any):
        if penalty_every < 1:
            raise ValueError(f"penalty_every must be >= 1, got {penalty_every}")
        if not isinstance(netG, ProGenerator) or not isinstance(netD, ProDiscriminator):
            raise TypeError("ProGANTrainer needs a ProGenerator and a ProDiscriminator")
        if netG.resolutions != schedule.resolutions or netD.resolutions != schedule.resolutions:
            raise ValueError(f"the schedule grows through {schedule.resolutions} but the networks "
                             f"through {netG.resolutions} (G) and {netD.resolutions} (D)")
        if config.steps > schedule.total_steps:
            raise ValueError(f"config.steps ({config.steps}) exceeds the schedule's total "
                             f"({schedule.total_steps} = stages {schedule.stages()})")
        super().__init__(netG, netD, data, config, **kwargs)
        self.schedule, self.penalty_every = schedule, int(penalty_every)
        self.stage_generators: dict[int, dict[str, Tensor]] = {}
        self.set_phase(*schedule.phase(0))

    # -- phase ----------------------------------------------------------------------------
    def set_phase(self, resolution: int, alpha: float) -> None:
        """Set (r, α) on every growing network."""
        self.resolution, self.alpha = int(resolution), float(alpha)
        for net in (self.netG, self.netD, self.netG_ema):
            if net is not None:
                net.set_phase(self.resolution, self.alpha)

    def before_step(self) -> None:
        super().before_step()
        self.set_phase(*self.schedule.phase(self.step))

    def real(self, batch: Batch) -> Tensor:
        """The batch's real images at the current phase."""
        return real_at(batch.x, self.resolution, self.alpha)

    # -- losses on the current resolution --------------------------------------------------------
    def discriminator_loss(self, batch: Batch, fake: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        real_scores, fake_scores = self.D(self.real(batch)), self.D(fake)
        return self.loss.d_loss(real_scores.float(), fake_scores.float()), real_scores, fake_scores

    def generator_loss(self, batch: Batch, fake: Tensor) -> Tensor:
        fake_scores = self.D(fake).float()
        real_scores = self.D(self.real(batch)).float() if self.loss.needs_real else None
        return self.loss.g_loss(fake_scores, real_scores)

    def penalty(self, batch: Batch, fake: Tensor) -> tuple[Tensor, Tensor]:
        real = self.real(batch)
        k = self.penalty_every
        if self.step % k:                                   # lazy: skipped on this step
            return real.new_zeros(()), real.new_zeros(len(real))
        if self.config.penalty == "gp":
            pen, norms = L.gradient_penalty(self.D, real, fake.float())
        elif self.config.penalty == "r1":
            pen, norms = L.r1_penalty(self.D, real)
        else:
            pen, norms = L.dragan_penalty(self.D, real)
        return k * pen, norms

    # -- stages and state ------------------------------------------------------------------------
    def after_g_step(self, batch: Batch, fake: Tensor) -> None:
        if self.step + 1 == self.schedule.stage_end(self.resolution):        # last step of a stage
            net = self.netG_ema if self.netG_ema is not None else self.netG
            self.stage_generators[self.resolution] = {k: v.detach().cpu().clone()
                                                      for k, v in net.state_dict().items()}

    def generator_at(self, resolution: int) -> ProGenerator:
        """A copy of the generator as it was at the end of ``resolution``'s stage (eval mode)."""
        if resolution not in self.stage_generators:
            raise ValueError(f"no generator kept for resolution {resolution}; stages finished so "
                             f"far: {sorted(self.stage_generators)}")
        net = copy.deepcopy(self.netG).cpu()
        net.load_state_dict(self.stage_generators[resolution])
        net.set_phase(resolution, 1.0)
        return net.eval().requires_grad_(False)

    def extra_state(self) -> dict[str, Any]:
        return {"resolution": self.resolution, "alpha": self.alpha,
                "stage_generators": {str(r): s for r, s in self.stage_generators.items()}}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if "resolution" not in state:
            raise ValueError("this checkpoint has no ProGAN phase (resolution, alpha); it was not "
                             "written by a ProGANTrainer")
        self.set_phase(int(state["resolution"]), float(state["alpha"]))
        self.stage_generators = {int(r): {k: v.cpu() for k, v in s.items()}
                                 for r, s in state["stage_generators"].items()}

    def snapshot_samples(self) -> Tensor:
        """Fixed-noise samples at the current resolution, upsampled (nearest) to the final size,
        so that one figure can show the growth."""
        x = self.sample()                                                       # (n, C, r, r)
        size = self.schedule.max_resolution
        return F.interpolate(x, size=(size, size), mode="nearest") if x.shape[-1] < size else x


def sample_at(netG: nn.Module, n: int, seed: int = 0, batch_size: int = 500,
              device: str | torch.device = "cpu") -> Tensor:
    """``n`` samples of ``netG`` at its current phase, from noise seeded with ``seed`` (CPU)."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, netG.z_dim, generator=g)
    out = []
    with torch.no_grad():
        for i in range(0, n, batch_size):
            out.append(netG(z[i:i + batch_size].to(device)).float().cpu())
    return torch.cat(out)
