"""Through nbgrader's own autograde: the reference gets full marks, the released stubs get
zero, each wrong implementation loses exactly its intended cell with its message, and no
correct alternative loses anything. One batch per assignment (a kernel per student)."""

import pytest
from catalogue import CORRECT, WRONG
from notebooks import autograde, graded_cell_code, submission

pytestmark = pytest.mark.slow

ASSIGNMENTS = ["nn-review", "conv-layers"]


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def graded(request, tmp_path_factory):
    assignment = request.param
    students = {"reference": submission(assignment), "stub": submission(assignment, fill=False)}
    students |= {
        w.name: submission(assignment, {w.cell: w.code})
        for w in WRONG
        if w.assignment == assignment
    }
    students |= {
        c.name: submission(assignment, {c.cell: c.code})
        for c in CORRECT
        if c.assignment == assignment
    }
    course = tmp_path_factory.mktemp(f"course-{assignment}")
    return assignment, autograde(assignment, students, course)


def test_reference_gets_full_marks_and_stub_gets_zero(graded):
    assignment, results = graded
    reference, stub = results["reference"], results["stub"]
    assert set(reference.scores) == set(graded_cell_code(assignment))
    assert reference.scores == reference.max_scores, reference.errors
    assert reference.total == sum(reference.max_scores.values()) > 0
    assert stub.total == 0
    assert all(
        "not implemented yet" in stub.errors[cell] or "NameError" in stub.errors[cell]
        for cell in stub.scores
    )


def test_each_wrong_implementation_loses_its_cell_with_its_message(graded):
    assignment, results = graded
    for wrong in (w for w in WRONG if w.assignment == assignment):
        result = results[wrong.name]
        lost = {cell for cell, score in result.scores.items() if score < result.max_scores[cell]}
        assert wrong.test in lost <= {wrong.test, *wrong.cascade}, (wrong.name, result.errors)
        assert wrong.message in result.errors[wrong.test].splitlines()[0], (
            wrong.name,
            result.errors,
        )


def test_correct_alternatives_lose_nothing(graded):
    assignment, results = graded
    for correct in (c for c in CORRECT if c.assignment == assignment):
        result = results[correct.name]
        assert result.scores == result.max_scores, (correct.name, result.errors)
