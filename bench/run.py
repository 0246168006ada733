"""`make bench`: convolution, grading and book-build timings, reported as ratios measured in
one run. Prints a table, then one `name: value` line per figure (the last lines)."""

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import nbformat
import torch

from autograder.release.assignments import nbgrader_api
from autograder.release.reference import solution_code, submission
from autograder.release.sources import find

REPO = Path(__file__).resolve().parent.parent
SOURCES = find(REPO)
sys.path.insert(0, str(REPO / "book"))  # book/timing.py serves the speed page and this bench
from timing import SETTINGS, measure  # noqa: E402

ASSIGNMENT = "conv-layers"
STUDENTS = 40
figures: dict[str, float] = {}
rows: list[tuple[str, str]] = []


def report(name: str, value: float, text: str) -> None:
    figures[name] = value
    rows.append((name, text))


def bench_convolution() -> None:
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        for label, setting in SETTINGS.items():
            key = label.split(":")[0]
            t = measure(device, setting)
            for name, seconds in t.items():
                report(
                    f"conv_{key}_{device}_{name}_ms", seconds * 1e3, f"{label} on {device}: {name}"
                )
            report(
                f"conv_{key}_{device}_fast_over_torch",
                t["fast"] / t["F.conv2d"],
                f"{label} on {device}: conv2d_fast / F.conv2d (goal <= 3 on the CPU)",
            )
            report(
                f"conv_{key}_{device}_naive_over_fast",
                t["naive"] / t["fast"],
                f"{label} on {device}: conv2d_naive / conv2d_fast (goal >= 100)",
            )


def batch(folder: Path) -> None:
    """Half the class answers everything; each other student leaves one exercise out."""
    exercises = sorted(solution_code(ASSIGNMENT, SOURCES))
    for i in range(STUDENTS):
        left_out = {exercises[i % len(exercises)]: "# not attempted\n"} if i % 2 else None
        notebook = submission(SOURCES, ASSIGNMENT, left_out)
        path = folder / f"s{i:02d}" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(notebook, path)


def nbgrader_serial(submitted: Path, course: Path) -> dict[str, float]:
    """Plain `nbgrader autograde`, one submission after another."""
    from nbgrader.api import Gradebook

    course.mkdir(parents=True)
    db_url = f"sqlite:///{course}/gradebook.db"
    api = nbgrader_api(SOURCES, course / "release", db_url, root=course)
    assert api.generate_assignment(ASSIGNMENT)["success"]
    shutil.copytree(submitted, course / "submitted")
    for student in sorted(p.name for p in submitted.iterdir()):
        assert api.autograde(ASSIGNMENT, student)["success"]
    with Gradebook(db_url) as gradebook:
        return {s.student.id: s.score for s in gradebook.assignment_submissions(ASSIGNMENT)}


def ours(submitted: Path, course: Path, *options: str) -> dict[str, float]:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "autograder.cli",
            "grade",
            ASSIGNMENT,
            str(submitted),
            "--course",
            str(course),
            *(options or ("--workers", str(os.cpu_count() or 1))),
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    import csv

    with (course / "grades.csv").open() as file:
        return {row["student_id"]: float(row["score"]) for row in csv.DictReader(file)}


@contextlib.contextmanager
def quiet_stderr(log: Path):
    """Send file descriptor 2 (and so every kernel nbgrader starts) to ``log``."""
    saved = os.dup(2)
    with log.open("w") as file:
        os.dup2(file.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def bench_grading() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        batch(scratch / "submitted")
        start = time.perf_counter()
        with quiet_stderr(scratch / "nbgrader-kernels.log"):
            theirs = nbgrader_serial(scratch / "submitted", scratch / "nbgrader")
        serial = time.perf_counter() - start
        start = time.perf_counter()
        mine = ours(scratch / "submitted", scratch / "ours")
        parallel = time.perf_counter() - start
    assert mine == theirs, "autograder grade and nbgrader autograde disagree on scores"
    report("grade_nbgrader_serial_s", serial, f"nbgrader autograde, serial, {STUDENTS} submissions")
    report(
        "grade_autograder_s", parallel, f"autograder grade, {os.cpu_count()} workers, same scores"
    )
    report(
        "grade_speedup", serial / parallel, "grading throughput: autograder / nbgrader (goal >= 8)"
    )


def bench_cluster() -> None:
    """The cluster path's overhead: 2 local Dask workers (one thread each, started before the
    clock) against local grading with --workers 2, the same 40 submissions."""
    import dask
    from distributed import LocalCluster

    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        batch(scratch / "submitted")
        start = time.perf_counter()
        local = ours(scratch / "submitted", scratch / "local", "--workers", "2")
        local_s = time.perf_counter() - start
        with dask.config.set({"distributed.scheduler.worker-saturation": 1.0}):
            cluster = LocalCluster(
                n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
            )
        with cluster:
            start = time.perf_counter()
            remote = ours(
                scratch / "submitted", scratch / "cluster", "--scheduler", cluster.scheduler_address
            )
            cluster_s = time.perf_counter() - start
    assert remote == local, "the cluster and local grading disagree on scores"
    report(
        "grade_local_2_workers_s", local_s, f"autograder grade --workers 2, {STUDENTS} submissions"
    )
    report(
        "grade_dask_2_workers_s", cluster_s, "autograder grade --scheduler, 2 local Dask workers"
    )
    report(
        "grade_dask_over_local",
        local_s / cluster_s,
        "grading throughput: 2 Dask workers / local --workers 2 (1 = no overhead)",
    )


def bench_book() -> None:
    """A cold build of a fresh copy (every notebook executed), then a build with nothing
    changed; wall time (goals: under 60 s and 5 s on 2 cores), and the processor time of the
    build and everything it started (kernels included), which a busy machine does not inflate."""
    import resource

    def children_cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "repo"
        shutil.copytree(
            REPO,
            copy,
            ignore=shutil.ignore_patterns(
                ".venv", "_build", "course", ".git", "*.pyc", "test-artifacts"
            ),
        )
        command = [
            str(Path(sys.executable).parent / "jupyter-book"),
            "build",
            str(copy),
            "-W",
            "--keep-going",
        ]
        for label in ("cold", "nochange"):
            start, cpu = time.perf_counter(), children_cpu()
            subprocess.run(command, check=True, capture_output=True)
            wall, cpu = time.perf_counter() - start, children_cpu() - cpu
            goal = {"cold": 60, "nochange": 5}[label]
            report(f"book_{label}_build_s", wall, f"book build, {label} (goal < {goal} s)")
            report(f"book_{label}_build_cpu_s", cpu, f"book build, {label}: processor time")


def main() -> None:
    warnings.filterwarnings("ignore", module="nbgrader")  # SQLAlchemy noise from its models
    bench_convolution()
    bench_grading()
    bench_cluster()
    bench_book()
    width = max(len(text) for _, text in rows)
    print(f"{'measure':<{width}}  value")
    for name, text in rows:
        print(f"{text:<{width}}  {figures[name]:.4g}")
    print()
    for name, value in figures.items():
        print(f"{name}: {value:.4g}")


if __name__ == "__main__":
    main()
