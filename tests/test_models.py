import pytest
import torch

from gancourse.models import (
    DCGANDiscriminator,
    DCGANGenerator,
    MLPDiscriminator,
    MLPGenerator,
    count_parameters,
    dcgan_init,
)


@pytest.mark.parametrize("size,channels", [(28, 1), (32, 3), (64, 3)])
def test_dcgan_shapes_and_range(size, channels):
    netG = DCGANGenerator(z_dim=16, channels=channels, image_size=size, ngf=8)
    netD = DCGANDiscriminator(channels=channels, image_size=size, ndf=8)
    fake = netG(torch.randn(3, 16))
    assert fake.shape == (3, channels, size, size)
    assert fake.abs().max() <= 1
    assert netD(fake).shape == (3,)


def test_dcgan_follows_the_architecture_rules():
    netG, netD = DCGANGenerator(image_size=64, channels=3), DCGANDiscriminator(3, 64)
    kinds = {type(m) for m in list(netG.modules()) + list(netD.modules())}
    assert torch.nn.Linear not in kinds                     # no fully connected layers
    assert not any("Pool" in k.__name__ for k in kinds)     # strided convs, no pooling
    assert isinstance(netG.net[-1], torch.nn.Tanh)
    assert isinstance(netD.features[1], torch.nn.LeakyReLU)  # no norm on D's input layer
    w = torch.cat([m.weight.flatten() for m in netG.modules() if isinstance(m, torch.nn.ConvTranspose2d)])
    assert w.std().item() == pytest.approx(0.02, rel=0.05)  # N(0, 0.02) init


@pytest.mark.parametrize("norm", ["batch", "layer", "instance", None])
def test_discriminator_norms(norm):
    netD = DCGANDiscriminator(1, 28, ndf=8, norm=norm)
    assert netD(torch.randn(2, 1, 28, 28)).shape == (2,)


def test_bad_sizes_are_clear_errors():
    with pytest.raises(ValueError, match="valid sizes are 28, 32, 64"):
        DCGANGenerator(image_size=48)
    with pytest.raises(ValueError, match=r"shape \(B, 1, 28, 28\), got \(2, 1, 32, 32\)"):
        DCGANDiscriminator(1, 28)(torch.randn(2, 1, 32, 32))
    with pytest.raises(ValueError, match="valid norms"):
        DCGANDiscriminator(1, 28, norm="group")
    with pytest.raises(ValueError, match=r"inputs of shape \(B, 2\)"):
        MLPDiscriminator(2)(torch.randn(4, 3))
    with pytest.raises(ValueError, match="out_activation"):
        MLPGenerator(2, 2, out_activation="relu")


def test_mlp_models():
    netG = MLPGenerator(8, (1, 28, 28), hidden=(32,))
    x = netG(torch.randn(5, 8))
    assert x.shape == (5, 1, 28, 28) and x.abs().max() <= 1
    toyG = MLPGenerator(2, 2, hidden=(16, 16), out_activation=None)
    assert toyG(torch.randn(4, 2)).shape == (4, 2)
    netD = MLPDiscriminator((1, 28, 28), hidden=(32,), dropout=0.1)
    assert netD(x).shape == (5,)
    assert count_parameters(MLPDiscriminator(2, hidden=(3,))) == 2 * 3 + 3 + 3 + 1


def test_dcgan_init_resets_weights():
    lin = torch.nn.Linear(1000, 100)
    dcgan_init(lin)
    assert lin.weight.std().item() == pytest.approx(0.02, rel=0.05)
    assert torch.all(lin.bias == 0)
