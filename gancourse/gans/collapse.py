"""Mode collapse and its cures, as small pieces that plug into :mod:`gancourse.training`.

* :class:`MinibatchDiscrimination` (Salimans et al., 2016) and :class:`MinibatchStdDev`
  (Karras et al., 2018): layers that let D look at a whole batch, so a batch of near-copies
  is easy to reject; :class:`BatchFeatureMLP` puts either before D's output layer.
* :func:`pack` / :class:`PackedDiscriminator` (PacGAN, Lin et al., 2018): D judges m samples
  at once, concatenated, all real or all fake.
* :class:`UnrolledGANTrainer` (Metz et al., 2017): G minimises its loss against D after k
  look-ahead steps of D's own optimiser, differentiated through those steps.
* :class:`MixtureGenerator`: several generators against one shared discriminator.

:mod:`gancourse.analysis.protocol` trains each of them on the toy mixtures under one budget.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.func import functional_call

from gancourse.training import Batch, GANTrainer


# ----------------------------------------------------------------------------- batch features
class MinibatchDiscrimination(nn.Module):
    """Minibatch discrimination (Salimans et al., 2016, sec. 3.2): (B, A) -> (B, A + n_kernels).

    With a learned tensor T (A, n_kernels, kernel_dim), M_i = f(x_i) T is a matrix
    (n_kernels, kernel_dim) per sample; the closeness of samples i and j under kernel b is
    c_b(i, j) = exp(-||M_i,b - M_j,b||_1) and the new features are
    o(x_i)_b = sum_{j != i} c_b(i, j): large when other samples of the batch are near x_i.
    They are appended to f(x_i). A batch of near-copies has o ~ B - 1, a diverse one o ~ 0.
    """

    def __init__(self, in_features: int, n_kernels: int = 16, kernel_dim: int = 8):
        super().__init__()
        if min(in_features, n_kernels, kernel_dim) < 1:
            raise ValueError(f"in_features, n_kernels and kernel_dim must be >= 1, got "
                             f"{in_features}, {n_kernels}, {kernel_dim}")
        self.in_features, self.n_kernels, self.kernel_dim = in_features, n_kernels, kernel_dim
        self.T = nn.Parameter(torch.randn(in_features, n_kernels * kernel_dim) * 0.1)

    def out_features(self, in_features: int) -> int:
        return in_features + self.n_kernels

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if h.ndim != 2 or h.shape[1] != self.in_features:
            raise ValueError(f"expected features (B, {self.in_features}), got {tuple(h.shape)}")
        m = (h @ self.T).view(-1, self.n_kernels, self.kernel_dim)         # (B, n_k, k_dim)
        m = m.transpose(0, 1)                                              # (n_k, B, k_dim)
        l1 = torch.cdist(m, m, p=1)                                        # (n_k, B, B)
        o = torch.exp(-l1).sum(2) - 1.0                                    # (n_k, B), j != i
        return torch.cat([h, o.T], dim=1)                                  # (B, A + n_k)


class MinibatchStdDev(nn.Module):
    """Minibatch standard deviation (Karras et al., 2018, sec. 3): appends one feature.

    The batch is split into groups of ``group_size`` samples (sample i in group i mod (B/G));
    within a group, s = mean over all features of sqrt(Var_group + 1e-8) (the biased variance
    across the group's samples) is one number, appended to each member as an extra feature
    (B, F) -> (B, F + 1), or an extra constant channel (B, C, H, W) -> (B, C + 1, H, W).
    A collapsed batch has s ~ 0 while real data has s > 0, so D can spot it.
    ``group_size=None`` uses the whole batch as one group.
    """

    def __init__(self, group_size: int | None = 4):
        super().__init__()
        if group_size is not None and group_size < 2:
            raise ValueError(f"group_size must be >= 2 or None (whole batch), got {group_size}")
        self.group_size = group_size

    def out_features(self, in_features: int) -> int:
        return in_features + 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        g = b if self.group_size is None else min(self.group_size, b)
        if b % g:
            raise ValueError(f"batch of {b} is not divisible by group_size {g}")
        y = x.reshape(g, b // g, *x.shape[1:])                              # (G, B/G, ...)
        std = (y.var(0, unbiased=False) + 1e-8).sqrt()                      # (B/G, ...)
        s = std.flatten(1).mean(1)                                          # (B/G,)
        s = s.repeat(g).view(b, *([1] * (x.ndim - 1)))                      # (B, 1, ...)
        return torch.cat([x, s.expand(b, 1, *x.shape[2:])], dim=1)          # (B, F+1, ...)


class BatchFeatureMLP(nn.Module):
    """MLP discriminator with a batch layer before its output: (B, *in_shape) -> scores (B,).

    x -> [Linear, LeakyReLU(0.2)] * len(hidden) -> ``batch_layer`` -> Linear -> score, where
    ``batch_layer`` is a :class:`MinibatchDiscrimination` or :class:`MinibatchStdDev` (any
    module with ``out_features(in_features)``). Same hidden layers as
    :class:`~gancourse.models.MLPDiscriminator`.
    """

    def __init__(self, in_shape: Sequence[int] | int, hidden: Sequence[int], batch_layer: nn.Module):
        super().__init__()
        if not hidden or not hasattr(batch_layer, "out_features"):
            raise ValueError("need at least one hidden layer and a batch layer with out_features()")
        self.in_shape = (in_shape,) if isinstance(in_shape, int) else tuple(in_shape)
        sizes = [math.prod(self.in_shape), *hidden]
        layers: list[nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b), nn.LeakyReLU(0.2)]
        self.body = nn.Sequential(*layers)
        self.batch_layer = batch_layer
        self.head = nn.Linear(batch_layer.out_features(hidden[-1]), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[1:]) != self.in_shape:
            raise ValueError(f"discriminator expects (B, {', '.join(map(str, self.in_shape))}), "
                             f"got {tuple(x.shape)}")
        h = self.batch_layer(self.body(x.flatten(1)))                        # (B, F')
        return self.head(h).squeeze(1)                                      # (B,)


# ----------------------------------------------------------------------------- PacGAN
def pack(x: torch.Tensor, m: int) -> torch.Tensor:
    """Concatenate groups of m consecutive samples: (B, C, ...) -> (B/m, m*C, ...).

    Rows 0..m-1 become packed sample 0 (vectors end to end; images stacked as channels, as
    in PacGAN). B must be a multiple of m.
    """
    if m < 1:
        raise ValueError(f"packing degree m must be >= 1, got {m}")
    if x.ndim < 2 or x.shape[0] % m:
        raise ValueError(f"need a batch (B, C, ...) with B a multiple of m={m}, got {tuple(x.shape)}")
    return x.reshape(x.shape[0] // m, m * x.shape[1], *x.shape[2:])


class PackedDiscriminator(nn.Module):
    """PacGAN's D: scores (B/m,) for a batch (B, ...), one score per pack of m samples.

    ``netD`` must take packed inputs (m times the channels/features). The GAN losses average
    over scores, so :class:`~gancourse.training.GANTrainer` trains it unchanged; give the
    trainer a batch size that is a multiple of m (PacGAN uses m times the unpacked batch).
    """

    def __init__(self, netD: nn.Module, m: int):
        super().__init__()
        if m < 1:
            raise ValueError(f"packing degree m must be >= 1, got {m}")
        self.netD, self.m = netD, m

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.netD(pack(x, self.m))                                   # (B/m,)


# ----------------------------------------------------------------------------- unrolled GAN
class UnrolledGANTrainer(GANTrainer):
    """Unrolled GAN (Metz et al., 2017): G's loss is taken against D unrolled k steps ahead.

    With D's parameters θ_D^0 = θ_D, k look-ahead steps of D's own Adam update
    θ_D^{i+1} = θ_D^i - lr · m̂_i / (sqrt(v̂_i) + eps), on D's loss for real batches and the
    current fakes G(z), give θ_D^k(θ_G). G minimises f(θ_G, θ_D^k(θ_G)) and, with
    ``second_order=True``, differentiates through the k steps (how D would react to G's move).
    The real D and its optimiser are untouched: its own step is the usual one.
    """

    def __init__(self, *args: Any, unroll_steps: int = 5, second_order: bool = True, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if unroll_steps < 1:
            raise ValueError(f"unroll_steps must be >= 1, got {unroll_steps}")
        if self.config.optimizer != "adam":
            raise ValueError(f"the unrolled steps follow D's Adam update; got optimizer="
                             f"{self.config.optimizer!r}")
        self.unroll_steps, self.second_order = unroll_steps, second_order

    def unrolled_parameters(self, fake: torch.Tensor, cond: tuple = ()) -> dict[str, torch.Tensor]:
        """θ_D^k as tensors that depend on ``fake`` (and so on G) when second order; ``cond``
        is the condition of a class-conditional D (the fakes' labels)."""
        group = self.optD.param_groups[0]
        lr, (b1, b2), eps = group["lr"], group["betas"], group["eps"]
        named = dict(self.netD.named_parameters())
        params = {n: p.detach().requires_grad_() for n, p in named.items()}
        moments = {}
        for n, p in named.items():
            st = self.optD.state.get(p, {})
            moments[n] = (st.get("exp_avg", torch.zeros_like(p)).detach(),
                          st.get("exp_avg_sq", torch.zeros_like(p)).detach(),
                          float(st.get("step", 0)))
        fake_in = fake if self.second_order else fake.detach()
        for _ in range(self.unroll_steps):
            real = next(self.batches)
            real_scores = functional_call(self.netD, params, (real.x, *self._cond(real)))
            fake_scores = functional_call(self.netD, params, (fake_in, *cond))
            loss_D = self.loss.d_loss(real_scores.float(), fake_scores.float())
            grads = torch.autograd.grad(loss_D, list(params.values()),
                                        create_graph=self.second_order)
            new = {}
            for (n, p), g in zip(params.items(), grads):
                m, v, t = moments[n]
                m, v, t = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g, t + 1
                new[n] = p - lr * (m / (1 - b1 ** t)) / ((v / (1 - b2 ** t)).sqrt() + eps)
                moments[n] = (m, v, t)
            params = new
        return params

    def generator_loss(self, batch: Batch, fake: torch.Tensor) -> torch.Tensor:
        cond = self._cond(batch)
        params = self.unrolled_parameters(fake, cond)
        scores = functional_call(self.netD, params, (fake, *cond))
        return self.loss.g_loss(scores.float())


# ----------------------------------------------------------------------------- generators
class MixtureGenerator(nn.Module):
    """n MLP generators behind one interface: sample i of a batch comes from generator i mod n.

    p_g = (1/n) sum_k p_{G_k}: each generator only needs to cover some of the modes, and the
    shared discriminator sees the mixture (MAD-GAN / MGAN without their extra terms). Each
    G_k is z (z_dim) -> [Linear, ReLU] * len(hidden) -> Linear -> (out_dim), like
    :class:`~gancourse.models.MLPGenerator` with no output activation. The n networks are
    evaluated together with batched matrix products (weights (n, in, out)), which is what
    makes several small generators as cheap as one; :meth:`member` returns G_k on its own.
    """

    def __init__(self, n: int, z_dim: int, out_dim: int, hidden: Sequence[int]):
        super().__init__()
        if n < 1 or z_dim < 1 or out_dim < 1 or not hidden or min(hidden) < 1:
            raise ValueError(f"need n >= 1 generators, z_dim >= 1, out_dim >= 1 and hidden widths "
                             f">= 1, got n={n}, z_dim={z_dim}, out_dim={out_dim}, hidden={hidden}")
        self.n, self.z_dim, self.out_dim = n, z_dim, out_dim
        sizes = [z_dim, *hidden, out_dim]
        self.weights, self.biases = nn.ParameterList(), nn.ParameterList()
        for a, b in zip(sizes[:-1], sizes[1:]):
            bound = 1.0 / math.sqrt(a)                     # nn.Linear's default initialisation
            self.weights.append(nn.Parameter(torch.empty(n, a, b).uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(torch.empty(n, 1, b).uniform_(-bound, bound)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"expected noise (B, {self.z_dim}), got {tuple(z.shape)}")
        b, n = z.shape[0], self.n
        pad = (-b) % n
        if pad:                                            # B not a multiple of n
            z = torch.cat([z, z.new_zeros(pad, self.z_dim)])
        h = z.view(-1, n, self.z_dim).transpose(0, 1)      # (n, B/n, z_dim): row i -> G_{i mod n}
        last = len(self.weights) - 1
        for i, (w, bias) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(bias, h, w)                  # (n, B/n, width)
            if i < last:
                h = torch.relu(h)
        return h.transpose(0, 1).reshape(-1, self.out_dim)[:b]   # (B, out_dim)

    def member(self, k: int) -> nn.Module:
        """Generator k as a plain :class:`torch.nn.Sequential` (a copy of its weights)."""
        if not 0 <= k < self.n:
            raise ValueError(f"generator index must be in 0..{self.n - 1}, got {k}")
        layers: list[nn.Module] = []
        for i, (w, bias) in enumerate(zip(self.weights, self.biases)):
            lin = nn.Linear(w.shape[1], w.shape[2])
            with torch.no_grad():
                lin.weight.copy_(w[k].T)
                lin.bias.copy_(bias[k, 0])
            layers += [lin] if i == len(self.weights) - 1 else [lin, nn.ReLU()]
        return nn.Sequential(*layers)
