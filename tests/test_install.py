"""The module outside its checkout: a student's fresh environment (torch, a plain Jupyter,
nothing of ours) installs the checks from the course site and self-checks; an instructor's
non-editable install grades a course kept anywhere."""

import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import nbformat
import pytest
from catalogue import WRONG
from grading import grade, write_batch
from notebooks import REPO, SOURCES, graded_cell_code, reference_code, submission

from autograder.grading.sandbox import bubblewrap
from autograder.release.assignments import point_install_cell
from autograder.release.hosting import WHEELS, build_wheel

pytestmark = pytest.mark.slow
RUNNER = Path(__file__).with_name("run_notebooks.py")
ASSIGNMENTS = SOURCES.assignments()
TOOLCHAIN = ("nbgrader", "jupyter_book", "autograder")


def clean_environment(venv: Path) -> dict[str, str]:
    """What a new terminal with ``venv`` activated has: nothing of this repository."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    return keep | {"PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", "PIP_RETRIES": "0"}


def pip(venv: Path, *args: str) -> None:
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", *args],
        check=True,
        env=clean_environment(venv),
        cwd=venv,
    )


def importable(venv: Path, module: str) -> bool:
    code = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
    python = str(venv / "bin" / "python")
    run = subprocess.run([python, "-c", code], env=clean_environment(venv), cwd=venv)
    return run.returncode == 0


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The course site, as far as notebooks need it: the student wheel, served on 127.0.0.1
    the way the built book serves it (book/_ext/course_site.py builds it the same way)."""
    root = tmp_path_factory.mktemp("site")
    wheel = build_wheel(REPO, root / WHEELS)
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(root))  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield {"wheel": wheel, "url": f"http://127.0.0.1:{server.server_port}/{WHEELS}/{wheel.name}"}
    server.shutdown()


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A fresh environment with only torch (this machine's wheel) and a plain Jupyter kernel;
    what was importable before any test installed anything is recorded."""
    venv = tmp_path_factory.mktemp("student") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip(venv, "-c", str(REPO / "constraints.txt"), "torch", "ipykernel", "nbclient")
    return venv, {module: importable(venv, module) for module in TOOLCHAIN}


def execute(venv: Path, paths: list[Path], run_all: bool = False) -> list:
    subprocess.run(
        [
            str(venv / "bin" / "python"),
            str(RUNNER),
            *(["--all"] if run_all else []),
            *map(str, paths),
        ],
        check=True,
        env=clean_environment(venv),
        cwd=paths[0].parent,
        timeout=900,
    )
    return [nbformat.read(path, 4) for path in paths]


def student_copies(folder: Path, url: str, fill: bool) -> list[Path]:
    """Each released notebook as a student has it, its install cell pointing at ``url``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for assignment in ASSIGNMENTS:
        path = folder / f"{assignment}.ipynb"
        nbformat.write(submission(assignment, fill=fill), path)
        point_install_cell(path, url)
        paths.append(path)
    return paths


def cells(notebook) -> dict[str, nbformat.NotebookNode]:
    return {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in notebook.cells}


def text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []))


def errors(cell) -> list[dict]:
    return [o for o in cell.get("outputs", []) if o.output_type == "error"]


def test_a_fresh_environment_has_nothing_of_the_course(venv):
    _, before = venv
    assert before == dict.fromkeys(TOOLCHAIN, False)


def test_install_cell_installs_from_the_site_and_every_check_passes(venv, site, tmp_path):
    venv, _ = venv
    notebooks = execute(venv, student_copies(tmp_path, site["url"], fill=True))
    assert importable(venv, "autograder") and not importable(venv, "nbgrader")
    assert not importable(venv, "jupyter_book")
    first = cells(notebooks[0])["install"]
    assert "Installing the course's checks" in text(first) and "Installed." in text(first)
    for assignment, notebook in zip(ASSIGNMENTS, notebooks, strict=True):
        graded = cells(notebook)
        assert not [c for c in notebook.cells if errors(c)], assignment
        for grade_id in graded_cell_code(assignment):
            assert "✓" in text(graded[grade_id]), (assignment, grade_id, text(graded[grade_id]))
    assert "Installing" not in text(cells(notebooks[1])["install"])  # already there: silent


def test_unfilled_notebooks_fail_every_check_with_the_usual_messages(venv, site, tmp_path):
    venv, _ = venv
    if not importable(venv, "autograder"):
        pip(venv, str(site["wheel"]))
    notebooks = execute(venv, student_copies(tmp_path, site["url"], fill=False), run_all=True)
    for assignment, notebook in zip(ASSIGNMENTS, notebooks, strict=True):
        graded = cells(notebook)
        for grade_id in graded_cell_code(assignment):
            [error] = errors(graded[grade_id])
            said = error["evalue"]
            assert "not implemented yet" in said or "is not defined" in said, (grade_id, said)


HAND_IN_ROW = re.compile(r"^\s*(\d+)\s+.+?\s{2,}(\S+) / (\S+)\s+(done|failing|not attempted)")


def hand_in_table(notebook) -> tuple[dict[int, tuple[float, str, str]], str]:
    """The hand-in cell's rows (part -> points, status, the line under it) and all it said."""
    cell = cells(notebook)["hand_in"]
    assert not errors(cell), errors(cell)
    assert not [o for o in cell.outputs if o.get("name") == "stderr"], cell.outputs
    said = text(cell)
    lines = said.splitlines()
    found = {}
    for number, line in enumerate(lines):
        if match := HAND_IN_ROW.match(line):
            after = lines[number + 1].strip() if number + 1 < len(lines) else ""
            found[int(match[1])] = (float(match[2]), match[4], after)
    return found, said


def test_the_hand_in_check_on_a_blank_a_half_done_and_a_finished_notebook(venv, site, tmp_path):
    """The locked last cell, with only the student package: every part not attempted on a
    blank notebook; done, failing (the first line of its test's message) or not attempted
    on a half-done one; every part done on a finished one; never an error or stderr."""
    venv, _ = venv
    if not importable(venv, "autograder"):
        pip(venv, str(site["wheel"]))
    assert not importable(venv, "nbgrader"), "the student's environment has only the checks"
    paths, wrongs = {}, {}
    for assignment in ASSIGNMENTS:
        solutions = list(reference_code(assignment))
        half = {gid: reference_code(assignment)[gid] for gid in solutions[:4]}
        wrong = next(w for w in WRONG if w.assignment == assignment and w.cell == solutions[3])
        wrongs[assignment] = wrong
        for state, notebook in [
            ("blank", submission(assignment, fill=False)),
            ("half", submission(assignment, half | {wrong.cell: wrong.code}, fill=False)),
            ("finished", submission(assignment)),
        ]:
            path = tmp_path / state / f"{assignment}.ipynb"
            path.parent.mkdir(exist_ok=True)
            nbformat.write(notebook, path)
            point_install_cell(path, site["url"])
            paths[state, assignment] = path
    for (state, assignment), notebook in zip(
        paths, execute(venv, list(paths.values()), run_all=True), strict=True
    ):
        table, said = hand_in_table(notebook)
        assert sorted(table) == list(range(1, 9)), (state, assignment, said)
        if state == "blank":
            assert {status for _, status, _ in table.values()} == {"not attempted"}, said
            assert "The visible tests give 0 of" in said
        elif state == "half":
            assert [table[p][1] for p in (1, 2, 3)] == ["done"] * 3, said
            assert table[4][1] == "failing" and wrongs[assignment].message in table[4][2], said
            assert {table[p][1] for p in range(5, 9)} == {"not attempted"}, said
        else:
            assert {status for _, status, _ in table.values()} == {"done"}, said
            assert "Every part passes its visible tests." in said
        assert "File → Download → Download .ipynb" in said and "Validate, then Submit" in said


def test_without_a_reachable_source_the_install_cell_stops_with_one_instruction(venv, tmp_path):
    venv, _ = venv
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "uninstall", "--quiet", "-y", "cnn-course"],
        check=True,
        env=clean_environment(venv),
    )
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/{WHEELS}/cnn_course-0-py3-none-any.whl"
    [notebook] = execute(venv, student_copies(tmp_path, url, fill=True)[:1])
    install = cells(notebook)["install"]
    [error] = errors(install)
    shown = "\n".join(error["traceback"])
    assert error["ename"] == "SetupStopped"
    assert f"pip install {url}" in shown and "restart the kernel" in shown
    assert "Traceback" not in shown and "File " not in shown
    ran = [c for c in notebook.cells if c.cell_type == "code" and c.get("execution_count")]
    assert ran == [install], "Run All stops at the install cell"


def course_copy(folder: Path) -> Path:
    """What an instructor keeps: nbgrader_config.py and solutions/, nothing else of ours."""
    folder.mkdir()
    shutil.copy(REPO / "nbgrader_config.py", folder)
    shutil.copytree(REPO / "solutions", folder / "solutions")
    return folder


SNOOP = """
import os
for _where in [{solutions!r}, {notebook!r}]:
    print("SNOOP", _where, os.path.isfile(_where) or (os.path.isdir(_where) and os.listdir(_where)))
"""


def test_a_regular_install_grades_a_course_kept_anywhere(venv, site, tmp_path):
    venv, _ = venv
    pip(venv, "-c", str(REPO / "constraints.txt"), f"cnn-course[grade] @ {site['wheel'].as_uri()}")
    assert importable(venv, "nbgrader")
    course = course_copy(tmp_path / "elsewhere")
    solutions = course / "solutions"
    snoop = SNOOP.format(
        solutions=str(solutions), notebook=str(solutions / "nn-review/nn-review.ipynb")
    )
    students = {
        "ref": submission("nn-review"),
        "stub": submission("nn-review", fill=False),
        "snoop": submission(
            "nn-review", {"sigmoid": reference_code("nn-review")["sigmoid"] + snoop}
        ),
    }
    submitted = write_batch(tmp_path / "submitted", "nn-review", students)
    run = subprocess.run(
        ["autograder", "grade", "nn-review", str(submitted), "--workers", "2"],
        cwd=course,
        env=clean_environment(venv),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    _, editable = grade(tmp_path / "editable", "nn-review", submitted)
    for student in students:
        record = json.loads(
            (course / "course/autograded" / student / "nn-review/autograder.json").read_text()
        )
        theirs = {c["grade_id"]: (c["points"], c["status"]) for c in record["cells"]}
        ours = {gid: (c.points, c.status) for gid, c in editable[student].items()}
        assert theirs == ours, student
    if bubblewrap() is None:
        pytest.skip("the sources are hidden only inside bubblewrap (make test installs it)")
    graded = nbformat.read(course / "course/autograded/snoop/nn-review/nn-review.ipynb", 4)
    said = text(cells(graded)["sigmoid"])
    assert said.count("SNOOP") == 2 and "True" not in said and "[" not in said.replace("[]", ""), (
        said
    )
