"""Content features for SRGAN's perceptual loss: VGG19 when its weights can be had, else a named
offline network.

SRGAN's content loss compares images in the feature space φ of a fixed network instead of in
pixels, l_content = (1 / (W H C)) ‖φ(I_HR) − φ(G(I_LR))‖², so that G is asked for the same
*structures* as the real image rather than the pixel-wise mean of all plausible images (which is
what the MSE's optimum is: blur). SRGAN uses φ_{5,4}, VGG19's 4th conv of block 5 *after* its
ReLU; ESRGAN takes the same layer *before* the activation, because deep activated features are
sparse (most are 0 after the ReLU), which weakens the supervision and shifts brightness.

* :func:`load_vgg19` — torchvision's ImageNet VGG19, only when the weights file is already in
  torch's hub cache or may be downloaded (``offline=False``); otherwise :class:`FeatureNetUnavailable`.
* :class:`PatchNet` — the offline stand-in, a small VGG-style net (3×3 convs + ReLU, 2×2 average
  pooling) trained by :func:`train_patch_net` on the *training* photos' patches to tell which
  photo a patch comes from, or that it is a bicubic-blurred patch (one extra class). Telling
  photographs apart needs texture statistics, and spotting blur needs high frequencies: both are
  what a content loss for super-resolution should compare. It never sees a held-out photo.
* :class:`FeatureExtractor` — a frozen net cut at a named layer (``conv2_2``, ``relu5_4``, ...),
  with its own input normalisation; :func:`content_features` picks VGG19 or PatchNet and says
  which.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from gancourse.gans.srgan.images import bicubic, degrade

Tensor = torch.Tensor
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class FeatureNetUnavailable(RuntimeError):
    """VGG19's weights are neither cached nor downloadable."""


def layer_names(features: nn.Sequential) -> list[str]:
    """VGG-style names of the modules of ``features``: conv{b}_{k}, relu{b}_{k}, pool{b}."""
    names, block, k = [], 1, 0
    for m in features:
        if isinstance(m, nn.Conv2d):
            k += 1
            names.append(f"conv{block}_{k}")
        elif isinstance(m, (nn.ReLU, nn.LeakyReLU)):
            names.append(f"relu{block}_{k}")
        elif isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
            names.append(f"pool{block}")
            block, k = block + 1, 0
        else:
            names.append(f"{type(m).__name__.lower()}{block}_{k}")
    return names


class FeatureExtractor(nn.Module):
    """φ: images (B, C, H, W) in [-1, 1] -> features of ``layer`` (frozen, eval mode).

    ``mean``/``std`` normalise the input after mapping it to [0, 1] (ImageNet's for VGG); None
    feeds [-1, 1] unchanged. One-channel images are repeated to three for 3-channel nets.
    """

    def __init__(self, features: nn.Sequential, layer: str, name: str,
                 mean: tuple[float, ...] | None = None, std: tuple[float, ...] | None = None):
        super().__init__()
        names = layer_names(features)
        if layer not in names:
            raise ValueError(f"unknown layer {layer!r}; this network has {', '.join(names)}")
        self.net = features[:names.index(layer) + 1].eval().requires_grad_(False)
        self.layer, self.name = layer, name
        self.in_channels = next(m for m in features if isinstance(m, nn.Conv2d)).in_channels
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1) if mean else None)
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1) if std else None)

    def train(self, mode: bool = True) -> FeatureExtractor:       # always frozen, always eval
        return super().train(False)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4:
            raise ValueError(f"expected images (B, C, H, W), got {tuple(x.shape)}")
        if x.shape[1] == 1 and self.in_channels == 3:
            x = x.expand(-1, 3, -1, -1)
        if self.mean is not None:
            x = ((x + 1) / 2 - self.mean) / self.std
        return self.net(x)


# ----------------------------------------------------------------------------- VGG19
def vgg19_weights_path() -> Path:
    """Where torchvision keeps VGG19's ImageNet weights (torch hub cache)."""
    from torchvision.models import VGG19_Weights

    return Path(torch.hub.get_dir()) / "checkpoints" / Path(VGG19_Weights.IMAGENET1K_V1.url).name


def load_vgg19(offline: bool = True) -> nn.Sequential:
    """torchvision's VGG19 convolutional part with ImageNet weights, if cached or downloadable."""
    from torchvision.models import VGG19_Weights, vgg19

    path = vgg19_weights_path()
    if not path.exists() and offline:
        raise FeatureNetUnavailable(f"VGG19 weights are not in {path} and downloads are forbidden")
    try:
        return vgg19(weights=VGG19_Weights.IMAGENET1K_V1, progress=False).features.eval()
    except Exception as err:                         # network errors come in many types
        raise FeatureNetUnavailable(f"could not load VGG19's weights ({type(err).__name__}: "
                                    f"{str(err)[:200]})") from err


# ----------------------------------------------------------------------------- PatchNet
class PatchNet(nn.Module):
    """A small VGG-style net: blocks of 3×3 conv + ReLU (``convs`` per block, widths ``widths``)
    separated by 2×2 average pooling, then global average pooling and a linear classifier.
    ``features`` is an ``nn.Sequential`` with VGG's layer names (conv1_1, relu1_1, ...)."""

    def __init__(self, channels: int = 3, widths: tuple[int, ...] = (32, 64, 96), convs: int = 2,
                 num_classes: int = 12):
        super().__init__()
        if not widths or convs < 1 or num_classes < 2:
            raise ValueError(f"need widths, convs >= 1 and num_classes >= 2, got {widths}, "
                             f"{convs}, {num_classes}")
        layers: list[nn.Module] = []
        c_in = channels
        for i, w in enumerate(widths):
            if i:
                layers.append(nn.AvgPool2d(2))
            for _ in range(convs):
                layers += [nn.Conv2d(c_in, w, 3, padding=1), nn.ReLU()]
                c_in = w
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c_in, num_classes)
        self.config = {"channels": channels, "widths": tuple(widths), "convs": convs,
                       "num_classes": num_classes}

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x).mean((2, 3)))                        # (B, classes)


def patch_net_data(per_photo: list[Tensor], scale: int = 4, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Images and labels for :func:`train_patch_net`: the patches of photo i get label i; a
    bicubic-blurred copy (shrunk ×scale and enlarged back) of a random half of all patches gets
    the extra label len(per_photo)."""
    if len(per_photo) < 2:
        raise ValueError("need patches of at least two photos")
    x = torch.cat(per_photo)
    y = torch.cat([torch.full((len(p),), i) for i, p in enumerate(per_photo)])
    g = torch.Generator().manual_seed(seed)
    pick = torch.randperm(len(x), generator=g)[:len(x) // 2]
    blurred = bicubic(degrade(x[pick], scale), scale)
    return torch.cat([x, blurred]), torch.cat([y, torch.full((len(pick),), len(per_photo))])


def train_patch_net(images: Tensor, labels: Tensor, steps: int = 300, batch_size: int = 32,
                    lr: float = 2e-3, widths: tuple[int, ...] = (32, 64, 96), convs: int = 2,
                    seed: int = 0, device: str | torch.device = "cpu") -> tuple[PatchNet, list[float]]:
    """Train a :class:`PatchNet` classifier (cross-entropy, Adam, random flips); returns it in eval
    mode and the per-step losses. Supervised, one optimiser: not a GAN."""
    if len(images) != len(labels) or len(images) < batch_size:
        raise ValueError(f"need as many labels as images and at least batch_size={batch_size} of "
                         f"them, got {len(images)} images and {len(labels)} labels")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = PatchNet(images.shape[1], widths, convs, num_classes=int(labels.max()) + 1).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(steps):
        idx = torch.randint(len(images), (batch_size,), generator=g)
        x = images[idx]
        flip = torch.rand(batch_size, generator=g) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(-1), x).to(device)
        loss = F.cross_entropy(net(x), labels[idx].to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return net.eval(), losses


# ----------------------------------------------------------------------------- choice
def content_features(layer: str | None = None, before_activation: bool = False,
                     offline: bool = True, patch_net: PatchNet | None = None) -> FeatureExtractor:
    """The content feature network: VGG19 (layer default ``conv5_4``) when its weights can be
    had, else ``patch_net`` (layer default: its last conv). ``before_activation`` takes the conv
    output (ESRGAN) instead of the ReLU after it (SRGAN). The result's ``name`` says which ran.
    """
    try:
        vgg = load_vgg19(offline)
    except FeatureNetUnavailable:
        if patch_net is None:
            raise
        names = layer_names(patch_net.features)
        conv = layer or [n for n in names if n.startswith("conv")][-1]
        name = f"patchnet-{conv}"
        features = patch_net.features
    else:
        conv, name, features = layer or "conv5_4", "vgg19-imagenet", vgg
    if not conv.startswith("conv"):
        raise ValueError(f"name the convolution (e.g. 'conv5_4'), got {conv!r}; before_activation "
                         f"chooses between it and the ReLU after it")
    cut = conv if before_activation else conv.replace("conv", "relu")
    mean, std = (IMAGENET_MEAN, IMAGENET_STD) if name.startswith("vgg") else (None, None)
    extractor = FeatureExtractor(features, cut, f"{name} ({cut})", mean, std)
    return extractor
