"""Repository-level checks that run in the README's test command: lint, notebook hygiene,
README/CI agreement, and the regression runner over every notebook in the smoke profile."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gancourse.course import catalog, hygiene

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_ruff_lint_is_clean():
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "gancourse", "tests", "benchmarks"],
                         cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_hygiene(path):
    problems = hygiene.check_notebook(path)
    assert not problems, f"{path.name}:\n  " + "\n  ".join(problems)


def test_notebooks_are_numbered_in_course_order():
    assert NOTEBOOKS, "no notebooks found"
    stems = [p.stem for p in NOTEBOOKS]
    assert stems == [lesson.stem for lesson in catalog.COURSE if lesson.stem in stems]
    assert stems[0] == "00_orientation"


def test_readme_commands_are_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", readme, flags=re.S)
    commands = [line for line in blocks[0].splitlines() if line and not line.startswith("#")]
    assert len(commands) == 2, f"the README's first block must hold exactly two commands: {commands}"
    run_cmd, test_cmd = commands
    assert "gancourse run" in run_cmd and "pytest" in test_cmd
    assert test_cmd in ci, ".ci/run must run the README's test command verbatim"


def test_every_baseline_notebook_exists():
    for profile in ("smoke", "cpu", "gpu"):
        base = json.loads((ROOT / "data" / "baselines" / f"{profile}.json").read_text())
        for stem in base:
            if not stem.startswith("_"):
                assert (ROOT / "notebooks" / f"{stem}.ipynb").exists(), f"{profile}.json: {stem}"


def test_runner_check_passes_in_smoke(tmp_path):
    """`gancourse run --profile smoke --check` over the whole course: every notebook runs, every
    baseline metric is within tolerance, every notebook within the smoke budget."""
    env = {**os.environ, "GANCOURSE_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-m", "gancourse.cli", "run", "--profile", "smoke", "--check",
                          "--offline", "--out", str(tmp_path / "smoke")],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=3600)
    report = tmp_path / "smoke" / "report.md"
    detail = out.stdout[-4000:] + out.stderr[-4000:] + (report.read_text() if report.exists() else "")
    assert out.returncode == 0, detail
    data = json.loads((tmp_path / "smoke" / "report.json").read_text())
    assert {n["name"] for n in data["notebooks"]} == {p.stem for p in NOTEBOOKS}, data


def test_gpu_dry_run_executes_every_notebook(tmp_path):
    """`gancourse run --profile gpu --dry`: the gpu settings (MNIST, Fashion-MNIST, CIFAR-10 at
    their sizes, 64 px, the gpu widths) run every notebook's code path with capped steps, so a
    shape, channel, dataset or plotting bug of the gpu profile cannot hide until someone has a GPU."""
    env = {**os.environ, "GANCOURSE_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-m", "gancourse.cli", "run", "--profile", "gpu", "--dry",
                          "--offline", "--jobs", "2", "--no-progress", "--out", str(tmp_path / "dry")],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=3600)
    report = tmp_path / "dry" / "report.md"
    detail = out.stdout[-4000:] + out.stderr[-4000:] + (report.read_text() if report.exists() else "")
    assert out.returncode == 0, detail
    data = json.loads((tmp_path / "dry" / "report.json").read_text())
    assert data["profile"] == "gpu-dry"
    assert {n["name"] for n in data["notebooks"]} == {p.stem for p in NOTEBOOKS}, data
    assert all(n["status"] == "ok" for n in data["notebooks"]), data


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_student_version_strips_solutions_and_hidden_tests(path, tmp_path):
    import nbformat

    from gancourse.course.assign import assign_notebooks

    [result] = assign_notebooks([path], tmp_path)
    solution_nb = nbformat.read(path, as_version=4)
    student = nbformat.read(result.output, as_version=4)
    assert len(student.cells) == len(solution_nb.cells)
    for sol, stu in zip(solution_nb.cells, student.cells):
        assert "### BEGIN SOLUTION" not in stu.source and "HIDDEN TESTS" not in stu.source
        assert stu.get("outputs", []) == []
        if sol.metadata.get("nbgrader", {}).get("solution") and sol.cell_type == "code":
            assert "raise NotImplementedError()" in stu.source
    params = [c for c in student.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1


def test_student_orientation_notebook_fails_at_the_exercise(tmp_path):
    """The real student version runs up to the exercise and fails there on the stub (the
    solution version passing is what nbval checks)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    from gancourse.course.assign import assign_notebooks

    [result] = assign_notebooks([ROOT / "notebooks" / "00_orientation.ipynb"], tmp_path)
    nb = nbformat.read(result.output, as_version=4)
    client = NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT / "notebooks")}})
    with pytest.raises(CellExecutionError, match="NotImplementedError"):
        client.execute()
    failed = [c for c in nb.cells if c.cell_type == "code" and any(
        o.get("output_type") == "error" for o in c.get("outputs", []))]
    assert len(failed) == 1 and failed[0].metadata["nbgrader"]["grade"] is True
