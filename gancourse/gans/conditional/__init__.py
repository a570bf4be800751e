"""Class-conditional GANs (Mirza & Osindero, 2014; Reed et al., 2016; Miyato & Koyama, 2018).

G and D both see the class label y: G(z, y) draws an image of class y, D(x, y) scores whether
x is a real image *of class y*. The optimal discriminator of the conditional game is

    D*(x, y) = p_data(x, y) / (p_data(x, y) + p_g(x, y)),

so at the optimum p_g(x | y) = p_data(x | y) for every class. Notebook 05.

* :mod:`.models` — :class:`ConditionalGenerator` (noise and a label embedding),
  :class:`ConcatDiscriminator` (one-hot label maps stacked onto the image) and
  :class:`ProjectionDiscriminator` (D(x, y) = ψ(φ(x)) + V(y)·φ(x));
* :mod:`.trainer` — :class:`ConditionalGANTrainer`: mismatched real pairs (x, y') as extra
  negatives (the loss is :func:`gancourse.losses.d_loss_conditional`), :func:`wrong_labels`.
"""

from gancourse.gans.conditional.models import (
    ConcatDiscriminator,
    ConditionalGenerator,
    ProjectionDiscriminator,
    check_labels,
)
from gancourse.gans.conditional.trainer import ConditionalGANTrainer, wrong_labels

__all__ = ["ConcatDiscriminator", "ConditionalGANTrainer", "ConditionalGenerator",
           "ProjectionDiscriminator", "check_labels", "wrong_labels"]
