"""`autograder publish --lms canvas`: grades and feedback pages posted through canvasapi to a
fake Canvas REST server on 127.0.0.1 (tests/fake_canvas.py), which records every request.

The course is made by hand (gradebook results saved as grading saves them, feedback pages
written), so no notebook is graded here."""

import hashlib
import io
import logging
import shutil
from pathlib import Path

import fake_canvas
import pytest
from nbgrader.api import Gradebook
from notebooks import SOURCES

from autograder.cli import main
from autograder.grading import publish
from autograder.grading.course import Course
from autograder.grading.engine import CellResult, Graded, Status

ASSIGNMENT = "nn-review"
TOKEN = "7~fakeCanvasToken-QXZJ"  # ends in letters no digest or id has
# Graded students: Canvas user ids, one nbgrader-style id, one id Canvas does not know.
SHARE = {"1001": 1.0, "1002": 0.5, "1003": 0.0, "1009": 1.0, "alice": 1.0}
ON_CANVAS = [1001, 1002, 1003, 1004]  # 1004 did not submit
FAST = publish.Retry(attempts=4, first_wait=0.01, max_wait=0.05, timeout=1.0)


@pytest.fixture(scope="session")
def server():
    server, thread = fake_canvas.start(TOKEN)
    yield server
    server.shutdown()
    thread.join(5)


@pytest.fixture
def canvas(server, monkeypatch):
    """A fresh fake Canvas; the token in the environment; retries fast."""
    server.fake.reset(ON_CANVAS)
    monkeypatch.setenv(publish.TOKEN_VARIABLE, TOKEN)
    monkeypatch.setattr(publish, "DEFAULT_RETRY", FAST)
    return server


def url(server) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def cells_for(assignment, share: float) -> list[CellResult]:
    """The first ``share`` of the test cells passed, the rest failed."""
    tests = list(assignment.tests.values())
    passed = round(share * len(tests))
    return [
        CellResult(t.grade_id, t.points, t.points, Status.PASSED)
        if i < passed
        else CellResult(t.grade_id, 0.0, t.points, Status.FAILED, f"{t.grade_id}: wrong")
        for i, t in enumerate(tests)
    ]


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Path:
    """A graded course folder: gradebook results and feedback pages for SHARE's students."""
    course = Course(tmp_path_factory.mktemp("publish") / "course", SOURCES)
    assignment = course.prepare(ASSIGNMENT)
    for student, share in SHARE.items():
        course.save(Graded(student, cells_for(assignment, share)), assignment, "fingerprint")
        page = course.feedback(student, ASSIGNMENT)
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(f"<html><body>feedback for {student}</body></html>")
    return course.root


@pytest.fixture
def course(graded, tmp_path) -> Course:
    """A copy of the graded course for one test (which may regrade it, and records posts)."""
    shutil.copytree(graded, tmp_path / "course")
    return Course(tmp_path / "course", SOURCES)


def totals(course: Course) -> dict[str, float]:
    with Gradebook(course.db_url) as gradebook:
        return {s: gradebook.find_submission(ASSIGNMENT, s).score for s in SHARE}


def run(server, course: Course, *extra) -> int:
    return main(
        ["publish", ASSIGNMENT, "--lms", "canvas", "--url", url(server), "--course-id", "101"]
        + ["--assignment-id", "202", "--course", str(course.root)]
        + ["--source", str(SOURCES.source_dir), *extra]
    )


def test_a_dry_run_says_what_it_would_post_and_posts_nothing(canvas, course, capsys):
    assert run(canvas, course) == 0
    out = capsys.readouterr().out
    fake = canvas.fake
    assert fake.changes() == []  # nothing but reads
    scores = totals(course)
    for student in ("1001", "1002", "1003"):
        line = next(line for line in out.splitlines() if line.strip().startswith(student + " "))
        assert f"grade {scores[student]:g}" in line and "(Canvas: none)" in line
        assert f"comment {ASSIGNMENT}-feedback-" in line
    assert "NOT a student of this Canvas assignment (2" in out and "1009, alice" in out
    assert "no graded submission (1" in out and "1004" in out
    assert "dry run: nothing was posted" in out
    # Paginated: the submissions list was read page by page (two per page here).
    pages = [r for r in fake.received if r.path.endswith("/submissions")]
    assert len(pages) == 2 and ("include[]", "submission_comments") in pages[0].query


def test_yes_posts_grades_and_feedback_pages_once_and_a_regrade_posts_only_what_changed(
    canvas, course, capsys
):
    fake = canvas.fake
    assert run(canvas, course, "--yes") == 0
    out = capsys.readouterr().out
    scores = totals(course)
    assert fake.grades() == {1001: scores["1001"], 1002: scores["1002"], 1003: 0.0, 1004: None}
    assert 0 < scores["1002"] < scores["1001"]
    for user in (1001, 1002, 1003):
        page = course.feedback(str(user), ASSIGNMENT).read_bytes()
        digest = hashlib.sha256(page).hexdigest()[:12]
        assert fake.comment_files(user) == [f"{ASSIGNMENT}-feedback-{digest}.html"]
        (stored,) = [f for f in fake.files.values() if f["user"] == user]
        assert stored["content"] == page and stored["confirmed"]
        assert f"posted {user}: grade" in out
    assert fake.comment_files(1004) == []
    # The three upload steps, in order, per student; the token only ever goes to the API.
    changes = fake.changes()
    for user in (1001, 1002, 1003):  # ask for a slot, upload, confirm, attach: in order
        assert [step for step, u in fake.steps if u == user] == [
            "slot",
            "upload",
            "confirm",
            "attach",
        ]
    uploads = [r for r in changes if r.path.startswith("/files/upload/")]
    assert len(uploads) == 3 and all(r.authorization is None for r in uploads)
    assert all(r.file and r.file[1].startswith(b"<html>") for r in uploads)
    api = [r for r in fake.received if r.path.startswith("/api/v1/courses")]
    assert all(r.authorization == f"Bearer {TOKEN}" for r in api)
    confirms = [r for r in fake.received if "create_success" in r.path]
    assert len(confirms) == 3
    grades = [dict(r.form).get("submission[posted_grade]") for r in changes if r.method == "PUT"]
    assert sorted(g for g in grades if g) == sorted(
        f"{scores[s]:g}" for s in ("1001", "1002", "1003")
    )
    assert "posted to Canvas: 3 student(s)." in out

    # Again: nothing new to post, nothing sent but reads.
    before = len(fake.received)
    assert run(canvas, course, "--yes") == 0
    assert "up to date on Canvas (3): 1001, 1002, 1003" in capsys.readouterr().out
    assert [r for r in fake.received[before:] if r.method != "GET"] == []

    # A regrade: a TA gives 1002 a point back in formgrader; 1003's feedback page changes.
    with Gradebook(course.db_url) as gradebook:
        notebook = gradebook.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, "1002")
        cell = next(g for g in notebook.grades if g.score < g.max_score)
        cell.manual_score = float(cell.max_score)
        gradebook.db.commit()
    course.feedback("1003", ASSIGNMENT).write_text("<html><body>regraded</body></html>")
    before = len(fake.received)
    assert run(canvas, course, "--yes") == 0
    out = capsys.readouterr().out
    new = [r for r in fake.received[before:] if r.method != "GET"]
    assert fake.grades()[1002] == totals(course)["1002"] > scores["1002"]
    puts = [(r.path.rsplit("/", 1)[-1], dict(r.form)) for r in new if r.method == "PUT"]
    assert ("1002", {"submission[posted_grade]": f"{totals(course)['1002']:g}"}) in puts
    assert [p for p, _ in puts] == ["1002", "1003"]  # a grade for 1002, a comment for 1003
    assert len(fake.comment_files(1003)) == 2 and len(fake.comment_files(1002)) == 1
    assert "posted 1002: grade" in out and "posted 1003: comment" in out
    assert "1001" not in "".join(line for line in out.splitlines() if line.startswith("posted"))


def test_rate_limits_server_errors_and_lost_connections_are_retried(canvas, course, capsys):
    fake = canvas.fake
    sub = r"/submissions/100\d$"
    fake.fault(
        "GET", r"/assignments/202$", kind="status", status=403, body=fake_canvas.RATE_LIMITED
    )
    fake.fault("GET", r"/submissions$", kind="status", status=429, body="slow down")
    fake.fault("PUT", sub, times=2, kind="status", status=500)
    fake.fault("PUT", sub, kind="status", status=503)
    fake.fault("POST", r"/comments/files$", kind="drop")
    fake.fault("POST", r"/files/upload/", kind="status", status=502)
    fake.fault("GET", r"/submissions$", kind="slow", seconds=1.5)  # past the 1 s timeout
    assert run(canvas, course, "--yes") == 0, capsys.readouterr()
    scores = totals(course)
    assert fake.grades() == {1001: scores["1001"], 1002: scores["1002"], 1003: 0.0, 1004: None}
    assert all(len(fake.comment_files(u)) == 1 for u in (1001, 1002, 1003))
    assert all(f.times == 0 for f in fake.faults)  # every fault was met, and got past
    listings = [r for r in fake.received if r.method == "GET" and r.path.endswith("/submissions")]
    assert len(listings) == 4  # 429, the slow one given up after 1 s, then both pages


def test_a_comment_that_arrived_although_its_answer_was_lost_is_not_posted_twice(
    canvas, course, capsys
):
    fake = canvas.fake
    # The comment's PUT takes effect on Canvas, but its answer never arrives.
    fake.fault("PUT", r"/submissions/1001$", kind="drop-after", field="comment[file_ids][]")
    assert run(canvas, course, "--yes") == 0
    out = capsys.readouterr().out
    assert fake.faults[0].times == 0
    assert all(len(fake.comment_files(u)) == 1 for u in (1001, 1002, 1003))
    attaches = [r for r in fake.received if r.method == "PUT" and r.path.endswith("/1001")]
    assert len([r for r in attaches if "comment[file_ids][]" in dict(r.form)]) == 1
    assert "posted 1001: grade" in out and "posted to Canvas: 3 student(s)." in out


def test_what_cannot_be_posted_is_listed_and_the_exit_status_says_so(canvas, course, capsys):
    fake = canvas.fake
    fake.fault("PUT", r"/submissions/1002$", times=100, kind="status", status=500)
    fake.fault("POST", r"/submissions/1003/comments/files$", times=1, kind="status",
               status=403, body="user not authorized to perform that action")  # fmt: skip
    assert run(canvas, course, "--yes") == 1
    out = capsys.readouterr().out
    posted = [line for line in out.splitlines() if line.startswith("posted ")]
    assert not any(line.startswith("posted 1002") for line in posted)  # nothing of 1002 worked
    assert any(line.startswith("posted 1003: grade") for line in posted)
    assert not any("1003" in line and "comment" in line for line in posted)
    assert "NOT posted (3)" in out
    assert "1002 grade: CanvasException: Encountered an error: status code 500" in out
    assert "1002 comment:" in out and "1003 comment: Forbidden: user not authorized" in out
    assert fake.grades()[1002] is None and fake.comment_files(1002) == []
    assert fake.comment_files(1003) == [] and fake.grades()[1003] == 0.0
    # Not a rate limit: the 403 was not retried; the 500s were, up to the attempts allowed.
    put_1002 = [r for r in fake.received if r.method == "PUT" and r.path.endswith("/1002")]
    assert len(put_1002) == 2 * FAST.attempts  # the grade, then the comment's attach
    # Run again once Canvas is well: the rest is posted, nothing twice.
    fake.faults.clear()
    assert run(canvas, course, "--yes") == 0
    assert all(len(fake.comment_files(u)) == 1 for u in (1001, 1002, 1003))
    assert fake.grades()[1002] == totals(course)["1002"]


def test_a_grade_canvas_answers_without_taking_is_not_reported_as_posted(canvas, course, capsys):
    fake = canvas.fake
    fake.submissions[1002]["score"] = 5.0  # a grade from before, which Canvas keeps
    fake.frozen.add(1002)
    assert run(canvas, course, "--yes") == 1
    out = capsys.readouterr().out
    assert "1002 grade: NotTaken: Canvas answered, but shows the score 5" in out
    assert not any(line.startswith("posted 1002: grade") for line in out.splitlines())
    assert "posted 1002: comment" in out  # the comment did arrive


def test_the_token_comes_from_the_environment_only_and_is_never_printed_or_logged(
    canvas, course, capsys, monkeypatch
):
    log = io.StringIO()
    handler = logging.StreamHandler(log)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)  # canvasapi, requests and urllib3 say all they say
    canvas.fake.fault("PUT", r"/submissions/1001$", times=100, kind="status", status=403,
                      body=f"not allowed with Bearer {TOKEN}")  # fmt: skip
    try:
        assert run(canvas, course, "--yes") == 1
        monkeypatch.setenv(publish.TOKEN_VARIABLE, TOKEN[:-1] + "W")  # a wrong token
        assert run(canvas, course) == 2
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    out, err = capsys.readouterr()
    logged = log.getvalue()
    assert "Request: PUT" in logged and "Authorization" in logged  # the debug log was on
    assert "refused the token" in err
    for text in (out, err, logged):
        assert TOKEN not in text and TOKEN[-8:] not in text and TOKEN[-4:] not in text
        assert TOKEN[:-1] not in text
    assert "not allowed with Bearer [token]" in out  # Canvas echoed it; shown scrubbed
    assert f"Data: {TOKEN}" not in logged and "[token]" in logged

    monkeypatch.delenv(publish.TOKEN_VARIABLE)
    assert run(canvas, course) == 2
    assert "CANVAS_API_TOKEN" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["publish", ASSIGNMENT, "--lms", "canvas", "--token", TOKEN])  # no such option
    capsys.readouterr()


@pytest.mark.parametrize(
    "given, words",
    [
        ("http://canvas.example.edu", "unencrypted"),
        ("https://canvas.example.edu/api/v1", "without /api/v1"),
        ("canvas.example.edu", "give the Canvas address"),
    ],
)
def test_a_url_that_would_leak_the_token_or_is_not_a_site_is_refused(
    canvas, course, capsys, given, words
):
    code = main(
        ["publish", ASSIGNMENT, "--lms", "canvas", "--url", given, "--course-id", "1"]
        + ["--assignment-id", "2", "--course", str(course.root)]
        + ["--source", str(SOURCES.source_dir)]
    )
    assert code == 2 and words in capsys.readouterr().err
    assert canvas.fake.received == []


def test_a_percentage_assignment_gets_percentages_and_compares_as_canvas_stores_them(
    canvas, course, capsys
):
    canvas.fake.reset(ON_CANVAS, points_possible=50, grading_type="percent")
    assert run(canvas, course, "--yes") == 0
    scores, most = totals(course), 14.0
    grades = canvas.fake.grades()
    assert grades[1001] == 50.0 and grades[1002] == round(scores["1002"] / most * 50, 2)
    assert run(canvas, course, "--yes") == 0
    assert "up to date on Canvas (3)" in capsys.readouterr().out


def test_unknown_course_or_assignment_is_a_clear_error(canvas, course, capsys):
    code = main(
        ["publish", ASSIGNMENT, "--lms", "canvas", "--url", url(canvas), "--course-id", "999"]
        + ["--assignment-id", "202", "--course", str(course.root)]
        + ["--source", str(SOURCES.source_dir)]
    )
    assert code == 2 and "has no course 999" in capsys.readouterr().err


def test_transient_errors_are_told_apart_from_permanent_ones():
    import requests
    from canvasapi.exceptions import (
        BadRequest,
        CanvasException,
        Forbidden,
        RateLimitExceeded,
        ResourceDoesNotExist,
    )

    assert publish.transient(requests.ConnectionError())
    assert publish.transient(requests.ReadTimeout())
    assert publish.transient(RateLimitExceeded("Rate Limit Exceeded"))
    assert publish.transient(Forbidden("403 Forbidden (Rate Limit Exceeded)\n"))
    assert not publish.transient(Forbidden("user not authorized to perform that action"))
    assert publish.transient(CanvasException("Encountered an error: status code 502"))
    assert not publish.transient(CanvasException("Encountered an error: status code 418"))
    assert not publish.transient(BadRequest("bad"))
    assert not publish.transient(ResourceDoesNotExist("Not Found"))
    assert not publish.transient(ValueError("no JSON"))
