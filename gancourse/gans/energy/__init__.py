"""Energy-based GANs: EBGAN and BEGAN (Zhao et al., 2017; Berthelot et al., 2017). Notebook 11.

The discriminator is an autoencoder and its score the *energy* E(x) = reconstruction error:
low on data, high on fakes. D lowers the energy of real images and raises that of fakes
(EBGAN: up to a margin m; BEGAN: weighted by an equilibrium controller k_t), G lowers the
energy of its samples.

* :mod:`.models` — autoencoder discriminators (:class:`MLPAutoencoderD`, :class:`ConvAutoencoderD`),
  :func:`reconstruction_energy`;
* :mod:`.trainer` — :class:`EBGANTrainer`, :class:`BEGANTrainer` (k_t as trainer state),
  :func:`began_k_update`, :func:`m_global`.

The losses themselves are in :mod:`gancourse.losses.energy`.
"""

from gancourse.gans.energy.models import (
    AutoencoderDiscriminator,
    ConvAutoencoderD,
    MLPAutoencoderD,
    reconstruction_energy,
)
from gancourse.gans.energy.trainer import BEGANTrainer, EBGANTrainer, began_k_update, m_global

__all__ = ["AutoencoderDiscriminator", "BEGANTrainer", "ConvAutoencoderD", "EBGANTrainer",
           "MLPAutoencoderD", "began_k_update", "m_global", "reconstruction_energy"]
