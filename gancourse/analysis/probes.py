"""What does a trained discriminator key on? Probes that ask D about images we control.

A GAN's generator only learns what its discriminator punishes. Two cheap probes tell what that
is: the share of images D *calls fake* (a raw logit below 0, i.e. D(x) < ½ after the sigmoid),

    fake_share(D, X) = (1/N) Σ_i 1[ logit D(x_i) < 0 ],

on groups of generated images (e.g. the ones a judge finds confident vs unsure), and on real
held-out images before and after changes that leave the digit as readable as before (a one-pixel
shift, faint noise, a slight blur). A D that calls most slightly changed real digits fake has
learned low-level cues of the training images rather than their shapes, and G's gradient is
then mostly about those cues.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.transforms.v2 import functional as TF

Tensor = torch.Tensor


MODES = ("batch", "eval")


@torch.no_grad()
def fake_share(netD: nn.Module, images: Tensor, batch_size: int = 64, mode: str = "batch") -> float:
    """Share of ``images`` (N, C, H, W) that ``netD`` (raw logits (B,)) scores below 0.

    ``mode`` says how batch norm layers normalise, which decides what D answers:

    * ``"batch"`` (default): the way D was trained: batches of ``batch_size`` images of one
      source (all real, or all fake) normalised by their own statistics; the running
      statistics are left exactly as they were.
    * ``"eval"``: running statistics, so each score depends on its image alone. A GAN's D
      accumulated them over alternating all-real and all-fake batches, so they describe neither
      and can put every image on one side: on real MNIST an eval-mode DCGAN D called 100 % of
      held-out real digits fake.

    For a D without batch norm both modes agree. D's train/eval mode is restored afterwards.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; valid modes are {', '.join(MODES)}")
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(f"images must be a non-empty batch (N, C, H, W), got {tuple(images.shape)}")
    device = next(netD.parameters()).device
    was_training = netD.training
    saved = {k: v.clone() for k, v in netD.state_dict().items() if not k.endswith(("weight", "bias"))}
    netD.train(mode == "batch")
    try:
        scores = torch.cat([netD(chunk.to(device)).float().cpu() for chunk in images.split(batch_size)])
    finally:
        netD.train(was_training)
        netD.load_state_dict(saved, strict=False)                   # running stats untouched
    return (scores < 0).float().mean().item()


def shift(images: Tensor, dx: int = 1, dy: int = 0, fill: float = -1.0) -> Tensor:
    """Move (N, C, H, W) images dx pixels right and dy down; uncovered pixels get ``fill``."""
    _, _, h, w = images.shape
    if abs(dx) >= w or abs(dy) >= h:
        raise ValueError(f"a shift of ({dx}, {dy}) pixels moves a {h}x{w} image out of its frame")
    padded = F.pad(images, (max(dx, 0), max(-dx, 0), max(dy, 0), max(-dy, 0)), value=fill)
    top, left = max(-dy, 0), max(-dx, 0)
    return padded[..., top:top + h, left:left + w]


def readable_changes(images: Tensor, seed: int = 0, noise: float = 0.03,
                     blur_sigma: float = 0.5) -> dict[str, Tensor]:
    """Changes to (N, C, H, W) images in [-1, 1] that a person hardly notices, by name:
    shifted one pixel right, Gaussian noise of std ``noise`` (0.03 is 1.5 % of the pixel range
    [-1, 1]), and a Gaussian blur of std ``blur_sigma`` pixels (3x3 kernel). Results are
    clamped to [-1, 1]."""
    gen = torch.Generator().manual_seed(seed)
    return {
        "shifted 1 px": shift(images, 1, 0),
        f"noise std {noise:g}": (images + noise * torch.randn(images.shape, generator=gen)).clamp(-1, 1),
        f"blur sigma {blur_sigma:g}": TF.gaussian_blur(images, [3, 3], [blur_sigma, blur_sigma]).clamp(-1, 1),
    }
