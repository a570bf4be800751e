"""Runtime: profiles, devices, seeding, paths and the metric recorder.

Every notebook starts with the same two lines after its ``parameters`` cell::

    ctx = gancourse.setup(profile=profile, seed=seed, device=device, data_root=data_root,
                          offline=offline, metrics_path=metrics_path)
    cfg = ctx.pick(SETTINGS)          # SETTINGS = {"smoke": {...}, "cpu": {...}, "gpu": {...}}

``setup`` resolves ``"auto"`` values, seeds every generator and points :func:`record`
at the runner's metrics file. Nothing here depends on the current working directory:
papermill runs notebooks in the caller's directory, nbval in the notebook's.
"""

from __future__ import annotations

import json
import math
import os
import random
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

PROFILES = ("smoke", "cpu", "gpu")
DEVICES = ("cuda", "mps", "cpu")

ENV_PROFILE = "GANCOURSE_PROFILE"
ENV_OFFLINE = "GANCOURSE_OFFLINE"
ENV_DATA = "GANCOURSE_DATA"
ENV_OUTPUT = "GANCOURSE_OUTPUT"
ENV_DRY = "GANCOURSE_DRY"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


# ----------------------------------------------------------------------------- profiles
def resolve_profile(profile: str | None = "auto") -> str:
    """``auto`` -> ``$GANCOURSE_PROFILE`` -> ``gpu`` if CUDA is available -> ``cpu``."""
    if profile is None or profile == "auto":
        env = os.environ.get(ENV_PROFILE, "").strip().lower()
        if env and env != "auto":
            profile = env
        else:
            return "gpu" if torch.cuda.is_available() else "cpu"
    if profile not in PROFILES:
        raise ValueError(
            f"unknown profile {profile!r}; valid profiles are {', '.join(PROFILES)} or 'auto'"
        )
    return profile


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``auto`` picks cuda, then mps, then cpu. An explicit device must be available."""
    if isinstance(device, torch.device):
        return device
    if device is None or device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    kind = str(device).split(":")[0]
    if kind not in DEVICES:
        raise ValueError(f"unknown device {device!r}; valid devices are cuda, mps, cpu or 'auto'")
    if kind == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was requested but CUDA is not available here; "
                           "use device='auto' or 'cpu'")
    if kind == "mps" and not (getattr(torch.backends, "mps", None)
                              and torch.backends.mps.is_available()):
        raise RuntimeError("device 'mps' was requested but MPS is not available here; "
                           "use device='auto' or 'cpu'")
    return torch.device(device)


def resolve_offline(offline: bool | None = None) -> bool:
    """``None`` reads ``$GANCOURSE_OFFLINE`` (``1``/``true`` forbid network use)."""
    if offline is not None:
        return bool(offline)
    value = os.environ.get(ENV_OFFLINE, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{ENV_OFFLINE}={value!r} is not understood; use 1 or 0")


def resolve_dry(dry: bool | None = None) -> bool:
    """``None`` reads ``$GANCOURSE_DRY`` (set by ``gancourse run --dry``)."""
    if dry is not None:
        return bool(dry)
    value = os.environ.get(ENV_DRY, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{ENV_DRY}={value!r} is not understood; use 1 or 0")


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and torch (all devices).

    ``deterministic=True`` also asks torch for deterministic kernels (slower; some CUDA
    ops then need ``CUBLAS_WORKSPACE_CONFIG``, which is set here when missing).
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    else:
        torch.use_deterministic_algorithms(False)


# ----------------------------------------------------------------------------- paths
def repo_root() -> Path | None:
    """The source checkout holding this package, or None for an installed copy."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").exists() and (root / "notebooks").is_dir() else None


def default_data_root() -> Path:
    """``$GANCOURSE_DATA``, else ``<checkout>/data/cache``, else ``~/.cache/gancourse/data``."""
    if os.environ.get(ENV_DATA):
        return Path(os.environ[ENV_DATA]).expanduser()
    root = repo_root()
    if root is not None:
        return root / "data" / "cache"
    return Path.home() / ".cache" / "gancourse" / "data"


def default_output_root() -> Path:
    """``$GANCOURSE_OUTPUT``, else ``<checkout>/runs``, else ``~/.cache/gancourse/runs``."""
    if os.environ.get(ENV_OUTPUT):
        return Path(os.environ[ENV_OUTPUT]).expanduser()
    root = repo_root()
    if root is not None:
        return root / "runs"
    return Path.home() / ".cache" / "gancourse" / "runs"


def notebooks_dir() -> Path:
    root = repo_root()
    if root is None:
        raise FileNotFoundError("the course notebooks live in a source checkout of gancourse; "
                                "clone the repository and `pip install -e .` there")
    return root / "notebooks"


def baselines_dir() -> Path:
    root = repo_root()
    if root is None:
        raise FileNotFoundError("baselines live in data/baselines of a source checkout")
    return root / "data" / "baselines"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half.

    The file gets the permissions ``open()`` would give it (0666 minus the umask, e.g. 0644),
    not the private 0600 of the temporary file it is written through.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    return atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


# ----------------------------------------------------------------------------- metrics
_RECORDS: dict[str, float | int | bool | str] = {}
_METRICS_PATH: Path | None = None


def _check_name(name: str) -> None:
    parts = name.split(".") if isinstance(name, str) else []
    if not parts or not all(p and p.replace("_", "").replace("-", "").isalnum() for p in parts):
        raise ValueError(f"metric name {name!r} must be dotted words, e.g. 'dcgan.fd'")


def record(name: str, value: Any) -> None:
    """Store a scalar metric under a dotted ``name``.

    Accepts Python/NumPy/torch scalars (a one-element tensor is fine). When the
    notebook was started with ``metrics_path`` (the runner sets it), all records so far
    are written there as JSON after every call, atomically, so a crash later in the
    notebook still leaves what was recorded.
    """
    _check_name(name)
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise TypeError(f"record({name!r}): expected a scalar, got a tensor of shape "
                            f"{tuple(value.shape)}")
        value = value.item()
    if isinstance(value, np.generic):
        value = value.item()
    if not isinstance(value, (bool, int, float, str)):
        raise TypeError(f"record({name!r}): expected float, int, bool or str, "
                        f"got {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        value = str(value)  # JSON has no inf/nan; keep it visible as text
    _RECORDS[name] = value
    if _METRICS_PATH is not None:
        atomic_write_json(_METRICS_PATH, _RECORDS)


def records() -> dict[str, Any]:
    """A copy of everything recorded in this process."""
    return dict(_RECORDS)


def configure_metrics(metrics_path: str | Path | None, reset: bool = True) -> None:
    """Point :func:`record` at ``metrics_path`` (None: keep records in memory only)."""
    global _METRICS_PATH
    if reset:
        _RECORDS.clear()
    _METRICS_PATH = Path(metrics_path) if metrics_path else None
    if _METRICS_PATH is not None:
        atomic_write_json(_METRICS_PATH, _RECORDS)


# ----------------------------------------------------------------------------- context
@dataclass
class Context:
    """What a notebook resolved from its parameters cell."""

    profile: str
    device: torch.device
    seed: int
    data_root: Path
    offline: bool
    metrics_path: Path | None = None
    dry: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def mode(self) -> str:
        """The profile, or ``"gpu-dry"`` for a dry run: names what a run's outputs belong to."""
        return f"{self.profile}-dry" if self.dry else self.profile

    def pick(self, settings: Mapping[str, Any]) -> Any:
        """Return ``settings[profile]``; every profile must be present.

        In a dry run (``gancourse run --profile gpu --dry``) the result is the ``gpu`` entry
        updated with the ``"dry"`` entry, which caps what costs time (steps, sample counts) and
        keeps everything that decides shapes (datasets, image sizes, widths): the gpu code path,
        in a few seconds on a CPU. A ``"dry"`` entry that is not a mapping replaces ``gpu``.
        """
        missing = [p for p in PROFILES if p not in settings]
        if missing:
            raise KeyError(f"profile settings lack {missing}; give one entry per profile "
                           f"{list(PROFILES)}")
        if not self.dry:
            return settings[self.profile]
        if "dry" not in settings:
            raise KeyError("a dry run needs a 'dry' entry next to the profiles: the gpu settings' "
                           "steps and sample counts, capped so that the gpu code path runs in seconds")
        gpu, dry = settings["gpu"], settings["dry"]
        return {**gpu, **dry} if isinstance(gpu, Mapping) and isinstance(dry, Mapping) else dry

    def __str__(self) -> str:  # shown at the top of every notebook
        return (f"profile={self.profile}{' (dry run)' if self.dry else ''} device={self.device} "
                f"seed={self.seed} offline={self.offline} data_root={self.data_root}")


def setup(profile: str = "auto", seed: int = 0, device: str = "auto",
          data_root: str | Path | None = None, offline: bool | None = None,
          metrics_path: str | Path | None = None, deterministic: bool = False,
          threads: int | None = None) -> Context:
    """Resolve a notebook's parameters cell, seed everything and point :func:`record` at
    ``metrics_path``.

    ``threads`` sets torch's CPU threads. By default the ``smoke`` profile uses one: its
    tensors are too small to gain from intra-op threads, and graders and CI often run
    several notebooks at once, where OpenMP threads that spin-wait for a busy core make a
    step many times slower (measured: 8 ms with one thread vs 68 ms with two, for the toy
    GAN of notebook 00 on a 2-core machine with one core busy).
    """
    ctx = Context(
        profile=resolve_profile(profile),
        device=resolve_device(device),
        seed=int(seed),
        data_root=Path(data_root).expanduser() if data_root else default_data_root(),
        offline=resolve_offline(offline),
        metrics_path=Path(metrics_path) if metrics_path else None,
        dry=resolve_dry(),
    )
    if ctx.dry and ctx.profile != "gpu":
        raise ValueError(f"a dry run executes the gpu profile's code path with capped steps; "
                         f"got profile {ctx.profile!r} with {ENV_DRY} set (unset it, or use 'gpu')")
    if threads is None and (ctx.profile == "smoke" or ctx.dry):
        threads = 1
    if threads is not None:
        torch.set_num_threads(int(threads))
    seed_everything(ctx.seed, deterministic=deterministic)
    configure_metrics(ctx.metrics_path)
    return ctx
