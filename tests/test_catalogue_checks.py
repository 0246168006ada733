"""The fast layer of the catalogue: each wrong implementation, run through its test cell's
checks in-process, loses points with its misconception's message (a check returns a partial
``Score`` whose message says why, or raises ``CheckFailed``); each correct one gets every
point. Every message a check defines is reached by some wrong implementation, and no
message says "off by one" to a mistake that is not one. (Every entry targets a cell the
notebook has: tests/test_release.py.)"""

import ast
import functools
import inspect
import types

import pytest
from catalogue import CORRECT, WRONG
from notebooks import (  # namespace_with: also imported from here by other tests
    graded_cell_code,
    namespace_with,
    reference_code,
    run_cell,
    source_notebook,
)

from autograder.checks import (
    _experiments,
    conv,
)

ASSIGNMENTS = ("nn-review", "conv-layers")


@functools.cache
def cells(assignment: str) -> dict[str, str]:
    return graded_cell_code(assignment)


def defined_names(code: str) -> set[str]:
    """The names a cell's code defines at its top level."""
    names = set()
    for node in ast.parse(code).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def code_names(code: types.CodeType) -> set[str]:
    """The global names ``code`` (and the functions defined in it) use."""
    names = set(code.co_names)
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            names |= code_names(constant)
    return names


def uses_any(code: str, names: set[str], namespace: dict) -> bool:
    """Whether a test cell's code reaches any of ``names`` through the namespace's functions
    and classes (modules, such as the checks, are not followed)."""
    seen, todo = set(), code_names(compile(code, "<test cell>", "exec"))
    while todo:
        name = todo.pop()
        if name in names:
            return True
        if name in seen or name not in namespace:
            continue
        seen.add(name)
        value = namespace[name]
        functions = vars(value).values() if isinstance(value, type) else [value]
        for function in functions:
            if isinstance(function, types.FunctionType) and function.__module__ != "torch":
                todo |= code_names(function.__code__)
    return False


@functools.cache
def failure(name: str) -> str:
    """The whole text of wrong implementation ``name``'s test cell's failure, after checking
    that every other test cell that can use what the wrong cell defines (but its cascade)
    passes with every point; the others run exactly as with the reference (which
    test_correct_alternative_gets_every_point and the notebook tests run)."""
    wrong = next(w for w in WRONG if w.name == name)
    namespace = namespace_with(wrong.assignment, wrong.cell, wrong.code)
    changed = defined_names(wrong.code) | defined_names(
        reference_code(wrong.assignment)[wrong.cell]
    )
    message = None
    for test, code in cells(wrong.assignment).items():
        if test in wrong.cascade:
            continue
        if test != wrong.test:
            if uses_any(code, changed, namespace):
                other, _ = run_cell(code, namespace)
                assert other is None, (test, other)
            continue
        message, _ = run_cell(code, namespace)
    assert message is not None, f"{wrong.test} lost no point"
    return message


def first_failure(name: str) -> str:
    return failure(name).splitlines()[0]


@pytest.mark.parametrize("wrong", WRONG, ids=lambda w: w.name)
def test_wrong_implementation_fails_only_its_cell_with_its_message(wrong):
    assert wrong.message in first_failure(wrong.name)


@pytest.mark.parametrize("correct", CORRECT, ids=lambda c: c.name)
def test_correct_alternative_gets_every_point(correct):
    namespace = namespace_with(correct.assignment, correct.cell, correct.code)
    for code in cells(correct.assignment).values():
        said, scores = run_cell(code, namespace)
        assert said is None, said
        for score in scores:  # the hidden parts ran too (the cells' hidden seeds are set)
            assert float(score) == score.max_points, score.table()


def test_catalogue_covers_every_graded_cell_and_many_mistakes():
    assert len(WRONG) >= 15
    names = [entry.name for entry in WRONG + CORRECT]  # student ids in graded batches
    assert len(set(names)) == len(names)
    for assignment in ASSIGNMENTS:
        tested = {w.test for w in WRONG if w.assignment == assignment}
        assert tested == set(cells(assignment)), assignment


def test_only_an_off_by_one_is_called_off_by_one():
    said = {w.name: "off by one" in first_failure(w.name).replace("-", " ") for w in WRONG}
    off = {w.name for w in WRONG if w.off_by_one}
    assert {name for name, is_off in said.items() if is_off} == off


def message_constants() -> dict[str, str]:
    """Every message the convolution checks and the shared experiments define as a constant: module-level strings in capitals, and
    the messages of module-level tables of (message, ...) tuples; a template counts up to its
    first field ("{...}"). (A part's name is reached through the table of parts a failure
    shows.)"""
    found = {}
    for module in (_experiments, conv):  # the other checks' own: tests/test_checks_nn.py
        for name, value in vars(module).items():
            if not name.isupper() or inspect.getmodule(value) not in (None, module):
                continue
            if isinstance(value, str):
                found[f"{module.__name__}.{name}"] = value.split("{")[0]
            elif isinstance(value, list) and all(
                isinstance(v, tuple) and v and isinstance(v[0], str) for v in value
            ):
                for number, (message, *_) in enumerate(value):
                    found[f"{module.__name__}.{name}[{number}]"] = message.split("{")[0]
    return found


def test_every_message_is_reached_by_a_catalogue_mistake():
    messages = message_constants()
    assert len(messages) > 40
    texts = [failure(w.name) for w in WRONG]
    unreached = sorted(
        name for name, text in messages.items() if not any(said_in(text, said) for said in texts)
    )
    assert not unreached


def said_in(text: str, said: str) -> bool:
    """Whether ``text`` is in ``said``, also as a sentence said after another (capitalised)."""
    return text in said or (text[:1].upper() + text[1:]) in said


@pytest.mark.parametrize(
    ("assignment", "test"), [(a, t) for a in ASSIGNMENTS for t in graded_cell_code(a)]
)
def test_a_checks_points_are_its_test_cells_points(assignment, test):
    """The parts' points add up to the test cell's points in the notebook (every test cell's
    value is its check's Score)."""
    points = {
        c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"].get("points")
        for c in source_notebook(assignment).cells
        if c.metadata.get("nbgrader", {}).get("grade")
    }
    namespace = namespace_with(assignment, "", "")
    said, scores = run_cell(cells(assignment)[test], namespace)
    assert said is None and scores, said
    assert all(score.max_points == points[test] for score in scores)
