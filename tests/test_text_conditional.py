"""Text to digits (gancourse.gans.text_conditional): the phrase book's vocabulary, fits and
sampling weights, the bag-of-words encoder, the two networks' shapes, the trainer's phrases and
mismatched negatives, and the regression baseline."""
import math

import pytest
import torch

from gancourse.data.images import ImageDataset
from gancourse.gans import text_conditional as tc
from gancourse.training import TrainConfig

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def book():
    return tc.PhraseBook()


def test_phrase_book_fits_and_held_out(book):
    seven = book.index("seven")
    assert book.fits[seven].nonzero().flatten().tolist() == [7]
    assert book.fits[book.index("an even digit")].nonzero().flatten().tolist() == [0, 2, 4, 6, 8]
    assert book.fits[book.index("a digit above four")].nonzero().flatten().tolist() == [5, 6, 7, 8, 9]
    assert not book.train_mask[book.index("the digit seven")]          # held-out phrasing
    assert book.train_mask[book.index("the digit 7")] and book.train_mask[book.index("a seven")]
    # every word of the held-out phrasings is seen in training
    seen = {w for p, keep in zip(book.phrases, book.train_mask) if keep for w in tc.tokenize(p)}
    assert all(set(tc.tokenize(p)) <= seen for p, keep in zip(book.phrases, book.train_mask) if not keep)


def test_sampling_weights(book):
    assert torch.allclose(book.fit_weights.sum(1), torch.ones(10))
    assert torch.allclose(book.wrong_weights.sum(1), torch.ones(10))
    # half the mass on phrases naming the digit, half on set phrases containing it
    for k in range(10):
        assert book.fit_weights[k, book.is_set].sum().item() == pytest.approx(0.5)
        assert (book.fit_weights[k, ~book.fits[:, k]] == 0).all()
        assert (book.wrong_weights[k, book.fits[:, k]] == 0).all()
    held = ~book.train_mask
    assert (book.fit_weights[:, held] == 0).all() and (book.wrong_weights[:, held] == 0).all()
    y = torch.arange(10).repeat(300)
    g = torch.Generator().manual_seed(0)
    right = book.sample(y, True, g)
    wrong = book.sample(y, False, g)
    assert book.fits[right, y].all() and not book.fits[wrong, y].any()
    assert book.train_mask[right].all() and book.train_mask[wrong].all()


def test_encode_and_errors(book):
    t = book.encode("a seven")
    assert t.shape == (book.max_len,) and (t[2:] == 0).all() and (t[:2] > 0).all()
    with pytest.raises(ValueError, match="unknown word 'siete'"):
        book.encode("a siete")
    with pytest.raises(ValueError, match="not in the phrase book"):
        book.index("seventy")
    with pytest.raises(ValueError, match="at least one word"):
        tc.tokenize("   ")
    with pytest.raises(ValueError, match="describes the 10 digits"):
        tc.PhraseBook(num_classes=3)


def test_bag_of_words_is_the_mean_of_word_vectors(book):
    enc = tc.PhraseEncoder(book.vocab_size, 6)
    t = torch.stack([book.encode("a seven"), book.encode("seven")])
    out = enc(t)
    w = enc.bag.weight
    assert torch.allclose(out[0], (w[book.vocab["a"]] + w[book.vocab["seven"]]) / 2, atol=1e-6)
    assert torch.allclose(out[1], w[book.vocab["seven"]], atol=1e-6)        # padding left out
    with pytest.raises(ValueError, match="long tensor"):
        enc(t.float())
    with pytest.raises(ValueError, match="at least one"):
        enc(torch.zeros(1, 4, dtype=torch.long))


def test_networks_shapes_and_projection(book):
    G = tc.PhraseGenerator(book.vocab_size, z_dim=8, embed_dim=4, ngf=4)
    D = tc.PhraseDiscriminator(book.vocab_size, ndf=4, norm=None)
    t = book.tokens[:5]
    x = G(torch.randn(5, 8), t)
    assert x.shape == (5, 1, 28, 28) and x.abs().max() <= 1
    realism, match = D.parts(x, t)
    assert torch.allclose(D(x, t), realism + match)
    realism2, _ = D.parts(x, book.tokens[5:10])
    assert torch.allclose(realism, realism2)                             # realism ignores the phrase
    with pytest.raises(ValueError, match="z must have shape"):
        G(torch.randn(5, 3), t)


def labelled(n=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    return ImageDataset(torch.rand(n, 1, 28, 28, generator=g) * 2 - 1, torch.arange(n) % 10,
                        name="toy", class_names=[str(i) for i in range(10)])


def test_trainer_draws_fitting_and_wrong_phrases(book):
    torch.manual_seed(0)
    G = tc.PhraseGenerator(book.vocab_size, z_dim=8, embed_dim=4, ngf=4)
    D = tc.PhraseDiscriminator(book.vocab_size, ndf=4)
    cfg = TrainConfig(steps=3, batch_size=8, z_dim=8, progress=False, n_samples=8)
    tr = tc.TextToDigitTrainer(G, D, labelled(), cfg, book, snapshot_phrases=("seven", "an odd digit"),
                               device="cpu")
    batch = next(tr.batches)
    tr.generate(batch)
    rows = {tuple(r.tolist()): i for i, r in enumerate(book.tokens)}
    right = torch.tensor([rows[tuple(r.tolist())] for r in batch["t"]])
    wrong = torch.tensor([rows[tuple(r.tolist())] for r in batch["t_wrong"]])
    assert book.fits[right, batch.y].all() and not book.fits[wrong, batch.y].any()
    hist = tr.fit()
    assert len(hist["D_mismatch"]) == 3 and all(math.isfinite(v) for v in hist["loss_D"])
    assert tr.snapshots[-1][1].shape == (8, 1, 28, 28)
    assert tr.draw(["seven", "an even digit"], 3).shape == (6, 1, 28, 28)
    assert G.training                                                    # draw restores the mode
    with pytest.raises(ValueError, match="mismatch_weight"):
        tc.TextToDigitTrainer(G, D, labelled(), cfg, book, mismatch_weight=-1.0, device="cpu")


def test_regressor_is_deterministic_and_learns_the_mean(book):
    """Every image of a class is the same: the regressor's output for 'seven' moves towards it."""
    x = torch.zeros(40, 1, 28, 28)
    y = torch.arange(40) % 10
    x[y == 7] = 0.8
    R = tc.PhraseGenerator(book.vocab_size, z_dim=4, embed_dim=4, ngf=4)
    before = tc.regress(R.eval(), book, ["seven"])
    R = tc.train_regressor(R, x, y, book, steps=60, batch_size=16, lr=3e-3)
    after = tc.regress(R, book, ["seven", "seven"])
    assert torch.equal(after[0], after[1])                              # one output per phrase
    assert (after[0] - 0.8).abs().mean() < (before[0] - 0.8).abs().mean()
