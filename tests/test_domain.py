"""gancourse.gans.domain: gradient reversal, DANN, coupled autoencoders, disentangling, probes."""

import math

import pytest
import torch
from torch import nn

from gancourse.data.images import ImageDataset
from gancourse.gans.domain import (
    DANNTrainer,
    DigitFeatures,
    DomainHead,
    GradReverse,
    LabelHead,
    dann_lambda,
    dann_lr_factor,
    domain_probe,
    grad_reverse,
    label_accuracy,
    probe_accuracy,
)
from gancourse.gans.domain import coupled as Cp
from gancourse.gans.domain import disentangle as Dis
from gancourse.training import Paired, TrainConfig, Unpaired


# ----------------------------------------------------------------------------- reversal
def test_reversal_is_the_identity_forward_and_flips_the_gradient():
    x = torch.randn(5, 3, requires_grad=True)
    w = torch.randn(5, 3)
    y = grad_reverse(x, 0.7)
    assert torch.equal(y, x)
    (y * w).sum().backward()
    assert torch.allclose(x.grad, -0.7 * w)


def test_reversal_against_the_plain_gradient_through_a_network():
    torch.manual_seed(0)
    f, d = nn.Linear(4, 3), nn.Linear(3, 1)
    x = torch.randn(8, 4)
    d(f(x)).pow(2).mean().backward()
    plain_f, plain_d = f.weight.grad.clone(), d.weight.grad.clone()
    f.zero_grad()
    d.zero_grad()
    d(GradReverse(2.0)(f(x))).pow(2).mean().backward()
    assert torch.allclose(f.weight.grad, -2.0 * plain_f)          # the features ascend
    assert torch.allclose(d.weight.grad, plain_d)                 # the classifier still descends


def test_reversal_with_lambda_zero_blocks_the_gradient_and_refuses_negative():
    x = torch.randn(3, requires_grad=True)
    grad_reverse(x, 0.0).sum().backward()
    assert torch.equal(x.grad, torch.zeros(3))
    with pytest.raises(ValueError, match="lam must be a finite number >= 0"):
        grad_reverse(x, -1.0)
    assert "lam=0.5" in repr(GradReverse(0.5))


def test_dann_schedules_by_hand():
    assert dann_lambda(0.0) == 0.0
    assert dann_lambda(1.0) == pytest.approx(2 / (1 + math.exp(-10)) - 1)
    assert dann_lambda(0.5) == pytest.approx(2 / (1 + math.exp(-5)) - 1)
    assert dann_lr_factor(0.0) == 1.0
    assert dann_lr_factor(1.0) == pytest.approx(11 ** -0.75)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        dann_lambda(1.5)


# ----------------------------------------------------------------------------- probes
def test_probe_reads_a_separable_label_and_not_a_random_one():
    g = torch.Generator().manual_seed(0)
    codes = torch.randn(400, 6, generator=g)
    labels = (codes[:, 0] > 0).long()
    assert probe_accuracy(codes, labels, steps=300) > 0.95
    noise = torch.randint(2, (400,), generator=g)
    assert abs(probe_accuracy(codes, noise, steps=300) - 0.5) < 0.12
    assert probe_accuracy(codes, labels, hidden=0, steps=300, lr=1e-2) > 0.95
    with pytest.raises(ValueError, match="single class"):
        probe_accuracy(codes, torch.zeros(400, dtype=torch.long))


def test_domain_probe_of_shifted_and_identical_distributions():
    g = torch.Generator().manual_seed(1)
    a = torch.randn(300, 8, generator=g)
    assert domain_probe(a, a + 3.0, steps=200) > 0.95
    b = torch.randn(300, 8, generator=g)
    assert abs(domain_probe(a, b, steps=200) - 0.5) < 0.12
    with pytest.raises(ValueError, match="at least 2 codes"):
        domain_probe(a[:1], b)


# ----------------------------------------------------------------------------- DANN
def _dann_data(n=64):
    g = torch.Generator().manual_seed(0)
    src = ImageDataset(torch.rand(n, 3, 28, 28, generator=g) * 2 - 1, torch.randint(10, (n,), generator=g),
                       "toy-source", [str(i) for i in range(10)])
    tgt = torch.rand(n, 3, 28, 28, generator=g) * 2 - 1
    return src, tgt


def test_dann_networks_shapes():
    f = DigitFeatures(3)
    x = torch.randn(4, 3, 28, 28)
    feats = f(x)
    assert feats.shape == (4, 768) and f.out_dim == 768
    assert LabelHead(768)(feats).shape == (4, 10)
    assert DomainHead(768)(feats).shape == (4,)
    with pytest.raises(ValueError, match="expects"):
        f(torch.randn(4, 1, 28, 28))


def _dann(weight, steps=3, schedule=True, **kw):
    torch.manual_seed(0)
    src, tgt = _dann_data()
    f = DigitFeatures(3)
    cfg = TrainConfig(steps=steps, batch_size=16, lr_g=1e-3, lr_d=1e-3, progress=False, seed=0)
    return DANNTrainer(f, LabelHead(f.out_dim), DomainHead(f.out_dim), Unpaired(source=src, target=tgt), cfg,
                       domain_weight=weight, schedule=schedule, device="cpu", **kw)


def test_dann_trainer_runs_and_logs():
    src, tgt = _dann_data()
    t = _dann(1.0, monitor=(tgt[:10], torch.zeros(10, dtype=torch.long)))
    h = t.fit()
    for k in ("label_loss", "domain_loss", "lam", "acc_domain", "acc_source", "loss_D", "loss_G"):
        assert len(h[k]) == 3 and all(math.isfinite(v) for v in h[k]), k
    assert h["lam"][0] == 0.0 and h["lam"][-1] == pytest.approx(dann_lambda(2 / 3))
    assert set(t.snapshots[-1][1]) == {"lambda", "target_accuracy"}
    assert 0.0 <= label_accuracy(t.netG, t.networks["label_head"], src.images, src.labels) <= 1.0


def test_dann_target_labels_never_reach_the_batches():
    src, tgt = _dann_data()
    labelled_target = ImageDataset(tgt, torch.zeros(len(tgt), dtype=torch.long), "t", ["0"])
    f = DigitFeatures(3)
    t = DANNTrainer(f, LabelHead(), DomainHead(), Unpaired(source=src, target=labelled_target),
                    TrainConfig(steps=1, batch_size=8, progress=False), device="cpu")
    batch = next(t.batches)
    assert set(batch) == {"source", "source_y", "target"}


def test_source_only_features_get_no_domain_gradient():
    """domain_weight=0: G's update is the label loss alone (D only watches)."""
    t0, t1 = _dann(0.0, steps=1, schedule=False), _dann(1.0, steps=1, schedule=False)
    batch = next(t0.batches)
    for t in (t0, t1, t2 := _dann(1.0, steps=1, schedule=False)):
        for net in t.networks.values():
            net.eval()                                            # no dropout: the same forward each time
    for t in (t0, t1):
        fake = t.generate(batch)
        t.netG.zero_grad()
        t.generator_loss(batch, fake).backward()
    g0 = torch.cat([p.grad.flatten() for p in t0.netG.parameters()])
    g1 = torch.cat([p.grad.flatten() for p in t1.netG.parameters()])
    assert not torch.allclose(g0, g1)
    # the difference is exactly the reversed domain gradient
    t = t2
    fake = t.generate(batch)
    t.netG.zero_grad()
    s, tt = t.D(fake["source"]), t.D(fake["target"])
    t._domain_loss(s, tt).backward()
    gd = torch.cat([p.grad.flatten() for p in t.netG.parameters()])
    assert torch.allclose(g1 - g0, -gd, atol=1e-6)


def test_dann_trainer_refuses_bad_data():
    src, tgt = _dann_data()
    f = DigitFeatures(3)
    cfg = TrainConfig(steps=1, batch_size=8, progress=False)
    with pytest.raises(ValueError, match="Unpaired\\(source="):
        DANNTrainer(f, LabelHead(), DomainHead(), Unpaired(A=src, B=tgt), cfg)
    with pytest.raises(ValueError, match="needs labels"):
        DANNTrainer(f, LabelHead(), DomainHead(), Unpaired(source=tgt, target=tgt), cfg)
    with pytest.raises(ValueError, match="domain_weight"):
        DANNTrainer(f, LabelHead(), DomainHead(), Unpaired(source=src, target=tgt), cfg, domain_weight=-1)


# ----------------------------------------------------------------------------- coupled
def test_coupled_autoencoders_share_exactly_the_inner_layers():
    shared, apart = Cp.CoupledAutoencoders(share=True), Cp.CoupledAutoencoders(share=False)
    assert shared.enc_shared["A"] is shared.enc_shared["B"]
    assert shared.dec_shared["A"] is shared.dec_shared["B"]
    assert apart.enc_shared["A"] is not apart.enc_shared["B"]
    assert shared.enc_private["A"] is not shared.enc_private["B"]
    n_shared = sum(p.numel() for p in shared.parameters())
    n_apart = sum(p.numel() for p in apart.parameters())
    n_inner = sum(p.numel() for p in shared.enc_shared["A"].parameters()) + sum(
        p.numel() for p in shared.dec_shared["A"].parameters())
    assert n_apart - n_shared == n_inner
    x = torch.randn(2, 3, 28, 28)
    assert shared.encode(x, "A").shape == (2, 16, 7, 7)
    assert shared(x, "A", "B").shape == (2, 3, 28, 28)
    with pytest.raises(ValueError, match="'A' or 'B'"):
        shared.encode(x, "C")


def test_shared_latent_trainer_runs():
    torch.manual_seed(0)
    a, b = torch.rand(32, 3, 28, 28) * 2 - 1, torch.rand(32, 3, 28, 28) * 2 - 1
    m = Cp.CoupledAutoencoders(width=8, code_channels=4)
    cfg = TrainConfig(steps=2, batch_size=8, progress=False)
    t = Cp.SharedLatentTrainer(m, Cp.LatentDiscriminator(4), Unpaired(A=a, B=b), cfg, device="cpu")
    h = t.fit()
    assert len(h["rec_A"]) == 2 and all(math.isfinite(v) for v in h["acc_latent"])
    assert t.snapshots[-1][1].shape == (16, 3, 28, 28)
    assert Cp.translate(m, a[:3], "A", "B").shape == (3, 3, 28, 28)
    with pytest.raises(ValueError, match="Unpaired\\(A="):
        Cp.SharedLatentTrainer(m, Cp.LatentDiscriminator(4), Unpaired(X=a, Y=b), cfg)


# ----------------------------------------------------------------------------- disentangling
def _dis(adv_weight=1.0, steps=2):
    torch.manual_seed(0)
    x, k = torch.rand(32, 3, 28, 28) * 2 - 1, torch.randint(3, (32,))
    nets = (Dis.ContentEncoder(3, 8, 4), Dis.StyleEncoder(3, 8, 2), Dis.StyleDecoder(3, 8, 4, 2),
            Dis.CodeClassifier(4 * 49, 3))
    cfg = TrainConfig(steps=steps, batch_size=8, progress=False)
    return Dis.DisentangleTrainer(*nets, Paired(x=x, y=k), cfg, adv_weight=adv_weight, device="cpu"), x


def test_disentangle_shapes_and_swap_grid():
    t, x = _dis()
    h = t.fit()
    assert len(h["rec"]) == 2 and all(math.isfinite(v) for v in h["acc_C"])
    c, s = Dis.encode(t.netG, t.networks["style_encoder"], x[:5])
    assert c.shape == (5, 4, 7, 7) and s.shape == (5, 2)
    grid = Dis.swap_styles(t.netG, t.networks["style_encoder"], t.networks["decoder"], x[:3], x[3:7])
    assert grid.shape == (3, 4, 3, 28, 28)
    # cell (i, j) is G(c_i, s_j)
    dec = t.networks["decoder"].eval()
    cs, ss = Dis.encode(t.netG, t.networks["style_encoder"], x[:7])
    with torch.no_grad():
        assert torch.allclose(grid[1, 2], dec(cs[1:2], ss[5:6])[0], atol=1e-5)


def test_disentangle_adversary_reaches_only_the_content_encoder():
    t, _ = _dis()
    batch = next(t.batches)
    fake = t.generate(batch)
    for net in t.networks.values():
        net.zero_grad()
    logits = t.D(grad_reverse(fake["c"], 1.0))
    torch.nn.functional.cross_entropy(logits, batch.y).backward()
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in t.networks["style_encoder"].parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in t.netG.parameters())


def test_style_decoder_refuses_mismatched_style_codes():
    dec = Dis.StyleDecoder(3, 8, 4, 2)
    c = torch.randn(3, 4, 7, 7)
    assert dec(c, torch.randn(3, 2)).shape == (3, 3, 28, 28)
    with pytest.raises(ValueError, match=r"style codes must be \(B, 2\)"):
        dec(c, torch.randn(3, 5))
    with pytest.raises(ValueError, match="B = 3 content codes"):
        dec(c, torch.randn(2, 2))


def test_disentangle_trainer_refuses_float_labels():
    x = torch.rand(8, 3, 28, 28)
    nets = (Dis.ContentEncoder(3, 8, 4), Dis.StyleEncoder(3, 8, 2), Dis.StyleDecoder(3, 8, 4, 2),
            Dis.CodeClassifier(4 * 49, 3))
    with pytest.raises(ValueError, match="integer indices"):
        Dis.DisentangleTrainer(*nets, Paired(x=x, y=torch.zeros(8)), TrainConfig(steps=1, batch_size=4))


# ----------------------------------------------------------------------------- learning on sparse images
def _sparse_images(n=64, seed=0):
    """Mostly background (-1) images with one white 10×10 blob (~13 % ink, like MNIST): the data
    on which an L1-trained tanh decoder without normalisation fell into the all-background
    minimum within a few dozen steps (black squares) and never left it."""
    g = torch.Generator().manual_seed(seed)
    x = -torch.ones(n, 3, 28, 28)
    for i in range(n):
        r, c = torch.randint(0, 19, (2,), generator=g).tolist()
        x[i, :, r:r + 10, c:c + 10] = 1.0
    return x


def test_disentangle_autoencoder_learns_sparse_images_instead_of_black_squares():
    torch.manual_seed(0)
    x, k = _sparse_images(), torch.randint(3, (64,), generator=torch.Generator().manual_seed(1))
    nets = (Dis.ContentEncoder(3, 16, 4), Dis.StyleEncoder(3, 16, 2), Dis.StyleDecoder(3, 16, 4, 2),
            Dis.CodeClassifier(4 * 49, 3))
    cfg = TrainConfig(steps=150, batch_size=16, lr_g=1e-3, lr_d=1e-3, betas=(0.5, 0.999), progress=False)
    t = Dis.DisentangleTrainer(*nets, Paired(x=x, y=k), cfg, adv_weight=0.0, device="cpu")
    # the decoder and the style encoder learn with G; nothing of theirs sits in D's optimiser
    g_params = {id(p) for p in t.role_parameters("G")}
    for name in ("style_encoder", "decoder"):
        assert all(id(p) in g_params for p in t.networks[name].parameters())
    assert not g_params & {id(p) for p in t.role_parameters("D")}
    t.fit()
    c, s = Dis.encode(t.netG, t.networks["style_encoder"], x)
    with torch.no_grad():
        x_hat = t.networks["decoder"].eval()(c, s)
    assert x_hat.min() >= -1 and x_hat.max() <= 1                 # tanh: the data's range [-1, 1]
    black = (x + 1).abs().mean().item()                           # L1 of drawing only background
    assert (x_hat - x).abs().mean().item() < 0.5 * black
    ink = x > 0
    assert x_hat[ink].mean() > 0                                  # the blobs are drawn, not black


def test_coupled_autoencoders_learn_sparse_images_instead_of_black_squares():
    torch.manual_seed(0)
    a, b = _sparse_images(seed=0), _sparse_images(seed=1)
    m = Cp.CoupledAutoencoders(width=16, code_channels=8)
    cfg = TrainConfig(steps=150, batch_size=16, lr_g=1e-3, lr_d=1e-3, betas=(0.5, 0.999), progress=False)
    t = Cp.SharedLatentTrainer(m, Cp.LatentDiscriminator(8), Unpaired(A=a, B=b), cfg, adv_weight=1.0,
                               device="cpu")
    t.fit()
    for d, x in (("A", a), ("B", b)):
        x_hat = Cp.translate(m, x, d, d)
        assert x_hat.min() >= -1 and x_hat.max() <= 1
        assert (x_hat - x).abs().mean().item() < 0.5 * (x + 1).abs().mean().item()
        assert x_hat[x > 0].mean() > 0
