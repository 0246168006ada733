"""What people read: each student's feedback page and the instructor's ``report.html``.

Both are single HTML files that work offline (styles inline, the histogram an embedded
PNG). Feedback shows every graded cell's verdict and diagnostic message, then the
notebook as graded, hidden tests left out.
"""

import base64
import io
import re
import statistics
from collections import Counter
from datetime import datetime
from pathlib import Path

import matplotlib
from jinja2 import Environment, PackageLoader, select_autoescape
from markdown_it import MarkdownIt
from markupsafe import Markup

from ..checks._report import first_line
from .course import Course, write_atomically
from .engine import Assignment, CellResult, Graded, Status

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
from matplotlib.ticker import MaxNLocator  # noqa: E402

HIDDEN_TESTS = re.compile(
    r"^[ \t]*### BEGIN HIDDEN TESTS.*?^[ \t]*### END HIDDEN TESTS[ \t]*$", re.MULTILINE | re.DOTALL
)
_markdown = MarkdownIt("commonmark", {"html": False}).enable("table")


def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("autograder.grading", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
    )
    environment.filters["number"] = lambda value: f"{value:g}"
    environment.filters["first_line"] = first_line
    environment.filters["hide_hidden_tests"] = lambda s: HIDDEN_TESTS.sub("# (hidden tests)", s)
    # markdown-it with "html": False escapes any raw HTML a student wrote
    environment.filters["markdown"] = lambda s: Markup(_markdown.render(s))
    return environment


ENVIRONMENT = _environment()


def write_feedback(course: Course, assignment: Assignment, graded: Graded) -> Path:
    page = ENVIRONMENT.get_template("feedback.html.j2").render(
        assignment=assignment.name,
        student=graded.student,
        score=f"{graded.score:g}",
        max_score=f"{graded.max_score:g}",
        problem=graded.problem,
        cells=graded.cells,
        by_id={c.grade_id: c for c in graded.cells},
        notebook=graded.notebook,
    )
    path = course.feedback(graded.student, assignment.name)
    write_atomically(path, page.encode("utf-8"))
    return path


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
        reviews=course.reviews(assignment),
        written=datetime.now().strftime("%Y-%m-%d %H:%M"),
    )
    path = course.root / "report.html"
    write_atomically(path, page.encode("utf-8"))
    return path
