"""The hand-in check (issue 23), in process: every part of the notebook is done, failing
(with the first line of its test's message) or not attempted; the points are those the
visible tests give; nothing is raised and nothing reaches stderr, whatever the student's
code or a check does. (In a fresh student environment, on whole notebooks:
tests/test_install.py.)"""

import contextlib
import io
import re

import pytest
import torch

from autograder import checks
from autograder.checks import handin
from autograder.checks._score import PartResult, Score


def relu(x):
    return torch.where(x > 0, x, torch.zeros_like(x))


def relu_stub(x):
    raise NotImplementedError()


def relu_identity(x):
    return x


def scored(*parts):
    return lambda fn: Score(list(parts), "relu: wrong somewhere\n  the details")


def run(namespace, parts):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        value = handin.hand_in(namespace, parts)
    assert value is None  # the cell shows no value
    assert err.getvalue() == ""
    return out.getvalue()


def rows(text: str) -> dict[str, tuple[str, str]]:
    found = re.findall(r"^\s*(\d+)\s+(.+?)\s{2,}(\S+ / \S+)\s+(.+)$", text, re.MULTILINE)
    return {part: (points, status) for part, _, points, status in found}


def test_done_failing_and_not_attempted():
    namespace = {"relu": relu, "wrong": relu_identity, "stub": relu_stub}
    text = run(
        namespace,
        [
            (1, "relu", 1, checks.check_relu),
            (2, "wrong", 1, checks.check_relu),
            (3, "stub", 1, checks.check_relu),
            (4, "undefined_name", 2, checks.check_relu),
        ],
    )
    table = rows(text)
    assert table["1"][1].startswith("done")
    assert table["2"] == ("0 / 1", "failing")
    assert table["3"] == ("0 / 1", "not attempted")
    assert table["4"] == ("0 / 2", "not attempted")
    lines = text.splitlines()
    row = next(i for i, line in enumerate(lines) if re.match(r"\s*2\s+wrong", line))
    assert lines[row + 1].strip().startswith("relu"), lines[row + 1]  # the message's first line
    assert "not attempted yet" in text and "Download .ipynb" in text and "Validate" in text


def test_partial_scores_count_their_visible_points_and_name_the_hidden_ones():
    partial = scored(
        PartResult("simple", 1, True),
        PartResult("edges", 0.5, False, "x"),
        PartResult("h", 0.5, None),
    )
    complete = scored(PartResult("simple", 1.5, True), PartResult("hidden", 0.5, None))
    text = run({"f": relu}, [(1, "f", 2, partial), (2, "f", 2, complete)])
    table = rows(text)
    assert table["1"] == ("1 / 2", "failing")
    assert table["2"] == ("1.5 / 2", "done (+0.5 from hidden cases when graded)")
    assert "The visible tests give 2.5 of 4 points; hidden cases decide 1 more" in text
    assert "      relu: wrong somewhere\n" in text  # the first line only


def test_everything_done():
    text = run({"relu": relu}, [(1, "relu", 1, checks.check_relu)])
    assert "Every part passes its visible tests." in text


def test_a_check_that_breaks_or_a_noisy_student_never_reaches_the_notebook():
    def noisy(x):
        import sys
        import warnings

        warnings.warn("student's stray warning", stacklevel=1)
        print("debug", file=sys.stderr)
        return relu(x)

    def broken(fn):
        raise RuntimeError("the check itself broke")

    text = run({"relu": noisy}, [(1, "relu", 1, checks.check_relu), (2, "relu", 1, broken)])
    table = rows(text)
    assert table["1"][1].startswith("done")
    assert table["2"] == ("0 / 1", "failing")
    assert "RuntimeError: the check itself broke" in text


def test_two_names_go_to_the_check_in_order():
    seen = []
    text = run({"A": 1, "B": 2}, [(1, "A, B", 1, lambda a, b: seen.append((a, b)))])
    assert seen == [(1, 2)] and rows(text)["1"] == ("1 / 1", "done")


@pytest.mark.parametrize("width", [1, 30])
def test_a_long_message_is_cut(width):
    line = handin._cut("x" * 200, width + 10)
    assert len(line) == width + 10 and line.endswith("…")


def test_while_grading_it_runs_nothing(monkeypatch):
    """nbgrader's autograde (and our grader's sandbox) set NBGRADER_EXECUTION: the test
    cells are the grade, and running every check twice would only cost time."""
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    ran = []
    text = run({"relu": relu}, [(1, "relu", 1, lambda fn: ran.append(fn))])
    assert ran == [] and text.strip() == handin.WHILE_GRADING
    monkeypatch.setenv("NBGRADER_EXECUTION", "validate")  # Validate: the student is still working
    assert "Hand-in check" in run({"relu": relu}, [(1, "relu", 1, checks.check_relu)])
