"""InfoGAN (Chen, Duan, Houthooft, Schulman, Sutskever & Abbeel, 2016). Notebook 14.

The generator reads noise and a *code*, x = G(z, c), with c = (c_cat, c_cont): a K-way
categorical code (one-hot, uniform prior) and M continuous codes U[-1, 1]. Nothing in the GAN
game forces G to use c; InfoGAN adds the mutual information I(c; G(z, c)) to the objective,
through its variational lower bound

    L_I(G, Q) = E_{c ~ p(c), x ~ G(z, c)} [log Q(c | x)] + H(c)  <=  I(c; G(z, c)),

    min_{G, Q} max_D  V(D, G) − λ L_I(G, Q),

where Q(c | x) is a head on the discriminator's body (categorical logits and Gaussian means).
On MNIST the categorical code becomes the digit class, without labels, and the continuous
codes become styles such as slant and width.

* :mod:`.codes` — code sampling, :func:`code_vector`, the bound :func:`info_lower_bound` and its
  categorical and Gaussian parts;
* :mod:`.models` — :class:`InfoGenerator`, :class:`InfoDiscriminator` (shared body + D head),
  :class:`QHead`;
* :mod:`.trainer` — :class:`InfoGANTrainer` (the one loop's hooks; Q registered with
  ``add_network``), :func:`predict_codes` (Q on real images);
* :mod:`.runs` — :class:`InfoGANSetup`, :func:`build_trainer`, :func:`train_runs` (several seeds
  and the no-L_I ablation, optionally in worker processes);
* :mod:`.measure` — :func:`code_accuracy` (Hungarian one-to-one matching), :func:`code_purity`,
  :func:`confusion_matrix`, :func:`code_assignment`, :func:`image_moments` (slant, width, ink),
  :func:`traversal_correlation`.
"""

from gancourse.gans.infogan.codes import (
    categorical_bound,
    code_vector,
    continuous_bound,
    gaussian_log_likelihood,
    info_lower_bound,
    sample_codes,
)
from gancourse.gans.infogan.measure import (
    PROPERTIES,
    code_accuracy,
    code_assignment,
    code_purity,
    confusion_matrix,
    image_moments,
    traversal_correlation,
)
from gancourse.gans.infogan.models import InfoDiscriminator, InfoGenerator, QHead
from gancourse.gans.infogan.runs import InfoGANSetup, build_trainer, train_runs
from gancourse.gans.infogan.trainer import InfoGANTrainer, predict_codes

__all__ = ["PROPERTIES", "InfoDiscriminator", "InfoGANSetup", "InfoGANTrainer", "InfoGenerator",
           "QHead", "build_trainer", "categorical_bound", "code_accuracy", "code_assignment",
           "code_purity", "code_vector", "confusion_matrix", "continuous_bound",
           "gaussian_log_likelihood", "image_moments", "info_lower_bound", "predict_codes",
           "sample_codes", "train_runs", "traversal_correlation"]
