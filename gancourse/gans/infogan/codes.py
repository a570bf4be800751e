"""InfoGAN's latent codes and the variational lower bound L_I on their mutual information.

The generator's input is (z, c): incompressible noise z ~ N(0, I) and a structured code
c = (c_cat, c_cont) with a categorical part c_cat ~ Cat(K, 1/K) (fed one-hot) and continuous
parts c_cont ~ U[-1, 1]^M. InfoGAN asks that c stay readable in the image, i.e. that the mutual
information I(c; G(z, c)) be high. I is intractable, but for any distribution Q(c | x)

    I(c; G(z, c)) = H(c) − H(c | G(z, c))
                  ≥ E_{c ~ p(c), x ~ G(z, c)} [log Q(c | x)] + H(c)  =:  L_I(G, Q),

with equality when Q is the true posterior P(c | x) (the gap is E_x KL(P(·|x) ‖ Q(·|x)) ≥ 0).
Each code part contributes its own term (the parts are independent under p(c) and Q factorises):

* categorical, uniform over K values: E[log Q(c_cat | x)] + log K, i.e. log K minus the
  cross-entropy of Q's logits with the code that was fed (at most log K nats);
* continuous, U[-1, 1] per dimension (differential entropy log 2), Q a Gaussian N(μ(x), σ²):
  E[log N(c_cont; μ(x), σ²)] + M log 2, with
  log N(c; μ, σ²) = −½ log(2πσ²) − (c − μ)² / (2σ²), σ fixed (σ = 1) or learned (log σ²(x)).

G and Q maximise λ L_I next to the GAN game (Chen et al., 2016, eq. 5):

    min_{G, Q} max_D  V(D, G) − λ L_I(G, Q).

:func:`info_lower_bound` returns L_I in nats (constants included, so that its value is a
bound on I); training uses ``-λ`` times its terms (the constants do not change gradients).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

Tensor = torch.Tensor


def check_code_sizes(n_cat: int, n_cont: int) -> None:
    """Raise ValueError unless there are >= 2 categories (or none) and >= 0 continuous codes."""
    if int(n_cat) == 1 or int(n_cat) < 0:
        raise ValueError(f"n_cat must be 0 (no categorical code) or >= 2 categories, got {n_cat}")
    if int(n_cont) < 0:
        raise ValueError(f"n_cont must be >= 0, got {n_cont}")
    if int(n_cat) + int(n_cont) == 0:
        raise ValueError("InfoGAN needs at least one code: n_cat >= 2 or n_cont >= 1")


def sample_codes(n: int, n_cat: int = 10, n_cont: int = 2, generator: torch.Generator | None = None,
                 device: str | torch.device | None = None) -> tuple[Tensor, Tensor]:
    """Draw ``n`` codes from the prior: (c_cat (n,) long, uniform over 0..K-1;
    c_cont (n, n_cont) uniform on [-1, 1]). With ``n_cat == 0`` c_cat is all zeros (unused)."""
    check_code_sizes(n_cat, n_cont)
    if generator is not None:
        device = generator.device
    cat = (torch.randint(0, n_cat, (n,), generator=generator, device=device) if n_cat
           else torch.zeros(n, dtype=torch.long, device=device))                     # (n,)
    cont = torch.rand(n, n_cont, generator=generator, device=device) * 2 - 1            # (n, M)
    return cat, cont


def code_vector(cat: Tensor, cont: Tensor, n_cat: int) -> Tensor:
    """The code as G reads it: [one-hot(c_cat), c_cont] of shape (B, K + M)."""
    if cat.ndim != 1 or cont.ndim != 2 or cont.shape[0] != cat.shape[0]:
        raise ValueError(f"need c_cat of shape (B,) and c_cont of shape (B, M); got "
                         f"{tuple(cat.shape)} and {tuple(cont.shape)}")
    if not n_cat:
        return cont.float()                                                           # (B, M)
    onehot = F.one_hot(cat.long(), n_cat).to(cont.dtype if cont.is_floating_point() else torch.float)
    return torch.cat([onehot, cont.to(onehot.dtype)], dim=1)                          # (B, K + M)


def categorical_bound(logits: Tensor, cat: Tensor) -> Tensor:
    """E[log Q(c_cat | x)] + H(c_cat) for a uniform K-way code: log K − CE(logits, c_cat).

    ``logits`` (B, K) are Q's unnormalised log-probabilities, ``cat`` (B,) the codes fed to G.
    A 0-dim tensor in nats, at most log K (reached when Q reads every code with certainty)."""
    if logits.ndim != 2 or cat.shape != logits.shape[:1]:
        raise ValueError(f"need logits (B, K) and codes (B,); got {tuple(logits.shape)} and "
                         f"{tuple(cat.shape)}")
    return math.log(logits.shape[1]) - F.cross_entropy(logits.float(), cat.long())


def gaussian_log_likelihood(c: Tensor, mean: Tensor, logvar: Tensor | None = None) -> Tensor:
    """log N(c; μ, σ²) per sample and dimension, (B, M): −½ log(2πσ²) − (c − μ)² / (2σ²).

    ``logvar`` = log σ² (B, M) for a learned variance; None means σ = 1."""
    if c.shape != mean.shape or (logvar is not None and logvar.shape != mean.shape):
        raise ValueError(f"c, mean (and logvar) must have the same shape (B, M); got "
                         f"{tuple(c.shape)}, {tuple(mean.shape)}"
                         + (f", {tuple(logvar.shape)}" if logvar is not None else ""))
    c, mean = c.float(), mean.float()
    if logvar is None:
        return -0.5 * math.log(2 * math.pi) - 0.5 * (c - mean) ** 2                   # (B, M)
    logvar = logvar.float()
    return -0.5 * (math.log(2 * math.pi) + logvar) - 0.5 * (c - mean) ** 2 * torch.exp(-logvar)


def continuous_bound(mean: Tensor, cont: Tensor, logvar: Tensor | None = None) -> Tensor:
    """E[log Q(c_cont | x)] + H(c_cont) for M codes U[-1, 1] and a Gaussian Q, summed over the
    M dimensions: mean_B Σ_m log N(c_m; μ_m(x), σ_m²) + M log 2 (0-dim tensor, nats)."""
    if cont.ndim != 2:
        raise ValueError(f"continuous codes must have shape (B, M), got {tuple(cont.shape)}")
    ll = gaussian_log_likelihood(cont, mean, logvar)                                  # (B, M)
    return ll.sum(1).mean() + cont.shape[1] * math.log(2.0)


def info_lower_bound(cat_logits: Tensor | None, cat: Tensor | None, cont_mean: Tensor | None = None,
                     cont: Tensor | None = None, cont_logvar: Tensor | None = None) -> dict[str, Tensor]:
    """L_I = E[log Q(c | G(z, c))] + H(c) in nats, per code part and in total.

    Args:
        cat_logits, cat: Q's logits (B, K) and the categorical codes (B,) that were fed to G
            (both None: no categorical code).
        cont_mean, cont, cont_logvar: Q's means (B, M), the continuous codes (B, M) and, for a
            learned variance, Q's log σ² (B, M) (None: σ = 1).

    Returns ``{"cat": ..., "cont": ..., "total": ...}`` (0-dim tensors; a missing part is 0).
    """
    if (cat_logits is None) != (cat is None) or (cont_mean is None) != (cont is None):
        raise ValueError("give Q's output and the codes together: (cat_logits, cat) and "
                         "(cont_mean, cont), or None for both of a pair")
    ref = cat_logits if cat_logits is not None else cont_mean
    if ref is None:
        raise ValueError("no code given: pass the categorical pair, the continuous pair or both")
    zero = torch.zeros((), device=ref.device)
    l_cat = categorical_bound(cat_logits, cat) if cat_logits is not None else zero
    l_cont = continuous_bound(cont_mean, cont, cont_logvar) if cont_mean is not None else zero
    return {"cat": l_cat, "cont": l_cont, "total": l_cat + l_cont}
