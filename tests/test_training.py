import pytest
import torch
from torch import nn

from gancourse import data
from gancourse.models import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator
from gancourse.training import (
    CheckpointError,
    GANTrainer,
    NonFiniteLossError,
    Paired,
    RealBatches,
    TrainConfig,
    Unpaired,
    train_gan,
)


def toy_models(seed=0):
    torch.manual_seed(seed)
    return (MLPGenerator(2, 2, hidden=(32, 32), out_activation=None),
            MLPDiscriminator(2, hidden=(32, 32)))


def cfg(**kw):
    base = dict(steps=6, batch_size=32, z_dim=2, progress=False, n_samples=16, lr_g=1e-3, lr_d=1e-3)
    return TrainConfig(**{**base, **kw})


def test_history_snapshots_and_learning_on_a_toy():
    """On a 1-mode toy the non-saturating GAN moves samples towards the data."""
    target = data.GaussianMixture([[2.0, 2.0]], 0.1)
    netG, netD = toy_models()
    trainer = GANTrainer(netG, netD, target, cfg(steps=300, sample_every=100), device="cpu")
    start = trainer.sample(500, seed=0).mean(0)
    history = trainer.fit()
    end = trainer.sample(500, seed=0).mean(0)
    assert set(history) >= {"step", "loss_D", "loss_G", "D_real", "D_fake", "grad_norm_D",
                            "grad_norm_G", "time_s"}
    assert history["step"][-1] == 300 and len(history["loss_D"]) == 300
    assert [s for s, _ in trainer.snapshots] == [0, 100, 200, 300]
    assert trainer.snapshots[0][1].shape == (16, 2)
    assert (end - torch.tensor([2.0, 2.0])).norm() < 0.5 * (start - torch.tensor([2.0, 2.0])).norm()
    assert all(0 <= v <= 1 for v in history["D_real"])   # sigmoid losses report probabilities


def test_log_every_averages():
    netG, netD = toy_models()
    trainer = GANTrainer(netG, netD, data.ring8(), cfg(steps=10, log_every=4), device="cpu")
    h = trainer.fit()
    assert h["step"] == [4, 8, 10]


@pytest.mark.parametrize("loss,penalty,clip,n_critic", [
    ("wgan", "gp", None, 3), ("wgan", None, 0.01, 5), ("hinge", "r1", None, 1),
    ("lsgan", "dragan", None, 2), ("minimax", None, None, 1)])
def test_variants_run(loss, penalty, clip, n_critic):
    netG, netD = toy_models()
    trainer = GANTrainer(netG, netD, data.ring8(), cfg(loss=loss, penalty=penalty, clip=clip,
                                                        n_critic=n_critic, optimizer="rmsprop"
                                                        if clip else "adam"), device="cpu")
    h = trainer.fit()
    assert len(h["loss_D"]) == 6
    if penalty:
        assert len(h["penalty"]) == 6 and all(v >= 0 for v in h["penalty_grad_norm"])
    if clip:
        assert all(p.abs().max() <= clip + 1e-9 for p in netD.parameters())


def test_n_critic_counts_discriminator_updates():
    netG, netD = toy_models()
    trainer = GANTrainer(netG, netD, data.ring8(), cfg(steps=4, n_critic=3), device="cpu")
    trainer.fit()
    assert trainer.optD.state_dict()["state"][0]["step"].item() == 12
    assert trainer.optG.state_dict()["state"][0]["step"].item() == 4


def test_ema_generator_is_a_moving_average():
    netG, netD = toy_models()
    trainer = GANTrainer(netG, netD, data.ring8(), cfg(steps=1, ema=0.9), device="cpu")
    before = [p.clone() for p in trainer.netG_ema.parameters()]
    trainer.fit()
    for b, e, p in zip(before, trainer.netG_ema.parameters(), netG.parameters()):
        assert torch.allclose(e, 0.9 * b + 0.1 * p, atol=1e-6)
    assert not all(torch.equal(e, p) for e, p in zip(trainer.netG_ema.parameters(), netG.parameters()))


def test_bf16_autocast_and_compile_paths_on_cpu(tmp_path):
    """The CUDA fast paths also run (or at least wrap correctly) on a CPU."""
    netG, netD = toy_models()
    trainer = GANTrainer(netG, netD, data.ring8(), cfg(steps=2, amp=True), device="cpu")
    assert trainer.amp is True
    assert torch.isfinite(torch.tensor(trainer.fit()["loss_D"])).all()
    compiled = GANTrainer(*toy_models(), data.ring8(), cfg(compile=True), device="cpu")
    assert compiled.G is not compiled.netG and hasattr(compiled.G, "_orig_mod")
    assert "net.0.weight" in compiled.state_dict()["networks"]["netG"]  # checkpoints hold plain modules


class CondG(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.net = nn.Embedding(10, 4), MLPGenerator(6, (1, 28, 28), hidden=(16,))

    def forward(self, z, y):
        return self.net(torch.cat([z, self.emb(y)], 1))


class CondD(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.net = nn.Embedding(10, 4), MLPDiscriminator(28 * 28 + 4, hidden=(16,))

    def forward(self, x, y):
        return self.net(torch.cat([x.flatten(1), self.emb(y)], 1))


def test_conditional_training_and_sampling():
    ds = data.load("digits")
    trainer = GANTrainer(CondG(), CondD(), ds, cfg(steps=2, penalty="gp", n_samples=20),
                         device="cpu", num_classes=10)
    trainer.fit()
    assert trainer.fixed_y.tolist() == [i % 10 for i in range(20)]
    assert trainer.sample(7, labels=torch.full((7,), 3)).shape == (7, 1, 28, 28)


def test_dcgan_on_digits_one_step():
    ds = data.load("digits")
    netG, netD = DCGANGenerator(16, 1, 28, ngf=8), DCGANDiscriminator(1, 28, ndf=8)
    h = train_gan(netG, netD, ds, steps=2, batch_size=16, z_dim=16, progress=False, device="cpu")
    assert h.history["step"] == [1, 2]
    assert h.sample().shape == (64, 1, 28, 28)


def test_checkpoint_resume_matches_an_uninterrupted_run(tmp_path):
    ds = data.load("digits")
    config = cfg(steps=6, z_dim=8, batch_size=16)

    def models():
        torch.manual_seed(0)
        return MLPGenerator(8, (1, 28, 28), hidden=(32,)), MLPDiscriminator((1, 28, 28), hidden=(32,))

    straight = GANTrainer(*models(), ds, config, device="cpu")
    straight.fit()

    first = GANTrainer(*models(), ds, cfg(steps=3, z_dim=8, batch_size=16), device="cpu",
                       checkpoint=tmp_path / "run.pt")
    first.fit()
    assert (tmp_path / "run.pt").exists() and not list(tmp_path.glob("*.tmp"))
    resumed = GANTrainer(*models(), ds, config, device="cpu", checkpoint=tmp_path / "run.pt")
    resumed.fit()
    assert resumed.step == 6 and resumed.history["step"] == straight.history["step"]
    for a, b in zip(straight.netG.parameters(), resumed.netG.parameters()):
        assert torch.allclose(a, b, atol=1e-6)
    assert resumed.history["loss_D"] == pytest.approx(straight.history["loss_D"], rel=1e-5)


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"this is not a checkpoint")
    trainer = GANTrainer(*toy_models(), data.ring8(), cfg(), device="cpu", checkpoint=bad)
    with pytest.raises(CheckpointError, match="corrupt or unreadable.*delete it"):
        trainer.fit()
    torch.save({"weights": torch.ones(1)}, bad)
    with pytest.raises(CheckpointError, match="not a gancourse training checkpoint"):
        trainer.fit()
    # truncated file, as after a crash of a non-atomic writer
    good = tmp_path / "good.pt"
    GANTrainer(*toy_models(), data.ring8(), cfg(steps=1), device="cpu", checkpoint=good).fit()
    bad.write_bytes(good.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="corrupt"):
        trainer.fit()


def test_mismatched_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "run.pt"
    GANTrainer(*toy_models(), data.ring8(), cfg(steps=1), device="cpu", checkpoint=path).fit()
    other_loss = GANTrainer(*toy_models(), data.ring8(), cfg(loss="hinge"), device="cpu", checkpoint=path)
    with pytest.raises(CheckpointError, match="different config.*loss: checkpoint 'ns' vs now 'hinge'"):
        other_loss.fit()
    wider = GANTrainer(MLPGenerator(2, 2, hidden=(64,), out_activation=None), MLPDiscriminator(2),
                       data.ring8(), cfg(), device="cpu", checkpoint=path)
    with pytest.raises(CheckpointError, match="does not fit these models"):
        wider.fit()
    # starting over is always possible
    assert GANTrainer(*toy_models(), data.ring8(), cfg(loss="hinge"), device="cpu",
                      checkpoint=path).fit(resume=False)["step"][-1] == 6


def test_non_finite_loss_stops_with_step_and_loss_named():
    class Explodes(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 1)
            self.calls = 0

        def forward(self, x):
            self.calls += 1
            out = self.lin(x).squeeze(1)
            return out * float("nan") if self.calls > 7 else out

    netG, _ = toy_models()
    trainer = GANTrainer(netG, Explodes(), data.ring8(), cfg(loss="wgan", steps=10), device="cpu")
    # each step calls D three times (real, fake, then fake for G): call 8 is step 3's D step
    with pytest.raises(NonFiniteLossError, match="loss_D became nan at step 3"):
        trainer.fit()


def test_config_validation():
    with pytest.raises(ValueError, match="valid losses"):
        TrainConfig(loss="bce")
    with pytest.raises(ValueError, match="valid penalties"):
        TrainConfig(penalty="l2")
    with pytest.raises(ValueError, match="n_critic must be >= 1"):
        TrainConfig(n_critic=0)
    with pytest.raises(ValueError, match="valid: adam, rmsprop"):
        TrainConfig(optimizer="sgd")


def test_real_batches_sources():
    dev = torch.device("cpu")
    b = next(RealBatches(torch.arange(10.0)[:, None], 4, dev))
    assert b.x.shape == (4, 1) and b.y is None and set(b) == {"x"}
    b = next(RealBatches(lambda n: (torch.zeros(n, 2), torch.ones(n)), 3, dev))
    assert b.x.shape == (3, 2) and b.y.shape == (3,)
    batches = RealBatches([torch.zeros(2, 2), torch.ones(2, 2)], 2, dev)
    seen = [next(batches).x[0, 0].item() for _ in range(3)]
    assert seen == [0.0, 1.0, 0.0]                           # iterables are cycled
    # an epoch visits every example once
    rb = RealBatches(torch.arange(12.0), 4, dev, seed=1)
    epoch = torch.cat([next(rb).x for _ in range(3)])
    assert sorted(epoch.tolist()) == list(range(12))
    with pytest.raises(TypeError, match="cannot draw batches"):
        RealBatches(3, 2, dev)
    with pytest.raises(ValueError, match="exceeds"):
        RealBatches(torch.zeros(3, 2), 4, dev)
    with pytest.raises(KeyError, match="no 'target'; it holds x"):
        _ = next(RealBatches(torch.zeros(4, 2), 2, dev))["target"]


def test_paired_batches_keep_pairs_aligned_and_unpaired_draw_independently():
    dev = torch.device("cpu")
    a = torch.arange(20.0)[:, None]
    paired = RealBatches(Paired(input=a, target=-a), 5, dev, seed=3)
    for _ in range(6):                                        # across an epoch boundary
        b = next(paired)
        assert set(b) == {"input", "target"} and torch.equal(b["target"], -b["input"])
    with pytest.raises(ValueError, match="same length"):
        Paired(input=a, target=a[:5])
    unpaired = RealBatches(Unpaired(A=a, B=100 + a), 5, dev, seed=3)
    b = next(unpaired)
    assert set(b) == {"A", "B"} and not torch.equal(b["B"] - 100, b["A"])   # shuffled separately
    assert (b["B"] >= 100).all() and (b["A"] < 100).all()
    labelled = RealBatches(Unpaired(A=data.load("digits"), B=a), 4, dev)
    assert set(next(labelled)) == {"A", "A_y", "B"}
    with pytest.raises(ValueError, match="at least two"):
        Unpaired(A=a)


def test_real_batches_state_resumes_the_same_draws():
    dev = torch.device("cpu")
    for source in (torch.arange(12.0)[:, None], data.ring8(), Unpaired(A=torch.arange(9.0), B=data.ring8())):
        rb = RealBatches(source, 4, dev, seed=5)
        next(rb)
        state = rb.state()
        expected = [next(rb) for _ in range(4)]
        again = RealBatches(source, 4, dev, seed=99)
        again.load_state(state)
        for want, got in zip(expected, (next(again) for _ in range(4))):
            assert all(torch.equal(want[k], got[k]) for k in want)


def test_channels_last_and_amp_flags_off_on_cpu():
    netG, netD = DCGANGenerator(8, 1, 28, 8), DCGANDiscriminator(1, 28, 8)
    trainer = GANTrainer(netG, netD, data.load("digits"), cfg(z_dim=8), device="cpu")
    assert trainer.amp is False and trainer.channels_last is False
    forced = GANTrainer(DCGANGenerator(8, 1, 28, 8), DCGANDiscriminator(1, 28, 8), data.load("digits"),
                        cfg(z_dim=8, steps=1, channels_last=True), device="cpu")
    forced.fit()
    assert forced.netD.features[0].weight.is_contiguous(memory_format=torch.channels_last)


def test_loss_hooks_define_a_variant():
    """A subclass that overrides discriminator_loss / generator_loss is what fit() trains:
    here D is trained to score reals -1 and fakes +1 (least squares with swapped targets), and
    G to push its scores to +1, so after training D scores reals below fakes."""
    calls = {"d": 0, "g": 0}

    class Swapped(GANTrainer):
        def discriminator_loss(self, batch, fake):
            calls["d"] += 1
            r, f = self.D(batch.x), self.D(fake)
            self._log(extra=r.mean())
            return ((r + 1) ** 2).mean() + ((f - 1) ** 2).mean(), r, f

        def generator_loss(self, batch, fake):
            calls["g"] += 1
            return ((self.D(fake) - 1) ** 2).mean()

    netG, netD = toy_models()
    trainer = Swapped(netG, netD, data.ring8(), cfg(steps=60, n_critic=2), device="cpu")
    h = trainer.fit()
    assert calls == {"d": 120, "g": 60}
    assert "extra" in h and len(h["extra"]) == 60
    assert h["D_real"][-1] < h["D_fake"][-1]



def test_lr_decay_schedule_and_validation():
    trainer = GANTrainer(*toy_models(), data.ring8(), cfg(steps=10, lr_decay=0.5), device="cpu")
    # constant for the first half, then (steps - step) / 5: 1.0 at step 5, 0.2 at step 9
    assert [trainer.lr_factor(s) for s in (0, 4, 5, 7, 9)] == pytest.approx([1, 1, 1, 0.6, 0.2])
    seen = []
    trainer.callbacks.append(lambda t, event: seen.append(t.optG.param_groups[0]["lr"]))
    trainer.fit()
    # the log callback runs after step s+1 with the lr that step s used
    assert seen[0] == pytest.approx(1e-3) and seen[-1] == pytest.approx(0.2e-3)
    assert trainer.optD.param_groups[0]["lr"] == pytest.approx(0.2e-3)
    flat = GANTrainer(*toy_models(), data.ring8(), cfg(steps=10), device="cpu")
    assert flat.lr_factor(9) == 1.0
    with pytest.raises(ValueError, match="lr_decay must be in"):
        cfg(lr_decay=1.5)


def test_resume_with_lr_decay_matches_an_uninterrupted_run(tmp_path):
    config = cfg(steps=8, lr_decay=0.75)
    straight = GANTrainer(*toy_models(), data.ring8(), config, device="cpu")
    straight.fit()

    class Crash(RuntimeError):
        pass

    def crash_at_5(trainer, event):
        if event == "log" and trainer.step == 5:
            raise Crash

    path = tmp_path / "run.pt"
    crashed = GANTrainer(*toy_models(), data.ring8(), cfg(steps=8, lr_decay=0.75, checkpoint_every=1),
                         device="cpu", checkpoint=path, callbacks=[crash_at_5])
    with pytest.raises(Crash):
        crashed.fit()
    resumed = GANTrainer(*toy_models(), data.ring8(), config, device="cpu", checkpoint=path)
    resumed.fit()
    assert resumed.step == 8
    for a, b in zip(straight.netG.parameters(), resumed.netG.parameters()):
        assert torch.allclose(a, b, atol=1e-6)


def test_checkpoint_from_before_a_new_config_field_still_loads(tmp_path):
    path = tmp_path / "old.pt"
    old = GANTrainer(*toy_models(), data.ring8(), cfg(steps=2), device="cpu", checkpoint=path)
    old.fit()
    state = torch.load(path, weights_only=True)
    del state["config"]["lr_decay"]                     # as written before lr_decay existed
    torch.save(state, path)
    again = GANTrainer(*toy_models(), data.ring8(), cfg(steps=4), device="cpu", checkpoint=path)
    assert again.fit()["step"][-1] == 4
