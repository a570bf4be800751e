"""Every graded exercise catches the typical wrong answer (README, "Classroom").

For each answer cell (``metadata.nbgrader.solution``) of each notebook, the test cells that
grade it (``metadata.nbgrader.grade`` cells up to the next answer cell) must

* pass with the solution, and
* fail with the typical wrong answer kept in ``tests/wrong_answers/<stem>__<grade_id>.py``
  (a file per exercise, defining the same names as the answer cell, with a comment saying
  which mistake it is).

The cells run in a fresh namespace after the notebook's parameters cell (smoke profile,
offline) and its setup cell (imports, ``gancourse.setup``, ``SETTINGS``), plus any cells tagged
``exercise-context``: exercises are self-contained, so this costs seconds, not a notebook run.
"""

from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
WRONG = ROOT / "tests" / "wrong_answers"


def _exercises():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        cells = nb.cells
        params = next(i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", []))
        setup = next(i for i in range(params + 1, len(cells)) if cells[i].cell_type == "code")
        meta = [c.metadata.get("nbgrader", {}) for c in cells]
        answers = [i for i, m in enumerate(meta) if m.get("solution") and not m.get("grade")]
        for k, i in enumerate(answers):
            end = answers[k + 1] if k + 1 < len(answers) else len(cells)
            tests = [c.source for c in cells[i + 1:end] if c.metadata.get("nbgrader", {}).get("grade")]
            context = [c.source for c in cells[setup + 1:i]
                       if "exercise-context" in c.metadata.get("tags", [])]
            gid = cells[i].metadata["nbgrader"]["grade_id"]
            yield pytest.param(path.stem, gid, cells[params].source, cells[setup].source, context,
                               cells[i].source, tests, id=f"{path.stem}:{gid}")


EXERCISES = list(_exercises())


def _run(params, setup, context, answer, tests):
    ns: dict = {}
    exec(compile(params + '\nprofile = "smoke"\noffline = True\n', "<parameters>", "exec"), ns)
    for name, src in [("<setup>", setup), *((f"<context {j}>", s) for j, s in enumerate(context)),
                      ("<answer>", answer)]:
        exec(compile(_strip_magics(src), name, "exec"), ns)
    for j, src in enumerate(tests):
        exec(compile(_strip_magics(src), f"<tests {j}>", "exec"), ns)


def _strip_magics(src: str) -> str:
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in src.splitlines())


def test_there_are_exercises():
    assert len(EXERCISES) >= 10


@pytest.mark.parametrize("stem,gid,params,setup,context,answer,tests", EXERCISES)
def test_solution_passes_and_typical_wrong_answer_fails(stem, gid, params, setup, context, answer, tests,
                                                        monkeypatch, tmp_path):
    monkeypatch.chdir(ROOT / "notebooks")
    monkeypatch.setenv("GANCOURSE_OUTPUT", str(tmp_path))
    assert tests, f"{stem}: exercise {gid} has no graded test cell"
    _run(params, setup, context, answer, tests)
    wrong = WRONG / f"{stem}__{gid}.py"
    assert wrong.exists(), f"add the typical wrong answer of {stem}:{gid} as {wrong.relative_to(ROOT)}"
    source = wrong.read_text()
    assert source.lstrip().startswith("#"), f"{wrong.name}: start with a comment naming the mistake"
    with pytest.raises(Exception) as caught:                      # noqa: PT011 - any failure counts
        _run(params, setup, context, source, tests)
    assert not isinstance(caught.value, (SyntaxError, NameError)), (
        f"{wrong.name} fails for the wrong reason: {caught.value!r}")
