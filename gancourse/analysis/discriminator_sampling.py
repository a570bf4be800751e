"""Can a discriminator generate? x̃ = argmax_x D(x) by projected gradient ascent.

A discriminator scores how real an input looks, so its best-scoring input is a candidate
"sample". There is no closed form for the argmax of a network, so we climb its score from a
random start, staying inside the image box [-1, 1]^d:

    x_0 ~ U[-1, 1]^d,      x_{t+1} = Π( x_t + η · g_t ),      Π(x) = clip(x, -1, 1),
    g_t = ∇_x D(x_t) / ‖∇_x D(x_t)‖₂   (``normalize=True``: each step moves η in L2)
    g_t = ∇_x D(x_t)                    (``normalize=False``: plain gradient ascent)

Every sample costs ``steps`` forward *and* backward passes through D, where a generator needs
one forward pass: G amortises the argmax. And a discriminator trained on real vs generated
data only knows where *those* fakes were; far from them its score is arbitrary, so the argmax
is usually not a realistic image. :func:`train_on_own_negatives` repairs that the slow way
(as energy-based models and introspective networks do): it ascends, labels the results fake,
retrains D on real vs those negatives, and repeats.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn
from tqdm.auto import trange

from gancourse.losses import d_loss_bce


@dataclass
class AscentResult:
    """The ascended points ``x`` (B, ...) in [-1, 1] and D's raw ``scores`` (steps + 1, B),
    row t at x_t; ``grad_evals`` = forward+backward passes through D per sample."""

    x: torch.Tensor
    scores: torch.Tensor
    grad_evals: int


def ascend(netD: nn.Module, x0: torch.Tensor, steps: int = 100, step_size: float = 0.5,
           normalize: bool = True) -> AscentResult:
    """Projected gradient ascent on D's raw score from ``x0`` (B, ...) in [-1, 1].

    D is run in eval mode (no dropout noise) and restored afterwards; its parameters get no
    gradients. Every sample moves independently (D scores samples one by one).
    """
    if steps < 0 or step_size <= 0:
        raise ValueError(f"need steps >= 0 and step_size > 0, got {steps} and {step_size}")
    if x0.ndim < 2 or len(x0) == 0:
        raise ValueError(f"x0 must be a non-empty batch (B, ...), got shape {tuple(x0.shape)}")
    if x0.min() < -1 or x0.max() > 1:
        raise ValueError(f"x0 must lie in the box [-1, 1], got values in "
                         f"[{x0.min().item():.3g}, {x0.max().item():.3g}]")
    was_training = netD.training
    netD.eval()
    x = x0.detach().clone()
    scores = []
    try:
        for t in range(steps + 1):
            x.requires_grad_(True)
            s = netD(x)                                                 # (B,)
            scores.append(s.detach())
            if t == steps:
                break
            (grad,) = torch.autograd.grad(s.sum(), x)                   # (B, ...)
            if normalize:
                norm = grad.flatten(1).norm(dim=1).clamp_min(1e-12)     # (B,)
                grad = grad / norm.view(-1, *([1] * (grad.ndim - 1)))
            x = (x.detach() + step_size * grad).clamp(-1, 1)
    finally:
        netD.train(was_training)
    return AscentResult(x.detach(), torch.stack(scores), steps)


def sample_by_ascent(netD: nn.Module, n: int, shape: Sequence[int], steps: int = 100,
                     step_size: float = 0.5, normalize: bool = True, seed: int = 0,
                     device: str | torch.device = "cpu") -> AscentResult:
    """:func:`ascend` from n uniform-noise starts x_0 ~ U[-1, 1]^shape (seeded)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    g = torch.Generator().manual_seed(seed)
    x0 = (torch.rand(n, *shape, generator=g) * 2 - 1).to(device)         # (n, *shape)
    return ascend(netD, x0, steps, step_size, normalize)


@dataclass
class NegativeRounds:
    """What :func:`train_on_own_negatives` did, one entry per round.

    ``negatives[r]``: the negatives made in round r (round 0: uniform noise), on the CPU.
    ``history``: ``round``; ``D_negatives``, D's mean probability σ(D) that round r's new
    negatives are real, before D trains on them (high: they fooled D); ``D_real`` and
    ``D_fake``, its mean σ(D) on the last real and negative batch after training;
    ``loss_D``, the last BCE loss of the round.
    """

    negatives: list[torch.Tensor] = field(default_factory=list)
    history: dict[str, list[float]] = field(default_factory=dict)


def train_on_own_negatives(netD: nn.Module, real: torch.Tensor, rounds: int = 4,
                           d_steps: int = 200, n_negatives: int = 256, ascent_steps: int = 50,
                           step_size: float = 0.5, batch_size: int = 64, lr: float = 2e-4,
                           seed: int = 0, progress: bool = True) -> NegativeRounds:
    """Train D on real data against its own argmax samples, round after round.

    Round 0 makes ``n_negatives`` uniform-noise images; every later round ascends
    (:func:`sample_by_ascent`, ``ascent_steps``) from fresh noise with the current D. The new
    negatives join a pool of all negatives so far, then D takes ``d_steps`` Adam steps on

        L_D = −E_x log σ(D(x)) − E_x̃ log(1 − σ(D(x̃)))      (losses.d_loss_bce)

    with real batches from ``real`` (N, ...) in [-1, 1] and negative batches from the pool.
    D is trained in place, on the device of its parameters.
    """
    if rounds < 1 or d_steps < 1 or n_negatives < 1 or batch_size < 1:
        raise ValueError(f"need rounds, d_steps, n_negatives and batch_size >= 1, got {rounds}, "
                         f"{d_steps}, {n_negatives} and {batch_size}")
    if len(real) < batch_size:
        raise ValueError(f"batch_size={batch_size} exceeds the {len(real)} real examples")
    if real.min() < -1 or real.max() > 1:
        raise ValueError("real data must lie in [-1, 1]")
    device = next(netD.parameters()).device
    real = real.to(device)
    shape = tuple(real.shape[1:])
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(netD.parameters(), lr=lr, betas=(0.5, 0.999))
    out = NegativeRounds()
    pool = torch.empty(0, *shape, device=device)
    for r in trange(rounds, desc="rounds", disable=not progress, leave=False):
        if r == 0:
            neg = (torch.rand(n_negatives, *shape, generator=gen) * 2 - 1).to(device)
        else:
            neg = sample_by_ascent(netD, n_negatives, shape, ascent_steps, step_size,
                                   seed=seed + r, device=device).x
        with torch.no_grad():
            netD.eval()
            fooled = torch.sigmoid(netD(neg)).mean().item()
        netD.train()
        pool = torch.cat([pool, neg])
        for _ in range(d_steps):
            x = real[torch.randint(len(real), (batch_size,), generator=gen).to(device)]
            x_neg = pool[torch.randint(len(pool), (batch_size,), generator=gen).to(device)]
            s_real, s_neg = netD(x), netD(x_neg)                        # (B,), (B,)
            loss = d_loss_bce(s_real, s_neg)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        out.negatives.append(neg.cpu())
        for k, v in (("round", r), ("D_negatives", fooled), ("loss_D", loss.item()),
                     ("D_real", torch.sigmoid(s_real).mean().item()),
                     ("D_fake", torch.sigmoid(s_neg).mean().item())):
            out.history.setdefault(k, []).append(float(v))
    netD.eval()
    return out
