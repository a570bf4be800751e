"""Every adversarial loss and penalty of the course, one home each.

* :mod:`.pairs` — the loss pairs (``minimax``, ``ns``, ``lsgan``, ``hinge``, ``wgan``,
  ``rsgan``, ``ragan``, ``softmax``) in :data:`LOSSES`, their real and fake halves, the
  least-squares family with free targets (a, b, c) and the conditional loss with
  mismatched pairs;
* :mod:`.energy` — EBGAN's margin loss and pulling-away term, BEGAN's L_D, the loss-sensitive GAN;
* :mod:`.penalties` — gradient penalty (WGAN-GP), R1, DRAGAN, weight clipping.

``from gancourse import losses; losses.d_loss_bce(...)`` reaches all of them.
"""

from gancourse.losses.energy import (
    began_d_loss,
    d_loss_loss_sensitive,
    ebgan_d_loss,
    ebgan_g_loss,
    g_loss_loss_sensitive,
    pulling_away_term,
)
from gancourse.losses.pairs import (
    LOSSES,
    AdversarialLoss,
    d_loss_bce,
    d_loss_conditional,
    d_loss_hinge,
    d_loss_ls,
    d_loss_lsgan,
    d_loss_ragan,
    d_loss_rsgan,
    d_loss_softmax,
    d_loss_wasserstein,
    fake_term_bce,
    fake_term_hinge,
    g_loss_ls,
    g_loss_lsgan,
    g_loss_mean_score,
    g_loss_minimax,
    g_loss_nonsaturating,
    g_loss_ragan,
    g_loss_rsgan,
    g_loss_softmax,
    get_loss,
    real_term_bce,
    real_term_hinge,
)
from gancourse.losses.penalties import (
    PENALTIES,
    clip_weights,
    dragan_penalty,
    gradient_penalty,
    interpolates,
    r1_penalty,
)

__all__ = [
    "LOSSES", "PENALTIES", "AdversarialLoss", "began_d_loss", "clip_weights", "d_loss_bce",
    "d_loss_conditional", "d_loss_hinge", "d_loss_loss_sensitive", "d_loss_ls", "d_loss_lsgan",
    "d_loss_ragan", "d_loss_rsgan", "d_loss_softmax", "d_loss_wasserstein", "dragan_penalty",
    "ebgan_d_loss", "ebgan_g_loss", "fake_term_bce", "fake_term_hinge", "g_loss_loss_sensitive",
    "g_loss_ls", "g_loss_lsgan", "g_loss_mean_score", "g_loss_minimax", "g_loss_nonsaturating",
    "g_loss_ragan", "g_loss_rsgan", "g_loss_softmax", "get_loss", "gradient_penalty",
    "interpolates", "pulling_away_term", "r1_penalty", "real_term_bce", "real_term_hinge",
]
