"""The translation architectures: U-Net generator, PatchGAN discriminator, ResNet generator
(shapes, widths, the claims their docstrings make, and the refusals)."""

import pytest
import torch
from torch import nn

from gancourse.models.init import count_parameters
from gancourse.models.patchgan import PatchGANDiscriminator
from gancourse.models.resnet import ResnetBlock, ResnetGenerator
from gancourse.models.unet import UNetGenerator, norm2d


# ----------------------------------------------------------------------------- U-Net
@pytest.mark.parametrize("size,depth,cin,cout", [(28, 2, 1, 1), (32, 3, 1, 3), (64, 6, 3, 3), (32, 5, 3, 1)])
def test_unet_keeps_the_size_and_maps_channels(size, depth, cin, cout):
    torch.manual_seed(0)
    g = UNetGenerator(cin, cout, ngf=8, depth=depth, image_size=size)
    y = g(torch.randn(2, cin, size, size))
    assert y.shape == (2, cout, size, size)
    assert y.abs().max() <= 1                                           # tanh output


def test_unet_widths_follow_pix2pix_and_the_bottleneck_is_one_pixel_at_256():
    g = UNetGenerator(3, 3, ngf=64, depth=8, image_size=256)
    assert g.widths == [64, 128, 256, 512, 512, 512, 512, 512]
    feats, h = [], torch.randn(1, 3, 256, 256)
    with torch.no_grad():
        g.eval()
        for down in g.down:
            h = down(h)
            feats.append(h.shape[-1])
    assert feats == [128, 64, 32, 16, 8, 4, 2, 1]
    # dropout only in the three innermost decoder layers, as in the paper
    has_dropout = [any(isinstance(m, nn.Dropout) for m in up.modules()) for up in g.up]
    assert has_dropout == [True, True, True, False, False, False, False, False]


def test_unet_skips_carry_the_input_detail_the_encoder_decoder_must_squeeze():
    """With skips, the output at a pixel depends on the input pixel through a short path: the
    gradient of one output pixel w.r.t. its own input pixel is far larger than without skips."""
    torch.manual_seed(0)
    x = torch.randn(1, 1, 32, 32, requires_grad=True)
    ratios = {}
    for skips in (True, False):
        torch.manual_seed(1)
        g = UNetGenerator(1, 1, ngf=8, depth=5, image_size=32, dropout=0.0, norm="none", skips=skips)
        x.grad = None
        g(x)[0, 0, 16, 16].backward()
        ratios[skips] = x.grad[0, 0, 16, 16].abs().item() / x.grad.abs().sum().item()
    assert ratios[True] > 5 * ratios[False]


def test_unet_without_skips_has_fewer_decoder_inputs():
    a = UNetGenerator(1, 1, ngf=8, depth=3, skips=True)
    b = UNetGenerator(1, 1, ngf=8, depth=3, skips=False)
    assert count_parameters(a) > count_parameters(b)
    assert b(torch.randn(2, 1, 32, 32)).shape == (2, 1, 32, 32)


def test_unet_refuses_sizes_that_do_not_halve_cleanly():
    with pytest.raises(ValueError, match="not divisible by 2\\^depth = 8; use depth <= 2"):
        UNetGenerator(1, 1, depth=3, image_size=28)
    g = UNetGenerator(1, 1, ngf=4, depth=3)
    with pytest.raises(ValueError, match="not divisible by 2\\^depth"):
        g(torch.randn(1, 1, 28, 28))
    with pytest.raises(ValueError, match="dropout must lie in"):
        UNetGenerator(dropout=1.0)
    with pytest.raises(ValueError, match="must be >= 1"):
        UNetGenerator(depth=0)


def test_norm2d_kinds_and_refusal():
    assert isinstance(norm2d("batch", 4), nn.BatchNorm2d)
    inst = norm2d("instance", 4)
    assert isinstance(inst, nn.InstanceNorm2d) and not inst.affine
    assert isinstance(norm2d("none", 4), nn.Identity) and isinstance(norm2d(None, 4), nn.Identity)
    with pytest.raises(ValueError, match="unknown norm 'layer'; valid norms are batch, instance, none"):
        norm2d("layer", 4)


# ----------------------------------------------------------------------------- PatchGAN
@pytest.mark.parametrize("n_layers,size,out", [(0, 28, 28), (1, 28, 12), (2, 32, 6), (3, 256, 30)])
def test_patchgan_gives_a_map_of_patch_scores(n_layers, size, out):
    d = PatchGANDiscriminator(in_channels=4, ndf=8, n_layers=n_layers)
    s = d(torch.randn(2, 4, size, size))
    assert s.shape == (2, 1, out, out)
    assert d.output_size(size) == out


def test_patchgan_70_is_the_paper_layout():
    d = PatchGANDiscriminator(6, ndf=64, n_layers=3)
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.stride[0]) for c in convs] == [
        (6, 64, 2), (64, 128, 2), (128, 256, 2), (256, 512, 1), (512, 1, 1)]
    assert not any(isinstance(m, nn.BatchNorm2d) for m in d.net[:2])        # no norm on the input layer


def test_patchgan_refuses_bad_arguments():
    with pytest.raises(ValueError, match="n_layers >= 0"):
        PatchGANDiscriminator(n_layers=-1)
    with pytest.raises(ValueError, match="too small"):
        PatchGANDiscriminator(3, ndf=4, n_layers=3).output_size(16)


# ----------------------------------------------------------------------------- ResNet G
@pytest.mark.parametrize("size,n_down,cin,cout", [(28, 2, 1, 1), (32, 2, 3, 3), (64, 3, 4, 3), (28, 0, 1, 1)])
def test_resnet_generator_keeps_the_size(size, n_down, cin, cout):
    g = ResnetGenerator(cin, cout, ngf=8, n_down=n_down, n_blocks=2, image_size=size)
    y = g(torch.randn(2, cin, size, size))
    assert y.shape == (2, cout, size, size) and y.abs().max() <= 1


def test_resnet_block_is_a_residual_and_can_be_the_identity():
    blk = ResnetBlock(8, norm="none")
    x = torch.randn(2, 8, 7, 7)
    for m in blk.modules():                          # zero the residual branch: x + 0 = x
        if isinstance(m, nn.Conv2d):
            nn.init.zeros_(m.weight)
            nn.init.zeros_(m.bias)
    assert torch.equal(blk(x), x)


def test_resnet_generator_widths_and_block_count():
    g = ResnetGenerator(3, 3, ngf=64, n_down=2, n_blocks=9)
    assert sum(isinstance(m, ResnetBlock) for m in g.modules()) == 9
    blocks = [m for m in g.modules() if isinstance(m, ResnetBlock)]
    assert blocks[0].body[1].in_channels == 256                       # 64 -> 128 -> 256
    assert isinstance(g.net[0], nn.ReflectionPad2d)
    z = ResnetGenerator(1, 1, ngf=4, n_blocks=1, padding="zeros")
    assert not any(isinstance(m, nn.ReflectionPad2d) for m in z.modules())


def test_resnet_generator_refusals():
    with pytest.raises(ValueError, match="unknown padding 'circular'"):
        ResnetGenerator(padding="circular")
    with pytest.raises(ValueError, match="not divisible by 2\\^n_down = 4"):
        ResnetGenerator(image_size=30)
    g = ResnetGenerator(1, 1, ngf=4, n_blocks=1)
    with pytest.raises(ValueError, match="not divisible"):
        g(torch.randn(1, 1, 30, 30))


def test_models_record_their_constructor_arguments_for_the_model_store():
    for net in (UNetGenerator(1, 2, ngf=4, depth=2), PatchGANDiscriminator(3, ndf=4, n_layers=1),
                ResnetGenerator(1, 1, ngf=4, n_blocks=1)):
        clone = type(net)(**net.kwargs)
        assert [p.shape for p in clone.parameters()] == [p.shape for p in net.parameters()]
