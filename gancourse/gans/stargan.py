r"""StarGAN: one generator for many domains (Choi, Choi, Kim, Ha, Kim & Choo, 2018).

Translating between :math:`k` domains with CycleGAN-style pairs needs a generator per ordered
pair, :math:`k(k-1)` of them, each seeing only the images of its two domains. StarGAN trains
**one** generator :math:`G(x, c)` that takes the image and the *target domain label*
:math:`c` (a vector of attributes, spatially replicated and stacked onto the image's channels),
and one discriminator with two heads on a shared body: :math:`D_{src}(x)` (real or fake, a
PatchGAN map) and :math:`D_{cls}(x)` (the attributes of :math:`x`, one logit each).

With :math:`c'` the source image's own label and :math:`c` a random target label:

.. math::

    \mathcal L_{adv} = \mathbb E_x[\log D_{src}(x)] + \mathbb E_{x,c}[\log(1 - D_{src}(G(x, c)))]

(the paper trains it as WGAN-GP), the **domain classification** losses, on real images for D and
on translations for G,

.. math::

    \mathcal L^r_{cls} = \mathbb E_{x,c'}[-\log D_{cls}(c' \mid x)], \qquad
    \mathcal L^f_{cls} = \mathbb E_{x,c}[-\log D_{cls}(c \mid G(x, c))],

(a binary cross-entropy per attribute, summed over attributes and averaged over the batch), and
the **reconstruction** (cycle) loss that keeps what the label does not ask to change,

.. math::

    \mathcal L_{rec} = \mathbb E_{x,c,c'}\,\lVert x - G(G(x, c), c')\rVert_1 .

In total, :math:`\mathcal L_D = -\mathcal L_{adv} + \lambda_{cls}\mathcal L^r_{cls}` and
:math:`\mathcal L_G = \mathcal L_{adv} + \lambda_{cls}\mathcal L^f_{cls} + \lambda_{rec}\mathcal L_{rec}`,
with :math:`\lambda_{cls} = 1`, :math:`\lambda_{rec} = 10` (and :math:`\lambda_{gp} = 10`).

* :class:`StarGANGenerator` — the paper's ResNet generator on (image ⊕ label maps), with a
  skip from its input and no normalisation by default (its docstring says why);
* :class:`StarGANDiscriminator` — strided convolutions, then the ``src`` map and the ``cls``
  logits;
* :func:`domain_classification_loss` — the summed-over-attributes binary cross-entropy;
* :class:`StarGANTrainer` — :class:`~gancourse.training.GANTrainer` with these losses (target
  labels: the batch's own labels, shuffled, as in the reference code);
* :func:`translate_to`, :func:`evaluate_translations` (target-domain accuracy measured by
  :mod:`gancourse.data.domains`, digit identity kept read by the digit judge),
  :func:`pairwise_generator_count`, :func:`train_attribute_classifier` (an independent judge
  of attributes where they cannot be measured from pixels, e.g. CelebA).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gancourse import losses as L
from gancourse.data import domains as dom
from gancourse.metrics.classifier import Classifier
from gancourse.models.init import dcgan_init
from gancourse.training import Batch, GANTrainer, Paired, TrainConfig

Tensor = torch.Tensor
CLS_WEIGHT = 1.0          # λ_cls
REC_WEIGHT = 10.0         # λ_rec
SKIP_INITS = ("identity", "grey")
SKIP_GAIN = 2.0           # initial weight of the input in the last layer: G starts at tanh(2x) ≈ x


# ----------------------------------------------------------------------------- networks
def label_maps(c: Tensor, height: int, width: int) -> Tensor:
    """Labels (B, A) replicated over the image plane: (B, A, H, W)."""
    if c.ndim != 2:
        raise ValueError(f"labels must be (B, A), got {tuple(c.shape)}")
    return c[:, :, None, None].expand(-1, -1, height, width)


NORMS = ("instance", "conditional", "batch", "none")


class ConditionalInstanceNorm(nn.Module):
    """Instance norm whose scale and shift come from the labels (Dumoulin et al., 2017):
    ``(1 + γ(c)) · IN(h) + β(c)`` with γ, β linear in c (zero at the start)."""

    def __init__(self, channels: int, n_attrs: int):
        super().__init__()
        self.norm = nn.InstanceNorm2d(channels, affine=False)
        self.affine = nn.Linear(n_attrs, 2 * channels)
        nn.init.zeros_(self.affine.weight)
        nn.init.zeros_(self.affine.bias)

    def forward(self, h: Tensor, c: Tensor) -> Tensor:
        gamma, beta = self.affine(c.to(h.dtype)).chunk(2, dim=1)            # (B, C) each
        return (1 + gamma[:, :, None, None]) * self.norm(h) + beta[:, :, None, None]


class _Norm(nn.Module):
    """One normalisation layer of the generator; ``forward(h, c)`` (c used by "conditional")."""

    def __init__(self, kind: str | None, channels: int, n_attrs: int):
        super().__init__()
        kind = "none" if kind is None else kind
        if kind not in NORMS:
            raise ValueError(f"unknown norm {kind!r}; valid norms are {', '.join(NORMS)}")
        self.kind = kind
        self.layer = (ConditionalInstanceNorm(channels, n_attrs) if kind == "conditional" else
                      nn.InstanceNorm2d(channels, affine=True) if kind == "instance" else
                      nn.BatchNorm2d(channels) if kind == "batch" else nn.Identity())

    def forward(self, h: Tensor, c: Tensor) -> Tensor:
        return self.layer(h, c) if self.kind == "conditional" else self.layer(h)


class _Block(nn.Module):
    """conv → norm → ReLU, conditioned on c when the norm is."""

    def __init__(self, conv: nn.Module, norm: str | None, channels: int, n_attrs: int):
        super().__init__()
        self.conv, self.norm = conv, _Norm(norm, channels, n_attrs)

    def forward(self, h: Tensor, c: Tensor) -> Tensor:
        return torch.relu(self.norm(self.conv(h), c))


class _Residual(nn.Module):
    """h + F(h), F = conv3 → norm → ReLU → conv3 → norm; (B, C, H, W) kept."""

    def __init__(self, channels: int, norm: str | None, n_attrs: int):
        super().__init__()
        self.first = _Block(nn.Conv2d(channels, channels, 3, 1, 1), norm, channels, n_attrs)
        self.conv = nn.Conv2d(channels, channels, 3, 1, 1)
        self.norm = _Norm(norm, channels, n_attrs)

    def forward(self, h: Tensor, c: Tensor) -> Tensor:
        return h + self.norm(self.conv(self.first(h, c)), c)


class StarGANGenerator(nn.Module):
    """G(x, c): image (B, C, H, W) and target labels (B, A) -> image (B, C, H, W) in [-1, 1].

    The paper's generator: the labels enter as A constant feature maps stacked onto the image's
    channels; a 7×7 convolution, ``n_down`` 4×4 stride-2 down-samplings, ``n_blocks`` residual
    blocks, as many 4×4 transposed convolutions up, and a 7×7 convolution to the image (tanh).

    ``norm``: ``"instance"`` is the paper's. Instance norm subtracts each channel's mean over
    the image, and a constant label map only adds a constant to each channel, so the labels
    are erased at the first layer and reach the rest of G only through the zero padding at the
    image border. ``"conditional"`` (the default here) makes the labels the scale and shift of
    every instance norm, so every layer sees them; ``"batch"`` and ``"none"`` are there too.

    ``skip=True`` adds U-Net skips: each up-sampling also sees the features of the same size on
    the way down, and the last convolution also sees the input image, initialised to pass it
    through (``tanh(2x) ≈ x``). G then starts near the identity and keeps strokes sharp; the
    paper's G learns that over 200,000 iterations, a CPU run has a few thousand.
    """

    def __init__(self, channels: int = 3, n_attrs: int = 5, ngf: int = 64, n_down: int = 2,
                 n_blocks: int = 6, norm: str | None = "conditional", skip: bool = True,
                 skip_init: str = "identity", image_size: int | None = None):
        super().__init__()
        if skip_init not in SKIP_INITS:
            raise ValueError(f"unknown skip_init {skip_init!r}; valid: {', '.join(SKIP_INITS)}")
        if min(channels, n_attrs, ngf) < 1 or n_down < 0 or n_blocks < 0:
            raise ValueError(f"need channels, n_attrs, ngf >= 1 and n_down, n_blocks >= 0, got "
                             f"{channels}, {n_attrs}, {ngf}, {n_down}, {n_blocks}")
        if image_size is not None and image_size % 2 ** n_down:
            raise ValueError(f"image_size={image_size} is not divisible by 2^n_down = {2 ** n_down}")
        _Norm(norm, 1, 1)
        self.channels, self.n_attrs, self.skip, self.n_down = channels, n_attrs, bool(skip), n_down
        self.kwargs = dict(channels=channels, n_attrs=n_attrs, ngf=ngf, n_down=n_down, n_blocks=n_blocks,
                           norm=norm, skip=skip, skip_init=skip_init, image_size=image_size)
        a = n_attrs
        self.stem = _Block(nn.Conv2d(channels + a, ngf, 7, 1, 3), norm, ngf, a)      # (B, ngf, H, W)
        down, widths, c = [], [ngf], ngf
        for _ in range(n_down):                                          # H -> H/2, C -> 2C
            down.append(_Block(nn.Conv2d(c, 2 * c, 4, 2, 1), norm, 2 * c, a))
            c *= 2
            widths.append(c)
        self.down = nn.ModuleList(down)
        self.res = nn.ModuleList([_Residual(c, norm, a) for _ in range(n_blocks)])
        up, merge = [], []
        for k in range(n_down):                                          # H -> 2H, C -> C/2
            up.append(_Block(nn.ConvTranspose2d(c, c // 2, 4, 2, 1), norm, c // 2, a))
            c //= 2
            if self.skip:                                                # [up, skip] -> C
                merge.append(_Block(nn.Conv2d(c + widths[n_down - 1 - k], c, 3, 1, 1), norm, c, a))
        self.up, self.merge = nn.ModuleList(up), nn.ModuleList(merge)
        self.to_image = nn.Conv2d(c + (channels if self.skip else 0), channels, 7, 1, 3)
        if self.skip:
            self._init_skip(c, skip_init)

    @torch.no_grad()
    def _init_skip(self, width: int, how: str) -> None:
        """The input's weights in the last layer (centre tap): ``"identity"`` gives tanh(g·x) ≈ x;
        ``"grey"`` gives every output channel tanh(g·(Σ_j x_j + C - 1)), for strokes of one pure
        colour on black +g on a stroke and -g off it: white strokes, equally far from every colour."""
        w, b, n, g = self.to_image.weight, self.to_image.bias, self.channels, SKIP_GAIN
        for k in range(n):
            if how == "identity":
                w[k, width + k, 3, 3] = g
            else:
                w[k, width:width + n, 3, 3] = g
                b[k] = g * (n - 1)

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != self.channels:
            raise ValueError(f"expected images (B, {self.channels}, H, W), got {tuple(x.shape)}")
        if c.shape != (x.shape[0], self.n_attrs):
            raise ValueError(f"expected labels ({x.shape[0]}, {self.n_attrs}), got {tuple(c.shape)}")
        if x.shape[-1] % 2 ** self.n_down or x.shape[-2] % 2 ** self.n_down:
            raise ValueError(f"image size {tuple(x.shape[-2:])} is not divisible by "
                             f"2^n_down = {2 ** self.n_down}")
        c = c.to(x.dtype)
        h = self.stem(torch.cat([x, label_maps(c, x.shape[-2], x.shape[-1])], dim=1), c)
        skips = [h]
        for block in self.down:
            h = block(h, c)
            skips.append(h)
        for block in self.res:
            h = block(h, c)
        for k, block in enumerate(self.up):
            h = block(h, c)
            if self.skip:
                h = self.merge[k](torch.cat([h, skips[self.n_down - 1 - k]], dim=1), c)
        if self.skip:
            h = torch.cat([h, x], dim=1)                                     # the input, next to the output
        return torch.tanh(self.to_image(h))                                  # (B, C, H, W)


class StarGANDiscriminator(nn.Module):
    """D(x) -> (src (B, 1, h, w) real/fake scores per patch, cls (B, A) attribute logits).

    ``n_layers`` 4×4 stride-2 convolutions (width ``ndf`` doubling, LeakyReLU(0.01), no
    normalisation, as in the paper), then a 3×3 convolution to the ``src`` map and a
    convolution over the whole remaining map to the ``cls`` logits.
    """

    def __init__(self, channels: int = 3, n_attrs: int = 5, image_size: int = 128, ndf: int = 64,
                 n_layers: int = 6):
        super().__init__()
        if n_layers < 1 or ndf < 1 or n_attrs < 1:
            raise ValueError(f"need n_layers, ndf, n_attrs >= 1, got {n_layers}, {ndf}, {n_attrs}")
        layers: list[nn.Module] = []
        c_in, c, s = channels, ndf, image_size
        for _ in range(n_layers):
            layers += [nn.Conv2d(c_in, c, 4, 2, 1), nn.LeakyReLU(0.01, True)]
            c_in, c, s = c, 2 * c, (s + 2 - 4) // 2 + 1                     # H -> floor(H/2)
        if s < 1:
            raise ValueError(f"a {image_size} px image is too small for n_layers={n_layers}")
        self.kwargs = dict(channels=channels, n_attrs=n_attrs, image_size=image_size, ndf=ndf,
                           n_layers=n_layers)
        self.body = nn.Sequential(*layers)                                  # (B, C_last, s, s)
        self.src = nn.Conv2d(c_in, 1, 3, 1, 1, bias=False)                  # (B, 1, s, s)
        self.cls = nn.Conv2d(c_in, n_attrs, s, bias=False)                  # (B, A, 1, 1)
        self.final_size = s
        dcgan_init(self)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.body(x)
        return self.src(h), self.cls(h).flatten(1)


def domain_classification_loss(logits: Tensor, target: Tensor) -> Tensor:
    """Σ over attributes of the binary cross-entropy, averaged over the batch (the paper's
    CelebA loss): ``-(1/B) Σ_b Σ_a [c log σ(ℓ) + (1 - c) log(1 - σ(ℓ))]``."""
    if logits.shape != target.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and targets {tuple(target.shape)} differ")
    return F.binary_cross_entropy_with_logits(logits.float(), target.float(), reduction="sum") / len(logits)


def pairwise_generator_count(k: int) -> int:
    """Generators needed to translate between every ordered pair of ``k`` domains with one
    generator per direction (cross-domain models such as CycleGAN): k(k - 1)."""
    if int(k) < 2:
        raise ValueError(f"need at least 2 domains, got {k}")
    return int(k) * (int(k) - 1)


# ----------------------------------------------------------------------------- trainer
class StarGANTrainer(GANTrainer):
    """StarGAN through the one loop: ``netG`` = G(x, c), ``netD`` = D with the src and cls heads.

    Args:
        data: ``Paired(x=images, y=labels)`` with float attribute vectors (B, A), e.g.
            :meth:`gancourse.data.domains.AttributeDigits.training_source`.
        config: the adversarial pair ``config.loss`` is applied to D's src map (paper: ``wgan``
            with ``penalty="gp"``, ``n_critic=5``; the penalty is taken on the src head).
        cls_weight, rec_weight: λ_cls (paper 1) and λ_rec (paper 10).
        fixed_targets: (T, A) target labels the snapshots translate the fixed images into
            (default: the first distinct labels of the data, at most 8).

    Each step's target labels are the batch's own labels in a random order (as in the
    reference code), so targets follow the data's label distribution. The history gets
    ``adv_G``, ``cls_G`` (L^f_cls), ``rec`` (L_rec), ``cls_D`` (L^r_cls) and ``acc_D``, the share of
    real attributes D's classifier gets right.
    """

    def __init__(self, netG: nn.Module, netD: nn.Module, data: Paired, config: TrainConfig,
                 cls_weight: float = CLS_WEIGHT, rec_weight: float = REC_WEIGHT,
                 fixed_targets: Tensor | None = None, device: str | torch.device = "auto",
                 checkpoint: str | Path | None = None,
                 callbacks: Iterable[Callable[[GANTrainer, str], None]] = ()):
        if not isinstance(data, Paired) or set(data.tensors) != {"x", "y"}:
            raise ValueError("StarGANTrainer needs Paired(x=images, y=attribute labels), e.g. "
                             "gancourse.data.domains.attribute_digits().training_source()")
        labels = data.tensors["y"]
        if labels.ndim != 2 or not labels.is_floating_point():
            raise ValueError(f"labels must be float attribute vectors (N, A), got "
                             f"{tuple(labels.shape)} {labels.dtype}")
        for name, w in (("cls_weight", cls_weight), ("rec_weight", rec_weight)):
            if not (math.isfinite(w) and w >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {w}")
        super().__init__(netG, netD, data, config, device=device, checkpoint=checkpoint,
                         callbacks=callbacks)
        self.cls_weight, self.rec_weight = float(cls_weight), float(rec_weight)
        n_show = min(8, config.n_samples)
        self.fixed_x = data.tensors["x"][:n_show].to(self.device)
        if fixed_targets is None:
            fixed_targets = torch.unique(labels[:256], dim=0)[:8]
        if fixed_targets.ndim != 2 or fixed_targets.shape[1] != labels.shape[1]:
            raise ValueError(f"fixed_targets must be (T, {labels.shape[1]}), got "
                             f"{tuple(fixed_targets.shape)}")
        self.fixed_targets = fixed_targets.float().to(self.device)

    def generate(self, batch: Batch) -> Tensor:
        """G(x, c) for targets c = the batch's labels shuffled (kept in ``batch["c_trg"]``)."""
        perm = torch.randperm(len(batch.y), generator=self.noise, device=self.device)
        batch["c_trg"] = batch.y[perm]
        return self.G(batch.x, batch["c_trg"])

    def discriminator_loss(self, batch: Batch, fake: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """ℓ_D(src(x), src(G(x, c))) + λ_cls · L^r_cls(cls(x), c')."""
        src_real, cls_real = self.D(batch.x)
        src_fake, _ = self.D(fake)
        adv = self.loss.d_loss(src_real.float(), src_fake.float())
        cls = domain_classification_loss(cls_real, batch.y)
        acc = ((cls_real.detach() > 0).float() == batch.y).float().mean()
        self._log(cls_D=cls, acc_D=acc, adv_D=adv)
        return adv + self.cls_weight * cls, src_real, src_fake

    def generator_loss(self, batch: Batch, fake: Tensor) -> Tensor:
        """ℓ_G(src(G(x, c))) + λ_cls · L^f_cls(cls(G(x, c)), c) + λ_rec · |x - G(G(x, c), c')|."""
        src_fake, cls_fake = self.D(fake)
        real_scores = self.D(batch.x)[0].float() if self.loss.needs_real else None
        adv = self.loss.g_loss(src_fake.float(), real_scores)
        cls = domain_classification_loss(cls_fake, batch["c_trg"])
        loss = adv + self.cls_weight * cls
        if self.rec_weight > 0:
            rec = F.l1_loss(self.G(fake, batch.y).float(), batch.x.float())
            loss = loss + self.rec_weight * rec
            self._log(rec=rec)
        self._log(adv_G=adv, cls_G=cls)
        return loss

    def penalty(self, batch: Batch, fake: Tensor) -> tuple[Tensor, Tensor]:
        """The configured penalty on D's src head (D returns two heads)."""
        src = _SrcHead(self.D)
        if self.config.penalty == "gp":
            return L.gradient_penalty(src, batch.x, fake.float())
        if self.config.penalty == "r1":
            return L.r1_penalty(src, batch.x)
        return L.dragan_penalty(src, batch.x)

    def snapshot_samples(self) -> Tensor:
        """(n_images · T, C, H, W): each fixed image translated into every fixed target."""
        x = self.fixed_x.repeat_interleave(len(self.fixed_targets), 0)
        c = self.fixed_targets.repeat(len(self.fixed_x), 1)
        return translate_to(self.netG, x, c)


class _SrcHead(nn.Module):
    """D's src scores alone (for the penalties, which expect one output)."""

    def __init__(self, netD: nn.Module):
        super().__init__()
        self.netD = netD

    def forward(self, x: Tensor) -> Tensor:
        return self.netD(x)[0]


# ----------------------------------------------------------------------------- using G
@torch.no_grad()
def translate_to(netG: nn.Module, images: Tensor, targets: Tensor, batch_size: int = 256) -> Tensor:
    """G(images, targets) in eval mode, on the CPU: images (N, C, H, W), targets (N, A)."""
    if len(images) != len(targets):
        raise ValueError(f"{len(images)} images but {len(targets)} target labels")
    was = netG.training
    netG.eval()
    device = next(netG.parameters()).device
    out = [netG(images[i:i + batch_size].to(device).float(),
                targets[i:i + batch_size].to(device).float()).float().cpu()
           for i in range(0, len(images), batch_size)]
    netG.train(was)
    return torch.cat(out) if out else images.new_zeros((0, *images.shape[1:])).float().cpu()


def translation_targets(attrs: Tensor, include_own: bool = False) -> tuple[Tensor, Tensor]:
    """Every (image, target domain) pair for images of domains ``attrs`` (N, 5): indices (M,)
    into the images and targets (M, 5), the 12 digit domains except each image's own unless
    ``include_own``."""
    doms = dom.all_domains()
    own = dom.domain_index(attrs)                                            # (N,)
    idx, tgt = [], []
    for k in range(len(doms)):
        keep = torch.ones(len(attrs), dtype=torch.bool) if include_own else own != k
        idx.append(torch.nonzero(keep).flatten())
        tgt.append(doms[k].expand(int(keep.sum()), -1))
    return torch.cat(idx), torch.cat(tgt)


def evaluate_translations(netG: nn.Module, images: Tensor, attrs: Tensor, labels: Tensor,
                          judge: Classifier, include_own: bool = False) -> dict[str, Any]:
    """Translate every image into every other digit domain and measure:

    * the measured attributes against the target (:func:`gancourse.data.domains.attribute_accuracy`:
      ``colour``, ``thickness``, ``slant``, their ``mean``, and ``domain``: all three right);
    * ``class_kept``: the digit judge (on :func:`~gancourse.data.domains.to_grey`) reads the
      source image's digit;
    * ``per_target``: (12,) domain accuracy per target domain; ``translations``, ``targets``,
      ``index`` for further looks.
    """
    if not (len(images) == len(attrs) == len(labels)):
        raise ValueError(f"need as many attribute rows and labels as images, got {len(images)}, "
                         f"{len(attrs)}, {len(labels)}")
    idx, targets = translation_targets(attrs, include_own)
    out = translate_to(netG, images[idx], targets)
    acc = dom.attribute_accuracy(out, targets)
    read = judge.predict(dom.to_grey(out))[1].argmax(1)
    kept = (read == labels[idx].cpu()).float()
    got = dom.measure_attributes(out)
    ok = (got == targets).all(1).float()
    t_idx = dom.domain_index(targets)
    per_target = torch.stack([ok[t_idx == k].mean() if (t_idx == k).any() else torch.tensor(float("nan"))
                              for k in range(12)])
    return {**acc, "class_kept": kept.mean().item(), "per_target": per_target,
            "translations": out, "targets": targets, "index": idx}


# ----------------------------------------------------------------------------- attribute judge
def train_attribute_classifier(images: Tensor, attrs: Tensor, steps: int = 2000, batch_size: int = 64,
                               lr: float = 1e-3, seed: int = 0, device: str | torch.device | None = None
                               ) -> Classifier:
    """A multi-label judge of attributes (for data whose attributes cannot be measured from the
    pixels, e.g. CelebA): the course's judge CNN with one logit per attribute, trained with the
    summed binary cross-entropy on real images. ``predict(...)[1]`` then holds softmax values;
    use :func:`attribute_logits` for the per-attribute decisions."""
    from gancourse.runtime import resolve_device

    if images.ndim != 4 or attrs.shape != (len(images), attrs.shape[-1]):
        raise ValueError(f"need images (N, C, H, W) and attributes (N, A), got {tuple(images.shape)} "
                         f"and {tuple(attrs.shape)}")
    device = resolve_device(device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Classifier(images.shape[1], attrs.shape[1], image_size=images.shape[-1]).to(device)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(int(steps)):
        idx = torch.randint(len(images), (batch_size,), generator=gen)
        x, y = images[idx].to(device).float(), attrs[idx].to(device).float()
        if torch.rand((), generator=gen) < 0.5:                               # mirror: faces are symmetric
            x = x.flip(-1)
        loss = domain_classification_loss(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model.eval()


@torch.no_grad()
def attribute_logits(model: Classifier, images: Tensor, batch_size: int = 256) -> Tensor:
    """(N, A) logits of :func:`train_attribute_classifier`'s model, on the CPU."""
    device = next(model.parameters()).device
    model.eval()
    return torch.cat([model(images[i:i + batch_size].to(device).float()).float().cpu()
                      for i in range(0, len(images), batch_size)])
