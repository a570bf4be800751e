"""Baseline files: load, validate, compare recorded metrics, update from a run.

A baseline file ``data/baselines/<profile>.json`` maps notebook stems to metric entries::

    {
      "_budget_s": {"13_evaluating_gans": 90},
      "04_dcgan": {
        "dcgan.fd": {"value": 12.3, "rel": 0.3, "note": "why this tolerance"},
        "dcgan.confident_share": {"min": 0.7},
        "dcgan.lipschitz_ok": {"value": true}
      }
    }

Numeric entries pass when ``|x - value| <= abs + rel * |value|`` (a missing ``abs`` or
``rel`` is 0) and ``min <= x <= max`` for the bounds that are given; these comparisons
forgive float rounding (relative 1e-9). Bool and string entries need exact equality.
Everything here is a pure function of its arguments, so it is tested without running
notebooks.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gancourse.runtime import atomic_write_json

BUDGET_KEY = "_budget_s"
SPEC_KEYS = ("abs", "auto", "max", "min", "note", "rel", "value")
NON_FINITE = ("nan", "inf", "-inf")
AUTO_REL = 0.25
AUTO_ABS = 1e-6

# verdicts of one metric; "fail" and "missing" fail a --check run
PASS, FAIL, MISSING, UNCHECKED = "pass", "fail", "missing", "unchecked"


class BaselineError(ValueError):
    """A baseline file that cannot be used (bad JSON, unknown keys, bad tolerances)."""


# ----------------------------------------------------------------------------- value kinds
def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _kind(x: Any) -> str:
    """``number`` | ``bool`` | ``str`` | ``other`` (bool is not a number here)."""
    if isinstance(x, bool):
        return "bool"
    if _is_number(x):
        return "number"
    if isinstance(x, str):
        return "str"
    return "other"


def is_non_finite(x: Any) -> bool:
    """True for a non-finite float or the text ``record()`` stores for one (``"nan"``...)."""
    if isinstance(x, str):
        return x.strip().lower() in NON_FINITE
    return _is_number(x) and not math.isfinite(x)


def _le(a: float, b: float) -> bool:
    """``a <= b`` forgiving float rounding (``1.1 - 1.0 <= 0.1`` holds)."""
    return a <= b or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def _fmt(x: Any) -> str:
    return f"{x:.6g}" if isinstance(x, float) else repr(x) if isinstance(x, str) else str(x)


# ----------------------------------------------------------------------------- validation
def _validate_spec(spec: Any, where: str) -> None:
    if not isinstance(spec, Mapping):
        raise BaselineError(f"{where}: an entry must be an object such as "
                            f'{{"value": 1.0, "rel": 0.1}}, got {spec!r}')
    unknown = sorted(set(spec) - set(SPEC_KEYS))
    if unknown:
        raise BaselineError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; "
                            f"valid keys are {', '.join(SPEC_KEYS)}")
    if not any(k in spec for k in ("value", "min", "max")):
        raise BaselineError(f"{where}: the entry has no 'value' and no 'min'/'max' bound, "
                            "so nothing can be checked")
    for key in ("abs", "rel", "min", "max"):
        if key in spec and (not _is_number(spec[key]) or not math.isfinite(spec[key])):
            raise BaselineError(f"{where}: {key!r} must be a finite number, got {spec[key]!r}")
    for key in ("abs", "rel"):
        if key in spec and spec[key] < 0:
            raise BaselineError(f"{where}: {key!r} must be >= 0, got {spec[key]!r}")
    if "min" in spec and "max" in spec and spec["min"] > spec["max"]:
        raise BaselineError(f"{where}: 'min' ({spec['min']}) is greater than 'max' "
                            f"({spec['max']})")
    if "note" in spec and not isinstance(spec["note"], str):
        raise BaselineError(f"{where}: 'note' must be a string, got {spec['note']!r}")
    if "auto" in spec and not isinstance(spec["auto"], bool):
        raise BaselineError(f"{where}: 'auto' must be true or false, got {spec['auto']!r}")
    if "value" in spec:
        kind = _kind(spec["value"])
        if kind == "other" or (kind == "number" and not math.isfinite(spec["value"])):
            raise BaselineError(f"{where}: 'value' must be a finite number, a bool or a "
                                f"string, got {spec['value']!r}")
        numeric_keys = [k for k in ("abs", "rel", "min", "max") if k in spec]
        if kind != "number" and numeric_keys:
            raise BaselineError(f"{where}: {', '.join(numeric_keys)} only apply to numeric "
                                f"values; a {kind} value is compared exactly")


def validate_baseline(data: Any, source: str = "baseline") -> dict[str, Any]:
    """Check the structure of a parsed baseline file; return it, or raise BaselineError.

    ``source`` names the file in error messages.
    """
    if not isinstance(data, Mapping):
        raise BaselineError(f"{source}: the top level must be an object mapping notebook "
                            f"names to metric entries, got {type(data).__name__}")
    for key, entries in data.items():
        if key == BUDGET_KEY:
            if not isinstance(entries, Mapping):
                raise BaselineError(f"{source}: {BUDGET_KEY} must map notebook names to "
                                    "seconds")
            for name, seconds in entries.items():
                if not _is_number(seconds) or not math.isfinite(seconds) or seconds <= 0:
                    raise BaselineError(f"{source}: {BUDGET_KEY}: {name}: the budget must be "
                                        f"a positive number of seconds, got {seconds!r}")
            continue
        if key.startswith("_"):
            raise BaselineError(f"{source}: unknown top-level key {key!r}; the only special "
                                f"key is {BUDGET_KEY!r}, every other key is a notebook name")
        if not isinstance(entries, Mapping):
            raise BaselineError(f"{source}: {key}: must map metric names to entries, "
                                f"got {entries!r}")
        for metric, spec in entries.items():
            _validate_spec(spec, f"{source}: notebook {key}: metric {metric}")
    return dict(data)


def load_baseline(path: str | Path) -> dict[str, Any]:
    """Read and validate a baseline file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise BaselineError(f"{path}: not valid JSON: {exc}") from exc
    return validate_baseline(data, str(path))


def save_baseline(path: str | Path, baseline: Mapping[str, Any]) -> Path:
    """Validate and write a baseline file atomically (sorted keys, 2-space indent)."""
    validate_baseline(baseline, str(path))
    return atomic_write_json(path, baseline)


# ----------------------------------------------------------------------------- comparison
def describe_tolerance(spec: Mapping[str, Any]) -> str:
    """Human-readable tolerance: ``exact``, ``+/-0.369 (rel 0.03)``, ``>= 0.7``, ..."""
    parts = []
    if "value" in spec:
        if _kind(spec["value"]) != "number":
            parts.append("exact")
        else:
            a, r = spec.get("abs", 0), spec.get("rel", 0)
            tol = a + r * abs(spec["value"])
            if tol > 0:
                detail = ", ".join(f"{k} {_fmt(spec[k])}" for k in ("abs", "rel") if k in spec)
                parts.append(f"+/-{_fmt(float(tol))} ({detail})")
            else:
                parts.append("exact")
    if "min" in spec and "max" in spec:
        parts.append(f"in [{_fmt(spec['min'])}, {_fmt(spec['max'])}]")
    elif "min" in spec:
        parts.append(f">= {_fmt(spec['min'])}")
    elif "max" in spec:
        parts.append(f"<= {_fmt(spec['max'])}")
    return ", ".join(parts)


def check_metric(value: Any, spec: Mapping[str, Any]) -> tuple[bool, str]:
    """Compare one recorded ``value`` with a validated baseline entry: ``(passed, reason)``."""
    if "value" in spec and _kind(spec["value"]) in ("bool", "str"):
        ref = spec["value"]
        ok = _kind(value) == _kind(ref) and value == ref
        return ok, (f"equals {_fmt(ref)}" if ok else f"expected exactly {_fmt(ref)}, "
                    f"got {_fmt(value)}")
    if is_non_finite(value):
        return False, f"recorded a non-finite value {str(value)!r}; expected a finite number"
    if not _is_number(value):
        return False, f"expected a number, got {_kind(value)} {_fmt(value)}"
    problems, fine = [], []
    if "value" in spec:
        ref = spec["value"]
        tol = spec.get("abs", 0) + spec.get("rel", 0) * abs(ref)
        diff = abs(value - ref)
        text = f"|{_fmt(value)} - {_fmt(ref)}| = {_fmt(float(diff))}"
        if _le(diff, tol):
            fine.append(f"{text} <= {_fmt(float(tol))}")
        else:
            problems.append(f"{text} > tolerance {_fmt(float(tol))}")
    if "min" in spec:
        ok = _le(spec["min"], value)
        (fine if ok else problems).append(
            f"{_fmt(value)} {'>=' if ok else '<'} min {_fmt(spec['min'])}")
    if "max" in spec:
        ok = _le(value, spec["max"])
        (fine if ok else problems).append(
            f"{_fmt(value)} {'<=' if ok else '>'} max {_fmt(spec['max'])}")
    return (False, "; ".join(problems)) if problems else (True, "; ".join(fine))


@dataclass
class MetricCheck:
    """The verdict on one metric of one notebook."""

    metric: str
    value: Any            # None when not recorded
    baseline: dict | None  # the baseline entry, None when unchecked
    tolerance: str
    verdict: str          # pass | fail | missing | unchecked
    reason: str

    @property
    def failed(self) -> bool:
        return self.verdict in (FAIL, MISSING)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def compare_metrics(metrics: Mapping[str, Any],
                    entries: Mapping[str, Mapping[str, Any]]) -> list[MetricCheck]:
    """Check every baseline entry of one notebook; recorded extras come back ``unchecked``.

    Order: baseline entries in name order, then unchecked metrics in name order.
    """
    checks = []
    for metric in sorted(entries):
        spec = dict(entries[metric])
        tol = describe_tolerance(spec)
        if metric not in metrics:
            checks.append(MetricCheck(metric, None, spec, tol, MISSING,
                                      "in the baseline but the notebook did not record it"))
            continue
        ok, reason = check_metric(metrics[metric], spec)
        checks.append(MetricCheck(metric, metrics[metric], spec, tol, PASS if ok else FAIL,
                                  reason))
    for metric in sorted(set(metrics) - set(entries)):
        checks.append(MetricCheck(metric, metrics[metric], None, "", UNCHECKED,
                                  "not in the baseline"))
    return checks


# ----------------------------------------------------------------------------- update
def auto_entry(value: Any) -> dict[str, Any]:
    """A new entry for a metric first seen: generous relative tolerance for numbers."""
    if _kind(value) == "number":
        return {"value": value, "rel": AUTO_REL, "abs": AUTO_ABS, "auto": True}
    return {"value": value}


@dataclass
class BaselineUpdate:
    """What :func:`update_baseline` changed, as ``notebook: metric`` strings."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, list[str]]:
        return asdict(self)

    def lines(self) -> list[str]:
        out = [f"{len(self.added)} added, {len(self.updated)} updated, "
               f"{len(self.removed)} removed"]
        out += [f"  removed (no longer recorded): {m}" for m in self.removed]
        out += [f"  skipped: {m}" for m in self.skipped]
        return out


def update_baseline(baseline: Mapping[str, Any],
                    runs: Mapping[str, Mapping[str, Any]]) -> tuple[dict[str, Any], BaselineUpdate]:
    """Return a new baseline with the values of ``runs`` (notebook -> recorded metrics).

    - existing entries keep their tolerances, bounds and notes; only ``value`` changes
      (entries with bounds only are left as they are);
    - a metric first seen gets :func:`auto_entry`; so does one whose type changed;
    - entries of a notebook in ``runs`` that it no longer records are removed;
    - notebooks not in ``runs`` and ``_budget_s`` are untouched;
    - a non-finite value is never stored (the old entry, if any, stays).

    Pass only notebooks that ran to completion: a failed notebook's metrics are partial.
    """
    new = copy.deepcopy(dict(baseline))
    change = BaselineUpdate()
    for notebook in sorted(runs):
        metrics = runs[notebook]
        old = new.get(notebook, {})
        entries: dict[str, Any] = {}
        for metric in sorted(metrics):
            value, spec, where = metrics[metric], old.get(metric), f"{notebook}: {metric}"
            if is_non_finite(value) or _kind(value) == "other":
                change.skipped.append(f"{where}: value {value!r} is not stored in a baseline")
                if spec is not None:
                    entries[metric] = spec
            elif spec is None:
                entries[metric] = auto_entry(value)
                change.added.append(where)
            elif "value" not in spec:
                entries[metric] = spec
            elif _kind(spec["value"]) != _kind(value):
                entries[metric] = auto_entry(value)
                change.updated.append(f"{where} (type changed, tolerance reset)")
            else:
                entries[metric] = {**spec, "value": value}
                if spec["value"] != value:
                    change.updated.append(where)
        change.removed += [f"{notebook}: {m}" for m in sorted(set(old) - set(metrics))]
        if entries:
            new[notebook] = entries
        else:
            new.pop(notebook, None)
    return new, change
