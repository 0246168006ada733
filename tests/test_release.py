"""exercises/ is exactly what `autograder release` makes from solutions/, and leaks nothing."""

import ast
import json
import re

import pytest
from notebooks import SOURCES, reference_code, released_notebook, source_notebook

from autograder.cli import main
from autograder.release import assignments as release

ASSIGNMENTS = ["conv-layers", "nn-review"]
CONTRACT = {
    "nn-review": [
        "def sigmoid(x):",
        "def tanh(x):",
        "def relu(x):",
        "def dense_forward(x, W, b, activation):",
        "def mlp_forward(x, layers, activation):",
        "def mlp_param_count(sizes, bias=True):",
        "def neuron_gradients(x, w, b, target):",
        "def sgd_step(w, b, grad_w, grad_b, lr):",
    ],
    "conv-layers": [
        "def conv_output_shape(x_shape, weight_shape, stride=1, padding=0):",
        "def conv_layer_cost(x_shape, weight_shape, stride=1, padding=0, bias=True):",
        "def same_padding(kernel_size):",
        "def corr2d_padded(image, kernel, padding):",
        "def conv2d_naive(x, weight, bias=None, stride=1, padding=0):",
        "def conv2d_fast(x, weight, bias=None, stride=1, padding=0):",
        "class Conv2d(nn.Module):",
    ],
}
HIDDEN_SEED = re.compile(r"seed\s*=\s*\d")  # a hidden test's seed (the visible cell passes None)


def test_assignments_are_found():
    assert SOURCES.assignments() == ASSIGNMENTS


@pytest.mark.slow
def test_exercises_equal_a_fresh_release(tmp_path):
    written = release.release(SOURCES, release_dir=tmp_path)
    assert [p.parent.name for p in written] == ASSIGNMENTS
    for path in written:
        assert release.normalised(path) == release.normalised(SOURCES.released(path.parent.name))
    assert release.stale(SOURCES) == []


def test_release_check_flags_a_stale_notebook(tmp_path, monkeypatch):
    monkeypatch.setattr(release, "stale", lambda sources: ["conv-layers"])
    assert main(["release", "--check"]) == 1


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_released_notebook_holds_no_solution_or_hidden_test(assignment):
    text = SOURCES.released(assignment).read_text()
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS"):
        assert marker not in text
    assert not HIDDEN_SEED.search(text)
    notebook = json.loads(text)
    stubs = [c for c in notebook["cells"] if c["metadata"].get("nbgrader", {}).get("solution")]
    assert stubs and all("raise NotImplementedError()" in "".join(c["source"]) for c in stubs)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_released_notebook_keeps_the_contract(assignment):
    source = "\n".join(c.source for c in released_notebook(assignment).cells)
    for line in CONTRACT[assignment]:
        assert line in source
    assert "# YOUR CODE HERE" in source


def test_unknown_assignment_is_a_clear_error(capsys):
    assert main(["release", "no-such-assignment"]) == 2
    assert "no source notebook for no-such-assignment" in capsys.readouterr().err


def test_a_new_gradebook_is_stamped_without_the_alembic_script(tmp_path, monkeypatch):
    """nbgrader runs the `alembic` script to stamp a new gradebook (seconds, and only with
    the script on PATH); once `release.assignments` is imported (above) the same version is
    read in process."""
    import subprocess
    import sys
    from pathlib import Path

    from nbgrader.api import Gradebook
    from nbgrader.dbutil import _temp_alembic_ini
    from sqlalchemy import text

    with _temp_alembic_ini(f"sqlite:///{tmp_path / 'unused.db'}") as ini:
        script = Path(sys.executable).parent / "alembic"
        heads = subprocess.run([script, "-c", ini, "heads"], capture_output=True, text=True)
    assert heads.returncode == 0, heads.stderr
    monkeypatch.setenv("PATH", str(tmp_path))  # no alembic script to find
    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}") as gradebook:
        stamped = gradebook.db.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert stamped == heads.stdout.split()[0]


def _test_cells(assignment: str) -> list[tuple[str, list[str], float, str]]:
    """Each test cell of the source notebook as ``(check, argument names, points, source)``."""
    found = []
    for cell in source_notebook(assignment).cells:
        nbgrader = cell.metadata.get("nbgrader", {})
        if not nbgrader.get("grade"):
            continue
        call = ast.parse(cell.source).body[-1].value
        check = f"{call.func.value.id}.{call.func.attr}"
        found.append((check, [a.id for a in call.args], float(nbgrader["points"]), cell.source))
    return found


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_test_cells_run_every_part_only_with_the_hidden_seed(assignment):
    """``hidden_seed = None``, the hidden block sets a seed, and the check's call (the
    cell's value: its Score) passes it on; the released cell keeps ``seed=None``."""
    released = {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in released_notebook(assignment).cells
        if c.metadata.get("nbgrader", {}).get("grade")
    }
    for check, _, _, source in _test_cells(assignment):
        if check == "checks.check_param_constants":  # the lecture's two numbers: no hidden cases
            assert "seed" not in source
            continue
        assert re.fullmatch(
            r"hidden_seed = None\n### BEGIN HIDDEN TESTS\nhidden_seed = \d+\n"
            r"### END HIDDEN TESTS\nchecks\.check_\w+\(\w+, seed=hidden_seed\)",
            source,
        ), source
    for source in released.values():
        assert "hidden_seed = None" in source or "seed" not in source
        assert source.rstrip().splitlines()[-1].startswith("checks.check_")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_introduction_lists_every_part_with_its_points(assignment):
    intro = source_notebook(assignment).cells[0].source
    rows = re.findall(r"^\| (\d+) \| (.+?) \| (\d+) \|$", intro, re.MULTILINE)
    listed = [(re.findall(r"`(\w+)`", what), float(points)) for _, what, points in rows]
    cells = _test_cells(assignment)
    assert listed == [(names, points) for _, names, points, _ in cells]
    total = re.search(r"\*\*total\*\* \| \*\*(\d+)\*\*", intro)
    assert float(total.group(1)) == sum(points for *_, points, _ in cells)
    assert "How points are given" in intro and "hidden cases" in intro
    assert "Download .ipynb" in intro and "Validate" in intro and "Submit" in intro


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_last_cell_is_the_locked_hand_in_check_of_every_part(assignment):
    last = source_notebook(assignment).cells[-1]
    assert last.cell_type == "code" and last.metadata["nbgrader"]["locked"]
    assert not last.metadata["nbgrader"]["grade"] and not last.metadata["nbgrader"]["solution"]
    [call] = [s.value for s in ast.parse(last.source).body if isinstance(s, ast.Expr)]
    assert call.func.id == "hand_in" and call.args[0].func.id == "globals"
    listed = [
        (part.value, names.value, float(points.value), f"{check.value.id}.{check.attr}")
        for part, names, points, check in (t.elts for t in call.args[1].elts)
    ]
    expected = [
        (number, ", ".join(names), points, check)
        for number, (check, names, points, _) in enumerate(_test_cells(assignment), 1)
    ]
    assert listed == expected


FORMULA = re.compile(r"@|//|floor|exp\(|max\(|sum\(|activation\(|\*\s*\(|_out\s*\*")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_docstrings_say_what_comes_back_not_the_formula(assignment):
    for grade_id, code in reference_code(assignment).items():
        for node in ast.walk(ast.parse(code)):
            if isinstance(node, ast.FunctionDef | ast.ClassDef) and not node.name.startswith("_"):
                doc = ast.get_docstring(node)
                if doc is None and node.name in ("__init__", "forward"):
                    continue
                assert doc, (grade_id, node.name)
                assert not FORMULA.search(doc), (grade_id, node.name, doc)
                if isinstance(node, ast.FunctionDef):
                    assert "Returns" in doc or "->" in doc, (grade_id, node.name, doc)


def test_every_catalogue_entry_targets_a_cell_the_notebook_has():
    """A wrong or correct entry for a task the notebook no longer asks would grade the
    reference and test nothing."""
    from catalogue import CORRECT, WRONG

    for entry in [*WRONG, *CORRECT]:
        cells = reference_code(entry.assignment)
        assert entry.cell in cells, (entry.name, entry.cell)
        if hasattr(entry, "test"):
            graded = {
                c.metadata["nbgrader"]["grade_id"]
                for c in source_notebook(entry.assignment).cells
                if c.metadata.get("nbgrader", {}).get("grade")
            }
            assert entry.test in graded and {*entry.cascade} <= graded, (entry.name, entry.test)
