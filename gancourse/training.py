"""The GAN training loop: one explicit loop that every variant in the course reuses.

One *step* is one generator update, preceded by ``n_critic`` discriminator updates::

    for step in range(steps):
        for _ in range(n_critic):                       # discriminator / critic
            x ~ data, z ~ N(0, I)
            L_D = d_loss(D(x), D(G(z))) + λ · penalty      # G(z) detached
            update D; clip D's weights if asked
        z ~ N(0, I)
        L_G = g_loss(D(G(z)))
        update G; update the EMA copy of G if asked

Variants plug in through :class:`TrainConfig`: the loss pair (``losses.LOSSES``),
``n_critic``, a gradient penalty (``gp``, ``r1``, ``dragan``), weight clipping, the
optimiser. Conditional models take ``netG(z, y)`` and ``netD(x, y)``.

The trainer keeps a history (losses, D(x), D(G(z)), gradient norms, penalty), samples
on fixed noise, shows ``tqdm.auto`` progress, writes atomic checkpoints that it can
resume from, stops on a non-finite loss naming the step, and on CUDA uses bf16 autocast,
``channels_last`` and optionally ``torch.compile``.
"""

from __future__ import annotations

import copy
import io
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from gancourse import losses as L
from gancourse.runtime import atomic_write_bytes, resolve_device

CHECKPOINT_FORMAT = "gancourse-checkpoint-v1"
# Config fields that may change when a run is resumed (training longer, logging differently).
_RESUMABLE_CHANGES = {"steps", "log_every", "sample_every", "checkpoint_every", "progress"}


class NonFiniteLossError(FloatingPointError):
    """A loss became NaN or infinite; training stopped."""


class CheckpointError(RuntimeError):
    """A checkpoint is corrupt, not ours, or does not match the models/config."""


@dataclass
class TrainConfig:
    """Everything that defines a training run (checkpointed with it)."""

    steps: int = 1000                 # generator updates
    batch_size: int = 64
    z_dim: int = 100
    loss: str = "ns"                  # minimax | ns | lsgan | hinge | wgan
    n_critic: int = 1                 # discriminator updates per generator update
    optimizer: str = "adam"           # adam | rmsprop
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    lr_decay: float = 0.0             # share of the run at the end over which both lrs fall linearly to 0
    penalty: str | None = None        # gp | r1 | dragan
    penalty_weight: float = 10.0      # λ for gp/dragan, γ/2 for r1
    clip: float | None = None         # WGAN weight clipping bound c
    ema: float | None = None          # decay of an exponential moving average of G
    n_samples: int = 64               # fixed-noise samples
    sample_every: int = 0             # 0: eight snapshots over the run
    log_every: int = 1
    checkpoint_every: int = 0         # 0: only at the end (when a path is given)
    amp: bool | None = None           # None: bf16 autocast on CUDA only
    channels_last: bool | None = None  # None: on CUDA for conv nets
    compile: bool = False
    progress: bool = True
    seed: int = 0

    def __post_init__(self):
        L.get_loss(self.loss)
        if self.penalty is not None and self.penalty not in L.PENALTIES:
            raise ValueError(f"unknown penalty {self.penalty!r}; valid penalties are "
                             f"{', '.join(L.PENALTIES)} or None")
        if self.optimizer not in ("adam", "rmsprop"):
            raise ValueError(f"unknown optimizer {self.optimizer!r}; valid: adam, rmsprop")
        if not 0.0 <= self.lr_decay <= 1.0:
            raise ValueError(f"lr_decay must be in [0, 1] (share of the run), got {self.lr_decay}")
        for name in ("steps", "batch_size", "z_dim", "n_critic", "log_every"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        self.betas = tuple(self.betas)


# ----------------------------------------------------------------------------- data
class RealBatches:
    """Endless real batches ``(x, y)`` (y is None when unlabelled) on ``device``.

    Accepts a tensor (N, ...), an object with ``images``/``labels`` tensors (an
    :class:`~gancourse.data.ImageDataset`), a toy distribution (``.sample(n, generator=)``),
    a callable ``f(batch_size) -> x or (x, y)``, or any iterable of batches (cycled).
    In-memory tensors are shuffled once per epoch and sliced, like a DataLoader.
    """

    def __init__(self, data: Any, batch_size: int, device: torch.device, seed: int = 0,
                 channels_last: bool = False):
        self.batch_size, self.device, self.channels_last = batch_size, device, channels_last
        self.generator = torch.Generator().manual_seed(seed)
        self.x = self.y = None
        self._iter: Iterator | None = None
        self._source = data
        if isinstance(data, torch.Tensor):
            self.x = data
        elif hasattr(data, "images") and hasattr(data, "labels"):
            self.x, self.y = data.images, data.labels
        elif hasattr(data, "sample"):
            self._fn = lambda n: data.sample(n, generator=self.generator)
        elif callable(data):
            self._fn = data
        elif isinstance(data, Iterable):
            self._iter = iter(data)
        else:
            raise TypeError(f"cannot draw batches from {type(data).__name__}; pass a tensor, an "
                            f"ImageDataset, a toy distribution, a callable or an iterable")
        if self.x is not None:
            if len(self.x) < batch_size:
                raise ValueError(f"batch_size={batch_size} exceeds the {len(self.x)} training "
                                 f"examples")
            if device.type == "cuda":               # small datasets live on the GPU
                self.x = self.x.to(device)
                self.y = self.y.to(device) if self.y is not None else None
            self._perm, self._pos = torch.empty(0, dtype=torch.long), 0

    def state(self) -> dict[str, Any]:
        """Where the current epoch stands (for exact resumption)."""
        if self.x is None:
            return {}
        return {"perm": self._perm, "pos": self._pos}

    def load_state(self, state: dict[str, Any]) -> None:
        if self.x is not None and state:
            self._perm, self._pos = state["perm"].cpu(), int(state["pos"])

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.x is not None:
            if self._pos + self.batch_size > len(self._perm):
                self._perm, self._pos = torch.randperm(len(self.x), generator=self.generator), 0
            idx = self._perm[self._pos:self._pos + self.batch_size].to(self.x.device)
            self._pos += self.batch_size
            x, y = self.x[idx], (self.y[idx] if self.y is not None else None)
        elif self._iter is not None:
            try:
                batch = next(self._iter)
            except StopIteration:
                self._iter = iter(self._source)
                batch = next(self._iter)
            x, y = batch if isinstance(batch, (tuple, list)) else (batch, None)
        else:
            out = self._fn(self.batch_size)
            x, y = out if isinstance(out, (tuple, list)) else (out, None)
        x = x.to(self.device, non_blocking=True)
        if self.channels_last and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, (y.to(self.device, non_blocking=True) if y is not None else None)


# ----------------------------------------------------------------------------- trainer
class GANTrainer:
    """Trains ``netG`` against ``netD`` on ``data`` as :class:`TrainConfig` says.

    Args:
        netG, netD: the generator and discriminator/critic (``netD`` returns raw scores (B,)).
        data: see :class:`RealBatches`.
        config: a :class:`TrainConfig`.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"mps"`` or a ``torch.device``.
        num_classes: set for conditional models: then ``netG(z, y)`` and ``netD(x, y)``,
            fakes get uniformly random labels and the fixed samples cycle the classes.
        checkpoint: path of the checkpoint file (written atomically); ``fit(resume=True)``
            continues from it when it exists.
        callbacks: functions ``cb(trainer, event)`` called with event ``"log"`` or ``"sample"``.
    """

    def __init__(self, netG: nn.Module, netD: nn.Module, data: Any, config: TrainConfig,
                 device: str | torch.device = "auto", num_classes: int | None = None,
                 checkpoint: str | Path | None = None,
                 callbacks: Iterable[Callable[[GANTrainer, str], None]] = ()):
        self.config = config
        self.device = resolve_device(device)
        cuda = self.device.type == "cuda"
        self.amp = cuda if config.amp is None else bool(config.amp)
        is_conv = any(isinstance(m, nn.Conv2d | nn.ConvTranspose2d) for m in netD.modules())
        self.channels_last = (cuda and is_conv) if config.channels_last is None else config.channels_last
        fmt = torch.channels_last if self.channels_last else torch.preserve_format
        self.netG = netG.to(self.device, memory_format=fmt)
        self.netD = netD.to(self.device, memory_format=fmt)
        self.G = torch.compile(self.netG) if config.compile else self.netG
        self.D = torch.compile(self.netD) if config.compile else self.netD
        self.netG_ema = copy.deepcopy(self.netG).eval().requires_grad_(False) if config.ema else None
        self.loss = L.get_loss(config.loss)
        self.optG = self._optimizer(self.netG, config.lr_g)
        self.optD = self._optimizer(self.netD, config.lr_d)
        self.num_classes = num_classes
        self.batches = RealBatches(data, config.batch_size, self.device, config.seed, self.channels_last)
        self.checkpoint_path = Path(checkpoint) if checkpoint else None
        self.callbacks = list(callbacks)
        g = torch.Generator().manual_seed(config.seed + 1)
        self.fixed_z = torch.randn(config.n_samples, config.z_dim, generator=g).to(self.device)
        self.fixed_y = (torch.arange(config.n_samples) % num_classes).to(self.device) if num_classes else None
        self.noise = torch.Generator(device=self.device).manual_seed(config.seed + 2)
        self.step = 0
        self.history: dict[str, list[float]] = {}
        self.snapshots: list[tuple[int, torch.Tensor]] = []
        self._buffer: dict[str, list[torch.Tensor]] = {}
        self._elapsed = 0.0

    # -- pieces ---------------------------------------------------------------------------
    def _optimizer(self, net: nn.Module, lr: float) -> torch.optim.Optimizer:
        if self.config.optimizer == "rmsprop":
            return torch.optim.RMSprop(net.parameters(), lr=lr)
        return torch.optim.Adam(net.parameters(), lr=lr, betas=self.config.betas)

    def lr_factor(self, step: int) -> float:
        """Learning-rate multiplier for generator step ``step`` (0-based): 1, then a linear
        ramp to 0 over the last ``lr_decay`` share of the run (f = (steps - step) / (lr_decay * steps))."""
        cfg = self.config
        span = cfg.lr_decay * cfg.steps
        return 1.0 if span <= 0 else min(1.0, (cfg.steps - step) / span)

    def _set_lr(self) -> None:
        f = self.lr_factor(self.step)
        for opt, lr in ((self.optG, self.config.lr_g), (self.optD, self.config.lr_d)):
            for group in opt.param_groups:
                group["lr"] = lr * f

    def _z(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.config.z_dim, device=self.device, generator=self.noise)

    def _y(self, n: int) -> torch.Tensor | None:
        if not self.num_classes:
            return None
        return torch.randint(0, self.num_classes, (n,), device=self.device, generator=self.noise)

    def _autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp)

    @staticmethod
    def _cond(y: torch.Tensor | None) -> tuple:
        return () if y is None else (y,)

    def _score_stat(self, scores: torch.Tensor) -> torch.Tensor:
        s = scores.detach().float()
        return torch.sigmoid(s).mean() if self.loss.sigmoid else s.mean()

    def _log(self, **values: torch.Tensor) -> None:
        for k, v in values.items():
            self._buffer.setdefault(k, []).append(v.detach().float())

    # -- the losses (override these for a new GAN variant) -------------------------------------
    def discriminator_loss(self, real: torch.Tensor, fake: torch.Tensor,
                           y: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """D's loss on one batch: (loss_D, real_scores (B,), fake_scores (B,)).

        ``fake`` is detached from G; ``y`` the labels for conditional models, else None. The
        default scores both batches with D and applies the configured loss pair; subclasses
        (conditional, energy-based, ...) change what D sees or how it is scored, and may
        :meth:`_log` extra values. Penalties, clipping and the update stay in :meth:`d_step`.
        """
        real_scores = self.D(real, *self._cond(y))
        fake_scores = self.D(fake, *self._cond(y))
        return self.loss.d_loss(real_scores.float(), fake_scores.float()), real_scores, fake_scores

    def generator_loss(self, fake: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """G's loss on a batch of fakes that carries G's graph (default: the loss pair's)."""
        return self.loss.g_loss(self.D(fake, *self._cond(y)).float())

    def penalty(self, real: torch.Tensor, fake: torch.Tensor,
                y: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """The configured gradient penalty: (penalty, per-sample gradient norms (B,))."""
        cond = self._cond(y)
        if self.config.penalty == "gp":
            return L.gradient_penalty(self.D, real, fake, *cond)
        if self.config.penalty == "r1":
            return L.r1_penalty(self.D, real, *cond)
        return L.dragan_penalty(self.D, real, *cond)

    # -- one step ---------------------------------------------------------------------------
    def d_step(self, keep_graph: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One discriminator update; returns (fake, y). With ``keep_graph`` the fakes carry G's
        graph (D still sees ``fake.detach()``) so that G's step can reuse them."""
        cfg = self.config
        real, y = next(self.batches)                       # (B, ...), labels or None
        y = y if self.num_classes else None                 # labels condition only cGANs
        if self.num_classes and y is None:
            raise ValueError(f"conditional training (num_classes={self.num_classes}) needs labelled "
                             f"data: an ImageDataset or batches (x, y); got images without labels")
        z = self._z(real.shape[0])                          # fakes share the real labels
        with torch.set_grad_enabled(keep_graph), self._autocast():
            fake = self.G(z, *self._cond(y))
        with self._autocast():
            loss_D, real_scores, fake_scores = self.discriminator_loss(real, fake.detach(), y)
        if cfg.penalty is not None:
            pen, norms = self.penalty(real, fake.detach().float(), y)
            loss_D = loss_D + cfg.penalty_weight * pen
            self._log(penalty=pen, penalty_grad_norm=norms.mean())
        self.optD.zero_grad(set_to_none=True)
        loss_D.backward()
        self._log(loss_D=loss_D, D_real=self._score_stat(real_scores),
                  D_fake=self._score_stat(fake_scores),
                  grad_norm_D=torch.nn.utils.get_total_norm(
                      [p.grad for p in self.netD.parameters() if p.grad is not None]))
        self.optD.step()
        if cfg.clip is not None:
            L.clip_weights(self.netD, cfg.clip)
        return fake, y

    def g_step(self, fake: torch.Tensor, y: torch.Tensor | None) -> None:
        """One generator update on the last critic step's fakes (which carry G's graph)."""
        with self._autocast():
            loss_G = self.generator_loss(fake, y)
        self.optG.zero_grad(set_to_none=True)
        loss_G.backward()
        self._log(loss_G=loss_G, grad_norm_G=torch.nn.utils.get_total_norm(
            [p.grad for p in self.netG.parameters() if p.grad is not None]))
        self.optG.step()
        if self.netG_ema is not None:
            self._update_ema()

    @torch.no_grad()
    def _update_ema(self) -> None:
        decay = self.config.ema
        ema_p, p = list(self.netG_ema.parameters()), list(self.netG.parameters())
        torch._foreach_lerp_(ema_p, p, 1 - decay)
        for b_ema, b in zip(self.netG_ema.buffers(), self.netG.buffers()):
            b_ema.copy_(b)

    # -- history ------------------------------------------------------------------------------
    def _flush(self, bar) -> None:
        """Average the buffered values into the history; stop on a non-finite loss."""
        first = self.step - len(self._buffer.get("loss_G", [])) + 1
        for name in ("loss_D", "loss_G"):
            vals = torch.stack(self._buffer.get(name, [torch.zeros(())]))
            if not torch.isfinite(vals).all():
                per_step = len(vals) // max(1, len(self._buffer.get("loss_G", [1])))
                bad = int((~torch.isfinite(vals)).nonzero()[0, 0]) // max(1, per_step)
                raise NonFiniteLossError(
                    f"{name} became {vals[~torch.isfinite(vals)][0].item()} at step {first + bad} "
                    f"(loss={self.config.loss}, lr_g={self.config.lr_g}, lr_d={self.config.lr_d}); "
                    f"training stopped. Lower the learning rates, check the data range, or add a "
                    f"penalty; the last checkpoint (if any) is untouched.")
        self.history.setdefault("step", []).append(self.step)
        for k, vals in self._buffer.items():
            self.history.setdefault(k, []).append(torch.stack(vals).mean().item())
        self.history.setdefault("time_s", []).append(self._elapsed)
        self._buffer.clear()
        if bar is not None:
            bar.set_postfix(loss_D=f"{self.history['loss_D'][-1]:.3f}",
                            loss_G=f"{self.history['loss_G'][-1]:.3f}", refresh=False)
        for cb in self.callbacks:
            cb(self, "log")

    @torch.no_grad()
    def sample(self, n: int | None = None, labels: torch.Tensor | None = None, seed: int | None = None,
               use_ema: bool = True, batch_size: int = 500) -> torch.Tensor:
        """Generate ``n`` samples on CPU (the fixed noise when ``n`` is None)."""
        net = self.netG_ema if (use_ema and self.netG_ema is not None) else self.netG
        if n is None:
            z_all, y_all = self.fixed_z, self.fixed_y
        else:
            g = torch.Generator().manual_seed(seed if seed is not None else self.config.seed + 3)
            z_all = torch.randn(n, self.config.z_dim, generator=g).to(self.device)
            y_all = labels
            if y_all is None and self.num_classes:
                y_all = torch.arange(n) % self.num_classes
            y_all = y_all.to(self.device) if y_all is not None else None
        out = []
        for i in range(0, len(z_all), batch_size):
            y = None if y_all is None else y_all[i:i + batch_size]
            with self._autocast():
                out.append(net(z_all[i:i + batch_size], *self._cond(y)).float().cpu())
        return torch.cat(out)

    def _snapshot(self) -> None:
        self.snapshots.append((self.step, self.sample()))
        for cb in self.callbacks:
            cb(self, "sample")

    # -- loop -------------------------------------------------------------------------------
    def fit(self, resume: bool = True) -> dict[str, list[float]]:
        """Train until ``config.steps`` generator steps; returns the history."""
        cfg = self.config
        if resume and self.checkpoint_path is not None and self.checkpoint_path.exists():
            self.load_checkpoint(self.checkpoint_path)
        every = cfg.sample_every or max(1, cfg.steps // 8)
        if self.step == 0 and not self.snapshots:
            self._snapshot()
        self.netG.train()
        self.netD.train()
        bar = tqdm(total=cfg.steps, initial=self.step, desc=f"{cfg.loss} GAN",
                   disable=not cfg.progress, leave=False)
        t0 = time.perf_counter() - self._elapsed
        while self.step < cfg.steps:
            if cfg.lr_decay:
                self._set_lr()
            for i in range(cfg.n_critic):                  # the last critic step's fakes feed G
                fake, y = self.d_step(keep_graph=i == cfg.n_critic - 1)
            self.g_step(fake, y)
            self.step += 1
            self._elapsed = time.perf_counter() - t0
            if self.step % every == 0 or self.step == cfg.steps:
                self._snapshot()                            # before logging: live views show it
            if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                self._flush(bar)
            if (cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0
                    and self.checkpoint_path is not None):
                self.save_checkpoint(self.checkpoint_path)
            bar.update(1)
        bar.close()
        if self.checkpoint_path is not None:
            self.save_checkpoint(self.checkpoint_path)
        return self.history

    # -- checkpoints ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "step": self.step,
            "elapsed": self._elapsed,
            "config": asdict(self.config),
            "models": {"netG": type(self.netG).__name__, "netD": type(self.netD).__name__},
            "netG": self.netG.state_dict(),
            "netD": self.netD.state_dict(),
            "netG_ema": self.netG_ema.state_dict() if self.netG_ema is not None else None,
            "optG": self.optG.state_dict(),
            "optD": self.optD.state_dict(),
            "history": self.history,
            "snapshots": [[s, x] for s, x in self.snapshots],
            "noise_rng": self.noise.get_state(),
            "data_rng": self.batches.generator.get_state(),
            "data_order": self.batches.state(),
        }

    def save_checkpoint(self, path: str | Path) -> Path:
        """Write everything needed to resume, atomically (old file or new, never half)."""
        buf = io.BytesIO()
        torch.save(self.state_dict(), buf)
        return atomic_write_bytes(path, buf.getvalue())

    def load_checkpoint(self, path: str | Path) -> None:
        """Resume from ``path``; a corrupt or mismatched file raises :class:`CheckpointError`."""
        path = Path(path)
        try:
            state = torch.load(path, map_location=self.device, weights_only=True)
        except Exception as err:
            raise CheckpointError(f"checkpoint {path} is corrupt or unreadable "
                                  f"({type(err).__name__}: {str(err)[:200]}); delete it to start "
                                  f"over, or pass resume=False") from err
        if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(f"{path} is not a gancourse training checkpoint "
                                  f"(expected format {CHECKPOINT_FORMAT!r})")
        defaults = asdict(TrainConfig())                     # fields newer than the checkpoint
        saved = {**defaults, **state["config"]}
        now = asdict(self.config)
        diff = {k: (saved.get(k), now[k]) for k in now
                if k not in _RESUMABLE_CHANGES and _norm(saved.get(k)) != _norm(now[k])}
        if diff:
            details = ", ".join(f"{k}: checkpoint {a!r} vs now {b!r}" for k, (a, b) in diff.items())
            raise CheckpointError(f"checkpoint {path} was made with a different config ({details}); "
                                  f"use another checkpoint path or the same settings")
        names = {"netG": type(self.netG).__name__, "netD": type(self.netD).__name__}
        if state["models"] != names:
            raise CheckpointError(f"checkpoint {path} holds {state['models']}, not {names}")
        try:
            self.netG.load_state_dict(state["netG"])
            self.netD.load_state_dict(state["netD"])
            if self.netG_ema is not None and state["netG_ema"] is not None:
                self.netG_ema.load_state_dict(state["netG_ema"])
            self.optG.load_state_dict(state["optG"])
            self.optD.load_state_dict(state["optD"])
        except (RuntimeError, ValueError, KeyError) as err:
            raise CheckpointError(f"checkpoint {path} does not fit these models: "
                                  f"{str(err)[:400]}") from err
        self.step, self._elapsed = int(state["step"]), float(state["elapsed"])
        self.history = state["history"]
        self.snapshots = [(int(s), x.cpu()) for s, x in state["snapshots"]]
        self.noise.set_state(state["noise_rng"].cpu())
        self.batches.generator.set_state(state["data_rng"].cpu())
        self.batches.load_state(state["data_order"])


def _norm(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def train_gan(netG: nn.Module, netD: nn.Module, data: Any, config: TrainConfig | None = None,
              **kwargs: Any) -> GANTrainer:
    """Build a :class:`GANTrainer`, run it, and return it (history in ``.history``).

    Keyword arguments that name :class:`TrainConfig` fields override ``config``; the rest
    go to the trainer (``device``, ``num_classes``, ``checkpoint``, ``callbacks``).
    """
    names = {f.name for f in fields(TrainConfig)}
    overrides = {k: kwargs.pop(k) for k in list(kwargs) if k in names}
    config = TrainConfig(**{**(asdict(config) if config else {}), **overrides})
    trainer = GANTrainer(netG, netD, data, config, **kwargs)
    trainer.fit()
    return trainer

