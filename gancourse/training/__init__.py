"""The one training loop every GAN in the course uses.

* :mod:`.trainer` — :class:`GANTrainer`: the loop, its hooks and checkpoints;
* :mod:`.config` — :class:`TrainConfig`;
* :mod:`.batches` — :class:`RealBatches` and the :class:`Batch` the hooks receive, with
  :class:`Paired` (aligned pairs) and :class:`Unpaired` (independent domains) sources.
"""

from gancourse.training.batches import Batch, Paired, RealBatches, Unpaired
from gancourse.training.config import TrainConfig
from gancourse.training.trainer import (
    CHECKPOINT_FORMAT,
    CheckpointError,
    GANTrainer,
    NonFiniteLossError,
    detach,
    train_gan,
)

__all__ = ["CHECKPOINT_FORMAT", "Batch", "CheckpointError", "GANTrainer", "NonFiniteLossError",
           "Paired", "RealBatches", "TrainConfig", "Unpaired", "detach", "train_gan"]
