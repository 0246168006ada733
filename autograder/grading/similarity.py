"""Which submissions look copied: every pair of graded submissions compared with copydetect.

What is compared is each student's own code: the notebook's code cells that are neither
test cells nor locked (their solution cells and any cells they added), one after another.
copydetect (fingerprints of the code, as MOSS takes them) first tokenises the code with
Pygments and writes every name as ``V`` (functions ``F``, classes ``O``) and every string as
``S``, dropping spaces, line breaks and comments: renaming variables or reformatting changes
nothing it sees. A fingerprint is a hash of ``NOISE`` consecutive characters of that text
(about a line of code); a pair's matches are the fingerprints both have, wherever they are,
so reordering functions hides nothing either.

Fingerprints nobody should be blamed for are removed first (copydetect's boilerplate): the
released notebook's code (starter code, signatures, docstrings), and code that at least
half the class wrote (``COMMON_SHARE``, from ``COMMON_MIN`` submissions on): the textbook
way of doing something, not a copy.

A pair's score is the larger of the two shares: the part of one student's code that is
also in the other's (1.0: all of it). Pairs scoring ``THRESHOLD`` or more are flagged. With
these settings a copy scores about 0.9 whatever was renamed, reformatted or reordered, and
two students who each wrote the same textbook algorithms (im2col with ``unfold`` and a
matrix product, the usual loops) score 0.1 to 0.3: short, forced code such as the textbook
im2col is one part of a notebook, not most of it. A flag is a reason to read the two
notebooks, not a verdict.

Every fingerprint is kept (no winnowing window), so a score does not depend on the hash
values and is the same from run to run; the pairs are compared in forked processes, one
per core (500 submissions: see README).
"""

import base64
import csv
import io
import os
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing import get_context
from pathlib import Path

import matplotlib
import nbformat
import numpy as np
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from .course import Course, write_atomically
from .engine import Assignment, Unreadable, read_submission, student_cells
from .sandbox import Limits
from .untrusted import name as quoted

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
from matplotlib.ticker import MaxNLocator  # noqa: E402

NOISE = 40  # characters of normalised code in one fingerprint: shorter matches are noise
GUARANTEE = 40  # a match this long is always found: every fingerprint is kept (window 1)
THRESHOLD = 0.5
COMMON_SHARE = 0.5  # fingerprints in at least this share of the submissions are boilerplate
COMMON_MIN = 10  # ... counted only from this many submissions on
SHOWN = 50  # flagged pairs shown with their code in the report (the CSV has every pair)
LISTED = 500  # flagged pairs listed in the report's table
PER_PROCESS = 50  # submissions per comparing process, at least
# Of one student's own code, what is compared (a whole notebook's is a few thousand
# characters; tokenising takes ~20 µs a character, so a notebook padded with code would
# take minutes).
COMPARED_CHARS = 100_000


@dataclass
class Pair:
    student_a: str
    student_b: str
    share_a: float  # of a's code, the part also in b's
    share_b: float

    @property
    def score(self) -> float:
        return max(self.share_a, self.share_b)


@dataclass
class Comparison:
    students: list[str]
    pairs: list[Pair]  # highest score first
    threshold: float
    skipped: list[str] = field(default_factory=list)
    common: int = 0  # fingerprints removed as what half the class wrote
    seconds: float = 0.0
    fingerprints: dict = field(default_factory=dict, repr=False)  # student -> CodeFingerprint

    @property
    def flagged(self) -> list[Pair]:
        return [p for p in self.pairs if p.score >= self.threshold]

    def line(self) -> str:
        return (
            f"compared {len(self.students)} submission(s), {len(self.pairs)} pair(s), in "
            f"{self.seconds:.1f} s: {len(self.flagged)} pair(s) at or above {self.threshold:g}"
            + (f"; skipped {len(self.skipped)}" if self.skipped else "")
        )


# -- what is compared -------------------------------------------------------------------------


def own_code(notebook: nbformat.NotebookNode, assignment: Assignment) -> str:
    """A student's code: every code cell that is neither a test cell nor locked, in notebook
    order, each under a comment naming it (comments are not compared)."""
    return "\n".join(
        f"# ── {label} ──\n{source.rstrip()}\n"
        for label, source in student_cells(notebook, assignment)
    )


def starter_code(released: Path) -> str:
    """Every code cell of the released notebook: what students were given."""
    notebook = nbformat.read(released, as_version=4)
    return "\n\n".join(c.source for c in notebook.cells if c.cell_type == "code")


def graded_code(course: Course, assignment: Assignment) -> tuple[dict[str, str], list[str]]:
    """Each graded student's own code (at most ``COMPARED_CHARS``), and the submissions
    that could not be read or were compared only in part."""
    codes, skipped = {}, []
    submitted = course.root / "submitted"
    for folder in sorted(submitted.iterdir()) if submitted.is_dir() else []:
        student = folder.name
        path = course.submitted(student, assignment.name)
        if not path.is_file() or not course.result_file(student, assignment.name).is_file():
            continue
        try:
            notebook = read_submission(path.read_bytes(), Limits())
        except Unreadable as error:
            skipped.append(f"{quoted(student)}: {error}")
            continue
        code = own_code(notebook, assignment)
        if len(code) > COMPARED_CHARS:
            skipped.append(
                f"{quoted(student)}: only the first {COMPARED_CHARS} of its {len(code)} "
                "characters of own code compared"
            )
            code = code[:COMPARED_CHARS]
        codes[student] = code
    return codes, skipped


# -- comparing ---------------------------------------------------------------------------------

_held: list = []  # the fingerprints a comparing process holds


def _fingerprint(args: tuple[str, str, np.ndarray]):
    from copydetect import CodeFingerprint

    name, code, boilerplate = args
    window = GUARANTEE - NOISE + 1
    return CodeFingerprint(
        name, NOISE, window, boilerplate=boilerplate, fp=io.StringIO(code), language="python"
    )


def _hold(fingerprints: list) -> None:
    global _held
    _held = fingerprints


def _compare_rows(rows: list[int]) -> list[tuple[int, int, float, float]]:
    from copydetect import compare_files

    found = []
    for i in rows:
        for j in range(i + 1, len(_held)):
            _, (share_i, share_j), _ = compare_files(_held[i], _held[j])
            found.append((i, j, float(share_i), float(share_j)))
    return found


def _map(function, jobs: list, workers: int, hold: list | None = None) -> list:
    """``function`` over ``jobs``, in ``workers`` forked processes (here when 1). Forked, so
    that they share this process's string hash (fingerprints from different processes must
    be comparable) and import nothing again."""
    if workers == 1:
        if hold is not None:
            _hold(hold)
        return [function(job) for job in jobs]
    options = {"initializer": _hold, "initargs": (hold,)} if hold is not None else {}
    with ProcessPoolExecutor(workers, mp_context=get_context("fork"), **options) as pool:
        return list(pool.map(function, jobs, chunksize=max(1, len(jobs) // (4 * workers))))


def compare(
    codes: dict[str, str],
    starter: str,
    threshold: float = THRESHOLD,
    workers: int | None = None,
) -> Comparison:
    """Every pair of ``codes`` (student -> code) compared, ``starter`` as boilerplate, in
    ``workers`` processes (default: one per core, for classes of 100 and more)."""
    started = time.monotonic()
    students = sorted(codes)
    if workers is None:  # one process per core, each with PER_PROCESS submissions or more
        workers = min(os.cpu_count() or 1, len(students) // PER_PROCESS)
    workers = max(1, min(workers, len(students)))
    given = _fingerprint(("starter", starter, np.array([], dtype=np.int64)))
    boilerplate = np.unique(np.array(sorted(given.hashes), dtype=np.int64))
    fingerprints = _map(_fingerprint, [(s, codes[s], boilerplate) for s in students], workers)
    counts = Counter(h for f in fingerprints for h in f.hashes)
    least = max(COMMON_MIN, COMMON_SHARE * len(students))
    common = [h for h, n in counts.items() if n >= least]
    if common:
        boilerplate = np.unique(np.concatenate([boilerplate, np.array(common, dtype=np.int64)]))
        jobs = [(s, codes[s], boilerplate) for s in students]
        fingerprints = _map(_fingerprint, jobs, workers)
    rows = [list(range(k, len(students) - 1, workers)) for k in range(workers)]
    pairs = [
        Pair(students[i], students[j], share_i, share_j)
        for found in _map(_compare_rows, rows, workers, hold=fingerprints)
        for i, j, share_i, share_j in found
    ]
    pairs.sort(key=lambda p: (-p.score, p.student_a, p.student_b))
    return Comparison(
        students,
        pairs,
        threshold,
        common=len(common),
        seconds=time.monotonic() - started,
        fingerprints=dict(zip(students, fingerprints, strict=True)),
    )


# -- writing -----------------------------------------------------------------------------------


def _highlighted(pair: Pair, comparison: Comparison) -> tuple[Markup, Markup]:
    """The two students' code, HTML-escaped, matching regions in ``<mark>``."""
    from copydetect import compare_files
    from copydetect.utils import highlight_overlap

    a = comparison.fingerprints[pair.student_a]
    b = comparison.fingerprints[pair.student_b]
    _, _, (slices_a, slices_b) = compare_files(a, b)
    shown = []
    for fingerprint, slices in [(a, slices_a), (b, slices_b)]:
        if slices.size == 0:
            shown.append(Markup.escape(fingerprint.raw_code))
            continue
        html, _ = highlight_overlap(
            fingerprint.raw_code, slices, "<mark>", "</mark>", escape_html=True
        )
        shown.append(Markup(html))
    return shown[0], shown[1]


def _histogram(scores: list[float], threshold: float) -> str:
    figure, axes = plt.subplots(figsize=(6.5, 2.8), dpi=100)
    axes.hist(scores, bins=40, range=(0, 1), color="#3b6fb6", edgecolor="white")
    axes.axvline(threshold, color="#b33", linestyle="--", label=f"threshold {threshold:g}")
    counts, _ = np.histogram(scores, bins=40, range=(0, 1))
    if counts.size and counts.max() > 50:  # a large class: the rare high scores stay visible
        axes.set_yscale("symlog", linthresh=10)
    axes.set_xlabel("pair score (share of one student's code also in the other's)")
    axes.set_ylabel("pairs")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.legend(loc="upper right")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("autograder.grading", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
    )
    environment.filters["percent"] = lambda value: f"{100 * value:.0f}%"
    return environment


def csv_rows(comparison: Comparison) -> list[list[str]]:
    rows = [["student_a", "student_b", "score", "flagged"]]
    for pair in comparison.pairs:
        flagged = pair.score >= comparison.threshold
        rows.append([pair.student_a, pair.student_b, f"{pair.score:.3f}", str(flagged).lower()])
    return rows


def write(course: Course, assignment: Assignment, comparison: Comparison) -> list[Path]:
    flagged = comparison.flagged
    shown = [(pair, *_highlighted(pair, comparison)) for pair in flagged[:SHOWN]]
    page = (
        _environment()
        .get_template("similarity.html.j2")
        .render(
            assignment=assignment.name,
            comparison=comparison,
            flagged=flagged,
            listed=flagged[:LISTED],
            shown=shown,
            closest=[p for p in comparison.pairs if p.score < comparison.threshold][:10],
            histogram=_histogram([p.score for p in comparison.pairs], comparison.threshold),
            noise=NOISE,
            common_share=COMMON_SHARE,
            common_min=COMMON_MIN,
            written=datetime.now().strftime("%Y-%m-%d %H:%M"),
        )
    )
    html = course.root / "similarity.html"
    table = course.root / "similarity.csv"
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(csv_rows(comparison))
    write_atomically(table, buffer.getvalue().encode("utf-8"))
    write_atomically(html, page.encode("utf-8"))
    return [html, table]


def similarity(
    course: Course, assignment: Assignment, threshold: float = THRESHOLD, workers: int | None = None
) -> tuple[Comparison, list[Path]]:
    """Compare every graded submission of ``assignment`` and write the report and the CSV."""
    codes, skipped = graded_code(course, assignment)
    comparison = compare(
        codes, starter_code(course.released(assignment.name)), threshold, workers=workers
    )
    comparison.skipped = skipped
    return comparison, write(course, assignment, comparison)
