"""The instructor's course folder (default ``./course``, outside git) and its gradebook.

Layout, nbgrader's own so that ``nbgrader formgrader``, ``export`` and
``generate_feedback`` work on it::

    course/release/<a>/<a>.ipynb               generated here from solutions/ (the gradebook's copy)
    course/submitted/<student>/<a>/<a>.ipynb   collected submissions
    course/autograded/<student>/<a>/<a>.ipynb  graded notebooks, with our verdicts as outputs
    course/autograded/<student>/<a>/autograder.json   statuses, messages, fingerprint
    course/feedback/<student>/<a>/<a>.html     what each student gets back
    course/gradebook.db                        nbgrader's gradebook (or ``--db URL``)

Only the grading process writes the gradebook, one submission at a time, each in its own
transaction; the result file is written last, atomically, so an interrupted run leaves
every finished submission complete and the rest to grade again.
"""

import fcntl
import functools
import hashlib
import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry

from ..release.assignments import nbgrader_api
from ..release.sources import Sources, assignment_notebook
from .engine import Assignment, CellResult, Graded, Status
from .review import Finding
from .sandbox import Limits

RESULT_FILE = "autograder.json"
SECRET_FILE = ".autograder-secret"
SECRET_VARIABLE = "AUTOGRADER_SECRET"
PACKAGE = Path(__file__).resolve().parent.parent  # the autograder package
# What decides a verdict besides the notebook and the tests: the checks, and the code that
# runs and judges a submission.
GRADING_CODE = [
    "checks/*.py",
    "device.py",
    *(f"grading/{m}.py" for m in ("engine", "protocol", "sandbox", "supervisor", "wire")),
]


@functools.cache
def grading_code_digest() -> str:
    digest = hashlib.sha256()
    for pattern in GRADING_CODE:
        for path in sorted(PACKAGE.glob(pattern)):
            digest.update(path.relative_to(PACKAGE).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()


class CourseError(RuntimeError):
    """The course folder or gradebook cannot be used; the message says how to fix it."""


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, prefix=".tmp-") as file:
        file.write(data)
        temporary = Path(file.name)
    os.replace(temporary, path)


class Course:
    """The working folder ``root`` of the course whose notebooks are ``sources``; the
    gradebook is ``db_url``, else the one the course's config names, else
    ``root/gradebook.db``."""

    def __init__(self, root: Path, sources: Sources, db_url: str | None = None):
        self.root = Path(root).resolve()
        self.sources = sources
        self.db_url = db_url or sources.db_url or f"sqlite:///{self.root / 'gradebook.db'}"
        if self.root.exists() and not self.root.is_dir():
            raise CourseError(f"{self.root} is a file, not a course folder.")
        self.root.mkdir(parents=True, exist_ok=True)

    # -- places --------------------------------------------------------------------------
    def released(self, assignment: str) -> Path:
        return assignment_notebook(self.root / "release", assignment)

    def submitted(self, student: str, assignment: str) -> Path:
        return assignment_notebook(self.root / "submitted" / student, assignment)

    def autograded(self, student: str, assignment: str) -> Path:
        return assignment_notebook(self.root / "autograded" / student, assignment)

    def result_file(self, student: str, assignment: str) -> Path:
        return self.autograded(student, assignment).parent / RESULT_FILE

    def feedback(self, student: str, assignment: str) -> Path:
        return self.root / "feedback" / student / assignment / f"{assignment}.html"

    # -- set-up ----------------------------------------------------------------------------
    def lock(self):
        """An exclusive lock on the course folder for one grading run (released on close)."""
        handle = open(self.root / ".autograder.lock", "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise CourseError(
                f"another `autograder grade` is running on {self.root}; wait for it to finish."
            ) from None
        return handle

    def prepare(self, assignment: str) -> Assignment:
        """Make sure the gradebook knows ``assignment`` as it is in solutions/ now (nbgrader
        generate_assignment, only when the source changed) and load it."""
        source = self.sources.notebook(assignment)
        if not source.exists():
            raise CourseError(f"no assignment {assignment!r}: {source} does not exist.")
        stamp = self.root / "release" / assignment / ".source.sha256"
        digest = hashlib.sha256(source.read_bytes()).hexdigest()
        known = self._in_gradebook(assignment)  # first: a gradebook that cannot open says so
        current = known and stamp.exists() and stamp.read_text() == digest
        if not current:
            try:
                result = nbgrader_api(
                    self.sources, self.root / "release", self.db_url
                ).generate_assignment(assignment, force=True)
            except Exception as error:  # an unreachable database, a broken URL
                raise CourseError(f"cannot use the gradebook {self.db_url}: {error}") from None
            if not result["success"]:
                raise CourseError(f"nbgrader could not prepare {assignment}:\n{result.get('log')}")
            stamp.write_text(digest)
        return Assignment.load(self.db_url, assignment, self.released(assignment))

    def _in_gradebook(self, assignment: str) -> bool:
        try:
            with Gradebook(self.db_url) as gradebook:
                gradebook.find_notebook(assignment, assignment)
            return True
        except MissingEntry:
            return False
        except Exception as error:  # an unreachable database, a broken URL
            raise CourseError(f"cannot use the gradebook {self.db_url}: {error}") from None

    def secret(self) -> bytes:
        """The course secret that keys the hidden test cases (see
        ``autograder.checks._seeds``): ``$AUTOGRADER_SECRET``, else the course folder's
        secret file, made with 32 random bytes on first use. Keep it with the course; a new
        secret draws new hidden cases (and regrades everyone)."""
        if os.environ.get(SECRET_VARIABLE):
            return os.environ[SECRET_VARIABLE].encode()
        path = self.root / SECRET_FILE
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_bytes()
        with os.fdopen(descriptor, "wb") as file:
            file.write(os.urandom(32).hex().encode())
        return path.read_bytes()

    # -- results ---------------------------------------------------------------------------
    @staticmethod
    def fingerprint(data: bytes, assignment: Assignment, limits: Limits, secret: bytes) -> str:
        """Changes with whatever decides a grade: the submission, the assignment's test
        cells (hidden tests included), the limits, the grading code itself (the checks and
        the engine), so that a fixed check regrades everyone on the next run, and the course
        secret that keys the hidden cases."""
        digest = hashlib.sha256(data)
        for test in assignment.tests.values():
            digest.update(f"{test.grade_id}\0{test.points}\0{test.source}\0".encode())
        digest.update(f"{sorted(asdict(limits).items())}\0{grading_code_digest()}\0".encode())
        digest.update(hashlib.sha256(secret).digest())
        return digest.hexdigest()

    def is_current(self, student: str, assignment: str, fingerprint: str) -> bool:
        """Whether the recorded result is for this fingerprint and final (a result the
        grader's own failure caused is graded again)."""
        path = self.result_file(student, assignment)
        try:
            record = json.loads(path.read_text())
            return record["fingerprint"] == fingerprint and record.get("final", True) is True
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return False

    def save(self, graded: Graded, assignment: Assignment, fingerprint: str) -> None:
        """Record one graded submission: gradebook first, the result file last."""
        with Gradebook(self.db_url) as gradebook:
            gradebook.update_or_create_student(graded.student)
            try:
                gradebook.find_submission(assignment.name, graded.student)
            except MissingEntry:
                gradebook.add_submission(assignment.name, graded.student)
            grades = _grades(gradebook, assignment.name, graded.student)
            for cell in graded.cells:
                grade = grades[cell.grade_id]
                grade.auto_score = cell.points
                grade.needs_manual_grade = False
            gradebook.db.commit()
        if graded.notebook is not None:
            write_atomically(
                self.autograded(graded.student, assignment.name),
                nbformat.writes(graded.notebook).encode(),
            )
        record = {
            "fingerprint": fingerprint,
            "final": graded.final,
            "student": graded.student,
            "assignment": assignment.name,
            "problem": graded.problem,
            "seconds": round(graded.seconds, 3),
            "cells": [asdict(c) for c in graded.cells],
            "review": [asdict(f) for f in graded.review],
        }
        write_atomically(
            self.result_file(graded.student, assignment.name),
            json.dumps(record, indent=1, ensure_ascii=False).encode(),
        )

    def results(self, assignment: Assignment) -> dict[str, list[CellResult]]:
        """Every student's cells for ``assignment``: our statuses and messages, points from
        the gradebook (so a score changed in formgrader counts). Students in the gradebook
        without a graded submission get every cell ``missing``."""
        found: dict[str, list[CellResult]] = {}
        with Gradebook(self.db_url) as gradebook:
            students = sorted(s.id for s in gradebook.students)
            for student in students:
                cells = self._cells(gradebook, student, assignment)
                if cells is not None:
                    found[student] = cells
                else:
                    found[student] = assignment.all_cells(Status.MISSING, "no submission.")
        return found

    def reviews(self, assignment: Assignment) -> dict[str, list[Finding]]:
        """Each graded student's lines for review (students with none left out)."""
        found = {}
        for path in sorted((self.root / "autograded").glob(f"*/{assignment.name}/{RESULT_FILE}")):
            try:
                record = json.loads(path.read_text())
                findings = [Finding(**f) for f in record.get("review", [])]
            except (OSError, ValueError, TypeError):
                continue
            if findings:
                found[str(record.get("student", path.parent.parent.name))] = findings
        return found

    def _cells(self, gradebook: Gradebook, student: str, assignment: Assignment):
        try:
            record = json.loads(self.result_file(student, assignment.name).read_text())
        except (OSError, ValueError):
            return None
        cells = {c["grade_id"]: CellResult(**c) for c in record["cells"]}
        grades = _grades(gradebook, assignment.name, student)
        for cell in cells.values():
            if cell.grade_id in grades:
                cell.points = float(grades[cell.grade_id].score)
        return [cells[gid] for gid in assignment.tests if gid in cells]


def _grades(gradebook: Gradebook, assignment: str, student: str) -> dict:
    """The gradebook's grades of one student's submission by grade cell (none when it has
    no submission): one query, not one per cell."""
    try:
        notebook = gradebook.find_submission_notebook(assignment, assignment, student)
    except MissingEntry:
        return {}
    return {grade.name: grade for grade in notebook.grades}
