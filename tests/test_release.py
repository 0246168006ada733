"""exercises/ is exactly what `autograder release` makes from solutions/, and leaks nothing."""

import json

import pytest
from notebooks import SOURCES, released_notebook

from autograder.cli import main
from autograder.release import assignments as release

ASSIGNMENTS = ["conv-layers", "nn-review"]
CONTRACT = {
    "nn-review": [
        "def sigmoid(x):",
        "def tanh(x):",
        "def relu(x):",
        "def neuron(x, w, b, activation):",
        "def dense_forward(x, W, b, activation):",
        "def dense_param_count(in_features, out_features, bias=True):",
        "def neuron_gradients(x, w, b, target):",
        "def sgd_step(w, b, grad_w, grad_b, lr):",
    ],
    "conv-layers": [
        "def conv_param_count(in_channels, out_channels, kernel_size, bias=True):",
        "def conv_output_size(in_size, kernel_size, stride=1, padding=0):",
        "def same_padding(kernel_size):",
        "def corr2d(image, kernel):",
        "def conv2d_naive(x, weight, bias=None, stride=1, padding=0):",
        "def conv2d_fast(x, weight, bias=None, stride=1, padding=0):",
        "class Conv2d(nn.Module):",
    ],
}


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
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "seed="):
        assert marker not in text
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
