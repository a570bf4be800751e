"""The instructor's path with real nbgrader (README, "Classroom"): `gancourse assign --course`,
then plain `nbgrader generate_assignment` and `nbgrader autograde` in the course folder, with no
GANCOURSE_* variables in the environment: the course folder's config alone makes grading fast,
offline and self-contained."""

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from gancourse.course.assign import AssignError, make_course

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("GANCOURSE_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def _nbgrader(course, *args):
    out = subprocess.run([str(BIN / "nbgrader"), *args], cwd=course, env=_env(), capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out


def _scores(course, assignment):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return {s.student_id: (s.score, s.max_score) for s in gb.assignment_submissions(assignment)}


def _errors(path):
    nb = json.loads(Path(path).read_text())
    return [o for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]


def _submit(course, student, stem, nb):
    target = course / "submitted" / student / stem / f"{stem}.ipynb"
    target.parent.mkdir(parents=True)
    nbformat.write(nb, target)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = tmp_path_factory.mktemp("course")
    stems = ["01_divergences_js_vs_em", "08_wgan"]
    out = subprocess.run([str(BIN / "gancourse"), "assign", "--course", str(course), "01", "08"],
                         env=_env(), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    for stem in stems:
        _nbgrader(course, "generate_assignment", stem)
    solution = nbformat.read(course / "source" / stems[0] / f"{stems[0]}.ipynb", as_version=4)
    released = nbformat.read(course / "release" / stems[0] / f"{stems[0]}.ipynb", as_version=4)
    typed_cpu = nbformat.from_dict(solution)
    params = next(c for c in typed_cpu.cells if "parameters" in c.metadata.get("tags", []))
    params.source = params.source.replace('profile: str = "auto"', 'profile: str = "cpu"')
    _submit(course, "correct", stems[0], solution)
    _submit(course, "blank", stems[0], released)
    _submit(course, "typed_cpu", stems[0], typed_cpu)
    _submit(course, "correct", stems[1], nbformat.read(course / "source" / stems[1] / f"{stems[1]}.ipynb",
                                                       as_version=4))
    for stem in stems:
        _nbgrader(course, "autograde", stem)
    return course, stems


def test_correct_gets_full_marks_blank_gets_zero(graded):
    course, stems = graded
    scores = _scores(course, stems[0])
    assert scores["correct"][0] == scores["correct"][1] > 0
    assert scores["blank"][0] == 0
    assert _scores(course, stems[1])["correct"][0] == _scores(course, stems[1])["correct"][1] > 0
    assert not _errors(course / "autograded" / "correct" / stems[0] / f"{stems[0]}.ipynb")
    assert not _errors(course / "autograded" / "correct" / stems[1] / f"{stems[1]}.ipynb")


def test_a_student_cannot_switch_the_profile(graded):
    """`profile = "cpu"` typed into the locked parameters cell: autograde restores the cell and
    grades in smoke, at full marks."""
    course, stems = graded
    score, total = _scores(course, stems[0])["typed_cpu"]
    assert score == total > 0
    text = (course / "autograded" / "typed_cpu" / stems[0] / f"{stems[0]}.ipynb").read_text()
    assert "profile=smoke" in text and 'profile: str = \\"cpu\\"' not in text


def test_grading_writes_only_inside_the_course_folder(graded):
    course, stems = graded
    assert (course / "cache" / "runs" / "bench" / "smoke" / "wgan.pt").exists()   # 08's generator


def test_released_files_are_world_readable(graded):
    course, stems = graded
    for path in (course / "release").rglob("*.ipynb"):
        assert stat.S_IMODE(path.stat().st_mode) & 0o044 == 0o044, path


def test_course_folder_never_overwrites_an_instructors_changes(tmp_path):
    nb = ROOT / "notebooks" / "01_divergences_js_vs_em.ipynb"
    make_course([nb], tmp_path)
    make_course([nb], tmp_path)                                  # unchanged: fine to rewrite
    source = tmp_path / "source" / nb.stem / nb.name
    source.write_text(source.read_text().replace("Jensen", "Jensen (edited)", 1))
    with pytest.raises(AssignError, match="differs from the solution notebook.*--force"):
        make_course([nb], tmp_path)
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\n")
    with pytest.raises(AssignError, match="not written by gancourse"):
        make_course([nb], tmp_path)
    make_course([nb], tmp_path, force=True)
    assert "Jensen (edited)" not in source.read_text()
    shutil.rmtree(tmp_path / "source")
    with pytest.raises(AssignError, match="course id"):
        make_course([nb], tmp_path, course_id="bad id!")
