"""One notation everywhere (issue 23): ``b`` is only ever a bias, never an index. Kernel
offsets are ``u`` (row) and ``v`` (column). Checked in the notebooks (source and released),
the book's pages (prose, maths and code cells) and the messages the checks show students."""

import ast
import json
import re
from pathlib import Path

import pytest
from notebooks import REPO

# In prose and maths: something indexed (a name, ``}`` or ``)`` right before ``[``) whose
# index mentions b (b, b', i + b), or b in a subscript: ``_{a, b}``, ``\sum_{b=0}``, ``\sum_b``
# (``grad_b``, the bias's gradient, is a name, not a subscript).
INDEXED = re.compile(r"[\w})]\[([^\[\]\n]*)\]")
SUBSCRIPT = re.compile(r"_\{([^{}\n]*)\}|\\(?:sum|prod)_(b)(?!\w)")
B = re.compile(r"(?<![\w\\])b(?!\w)")
MAGIC = re.compile(r"^\s*[%!].*$", re.MULTILINE)  # IPython magics and shell lines in code cells
CODE_CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
OPTIONS = re.compile(r"\A(?:---\n.*?\n---\n|(?::[^\n]*\n)+)", re.DOTALL)  # a cell's options


def text_clashes(text: str) -> list[str]:
    """Where prose or maths uses b as an index."""
    found = [m.group(0) for m in INDEXED.finditer(text) if B.search(m.group(1))]
    for m in SUBSCRIPT.finditer(text):
        inside = m.group(1) if m.group(1) is not None else m.group(2)
        if B.search(inside):
            found.append(m.group(0))
    return found


def _ranges(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range"
    )


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def code_clashes(code: str) -> list[str]:
    """Where code uses b as an index: inside a subscript, or counting over a range. Strings
    in the code (messages, labels) are read as text."""
    try:
        tree = ast.parse(MAGIC.sub("", code))
    except SyntaxError:
        return text_clashes(code)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and "b" in _names(node.slice):
            found.append(ast.unparse(node))
        elif isinstance(node, ast.For | ast.comprehension) and _ranges(node.iter):
            if "b" in _names(node.target):
                found.append(f"for {ast.unparse(node.target)} in {ast.unparse(node.iter)}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found += text_clashes(node.value)
    return found


def notebook_clashes(path: Path) -> list[str]:
    found = []
    for cell in json.loads(path.read_text())["cells"]:
        source = "".join(cell["source"])
        clashes = code_clashes(source) if cell["cell_type"] == "code" else text_clashes(source)
        found += [f"{cell['id']}: {c}" for c in clashes]
    return found


def page_clashes(path: Path) -> list[str]:
    text = path.read_text()
    found = []
    for cell in CODE_CELL.finditer(text):
        found += [f"code cell: {c}" for c in code_clashes(OPTIONS.sub("", cell.group(1)))]
    found += text_clashes(CODE_CELL.sub("", text))
    return found


def message_clashes(path: Path) -> list[str]:
    """The checks' messages: every string in the module (its code may name things freely)."""
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found += [f"line {node.lineno}: {c}" for c in text_clashes(node.value)]
        elif isinstance(node, ast.JoinedStr):  # f-strings: their literal parts
            literal = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
            found += [f"line {node.lineno}: {c}" for c in text_clashes(literal)]
    return found


@pytest.mark.parametrize(
    "text",
    [
        r"$\text{out}[i, j] = \sum_{a, b} x[i + a, j + b] \cdot w[a, b]$",
        r"$$\sum_{b=0}^{K_w-1} w[o, c, a, b']$$",
        r"$\sum_b x_b$",
        "out[i, j] = Σ x[i + a, j + b] · w[a, b], with no flip",
        r"\tilde{x}[n, c, iS + a, jS + b]",
    ],
)
def test_an_index_named_b_is_found_in_text(text):
    assert text_clashes(text)


@pytest.mark.parametrize(
    "text",
    [
        r"$\text{out}[n, o, i, j] = b[o] + \sum_{c} \sum_{u} \sum_{v} \tilde{x}[n, c, i + u, j + v]$",
        r"$y = f(\mathbf{w} \cdot \mathbf{x} + b)$ with bias $b$ and biases `b[o]`",
        "an interval $[a, b]$, the pair `(W, b)`, layers `[(W, b), (W2, b2)]`",
        r"$\mathbf{b} \in \mathbb{R}^{D_{out}}$, `bias[o]`",
    ],
)
def test_the_bias_and_other_brackets_are_not_flagged(text):
    assert text_clashes(text) == []


def test_an_index_named_b_is_found_in_code():
    assert code_clashes("for b in range(3):\n    y[:, b] = x[b] + 1\n")
    assert code_clashes("terms = [w[o, c, a, b] for a in range(3) for b in range(3)]")
    assert code_clashes("print('w[a, b] is the weight')")
    assert code_clashes("%matplotlib inline\nangles[b]")
    clean = (
        "def dense(x, W, b):\n    return x @ W.T + b\nlayers = [(W, b)]\nb[o] + bias[o] - grad_b\n"
    )
    assert code_clashes(clean) == []


NOTEBOOKS = sorted(REPO.glob("solutions/*/*.ipynb")) + sorted(REPO.glob("exercises/*/*.ipynb"))
PAGES = sorted((REPO / "book").glob("*.md"))
CHECKS = sorted((REPO / "autograder" / "checks").glob("*.py"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(REPO)))
def test_notebooks_use_b_only_for_the_bias(path):
    assert notebook_clashes(path) == []


@pytest.mark.parametrize("path", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_the_book_uses_b_only_for_the_bias(path):
    assert page_clashes(path) == []


@pytest.mark.parametrize("path", CHECKS, ids=lambda p: str(p.relative_to(REPO)))
def test_the_checks_messages_use_b_only_for_the_bias(path):
    assert message_clashes(path) == []
