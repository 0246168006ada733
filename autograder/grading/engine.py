"""Grade one submission, as a pipeline of small steps:

1. :func:`read_submission` – the bytes become a notebook, or a clear reason they cannot;
2. :func:`plan` – which cells run in the sandbox and which are graded, with nbgrader's
   rules: locked cells and test cells come from the source (hidden tests included), and a
   test cell whose checksum changed, that was deleted, or whose ``grade_id`` appears twice
   is *tampered* and scores nothing;
3. :class:`Runner` – runs the student's cells in a sandbox, in order, and judges each
   test cell *here*, in the grader, against stand-ins for the student's objects (see
   ``autograder.checks._student``); a cell that times out or kills its process is
   recorded and the sandbox is restarted, the earlier cells replayed, so the rest of the
   notebook is still graded;
4. the autograded notebook: the submission with each cell's outputs and each test cell's
   verdict as nbgrader would record it: an error output scores 0, and the check's
   ``Score`` is the cell's ``execute_result``, whose number is the points (partial
   credit, read by the same rules as nbgrader's ``determine_grade``).
"""

import ast
import builtins
import dataclasses
import importlib
import io
import json
import sys
import threading
import time
import tokenize
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook
from nbgrader.utils import compute_checksum, determine_grade

from .. import checks
from ..checks._report import first_line
from ..checks._score import PartResult, Score
from ..checks._seeds import secret_cases
from ..device import using_device
from . import untrusted
from .protocol import Opaque, StudentError
from .review import Finding, scan
from .sandbox import (
    UNAVAILABLE,
    Limits,
    Sandbox,
    SandboxCrashed,
    SandboxGone,
    SandboxTimeout,
    Session,
)

MAX_RESTARTS = 3
OUTPUT_CELLS = 16  # a notebook's cells keep this many cells' output limits in all
RESULT_CHARS = 10_000  # of a cell's message (and each part's) recorded


class Status(str, Enum):  # noqa: UP042 (StrEnum needs Python 3.11; the package supports 3.10)
    """What happened to one graded cell."""

    PASSED = "passed"
    FAILED = "failed"  # a check failed: the message says why
    ERROR = "error"  # the cell could not be judged (the student's code raised or died)
    TIMEOUT = "timeout"  # past the cell's or the notebook's time limit
    TAMPERED = "tampered"  # the test cell was changed, deleted or duplicated
    MISSING = "missing"  # no submission

    def __str__(self) -> str:
        return self.value


@dataclass
class CellResult:
    """The verdict on one graded cell. ``message`` is written for the student; ``parts``
    (partial credit) are the check's parts, each passed or failed, when the cell has them."""

    grade_id: str
    points: float
    max_points: float
    status: Status
    message: str = ""
    parts: tuple[PartResult, ...] = ()

    def __post_init__(self) -> None:
        self.status = Status(self.status)
        self.parts = tuple(p if isinstance(p, PartResult) else PartResult(**p) for p in self.parts)


@dataclass
class Graded:
    """One student's graded submission. ``notebook`` is the autograded notebook (None
    when the file could not be read); ``problem`` a message about the whole file."""

    student: str
    cells: list[CellResult]
    notebook: nbformat.NotebookNode | None = None
    problem: str = ""
    seconds: float = 0.0
    final: bool = True  # False when the grader or its sandbox failed: graded again next run
    review: list[Finding] = field(default_factory=list)  # lines for the instructor to look at

    @property
    def score(self) -> float:
        return sum(c.points for c in self.cells)

    @property
    def max_score(self) -> float:
        return sum(c.max_points for c in self.cells)


@dataclass(frozen=True)
class TestCell:
    grade_id: str
    source: str  # with the hidden tests
    points: float
    checksum: str  # of the released cell, as students received it


@dataclass(frozen=True)
class Assignment:
    """What grading needs to know about an assignment, read from nbgrader's gradebook and
    the released notebook."""

    name: str
    tests: dict[str, TestCell]
    locked: dict[str, str] = field(default_factory=dict)  # grade_id -> source

    @classmethod
    def load(cls, db_url: str, name: str, released: Path) -> "Assignment":
        release = nbformat.read(released, as_version=4)
        # Read as a submission is (read_submission): a test cell a student left as released
        # has the same checksum whatever characters untrusted.text would change in it.
        untrusted.clean_data(release, MAX_NESTING)
        checksums = {
            cell.metadata["nbgrader"]["grade_id"]: compute_checksum(cell)
            for cell in release.cells
            if "grade_id" in cell.metadata.get("nbgrader", {})
        }
        with Gradebook(db_url) as gradebook:
            notebook = gradebook.find_notebook(name, name)
            points = {g.name: float(g.max_score) for g in notebook.grade_cells}
            sources = {c.name: (c.source, c.locked) for c in notebook.source_cells}
        order = [gid for gid in checksums if gid in points]
        tests = {
            gid: TestCell(gid, sources[gid][0], points[gid], checksums[gid])
            for gid in order
            if gid in sources
        }
        locked = {
            gid: source
            for gid, (source, is_locked) in sources.items()
            if is_locked and gid not in tests
        }
        return cls(name, tests, locked)

    @property
    def max_score(self) -> float:
        return sum(t.points for t in self.tests.values())

    def all_cells(self, status: Status, message: str) -> list[CellResult]:
        """Every graded cell with 0 points and the same status (an unreadable notebook)."""
        return [CellResult(t.grade_id, 0.0, t.points, status, message) for t in self.tests.values()]


class Unreadable(ValueError):
    """The submitted file is not a notebook we can grade; the message says why."""


MAX_NESTING = 64  # levels of JSON in a submitted notebook (a real one has about 8)


def read_submission(data: bytes, limits: Limits) -> nbformat.NotebookNode:
    """The submitted bytes as a notebook whose every string (sources, outputs, metadata,
    keys) is safe text (``untrusted.text``: valid Unicode, control characters shown
    visibly): what runs, what is recorded and what is shown is this one text. Test
    cells' checksums stay nbgrader's: the released cells are read the same way
    (``Assignment.load``)."""
    if not data.strip():
        raise Unreadable("the notebook file is empty.")
    if len(data) > limits.notebook_mb * 2**20:
        raise Unreadable(
            f"the notebook is larger than the {limits.notebook_mb} MB limit. Clear its "
            "outputs (Kernel → Restart & Clear Output), save, and submit again."
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Unreadable("the file is not UTF-8 text, so it is not a Jupyter notebook.") from None
    try:
        content = json.loads(text)
    except json.JSONDecodeError as error:
        raise Unreadable(
            f"the file is not valid notebook JSON ({error.msg}, line {error.lineno})."
        ) from None
    except RecursionError:
        raise Unreadable(_too_deep()) from None
    if not isinstance(content, dict) or "cells" not in content and "worksheets" not in content:
        raise Unreadable("the file is JSON but not a Jupyter notebook (it has no cells).")
    if content.get("nbformat") != 4:
        raise Unreadable(
            f"the notebook is in format {content.get('nbformat')!r}; open it in a current "
            "Jupyter, save it (format 4) and submit again."
        )
    try:
        untrusted.clean_data(content, MAX_NESTING)
    except untrusted.TooDeep:
        raise Unreadable(_too_deep()) from None
    try:
        notebook = nbformat.v4.to_notebook_json(content)  # the JSON is parsed once, above
        nbformat.validate(notebook)
    except Exception as error:  # nbformat's ValidationError and friends
        first = first_line(str(error)) or type(error).__name__
        raise Unreadable(f"the notebook is damaged: {first[:200]}") from None
    return notebook


def _too_deep() -> str:
    return (
        f"its JSON is nested more than {MAX_NESTING} levels deep (a Jupyter notebook has "
        "about 8): it was not saved by Jupyter."
    )


def grade_id_of(cell) -> str | None:
    """The cell's nbgrader ``grade_id``, or None (also when the student's metadata is not
    shaped as nbgrader's)."""
    metadata = cell.get("metadata")
    nbgrader = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    grade_id = nbgrader.get("grade_id") if isinstance(nbgrader, dict) else None
    return grade_id if isinstance(grade_id, str) else None


def _checksum(cell) -> str | None:
    """nbgrader's checksum of a submitted cell; None when its metadata cannot give one
    (points that are not a number: then it is not the cell as released)."""
    try:
        return compute_checksum(cell)
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
        return None


@dataclass
class Step:
    index: int  # the cell's position in the submission
    grade_id: str | None  # set for a test cell to judge
    source: str  # what runs (test cells: the source's, hidden tests included)


def plan(
    notebook: nbformat.NotebookNode, assignment: Assignment
) -> tuple[list[Step], dict[str, str]]:
    """The steps to run, in notebook order, and the tampered test cells with the reason."""
    seen: dict[str, int] = {}
    tampered: dict[str, str] = {}
    steps = []
    for index, cell in enumerate(notebook.cells):
        grade_id = grade_id_of(cell)
        if grade_id in assignment.tests:
            seen[grade_id] = seen.get(grade_id, 0) + 1
            if _checksum(cell) != assignment.tests[grade_id].checksum:
                tampered.setdefault(
                    grade_id,
                    "this test cell was changed (its code, type or metadata); test cells "
                    "must stay as released.",
                )
            steps.append(Step(index, grade_id, assignment.tests[grade_id].source))
        elif cell.cell_type == "code":
            steps.append(Step(index, None, assignment.locked.get(grade_id, cell.source)))
    for grade_id in assignment.tests:
        if seen.get(grade_id, 0) == 0:
            tampered[grade_id] = "this test cell was deleted from the notebook."
        elif seen[grade_id] > 1:
            tampered[grade_id] = (
                f"the test cell's id appears {seen[grade_id]} times; each test cell must "
                "appear once, as released."
            )
    return [s for s in steps if s.grade_id not in tampered], tampered


def student_cells(notebook: nbformat.NotebookNode, assignment: Assignment) -> list[tuple[str, str]]:
    """``(label, source)`` of each code cell the student wrote: solution cells by their
    grade_id, cells the student added as "cell N"; test and locked cells left out."""
    found = []
    for number, cell in enumerate(notebook.cells, 1):
        grade_id = grade_id_of(cell)
        if (
            cell.cell_type != "code"
            or grade_id in assignment.tests
            or grade_id in assignment.locked
        ):
            continue
        found.append((grade_id or f"cell {number}", cell.source))
    return found


class _ThreadStream(io.TextIOBase):
    """``sys.stdout`` or ``sys.stderr`` that a thread can point at its own buffer (checks
    print their success line and tables; several workers judge at once)."""

    def __init__(self, original):
        self.original, self.local = original, threading.local()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        buffer = getattr(self.local, "buffer", None)
        return (buffer or self.original).write(text)

    def flush(self) -> None:
        if getattr(self.local, "buffer", None) is None:
            self.original.flush()


_install_lock = threading.Lock()


@contextmanager
def _captured_output():
    """This thread's writes to ``sys.stdout`` and ``sys.stderr``, each into its own buffer."""
    with _install_lock:
        for stream in ("stdout", "stderr"):
            if not isinstance(getattr(sys, stream), _ThreadStream):
                setattr(sys, stream, _ThreadStream(getattr(sys, stream)))
    printed, warned = io.StringIO(), io.StringIO()
    sys.stdout.local.buffer, sys.stderr.local.buffer = printed, warned
    try:
        yield printed, warned
    finally:
        sys.stdout.local.buffer = sys.stderr.local.buffer = None


# Modules a test cell may get from the student's namespace (``import torch``, ``from torch
# import nn``): imported here, in the grader. Any other module name a student's object
# reports stays an opaque stand-in: the grader never imports what a student names.
IMPORTABLE = frozenset(
    {"math", "numpy", "torch", "torch.nn", "torch.nn.functional", "torch.linalg", "torch.fft"}
)


class StudentNamespace(dict):
    """The names a test cell reads: our ``checks``, Python's builtins, modules on the
    allow-list, and stand-ins for everything the student defined (looked up on first use)."""

    def __init__(self, session: Session):
        super().__init__(checks=checks)  # the grader's own checks, whatever the student's are
        self.session = session

    def __missing__(self, name: str):
        if hasattr(builtins, name):
            raise KeyError(name)
        kind, value = self.session.lookup(name)
        if kind == "module" and value in IMPORTABLE:
            value = importlib.import_module(value)
        elif kind == "module":
            value = Opaque("module", f"<module {value[:100]!r} (not importable by the grader)>")
        elif kind != "value":
            raise KeyError(name)
        self[name] = value
        return value


def _stream(text: str, name: str = "stdout") -> list:
    return [nbformat.v4.new_output("stream", name=name, text=text)] if text else []


def _quiet(source: str) -> bool:
    """Whether IPython shows no value for this cell: its last token is a semicolon
    (``DisplayHook.semicolon_at_end_of_expression``)."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return False
    skip = (tokenize.ENDMARKER, tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT)
    for token in reversed(tokens):
        if token.type not in skip:
            return token.type == tokenize.OP and token.string == ";"
    return False


def _run_test_cell(source: str, label: str, namespace: dict) -> object:
    """Run a test cell as IPython runs a cell: every statement, and the value of the last
    one when it is an expression (what IPython displays as the cell's ``execute_result``;
    None when there is nothing to display)."""
    tree = ast.parse(source, label)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr) and not _quiet(source):
        last = ast.Expression(tree.body.pop().value)
    scope = {"__builtins__": builtins, "checks": checks}
    exec(compile(tree, label, "exec"), scope, namespace)
    return None if last is None else eval(compile(last, label, "eval"), scope, namespace)


def _plain(value: object) -> str:
    """The ``text/plain`` IPython records for a test cell's value (its own formatter; a
    stand-in for a student's object has a repr of its own, made here)."""
    if isinstance(value, Score):  # a check's value: the bare number
        return repr(value)
    try:
        from IPython.core.formatters import PlainTextFormatter

        text = PlainTextFormatter()(value)
    except Exception:  # a value IPython cannot show either
        text = f"<{type(value).__name__} object>"
    return untrusted.text(text, 10_000)


def _execute_result(value: object, count: int | None) -> nbformat.NotebookNode | None:
    if value is None:
        return None
    data = {"text/plain": _plain(value)}
    if isinstance(value, Score):  # ours: what Jupyter shows under the cell
        data["text/html"] = value._repr_html_()
    return nbformat.v4.new_output("execute_result", data=data, execution_count=count)


def _nbgrader_points(outputs: list, test: "TestCell") -> float:
    """The points nbgrader's ``determine_grade`` gives a test cell with these outputs
    (ValueError: a value above the cell's points)."""
    metadata = {"grade": True, "solution": False, "grade_id": test.grade_id}
    cell = nbformat.v4.new_code_cell(metadata={"nbgrader": metadata | {"points": test.points}})
    cell.outputs = outputs
    points, _ = determine_grade(cell)
    return float(points)


def _parts(failure: BaseException) -> tuple[PartResult, ...]:
    """The parts a failed check reports with its exception, if it does."""
    parts = getattr(failure, "parts", None) or getattr(getattr(failure, "score", None), "parts", ())
    return tuple(p for p in parts or () if isinstance(p, PartResult))


def _error(ename: str, message: str, traceback: str = "") -> nbformat.NotebookNode:
    return nbformat.v4.new_output(
        "error", ename=ename, evalue=message, traceback=(traceback or message).splitlines()
    )


class Runner:
    """Grades submissions one after another with a sandbox of its own, booted ahead of
    need (and again after a submission killed it)."""

    def __init__(
        self,
        limits: Limits,
        device: str,
        hide: list[Path],
        secret: bytes = b"",
        log: Path | None = None,
    ):
        self.limits, self.device, self.hide, self.secret = limits, device, hide, secret
        self.log = log  # where the sandboxes' stderr goes (the batch's log)
        self.sandbox = self._new_sandbox()
        self.closed = False

    def _new_sandbox(self) -> Sandbox:
        return Sandbox(self.limits, self.device, self.hide, self.log)

    def close(self) -> None:
        self.closed = True
        self.sandbox.kill()

    def fresh_session(self, files: dict[str, bytes]) -> Session:
        """A child for one submission; a used sandbox that cannot give one (an earlier
        student stopped or broke it) is replaced by a new sandbox, which must."""
        if self.closed:
            raise SandboxCrashed("grading was stopped")
        if self.sandbox.alive:
            try:
                return self.sandbox.begin(files)
            except SandboxGone:
                if not self.sandbox.served or self.closed:
                    raise
        self.sandbox = self._new_sandbox()
        return self.sandbox.begin(files)

    def grade(self, student: str, data: bytes, assignment: Assignment) -> Graded:
        """Grade one notebook. Never raises for anything in the submission. What the
        student's input caused is the student's result (final): a notebook too deeply
        nested for the grader (``RecursionError``) says so. Only a failure of the grader's
        own code is ``the grader failed`` on every cell, not final (graded again)."""
        try:
            with using_device(self.device):  # the checks' references, on the sandboxes' device
                return self._grade(student, data, assignment)
        except SandboxGone:
            raise
        except RecursionError:  # nesting in the student's notebook or code, past our bounds
            message = (
                "Your notebook could not be graded: its code or data is nested too deeply "
                "for the grader to read. Simplify the deeply nested expression and submit again."
            )
            return Graded(student, assignment.all_cells(Status.ERROR, message), None, message)
        except Exception as error:  # a grader bug must not take the batch down
            what = untrusted.text(f"{type(error).__name__}: {error}", 300)
            message = f"the grader failed on this notebook ({what}); tell your instructor."
            return Graded(
                student, assignment.all_cells(Status.ERROR, message), None, message, final=False
            )

    def _grade(self, student: str, data: bytes, assignment: Assignment) -> Graded:
        started = time.monotonic()
        try:
            notebook = read_submission(data, self.limits)
        except Unreadable as problem:
            message = f"Your notebook could not be graded: {problem}"
            return Graded(student, assignment.all_cells(Status.ERROR, message), None, message)
        steps, tampered = plan(notebook, assignment)
        results = {
            gid: CellResult(gid, 0.0, assignment.tests[gid].points, Status.TAMPERED, reason)
            for gid, reason in tampered.items()
        }
        files = {f"{assignment.name}.ipynb": data}
        execution = Execution(self, student, files, steps, assignment, notebook)
        results |= execution.run()
        return Graded(
            student,
            [_bounded(results[gid]) for gid in assignment.tests],
            notebook,
            seconds=time.monotonic() - started,
            final=not execution.grader_failed,
            review=review(student_cells(notebook, assignment)),
        )


def _bounded(result: CellResult) -> CellResult:
    """``result`` with its message and its parts' cut to ``RESULT_CHARS``: a check's message
    may quote a student's value, and what is recorded for a cell (the gradebook's record, the
    CSVs, the pages) stays bounded whatever that value was."""
    if len(result.message) <= RESULT_CHARS and all(
        len(p.message) <= RESULT_CHARS for p in result.parts
    ):
        return result
    return dataclasses.replace(
        result,
        message=untrusted.text(result.message, RESULT_CHARS),
        parts=tuple(
            dataclasses.replace(p, message=untrusted.text(p.message, RESULT_CHARS))
            for p in result.parts
        ),
    )


UNSCANNED = (
    "this cell could not be scanned ({}): read it yourself; code the scan cannot read "
    "could hide anything"
)


def review(cells: list[tuple[str, str]]) -> list[Finding]:
    """``review.scan`` of the student's cells. The scan only lists lines to read (it never
    changes a score), so when it fails on a student's code (a syntax tree too deep to walk,
    anything else) that is listed too, for the cell it failed on, never a failure of the
    grading: the other cells are scanned alone."""
    try:
        return scan(cells)
    except Exception:  # whatever the scan met: find the cells it fails on
        pass
    findings: list[Finding] = []
    for label, source in cells:
        try:
            findings += scan([(label, source)])
        except Exception as error:  # listed as unscanned
            findings.append(Finding(label, 0, UNSCANNED.format(type(error).__name__), ""))
    return findings


UNAVAILABLE_HINT = (
    "that library is not available when grading: the exercises ask you to write the "
    "computation yourself with torch"
)


def _unavailable_module(message: str) -> bool:
    """Whether an import error names a library the sandbox leaves out on purpose."""
    return any(f"'{name}" in message for name in UNAVAILABLE)


GRADER_SCORE = (
    "the check gave {} points, more than this cell's {:g}: a bug in the grader, not in "
    "your code; tell your instructor."
)
STDERR_SCORES_ZERO = (
    "this test cell wrote to stderr ({}), and nbgrader gives a test cell that does so no "
    "points. A warning your code raises while it is checked is the likely cause."
)

GRADER_FAILED = (
    "not graded yet: the grader could not start a sandbox for this notebook (not your "
    "code's doing); it is graded again on the next run."
)


class Execution:
    """One submission's run through its steps, restarting the sandbox when it has to."""

    def __init__(self, runner, student, files, steps, assignment, notebook):
        self.runner, self.student, self.files, self.steps = runner, student, files, steps
        self.assignment, self.notebook = assignment, notebook
        self.limits = runner.limits
        self.results: dict[str, CellResult] = {}
        self.completed: list[str] = []  # sources that ran, to replay after a restart
        self.restarts = 0
        self.session: Session | None = None
        self.ends = float("inf")  # set once the child is up: waiting for it is not theirs
        self.started = False  # whether a child for the student's code ever started
        self.grader_failed = False  # a sandbox could not start: not the student's doing
        self.last_error = ""  # how the student's last failing cell stopped, for the message
        self.output_left = OUTPUT_CELLS * self.limits.output_kb * 1024  # more output kept

    def run(self) -> dict[str, CellResult]:
        """Run every step; the verdict on each test cell that was run (or abandoned)."""
        try:
            self._run_steps()
        finally:
            if self.session is not None:
                self.session.end()
        return self.results

    def _run_steps(self) -> None:
        for cell in self.notebook.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        try:
            self.session = self.runner.fresh_session(self.files)
        except SandboxGone:
            self.grader_failed = True
        else:
            self.started = True
            self.ends = time.monotonic() + self.limits.submission_seconds
        for number, step in enumerate(self.steps, 1):
            if self.session is None or self._out_of_time():
                self._abandon(step)
                continue
            cell = self.notebook.cells[step.index]
            cell.execution_count = number
            if step.grade_id is None:
                self._run(step, cell)
            else:
                cell.source = step.source
                self._judge(step, cell)

    def _deadline(self) -> float:
        return min(time.monotonic() + self.limits.timeout, self.ends)

    def _out_of_time(self) -> bool:
        return time.monotonic() >= self.ends

    def _run(self, step: Step, cell) -> None:
        self.session.deadline = self._deadline()
        try:
            reply = self.session.run_cell(step.source)
        except SandboxGone as gone:
            cell.outputs = [self._gone_output(gone)]
            timed_out = isinstance(gone, SandboxTimeout)
            self.last_error = "at its time limit" if timed_out else "when its process ended"
            self._restart()
            return
        output = reply["output"]
        if reply["truncated"]:
            output += f"\n[output cut off at {self.limits.output_kb} KB]\n"
        cell.outputs = _stream(self._kept(output))
        if reply["error"] is not None:
            error = reply["error"]
            traceback = self._kept(reply["traceback"])
            cell.outputs.append(_error(error.type_name, error.message, traceback))
            self.last_error = f"with {error.type_name}: {error.message}"[:300]
            if error.is_a("ImportError") and _unavailable_module(error.message):
                self.last_error += f" ({UNAVAILABLE_HINT})"
        self.completed.append(step.source)

    def _kept(self, text: str) -> str:
        """``text`` as far as the notebook's output budget goes: cells' outputs are kept up
        to ``OUTPUT_CELLS`` cells' worth in all, so that many cells printing their most
        cannot fill the grader's memory, the autograded notebook or the feedback page."""
        if len(text) <= self.output_left:
            self.output_left -= len(text)
            return text
        kept, self.output_left = text[: self.output_left], 0
        total = OUTPUT_CELLS * self.limits.output_kb
        return kept + f"\n[output not kept: this notebook's outputs passed {total} KB in all]\n"

    def _judge(self, step: Step, cell) -> None:
        """Run a test cell here and score it the way nbgrader's ``determine_grade`` scores
        the same outputs, so that ``nbgrader autograde`` would give the same points: an
        error, or anything on stderr, scores 0; otherwise the cell's value (a check's
        ``Score``, shown as its ``execute_result``) is the points when it is a number
        (negative: full points; above the cell's points: an error, the grader's own bug);
        no value or not a number: full points. PASSED only at full points."""
        test = self.assignment.tests[step.grade_id]
        self.session.deadline = self._deadline()
        namespace = StudentNamespace(self.session)
        status, message, gone, value, parts = None, "", None, None, ()
        keyed = (
            secret_cases(self.runner.secret, self.student, test.grade_id)
            if self.runner.secret
            else nullcontext()
        )
        with _captured_output() as (printed, warned), keyed:
            try:
                value = _run_test_cell(step.source, f"<test cell {test.grade_id}>", namespace)
            except checks.CheckFailed as failure:
                status, message, parts = Status.FAILED, str(failure), _parts(failure)
            except SandboxGone as error:
                gone = error
                status = Status.TIMEOUT if isinstance(error, SandboxTimeout) else Status.ERROR
                message = self._gone_message(error)
            except StudentError as error:
                status, message = Status.ERROR, f"your code raised {error}"
            except NameError as error:
                status, message = Status.ERROR, f"{error}: define it in your cell above this test."
                if self.last_error:
                    message += f" An earlier cell stopped {self.last_error}."
            except Exception as error:  # the test cell itself went wrong: say what happened
                status, message = Status.ERROR, f"{type(error).__name__}: {error}"
        cell.outputs = _stream(printed.getvalue()) + _stream(warned.getvalue(), "stderr")
        points = 0.0
        if status is None:  # the cell ran: its outputs decide, as in nbgrader
            result = _execute_result(value, cell.execution_count)
            cell.outputs += [result] if result is not None else []
            points, status, message, parts = self._score(test, cell.outputs, value)
        else:
            ename = "CheckFailed" if status is Status.FAILED else status.value.capitalize()
            cell.outputs.append(_error(ename, message))
        self.results[test.grade_id] = CellResult(
            test.grade_id, points, test.points, status, message, parts
        )
        if gone is not None:
            self._restart()

    @staticmethod
    def _score(test: TestCell, outputs: list, value: object) -> tuple:
        """``(points, status, message, parts)`` of a test cell that ran to its end."""
        parts = value.parts if isinstance(value, Score) else ()
        try:
            points = _nbgrader_points(outputs, test)
        except (ValueError, KeyError):
            said = _plain(value)
            return 0.0, Status.ERROR, GRADER_SCORE.format(said, test.points), parts
        warned = "".join(o.text for o in outputs if o.get("name") == "stderr")
        if warned:
            return 0.0, Status.ERROR, STDERR_SCORES_ZERO.format(first_line(warned)), parts
        if points >= test.points:
            return test.points, Status.PASSED, "", parts
        message = value.message if isinstance(value, Score) and value.message else ""
        return points, Status.FAILED, message or f"{points:g} of {test.points:g} points.", parts

    def _gone_message(self, gone: SandboxGone) -> str:
        if isinstance(gone, SandboxTimeout) and self._out_of_time():
            return self._budget_message()
        if isinstance(gone, SandboxTimeout):
            return (
                f"stopped after {self.limits.timeout:g} s, the time limit for one cell. "
                "Is there an infinite loop, or a much slower method than needed?"
            )
        return (
            "the Python process running your code stopped during this cell "
            f"({gone or 'it exited, crashed, or ran out of memory'}). Calls such as "
            "sys.exit(), os._exit() or os.kill() end it; so do out-of-memory errors."
        )

    def _gone_output(self, gone: SandboxGone):
        ename = "Timeout" if isinstance(gone, SandboxTimeout) else "ProcessDied"
        return _error(ename, self._gone_message(gone))

    def _budget_message(self) -> str:
        return (
            f"not graded: the whole notebook may run for {self.limits.submission_seconds:g} s "
            "(restarts included), and that time was used up before this cell."
        )

    def _restart(self) -> None:
        """A new sandbox with the cells that ran so far replayed, in the notebook's time
        budget; None after too many restarts, when the time is up, or when no sandbox
        starts (then the grader failed, not the student)."""
        self.session = None
        while self.restarts < MAX_RESTARTS and not self._out_of_time():
            self.restarts += 1
            try:
                session = self.runner.fresh_session(self.files)
            except SandboxGone:
                self.grader_failed = True
                return
            try:
                for source in self.completed:
                    session.deadline = self._deadline()
                    session.run_cell(source)
            except SandboxGone:
                continue
            self.session = session
            return

    def _abandon(self, step: Step) -> None:
        if step.grade_id is None:
            return
        test = self.assignment.tests[step.grade_id]
        if self.grader_failed:
            status, message = Status.ERROR, GRADER_FAILED
        elif self._out_of_time():
            status, message = Status.TIMEOUT, self._budget_message()
        else:
            status = Status.ERROR
            message = (
                "not graded: your notebook stopped the Python process running it "
                f"{MAX_RESTARTS + 1} times (see the cells above for what happened each time)."
            )
        self.results[test.grade_id] = CellResult(test.grade_id, 0.0, test.points, status, message)
