"""Endless training batches on the device, drawn reproducibly and resumable.

A *batch* is a :class:`Batch`: a dict of tensors with ``batch.x`` (the real images D sees)
and ``batch.y`` (labels, or None). Paired and unpaired sources add their own names:

* ``Paired(input=edges, target=digits)`` slices row i of every tensor together (pix2pix,
  super-resolution: aligned pairs) -> ``batch["input"], batch["target"]``;
* ``Unpaired(A=mnist, B=digits)`` draws each source on its own, with its own shuffling
  (CycleGAN: two domains with no pairing) -> ``batch["A"], batch["B"]`` (and ``"A_y"``,
  ``"B_y"`` when a source has labels).

In-memory tensors are shuffled once per epoch and sliced, like a DataLoader without workers;
:meth:`RealBatches.state` captures where an epoch stands and the generators' states, so a
resumed run draws exactly the batches an uninterrupted one would.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import torch

Tensor = torch.Tensor


class Batch(dict):
    """One draw of training data: tensors by name; ``x`` and ``y`` as attributes."""

    @property
    def x(self) -> Tensor:
        return self["x"]

    @property
    def y(self) -> Tensor | None:
        return self.get("y")

    def __missing__(self, key: str):
        raise KeyError(f"this batch has no {key!r}; it holds {', '.join(self) or 'nothing'}")


class Paired:
    """Aligned tensors (or ImageDatasets' images) of equal length, sliced together."""

    def __init__(self, **tensors: Any):
        if not tensors:
            raise ValueError("Paired needs at least one named tensor, e.g. Paired(input=a, target=b)")
        self.tensors = {k: getattr(v, "images", v) for k, v in tensors.items()}
        lengths = {k: len(v) for k, v in self.tensors.items()}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"paired tensors must have the same length, got {lengths}")

    def __len__(self) -> int:
        return len(next(iter(self.tensors.values())))


class Unpaired:
    """Named sources drawn independently (each a tensor, an ImageDataset, a toy, ...)."""

    def __init__(self, **sources: Any):
        if len(sources) < 2:
            raise ValueError("Unpaired needs at least two named sources, e.g. Unpaired(A=a, B=b)")
        self.sources = sources


class RealBatches:
    """Endless :class:`Batch` es of ``batch_size`` on ``device``.

    Accepts a tensor (N, ...), an object with ``images``/``labels`` tensors (an
    :class:`~gancourse.data.ImageDataset`), a :class:`Paired` or :class:`Unpaired` set, a toy
    distribution (``.sample(n, generator=)``), a callable ``f(batch_size) -> x or (x, y)``, or
    any iterable of batches (cycled).
    """

    def __init__(self, data: Any, batch_size: int, device: torch.device, seed: int = 0,
                 channels_last: bool = False):
        self.batch_size, self.device, self.channels_last = batch_size, device, channels_last
        self.generator = torch.Generator().manual_seed(seed)
        self.tensors: dict[str, Tensor] | None = None
        self.parts: dict[str, RealBatches] | None = None
        self._iter: Iterator | None = None
        self._source = data
        if isinstance(data, Unpaired):
            self.parts = {name: RealBatches(src, batch_size, device, seed + 1000 * (i + 1), channels_last)
                          for i, (name, src) in enumerate(data.sources.items())}
        elif isinstance(data, Paired):
            self.tensors = dict(data.tensors)
        elif isinstance(data, Tensor):
            self.tensors = {"x": data}
        elif hasattr(data, "images") and hasattr(data, "labels"):
            self.tensors = {"x": data.images, "y": data.labels}
        elif hasattr(data, "sample"):
            self._fn = lambda n: data.sample(n, generator=self.generator)
        elif callable(data):
            self._fn = data
        elif isinstance(data, Iterable):
            self._iter = iter(data)
        else:
            raise TypeError(f"cannot draw batches from {type(data).__name__}; pass a tensor, an "
                            f"ImageDataset, Paired(...), Unpaired(...), a toy distribution, a callable "
                            f"or an iterable")
        if self.tensors is not None:
            n = len(next(iter(self.tensors.values())))
            if n < batch_size:
                raise ValueError(f"batch_size={batch_size} exceeds the {n} training examples")
            if device.type == "cuda":                   # small datasets live on the GPU
                self.tensors = {k: v.to(device) for k, v in self.tensors.items()}
            self._perm, self._pos = torch.empty(0, dtype=torch.long), 0

    @property
    def x(self) -> Tensor | None:
        """The real images of an in-memory source (None for samplers and iterables)."""
        return None if self.tensors is None else self.tensors.get("x")

    def state(self) -> dict[str, Any]:
        """Where the current epoch stands and the shuffling generator (for exact resumption)."""
        if self.parts is not None:
            return {"parts": {k: p.state() for k, p in self.parts.items()}}
        out: dict[str, Any] = {"generator": self.generator.get_state()}
        if self.tensors is not None:
            out.update(perm=self._perm, pos=self._pos)
        return out

    def load_state(self, state: Mapping[str, Any]) -> None:
        if self.parts is not None:
            for k, p in self.parts.items():
                p.load_state(state["parts"][k])
            return
        if "generator" in state:
            self.generator.set_state(state["generator"].cpu())
        if self.tensors is not None and "perm" in state:
            self._perm, self._pos = state["perm"].cpu(), int(state["pos"])

    def _to_device(self, t: Tensor) -> Tensor:
        t = t.to(self.device, non_blocking=True)
        if self.channels_last and t.ndim == 4 and t.is_floating_point():
            t = t.contiguous(memory_format=torch.channels_last)
        return t

    def __iter__(self) -> RealBatches:
        return self

    def __next__(self) -> Batch:
        if self.parts is not None:
            batch = Batch()
            for name, part in self.parts.items():
                sub = next(part)
                batch[name] = sub.x
                if sub.y is not None:
                    batch[f"{name}_y"] = sub.y
            return batch
        if self.tensors is not None:
            n = len(next(iter(self.tensors.values())))
            if self._pos + self.batch_size > len(self._perm):
                self._perm, self._pos = torch.randperm(n, generator=self.generator), 0
            idx = self._perm[self._pos:self._pos + self.batch_size]
            self._pos += self.batch_size
            return Batch({k: self._to_device(v[idx.to(v.device)]) for k, v in self.tensors.items()})
        if self._iter is not None:
            try:
                out = next(self._iter)
            except StopIteration:
                self._iter = iter(self._source)
                out = next(self._iter)
        else:
            out = self._fn(self.batch_size)
        if isinstance(out, Mapping):
            return Batch({k: self._to_device(v) for k, v in out.items()})
        x, y = out if isinstance(out, (tuple, list)) else (out, None)
        batch = Batch(x=self._to_device(x))
        if y is not None:
            batch["y"] = self._to_device(y)
        return batch
