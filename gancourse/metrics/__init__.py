"""Evaluation metrics: classifier-judged image quality and toy-mixture mode coverage.

- :mod:`.classifier`: the small CNN that judges generated images, trained once per dataset
  and cached (:func:`get_classifier`);
- :mod:`.image`: feature Fréchet distance, confident share, class coverage / entropy,
  conditional accuracy, and :func:`evaluate_images` / :func:`real_vs_real`;
- :mod:`.toy`: PacGAN-style mode metrics for Gaussian mixtures (:func:`mode_metrics`).
"""

from gancourse.metrics.classifier import (
    CLASSIFIER_DATASETS,
    Classifier,
    accuracy,
    get_classifier,
    train_classifier,
)
from gancourse.metrics.image import (
    class_coverage,
    class_histogram,
    conditional_accuracy,
    confident_share,
    evaluate_images,
    frechet_distance,
    histogram_entropy,
    real_vs_real,
)
from gancourse.metrics.toy import mode_metrics

__all__ = [
    "CLASSIFIER_DATASETS",
    "Classifier",
    "accuracy",
    "class_coverage",
    "class_histogram",
    "conditional_accuracy",
    "confident_share",
    "evaluate_images",
    "frechet_distance",
    "get_classifier",
    "histogram_entropy",
    "mode_metrics",
    "real_vs_real",
    "train_classifier",
]
