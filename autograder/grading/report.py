"""What people read: each student's feedback page and the instructor's ``report.html``.

Both are single HTML files that work offline (styles inline, the histogram an embedded
PNG). Feedback shows every graded cell's verdict and diagnostic message, then the
notebook as graded, hidden tests left out.

A feedback page is bounded in time and size whatever the notebook holds (its text is safe
already: ``engine.read_submission``): hidden tests are found by reading the marker lines
(linear), each cell shows at most ``SHOWN_CHARS``, Markdown is rendered only for cells of
at most ``MARKDOWN_CHARS`` and ``MARKDOWN_SECONDS`` in all (markdown-it's emphasis is
quadratic; the rest is shown as plain text), and cells past ``FEEDBACK_SECONDS`` are left
out with a note. A page that still cannot be made is replaced by a minimal one with the
verdicts, saying so: the batch goes on.
"""

import base64
import io
import statistics
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import matplotlib
from jinja2 import Environment, PackageLoader, select_autoescape
from markdown_it import MarkdownIt
from markupsafe import Markup

from ..checks._report import first_line
from .course import Course, write_atomically
from .engine import Assignment, CellResult, Graded, Status, grade_id_of
from .review import Finding

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
from matplotlib.ticker import MaxNLocator  # noqa: E402

BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
SHOWN_CHARS = 100_000  # of one cell's source or one output on a feedback page
MARKDOWN_CHARS = 10_000  # a longer Markdown cell is shown as text (rendering it is quadratic)
MARKDOWN_SECONDS = 1.0  # Markdown rendered per page; later cells shown as text
FEEDBACK_SECONDS = 10.0  # cells past this are left out of the page, with a note
REVIEW_LINES = 50  # lines for review listed per student in report.html (all in autograder.json)
_markdown = MarkdownIt("commonmark", {"html": False}).enable("table")


def hide_hidden_tests(source: str) -> str:
    """``source`` with each block from a ``### BEGIN HIDDEN TESTS`` line to the next
    ``### END HIDDEN TESTS`` line (or the end) shown as ``# (hidden tests)``: one pass
    over the lines."""
    if BEGIN_HIDDEN not in source:
        return source
    shown, hiding = [], False
    for line in source.split("\n"):
        stripped = line.lstrip(" \t")
        if hiding:
            hiding = stripped.rstrip(" \t") != END_HIDDEN
        elif stripped.startswith(BEGIN_HIDDEN):
            hiding = True
            shown.append(line[: len(line) - len(stripped)] + "# (hidden tests)")
        else:
            shown.append(line)
    return "\n".join(shown)


def _shown(text: object) -> str:
    text = text if isinstance(text, str) else "\n".join(map(str, text or []))
    if len(text) <= SHOWN_CHARS:
        return text
    return text[:SHOWN_CHARS] + f"\n[{len(text) - SHOWN_CHARS} more characters not shown]"


def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("autograder.grading", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
    )
    environment.filters["number"] = lambda value: f"{value:g}"
    environment.filters["first_line"] = first_line
    environment.filters["hide_hidden_tests"] = hide_hidden_tests
    # markdown-it with "html": False escapes any raw HTML a student wrote
    environment.filters["markdown"] = lambda s: Markup(_markdown.render(s))
    return environment


ENVIRONMENT = _environment()


def write_feedback(course: Course, assignment: Assignment, graded: Graded) -> Path:
    """The student's feedback page; never raises for what the notebook holds (see above)."""
    context = {
        "assignment": assignment.name,
        "student": graded.student,
        "score": f"{graded.score:g}",
        "max_score": f"{graded.max_score:g}",
        "problem": graded.problem,
        "cells": graded.cells,
        "by_id": {c.grade_id: c for c in graded.cells},
    }
    try:
        shown, left_out = _notebook_cells(graded, time.monotonic() + FEEDBACK_SECONDS)
        page = ENVIRONMENT.get_template("feedback.html.j2").render(
            **context, notebook=shown, left_out=left_out
        )
    except Exception as error:  # a page we cannot make: the verdicts alone, saying so
        note = (
            "Your notebook could not be shown on this page "
            f"({type(error).__name__}); the verdicts above are your grade."
        )
        context["problem"] = f"{graded.problem}\n{note}".strip()
        page = ENVIRONMENT.get_template("feedback.html.j2").render(
            **context, notebook=[], left_out=0
        )
    path = course.feedback(graded.student, assignment.name)
    write_atomically(path, page.encode("utf-8"))
    return path


def _notebook_cells(graded: Graded, deadline: float) -> tuple[list[dict], int]:
    """What the page shows of each cell of the autograded notebook (markdown rendered,
    hidden tests left out, everything cut to ``SHOWN_CHARS``), and how many cells were
    left out when ``deadline`` passed."""
    if graded.notebook is None:
        return [], 0
    by_id = {c.grade_id: c for c in graded.cells}
    shown: list[dict] = []
    markdown_ends = time.monotonic() + MARKDOWN_SECONDS
    cells = graded.notebook.cells
    for number, cell in enumerate(cells):
        if time.monotonic() > deadline:
            return shown, len(cells) - number
        source = cell.get("source", "")
        source = source if isinstance(source, str) else ""
        if cell.get("cell_type") == "markdown":
            if len(source) <= MARKDOWN_CHARS and time.monotonic() < markdown_ends:
                shown.append({"markdown": Markup(_markdown.render(source))})
            else:
                shown.append({"text": _shown(source)})
        elif cell.get("cell_type") == "code":
            grade_id = grade_id_of(cell)
            outputs = []
            for output in cell.get("outputs", []):
                if output.get("output_type") == "stream":
                    outputs.append(("output", _shown(output.get("text", ""))))
                elif output.get("output_type") == "error":
                    outputs.append(("output error", _shown(output.get("traceback", []))))
            shown.append(
                {
                    "source": _shown(hide_hidden_tests(source)),
                    "grade_id": grade_id,
                    "verdict": by_id.get(grade_id) if grade_id else None,
                    "outputs": outputs,
                }
            )
    return shown, 0


def _listed(reviews: dict[str, list[Finding]]) -> dict[str, list[Finding]]:
    """Each student's first ``REVIEW_LINES`` findings, and a line saying how many more."""
    listed = {}
    for student, findings in reviews.items():
        listed[student] = findings[:REVIEW_LINES]
        if len(findings) > REVIEW_LINES:
            more = len(findings) - REVIEW_LINES
            note = f"{more} more line(s) for review: see autograded/{student}/ (autograder.json)"
            listed[student].append(Finding("…", 0, note, ""))
    return listed


def _histogram(totals: list[float], max_score: float) -> str:
    figure, axes = plt.subplots(figsize=(6, 2.8), dpi=100)
    bins = max(1, min(20, int(max_score) + 1))
    axes.hist(totals, bins=bins, range=(0, max_score), color="#3b6fb6", edgecolor="white")
    axes.set_xlabel(f"total score (out of {max_score:g})")
    axes.set_ylabel("students")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def write_report(
    course: Course, assignment: Assignment, results: dict[str, list[CellResult]]
) -> Path:
    totals = [sum(c.points for c in cells) for cells in results.values()]
    pass_rates = []
    for grade_id, test in assignment.tests.items():
        statuses = [c.status for cells in results.values() for c in cells if c.grade_id == grade_id]
        passed = statuses.count(Status.PASSED)
        pass_rates.append(
            {
                "grade_id": grade_id,
                "points": test.points,
                "passed": passed,
                "total": len(statuses),
                "rate": passed / len(statuses) if statuses else 0.0,
            }
        )
    common = Counter(
        (c.grade_id, first_line(c.message))
        for cells in results.values()
        for c in cells
        if c.status is Status.FAILED
    ).most_common(15)
    troubled: dict[tuple[str, str, str], list[str]] = {}
    for student, cells in sorted(results.items()):
        for c in cells:
            if c.status in (Status.ERROR, Status.TIMEOUT, Status.TAMPERED):
                key = (student, c.status, first_line(c.message))
                troubled.setdefault(key, []).append(c.grade_id)
    page = ENVIRONMENT.get_template("report.html.j2").render(
        assignment=assignment.name,
        students=len(results),
        mean=statistics.fmean(totals) if totals else 0.0,
        median=statistics.median(totals) if totals else 0.0,
        max_score=assignment.max_score,
        histogram=_histogram(totals, assignment.max_score),
        pass_rates=pass_rates,
        common=common,
        troubled=list(troubled.items()),
        reviews=_listed(course.reviews(assignment)),
        written=datetime.now().strftime("%Y-%m-%d %H:%M"),
    )
    path = course.root / "report.html"
    write_atomically(path, page.encode("utf-8"))
    return path
