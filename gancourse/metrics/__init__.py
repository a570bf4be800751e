"""Evaluation metrics: classifier-judged image quality and toy-mixture mode coverage.

- :mod:`.classifier`: the small CNN that judges generated images, trained once per dataset
  and cached (:func:`get_classifier`);
- :mod:`.image`: feature Fréchet distance, confident share, class coverage / entropy,
  conditional accuracy, and :func:`evaluate_images` / :func:`real_vs_real`;
- :mod:`.toy`: PacGAN-style mode metrics for Gaussian mixtures (:func:`mode_metrics`);
- :mod:`.stacked`: the 1,000 modes of stacked digits (:func:`stacked_mode_metrics`);
- :mod:`.evaluation`: Parzen-window likelihood, Inception-style score, KID, FD against sample
  size, k-NN precision and recall, memorisation, optional Inception-v3 features (notebook 13).
"""

from gancourse.metrics.classifier import (
    CLASSIFIER_DATASETS,
    Classifier,
    accuracy,
    get_classifier,
    train_classifier,
)
from gancourse.metrics.evaluation import (
    fd_versus_n,
    inception_features,
    inception_score,
    kernel_distance,
    load_inception,
    memorisation,
    mmd2_unbiased,
    nearest_neighbours,
    parzen_log_likelihood,
    precision_recall,
    select_bandwidth,
)
from gancourse.metrics.image import (
    class_coverage,
    class_histogram,
    class_spread,
    compare_with_real,
    conditional_accuracy,
    confident_share,
    evaluate_images,
    frechet_distance,
    histogram_entropy,
    real_vs_real,
)
from gancourse.metrics.stacked import stacked_mode_metrics, stacked_modes
from gancourse.metrics.toy import mode_metrics

__all__ = [
    "CLASSIFIER_DATASETS",
    "Classifier",
    "accuracy",
    "class_coverage",
    "class_histogram",
    "class_spread",
    "compare_with_real",
    "conditional_accuracy",
    "confident_share",
    "evaluate_images",
    "fd_versus_n",
    "frechet_distance",
    "get_classifier",
    "histogram_entropy",
    "inception_features",
    "inception_score",
    "kernel_distance",
    "load_inception",
    "memorisation",
    "mmd2_unbiased",
    "mode_metrics",
    "nearest_neighbours",
    "parzen_log_likelihood",
    "precision_recall",
    "real_vs_real",
    "select_bandwidth",
    "stacked_mode_metrics",
    "stacked_modes",
    "train_classifier",
]
