"""EBGAN and BEGAN training: autoencoder discriminators and BEGAN's equilibrium controller.

The losses (EBGAN's margin, the pulling-away term, BEGAN's L_D) live in
:mod:`gancourse.losses.energy`. What is specific to this family is the controller of **BEGAN**
(Berthelot, Schumm & Metz, 2017). With L(v) the L1 reconstruction error of D's autoencoder,

    L_D = L(x) − k_t · L(G(z)),        L_G = L(G(z)),
    k_{t+1} = clip(k_t + λ_k (γ L(x) − L(G(z))), 0, 1)

γ = E[L(G(z))] / E[L(x)] is the *diversity ratio* the controller k_t steers to: low γ lets D
focus on reconstructing real images (sharper, less diverse samples), high γ asks for fakes
as hard to reconstruct as data (more diverse). The convergence measure

    M_global = L(x) + |γ L(x) − L(G(z))|

falls as training converges: a single number to watch, unlike the GAN losses.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from gancourse.losses import began_d_loss, ebgan_d_loss, ebgan_g_loss, pulling_away_term
from gancourse.training import Batch, GANTrainer, TrainConfig

Tensor = torch.Tensor


def _check_gamma(gamma: float) -> None:
    if not 0 < gamma <= 1:
        raise ValueError(f"the diversity ratio gamma must lie in (0, 1], got {gamma}")


def began_k_update(k: float | Tensor, real_loss: float | Tensor, fake_loss: float | Tensor,
                   gamma: float, lambda_k: float) -> Tensor:
    """k_{t+1} = clip(k_t + λ_k (γ L(x) − L(G(z))), 0, 1), as a detached 0-dim tensor.

    When fakes are too easy to reconstruct (L(G(z)) < γ L(x)), k grows and D pushes their
    energy up harder; when they are too hard, k shrinks. k adds up the balance error step by
    step: integral action (k_t = k_0 + λ_k Σ_s (γ L(x_s) − L(G(z_s))), clipped).
    """
    _check_gamma(gamma)
    if not lambda_k > 0:
        raise ValueError(f"the gain lambda_k must be positive, got {lambda_k}")
    k, real_loss, fake_loss = (torch.as_tensor(v).detach().float() for v in (k, real_loss, fake_loss))
    return (k + lambda_k * (gamma * real_loss - fake_loss)).clamp(0.0, 1.0)


def m_global(real_loss: float | Tensor, fake_loss: float | Tensor, gamma: float) -> Tensor:
    """BEGAN's convergence measure L(x) + |γ L(x) − L(G(z))| (detached 0-dim tensor)."""
    _check_gamma(gamma)
    real_loss, fake_loss = (torch.as_tensor(v).detach().float() for v in (real_loss, fake_loss))
    return real_loss + (gamma * real_loss - fake_loss).abs()


# ----------------------------------------------------------------------------- trainers
class _EnergyTrainer(GANTrainer):
    """Shared by the energy trainers: D's scores are energies, logged as raw means
    (``D_real``/``D_fake`` in the history are E[E(x)] and E[E(G(z))], whatever ``config.loss``)."""

    def score_stat(self, scores: Tensor) -> Tensor:
        return scores.detach().float().mean()


class EBGANTrainer(_EnergyTrainer):
    """:class:`GANTrainer` with EBGAN's losses; ``netD`` returns energies (B,).

    Args:
        margin: m in the discriminator loss (> 0).
        pt_weight: λ_PT of the pulling-away term in the generator loss (0: off); needs a
            ``netD`` with ``energy_terms`` (an :class:`~gancourse.gans.energy.AutoencoderDiscriminator`).
        other arguments: as :class:`GANTrainer` (``config.loss`` is ignored).

    History columns added: ``pt`` (when ``pt_weight`` > 0).
    """

    def __init__(self, netG: nn.Module, netD: nn.Module, data: Any, config: TrainConfig,
                 margin: float, pt_weight: float = 0.0, **kwargs: Any):
        if not margin > 0:
            raise ValueError(f"the margin m must be positive, got {margin}")
        if pt_weight < 0:
            raise ValueError(f"pt_weight must be >= 0, got {pt_weight}")
        if pt_weight > 0 and not hasattr(netD, "energy_terms"):
            raise TypeError(f"the pulling-away term needs the encoder's codes: netD must have "
                            f"energy_terms(x) (an AutoencoderDiscriminator), got {type(netD).__name__}")
        super().__init__(netG, netD, data, config, **kwargs)
        self.margin, self.pt_weight = float(margin), float(pt_weight)

    def discriminator_loss(self, batch: Batch, fake: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        real_e, fake_e = self.D(batch.x).float(), self.D(fake).float()  # (B,), (B,)
        return ebgan_d_loss(real_e, fake_e, self.margin), real_e, fake_e

    def generator_loss(self, batch: Batch, fake: Tensor) -> Tensor:
        if self.pt_weight == 0:
            return ebgan_g_loss(self.D(fake).float())
        energy, codes, _ = self.netD.energy_terms(fake)
        pt = pulling_away_term(codes.float())
        self._log(pt=pt)
        return ebgan_g_loss(energy.float()) + self.pt_weight * pt


class BEGANTrainer(_EnergyTrainer):
    """:class:`GANTrainer` with BEGAN's equilibrium; ``netD`` returns energies (B,) (L1).

    Each discriminator step uses k_t in L_D = L(x) − k_t L(G(z)), then updates k_t with the
    same batch's L(x), L(G(z)) (the paper uses the generator step's L(G(z)); with one D step
    per G step the two differ only by the generator's last update).

    Args:
        gamma: the diversity ratio γ ∈ (0, 1] (paper: 0.3 to 0.7; 0.5 a common default).
        lambda_k: the gain λ_k of the k_t controller (paper: 0.001).
        k0: k_0 ∈ [0, 1] (paper: 0).
        other arguments: as :class:`GANTrainer` (``config.loss`` is ignored).

    History columns added: ``k``, ``m_global``, ``balance`` (= γ L(x) − L(G(z))). ``k_t`` is
    saved in checkpoints and restored on resume.
    """

    def __init__(self, netG: nn.Module, netD: nn.Module, data: Any, config: TrainConfig,
                 gamma: float = 0.5, lambda_k: float = 1e-3, k0: float = 0.0, **kwargs: Any):
        _check_gamma(gamma)
        if not lambda_k > 0:
            raise ValueError(f"the gain lambda_k must be positive, got {lambda_k}")
        if not 0 <= k0 <= 1:
            raise ValueError(f"k0 must lie in [0, 1], got {k0}")
        super().__init__(netG, netD, data, config, **kwargs)
        self.gamma, self.lambda_k = float(gamma), float(lambda_k)
        self.k = torch.tensor(float(k0), device=self.device)

    def discriminator_loss(self, batch: Batch, fake: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        real_e, fake_e = self.D(batch.x).float(), self.D(fake).float()  # (B,), (B,)
        return began_d_loss(real_e.mean(), fake_e.mean(), self.k), real_e, fake_e

    def after_d_step(self, batch: Batch, real_scores: Tensor, fake_scores: Tensor) -> None:
        """Log k_t, M_global and the balance of this step, then move k_t by the balance."""
        real_loss, fake_loss = real_scores.detach().float().mean(), fake_scores.detach().float().mean()
        self._log(k=self.k, m_global=m_global(real_loss, fake_loss, self.gamma),
                  balance=(self.gamma * real_loss - fake_loss))
        self.k = began_k_update(self.k, real_loss, fake_loss, self.gamma, self.lambda_k)

    def generator_loss(self, batch: Batch, fake: Tensor) -> Tensor:
        return ebgan_g_loss(self.D(fake).float())

    def extra_state(self) -> dict[str, Any]:
        return {"k": self.k.detach().cpu()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if "k" in state:
            self.k = state["k"].to(self.device)
