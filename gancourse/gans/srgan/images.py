"""Super-resolution data and measurements: degradation, bicubic, PSNR/SSIM, power spectra.

* The low-resolution input is the high-resolution image shrunk ×s with an antialiased bicubic
  filter (:func:`degrade`); the baseline upscales it back with bicubic interpolation
  (:func:`bicubic`).
* **Distortion**: PSNR = 10 log10(1 / MSE) and SSIM, from :mod:`skimage.metrics`, on images in
  [0, 1] with a border of s pixels shaved off (:func:`psnr_ssim`).
* **High-frequency energy**: the radially averaged power spectrum P(f) of an image's luminance
  (Hann-windowed FFT, f in cycles per pixel up to the Nyquist 0.5; :func:`radial_power_spectrum`).
  The ×s shrink removes what lies above f_c = 0.5 / s, which an upscaler must invent; the
  *high-frequency energy ratio* Σ_{f ≥ f_c} P_SR(f) / Σ_{f ≥ f_c} P_HR(f) (:func:`hf_energy_ratio`)
  is ≈ 0 for a blurry upscale and 1 for one whose fine detail is as strong as the real image's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

Tensor = torch.Tensor


def _check_batch(x: Tensor, name: str) -> None:
    if not isinstance(x, Tensor) or x.ndim != 4:
        raise ValueError(f"{name} must be images (B, C, H, W), got "
                         f"{type(x).__name__} {tuple(getattr(x, 'shape', ()))}")


def crop_to_multiple(x: Tensor, scale: int) -> Tensor:
    """Crop (..., H, W) at the bottom/right so that H and W are multiples of ``scale``."""
    h, w = x.shape[-2] // scale * scale, x.shape[-1] // scale * scale
    if h == 0 or w == 0:
        raise ValueError(f"image {tuple(x.shape)} is smaller than the scale {scale}")
    return x[..., :h, :w]


def degrade(hr: Tensor, scale: int = 4) -> Tensor:
    """The LR input: (B, C, H, W) in [-1, 1] -> (B, C, H/s, W/s), antialiased bicubic."""
    _check_batch(hr, "hr")
    if hr.shape[-1] % scale or hr.shape[-2] % scale:
        raise ValueError(f"H and W ({tuple(hr.shape[-2:])}) must be multiples of the scale {scale}; "
                         f"use crop_to_multiple first")
    lr = F.interpolate(hr, size=(hr.shape[-2] // scale, hr.shape[-1] // scale), mode="bicubic",
                       antialias=True, align_corners=False)
    return lr.clamp(-1, 1)


def bicubic(lr: Tensor, scale: int = 4) -> Tensor:
    """The baseline: bicubic upscaling ×s of (B, C, h, w) in [-1, 1], clamped to [-1, 1]."""
    _check_batch(lr, "lr")
    return F.interpolate(lr, scale_factor=scale, mode="bicubic", align_corners=False).clamp(-1, 1)


def to_unit_hwc(x: Tensor) -> np.ndarray:
    """One image (C, H, W) in [-1, 1] -> float64 (H, W, C) in [0, 1] for skimage."""
    if x.ndim != 3:
        raise ValueError(f"expected one image (C, H, W), got {tuple(x.shape)}")
    return ((x.detach().float().cpu().clamp(-1, 1) + 1) / 2).permute(1, 2, 0).double().numpy()


def psnr_ssim(sr: Tensor, hr: Tensor, border: int = 4) -> tuple[float, float]:
    """PSNR (dB) and SSIM of one image (C, H, W) in [-1, 1] against the truth, after shaving
    ``border`` pixels on each side (``skimage.metrics``, data range 1)."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    if sr.shape != hr.shape:
        raise ValueError(f"sr {tuple(sr.shape)} and hr {tuple(hr.shape)} must have the same shape")
    a, b = to_unit_hwc(sr), to_unit_hwc(hr)
    if border:
        a, b = a[border:-border, border:-border], b[border:-border, border:-border]
    psnr = peak_signal_noise_ratio(b, a, data_range=1.0)
    ssim = structural_similarity(b, a, data_range=1.0, channel_axis=-1)
    return float(psnr), float(ssim)


def luminance(x: Tensor) -> Tensor:
    """(C, H, W) -> (H, W): ITU-R 601 luma for 3 channels, the channel itself for 1."""
    if x.ndim != 3 or x.shape[0] not in (1, 3):
        raise ValueError(f"expected one image (1 or 3, H, W), got {tuple(x.shape)}")
    if x.shape[0] == 1:
        return x[0]
    return 0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2]


def radial_power_spectrum(x: Tensor, n_bins: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Radially averaged power spectrum of one image's luminance: (bin centres f in cycles per
    pixel up to 0.5, mean |FFT|² per bin). A Hann window keeps the image border from adding a
    spurious cross of high frequencies."""
    y = luminance(x.detach().float().cpu()).double()
    h, w = y.shape
    win = torch.outer(torch.hann_window(h, periodic=False, dtype=torch.float64),
                      torch.hann_window(w, periodic=False, dtype=torch.float64))
    power = torch.fft.fft2((y - y.mean()) * win).abs().pow(2)                # (H, W)
    fy, fx = torch.fft.fftfreq(h, dtype=torch.float64), torch.fft.fftfreq(w, dtype=torch.float64)
    radius = (fy[:, None] ** 2 + fx[None, :] ** 2).sqrt()                    # cycles / pixel
    edges = torch.linspace(0, 0.5, n_bins + 1, dtype=torch.float64)
    idx = torch.bucketize(radius.flatten(), edges[1:-1])
    keep = radius.flatten() <= 0.5
    sums = torch.zeros(n_bins, dtype=torch.float64).index_add_(0, idx[keep], power.flatten()[keep])
    counts = torch.zeros(n_bins, dtype=torch.float64).index_add_(0, idx[keep],
                                                                 torch.ones_like(power.flatten()[keep]))
    centres = (edges[1:] + edges[:-1]) / 2
    return centres.numpy(), (sums / counts.clamp(min=1)).numpy()


def hf_energy(x: Tensor, cutoff: float) -> float:
    """Power of one image's luminance at radial frequencies in [cutoff, 0.5] cycles/pixel."""
    if not 0 < cutoff < 0.5:
        raise ValueError(f"cutoff must lie in (0, 0.5) cycles per pixel, got {cutoff}")
    f, p = radial_power_spectrum(x, n_bins=128)
    return float(p[f >= cutoff].sum())


def hf_energy_ratio(sr: Tensor, hr: Tensor, scale: int = 4) -> float:
    """High-frequency energy of ``sr`` over that of ``hr`` above f_c = 0.5 / scale (what the
    ×scale shrink removed): ≈ 0 blurry, 1 as detailed as the real image."""
    if sr.shape != hr.shape:
        raise ValueError(f"sr {tuple(sr.shape)} and hr {tuple(hr.shape)} must have the same shape")
    cutoff = 0.5 / scale
    return hf_energy(sr, cutoff) / hf_energy(hr, cutoff)


def evaluate_upscaler(upscale: Callable[[Tensor], Tensor], images: Sequence[Tensor], scale: int = 4,
                      border: int | None = None) -> dict[str, list[float] | float]:
    """Run ``upscale`` (LR batch (1, C, h, w) -> SR (1, C, s·h, s·w)) on each held-out image
    (C, H, W) and measure it: per image and mean PSNR, SSIM and high-frequency energy ratio.
    ``border`` defaults to ``scale``."""
    border = scale if border is None else border
    out: dict[str, list[float]] = {"psnr": [], "ssim": [], "hf_ratio": []}
    for img in images:
        hr = crop_to_multiple(img, scale)[None]                              # (1, C, H, W)
        with torch.no_grad():
            sr = upscale(degrade(hr, scale)).float().cpu().clamp(-1, 1)
        if sr.shape != hr.shape:
            raise ValueError(f"the upscaler returned {tuple(sr.shape)} for an HR image {tuple(hr.shape)}")
        p, s = psnr_ssim(sr[0], hr[0], border)
        out["psnr"].append(p)
        out["ssim"].append(s)
        out["hf_ratio"].append(hf_energy_ratio(sr[0], hr[0], scale))
    return {**out, **{f"mean_{k}": float(np.mean(v)) for k, v in out.items()}}
