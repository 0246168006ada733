"""Partial credit (issue 23): ``autograder grade`` scores a test cell exactly as nbgrader
does (``nbgrader.utils.determine_grade``), so that the two always give the same points.

Fast: the engine takes a cell's value as IPython does (compared with a real IPython shell
on generated cells) and scores it by nbgrader's rules. Slow: a sample of the catalogue's
wrong and correct entries, graded by ``autograder grade`` and by plain
``nbgrader autograde``, gets the same points per cell; our autograded notebook, read by
nbgrader, gives our points; a student's stray warning zeroes no cell in either."""

import math
from types import SimpleNamespace

import nbformat
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder import checks
from autograder.checks._score import PartResult, Score
from autograder.grading.engine import Assignment, Execution, Status, Step
from autograder.grading.engine import TestCell as Cell
from autograder.grading.sandbox import Limits


class _Session:
    """A sandbox session whose student namespace is a dict of plain values."""

    deadline = 0.0

    def __init__(self, values: dict):
        self.values = values

    def lookup(self, name: str):
        return ("value", self.values[name]) if name in self.values else ("undefined", None)


def judge(source: str, points: float, values: dict | None = None):
    """The engine's verdict and outputs for one test cell (no sandbox: plain values)."""
    runner = SimpleNamespace(limits=Limits(), secret=b"")
    test = Cell("test_x", source, points, "")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    notebook.cells[0].execution_count = 1
    execution = Execution(runner, "ann", {}, [], Assignment("a", {"test_x": test}), notebook)
    execution.session = _Session(values or {})
    execution._judge(Step(0, "test_x", source), notebook.cells[0])
    return execution.results["test_x"], notebook.cells[0].outputs


def nbgrader_points(outputs: list, points: float) -> float:
    from nbgrader.utils import determine_grade

    cell = nbformat.v4.new_code_cell(
        metadata={"nbgrader": {"grade": True, "solution": False, "grade_id": "t", "points": points}}
    )
    cell.outputs = outputs
    return determine_grade(cell)[0]


@pytest.fixture(scope="module")
def shell():
    """A real IPython shell that records what its display hook would publish as the cell's
    ``execute_result`` (``text/plain``)."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    published = []
    shell.displayhook.write_format_data = lambda data, metadata=None: published.append(data)
    shell.displayhook.write_output_prompt = lambda: None
    return shell, published


VALUES = st.one_of(
    st.integers(-5, 20).map(str),
    st.floats(-5, 20, allow_nan=False).map(repr),
    st.sampled_from(["None", "'two'", "True", "[1, 2]", "2 * 1.25", "print('x')", "-0.0"]),
    st.sampled_from(
        [
            "Score([PartResult('a', 1.5, True), PartResult('b', 0.5, False, 'no')], 'b: no')",
            "Score([PartResult('a', 1, True), PartResult('hidden', 1, None)])",
            "Score([PartResult('a', 2, True)])",
        ]
    ),
)


@settings(max_examples=40, deadline=None)
@given(
    before=st.sampled_from(
        ["", "hidden_seed = None\n", "y = 3\nprint(y)\n", "if True:\n    z = 1\n"]
    ),
    value=VALUES,
    after=st.sampled_from(["", ";", "  # a comment", "; # quiet", "\n", "\nz = 1"]),
)
def test_the_cell_value_is_what_ipython_shows(shell, before, value, after):
    ipython, published = shell
    source = before + value + after
    namespace = {"Score": Score, "PartResult": PartResult}
    ipython.user_ns.update(namespace)
    published.clear()
    ipython.run_cell(source, store_history=True)  # quiet() reads the history
    result, outputs = judge(source, 20.0, namespace)
    shown = [o.data["text/plain"] for o in outputs if o.output_type == "execute_result"]
    assert shown == [data["text/plain"] for data in published], source
    assert result.points == nbgrader_points(outputs, 20.0)


@settings(max_examples=50, deadline=None)
@given(
    value=st.one_of(
        st.floats(-3, 6, allow_nan=False), st.integers(-3, 6), st.just(None), st.just("text")
    ),
    points=st.sampled_from([1.0, 2.0, 3.0, 4.0]),
    stderr=st.booleans(),
)
def test_points_follow_nbgrader_rules(value, points, stderr):
    source = ("import sys; print('careful', file=sys.stderr)\n" if stderr else "") + "value"
    result, outputs = judge(source, points, {"value": value})
    number = value if isinstance(value, int | float) else None
    if stderr:
        expected, status = 0.0, Status.ERROR
    elif number is not None and number > points:
        expected, status = 0.0, Status.ERROR  # nbgrader refuses it: the grader's bug
    elif number is None or number < 0 or number == points:
        expected, status = points, Status.PASSED
    else:
        expected, status = float(number), Status.FAILED
    assert (result.points, result.status) == (expected, status)
    if status is not Status.ERROR:
        assert result.points == nbgrader_points(outputs, points)
    else:
        assert result.message and "nbgrader" in result.message or "grader" in result.message


def test_a_partial_score_keeps_its_parts_message_and_printed_table():
    def relu(x):
        import torch

        return torch.where(x > 1, x, torch.zeros_like(x))  # wrong between 0 and 1

    parts = [PartResult("simple cases", 0.5, True), PartResult("edges", 0.5, False, "x in (0, 1]")]
    source = "print(Score(parts).table())\nScore(parts, 'relu: wrong between 0 and 1')"
    result, outputs = judge(source, 1.0, {"Score": Score, "parts": parts, "relu": relu})
    assert (result.points, result.status) == (0.5, Status.FAILED)
    assert result.message == "relu: wrong between 0 and 1"
    assert result.parts == tuple(parts)
    [stream, value] = outputs
    assert "✗ edges" in stream.text and value.data["text/plain"] == "0.5"
    assert "0.5 of 1 points" in value.data["text/html"]


def test_a_failed_check_scores_zero_with_its_message():
    result, outputs = judge("checks.check_relu(relu)", 1.0, {"relu": lambda x: x})
    assert (result.points, result.status) == (0.0, Status.FAILED)
    assert outputs[-1].output_type == "error" and outputs[-1].ename == "CheckFailed"
    assert math.isclose(nbgrader_points(outputs, 1.0), 0.0)
    assert result.message.startswith("relu")
    assert checks.CheckFailed.__name__ in outputs[-1].ename


STRAY = """
import sys
import warnings


def relu(x):
    warnings.warn("a student's stray warning", stacklevel=1)
    print("a student's debug line", file=sys.stderr)
    return torch.where(x > 0, x, torch.zeros_like(x))
"""


PARTIAL = {  # answers right on some parts of their test only
    "nn-review": {
        "sigmoid": "def sigmoid(x):\n    return torch.exp(x) / (1 + torch.exp(x))\n",
        "tanh": "def tanh(x):\n    return (torch.exp(2 * x) - 1) / (torch.exp(2 * x) + 1)\n",
    },
    "conv-layers": {
        "same_padding": "def same_padding(kernel_size):\n    return (kernel_size - 1) // 2\n",
        "conv_output_shape": """
def conv_output_shape(x_shape, weight_shape, stride=1, padding=0):
    (s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)
    n, _, h, w = x_shape
    c_out, _, k_h, k_w = weight_shape
    return (n, c_out, (h + 2 * p_h - k_h) // s_h + 1, (w + 2 * p_w - k_w) // s_w + 1)
""",
    },
}


def mixed_students(assignment: str) -> dict:
    """Three notebooks holding many entries at once: one takes, for every solution cell, an
    answer right on some parts only (partial credit) where there is one, else the cell's
    first wrong catalogue entry; one takes a correct alternative for every cell it can (and,
    in nn-review, a relu that warns and writes to stderr while it is checked); and the stub."""
    from catalogue import CORRECT, WRONG
    from notebooks import reference_code, submission

    wrong = {}
    for entry in WRONG:
        if entry.assignment == assignment:
            wrong.setdefault(entry.cell, entry.code)
    wrong |= PARTIAL[assignment]
    if assignment == "conv-layers":  # right but for the stride
        wrong["conv2d_naive"] = reference_code(assignment)["conv2d_naive"].replace(
            "= pair(stride), pair(padding)", "= (1, 1), pair(padding)"
        )
    correct = {c.cell: c.code for c in CORRECT if c.assignment == assignment}
    if assignment == "nn-review":
        correct["relu"] = STRAY
    return {
        "wrong": submission(assignment, wrong),
        "correct": submission(assignment, correct),
        "stub": submission(assignment, fill=False),
    }


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ["nn-review", "conv-layers"])
def test_autograder_grade_and_plain_nbgrader_give_the_same_points(
    assignment, tmp_path, monkeypatch
):
    """The catalogue's wrong and correct entries (several to a notebook) graded both ways:
    the same points per cell; some of them partial. Our autograded notebook, read by
    nbgrader's determine_grade, gives our points; a stray warning zeroes nothing. Plain
    nbgrader draws the hidden cases from the seed alone, so our grader runs here without a
    course secret: the same cases, scored by the same rules. (With the secret, the hidden
    cases are others: a mistake only some random cases catch may then score otherwise.)"""
    from grading import grade, write_batch
    from nbgrader.utils import determine_grade
    from notebooks import autograde

    from autograder.grading.course import Course

    monkeypatch.setattr(Course, "secret", lambda self: b"")

    students = mixed_students(assignment)
    summary, ours = grade(
        tmp_path / "course", assignment, write_batch(tmp_path / "in", assignment, students)
    )
    assert summary.graded == len(students) and not summary.problems
    theirs = autograde(assignment, students, tmp_path / "nbgrader")
    partial = 0
    for student in students:
        mine = {gid: cell.points for gid, cell in ours[student].items()}
        assert mine == theirs[student].scores, (student, mine, theirs[student].errors)
        partial += sum(0 < p < ours[student][gid].max_points for gid, p in mine.items())
        graded = nbformat.read(
            tmp_path / "course" / "autograded" / student / assignment / f"{assignment}.ipynb", 4
        )
        for cell in graded.cells:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if cell.metadata.get("nbgrader", {}).get("grade"):
                assert determine_grade(cell)[0] == mine[gid], (student, gid)
    assert partial >= 2, "the sample should hold partial scores"
    assert all(c.status == "passed" for c in ours["correct"].values()), ours["correct"]
    assert sum(mine for mine in (c.points for c in ours["stub"].values())) == 0


@pytest.mark.slow
def test_validate_passes_a_finished_notebook_and_fails_a_wrong_one(tmp_path):
    """nbgrader's Validate button keeps working: a finished notebook (run as released, no
    hidden seed) validates; one wrong function is named as failing."""
    from catalogue import WRONG
    from nbgrader.validator import Validator
    from notebooks import submission

    wrong = next(w for w in WRONG if w.assignment == "nn-review" and w.cell == "relu")
    for name, notebook in [
        ("finished", submission("nn-review")),
        ("wrong", submission("nn-review", {wrong.cell: wrong.code})),
    ]:
        path = tmp_path / name / "nn-review.ipynb"
        path.parent.mkdir()
        nbformat.write(notebook, path)
        found = Validator().validate(str(path))
        if name == "finished":
            assert found == {}, found.get("failed")
        else:
            [failed] = found["failed"]
            assert "check_relu" in failed["source"], failed
