"""GAN families: one module (or folder) per family a lesson teaches.

Each holds what is specific to its family, in the paper's notation: its trainer (a small
:class:`~gancourse.training.GANTrainer` subclass overriding hooks), its special layers and
models, and the family's own analysis. They import the core (``training``, ``losses``,
``models``, ``data``, ``metrics``); the core never imports them. Losses and penalties live
in :mod:`gancourse.losses`, one home each, whichever family uses them.

=====================  ===========================================================  ========
module                 family                                                       lesson
=====================  ===========================================================  ========
``conditional``        class-conditional GANs: concat / projection D, mismatched pairs  05
``fgan``               f-GAN: f-divergences, conjugates, the variational bound          06
``least_squares``      LSGAN: targets a, b, c, the optimal D, the Pearson χ² link        07
``lipschitz``          WGAN critics and SNGAN: spectral norms, power iteration           08-10
``energy``             EBGAN / BEGAN: autoencoder discriminators, the k_t controller     11
``collapse``           cures for mode collapse: minibatch features, packing, unrolling   12
=====================  ===========================================================  ========
"""
