"""Text to image in miniature: a conditional GAN on short phrases about digits (notebook 05).

Text-to-image GANs (Reed et al., 2016; StackGAN, Zhang et al., 2017) condition G and D on an
embedding φ(t) of a sentence t. Two points of the lecture carry over to digits:

* **one phrase, many images.** "an even digit" fits 0, 2, 4, 6 and 8, in every handwriting. A
  network trained by regression, t -> x with a pixel loss, outputs the *average* of all images
  that fit t, a blur (notebook 02 showed the same for autoencoders). A conditional GAN samples
  one of them, G(z, t), and different z give different fitting images;
* **D must judge realism and match**, so real images with a phrase that does *not* fit them are
  extra negatives ("GAN-CLS", the mismatched pairs of notebook 05's section 3).

The phrases (:data:`PHRASES`) either name one class ("seven", "a 7", "the digit seven") or
describe a set of classes ("an even digit", "a digit below five", ...). The text encoder is a bag
of words: the mean of learned word embeddings (``nn.EmbeddingBag``, padding excluded), one in G
and one in D. Held-out *phrasings* (a word seen in training, in a template never combined with
it) test whether the embedding composes.

* :func:`tokenize` / :class:`PhraseBook` — phrases, their token tensors (P, L), which classes each
  fits, and reproducible sampling of a fitting or a non-fitting phrase for each label;
* :class:`PhraseGenerator` — G(z, t) = DCGAN([z, e_G(t)]);
* :class:`PhraseDiscriminator` — a projection discriminator on phrases,
  D(x, t) = ψ(φ(x)) + e_D(t)·φ(x);
* :class:`TextToDigitTrainer` — a :class:`~gancourse.training.GANTrainer` that draws a fitting
  phrase for each real image (and a non-fitting one as a mismatched negative);
* :func:`train_regressor` — the regression baseline t -> x with an L2 loss.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gancourse.losses import d_loss_conditional
from gancourse.models.dcgan import DCGANDiscriminator, DCGANGenerator
from gancourse.training import Batch, GANTrainer, TrainConfig

Tensor = torch.Tensor
WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# phrase templates naming one digit k: {w} = its word, {k} = its numeral
EXACT_TEMPLATES = ("{w}", "a {w}", "the number {k}", "a {k}", "the digit {w}", "the digit {k}")
# phrases that fit a set of digits
SET_PHRASES = {
    "an even digit": (0, 2, 4, 6, 8),
    "an odd digit": (1, 3, 5, 7, 9),
    "a digit below five": (0, 1, 2, 3, 4),
    "a digit above four": (5, 6, 7, 8, 9),
}
# phrasings held out of training: every word and template is seen, this combination is not
HELD_OUT_TEMPLATE = "the digit {w}"


def exact_phrases(k: int) -> list[str]:
    """Every phrase naming digit ``k``."""
    return [t.format(w=WORDS[k], k=k) for t in EXACT_TEMPLATES]


def tokenize(phrase: str) -> list[str]:
    """Lower-case words split on spaces."""
    words = phrase.lower().split()
    if not words:
        raise ValueError("a phrase needs at least one word")
    return words


class PhraseBook:
    """All phrases of the toy language, as tensors, and which digits each fits.

    Attributes: ``phrases`` (P strings), ``vocab`` (word -> index, 0 is padding), ``tokens``
    (P, L) long, ``fits`` (P, K) bool, ``train_mask`` (P,) bool (False for held-out phrasings).
    """

    def __init__(self, num_classes: int = 10, held_out: bool = True):
        if num_classes != len(WORDS):
            raise ValueError(f"the phrase book describes the {len(WORDS)} digits, got "
                             f"num_classes={num_classes}")
        self.num_classes = num_classes
        phrases, fits = [], []
        for k in range(num_classes):
            for p in exact_phrases(k):
                phrases.append(p)
                fits.append({k})
        for p, ks in SET_PHRASES.items():
            phrases.append(p)
            fits.append(set(ks))
        self.phrases = phrases
        words = sorted({w for p in phrases for w in tokenize(p)})
        self.vocab = {w: i + 1 for i, w in enumerate(words)}               # 0 = padding
        self.max_len = max(len(tokenize(p)) for p in phrases)
        self.tokens = torch.stack([self.encode(p) for p in phrases])        # (P, L)
        self.fits = torch.zeros(len(phrases), num_classes, dtype=torch.bool)
        for i, ks in enumerate(fits):
            self.fits[i, sorted(ks)] = True
        held = {HELD_OUT_TEMPLATE.format(w=w) for w in WORDS} if held_out else set()
        self.train_mask = torch.tensor([p not in held for p in phrases])
        self.is_set = torch.tensor([p in SET_PHRASES for p in phrases])
        # per label: half the probability on the phrases naming it, half on the set phrases
        # containing it, uniform within each group, training phrasings only
        w = torch.zeros(num_classes, len(phrases))
        for k in range(num_classes):
            for group in (~self.is_set, self.is_set):
                ok = group & self.fits[:, k] & self.train_mask
                w[k, ok] = 0.5 / int(ok.sum())
        self.fit_weights = w                                                # (K, P)
        wrong = (~self.fits.T & self.train_mask).float()                    # (K, P)
        self.wrong_weights = wrong / wrong.sum(1, keepdim=True)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab) + 1

    def encode(self, phrase: str) -> Tensor:
        """Token indices (L,), padded with 0; unknown words raise ValueError."""
        ids = []
        for w in tokenize(phrase):
            if w not in self.vocab:
                raise ValueError(f"unknown word {w!r} in {phrase!r}; the vocabulary is "
                                 f"{', '.join(sorted(self.vocab))}")
            ids.append(self.vocab[w])
        if len(ids) > self.max_len:
            raise ValueError(f"{phrase!r} has {len(ids)} words, more than the {self.max_len} allowed")
        return torch.tensor(ids + [0] * (self.max_len - len(ids)), dtype=torch.long)

    def index(self, phrase: str) -> int:
        try:
            return self.phrases.index(phrase)
        except ValueError:
            raise ValueError(f"{phrase!r} is not in the phrase book") from None

    def sample(self, labels: Tensor, fitting: bool = True,
               generator: torch.Generator | None = None) -> Tensor:
        """One training phrase index per label (B,): one that fits the label, or
        (``fitting=False``) one that does not, for the mismatched pairs."""
        w = (self.fit_weights if fitting else self.wrong_weights).to(labels.device)
        return torch.multinomial(w[labels], 1, generator=generator).squeeze(1)   # (B,)


class PhraseEncoder(nn.Module):
    """Bag of words: the mean of learned word embeddings, padding excluded. (B, L) -> (B, E)."""

    def __init__(self, vocab_size: int, dim: int):
        super().__init__()
        self.bag = nn.EmbeddingBag(vocab_size, dim, mode="mean", padding_idx=0)
        nn.init.normal_(self.bag.weight, 0.0, 1.0)
        with torch.no_grad():
            self.bag.weight[0].zero_()

    def forward(self, tokens: Tensor) -> Tensor:
        if tokens.ndim != 2 or tokens.dtype != torch.long:
            raise ValueError(f"tokens must be a long tensor (B, L), got {tokens.dtype} {tuple(tokens.shape)}")
        if bool((tokens != 0).sum(1).eq(0).any()):
            raise ValueError("every phrase needs at least one (non-padding) word")
        return self.bag(tokens)                                             # (B, E)


class PhraseGenerator(nn.Module):
    """G(z, t) = DCGAN([z, e_G(t)]): noise (B, z_dim) and tokens (B, L) -> images (B, C, H, W)."""

    def __init__(self, vocab_size: int, z_dim: int = 32, embed_dim: int = 16, channels: int = 1,
                 image_size: int = 28, ngf: int = 32):
        super().__init__()
        self.z_dim = z_dim
        self.text = PhraseEncoder(vocab_size, embed_dim)
        self.body = DCGANGenerator(z_dim + embed_dim, channels, image_size, ngf)

    def forward(self, z: Tensor, tokens: Tensor) -> Tensor:
        if z.ndim != 2 or z.shape[1] != self.z_dim or len(z) != len(tokens):
            raise ValueError(f"z must have shape ({len(tokens)}, {self.z_dim}), got {tuple(z.shape)}")
        return self.body(torch.cat([z, self.text(tokens).to(z.dtype)], dim=1))   # (B, C, H, W)


class PhraseDiscriminator(nn.Module):
    """D(x, t) = ψ(φ(x)) + e_D(t)·φ(x): the projection discriminator with a phrase embedding of
    the feature size F in place of a class embedding. Images (B, C, H, W), tokens (B, L) -> (B,)."""

    def __init__(self, vocab_size: int, channels: int = 1, image_size: int = 28, ndf: int = 32,
                 norm: str | None = "batch"):
        super().__init__()
        trunk = DCGANDiscriminator(channels, image_size, ndf, norm)
        self.features, self.psi = trunk.features, trunk.head
        self.feature_dim = trunk.head.in_channels * trunk.head.kernel_size[0] ** 2
        self.text = PhraseEncoder(vocab_size, self.feature_dim)
        nn.init.normal_(self.text.bag.weight, 0.0, 0.02)                    # like the DCGAN weights
        with torch.no_grad():
            self.text.bag.weight[0].zero_()

    def parts(self, x: Tensor, tokens: Tensor) -> tuple[Tensor, Tensor]:
        """(realism ψ(φ(x)), match e_D(t)·φ(x)), each (B,)."""
        if len(x) != len(tokens):
            raise ValueError(f"{len(x)} images but {len(tokens)} phrases")
        fmap = self.features(x)                                             # (B, W, s, s)
        realism = self.psi(fmap).flatten()                                  # (B,)
        match = (self.text(tokens).to(fmap.dtype) * fmap.flatten(1)).sum(1)  # (B,)
        return realism, match

    def forward(self, x: Tensor, tokens: Tensor) -> Tensor:
        realism, match = self.parts(x, tokens)
        return realism + match                                              # (B,)


class TextToDigitTrainer(GANTrainer):
    """A conditional GAN on (image, phrase) pairs of labelled digits.

    For every real image of class y the trainer draws a phrase that fits y (``book.sample``) and
    one that does not; D's loss is :func:`gancourse.losses.d_loss_conditional` on real pairs,
    fakes G(z, t) with the same phrases, and the mismatched real pairs (weight
    ``mismatch_weight``). The fixed-noise snapshots draw ``snapshot_phrases``.
    """

    def __init__(self, netG: PhraseGenerator, netD: PhraseDiscriminator, data: Any,
                 config: TrainConfig, book: PhraseBook, mismatch_weight: float = 1.0,
                 snapshot_phrases: Sequence[str] = ("seven", "an even digit"),
                 device: str | torch.device = "auto", checkpoint: str | Path | None = None,
                 callbacks: Iterable[Callable[[GANTrainer, str], None]] = ()):
        if not (math.isfinite(mismatch_weight) and mismatch_weight >= 0):
            raise ValueError(f"mismatch_weight must be a finite number >= 0, got {mismatch_weight}")
        self.book = book
        self.snapshot_phrases = [book.index(p) for p in snapshot_phrases]
        super().__init__(netG, netD, data, config, device=device, checkpoint=checkpoint,
                         callbacks=callbacks)
        self.tokens = book.tokens.to(self.device)                           # (P, L)
        self.mismatch_weight = float(mismatch_weight)

    def generator_inputs(self, batch: Batch) -> tuple:
        """Noise and, for each real image, a fitting phrase (stored in the batch for D)."""
        if batch.y is None:
            raise ValueError("TextToDigitTrainer needs labelled digits (an ImageDataset)")
        batch["t"] = self.tokens[self.book.sample(batch.y, True, self.noise)]        # (B, L)
        batch["t_wrong"] = self.tokens[self.book.sample(batch.y, False, self.noise)]
        return (self._z(len(batch.x)), batch["t"])

    def discriminator_loss(self, batch: Batch, fake: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        real_scores = self.D(batch.x, batch["t"])
        fake_scores = self.D(fake, batch["t"])
        mismatch_scores = self.D(batch.x, batch["t_wrong"])
        loss = d_loss_conditional(real_scores.float(), fake_scores.float(), mismatch_scores.float(),
                                  self.mismatch_weight, self.loss)
        self._log(D_mismatch=self.score_stat(mismatch_scores))
        return loss, real_scores, fake_scores

    def generator_loss(self, batch: Batch, fake: Tensor) -> Tensor:
        return self.loss.g_loss(self.D(fake, batch["t"]).float(), None)

    @torch.no_grad()
    def draw(self, phrases: Sequence[str] | str, n: int, seed: int = 0, batch_size: int = 500) -> Tensor:
        """``n`` samples for each phrase, (len(phrases) * n, C, H, W) on CPU, phrase-major; the
        same noise for every phrase."""
        phrases = [phrases] if isinstance(phrases, str) else list(phrases)
        tokens = torch.stack([self.book.encode(p) for p in phrases]).to(self.device)   # (P, L)
        z = torch.randn(n, self.config.z_dim, generator=torch.Generator().manual_seed(seed))
        was_training = self.netG.training
        self.netG.eval()
        out = []
        for t in tokens:
            for i in range(0, n, batch_size):
                zi = z[i:i + batch_size].to(self.device)
                out.append(self.netG(zi, t.expand(len(zi), -1)).float().cpu())
        self.netG.train(was_training)
        return torch.cat(out)

    def snapshot_samples(self) -> Tensor:
        n = max(1, self.config.n_samples // len(self.snapshot_phrases))
        return self.draw([self.book.phrases[i] for i in self.snapshot_phrases], n, seed=self.config.seed)


def train_regressor(netR: PhraseGenerator, images: Tensor, labels: Tensor, book: PhraseBook,
                    steps: int, batch_size: int = 64, lr: float = 1e-3, seed: int = 0,
                    device: str | torch.device = "cpu") -> PhraseGenerator:
    """The supervised baseline: ``netR(0, t)`` regressed onto the real images with an L2 loss
    (noise fixed at 0, so it is a deterministic map t -> x), on the same (image, fitting phrase)
    pairs the GAN sees. One network, one optimiser: a supervised helper, not a GAN loop."""
    if int(steps) < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    g = torch.Generator().manual_seed(seed)
    netR = netR.to(device).train()
    tokens = book.tokens.to(device)
    opt = torch.optim.Adam(netR.parameters(), lr=lr, betas=(0.5, 0.999))
    for _ in range(int(steps)):
        idx = torch.randint(0, len(images), (batch_size,), generator=g)
        x, y = images[idx].to(device), labels[idx].to(device)
        t = tokens[book.sample(y.cpu(), True, g).to(device)]
        out = netR(torch.zeros(batch_size, netR.z_dim, device=device), t)
        loss = F.mse_loss(out, x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return netR.eval()


@torch.no_grad()
def regress(netR: PhraseGenerator, book: PhraseBook, phrases: Sequence[str],
            device: str | torch.device = "cpu") -> Tensor:
    """The regressor's single output for each phrase, (P, C, H, W) on CPU."""
    tokens = torch.stack([book.encode(p) for p in phrases]).to(device)
    return netR(torch.zeros(len(tokens), netR.z_dim, device=device), tokens).float().cpu()
