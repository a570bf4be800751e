"""Triple-GAN (gancourse.gans.semi_supervised): the scores of every label from one pass, the
expected pair loss by hand, the three players' losses reaching only their own networks, and the
training loop's shapes and failure paths."""
import math

import pytest
import torch
import torch.nn.functional as F

from gancourse.data.images import ImageDataset
from gancourse.gans import semi_supervised as ss
from gancourse.gans.conditional import ConditionalGenerator, ProjectionDiscriminator
from gancourse.training import TrainConfig, Unpaired

pytestmark = pytest.mark.usefixtures("one_thread")


def digits(n=40, k=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 28, 28, generator=g) * 2 - 1
    y = torch.arange(n) % k
    return ImageDataset(x, y, name="toy", class_names=[str(i) for i in range(k)])


def players(seed=0, k=10):
    torch.manual_seed(seed)
    G = ConditionalGenerator(z_dim=8, num_classes=k, ngf=4)
    D = ProjectionDiscriminator(num_classes=k, ndf=4, norm=None)
    C = ss.SmallClassifier(num_classes=k, width=4)
    return G, D, C


def test_all_label_scores_match_one_label_at_a_time():
    _, D, _ = players()
    x = torch.randn(5, 1, 28, 28)
    scores = ss.all_label_scores(D, x)
    assert scores.shape == (5, 10)
    for k in range(10):
        assert torch.allclose(scores[:, k], D(x, torch.full((5,), k)), atol=1e-5)
    with pytest.raises(TypeError, match="needs a ProjectionDiscriminator"):
        ss.all_label_scores(torch.nn.Linear(2, 2), x)


def test_expected_pair_loss_by_hand():
    probs = torch.tensor([[1.0, 0.0], [0.5, 0.5]])
    scores = torch.tensor([[0.0, 5.0], [2.0, -2.0]])
    # row 1: only label 0 counts, softplus(∓0) = ln 2; row 2: half of each label
    sp = lambda v: F.softplus(torch.tensor(v)).item()                      # noqa: E731
    want_real = (math.log(2) + 0.5 * (sp(-2.0) + sp(2.0))) / 2
    assert ss.expected_pair_loss(probs, scores, real=True).item() == pytest.approx(want_real, rel=1e-6)
    want_fake = (math.log(2) + 0.5 * (sp(2.0) + sp(-2.0))) / 2
    assert ss.expected_pair_loss(probs, scores, real=False).item() == pytest.approx(want_fake, rel=1e-6)
    with pytest.raises(ValueError, match="same shape"):
        ss.expected_pair_loss(probs, scores[:, :1], real=True)


def test_classifier_shapes_and_errors():
    C = ss.SmallClassifier(num_classes=10, width=4)
    assert C(torch.randn(3, 1, 28, 28)).shape == (3, 10)
    with pytest.raises(ValueError, match="expects images"):
        C(torch.randn(3, 1, 32, 32))
    with pytest.raises(ValueError, match="num_classes must be >= 2"):
        ss.SmallClassifier(num_classes=1)


def make_trainer(steps=2, **kw):
    G, D, C = players()
    lab = digits(20)
    unl = digits(64, seed=1).images
    cfg = TrainConfig(steps=steps, batch_size=8, z_dim=8, progress=False, log_every=1)
    return ss.TripleGANTrainer(G, D, C, Unpaired(L=lab, U=unl), cfg, num_classes=10, device="cpu", **kw)


def test_triple_gan_trains_three_networks_and_logs():
    tr = make_trainer(steps=3, rp_start=0.0)
    before = {name: [p.detach().clone() for p in net.parameters()] for name, net in tr.networks.items()}
    hist = tr.fit()
    for name, net in tr.networks.items():
        moved = any(not torch.equal(a, b) for a, b in zip(before[name], net.parameters()))
        assert moved, f"{name} did not change"
    for key in ("loss_D", "loss_G", "loss_C", "ce_labelled", "D_pseudo"):
        assert len(hist[key]) == 3 and all(math.isfinite(v) for v in hist[key])
    assert 0.0 <= hist["D_pseudo"][-1] <= 1.0
    assert [g["network"] for g in tr.optG.param_groups] == ["netG", "netC"]
    assert tr.sample(10).shape == (10, 1, 28, 28)
    acc = tr.accuracy(digits(30, seed=2).images, digits(30, seed=2).labels)
    assert 0.0 <= acc <= 1.0


def test_classifier_loss_reaches_only_the_classifier():
    """loss_C's adversarial term must not train D, and R_P must not train G."""
    tr = make_trainer(rp_start=0.0)
    batch = next(tr.batches)
    fake = tr.generate(batch)
    for p in tr.role_parameters("G") + list(tr.netD.parameters()):
        p.grad = None
    y_g = batch["G_y"]
    ce = F.cross_entropy(tr.C(batch["L"]), batch["L_y"])
    probs = F.softmax(tr.C(batch["U"]), 1)
    with torch.no_grad():
        pseudo = ss.all_label_scores(tr.netD, batch["U"])
    loss_c = ce + tr.alpha * ss.expected_pair_loss(probs, pseudo, real=True) \
        + tr.rp_weight * F.cross_entropy(tr.C(fake.detach()), y_g)
    loss_c.backward()
    assert all(p.grad is None for p in tr.netG.parameters())
    assert all(p.grad is None for p in tr.netD.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in tr.netC.parameters())


def test_rp_switches_on_at_rp_start():
    tr = make_trainer(steps=4, rp_start=0.5, rp_weight=1.0)
    tr.netC.eval()                                          # no dropout: C's calls repeat exactly
    batch = next(tr.batches)
    fake = tr.generate(batch)
    tr.step = 0
    early = tr.generator_loss(batch, fake).item()
    tr.step = 2
    late = tr.generator_loss(batch, fake).item()
    rp = F.cross_entropy(tr.C(fake.detach()), batch["G_y"]).item()
    assert late == pytest.approx(early + rp, rel=1e-4)


def test_baseline_and_subset_helpers():
    data = digits(60)
    idx = ss.labelled_subset(data.labels, 3, 10, seed=0)
    assert len(idx) == 30 and torch.bincount(data.labels[idx], minlength=10).tolist() == [3] * 10
    with pytest.raises(ValueError, match="class 0 has only 6 examples"):
        ss.labelled_subset(data.labels, 7, 10)
    C = ss.train_classifier_alone(ss.SmallClassifier(width=4), data.images, data.labels, steps=3,
                                  batch_size=8)
    assert not C.training
    assert 0.0 <= ss.classifier_accuracy(C, data.images, data.labels) <= 1.0
    with pytest.raises(ValueError, match="as many labels as images"):
        ss.classifier_accuracy(C, data.images, data.labels[:3])


def test_trainer_argument_errors():
    G, D, C = players()
    cfg = TrainConfig(steps=1, batch_size=8, z_dim=8, progress=False)
    data = Unpaired(L=digits(20), U=digits(20).images)
    with pytest.raises(TypeError, match="needs a ProjectionDiscriminator"):
        ss.TripleGANTrainer(G, torch.nn.Linear(2, 1), C, data, cfg, num_classes=10, device="cpu")
    with pytest.raises(ValueError, match="alpha must lie strictly between 0 and 1"):
        ss.TripleGANTrainer(G, D, C, data, cfg, num_classes=10, alpha=1.0, device="cpu")
    with pytest.raises(ValueError, match="rp_start is a share"):
        ss.TripleGANTrainer(G, D, C, data, cfg, num_classes=10, rp_start=2.0, device="cpu")
    tr = ss.TripleGANTrainer(G, D, C, digits(20), cfg, num_classes=10, device="cpu")
    with pytest.raises(ValueError, match="Unpaired\\(L=labelled dataset, U=unlabelled images\\)"):
        tr.fit()
