"""Grade a whole class: collect, grade what is new in parallel, record, export, report."""

import hashlib
import queue
import sys
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url
from tqdm import tqdm

from . import export, report
from .collect import Collection, collect
from .course import Course, write_atomically
from .engine import Assignment, Graded, Runner
from .sandbox import Limits


@dataclass
class Summary:
    graded: int = 0
    unchanged: int = 0
    problems: list[str] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    outputs: list[Path] = field(default_factory=list)

    def line(self) -> str:
        counts = ", ".join(f"{n} {s}" for s, n in sorted(self.statuses.items()))
        return (
            f"graded {self.graded} submission(s), {self.unchanged} unchanged, "
            f"{len(self.problems)} problem(s) in {self.seconds:.1f} s"
            + (f"; cells: {counts}" if counts else "")
        )


def _hidden_paths(course: Course, submissions: Path) -> list[Path]:
    """What student code must not see: the course folder, the submissions, the course's
    sources (solutions and hidden tests) wherever they are, home folders, and a SQLite
    gradebook wherever it is."""
    hidden = [course.root, submissions.resolve(), *course.sources.secret_places()]
    hidden += [Path.home(), Path("/home"), Path("/root")]
    url = make_url(course.db_url)
    if url.drivername.startswith("sqlite") and url.database:
        hidden.append(Path(url.database).resolve().parent)
    return hidden


def _store_submitted(course: Course, student: str, assignment: str, data: bytes) -> None:
    """Copy into submitted/; a different earlier version is kept in history/, never lost."""
    path = course.submitted(student, assignment)
    if path.exists():
        old = path.read_bytes()
        if old == data:
            return
        digest = hashlib.sha256(old).hexdigest()[:12]
        write_atomically(course.root / "history" / student / assignment / f"{digest}.ipynb", old)
    write_atomically(path, data)


def grade_batch(
    course: Course,
    assignment_name: str,
    submissions: Path,
    *,
    workers: int,
    limits: Limits,
    device: str,
    log: Callable[[str], None] = print,
    scheduler: str | None = None,
) -> Summary:
    """Grade every new or changed submission of ``assignment_name`` in ``submissions`` (a
    folder or zip), ``workers`` at a time, on ``device`` (``"cpu"`` or ``"cuda"``: the
    sandboxes and the grader's reference computations both), then write ``grades.csv``,
    ``cells.csv``, feedback and ``report.html``. What the sandboxes write to stderr goes to
    ``course/logs/<assignment>-<time>.log``. With ``scheduler`` (a Dask scheduler's address
    or file), the cluster's workers grade instead (``grading.cluster``); this process still
    records every result."""
    started = time.monotonic()
    if Path(submissions).resolve() == course.root:  # the course folder itself: its submitted/
        submissions = course.root / "submitted"
    collection = collect(submissions, assignment_name, limits.notebook_mb * 2**20)
    # The sandboxes boot (Python and torch imported: seconds) while the gradebook is prepared.
    wanted = min(workers, len(collection.submissions))
    runners = (
        []
        if scheduler is not None
        else _runners(course, assignment_name, submissions, wanted, limits, device)
    )
    try:
        assignment = course.prepare(assignment_name)
        _store(course, assignment_name, collection, log)
        todo, unchanged = _new_or_changed(course, assignment, collection, limits)
        if scheduler is None:
            for idle in runners[len(todo) :]:  # more workers than notebooks to grade
                idle.close()
            graded = _grade_in_parallel(course, assignment, todo, runners[: len(todo)])
        else:
            from .cluster import grade_on_cluster  # imports distributed: only for a cluster

            graded = grade_on_cluster(
                scheduler,
                assignment,
                todo,
                limits=limits,
                device=device,
                secret=course.secret(),
                record=lambda result, fingerprint: _record(course, assignment, result, fingerprint),
                log=log,
            )
    finally:
        for runner in runners:  # busy ones too: Ctrl-C must not leave sandboxes running
            runner.close()
    results = course.results(assignment)
    statuses = Counter(str(cell.status) for cells in results.values() for cell in cells)
    outputs = export.write(course, assignment, results)
    outputs.append(report.write_report(course, assignment, results))
    return Summary(
        graded=graded,
        unchanged=unchanged,
        problems=collection.problems,
        statuses=dict(statuses),
        seconds=time.monotonic() - started,
        outputs=outputs,
    )


def _store(course: Course, assignment: str, collection: Collection, log: Callable) -> None:
    """Say what was collected, and keep each notebook in the course's ``submitted/``."""
    students = sorted(collection.submissions)
    log(f"{len(students)} submission(s) for {assignment}: {', '.join(students) or '(none)'}")
    for problem in collection.problems:
        log(f"  skipped: {problem}")
    for student in students:
        _store_submitted(course, student, assignment, collection.submissions[student].data)


def _new_or_changed(
    course: Course, assignment: Assignment, collection: Collection, limits: Limits
) -> tuple[list[tuple[str, bytes, str]], int]:
    """``(student, notebook bytes, fingerprint)`` of each submission whose recorded result
    is missing, not final or for other inputs; and how many are current."""
    todo, unchanged = [], 0
    secret = course.secret()
    for student in sorted(collection.submissions):
        data = collection.submissions[student].data
        fingerprint = course.fingerprint(data, assignment, limits, secret)
        if course.is_current(student, assignment.name, fingerprint):
            unchanged += 1
        else:
            todo.append((student, data, fingerprint))
    return todo, unchanged


def _runners(
    course: Course, assignment: str, submissions: Path, workers: int, limits: Limits, device: str
) -> list[Runner]:
    """``workers`` runners, their sandboxes booting; their stderr goes to the batch's log,
    ``course/logs/<assignment>-<time>.log``."""
    folder = course.root / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / f"{assignment}-{time.strftime('%Y%m%d-%H%M%S')}.log"
    hidden = _hidden_paths(course, submissions)
    return [Runner(limits, device, hidden, course.secret(), log) for _ in range(workers)]


def _record(course: Course, assignment: Assignment, result: Graded, fingerprint: str) -> None:
    """Save one graded submission and write its feedback (here, the single writer)."""
    course.save(result, assignment, fingerprint)
    report.write_feedback(course, assignment, result)


def _grade_in_parallel(
    course: Course,
    assignment: Assignment,
    todo: list[tuple[str, bytes, str]],
    runners: list[Runner],
) -> int:
    """Grade ``todo`` with one thread per runner, recording each result as it comes (so an
    interrupted batch keeps what it finished); how many were graded."""
    idle: queue.Queue[Runner] = queue.Queue()  # each sandbox boots now, in parallel
    for runner in runners:
        idle.put(runner)

    def grade_one(student: str, data: bytes):
        runner = idle.get()
        try:
            return runner.grade(student, data, assignment)
        finally:
            idle.put(runner)

    graded = 0
    bar = tqdm(total=len(todo), unit="notebook", disable=None, file=sys.stderr)
    pool = ThreadPoolExecutor(max(1, len(runners)))
    try:
        pending = {pool.submit(grade_one, s, d): f for s, d, f in todo}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                fingerprint = pending.pop(future)
                _record(course, assignment, future.result(), fingerprint)
                graded += 1
                bar.update()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        bar.close()
    return graded
