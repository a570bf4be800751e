import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from gancourse import cli
from gancourse.course import catalog, hygiene

PARAMS = hygiene.PARAMETERS_CELL


def notebook(tmp_path, cells, name="00_orientation.ipynb", kernel="python3"):
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": "Python 3", "language": "python"}
    path = tmp_path / name
    nbformat.write(nb, path)
    return path


def params_cell(source=PARAMS, locked=True):
    cell = new_code_cell(source)
    cell.metadata["tags"] = ["parameters"]
    if locked:
        cell.metadata["nbgrader"] = dict(hygiene.PARAMETERS_META)
    return cell


def with_output(source, text="1\n"):
    cell = new_code_cell(source, execution_count=3)
    cell.outputs = [new_output("stream", name="stdout", text=text)]
    return cell


def test_clean_notebook_passes(tmp_path):
    path = notebook(tmp_path, [new_markdown_cell("# t"), params_cell(),
                               with_output("# NBVAL_CHECK_OUTPUT\nprint(1)")])
    nb = nbformat.read(path, as_version=4)
    nb.cells[2].execution_count = None
    nbformat.write(nb, path)
    assert hygiene.check_notebook(path) == []


def test_problems_are_reported(tmp_path):
    path = notebook(tmp_path, [params_cell('profile = "auto"\nseed = compute()'), params_cell(),
                               with_output("print(1)"), new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(2)")],
                    name="99_extra.ipynb", kernel="julia")
    text = "\n".join(hygiene.check_notebook(path))
    assert "not in the course map" in text
    assert "kernelspec is 'julia'" in text
    assert "2 cells are tagged 'parameters'" in text
    assert "cell 2: has outputs" in text
    assert "stores no reference output" in text


def test_parameters_cell_rules(tmp_path):
    path = notebook(tmp_path, [params_cell('profile: str = "auto"\nseed: int = compute()\nimport os\n'
                                           'device = "cpu"\noffline: bool = None', locked=False)])
    text = "\n".join(hygiene.check_notebook(path))
    assert "seed is not a literal" in text
    assert "only typed `name: type = literal` assignments" in text
    assert "offline is annotated 'bool', use 'Optional[bool]'" in text
    assert "lacks device, data_root, metrics_path" in text
    assert "must be locked for nbgrader" in text


def test_nbgrader_markup_rules(tmp_path):
    bad = new_code_cell("def f():\n    ### BEGIN SOLUTION\n    return 1\n")
    unflagged = new_code_cell("### BEGIN HIDDEN TESTS\nassert True\n### END HIDDEN TESTS")
    dup1, dup2 = new_code_cell("x = 1"), new_code_cell("y = 1")
    for c in (dup1, dup2):
        c.metadata["nbgrader"] = {"grade_id": "same", "schema_version": 3, "solution": True}
    path = notebook(tmp_path, [params_cell(), bad, unflagged, dup1, dup2])
    text = "\n".join(hygiene.check_notebook(path))
    assert "cell 1: unbalanced '### BEGIN SOLUTION'" in text
    assert "metadata.nbgrader.solution is not true" in text
    assert "metadata.nbgrader.grade is not true" in text
    assert "duplicate nbgrader grade_id 'same'" in text


def test_strip_keeps_checked_outputs(tmp_path):
    path = notebook(tmp_path, [params_cell(), with_output("print(1)"),
                               with_output("# NBVAL_CHECK_OUTPUT\nprint(2)", "2\n")])
    assert hygiene.strip_outputs(path) is True
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[1].outputs == [] and nb.cells[1].execution_count is None
    assert nb.cells[2].outputs[0]["text"] == "2\n" and nb.cells[2].execution_count == 1
    assert hygiene.strip_outputs(path) is False
    assert hygiene.check_notebook(path) == []


def test_cli_strip(tmp_path, capsys):
    path = notebook(tmp_path, [params_cell(), with_output("print(1)")])
    assert cli.main(["strip", str(path)]) == 0
    assert "stripped" in capsys.readouterr().out
    assert cli.main(["strip", str(tmp_path / "missing.ipynb")]) == 2


def test_refresh_checked_outputs(tmp_path):
    path = notebook(tmp_path, [params_cell(),
                               new_code_cell("# NBVAL_CHECK_OUTPUT\nimport os\n"
                                             "print(os.environ['GANCOURSE_PROFILE'], 6 * 7)"),
                               new_code_cell("print('not kept')")])
    hygiene.refresh_checked_outputs(path)
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[1].outputs[0]["text"] == "smoke 42\n"
    assert nb.cells[2].outputs == []


def test_catalog():
    assert len(catalog.COURSE) == 24
    assert [lesson.number for lesson in catalog.COURSE] == list(range(24))
    assert catalog.lesson("04").stem == "04_dcgan" and catalog.lesson(4).title == "DCGAN"
    with pytest.raises(KeyError, match="numbered 0-23"):
        catalog.lesson(99)
    table = catalog.course_map_markdown()
    assert "[Orientation](00_orientation.ipynb)" in table
    assert "ProGAN *(coming)*" in table or "[ProGAN]" in table
    assert table.count("\n") == 25
