"""Sample-based JS through a trained discriminator: max_D V(D) = -2 ln 2 + 2 JS."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from gancourse.divergences.fdiv import LN2


# ----------------------------------------------------------------------------- sample-based JS
def _sample_tensor(x: Any, name: str) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x, dtype=np.float32))
    if t.ndim == 1:
        t = t[:, None]
    if t.ndim != 2 or t.shape[0] == 0:
        raise ValueError(f"{name} must be (n,) or (n, d) samples with n >= 1; got {tuple(t.shape)}")
    return t


class _Standardised(nn.Module):
    """netD applied to standardised inputs, so the returned module takes raw samples."""

    def __init__(self, net: nn.Module, mean: torch.Tensor, std: torch.Tensor) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, d) -> (B, 1) logits
        return self.net((x - self.mean) / self.std)


def js_from_discriminator(x_real: Any, x_fake: Any, hidden: int = 16, steps: int = 300,
                          lr: float = 1e-2, seed: int = 0) -> dict[str, Any]:
    """Estimate JS(P_real, P_fake) from samples by training a logistic discriminator.

    V(D) = E_real[log D(x)] + E_fake[log(1 - D(x))] with D = sigmoid(netD(x)), so
    log D = logsigmoid(netD) and log(1 - D) = logsigmoid(-netD). Goodfellow et al. show
    max_D V(D) = -2 ln 2 + 2 JS, attained at D* = p_real / (p_real + p_fake); hence
    JS = (max_D V + 2 ln 2) / 2. netD is a small MLP (d -> hidden -> hidden -> 1, LeakyReLU)
    trained full batch with Adam on -V (the BCE loss, each set averaged separately) for
    ``steps`` steps. ``v`` is V at the trained D on the same samples: a finite-sample
    estimate (an over-fitted D would push it up, an under-trained one down).

    ``x_real`` (n, d) and ``x_fake`` (m, d), or 1D arrays. The global torch RNG is left
    untouched. Returns ``{"v": float, "js": float, "discriminator": netD}``; netD (eval mode)
    maps raw samples (B, d) to logits (B, 1), i.e. D(x) = sigmoid(netD(x)).
    """
    real, fake = _sample_tensor(x_real, "x_real"), _sample_tensor(x_fake, "x_fake")
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"x_real and x_fake must have the same dimension; got {real.shape[1]} "
                         f"and {fake.shape[1]}")
    if hidden < 1 or steps < 1 or not lr > 0:
        raise ValueError(f"need hidden >= 1, steps >= 1 and lr > 0; got {hidden}, {steps}, {lr}")
    # Standardise with the pooled statistics so one learning rate suits any data scale.
    pooled = torch.cat([real, fake])  # (n + m, d)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        netD = _Standardised(
            nn.Sequential(
                nn.Linear(real.shape[1], hidden), nn.LeakyReLU(0.2),
                nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
                nn.Linear(hidden, 1),
            ),
            mean=pooled.mean(0), std=pooled.std(0).clamp_min(1e-8),
        )

    def value() -> torch.Tensor:
        return F.logsigmoid(netD(real)).mean() + F.logsigmoid(-netD(fake)).mean()

    opt = torch.optim.Adam(netD.parameters(), lr=lr)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny full-batch MLP: extra intra-op threads cost, not help
    try:
        for _ in range(steps):
            opt.zero_grad(set_to_none=True)
            (-value()).backward()
            opt.step()
        netD.eval()
        with torch.no_grad():
            v = float(value())
    finally:
        torch.set_num_threads(threads)
    return {"v": v, "js": (v + 2 * LN2) / 2, "discriminator": netD}
