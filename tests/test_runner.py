"""The papermill runner: execution, parameters, failures, timeouts, checks, reports, updates.

Kernel starts are the cost here, so one module-scoped ``run_course`` (check and baseline
update included) executes three notebooks in parallel, a gancourse one, a failing one and
a hanging one, and most tests read its results; one light CLI run checks the exit-0 path.
"""

import copy
import json
import os
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from gancourse.cli import main
from gancourse.course.baselines import auto_entry, load_baseline
from gancourse.course.report import render_markdown, render_summary, write_report
from gancourse.course.runner import (
    PROFILE_BUDGET_S,
    CourseError,
    NotebookResult,
    UnknownNotebookError,
    build_report,
    evaluate,
    exit_code,
    list_notebooks,
    read_executed,
    resolve_notebooks,
    run_course,
    run_notebooks,
)

PARAMETERS = """profile = "auto"
seed = 0
device = "auto"
data_root = None
offline = None
metrics_path = None"""

SETUP = """import os
import gancourse
ctx = gancourse.setup(profile=profile, seed=seed, device=device, data_root=data_root,
                      offline=offline, metrics_path=metrics_path)"""

RECORD = """gancourse.record("t.profile", ctx.profile)
gancourse.record("t.metrics_path", str(metrics_path))
gancourse.record("t.offline", ctx.offline)
gancourse.record("t.offline_env", os.environ.get("GANCOURSE_OFFLINE", "unset"))
gancourse.record("t.data_root", str(ctx.data_root))
gancourse.record("t.cwd", os.getcwd())
gancourse.record("t.x", 1.5)"""

# light notebooks write the metrics file themselves: no torch import, fast kernels
LIGHT_RECORD = """import json
json.dump({METRICS}, open(metrics_path, "w"))"""


def make_notebook(folder: Path, stem: str, *cells: str) -> Path:
    nb = new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                               "language": "python"}})
    params = new_code_cell(PARAMETERS)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params] + [new_code_cell(c) for c in cells]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.ipynb"
    nbformat.write(nb, str(path))
    return path


def light(stem: str, folder: Path, metrics: dict) -> Path:
    return make_notebook(folder, stem, LIGHT_RECORD.replace("{METRICS}", repr(metrics)))


BASELINE = {
    "_budget_s": {"03_hang": 1.0},
    "01_pass": {"t.x": {"value": 1.4, "abs": 0.05, "note": "hand-set"},
                "t.profile": {"value": "cpu"},
                "t.gone": {"value": 1.0}},
    "02_fail": {"t.before": {"value": 5}},
    "99_other": {"o.m": {"min": 0}},
}


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """One run (profile cpu, 2 jobs, --check --update-baselines --offline) of three notebooks."""
    root = tmp_path_factory.mktemp("run")
    nbs, bdir = root / "notebooks", root / "baselines"
    make_notebook(nbs, "01_pass", SETUP, RECORD)
    make_notebook(nbs, "02_fail", LIGHT_RECORD.replace("{METRICS}", "{'t.before': 1}"),
                  "1 / 0", "never = True")
    make_notebook(nbs, "03_hang", "import time\ntime.sleep(120)")
    bdir.mkdir()
    (bdir / "cpu.json").write_text(json.dumps(BASELINE))
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("GANCOURSE_OFFLINE", raising=False)
        mp.chdir(root)
        # profile "cpu" differs from the tests' GANCOURSE_PROFILE=smoke: it must be injected
        run = run_course([], profile="cpu", out_dir="out", jobs=2, check=True,
                         update_baselines=True, offline=True, data_root="data",
                         notebooks_dir=nbs, baselines_dir=bdir, progress=False)
        env_after = os.environ.get("GANCOURSE_OFFLINE")
    return {"root": root, "out": root / "out", "run": run, "env_after": env_after,
            "results": {r.name: r for r in run.results}, "baseline": bdir / "cpu.json"}


def test_results_come_back_in_input_order(executed):
    assert [r.name for r in executed["run"].results] == ["01_pass", "02_fail", "03_hang"]


def test_passing_notebook_writes_executed_copy_and_metrics(executed):
    r = executed["results"]["01_pass"]
    out = executed["out"]
    assert r.status == "ok" and r.error is None
    assert Path(r.output) == out / "01_pass.ipynb"
    assert Path(r.metrics_path) == out / "01_pass.metrics.json"
    assert json.loads(Path(r.metrics_path).read_text()) == r.metrics
    assert r.metrics["t.x"] == 1.5
    assert 0 < r.wall_s < r.timeout_s
    assert r.budget_s == PROFILE_BUDGET_S["cpu"] and r.timeout_s == 3 * PROFILE_BUDGET_S["cpu"]
    assert not r.over_budget
    nb = nbformat.read(r.output, as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1
    assert all(c.get("execution_count") for c in nb.cells if c.cell_type == "code")


def test_parameters_and_environment_are_injected(executed):
    m = executed["results"]["01_pass"].metrics
    out = executed["out"]
    assert m["t.profile"] == "cpu"
    assert m["t.metrics_path"] == str(out / "01_pass.metrics.json")
    assert m["t.offline"] is True
    assert m["t.offline_env"] == "1"
    assert m["t.data_root"] == str(executed["root"] / "data")  # made absolute by the runner
    assert m["t.cwd"] == str(executed["root"] / "notebooks")  # runs in its own folder
    assert executed["env_after"] is None  # GANCOURSE_OFFLINE did not leak into the caller


def test_failing_notebook_is_reported_and_still_written(executed):
    r = executed["results"]["02_fail"]
    assert r.status == "failed"
    assert r.error["name"] == "ZeroDivisionError"
    assert r.error["message"] == "division by zero"
    assert r.error["cell_index"] == 2  # parameters 0, metrics 1, `1 / 0` 2 in the source
    assert r.metrics == {"t.before": 1}  # recorded before the failure
    nb = nbformat.read(r.output, as_version=4)
    assert any(o.get("ename") == "ZeroDivisionError" for c in nb.cells
               for o in c.get("outputs", []))


def test_hung_notebook_is_killed_and_over_budget(executed):
    r = executed["results"]["03_hang"]
    assert r.status == "timeout"
    assert r.budget_s == 1.0 and r.timeout_s == 3.0  # from _budget_s; timeout = 3x budget
    assert r.over_budget
    assert r.error["name"] == "Timeout" and "3 s" in r.error["message"]
    assert 3.0 <= r.wall_s < 60


def test_check_verdicts_and_reasons(executed):
    run, results = executed["run"], executed["results"]
    assert run.exit_code == 1
    assert results["01_pass"].verdict == "fail"
    assert results["01_pass"].reasons == [
        "t.gone: in the baseline but the notebook did not record it",
        "t.x: |1.5 - 1.4| = 0.1 > tolerance 0.05"]
    verdicts = {c.metric: c.verdict for c in results["01_pass"].checks}
    assert verdicts["t.profile"] == "pass" and verdicts["t.cwd"] == "unchecked"
    assert results["02_fail"].reasons == [
        "ZeroDivisionError: division by zero (cell 2, In [4])",
        "t.before: |1 - 5| = 4 > tolerance 0"]
    hang = results["03_hang"].reasons
    assert hang[0].startswith("Timeout: killed after 3 s")
    assert hang[-1].startswith("wall time") and hang[-1].endswith("exceeds the budget of 1 s")


def test_update_keeps_tolerances_adds_removes_and_skips_failures(executed):
    new = load_baseline(executed["baseline"])
    entries = new["01_pass"]
    assert entries["t.x"] == {"value": 1.5, "abs": 0.05, "note": "hand-set"}
    assert entries["t.profile"] == {"value": "cpu"}
    assert "t.gone" not in entries
    assert entries["t.offline"] == {"value": True}
    assert entries["t.x"] != auto_entry(1.5)
    assert new["02_fail"] == BASELINE["02_fail"]  # failed: not updated
    assert "03_hang" not in new  # timed out: nothing added
    assert new["99_other"] == BASELINE["99_other"] and new["_budget_s"] == {"03_hang": 1.0}
    change = executed["run"].baseline_update
    assert change.removed == ["01_pass: t.gone"]
    assert "01_pass: t.cwd" in change.added and change.updated == ["01_pass: t.x"]
    assert change.skipped == [
        "02_fail: not updated because the notebook failed (its metrics are partial)",
        "03_hang: not updated because the notebook timed out (its metrics are partial)"]


def test_report_files(executed):
    run = executed["run"]
    data = json.loads(run.report_json.read_text())
    assert run.report_json == executed["out"] / "report.json"
    assert data["ok"] is False and data["profile"] == "cpu" and data["check"] is True
    assert data["baseline_file"] == str(executed["baseline"])
    assert [nb["status"] for nb in data["notebooks"]] == ["ok", "failed", "timeout"]
    assert [nb["verdict"] for nb in data["notebooks"]] == ["fail", "fail", "fail"]
    assert data["notebooks"][2]["over_budget"] is True
    assert data["baseline_update"]["removed"] == ["01_pass: t.gone"]
    md = run.report_md.read_text()
    assert "| notebook | status | wall time s | budget s | metrics | check |" in md
    assert "| 03_hang | timeout |" in md and "| 1 (over) |" in md
    assert "| t.x | 1.5 | 1.4 | +/-0.05 (abs 0.05) | fail | \\|1.5 - 1.4\\| = 0.1 > " in md
    assert "| t.gone | - | 1.0 | exact | missing |" in md
    assert "## Baseline update" in md and "- removed: 01_pass: t.gone" in md


def test_exit_code():
    def result(status, verdict=None):
        return NotebookResult(name="01_x", source="s", output="o", metrics_path="m",
                              status=status, wall_s=1.0, budget_s=2.0, timeout_s=6.0,
                              verdict=verdict)
    assert exit_code([result("ok"), result("ok", "pass")]) == 0
    assert exit_code([result("ok"), result("failed")]) == 1
    assert exit_code([result("timeout")]) == 1
    assert exit_code([result("ok", "fail")]) == 1


def test_read_executed_counts_source_cells_only(tmp_path):
    """Papermill's own cells (injected parameters, error markers) are not source cells."""
    nb = new_notebook()
    def marker():
        cell = nbformat.v4.new_markdown_cell("error here")
        cell.metadata["tags"] = ["papermill-error-cell-tag"]
        return cell

    injected = new_code_cell("profile = 'cpu'")
    injected.metadata["tags"] = ["injected-parameters"]
    ok_cell, running, failing = new_code_cell("a"), new_code_cell("b"), new_code_cell("c")
    running.metadata["papermill"] = {"status": "running"}
    failing.outputs = [nbformat.v4.new_output("error", ename="SystemExit", evalue="0"),
                       nbformat.v4.new_output("error", ename="KeyError", evalue="'x'")]
    failing.execution_count = 5
    nb.cells = [marker(), new_code_cell("params"), injected, ok_cell, marker(), running,
                failing]
    nb.metadata["papermill"] = {"duration": 2.5}
    nbformat.write(nb, str(tmp_path / "x.ipynb"))
    info = read_executed(tmp_path / "x.ipynb")
    assert info == {"error": {"name": "KeyError", "message": "'x'", "cell_index": 3,
                              "exec_count": 5},
                    "running_cell": 2, "duration": 2.5}


# ----------------------------------------------------------------------------- evaluate
def checked(result, entries):
    return evaluate(copy.deepcopy(result), entries, check=True)


def test_check_passes_with_matching_baseline(executed):
    r = checked(executed["results"]["01_pass"],
                {"t.profile": {"value": "cpu"}, "t.x": {"value": 1.4, "abs": 0.2},
                 "t.offline": {"value": True}})
    assert r.verdict == "pass" and r.reasons == []
    verdicts = {c.metric: c.verdict for c in r.checks}
    assert verdicts["t.x"] == "pass" and verdicts["t.cwd"] == "unchecked"
    assert exit_code([r]) == 0


def test_no_check_means_no_verdict_but_failures_have_reasons(executed):
    r = evaluate(copy.deepcopy(executed["results"]["02_fail"]), {}, check=False)
    assert r.verdict is None and r.checks == []
    assert r.reasons == ["ZeroDivisionError: division by zero (cell 2, In [4])"]


def test_over_budget_fails_only_with_check():
    def result():
        return NotebookResult(name="01_x", source="s", output="o", metrics_path="m",
                              status="ok", wall_s=5.0, budget_s=2.0, timeout_s=6.0)
    assert evaluate(result(), {}, check=False).reasons == []
    r = evaluate(result(), {}, check=True)
    assert r.verdict == "fail"
    assert r.reasons == ["wall time 5.0 s exceeds the budget of 2 s"]


# ----------------------------------------------------------------------------- report
def test_report_json_and_markdown(executed, tmp_path):
    results = [checked(r, {"t.x": {"value": 1.5, "abs": 0.1}, "t.gone": {"value": 1}})
               for r in executed["results"].values()]
    report = build_report(results, profile="cpu", out_dir=tmp_path, check=True,
                          baseline_file=tmp_path / "cpu.json")
    json_path, md_path = write_report(tmp_path, report)
    data = json.loads(json_path.read_text())
    assert data["ok"] is False and data["profile"] == "cpu" and data["check"] is True
    assert [nb["status"] for nb in data["notebooks"]] == ["ok", "failed", "timeout"]
    assert data["notebooks"][2]["over_budget"] is True
    md = md_path.read_text()
    assert md == render_markdown(data)
    assert "| notebook | status | wall time s | budget s | metrics | check |" in md
    assert "| 03_hang | timeout |" in md and "| 1 (over) |" in md
    assert "| t.x | 1.5 | 1.5 | +/-0.1 (abs 0.1) | pass |" in md
    assert "| t.gone | - | 1 | exact | missing |" in md
    summary = render_summary(data)
    assert summary[0].startswith("FAIL") and "01_pass" in summary[0]
    assert "  02_fail: ZeroDivisionError: division by zero (cell 2, In [4])" in summary
    assert "  01_pass: t.gone: in the baseline but the notebook did not record it" in summary
    assert any("OVER BUDGET" in line for line in summary)


# ----------------------------------------------------------------------------- names
def test_resolve_notebook_names(tmp_path):
    nbs = tmp_path / "nbs"
    a = light("01_alpha", nbs, {})
    b = light("02_beta", nbs, {})
    (nbs / "notes.ipynb").write_text("{}")  # not NN_*: not a course notebook
    assert list_notebooks(nbs) == [a, b]
    assert resolve_notebooks([], nbs) == [a, b]
    for name in ("02_beta", "02_beta.ipynb", "02", "2", str(b)):
        assert resolve_notebooks([name], nbs) == [b]
    assert resolve_notebooks(["02", "01", "2"], nbs) == [b, a]  # given order, no repeats
    with pytest.raises(UnknownNotebookError) as err:
        resolve_notebooks(["07", "gamma"], nbs)
    assert "'07', 'gamma'" in str(err.value)
    assert "01_alpha" in str(err.value) and "02_beta" in str(err.value)
    light("02_gamma", nbs, {})
    with pytest.raises(UnknownNotebookError, match="ambiguous: 02_beta, 02_gamma"):
        resolve_notebooks(["02"], nbs)
    with pytest.raises(CourseError, match="does not exist"):
        resolve_notebooks([], tmp_path / "missing")


def test_missing_or_empty_notebooks_folder(tmp_path, monkeypatch):
    with pytest.raises(CourseError, match=r"no NN_\*\.ipynb notebooks in"):
        resolve_notebooks([], tmp_path)

    def no_checkout():
        raise FileNotFoundError("the course notebooks live in a source checkout")

    monkeypatch.setattr("gancourse.runtime.notebooks_dir", no_checkout)
    with pytest.raises(CourseError, match="source checkout"):
        resolve_notebooks([])
    with pytest.raises(UnknownNotebookError, match="'01' is not a notebook file"):
        resolve_notebooks(["01"])


def test_refuses_to_overwrite_source(tmp_path):
    nb = light("01_alpha", tmp_path, {})
    with pytest.raises(CourseError, match="refusing to overwrite"):
        run_notebooks([nb], tmp_path, "smoke", progress=False)


# ----------------------------------------------------------------------------- run_course / CLI
def test_cli_run_check_passes(tmp_path, capsys):
    nbs, bdir, out = tmp_path / "nbs", tmp_path / "baselines", tmp_path / "out"
    light("01_light", nbs, {"a.x": 1.0, "a.flag": True, "a.n": 3})
    bdir.mkdir()
    (bdir / "smoke.json").write_text(json.dumps({
        "_budget_s": {"01_light": 100},
        "01_light": {"a.x": {"value": 0.9, "rel": 0.5}, "a.flag": {"value": True},
                     "a.n": {"min": 3, "max": 3}}}))
    code = main(["run", "1", "--check", "--profile", "smoke", "--out", str(out),
                 "--notebooks-dir", str(nbs), "--baselines-dir", str(bdir), "--no-progress"])
    stdout = capsys.readouterr().out
    assert code == 0
    assert "PASS     01_light" in stdout and "/ 100 s  3 metrics" in stdout
    assert stdout.rstrip().endswith("PASS") and "reasons:" not in stdout
    assert f"report: {out / 'report.md'}" in stdout
    assert "| a.n | 3 | min 3, max 3 | in [3, 3] | pass |" in (out / "report.md").read_text()
    assert json.loads((out / "01_light.metrics.json").read_text())["a.n"] == 3


def fake_results(nb, **metrics):
    """A stand-in for run_notebooks: canned results, nothing executed."""
    def fake_run(paths, out_dir, profile, **kwargs):
        assert [Path(p) for p in paths] == [nb]
        return [NotebookResult(name=nb.stem, source=str(nb), output="o", metrics_path="m",
                               status="ok", wall_s=1.0, budget_s=600.0, timeout_s=1800.0,
                               metrics=metrics)]
    return fake_run


def test_cli_prints_every_reason_and_exits_1(tmp_path, capsys, monkeypatch):
    nb = light("01_a", tmp_path / "nbs", {})
    monkeypatch.setattr("gancourse.course.runner.run_notebooks",
                        fake_results(nb, **{"m.v": 2.0, "m.ok": False}))
    (tmp_path / "cpu.json").write_text(json.dumps({"01_a": {
        "m.v": {"value": 1.0, "abs": 0.5}, "m.ok": {"value": True}, "m.z": {"max": 0}}}))
    code = main(["run", "--check", "--profile", "cpu", "--out", str(tmp_path / "out"),
                 "--notebooks-dir", str(tmp_path / "nbs"), "--baselines-dir", str(tmp_path)])
    stdout = capsys.readouterr().out
    assert code == 1
    assert stdout.splitlines()[-1] == "FAIL"
    assert "  01_a: m.ok: expected exactly True, got False" in stdout
    assert "  01_a: m.v: |2 - 1| = 1 > tolerance 0.5" in stdout
    assert "  01_a: m.z: in the baseline but the notebook did not record it" in stdout


def test_update_creates_missing_baseline_file(tmp_path, monkeypatch):
    nb = light("01_a", tmp_path / "nbs", {})
    monkeypatch.setattr("gancourse.course.runner.run_notebooks", fake_results(nb, **{"m.v": 2.0}))
    bdir = tmp_path / "baselines"
    run = run_course(["01"], profile="cpu", out_dir=tmp_path / "out", update_baselines=True,
                     notebooks_dir=tmp_path / "nbs", baselines_dir=bdir, progress=False)
    assert run.exit_code == 0 and run.report["check"] is False
    assert load_baseline(bdir / "cpu.json") == {"01_a": {"m.v": auto_entry(2.0)}}
    assert run.baseline_update.added == ["01_a: m.v"]
    assert (tmp_path / "out" / "report.md").exists()


def test_cli_usage_errors_exit_2(tmp_path, capsys):
    nbs = tmp_path / "nbs"
    light("01_alpha", nbs, {})
    base = ["--notebooks-dir", str(nbs), "--baselines-dir", str(tmp_path), "--out",
            str(tmp_path / "out"), "--profile", "smoke"]
    assert main(["run", "05", *base]) == 2
    err = capsys.readouterr().err
    assert "unknown notebook '05'" in err and "01_alpha" in err

    assert main(["run", "--check", *base]) == 2
    assert "--check needs the baseline file" in capsys.readouterr().err

    (tmp_path / "smoke.json").write_text(json.dumps({"01_alpha": {"m": {"rel": 0.1}}}))
    assert main(["run", *base]) == 2
    assert "notebook 01_alpha: metric m" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # nothing ran


def test_dry_runs_only_the_gpu_profile_and_checks_no_baselines(tmp_path):
    with pytest.raises(CourseError, match="--dry runs the gpu profile"):
        run_course(["00"], profile="smoke", dry=True, out_dir=tmp_path)
    with pytest.raises(CourseError, match="no baselines"):
        run_course(["00"], profile="gpu", dry=True, check=True, out_dir=tmp_path)
