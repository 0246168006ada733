"""`autograder export --lms moodle`: the grading worksheet's feedback comments and the zip for
Moodle's "Upload multiple feedback files in a zip", from a realistic worksheet and download.

The course is made by hand (results saved as grading saves them, some cells with partial
credit parts, feedback pages written), so no notebook is graded here."""

import csv
import html
import io
import re
import zipfile
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from notebooks import SOURCES

from autograder.checks._score import PartResult
from autograder.cli import main
from autograder.grading import lms
from autograder.grading.course import Course
from autograder.grading.engine import CellResult, Graded, Status

ASSIGNMENT = "nn-review"

# Moodle 4.3's "Download grading worksheet" for this assignment (UTF-8, a header, quoted
# dates, an online-text column, a student who did not submit, non-ASCII names).
WORKSHEET = (
    "Identifier,Full name,Email address,Status,Grade,Maximum grade,Grade can be changed,"
    "Last modified (submission),Online text,Last modified (grade),Feedback comments\n"
    'Participant 5501,Ada Lovelace,ada@example.edu,"Submitted for grading - Graded",,14.00,'
    'Yes,"Monday, 3 March 2025, 9:12 AM",,-,\n'
    'Participant 5502,Zoë Müller-Ŝmith,zoe@example.edu,"Submitted for grading",,14.00,Yes,'
    '"Monday, 3 March 2025, 9:40 AM",,-,\n'
    'Participant 5503,Grace Hopper,grace@example.edu,"Submitted for grading",,14.00,Yes,'
    '"Monday, 3 March 2025, 10:02 AM",,-,\n'
    "Participant 5504,Alan Turing,alan@example.edu,No submission,,14.00,Yes,-,,-,\n"
    'Participant 5505,"O\'Neil_Jr, Pat",pat@example.edu,"Submitted for grading",,14.00,Yes,'
    '"Tuesday, 4 March 2025, 8:00 AM",,-,\n'
)
# The download of the submissions, as Moodle 4.1 and later name the folders (no trailing _).
DOWNLOAD = {
    "Ada Lovelace_5501_assignsubmission_file": "nn-review.ipynb",
    "Zoë Müller-Ŝmith_5502_assignsubmission_file": "nn-review (1).ipynb",
    "Grace Hopper_5503_assignsubmission_file": "nn-review.ipynb",
    "Pat O'Neil Jr_5505_assignsubmission_file": "nn-review.ipynb",
}
HOSTILE = '=HYPERLINK("http://x")<script>alert(1)</script> & more\nsecond line\x1b[2J'


def parts_for(points: float, failing: str) -> tuple[PartResult, ...]:
    """Three parts worth ``points``: simple and stride pass, the hidden cases fail."""
    third = points / 3
    return (
        PartResult("simple cases", third, True),
        PartResult("stride", third, True),
        PartResult("hidden cases", points - 2 * third, False, failing),
    )


def results_for(assignment, student: str) -> list[CellResult]:
    tests = list(assignment.tests.values())
    cells = []
    for i, t in enumerate(tests):
        if student == "5501" or i % 2 == 0:
            cells.append(CellResult(t.grade_id, t.points, t.points, Status.PASSED))
        elif student == "5503" and i == 1:  # partial credit, with parts
            parts = parts_for(t.points, "wrong values for x of shape (2, 3)")
            earned = sum(p.points for p in parts if p.passed)
            message = f"{t.grade_id}: {earned:g} of {t.points:g} points"
            cells.append(CellResult(t.grade_id, earned, t.points, Status.FAILED, message, parts))
        else:
            message = HOSTILE if student == "5505" else f"{t.grade_id}: the bias is missing."
            cells.append(CellResult(t.grade_id, 0.0, t.points, Status.FAILED, message))
    return cells


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Course:
    course = Course(tmp_path_factory.mktemp("moodle") / "course", SOURCES)
    assignment = course.prepare(ASSIGNMENT)
    for student in ("5501", "5502", "5503", "5505", "5509", "alice"):
        course.save(Graded(student, results_for(assignment, student)), assignment, "fp")
        if student != "5502":  # 5502's page is missing: graded, but no file for them
            page = course.feedback(student, ASSIGNMENT)
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_text(f"<html><body>feedback for {student}</body></html>")
    return course


def export(course: Course, *args) -> int:
    return main(
        ["export", ASSIGNMENT, "--lms", "moodle", "--course", str(course.root)]
        + ["--source", str(SOURCES.source_dir), *[str(a) for a in args]]
    )


def download(tmp_path: Path, folders: dict[str, str], as_zip: bool) -> Path:
    if as_zip:
        path = tmp_path / "ASSIGN-nn-review-12345.zip"
        with zipfile.ZipFile(path, "w") as archive:
            for folder, name in folders.items():
                archive.writestr(f"{folder}/{name}", "{}")
        return path
    path = tmp_path / "download"
    for folder, name in folders.items():
        (path / folder).mkdir(parents=True)
        (path / folder / name).write_text("{}")
    return path


def moodle_reads(name: str, participants: set[str]) -> tuple[str, str] | None:
    """Moodle's own reading of a feedback zip entry (assignfeedback_file_zip_importer::
    is_valid_filename_for_import): each path part split on ``_`` (at most 5 fields), at
    least 4, the second a participant number, the third and fourth a plugin; the rest of
    the path is the file name. (participant, file name) or None."""
    parts = name.split("/")
    while parts:
        part = parts.pop(0)
        info = part.split("_", 4)
        if len(info) < 4 or not info[1].isdigit() or info[1] not in participants:
            continue
        if (info[2], info[3]) != ("assignsubmission", "file"):
            continue
        rest = info[4] if len(info) == 5 else ""
        return info[1], "/".join([rest, *parts])
    return None


def rows_of(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))


@pytest.mark.parametrize("as_zip", [False, True], ids=["folder", "zip"])
def test_the_worksheet_gets_comments_and_the_zip_takes_the_submissions_folder_names(
    course, tmp_path, capsys, as_zip
):
    worksheet = tmp_path / "Grades-nn-review.csv"
    worksheet.write_text(WORKSHEET, encoding="utf-8")
    out = tmp_path / "upload.csv"
    submissions = download(tmp_path, DOWNLOAD, as_zip)
    assert export(course, "--roster", worksheet, "--output", out, "--submissions", submissions) == 0
    printed = capsys.readouterr().out
    before, after = rows_of(worksheet), rows_of(out)
    assert [list(r) for r in after] == [list(r) for r in before]  # the same columns
    for old, new in zip(before, after, strict=True):  # only Grade and the comments change
        assert {k: v for k, v in old.items() if k not in ("Grade", "Feedback comments")} == {
            k: v for k, v in new.items() if k not in ("Grade", "Feedback comments")
        }
    comments = {r["Identifier"]: r["Feedback comments"] for r in after}
    assert comments["Participant 5504"] == ""  # no submission: left as it was
    assert comments["Participant 5501"].startswith(f"{ASSIGNMENT}: 14 of 14 points.<br>")
    assert "First problem" not in comments["Participant 5501"]
    partial = comments["Participant 5503"]
    assert "(simple cases " in partial and "stride " in partial and "hidden cases 0/" in partial
    assert "First problem, " in partial and "wrong values for x of shape (2, 3)" in partial
    assert "First problem, " in comments["Participant 5502"]
    assert "the bias is missing." in comments["Participant 5502"]
    assert "4 feedback comment(s)" in printed

    zipped = out.with_name("upload-feedback.zip")
    assert f"wrote {zipped}" in printed
    with zipfile.ZipFile(zipped) as archive:
        names = sorted(archive.namelist())
        pages = {n: archive.read(n) for n in names}
    # Named exactly as the submissions' own folders (Moodle 4.1+: no trailing _), 5502 has no
    # page, 5504 did not submit; students not in the worksheet are not in the zip.
    expected = [f"{f}/feedback.html" for f in DOWNLOAD if "5502" not in f]
    assert names == sorted(expected)
    participants = {"5501", "5502", "5503", "5504", "5505"}
    for name in names:
        participant, file = moodle_reads(name, participants)
        assert file == "/feedback.html"
        assert pages[name] == course.feedback(participant, ASSIGNMENT).read_bytes()
    assert "no feedback page, no file (1" in printed and "5502" in printed


def test_older_moodle_folder_names_with_a_trailing_underscore_are_kept_as_they_are(
    course, tmp_path
):
    old = {f"{folder}_": name for folder, name in DOWNLOAD.items()}  # Moodle 4.0 and earlier
    worksheet = tmp_path / "worksheet.csv"
    worksheet.write_text(WORKSHEET, encoding="utf-8")
    submissions = download(tmp_path, old, as_zip=True)
    assert export(course, "--roster", worksheet, "--submissions", submissions) == 0
    with zipfile.ZipFile(course.root / f"moodle-{ASSIGNMENT}-feedback.zip") as archive:
        names = sorted(archive.namelist())
    assert names == sorted(f"{f}/feedback.html" for f in old if "5502" not in f)
    assert all(moodle_reads(n, {"5501", "5503", "5505"})[1] == "/feedback.html" for n in names)
    assert lms.submission_folders(submissions) == {
        m["id"]: f for f in old if (m := lms.MOODLE.match(f))
    }


def test_without_the_download_the_folders_are_named_so_every_moodle_reads_them(course, tmp_path):
    worksheet = tmp_path / "worksheet.csv"
    worksheet.write_text(WORKSHEET, encoding="utf-8")
    out = tmp_path / "up.csv"
    assert export(course, "--roster", worksheet, "--output", out) == 0
    with zipfile.ZipFile(tmp_path / "up-feedback.zip") as archive:
        names = sorted(archive.namelist())
    folders = {PurePosixPath(n).parts[0] for n in names}
    assert "Ada Lovelace_5501_assignsubmission_file_" in folders
    # A name with _ or / would move the number out of Moodle's second field: replaced.
    assert "O'Neil Jr, Pat_5505_assignsubmission_file_" in folders
    found = {moodle_reads(n, {"5501", "5503", "5505"}) for n in names}
    assert found == {(p, "/feedback.html") for p in ("5501", "5503", "5505")}


def test_without_a_worksheet_the_plain_file_has_a_comments_column(course, tmp_path, capsys):
    out = tmp_path / "plain.csv"
    assert export(course, "--output", out) == 0
    table = rows_of(out)
    assert list(table[0]) == [
        "Identifier",
        "Full name",
        "Grade",
        "Maximum Grade",
        "Feedback comments",
    ]
    comments = {r["Identifier"]: r["Feedback comments"] for r in table}
    assert comments["Participant 5501"].startswith(f"{ASSIGNMENT}: 14 of 14 points.")
    assert "not Moodle participant numbers, no feedback file (1): alice" in capsys.readouterr().out
    with zipfile.ZipFile(tmp_path / "plain-feedback.zip") as archive:
        folders = {PurePosixPath(n).parts[0] for n in archive.namelist()}
    assert {f.split("_")[1] for f in folders} == {"5501", "5503", "5505", "5509"}


def test_a_students_message_is_safe_in_the_comment_the_csv_and_moodles_html(course, tmp_path):
    worksheet = tmp_path / "worksheet.csv"
    worksheet.write_text(WORKSHEET, encoding="utf-8")
    out = tmp_path / "up.csv"
    assert export(course, "--roster", worksheet, "--output", out) == 0
    comment = {r["Identifier"]: r["Feedback comments"] for r in rows_of(out)}["Participant 5505"]
    assert "<script>" not in comment and "&lt;script&gt;" in comment
    assert "\x1b" not in comment and "\n" not in comment
    assert "=HYPERLINK" in comment and not comment.startswith(lms.FORMULA_START)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    message=st.text(max_size=400),
    name=st.text(max_size=30),
    points=st.floats(0, 10, allow_nan=False),
)
def test_any_message_gives_a_comment_that_is_one_safe_csv_cell_of_escaped_html(
    message, name, points
):
    parts = (PartResult(name, points, False, message), PartResult("b", 1.0, True))
    cells = [
        CellResult("test_a", 1.0, 2.0, Status.FAILED, message, parts),
        CellResult("test_b", 0.0, 1.0, Status.ERROR, message),
    ]
    comment = lms.moodle_comment(lms.summary(ASSIGNMENT, cells))
    assert not comment.startswith(lms.FORMULA_START)
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f\n]", comment)
    text = html.unescape(comment.replace("<br>", "\n"))
    assert "<" not in comment.replace("<br>", "")  # every < a student wrote is escaped
    assert len(text.splitlines()) <= 5 and all(len(line) < 260 for line in text.splitlines())
    buffer = io.StringIO()
    csv.writer(buffer).writerow(["Participant 1", comment])
    assert next(csv.reader(io.StringIO(buffer.getvalue())))[1] == comment


@settings(max_examples=100, deadline=None)
@given(full_name=st.text(max_size=60), participant=st.integers(1, 10**7).map(str))
def test_any_full_name_gives_a_folder_moodle_reads_as_that_participant(full_name, participant):
    folder = lms.folder_name(participant, full_name, {})
    assert "/" not in folder and "\\" not in folder and folder.strip() == folder
    assert moodle_reads(f"{folder}/feedback.html", {participant}) == (participant, "/feedback.html")
