"""Projection to a common space (notebook 21): the gradient-reversal layer, domain-adversarial
training (DANN), coupled encoders/decoders with shared layers, feature disentangling, probes.

* :mod:`.reversal` — :func:`grad_reverse`, :class:`GradReverse`, DANN's λ and learning-rate schedules;
* :mod:`.dann` — :class:`DANNTrainer` and the digit networks of the DANN paper;
* :mod:`.coupled` — :class:`CoupledAutoencoders` (private outer layers, shared inner layers) and
  :class:`SharedLatentTrainer` (reconstruction in each domain, a latent domain adversary);
* :mod:`.disentangle` — content and style encoders, a decoder, and :class:`DisentangleTrainer`
  whose adversary removes the domain from the content code;
* :mod:`.probes` — fresh classifiers that read what frozen codes still carry.
"""

from gancourse.gans.domain.dann import (
    DANNTrainer,
    DigitFeatures,
    DomainHead,
    LabelHead,
    features,
    label_accuracy,
    predict_labels,
)
from gancourse.gans.domain.probes import domain_probe, probe_accuracy
from gancourse.gans.domain.reversal import (
    GradientReversal,
    GradReverse,
    dann_lambda,
    dann_lr_factor,
    grad_reverse,
)

__all__ = ["DANNTrainer", "DigitFeatures", "DomainHead", "GradReverse", "GradientReversal", "LabelHead",
           "dann_lambda", "dann_lr_factor", "domain_probe", "features", "grad_reverse", "label_accuracy",
           "predict_labels", "probe_accuracy"]
