"""`autograder grade --scheduler`: a Dask cluster grades, this process records (issue 16).

One cluster for the module: two worker processes on 127.0.0.1, one thread each, started as
`dask worker` would start them (a nanny restarts a worker that dies). The scheduler counts
one death of a worker against a task and gives up at the second (``allowed-failures: 1``)."""

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import cloudpickle
import dask
import pytest
from grading import FAST, results, write_batch
from nbgrader.api import Gradebook
from notebooks import REPO, SOURCES, submission

from autograder.grading import cluster
from autograder.grading.batch import grade_batch
from autograder.grading.cluster import ClusterError, grade_task
from autograder.grading.course import Course, CourseError

pytestmark = pytest.mark.slow

distributed = pytest.importorskip("distributed")

ASSIGNMENT = "nn-review"  # the faster of the two assignments
cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers need not import tests/


@pytest.fixture(scope="module")
def dask_cluster():
    settings = {
        "distributed.scheduler.allowed-failures": 1,
        "distributed.scheduler.worker-saturation": 1.0,
    }
    with dask.config.set(settings):
        local = distributed.LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=None,
        )
    client = distributed.Client(local)
    yield local, client
    client.close()
    local.close()


def batch(folder, students: dict):
    return write_batch(folder, ASSIGNMENT, students)


def grade_on(course, submitted, scheduler):
    return grade_batch(
        Course(course, SOURCES),
        ASSIGNMENT,
        submitted,
        workers=2,
        limits=FAST,
        device="cpu",
        log=lambda line: None,
        scheduler=scheduler,
    )


def watch_files(root: str) -> None:
    """Run on a worker: remember every file it opens, makes or renames under ``root``."""
    seen = sys.__dict__.setdefault("autograder_test_seen", [])

    def hook(event, args):
        if event in {"open", "os.mkdir", "os.rename", "os.replace", "sqlite3.connect"}:
            if args and str(args[0]).startswith(root):
                seen.append((event, str(args[0])))

    sys.addaudithook(hook)


def seen_files() -> list:
    return list(sys.__dict__.get("autograder_test_seen", []))


def test_cluster_gives_the_local_grades_and_only_the_head_writes(tmp_path, dask_cluster):
    local, client = dask_cluster
    client.run(watch_files, str(tmp_path))
    wrong = "def sigmoid(x):\n    return x\n"
    submitted = batch(
        tmp_path / "submitted",
        {
            "ref": submission(ASSIGNMENT),
            "wrong": submission(ASSIGNMENT, replace={"sigmoid": wrong}),
            "stub": submission(ASSIGNMENT, fill=False),
            "broken": b"{oops",
        },
    )
    here = grade_on(tmp_path / "local", submitted, None)
    there = grade_on(tmp_path / "cluster", submitted, local.scheduler_address)
    assert here.graded == there.graded == 4
    assert there.statuses == here.statuses
    expected, got = (
        results(tmp_path / "local", ASSIGNMENT),
        results(tmp_path / "cluster", ASSIGNMENT),
    )
    assert {
        s: {g: (c.points, c.status, c.message) for g, c in cells.items()}
        for s, cells in got.items()
    } == {
        s: {g: (c.points, c.status, c.message) for g, c in cells.items()}
        for s, cells in expected.items()
    }
    assert got["ref"]["test_sigmoid"].status == "passed"
    assert got["wrong"]["test_sigmoid"].status == "failed"
    assert (
        tmp_path / "cluster" / "autograded" / "ref" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    ).exists()
    # The workers never opened, made or renamed anything of the course or the submissions.
    assert client.run(seen_files) == {w: [] for w in client.scheduler_info()["workers"]}
    again = grade_on(tmp_path / "cluster", submitted, local.scheduler_address)
    assert again.graded == 0 and again.unchanged == 4  # resume works as locally
    assert local_grading_imports(tmp_path / "local", submitted) == (False, False)


def test_a_worker_killed_mid_batch_loses_no_grade_and_writes_none_twice(
    tmp_path, dask_cluster, monkeypatch
):
    local, client = dask_cluster
    students = {f"s{i}": submission(ASSIGNMENT) for i in range(4)}
    submitted = batch(tmp_path / "submitted", students)
    saved = Counter()
    save = Course.save

    def counting_save(self, graded, assignment, fingerprint):
        saved[graded.student] += 1
        save(self, graded, assignment, fingerprint)

    monkeypatch.setattr(Course, "save", counting_save)
    pids = client.run(os.getpid)
    outcome = {}
    thread = threading.Thread(
        target=lambda: outcome.update(
            summary=grade_on(tmp_path / "course", submitted, local.scheduler_address)
        )
    )
    thread.start()
    victim = None
    deadline = time.monotonic() + 120
    while victim is None and time.monotonic() < deadline:
        busy = [w for w, keys in client.processing().items() if keys and w in pids]
        victim = busy[0] if busy else None
        time.sleep(0.2)
    assert victim is not None
    time.sleep(1.0)  # in the middle of grading a submission
    os.kill(pids[victim], signal.SIGKILL)
    thread.join(timeout=240)
    assert not thread.is_alive()
    summary = outcome["summary"]
    assert summary.graded == 4
    assert saved == dict.fromkeys(students, 1)
    got = results(tmp_path / "course", ASSIGNMENT)
    assert all(cell.status == "passed" for cells in got.values() for cell in cells.values())
    with Gradebook(f"sqlite:///{tmp_path / 'course'}/gradebook.db") as gradebook:
        assert sorted(s.student.id for s in gradebook.assignment_submissions(ASSIGNMENT)) == sorted(
            students
        )


def crashing_task(student, *args):
    """Stands in for a submission that takes its worker down with it every time (a torch
    crash while the checks compute on its outputs in the worker's own process, say): no
    student code can do that from inside its sandbox, so this test kills the worker here."""
    if student == "crasher":
        os.kill(os.getpid(), signal.SIGKILL)
    return grade_task(student, *args)


def test_a_submission_that_kills_every_worker_is_an_error_after_the_bound(
    tmp_path, dask_cluster, monkeypatch
):
    local, _ = dask_cluster
    monkeypatch.setattr(cluster, "grade_task", crashing_task)
    submitted = batch(
        tmp_path / "submitted", {"ok": submission(ASSIGNMENT), "crasher": submission(ASSIGNMENT)}
    )
    summary = grade_on(tmp_path / "course", submitted, local.scheduler_address)
    assert summary.graded == 2
    got = results(tmp_path / "course", ASSIGNMENT)
    assert all(cell.status == "passed" for cell in got["ok"].values())
    assert all(cell.status == "error" and cell.points == 0 for cell in got["crasher"].values())
    assert "stopped the grading machine" in got["crasher"]["test_sigmoid"].message
    course = Course(tmp_path / "course", SOURCES)
    assert not course.is_current("crasher", ASSIGNMENT, "")  # not final: graded again next run
    record = (course.result_file("crasher", ASSIGNMENT)).read_text()
    assert '"final": false' in record


def test_an_unreachable_scheduler_stops_with_a_clear_message():
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        with pytest.raises(ClusterError, match="cannot reach the Dask scheduler tcp://127.0.0.1:1"):
            cluster.connect("tcp://127.0.0.1:1")
    assert issubclass(ClusterError, CourseError)  # the CLI's exit 2, message on stderr


def local_grading_imports(course, submitted) -> tuple[bool, bool]:
    """``autograder grade`` without --scheduler in a fresh interpreter: whether it imported
    distributed, and dask."""
    code = (
        "import sys; from autograder.cli import main; "
        f"code = main(['grade', {ASSIGNMENT!r}, {str(submitted)!r}, '--course', {str(course)!r}]); "
        "assert code == 0, code; print('distributed' in sys.modules, 'dask' in sys.modules)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 0, run.stderr
    return tuple(word == "True" for word in run.stdout.split()[-2:])


def test_a_worker_running_other_grading_code_stops_the_batch():
    result = {"code": "other", "host": "node7"}
    with pytest.raises(ClusterError, match="node7 runs other grading code"):
        cluster.from_data(result, "mine")
