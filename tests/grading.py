"""Helpers for the grading tests: lay out a batch of submissions and grade it with
``autograder grade``'s engine into a throw-away course folder."""

import csv
from pathlib import Path

import nbformat
from notebooks import SOURCES

from autograder.grading.batch import Summary, grade_batch
from autograder.grading.course import Course
from autograder.grading.engine import CellResult
from autograder.grading.sandbox import Limits

FAST = Limits(timeout=20)


def as_bytes(notebook) -> bytes:
    return notebook if isinstance(notebook, bytes) else nbformat.writes(notebook).encode()


def write_batch(root: Path, assignment: str, students: dict) -> Path:
    """nbgrader's layout: ``root/<student>/<assignment>/<assignment>.ipynb``."""
    for student, notebook in students.items():
        path = root / student / assignment / f"{assignment}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(as_bytes(notebook))
    return root


def grade(
    course: Path,
    assignment: str,
    submissions: Path,
    workers: int = 2,
    limits: Limits = FAST,
    device: str = "cpu",
) -> tuple[Summary, dict[str, dict[str, CellResult]]]:
    summary = grade_batch(
        Course(course, SOURCES),
        assignment,
        submissions,
        workers=workers,
        limits=limits,
        device=device,
        log=lambda line: None,
    )
    return summary, results(course, assignment)


def results(course: Path, assignment: str) -> dict[str, dict[str, CellResult]]:
    c = Course(course, SOURCES)
    found = c.results(c.prepare(assignment))
    return {student: {cell.grade_id: cell for cell in cells} for student, cells in found.items()}


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def scores(graded: dict[str, CellResult]) -> dict[str, float]:
    return {gid: cell.points for gid, cell in graded.items()}
