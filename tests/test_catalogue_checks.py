"""The fast layer of the catalogue: each wrong implementation, run through its test cell's
checks in-process, fails with its misconception's message; each correct one passes. Every
message a check defines is reached by some wrong implementation, and no message says "off
by one" to a mistake that is not one."""

import ast
import functools
import inspect
import types

import pytest
from catalogue import CORRECT, WRONG
from notebooks import graded_cell_code, reference_code, source_notebook

from autograder.checks import CheckFailed, _cases, activations, conv, dense, sizes


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
def first_failure(name: str) -> str:
    """The first line of the failure of wrong implementation ``name``'s test cell, after
    checking that every other test cell that can use what the wrong cell defines (but its
    cascade) passes; the others run exactly as with the reference (which
    test_correct_alternative_passes and the notebook tests run)."""
    wrong = next(w for w in WRONG if w.name == name)
    namespace = namespace_with(wrong.assignment, wrong.cell, wrong.code)
    changed = defined_names(wrong.code) | defined_names(
        reference_code(wrong.assignment)[wrong.cell]
    )
    message = None
    for test, code in graded_cell_code(wrong.assignment).items():
        if test in wrong.cascade:
            continue
        if test != wrong.test:
            if uses_any(code, changed, namespace):
                exec(code, namespace)
            continue
        with pytest.raises(CheckFailed) as failure:
            exec(code, namespace)
        message = str(failure.value)
    assert message is not None, wrong.test
    return message.splitlines()[0]


@pytest.mark.parametrize("wrong", WRONG, ids=lambda w: w.name)
def test_wrong_implementation_fails_only_its_cell_with_its_message(wrong):
    assert wrong.message in first_failure(wrong.name)


@pytest.mark.parametrize("correct", CORRECT, ids=lambda c: c.name)
def test_correct_alternative_passes(correct):
    namespace = namespace_with(correct.assignment, correct.cell, correct.code)
    for code in graded_cell_code(correct.assignment).values():
        exec(code, namespace)


def test_catalogue_covers_every_graded_cell_and_many_mistakes():
    assert len(WRONG) >= 15
    names = [entry.name for entry in WRONG + CORRECT]  # student ids in the graded batches
    assert len(set(names)) == len(names)
    for assignment in ("nn-review", "conv-layers"):
        tested = {w.test for w in WRONG if w.assignment == assignment}
        assert tested == set(graded_cell_code(assignment)), assignment


def test_only_an_off_by_one_is_called_off_by_one():
    said = {w.name: "off by one" in first_failure(w.name).replace("-", " ") for w in WRONG}
    assert {name for name, off in said.items() if off} == {w.name for w in WRONG if w.off_by_one}


def message_constants() -> dict[str, str]:
    """Every message the checks define as a constant: module-level strings in capitals, and
    the messages of module-level tables of (message, slip) pairs."""
    found = {}
    for module in (_cases, activations, conv, dense, sizes):
        for name, value in vars(module).items():
            if not name.isupper() or inspect.getmodule(value) not in (None, module):
                continue
            if isinstance(value, str):
                found[f"{module.__name__}.{name}"] = value
            elif isinstance(value, list) and all(isinstance(v, tuple) for v in value):
                for number, (message, _) in enumerate(value):
                    found[f"{module.__name__}.{name}[{number}]"] = message
    return found


def test_every_message_is_reached_by_a_catalogue_mistake():
    messages = message_constants()
    assert len(messages) > 40
    lines = [first_failure(w.name) for w in WRONG]
    unreached = sorted(
        name for name, text in messages.items() if not any(text in line for line in lines)
    )
    assert not unreached
