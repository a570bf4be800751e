"""Super-resolution (notebook 23): pixel shuffle, SRResNet / RRDB shapes and residual scaling,
the relativistic average loss by hand, degradation and measurements, content features, the
adversarial trainer and network interpolation."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gancourse import losses
from gancourse.gans.srgan import (
    RRDB,
    DenseBlock,
    FeatureExtractor,
    FeatureNetUnavailable,
    PatchNet,
    RRDBNet,
    SRDiscriminator,
    SRGANTrainer,
    SRResNet,
    SubPixelUpsample,
    bicubic,
    content_features,
    crop_to_multiple,
    degrade,
    dihedral,
    evaluate_upscaler,
    features,
    hf_energy_ratio,
    interpolate_networks,
    layer_names,
    patch_net_data,
    psnr_ssim,
    radial_power_spectrum,
    train_patch_net,
    train_pixel_loss,
)
from gancourse.training import Paired, TrainConfig


# ----------------------------------------------------------------------------- pixel shuffle
def test_pixel_shuffle_moves_channels_into_space():
    r, c, h, w = 2, 3, 4, 5
    x = torch.randn(2, c * r * r, h, w)
    y = torch.nn.PixelShuffle(r)(x)
    assert y.shape == (2, c, r * h, r * w)
    for cc, i, j, hh, ww in [(0, 0, 0, 0, 0), (1, 1, 0, 2, 3), (2, 1, 1, 3, 4), (2, 0, 1, 1, 2)]:
        assert y[1, cc, r * hh + i, r * ww + j] == x[1, cc * r * r + r * i + j, hh, ww]
    up = SubPixelUpsample(8)
    assert up(torch.randn(2, 8, 6, 7)).shape == (2, 8, 12, 14)
    assert up.conv.out_channels == 32                                    # 4C channels before the shuffle


@pytest.mark.parametrize("scale", [2, 4])
def test_generators_upscale_by_the_scale(scale):
    lr = torch.randn(2, 3, 6, 5)
    for net in (SRResNet(3, width=8, n_blocks=2, scale=scale, kernel=3),
                SRResNet(3, width=8, n_blocks=1, scale=scale, norm=None),
                RRDBNet(3, width=8, n_blocks=1, growth=4, scale=scale)):
        assert net(lr).shape == (2, 3, 6 * scale, 5 * scale)
    assert SRResNet(1, width=4, n_blocks=1)(torch.randn(1, 1, 3, 3)).shape == (1, 1, 12, 12)


def test_bicubic_skip_starts_at_the_baseline():
    torch.manual_seed(0)
    lr = torch.rand(2, 3, 5, 6) * 2 - 1
    for net in (SRResNet(3, width=8, n_blocks=1, kernel=3, up_width=4, bicubic_skip=True),
                RRDBNet(3, width=8, n_blocks=1, growth=4, bicubic_skip=True)):
        net.eval()
        with torch.no_grad():
            tail = net.tail if isinstance(net, SRResNet) else net.tail[-1]
            tail.weight.zero_()
            assert torch.allclose(net(lr), F.interpolate(lr, scale_factor=4, mode="bicubic",
                                                         align_corners=False), atol=1e-6)
    narrow = SRResNet(3, width=8, n_blocks=1, up_width=4)
    assert [m.conv.out_channels for m in narrow.upsample] == [16, 16]
    assert narrow.tail.in_channels == 4


def test_model_argument_errors():
    with pytest.raises(ValueError, match="power of two"):
        SRResNet(scale=3)
    with pytest.raises(ValueError, match="norm must be one of"):
        SRResNet(norm="layer")
    with pytest.raises(ValueError, match="expects images"):
        SRResNet(3, width=4, n_blocks=1)(torch.randn(1, 1, 8, 8))
    with pytest.raises(ValueError, match="residual scaling beta"):
        RRDB(8, beta=1.5)
    with pytest.raises(ValueError, match="at least one stage"):
        SRDiscriminator(widths=())


def test_esrgan_generator_has_no_batch_norm():
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in RRDBNet(3, 8, 2, 4).modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in SRResNet(3, 8, 2).modules())


# ----------------------------------------------------------------------------- RRDB
def test_dense_block_concatenates_and_scales_its_residual():
    torch.manual_seed(0)
    db = DenseBlock(6, growth=3, beta=0.2)
    assert [c.in_channels for c in db.convs] == [6, 9, 12, 15, 18]
    assert [c.out_channels for c in db.convs] == [3, 3, 3, 3, 6]
    x = torch.randn(2, 6, 5, 5)
    feats = [x]
    for conv in db.convs[:4]:
        feats.append(F.leaky_relu(conv(torch.cat(feats, 1)), 0.2))
    assert torch.allclose(db(x), x + 0.2 * db.convs[4](torch.cat(feats, 1)), atol=1e-6)


def test_rrdb_residual_scaling():
    """RRDB(x) = x + β · DB₃(DB₂(DB₁(x))), and each dense block scales its own residual by β."""
    torch.manual_seed(0)
    block = RRDB(8, growth=4, beta=0.2)
    x = torch.randn(2, 8, 6, 6)
    inner = block.blocks(x)
    assert torch.allclose(block(x), x + 0.2 * inner, atol=1e-6)
    # the same weights with β = 1 (no scaling): the residual is not a fixed multiple, but with
    # β = 0 the block is exactly the identity, and small β keeps it near it
    block.beta = 0.0
    for db in block.blocks:
        db.beta = 0.0
    assert torch.equal(block(x), x)
    for beta in (0.1, 0.2):
        block.beta = beta
        for db in block.blocks:
            db.beta = beta
        dev = (block(x) - x).abs().mean().item()
        assert 0 < dev < beta * 2 * x.abs().mean().item()


# ----------------------------------------------------------------------------- relativistic average loss
def test_relativistic_average_loss_by_hand():
    s_r, s_f = torch.tensor([2.0, 1.0]), torch.tensor([-1.0, 0.0])
    sig = lambda t: 1 / (1 + math.exp(-t))                              # noqa: E731
    mean_r, mean_f = 1.5, -0.5
    # D_Ra(x_r, x_f) = σ(C(x_r) − E[C(x_f)]);  L_D = −E log D_Ra(real) − E log(1 − D_Ra(fake))
    d_hand = (-(math.log(sig(2 - mean_f)) + math.log(sig(1 - mean_f))) / 2
              - (math.log(1 - sig(-1 - mean_r)) + math.log(1 - sig(0 - mean_r))) / 2)
    # L_G: the roles swapped, −E log(1 − D_Ra(real)) − E log D_Ra(fake)
    g_hand = (-(math.log(1 - sig(2 - mean_f)) + math.log(1 - sig(1 - mean_f))) / 2
              - (math.log(sig(-1 - mean_r)) + math.log(sig(0 - mean_r))) / 2)
    assert losses.d_loss_ragan(s_r, s_f).item() == pytest.approx(d_hand, rel=1e-6)
    assert losses.g_loss_ragan(s_f, s_r).item() == pytest.approx(g_hand, rel=1e-6)
    # -log σ(2.5) = 0.0789, -log σ(1.5) = 0.2014; -log σ(-2.5) = 2.5789, -log σ(-1.5) = 1.7014
    assert d_hand == pytest.approx(0.2803, abs=1e-4) and g_hand == pytest.approx(4.2803, abs=1e-4)
    # G's loss has a gradient through the real scores too (the point of the relativistic D)
    s_r2 = s_r.clone().requires_grad_()
    losses.g_loss_ragan(s_f, s_r2).backward()
    assert s_r2.grad.abs().sum() > 0


# ----------------------------------------------------------------------------- images and measurements
def test_degrade_and_bicubic():
    hr = torch.rand(2, 3, 16, 12) * 2 - 1
    lr = degrade(hr, 4)
    assert lr.shape == (2, 3, 4, 3) and lr.abs().max() <= 1
    assert bicubic(lr, 4).shape == hr.shape
    flat = torch.full((1, 1, 8, 8), 0.3)
    assert torch.allclose(bicubic(degrade(flat, 4), 4), flat, atol=1e-5)
    with pytest.raises(ValueError, match="multiples of the scale"):
        degrade(torch.zeros(1, 3, 10, 12), 4)
    assert crop_to_multiple(torch.zeros(3, 10, 13), 4).shape == (3, 8, 12)
    with pytest.raises(ValueError, match="images \\(B, C, H, W\\)"):
        bicubic(torch.zeros(3, 4, 4))


def test_psnr_and_ssim_from_skimage():
    torch.manual_seed(0)
    hr = torch.rand(3, 20, 20) * 1.6 - 0.8
    # an offset of 0.1 in [-1, 1] is 0.05 in [0, 1]: PSNR = 10 log10(1 / 0.05²) = 26.02 dB
    psnr, ssim = psnr_ssim(hr + 0.1, hr, border=2)
    assert psnr == pytest.approx(10 * math.log10(1 / 0.05 ** 2), abs=1e-3)
    assert 0 < ssim < 1
    with np.errstate(divide="ignore"):                                   # MSE 0: PSNR = inf
        p_same, s_same = psnr_ssim(hr, hr)
    assert p_same == math.inf and s_same == pytest.approx(1.0)
    with pytest.raises(ValueError, match="same shape"):
        psnr_ssim(hr[:, :10], hr)


def test_power_spectrum_and_high_frequency_energy():
    n = 64
    yy, xx = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    f0 = 0.25                                                           # cycles per pixel
    wave = torch.cos(2 * math.pi * f0 * xx.float())[None] * 0.5
    f, p = radial_power_spectrum(wave, n_bins=32)
    assert f.shape == p.shape == (32,)
    assert abs(f[p.argmax()] - f0) < 0.5 / 32
    torch.manual_seed(0)
    img = torch.rand(1, 3, 64, 64) * 2 - 1
    assert hf_energy_ratio(img[0], img[0]) == pytest.approx(1.0)
    blurred = bicubic(degrade(img, 4), 4)
    assert hf_energy_ratio(blurred[0], img[0], 4) < 0.1
    with pytest.raises(ValueError, match="same shape"):
        hf_energy_ratio(img[0, :, :32], img[0])


def test_evaluate_upscaler_on_held_out_images():
    torch.manual_seed(0)
    images = [torch.rand(3, 30, 41) * 2 - 1, torch.rand(1, 24, 24) * 2 - 1]
    res = evaluate_upscaler(lambda x: bicubic(x, 4), images)
    assert len(res["psnr"]) == len(res["ssim"]) == len(res["hf_ratio"]) == 2
    assert res["mean_psnr"] == pytest.approx(sum(res["psnr"]) / 2)
    with pytest.raises(ValueError, match="upscaler returned"):
        evaluate_upscaler(lambda x: x, images)


# ----------------------------------------------------------------------------- features
def test_patch_net_layers_and_feature_extractor():
    net = PatchNet(3, widths=(4, 8), convs=2, num_classes=3)
    names = layer_names(net.features)
    assert names == ["conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1", "conv2_1", "relu2_1",
                     "conv2_2", "relu2_2"]
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    before = FeatureExtractor(net.features, "conv2_2", "test")(x)
    after = FeatureExtractor(net.features, "relu2_2", "test")(x)
    assert before.shape == after.shape == (2, 8, 8, 8)
    assert torch.equal(after, before.clamp(min=0))
    assert FeatureExtractor(net.features, "conv1_1", "g")(x[:, :1]).shape == (2, 4, 16, 16)   # grey
    with pytest.raises(ValueError, match="unknown layer"):
        FeatureExtractor(net.features, "conv5_4", "test")
    assert net(x).shape == (2, 3)


def test_content_features_fall_back_offline(monkeypatch, tmp_path):
    monkeypatch.setattr(features, "vgg19_weights_path", lambda: tmp_path / "missing.pth")
    net = PatchNet(3, widths=(4, 8), convs=1, num_classes=3)
    with pytest.raises(FeatureNetUnavailable, match="downloads are forbidden"):
        content_features(offline=True)
    phi = content_features(offline=True, patch_net=net)
    assert phi.name == "patchnet-conv2_1 (relu2_1)" and phi.layer == "relu2_1"
    phi_pre = content_features(offline=True, patch_net=net, before_activation=True)
    assert phi_pre.name == "patchnet-conv2_1 (conv2_1)"
    assert not any(p.requires_grad for p in phi.parameters())
    phi.train()
    assert not phi.training
    with pytest.raises(ValueError, match="name the convolution"):
        content_features("relu2_1", offline=True, patch_net=net)


def test_patch_net_learns_to_tell_photos_and_blur_apart():
    g = torch.Generator().manual_seed(0)
    stripes = torch.cos(torch.arange(16.0) * 2.5).view(1, 1, 1, 16).expand(40, 3, 16, 16).clone()
    noise = torch.rand(40, 3, 16, 16, generator=g) * 2 - 1
    x, y = patch_net_data([stripes, noise], scale=4)
    assert len(x) == 120 and int(y.max()) == 2 and int((y == 2).sum()) == 40
    net, hist = train_patch_net(x, y, steps=60, batch_size=16, widths=(8, 8))
    assert sum(hist[-10:]) < 0.5 * sum(hist[:10])
    with pytest.raises(ValueError, match="at least two photos"):
        patch_net_data([noise])


# ----------------------------------------------------------------------------- training
def _pairs(n=32, size=16):
    g = torch.Generator().manual_seed(0)
    hr = torch.rand(n, 3, size, size, generator=g) * 2 - 1
    hr = F.avg_pool2d(F.interpolate(hr, scale_factor=2, mode="bilinear"), 2)   # some structure
    return degrade(hr, 4), hr


def test_dihedral_augmentation_gives_the_eight_symmetries():
    x = torch.arange(9.0).view(1, 1, 3, 3).repeat(8, 1, 1, 1)
    out = dihedral(x, torch.arange(8))
    assert len({tuple(o.flatten().tolist()) for o in out}) == 8
    assert torch.equal(out[0], x[0]) and torch.equal(out[1], x[0].flip(-1))
    assert torch.equal(out[4], x[0].transpose(-1, -2))
    hr = torch.rand(2, 3, 16, 16)
    k = torch.tensor([3, 6])                                  # the same symmetry for LR and HR
    assert torch.allclose(degrade(dihedral(hr, k), 4), dihedral(degrade(hr, 4), k), atol=1e-5)
    with pytest.raises(ValueError, match="square"):
        dihedral(torch.zeros(1, 1, 2, 3), torch.tensor([0]))


def test_pixel_loss_pretraining_reduces_the_loss():
    lr, hr = _pairs()
    torch.manual_seed(0)
    net = SRResNet(3, width=8, n_blocks=1, norm=None, kernel=3)
    hist = train_pixel_loss(net, lr, hr, steps=60, batch_size=8, lr=2e-3)
    assert len(hist) == 60 and sum(hist[-10:]) < sum(hist[:10])
    with pytest.raises(ValueError, match="unknown pixel loss"):
        train_pixel_loss(net, lr, hr, steps=1, loss="l2")


@pytest.mark.parametrize("loss", ["ns", "ragan"])
def test_srgan_trainer_runs_the_one_loop(loss):
    lr, hr = _pairs()
    torch.manual_seed(0)
    G = SRResNet(3, width=8, n_blocks=1, norm=None, kernel=3)
    D = SRDiscriminator(3, widths=(8, 16), hidden=16)
    phi = FeatureExtractor(PatchNet(3, widths=(4, 8), convs=1, num_classes=3).features, "conv2_1", "t")
    config = TrainConfig(steps=4, batch_size=8, loss=loss, progress=False, sample_every=2)
    tr = SRGANTrainer(G, D, Paired(input=lr, target=hr), config, features=phi, adv_weight=1e-2,
                      pixel_weight=1e-2, fixed_input=lr[:3])
    hist = tr.fit()
    assert {"content", "pixel", "adv", "loss_D", "loss_G"} <= set(hist)
    assert [s for s, _ in tr.snapshots] == [0, 2, 4]
    assert tr.snapshots[-1][1].shape == (3, 3, 16, 16)
    assert set(tr.networks) == {"netG", "netD", "features"}
    assert not any(p.requires_grad for p in tr.networks["features"].parameters())
    with pytest.raises(ValueError, match="loss weights"):
        SRGANTrainer(G, D, Paired(input=lr, target=hr), config, features=phi, adv_weight=-1)
    with pytest.raises(ValueError, match="no gradient penalty"):
        tr.penalty(None, None)


def test_network_interpolation():
    torch.manual_seed(0)
    a, b = SRResNet(3, 4, 1, kernel=3), SRResNet(3, 4, 1, kernel=3)
    mid = interpolate_networks(a, b, 0.5)
    for k, v in mid.state_dict().items():
        if v.is_floating_point():
            assert torch.allclose(v, (a.state_dict()[k] + b.state_dict()[k]) / 2), k
    x = torch.randn(1, 3, 4, 4)
    a.eval(), b.eval()
    assert torch.allclose(interpolate_networks(a, b, 0.0)(x), a(x))
    assert torch.allclose(interpolate_networks(a, b, 1.0)(x), b(x))
    with pytest.raises(ValueError, match="same architecture"):
        interpolate_networks(a, SRResNet(3, 8, 1, kernel=3), 0.5)
    with pytest.raises(ValueError, match="alpha must lie"):
        interpolate_networks(a, b, 2.0)
