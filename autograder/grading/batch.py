"""Grade a whole class: collect, grade what is new in parallel, record, export, report."""

import hashlib
import queue
import sys
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import torch
from sqlalchemy.engine import make_url
from tqdm import tqdm

from . import export, report
from .collect import collect
from .course import Course, write_atomically
from .engine import Runner
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
) -> Summary:
    started = time.monotonic()
    summary = Summary()
    if Path(submissions).resolve() == course.root:  # the course folder itself: its submitted/
        submissions = course.root / "submitted"
    assignment = course.prepare(assignment_name)
    collection = collect(submissions, assignment_name, limits.notebook_mb * 2**20)
    summary.problems = collection.problems
    students = sorted(collection.submissions)
    log(f"{len(students)} submission(s) for {assignment_name}: {', '.join(students) or '(none)'}")
    for problem in collection.problems:
        log(f"  skipped: {problem}")
    todo = []
    secret = course.secret()
    for student in students:
        data = collection.submissions[student].data
        _store_submitted(course, student, assignment_name, data)
        fingerprint = course.fingerprint(data, assignment, limits, secret)
        if course.is_current(student, assignment_name, fingerprint):
            summary.unchanged += 1
        else:
            todo.append((student, data, fingerprint))
    hidden = _hidden_paths(course, submissions)
    torch.set_num_threads(1)
    all_runners = [Runner(limits, device, hidden, secret) for _ in range(min(workers, len(todo)))]
    runners: queue.Queue[Runner] = queue.Queue()  # each sandbox boots now, in parallel
    for runner in all_runners:
        runners.put(runner)

    def grade_one(student: str, data: bytes):
        runner = runners.get()
        try:
            return runner.grade(student, data, assignment)
        finally:
            runners.put(runner)

    bar = tqdm(total=len(todo), unit="notebook", disable=None, file=sys.stderr)
    pool = ThreadPoolExecutor(max(1, min(workers, len(todo))))
    try:
        pending = {pool.submit(grade_one, s, d): (s, f) for s, d, f in todo}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                student, fingerprint = pending.pop(future)
                graded = future.result()
                course.save(graded, assignment, fingerprint)
                report.write_feedback(course, assignment, graded)
                summary.graded += 1
                bar.update()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        bar.close()
        for runner in all_runners:  # busy ones too: Ctrl-C must not leave sandboxes running
            runner.close()
    results = course.results(assignment)
    for cells in results.values():
        for cell in cells:
            summary.statuses[cell.status] = summary.statuses.get(cell.status, 0) + 1
    summary.outputs = export.write(course, assignment, results)
    summary.outputs.append(report.write_report(course, assignment, results))
    summary.seconds = time.monotonic() - started
    return summary
