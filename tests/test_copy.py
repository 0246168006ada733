"""The copy test (issue 23): nothing the book prints earns a point. Every function (and
class) the book's pages define, whatever its name, is pasted in place of each graded
function whose signature it fits, with what it needs from its page (the page's imports and
its other definitions, as a student copying it would take them), and the test cell runs
with its hidden cases: none may earn more than a blank answer (the released stub) does."""

import ast
import contextlib
import functools
import inspect
import io
import re
import signal
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import pytest
from notebooks import REPO, graded_cell_code, reference_code, source_notebook
from test_notation import CODE_CELL, MAGIC, OPTIONS

from autograder.checks import _cases
from autograder.grading import engine
from autograder.release.reference import without_markers

plt.switch_backend("Agg")  # the book's drawing functions, pasted, draw nowhere
pytestmark = pytest.mark.slow

ASSIGNMENTS = ["nn-review", "conv-layers"]
SECONDS = 10  # a pasted function still running after this earns nothing (references: under 3 s)
STUB = "    raise NotImplementedError()\n"


@dataclass(frozen=True)
class BookDefinition:
    page: str
    name: str
    context: str  # the page's imports and definitions, this one included


def book_definitions(book: Path = REPO / "book") -> list[BookDefinition]:
    """Every top-level function and class in the code cells of ``book``'s pages."""
    found = []
    for page in sorted(book.glob("*.md")):
        imports, definitions = [], []
        for cell in CODE_CELL.finditer(page.read_text()):
            try:
                tree = ast.parse(MAGIC.sub("", OPTIONS.sub("", cell.group(1))))
            except SyntaxError:
                continue
            for node in tree.body:
                if isinstance(node, ast.Import | ast.ImportFrom):
                    imports.append(ast.unparse(node))
                elif isinstance(node, ast.FunctionDef | ast.ClassDef):
                    definitions.append(node)
        context = "\n".join(imports + [ast.unparse(d) for d in definitions])
        found += [BookDefinition(page.stem, d.name, context) for d in definitions]
    return found


@dataclass(frozen=True)
class Graded:
    assignment: str
    name: str  # the function or class the notebook asks for
    test: str  # its test cell's grade_id
    source: str  # the test cell, hidden tests included
    points: float


def graded_functions(assignment: str) -> list[Graded]:
    """Each graded function or class with its test cell (the one that calls it)."""
    tests = graded_cell_code(assignment)
    points = {
        c.metadata.nbgrader["grade_id"]: float(c.metadata.nbgrader["points"])
        for c in source_notebook(assignment).cells
        if c.metadata.get("nbgrader", {}).get("grade")
    }
    found = []
    for code in reference_code(assignment).values():
        for node in ast.parse(code).body:
            if isinstance(node, ast.FunctionDef | ast.ClassDef):
                [(test, source)] = [
                    (gid, s) for gid, s in tests.items() if re.search(rf"\({node.name}\b", s)
                ]
                found.append(Graded(assignment, node.name, test, source, points[test]))
    return found


def _required(target) -> int:
    """How many arguments a call must pass (positional, no default), and the signature."""
    signature = inspect.signature(target.__init__ if inspect.isclass(target) else target)
    parameters = list(signature.parameters.values())
    if inspect.isclass(target):
        parameters = parameters[1:]  # self
    return sum(
        p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        for p in parameters
    )


def fits(book_object, graded_object) -> bool:
    """Whether ``book_object`` can be called as the checks call ``graded_object``: with
    the graded function's required arguments, by position (classes only for classes)."""
    if inspect.isclass(book_object) != inspect.isclass(graded_object):
        return False
    try:
        init = book_object.__init__ if inspect.isclass(book_object) else book_object
        bound = inspect.signature(init)
        count = _required(graded_object) + inspect.isclass(book_object)
        bound.bind(*range(count))
    except (TypeError, ValueError):
        return False
    return True


def setup_namespace(assignment: str) -> dict:
    """The notebook's setup cell run, as a student's kernel has it."""
    namespace: dict = {}
    setup = next(
        c.source
        for c in source_notebook(assignment).cells
        if c.metadata.get("nbgrader", {}).get("grade_id") == "setup"
    )
    with contextlib.redirect_stdout(io.StringIO()):
        exec(without_markers(setup), namespace)
    return namespace


class TookTooLong(BaseException):
    """Past ``SECONDS`` (a BaseException: the checks report a student's Exception, and
    this must end the whole test cell)."""


def _alarm(signum, frame):
    raise TookTooLong


def points(graded: Graded, namespace: dict) -> float:
    """The test cell's points (hidden cases included) with ``namespace`` as the student's,
    read as nbgrader reads them; 0 for any error, or past ``SECONDS``."""
    test = engine.TestCell(graded.test, graded.source, graded.points, "")
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(SECONDS)
    try:
        with (
            contextlib.redirect_stdout(io.StringIO()),
            contextlib.redirect_stderr(io.StringIO()),
            warnings.catch_warnings(),
        ):
            warnings.simplefilter("ignore")
            value = engine._run_test_cell(graded.source, graded.test, namespace)
        result = engine._execute_result(value, 1)
        return engine._nbgrader_points([result] if result is not None else [], test)
    except (Exception, TookTooLong):
        return 0.0
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        plt.close("all")


@functools.cache
def blank(graded: Graded) -> float:
    """What the released stub earns."""
    namespace = setup_namespace(graded.assignment)
    kind = "class" if graded.name[0].isupper() else "def"
    stub = f"{kind} {graded.name}(*args, **kwargs):\n{STUB}"
    if kind == "class":
        stub = f"class {graded.name}(nn.Module):\n    def __init__(self, *a, **k):\n    {STUB}"
    exec(stub, namespace)
    return points(graded, namespace)


def pasted(graded: Graded, definition: BookDefinition) -> float | None:
    """What ``definition`` earns pasted in place of ``graded``; None when it does not fit."""
    namespace = setup_namespace(graded.assignment)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exec(definition.context, namespace)
    except Exception:  # its page's definitions do not even run outside the page
        return 0.0
    reference = setup_namespace(graded.assignment)
    exec(without_markers(_reference_source(graded)), reference)
    if not fits(namespace[definition.name], reference[graded.name]):
        return None
    namespace[graded.name] = namespace[definition.name]
    return points(graded, namespace)


def _reference_source(graded: Graded) -> str:
    return next(
        code
        for code in reference_code(graded.assignment).values()
        if re.search(rf"^(def|class) {graded.name}\b", code, re.MULTILINE)
    )


def copy_scores(book: Path = REPO / "book") -> list[tuple[Graded, BookDefinition, float]]:
    """Every fitting (graded function, book definition) pair and what it earns. The checks'
    diagnosis of a wrong answer (experiments, replays: most of a failing check's time) is
    skipped: a part passes or fails on its cases alone, before anything is explained."""
    definitions = book_definitions(book)
    found = []
    with pytest.MonkeyPatch.context() as undiagnosed:
        undiagnosed.setattr(_cases, "explain_case", lambda *args: None)
        for assignment in ASSIGNMENTS:
            for graded in graded_functions(assignment):
                for definition in definitions:
                    earned = pasted(graded, definition)
                    if earned is not None:
                        found.append((graded, definition, earned))
    return found


def test_the_book_defines_functions_to_paste():
    names = {d.name for d in book_definitions()}
    assert len(names) >= 10
    graded = [g.name for a in ASSIGNMENTS for g in graded_functions(a)]
    assert len(graded) == 15 and len(set(graded)) == 15


def test_a_pasted_reference_earns_every_point_in_good_time_and_a_blank_none():
    """The test's own machinery: each of the notebook's references, pasted like a book
    function (with the other references as its context), gets every point within
    ``SECONDS`` (references take 0.1 to 3 s; a loaded machine may take a few times that);
    the stub gets none."""
    for assignment in ASSIGNMENTS:
        context = "\n".join(without_markers(c) for c in reference_code(assignment).values())
        for graded in graded_functions(assignment):
            blank(graded)  # the first call of a check also imports and warms up
            started = time.perf_counter()
            earned = pasted(graded, BookDefinition("reference", graded.name, context))
            assert earned == graded.points, graded.name
            assert time.perf_counter() - started < SECONDS, graded.name  # not cut off
            assert blank(graded) == 0.0, graded.name


def test_no_function_the_book_prints_earns_a_point():
    earned = [
        (g.assignment, g.name, f"{d.page}: {d.name}", points)
        for g, d, points in copy_scores()
        if points > blank(g)
    ]
    assert earned == []
