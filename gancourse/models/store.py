"""Trained models that one lesson hands to another (04's DCGAN to 17, 07-11's generators to 13).

A saved model is a file ``<output root>/models/<mode>/<name>.pt`` (``mode`` is
``Context.mode``: ``smoke``, ``cpu``, ``gpu`` or ``gpu-dry``, so runs of different profiles
never overwrite each other) holding the class name, the constructor's keyword arguments, the
weights and free-form ``meta`` (settings, metrics). Files are written atomically; a missing,
corrupt or mismatched file raises an error that says which notebook makes it.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gancourse.runtime import atomic_write_bytes, default_output_root

FORMAT = "gancourse-model-v1"


def model_path(name: str, mode: str, root: str | Path | None = None) -> Path:
    """Where :func:`save_model` keeps ``name`` for run mode ``mode``."""
    if not name or "/" in name or not mode:
        raise ValueError(f"need a plain model name and a run mode, got {name!r} and {mode!r}")
    return Path(root or default_output_root()) / "models" / mode / f"{name}.pt"


def save_model(net: nn.Module, name: str, mode: str, kwargs: dict[str, Any],
               meta: dict[str, Any] | None = None, root: str | Path | None = None) -> Path:
    """Save ``net`` (built as ``type(net)(**kwargs)``) with its weights and ``meta``; returns the path."""
    buf = io.BytesIO()
    torch.save({"format": FORMAT, "class": type(net).__name__, "kwargs": dict(kwargs),
                "state": {k: v.detach().cpu() for k, v in net.state_dict().items()},
                "meta": dict(meta or {})}, buf)
    return atomic_write_bytes(model_path(name, mode, root), buf.getvalue())


def load_model(cls: type[nn.Module], name: str, mode: str, root: str | Path | None = None,
               made_by: str = "the notebook that trains it") -> tuple[nn.Module, dict[str, Any]]:
    """``(model in eval mode, meta)`` saved under ``name`` for ``mode``, rebuilt as ``cls``.

    Raises FileNotFoundError when it was never saved (run ``made_by`` first) and ValueError when
    the file is corrupt, not a model file or holds another class.
    """
    path = model_path(name, mode, root)
    if not path.exists():
        raise FileNotFoundError(f"no saved model {name!r} for {mode!r} at {path}; run {made_by} "
                                f"in the same profile first")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(f"{path} is corrupt or unreadable ({type(err).__name__}); delete it and "
                         f"rerun {made_by}") from err
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        raise ValueError(f"{path} is not a gancourse model file (expected {FORMAT!r})")
    if saved["class"] != cls.__name__:
        raise ValueError(f"{path} holds a {saved['class']}, not a {cls.__name__}")
    net = cls(**saved["kwargs"])
    try:
        net.load_state_dict(saved["state"])
    except RuntimeError as err:
        raise ValueError(f"{path} does not fit {cls.__name__}({saved['kwargs']}): {str(err)[:300]}") from err
    return net.eval(), saved["meta"]
