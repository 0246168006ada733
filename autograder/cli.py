"""The instructor's ``autograder`` command.

- ``autograder release [ASSIGNMENTS] [--check]``: generate exercises/ from solutions/.
- ``autograder grade ASSIGNMENT SUBMISSIONS``: collect, grade what is new, write
  ``grades.csv``, ``cells.csv``, feedback and ``report.html`` into the course folder.
- ``autograder export ASSIGNMENT`` / ``autograder report ASSIGNMENT``: write the CSVs or
  the report again from the gradebook and the recorded results.
- ``autograder export ASSIGNMENT --lms canvas|moodle [--roster FILE]``: the file the
  platform's grade import takes, students matched by the id their submission gave; for
  Moodle also each student's feedback summary and a feedback-files zip.
- ``autograder publish ASSIGNMENT --lms canvas --url URL --course-id ID --assignment-id ID
  [--yes]``: post each matched student's score and feedback page to Canvas through its API
  (token from ``CANVAS_API_TOKEN``); a dry run unless ``--yes``.
- ``autograder gradescope ASSIGNMENT -o autograder.zip``: a Gradescope autograder that
  grades with this engine (hidden tests and a secret of its own inside).
- ``autograder similarity ASSIGNMENT``: every pair of graded submissions compared;
  ``similarity.html`` and ``similarity.csv``.

Exit status: 0 when the work was done (whatever the students scored), 1 when ``publish``
could not post everything (listed at the end), 2 for bad arguments or a course folder that
cannot be used, 130 when interrupted.
"""

import argparse
import os
import sys
import warnings
from pathlib import Path

from .grading.collect import CollectError
from .grading.course import Course, CourseError
from .grading.sandbox import Limits, SandboxUnavailable, bubblewrap
from .release import assignments as releasing
from .release.sources import NoCourse, Sources, find

DEFAULTS = Limits()
LIMIT_OPTIONS = [  # (flag, Limits field, what it bounds)
    ("--memory-mb", "memory_mb", "memory per process, MB"),
    ("--output-kb", "output_kb", "text output kept per cell, KB"),
    ("--processes", "processes", "processes and threads per sandbox"),
    ("--files-mb", "files_mb", "what student code may write, MB"),
]


def _sources(args: argparse.Namespace) -> Sources:
    return find(source=args.source)


def _course(args: argparse.Namespace, existing: bool = False) -> Course:
    """The course folder: ``--course``, else the root the course's config sets, else
    ``./course``; with ``existing``, one that grading has made already."""
    sources = _sources(args)
    configured = sources.config.CourseDirectory.get("root")
    default = sources.root / configured if configured else Path("course")
    folder = Path(args.course or default)
    if existing and not folder.is_dir():
        raise CourseError(
            f"no course folder {folder.resolve()}: nothing was graded there. Check --course, "
            "or run `autograder grade` first."
        )
    return Course(folder, sources, args.db)


def _release(args: argparse.Namespace) -> int:
    sources = _sources(args)
    if args.check:
        stale = releasing.stale(sources)
        for name in stale:
            print(
                f"{sources.released(name)} is out of date: run `autograder release {name}`",
                file=sys.stderr,
            )
        return 1 if stale else 0
    if releasing.install_source(sources) == "":
        print(
            "autograder: note: repository.url is not set in _config.yml, so the released "
            "notebooks cannot install the checks by themselves (see README, 'Teach this course').",
            file=sys.stderr,
        )
    for path in releasing.release(sources, args.assignments or None):
        print(f"wrote {path}")
    return 0


def _device(choice: str) -> str:
    from .device import get_device  # imports torch: only when grading

    try:
        return get_device(choice).type
    except RuntimeError as error:
        raise CourseError(f"--device {choice}: {error}") from None


def _grade(args: argparse.Namespace) -> int:
    from .grading.batch import grade_batch

    if args.workers < 1:
        raise CourseError("--workers must be at least 1.")
    if args.timeout <= 0 or args.notebook_timeout <= 0:
        raise CourseError("--timeout and --notebook-timeout must be positive numbers of seconds.")
    for flag, field, _ in LIMIT_OPTIONS:
        if getattr(args, field) < 1:
            raise CourseError(f"{flag} must be positive.")
    limits = Limits(
        timeout=args.timeout,
        submission_seconds=args.notebook_timeout,
        **{field: getattr(args, field) for _, field, _ in LIMIT_OPTIONS},
    )
    device = _device(args.device)
    course = _course(args)
    if args.scheduler is not None:
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise CourseError(
                "--scheduler needs Dask distributed: pip install 'cnn-course[grade,cluster]'."
            ) from None
    elif bubblewrap() is None:
        print(
            "autograder: warning: bubblewrap (bwrap) is not available, so student code runs "
            "without file-system and network isolation. See README, 'Security'.",
            file=sys.stderr,
        )
    import torch

    # The workers' threads compute references side by side: one torch thread each keeps
    # them from fighting over the cores (the sandboxes run single-threaded too).
    torch.set_num_threads(1)
    with course.lock():
        summary = grade_batch(
            course,
            args.assignment,
            Path(args.submissions),
            workers=args.workers,
            limits=limits,
            device=device,
            scheduler=args.scheduler,
        )
    print(summary.line())
    for path in summary.outputs:
        print(f"wrote {path}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from .grading import export

    if args.lms is None:
        given = [
            f for f in ("roster", "output", "column", "submissions") if getattr(args, f) is not None
        ]
        if given or args.missing_zero:
            flags = [f"--{f}" for f in given] + (["--missing-zero"] if args.missing_zero else [])
            raise CourseError(f"{', '.join(flags)}: only with --lms canvas or --lms moodle.")
    course = _course(args, existing=True)
    if args.lms is not None:
        from .grading import lms

        path, match = lms.export(
            course,
            args.assignment,
            args.lms,
            roster=args.roster,
            output=args.output,
            missing_zero=args.missing_zero,
            column=args.column,
            submissions=args.submissions,
        )
        for line in match.lines():
            print(line)
        for written in [path, *match.also_written]:
            print(f"wrote {written}")
        return 0
    assignment = course.prepare(args.assignment)
    for path in export.write(course, assignment, course.results(assignment)):
        print(f"wrote {path}")
    return 0


def _similarity(args: argparse.Namespace) -> int:
    from .grading.similarity import similarity

    if not 0 < args.threshold <= 1:
        raise CourseError("--threshold must be a share of the code, more than 0 and at most 1.")
    if args.workers is not None and args.workers < 1:
        raise CourseError("--workers must be at least 1.")
    course = _course(args, existing=True)
    assignment = course.prepare(args.assignment)
    comparison, paths = similarity(course, assignment, args.threshold, args.workers)
    print(comparison.line())
    for pair in comparison.flagged[:10]:
        print(f"  {pair.score:.2f}  {pair.student_a}  {pair.student_b}")
    for problem in comparison.skipped:
        print(f"  skipped: {problem}")
    for path in paths:
        print(f"wrote {path}")
    return 0


def _publish(args: argparse.Namespace) -> int:
    from .grading import publish

    course = _course(args, existing=True)
    outcome = publish.publish(
        course,
        args.assignment,
        args.url,
        args.course_id,
        args.assignment_id,
        yes=args.yes,
        retry=publish.DEFAULT_RETRY,
    )
    return 1 if outcome is not None and outcome.failed else 0


def _gradescope(args: argparse.Namespace) -> int:
    from .grading import gradescope

    course = _course(args)
    path = gradescope.build(course, args.assignment, args.output)
    print(f"wrote {path}")
    print(
        "Gradescope: a Programming Assignment, Configure Autograder → Zip file upload; test "
        "it with a correct and a wrong notebook before students submit (README, 'For instructors')."
    )
    return 0


def _report(args: argparse.Namespace) -> int:
    from .grading import report

    course = _course(args, existing=True)
    assignment = course.prepare(args.assignment)
    print(f"wrote {report.write_report(course, assignment, course.results(assignment))}")
    return 0


def _source_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--source",
        type=Path,
        help="the folder of source notebooks (default: the source_directory of the "
        "nbgrader_config.py in this folder or above)",
    )


def _course_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("assignment", help="assignment name, e.g. conv-layers")
    _source_option(command)
    command.add_argument(
        "--course",
        type=Path,
        help="folder for submissions, graded notebooks and reports (default: the course "
        "root nbgrader_config.py sets, else ./course)",
    )
    command.add_argument(
        "--db", help="gradebook as an SQLAlchemy URL (default: SQLite in the course folder)"
    )


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="autograder", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = top.add_subparsers(dest="command", required=True)
    release = commands.add_parser(
        "release", help="generate exercises/ from solutions/ (nbgrader generate_assignment)"
    )
    release.add_argument("assignments", nargs="*", help="assignment names (default: all)")
    release.add_argument(
        "--check", action="store_true", help="only report assignments whose exercises/ is stale"
    )
    _source_option(release)
    release.set_defaults(run=_release)

    grade = commands.add_parser("grade", help="grade a folder or .zip of submissions")
    _course_options(grade)
    grade.add_argument("submissions", help="nbgrader submitted/ folder, LMS export folder or .zip")
    grade.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="parallel graders (default: cores)"
    )
    grade.add_argument(
        "--timeout",
        type=float,
        default=DEFAULTS.timeout,
        help=f"seconds per cell (default: {DEFAULTS.timeout:g})",
    )
    grade.add_argument(
        "--notebook-timeout",
        type=float,
        default=DEFAULTS.submission_seconds,
        help="seconds for a whole notebook, restarts included "
        f"(default: {DEFAULTS.submission_seconds:g})",
    )
    grade.add_argument(
        "--device", choices=["auto", "cpu", "cuda"], default="auto", help="where checks compute"
    )
    for flag, field, what in LIMIT_OPTIONS:
        default = getattr(DEFAULTS, field)
        grade.add_argument(flag, type=int, default=default, help=f"{what} (default: {default})")
    grade.add_argument(
        "--scheduler",
        help="grade on a Dask cluster: the scheduler's address (tcp://HOST:8786) or its "
        "scheduler file; this machine records the results (--workers is then unused; "
        "see README, 'Grade on a cluster')",
    )
    grade.set_defaults(run=_grade)

    export = commands.add_parser(
        "export",
        help="write grades.csv and cells.csv again, or (--lms) a file for Canvas's or Moodle's "
        "grade import",
    )
    _course_options(export)
    export.add_argument(
        "--lms",
        choices=["canvas", "moodle"],
        help="write the platform's grade import file (scores from the gradebook) instead",
    )
    export.add_argument(
        "--roster",
        type=Path,
        help="the platform's export to fill: Canvas's gradebook CSV, Moodle's grading worksheet "
        "or grade export (default: a plain file with the columns the importer needs)",
    )
    export.add_argument(
        "--column", help="the roster's column for this assignment (default: found by its name)"
    )
    export.add_argument(
        "--missing-zero",
        action="store_true",
        help="0 for roster students with no submission (default: their cell is left as it was)",
    )
    export.add_argument(
        "--output", type=Path, help="file to write (default: <course>/<lms>-<assignment>.csv)"
    )
    export.add_argument(
        "--submissions",
        type=Path,
        help="Moodle: its download of the submissions (folder or .zip), whose folder names the "
        "feedback zip's folders take (default: names Moodle before 4.1 gave, which every "
        "version reads)",
    )
    export.set_defaults(run=_export)
    similar = commands.add_parser(
        "similarity",
        help="compare every pair of graded submissions; write similarity.html and .csv",
    )
    _course_options(similar)
    similar.add_argument(
        "--threshold",
        type=float,
        default=0.5,
        help="flag pairs whose score (share of one student's code also in the other's) is at "
        "least this (default: 0.5)",
    )
    similar.add_argument(
        "--workers",
        type=int,
        help="processes (default: one per core, for a class of 100 submissions or more)",
    )
    similar.set_defaults(run=_similarity)
    publish = commands.add_parser(
        "publish",
        help="post grades and feedback pages to the LMS through its API (dry run unless --yes)",
    )
    _course_options(publish)
    publish.add_argument("--lms", choices=["canvas"], required=True, help="the platform")
    publish.add_argument(
        "--url", required=True, help="the Canvas site, e.g. https://canvas.example.edu"
    )
    publish.add_argument("--course-id", type=int, required=True, help="the Canvas course's id")
    publish.add_argument(
        "--assignment-id", type=int, required=True, help="the Canvas assignment's id"
    )
    publish.add_argument(
        "--yes",
        action="store_true",
        help="post (default: a dry run that prints what would be posted). The API token is "
        "read from the environment variable CANVAS_API_TOKEN",
    )
    publish.set_defaults(run=_publish)
    gradescope = commands.add_parser(
        "gradescope",
        help="write a Gradescope programming-assignment autograder (a zip) for an assignment",
    )
    _course_options(gradescope)
    gradescope.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("autograder.zip"),
        help="the zip to write (default: autograder.zip)",
    )
    gradescope.set_defaults(run=_gradescope)
    report = commands.add_parser("report", help="write report.html again")
    _course_options(report)
    report.set_defaults(run=_report)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    # nbgrader's gradebook models trip SQLAlchemy 2 warnings that say nothing to a user.
    warnings.filterwarnings("ignore", module="nbgrader")
    warnings.filterwarnings("ignore", message=".*relationship.*")
    try:
        return args.run(args)
    except (
        releasing.ReleaseError,
        CourseError,
        CollectError,
        SandboxUnavailable,
        NoCourse,
    ) as error:
        print(f"autograder: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "autograder: interrupted. Everything graded so far is saved; run the same "
            "command again to grade the rest.",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
