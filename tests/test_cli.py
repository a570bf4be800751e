"""The gancourse command line: parsing, info, assign (run is covered in test_runner.py)."""

import re

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from gancourse.cli import build_parser, main

ANSWER = {"grade": False, "grade_id": "ex", "locked": False, "schema_version": 3,
          "solution": True, "task": False}


def test_info_prints_profile_device_versions_and_paths(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("GANCOURSE_PROFILE", "smoke")
    monkeypatch.setenv("GANCOURSE_OFFLINE", "1")
    monkeypatch.setenv("GANCOURSE_DATA", str(tmp_path / "data"))
    assert main(["info"]) == 0
    rows = dict(re.match(r"^(\S+(?: \S+)*)\s{2,}(.*)$", line).groups()
                for line in capsys.readouterr().out.splitlines())
    assert rows["profile"] == "smoke"
    assert rows["device"] == "cpu" or rows["device"].startswith(("cuda", "mps"))
    assert rows["offline"] == "True"
    assert rows["data root"] == str(tmp_path / "data")
    assert rows["torch"].split()[0] == __import__("torch").__version__
    assert rows["torchvision"] == __import__("torchvision").__version__
    assert "notebooks dir" in rows and "baselines dir" in rows


def test_info_reports_a_bad_setting(capsys, monkeypatch):
    monkeypatch.setenv("GANCOURSE_PROFILE", "fast")
    assert main(["info"]) == 2
    assert "error: unknown profile 'fast'" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["run", "--profile", "fast"], "invalid choice: 'fast'"),
    (["run", "--jobs", "0"], "must be a whole number >= 1"),
    (["run", "--timeout", "-5"], "must be a number of seconds > 0"),
    (["assign", "01"], "one of the arguments --out --course is required"),
    ([], "the following arguments are required: COMMAND"),
])
def test_argparse_errors_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_run_defaults():
    args = build_parser().parse_args(["run"])
    assert (args.notebooks, args.profile, args.out, args.jobs, args.check,
            args.update_baselines, args.offline, args.data_root, args.timeout,
            args.progress) == ([], "auto", None, 1, False, False, False, None, None, True)


def write_notebook(path, source, nbgrader=None):
    nb = new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                               "language": "python"}})
    c = new_code_cell(source)
    if nbgrader:
        c.metadata["nbgrader"] = nbgrader
    nb.cells = [c]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def test_assign_by_number_writes_student_version(tmp_path, capsys):
    nbs = tmp_path / "nbs"
    write_notebook(nbs / "03_gan_theory.ipynb",
                   "def d_star(p, q):\n    ### BEGIN SOLUTION\n    return p / (p + q)\n"
                   "    ### END SOLUTION", ANSWER)
    write_notebook(nbs / "04_dcgan.ipynb", "x = 1")
    code = main(["assign", "3", "04_dcgan", "--out", str(tmp_path / "student"),
                 "--notebooks-dir", str(nbs)])
    captured = capsys.readouterr()
    assert code == 0
    assert "03_gan_theory.ipynb  (1 solution cells stubbed, 0 hidden test regions" in captured.out
    assert "warning: 04_dcgan.ipynb: no solution cells" in captured.err
    out = nbformat.read(str(tmp_path / "student" / "03_gan_theory.ipynb"), as_version=4)
    assert "raise NotImplementedError()" in out.cells[0].source
    assert "p / (p + q)" not in out.cells[0].source


def test_assign_errors(tmp_path, capsys):
    nbs = tmp_path / "nbs"
    write_notebook(nbs / "03_gan_theory.ipynb", "### BEGIN SOLUTION\nx = 1", ANSWER)
    assert main(["assign", "03", "--out", str(tmp_path / "s"), "--notebooks-dir",
                 str(nbs)]) == 1
    assert "03_gan_theory.ipynb: cell 0: '### BEGIN SOLUTION' at line 1 has no matching" in (
        capsys.readouterr().err)
    assert main(["assign", "99", "--out", str(tmp_path / "s"), "--notebooks-dir",
                 str(nbs)]) == 2
    assert "unknown notebook '99'" in capsys.readouterr().err
