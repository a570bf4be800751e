"""CycleGAN: the history buffer's semantics, the four-network trainer (losses by hand, the
ablation switches, bit-exact resume with the buffers), label preservation and cycle error."""

import math

import pytest
import torch
from torch import nn

from gancourse.gans import cyclegan as C
from gancourse.metrics import accuracy
from gancourse.metrics.classifier import Classifier
from gancourse.models.patchgan import PatchGANDiscriminator
from gancourse.models.resnet import ResnetGenerator
from gancourse.training import Paired, TrainConfig, Unpaired


# ----------------------------------------------------------------------------- buffer
def batch(values):
    """(B, 1, 2, 2) images, image i filled with values[i]."""
    return torch.tensor(values, dtype=torch.float32).view(-1, 1, 1, 1).expand(-1, 1, 2, 2).clone()


def ids(images):
    return [int(v) for v in images[:, 0, 0, 0].tolist()]


def test_buffer_passes_new_images_through_while_it_fills():
    buf = C.ImageBuffer(size=5, seed=0)
    out = buf.query(batch([1, 2, 3]))
    assert ids(out) == [1, 2, 3] and len(buf) == 3
    out = buf.query(batch([4, 5]))
    assert ids(out) == [4, 5] and len(buf) == 5
    assert sorted(ids(torch.stack(buf.images))) == [1, 2, 3, 4, 5]


def test_full_buffer_returns_new_or_stored_images_and_swaps_what_it_returns():
    buf = C.ImageBuffer(size=4, seed=1)
    buf.query(batch([1, 2, 3, 4]))
    seen_old = 0
    for x in range(100, 500):                                          # one new image at a time
        before = ids(torch.stack(buf.images))
        (o,) = ids(buf.query(batch([x])))
        after = ids(torch.stack(buf.images))
        assert len(after) == 4                                          # never grows past its size
        if o == x:                                                      # passed through, buffer unchanged
            assert after == before
        else:                                                           # an older fake, replaced by x
            seen_old += 1
            assert o in before and o not in after and x in after
            assert sorted(set(before) - {o}) == sorted(set(after) - {x})
    assert abs(seen_old / 400 - 0.5) < 0.07                            # probability ½ each way
    out = ids(buf.query(batch([900, 901, 902])))                       # a batch: new or stored, mixed
    assert all(o in (900, 901, 902) or o in after for o in out)


def test_buffer_of_size_zero_is_a_pass_through_and_stores_detached_copies():
    x = torch.randn(3, 1, 4, 4, requires_grad=True)
    assert C.ImageBuffer(0).query(x) is x
    buf = C.ImageBuffer(2)
    out = buf.query(x * 2)
    assert not out.requires_grad and not buf.images[0].requires_grad
    with pytest.raises(ValueError, match="buffer size must be >= 0"):
        C.ImageBuffer(-1)


def test_buffer_state_round_trip_continues_identically():
    a = C.ImageBuffer(size=3, seed=7)
    for k in range(4):
        a.query(batch([10 * k + i for i in range(3)]))
    b = C.ImageBuffer(size=3, seed=99)
    b.load_state_dict(a.state_dict())
    for k in range(5):
        new = batch([100 + 10 * k + i for i in range(3)])
        assert torch.equal(a.query(new), b.query(new))
    empty = C.ImageBuffer(size=3)
    C.ImageBuffer(size=3).load_state_dict(empty.state_dict())
    with pytest.raises(ValueError, match="holds size 3, this buffer 4"):
        C.ImageBuffer(size=4).load_state_dict(a.state_dict())


# ----------------------------------------------------------------------------- trainer
def domains(n=48, size=8):
    g = torch.Generator().manual_seed(0)
    a = torch.rand(n, 1, size, size, generator=g) * 2 - 1               # domain A
    b = (torch.rand(n + 8, 1, size, size, generator=g) * 0.5 + 0.5)     # domain B: bright images
    return a, b


def nets(seed=0):
    torch.manual_seed(seed)
    g = [ResnetGenerator(1, 1, ngf=4, n_down=1, n_blocks=1, norm="instance") for _ in range(2)]
    d = [PatchGANDiscriminator(1, ndf=4, n_layers=1, norm="instance") for _ in range(2)]
    return g[0], g[1], d[0], d[1]


def make_trainer(steps, **kw):
    a, b = domains()
    cfg = TrainConfig(steps=steps, batch_size=8, loss="lsgan", lr_g=2e-3, lr_d=2e-3, progress=False,
                      n_samples=4, sample_every=10**6, **kw.pop("cfg", {}))
    return C.CycleGANTrainer(*nets(), Unpaired(A=a, B=b), cfg, device="cpu", **kw)


def test_trainer_registers_four_networks_and_logs_every_term():
    t = make_trainer(15, buffer_size=10)
    assert set(t.networks) == {"netG", "netD", "netG_BA", "netD_A"}
    assert [g["network"] for g in t.optG.param_groups] == ["netG", "netG_BA"]
    assert [g["network"] for g in t.optD.param_groups] == ["netD", "netD_A"]
    h = t.fit()
    for key in ("cycle", "identity", "adv_G", "loss_D_A", "loss_D_B"):
        assert len(h[key]) == 15, key
    assert h["cycle"][-1] < h["cycle"][0]
    assert len(t.buffer_A) == len(t.buffer_B) == 10
    step, snap = t.snapshots[-1]
    assert step == 15 and snap.shape == (8, 1, 8, 8)                   # 4 A->B, then 4 B->A


def test_ablation_switches_remove_their_terms():
    h = make_trainer(3, cycle_weight=0.0).fit()
    assert "cycle" not in h and "identity" not in h                    # λ_id is a share of λ
    h = make_trainer(3, identity_weight=0.0).fit()
    assert "cycle" in h and "identity" not in h


class Copy(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(()))

    def forward(self, x):
        return self.w * x


class Const(nn.Module):
    """Scores every pixel ``value``."""

    def __init__(self, value):
        super().__init__()
        self.value = nn.Parameter(torch.tensor(float(value)))

    def forward(self, x):
        return self.value + 0 * x


def test_losses_by_hand_with_identity_generators():
    """G = F = identity: cycle and identity losses vanish; with D scoring 0 the paper's
    least-squares G term is (0 - 1)² per direction, and each D's loss is ½ (0 - 1)² + ½ 0²."""
    a, b = domains()
    t = C.CycleGANTrainer(Copy(), Copy(), Const(0.0), Const(0.0), Unpaired(A=a, B=b),
                          TrainConfig(steps=1, batch_size=8, loss="lsgan", progress=False), device="cpu")
    bt = next(t.batches)
    fake = t.generate(bt)
    assert torch.equal(fake["AB"], bt["A"]) and torch.equal(fake["BA"], bt["B"])
    assert math.isclose(t.generator_loss(bt, fake).item(), 2.0, rel_tol=1e-6)
    loss_D, r, f = t.discriminator_loss(bt, {k: v.detach() for k, v in fake.items()})
    assert math.isclose(loss_D.item(), 2 * 0.5, rel_tol=1e-6)
    assert r.shape == f.shape == (2 * 8 * 8 * 8,)                        # both D's score maps, flat


def test_cycle_term_by_hand():
    """G doubles, F is the identity: |F(G(a)) - a| = |a|, |G(F(b)) - b| = |b|; identity terms
    |G(b) - b| = |b| and |F(a) - a| = 0."""
    a, b = domains()
    g = Copy()
    with torch.no_grad():
        g.w.fill_(2.0)
    t = C.CycleGANTrainer(g, Copy(), Const(1.0), Const(1.0), Unpaired(A=a, B=b),
                          TrainConfig(steps=1, batch_size=8, loss="lsgan", progress=False), device="cpu",
                          cycle_weight=10.0, identity_weight=0.5)
    bt = next(t.batches)
    fake = t.generate(bt)
    cycle = bt["A"].abs().mean() + bt["B"].abs().mean()
    identity = bt["B"].abs().mean()
    expected = 0.0 + 10.0 * cycle + 0.5 * 10.0 * identity              # D scores 1: no adversarial loss
    assert math.isclose(t.generator_loss(bt, fake).item(), expected.item(), rel_tol=1e-5)


def test_trainer_refusals():
    a, b = domains()
    cfg = TrainConfig(steps=1, batch_size=8, loss="lsgan", progress=False)
    with pytest.raises(ValueError, match="needs Unpaired\\(A=..., B=...\\)"):
        C.CycleGANTrainer(*nets(), Paired(input=a, target=a), cfg)
    with pytest.raises(ValueError, match="exactly the two domains"):
        C.CycleGANTrainer(*nets(), Unpaired(A=a, C=b), cfg)
    with pytest.raises(ValueError, match="cycle_weight must be a finite number"):
        C.CycleGANTrainer(*nets(), Unpaired(A=a, B=b), cfg, cycle_weight=-1)
    colour = torch.rand(20, 3, 8, 8)
    with pytest.raises(ValueError, match="use identity_weight=0"):
        C.CycleGANTrainer(*nets(), Unpaired(A=a, B=colour), cfg)
    with pytest.raises(ValueError, match="separable loss pair"):
        C.CycleGANTrainer(*nets(), Unpaired(A=a, B=b), TrainConfig(steps=1, batch_size=8, loss="ragan"))


def test_trainer_resumes_bit_exactly_with_its_buffers(tmp_path):
    straight = make_trainer(8, buffer_size=6)
    straight.fit()

    class Crash(RuntimeError):
        pass

    def crash(trainer, event):
        if event == "log" and trainer.step == 5:
            raise Crash

    path = tmp_path / "cycle.pt"
    crashed = make_trainer(8, buffer_size=6, cfg={"checkpoint_every": 1}, checkpoint=path, callbacks=[crash])
    with pytest.raises(Crash):
        crashed.fit()
    resumed = make_trainer(8, buffer_size=6, checkpoint=path)
    resumed.fit()
    for name in straight.networks:
        for p, q in zip(straight.networks[name].state_dict().values(),
                        resumed.networks[name].state_dict().values()):
            assert torch.equal(p, q), name
    assert all(torch.equal(x, y) for x, y in zip(straight.buffer_B.images, resumed.buffer_B.images))
    state = torch.load(path, weights_only=True)
    assert state["extra"]["buffer_A"]["images"].shape == (6, 1, 8, 8)


# ----------------------------------------------------------------------------- measuring
def test_label_preservation_and_cycle_error():
    torch.manual_seed(0)
    judge = Classifier(1, 10).eval()
    x = torch.rand(30, 1, 28, 28) * 2 - 1
    y = torch.randint(0, 10, (30,))
    assert C.label_preservation(Copy(), x, y, judge) == accuracy(judge, x, y)
    assert C.cycle_error(Copy(), Copy(), x) == 0.0
    half = Copy()
    with torch.no_grad():
        half.w.fill_(0.5)
    assert math.isclose(C.cycle_error(half, Copy(), x), 0.5 * x.abs().mean().item(), rel_tol=1e-5)
    with pytest.raises(ValueError, match="30 images but 2 labels"):
        C.label_preservation(Copy(), x, y[:2], judge)
