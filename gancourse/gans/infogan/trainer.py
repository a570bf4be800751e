"""InfoGAN training through the course's one loop, and reading codes back with Q.

:class:`InfoGANTrainer` overrides the hooks of :class:`~gancourse.training.GANTrainer`:

* :meth:`~InfoGANTrainer.generate` draws (z, c) and returns ``{"x": G(z, c), "cat": c_cat,
  "cont": c_cont}``, so both losses know which code made each fake;
* the discriminator step: ``L_D = V_D − λ L_I`` when the Q head trains with D (``q_role="D"``,
  as in the paper's code: Q and D share the body and one optimiser), else ``L_D = V_D``;
* the generator step: ``L_G = V_G − λ L_I`` (the reparametrised fakes carry G's graph, so G
  learns to write c legibly); with ``q_role="G"`` the Q head is updated here, by G's optimiser.

λ L_I means λ_cat · L_cat + λ_cont · L_cont (the paper: λ = 1 for the categorical code, smaller
for continuous codes, whose Gaussian log-likelihood has a larger range). ``info_in_g=False`` is
the ablation "the same net without L_I": G's loss is the GAN loss alone, Q is still fitted to
the fakes (so we can ask what a decoder can read), and the code is free to mean nothing.

The Q head is its own network (``networks["netQ"]``), registered with
:meth:`~gancourse.training.GANTrainer.add_network` in the D (or G) optimiser with its own
learning rate; checkpoints and resume include it.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from gancourse.gans.infogan.codes import code_vector, info_lower_bound, sample_codes
from gancourse.training import Batch, GANTrainer, TrainConfig

Tensor = torch.Tensor
Q_ROLES = ("D", "G")


class InfoGANTrainer(GANTrainer):
    """:class:`GANTrainer` with InfoGAN's codes and mutual-information term.

    Args:
        netG: an :class:`~gancourse.gans.infogan.InfoGenerator` (``netG(z, c)``, with ``z_dim``,
            ``n_cat``, ``n_cont``); ``config.z_dim`` must equal ``netG.z_dim`` (the noise only).
        netD: an :class:`~gancourse.gans.infogan.InfoDiscriminator` (``netD(x, features=True)``
            returns ``(scores, body features)``).
        netQ: a :class:`~gancourse.gans.infogan.QHead` on those features.
        data, config: as :class:`GANTrainer` (``config.penalty`` is applied to ``fake["x"]``).
        lambda_cat, lambda_cont: λ of the categorical and the continuous part of L_I (>= 0).
        lr_q: the Q head's learning rate (default: that of its optimiser's role).
        q_role: ``"D"`` (Q and the body maximise L_I in D's step, the paper's code) or ``"G"``
            (Q is updated with G; the body learns only from the GAN loss).
        info_in_g: False drops L_I from G's loss (the ablation).

    History columns added: ``info_cat``, ``info_cont`` (L_I's parts in nats on the G step's
    fakes) and ``q_acc`` (share of those fakes whose categorical code Q reads back).
    """

    def __init__(self, netG: nn.Module, netD: nn.Module, netQ: nn.Module, data: Any,
                 config: TrainConfig, lambda_cat: float = 1.0, lambda_cont: float = 0.1,
                 lr_q: float | None = None, q_role: str = "D", info_in_g: bool = True,
                 **kwargs: Any):
        for name in ("z_dim", "n_cat", "n_cont"):
            if not hasattr(netG, name):
                raise TypeError(f"netG must expose {name} (an InfoGenerator), got {type(netG).__name__}")
        if netG.z_dim != config.z_dim:
            raise ValueError(f"config.z_dim ({config.z_dim}) must equal netG.z_dim ({netG.z_dim}): "
                             f"it counts the noise z only, the codes come on top")
        if (getattr(netQ, "n_cat", None), getattr(netQ, "n_cont", None)) != (netG.n_cat, netG.n_cont):
            raise ValueError(f"netQ reads {getattr(netQ, 'n_cat', '?')} categories and "
                             f"{getattr(netQ, 'n_cont', '?')} continuous codes, but netG writes "
                             f"{netG.n_cat} and {netG.n_cont}")
        if lambda_cat < 0 or lambda_cont < 0:
            raise ValueError(f"lambda_cat and lambda_cont must be >= 0, got {lambda_cat}, {lambda_cont}")
        if q_role not in Q_ROLES:
            raise ValueError(f"q_role must be one of {', '.join(Q_ROLES)}, got {q_role!r}")
        if kwargs.get("num_classes"):
            raise ValueError("InfoGAN is unsupervised: leave num_classes unset (the categorical "
                             "code takes the labels' place)")
        super().__init__(netG, netD, data, config, **kwargs)
        self.add_network("netQ", netQ, role=q_role, lr=lr_q)
        self.n_cat, self.n_cont = netG.n_cat, netG.n_cont
        self.lambda_cat, self.lambda_cont = float(lambda_cat), float(lambda_cont)
        self.q_role, self.info_in_g = q_role, bool(info_in_g)
        # the fixed snapshot codes: categories cycle along the samples, continuous codes 0
        n = config.n_samples
        self.fixed_cat = (torch.arange(n) % max(1, self.n_cat)).to(self.device)
        self.fixed_cont = torch.zeros(n, self.n_cont, device=self.device)

    Q = property(lambda self: self.compiled["netQ"], doc="the Q head, compiled when config.compile")
    netQ = property(lambda self: self.networks["netQ"])

    # -- codes and fakes ---------------------------------------------------------------------
    def generate(self, batch: Batch) -> dict[str, Tensor]:
        n = len(batch.x)
        z = self._z(n)                                                          # (B, z_dim)
        cat, cont = sample_codes(n, self.n_cat, self.n_cont, generator=self.noise)
        x = self.G(z, code_vector(cat, cont, self.n_cat))                       # (B, C, H, W)
        return {"x": x, "cat": cat, "cont": cont}

    def info_terms(self, h_fake: Tensor, fake: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        """(λ_cat L_cat + λ_cont L_cont, the L_I dict) for body features of the fakes."""
        logits, mean, logvar = self.Q(h_fake)
        bound = info_lower_bound(logits, fake["cat"] if logits is not None else None,
                                 mean, fake["cont"] if mean is not None else None, logvar)
        weighted = self.lambda_cat * bound["cat"] + self.lambda_cont * bound["cont"]
        if logits is not None:
            bound["q_acc"] = (logits.detach().argmax(1) == fake["cat"]).float().mean()
        return weighted, bound

    # -- the two losses ------------------------------------------------------------------------
    def discriminator_loss(self, batch: Batch, fake: dict[str, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        real_scores = self.D(batch.x)                                           # (B,)
        fake_scores, h_fake = self.D(fake["x"], features=True)                  # (B,), (B, fc)
        loss = self.loss.d_loss(real_scores.float(), fake_scores.float())
        if self.q_role == "D":
            weighted, bound = self.info_terms(h_fake, fake)
            loss = loss - weighted
            self._log(info_cat_d=bound["cat"], info_cont_d=bound["cont"])
        return loss, real_scores, fake_scores

    def generator_loss(self, batch: Batch, fake: dict[str, Tensor]) -> Tensor:
        fake_scores, h_fake = self.D(fake["x"], features=True)
        real_scores = self.D(batch.x).float() if self.loss.needs_real else None
        loss = self.loss.g_loss(fake_scores.float(), real_scores)
        # the ablation reads the code from detached features: no gradient reaches G (or D's body)
        weighted, bound = self.info_terms(h_fake if self.info_in_g else h_fake.detach(), fake)
        self._log(info_cat=bound["cat"], info_cont=bound["cont"], **(
            {"q_acc": bound["q_acc"]} if "q_acc" in bound else {}))
        if self.info_in_g:
            return loss - weighted
        # value: the GAN loss alone; gradient: the GAN loss for G, L_I for Q (used when q_role="G")
        return loss - (weighted - weighted.detach())

    def penalty(self, batch: Batch, fake: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        return super().penalty(batch, fake["x"])

    # -- sampling ------------------------------------------------------------------------------
    @torch.no_grad()
    def render(self, z: Tensor, cat: Tensor, cont: Tensor, use_ema: bool = True,
               batch_size: int = 500) -> Tensor:
        """G(z, c) on CPU for explicit noise (N, z_dim), categories (N,) and continuous codes
        (N, M), with batch norm in eval mode (running statistics: a traversal batch whose codes
        all agree is not a typical batch)."""
        net = self.netG_ema if (use_ema and self.netG_ema is not None) else self.netG
        was_training = net.training
        net.eval()
        out = []
        try:
            for i in range(0, len(z), batch_size):
                sl = slice(i, i + batch_size)
                c = code_vector(cat[sl].to(self.device), cont[sl].to(self.device), self.n_cat)
                with self._autocast():
                    out.append(net(z[sl].to(self.device), c).float().cpu())
        finally:
            net.train(was_training)
        return torch.cat(out)

    def sample(self, n: int | None = None, labels: Tensor | None = None, seed: int | None = None,
               use_ema: bool = True, batch_size: int = 500, cont: Tensor | None = None) -> Tensor:
        """``n`` samples (the fixed noise and codes when ``n`` is None). ``labels`` are the
        categorical codes (default: cycling 0..K-1), ``cont`` the continuous codes (default:
        drawn from U[-1, 1])."""
        if n is None:
            return self.render(self.fixed_z, self.fixed_cat, self.fixed_cont, use_ema, batch_size)
        g = torch.Generator().manual_seed(seed if seed is not None else self.config.seed + 3)
        z = torch.randn(n, self.config.z_dim, generator=g)
        cat = labels if labels is not None else torch.arange(n) % max(1, self.n_cat)
        if cont is None:
            cont = torch.rand(n, self.n_cont, generator=g) * 2 - 1
        return self.render(z, cat, cont, use_ema, batch_size)


@torch.no_grad()
def predict_codes(netD: nn.Module, netQ: nn.Module, images: Tensor,
                  batch_size: int = 500) -> dict[str, Tensor]:
    """Read the codes of ``images`` (N, C, H, W) with Q (eval mode, on CPU results).

    Returns ``{"cat": (N,) arg-max category, "probs": (N, K) Q(c_cat | x), "cont": (N, M) means}``
    (entries of absent code parts are empty tensors)."""
    dev = next(netQ.parameters()).device
    modes = (netD.training, netQ.training)
    netD.eval()
    netQ.eval()
    cats, probs, conts = [], [], []
    try:
        for i in range(0, len(images), batch_size):
            _, h = netD(images[i:i + batch_size].to(dev), features=True)
            logits, mean, _ = netQ(h)
            if logits is not None:
                p = torch.softmax(logits.float(), 1).cpu()
                probs.append(p)
                cats.append(p.argmax(1))
            if mean is not None:
                conts.append(mean.float().cpu())
    finally:
        netD.train(modes[0])
        netQ.train(modes[1])
    empty = torch.empty(0)
    return {"cat": torch.cat(cats) if cats else empty.long(), "probs": torch.cat(probs) if probs else empty,
            "cont": torch.cat(conts) if conts else empty}
