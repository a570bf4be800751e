"""VAE-GAN (Larsen, Sønderby, Larochelle & Winther, 2016): a VAE whose reconstruction error is
measured in a discriminator's feature space. Notebook 15.

Three networks: an encoder Enc (q(z|x) = N(μ(x), diag σ²(x))), a decoder Dec that is also the
GAN's generator, and a discriminator Dis. For a real batch x,

    z ~ q(z|x) = Enc(x) (reparameterised),   x̃ = Dec(z)    (reconstructions)
    z_p ~ p(z) = N(0, I),                   x_p = Dec(z_p)  (samples)

**Learned similarity.** A pixel-wise Gaussian likelihood scores x̃ by ‖x − x̃‖², which a blurry
average minimises; VAE-GAN replaces it by a Gaussian in the features Dis_l of the
discriminator's l-th layer,

    L_llike = −E_q[log p(Dis_l(x) | z)] = ½ ‖Dis_l(x) − Dis_l(x̃)‖² + const   (per image),

so two images are close when the discriminator sees them alike (same strokes, not same pixels).

**Three losses, three networks** (paper, Algorithm 1):

    L_prior = KL(q(z|x) ‖ p(z)) = ½ Σ_j (μ_j² + σ_j² − ln σ_j² − 1)
    L_GAN   = log Dis(x) + log(1 − Dis(x̃)) + log(1 − Dis(x_p))          (three-way)

    Enc  minimises  L_prior + L_llike
    Dec  minimises  γ · L_llike − L_GAN        (non-saturating: γ L_llike − log Dis(x̃) − log Dis(x_p))
    Dis  maximises  L_GAN                       (real vs reconstructed vs sampled)

γ weighs content (reconstruct x) against style (fool Dis). Dis sees *both* kinds of fakes, the
reconstructions and the prior samples: the lecture's three-way discriminator.

:class:`VAEGANTrainer` is a :class:`~gancourse.training.GANTrainer`: ``netG`` is the decoder,
``netD`` a discriminator with ``features`` (Dis_l) and ``head`` (DCGAN's), the encoder is
registered with :meth:`add_network` (role G, its own parameter group). Each loss reaches only
its own network: the decoder's terms see ``Dec(sg(z))`` and the encoder's reconstruction is
decoded with the decoder's weights held fixed (sg = stop-gradient), so
``∂/∂Enc`` of the total is ∂(L_prior + L_llike) and ``∂/∂Dec`` is ∂(γ L_llike − L_GAN).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.func import functional_call

from gancourse import losses as L
from gancourse.models.autoencoder import VAE
from gancourse.training import Batch, GANTrainer, TrainConfig, detach

Tensor = torch.Tensor


# ----------------------------------------------------------------------------- losses
def kl_to_prior(mu: Tensor, logvar: Tensor) -> Tensor:
    """L_prior = ½ Σ_j (μ_j² + σ_j² − ln σ_j² − 1), summed over z, averaged over the batch.

    ``mu``, ``logvar``: (B, z_dim). 0 exactly when q(z|x) = N(0, I)."""
    if mu.shape != logvar.shape or mu.ndim != 2:
        raise ValueError(f"mu and logvar must both be (B, z_dim), got {tuple(mu.shape)} and "
                         f"{tuple(logvar.shape)}")
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).sum(1).mean()


def feature_reconstruction(feat_x: Tensor, feat_rec: Tensor) -> Tensor:
    """L_llike = ½ ‖Dis_l(x) − Dis_l(x̃)‖²: the Gaussian negative log-likelihood (unit variance,
    constant dropped) of the real image's features given the reconstruction's, summed over the
    features, averaged over the batch. ``feat_x``, ``feat_rec``: (B, ...) of the same shape."""
    if feat_x.shape != feat_rec.shape:
        raise ValueError(f"features of x and of its reconstruction differ in shape: "
                         f"{tuple(feat_x.shape)} vs {tuple(feat_rec.shape)}")
    return 0.5 * (feat_x - feat_rec).pow(2).flatten(1).sum(1).mean()


def _separable(loss: str | L.AdversarialLoss) -> L.AdversarialLoss:
    pair = L.get_loss(loss)
    if not pair.separable:
        raise ValueError(f"the three-way discriminator needs a separable loss (real and fake "
                         f"halves); {pair.name!r} is not. Use one of "
                         f"{', '.join(k for k, v in L.LOSSES.items() if v.separable)}")
    return pair


def three_way_d_loss(real_scores: Tensor, rec_scores: Tensor, prior_scores: Tensor,
                     loss: str | L.AdversarialLoss = "ns") -> Tensor:
    """Dis's loss −L_GAN on real, reconstructed and sampled images:

        E ℓ_real(Dis(x)) + E ℓ_fake(Dis(x̃)) + E ℓ_fake(Dis(x_p))

    with the halves of ``loss`` (``ns``: −log σ(s) and −log(1 − σ(s)))."""
    pair = _separable(loss)
    return (pair.real_term(real_scores).mean() + pair.fake_term(rec_scores).mean()
            + pair.fake_term(prior_scores).mean())


def decoder_gan_loss(rec_scores: Tensor, prior_scores: Tensor,
                     loss: str | L.AdversarialLoss = "ns") -> Tensor:
    """The decoder's adversarial term on both kinds of fakes: G's loss of the pair on x̃ plus
    on x_p (``ns``: −E log σ(Dis(x̃)) − E log σ(Dis(x_p)))."""
    pair = _separable(loss)
    return pair.g_loss(rec_scores) + pair.g_loss(prior_scores)


# ----------------------------------------------------------------------------- trainer
class VAEGANTrainer(GANTrainer):
    """VAE-GAN through the one loop. ``data`` gives real images (``batch.x``).

    Args:
        netG: the decoder z (B, z_dim) -> image (e.g. ``ConvVAE.decoder``).
        netD: the discriminator; it must have ``features`` (x -> Dis_l(x)) and ``head``
            (Dis_l(x) -> score), as :class:`~gancourse.models.DCGANDiscriminator` has. Use a
            per-sample normalisation (``norm="layer"`` or None): with batch norm, Dis_l(x) of one
            image would depend on the rest of its batch, and x and x̃ come in different batches.
        encoder: q(z|x): x -> (μ, log σ²) (e.g. ``ConvVAE.encoder``), trained with the G
            optimiser in its own parameter group (learning rate ``lr_e``, default ``lr_g``).
        gamma: γ, the weight of L_llike in the decoder's loss (> 0).
        beta: weight of L_prior in the encoder's loss (1 in the paper).
        other arguments: as :class:`GANTrainer` (``config.loss`` must be separable; ``z_dim``
            must be the decoder's).

    ``generate(batch)`` returns a dict: ``rec`` = Dec(sg z) and ``prior`` = Dec(z_p) (what Dis
    sees), ``rec_enc`` (x̃ decoded with the decoder's weights fixed: the encoder's path),
    ``mu``, ``logvar``. History columns added: ``kl``, ``llike``, ``gan_g``, ``D_rec``,
    ``D_prior`` (mean σ(Dis) on each kind of fake).
    """

    def __init__(self, netG: nn.Module, netD: nn.Module, data: Any, config: TrainConfig,
                 encoder: nn.Module, gamma: float = 1.0, beta: float = 1.0,
                 lr_e: float | None = None, **kwargs: Any):
        if not (hasattr(netD, "features") and hasattr(netD, "head")):
            raise TypeError(f"VAE-GAN needs Dis_l: netD must have `features` (x -> Dis_l(x)) and "
                            f"`head` (Dis_l(x) -> score), like DCGANDiscriminator; got "
                            f"{type(netD).__name__}")
        if not gamma > 0:
            raise ValueError(f"gamma (weight of the feature reconstruction for the decoder) must "
                             f"be positive, got {gamma}")
        if beta < 0:
            raise ValueError(f"beta (weight of the prior KL) must be >= 0, got {beta}")
        if kwargs.get("num_classes"):
            raise ValueError("VAE-GAN is unconditional here; drop num_classes")
        _separable(config.loss)
        super().__init__(netG, netD, data, config, **kwargs)
        self.add_network("netE", encoder, role="G", lr=lr_e)
        self.gamma, self.beta = float(gamma), float(beta)

    @property
    def netE(self) -> nn.Module:
        return self.networks["netE"]

    def _scores(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(Dis_l(x), Dis(x) raw scores (B,))."""
        feats = self.netD.features(x)
        return feats, self.netD.head(feats).flatten()

    def _decode_fixed(self, z: Tensor) -> Tensor:
        """Dec(z) with the decoder's weights detached (gradients reach z only) and its
        batch-norm running statistics left alone."""
        params = {k: p.detach() for k, p in self.netG.named_parameters()}
        buffers = {k: b.clone() for k, b in self.netG.named_buffers()}
        return functional_call(self.netG, {**params, **buffers}, (z,))

    def generate(self, batch: Batch) -> dict[str, Tensor]:
        x = batch.x                                                      # (B, C, H, W)
        mu, logvar = self.compiled["netE"](x)                            # (B, z_dim) each
        z = VAE.reparameterize(mu, logvar, self.noise)                   # z ~ q(z|x)
        z_p = self._z(len(x))                                            # z_p ~ N(0, I)
        out = {"rec": self.G(z.detach()), "prior": self.G(z_p), "mu": mu, "logvar": logvar}
        if torch.is_grad_enabled():                                      # only G's step uses it
            out["rec_enc"] = self._decode_fixed(z)
        return out

    def discriminator_loss(self, batch: Batch, fake: dict[str, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        real_s = self._scores(batch.x)[1].float()
        rec_s = self._scores(fake["rec"])[1].float()
        prior_s = self._scores(fake["prior"])[1].float()
        self._log(D_rec=self.score_stat(rec_s), D_prior=self.score_stat(prior_s))
        loss = three_way_d_loss(real_s, rec_s, prior_s, self.loss)
        return loss, real_s, torch.cat([rec_s, prior_s])

    def loss_terms(self, batch: Batch, fake: dict[str, Tensor]) -> dict[str, Tensor]:
        """The four terms of the encoder's and the decoder's losses, unweighted:

        ``prior`` = L_prior and ``llike_enc`` = L_llike on x̃ decoded with fixed decoder weights
        (they reach the encoder only), ``llike_dec`` = L_llike on Dec(sg z) and ``gan_dec`` = the
        decoder's adversarial term on x̃ and x_p (they reach the decoder only)."""
        with torch.no_grad():
            feat_x = self.netD.features(batch.x).float()                 # the target Dis_l(x)
        feat_rec, rec_s = self._scores(fake["rec"])
        return {
            "prior": kl_to_prior(fake["mu"].float(), fake["logvar"].float()),
            "llike_enc": feature_reconstruction(feat_x, self.netD.features(fake["rec_enc"]).float()),
            "llike_dec": feature_reconstruction(feat_x, feat_rec.float()),
            "gan_dec": decoder_gan_loss(rec_s.float(), self._scores(fake["prior"])[1].float(), self.loss),
        }

    def generator_loss(self, batch: Batch, fake: dict[str, Tensor]) -> Tensor:
        """(β L_prior + L_llike) for the encoder plus (γ L_llike − L_GAN) for the decoder."""
        t = self.loss_terms(batch, fake)
        self._log(kl=t["prior"], llike=t["llike_dec"], gan_g=t["gan_dec"])
        return (self.beta * t["prior"] + t["llike_enc"]) + (self.gamma * t["llike_dec"] + t["gan_dec"])

    def gradient_norms(self, batch: Batch | None = None) -> dict[str, dict[str, float]]:
        """Which loss reaches which network: the norm of each weighted term's gradient with
        respect to the encoder's and the decoder's parameters, on one batch (the next training
        batch by default; no update is made). Rows ``β·L_prior``, ``L_llike (enc)``,
        ``γ·L_llike (dec)``, ``−L_GAN (dec)`` and ``D's loss``; columns ``encoder``, ``decoder``,
        ``discriminator``. The discriminator column is filled for D's loss only (NaN elsewhere):
        D's optimiser steps on D's loss alone, whatever gradients the other terms leave on D."""
        batch = next(self.batches) if batch is None else batch
        nets = {"encoder": self.netE, "decoder": self.netG, "discriminator": self.netD}
        with torch.enable_grad():
            fake = self.generate(batch)
            t = self.loss_terms(batch, fake)
            d_loss = self.discriminator_loss(batch, detach(fake))[0]
            terms = {"β·L_prior": self.beta * t["prior"], "L_llike (enc)": t["llike_enc"],
                     "γ·L_llike (dec)": self.gamma * t["llike_dec"], "−L_GAN (dec)": t["gan_dec"],
                     "D's loss": d_loss}
            out: dict[str, dict[str, float]] = {}
            for name, term in terms.items():
                out[name] = {}
                for net_name, net in nets.items():
                    if net_name == "discriminator" and name != "D's loss":
                        out[name][net_name] = float("nan")
                        continue
                    params = [p for p in net.parameters() if p.requires_grad]
                    grads = torch.autograd.grad(term, params, retain_graph=True, allow_unused=True)
                    sq = sum(float(g.pow(2).sum()) for g in grads if g is not None)
                    out[name][net_name] = sq ** 0.5
        self._buffer.clear()                                             # nothing of this goes to the history
        return out

    # -- using the trained model ------------------------------------------------------
    @torch.no_grad()
    def reconstruct(self, images: Tensor, batch_size: int = 500) -> Tensor:
        """Dec(μ(x)) for (N, C, H, W) images, in eval mode, on the CPU."""
        return reconstruct(self.netE, self.netG, images, batch_size)


@torch.no_grad()
def reconstruct(encoder: nn.Module, decoder: nn.Module, images: Tensor, batch_size: int = 500) -> Tensor:
    """Dec(μ(x)) (the posterior mean decoded) for (N, C, H, W) images; both networks in eval
    mode (restored afterwards); the result on the CPU, (N, C, H, W)."""
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(f"images must be a non-empty batch (N, C, H, W), got {tuple(images.shape)}")
    device = next(decoder.parameters()).device
    modes = encoder.training, decoder.training
    encoder.eval()
    decoder.eval()
    try:
        out = []
        for chunk in images.split(batch_size):
            code = encoder(chunk.to(device))
            mu = code[0] if isinstance(code, tuple) else code            # (B, z_dim)
            out.append(decoder(mu).float().cpu())
    finally:
        encoder.train(modes[0])
        decoder.train(modes[1])
    return torch.cat(out)
