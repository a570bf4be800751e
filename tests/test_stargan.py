"""gancourse.gans.stargan: one generator for many domains."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gancourse.data import domains as D
from gancourse.gans import stargan as S
from gancourse.metrics.classifier import Classifier
from gancourse.training import Paired, TrainConfig


def test_label_maps_replicate_each_label_over_the_plane():
    c = torch.tensor([[1.0, 0, 1], [0, 1, 0]])
    m = S.label_maps(c, 4, 5)
    assert m.shape == (2, 3, 4, 5)
    assert torch.equal(m[:, :, 2, 3], c) and torch.equal(m[0, 2], torch.ones(4, 5))
    with pytest.raises(ValueError, match=r"\(B, A\)"):
        S.label_maps(torch.ones(3), 4, 4)


def test_generator_shapes_and_its_start_near_the_input():
    torch.manual_seed(0)
    real = D.attribute_digits("test", n=8, seed=0)
    x, c = real.images, D.random_domains(8, generator=torch.Generator().manual_seed(0))
    g = S.StarGANGenerator(3, 5, ngf=8, n_blocks=1, image_size=28)                  # skip_init="identity"
    y = g(x, c)
    assert y.shape == (8, 3, 28, 28) and y.abs().max() <= 1
    agree = lambda a, b: (torch.sign(a) == torch.sign(b)).float().mean().item()    # noqa: E731
    assert agree(y, x) > 0.9                                                        # starts near tanh(2x)
    plain = S.StarGANGenerator(3, 5, ngf=8, n_blocks=1, skip=False, image_size=28)
    assert agree(plain(x, c), x) < 0.8
    grey = S.StarGANGenerator(3, 5, ngf=8, n_blocks=1, skip_init="grey", image_size=28)
    yg = grey(x, c)                                                                  # white strokes: every
    assert agree(yg, D.to_grey(x).expand(-1, 3, -1, -1)) > 0.9                      # channel follows the ink
    with pytest.raises(ValueError, match=r"labels \(8, 5\)"):
        g(x, c[:, :3])
    with pytest.raises(ValueError, match="divisible"):
        g(torch.zeros(1, 3, 30, 30), c[:1])
    with pytest.raises(ValueError, match="unknown norm"):
        S.StarGANGenerator(norm="layer")
    with pytest.raises(ValueError, match="unknown skip_init"):
        S.StarGANGenerator(skip_init="zeros")


def test_conditional_instance_norm_starts_as_instance_norm_and_uses_the_label():
    torch.manual_seed(0)
    h = torch.randn(2, 4, 5, 5)
    cin = S.ConditionalInstanceNorm(4, 3)
    c = torch.tensor([[1.0, 0, 0], [0, 1, 1]])
    assert torch.allclose(cin(h, c), torch.nn.functional.instance_norm(h), atol=1e-5)
    with torch.no_grad():
        cin.affine.weight.fill_(0.5)
    out = cin(h, c)
    assert torch.allclose(out[0], 1.5 * torch.nn.functional.instance_norm(h)[0] + 0.5, atol=1e-5)


def test_instance_norm_erases_a_constant_label_map_but_not_without_it():
    """Why the course's G has no instance norm: with it, changing c only changes G's output
    through the zero-padded border of the first convolution."""
    torch.manual_seed(0)
    x = torch.rand(2, 3, 28, 28) * 2 - 1
    c1, c2 = D.all_domains()[[0, 11]].expand(2, -1, -1).unbind(1)
    conv = nn.Conv2d(8, 4, 3, 1, 1, padding_mode="reflect")
    norm = nn.InstanceNorm2d(4)
    h1 = norm(conv(torch.cat([x, S.label_maps(c1, 28, 28)], 1)))
    h2 = norm(conv(torch.cat([x, S.label_maps(c2, 28, 28)], 1)))
    assert torch.allclose(h1, h2, atol=1e-5)                      # the labels are gone
    assert not torch.allclose(conv(torch.cat([x, S.label_maps(c1, 28, 28)], 1)),
                              conv(torch.cat([x, S.label_maps(c2, 28, 28)], 1)))
    g = S.StarGANGenerator(3, 5, ngf=8, n_blocks=1, skip=False, image_size=28)     # conditional norm
    with torch.no_grad():
        for m in g.modules():
            if isinstance(m, S.ConditionalInstanceNorm):
                m.affine.weight.normal_(0, 0.1)
    assert not torch.allclose(g(x, c1), g(x, c2))


def test_discriminator_heads():
    d = S.StarGANDiscriminator(3, 5, image_size=28, ndf=8, n_layers=3)
    src, cls = d(torch.randn(2, 3, 28, 28))
    assert src.shape == (2, 1, 3, 3) and cls.shape == (2, 5) and d.final_size == 3
    d128 = S.StarGANDiscriminator(3, 5, image_size=128, ndf=4, n_layers=6)
    src, cls = d128(torch.randn(1, 3, 128, 128))
    assert src.shape == (1, 1, 2, 2) and cls.shape == (1, 5)
    with pytest.raises(ValueError, match="too small"):
        S.StarGANDiscriminator(3, 5, image_size=8, n_layers=5)


def test_domain_classification_loss_by_hand():
    logits = torch.tensor([[0.0, 2.0], [-1.0, 0.5]])
    target = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    sp = lambda v: math.log1p(math.exp(v))                       # noqa: E731  softplus
    want = (sp(-0.0) + sp(2.0) + sp(-1.0) + sp(-0.5)) / 2        # summed over attributes, mean over batch
    assert S.domain_classification_loss(logits, target).item() == pytest.approx(want, rel=1e-6)
    with pytest.raises(ValueError, match="differ"):
        S.domain_classification_loss(logits, target[:, :1])


def test_pairwise_generator_count():
    assert S.pairwise_generator_count(2) == 2
    assert S.pairwise_generator_count(12) == 132
    with pytest.raises(ValueError, match="at least 2 domains"):
        S.pairwise_generator_count(1)


def _trainer(steps=2, **kw):
    torch.manual_seed(0)
    data = D.attribute_digits("test", n=32, seed=0)
    g = S.StarGANGenerator(3, 5, ngf=8, n_blocks=1, image_size=28)
    d = S.StarGANDiscriminator(3, 5, image_size=28, ndf=8, n_layers=3)
    cfg = TrainConfig(steps=steps, batch_size=8, loss=kw.pop("loss", "lsgan"), progress=False, seed=0, **kw)
    return S.StarGANTrainer(g, d, data.training_source(), cfg, fixed_targets=D.all_domains()[:3],
                            device="cpu")


def test_trainer_runs_logs_and_snapshots():
    t = _trainer(steps=3)
    h = t.fit()
    for k in ("adv_G", "cls_G", "rec", "cls_D", "acc_D", "loss_D", "loss_G"):
        assert len(h[k]) == 3 and all(math.isfinite(v) for v in h[k]), k
    assert t.snapshots[-1][1].shape == (8 * 3, 3, 28, 28)


def test_trainer_with_wgan_gp_on_the_src_head():
    t = _trainer(steps=1, loss="wgan", penalty="gp", n_critic=2)
    h = t.fit()
    assert math.isfinite(h["penalty"][-1])


def test_generator_loss_terms_by_hand():
    """L_G = adv + λ_cls · L_cls(cls(G(x, c)), c) + λ_rec · |x - G(G(x, c), c')|."""
    t = _trainer()
    batch = next(t.batches)
    fake = t.generate(batch)
    assert torch.equal(torch.sort(batch["c_trg"], 0).values, torch.sort(batch.y, 0).values)  # a shuffle
    total = t.generator_loss(batch, fake)
    src, cls = t.D(fake)
    adv = t.loss.g_loss(src)
    rec = F.l1_loss(t.G(fake, batch.y), batch.x)
    want = adv + S.domain_classification_loss(cls, batch["c_trg"]) + 10.0 * rec
    assert total.item() == pytest.approx(want.item(), rel=1e-5)


def test_trainer_refuses_bad_data():
    data = D.attribute_digits("test", n=16, seed=0)
    g, d = S.StarGANGenerator(3, 5, ngf=8, n_blocks=1), S.StarGANDiscriminator(3, 5, 28, 8, 3)
    cfg = TrainConfig(steps=1, batch_size=8, progress=False)
    with pytest.raises(ValueError, match="Paired\\(x=images, y=attribute labels\\)"):
        S.StarGANTrainer(g, d, Paired(input=data.images, target=data.images), cfg)
    with pytest.raises(ValueError, match="float attribute vectors"):
        S.StarGANTrainer(g, d, Paired(x=data.images, y=data.labels), cfg)
    with pytest.raises(ValueError, match="rec_weight"):
        S.StarGANTrainer(g, d, data.training_source(), cfg, rec_weight=-1)


class _Recolour(nn.Module):
    """A perfect colour changer that ignores thickness and slant: a fixed G to measure."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(()))

    def forward(self, x, c):
        u = (x.amax(1, keepdim=True) + 1) / 2
        return (u * c[:, :3, None, None]).mul(2).sub(1)


def test_translation_targets_skip_each_image_s_own_domain():
    attrs = D.all_domains()[[0, 5]]
    idx, tgt = S.translation_targets(attrs)
    assert len(idx) == 22 and tgt.shape == (22, 5)
    assert not any(torch.equal(tgt[i], attrs[idx[i]]) for i in range(22))
    idx_all, _ = S.translation_targets(attrs, include_own=True)
    assert len(idx_all) == 24


def test_evaluate_translations_of_a_recolouring_generator():
    data = D.attribute_digits("test", n=24, seed=1)
    judge = Classifier(1, 10, image_size=28).eval()
    r = S.evaluate_translations(_Recolour(), data.images, data.attrs, data.labels, judge)
    assert r["colour"] == 1.0                                      # colour always right
    # thickness and slant are kept, so right exactly when the target keeps them
    idx, tgt = r["index"], r["targets"]
    same_t = (tgt[:, 3] == data.attrs[idx, 3]).float().mean().item()
    same_s = (tgt[:, 4] == data.attrs[idx, 4]).float().mean().item()
    assert r["thickness"] == pytest.approx(same_t) and r["slant"] == pytest.approx(same_s)
    assert r["per_target"].shape == (12,) and 0 <= r["class_kept"] <= 1
    with pytest.raises(ValueError, match="as many attribute rows"):
        S.evaluate_translations(_Recolour(), data.images, data.attrs[:3], data.labels, judge)


def test_translate_to_restores_the_mode_and_checks_lengths():
    g = S.StarGANGenerator(3, 5, ngf=8, n_blocks=1).train()
    x, c = torch.zeros(3, 3, 28, 28), D.all_domains()[:3]
    assert S.translate_to(g, x, c).shape == (3, 3, 28, 28) and g.training
    with pytest.raises(ValueError, match="3 images but 2"):
        S.translate_to(g, x, c[:2])


def test_attribute_classifier_learns_a_colour():
    data = D.attribute_digits("test", n=200, seed=0)
    model = S.train_attribute_classifier(data.images, data.attrs, steps=60, seed=0)
    logits = S.attribute_logits(model, data.images)
    assert logits.shape == (200, 5)
    assert ((logits[:, :3].argmax(1) == data.attrs[:, :3].argmax(1)).float().mean() > 0.8)
