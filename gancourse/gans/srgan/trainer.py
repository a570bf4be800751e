"""Training for super-resolution: the pixel-loss pre-training and the adversarial stage.

**SRResNet** (the PSNR-oriented model) minimises a pixel loss alone, l_MSE = mean (I_HR − G(I_LR))²
(:func:`train_pixel_loss`; ESRGAN pre-trains with L1). That is a supervised regression with one
optimiser, not a GAN, so it has its own short loop.

**SRGAN** (Ledig et al., 2017) then trains G against a discriminator with the *perceptual loss*

    l_G = l_content + λ_adv · l_adv (+ λ_pix · l_pixel),   l_content = mean (φ(I_HR) − φ(G(I_LR)))²,

l_adv the non-saturating loss −log D(G(I_LR)) (λ_adv = 1e-3 in the paper) and φ a fixed
feature network (:mod:`.features`). **ESRGAN** (Wang et al., 2018) swaps in the relativistic
average discriminator: D_Ra(x_r, x_f) = σ(C(x_r) − E_f[C(x_f)]),

    L_D = −E_r[log D_Ra(x_r, x_f)] − E_f[log(1 − D_Ra(x_f, x_r))],
    L_G = −E_r[log(1 − D_Ra(x_r, x_f))] − E_f[log D_Ra(x_f, x_r)],

so G's loss has gradients from the real images too (``loss="ragan"`` in
:mod:`gancourse.losses`), features before activation and an L1 pixel term (λ_pix = 1e-2 with
λ_adv = 5e-3). :class:`SRGANTrainer` is the one training loop's :class:`GANTrainer` with the
generator's input an image: data ``Paired(input=LR, target=HR)``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gancourse.training import Batch, GANTrainer, TrainConfig

Tensor = torch.Tensor
PIXEL_LOSSES = {"mse": F.mse_loss, "l1": F.l1_loss}


def _pixel_loss(name: str) -> Callable[[Tensor, Tensor], Tensor]:
    if name not in PIXEL_LOSSES:
        raise ValueError(f"unknown pixel loss {name!r}; valid: {', '.join(PIXEL_LOSSES)}")
    return PIXEL_LOSSES[name]


def dihedral(x: Tensor, k: Tensor) -> Tensor:
    """Apply one of the 8 flips/rotations k ∈ {0..7} per sample to (B, C, H, W) square images:
    bit 0 flips left-right, bit 1 flips up-down, bit 2 transposes (the usual SR augmentation)."""
    if x.shape[-1] != x.shape[-2]:
        raise ValueError(f"dihedral augmentation needs square images, got {tuple(x.shape)}")
    k = k.view(-1, 1, 1, 1).to(x.device)
    x = torch.where(k % 2 == 1, x.flip(-1), x)
    x = torch.where((k // 2) % 2 == 1, x.flip(-2), x)
    return torch.where(k // 4 == 1, x.transpose(-1, -2), x)


def train_pixel_loss(netG: nn.Module, lr_images: Tensor, hr_images: Tensor, steps: int,
                     batch_size: int = 16, lr: float = 2e-4, loss: str = "mse", seed: int = 0,
                     device: str | torch.device = "cpu", lr_decay: float = 0.5,
                     augment: bool = True, progress: bool = False) -> list[float]:
    """Train ``netG`` (in place) to map LR patches to HR patches with a pixel loss (Adam; the
    learning rate falls linearly to 0 over the last ``lr_decay`` share of the steps; with
    ``augment`` each pair is flipped/rotated by one of the 8 symmetries of the square, the same
    for LR and HR). Returns the per-step losses. The PSNR-oriented pre-training of SRResNet /
    ESRGAN."""
    from tqdm.auto import trange

    if len(lr_images) != len(hr_images) or len(lr_images) < batch_size:
        raise ValueError(f"need as many LR as HR patches, at least batch_size={batch_size}; got "
                         f"{len(lr_images)} and {len(hr_images)}")
    crit = _pixel_loss(loss)
    netG.to(device).train()
    opt = torch.optim.Adam(netG.parameters(), lr=lr, betas=(0.9, 0.999))
    span = lr_decay * steps
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 1.0 if span <= 0 else min(1.0, (steps - s) / span))
    g = torch.Generator().manual_seed(seed)
    history = []
    for _ in trange(steps, disable=not progress, desc=f"pixel loss ({loss})", leave=False):
        idx = torch.randint(len(lr_images), (batch_size,), generator=g)
        x, y = lr_images[idx], hr_images[idx]
        if augment:
            k = torch.randint(8, (batch_size,), generator=g)
            x, y = dihedral(x, k), dihedral(y, k)
        err = crit(netG(x.to(device)), y.to(device))
        opt.zero_grad(set_to_none=True)
        err.backward()
        opt.step()
        sched.step()
        history.append(err.item())
    netG.eval()
    return history


class SRGANTrainer(GANTrainer):
    """SRGAN / ESRGAN's adversarial stage on ``Paired(input=LR, target=HR)`` patches.

    Args:
        netG: the generator (usually pre-trained with :func:`train_pixel_loss`).
        netD: a discriminator on HR images, e.g. :class:`~.models.SRDiscriminator`.
        features: the frozen content network φ (:func:`~.features.content_features`).
        content_weight, adv_weight, pixel_weight: λ's of l_content, l_adv, l_pixel.
        content_loss, pixel_loss: ``"mse"`` (SRGAN) or ``"l1"`` (ESRGAN).
        fixed_input: LR images whose upscales the snapshots keep.

    ``config.loss`` picks the adversarial pair: ``"ns"`` for SRGAN, ``"ragan"`` for ESRGAN. The
    history logs ``content``, ``pixel`` and ``adv`` (the unweighted terms).
    """

    def __init__(self, netG: nn.Module, netD: nn.Module, data: Any, config: TrainConfig,
                 features: nn.Module, content_weight: float = 1.0, adv_weight: float = 1e-3,
                 pixel_weight: float = 0.0, content_loss: str = "mse", pixel_loss: str = "mse",
                 fixed_input: Tensor | None = None, **kwargs: Any):
        if min(content_weight, adv_weight, pixel_weight) < 0:
            raise ValueError(f"loss weights must be >= 0, got content {content_weight}, adv "
                             f"{adv_weight}, pixel {pixel_weight}")
        super().__init__(netG, netD, data, config, **kwargs)
        self.features = self.add_network("features", features.requires_grad_(False).eval(), role=None)
        self.content_weight, self.adv_weight, self.pixel_weight = content_weight, adv_weight, pixel_weight
        self.content_crit, self.pixel_crit = _pixel_loss(content_loss), _pixel_loss(pixel_loss)
        self.fixed_input = fixed_input

    def generate(self, batch: Batch) -> Tensor:
        return self.G(batch["input"])                                           # (B, C, H, W)

    def discriminator_loss(self, batch: Batch, fake: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        real_scores, fake_scores = self.D(batch["target"]), self.D(fake)
        return self.loss.d_loss(real_scores.float(), fake_scores.float()), real_scores, fake_scores

    def generator_loss(self, batch: Batch, fake: Tensor) -> Tensor:
        hr = batch["target"]
        fake_scores = self.D(fake).float()
        real_scores = self.D(hr).float() if self.loss.needs_real else None
        adv = self.loss.g_loss(fake_scores, real_scores)
        with torch.no_grad():
            target_feats = self.features(hr)
        content = self.content_crit(self.features(fake), target_feats)
        pixel = self.pixel_crit(fake, hr)
        self._log(content=content, pixel=pixel, adv=adv)
        return (self.content_weight * content + self.adv_weight * adv
                + self.pixel_weight * pixel)

    def penalty(self, batch: Batch, fake: Tensor) -> tuple[Tensor, Tensor]:
        raise ValueError("SRGANTrainer takes no gradient penalty (config.penalty must be None)")

    def sample(self, n: int | None = None, **kwargs: Any) -> Tensor:
        """Upscales of ``fixed_input`` (n ignored): what the snapshots keep."""
        if self.fixed_input is None:
            return torch.empty(0)
        net = self.netG_ema if self.netG_ema is not None else self.netG
        with torch.no_grad():
            return net(self.fixed_input.to(self.device)).float().cpu()

    def extra_state(self) -> dict[str, Any]:
        return {}


def interpolate_networks(net_a: nn.Module, net_b: nn.Module, alpha: float) -> nn.Module:
    """ESRGAN's network interpolation: a copy with θ = (1 − α) θ_a + α θ_b (same architecture);
    α = 0 is ``net_a`` (e.g. the PSNR model), α = 1 ``net_b`` (the GAN)."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    sa, sb = net_a.state_dict(), net_b.state_dict()
    if sa.keys() != sb.keys() or any(sa[k].shape != sb[k].shape for k in sa):
        raise ValueError("the two networks must have the same architecture to be interpolated")
    out = copy.deepcopy(net_a)
    out.load_state_dict({k: torch.lerp(sa[k].float(), sb[k].float(), alpha).to(sa[k].dtype)
                         if sa[k].is_floating_point() else sb[k] for k in sa})
    return out.eval()
