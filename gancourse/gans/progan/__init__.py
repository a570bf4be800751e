"""Progressive growing of GANs (Karras, Aila, Laine & Lehtinen, 2018). Notebook 22.

Both networks start at 4×4 and grow block by block to the final resolution; each new block is
faded in with a weight α that rises from 0 to 1. Three further ideas keep training stable
without batch norm: pixel-wise feature normalisation in G, minibatch standard deviation at D's
end (:class:`gancourse.gans.collapse.MinibatchStdDev`) and the equalised learning rate.

* :mod:`.layers` — :class:`PixelNorm`, :class:`EqualizedLinear`, :class:`EqualizedConv2d`,
  :func:`effective_step_sizes` (the per-layer relative step an Adam update makes);
* :mod:`.models` — :class:`ProGenerator`, :class:`ProDiscriminator` (phase: resolution, α);
* :mod:`.trainer` — :class:`GrowthSchedule`, :class:`ProGANTrainer` (the phase as trainer
  state), :func:`real_at`, :func:`downscale`, :func:`to_judge`, :func:`sample_at`, :func:`fd_ratio`.
"""

from gancourse.gans.progan.layers import (
    LEAKY_GAIN,
    EqualizedConv2d,
    EqualizedLinear,
    PixelNorm,
    effective_step_sizes,
    scaled_layers,
)
from gancourse.gans.progan.models import ProDiscriminator, ProGenerator, channels_at, resolutions
from gancourse.gans.progan.trainer import (
    GrowthSchedule,
    ProGANTrainer,
    downscale,
    fd_ratio,
    real_at,
    sample_at,
    to_judge,
)

__all__ = ["LEAKY_GAIN", "EqualizedConv2d", "EqualizedLinear", "GrowthSchedule", "PixelNorm",
           "ProDiscriminator", "ProGANTrainer", "ProGenerator", "channels_at", "downscale",
           "effective_step_sizes", "fd_ratio", "real_at", "resolutions", "sample_at", "scaled_layers",
           "to_judge"]
