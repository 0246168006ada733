"""Mutants of a reference solution: every single small change a student's slip could make,
each as source code, for the mutation tests of the checks (tests/test_mutants_nn.py,
tests/test_mutants_conv.py).

A small generator of our own: the maintained tools (mutmut, cosmic-ray, mutatest) mutate a
package's files on disk and run a test command per mutant; here a mutant is one function's
source, run through its check in the test's process, hundreds per minute.

One engine (:func:`mutants`) walks the function's syntax tree and, at every node, applies
the *rules* of a :class:`Profile`: each rule yields the nodes that may replace one node (an
operator swapped, a term dropped, a constant changed...). A profile may also leave out each
statement in turn. Two profiles, one per test, each tuned to what slips look like there:

- :data:`SCALAR` (activations, dense layers, gradients, SGD, networks, sizes): operators
  and comparisons swapped, terms dropped, numbers changed (also to 0; floats doubled and
  halved), a minus or a transpose left out, a name used for another of the function's own
  names, a one-argument call left out, the two values of a returned pair swapped.
- :data:`CONV` (the convolutions): operators swapped, terms dropped, integers off by one,
  the names of the two axes (or of the two channel counts...) swapped, neighbours in a tuple
  of indices, axes or sizes swapped, a loop bound off by one, a flip, permute, transpose or
  contiguous left out, a statement left out.
"""

import ast
import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Names:
    """The names a rule may use in the mutated function: ``own``, its arguments and what it
    assigns, in order of appearance; ``every``, every name it reads or binds."""

    own: tuple[str, ...]
    every: frozenset[str]

    @staticmethod
    def of(function: ast.FunctionDef) -> "Names":
        own = [a.arg for a in function.args.args]
        own += [
            n.id
            for n in ast.walk(function)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
        ]
        every = {n.id for n in ast.walk(function) if isinstance(n, ast.Name)}
        every |= {a.arg for a in ast.walk(function) if isinstance(a, ast.arg)}
        return Names(tuple(dict.fromkeys(own)), frozenset(every))


Rule = Callable[[ast.AST, Names], Iterator[ast.AST]]


# -- rules: each yields the replacements of one node -----------------------------------------
def operator_swapped(table: dict[type, list[type]]) -> Rule:
    """``a + b`` as ``a - b``, ..., as ``table`` lists for each operator."""

    def rule(node: ast.AST, names: Names) -> Iterator[ast.AST]:
        if isinstance(node, ast.BinOp):
            for other in table.get(type(node.op), []):
                yield ast.BinOp(node.left, other(), node.right)

    return rule


def term_dropped(node: ast.AST, names: Names) -> Iterator[ast.AST]:
    """``a + b`` as ``a``, and as ``b``."""
    if isinstance(node, ast.BinOp):
        yield node.left
        yield node.right


def comparison_swapped(table: dict[type, list[type]]) -> Rule:
    """``a > b`` as ``a >= b``, ..., as ``table`` lists (single comparisons only)."""

    def rule(node: ast.AST, names: Names) -> Iterator[ast.AST]:
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            for other in table.get(type(node.ops[0]), []):
                yield ast.Compare(node.left, [other()], node.comparators)

    return rule


def number_changed(floats: bool, zero: bool) -> Rule:
    """An integer one more and one less; with ``floats``, a float doubled and halved; with
    ``zero``, a number other than 0 made 0."""

    def rule(node: ast.AST, names: Names) -> Iterator[ast.AST]:
        if not isinstance(node, ast.Constant) or type(node.value) not in (int, float):
            return
        value = node.value
        if type(value) is int:
            yield ast.Constant(value + 1)
            yield ast.Constant(value - 1)
        elif floats:
            yield ast.Constant(value * 2)
            yield ast.Constant(value / 2)
        else:
            return
        if zero and value not in (0, 0.0):
            yield ast.Constant(type(value)(0))

    return rule


def minus_dropped(node: ast.AST, names: Names) -> Iterator[ast.AST]:
    """``-a`` as ``a``."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        yield node.operand


def transpose_dropped(node: ast.AST, names: Names) -> Iterator[ast.AST]:
    """``W.T`` (or ``.mT``) as ``W``."""
    if isinstance(node, ast.Attribute) and node.attr in ("T", "mT"):
        yield node.value


def own_name_for_another(node: ast.AST, names: Names) -> Iterator[ast.AST]:
    """A name the function binds read as each of (up to) 4 others it binds."""
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in names.own:
        for other in [n for n in names.own if n != node.id][:4]:
            yield ast.Name(other, ast.Load())


def names_swapped(pairs: list[tuple[str, str]]) -> Rule:
    """A name read as its partner in ``pairs`` (``h`` as ``w``...), where the function has
    both."""

    def rule(node: ast.AST, names: Names) -> Iterator[ast.AST]:
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            for a, b in pairs:
                if node.id in (a, b) and {a, b} <= names.every:
                    yield ast.Name(b if node.id == a else a, ast.Load())

    return rule


def one_argument_call_dropped(node: ast.AST, names: Names) -> Iterator[ast.AST]:
    """``f(a)`` as ``a``."""
    if isinstance(node, ast.Call) and len(node.args) == 1 and not node.keywords:
        yield node.args[0]


def returned_pair_swapped(node: ast.AST, names: Names) -> Iterator[ast.AST]:
    """``return a, b`` as ``return b, a``."""
    if isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple):
        elements = node.value.elts
        if len(elements) >= 2:
            swapped = [elements[1], elements[0], *elements[2:]]
            yield ast.Return(ast.Tuple(swapped, ast.Load()))


def tuple_neighbours_swapped(node: ast.AST, names: Names) -> Iterator[ast.AST]:
    """Two neighbours in a tuple (of indices, axes, sizes, pairs) swapped."""
    if isinstance(node, ast.Tuple) and len(node.elts) >= 2:
        for k in range(len(node.elts) - 1):
            elements = list(node.elts)
            elements[k], elements[k + 1] = elements[k + 1], elements[k]
            yield ast.Tuple(elements, node.ctx)


def loop_bound_off_by_one(node: ast.AST, names: Names) -> Iterator[ast.AST]:
    """``range(..., n)`` as ``range(..., n + 1)`` and ``range(..., n - 1)``."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range":
        if node.args:
            bound = node.args[-1]
            for delta in (ast.Add(), ast.Sub()):
                args = [*node.args[:-1], ast.BinOp(bound, delta, ast.Constant(1))]
                yield ast.Call(node.func, args, node.keywords)


def method_dropped(methods: tuple[str, ...]) -> Rule:
    """``x.flip(...)`` (or another of ``methods``) as ``x``."""

    def rule(node: ast.AST, names: Names) -> Iterator[ast.AST]:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in methods:
                yield node.func.value

    return rule


@dataclass(frozen=True)
class Profile:
    """What :func:`mutants` changes: ``rules`` at every node (in this order), each statement
    left out in turn (``statements``, not a ``return``, not the only one of its block), and
    whether the function's docstring is removed first (``docstring``: kept)."""

    rules: tuple[Rule, ...]
    statements: bool = False
    docstring: bool = False


SCALAR = Profile(
    rules=(
        operator_swapped(
            {
                ast.Add: [ast.Sub, ast.Mult],
                ast.Sub: [ast.Add],
                ast.Mult: [ast.Div, ast.Add],
                ast.Div: [ast.Mult, ast.FloorDiv],
                ast.FloorDiv: [ast.Div, ast.Mult],
                ast.MatMult: [ast.Mult],
                ast.Pow: [ast.Mult],
                ast.Mod: [ast.FloorDiv],
            }
        ),
        term_dropped,
        comparison_swapped(
            {
                ast.Gt: [ast.GtE, ast.Lt],
                ast.GtE: [ast.Gt, ast.LtE],
                ast.Lt: [ast.LtE, ast.Gt],
                ast.LtE: [ast.Lt, ast.GtE],
                ast.Eq: [ast.NotEq],
                ast.NotEq: [ast.Eq],
            }
        ),
        number_changed(floats=True, zero=True),
        minus_dropped,
        transpose_dropped,
        own_name_for_another,
        one_argument_call_dropped,
        returned_pair_swapped,
    ),
)

CONV = Profile(
    rules=(
        operator_swapped(
            {
                ast.Add: [ast.Sub, ast.Mult],
                ast.Sub: [ast.Add],
                ast.Mult: [ast.Add, ast.FloorDiv],
                ast.FloorDiv: [ast.Mult],
                ast.Div: [ast.Mult],
                ast.MatMult: [ast.Mult],
            }
        ),
        term_dropped,
        number_changed(floats=False, zero=False),
        names_swapped(
            [
                ("h", "w"),
                ("k_h", "k_w"),
                ("s_h", "s_w"),
                ("p_h", "p_w"),
                ("c_in", "c_out"),
                ("i", "j"),
                ("h_out", "w_out"),
                ("s_row", "s_col"),
                ("n", "c_in"),
            ]
        ),
        tuple_neighbours_swapped,
        loop_bound_off_by_one,
        method_dropped(("flip", "permute", "transpose", "contiguous", "T")),
    ),
    statements=True,
    docstring=True,
)


# -- the engine --------------------------------------------------------------------------------
def mutants(source: str, function: str | None = None, profile: Profile = SCALAR) -> list[str]:
    """Every single-change mutant of ``function`` in ``source`` (by default the first
    function defined at its top level; the rest of ``source``, e.g. a class around it, kept),
    as source; duplicates, code that does not compile and the unchanged source left out."""
    tree = ast.parse(source)
    target = _function(tree, function)
    if not profile.docstring and _docstring(target):
        target.body = target.body[1:]
    original = ast.unparse(tree)
    names = Names.of(target)
    found: dict[str, None] = {}

    def keep(copied: ast.AST) -> None:
        try:
            text = ast.unparse(ast.fix_missing_locations(copied))
            compile(text, "<mutant>", "exec")
        except (SyntaxError, ValueError, TypeError):
            return
        if text != original:
            found[text] = None

    sites = [n for n in ast.walk(target) if n is not target]
    for index, site in enumerate(sites):
        for rule in profile.rules:
            for replacement in rule(site, names):
                copied = copy.deepcopy(tree)
                mine = _function(copied, function)
                node = [n for n in ast.walk(mine) if n is not mine][index]
                _replace(mine, node, replacement)
                keep(copied)
    if profile.statements:
        for statements in [n.body for n in ast.walk(target) if hasattr(n, "body")]:
            for statement in statements:
                if isinstance(statement, ast.Return) or len(statements) < 2:
                    continue
                copied = copy.deepcopy(tree)
                mine = _function(copied, function)
                twin = next(n for n in ast.walk(mine) if ast.dump(n) == ast.dump(statement))
                for parent in ast.walk(mine):
                    body = getattr(parent, "body", None)
                    if isinstance(body, list) and any(item is twin for item in body):
                        body.remove(twin)
                        break
                keep(copied)
    return list(found)


def _function(tree: ast.AST, name: str | None) -> ast.FunctionDef:
    if name is None:
        return next(n for n in tree.body if isinstance(n, ast.FunctionDef))
    return next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == name)


def _docstring(function: ast.FunctionDef) -> bool:
    body = function.body
    return bool(body) and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)


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
