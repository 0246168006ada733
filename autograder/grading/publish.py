"""Grades and feedback posted to Canvas through its API (``autograder publish --lms canvas``).

For each graded student whose id (the Canvas user id their submission's file name gave, as
``export --lms canvas`` matches them) is a student of the Canvas assignment, the score from
nbgrader's gradebook (manual grades and re-runs included) is posted as the submission's grade,
and their feedback page (``course/feedback/<student>/<a>/<a>.html``) is attached to the
submission as a comment. Built on ``canvasapi`` (``pip install 'cnn-course[canvas]'``).

- **Dry run by default**: :func:`plan` reads the Canvas assignment's submissions and says what
  would be posted (student, score, comment file) and who is unmatched, both ways; only
  :func:`post` (``--yes``) changes anything on Canvas.
- **Idempotent**: a grade is posted only when Canvas's current score differs from the
  gradebook's; a feedback page is attached only when the submission's comments do not hold it
  already: the file's name carries a digest of the page (``<a>-feedback-<digest>.html``), and
  ``course/published/`` records the Canvas file id of each page posted, so a page Canvas
  renamed is still recognised. A regrade posts exactly what changed.
- **The token** is read from ``CANVAS_API_TOKEN`` only (never an option), and never printed or
  logged: canvasapi's debug log masks all but its last four characters, and a filter here
  removes those too; messages from Canvas that are shown are scrubbed of it.
- **Retries**: network errors, timeouts, rate limits (Canvas answers HTTP 403 with "Rate Limit
  Exceeded", which canvasapi raises as ``Forbidden``; 429 it raises as ``RateLimitExceeded``)
  and 5xx answers are retried with exponential backoff; canvasapi retries nothing itself.
  Before a comment is posted again, the submission is read back, so a comment whose answer
  was lost is not posted twice. What could not be posted is listed at the end, and only what
  Canvas confirmed is reported as posted.
"""

import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import untrusted
from .course import Course, CourseError, write_atomically
from .lms import gradebook_scores

TOKEN_VARIABLE = "CANVAS_API_TOKEN"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
GRADED_TYPES = {"points", "percent", "letter_grade", "gpa_scale"}
MESSAGE_CHARS = 300  # what is kept of an answer from Canvas in a message


class PublishError(CourseError):
    """Publishing cannot start (no token, a bad URL, Canvas refused the course)."""


@dataclass(frozen=True)
class Retry:
    """How requests are retried: ``attempts`` tries in all, waiting ``first_wait`` seconds
    after the first failure, then ``factor`` times longer each time (at most ``max_wait``);
    ``timeout`` bounds each HTTP request."""

    attempts: int = 6
    first_wait: float = 2.0
    factor: float = 2.0
    max_wait: float = 60.0
    timeout: float = 60.0
    sleep: Callable[[float], None] = time.sleep


DEFAULT_RETRY = Retry()  # what the command uses: about two minutes of tries per request


def transient(error: BaseException) -> bool:
    """Whether trying again may succeed: the network, a timeout, a rate limit, a 5xx."""
    import requests
    from canvasapi.exceptions import CanvasException, Forbidden, RateLimitExceeded

    if isinstance(
        error,
        requests.ConnectionError | requests.Timeout | requests.exceptions.ChunkedEncodingError,
    ):
        return True
    if isinstance(error, RateLimitExceeded):
        return True
    if isinstance(error, Forbidden):
        return "rate limit exceeded" in str(error).lower()
    if isinstance(error, CanvasException):  # canvasapi's catch-all: "... status code 503"
        found = re.search(r"status code (\d{3})", str(error))
        return bool(found) and (int(found[1]) >= 500 or int(found[1]) == 429)
    return False


class Scrubber(logging.Filter):
    """Takes the token (and the last characters canvasapi leaves of it) out of log records."""

    def __init__(self, token: str):
        super().__init__()
        self.token = token

    def scrub(self, text: str) -> str:
        if self.token:
            text = text.replace(self.token, "[token]")
            text = re.sub(r"\*{4}\S{0,4}", "****", text)  # canvasapi's "****" + last four
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.scrub(record.getMessage())
        record.args = ()
        return True


def _points(value: float) -> str:
    return f"{round(value, 2):g}"


@dataclass
class Post:
    """What one matched student needs on Canvas (``grade`` and/or ``feedback``)."""

    student: str
    score: float
    grade: str | None = None  # posted_grade to send; None when Canvas has it already
    shown: float | None = None  # the score Canvas should show once the grade is posted
    current: float | None = None  # Canvas's score now
    feedback: Path | None = None  # the page to attach; None when attached already (or none)
    comment_name: str = ""
    digest: str = ""

    def line(self) -> str:
        parts = []
        if self.grade is not None:
            now = "none" if self.current is None else _points(self.current)
            parts.append(f"grade {self.grade} (Canvas: {now})")
        if self.feedback is not None:
            parts.append(f"comment {self.comment_name}")
        return f"  {self.student}  " + ", ".join(parts)


@dataclass
class Plan:
    course_name: str
    assignment_name: str
    max_score: float
    points_possible: float | None
    grading_type: str
    posts: list[Post] = field(default_factory=list)  # something to post
    up_to_date: list[str] = field(default_factory=list)
    not_on_canvas: list[str] = field(default_factory=list)  # graded, no such Canvas student
    not_graded: list[str] = field(default_factory=list)  # Canvas students without a result
    no_feedback: list[str] = field(default_factory=list)  # graded, no feedback page
    notes: list[str] = field(default_factory=list)
    submissions: dict[str, Any] = field(default_factory=dict)  # Canvas's, by user id

    def lines(self) -> list[str]:
        lines = [
            f"canvas: {self.course_name}, assignment {self.assignment_name} "
            f"({self.grading_type}, out of {_points(self.points_possible or 0)} on Canvas; "
            f"the notebook is out of {_points(self.max_score)})."
        ]
        if self.posts:
            lines.append(f"to post ({len(self.posts)}):")
            lines += [p.line() for p in self.posts]
        if self.up_to_date:
            lines.append(
                f"up to date on Canvas ({len(self.up_to_date)}): " + ", ".join(self.up_to_date)
            )
        if self.not_on_canvas:
            lines.append(
                f"graded, NOT a student of this Canvas assignment ({len(self.not_on_canvas)}, "
                "nothing posted; check their ids): " + ", ".join(self.not_on_canvas)
            )
        if self.not_graded:
            lines.append(
                f"on Canvas, no graded submission ({len(self.not_graded)}, nothing posted): "
                + ", ".join(self.not_graded)
            )
        if self.no_feedback:
            lines.append(
                "no feedback page (grade only; a page is written when its submission is graded) "
                f"({len(self.no_feedback)}): " + ", ".join(self.no_feedback)
            )
        return lines + self.notes


@dataclass
class Failure:
    student: str
    what: str  # "grade" or "comment"
    reason: str


@dataclass
class Outcome:
    posted: list[str] = field(default_factory=list)  # lines: what Canvas confirmed
    failed: list[Failure] = field(default_factory=list)

    def lines(self) -> list[str]:
        lines = list(self.posted)
        lines.append(f"posted to Canvas: {len(self.posted)} student(s).")
        if self.failed:
            lines.append(f"NOT posted ({len(self.failed)}): run the same command again later.")
            lines += [f"  {f.student} {f.what}: {f.reason}" for f in self.failed]
        return lines


# -- connecting -----------------------------------------------------------------------------


def token_from_environment() -> str:
    token = os.environ.get(TOKEN_VARIABLE, "").strip()
    if not token:
        raise PublishError(
            f"set the environment variable {TOKEN_VARIABLE} to a Canvas API token (Canvas: "
            "Account → Settings → New access token); it is never taken from the command line."
        )
    return token


def check_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PublishError(
            f"--url {url!r}: give the Canvas address, e.g. https://canvas.example.edu"
        )
    if parts.scheme == "http" and parts.hostname not in LOCAL_HOSTS:
        raise PublishError(
            f"--url {url!r}: the token would travel unencrypted over http; use https://."
        )
    if "/api/" in parts.path:
        raise PublishError(f"--url {url!r}: give the site's address only, without /api/v1.")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def connect(url: str, token: str, retry: Retry):
    """A canvasapi ``Canvas`` whose every HTTP request is bounded by ``retry.timeout``."""
    import warnings

    from canvasapi import Canvas
    from requests.adapters import HTTPAdapter

    class Bounded(HTTPAdapter):
        def send(self, request, **kwargs):
            kwargs["timeout"] = kwargs.get("timeout") or retry.timeout
            return super().send(request, **kwargs)

    with warnings.catch_warnings():  # http is refused above but for this machine (tests)
        warnings.simplefilter("ignore", UserWarning)
        canvas = Canvas(check_url(url), token)
    session = getattr(getattr(canvas, "_Canvas__requester", None), "_session", None)
    if session is not None:
        for prefix in ("http://", "https://"):
            session.mount(prefix, Bounded())
    return canvas


class Caller:
    """Runs Canvas requests with retries; every message it makes is scrubbed of the token."""

    def __init__(self, retry: Retry, scrubber: Scrubber):
        self.retry, self.scrubber = retry, scrubber

    def reason(self, error: BaseException) -> str:
        text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        return untrusted.text(self.scrubber.scrub(text), MESSAGE_CHARS).replace("\n", " ")

    def __call__(self, action: Callable[[], Any], before_retry: Callable[[], bool] | None = None):
        """``action()``, tried again while it fails transiently. ``before_retry()`` runs
        before each new try; when it says the work is done already, that is the result."""
        wait = self.retry.first_wait
        for attempt in range(1, self.retry.attempts + 1):
            try:
                if attempt > 1 and before_retry is not None and before_retry():
                    return None
                return action()
            except Exception as error:
                if not transient(error) or attempt == self.retry.attempts:
                    raise
                self.retry.sleep(min(wait, self.retry.max_wait))
                wait *= self.retry.factor
        raise AssertionError("unreachable")


# -- what to post ---------------------------------------------------------------------------


def comment_name(assignment: str, digest: str) -> str:
    return f"{assignment}-feedback-{digest[:12]}.html"


def _attachments(submission) -> list[dict]:
    found = []
    for comment in getattr(submission, "submission_comments", None) or []:
        if isinstance(comment, dict):
            found += [a for a in comment.get("attachments") or [] if isinstance(a, dict)]
    return found


def find_comment(submission, name: str, file_ids: set) -> dict | None:
    """The attachment of the submission's comments that is the file ``name`` (or a file
    recorded as posted for it, which Canvas may have renamed), or None."""
    for attachment in _attachments(submission):
        if name in (attachment.get("display_name"), attachment.get("filename")):
            return attachment
        if attachment.get("id") in file_ids:
            return attachment
    return None


class Record:
    """``course/published/canvas-<course id>-<assignment id>.json``: what was posted to that
    Canvas assignment, per student: the grade, the feedback page's digest and file id."""

    def __init__(self, course: Course, course_id: int, assignment_id: int):
        self.path = course.root / "published" / f"canvas-{course_id}-{assignment_id}.json"
        try:
            data = json.loads(self.path.read_text())
            self.students = data["students"] if isinstance(data.get("students"), dict) else {}
        except (OSError, ValueError, AttributeError, KeyError):
            self.students = {}

    def file_ids(self, student: str, digest: str) -> set:
        entry = self.students.get(student, {})
        return {i for d, i in entry.get("files", []) if d == digest}

    def posted_grade(self, student: str, grade: str) -> None:
        self.students.setdefault(student, {})["grade"] = grade
        self._save()

    def posted_file(self, student: str, digest: str, file_id) -> None:
        entry = self.students.setdefault(student, {})
        entry.setdefault("files", []).append([digest, file_id])
        self._save()

    def _save(self) -> None:
        data = {"students": self.students}
        write_atomically(self.path, json.dumps(data, indent=1, sort_keys=True).encode())


def _grade_for(score: float, max_score: float, plan: Plan) -> tuple[str, float]:
    """The ``posted_grade`` to send and the score Canvas will then show."""
    if plan.grading_type == "points":
        return _points(score), round(score, 2)
    percent = 100 * score / max_score if max_score else 0.0
    return f"{round(percent, 2):g}%", round(percent * (plan.points_possible or 0) / 100, 2)


def plan(
    course: Course,
    assignment: str,
    canvas_course,
    canvas_assignment,
    record: Record,
    call: Caller,
) -> Plan:
    """What ``post`` would send for ``assignment`` to the Canvas assignment."""
    scores = gradebook_scores(course, assignment)
    grading_type = str(getattr(canvas_assignment, "grading_type", "points") or "points")
    possible = getattr(canvas_assignment, "points_possible", None)
    result = Plan(
        course_name=f"{getattr(canvas_course, 'name', '')!r} ({canvas_course.id})",
        assignment_name=f"{getattr(canvas_assignment, 'name', '')!r} ({canvas_assignment.id})",
        max_score=scores.max_score,
        points_possible=float(possible) if possible is not None else None,
        grading_type=grading_type,
    )
    if grading_type not in GRADED_TYPES:
        raise PublishError(
            f"the Canvas assignment is graded as {grading_type!r}; publish posts points or a "
            "percentage: make it a points (or percentage, letter, GPA) assignment on Canvas."
        )
    if grading_type == "points" and possible is not None and float(possible) != scores.max_score:
        result.notes.append(
            f"note: the Canvas assignment is out of {_points(float(possible))} points, the "
            f"notebook out of {_points(scores.max_score)}; scores are posted as the gradebook "
            "has them."
        )
    if grading_type != "points" and not possible:
        raise PublishError("the Canvas assignment has no points possible; set them on Canvas.")
    submissions = call(
        lambda: list(canvas_assignment.get_submissions(include=["submission_comments"]))
    )
    on_canvas = {str(s.user_id): s for s in submissions if getattr(s, "user_id", None) is not None}
    result.submissions = on_canvas
    result.not_on_canvas = sorted(set(scores.by_student) - set(on_canvas), key=_order)
    result.not_graded = sorted(set(on_canvas) - set(scores.by_student), key=_order)
    for student in sorted(set(scores.by_student) & set(on_canvas), key=_order):
        submission = on_canvas[student]
        score = scores.by_student[student]
        grade, shown = _grade_for(score, scores.max_score, result)
        current = getattr(submission, "score", None)
        current = float(current) if isinstance(current, int | float) else None
        post = Post(student, score, shown=shown, current=current)
        if current is None or abs(current - shown) > 0.005:
            post.grade = grade
        page = course.feedback(student, assignment)
        if page.is_file():
            post.digest = hashlib.sha256(page.read_bytes()).hexdigest()
            post.comment_name = comment_name(assignment, post.digest)
            posted = record.file_ids(student, post.digest)
            if find_comment(submission, post.comment_name, posted) is None:
                post.feedback = page
        else:
            result.no_feedback.append(student)
        if post.grade is None and post.feedback is None:
            result.up_to_date.append(student)
        else:
            result.posts.append(post)
    if scores.needs_manual:
        result.notes.append(
            f"note: {len(scores.needs_manual)} submission(s) still need manual grading in "
            "formgrader; their scores are as they stand: " + ", ".join(scores.needs_manual)
        )
    return result


def _order(student: str):
    return (0, int(student), "") if student.isdigit() else (1, 0, student)


# -- posting --------------------------------------------------------------------------------


def post(the_plan: Plan, canvas_assignment, record: Record, call: Caller, log=print) -> Outcome:
    """Post every grade and comment of ``the_plan``; each confirmed step is recorded and
    said (``log``), each that failed after its retries is listed in the outcome."""
    outcome = Outcome()
    for item in the_plan.posts:
        submission = the_plan.submissions[item.student]
        done = []
        if item.grade is not None:
            try:
                call(lambda s=submission, g=item.grade: s.edit(submission={"posted_grade": g}))
                _check_grade(submission, item)
            except Exception as error:
                outcome.failed.append(Failure(item.student, "grade", call.reason(error)))
            else:
                record.posted_grade(item.student, item.grade)
                done.append(f"grade {item.grade}")
        if item.feedback is not None:
            try:
                file_id = _post_comment(item, submission, canvas_assignment, record, call)
            except Exception as error:
                outcome.failed.append(Failure(item.student, "comment", call.reason(error)))
            else:
                record.posted_file(item.student, item.digest, file_id)
                done.append(f"comment {item.comment_name}")
        if done:
            line = f"posted {item.student}: " + ", ".join(done)
            outcome.posted.append(line)
            log(line)
    return outcome


class NotTaken(RuntimeError):
    """Canvas answered, but does not show what was posted."""


def _check_grade(submission, item: Post) -> None:
    """Canvas's answer to the grade's PUT is the submission as it now is: its score must be
    the one posted (an answer without a score is taken at its word)."""
    score = getattr(submission, "score", None)
    if isinstance(score, int | float) and item.shown is not None:
        if abs(float(score) - item.shown) > 0.005:
            raise NotTaken(
                f"Canvas answered, but shows the score {_points(float(score))}, not "
                f"{_points(item.shown)} (is the assignment published, the student enrolled?)"
            )


def _post_comment(item: Post, submission, canvas_assignment, record: Record, call: Caller):
    """Upload the page as the submission's comment file (canvasapi: ask for an upload slot,
    upload, confirm, then attach it with a comment); the Canvas file id. Before a retry the
    submission is read back: a comment that arrived although its answer was lost counts."""
    found: dict = {}

    def arrived() -> bool:
        fresh = canvas_assignment.get_submission(int(item.student), include=["submission_comments"])
        attachment = find_comment(
            fresh, item.comment_name, record.file_ids(item.student, item.digest)
        )
        if attachment is not None:
            found["id"] = attachment.get("id")
        return attachment is not None

    def upload():
        with item.feedback.open("rb") as page:
            named = _Named(page, item.comment_name)
            uploaded, answer = submission.upload_comment(named)
        if not uploaded:
            raise RuntimeError("Canvas did not confirm the upload")
        found["id"] = answer.get("id")
        return found["id"]

    call(upload, before_retry=lambda: call(arrived))
    return found.get("id")


class _Named:
    """A file object that tells canvasapi the name to upload it as."""

    def __init__(self, file, name: str):
        self._file, self.name = file, name

    def __getattr__(self, attribute):
        return getattr(self._file, attribute)

    def read(self, *args):
        return self._file.read(*args)

    def __iter__(self):
        return iter(self._file)


# -- the command ----------------------------------------------------------------------------


def publish(
    course: Course,
    assignment: str,
    url: str,
    course_id: int,
    assignment_id: int,
    *,
    yes: bool = False,
    retry: Retry = DEFAULT_RETRY,
    log: Callable[[str], None] = print,
) -> Outcome | None:
    """Plan, print, and with ``yes`` post; the outcome (None for a dry run)."""
    try:
        import canvasapi  # noqa: F401
    except ImportError:
        raise PublishError(
            "publishing to Canvas needs canvasapi: pip install 'cnn-course[grade,canvas]'."
        ) from None
    from canvasapi.exceptions import (
        CanvasException,
        InvalidAccessToken,
        ResourceDoesNotExist,
        Unauthorized,
    )

    token = token_from_environment()
    url = check_url(url)
    scrubber = Scrubber(token)
    call = Caller(retry, scrubber)
    logger = logging.getLogger("canvasapi.requester")
    logger.addFilter(scrubber)
    try:
        canvas = connect(url, token, retry)
        try:
            canvas_course = call(lambda: canvas.get_course(course_id))
            canvas_assignment = call(lambda: canvas_course.get_assignment(assignment_id))
        except (InvalidAccessToken, Unauthorized) as error:
            raise PublishError(
                f"Canvas at {url} refused the token in {TOKEN_VARIABLE} ({call.reason(error)})."
            ) from None
        except ResourceDoesNotExist:
            raise PublishError(
                f"Canvas at {url} has no course {course_id} with an assignment {assignment_id} "
                "that this token may see (the ids are in the assignment's address: "
                "/courses/<course id>/assignments/<assignment id>)."
            ) from None
        except CanvasException as error:
            raise PublishError(f"Canvas at {url} refused: {call.reason(error)}") from None
        except OSError as error:  # requests' errors: no answer
            raise PublishError(f"cannot reach Canvas at {url}: {call.reason(error)}") from None
        record = Record(course, course_id, assignment_id)
        try:
            the_plan = plan(course, assignment, canvas_course, canvas_assignment, record, call)
        except (CanvasException, OSError) as error:
            raise PublishError(
                f"cannot read the assignment's submissions from Canvas: {call.reason(error)}"
            ) from None
        for line in the_plan.lines():
            log(line)
        if not yes:
            if the_plan.posts:
                log("dry run: nothing was posted. Run again with --yes to post.")
            else:
                log("nothing to post.")
            return None
        outcome = post(the_plan, canvas_assignment, record, call, log=log)
        for line in outcome.lines()[len(outcome.posted) :]:
            log(line)
        return outcome
    finally:
        logger.removeFilter(scrubber)
