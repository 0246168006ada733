"""The hand-in check: the last cell of a graded notebook runs every visible test again and
prints one table, so that a student on Colab or Binder (no Validate button) sees where the
notebook stands before handing it in.

Each row is a part of the notebook: *done* (every visible case passes), *failing* (with the
first line of what its test says), or *not attempted* (the function still raises
``NotImplementedError``, or the cell defining it has not run). Under the table: the points
the visible tests give, what the hidden cases are still worth, and how to hand in. The cell
never raises and writes nothing to stderr (nbgrader's Validate reads stderr as a failure):
whatever a check or the student's code does is caught and said in the table.

While a notebook is graded (``NBGRADER_EXECUTION=autograde``, which nbgrader sets and so does
our grader's sandbox) it runs nothing and says so: the test cells are the grade.

Needs only the student package: the standard library and the checks.
"""

import contextlib
import io
import os
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from ._cases import NOT_IMPLEMENTED
from ._report import CheckFailed, first_line
from ._score import Score

DONE, FAILING, NOT_ATTEMPTED = "done", "failing", "not attempted"
WIDTH = 400  # characters of a failing test's first line shown in the table (the whole line, unless absurd)

HOW_TO_HAND_IN = """\
How to hand in:
  1. Kernel → Restart & Run All (in Colab: Runtime → Restart and run all), then read this
     table again: it is what your grader will run, and the hidden cases come on top.
  2. Save the notebook.
  3. In Colab: File → Download → Download .ipynb, and hand in that file as your instructor
     asks. On a JupyterHub with nbgrader: Validate, then Submit (Assignments tab)."""


WHILE_GRADING = (
    "The hand-in check does not run while your notebook is graded: the test cells above, "
    "with their hidden cases, are your grade."
)


@dataclass(frozen=True)
class Row:
    """One part of the notebook, as the hand-in check found it."""

    part: int | str
    what: str  # the names the student defines, as the table shows them
    points: float  # what the visible tests give
    max_points: float
    hidden: float  # points only the hidden cases decide (not run in a student's notebook)
    status: str  # DONE, FAILING or NOT_ATTEMPTED
    said: str = ""  # the first line of what the test says, when it fails


def _number(value: float) -> str:
    return f"{value:g}"


def _run(check: Callable, arguments: list) -> tuple[object, BaseException | None]:
    """The check's value (or the exception it raised), with its own printing, any warning
    and anything written to stderr kept out of the notebook."""
    quiet = io.StringIO()
    with (
        contextlib.redirect_stdout(quiet),
        contextlib.redirect_stderr(quiet),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        try:
            return check(*arguments), None
        except Exception as error:  # noqa: BLE001 (every failure is a row of the table)
            return None, error


def check_part(
    namespace: Mapping[str, object], part: int | str, names: str, points: float, check: Callable
) -> Row:
    """Run ``check`` on the objects ``names`` (comma-separated) name in ``namespace``."""
    wanted = [name.strip() for name in names.split(",") if name.strip()]
    missing = [name for name in wanted if name not in namespace]
    if missing:
        said = (
            f"{', '.join(missing)} not defined: its cell raised NotImplementedError or has not run"
        )
        return Row(part, names, 0.0, points, 0.0, NOT_ATTEMPTED, said)
    value, error = _run(check, [namespace[name] for name in wanted])
    if isinstance(error, CheckFailed):
        said = first_line(str(error))
        status = NOT_ATTEMPTED if NOT_IMPLEMENTED in said else FAILING
        return Row(part, names, 0.0, points, 0.0, status, said)
    if error is not None:
        said = first_line(f"{type(error).__name__}: {error}")
        return Row(part, names, 0.0, points, 0.0, FAILING, said)
    if not isinstance(value, Score):  # a check that passes or fails only as a whole
        return Row(part, names, points, points, 0.0, DONE)
    earned = sum(p.points for p in value.parts if p.passed)
    hidden = sum(p.points for p in value.parts if p.passed is None)
    if value.complete:
        return Row(part, names, earned, points, hidden, DONE)
    failed = next((p for p in value.parts if p.passed is False), None)
    said = first_line(value.message) or (failed and f"{failed.name}: {failed.message}") or ""
    return Row(part, names, earned, points, hidden, FAILING, said)


def _cut(text: str, width: int = WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _status(row: Row) -> str:
    if row.status == DONE and row.hidden:
        return f"{DONE} (+{_number(row.hidden)} from hidden cases when graded)"
    return row.status


def table(rows: list[Row]) -> str:
    """The rows as plain text: one line per part (a failing part's message on the next),
    then the totals."""
    what_width = max([len("what you implement"), *(len(r.what) for r in rows)])
    points = [f"{_number(r.points)} / {_number(r.max_points)}" for r in rows]
    points_width = max([len("points"), *map(len, points)])
    lines = [f"part  {'what you implement':<{what_width}}  {'points':<{points_width}}  status"]
    for row, earned in zip(rows, points, strict=True):
        lines.append(
            f"{str(row.part):>4}  {row.what:<{what_width}}  {earned:<{points_width}}  "
            f"{_status(row)}"
        )
        if row.status == FAILING and row.said:
            lines.append(f"      {_cut(row.said)}")
    earned = sum(r.points for r in rows)
    total = sum(r.max_points for r in rows)
    hidden = sum(r.hidden for r in rows)
    lines.append("")
    summary = f"The visible tests give {_number(earned)} of {_number(total)} points"
    if hidden:
        summary += f"; hidden cases decide {_number(hidden)} more when your notebook is graded"
    lines.append(summary + ".")
    done = sum(r.status == DONE for r in rows)
    untried = sum(r.status == NOT_ATTEMPTED for r in rows)
    if done == len(rows):
        lines.append("Every part passes its visible tests.")
    else:
        lines.append(
            f"{done} of {len(rows)} parts done, {len(rows) - done - untried} failing, "
            f"{untried} not attempted yet. A part's own test cell, above, says more."
        )
    return "\n".join(lines)


def hand_in(
    namespace: Mapping[str, object], parts: Iterable[tuple[int | str, str, float, Callable]]
) -> None:
    """Run every part's visible test, print the table and how to hand in (returns nothing,
    so the cell shows no value). ``parts``: ``(part, names, points, check)``, where ``names``
    are the objects (comma-separated) the check takes, looked up in ``namespace`` (the
    notebook's ``globals()``)."""
    if os.environ.get("NBGRADER_EXECUTION") == "autograde":
        print(WHILE_GRADING)
        return
    rows = [check_part(namespace, *part) for part in parts]
    print("Hand-in check: the visible tests, run again\n")
    print(table(rows))
    print()
    print(HOW_TO_HAND_IN)
