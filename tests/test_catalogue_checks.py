"""The fast layer of the catalogue: each wrong implementation, run through its test cell's
checks in-process, fails with its misconception's message; each correct one passes."""

import pytest
from catalogue import CORRECT, WRONG
from notebooks import graded_cell_code, reference_code, source_notebook

from autograder.checks import CheckFailed


def namespace_with(assignment: str, cell: str, code: str) -> dict:
    """Run the notebook's code cells in order, the reference except ``cell`` replaced."""
    namespace: dict = {}
    reference = reference_code(assignment)
    for nb_cell in source_notebook(assignment).cells:
        gid = nb_cell.metadata.get("nbgrader", {}).get("grade_id")
        if nb_cell.cell_type != "code" or nb_cell.metadata["nbgrader"].get("grade"):
            continue
        if gid == cell:
            exec(code, namespace)
        elif gid in reference:
            exec(reference[gid], namespace)
        elif gid == "setup":
            exec(nb_cell.source, namespace)
    return namespace


@pytest.mark.parametrize("wrong", WRONG, ids=lambda w: w.name)
def test_wrong_implementation_fails_only_its_cell_with_its_message(wrong):
    namespace = namespace_with(wrong.assignment, wrong.cell, wrong.code)
    for test, code in graded_cell_code(wrong.assignment).items():
        if test in wrong.cascade:
            continue
        if test != wrong.test:
            exec(code, namespace)
            continue
        with pytest.raises(CheckFailed) as failure:
            exec(code, namespace)
        first_line = str(failure.value).splitlines()[0]
        assert wrong.message in first_line, str(failure.value)


@pytest.mark.parametrize("correct", CORRECT, ids=lambda c: c.name)
def test_correct_alternative_passes(correct):
    namespace = namespace_with(correct.assignment, correct.cell, correct.code)
    for code in graded_cell_code(correct.assignment).values():
        exec(code, namespace)


def test_catalogue_covers_every_graded_cell_and_many_mistakes():
    assert len(WRONG) >= 15
    for assignment in ("nn-review", "conv-layers"):
        tested = {w.test for w in WRONG if w.assignment == assignment}
        assert tested == set(graded_cell_code(assignment)), assignment
