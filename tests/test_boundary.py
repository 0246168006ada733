"""The sandbox boundary (issue 21, principles 1, 2 and 5), without a sandbox.

Everything a reply from student code holds, and everything a submitted notebook holds, is
made safe once where it enters the grader (``grading.untrusted``); after that no step of
recording and reporting may fail, hang or pass a control character on it. A fake sandbox
answers the grader's requests with whatever Hypothesis draws (lone surrogates, terminal
control sequences, bidirectional overrides, huge and deeply nested values, malformed
replies), the real engine grades with the real checks, and every file written from the
result is read back as bytes: the gradebook's record, ``autograded/``, ``grades.csv`` and
``cells.csv``, the feedback page, ``report.html``, the similarity report and the LMS
exports. Each step is also timed on adversarial input at two sizes: linear, not worse.
"""

import csv
import dataclasses
import io
import json
import re
import time
from pathlib import Path

import nbformat
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from notebooks import SOURCES, submission

from autograder.grading import engine, export, lms, protocol, report, similarity, untrusted
from autograder.grading.course import Course
from autograder.grading.engine import Runner, Status
from autograder.grading.sandbox import Limits, Session

A = "nn-review"
LIMITS = Limits(timeout=20)
# What no written byte may be: C0 controls but tab and newline, DEL, C1 controls; and the
# format characters that reorder or hide text.
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")
NASTY = (
    "\x00\x07\x08\x0b\x0c\r\x1b\x7f\x85\x9b\u200b\u200f\u202e\u2066\u2028\u2029\ufeff"
    "\ud800\udbff\udc00\udfff"
)
ESCAPES = ["\x1b]52;c;ZWNobyBwd25lZA==\x07", "\x1b]0;title\x07", "\x1b[2J\x1b[H", "\x1b[8m"]
# No deadline (a loaded machine), no health checks (huge strings are slow to draw, on
# purpose), nothing remembered between runs: the same bounded work every time.
BOUNDED = {"deadline": None, "database": None, "suppress_health_check": list(HealthCheck)}
EXAMPLES = settings(max_examples=8, **BOUNDED)  # one example grades a whole notebook


# -- what student code may send --------------------------------------------------------------

anything = st.characters(exclude_categories=())  # surrogates, controls, unassigned: all
texts = st.one_of(
    st.text(anything, max_size=40),
    st.text(st.sampled_from(NASTY + "a<&>'\"*_[`\n\t"), max_size=40),
    st.sampled_from(ESCAPES),
    st.builds(  # huge: up to a megabyte of nasty characters
        lambda unit, n: unit * n,
        st.text(st.sampled_from(NASTY + "x"), min_size=1, max_size=4),
        st.integers(1, 100_000),
    ),
    st.builds(lambda n: "### BEGIN HIDDEN TESTS\n" * n, st.integers(1, 5_000)),
)
remote = st.fixed_dictionaries(
    {
        "__remote__": st.one_of(st.integers(0, 3), texts, st.none()),
        "name": texts,
        "type": texts,
        "callable": st.booleans(),
        "parameters": st.one_of(
            st.none(),
            st.just([("x", 1, False)]),
            st.lists(st.tuples(texts, st.integers(-2, 6), st.booleans()), max_size=3),
            texts,
        ),
    }
)
opaque = st.fixed_dictionaries({"__opaque__": texts, "repr": texts})
values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), texts, remote, opaque),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(texts, inner, max_size=3),
    ),
    max_leaves=12,
)
errors = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {"type_name": texts, "bases": st.lists(texts, max_size=3), "message": texts}
    ),
    st.fixed_dictionaries({"type_name": texts, "bases": values, "message": values}),
    values,
)
REPLIES = {
    "exec": st.fixed_dictionaries(
        {"output": texts, "truncated": st.booleans(), "error": errors, "traceback": texts}
    ),
    "lookup": st.one_of(
        st.fixed_dictionaries({"kind": st.just("value"), "value": remote}),
        st.fixed_dictionaries({"kind": st.just("value"), "value": values}),
        st.fixed_dictionaries({"kind": st.just("module"), "module": texts}),
        st.fixed_dictionaries({"kind": texts}),
    ),
    "invoke": st.fixed_dictionaries(
        {
            "value": values,
            "error": errors,
            "forbidden": st.one_of(st.lists(texts, max_size=3), values),
            "op_count": st.one_of(st.integers(), values),
            "call_count": st.one_of(st.integers(), values),
            "args_after": values,
        }
    ),
}


class FakeChannel:
    """A child that answers each request with whatever ``draw`` gives."""

    def __init__(self, draw):
        self.draw, self.requests = draw, []

    def send(self, message):
        self.requests.append(message["op"])

    def receive(self, deadline):
        return self.draw(REPLIES[self.requests[-1]])

    class sock:  # noqa: N801 (what Session.end writes to)
        @staticmethod
        def sendall(data):
            pass

    def close(self):
        pass


class FakeSandbox:
    alive, served = True, 0

    def __init__(self, draw, limits):
        self.draw, self.limits = draw, limits

    def begin(self, files):
        self.served += 1
        return Session(self, FakeChannel(self.draw))

    def kill(self):
        pass


class FakeRunner(Runner):
    """The real engine and checks; the student's side is whatever ``draw`` gives."""

    def __init__(self, draw):
        self.draw = draw
        super().__init__(LIMITS, "cpu", [], secret=b"course secret")

    def _new_sandbox(self):
        return FakeSandbox(self.draw, self.limits)


# -- what is written -------------------------------------------------------------------------


def assert_safe_text(value: str, where: str) -> None:
    value.encode("utf-8")  # valid Unicode: no lone surrogates
    found = UNSAFE.search(value)
    assert found is None, f"{where}: {found.group()!r} at {found.start()}"


def assert_safe_strings(value, where: str) -> None:
    """Every string in JSON-like ``value`` (keys too) is safe text."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            assert_safe_text(item, where)
        elif isinstance(item, dict):
            stack += [*item.keys(), *item.values()]
        elif isinstance(item, list | tuple):
            stack += list(item)


def assert_safe_file(path: Path) -> None:
    data = path.read_bytes()
    text = data.decode("utf-8")  # strict: valid UTF-8
    assert_safe_text(text, str(path))
    assert b"\x1b" not in data
    if path.suffix in (".json", ".ipynb"):
        assert_safe_strings(json.loads(text), str(path))
    if path.suffix == ".csv":
        for row in csv.reader(io.StringIO(text.removeprefix("\ufeff"))):
            for value in row:
                assert not _formula(value), (path, value)


def _formula(value: str) -> bool:
    """Whether a spreadsheet would read a CSV cell as a formula (numbers are numbers)."""
    if not value.startswith(export.FORMULA):
        return False
    try:
        float(value)
        return False
    except ValueError:
        return True


def assert_safe_graded(graded: engine.Graded) -> None:
    assert graded.final, graded.problem  # whatever the student sent, not the grader's failure
    assert_safe_text(graded.problem, "problem")
    for cell in graded.cells:
        assert_safe_text(cell.message, cell.grade_id)
    for finding in graded.review:
        assert_safe_strings(dataclasses.asdict(finding), "review")
    if graded.notebook is not None:
        assert_safe_strings(graded.notebook, "notebook")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    course = Course(tmp_path_factory.mktemp("boundary") / "course", SOURCES)
    return course, course.prepare(A)


def record_and_report(course: Course, assignment, graded: engine.Graded, data: bytes):
    """Every step after grading, as the batch and the CLI run them; the files written."""
    written = []
    for student in (graded.student, f"{graded.student}-twin"):  # a pair for similarity
        result = dataclasses.replace(graded, student=student)
        course.submitted(student, assignment.name).parent.mkdir(parents=True, exist_ok=True)
        course.submitted(student, assignment.name).write_bytes(data)
        course.save(result, assignment, "fingerprint")
        written.append(report.write_feedback(course, assignment, result))
        written.append(course.result_file(student, assignment.name))
        if result.notebook is not None:
            written.append(course.autograded(student, assignment.name))
    results = course.results(assignment)
    written += export.write(course, assignment, results)
    written.append(report.write_report(course, assignment, results))
    _, paths = similarity.similarity(course, assignment, threshold=0.01, workers=1)
    written += paths
    for platform in lms.PLATFORMS:
        path, match = lms.export(course, assignment.name, platform, output=None)
        written.append(path)
        for line in match.lines():
            assert_safe_text(line, "lms")
    return written


# -- principle 1: the sanitiser itself -------------------------------------------------------


@settings(max_examples=150, **BOUNDED)
@given(st.one_of(texts, st.text(anything)), st.one_of(st.none(), st.integers(0, 5_000)))
def test_safe_text_is_valid_visible_bounded_and_stable(value, limit):
    safe = untrusted.text(value, limit)
    assert_safe_text(safe, "text")
    assert untrusted.text(safe) == safe  # made safe once: doing it again changes nothing
    if limit is not None:
        assert len(safe) <= 8 * limit + len(untrusted.CUT.format(len(value)))
    if "\x1b" in value[: limit if limit is not None else None]:
        assert "\u241b" in safe  # shown, not dropped: the instructor sees that it was there
    name = untrusted.name(value)
    assert_safe_text(name, "name") and "\n" not in name


@settings(max_examples=50, **BOUNDED)
@given(
    st.recursive(
        st.one_of(st.none(), st.integers(), texts),
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(texts, inner, max_size=3)
        ),
        max_leaves=30,
    )
)
def test_clean_data_makes_every_string_and_key_safe_in_place(value):
    container = {"v": value}
    untrusted.clean_data(container, 64)
    assert_safe_strings(container, "data")


def test_clean_data_refuses_deep_nesting_without_recursing():
    deep: list = []
    for _ in range(200_000):  # far past the interpreter's recursion limit
        deep = [deep]
    with pytest.raises(untrusted.TooDeep):
        untrusted.clean_data(deep, 64)
    shallow = [[["\x1b"]]]
    untrusted.clean_data(shallow, 3)
    assert shallow == [[["\u241b"]]]


@settings(max_examples=100, **BOUNDED)
@given(errors)
def test_an_exception_reported_by_the_sandbox_is_safe_whatever_it_holds(error):
    raised = protocol.raised(error)
    if error is not None:
        assert_safe_text(raised.type_name, "type")
        assert_safe_text(raised.message, "message")
        assert_safe_text(str(raised), "str")
        for base in raised.bases:
            assert_safe_text(base, "base")


@settings(max_examples=100, **BOUNDED)
@given(values)
def test_a_value_from_the_sandbox_holds_only_safe_strings(value):
    found = protocol.unwire(None, value)
    stack = [found]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            assert_safe_text(item, "value")
        elif isinstance(item, dict):
            stack += [*item.keys(), *item.values()]
        elif isinstance(item, list | tuple):
            stack += list(item)
        elif isinstance(item, protocol.Opaque):
            assert_safe_text(item.type_name, "opaque") and assert_safe_text(repr(item), "repr")
        elif isinstance(item, protocol.Remote):
            assert_safe_text(item.__name__, "name") and assert_safe_text(repr(item), "repr")


# -- principle 1: every path from a reply to the files ---------------------------------------


@EXAMPLES
@given(st.data())
def test_whatever_the_sandbox_answers_every_file_written_is_safe(prepared, data):
    course, assignment = prepared
    notebook = nbformat.writes(submission(A)).encode()
    graded = FakeRunner(data.draw).grade("hostile", notebook, assignment)
    assert_safe_graded(graded)
    for path in record_and_report(course, assignment, graded, notebook):
        assert_safe_file(path)


def _hostile_notebook(draw) -> bytes:
    """The reference submission with nasty text wherever a student can put it."""
    notebook = json.loads(nbformat.writes(submission(A)))
    cells = notebook["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    tests = [c for c in code if c["metadata"].get("nbgrader", {}).get("grade")]
    solution = next(c for c in code if c["metadata"].get("nbgrader", {}).get("solution"))
    solution["source"] += "\n# " + draw(texts)
    solution["metadata"]["student"] = draw(values.filter(lambda v: not isinstance(v, tuple)))
    cells.append({"cell_type": "markdown", "metadata": {}, "source": draw(texts)})
    cells.append(
        {"cell_type": "raw", "metadata": {draw(texts): draw(texts)}, "source": draw(texts)}
    )
    extra = {"cell_type": "code", "metadata": {}, "execution_count": None, "source": draw(texts)}
    extra["outputs"] = [{"output_type": "stream", "name": "stdout", "text": draw(texts)}]
    cells.append(extra)
    tampered = draw(st.sampled_from(tests))
    choice = draw(st.integers(0, 3))
    if choice == 0:
        tampered["source"] += draw(texts)
    elif choice == 1:
        tampered["metadata"]["nbgrader"]["points"] = draw(st.one_of(texts, st.just([1])))
    elif choice == 2:
        tampered["metadata"]["nbgrader"] = draw(texts)
    notebook["metadata"][draw(texts)] = draw(texts)
    # JSON escapes (\ud800 and friends) carry what UTF-8 cannot; keys are nasty too
    return json.dumps(notebook, ensure_ascii=True).encode()


@EXAMPLES
@given(st.data())
def test_whatever_a_submitted_notebook_holds_every_file_written_is_safe(prepared, data):
    course, assignment = prepared
    notebook = _hostile_notebook(data.draw)
    ran = {"output": "", "truncated": False, "error": None, "traceback": ""}
    runner = FakeRunner(lambda asked: ran if asked is REPLIES["exec"] else data.draw(asked))
    graded = runner.grade("hostile", notebook, assignment)
    assert_safe_graded(graded)
    assert graded.notebook is not None
    for path in record_and_report(course, assignment, graded, notebook):
        assert_safe_file(path)


def test_a_test_cell_left_as_released_is_not_tampered_whatever_it_holds(tmp_path, prepared):
    """Checksums stay nbgrader's: the released cells are read as submissions are, so a
    test cell holding characters the reading changes still matches."""
    _, assignment = prepared
    released = nbformat.read(SOURCES.released(A), as_version=4)
    test = next(c for c in released.cells if c.metadata.get("nbgrader", {}).get("grade"))
    test.source += "\n# \u202eodd\u200b \x1b[2J\r\n"
    path = tmp_path / f"{A}.ipynb"
    nbformat.write(released, path)
    loaded = engine.Assignment.load(prepared[0].db_url, A, path)
    notebook = engine.read_submission(path.read_bytes(), LIMITS)
    _, tampered = engine.plan(notebook, loaded)
    assert tampered == {}


@pytest.mark.parametrize("depth", [65, 5_000, 100_000])
def test_a_notebook_nested_too_deep_is_the_students_final_result(prepared, depth):
    _, assignment = prepared
    notebook = json.loads(nbformat.writes(submission(A)))
    notebook["metadata"]["deep"] = "PLACEHOLDER"
    data = json.dumps(notebook).replace('"PLACEHOLDER"', "[" * depth + "]" * depth).encode()
    graded = FakeRunner(lambda strategy: pytest.fail("nothing runs")).grade(
        "deep", data, assignment
    )
    assert graded.final and graded.notebook is None
    assert "nested" in graded.problem and all(c.status == Status.ERROR for c in graded.cells)


# -- principle 5: the review scan failing on student code is the student's finding ------------

DEEP_CODE = {  # each parses in Python's parser, and is too deep for the tree or the compiler
    "sum": "x = " + "1+" * 20_000 + "1\n",
    "unary": "x = " + "-" * 20_000 + "1\n",
    "attributes": "x = a" + ".b" * 20_000 + "\n",
    "calls": "x = f" + "()" * 20_000 + "\n",
}


@pytest.mark.parametrize("kind", sorted(DEEP_CODE))
def test_code_too_deep_to_scan_is_listed_for_review_and_the_result_is_final(prepared, kind):
    _, assignment = prepared
    notebook = submission(A, {"sigmoid": DEEP_CODE[kind] + "import os\n"})
    answer = {"output": "", "truncated": False, "error": None, "traceback": ""}
    fake = FakeRunner(lambda asked: answer if asked is REPLIES["exec"] else {"kind": "undefined"})
    graded = fake.grade("deep", nbformat.writes(notebook).encode(), assignment)
    assert graded.final, graded.problem
    unscanned = [f for f in graded.review if f.cell == "sigmoid"]
    assert unscanned and "could not be scanned" in unscanned[0].reason, graded.review
    assert all(c.status != Status.ERROR or "grader failed" not in c.message for c in graded.cells)


def test_a_scan_that_fails_on_a_cell_lists_that_cell_and_scans_the_others(monkeypatch):
    """Whatever the scan (review.py) raises on a student's cell, the grading goes on: the
    cell is listed as not scanned, the other cells are scanned alone."""
    real = engine.scan

    def fragile(cells):
        if any("deep" in source for _, source in cells):
            raise RecursionError("maximum recursion depth exceeded")
        return real(cells)

    monkeypatch.setattr(engine, "scan", fragile)
    found = engine.review([("a", "import os\n"), ("b", "deep = 1\n"), ("c", "import ctypes\n")])
    assert [f.cell for f in found if "could not be scanned" in f.reason] == ["b"]
    assert {"a", "c"} <= {f.cell for f in found}


def test_no_csv_cell_of_ours_is_a_formula():
    rows = [["=HYPERLINK(1)", "+1 x", "-2", "@SUM(A1)", "\tx", "-1.5e3", "ok"]]
    written = export._csv(rows).decode().strip().split(",")
    assert written == ["'=HYPERLINK(1)", "'+1 x", "-2", "'@SUM(A1)", "'\tx", "-1.5e3", "ok"]


def test_names_from_a_zip_reach_messages_only_quoted_and_visible(tmp_path):
    import zipfile

    from autograder.grading.collect import collect

    archive = tmp_path / "odd.zip"
    names = [f"{escape}_1_2_x.ipynb" for escape in ESCAPES]
    names += ["../\x1b[2J_3_4_x.ipynb", "a\u202eb/nn-review/nn-review.ipynb", "\x07/x.ipynb"]
    with zipfile.ZipFile(archive, "w") as z:
        for name in names:
            z.writestr(name, b"{}")
    found = collect(archive, A, 2**20)
    assert len(found.problems) >= 3
    for problem in found.problems:
        assert_safe_text(problem, "problem")


def test_a_feedback_page_that_cannot_be_made_in_time_says_so(prepared, monkeypatch):
    course, assignment = prepared
    graded = _graded(_adversarial_notebook(50_000), student="slow")
    monkeypatch.setattr(report, "FEEDBACK_SECONDS", 0.0)
    page = report.write_feedback(course, assignment, graded).read_text()
    assert "more cell(s) of your notebook are not shown" in page

    def broken(graded, deadline):
        raise RecursionError("too deep")

    monkeypatch.setattr(report, "_notebook_cells", broken)
    page = report.write_feedback(course, assignment, graded).read_text()
    assert "could not be shown on this page (RecursionError)" in page
    assert "test_sigmoid" in page  # the verdicts, still


# -- principle 2: linear, bounded -------------------------------------------------------------


def test_hidden_tests_are_hidden_in_linear_time():
    cell = "x = 1\n### BEGIN HIDDEN TESTS\nsecret = 1\n### END HIDDEN TESTS\ny = 2"
    assert report.hide_hidden_tests(cell) == "x = 1\n# (hidden tests)\ny = 2"
    assert "secret" not in report.hide_hidden_tests("### BEGIN HIDDEN TESTS\nsecret\n")
    assert report.hide_hidden_tests(
        "  ### BEGIN HIDDEN TESTS x\ns\n  ### END HIDDEN TESTS  \n"
    ) == ("  # (hidden tests)\n")
    seconds = _scaling(lambda n: "### BEGIN HIDDEN TESTS\n" * n, report.hide_hidden_tests, 200_000)
    assert seconds < 2


def _timed(function, argument, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):  # the best of a few: the machine is shared
        started = time.perf_counter()
        function(argument)
        best = min(best, time.perf_counter() - started)
    return best


def _scaling(make, function, n: int, repeat: int = 3) -> float:
    """Time ``function`` on ``make(n)`` and ``make(2 n)``: twice the input may cost at most
    about twice the time (3x allowed, for noise; a quadratic step takes 4x). The larger
    time."""
    small, large = make(n), make(2 * n)
    t_small, t_large = _timed(function, small, repeat), _timed(function, large, repeat)
    assert t_large < 3 * t_small + 0.1, f"{t_small:.3f} s -> {t_large:.3f} s"
    return t_large


# Adversarial text for every step after grading: hidden-test markers (the feedback page's
# filter was quadratic on them), Markdown emphasis (markdown-it's is quadratic), escapes
# that JSON turns into lone surrogates and controls, bidirectional overrides.
UNIT = (
    "### BEGIN HIDDEN TESTS\n" * 20
    + "*a " * 300
    + "_a" * 300
    + "\n"
    + "\\ud800\\u001b[2J\\u202e\\u0000" * 20
    + "\n"
)


def _adversarial_notebook(size: int) -> bytes:
    """The reference submission with ``size`` more characters of adversarial cells (JSON
    escapes counted as written)."""
    notebook = json.loads(nbformat.writes(submission(A)))
    chunk = (UNIT * (9_000 // len(UNIT) + 1))[:9_000]  # Markdown cells just under the limit
    for number in range(size // len(chunk)):
        kind = ("markdown", "code", "raw")[number % 3]
        cell = {"cell_type": kind, "metadata": {}, "source": chunk}
        if kind == "code":
            output = {"output_type": "stream", "name": "stdout", "text": chunk}
            cell |= {"outputs": [output], "execution_count": None}
        notebook["cells"].append(cell)
    return json.dumps(notebook).encode()


def _graded(data: bytes, student: str = "big") -> engine.Graded:
    """What grading such a notebook gives, without running it: the notebook as read, a
    message of the maximum size on every cell."""
    notebook = engine.read_submission(data, LIMITS)
    message = untrusted.text((UNIT * 100).encode().decode("unicode_escape"), 2_000)
    cells = [
        engine.CellResult(gid, 0.0, 1.0, Status.FAILED, f"check failed: {message}")
        for gid in ("test_sigmoid", "test_tanh")
    ]
    return engine.Graded(student, cells, notebook)


def test_reading_saving_and_feedback_are_linear_in_the_notebook(prepared):
    course, assignment = prepared
    size = 1_000_000

    def read(data):
        return engine.read_submission(data, LIMITS)

    _scaling(_adversarial_notebook, read, size)
    _scaling(lambda n: _graded(_adversarial_notebook(n)), _saved(course, assignment), size)
    seconds = _scaling(
        lambda n: _graded(_adversarial_notebook(n)),
        lambda graded: report.write_feedback(course, assignment, graded),
        size,
        repeat=1,
    )
    assert seconds < report.FEEDBACK_SECONDS + 5


def _saved(course, assignment):
    return lambda graded: course.save(graded, assignment, "fingerprint")


def test_exports_and_report_are_linear_in_the_class(prepared):
    course, assignment = prepared
    graded = _graded(_adversarial_notebook(20_000))

    def results(n):
        return {f"s{k:05d}": graded.cells for k in range(n)}

    _scaling(results, lambda r: export.write(course, assignment, r), 2_000)
    _scaling(results, lambda r: report.write_report(course, assignment, r), 2_000, repeat=1)


def test_similarity_is_linear_in_the_code_and_bounded(prepared):
    course, assignment = prepared
    code = (UNIT.encode().decode("unicode_escape") + "x = ((1 + 2) * 3)\n") * 1_000

    def codes(n):
        return {"a": untrusted.text(code[:n]), "b": untrusted.text(code[: n // 2] * 2)}

    _scaling(codes, lambda c: similarity.compare(c, "", workers=1), 20_000, repeat=1)
    assert similarity.COMPARED_CHARS <= 100_000  # ~2 s a student at most (20 µs a character)


def test_report_lists_a_bounded_number_of_review_lines_per_student():
    from autograder.grading.review import Finding

    many = [Finding("sigmoid", n, "reason", "import os") for n in range(1, 1_001)]
    listed = report._listed({"s": many, "t": many[:3]})
    assert len(listed["s"]) == report.REVIEW_LINES + 1 and "950 more" in listed["s"][-1].reason
    assert listed["t"] == many[:3]
