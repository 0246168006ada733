"""`autograder grade` end to end: folder and LMS zip, CSVs and gradebook agree, re-runs are
incremental, an interrupted run resumes, workers do not corrupt the gradebook."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import torch
from catalogue import WRONG
from grading import as_bytes, grade, in_process_points, read_csv, results, scores, write_batch
from nbgrader.api import Gradebook
from notebooks import SOURCES, submission

from autograder.cli import main

pytestmark = pytest.mark.slow

ASSIGNMENT = "conv-layers"
WRONGS = [w for w in WRONG if w.assignment == ASSIGNMENT][:4]


def expected_batch() -> tuple[dict, dict[str, dict[str, float] | None]]:
    """Students and their expected points per cell (None: every cell 0, status error; a
    cell's None: a wrong entry's own test cell or its cascade, whose points are what the
    checks' own Score gives that code in-process: see ``check_against_expected``)."""
    reference = submission(ASSIGNMENT)
    full = {
        c.metadata.nbgrader["grade_id"]: float(c.metadata.nbgrader["points"])
        for c in reference.cells
        if c.metadata.get("nbgrader", {}).get("grade")
    }
    students = {"ref": reference, "stub": submission(ASSIGNMENT, fill=False), "broken": b"{oops"}
    expected = {"ref": full, "stub": dict.fromkeys(full, 0.0), "broken": None}
    for number, wrong in enumerate(WRONGS):
        name = f"w{number}"
        students[name] = submission(ASSIGNMENT, {wrong.cell: wrong.code})
        lost = {wrong.test, *wrong.cascade}
        expected[name] = {g: (None if g in lost else p) for g, p in full.items()}
    return students, expected


def check_against_expected(course: Path, graded, expected, ids: dict[str, str]):
    """Each cell's points as expected; a wrong entry's own cell and cascade get exactly the
    points its checks' Score gives in-process (for that student: hidden cases are keyed by
    the course secret, the student and the cell), and its own cell loses some."""
    for name, want in expected.items():
        student = ids[name]
        got = graded[student]
        if want is None:
            assert all(c.status == "error" and c.points == 0 for c in got.values()), got
            assert "not valid notebook JSON" in next(iter(got.values())).message
            continue
        if name.startswith("w"):
            wrong = WRONGS[int(name[1:])]
            lost = [g for g, points in want.items() if points is None]
            here = in_process_points(course, ASSIGNMENT, student, wrong.cell, wrong.code, lost)
            want = want | here
            assert got[wrong.test].points < got[wrong.test].max_points, (name, got[wrong.test])
        for gid, points in want.items():
            assert got[gid].points == points, (name, gid, got[gid])
    grades = {row["student_id"]: row for row in read_csv(course / "grades.csv")}
    cells = read_csv(course / "cells.csv")
    with Gradebook(f"sqlite:///{course}/gradebook.db") as gradebook:
        for student, got in graded.items():
            row = grades[student]
            assert float(row["score"]) == sum(c.points for c in got.values())
            assert float(row["max_score"]) == 18
            for gid, cell in got.items():
                assert float(row[gid]) == cell.points
                grade_row = gradebook.find_grade(gid, ASSIGNMENT, ASSIGNMENT, student)
                assert grade_row.score == cell.points
    assert {(r["student_id"], r["grade_id"]) for r in cells} == {
        (s, g) for s, got in graded.items() for g in got
    }
    assert all(r["status"] in {"passed", "failed", "error"} for r in cells)
    assert all(r["message"] for r in cells if r["status"] != "passed")


def test_folder_batch_gets_exactly_the_expected_scores(tmp_path):
    students, expected = expected_batch()
    write_batch(tmp_path / "submitted", ASSIGNMENT, students)
    summary, graded = grade(tmp_path / "course", ASSIGNMENT, tmp_path / "submitted")
    assert summary.graded == len(students)
    check_against_expected(tmp_path / "course", graded, expected, {s: s for s in students})
    feedback = (tmp_path / "course/feedback/w0/conv-layers/conv-layers.html").read_text()
    assert WRONGS[0].message.split(":")[0] in feedback and "HIDDEN TESTS" not in feedback
    report = (tmp_path / "course/report.html").read_text()
    assert "data:image/png;base64," in report and "broken" in report

    again, _ = grade(tmp_path / "course", ASSIGNMENT, tmp_path / "submitted")
    assert (again.graded, again.unchanged) == (0, len(students))

    changed = submission(ASSIGNMENT, {WRONGS[1].cell: WRONGS[1].code})
    (tmp_path / "submitted/ref/conv-layers/conv-layers.ipynb").write_bytes(as_bytes(changed))
    third, graded = grade(tmp_path / "course", ASSIGNMENT, tmp_path / "submitted")
    assert (third.graded, third.unchanged) == (1, len(students) - 1)
    wrong = WRONGS[1]
    here = in_process_points(
        tmp_path / "course", ASSIGNMENT, "ref", wrong.cell, wrong.code, [wrong.test]
    )
    assert (
        graded["ref"][wrong.test].points == here[wrong.test] < graded["ref"][wrong.test].max_points
    )
    assert list((tmp_path / "course/history/ref/conv-layers").glob("*.ipynb")), "old version kept"

    from_course, _ = grade(tmp_path / "course", ASSIGNMENT, tmp_path / "course")
    assert (from_course.graded, from_course.unchanged, from_course.problems) == (
        0,
        len(students),
        [],
    )


def test_lms_zip_with_canvas_and_moodle_names(tmp_path):
    students, expected = expected_batch()
    names = {
        "ref": "ada_1001_555_conv-layers.ipynb",
        "stub": "bo_LATE_1002_556_conv-layers.ipynb",
        "broken": "Cy Dee_1003_assignsubmission_file_/conv-layers.ipynb",
    }
    names |= {f"w{i}": f"w{i}name_{2000 + i}_{600 + i}_cnn.ipynb" for i in range(len(WRONGS))}
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for student, notebook in students.items():
            z.writestr(names[student], as_bytes(notebook))
        z.writestr("noid.ipynb", as_bytes(students["ref"]))
        z.writestr("dup_1001_777_again.ipynb", as_bytes(students["ref"]))
    summary, graded = grade(tmp_path / "course", ASSIGNMENT, archive)
    ids = {"stub": "1002", "broken": "1003"} | {f"w{i}": str(2000 + i) for i in range(len(WRONGS))}
    assert set(graded) == set(ids.values()), "1001 has two notebooks: reported, not guessed"
    assert any("1001" in p and "2 notebooks" in p for p in summary.problems)
    assert any("noid.ipynb" in p and "no student id" in p for p in summary.problems)
    del expected["ref"]
    check_against_expected(tmp_path / "course", graded, expected, ids)


def test_two_workers_agree_with_one_and_keep_the_gradebook_sound(tmp_path):
    students, _ = expected_batch()
    write_batch(tmp_path / "submitted", ASSIGNMENT, students)
    _, serial = grade(tmp_path / "one", ASSIGNMENT, tmp_path / "submitted", workers=1)
    _, parallel = grade(tmp_path / "two", ASSIGNMENT, tmp_path / "submitted", workers=2)
    assert {s: scores(g) for s, g in serial.items()} == {s: scores(g) for s, g in parallel.items()}
    with sqlite3.connect(tmp_path / "two/gradebook.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        (count,) = db.execute("SELECT COUNT(*) FROM submitted_assignment").fetchone()
    assert count == len(students)


def _cli(*args, **kwargs):
    # Ctrl-C works whoever started the tests: a shell's background job ignores SIGINT, and
    # a Python started that way would never raise KeyboardInterrupt.
    return subprocess.Popen(
        [sys.executable, "-m", "autograder.cli", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        **kwargs,
    )


def test_an_interrupted_run_loses_nothing_and_resumes(tmp_path):
    students = {f"s{i:02d}": submission(ASSIGNMENT) for i in range(8)}
    write_batch(tmp_path / "submitted", ASSIGNMENT, students)
    course = tmp_path / "course"
    run = _cli("grade", ASSIGNMENT, tmp_path / "submitted", "--course", course, "--workers", "1")
    deadline = time.monotonic() + 300
    while (
        time.monotonic() < deadline and len(list(course.glob("autograded/*/*/autograder.json"))) < 2
    ):
        time.sleep(0.2)
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=120)
    assert run.returncode == 130 and "run the same command again" in err
    finished = {p.parts[-3] for p in course.glob("autograded/*/*/autograder.json")}
    assert 2 <= len(finished) < len(students)
    before = {
        s: (course / f"autograded/{s}/{ASSIGNMENT}/autograder.json").read_bytes() for s in finished
    }
    resumed = _cli("grade", ASSIGNMENT, tmp_path / "submitted", "--course", course)
    out, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err
    assert f"graded {len(students) - len(finished)} submission(s), {len(finished)} unchanged" in out
    for s in finished:  # what was done before the interruption was not redone
        assert (course / f"autograded/{s}/{ASSIGNMENT}/autograder.json").read_bytes() == before[s]
    graded = results(course, ASSIGNMENT)
    assert all(c.status == "passed" for g in graded.values() for c in g.values())
    assert len(read_csv(course / "grades.csv")) == len(students)


def test_bad_arguments_and_broken_course_folders_exit_2_with_a_message(
    tmp_path, monkeypatch, capsys
):
    (tmp_path / "afile").write_text("x")
    monkeypatch.chdir(tmp_path)  # no nbgrader_config.py here: the course comes from --source
    monkeypatch.delenv("AUTOGRADER_DEVICE", raising=False)
    cases = [
        (["grade", ASSIGNMENT, tmp_path / "nowhere"], "does not exist"),
        (["grade", "no-such-assignment", tmp_path], "no assignment"),
        (["grade", ASSIGNMENT, tmp_path, "--course", tmp_path / "afile"], "not a course folder"),
        (["grade", ASSIGNMENT, tmp_path, "--workers", "0"], "--workers"),
        (["grade", ASSIGNMENT, tmp_path, "--db", "nosuchdb://x"], "gradebook"),
        (["grade", ASSIGNMENT, tmp_path, "--memory-mb", "0"], "--memory-mb must be positive"),
        (["grade", ASSIGNMENT, tmp_path, "--notebook-timeout", "0"], "--notebook-timeout"),
        (["grade", ASSIGNMENT, tmp_path, "--source", tmp_path / "none"], "no such folder"),
    ]
    if not torch.cuda.is_available():
        cases.append((["grade", ASSIGNMENT, tmp_path, "--device", "cuda"], "no CUDA GPU"))
    for args, message in cases:
        extra = [] if "--source" in args else ["--source", SOURCES.source_dir]
        extra += [] if "--course" in args else ["--course", tmp_path / "c"]
        assert main([str(a) for a in args + extra]) == 2, args
        assert message in capsys.readouterr().err, args


def test_a_second_grade_on_the_same_course_waits_its_turn(tmp_path):
    write_batch(tmp_path / "submitted", ASSIGNMENT, {"a": submission(ASSIGNMENT)})
    course = tmp_path / "course"
    course.mkdir()
    import fcntl

    with open(course / ".autograder.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        run = _cli("grade", ASSIGNMENT, tmp_path / "submitted", "--course", course)
        _, err = run.communicate(timeout=300)
    assert run.returncode == 2 and "another `autograder grade` is running" in err


def test_nbgrader_generate_feedback_and_export_work_on_what_we_write(tmp_path):
    write_batch(tmp_path / "submitted", ASSIGNMENT, {"ref": submission(ASSIGNMENT)})
    grade(tmp_path / "course", ASSIGNMENT, tmp_path / "submitted")
    course = tmp_path / "course"
    config = (
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        f"c.CourseDirectory.db_url = 'sqlite:///{course}/gradebook.db'\n"
    )
    (course / "nbgrader_config.py").write_text(config)
    env = os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for command in [
        ["generate_feedback", ASSIGNMENT, "--student", "ref", "--force"],
        ["export", "--to", str(tmp_path / "nbgrader.csv")],
    ]:
        ran = subprocess.run(
            [sys.executable, "-m", "nbgrader", *command],
            cwd=course,
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert ran.returncode == 0, (command, ran.stderr)
    assert (course / "feedback/ref" / ASSIGNMENT / f"{ASSIGNMENT}.html").exists()
    row = read_csv(tmp_path / "nbgrader.csv")[0]
    assert float(row["raw_score"]) == 18.0


def test_scores_equal_nbgrader_autograde_cell_by_cell(tmp_path):
    """nbgrader's semantics: the same submissions get the same points per cell from plain
    `nbgrader autograde` (a kernel per notebook) as from `autograder grade`."""
    from catalogue import CORRECT
    from notebooks import autograde

    students = {"ref": submission(ASSIGNMENT), "stub": submission(ASSIGNMENT, fill=False)}
    students |= {
        f"w{i}": submission(ASSIGNMENT, {w.cell: w.code}) for i, w in enumerate(WRONGS[:2])
    }
    correct = next(c for c in CORRECT if c.assignment == ASSIGNMENT)
    students["alt"] = submission(ASSIGNMENT, {correct.cell: correct.code})
    theirs = autograde(ASSIGNMENT, students, tmp_path / "nbgrader")
    write_batch(tmp_path / "submitted", ASSIGNMENT, students)
    _, ours = grade(tmp_path / "ours", ASSIGNMENT, tmp_path / "submitted")
    for student in students:
        assert scores(ours[student]) == theirs[student].scores, student


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_grades_the_batch_to_the_same_scores(tmp_path, monkeypatch):
    students, _ = expected_batch()
    write_batch(tmp_path / "submitted", ASSIGNMENT, students)
    _, on_cpu = grade(tmp_path / "cpu", ASSIGNMENT, tmp_path / "submitted")
    monkeypatch.setenv("AUTOGRADER_DEVICE", "cuda")
    _, on_gpu = grade(tmp_path / "gpu", ASSIGNMENT, tmp_path / "submitted", device="cuda")
    assert {s: scores(g) for s, g in on_gpu.items()} == {s: scores(g) for s, g in on_cpu.items()}


def test_db_puts_the_gradebook_where_the_url_says(tmp_path):
    write_batch(tmp_path / "submitted", ASSIGNMENT, {"ref": submission(ASSIGNMENT)})
    url = f"sqlite:///{tmp_path / 'shared' / 'team.db'}"
    (tmp_path / "shared").mkdir()
    run = _cli(
        "grade", ASSIGNMENT, tmp_path / "submitted", "--course", tmp_path / "course", "--db", url
    )
    out, err = run.communicate(timeout=600)
    assert run.returncode == 0, err
    assert not (tmp_path / "course/gradebook.db").exists()
    with Gradebook(url) as gradebook:
        assert gradebook.find_submission(ASSIGNMENT, "ref").score == 18
    assert float(read_csv(tmp_path / "course/grades.csv")[0]["score"]) == 18


def test_export_and_report_write_the_outputs_again(tmp_path):
    write_batch(tmp_path / "submitted", ASSIGNMENT, {"ref": submission(ASSIGNMENT), "nb": b"{"})
    course = tmp_path / "course"
    grade(course, ASSIGNMENT, tmp_path / "submitted")
    before = {n: (course / n).read_bytes() for n in ("grades.csv", "cells.csv")}
    for name in (*before, "report.html"):
        (course / name).unlink()
    for command in ("export", "report"):
        run = _cli(command, ASSIGNMENT, "--course", course)
        out, err = run.communicate(timeout=300)
        assert run.returncode == 0 and "wrote" in out, err
    assert {n: (course / n).read_bytes() for n in before} == before
    assert "Histogram of total scores" in (course / "report.html").read_text()


def test_a_result_the_grader_caused_is_graded_again(tmp_path, monkeypatch):
    from autograder.grading import engine
    from autograder.grading.sandbox import SandboxCrashed

    write_batch(tmp_path / "submitted", ASSIGNMENT, {"ann": submission(ASSIGNMENT)})
    original = engine.Runner.fresh_session

    def broken(self, files):
        raise SandboxCrashed("the sandbox was not ready")

    monkeypatch.setattr(engine.Runner, "fresh_session", broken)
    _, first = grade(tmp_path / "course", ASSIGNMENT, tmp_path / "submitted", workers=1)
    assert all(c.status == "error" and "not your code" in c.message for c in first["ann"].values())
    monkeypatch.setattr(engine.Runner, "fresh_session", original)
    summary, again = grade(tmp_path / "course", ASSIGNMENT, tmp_path / "submitted", workers=1)
    assert summary.graded == 1 and summary.unchanged == 0
    assert all(c.status == "passed" for c in again["ann"].values())
    summary, _ = grade(tmp_path / "course", ASSIGNMENT, tmp_path / "submitted", workers=1)
    assert summary.unchanged == 1  # a final result is kept


def test_ctrl_c_stops_busy_sandboxes_too(tmp_path):
    from notebooks import reference_code

    slow = {
        gid: code + "\nimport time\ntime.sleep(4)\n"
        for gid, code in reference_code(ASSIGNMENT).items()
    }
    students = {"a-quick": submission(ASSIGNMENT), "b-slow": submission(ASSIGNMENT, slow)}
    write_batch(tmp_path / "submitted", ASSIGNMENT, students)
    course = tmp_path / "course"
    run = _cli("grade", ASSIGNMENT, tmp_path / "submitted", "--course", course, "--workers", "1")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not list(course.glob("autograded/a-quick/*/*.json")):
        time.sleep(0.2)
    time.sleep(2)  # b-slow is now running its cells
    interrupted = time.monotonic()
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=120)
    assert run.returncode == 130, err
    assert time.monotonic() - interrupted < 15, "a busy sandbox ran on after Ctrl-C"
    sandboxes = subprocess.run(["ps", "-ww", "-eo", "args"], capture_output=True, text=True).stdout
    assert str(course) not in sandboxes


def test_a_sandbox_that_cannot_restart_is_the_graders_failure(tmp_path, monkeypatch):
    from notebooks import reference_code

    from autograder.grading import engine
    from autograder.grading.sandbox import SandboxCrashed

    dies = reference_code(ASSIGNMENT)["conv_output_shape"] + "\nimport os\nos._exit(0)\n"
    write_batch(
        tmp_path / "submitted", ASSIGNMENT, {"ann": submission(ASSIGNMENT, {"corr2d_padded": dies})}
    )
    original, started = engine.Runner.fresh_session, []

    def only_once(self, files):
        started.append(1)
        if len(started) > 1:
            raise SandboxCrashed("no new sandbox")
        return original(self, files)

    monkeypatch.setattr(engine.Runner, "fresh_session", only_once)
    summary, first = grade(tmp_path / "course", ASSIGNMENT, tmp_path / "submitted", workers=1)
    cells = first["ann"]
    assert cells["test_conv_output_shape"].status == "passed"
    later = [cells[g] for g in ("test_conv2d_naive", "test_conv2d_fast", "test_Conv2d")]
    assert all(c.status == "error" and "not your code" in c.message for c in later), later
    assert not any("times" in c.message for c in cells.values())
    monkeypatch.setattr(engine.Runner, "fresh_session", original)
    summary, _ = grade(tmp_path / "course", ASSIGNMENT, tmp_path / "submitted", workers=1)
    assert summary.graded == 1  # not final: graded again


def test_the_batch_device_reaches_the_checks_not_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOGRADER_DEVICE", "tpu")  # what the checks would fail on, if read
    write_batch(tmp_path / "submitted", ASSIGNMENT, {"ann": submission(ASSIGNMENT)})
    _, graded = grade(tmp_path / "course", ASSIGNMENT, tmp_path / "submitted", device="cpu")
    assert all(c.status == "passed" for c in graded["ann"].values()), graded["ann"]


def test_the_sandboxes_stderr_goes_to_the_batchs_log(tmp_path):
    noisy = reference_code_with("corr2d_padded", "import os\nos.write(2, b'NOISE ' * 500_000)\n")
    write_batch(tmp_path / "submitted", ASSIGNMENT, {"ann": noisy})
    grade(tmp_path / "course", ASSIGNMENT, tmp_path / "submitted", workers=1)
    (log,) = (tmp_path / "course" / "logs").glob(f"{ASSIGNMENT}-*.log")
    text = log.read_text(errors="replace")
    assert "NOISE" in text and "cut off" in text
    assert log.stat().st_size < 2 * 2**20  # 3 MB written, 1 MB kept


def reference_code_with(cell: str, extra: str):
    from notebooks import reference_code

    return submission(ASSIGNMENT, {cell: reference_code(ASSIGNMENT)[cell] + "\n" + extra})
