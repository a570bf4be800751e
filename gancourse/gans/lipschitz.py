"""Lipschitz constants of networks: spectral norms, power iteration, diagnostics.

A function f is K-Lipschitz when ‖f(x) - f(y)‖ ≤ K ‖x - y‖ for all x, y. For a linear map
x ↦ W x the smallest such K is the spectral norm σ_max(W), the largest singular value.
Composition multiplies constants, and ReLU / LeakyReLU(a ≤ 1) are 1-Lipschitz, so for
``f = W_L ∘ φ ∘ … ∘ φ ∘ W_1``

    Lip(f) ≤ ∏_l σ_max(W_l)                                    (the *product bound*)

while ``max_x ‖∇_x f(x)‖`` over any sample is a lower bound on Lip(f).

Power iteration finds σ_max without an SVD: starting from a random u, repeat

    v ← Wᵀu / ‖Wᵀu‖,   u ← W v / ‖W v‖,   then σ ≈ uᵀ W v.

The estimate grows monotonically towards σ_max at rate (σ₂/σ₁)^(2k). Spectral
normalization (Miyato et al., 2018) divides each weight by this estimate, keeping u
between forward passes so that one iteration per step suffices; PyTorch implements
it as :func:`torch.nn.utils.parametrizations.spectral_norm`, which
:func:`apply_spectral_norm` puts on every layer.

A conv weight (C_out, C_in, k, k) is treated as the matrix (C_out, C_in·k·k) there,
which is *not* exactly the Lipschitz constant of the convolution (the operator also
depends on stride, padding and input size); :func:`conv_operator_norm` runs power
iteration on the convolution itself.

The diagnostics at the end (:func:`layer_grad_norms`, :func:`layer_weights`,
:func:`share_at_bound`) show what weight clipping does to a critic.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

Tensor = torch.Tensor
LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
_ONE_LIPSCHITZ = (nn.ReLU, nn.LeakyReLU, nn.Identity, nn.Flatten, nn.Dropout, nn.Tanh)


def weight_matrix(weight: Tensor) -> Tensor:
    """The weight as a matrix (out, in·k…): a Linear weight as is, a conv weight reshaped."""
    if weight.ndim < 2:
        raise ValueError(f"a weight matrix needs >= 2 dimensions (out, in, ...), got shape "
                         f"{tuple(weight.shape)}")
    return weight.reshape(weight.shape[0], -1)                      # (out, in*k*k)


def power_iteration(weight: Tensor, n_iter: int = 20, u: Tensor | None = None,
                    seed: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    """Largest singular value of ``weight_matrix(weight)`` by ``n_iter`` power iterations.

    v ← Wᵀu/‖Wᵀu‖, u ← Wv/‖Wv‖; σ = uᵀWv. ``u`` (out,) is the starting vector (random
    N(0, I) from ``seed`` when None). Returns ``(sigma, u, v)`` (scalar, (out,), (in·k…,)).
    """
    if n_iter < 1:
        raise ValueError(f"n_iter must be >= 1, got {n_iter}")
    W = weight_matrix(weight.detach())                               # (m, n)
    if u is None:
        u = torch.randn(W.shape[0], generator=torch.Generator().manual_seed(seed),
                        dtype=W.dtype).to(W.device)
    if u.shape != (W.shape[0],):
        raise ValueError(f"u must have shape ({W.shape[0]},) for a weight with {W.shape[0]} "
                         f"rows, got {tuple(u.shape)}")
    u = F.normalize(u, dim=0)
    for _ in range(n_iter):
        v = F.normalize(W.t() @ u, dim=0)                            # (n,)
        u = F.normalize(W @ v, dim=0)                                # (m,)
    return u @ W @ v, u, v


def conv_operator_norm(conv: nn.Conv2d, input_shape: tuple[int, int, int], n_iter: int = 50,
                       seed: int = 0) -> Tensor:
    """Spectral norm of the linear map x ↦ conv(x) - bias on inputs of ``input_shape``
    (C, H, W): power iteration with the convolution and its adjoint (its autograd
    transpose), x ← Aᵀ A x / ‖Aᵀ A x‖, σ = ‖A x‖."""
    if not isinstance(conv, nn.Conv2d):
        raise TypeError(f"conv_operator_norm needs an nn.Conv2d, got {type(conv).__name__}")
    if len(input_shape) != 3 or input_shape[0] != conv.in_channels:
        raise ValueError(f"input_shape must be (C, H, W) with C = {conv.in_channels}, got "
                         f"{tuple(input_shape)}")
    weight = conv.weight.detach()

    def A(x: Tensor) -> Tensor:                                      # (1, C, H, W) -> (1, C', H', W')
        return F.conv2d(x, weight, None, conv.stride, conv.padding, conv.dilation, conv.groups)

    g = torch.Generator().manual_seed(seed)
    x = torch.randn(1, *input_shape, generator=g, dtype=weight.dtype).to(weight.device)
    x = x / x.norm()
    for _ in range(n_iter):
        x_req = x.requires_grad_(True)
        y = A(x_req)
        (x_new,) = torch.autograd.grad(y, x_req, grad_outputs=y)    # Aᵀ A x
        x = (x_new / x_new.norm()).detach()
    with torch.no_grad():
        return A(x).norm()


def _layers(net: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(name, m) for name, m in net.named_modules() if isinstance(m, LAYERS)]


def _weight(m: nn.Module) -> Tensor:
    """The weight the layer uses in its forward pass (spectrally normalised if parametrized)."""
    return m.weight


def layer_spectral_norms(net: nn.Module, example: Tensor | None = None,
                         n_iter: int = 50) -> dict[str, float]:
    """σ_max of every Linear/Conv layer of ``net``, in forward order, by power iteration.

    Without ``example`` conv weights are taken as matrices (C_out, C_in·k·k); with an
    ``example`` input batch the conv layers' input shapes are traced in one forward
    pass and :func:`conv_operator_norm` gives the true operator norm.
    """
    layers = _layers(net)
    if not layers:
        raise ValueError(f"{type(net).__name__} has no Linear or Conv layers")
    shapes: dict[str, tuple[int, ...]] = {}
    if example is not None:
        def keep_shape(name: str):
            def hook(module: nn.Module, inputs: tuple, output: Tensor) -> None:
                shapes.setdefault(name, tuple(inputs[0].shape[1:]))  # (C, H, W) of one sample
            return hook

        hooks = [m.register_forward_hook(keep_shape(name)) for name, m in layers]
        try:
            with torch.no_grad():
                net(example)
        finally:
            for h in hooks:
                h.remove()
    out = {}
    for name, m in layers:
        if example is not None and isinstance(m, nn.Conv2d):
            out[name] = float(conv_operator_norm(m, shapes[name], n_iter=n_iter))
        else:
            out[name] = float(power_iteration(_weight(m), n_iter=n_iter)[0])
    return out


def lipschitz_product_bound(net: nn.Module, example: Tensor | None = None,
                            n_iter: int = 50) -> float:
    """∏_l σ_max(W_l): an upper bound on Lip(net) for a chain of Linear/Conv layers and
    1-Lipschitz activations (ReLU, LeakyReLU, tanh). Normalisation layers (batch, layer,
    group norm) have no such bound and raise ValueError."""
    for name, m in net.named_modules():
        if "parametrizations" in name.split("."):                    # spectral norm's internals
            continue
        if not isinstance(m, LAYERS + _ONE_LIPSCHITZ) and len(list(m.children())) == 0:
            raise ValueError(f"layer {name!r} ({type(m).__name__}) is neither Linear/Conv nor a "
                             f"1-Lipschitz activation; the product bound does not apply")
    return math.prod(layer_spectral_norms(net, example, n_iter).values())


def input_grad_norms(net: nn.Module, x: Tensor) -> Tensor:
    """Per-sample ‖∇_x net(x)‖₂ (B,) for a scalar-output network; their max over any set
    of points is a lower bound on Lip(net)."""
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(net(x).sum(), x)
    return grad.flatten(1).norm(dim=1)                               # (B,)


def apply_spectral_norm(net: nn.Module, n_power_iterations: int = 1) -> nn.Module:
    """Put :func:`torch.nn.utils.parametrizations.spectral_norm` on every Linear/Conv
    layer of ``net`` (in place; returns ``net``): each forward pass then uses W / σ̂(W),
    σ̂ from ``n_power_iterations`` power-iteration steps on a persistent u (in training
    mode only; eval mode reuses the last u, v)."""
    layers = _layers(net)
    if not layers:
        raise ValueError(f"{type(net).__name__} has no Linear or Conv layers to normalise")
    for _, m in layers:
        torch.nn.utils.parametrizations.spectral_norm(m, n_power_iterations=n_power_iterations)
    return net


def layer_grad_norms(net: nn.Module) -> dict[str, float]:
    """‖∂L/∂W_l‖ (Frobenius) for every Linear/Conv layer after ``loss.backward()``, in
    forward order; the exploding/vanishing-gradient diagnostic of clipped critics."""
    out = {}
    for name, m in _layers(net):
        grad = m.weight.grad if not hasattr(m, "parametrizations") else \
            m.parametrizations.weight.original.grad
        if grad is None:
            raise ValueError(f"layer {name!r} has no gradient; call backward() on a loss first")
        out[name] = float(grad.norm())
    return out


def layer_weights(net: nn.Module) -> dict[str, Tensor]:
    """The flattened weight values of every Linear/Conv layer (for histograms)."""
    return {name: _weight(m).detach().flatten().cpu() for name, m in _layers(net)}


def share_at_bound(net: nn.Module, c: float, rtol: float = 0.01) -> float:
    """Share of all Linear/Conv weights with |w| ≥ (1 - rtol)·c: after weight clipping
    to [-c, c], the weights piled up at the bounds."""
    if c <= 0:
        raise ValueError(f"clip value must be positive, got {c}")
    w = torch.cat(list(layer_weights(net).values()))
    return float((w.abs() >= (1 - rtol) * c).float().mean())
