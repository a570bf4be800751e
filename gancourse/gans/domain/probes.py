"""Probes: how much a fixed representation still says about a label.

A *probe* is a fresh classifier trained on frozen codes (features, content codes) to read a
label from them, then tested on codes it did not train on. Its held-out accuracy measures what
the codes still carry: a domain probe near chance (½ for two domains, 1/K for K) says the domain
can no longer be read, whatever the adversary that trained alongside the encoder believed.

* :func:`probe_accuracy` — train an MLP (or logistic regression, ``hidden=0``) on half of the
  codes, stratified by label, and return its accuracy on the other half;
* :func:`domain_probe` — the two-domain case: codes of domain A against codes of domain B,
  in equal numbers.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

Tensor = torch.Tensor


def _split(labels: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Stratified halves: (train indices, test indices)."""
    train, test = [], []
    for c in torch.unique(labels):
        idx = torch.nonzero(labels == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=generator)]
        half = len(idx) // 2
        train.append(idx[:half])
        test.append(idx[half:])
    return torch.cat(train), torch.cat(test)


def probe_accuracy(codes: Tensor, labels: Tensor, hidden: int = 128, steps: int = 500,
                   lr: float = 1e-3, batch_size: int = 128, seed: int = 0) -> float:
    """Held-out accuracy of a fresh probe reading ``labels`` (N,) from ``codes`` (N, ...).

    The codes are flattened and standardised (training-half statistics); the probe is an MLP
    with one hidden layer of ``hidden`` ReLU units (``hidden=0``: logistic regression), trained
    with Adam on a stratified half for ``steps`` steps and tested on the other half.
    """
    codes = codes.detach().float().cpu().flatten(1)
    labels = labels.detach().long().cpu()
    if len(codes) != len(labels) or len(codes) < 4:
        raise ValueError(f"need at least 4 codes with one label each, got {len(codes)} codes and "
                         f"{len(labels)} labels")
    classes = torch.unique(labels)
    if len(classes) < 2:
        raise ValueError("the labels hold a single class: nothing to probe")
    k = int(labels.max()) + 1
    g = torch.Generator().manual_seed(seed)
    tr, te = _split(labels, g)
    mean, std = codes[tr].mean(0), codes[tr].std(0).clamp_min(1e-6)
    x = (codes - mean) / std
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        probe = (nn.Linear(x.shape[1], k) if hidden == 0 else
                 nn.Sequential(nn.Linear(x.shape[1], hidden), nn.ReLU(), nn.Linear(hidden, k)))
    opt = torch.optim.Adam(probe.parameters(), lr=lr)
    for _ in range(int(steps)):
        idx = tr[torch.randint(len(tr), (min(batch_size, len(tr)),), generator=g)]
        loss = F.cross_entropy(probe(x[idx]), labels[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    with torch.no_grad():
        return (probe(x[te]).argmax(1) == labels[te]).float().mean().item()


def domain_probe(codes_a: Tensor, codes_b: Tensor, hidden: int = 128, steps: int = 500,
                 seed: int = 0) -> float:
    """Held-out accuracy of a fresh probe telling codes of domain A from codes of domain B
    (equal numbers of each are used, so chance is ½)."""
    n = min(len(codes_a), len(codes_b))
    if n < 2:
        raise ValueError(f"need at least 2 codes per domain, got {len(codes_a)} and {len(codes_b)}")
    codes = torch.cat([codes_a[:n].flatten(1), codes_b[:n].flatten(1)])
    labels = torch.cat([torch.zeros(n, dtype=torch.long), torch.ones(n, dtype=torch.long)])
    return probe_accuracy(codes, labels, hidden=hidden, steps=steps, seed=seed)
