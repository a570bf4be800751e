"""Instruments for looking inside models and theory: lessons use them to measure a claim.

They import the core and the GAN families; nothing imports them but notebooks and tests.

=========================  ==============================================================  =======
module                     what it measures                                                lessons
=========================  ==============================================================  =======
``theory``                 D* and max_D V vs JS on 1D toys, the minimax game, MLE = min KL  03
``discriminator_sampling`` can a discriminator generate? argmax_x D(x) by gradient ascent   02
``latent``                 interpolation paths (lerp / slerp), class-mean arithmetic        04
``probes``                 what a trained D calls fake (shifted, noisy, blurred images)     04
``critic``                 a WGAN critic as a W1 estimate, tracked against exact EM         08
``bench``                  the same-budget digits benchmark of every loss family            07-13
``protocol``               the PacGAN/VEEGAN mode-collapse protocol on toy mixtures         12
=========================  ==============================================================  =======
"""
