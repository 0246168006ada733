"""`autograder export --lms`: Canvas's and Moodle's own exports round-trip with this
assignment's scores from nbgrader's gradebook (manual grades included); a roster that cannot
be read safely is refused with the line named, and nothing is written."""

import codecs
import csv
import io
from pathlib import Path

import pytest
from grading import as_bytes, grade
from nbgrader.api import Gradebook
from notebooks import SOURCES, submission

from autograder.cli import main
from autograder.grading import lms

pytestmark = pytest.mark.slow

ASSIGNMENT = "nn-review"
WRONG_RELU = "def relu(x):\n    return x\n"


def batch() -> dict[str, bytes]:
    """Full marks, one wrong cell, nothing done: what graded students look like."""
    return {
        "full": as_bytes(submission(ASSIGNMENT)),
        "wrong": as_bytes(submission(ASSIGNMENT, {"relu": WRONG_RELU})),
        "stub": as_bytes(submission(ASSIGNMENT, fill=False)),
    }


# Canvas: user ids 1001-1003 graded, 1004 and the test student did not submit, 1009 submitted
# without being in the roster (added to the course after the export).
CANVAS_FILES = {
    "lovelaceada_1001_70001_nn-review.ipynb": "full",
    "boolegeorge_LATE_1002_70002_nn-review-1.ipynb": "wrong",
    "hoppergrace_1003_70003_nn-review.ipynb": "stub",
    "newstudent_1009_70009_nn-review.ipynb": "full",
}
# Moodle: participant numbers from the folder names, as in its offline grading worksheet.
# (One course holds both platforms' students, to grade once: each platform's export lists
# the other's students as not in its roster.)
MOODLE_FOLDERS = {
    "Ada Lovelace_5501_assignsubmission_file_": "full",
    "Grace Hopper_5503_assignsubmission_file_": "stub",
    "New Student_5509_assignsubmission_file_": "wrong",
}

CANVAS_HEADER = (
    "Student,ID,SIS User ID,SIS Login ID,Section,Quiz 1 (8790),nn-review (8812),"
    "Current Points,Final Points,Current Score,Unposted Current Score,Final Score,"
    "Unposted Final Score"
)
CANVAS_ROWS = [
    "    Points Possible,,,,,10.00,14.00,(read only),(read only),(read only),(read only),"
    "(read only),(read only)",
    '"Lovelace, Ada",1001,S1001,ada,CNN 2025,9.00,,9.00,9.00,90.00,90.00,32.14,32.14',
    '"Boole, George",1002,S1002,gboole,CNN 2025,7.50,,7.50,7.50,75.00,75.00,26.79,26.79',
    '"Hopper, Grace",1003,S1003,ghopper,CNN 2025,,,,,,,,',
    '"Turing, Alan",1004,S1004,aturing,CNN 2025,6.00,,6.00,6.00,60.00,60.00,21.43,21.43',
    '"Student, Test",9999,,,CNN 2025,,,,,,,,',
]


def canvas_export(header: str = CANVAS_HEADER, rows=CANVAS_ROWS) -> bytes:
    """What Canvas's "Export Entire Gradebook" gives: UTF-8 with a BOM, CRLF lines."""
    return codecs.BOM_UTF8 + "\r\n".join([header, *rows, ""]).encode()


MOODLE_WORKSHEET = (
    "Identifier,Full name,Email address,Status,Grade,Maximum Grade,Grade can be changed,"
    "Last modified (submission),Last modified (grade),Feedback comments\n"
    'Participant 5501,Ada Lovelace,ada@example.edu,"Submitted for grading",,14.00,Yes,'
    '"Monday, 3 March 2025, 9:12 AM",-,\n'
    'Participant 5503,Grace Hopper,grace@example.edu,"Submitted for grading",,14.00,Yes,'
    '"Monday, 3 March 2025, 10:02 AM",-,\n'
    "Participant 5504,Alan Turing,alan@example.edu,No submission,,14.00,Yes,-,-,\n"
)


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict[str, Path]:
    """A course graded from Canvas's download and Moodle's, side by side."""
    root = tmp_path_factory.mktemp("lms")
    notebooks = batch()
    download = root / "download"
    download.mkdir()
    for name, kind in CANVAS_FILES.items():
        (download / name).write_bytes(notebooks[kind])
    for folder, kind in MOODLE_FOLDERS.items():
        (download / folder).mkdir()
        (download / folder / "nn-review.ipynb").write_bytes(notebooks[kind])
    summary, _ = grade(root / "course", ASSIGNMENT, download)
    assert summary.graded == len(CANVAS_FILES) + len(MOODLE_FOLDERS), summary.problems
    return {"canvas": root / "course", "moodle": root / "course"}


def gradebook_scores(course: Path) -> dict[str, float]:
    with Gradebook(f"sqlite:///{course}/gradebook.db") as gradebook:
        return {s.id: gradebook.find_submission(ASSIGNMENT, s.id).score for s in gradebook.students}


def export(course: Path, *args) -> int:
    return main(
        ["export", ASSIGNMENT, "--course", str(course), "--source", str(SOURCES.source_dir)]
        + [str(a) for a in args]
    )


def rows_of(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))


def number(text: str) -> float:
    return float(text)


def test_a_canvas_gradebook_round_trips_with_the_gradebooks_scores(graded, tmp_path, capsys):
    roster = tmp_path / "Grades-CNN.csv"
    roster.write_bytes(canvas_export())
    out = tmp_path / "import.csv"
    assert export(graded["canvas"], "--lms", "canvas", "--roster", roster, "--output", out) == 0
    printed = capsys.readouterr().out
    written = out.read_bytes()
    assert written.startswith(codecs.BOM_UTF8) and b"\r\n" in written  # as Canvas wrote it
    before, after = rows_of(roster), rows_of(out)
    assert after[0] == before[0] and after[1] == before[1]  # header, Points Possible
    assert [r[:6] + r[7:] for r in after] == [r[:6] + r[7:] for r in before]  # nothing else moved
    scores = gradebook_scores(graded["canvas"])
    column = {row[1]: row[6] for row in after[2:]}
    assert {s: number(column[s]) for s in ("1001", "1002", "1003")} == {
        s: scores[s] for s in ("1001", "1002", "1003")
    }
    assert scores["1001"] == 14 and scores["1003"] == 0 and 0 < scores["1002"] < 14
    assert column["1004"] == "" and column["9999"] == ""  # no submission: left empty
    assert "1009" in printed and "NOT in the roster" in printed  # listed, never dropped
    assert "no submission (2" in printed and "1004" in printed
    assert "'nn-review (8812)'" in printed and "'ID'" in printed

    assert export(graded["canvas"], "--lms", "canvas", "--roster", roster, "--output", out,
                  "--missing-zero") == 0  # fmt: skip
    column = {row[1]: row[6] for row in rows_of(out)[2:]}
    assert column["1004"] == "0" and column["9999"] == "0"


def test_a_canvas_gradebook_without_the_column_gets_one_canvas_creates(graded, tmp_path, capsys):
    header = CANVAS_HEADER.replace("nn-review (8812),", "")
    rows = [",".join(r.split(",")[:6] + r.split(",")[7:]) for r in CANVAS_ROWS]
    roster = tmp_path / "Grades.csv"
    roster.write_bytes(canvas_export(header, rows))
    assert export(graded["canvas"], "--lms", "canvas", "--roster", roster) == 0
    out = graded["canvas"] / f"canvas-{ASSIGNMENT}.csv"  # the default place
    table = rows_of(out)
    assert table[0][-1] == ASSIGNMENT and table[1][-1] == "14"  # Points Possible for the new one
    assert "(added)" in capsys.readouterr().out
    assert {r[1]: r[-1] for r in table[2:]}["1001"] == "14"


def test_without_a_roster_each_platform_gets_the_columns_its_importer_needs(graded, tmp_path):
    out = tmp_path / "canvas.csv"
    assert export(graded["canvas"], "--lms", "canvas", "--output", out) == 0
    table = rows_of(out)
    assert table[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", ASSIGNMENT]
    assert table[1][0] == "Points Possible" and table[1][-1] == "14"
    scores = gradebook_scores(graded["canvas"])
    assert {r[1]: number(r[-1]) for r in table[2:]} == scores
    assert set(scores) == {"1001", "1002", "1003", "1009", "5501", "5503", "5509"}
    out = tmp_path / "moodle.csv"
    assert export(graded["moodle"], "--lms", "moodle", "--output", out) == 0
    table = rows_of(out)
    assert table[0] == ["Identifier", "Full name", "Grade", "Maximum Grade", "Feedback comments"]
    assert {r[0]: r[2] for r in table[1:]}["Participant 5501"] == "14"


def test_a_moodle_grading_worksheet_round_trips(graded, tmp_path, capsys):
    roster = tmp_path / "worksheet.csv"
    roster.write_text(MOODLE_WORKSHEET, encoding="utf-8")
    out = tmp_path / "upload.csv"
    assert export(graded["moodle"], "--lms", "moodle", "--roster", roster, "--output", out) == 0
    printed = capsys.readouterr().out
    before, after = rows_of(roster), rows_of(out)
    assert not out.read_bytes().startswith(codecs.BOM_UTF8)  # none in, none out
    assert after[0] == before[0] and len(after) == len(before)
    grade_at, comments_at = before[0].index("Grade"), before[0].index("Feedback comments")

    def kept(row: list[str]) -> list[str]:  # all but the grade and the feedback comments
        return [cell for i, cell in enumerate(row) if i not in (grade_at, comments_at)]

    assert [kept(r) for r in after] == [kept(r) for r in before]
    comments = {r[0]: r[comments_at] for r in after[1:]}
    assert comments["Participant 5501"].startswith(f"{ASSIGNMENT}: 14 of 14 points.<br>")
    assert comments["Participant 5504"] == ""  # no submission: left as it was
    scores = gradebook_scores(graded["moodle"])
    grades = {r[0]: r[grade_at] for r in after[1:]}
    assert {p: number(grades[f"Participant {p}"]) for p in ("5501", "5503")} == {
        p: scores[p] for p in ("5501", "5503")
    }
    assert scores["5501"] == 14 and scores["5503"] == 0
    assert grades["Participant 5504"] == ""
    assert "5509" in printed and "NOT in the roster" in printed
    assert "'Identifier'" in printed and "'Grade'" in printed


def test_a_moodle_grade_export_matched_by_id_number(graded, tmp_path):
    roster = tmp_path / "moodle-grades.csv"
    roster.write_text(
        "First name,Last name,ID number,Institution,Department,Email address,"
        "Assignment: nn-review (Real),Course total (Real),Last downloaded from this course\n"
        "Ada,Lovelace,5501,,,ada@example.edu,-,-,1740000000\n"
        "Grace,Hopper,5503,,,grace@example.edu,-,-,1740000000\n",
        encoding="utf-8",
    )
    out = tmp_path / "import.csv"
    assert export(graded["moodle"], "--lms", "moodle", "--roster", roster, "--output", out) == 0
    table = rows_of(out)
    column = table[0].index("Assignment: nn-review (Real)")
    assert {r[2]: r[column] for r in table[1:]} == {"5501": "14", "5503": "0"}


def test_a_manual_grade_in_the_gradebook_shows_in_the_export(graded, tmp_path):
    course = graded["canvas"]
    out = tmp_path / "canvas.csv"
    with Gradebook(f"sqlite:///{course}/gradebook.db") as gradebook:
        cell = gradebook.find_grade("test_relu", ASSIGNMENT, ASSIGNMENT, "1002")
        auto, most = cell.auto_score, float(cell.max_score)
        before = gradebook.find_submission(ASSIGNMENT, "1002").score
        cell.manual_score = most  # a TA gives the point back in formgrader
        gradebook.db.commit()
    try:
        assert export(course, "--lms", "canvas", "--output", out) == 0
        column = {r[1]: r[-1] for r in rows_of(out)[2:]}
        assert auto < most and number(column["1002"]) == before - auto + most
    finally:
        with Gradebook(f"sqlite:///{course}/gradebook.db") as gradebook:
            gradebook.find_grade("test_relu", ASSIGNMENT, ASSIGNMENT, "1002").manual_score = None
            gradebook.db.commit()


BAD_ROSTERS = [
    # (what, bytes, the line and words the message must have)
    (
        "Windows-1252 instead of UTF-8",
        canvas_export().replace(b"Turing, Alan", "Türing, Alan".encode("cp1252")),
        ["line 6", "not UTF-8"],
    ),
    (
        "UTF-16 (Excel's Unicode Text)",
        canvas_export()[3:].decode().encode("utf-16"),
        ["line 1", "UTF-16"],
    ),
    (
        "two exports pasted together, BOM and all",
        canvas_export() + canvas_export(),
        ["line 8", "byte-order mark"],
    ),
    (
        "semicolons",
        canvas_export().replace(b",", b";"),
        ["line 1", "semicolons"],
    ),
    (
        "a duplicate id",
        canvas_export(rows=[*CANVAS_ROWS, '"Lovelace, Ada (2)",1001,S1001,ada,CNN 2025,,,,,,,,']),
        ["lines 3 and 8", "1001"],
    ),
    (
        "a title row above the header",
        b"CNN 2025 gradebook, exported Monday\r\n" + canvas_export()[3:],
        ["line 2", "header", "1 line(s) come before"],
    ),
    (
        "the header repeated",
        canvas_export(rows=[*CANVAS_ROWS[:3], CANVAS_HEADER, *CANVAS_ROWS[3:]]),
        ["line 5", "header again"],
    ),
    (
        "a notes row among the students",
        canvas_export(rows=[*CANVAS_ROWS, "Notes: late penalty applied,,,,,,,,,,,,"]),
        ["line 8", "no value in the 'ID' column"],
    ),
    (
        "a broken quote",
        canvas_export(rows=[*CANVAS_ROWS[:2], '"Boole, George,1002,S1002'] + CANVAS_ROWS[3:]),
        ["line 4", "CSV"],
    ),
]


@pytest.mark.parametrize("what, data, words", BAD_ROSTERS, ids=[b[0] for b in BAD_ROSTERS])
def test_a_bad_roster_is_refused_naming_the_line_and_nothing_is_written(
    graded, tmp_path, capsys, what, data, words
):
    roster = tmp_path / "roster.csv"
    roster.write_bytes(data)
    out = tmp_path / "out.csv"
    assert export(graded["canvas"], "--lms", "canvas", "--roster", roster, "--output", out) == 2
    message = capsys.readouterr().err
    assert str(roster) in message, message
    for word in words:
        assert word in message, (what, message)
    assert not out.exists() and not list(tmp_path.glob(".tmp-*"))


def test_lms_options_need_lms_and_the_roster_is_never_overwritten(graded, tmp_path, capsys):
    assert export(graded["canvas"], "--roster", tmp_path / "r.csv") == 2
    assert "only with --lms" in capsys.readouterr().err
    roster = tmp_path / "r.csv"
    roster.write_bytes(canvas_export())
    assert export(graded["canvas"], "--lms", "canvas", "--roster", roster, "--output", roster) == 2
    assert roster.read_bytes() == canvas_export()


def test_the_summary_shows_ids_quoted_and_visible_whatever_they_hold():
    """Ids come from the roster and the submissions' names: a terminal escape or a newline
    in one must not reach the instructor's terminal raw (issue 21)."""
    match = lms.Match(
        "Canvas",
        "SIS User ID",
        "Points",
        no_submission=["s1", "\x1b]52;c;ZXZpbA==\x07"],
        not_in_roster=["s9\nFAKE LINE"],
    )
    printed = "\n".join(match.lines())
    assert "\x1b" not in printed and "\x07" not in printed and "FAKE LINE" in printed
    assert not any(line.startswith("FAKE") for line in printed.splitlines())
    assert "'s1'" in printed and "'s9␤FAKE LINE'" in printed
