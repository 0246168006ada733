"""`autograder gradescope`: the zip Gradescope takes, and what its run_autograder writes.

The layout follows Gradescope's specification (gradescope/autograder_samples, docs/specs.md):
setup.sh and run_autograder at the top of the zip, unpacked into /autograder/source;
run_autograder runs in /autograder with the submission in /autograder/submission and writes
/autograder/results/results.json. The end-to-end tests unpack the zip into a temporary folder
laid out like /autograder, install the zip's own package into a virtual environment (as
setup.sh does, without the network: the dependencies come from this environment), and run
run_autograder on correct, wrong and broken submissions, in the bubblewrap sandbox and, with
bubblewrap taken off PATH, as the unprivileged user."""

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from dataclasses import asdict
from importlib import metadata
from pathlib import Path

import nbformat
import pytest
from grading import as_bytes, grade, write_batch
from notebooks import SOURCES, reference_code, submission

from autograder.checks._score import PartResult
from autograder.cli import main
from autograder.grading import gradescope
from autograder.grading.course import Course
from autograder.grading.engine import CellResult, Status
from autograder.grading.sandbox import Limits

ASSIGNMENT = "nn-review"
WRONG_RELU = "def relu(x):\n    return x\n"

# -- Gradescope's results.json, as docs/specs.md describes it ---------------------------------
TOP = {
    "score", "execution_time", "output", "output_format", "test_output_format",
    "test_name_format", "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard",
}  # fmt: skip
TEST = {
    "score", "max_score", "status", "name", "name_format", "number", "output",
    "output_format", "tags", "visibility", "extra_data",
}  # fmt: skip
VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}
FORMATS = {"text", "html", "simple_format", "md", "ansi"}


def check_spec(results: dict) -> None:
    """results.json has only the fields the specification names, with their types."""
    assert set(results) <= TOP, set(results) - TOP
    assert isinstance(results["score"], int | float) and results["score"] >= 0
    assert isinstance(results["execution_time"], int | float)
    assert isinstance(results["output"], str)
    for key in ("output_format", "test_output_format", "test_name_format"):
        assert results.get(key, "text") in FORMATS
    assert results.get("visibility", "visible") in VISIBILITY
    numbers = set()
    for test in results["tests"]:
        assert set(test) <= TEST, set(test) - TEST
        assert isinstance(test["name"], str) and test["name"]
        assert test.get("visibility", "visible") in VISIBILITY
        assert test.get("status", "passed") in {"passed", "failed"}
        assert isinstance(test.get("output", ""), str)
        if "score" in test:
            assert 0 <= test["score"] <= test["max_score"]
        assert test["number"] not in numbers
        numbers.add(test["number"])
    scored = sum(t["score"] for t in results["tests"] if "score" in t)
    assert abs(scored - results["score"]) < 1e-9


def cell_points(results: dict) -> dict[str, float]:
    """Points per test cell: its entry's, or its parts' entries' added up."""
    points: dict[str, float] = {}
    for test in results["tests"]:
        if "score" in test:
            cell = test["name"].split(":")[0]
            points[cell] = points.get(cell, 0.0) + test["score"]
    return points


# -- the zip ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Course]:
    root = tmp_path_factory.mktemp("gradescope")
    course = Course(root / "course", SOURCES)
    out = root / "autograder.zip"
    code = main(
        ["gradescope", ASSIGNMENT, "-o", str(out), "--course", str(course.root)]
        + ["--source", str(SOURCES.source_dir)]
    )
    assert code == 0
    return out, course


def test_the_zip_has_what_gradescope_runs_and_what_grading_needs(built, tmp_path):
    out, course = built
    with zipfile.ZipFile(out) as archive:
        infos = {i.filename: i for i in archive.infolist()}
        read = archive.read
        for name in ("setup.sh", "run_autograder"):  # at the top, executable
            assert stat.S_IMODE(infos[name].external_attr >> 16) & 0o111, name
        job = json.loads(read("assignment.json"))
        secret = read("secret")
        setup = read("setup.sh").decode()
        run = read("run_autograder").decode()
        project = tomllib.loads(read("package/pyproject.toml").decode())
        constraints = read("constraints.txt").decode()
        packaged = {
            n[len("package/") :]: read(n) for n in infos if n.startswith("package/autograder/")
        }
    # The assignment as the gradebook knows it: every test cell with its hidden tests.
    assignment = course.prepare(ASSIGNMENT)
    assert job["assignment"] == ASSIGNMENT and job["format"] == gradescope.FORMAT
    assert [t["grade_id"] for t in job["tests"]] == list(assignment.tests)
    for test in job["tests"]:
        mine = assignment.tests[test["grade_id"]]
        assert (test["source"], test["points"], test["checksum"]) == (
            mine.source,
            mine.points,
            mine.checksum,
        )
    assert any(gradescope.HIDDEN_MARK in t["source"] for t in job["tests"])
    assert job["locked"] == assignment.locked
    # A secret of its own, never the course's, new in each build.
    assert re.fullmatch(rb"[0-9a-f]{64}", secret) and secret != course.secret()
    again = tmp_path / "again.zip"
    gradescope.build(course, ASSIGNMENT, again)
    with zipfile.ZipFile(again) as archive:
        assert archive.read("secret") != secret
    # setup.sh: bubblewrap, torch as the course pins it (the CPU build), the package.
    pin = next(line for line in (SOURCES.root / "constraints.txt").read_text().splitlines() if line.startswith("torch=="))  # fmt: skip
    assert constraints.strip() == pin
    assert "bubblewrap" in setup and "download.pytorch.org/whl/cpu" in setup and pin in setup
    assert "/autograder/source/package" in setup and "chmod -R go= /autograder/source" in setup
    assert "-m autograder.grading.gradescope" in run
    for script in (setup, run):
        path = tmp_path / "script.sh"
        path.write_text(script)
        assert subprocess.run(["bash", "-n", str(path)]).returncode == 0
    # The package as installed here, with the grade extra's requirements.
    here = Path(gradescope.PACKAGE)
    assert packaged == {
        p.relative_to(here.parent).as_posix(): p.read_bytes()
        for p in here.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }
    wanted = [
        r.split(";")[0].strip()
        for r in metadata.requires("cnn-course")
        if ";" not in r or 'extra == "grade"' in r
    ]
    assert project["project"]["dependencies"] == wanted
    assert project["project"]["version"] == metadata.version("cnn-course")


# -- results.json from hand-made results ---------------------------------------------------------

JOB = {
    "assignment": "conv-layers",
    "tests": [
        {"grade_id": "test_a", "source": "checks.check_a(a)", "points": 2.0},
        {"grade_id": "test_b", "source": "x\n### BEGIN HIDDEN TESTS\ny\n### END HIDDEN TESTS\n", "points": 4.0},
        {"grade_id": "test_c", "source": "x\n### BEGIN HIDDEN TESTS\ny\n### END HIDDEN TESTS\n", "points": 2.0},
        {"grade_id": "test_d", "source": "checks.check_d(d)", "points": 1.0},
    ],
}  # fmt: skip


def test_parts_get_entries_of_their_own_and_hidden_cases_wait_for_publishing():
    parts = (
        PartResult("simple cases", 1.0, True),
        PartResult("stride", 1.0, False, "stride ignored"),
        PartResult("padding", 1.0, True),
        PartResult("hidden random cases", 1.0, False, "wrong values for x of shape (3, 5, 7, 2)"),
    )
    cells = [
        CellResult("test_a", 0.0, 2.0, Status.FAILED, "a: the bias is missing.\n  case 1: ..."),
        CellResult("test_b", 2.0, 4.0, Status.FAILED, "b: 2 of 4 points\n...stride ignored", parts),
        CellResult("test_c", 0.0, 2.0, Status.ERROR, "your code raised ValueError on (9, 9)"),
        CellResult("test_d", 1.0, 1.0, Status.PASSED),
    ]
    results = gradescope.results_for(JOB, cells, "", 12.4)
    check_spec(results)
    assert results["score"] == 3.0 and results["execution_time"] == 12
    assert results["output_format"] == results["test_output_format"] == "text"
    tests = {t["name"]: t for t in results["tests"]}
    # No hidden tests in the cell: the whole diagnosis, visible.
    assert tests["test_a"]["output"].startswith("a: the bias is missing.")
    assert tests["test_a"]["visibility"] == "visible" and tests["test_a"]["max_score"] == 2.0
    # Parts: one entry each; the hidden part's entry (its points and message) after publishing.
    assert [n for n in tests if n.startswith("test_b")] == [
        "test_b: simple cases",
        "test_b: stride",
        "test_b: padding",
        "test_b: hidden random cases",
    ]
    assert tests["test_b: stride"]["output"].startswith("b: 2 of 4 points")  # the first failing
    assert tests["test_b: stride"]["visibility"] == "visible"
    hidden = tests["test_b: hidden random cases"]
    assert hidden["visibility"] == "after_published" and "(3, 5, 7, 2)" in hidden["output"]
    assert all("(3, 5, 7, 2)" not in t.get("output", "") for t in results["tests"] if t["visibility"] == "visible")  # fmt: skip
    # A cell with hidden tests and no parts: its points visible, the message apart.
    assert tests["test_c"]["visibility"] == "visible" and "(9, 9)" not in tests["test_c"]["output"]
    assert tests["test_c: details"]["visibility"] == "after_published"
    assert (
        "(9, 9)" in tests["test_c: details"]["output"] and "score" not in tests["test_c: details"]
    )
    assert tests["test_d"]["status"] == "passed" and tests["test_d"]["output"] == ""
    assert cell_points(results) == {"test_a": 0.0, "test_b": 2.0, "test_c": 0.0, "test_d": 1.0}


def test_parts_that_do_not_add_up_to_the_cells_points_give_one_entry_for_the_cell():
    parts = (PartResult("simple cases", 2.0, True), PartResult("stride", 2.0, True))
    cells = [CellResult("test_b", 0.0, 4.0, Status.FAILED, "b: forbidden call to conv2d", parts)]
    results = gradescope.results_for({**JOB, "tests": JOB["tests"][1:2]}, cells, "", 1)
    check_spec(results)
    assert [t["name"] for t in results["tests"]] == ["test_b", "test_b: details"]
    assert results["score"] == 0.0


def test_messages_are_plain_text_cut_to_a_bound():
    text = "<b>x</b>\x1b]52;c;AAAA\x07" + "y" * 50_000
    cells = [CellResult("test_a", 0.0, 2.0, Status.FAILED, text)]
    results = gradescope.results_for({**JOB, "tests": JOB["tests"][:1]}, cells, "", 1)
    output = results["tests"][0]["output"]
    assert results["test_output_format"] == "text"  # Gradescope shows it as text, no HTML
    assert "\x1b" not in output and "\x07" not in output and len(output) < 21_000


# -- the run, for what never reaches a sandbox ------------------------------------------------


def lay_out(root: Path, job: dict, files: dict[str, bytes]) -> None:
    (root / "source").mkdir(parents=True)
    (root / "source" / "assignment.json").write_text(json.dumps(job))
    (root / "source" / "secret").write_text("ab" * 32)
    (root / "submission").mkdir()
    for name, data in files.items():
        path = root / "submission" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def small_job() -> dict:
    return {"format": gradescope.FORMAT, **JOB, "locked": {}, "limits": asdict(Limits())}


@pytest.mark.parametrize(
    "files, words",
    [
        ({}, ["No notebook (.ipynb)", "conv-layers.ipynb"]),
        ({"a.ipynb": b"{}", "sub/b.ipynb": b"{}"}, ["2 notebooks", "'a.ipynb'", "'sub/b.ipynb'"]),
        ({"notes.txt": b"hi", ".ipynb_checkpoints/x.ipynb": b"{}"}, ["No notebook"]),
    ],
    ids=["none", "two", "only-checkpoints"],
)
def test_no_notebook_or_two_are_a_clear_message_and_zero(tmp_path, files, words):
    lay_out(tmp_path, small_job(), files)
    assert gradescope.run(tmp_path) == 0
    results = json.loads((tmp_path / "results" / "results.json").read_text())
    check_spec(results)
    assert results["score"] == 0 and all(w in results["output"] for w in words)
    assert [t["name"] for t in results["tests"]] == [t["grade_id"] for t in JOB["tests"]]


def test_a_link_to_the_hidden_tests_is_not_read_as_the_notebook(tmp_path):
    lay_out(tmp_path, small_job(), {})
    (tmp_path / "submission" / "nb.ipynb").symlink_to(tmp_path / "source" / "secret")
    assert gradescope.run(tmp_path) == 0
    results = json.loads((tmp_path / "results" / "results.json").read_text())
    assert "cannot be read" in results["output"] and results["score"] == 0


def test_without_bubblewrap_and_without_root_nothing_is_graded_and_it_says_why(
    tmp_path, monkeypatch
):
    from autograder.grading import sandbox

    lay_out(tmp_path, small_job(), {"conv-layers.ipynb": b"{}"})
    monkeypatch.setattr(sandbox, "bubblewrap", lambda: None)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert gradescope.run(tmp_path) == 2
    results = json.loads((tmp_path / "results" / "results.json").read_text())
    check_spec(results)
    assert results["score"] == 0 and "Not graded" in results["output"]
    assert "bubblewrap" in results["output"] and "not your code" in results["output"]


def test_how_student_code_is_isolated():
    assert gradescope.isolation(True, 1000, None) == "bubblewrap"
    assert gradescope.isolation(False, 0, (65534, 65534)) == "user"
    assert gradescope.isolation(False, 0, None) == "refuse"
    assert gradescope.isolation(False, 0, (0, 0)) == "refuse"
    assert gradescope.isolation(False, 1000, (65534, 65534)) == "refuse"


def test_an_incomplete_autograder_still_writes_results(tmp_path):
    (tmp_path / "submission").mkdir()
    assert gradescope.main(["--root", str(tmp_path)]) == 2
    results = json.loads((tmp_path / "results" / "results.json").read_text())
    check_spec(results)
    assert "incomplete" in results["output"]


# -- end to end --------------------------------------------------------------------------------

PROBE = """import os
_leaks = []
for _path in ["{root}/source/secret", "{root}/source/assignment.json"]:
    try:
        _leaks.append(open(_path).read()[:10])
    except OSError:
        pass
try:
    _leaks.append(os.listdir("{root}/source"))
except OSError:
    pass
try:
    with open("{root}/results/results.json", "w") as _file:
        _file.write('{{"score": 999, "tests": []}}')
    _leaks.append("wrote the results")
except OSError:
    pass
"""


def probing(root: Path):
    """A correct notebook whose relu cell first tries to read the hidden tests and the
    secret and to write the results; relu is wrong if any of it worked."""
    relu = reference_code(ASSIGNMENT)["relu"]
    code = PROBE.format(root=root) + relu + "\nif _leaks:\n    def relu(x):\n        return x\n"
    return submission(ASSIGNMENT, {"relu": code})


def _deps() -> list[str]:
    return [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]


@pytest.fixture(scope="module")
def installed(built) -> Path:
    """A virtual environment with the zip's own package installed (as setup.sh installs it,
    its dependencies taken from this environment), that any user may run."""
    out, _ = built
    place = Path(tempfile.mkdtemp(prefix="gradescope-venv-", dir="/tmp"))
    os.chmod(place, 0o755)
    try:
        with zipfile.ZipFile(out) as archive:
            archive.extractall(place / "zip")
        base = getattr(sys, "_base_executable", sys.executable)
        subprocess.run([base, "-m", "venv", "--without-pip", str(place / "venv")], check=True)
        python = place / "venv" / "bin" / "python"
        site = subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        (Path(site) / "zz_dependencies.pth").write_text("\n".join(_deps()) + "\n")
        subprocess.run(
            [python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation"]
            + ["--no-index", str(place / "zip" / "package")],
            check=True,
        )
        found = subprocess.run(
            [python, "-I", "-c", "import autograder; print(autograder.__file__)"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        assert found.startswith(site), found  # the zip's copy, not this checkout
        yield python
    finally:
        shutil.rmtree(place, ignore_errors=True)


def gradescope_root(built, files: dict[str, bytes]) -> Path:
    """A folder laid out like /autograder, any user may enter it (so that only what
    run_autograder does keeps student code out of source/ and results/)."""
    out, _ = built
    root = Path(tempfile.mkdtemp(prefix="autograder-root-", dir="/tmp"))
    os.chmod(root, 0o755)
    with zipfile.ZipFile(out) as archive:
        archive.extractall(root / "source")
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    (root / "results").mkdir(mode=0o777)
    os.chmod(root / "results", 0o777)
    for path in [root / "source", *(root / "source").rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    (root / "submission").mkdir()
    for name, data in files.items():
        (root / "submission" / name).write_bytes(data)
    (root / "submission_metadata.json").write_text(json.dumps({"users": [{"id": 4242}]}))
    return root


def _opened_for(python: Path, scratch: Path) -> list[str]:
    """Mounts that let any user run ``python`` when a folder above it is closed (here the
    interpreter lives under /root): the closed folder becomes an empty open one, with the
    interpreter's tree bound back in; in a mount namespace of the command's own."""
    real = Path(os.path.realpath(python))
    for folder in real.parents:
        inner = (
            real.parents[list(real.parents).index(folder) - 1] if folder != real.parent else real
        )
        if folder != Path("/") and not os.stat(folder).st_mode & stat.S_IXOTH:
            keep = tempfile.mkdtemp(prefix="keep-", dir=scratch)
            mount, mkdir = shutil.which("mount"), shutil.which("mkdir")
            return [
                f"{mount} --bind {inner} {keep}",
                f"{mount} -t tmpfs -o mode=755 tmpfs {folder}",
                f"{mkdir} -p {inner}",
                f"{mount} --bind {keep} {inner}",
            ]
    return []


def run_autograder(root: Path, python: Path, without_bubblewrap: bool = False) -> dict:
    environment = {
        "AUTOGRADER_ROOT": str(root),
        "AUTOGRADER_PYTHON": str(python),
        "PATH": os.environ["PATH"],
        "LANG": "C.UTF-8",
    }
    command = ["bash", str(root / "run_autograder")]
    if without_bubblewrap:  # PATH without bwrap: as on a machine that cannot run it
        empty = root / "no-bubblewrap"
        empty.mkdir()
        environment["PATH"] = str(empty)
        opened = _opened_for(python, root)
        if opened:
            script = " && ".join([*opened, "exec /bin/bash " + str(root / "run_autograder")])
            unshare = shutil.which("unshare")
            if unshare is None:
                pytest.skip(f"no user but root may run {python}, and there is no unshare")
            command = [unshare, "--mount", "--propagation", "private", "/bin/sh", "-c", script]
    done = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, (done.stdout, done.stderr)
    results = json.loads((root / "results" / "results.json").read_text())
    check_spec(results)
    return results | {"_stdout": done.stdout}


@pytest.fixture(scope="module")
def gradebook_points(tmp_path_factory) -> dict[str, dict[str, float]]:
    """The same notebooks graded by `autograder grade`: points per test cell."""
    root = tmp_path_factory.mktemp("local")
    students = {
        "correct": submission(ASSIGNMENT),
        "wrong": submission(ASSIGNMENT, {"relu": WRONG_RELU}),
    }
    summary, results = grade(
        root / "course", ASSIGNMENT, write_batch(root / "in", ASSIGNMENT, students)
    )
    return {s: {g: c.points for g, c in cells.items()} for s, cells in results.items()}


@pytest.mark.slow
def test_run_autograder_grades_like_the_gradebook_and_keeps_student_code_out(
    built, installed, gradebook_points
):
    roots = []
    try:
        root = gradescope_root(built, {})
        roots.append(root)
        (root / "submission" / "nn-review.ipynb").write_bytes(as_bytes(probing(root)))
        results = run_autograder(root, installed)
        assert "bubblewrap sandbox" in results["_stdout"]
        assert cell_points(results) == gradebook_points["correct"]
        assert results["score"] == sum(gradebook_points["correct"].values()) > 0
        assert (root / "source" / "secret").read_bytes() and results["score"] != 999

        root = gradescope_root(built, {"Lovelace_nn-review.ipynb": as_bytes(submission(ASSIGNMENT, {"relu": WRONG_RELU}))})  # fmt: skip
        roots.append(root)
        results = run_autograder(root, installed)
        assert cell_points(results) == gradebook_points["wrong"]
        relu = [t for t in results["tests"] if t["name"].startswith("test_relu")]
        assert sum(t.get("score", 0) for t in relu) == 0
        assert any("relu" in t.get("output", "") for t in relu)  # the diagnosis

        root = gradescope_root(built, {"nn-review.ipynb": b'{"cells": [ broken'})
        roots.append(root)
        results = run_autograder(root, installed)
        assert results["score"] == 0 and "could not be graded" in results["output"]
        assert "not valid notebook JSON" in results["output"]
    finally:
        for root in roots:
            shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="grading as an unprivileged user needs root")
def test_without_bubblewrap_student_code_runs_as_nobody_and_still_cannot_reach_source_or_results(
    built, installed, gradebook_points
):
    root = gradescope_root(built, {})
    try:
        (root / "submission" / "nn-review.ipynb").write_bytes(as_bytes(probing(root)))
        results = run_autograder(root, installed, without_bubblewrap=True)
        assert "user nobody" in results["_stdout"]
        assert cell_points(results) == gradebook_points["correct"]  # nothing leaked
        assert stat.S_IMODE(os.stat(root / "source").st_mode) == 0o700
        assert stat.S_IMODE(os.stat(root / "results").st_mode) == 0o755
        assert os.stat(root / "results" / "results.json").st_uid == 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_probing_notebook_is_a_notebook():  # the helper itself, cheaply
    notebook = probing(Path("/autograder"))
    nbformat.validate(notebook)
    assert "/autograder/source/secret" in as_bytes(notebook).decode()
