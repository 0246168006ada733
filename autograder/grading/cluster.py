"""Grade a batch on a Dask cluster (``autograder grade --scheduler``): one task per submission.

The head (the machine that runs ``autograder grade``) stays the single writer. A task
carries everything a worker needs, and nothing of the course folder: the submission's bytes,
the assignment's test cells (hidden tests included), the limits, the device and the course
secret (hidden cases are keyed by it, so they are the same on every machine). The worker
grades it with a :class:`~autograder.grading.engine.Runner` of its own, in its own
sandboxes, exactly as local grading does, and returns the result as data: cell results,
the graded notebook as JSON text, review findings. The head turns that back into a
:class:`~autograder.grading.engine.Graded` and records it as local grading does.

Faults:

- a worker that dies mid-submission: the scheduler runs the submission again on another
  worker; a submission that was running on ``allowed-failures + 1`` workers that died
  (the scheduler's setting, default 3) ends as ``KilledWorker``, recorded here as an
  error on every cell, not final (graded again next run);
- an exception inside the task (not a student's: the engine never raises for those) is
  retried :data:`RETRIES` times by Dask, then recorded the same way;
- a worker that cannot start a sandbox, or runs other grading code than the head, stops
  the batch (:class:`ClusterError`), as a sandbox that cannot start stops local grading;
- a lost scheduler stops the batch (:class:`ClusterError`): what was recorded stays, and
  the same command grades the rest.

The head keeps only as many tasks in flight as the cluster has threads, so a worker that
dies takes down only the submission it was grading, not a queue of others (the scheduler
counts a death against every task assigned to that worker).
"""

import os
import socket
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import CancelledError
from dataclasses import asdict
from pathlib import Path

import nbformat
from distributed import Client, KilledWorker, as_completed
from tqdm import tqdm

from .course import CourseError, grading_code_digest
from .engine import Assignment, CellResult, Graded, Runner, Status
from .review import Finding
from .sandbox import Limits, SandboxGone, SandboxUnavailable, bubblewrap

RETRIES = 1  # Dask re-runs a task that raised this many times (a worker's death is the scheduler's)


class ClusterError(CourseError):
    """The cluster cannot grade this batch (scheduler lost or unreachable, a worker unfit);
    the message says what to do. What was recorded before it stays."""


class WorkerUnfit(RuntimeError):
    """Raised in a task: this worker cannot grade (no sandbox can start there)."""


# -- the worker's side -------------------------------------------------------------------
_RUNNERS: dict[tuple[Limits, str, bytes], list[Runner]] = {}  # idle runners, per settings
_RUNNERS_LOCK = threading.Lock()


def _worker_hidden() -> list[Path]:
    """What student code must not see on a worker: its home folders (there is no course
    folder on a worker)."""
    return [Path.home(), Path("/home"), Path("/root")]


def _worker_log() -> Path:
    """Where this worker's sandboxes write their stderr (the worker's own temporary folder)."""
    folder = Path(tempfile.gettempdir()) / "autograder-worker"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"sandboxes-{os.getpid()}.log"


def grade_task(
    student: str, data: bytes, assignment: Assignment, limits: Limits, device: str, secret: bytes
) -> dict:
    """Run on a worker: grade one submission with one of this process's runners (booted on
    first use, kept for the next task) and return the result as plain data."""
    key = (limits, device, secret)
    with _RUNNERS_LOCK:
        idle = _RUNNERS.setdefault(key, [])
        runner = idle.pop() if idle else None
    try:
        if runner is None:
            runner = Runner(limits, device, _worker_hidden(), secret, _worker_log())
        graded = runner.grade(student, data, assignment)
    except SandboxUnavailable as error:
        if runner is not None:
            runner.close()
        raise WorkerUnfit(f"the worker on {socket.gethostname()} cannot grade: {error}") from None
    except SandboxGone as error:  # a BaseException: Dask must see an ordinary one
        runner.close()
        raise RuntimeError(f"the sandbox on {socket.gethostname()} was lost: {error}") from None
    except BaseException:
        if runner is not None:
            runner.close()
        raise
    with _RUNNERS_LOCK:
        _RUNNERS[key].append(runner)
    return {
        "student": graded.student,
        "cells": [asdict(c) | {"status": str(c.status)} for c in graded.cells],
        "notebook": None if graded.notebook is None else nbformat.writes(graded.notebook),
        "problem": graded.problem,
        "seconds": graded.seconds,
        "final": graded.final,
        "review": [asdict(f) for f in graded.review],
        "code": grading_code_digest(),
        "isolated": bubblewrap() is not None,
        "host": socket.gethostname(),
    }


# -- the head's side ---------------------------------------------------------------------
def from_data(result: dict, code: str) -> Graded:
    """A task's result as a :class:`Graded`; ``code`` is the head's grading-code digest,
    which the worker's must equal (the fingerprint the head records vouches for it)."""
    if result["code"] != code:
        raise ClusterError(
            f"the worker on {result['host']} runs other grading code than this machine (another "
            "version of cnn-course or of its checks): install the same version on every worker."
        )
    notebook = result["notebook"]
    return Graded(
        result["student"],
        [CellResult(**c) for c in result["cells"]],
        None if notebook is None else nbformat.reads(notebook, as_version=4),
        result["problem"],
        result["seconds"],
        final=result["final"],
        review=[Finding(**f) for f in result["review"]],
    )


def failed(student: str, assignment: Assignment, why: str) -> Graded:
    """Every cell an error, for a submission the cluster could not grade; not final."""
    message = f"the grader could not grade this notebook: {why}. Tell your instructor."
    return Graded(student, assignment.all_cells(Status.ERROR, message), None, message, final=False)


def connect(scheduler: str) -> Client:
    """A client of ``scheduler``: a scheduler file if such a file exists, else an address
    (``tcp://HOST:8786``)."""
    try:
        if Path(scheduler).is_file():
            return Client(scheduler_file=scheduler, set_as_default=False)
        return Client(scheduler, set_as_default=False)
    except (OSError, ValueError, TypeError) as error:
        raise ClusterError(f"cannot reach the Dask scheduler {scheduler}: {error}") from None


def lost(scheduler: str) -> ClusterError:
    return ClusterError(
        f"lost the Dask scheduler {scheduler}. Everything graded so far is saved: start the "
        "scheduler (and its workers) again and run the same command to grade the rest."
    )


def grade_on_cluster(
    scheduler: str,
    assignment: Assignment,
    todo: list[tuple[str, bytes, str]],
    *,
    limits: Limits,
    device: str,
    secret: bytes,
    record: Callable[[Graded, str], None],
    log: Callable[[str], None] = print,
) -> int:
    """Grade ``todo`` (``(student, notebook bytes, fingerprint)``) on the cluster whose
    scheduler is ``scheduler``, calling ``record(graded, fingerprint)`` here as each result
    arrives (so an interrupted batch keeps what it finished); how many were graded."""
    client = connect(scheduler)
    code = grading_code_digest()
    waiting = list(reversed(todo))
    students: dict[str, tuple[str, str]] = {}  # task key -> (student, fingerprint)
    running = as_completed(loop=client.loop)
    warned: set[str] = set()
    graded = 0
    bar = tqdm(total=len(todo), unit="notebook", disable=None, file=sys.stderr)

    def submit_more() -> None:
        capacity = max(1, sum(client.nthreads().values()))
        while waiting and running.count() < capacity:
            student, data, fingerprint = waiting.pop()
            future = client.submit(
                grade_task,
                student,
                data,
                assignment,
                limits,
                device,
                secret,
                key=f"grade-{student}-{uuid.uuid4().hex}",
                pure=False,
                retries=RETRIES,
            )
            students[future.key] = (student, fingerprint)
            running.add(future)

    try:
        submit_more()
        for future in running:
            student, fingerprint = students.pop(future.key)
            result = _outcome(future, student, assignment, code, scheduler, warned, log)
            future.release()
            record(result, fingerprint)
            graded += 1
            bar.update()
            submit_more()
    except (OSError, CancelledError) as error:  # CommClosedError is an OSError
        if client.status == "running" and not isinstance(error, CancelledError):
            raise
        raise lost(scheduler) from None
    finally:
        bar.close()
        outstanding = [f for f in running.futures if not f.done()]
        try:
            if outstanding and client.status == "running":
                client.cancel(outstanding)  # Ctrl-C, or an error: the cluster stops too
        finally:
            client.close()
    return graded


def _outcome(
    future,
    student: str,
    assignment: Assignment,
    code: str,
    scheduler: str,
    warned: set[str],
    log: Callable[[str], None],
) -> Graded:
    """What one finished task means for ``student``."""
    if future.cancelled():
        raise lost(scheduler)
    error = future.exception() if future.status == "error" else None
    if error is None:
        result = future.result()
        if not result["isolated"] and result["host"] not in warned:
            warned.add(result["host"])
            log(
                f"warning: {result['host']} has no bubblewrap (bwrap), so student code runs "
                "there without file-system and network isolation. See README, 'Security'."
            )
        return from_data(result, code)
    if isinstance(error, WorkerUnfit):
        raise ClusterError(f"{error}. Fix that worker (see README, 'Grade on a cluster').")
    if isinstance(error, KilledWorker):
        why = "grading it stopped the grading machine every time it was tried"
    else:
        why = f"{type(error).__name__}: {error}"
    log(f"  {student}: not graded ({why}); it will be graded again next run.")
    return failed(student, assignment, why)
