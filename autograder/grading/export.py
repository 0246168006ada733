"""``grades.csv`` and ``cells.csv`` in the course folder, for one assignment.

- ``grades.csv``: ``student_id, score, max_score``, then one column per graded cell.
- ``cells.csv``: ``student_id, grade_id, points, max_points, status, message, parts``: the
  first line of the student-facing message (about the first failing part), and every part
  of the check as ``✓ name 1/1; ✗ name 0/0.5`` (partial credit).
"""

import csv
import io
from pathlib import Path

from ..checks._report import first_line
from ..checks._score import PartResult
from .course import Course, write_atomically
from .engine import Assignment, CellResult


def _number(value: float) -> str:
    return f"{value:g}"


def grades_table(assignment: Assignment, results: dict[str, list[CellResult]]) -> list[list[str]]:
    grade_ids = list(assignment.tests)
    rows = [["student_id", "score", "max_score", *grade_ids]]
    for student, cells in sorted(results.items()):
        by_id = {c.grade_id: c for c in cells}
        points = [by_id[g].points if g in by_id else 0.0 for g in grade_ids]
        rows.append(
            [student, _number(sum(points)), _number(assignment.max_score), *map(_number, points)]
        )
    return rows


def _parts(parts: tuple[PartResult, ...]) -> str:
    """Every part as ``✓ name earned/points``, ``; `` between them."""
    return "; ".join(
        f"{p.mark} {p.name} {_number(p.points if p.passed else 0)}/{_number(p.points)}"
        for p in parts
    )


def cells_table(results: dict[str, list[CellResult]]) -> list[list[str]]:
    rows = [["student_id", "grade_id", "points", "max_points", "status", "message", "parts"]]
    for student, cells in sorted(results.items()):
        for c in cells:
            rows.append(
                [
                    student,
                    c.grade_id,
                    _number(c.points),
                    _number(c.max_points),
                    c.status,
                    first_line(c.message),
                    _parts(c.parts),
                ]
            )
    return rows


FORMULA = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet cell starting so is a formula


def _cell(value: str) -> str:
    """A CSV cell no spreadsheet reads as a formula (a message's text could begin so);
    numbers as they are."""
    if not value.startswith(FORMULA):
        return value
    try:
        float(value)
        return value
    except ValueError:
        return "'" + value


def _csv(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([list(map(_cell, row)) for row in rows])
    return buffer.getvalue().encode("utf-8")


def write(
    course: Course, assignment: Assignment, results: dict[str, list[CellResult]]
) -> list[Path]:
    written = []
    for name, rows in [
        ("grades.csv", grades_table(assignment, results)),
        ("cells.csv", cells_table(results)),
    ]:
        write_atomically(course.root / name, _csv(rows))
        written.append(course.root / name)
    return written
