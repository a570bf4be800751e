"""Student versions of the solution notebooks (DESIGN §4.6), with nbgrader's preprocessors.

Markup the committed (solution) notebooks carry:

- answer cell, ``metadata.nbgrader = {"grade": false, "grade_id": "ex-add", "locked": false,
  "schema_version": 3, "solution": true, "task": false}``; the code between
  ``### BEGIN SOLUTION`` and ``### END SOLUTION`` becomes ``# YOUR CODE HERE`` /
  ``raise NotImplementedError()`` (a solution cell without the markers is replaced whole);
- autograded test cell, ``{"grade": true, "grade_id": "ex-add-test", "locked": true,
  "points": 1, "schema_version": 3, "solution": false, "task": false}``; lines between
  ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` are removed;
- written answer (markdown), ``{"grade": true, "solution": true, "points": 1, ...}``: its
  text becomes ``YOUR ANSWER HERE``.

Every output is cleared and grade cells are locked (read-only in Jupyter), as
``nbgrader generate_assignment`` does. Everything else, the ``parameters`` cell
included, is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbgrader.nbgraderformat import MetadataValidator, ValidationError
from nbgrader.nbgraderformat.common import SchemaMismatchError
from nbgrader.preprocessors import ClearHiddenTests, ClearOutput, ClearSolutions, LockCells
from nbgrader.utils import is_grade, is_solution

from gancourse.runtime import atomic_write_bytes

SOLUTION = ("BEGIN SOLUTION", "END SOLUTION")
HIDDEN_TESTS = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
ANSWER_METADATA = {"grade": False, "grade_id": "<unique id>", "locked": False,
                   "schema_version": 3, "solution": True, "task": False}
TEST_METADATA = {"grade": True, "grade_id": "<unique id>", "locked": True, "points": 1,
                 "schema_version": 3, "solution": False, "task": False}


class AssignError(ValueError):
    """A solution notebook whose markup cannot produce a student version."""


@dataclass
class AssignResult:
    source: Path
    output: Path
    solution_cells: int   # cells whose answer was replaced by a stub
    hidden_tests: int     # hidden-test regions removed
    warnings: list[str] = field(default_factory=list)


def _regions(source: str, markers: tuple[str, str], where: str) -> int:
    """Count ``### BEGIN ...`` / ``### END ...`` regions; raise on unmatched or nested ones.

    Same line test as nbgrader: a line holding the BEGIN text opens, one holding the END
    text closes.
    """
    begin, end = markers
    opened, count = None, 0
    for lineno, line in enumerate(source.split("\n"), 1):
        if begin in line:
            if opened is not None:
                raise AssignError(f"{where}: '### {begin}' at line {lineno} is nested in the "
                                  f"region opened at line {opened}; close that one first")
            opened, count = lineno, count + 1
        elif end in line:
            if opened is None:
                raise AssignError(f"{where}: '### {end}' at line {lineno} has no matching "
                                  f"'### {begin}' before it")
            opened = None
    if opened is not None:
        raise AssignError(f"{where}: '### {begin}' at line {opened} has no matching "
                          f"'### {end}'")
    return count


def check_markup(nb: NotebookNode, name: str = "notebook") -> tuple[int, int]:
    """Validate nbgrader metadata and BEGIN/END pairs; return (solution cells, hidden tests).

    Errors name the notebook and the cell index (0-based, as in the .ipynb file).
    """
    validator = MetadataValidator()
    solutions = hidden = 0
    for index, cell in enumerate(nb.cells):
        where = f"{name}: cell {index}"
        try:
            validator.validate_cell(cell)
        except (ValidationError, SchemaMismatchError) as exc:
            message = getattr(exc, "message", str(exc))
            raise AssignError(f"{where}: invalid nbgrader metadata: {message}") from exc
        n_solution = _regions(cell.source, SOLUTION, where)
        n_hidden = _regions(cell.source, HIDDEN_TESTS, where)
        if n_solution and not is_solution(cell):
            raise AssignError(f"{where}: has a '### BEGIN SOLUTION' region but is not an "
                              f"nbgrader solution cell; give it metadata.nbgrader = "
                              f"{ANSWER_METADATA}")
        if n_hidden and not is_grade(cell):
            raise AssignError(f"{where}: has a '### BEGIN HIDDEN TESTS' region but is not an "
                              f"nbgrader grade cell; give it metadata.nbgrader = "
                              f"{TEST_METADATA}")
        solutions += int(bool(is_solution(cell)))
        hidden += n_hidden
    try:
        validator.validate_nb(nb)  # unique grade ids
    except ValidationError as exc:
        raise AssignError(f"{name}: {getattr(exc, 'message', exc)}") from exc
    return solutions, hidden


def student_version(nb: NotebookNode, name: str = "notebook") -> tuple[NotebookNode, int, int]:
    """Return ``(student notebook, solution cells, hidden-test regions)``; ``nb`` is copied."""
    nb = nbformat.from_dict(nb)  # deep copy
    solutions, hidden = check_markup(nb, name)
    resources: dict = {}
    for preprocessor in (ClearSolutions(), ClearHiddenTests(), LockCells(), ClearOutput()):
        nb, resources = preprocessor.preprocess(nb, resources)
    return nb, solutions, hidden


def assign_notebooks(paths: Sequence[str | Path], out_dir: str | Path) -> list[AssignResult]:
    """Write the student version of each notebook to ``out_dir/<same file name>``.

    Refuses (before writing anything) to overwrite any of the input notebooks or to write
    two inputs with the same file name. A notebook without solution cells is copied with
    outputs cleared and a warning.
    """
    sources = [Path(p).resolve() for p in paths]
    out_dir = Path(out_dir).expanduser().resolve()
    names = [p.name for p in sources]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise AssignError(f"several inputs are named {', '.join(twice)}; their student "
                          "versions would overwrite each other")
    for source in sources:
        if out_dir / source.name in sources:
            raise AssignError(f"refusing to overwrite the solution notebook "
                              f"{out_dir / source.name}; choose an output folder that holds "
                              "none of the inputs")
    results = []
    for source in sources:
        nb = nbformat.read(str(source), as_version=4)
        student, solutions, hidden = student_version(nb, source.name)
        output = atomic_write_bytes(out_dir / source.name, nbformat.writes(student).encode())
        warnings = [] if solutions else [
            f"{source.name}: no solution cells (nbgrader 'solution': true); copied with "
            "outputs cleared"]
        results.append(AssignResult(source, output, solutions, hidden, warnings))
    return results


# ----------------------------------------------------------------------------- course folder
CONFIG_MARKER = "# written by `gancourse assign --course`"
NBGRADER_CONFIG = '''\
{marker}: nbgrader configuration of a gancourse course folder.
#
# nbgrader runs this file before it starts any kernel, so the environment set here is what
# grading sees: the fast `smoke` profile (every notebook grades in under a minute on 2 cores),
# no network, and every cache and output inside this folder, never in the gancourse checkout
# or the installed package. The parameters cell of every notebook is locked, so autograding
# restores it whatever a student typed there.
import os

here = os.path.dirname(os.path.abspath(__file__))
os.environ["GANCOURSE_PROFILE"] = "smoke"
os.environ["GANCOURSE_OFFLINE"] = "1"
os.environ.pop("GANCOURSE_DRY", None)
os.environ["GANCOURSE_DATA"] = os.path.join(here, "cache", "data")
os.environ["GANCOURSE_OUTPUT"] = os.path.join(here, "cache", "runs")
os.environ.setdefault("MPLBACKEND", "Agg")

c = get_config()  # noqa: F821 (nbgrader provides get_config)
c.CourseDirectory.root = here
c.CourseDirectory.course_id = {course_id!r}
c.Execute.timeout = 120              # seconds per cell; smoke cells take a few
c.ClearSolutions.enforce_metadata = True
'''


@dataclass
class CourseResult:
    root: Path
    config: Path
    sources: list[Path]
    solution_cells: int
    hidden_tests: int


def make_course(paths: Sequence[str | Path], course_dir: str | Path, course_id: str = "gancourse",
                force: bool = False) -> CourseResult:
    """Write a ready nbgrader course folder: ``nbgrader_config.py`` and
    ``source/<stem>/<stem>.ipynb`` for every notebook (the assignment is named after the stem).

    In it, plain ``nbgrader generate_assignment <stem>``, ``nbgrader autograde <stem>`` and a
    student's ``nbgrader validate`` need no other setup. Nothing is overwritten that the
    instructor may have changed: an existing ``nbgrader_config.py`` not written by this command,
    or a source notebook that differs from the solution notebook, stops the command (before
    anything is written) unless ``force``.
    """
    root = Path(course_dir).expanduser().resolve()
    sources = [Path(p).resolve() for p in paths]
    stems = [p.stem for p in sources]
    twice = sorted({s for s in stems if stems.count(s) > 1})
    if twice:
        raise AssignError(f"several inputs are named {', '.join(twice)}; one assignment each")
    if not course_id.replace("-", "").replace("_", "").isalnum():
        raise AssignError(f"course id {course_id!r} must be letters, digits, '-' or '_'")
    notebooks, solutions, hidden = {}, 0, 0
    for src in sources:
        nb = nbformat.read(str(src), as_version=4)
        n_sol, n_hid = check_markup(nb, src.name)
        solutions, hidden = solutions + n_sol, hidden + n_hid
        notebooks[src.stem] = nbformat.writes(nb).encode()
    config = root / "nbgrader_config.py"
    text = NBGRADER_CONFIG.format(marker=CONFIG_MARKER, course_id=course_id)
    blocked = []
    if config.exists() and CONFIG_MARKER not in config.read_text(errors="replace") and not force:
        blocked.append(f"{config} exists and was not written by gancourse")
    for stem, data in notebooks.items():
        target = root / "source" / stem / f"{stem}.ipynb"
        if target.exists() and target.read_bytes() != data and not force:
            blocked.append(f"{target} differs from the solution notebook")
    if blocked:
        raise AssignError("not overwriting what may be your work: " + "; ".join(blocked)
                          + " (move it away, or pass --force)")
    atomic_write_bytes(config, text.encode())
    written = [atomic_write_bytes(root / "source" / stem / f"{stem}.ipynb", data)
               for stem, data in notebooks.items()]
    return CourseResult(root, config, written, solutions, hidden)
