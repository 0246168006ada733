"""Helpers for the grading tests: lay out a batch of submissions and grade it with
``autograder grade``'s engine into a throw-away course folder; the points the checks give
the same code in-process, hidden cases keyed as that course keys them."""

import csv
from pathlib import Path

import nbformat
from notebooks import SOURCES, graded_cell_code, namespace_with, run_cell

from autograder.checks._seeds import secret_cases
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


def in_process_points(
    course: Path, assignment: str, student: str, cell: str, code: str, tests: list[str]
) -> dict[str, float]:
    """The points of test cells ``tests`` when solution cell ``cell`` holds ``code`` (the
    reference elsewhere): each test cell run here, without a sandbox, its value the check's
    own ``Score`` (a ``CheckFailed``: 0), its hidden cases keyed by ``course``'s secret for
    ``student`` and that cell, as ``autograder grade`` keys them."""
    secret = Course(course, SOURCES).secret()
    code_of = graded_cell_code(assignment)
    points = {}
    for test in tests:
        namespace = namespace_with(assignment, cell, code)
        with secret_cases(secret, student, test):
            said, scores = run_cell(code_of[test], namespace)
        ended_on_a_score = scores and (said is None or not scores[-1].complete)
        points[test] = float(scores[-1]) if ended_on_a_score else 0.0
    return points
