"""The ``gancourse`` command: ``run`` the course notebooks, ``assign`` student versions,
``strip`` notebook outputs for committing, ``info`` about this installation.

Exit codes: 0 success; 1 a notebook failed, a check failed or a notebook's markup is
broken; 2 the request itself is wrong (unknown notebook, missing or invalid baseline file,
bad option).
"""

from __future__ import annotations

import argparse
import platform
import sys
from collections.abc import Sequence

from gancourse import runtime

PROFILE_CHOICES = (*runtime.PROFILES, "auto")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gancourse", description="Run, check and hand out the GAN course notebooks.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run", help="execute notebooks with papermill, record metrics, check baselines",
        description="Execute course notebooks with papermill and write OUT/<notebook>.ipynb, "
                    "OUT/<notebook>.metrics.json, OUT/report.md and OUT/report.json.")
    run.add_argument("notebooks", nargs="*", metavar="NOTEBOOK",
                     help="path, file name, stem or number (01); default: every notebook")
    run.add_argument("--profile", choices=PROFILE_CHOICES, default="auto",
                     help="settings profile (auto: $GANCOURSE_PROFILE, else gpu with CUDA, "
                          "else cpu)")
    run.add_argument("--out", metavar="DIR", help="output folder (default: "
                     "$GANCOURSE_OUTPUT or <checkout>/runs, then /<profile>)")
    run.add_argument("--jobs", type=_positive_int, default=1, metavar="N",
                     help="notebooks executed in parallel (default 1)")
    run.add_argument("--check", action="store_true",
                     help="compare metrics with data/baselines/<profile>.json; exit 1 on a miss")
    run.add_argument("--update-baselines", action="store_true",
                     help="rewrite data/baselines/<profile>.json from this run, keeping "
                          "hand-set tolerances")
    run.add_argument("--offline", action="store_true",
                     help="forbid downloads (sets GANCOURSE_OFFLINE=1 for the notebooks)")
    run.add_argument("--dry", action="store_true",
                     help="with --profile gpu: run the gpu settings' code path (datasets, 64 px, "
                          "widths) with each notebook's 'dry' caps on steps and sample counts, in "
                          "minutes on a CPU (sets GANCOURSE_DRY=1; no baselines)")
    run.add_argument("--data-root", metavar="PATH", help="dataset cache (default: package "
                     "default)")
    run.add_argument("--timeout", type=_positive_float, metavar="SECONDS",
                     help="kill a notebook running longer than this (default: 3x its budget; "
                          "budgets: smoke 60 s, cpu 600 s, gpu 1800 s)")
    run.add_argument("--notebooks-dir", metavar="DIR",
                     help="where NN_*.ipynb live (default: <checkout>/notebooks)")
    run.add_argument("--baselines-dir", metavar="DIR",
                     help="where <profile>.json baselines live (default: "
                          "<checkout>/data/baselines)")
    run.add_argument("--no-progress", dest="progress", action="store_false",
                     help="no progress bars")
    run.set_defaults(handler=_cmd_run)

    assign = sub.add_parser(
        "assign", help="write student versions, or a ready nbgrader course folder",
        description="--out DIR: write the student version of each solution notebook to "
                    "DIR/<file name> (nbgrader solution regions become `raise "
                    "NotImplementedError()`, hidden tests are removed, outputs cleared). "
                    "--course DIR: write an nbgrader course folder (DIR/nbgrader_config.py, "
                    "DIR/source/<stem>/<stem>.ipynb) in which `nbgrader generate_assignment <stem>`, "
                    "`nbgrader autograde <stem>` and `nbgrader validate` work with no other setup "
                    "and grade in the fast smoke profile.")
    assign.add_argument("notebooks", nargs="+", metavar="NOTEBOOK",
                        help="path, file name, stem or number (01)")
    where = assign.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", metavar="DIR", help="folder for the student versions")
    where.add_argument("--course", metavar="DIR", help="nbgrader course folder to create or update")
    assign.add_argument("--course-id", default="gancourse", help="nbgrader course id (with --course)")
    assign.add_argument("--force", action="store_true",
                        help="with --course: overwrite a changed source notebook or a foreign "
                             "nbgrader_config.py")
    assign.add_argument("--notebooks-dir", metavar="DIR",
                        help="where NN_*.ipynb live (default: <checkout>/notebooks)")
    assign.set_defaults(handler=_cmd_assign)

    info = sub.add_parser("info", help="show profile, device, versions and paths")
    info.set_defaults(handler=_cmd_info)

    strip = sub.add_parser(
        "strip", help="strip notebook outputs except '# NBVAL_CHECK_OUTPUT' cells, and check hygiene",
        description="Clear outputs and execution counts (keeping the reference outputs of cells "
                    "marked '# NBVAL_CHECK_OUTPUT'), then report any hygiene problem.")
    strip.add_argument("notebooks", nargs="+", metavar="NOTEBOOK", help="notebook files")
    strip.add_argument("--refresh", action="store_true",
                       help="first re-execute in the smoke profile, offline, to refresh the "
                            "checked cells' reference outputs")
    strip.set_defaults(handler=_cmd_strip)
    return parser


def _error(command: str, exc: Exception) -> int:
    print(f"gancourse {command}: error: {exc}", file=sys.stderr)
    return 2


def _cmd_run(args: argparse.Namespace) -> int:
    from gancourse.course.baselines import BaselineError
    from gancourse.course.report import render_summary
    from gancourse.course.runner import CourseError, run_course

    try:
        run = run_course(args.notebooks, profile=args.profile, out_dir=args.out,
                         jobs=args.jobs, check=args.check,
                         update_baselines=args.update_baselines, offline=args.offline,
                         data_root=args.data_root, timeout_s=args.timeout,
                         notebooks_dir=args.notebooks_dir, baselines_dir=args.baselines_dir,
                         progress=args.progress, dry=args.dry)
    except (CourseError, BaselineError) as exc:
        return _error("run", exc)
    print(f"profile {run.report['profile']}, output {run.report['out_dir']}")
    print("\n".join(render_summary(run.report)))
    if run.baseline_update is not None:
        print(f"baseline {run.baseline_file} rewritten: "
              + "\n".join(run.baseline_update.lines()))
    print(f"report: {run.report_md}")
    print("PASS" if run.exit_code == 0 else "FAIL")
    return run.exit_code


def _cmd_assign(args: argparse.Namespace) -> int:
    from gancourse.course.assign import AssignError, assign_notebooks, make_course
    from gancourse.course.runner import CourseError, resolve_notebooks

    try:
        paths = resolve_notebooks(args.notebooks, args.notebooks_dir)
    except CourseError as exc:
        return _error("assign", exc)
    if args.course:
        try:
            course = make_course(paths, args.course, course_id=args.course_id, force=args.force)
        except AssignError as exc:
            print(f"gancourse assign: error: {exc}", file=sys.stderr)
            return 1
        print(f"course folder {course.root}: {course.config.name} and {len(course.sources)} "
              f"assignment(s), {course.solution_cells} answer cells, {course.hidden_tests} hidden "
              f"test regions")
        for src in course.sources:
            print(f"  {src.relative_to(course.root)}  ->  nbgrader generate_assignment {src.stem}")
        return 0
    try:
        results = assign_notebooks(paths, args.out)
    except AssignError as exc:
        print(f"gancourse assign: error: {exc}", file=sys.stderr)
        return 1
    for r in results:
        print(f"{r.output}  ({r.solution_cells} solution cells stubbed, "
              f"{r.hidden_tests} hidden test regions removed)")
        for warning in r.warnings:
            print(f"warning: {warning}", file=sys.stderr)
    return 0


def _cmd_strip(args: argparse.Namespace) -> int:
    from pathlib import Path

    from gancourse.course import hygiene

    status = 0
    for name in args.notebooks:
        path = Path(name)
        if not path.is_file():
            print(f"gancourse strip: no such notebook {name}", file=sys.stderr)
            return 2
        if args.refresh:
            hygiene.refresh_checked_outputs(path)
        changed = hygiene.strip_outputs(path)
        problems = hygiene.check_notebook(path)
        print(f"{path.name}: {'stripped' if changed else 'clean'}"
              + "".join(f"\n  problem: {p}" for p in problems))
        status = status or (1 if problems else 0)
    return status


def _cmd_info(args: argparse.Namespace) -> int:
    import torch
    import torchvision

    import gancourse

    rows: list[tuple[str, str]] = [
        ("gancourse", gancourse.__version__),
        ("python", platform.python_version()),
        ("torch", f"{torch.__version__} (CUDA available: {torch.cuda.is_available()})"),
        ("torchvision", torchvision.__version__),
    ]
    def notebooks() -> str:
        folder = runtime.notebooks_dir()
        count = len(list(folder.glob("[0-9][0-9]_*.ipynb")))
        return f"{folder} ({count} notebooks)"

    resolvers = (
        ("profile", lambda: runtime.resolve_profile("auto")),
        ("device", lambda: runtime.resolve_device("auto")),
        ("offline", lambda: runtime.resolve_offline(None)),
        ("data root", runtime.default_data_root),
        ("output root", runtime.default_output_root),
        ("notebooks dir", notebooks),
        ("baselines dir", runtime.baselines_dir),
    )
    bad_setting = False
    for label, resolve in resolvers:
        try:
            rows.append((label, str(resolve())))
        except FileNotFoundError as exc:  # an installed copy without the course checkout
            rows.append((label, f"not available: {exc}"))
        except ValueError as exc:  # e.g. GANCOURSE_PROFILE=fast
            rows.append((label, f"error: {exc}"))
            bad_setting = True
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    return 2 if bad_setting else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gancourse`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    raise SystemExit(main())
