"""Weight initialisation shared by the model families."""

from __future__ import annotations

from torch import nn


def dcgan_init(module: nn.Module, std: float = 0.02) -> nn.Module:
    """DCGAN initialisation (Radford et al., 2016): conv and linear weights ~ N(0, 0.02²),
    batch-norm scales ~ N(1, 0.02²), biases 0. Applied recursively; returns ``module``."""

    def init(m: nn.Module) -> None:
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)

    module.apply(init)
    return module


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
