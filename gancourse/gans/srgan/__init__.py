"""Super-resolution GANs: SRResNet, SRGAN (Ledig et al., 2017) and ESRGAN (Wang et al., 2018).
Notebook 23.

A generator maps a low-resolution image to one s times larger. Trained on a pixel loss alone
(SRResNet) it has the best PSNR and blurry detail: the MSE optimum is the mean of all plausible
high-resolution images. SRGAN adds a discriminator and compares images in a feature space, which
brings back texture at some cost in PSNR: the perception-distortion trade-off. ESRGAN refines
the recipe: RRDB blocks without batch norm, a relativistic average discriminator, features
before activation, network interpolation.

* :mod:`.models` — :class:`SRResNet`, :class:`ResidualBlock`, :class:`SubPixelUpsample`,
  :class:`DenseBlock`, :class:`RRDB`, :class:`RRDBNet`, :class:`SRDiscriminator`;
* :mod:`.features` — content features: :func:`content_features` (VGG19 if its weights can be had,
  else :class:`PatchNet` trained by :func:`train_patch_net`), :class:`FeatureExtractor`;
* :mod:`.trainer` — :func:`train_pixel_loss` (pre-training), :class:`SRGANTrainer`,
  :func:`interpolate_networks`, :func:`dihedral` (flip/rotate augmentation);
* :mod:`.images` — :func:`degrade`, :func:`bicubic`, :func:`psnr_ssim`,
  :func:`radial_power_spectrum`, :func:`hf_energy_ratio`, :func:`evaluate_upscaler`.
"""

from gancourse.gans.srgan.features import (
    FeatureExtractor,
    FeatureNetUnavailable,
    PatchNet,
    content_features,
    layer_names,
    load_vgg19,
    patch_net_data,
    train_patch_net,
    vgg19_weights_path,
)
from gancourse.gans.srgan.images import (
    bicubic,
    crop_to_multiple,
    degrade,
    evaluate_upscaler,
    hf_energy,
    hf_energy_ratio,
    luminance,
    psnr_ssim,
    radial_power_spectrum,
    to_unit_hwc,
)
from gancourse.gans.srgan.models import (
    RRDB,
    DenseBlock,
    ResidualBlock,
    RRDBNet,
    SRDiscriminator,
    SRResNet,
    SubPixelUpsample,
)
from gancourse.gans.srgan.trainer import SRGANTrainer, dihedral, interpolate_networks, train_pixel_loss

__all__ = ["RRDB", "DenseBlock", "FeatureExtractor", "FeatureNetUnavailable", "PatchNet",
           "RRDBNet", "ResidualBlock", "SRDiscriminator", "SRGANTrainer", "SRResNet",
           "SubPixelUpsample", "bicubic", "content_features", "dihedral", "crop_to_multiple", "degrade",
           "evaluate_upscaler", "hf_energy", "hf_energy_ratio", "interpolate_networks",
           "layer_names", "load_vgg19", "luminance", "patch_net_data", "psnr_ssim",
           "radial_power_spectrum", "to_unit_hwc", "train_patch_net", "train_pixel_loss",
           "vgg19_weights_path"]
