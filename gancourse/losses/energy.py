"""Energy-based losses: EBGAN's margin and pulling-away term, BEGAN's L_D, loss-sensitive GAN.

The discriminator outputs an energy E(x) >= 0 per sample (an autoencoder's reconstruction
error, :mod:`gancourse.gans.energy`): low on data, high on fakes.

**EBGAN** (Zhao, Mathieu & LeCun, 2017), margin m > 0::

    L_D = E_x[E(x)] + E_z[max(0, m − E(G(z)))]
    L_G = E_z[E(G(z))]  (+ λ_PT · PT(codes of the fake batch))

D pulls the energy of data down and pushes the energy of fakes up, but only until it reaches m:
beyond the margin a fake gives D no gradient. The **pulling-away term** on the encoder codes
S_1..S_N of a fake batch,

    PT = 1/(N(N−1)) Σ_{i≠j} (S_iᵀS_j / (‖S_i‖ ‖S_j‖))²,

is the mean squared cosine similarity between different samples: 1 when all codes point the
same way (a collapsed batch), small when they are spread; adding it to L_G discourages collapse.

**BEGAN** (Berthelot, Schumm & Metz, 2017), with L(v) = E(v) the L1 reconstruction error::

    L_D = L(x) − k_t · L(G(z)),        L_G = L(G(z)),

with k_t the equilibrium controller of :mod:`gancourse.gans.energy`.

**Loss-sensitive GAN** (Qi, 2017): a learned loss L (low = real) and a margin Δ per pair.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

Tensor = torch.Tensor


def ebgan_d_loss(real_energy: Tensor, fake_energy: Tensor, margin: float) -> Tensor:
    """E[E(x)] + E[max(0, m − E(G(z)))]: EBGAN's hinge-at-the-margin discriminator loss."""
    if not margin > 0:
        raise ValueError(f"the margin m must be positive, got {margin}")
    return real_energy.mean() + F.relu(margin - fake_energy).mean()


def ebgan_g_loss(fake_energy: Tensor) -> Tensor:
    """E[E(G(z))]: the generator lowers the energy of its samples (also BEGAN's L_G)."""
    return fake_energy.mean()


def pulling_away_term(codes: Tensor) -> Tensor:
    """PT = 1/(N(N−1)) Σ_{i≠j} cos²(S_i, S_j) for a batch of codes (N, k), N >= 2.

    0 for mutually orthogonal codes, 1 for codes that are all parallel (a collapsed batch).
    """
    if codes.ndim != 2 or codes.shape[0] < 2:
        raise ValueError(f"the pulling-away term needs a batch of at least 2 codes (N, k), got "
                         f"shape {tuple(codes.shape)}")
    s = F.normalize(codes, dim=1)                                       # (N, k) unit rows
    cos2 = (s @ s.T).pow(2)                                             # (N, N)
    n = codes.shape[0]
    return (cos2.sum() - cos2.diagonal().sum()) / (n * (n - 1))


def began_d_loss(real_loss: Tensor, fake_loss: Tensor, k: float | Tensor) -> Tensor:
    """L(x) − k_t L(G(z)) from the batch-mean energies L(x), L(G(z))."""
    return real_loss - k * fake_loss


def d_loss_loss_sensitive(real_losses: Tensor, fake_losses: Tensor, margin: Tensor | float,
                          weight: float = 1.0) -> Tensor:
    """Loss-sensitive GAN (Qi, 2017): E L(x) + λ E[Δ(x, G(z)) + L(x) - L(G(z))]_+.

    ``real_losses``, ``fake_losses``: the learned loss L (low = real) on pairs (x, G(z));
    ``margin``: Δ(x, G(z)) per pair (e.g. the L1 distance) or a constant. A fake needs a loss
    higher than its real partner's by Δ; the paper also keeps L Lipschitz (weight decay).
    """
    return real_losses.mean() + weight * F.relu(margin + real_losses - fake_losses).mean()


def g_loss_loss_sensitive(fake_losses: Tensor) -> Tensor:
    """Loss-sensitive GAN generator loss: E L(G(z))."""
    return fake_losses.mean()
