"""Execute course notebooks with papermill, collect their metrics, check them, report.

Each notebook runs in its own subprocess, papermill's command line (``python -m papermill``,
a thin wrapper of :func:`papermill.execute_notebook`). That keeps nbclient's asyncio
machinery out of threads, allows ``jobs`` notebooks in parallel (threads here only wait on
subprocesses), and gives a clean whole-notebook time limit: on timeout the subprocess is
killed, and its kernel, which polls its parent process, shuts itself down within a second.
Failure details (exception, failing cell) are read back from the executed notebook, which
papermill always writes.

Injected parameters (every notebook has a cell tagged ``parameters``, DESIGN §4.2):
``profile`` (resolved), ``offline`` (True or None), ``data_root`` (str or None) and
``metrics_path`` (absolute path of ``OUT/<stem>.metrics.json``, written by ``record``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import nbformat
from tqdm.auto import tqdm

from gancourse import runtime
from gancourse.course.baselines import (
    BUDGET_KEY,
    BaselineUpdate,
    MetricCheck,
    compare_metrics,
    load_baseline,
    save_baseline,
    update_baseline,
)
from gancourse.course.report import describe_error, write_report

PROFILE_BUDGET_S = {"smoke": 60.0, "cpu": 600.0, "gpu": 1800.0}
DRY_BUDGET_S = 90.0   # a dry gpu run of one notebook on a CPU (--dry)
TIMEOUT_FACTOR = 3.0  # default whole-notebook time limit = TIMEOUT_FACTOR * budget
KERNEL_NAME = "python3"
ERROR_MARKER_TAG = "papermill-error-cell-tag"  # cells papermill adds to a failed notebook
NOTEBOOK_PATTERN = re.compile(r"^\d{2}_.+\.ipynb$")
OK, FAILED, TIMEOUT = "ok", "failed", "timeout"


class CourseError(Exception):
    """A run that cannot start: unknown notebook, missing baseline, bad output folder."""


class UnknownNotebookError(CourseError):
    pass


# ----------------------------------------------------------------------------- notebooks
def notebooks_folder(notebooks_dir: str | Path | None = None) -> Path:
    """``notebooks_dir``, else the checkout's ``notebooks/``; CourseError when missing."""
    try:
        folder = Path(notebooks_dir) if notebooks_dir is not None else runtime.notebooks_dir()
    except FileNotFoundError as exc:  # an installed copy without the course checkout
        raise CourseError(str(exc)) from exc
    if not folder.is_dir():
        raise CourseError(f"the notebooks folder {folder} does not exist")
    return folder


def list_notebooks(notebooks_dir: str | Path | None = None) -> list[Path]:
    """Every ``NN_*.ipynb`` of the course folder, sorted."""
    folder = notebooks_folder(notebooks_dir)
    return sorted(p for p in folder.iterdir() if NOTEBOOK_PATTERN.match(p.name))


def _matches(name: str, path: Path) -> bool:
    if name in (path.name, path.stem):
        return True
    return name.isdigit() and int(name) == int(path.name[:2])


def resolve_notebooks(names: Sequence[str] = (),
                      notebooks_dir: str | Path | None = None) -> list[Path]:
    """Turn command-line names into notebook paths.

    No names: every course notebook. A name may be a path to an ``.ipynb`` file, a file
    name (``01_divergences_js_vs_em.ipynb``), a stem (``01_divergences_js_vs_em``) or the
    number prefix (``01`` or ``1``). Unknown or ambiguous names raise
    :class:`UnknownNotebookError` listing the available notebooks.
    """
    if not names:
        found = list_notebooks(notebooks_dir)
        if not found:
            raise CourseError(f"no NN_*.ipynb notebooks in {notebooks_folder(notebooks_dir)}")
        return found
    available: list[Path] | None = None
    chosen: list[Path] = []
    bad: list[str] = []
    for name in names:
        as_path = Path(name).expanduser()
        if as_path.suffix == ".ipynb" and as_path.is_file():
            chosen.append(as_path.resolve())
            continue
        if available is None:
            try:
                available = list_notebooks(notebooks_dir)
            except CourseError as exc:
                raise UnknownNotebookError(f"{name!r} is not a notebook file, and the course "
                                           f"notebooks are not available: {exc}") from exc
        hits = [p for p in available if _matches(name, p)]
        if len(hits) == 1:
            chosen.append(hits[0].resolve())
        else:
            bad.append(f"{name!r} ({'ambiguous: ' + ', '.join(p.stem for p in hits)})"
                       if hits else repr(name))
    if bad:
        listing = "\n  ".join(p.stem for p in available or []) or "(none)"
        raise UnknownNotebookError(f"unknown notebook {', '.join(bad)}; available notebooks:"
                                   f"\n  {listing}")
    unique = list(dict.fromkeys(chosen))
    stems = [p.stem for p in unique]
    clash = sorted({s for s in stems if stems.count(s) > 1})
    if clash:
        raise CourseError(f"several notebooks are named {', '.join(clash)}; their outputs "
                          "would overwrite each other in the output folder")
    return unique


# ----------------------------------------------------------------------------- one notebook
@dataclass
class NotebookResult:
    """Outcome of one executed notebook (``checks``/``verdict`` are set by :func:`evaluate`)."""

    name: str
    source: str
    output: str
    metrics_path: str
    status: str                 # ok | failed | timeout
    wall_s: float               # seconds, kernel start included
    budget_s: float
    timeout_s: float
    metrics: dict[str, Any] = field(default_factory=dict)
    error: dict[str, Any] | None = None   # name, message, cell_index, exec_count
    checks: list[MetricCheck] = field(default_factory=list)
    verdict: str | None = None  # pass | fail with --check, else None
    reasons: list[str] = field(default_factory=list)

    @property
    def over_budget(self) -> bool:
        return self.wall_s > self.budget_s

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "over_budget": self.over_budget}


def output_paths(path: str | Path, out_dir: str | Path) -> tuple[Path, Path]:
    """``(OUT/<stem>.ipynb, OUT/<stem>.metrics.json)``; refuses to overwrite the source."""
    path, out_dir = Path(path).resolve(), Path(out_dir).expanduser().resolve()
    output = out_dir / f"{path.stem}.ipynb"
    if output == path:
        raise CourseError(f"refusing to overwrite the source notebook {path} with its executed "
                          "copy; choose another output folder")
    return output, out_dir / f"{path.stem}.metrics.json"


def read_executed(output: str | Path) -> dict[str, Any]:
    """What papermill left in an executed notebook: ``error`` (first failing cell: ``name``,
    ``message``, ``cell_index`` in the source notebook, ``exec_count``), ``running_cell``
    (source index of the cell that was running when the notebook was killed) and
    ``duration`` (seconds from kernel start to the end)."""
    nb = nbformat.read(str(output), as_version=4)
    error, running, index = None, None, 0
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if ERROR_MARKER_TAG in tags or "injected-parameters" in tags:
            continue  # cells papermill added; `index` counts source cells only
        pm = cell.metadata.get("papermill", {})
        outputs = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"
                   and not (o.get("ename") == "SystemExit" and o.get("evalue") in ("", "0"))]
        if error is None and (outputs or pm.get("exception")):
            error = {"name": outputs[0]["ename"] if outputs else "CellExecutionError",
                     "message": outputs[0]["evalue"] if outputs else "",
                     "cell_index": index, "exec_count": cell.get("execution_count")}
        if pm.get("status") == "running" and running is None:
            running = index
        index += 1
    return {"error": error, "running_cell": running,
            "duration": nb.metadata.get("papermill", {}).get("duration")}


def _read_metrics(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {}


def execute_notebook(path: str | Path, out_dir: str | Path, profile: str, *,
                     offline: bool = False, data_root: str | Path | None = None,
                     budget_s: float | None = None, timeout_s: float | None = None,
                     show_cells: bool = False, threads: int | None = None,
                     dry: bool = False) -> NotebookResult:
    """Execute ``path`` into ``out_dir/<stem>.ipynb``; never raises for a notebook error (the
    result says ``failed`` or ``timeout``).

    The subprocess is papermill's own command line (``python -m papermill``, which calls
    ``papermill.execute_notebook``) with kernel ``python3``, the notebook's folder as working
    directory and the parameters in a JSON file. ``budget_s`` defaults to the profile
    budget, ``timeout_s`` to 3x the budget. ``show_cells`` lets papermill's per-cell progress
    bar through to the terminal. Wall time is papermill's duration (kernel start included).
    """
    profile = runtime.resolve_profile(profile)
    path = Path(path).resolve()
    output, metrics_path = output_paths(path, out_dir)
    output.parent.mkdir(parents=True, exist_ok=True)
    for stale in (output, metrics_path):  # a previous run's files would pass for this one's
        stale.unlink(missing_ok=True)
    default_budget = DRY_BUDGET_S if dry else PROFILE_BUDGET_S[profile]
    budget_s = float(budget_s if budget_s is not None else default_budget)
    timeout_s = float(timeout_s if timeout_s is not None else TIMEOUT_FACTOR * budget_s)
    env = dict(os.environ)
    if threads is not None:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env.setdefault(var, str(threads))
    if offline:
        env[runtime.ENV_OFFLINE] = "1"
    env.pop(runtime.ENV_DRY, None)
    if dry:
        env[runtime.ENV_DRY] = "1"
    parameters = {"profile": profile, "offline": True if offline else None,
                  "data_root": str(data_root) if data_root is not None else None,
                  "metrics_path": str(metrics_path)}
    with tempfile.TemporaryDirectory(prefix="gancourse-run-") as tmp:
        params_file, log_path = Path(tmp) / "parameters.json", Path(tmp) / "log.txt"
        params_file.write_text(json.dumps(parameters))  # JSON is YAML for papermill -f
        command = [sys.executable, "-m", "papermill", str(path), str(output),
                   "-f", str(params_file), "-k", KERNEL_NAME, "--cwd", str(path.parent),
                   "--log-level", "WARNING",
                   "--progress-bar" if show_cells else "--no-progress-bar"]
        start = time.perf_counter()
        with open(log_path, "wb") as log:
            sink = None if show_cells else log
            # stdin must not be a pipe: papermill would read the notebook from it
            proc = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=sink,
                                    stderr=sink)
            try:
                proc.wait(timeout=timeout_s)
                timed_out = False
            except subprocess.TimeoutExpired:
                proc.kill()  # the kernel polls its parent and exits within a second
                proc.wait()
                timed_out = True
        elapsed = time.perf_counter() - start
        log_tail = log_path.read_text(errors="replace")[-2000:].strip()
    executed: dict[str, Any] = {"error": None, "running_cell": None, "duration": None}
    if output.exists():
        try:
            executed = read_executed(output)
        except ValueError:  # killed while papermill was saving: a truncated file
            pass
    status, error = OK, None
    if timed_out:
        status, error = TIMEOUT, {"name": "Timeout", "message": f"killed after {timeout_s:g} s, "
                                  "the whole-notebook limit (--timeout)",
                                  "cell_index": executed["running_cell"], "exec_count": None}
    elif proc.returncode != 0:
        status = FAILED
        error = executed["error"] or {
            "name": "PapermillError", "message": f"papermill exited with code "
            f"{proc.returncode}: {log_tail or '(see its output above)'}",
            "cell_index": None, "exec_count": None}
    wall_s = elapsed if timed_out or executed["duration"] is None else executed["duration"]
    return NotebookResult(name=path.stem, source=str(path), output=str(output),
                          metrics_path=str(metrics_path), status=status, wall_s=float(wall_s),
                          budget_s=budget_s, timeout_s=timeout_s,
                          metrics=_read_metrics(metrics_path), error=error)


def run_notebooks(paths: Sequence[str | Path], out_dir: str | Path, profile: str, *,
                  jobs: int = 1, offline: bool = False, data_root: str | Path | None = None,
                  timeout_s: float | None = None, budgets: Mapping[str, float] | None = None,
                  progress: bool = True, dry: bool = False) -> list[NotebookResult]:
    """Execute notebooks (``jobs`` at a time), results in the order of ``paths``.

    ``budgets`` maps notebook stems to seconds and overrides the profile budget.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    profile = runtime.resolve_profile(profile)
    budgets = budgets or {}
    if data_root is not None:
        data_root = Path(data_root).expanduser().resolve()  # notebooks run in their own folder

    # OpenMP threads spin while they wait: two kernels with two threads each on two cores run
    # several times slower than one thread each, so parallel jobs share the cores
    threads = max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 else None

    def one(path: Path) -> NotebookResult:
        return execute_notebook(path, out_dir, profile, offline=offline, data_root=data_root,
                                budget_s=budgets.get(path.stem), timeout_s=timeout_s,
                                show_cells=progress and jobs == 1, threads=threads, dry=dry)

    paths = [Path(p) for p in paths]
    for path in paths:  # fail before anything runs
        output_paths(path, out_dir)
    results: list[NotebookResult | None] = [None] * len(paths)
    with tqdm(total=len(paths), desc=f"notebooks ({profile}{' dry' if dry else ''})", unit="nb",
              disable=not progress) as bar, ThreadPoolExecutor(max_workers=jobs) as pool:
        # threads only wait on subprocesses; every notebook executes in its own process
        futures = {pool.submit(one, p): i for i, p in enumerate(paths)}
        for future in as_completed(futures):
            result = future.result()
            results[futures[future]] = result
            bar.set_postfix_str(f"{result.name}: {result.status}")
            bar.update()
    return [r for r in results if r is not None]


# ----------------------------------------------------------------------------- checking
def evaluate(result: NotebookResult, entries: Mapping[str, Mapping[str, Any]],
             check: bool) -> NotebookResult:
    """Set ``reasons``, ``checks`` and ``verdict`` in place (the last two stay empty/None
    without ``check``).

    With ``check`` a notebook fails when it did not run to completion, a baseline metric is
    out of tolerance or missing, or its wall time exceeds its budget.
    """
    reasons = [describe_error(result.error)] if result.error else []
    result.checks, result.verdict = [], None
    if check:
        result.checks = compare_metrics(result.metrics, entries)
        reasons += [f"{c.metric}: {c.reason}" for c in result.checks if c.failed]
        if result.over_budget:
            reasons.append(f"wall time {result.wall_s:.1f} s exceeds the budget of "
                           f"{result.budget_s:g} s")
        result.verdict = "fail" if reasons else "pass"
    result.reasons = reasons
    return result


def build_report(results: Sequence[NotebookResult], *, profile: str, out_dir: str | Path,
                 check: bool, baseline_file: str | Path | None,
                 baseline_update: BaselineUpdate | None = None) -> dict[str, Any]:
    """The JSON-able report that :mod:`gancourse.course.report` renders."""
    return {
        "profile": profile,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "out_dir": str(out_dir),
        "check": check,
        "baseline_file": str(baseline_file) if baseline_file else None,
        "ok": exit_code(results) == 0,
        "notebooks": [r.to_dict() for r in results],
        "baseline_update": baseline_update.to_dict() if baseline_update else None,
    }


def exit_code(results: Sequence[NotebookResult]) -> int:
    """1 when a notebook failed, timed out or failed its check, else 0."""
    return int(any(r.status != OK or r.verdict == "fail" for r in results))


# ----------------------------------------------------------------------------- whole run
@dataclass
class CourseRun:
    """Everything ``gancourse run`` produced; ``exit_code`` is what the command returns."""

    results: list[NotebookResult]
    report: dict[str, Any]
    report_json: Path
    report_md: Path
    baseline_file: Path | None
    baseline_update: BaselineUpdate | None
    exit_code: int


def baseline_path(profile: str, baselines_dir: str | Path | None = None) -> Path:
    folder = Path(baselines_dir) if baselines_dir is not None else runtime.baselines_dir()
    return folder / f"{profile}.json"


def run_course(names: Sequence[str] = (), *, profile: str = "auto",
               out_dir: str | Path | None = None, jobs: int = 1, check: bool = False,
               update_baselines: bool = False, offline: bool = False,
               data_root: str | Path | None = None, timeout_s: float | None = None,
               notebooks_dir: str | Path | None = None,
               baselines_dir: str | Path | None = None, progress: bool = True,
               dry: bool = False) -> CourseRun:
    """What ``gancourse run`` does: resolve, execute, check, update baselines, report.

    ``dry`` (``--dry``, gpu profile only) runs the gpu settings with each notebook's ``dry``
    caps: it shows that the gpu code path runs, so it has no baselines and no budgets.

    Raises :class:`CourseError` or :class:`~gancourse.course.baselines.BaselineError`
    before executing anything when the request cannot be served.
    """
    try:
        profile = runtime.resolve_profile(profile)
    except ValueError as exc:
        raise CourseError(str(exc)) from exc
    if dry and profile != "gpu":
        raise CourseError(f"--dry runs the gpu profile's code path; use --profile gpu (got {profile!r})")
    if dry and (check or update_baselines):
        raise CourseError("a dry run only shows that the gpu code path runs: it has no baselines to "
                          "--check or --update-baselines")
    paths = resolve_notebooks(names, notebooks_dir)
    mode = f"{profile}-dry" if dry else profile
    out_dir = Path(out_dir if out_dir is not None
                   else runtime.default_output_root() / mode).expanduser().resolve()
    try:
        bfile: Path | None = baseline_path(profile, baselines_dir)
    except FileNotFoundError as exc:
        if check or update_baselines:
            raise CourseError(str(exc)) from exc
        bfile = None
    if check and not (bfile and bfile.exists()):
        raise CourseError(f"--check needs the baseline file {bfile}, which does not exist; "
                          "create it with --update-baselines")
    baseline = load_baseline(bfile) if bfile and bfile.exists() else {}

    results = run_notebooks(paths, out_dir, profile, jobs=jobs, offline=offline,
                            data_root=data_root, timeout_s=timeout_s,
                            budgets={} if dry else baseline.get(BUDGET_KEY, {}), progress=progress,
                            dry=dry)
    for result in results:
        evaluate(result, baseline.get(result.name, {}), check)

    change = None
    if update_baselines and bfile is not None:
        new, change = update_baseline(
            baseline, {r.name: r.metrics for r in results if r.status == OK})
        change.skipped += [
            f"{r.name}: not updated because the notebook "
            f"{'timed out' if r.status == TIMEOUT else 'failed'} (its metrics are partial)"
            for r in results if r.status != OK]
        save_baseline(bfile, new)

    report = build_report(results, profile=mode, out_dir=out_dir, check=check,
                          baseline_file=bfile if check else None, baseline_update=change)
    report_json, report_md = write_report(out_dir, report)
    return CourseRun(results=results, report=report, report_json=report_json,
                     report_md=report_md, baseline_file=bfile, baseline_update=change,
                     exit_code=exit_code(results))
