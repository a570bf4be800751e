"""Everything that defines a training run, checkpointed with it."""

from __future__ import annotations

from dataclasses import dataclass

from gancourse import losses as L

OPTIMIZERS = ("adam", "rmsprop")
# Fields that may change when a run is resumed (training longer, logging differently).
RESUMABLE_CHANGES = {"steps", "log_every", "sample_every", "checkpoint_every", "progress"}


@dataclass
class TrainConfig:
    """The settings of one run. ``steps`` counts generator updates; each is preceded by
    ``n_critic`` discriminator updates."""

    steps: int = 1000                 # generator updates
    batch_size: int = 64
    z_dim: int = 100
    loss: str = "ns"                  # a name in gancourse.losses.LOSSES
    n_critic: int = 1                 # discriminator updates per generator update
    optimizer: str = "adam"           # adam | rmsprop
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    lr_decay: float = 0.0             # share of the run at the end over which every lr falls linearly to 0
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
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; valid: {', '.join(OPTIMIZERS)}")
        if not 0.0 <= self.lr_decay <= 1.0:
            raise ValueError(f"lr_decay must be in [0, 1] (share of the run), got {self.lr_decay}")
        for name in ("steps", "batch_size", "z_dim", "n_critic", "log_every"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        self.betas = tuple(self.betas)
