"""Mode collapse and its cures, as small pieces that plug into :mod:`gancourse.training`.

* :class:`MinibatchDiscrimination` (Salimans et al., 2016) and :class:`MinibatchStdDev`
  (Karras et al., 2018): layers that let D look at a whole batch, so a batch of near-copies
  is easy to reject; :class:`BatchFeatureMLP` puts either before D's output layer.
* :func:`pack` / :class:`PackedDiscriminator` (PacGAN, Lin et al., 2018): D judges m samples
  at once, concatenated, all real or all fake.
* :class:`UnrolledGANTrainer` (Metz et al., 2017): G minimises its loss against D after k
  look-ahead steps of D's own optimiser, differentiated through those steps.
* :class:`MixtureGenerator`: several generators against one shared discriminator.
* :func:`protocol`: the PacGAN toy protocol (ring-8 / grid-25, 2,500 samples, mean and
  standard error over seeds of :func:`gancourse.metrics.mode_metrics`) for the methods in
  :data:`METHODS`, and :func:`stack_digits` / :func:`stacked_mode_metrics` for stacked digits
  (three digits as channels, 1,000 modes).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from multiprocessing import get_context
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from gancourse.data import toy as make_toy
from gancourse.metrics import mode_metrics
from gancourse.models import MLPDiscriminator, MLPGenerator
from gancourse.training import GANTrainer, TrainConfig


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
        l1 = (m[:, None] - m[None]).abs().sum(-1)                          # (B, B, n_k)
        o = torch.exp(-l1).sum(1) - 1.0                                    # (B, n_k), j != i
        return torch.cat([h, o], dim=1)                                    # (B, A + n_k)


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

    def unrolled_parameters(self, fake: torch.Tensor,
                            y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """θ_D^k as tensors that depend on ``fake`` (and so on G) when second order."""
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
            real, _ = next(self.batches)
            cond = self._cond(y[:real.shape[0]] if y is not None else None)
            real_scores = functional_call(self.netD, params, (real, *cond))
            fake_scores = functional_call(self.netD, params, (fake_in, *self._cond(y)))
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

    def generator_loss(self, fake: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        params = self.unrolled_parameters(fake, y)
        scores = functional_call(self.netD, params, (fake, *self._cond(y)))
        return self.loss.g_loss(scores.float())


# ----------------------------------------------------------------------------- generators
class MixtureGenerator(nn.Module):
    """n generators behind one interface: sample i of a batch comes from generator i mod n.

    p_g = (1/n) sum_k p_{G_k}: each generator only needs to cover some modes, and the shared
    discriminator sees the mixture (MGAN / MAD-GAN without their extra terms).
    """

    def __init__(self, generators: Iterable[nn.Module]):
        super().__init__()
        self.generators = nn.ModuleList(generators)
        if len(self.generators) < 1:
            raise ValueError("need at least one generator")
        self.z_dim = getattr(self.generators[0], "z_dim", None)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        n = len(self.generators)
        parts = [g(z[k::n]) for k, g in enumerate(self.generators) if len(z[k::n])]
        out = parts[0].new_empty(z.shape[0], *parts[0].shape[1:])           # (B, ...)
        for k, part in enumerate(parts):
            out[k::n] = part
        return out


# ----------------------------------------------------------------------------- the protocol
METHODS = ("gan", "wgan-gp", "minibatch-disc", "mbstd", "pacgan2", "pacgan4", "unrolled",
           "mix-g")
TOYS = ("grid25", "ring8")


@dataclass(frozen=True)
class ToySetup:
    """One generator and budget shared by every method of the protocol.

    G: MLP z (z_dim) -> R^2 with ``g_hidden`` ReLU layers; D: MLP with ``d_hidden`` LeakyReLU
    layers. ``steps`` generator updates with Adam(lr, betas); ``batch_size`` samples per
    update (PacGAN-m sees m times as many, packed into ``batch_size`` decisions). ``ema``:
    decay of the averaged G that is evaluated (None: the raw G).
    """

    steps: int = 3000
    batch_size: int = 100
    z_dim: int = 2
    g_hidden: tuple[int, ...] = (128, 128, 128)
    d_hidden: tuple[int, ...] = (128, 128)
    lr: float = 1e-3
    betas: tuple[float, float] = (0.5, 0.999)
    ema: float | None = 0.999
    n_critic_wgan: int = 5
    unroll_steps: int = 5
    n_generators: int = 4
    extra: dict[str, Any] = field(default_factory=dict)


def make_trainer(method: str, toy: str, setup: ToySetup, seed: int = 0) -> GANTrainer:
    """The trainer for ``method`` (one of :data:`METHODS`) on ``toy`` ("grid25" | "ring8").

    Every method uses the same G architecture (``mix-g``: ``n_generators`` generators whose
    hidden widths are divided by ``n_generators`` so the ReLU-ReLU weights stay the same
    number) and the same number of generator steps.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; valid: {', '.join(METHODS)}")
    if toy not in TOYS:
        raise ValueError(f"unknown toy {toy!r}; valid: {', '.join(TOYS)}")
    torch.manual_seed(seed)
    data = make_toy(toy)
    cfg = dict(steps=setup.steps, batch_size=setup.batch_size, z_dim=setup.z_dim, lr_g=setup.lr,
               lr_d=setup.lr, betas=setup.betas, ema=setup.ema, progress=False, seed=seed,
               log_every=max(1, setup.steps // 100), sample_every=setup.steps)
    if method == "mix-g":
        n = setup.n_generators
        netG: nn.Module = MixtureGenerator(
            MLPGenerator(setup.z_dim, (2,), hidden=[max(1, h // n) for h in setup.g_hidden],
                         out_activation=None) for _ in range(n))
    else:
        netG = MLPGenerator(setup.z_dim, (2,), hidden=setup.g_hidden, out_activation=None)
    netD: nn.Module = MLPDiscriminator(2, hidden=setup.d_hidden)
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

    Returns the metrics plus ``samples`` (n_samples, 2) numpy, ``time_s`` and the inputs.
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


def protocol(methods: Sequence[str], toy: str, setup: ToySetup, seeds: Sequence[int] = range(5),
             n_samples: int = 2500, workers: int = 1) -> dict[str, dict[str, Any]]:
    """The PacGAN protocol: each method trained once per seed, scored on ``n_samples``.

    Returns {method: {"modes": (mean, se), "hq": (mean, se), "kl": (mean, se),
    "runs": [per-seed results of :func:`run_method`], "time_s": total seconds}}. ``workers``
    > 1 runs the (method, seed) jobs in that many fresh ("spawn") processes with one torch
    thread each; results do not depend on it.
    """
    methods, seeds = list(methods), list(seeds)
    for method in methods:
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; valid: {', '.join(METHODS)}")
    if toy not in TOYS:
        raise ValueError(f"unknown toy {toy!r}; valid: {', '.join(TOYS)}")
    if not seeds or workers < 1:
        raise ValueError(f"need at least one seed and workers >= 1, got {seeds}, {workers}")
    jobs = [(m, toy, asdict(setup), s, n_samples) for m in methods for s in seeds]
    if workers == 1:
        results = [run_method(m, t, replace(setup), s, n) for m, t, _, s, n in jobs]
    else:
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            results = list(pool.map(_run_job, jobs))
    out: dict[str, dict[str, Any]] = {}
    for method in methods:
        runs = [r for r in results if r["method"] == method]
        out[method] = {"modes": mean_se([r["modes_covered"] for r in runs]),
                       "hq": mean_se([r["hq_share"] for r in runs]),
                       "kl": mean_se([r["reverse_kl"] for r in runs]),
                       "runs": runs, "time_s": sum(r["time_s"] for r in runs)}
    return out


# ----------------------------------------------------------------------------- stacked digits
def stack_digits(images: torch.Tensor, n: int, seed: int = 0,
                 labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Stacked digits (VEEGAN / PacGAN): three random digits as the channels of one image.

    ``images`` (N, 1, H, W) -> (n, 3, H, W); with ``labels`` (N,) also the mode of each
    stacked image, 100 * label_R + 10 * label_G + label_B in 0..999 (1,000 modes).
    """
    if images.ndim != 4 or images.shape[1] != 1 or len(images) == 0:
        raise ValueError(f"need grey images (N, 1, H, W), got {tuple(images.shape)}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, len(images), (n, 3), generator=g)                # (n, 3)
    stacked = images[idx].squeeze(2)                                        # (n, 3, H, W)
    if labels is None:
        return stacked, None
    digits = labels[idx]                                                    # (n, 3)
    return stacked, digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2]


def stacked_mode_metrics(images: torch.Tensor, classifier: nn.Module,
                         batch_size: int = 512) -> dict[str, Any]:
    """Modes of stacked-digit images judged channel by channel by a digits ``classifier``.

    Each channel (B, 1, H, W) is classified (arg-max of ``classifier.predict``); the mode is
    100 * c_R + 10 * c_G + c_B. Returns ``mode_counts`` (1000,), ``modes_covered`` (modes
    with at least one sample, 0..1000), ``reverse_kl`` = KL(q || uniform) = sum_k q_k ln(1000 q_k)
    in nats (0 for a uniform spread, ln 1000 = 6.91 for one mode) and ``num_modes`` = 1000.
    """
    if images.ndim != 4 or images.shape[1] != 3 or len(images) == 0:
        raise ValueError(f"need stacked images (B, 3, H, W), got {tuple(images.shape)}")
    classes = []
    for c in range(3):
        _, probs = classifier.predict(images[:, c:c + 1], batch_size)        # (B, 10)
        classes.append(torch.as_tensor(probs).argmax(1))
    modes = (classes[0] * 100 + classes[1] * 10 + classes[2]).numpy()       # (B,)
    counts = np.bincount(modes, minlength=1000)
    q = counts / counts.sum()
    nz = q > 0
    return {"mode_counts": counts.tolist(), "modes_covered": int(nz.sum()),
            "reverse_kl": float((q[nz] * np.log(q[nz] * 1000)).sum()), "num_modes": 1000}
