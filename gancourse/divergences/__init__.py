"""Divergences and optimal transport for the toy lessons (notebooks 01, 03, 06).

Everything is in nats (natural log). Four modules, re-exported here so that
``from gancourse import divergences as dv; dv.js_divergence(...)`` reaches all of them:

* :mod:`.fdiv` - f-divergences between two discrete histograms, or two densities sampled on
  a uniform grid (pass ``dx``): :func:`kl_divergence`, :func:`reverse_kl_divergence`,
  :func:`js_divergence`, :func:`total_variation`, :func:`pearson_chi2`,
  :func:`hellinger_squared`.
* :mod:`.transport` - the Earth Mover's distance (Wasserstein-1): :func:`wasserstein_1d`
  (samples, CDF formula), :func:`emd_discrete` (exact LP through POT), :func:`emd_brute_force`
  (enumerates every integer plan of a tiny "piles of earth" problem), :func:`emd_point_clouds`.
* :mod:`.examples` - the parallel-lines example of the WGAN paper
  (:func:`parallel_lines_divergences`, :func:`parallel_lines_w1_from_samples`) and the slider
  helper :func:`shifted_pair_divergences`.
* :mod:`.estimators` - sample-based JS through a trained discriminator
  (:func:`js_from_discriminator`).
"""

from gancourse.divergences.estimators import js_from_discriminator
from gancourse.divergences.examples import (
    parallel_lines_divergences,
    parallel_lines_w1_from_samples,
    shifted_pair_divergences,
)
from gancourse.divergences.fdiv import (
    DENSITY_MASS_RTOL,
    LN2,
    hellinger_squared,
    js_divergence,
    kl_divergence,
    pearson_chi2,
    reverse_kl_divergence,
    total_variation,
)
from gancourse.divergences.transport import (
    emd_brute_force,
    emd_discrete,
    emd_point_clouds,
    wasserstein_1d,
)

__all__ = [
    "DENSITY_MASS_RTOL", "LN2", "emd_brute_force", "emd_discrete", "emd_point_clouds",
    "hellinger_squared", "js_divergence", "js_from_discriminator", "kl_divergence",
    "parallel_lines_divergences", "parallel_lines_w1_from_samples", "pearson_chi2",
    "reverse_kl_divergence", "shifted_pair_divergences", "total_variation", "wasserstein_1d",
]
