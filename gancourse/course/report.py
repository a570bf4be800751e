"""Render a course run: ``report.json`` (machine readable), ``report.md`` and a stdout summary.

Everything here works on the plain report dictionary that
:func:`gancourse.course.runner.build_report` produces::

    {"profile": "smoke", "created": "...", "out_dir": "...", "check": true,
     "baseline_file": ".../smoke.json", "ok": false, "baseline_update": null,
     "notebooks": [{"name": "01_divergences_js_vs_em", "status": "ok" | "failed" | "timeout",
                    "wall_s": 12.3, "budget_s": 60.0, "over_budget": false,
                    "error": null | {"name", "message", "cell_index", "exec_count"},
                    "metrics": {...}, "checks": [MetricCheck.to_dict(), ...],
                    "verdict": "pass" | "fail" | null, "reasons": [...], ...}]}
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gancourse.runtime import atomic_write_bytes, atomic_write_json


def describe_error(error: Mapping[str, Any]) -> str:
    """``ZeroDivisionError: division by zero (cell 3, In [2])``."""
    where = []
    if error.get("cell_index") is not None:
        where.append(f"cell {error['cell_index']}")
    if error.get("exec_count") is not None:
        where.append(f"In [{error['exec_count']}]")
    text = f"{error['name']}: {error['message']}" if error.get("message") else error["name"]
    return text + (f" ({', '.join(where)})" if where else "")


def _cell(x: Any) -> str:
    """A value made safe for one markdown table cell."""
    if x is None:
        return "-"
    if isinstance(x, float):
        x = f"{x:.6g}"
    return str(x).replace("|", "\\|").replace("\n", " ")


def _baseline_text(spec: Mapping[str, Any] | None) -> str:
    if not spec:
        return "-"
    parts = [f"{spec['value']}"] if "value" in spec else []
    parts += [f"{k} {spec[k]}" for k in ("min", "max") if k in spec]
    return ", ".join(parts)


def _budget_text(nb: Mapping[str, Any]) -> str:
    return f"{nb['budget_s']:g}" + (" (over)" if nb["over_budget"] else "")


def render_markdown(report: Mapping[str, Any]) -> str:
    """The human-readable report: one overview table, then one metric table per notebook."""
    check = report["check"]
    lines = [
        f"# gancourse run: profile `{report['profile']}`",
        "",
        f"- created: {report['created']}",
        f"- output: `{report['out_dir']}`",
        (f"- baseline: `{report['baseline_file']}` (checked)" if check
         else "- baseline: not checked (run with --check)"),
        f"- result: **{'PASS' if report['ok'] else 'FAIL'}**",
        "",
        "| notebook | status | wall time s | budget s | metrics | check |",
        "|---|---|---:|---:|---:|---|",
    ]
    for nb in report["notebooks"]:
        lines.append(f"| {nb['name']} | {nb['status']} | {nb['wall_s']:.1f} | "
                     f"{_budget_text(nb)} | {len(nb['metrics'])} | {_cell(nb['verdict'])} |")
    for nb in report["notebooks"]:
        lines += ["", f"## {nb['name']}", ""]
        lines += [f"- {reason}" for reason in nb["reasons"]]
        lines.append(f"- executed notebook: `{nb['output']}`")
        lines.append("")
        if check:
            if not nb["checks"]:
                lines.append("No metrics recorded and none expected.")
                continue
            lines += ["| metric | value | baseline | tolerance | verdict | reason |",
                      "|---|---|---|---|---|---|"]
            for c in nb["checks"]:
                lines.append(f"| {_cell(c['metric'])} | {_cell(c['value'])} | "
                             f"{_cell(_baseline_text(c['baseline']))} | "
                             f"{_cell(c['tolerance'] or '-')} | {c['verdict']} | "
                             f"{_cell(c['reason'])} |")
        elif nb["metrics"]:
            lines += ["| metric | value |", "|---|---|"]
            lines += [f"| {_cell(k)} | {_cell(v)} |" for k, v in sorted(nb["metrics"].items())]
        else:
            lines.append("No metrics recorded.")
    update = report.get("baseline_update")
    if update:
        lines += ["", "## Baseline update", ""]
        for key in ("added", "updated", "removed", "skipped"):
            lines += [f"- {key}: {item}" for item in update[key]]
    return "\n".join(lines) + "\n"


def render_summary(report: Mapping[str, Any]) -> list[str]:
    """One line per notebook, then every reason for a failure (for stdout)."""
    lines = []
    width = max((len(nb["name"]) for nb in report["notebooks"]), default=0)
    for nb in report["notebooks"]:
        label = (nb["verdict"] or nb["status"]).upper()
        over = "  OVER BUDGET" if nb["over_budget"] else ""
        lines.append(f"{label:<8} {nb['name']:<{width}}  {nb['wall_s']:7.1f} s / "
                     f"{nb['budget_s']:g} s{over}  {len(nb['metrics'])} metrics")
    failing = [nb for nb in report["notebooks"] if nb["reasons"]]
    if failing:
        lines.append("reasons:")
        for nb in failing:
            lines += [f"  {nb['name']}: {reason}" for reason in nb["reasons"]]
    return lines


def write_report(out_dir: str | Path, report: Mapping[str, Any]) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.md`` into ``out_dir`` (atomically)."""
    out_dir = Path(out_dir)
    json_path = atomic_write_json(out_dir / "report.json", report)
    md_path = atomic_write_bytes(out_dir / "report.md", render_markdown(report).encode())
    return json_path, md_path
