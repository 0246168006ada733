"""Mutants of a reference solution: every single small change a student's slip could make
(an operator swapped, a term dropped, a constant or comparison changed, a transpose left out,
a variable used for another, a call left out, the two values of a returned pair swapped),
each as source code, for the mutation test of the checks (tests/test_mutants_nn.py).

A small generator of our own: the maintained tools (mutmut, cosmic-ray) mutate a package's
files on disk and run a test command per mutant; here a mutant is one function's source,
run through its check in this process, hundreds per minute."""

import ast
import copy
from collections.abc import Iterator

SWAPS = {
    ast.Add: [ast.Sub, ast.Mult],
    ast.Sub: [ast.Add],
    ast.Mult: [ast.Div, ast.Add],
    ast.Div: [ast.Mult, ast.FloorDiv],
    ast.FloorDiv: [ast.Div, ast.Mult],
    ast.MatMult: [ast.Mult],
    ast.Pow: [ast.Mult],
    ast.Mod: [ast.FloorDiv],
}
COMPARES = {
    ast.Gt: [ast.GtE, ast.Lt],
    ast.GtE: [ast.Gt, ast.LtE],
    ast.Lt: [ast.LtE, ast.Gt],
    ast.LtE: [ast.Lt, ast.GtE],
    ast.Eq: [ast.NotEq],
    ast.NotEq: [ast.Eq],
}


def _names(function: ast.FunctionDef) -> list[str]:
    """The function's own names: its arguments and what it assigns, in order of appearance."""
    found = [a.arg for a in function.args.args]
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            found.append(node.id)
    return list(dict.fromkeys(found))


def _changes(node: ast.AST, names: list[str]) -> Iterator[ast.AST]:
    """The replacements of one node that make a mutant."""
    if isinstance(node, ast.BinOp):
        for other in SWAPS.get(type(node.op), []):
            yield ast.BinOp(node.left, other(), node.right)
        yield node.left
        yield node.right
    elif isinstance(node, ast.Compare) and len(node.ops) == 1:
        for other in COMPARES.get(type(node.ops[0]), []):
            yield ast.Compare(node.left, [other()], node.comparators)
    elif isinstance(node, ast.Constant) and type(node.value) in (int, float):
        value = node.value
        for new in [value + 1, value - 1] if isinstance(value, int) else [value * 2, value / 2]:
            yield ast.Constant(new)
        if value not in (0, 0.0):
            yield ast.Constant(type(value)(0))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        yield node.operand
    elif isinstance(node, ast.Attribute) and node.attr in ("T", "mT"):
        yield node.value
    elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in names:
        others = [n for n in names if n != node.id][:4]
        for other in others:
            yield ast.Name(other, ast.Load())
    elif isinstance(node, ast.Call) and len(node.args) == 1 and not node.keywords:
        yield node.args[0]
    elif isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple):
        elements = node.value.elts
        if len(elements) >= 2:
            swapped = [elements[1], elements[0], *elements[2:]]
            yield ast.Return(ast.Tuple(swapped, ast.Load()))


def mutants(source: str) -> list[str]:
    """Every single-change mutant of the one function in ``source`` (docstring removed), as
    source; duplicates and code that does not compile left out."""
    tree = ast.parse(source)
    function = next(n for n in tree.body if isinstance(n, ast.FunctionDef))
    body = function.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        function.body = body[1:]
    original = ast.unparse(tree)
    names = _names(function)
    sites = [n for n in ast.walk(function) if n is not function]
    found: dict[str, None] = {}
    for index in range(len(sites)):
        for replacement in _changes(sites[index], names):
            copied = copy.deepcopy(tree)
            target = [n for n in ast.walk(copied.body[0]) if n is not copied.body[0]][index]
            _replace(copied, target, replacement)
            try:
                text = ast.unparse(ast.fix_missing_locations(copied))
                compile(text, "<mutant>", "exec")
            except (SyntaxError, ValueError, TypeError):
                continue
            if text != original:
                found[text] = None
    return list(found)


def _replace(tree: ast.AST, target: ast.AST, replacement: ast.AST) -> None:
    for parent in ast.walk(tree):
        for field, value in ast.iter_fields(parent):
            if value is target:
                setattr(parent, field, copy.deepcopy(replacement))
                return
            if isinstance(value, list):
                for position, item in enumerate(value):
                    if item is target:
                        value[position] = copy.deepcopy(replacement)
                        return
