"""Notebook hygiene (DESIGN §4.2, §5): what every committed notebook must satisfy.

* kernelspec ``python3``;
* exactly one cell tagged ``parameters``, holding the six standard parameters as typed
  assignments of literals (``profile: str = "auto"``: papermill shows the types) and nothing
  else that executes, locked for nbgrader (``metadata.nbgrader.locked``, grade_id
  ``parameters``) so that autograding restores it whatever a student typed;
* outputs stripped and execution counts cleared, except in cells marked
  ``# NBVAL_CHECK_OUTPUT``, whose outputs are nbval's reference;
* nbgrader markup that balances: ``### BEGIN SOLUTION`` / ``### END SOLUTION`` and
  ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS`` pairs, in cells whose
  ``metadata.nbgrader`` says ``solution`` / ``grade``;
* a file name from the course map.

``strip_outputs`` is the fixer: ``gancourse strip notebooks/*.ipynb``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat

from gancourse.course.catalog import COURSE

PARAMETERS = ("profile", "seed", "device", "data_root", "offline", "metrics_path")
# Optional types are written as strings: papermill's parameter parser (--help-notebook) reads
# `name: "Optional[str]" = None` but not `name: str | None = None`, and a string annotation needs
# no import in the parameters cell.
PARAMETER_TYPES = {"profile": "str", "seed": "int", "device": "str", "data_root": "Optional[str]",
                   "offline": "Optional[bool]", "metrics_path": "Optional[str]"}
PARAMETERS_CELL = """\
profile: str = "auto"                  # "smoke" | "cpu" | "gpu" | "auto"
seed: int = 0
device: str = "auto"                   # "cuda" | "mps" | "cpu" | "auto"
data_root: "Optional[str]" = None      # None -> the package default cache
offline: "Optional[bool]" = None       # None -> GANCOURSE_OFFLINE env; True forbids downloads
metrics_path: "Optional[str]" = None   # set by the runner; record() writes JSON here"""
PARAMETERS_META = {"grade": False, "grade_id": "parameters", "locked": True, "schema_version": 3,
                   "solution": False, "task": False}
CHECK_MARK = "# NBVAL_CHECK_OUTPUT"


def _is_checked(cell) -> bool:
    return cell.cell_type == "code" and CHECK_MARK in cell.source


def _check_parameters(cell, problems: list[str]) -> None:
    try:
        tree = ast.parse(cell.source)
    except SyntaxError as err:
        problems.append(f"parameters cell does not parse: {err}")
        return
    names = []
    for node in tree.body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                and node.value is not None):
            problems.append(f"parameters cell line {node.lineno}: only typed `name: type = literal` "
                            f"assignments are allowed")
            continue
        name = node.target.id
        try:
            ast.literal_eval(node.value)
        except ValueError:
            problems.append(f"parameters cell: {name} is not a literal")
        ann = node.annotation
        got = ann.value if isinstance(ann, ast.Constant) and isinstance(ann.value, str) else ast.unparse(ann)
        want = PARAMETER_TYPES.get(name)
        if want is not None and got != want:
            problems.append(f"parameters cell: {name} is annotated {got!r}, use {want!r}")
        names.append(name)
    missing = [p for p in PARAMETERS if p not in names]
    if missing:
        problems.append(f"parameters cell lacks {', '.join(missing)} (DESIGN §4.2)")
    meta = cell.metadata.get("nbgrader", {})
    if not (meta.get("locked") and meta.get("grade_id") == "parameters"):
        problems.append("parameters cell: must be locked for nbgrader (metadata.nbgrader locked: true, "
                        "grade_id 'parameters'), so that autograding restores it")


def _check_nbgrader(index: int, cell, problems: list[str]) -> None:
    lines = [line.strip() for line in cell.source.splitlines()]   # markers stand on their own line
    meta = cell.metadata.get("nbgrader", {})
    for begin, end, flag in (("### BEGIN SOLUTION", "### END SOLUTION", "solution"),
                             ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS", "grade")):
        if lines.count(begin) != lines.count(end):
            problems.append(f"cell {index}: unbalanced {begin!r} / {end!r}")
        if begin in lines and not meta.get(flag):
            problems.append(f"cell {index}: has {begin!r} but metadata.nbgrader.{flag} is not true")
    if meta and meta.get("schema_version") != 3:
        problems.append(f"cell {index}: metadata.nbgrader.schema_version must be 3")
    if meta and not meta.get("grade_id"):
        problems.append(f"cell {index}: metadata.nbgrader needs a grade_id")


def check_notebook(path: str | Path) -> list[str]:
    """Every hygiene problem of one notebook, as readable sentences (empty: clean)."""
    path = Path(path)
    problems: list[str] = []
    nb = nbformat.read(path, as_version=4)
    if path.stem not in {lesson.stem for lesson in COURSE}:
        problems.append(f"{path.name} is not in the course map (gancourse.course.catalog.COURSE)")
    kernel = nb.metadata.get("kernelspec", {}).get("name")
    if kernel != "python3":
        problems.append(f"kernelspec is {kernel!r}, must be 'python3'")
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    if len(tagged) != 1:
        problems.append(f"{len(tagged)} cells are tagged 'parameters'; exactly one must be")
    else:
        _check_parameters(tagged[0], problems)
    ids = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            if (cell.outputs or cell.execution_count) and not _is_checked(cell):
                problems.append(f"cell {i}: has outputs; strip them (gancourse strip) or mark the cell "
                                f"{CHECK_MARK!r}")
            if _is_checked(cell) and not cell.outputs:
                problems.append(f"cell {i}: is marked {CHECK_MARK!r} but stores no reference output")
        _check_nbgrader(i, cell, problems)
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid:
            if gid in ids:
                problems.append(f"cell {i}: duplicate nbgrader grade_id {gid!r}")
            ids.append(gid)
    return problems


def strip_outputs(path: str | Path) -> bool:
    """Clear outputs and execution counts except in checked cells (numbered 1, 2, ...);
    True if the file changed."""
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    before = nbformat.writes(nb)
    checked = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if not _is_checked(cell):
            cell.outputs = []
            cell.execution_count = None
        else:
            # nbval refuses a reference cell that has outputs but no execution count, so checked
            # cells are numbered 1, 2, ... (stable across re-runs, so diffs stay small)
            checked += 1
            cell.execution_count = checked
            for out in cell.outputs:
                if "execution_count" in out:
                    out["execution_count"] = checked
        for key in ("execution", "collapsed", "scrolled"):
            cell.metadata.pop(key, None)
        cell.metadata.pop("papermill", None)
    nb.metadata.pop("papermill", None)
    nb.metadata.pop("widgets", None)
    after = nbformat.writes(nb)
    if after != before:
        path.write_text(after)
    return after != before


def refresh_checked_outputs(path: str | Path, timeout: int = 600) -> None:
    """Execute ``path`` in the smoke profile offline, keep the new outputs of checked cells
    only, and write it back: how a maintainer updates nbval's reference outputs."""
    import os

    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    env = {"GANCOURSE_PROFILE": "smoke", "GANCOURSE_OFFLINE": "1"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    nbformat.write(nb, path)
    strip_outputs(path)
