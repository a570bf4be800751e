"""ProGAN (notebook 22): pixel norm, the equalised learning rate (equal per-layer steps), the
growing networks and their fade-in, the growth schedule and the trainer that keeps it as state."""

import math

import pytest
import torch
import torch.nn.functional as F

from gancourse.gans.collapse import MinibatchStdDev
from gancourse.gans.progan import (
    EqualizedConv2d,
    EqualizedLinear,
    GrowthSchedule,
    PixelNorm,
    ProDiscriminator,
    ProGANTrainer,
    ProGenerator,
    channels_at,
    downscale,
    effective_step_sizes,
    fd_ratio,
    real_at,
    resolutions,
    sample_at,
    scaled_layers,
    to_judge,
)
from gancourse.training import TrainConfig


def small_nets(max_res=16, seed=0, **kw):
    torch.manual_seed(seed)
    G = ProGenerator(z_dim=8, max_resolution=max_res, fmap_base=64, fmap_max=16, **kw)
    D = ProDiscriminator(max_resolution=max_res, fmap_base=64, fmap_max=16)
    return G, D


# ----------------------------------------------------------------------------- layers
def test_pixel_norm_gives_unit_mean_square_per_pixel():
    x = torch.randn(3, 5, 4, 4) * torch.tensor([0.1, 1, 10, 3, 7]).view(1, 5, 1, 1)
    y = PixelNorm()(x)
    assert y.shape == x.shape
    assert torch.allclose(y.pow(2).mean(1), torch.ones(3, 4, 4), atol=1e-5)
    assert torch.allclose(PixelNorm()(torch.randn(6, 9)).pow(2).mean(1), torch.ones(6), atol=1e-5)
    # scale invariant: b(k a) = b(a)
    assert torch.allclose(PixelNorm()(5 * x), y, atol=1e-5)
    with pytest.raises(ValueError, match="pixel norm needs features"):
        PixelNorm()(torch.randn(4))


def test_equalized_layers_store_unit_weights_and_scale_them_at_run_time():
    torch.manual_seed(0)
    conv = EqualizedConv2d(64, 32, 3, padding=1)
    lin = EqualizedLinear(400, 100, gain=1.0)
    assert math.isclose(conv.scale, math.sqrt(2) / math.sqrt(64 * 9))
    assert math.isclose(lin.scale, 1 / 20)
    assert abs(conv.weight.std().item() - 1) < 0.05                       # ŵ ~ N(0, 1)
    x = torch.randn(2, 64, 5, 5)
    assert torch.allclose(conv(x), F.conv2d(x, conv.weight * conv.scale, conv.bias, padding=1))
    # the ordinary parametrisation starts from the same distribution of applied weights (He)
    plain = EqualizedConv2d(64, 32, 3, padding=1, equalized=False)
    assert plain.scale == 1.0
    assert abs(plain.effective_weight().std().item() / conv.effective_weight().std().item() - 1) < 0.05
    with pytest.raises(ValueError, match="fan-in"):
        EqualizedLinear(0, 3)


def _toy_loss(net):
    torch.manual_seed(1)
    return net(torch.randn(16, net.z_dim)).pow(2).mean()


def test_equalised_learning_rate_makes_per_layer_steps_equal():
    """One Adam step moves every stored weight by lr·sign(g); with w = c·ŵ every layer's applied
    weights then move by lr in units of their scale c, whatever c; without it by lr / c."""
    lr = 1e-3
    torch.manual_seed(0)
    eq = ProGenerator(z_dim=32, max_resolution=16, fmap_base=256, fmap_max=64)
    torch.manual_seed(0)
    plain = ProGenerator(z_dim=32, max_resolution=16, fmap_base=256, fmap_max=64, equalized=False)
    before = [p.clone() for p in eq.parameters()]
    steps_eq = effective_step_sizes(eq, _toy_loss, lr=lr)
    steps_plain = effective_step_sizes(plain, _toy_loss, lr=lr)
    assert all(torch.equal(p, q) for p, q in zip(before, eq.parameters()))   # net untouched
    layers = scaled_layers(plain)
    # every layer of the current (16 px) path; the lower resolutions' toRGB get no gradient
    assert set(steps_eq) == set(steps_plain) == set(layers) - {"to_rgb.0", "to_rgb.1"}
    assert len(steps_eq) >= 6
    for name, value in steps_eq.items():
        assert value == pytest.approx(lr, rel=0.01), name                 # all equal: lr
    for name, value in steps_plain.items():                              # the ordinary one
        c = layers[name].gain / math.sqrt(layers[name].fan_in)
        assert value == pytest.approx(lr / c, rel=0.01), name             # ∝ 1 / c
    spread_eq = max(steps_eq.values()) / min(steps_eq.values())
    spread_plain = max(steps_plain.values()) / min(steps_plain.values())
    assert spread_eq < 1.02 and spread_plain > 3
    with pytest.raises(ValueError, match="lr > 0"):
        effective_step_sizes(eq, _toy_loss, lr=0)
    with pytest.raises(ValueError, match="no EqualizedLinear"):
        effective_step_sizes(torch.nn.Linear(2, 2), lambda n: n.weight.sum())


# ----------------------------------------------------------------------------- networks
def test_resolutions_and_widths():
    assert resolutions(32) == [4, 8, 16, 32]
    assert resolutions(4) == [4]
    assert [channels_at(r, 1024, 128) for r in (4, 8, 16, 32, 64)] == [128, 128, 64, 32, 16]
    with pytest.raises(ValueError, match="power of two"):
        resolutions(24)


@pytest.mark.parametrize("res,alpha", [(4, 1.0), (8, 0.0), (8, 0.3), (16, 0.7), (16, 1.0)])
def test_networks_work_at_every_phase(res, alpha):
    G, D = small_nets()
    G.set_phase(res, alpha)
    D.set_phase(res, alpha)
    x = G(torch.randn(8, 8))
    assert x.shape == (8, 1, res, res) and x.abs().max() <= 1
    assert D(x).shape == (8,)


def test_phase_and_input_errors():
    G, D = small_nets()
    with pytest.raises(ValueError, match="not one of"):
        G.set_phase(32)
    with pytest.raises(ValueError, match="alpha must lie"):
        D.set_phase(8, 1.5)
    with pytest.raises(ValueError, match="nothing to fade in"):
        G.set_phase(4, 0.5)
    D.set_phase(8)
    with pytest.raises(ValueError, match="at resolution 8 expects"):
        D(torch.randn(4, 1, 16, 16))
    with pytest.raises(ValueError, match="z of shape"):
        G(torch.randn(4, 3))
    with pytest.raises(ValueError, match="convs_per_block"):
        ProGenerator(convs_per_block=3)


@pytest.mark.parametrize("convs", [1, 2])
def test_fade_in_starts_exactly_where_the_smaller_networks_were(convs):
    """At α = 0 the grown G outputs the upsampled old image and the grown D scores the
    downscaled input as the old D did: growing changes nothing until α moves."""
    G, D = small_nets(convs_per_block=convs)
    z = torch.randn(8, 8)
    x = torch.rand(8, 1, 16, 16) * 2 - 1
    for res in (8, 16):
        G.set_phase(res // 2, 1.0)
        D.set_phase(res // 2, 1.0)
        old_img, old_score = G(z), D(downscale(x, res // 2))
        G.set_phase(res, 0.0)
        D.set_phase(res, 0.0)
        assert torch.allclose(G(z), F.interpolate(old_img, scale_factor=2, mode="nearest"), atol=1e-6)
        assert torch.allclose(D(downscale(x, res)), old_score, atol=1e-5)
        G.set_phase(res, 1.0)
        assert not torch.allclose(G(z), F.interpolate(old_img, scale_factor=2, mode="nearest"), atol=1e-3)


def test_discriminator_ends_with_minibatch_stddev():
    _, D = small_nets()
    assert isinstance(D.mbstd, MinibatchStdDev)
    same = torch.zeros(8, 1, 16, 16)
    h = D.mbstd(torch.zeros(8, 16, 4, 4))
    assert h.shape == (8, 17, 4, 4) and h[:, -1].abs().max() < 1e-3          # a collapsed batch: s ≈ 0
    assert D(same).shape == (8,)


# ----------------------------------------------------------------------------- images
def test_real_images_follow_the_phase():
    x = torch.rand(4, 1, 16, 16) * 2 - 1
    assert torch.allclose(real_at(x, 16, 1.0), x)
    assert torch.allclose(real_at(x, 8, 1.0), F.avg_pool2d(x, 2))
    low = F.interpolate(F.avg_pool2d(x, 2), scale_factor=2, mode="nearest")
    assert torch.allclose(real_at(x, 16, 0.0), low)
    assert torch.allclose(real_at(x, 16, 0.25), 0.75 * low + 0.25 * x, atol=1e-6)
    assert to_judge(real_at(x, 4), 32).shape == (4, 1, 32, 32)
    with pytest.raises(ValueError, match="must divide"):
        downscale(x, 32)


# ----------------------------------------------------------------------------- schedule
def test_growth_schedule_phases():
    s = GrowthSchedule(16, stable_steps=(3, 2, 4), fade_steps=4)
    assert s.stages() == [(4, 0, 3, 0), (8, 3, 9, 4), (16, 9, 17, 4)]
    assert s.total_steps == 17
    assert [s.phase(t) for t in (0, 2, 3, 4, 6, 7, 8, 9, 12, 13, 16, 99)] == [
        (4, 1.0), (4, 1.0), (8, 0.0), (8, 0.25), (8, 0.75), (8, 1.0), (8, 1.0), (16, 0.0),
        (16, 0.75), (16, 1.0), (16, 1.0), (16, 1.0)]
    assert s.stage_end(8) == 9
    no_fade = GrowthSchedule(16, stable_steps=5, fade_steps=0)
    assert no_fade.stable_steps == (5, 5, 5) and no_fade.phase(5) == (8, 1.0)
    mixed = GrowthSchedule(16, stable_steps=(3, 2, 4), fade_steps=(4, 0))      # fade to 8, not to 16
    assert mixed.stages()[:2] == s.stages()[:2] and mixed.phase(9) == (16, 1.0)
    assert mixed.total_steps == 13
    with pytest.raises(ValueError, match="one entry per resolution"):
        GrowthSchedule(16, stable_steps=(1, 2))
    with pytest.raises(ValueError, match="one\nper resolution after the first|per resolution after"):
        GrowthSchedule(16, fade_steps=(1, 2, 3))
    with pytest.raises(ValueError, match="fade_steps >= 0"):
        GrowthSchedule(16, fade_steps=-1)
    with pytest.raises(ValueError, match="not in the schedule"):
        s.stage_end(32)


# ----------------------------------------------------------------------------- trainer
def make_trainer(steps_cfg=None, ema=None, **kw):
    G, D = small_nets()
    sched = GrowthSchedule(16, stable_steps=(2, 2, 3), fade_steps=3)
    g = torch.Generator().manual_seed(0)
    data = torch.rand(64, 1, 16, 16, generator=g) * 2 - 1
    config = TrainConfig(steps=sched.total_steps, batch_size=8, z_dim=8, lr_g=1e-3, lr_d=1e-3,
                         betas=(0.0, 0.99), ema=ema, n_samples=8, progress=False,
                         **(steps_cfg or {}))
    return ProGANTrainer(G, D, data, config, sched, device="cpu", **kw)


def test_trainer_grows_through_every_resolution():
    tr = make_trainer(steps_cfg={"sample_every": 1})
    seen = []
    tr.callbacks.append(lambda t, ev: seen.append((t.step, t.resolution, round(t.alpha, 3)))
                        if ev == "log" else None)
    tr.fit()
    assert seen[:3] == [(1, 4, 1.0), (2, 4, 1.0), (3, 8, 0.0)]
    assert (9, 16, 0.333) in seen and seen[-1] == (13, 16, 1.0)
    assert sorted(tr.stage_generators) == [4, 8, 16]
    assert all(x.shape == (8, 1, 16, 16) for _, x in tr.snapshots)          # upsampled to 16 px
    g8 = tr.generator_at(8)
    assert (g8.resolution, g8.alpha) == (8, 1.0)
    assert sample_at(g8, 5).shape == (5, 1, 8, 8)
    assert tr.netG.resolution == tr.netD.resolution == 16
    with pytest.raises(ValueError, match="no generator kept"):
        make_trainer().generator_at(8)


def test_trainer_checks_its_schedule():
    G, D = small_nets()
    sched = GrowthSchedule(16, stable_steps=2, fade_steps=2)
    data = torch.zeros(16, 1, 16, 16)
    with pytest.raises(ValueError, match="exceeds the schedule"):
        ProGANTrainer(G, D, data, TrainConfig(steps=11, batch_size=8, z_dim=8), sched, device="cpu")
    with pytest.raises(ValueError, match="grows through"):
        ProGANTrainer(G, D, data, TrainConfig(steps=18, batch_size=8, z_dim=8),
                      GrowthSchedule(32, stable_steps=2, fade_steps=2), device="cpu")
    with pytest.raises(TypeError, match="ProGenerator"):
        ProGANTrainer(torch.nn.Linear(2, 2), D, data, TrainConfig(steps=10, batch_size=8, z_dim=8),
                      sched, device="cpu")
    tr = make_trainer()
    with pytest.raises(ValueError, match="no ProGAN phase"):
        tr.load_extra_state({})


def _crash_at(step):
    class Crash(RuntimeError):
        pass

    def cb(trainer, event):
        if event == "log" and trainer.step == step:
            raise Crash

    return Crash, cb


@pytest.mark.parametrize("crash_step", [4, 9])            # mid-fade to 8 px, mid-fade to 16 px
def test_resume_is_exact_across_growth(tmp_path, crash_step):
    straight = make_trainer(ema=0.9)
    straight.fit()
    path = tmp_path / "progan.pt"
    crash, cb = _crash_at(crash_step)
    crashed = make_trainer(ema=0.9, steps_cfg={"checkpoint_every": 1}, checkpoint=path, callbacks=[cb])
    with pytest.raises(crash):
        crashed.fit()
    state = torch.load(path, weights_only=True)                  # written after step crash_step - 1
    assert state["step"] == crash_step - 1
    assert (state["extra"]["resolution"], state["extra"]["alpha"]) == crashed.schedule.phase(crash_step - 2)
    resumed = make_trainer(ema=0.9, checkpoint=path)
    resumed.fit()
    assert resumed.step == straight.step == 13
    for name in straight.networks:
        for (k, p), q in zip(straight.networks[name].state_dict().items(),
                             resumed.networks[name].state_dict().values()):
            assert torch.equal(p, q), (name, k)
    for p, q in zip(straight.netG_ema.parameters(), resumed.netG_ema.parameters()):
        assert torch.equal(p, q)
    assert straight.history["loss_D"] == resumed.history["loss_D"]
    assert sorted(resumed.stage_generators) == [4, 8, 16]
    for r in (4, 8, 16):
        for k, v in straight.stage_generators[r].items():
            assert torch.equal(v, resumed.stage_generators[r][k]), (r, k)


def test_a_branch_without_fade_in_resumes_from_the_same_checkpoint(tmp_path):
    """The ablation of notebook 22: the same state at the end of the 8 px stage, then 16 px
    switched on at once (fade 0, as many steps) instead of faded in."""
    path = tmp_path / "at8.pt"
    main = make_trainer()
    end8 = main.schedule.stage_end(8)
    main.callbacks.append(lambda t, ev: t.save_checkpoint(path) if ev == "log" and t.step == end8 else None)
    main.fit()
    G, D = small_nets(seed=5)                                      # other weights: the checkpoint wins
    s = main.schedule
    branch_sched = GrowthSchedule(16, stable_steps=(2, 2, 3 + 3), fade_steps=(3, 0))
    assert branch_sched.stage_end(8) == end8 and branch_sched.total_steps == s.total_steps
    data = torch.rand(64, 1, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    config = TrainConfig(steps=s.total_steps, batch_size=8, z_dim=8, lr_g=1e-3, lr_d=1e-3,
                         betas=(0.0, 0.99), n_samples=8, progress=False)
    branch = ProGANTrainer(G, D, data, config, branch_sched, device="cpu", checkpoint=path)
    phases = []
    branch.callbacks.append(lambda t, ev: phases.append((t.resolution, t.alpha)) if ev == "log" else None)
    branch.fit()
    assert phases[0] == (16, 1.0) and len(phases) == s.total_steps - end8
    for k, v in main.stage_generators[8].items():                  # the shared past
        assert torch.equal(v, branch.stage_generators[8][k])
    assert not all(torch.equal(v, branch.stage_generators[16][k])
                   for k, v in main.stage_generators[16].items())


def test_fd_ratio_is_one_for_real_images_and_large_for_blobs():
    from gancourse.metrics import Classifier

    torch.manual_seed(0)
    clf = Classifier(1, 10, width=4, image_size=32).eval()
    g = torch.Generator().manual_seed(0)
    real = torch.rand(40, 1, 32, 32, generator=g) * 2 - 1
    same = fd_ratio(real[torch.randperm(40, generator=g)], real, clf)
    assert same["n"] == 20 and same["real_fd"] > 0 and 0 < same["ratio"] < 3
    blobs = fd_ratio(torch.full((20, 1, 32, 32), 0.9), real, clf)
    assert blobs["ratio"] > 3 * same["ratio"]
    with pytest.raises(ValueError, match="as many fakes"):
        fd_ratio(real[:5], real, clf)


def test_lazy_penalty_every_k_steps():
    tr = make_trainer(steps_cfg={"penalty": "r1", "penalty_weight": 1.0}, penalty_every=3)
    tr.fit()
    pen = tr.history["penalty"]
    assert all(p == 0 for i, p in enumerate(pen) if i % 3) and all(pen[i] > 0 for i in range(0, len(pen), 3))
    with pytest.raises(ValueError, match="penalty_every"):
        make_trainer(penalty_every=0)
