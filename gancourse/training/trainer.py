"""The GAN training loop: one explicit loop that every variant in the course reuses.

One *step* is one generator update, preceded by ``n_critic`` discriminator updates::

    for step in range(steps):
        before_step()                                   # lr schedule, fade-in α, ...
        for i in range(n_critic):                       # discriminator / critic
            batch ~ data                                # Batch: batch.x, batch.y, paired/unpaired parts
            fake = generate(batch)                      # G(z), G(z, y), G(image), ...; one forward
            L_D = discriminator_loss(batch, fake.detach()) + λ · penalty(batch, fake.detach())
            update D; clip D's weights if asked; after_d_step(...)
        L_G = generator_loss(batch, fake)               # the last critic step's fakes, with G's graph
        update G; update the EMA copy of G if asked; after_g_step(...)

G runs once per critic step: D's update sees ``fake.detach()`` and G's update reuses the same
``fake`` (the structure of the PyTorch DCGAN example), so no step pays for a second G forward.

**Variants** plug in without a loop of their own (labml's configs are the model):

* :class:`TrainConfig` picks the loss pair (``losses.LOSSES``), ``n_critic``, a gradient penalty
  (``gp``, ``r1``, ``dragan``), weight clipping, the optimiser, EMA;
* the hooks :meth:`generator_inputs` / :meth:`generate`, :meth:`discriminator_loss`,
  :meth:`generator_loss` and :meth:`penalty` receive the :class:`Batch`, so a subclass decides
  what G sees (noise, labels, an image, a second domain) and what each loss compares;
* :meth:`add_network` registers more networks (a Q head, an encoder, a second generator and
  discriminator) with the G or the D optimiser, as their own parameter group; checkpoints,
  device moves and resume loop over all of them;
* the lifecycle hooks :meth:`before_step`, :meth:`after_d_step`, :meth:`after_g_step` and
  :meth:`extra_state` / :meth:`load_extra_state` hold state beyond the networks (BEGAN's k_t,
  ProGAN's fade-in α).

The trainer keeps a history (losses, D(x), D(G(z)), gradient norms, penalty), samples on fixed
noise, shows ``tqdm.auto`` progress, writes atomic checkpoints that it resumes from bit-exactly,
stops on a non-finite loss naming the step, and on CUDA uses bf16 autocast, ``channels_last``
and optionally ``torch.compile``.
"""

from __future__ import annotations

import copy
import io
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from gancourse import losses as L
from gancourse.runtime import atomic_write_bytes, resolve_device
from gancourse.training.batches import Batch, RealBatches
from gancourse.training.config import RESUMABLE_CHANGES, TrainConfig

CHECKPOINT_FORMAT = "gancourse-checkpoint-v2"
_OLD_FORMAT = "gancourse-checkpoint-v1"          # two networks, before add_network existed
ROLES = ("G", "D")

Tensor = torch.Tensor


class NonFiniteLossError(FloatingPointError):
    """A loss became NaN or infinite; training stopped."""


class CheckpointError(RuntimeError):
    """A checkpoint is corrupt, not ours, or does not match the models/config."""


def detach(obj: Any) -> Any:
    """``obj`` with every tensor detached (tensors, tuples, lists and dicts of them)."""
    if isinstance(obj, Tensor):
        return obj.detach()
    if isinstance(obj, (tuple, list)):
        return type(obj)(detach(o) for o in obj)
    if isinstance(obj, dict):
        return {k: detach(v) for k, v in obj.items()}
    return obj


class GANTrainer:
    """Trains ``netG`` against ``netD`` on ``data`` as :class:`TrainConfig` says.

    Args:
        netG, netD: the generator and discriminator/critic (``netD`` returns raw scores).
        data: see :class:`~gancourse.training.batches.RealBatches` (a tensor, an ImageDataset,
            ``Paired(...)``, ``Unpaired(...)``, a toy distribution, a callable, an iterable).
        config: a :class:`TrainConfig`.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"mps"`` or a ``torch.device``.
        num_classes: set for class-conditional models: then ``netG(z, y)`` and ``netD(x, y)``;
            fakes take the labels of the real batch and the fixed samples cycle the classes.
        checkpoint: path of the checkpoint file (written atomically); ``fit(resume=True)``
            continues from it when it exists.
        callbacks: functions ``cb(trainer, event)`` called with event ``"log"`` or ``"sample"``.

    Networks live in :attr:`networks` (``"netG"``, ``"netD"`` and whatever :meth:`add_network`
    adds) and optimisers in :attr:`optimizers` (``"G"`` and ``"D"``); ``netG``, ``netD``,
    ``optG``, ``optD`` name the first two of each.
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
        self.networks: dict[str, nn.Module] = {}
        self.compiled: dict[str, nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.add_network("netG", netG, role="G", lr=config.lr_g)
        self.add_network("netD", netD, role="D", lr=config.lr_d)
        self.netG_ema = copy.deepcopy(self.netG).eval().requires_grad_(False) if config.ema else None
        self.loss = L.get_loss(config.loss)
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
        self.snapshots: list[tuple[int, Any]] = []
        self._buffer: dict[str, list[Tensor]] = {}
        self._elapsed = 0.0

    # -- networks and optimisers ------------------------------------------------------------
    def add_network(self, name: str, net: nn.Module, role: str | None = None,
                    lr: float | None = None) -> nn.Module:
        """Register ``net`` under ``name``: moved to the device (channels_last where set),
        compiled when ``config.compile``, saved in checkpoints. With ``role`` ``"G"`` or ``"D"``
        its parameters join that optimiser as their own parameter group (learning rate ``lr``,
        default the role's ``lr_g`` / ``lr_d``); ``role=None`` keeps it out of both (e.g. a frozen
        feature network). Call it in a subclass's ``__init__``, after ``super().__init__``.
        """
        if name in self.networks:
            raise ValueError(f"a network named {name!r} is already registered")
        if role is not None and role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)} or None, got {role!r}")
        fmt = torch.channels_last if self.channels_last else torch.preserve_format
        net = net.to(self.device, memory_format=fmt)
        self.networks[name] = net
        self.compiled[name] = torch.compile(net) if self.config.compile else net
        if role is not None:
            base = self.config.lr_g if role == "G" else self.config.lr_d
            group = {"params": [p for p in net.parameters() if p.requires_grad],
                     "lr": base if lr is None else lr, "network": name}
            group["base_lr"] = group["lr"]
            if role not in self.optimizers:
                self.optimizers[role] = self._optimizer([group])
            else:
                self.optimizers[role].add_param_group(group)
        return net

    def _optimizer(self, groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
        """Adam (fused into one kernel per step on CPU and CUDA: the same update, a third of
        the time on a laptop CPU) or RMSprop."""
        if self.config.optimizer == "rmsprop":
            return torch.optim.RMSprop(groups)
        fused = self.device.type in ("cpu", "cuda")
        return torch.optim.Adam(groups, betas=self.config.betas, fused=fused)

    def role_parameters(self, role: str) -> list[nn.Parameter]:
        """Every parameter the ``role`` optimiser updates."""
        return [p for group in self.optimizers[role].param_groups for p in group["params"]]

    netG = property(lambda self: self.networks["netG"])
    netD = property(lambda self: self.networks["netD"])
    G = property(lambda self: self.compiled["netG"], doc="netG, compiled when config.compile")
    D = property(lambda self: self.compiled["netD"], doc="netD, compiled when config.compile")
    optG = property(lambda self: self.optimizers["G"])
    optD = property(lambda self: self.optimizers["D"])

    # -- pieces ---------------------------------------------------------------------------
    def lr_factor(self, step: int) -> float:
        """Learning-rate multiplier for generator step ``step`` (0-based): 1, then a linear
        ramp to 0 over the last ``lr_decay`` share of the run (f = (steps - step) / (lr_decay * steps))."""
        cfg = self.config
        span = cfg.lr_decay * cfg.steps
        return 1.0 if span <= 0 else min(1.0, (cfg.steps - step) / span)

    def _z(self, n: int) -> Tensor:
        return torch.randn(n, self.config.z_dim, device=self.device, generator=self.noise)

    def _autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp)

    def _cond(self, batch: Batch) -> tuple:
        """The condition D and G get next to their input: (y,) for class-conditional models."""
        if not self.num_classes:
            return ()
        if batch.y is None:
            raise ValueError(f"conditional training (num_classes={self.num_classes}) needs labelled "
                             f"data: an ImageDataset or batches (x, y); got images without labels")
        return (batch.y,)

    def score_stat(self, scores: Tensor) -> Tensor:
        """What the history shows as D(x) / D(G(z)): mean σ(s) for sigmoid losses, else mean s."""
        s = scores.detach().float()
        return torch.sigmoid(s).mean() if self.loss.sigmoid else s.mean()

    def _log(self, **values: Tensor) -> None:
        for k, v in values.items():
            self._buffer.setdefault(k, []).append(v.detach().float())

    # -- the hooks (override these for a new GAN variant) ---------------------------------------
    def generator_inputs(self, batch: Batch) -> tuple:
        """G's inputs for this batch (default: fresh noise z, and the batch's labels for
        conditional models)."""
        n = len(batch.x)
        return (self._z(n), *self._cond(batch))

    def generate(self, batch: Batch) -> Any:
        """The fakes for this batch: ``G(*generator_inputs(batch))``. May return a tensor or a
        tuple/dict of tensors (e.g. both translation directions of CycleGAN)."""
        return self.G(*self.generator_inputs(batch))

    def discriminator_loss(self, batch: Batch, fake: Any) -> tuple[Tensor, Tensor, Tensor]:
        """D's loss on one batch: (loss_D, real_scores, fake_scores).

        ``fake`` is detached from G. The default scores ``batch.x`` and ``fake`` with D and
        applies the configured loss pair; subclasses change what D sees or how it is scored,
        and may :meth:`_log` extra values. Penalties, clipping and the update stay in the loop.
        """
        cond = self._cond(batch)
        real_scores = self.D(batch.x, *cond)
        fake_scores = self.D(fake, *cond)
        return self.loss.d_loss(real_scores.float(), fake_scores.float()), real_scores, fake_scores

    def generator_loss(self, batch: Batch, fake: Any) -> Tensor:
        """G's loss on fakes that carry G's graph (default: the loss pair's, which for the
        relativistic and Softmax losses also scores the real batch)."""
        cond = self._cond(batch)
        fake_scores = self.D(fake, *cond).float()
        real_scores = self.D(batch.x, *cond).float() if self.loss.needs_real else None
        return self.loss.g_loss(fake_scores, real_scores)

    def penalty(self, batch: Batch, fake: Any) -> tuple[Tensor, Tensor]:
        """The configured gradient penalty: (penalty, per-sample gradient norms (B,))."""
        cond, real = self._cond(batch), batch.x
        if self.config.penalty == "gp":
            return L.gradient_penalty(self.D, real, fake.float(), *cond)
        if self.config.penalty == "r1":
            return L.r1_penalty(self.D, real, *cond)
        return L.dragan_penalty(self.D, real, *cond)

    # -- lifecycle hooks ------------------------------------------------------------------------
    def before_step(self) -> None:
        """Called before each generator step's critic steps (default: the lr decay schedule)."""
        if self.config.lr_decay:
            f = self.lr_factor(self.step)
            for opt in self.optimizers.values():
                for group in opt.param_groups:
                    group["lr"] = group["base_lr"] * f

    def after_d_step(self, batch: Batch, real_scores: Tensor, fake_scores: Tensor) -> None:
        """Called after each discriminator update (e.g. BEGAN's k_t controller)."""

    def after_g_step(self, batch: Batch, fake: Any) -> None:
        """Called after each generator update, before ``step`` is incremented."""

    def extra_state(self) -> dict[str, Any]:
        """State beyond networks and optimisers to checkpoint (tensors, numbers, strings)."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`extra_state` returned."""

    def snapshot_samples(self) -> Any:
        """What a snapshot stores (default: :meth:`sample` on the fixed noise)."""
        return self.sample()

    # -- one step ---------------------------------------------------------------------------
    def d_step(self, batch: Batch, keep_graph: bool = False) -> Any:
        """One discriminator update on ``batch``; returns the fakes. With ``keep_graph`` they
        carry G's graph (D still sees them detached) so that G's step can reuse them."""
        cfg = self.config
        with torch.set_grad_enabled(keep_graph), self._autocast():
            fake = self.generate(batch)
        fake_d = detach(fake)
        with self._autocast():
            loss_D, real_scores, fake_scores = self.discriminator_loss(batch, fake_d)
        if cfg.penalty is not None:
            pen, norms = self.penalty(batch, fake_d)
            loss_D = loss_D + cfg.penalty_weight * pen
            self._log(penalty=pen, penalty_grad_norm=norms.mean())
        opt = self.optimizers["D"]
        opt.zero_grad(set_to_none=True)
        loss_D.backward()
        self._log(loss_D=loss_D, D_real=self.score_stat(real_scores), D_fake=self.score_stat(fake_scores),
                  grad_norm_D=torch.nn.utils.get_total_norm(
                      [p.grad for p in self.role_parameters("D") if p.grad is not None]))
        opt.step()
        if cfg.clip is not None:
            L.clip_weights(self.netD, cfg.clip)
        self.after_d_step(batch, real_scores, fake_scores)
        return fake

    def g_step(self, batch: Batch, fake: Any) -> None:
        """One generator update on ``fake`` (the last critic step's fakes, with G's graph)."""
        with self._autocast():
            loss_G = self.generator_loss(batch, fake)
        opt = self.optimizers["G"]
        opt.zero_grad(set_to_none=True)
        loss_G.backward()
        self._log(loss_G=loss_G, grad_norm_G=torch.nn.utils.get_total_norm(
            [p.grad for p in self.role_parameters("G") if p.grad is not None]))
        opt.step()
        if self.netG_ema is not None:
            self._update_ema()
        self.after_g_step(batch, fake)

    def train_step(self) -> None:
        """One generator step: ``n_critic`` discriminator updates, then G's update."""
        self.before_step()
        n = self.config.n_critic
        for i in range(n):                                  # the last critic step's fakes feed G
            batch = next(self.batches)
            fake = self.d_step(batch, keep_graph=i == n - 1)
        self.g_step(batch, fake)

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
    def sample(self, n: int | None = None, labels: Tensor | None = None, seed: int | None = None,
               use_ema: bool = True, batch_size: int = 500) -> Tensor:
        """Generate ``n`` samples from noise on CPU (the fixed noise when ``n`` is None)."""
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
            cond = () if y_all is None else (y_all[i:i + batch_size],)
            with self._autocast():
                out.append(net(z_all[i:i + batch_size], *cond).float().cpu())
        return torch.cat(out)

    def _snapshot(self) -> None:
        self.snapshots.append((self.step, self.snapshot_samples()))
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
        for net in self.networks.values():
            net.train()
        bar = tqdm(total=cfg.steps, initial=self.step, desc=f"{type(self).__name__} ({cfg.loss})",
                   disable=not cfg.progress, leave=False)
        t0 = time.perf_counter() - self._elapsed
        while self.step < cfg.steps:
            self.train_step()
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
            "models": {name: type(net).__name__ for name, net in self.networks.items()},
            "networks": {name: net.state_dict() for name, net in self.networks.items()},
            "netG_ema": self.netG_ema.state_dict() if self.netG_ema is not None else None,
            "optimizers": {role: opt.state_dict() for role, opt in self.optimizers.items()},
            "history": self.history,
            "snapshots": [[s, x] for s, x in self.snapshots],
            "noise_rng": self.noise.get_state(),
            "data": self.batches.state(),
            "extra": self.extra_state(),
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
        if isinstance(state, dict) and state.get("format") == _OLD_FORMAT:
            state = _upgrade_v1(state)
        if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(f"{path} is not a gancourse training checkpoint "
                                  f"(expected format {CHECKPOINT_FORMAT!r})")
        defaults = asdict(TrainConfig())                     # fields newer than the checkpoint
        saved = {**defaults, **state["config"]}
        now = asdict(self.config)
        diff = {k: (saved.get(k), now[k]) for k in now
                if k not in RESUMABLE_CHANGES and _norm(saved.get(k)) != _norm(now[k])}
        if diff:
            details = ", ".join(f"{k}: checkpoint {a!r} vs now {b!r}" for k, (a, b) in diff.items())
            raise CheckpointError(f"checkpoint {path} was made with a different config ({details}); "
                                  f"use another checkpoint path or the same settings")
        names = {name: type(net).__name__ for name, net in self.networks.items()}
        if state["models"] != names:
            raise CheckpointError(f"checkpoint {path} holds {state['models']}, not {names}")
        try:
            for name, net in self.networks.items():
                net.load_state_dict(state["networks"][name])
            if self.netG_ema is not None and state["netG_ema"] is not None:
                self.netG_ema.load_state_dict(state["netG_ema"])
            for role, opt in self.optimizers.items():
                opt.load_state_dict(state["optimizers"][role])
        except (RuntimeError, ValueError, KeyError) as err:
            raise CheckpointError(f"checkpoint {path} does not fit these models: "
                                  f"{str(err)[:400]}") from err
        self.step, self._elapsed = int(state["step"]), float(state["elapsed"])
        self.history = state["history"]
        self.snapshots = [(int(s), x.cpu() if isinstance(x, Tensor) else x) for s, x in state["snapshots"]]
        self.noise.set_state(state["noise_rng"].cpu())
        self.batches.load_state(state["data"])
        self.load_extra_state(state.get("extra", {}))


def _upgrade_v1(state: dict[str, Any]) -> dict[str, Any]:
    """A v1 checkpoint (netG/netD, optG/optD) in the v2 layout."""
    for key, lr in (("optG", "lr_g"), ("optD", "lr_d")):
        for group in state[key]["param_groups"]:
            group.setdefault("base_lr", state["config"].get(lr, group["lr"]))
    return {**state, "format": CHECKPOINT_FORMAT,
            "networks": {"netG": state["netG"], "netD": state["netD"]},
            "optimizers": {"G": state["optG"], "D": state["optD"]},
            "data": {"generator": state["data_rng"], **state["data_order"]}, "extra": {}}


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
