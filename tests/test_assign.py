"""Student versions: stubs, hidden tests, cleared outputs, markup errors, autograding."""

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from gancourse.course.assign import (
    AssignError,
    assign_notebooks,
    check_markup,
    student_version,
)

ANSWER = {"grade": False, "grade_id": "ex-add", "locked": False, "schema_version": 3,
          "solution": True, "task": False}
TESTS = {"grade": True, "grade_id": "ex-add-test", "locked": True, "points": 1,
         "schema_version": 3, "solution": False, "task": False}
WRITTEN = {"grade": True, "grade_id": "ex-why", "locked": False, "points": 1,
           "schema_version": 3, "solution": True, "task": False}

SOLUTION_SRC = """def add(a, b):
    \"\"\"Return a + b.\"\"\"
    ### BEGIN SOLUTION
    return a + b
    ### END SOLUTION"""

TEST_SRC = """assert add(1, 2) == 3
### BEGIN HIDDEN TESTS
assert add(-1, 1) == 0
### END HIDDEN TESTS
print("add: all tests passed")"""


def cell(source, nbgrader=None, kind="code"):
    c = new_code_cell(source) if kind == "code" else new_markdown_cell(source)
    if nbgrader is not None:
        c.metadata["nbgrader"] = dict(nbgrader)
    return c


def solution_notebook():
    nb = new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                               "language": "python"}})
    params = cell('profile = "auto"\nseed = 0')
    params.metadata["tags"] = ["parameters"]
    answer = cell(SOLUTION_SRC, ANSWER)
    answer.outputs = [new_output("stream", name="stdout", text="stale output\n")]
    answer.execution_count = 7
    nb.cells = [cell("# Exercise: add two numbers", kind="markdown"), params, answer,
                cell(TEST_SRC, TESTS), cell("Because **addition** commutes.", WRITTEN,
                                            kind="markdown")]
    return nb


def write(nb, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def test_student_version_stubs_solutions_removes_hidden_tests_clears_outputs(tmp_path):
    src = write(solution_notebook(), tmp_path / "src" / "07_lsgan.ipynb")
    (result,) = assign_notebooks([src], tmp_path / "student")
    assert result.output == tmp_path / "student" / "07_lsgan.ipynb"
    assert (result.solution_cells, result.hidden_tests, result.warnings) == (2, 1, [])
    nb = nbformat.read(str(result.output), as_version=4)
    intro, params, answer, test, written = nb.cells
    assert answer.source == ('def add(a, b):\n    """Return a + b."""\n'
                             "    # YOUR CODE HERE\n    raise NotImplementedError()")
    assert test.source == "assert add(1, 2) == 3\nprint(\"add: all tests passed\")"
    assert "add(-1, 1)" not in nbformat.writes(nb)
    assert written.source == "YOUR ANSWER HERE"
    assert params.source == 'profile = "auto"\nseed = 0'  # parameters cell kept
    assert params.metadata["tags"] == ["parameters"]
    assert intro.source == "# Exercise: add two numbers"
    assert answer.outputs == [] and answer.execution_count is None
    assert test.metadata["nbgrader"]["grade_id"] == "ex-add-test"  # metadata kept
    assert test.metadata["editable"] is False  # grade cells locked for students
    # the solution file is untouched
    assert "return a + b" in src.read_text()


def test_autograded_cell_fails_for_students_and_passes_for_solution(tmp_path):
    src = write(solution_notebook(), tmp_path / "src" / "07_lsgan.ipynb")
    (result,) = assign_notebooks([src], tmp_path / "student")

    def run(path):
        nb = nbformat.read(str(path), as_version=4)
        NotebookClient(nb, kernel_name="python3", timeout=60, allow_errors=True).execute()
        return nb.cells[3]  # the autograded test cell

    solved = run(src)
    assert [o.get("ename") for o in solved.outputs if o.output_type == "error"] == []
    assert "add: all tests passed" in "".join(o.get("text", "") for o in solved.outputs)
    student = run(result.output)
    errors = [o for o in student.outputs if o.output_type == "error"]
    assert [e.ename for e in errors] == ["NotImplementedError"]


def test_whole_cell_solution_without_markers_is_replaced():
    nb = solution_notebook()
    nb.cells[2].source = "def add(a, b):\n    return a + b"  # no BEGIN/END: the whole cell
    student, solutions, _ = student_version(nb, "x.ipynb")
    assert student.cells[2].source == "# YOUR CODE HERE\nraise NotImplementedError()"
    assert solutions == 2
    assert nb.cells[2].source == "def add(a, b):\n    return a + b"  # input not modified


@pytest.mark.parametrize("source, message", [
    ("def f():\n    ### BEGIN SOLUTION\n    return 1", "'### BEGIN SOLUTION' at line 2 has no "
     "matching '### END SOLUTION'"),
    ("def f():\n    return 1\n    ### END SOLUTION", "'### END SOLUTION' at line 3 has no "
     "matching '### BEGIN SOLUTION'"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "at line 2 is nested in "
     "the region opened at line 1"),
])
def test_unmatched_solution_markers_name_notebook_and_cell(tmp_path, source, message):
    nb = solution_notebook()
    nb.cells[2].source = source
    src = write(nb, tmp_path / "src" / "09_wgan_gp.ipynb")
    with pytest.raises(AssignError) as err:
        assign_notebooks([src], tmp_path / "student")
    assert str(err.value).startswith("09_wgan_gp.ipynb: cell 2: ")
    assert message in str(err.value)
    assert not (tmp_path / "student" / "09_wgan_gp.ipynb").exists()


def test_unmatched_hidden_tests_marker():
    nb = solution_notebook()
    nb.cells[3].source = "assert True\n### BEGIN HIDDEN TESTS\nassert add(0, 0) == 0"
    with pytest.raises(AssignError, match="nb: cell 3: '### BEGIN HIDDEN TESTS' at line 2 "
                                          "has no matching '### END HIDDEN TESTS'"):
        check_markup(nb, "nb")


def test_regions_outside_marked_cells_are_errors():
    nb = solution_notebook()
    nb.cells.append(cell("### BEGIN SOLUTION\nx = 1\n### END SOLUTION"))
    with pytest.raises(AssignError, match="nb: cell 5: has a '### BEGIN SOLUTION' region but "
                                          "is not an nbgrader solution cell"):
        check_markup(nb, "nb")
    nb.cells[5] = cell("### BEGIN HIDDEN TESTS\nassert 1\n### END HIDDEN TESTS")
    with pytest.raises(AssignError, match="cell 5: .* is not an nbgrader grade cell"):
        check_markup(nb, "nb")


@pytest.mark.parametrize("change, message", [
    ({"points": None}, "does not have points"),
    ({"schema_version": 1}, "Outdated schema version: 1"),
    ({"grade_id": "ex-add"}, "Duplicate grade id: ex-add"),
])
def test_bad_nbgrader_metadata(change, message):
    nb = solution_notebook()
    meta = nb.cells[3].metadata["nbgrader"]
    meta.update(change)
    if change.get("points", 0) is None:
        del meta["points"]
    with pytest.raises(AssignError, match=message) as err:
        check_markup(nb, "12_mode_collapse.ipynb")
    assert str(err.value).startswith("12_mode_collapse.ipynb: ")


def test_refuses_to_overwrite_the_source(tmp_path):
    src = write(solution_notebook(), tmp_path / "07_lsgan.ipynb")
    before = src.read_text()
    with pytest.raises(AssignError, match="refusing to overwrite the solution notebook"):
        assign_notebooks([src], tmp_path)
    assert src.read_text() == before


def test_two_inputs_with_the_same_name_are_refused(tmp_path):
    a = write(solution_notebook(), tmp_path / "a" / "07_lsgan.ipynb")
    b = write(solution_notebook(), tmp_path / "b" / "07_lsgan.ipynb")
    with pytest.raises(AssignError, match="several inputs are named 07_lsgan.ipynb"):
        assign_notebooks([a, b], tmp_path / "out")


def test_notebook_without_solutions_is_copied_with_a_warning(tmp_path):
    nb = new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                               "language": "python"}})
    c = cell("print(1)")
    c.outputs = [new_output("stream", name="stdout", text="1\n")]
    c.execution_count = 1
    nb.cells = [c]
    src = write(nb, tmp_path / "src" / "00_orientation.ipynb")
    (result,) = assign_notebooks([src], tmp_path / "out")
    assert result.warnings == ["00_orientation.ipynb: no solution cells (nbgrader 'solution': "
                               "true); copied with outputs cleared"]
    out = nbformat.read(str(result.output), as_version=4)
    assert out.cells[0].source == "print(1)"
    assert out.cells[0].outputs == [] and out.cells[0].execution_count is None
