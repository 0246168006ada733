"""Through `autograder grade` (sandboxed, judged in the grader): the reference gets full
marks, the released stubs get zero, each wrong implementation loses points in its intended
cell (and nowhere but there and its cascade), its message the first line of that cell's
message (partial credit allowed: then the parts say which failed and add up to the points),
and no correct alternative loses anything. One batch per assignment.

The batch is graded without a course secret: the hidden cases come from the test cells'
seeds alone, the cases tests/test_catalogue_checks.py runs in-process, where each entry's
message is proven. With a secret, the hidden cases are drawn anew for every course, and a
diagnosis made over all the failing cases may then name a less specific cause, as true
(tests/test_diagnosis_sweep.py; keyed cases through the sandbox: tests/test_grade.py).

The wrong entries are sampled, at most PER_CELL of each graded cell (a fixed draw): every
entry's message is proven in-process by tests/test_catalogue_checks.py, and what this test
adds, the grading through the sandbox and a failure kept to its own cell, shows on a sample
of each cell as well as on all (155 wrong entries of 249)."""

import random

import pytest
from catalogue import CORRECT, WRONG
from grading import grade, write_batch
from notebooks import graded_cell_code, submission

from autograder.grading.course import Course

pytestmark = pytest.mark.slow

ASSIGNMENTS = ["nn-review", "conv-layers"]
PER_CELL = 10


def sampled(assignment: str) -> list:
    """At most PER_CELL wrong entries of each cell of ``assignment``, a fixed draw."""
    cells = sorted({w.cell for w in WRONG if w.assignment == assignment})
    found = []
    for cell in cells:
        entries = [w for w in WRONG if w.assignment == assignment and w.cell == cell]
        found += random.Random(cell).sample(entries, min(PER_CELL, len(entries)))
    return found


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def graded(request, tmp_path_factory):
    assignment = request.param
    students = {"reference": submission(assignment), "stub": submission(assignment, fill=False)}
    students |= {
        w.name.replace("_", "-"): submission(assignment, {w.cell: w.code})
        for w in sampled(assignment)
    }
    students |= {
        c.name.replace("_", "-"): submission(assignment, {c.cell: c.code})
        for c in CORRECT
        if c.assignment == assignment
    }
    root = tmp_path_factory.mktemp(f"batch-{assignment}")
    write_batch(root / "submitted", assignment, students)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Course, "secret", lambda self: b"")
        summary, results = grade(root / "course", assignment, root / "submitted")
    assert summary.graded == len(students) and not summary.problems
    return assignment, results


def test_reference_gets_full_marks_and_stub_gets_zero(graded):
    assignment, results = graded
    reference, stub = results["reference"], results["stub"]
    assert set(reference) == set(graded_cell_code(assignment))
    assert all(c.status == "passed" and c.points == c.max_points > 0 for c in reference.values())
    assert all(p.passed for c in reference.values() for p in c.parts)
    assert sum(c.points for c in stub.values()) == 0
    assert all(
        "not implemented yet" in c.message or "is not defined" in c.message for c in stub.values()
    ), stub


def test_each_wrong_implementation_loses_points_in_its_cell_with_its_message(graded):
    assignment, results = graded
    for wrong in sampled(assignment):
        result = results[wrong.name.replace("_", "-")]
        lost = {gid for gid, c in result.items() if c.points < c.max_points}
        assert wrong.test in lost <= {wrong.test, *wrong.cascade}, (wrong.name, result)
        if "from scipy" in wrong.code:  # not in the sandbox: the defining cell fails, and says so
            assert result[wrong.test].status == "error", (wrong.name, result[wrong.test])
            assert "No module named 'scipy" in result[wrong.test].message
            assert "not available when grading" in result[wrong.test].message
            continue
        cell = result[wrong.test]
        assert cell.status == "failed", (wrong.name, cell)
        assert wrong.message in cell.message.splitlines()[0], (wrong.name, result)
        if cell.points > 0:  # partial credit: the parts that passed, and the one that failed
            assert sum(p.points for p in cell.parts if p.passed) == cell.points, (wrong.name, cell)
            assert any(p.passed is False for p in cell.parts), (wrong.name, cell)


def test_correct_alternatives_lose_nothing(graded):
    assignment, results = graded
    for correct in (c for c in CORRECT if c.assignment == assignment):
        result = results[correct.name.replace("_", "-")]
        assert all(c.status == "passed" for c in result.values()), (correct.name, result)
