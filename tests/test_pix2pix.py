"""pix2pix: the receptive field (formula vs back-propagation), sharpness, the trainer's losses
and checkpoints, and the judge."""

import math

import pytest
import torch
from torch import nn

from gancourse.gans import pix2pix as P
from gancourse.metrics import accuracy
from gancourse.models.patchgan import PatchGANDiscriminator
from gancourse.models.unet import UNetGenerator
from gancourse.training import Paired, TrainConfig, Unpaired


# ----------------------------------------------------------------------------- receptive field
@pytest.mark.parametrize("n_layers,size,stride", [(0, 1, 1), (1, 16, 2), (2, 34, 4), (3, 70, 8)])
def test_patchgan_receptive_field_formula_matches_backpropagation(n_layers, size, stride):
    torch.manual_seed(n_layers)
    d = PatchGANDiscriminator(in_channels=2, ndf=4, n_layers=n_layers)
    rf = P.receptive_field(d)
    assert (rf.size, rf.stride) == (size, stride)
    image = 2 * size + 10
    measured = P.receptive_field_by_gradient(d, 2, image)
    assert measured["height"] == measured["width"] == size
    assert measured["box"] == rf.box(*measured["cell"])                # the very pixels, not just the size
    k = math.ceil(-rf.start / rf.stride)                               # first cell whose field is inside
    off = P.receptive_field_by_gradient(d, 2, image, cell=(k, k + 1))
    assert off["box"] == rf.box(k, k + 1)
    assert d.training                                                  # mode restored


def test_receptive_field_by_hand():
    chain = nn.Sequential(nn.Conv2d(1, 1, 3), nn.ReLU(), nn.Conv2d(1, 1, 3))
    assert P.receptive_field(chain) == P.ReceptiveField(5, 1, 0)       # 1 + 2 + 2
    dilated = nn.Sequential(nn.Conv2d(1, 1, 3, dilation=2, padding=2))
    assert P.receptive_field(dilated) == P.ReceptiveField(5, 1, -2)
    pooled = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.MaxPool2d(2), nn.Conv2d(1, 1, 3, padding=1))
    assert P.receptive_field(pooled) == P.ReceptiveField(8, 2, -3)     # 3, then 4, then 4 + 2·2
    m = P.receptive_field_by_gradient(pooled, 1, 20, cell=(5, 5))
    assert m["box"] == P.ReceptiveField(8, 2, -3).box(5, 5)


def test_receptive_field_refusals():
    with pytest.raises(ValueError, match="ConvTranspose2d up-samples"):
        P.receptive_field(UNetGenerator(1, 1, ngf=4, depth=2))
    with pytest.raises(ValueError, match="no convolution"):
        P.receptive_field(nn.Sequential(nn.ReLU()))
    with pytest.raises(ValueError, match="padding inside the convolutions"):
        P.receptive_field(nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(1, 1, 3)))
    inst = PatchGANDiscriminator(2, ndf=4, n_layers=1, norm="instance")
    assert P.receptive_field(inst).size == 16                            # the formula still applies
    with pytest.raises(ValueError, match="instance normalisation mixes every position"):
        P.receptive_field_by_gradient(inst, 2, 40)
    with pytest.raises(ValueError, match="outside the"):
        P.receptive_field_by_gradient(PatchGANDiscriminator(2, ndf=4, n_layers=1), 2, 40, cell=(99, 0))


def test_batch_norm_in_training_mode_would_spread_the_gradient_everywhere():
    """Why the measurement runs in eval mode: with batch statistics one cell sees every pixel."""
    torch.manual_seed(0)
    d = PatchGANDiscriminator(2, ndf=4, n_layers=1, norm="batch").train()
    x = torch.randn(1, 2, 48, 48, requires_grad=True)
    d(x)[0, 0, 11, 11].backward()
    assert (x.grad.abs().sum(1) > 0).all()                             # every pixel
    assert P.receptive_field_by_gradient(d, 2, 48)["height"] == 16


# ----------------------------------------------------------------------------- sharpness
def test_sharpness_hand_values():
    flat = torch.full((1, 1, 8, 8), 0.3)
    ramp = torch.linspace(-1, 1, 8).view(1, 1, 1, 8).expand(1, 1, 8, 8)
    assert P.sharpness(flat).item() == 0 and P.sharpness(ramp).abs().item() < 1e-10
    i, j = torch.meshgrid(torch.arange(8), torch.arange(8), indexing="ij")
    checker = ((i + j) % 2 * 2 - 1).float().view(1, 1, 8, 8)           # ±1: Laplacian ±8
    assert math.isclose(P.sharpness(checker).item(), 64.0, rel_tol=1e-6)
    colour = checker.expand(1, 3, 8, 8)                                # grey in colour: same luminance
    assert math.isclose(P.sharpness(colour).item(), 64.0, rel_tol=1e-5)


def test_blur_lowers_sharpness():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(6, 3, 32, 32, generator=g) * 2 - 1
    kernel = torch.ones(3, 1, 3, 3) / 9
    blurred = torch.nn.functional.conv2d(x, kernel, padding=1, groups=3)
    s, sb = P.sharpness(x), P.sharpness(blurred)
    assert s.shape == (6,) and (sb < 0.2 * s).all()
    with pytest.raises(ValueError, match="at least 3x3"):
        P.sharpness(torch.zeros(1, 1, 2, 5))
    with pytest.raises(ValueError, match="1 or 3"):
        P.sharpness(torch.zeros(1, 2, 8, 8))


# ----------------------------------------------------------------------------- trainer
def paired_toy(n=64, size=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, size, size, generator=g) * 2 - 1
    return x, -x                                                        # translate = negate


def make_trainer(steps, adv_weight=1.0, size=8, **kw):
    x, y = paired_toy(size=size)
    torch.manual_seed(0)
    G = UNetGenerator(1, 1, ngf=8, depth=2, image_size=size, dropout=0.0)
    D = PatchGANDiscriminator(2 if kw.get("conditional", True) else 1, ndf=8, n_layers=1)
    cfg = TrainConfig(steps=steps, batch_size=16, lr_g=2e-3, lr_d=2e-4, progress=False, n_samples=4,
                      sample_every=10**6, **kw.pop("cfg", {}))
    return P.Pix2PixTrainer(G, D, Paired(input=x, target=y), cfg, adv_weight=adv_weight, device="cpu", **kw)


def test_trainer_learns_a_paired_translation_and_logs_its_terms():
    t = make_trainer(150)
    h = t.fit()
    assert h["l1"][-1] < 0.3 * h["l1"][0]
    assert "adv_G" in h and len(h["l1"]) == 150
    x, y = paired_toy()
    assert (P.translate(t.netG, x) - y).abs().mean() < 0.2
    step, snap = t.snapshots[-1]
    assert step == 150 and snap.shape == (4, 1, 8, 8)


def test_l1_only_skips_the_adversarial_term_but_d_keeps_watching():
    t = make_trainer(5, adv_weight=0.0)
    h = t.fit()
    assert "adv_G" not in h and "D_fake" in h and len(h["loss_D"]) == 5


class ConstantD(nn.Module):
    """A 'discriminator' scoring every patch 0 and remembering what it was shown."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(()))
        self.seen = []

    def forward(self, x):
        self.seen.append(x.shape[1])
        return self.w * x[:, :1]                                       # (B, 1, H, W) of zeros


def test_generator_loss_by_hand():
    """L_G = -log σ(0) + λ · mean|G(x) - y| with D scoring 0 everywhere."""
    x, y = paired_toy(n=16)
    G = UNetGenerator(1, 1, ngf=4, depth=2, dropout=0.0)
    D = ConstantD()
    t = P.Pix2PixTrainer(G, D, Paired(input=x, target=y), TrainConfig(steps=1, batch_size=16, progress=False),
                         device="cpu")
    batch = next(t.batches)
    fake = t.generate(batch)
    expected = math.log(2) + 100.0 * (fake - batch["target"]).abs().mean().item()
    assert math.isclose(t.generator_loss(batch, fake).item(), expected, rel_tol=1e-5)
    loss_D, r, f = t.discriminator_loss(batch, fake.detach())
    assert math.isclose(loss_D.item(), 0.5 * 2 * math.log(2), rel_tol=1e-6)   # D's loss is halved
    assert D.seen == [2, 2, 2]                                          # (input, output) pairs: 2 channels
    t2 = P.Pix2PixTrainer(G, ConstantD(), Paired(input=x, target=y), TrainConfig(steps=1, batch_size=16,
                          progress=False), device="cpu", conditional=False)
    t2.discriminator_loss(batch, fake.detach())
    assert t2.netD.seen == [1, 1]                                       # the output alone


def test_trainer_refusals():
    x, y = paired_toy()
    cfg = TrainConfig(steps=1, batch_size=8, progress=False)
    G, D = UNetGenerator(1, 1, ngf=4, depth=2), PatchGANDiscriminator(2, ndf=4, n_layers=1)
    with pytest.raises(ValueError, match="needs Paired\\(input=..., target=...\\)"):
        P.Pix2PixTrainer(G, D, Unpaired(A=x, B=y), cfg)
    with pytest.raises(ValueError, match="needs Paired"):
        P.Pix2PixTrainer(G, D, Paired(a=x, b=y), cfg)
    with pytest.raises(ValueError, match="both 0"):
        P.Pix2PixTrainer(G, D, Paired(input=x, target=y), cfg, l1_weight=0, adv_weight=0)
    with pytest.raises(ValueError, match=">= 0"):
        P.Pix2PixTrainer(G, D, Paired(input=x, target=y), cfg, l1_weight=-1)


def test_trainer_with_jitter_resumes_bit_exactly(tmp_path):
    straight = make_trainer(6, jitter=1, flip=True)
    straight.fit()

    class Crash(RuntimeError):
        pass

    def crash(trainer, event):
        if event == "log" and trainer.step == 3:
            raise Crash

    path = tmp_path / "p2p.pt"
    crashed = make_trainer(6, jitter=1, flip=True, cfg={"checkpoint_every": 1}, checkpoint=path,
                           callbacks=[crash])
    with pytest.raises(Crash):
        crashed.fit()
    resumed = make_trainer(6, jitter=1, flip=True, checkpoint=path)
    resumed.fit()
    for p, q in zip(straight.netG.parameters(), resumed.netG.parameters()):
        assert torch.equal(p, q)
    assert straight.history["l1"] == resumed.history["l1"]


# ----------------------------------------------------------------------------- judge
class Copy(nn.Module):
    """G(x) = x, with a parameter so that translate can find the device."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(()))

    def forward(self, x):
        return self.w * x


def test_judge_accuracy_is_the_judge_reading_the_translations():
    from gancourse.metrics.classifier import Classifier

    torch.manual_seed(0)
    judge = Classifier(1, 10).eval()
    x = torch.rand(40, 1, 28, 28) * 2 - 1
    labels = torch.randint(0, 10, (40,))
    assert P.judge_accuracy(Copy(), x, labels, judge) == accuracy(judge, x, labels)
    with pytest.raises(ValueError, match="40 inputs but 3 labels"):
        P.judge_accuracy(Copy(), x, labels[:3], judge)


def test_translate_runs_in_eval_mode_and_restores_the_mode():
    g = UNetGenerator(1, 1, ngf=4, depth=2, dropout=0.5).train()
    x = torch.randn(3, 1, 8, 8)
    a, b = P.translate(g, x), P.translate(g, x)
    assert torch.equal(a, b)                                            # no dropout noise
    assert g.training
