"""Grades back to the learning platform: a CSV that Canvas's or Moodle's grade import takes.

- Canvas (Grades → Import): the gradebook CSV that Canvas exports (``Student, ID, SIS User
  ID, SIS Login ID, Section``, one column per assignment, then read-only totals; a
  "Points Possible" row, sometimes a posting-policy row, before the students). The copy
  written keeps every row and column and fills this assignment's column: the one named
  ``<assignment>`` or ``<assignment> (<Canvas id>)``, or ``--column``; when there is none, a
  column ``<assignment>`` is added (Canvas offers to create the assignment), its points
  possible the notebook's maximum.
- Moodle: the assignment's offline grading worksheet (``Identifier`` = ``Participant
  <n>``, ``Grade``; Assignment → "Upload grading worksheet"), or a gradebook export
  (``ID number``, ``Email address``, a column per grade item; Grades → Import → CSV file).
  The number in Moodle's submission folders (``Name_<n>_assignsubmission_file_``) is the
  participant number of the worksheet. For Moodle the worksheet's ``Feedback comments`` is
  filled too, with a short summary per student (score per test cell and per part, the first
  failing message; Moodle stores the column as HTML, so it is escaped, lines joined by
  ``<br>``), and a zip for Assignment → "Upload multiple feedback files in a zip" is written
  beside the CSV: one folder per participant, named as Moodle names it, holding
  ``feedback.html``. Moodle 4.1 and later name the folders ``Name_<n>_assignsubmission_file``
  (earlier versions end them with ``_``); both are read, and the zip uses the names the
  submissions' own folders have (``--submissions``: the download that was graded), else the
  older form, which every version's upload accepts.

Students are matched by the id collected from the submission: of the roster's id columns,
the one that matches the most graded students is used, and the summary names it. Scores
are nbgrader's gradebook's (manual grades in formgrader included), never a CSV of ours.
Who is in the roster without a submission keeps the roster's cell (empty, or ``0`` with
``missing_zero``); who submitted but has no roster row is listed, not dropped silently.

A roster that cannot be read safely (not UTF-8, UTF-16, semicolons, duplicate ids, rows
before the header, a header pasted twice, a broken quote) raises ``RosterError`` naming the
line, and nothing is written; the file is written whole or not at all.
"""

import codecs
import csv
import html
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from nbgrader.api import Gradebook, MissingEntry

from ..checks._report import first_line
from . import untrusted
from .collect import MOODLE
from .course import Course, CourseError, write_atomically
from .engine import CellResult, Status

PLATFORMS = ("canvas", "moodle")
CANVAS_FIXED = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
# The roster columns that can hold the id a submission's name gave, in order of preference.
ID_COLUMNS = {
    "canvas": ["ID", "SIS User ID", "SIS Login ID"],
    "moodle": ["Identifier", "ID number", "Email address", "Username", "User ID"],
}
PARTICIPANT = re.compile(r"^\s*participant\s+", re.IGNORECASE)
FEEDBACK_COLUMN = "Feedback comments"  # Moodle's worksheet: the comments feedback plugin
FEEDBACK_FILE = "feedback.html"  # each participant's file in Moodle's feedback zip
MESSAGE_CHARS = 200  # what a comment keeps of a check's message
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run such a cell


class RosterError(CourseError):
    """The roster file cannot be used as it is; the message names the file and the line."""


@dataclass
class Scores:
    """One assignment's scores as nbgrader's gradebook has them."""

    by_student: dict[str, float]
    max_score: float
    names: dict[str, str] = field(default_factory=dict)
    needs_manual: list[str] = field(default_factory=list)


@dataclass
class Match:
    """What was written where, for the summary the command prints."""

    platform: str
    id_column: str
    grade_column: str
    added_column: bool = False
    written: dict[str, str] = field(default_factory=dict)  # student id -> cell written
    no_submission: list[str] = field(default_factory=list)
    not_in_roster: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    missing_zero: bool = False
    comments: int = 0  # feedback comments written (Moodle)
    also_written: list[Path] = field(default_factory=list)  # e.g. the feedback zip

    def lines(self) -> list[str]:
        column = f"column {self.grade_column!r}" + (" (added)" if self.added_column else "")
        comments = f" and {self.comments} feedback comment(s)" if self.comments else ""
        lines = [
            f"{self.platform}: {len(self.written)} score(s){comments} written to {column}, "
            f"students matched by {self.id_column!r}."
        ]
        if self.no_submission:
            what = "0 written" if self.missing_zero else "left as the roster had it"
            lines.append(
                f"in the roster, no submission ({len(self.no_submission)}, {what}): "
                + ", ".join(map(untrusted.name, self.no_submission))
            )
        if self.not_in_roster:
            lines.append(
                f"submitted, NOT in the roster ({len(self.not_in_roster)}, not written; add "
                "them on the platform or check their ids): "
                + ", ".join(map(untrusted.name, self.not_in_roster))
            )
        return lines + self.notes


def _number(value: float) -> str:
    return f"{round(value, 2):g}"


def gradebook_scores(course: Course, assignment: str) -> Scores:
    """Each submission's total in nbgrader's gradebook (``SubmittedAssignment.score``: manual
    grades and extra credit included), and the assignment's maximum."""
    with Gradebook(course.db_url) as gradebook:
        try:
            maximum = float(gradebook.find_assignment(assignment).max_score)
        except MissingEntry:
            raise CourseError(
                f"the gradebook has no assignment {assignment!r}: run `autograder grade` first."
            ) from None
        scores = Scores({}, maximum)
        for student in gradebook.students:
            try:
                submission = gradebook.find_submission(assignment, student.id)
            except MissingEntry:
                continue
            scores.by_student[student.id] = float(submission.score)
            name = " ".join(n for n in (student.first_name, student.last_name) if n)
            scores.names[student.id] = name or student.id
            if submission.needs_manual_grade:
                scores.needs_manual.append(student.id)
    return scores


# -- reading a roster ----------------------------------------------------------------------


@dataclass
class Roster:
    path: Path
    header: list[str]
    rows: list[list[str]]  # after the header, as read (padded to the header's width)
    lines: list[int]  # the line each row starts on
    bom: bool
    newline: str


def _decode(path: Path, data: bytes) -> tuple[str, bool]:
    for bom, name in [
        (codecs.BOM_UTF32_LE, "UTF-32"),
        (codecs.BOM_UTF32_BE, "UTF-32"),
        (codecs.BOM_UTF16_LE, "UTF-16"),
        (codecs.BOM_UTF16_BE, "UTF-16"),
    ]:
        if data.startswith(bom):
            raise RosterError(
                f"{path}, line 1: the file is {name} text (Excel's 'Unicode Text'), not a "
                "UTF-8 CSV. Save it as 'CSV UTF-8 (Comma delimited)' and try again."
            )
    bom = data.startswith(codecs.BOM_UTF8)
    body = data[len(codecs.BOM_UTF8) :] if bom else data
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        line = body[: error.start].count(b"\n") + 1
        raise RosterError(
            f"{path}, line {line}: byte 0x{body[error.start]:02x} is not UTF-8 text (the file "
            "was saved in another encoding, e.g. Windows-1252). Export it again from the "
            "platform, or save it as 'CSV UTF-8 (Comma delimited)'."
        ) from None
    if "\ufeff" in text:
        line = text[: text.index("\ufeff")].count("\n") + 1
        raise RosterError(
            f"{path}, line {line}: a byte-order mark in the middle of the file (two exports "
            "pasted together?). Keep one export, with one header."
        )
    return text, bom


def _is_header(row: list[str], platform: str) -> bool:
    cells = {c.strip() for c in row}
    if platform == "canvas":
        return {"Student", "ID"} <= cells
    return bool(cells & set(ID_COLUMNS["moodle"]))


def _expected(platform: str) -> str:
    if platform == "canvas":
        return "Canvas's gradebook export, whose header starts Student, ID, SIS User ID"
    return "a Moodle grading worksheet or grade export, with one of the columns " + ", ".join(
        ID_COLUMNS["moodle"]
    )


def read_roster(path: Path, platform: str) -> Roster:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise RosterError(f"cannot read the roster {path}: {error.strerror}.") from None
    text, bom = _decode(path, data)
    if not text.strip():
        raise RosterError(f"{path}, line 1: the file is empty.")
    newline = "\r\n" if "\r\n" in text else "\n"
    first_line = text.splitlines()[0]
    if "," not in first_line and (";" in first_line or "\t" in first_line):
        separator = "semicolons" if ";" in first_line else "tabs"
        raise RosterError(
            f"{path}, line 1: fields are separated by {separator}, not commas (Excel does this "
            "where the decimal mark is a comma). Export the CSV from the platform again, or "
            "save it with commas as separators."
        )
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for row in reader:
            records.append((start, row))
            start = reader.line_num + 1
    except csv.Error as error:
        raise RosterError(f"{path}, line {start}: cannot be read as CSV ({error}).") from None
    first_number, first = records[0]
    if not _is_header(first, platform):
        later = next((n for n, row in records[1:11] if _is_header(row, platform)), None)
        if later is not None:
            raise RosterError(
                f"{path}, line {later}: this is the header, but {later - 1} line(s) come before "
                "it (a title or notes?). Delete them so that the header is the first line."
            )
        raise RosterError(
            f"{path}, line {first_number}: not the header of {_expected(platform)}; "
            f"found {', '.join(first[:6]) or 'an empty line'}."
        )
    header = first
    rows, lines = [], []
    for number, row in records[1:]:
        if not any(cell.strip() for cell in row):
            continue  # a blank line
        if [c.strip() for c in row] == [c.strip() for c in header]:
            raise RosterError(
                f"{path}, line {number}: the header again (two exports pasted together?). "
                "Keep one export, with one header."
            )
        if len(row) > len(header) and any(c.strip() for c in row[len(header) :]):
            raise RosterError(
                f"{path}, line {number}: {len(row)} fields, but the header has {len(header)} "
                "(a comma inside an unquoted name?)."
            )
        rows.append((row + [""] * len(header))[: len(header)])
        lines.append(number)
    return Roster(path, header, rows, lines, bom, newline)


# -- filling it -----------------------------------------------------------------------------


def _normal_id(value: str, platform: str) -> str:
    value = value.strip()
    return PARTICIPANT.sub("", value) if platform == "moodle" else value


def _id_column(roster: Roster, platform: str, students: set[str]) -> int:
    """The roster's id column that matches the most graded students (ties: the usual one)."""
    header = [c.strip() for c in roster.header]
    candidates = [header.index(c) for c in ID_COLUMNS[platform] if c in header]
    if not candidates:
        raise RosterError(
            f"{roster.path}, line 1: no id column (one of {', '.join(ID_COLUMNS[platform])})."
        )

    def matches(index: int) -> int:
        return sum(_normal_id(row[index], platform) in students for row in roster.rows)

    return max(candidates, key=lambda i: (matches(i), -candidates.index(i)))


def _student_rows(roster: Roster, platform: str, id_index: int) -> dict[str, int]:
    """Row index by student id; Canvas's rows before the first student (Points Possible, the
    posting policy) have no id and are left as they are."""
    found: dict[str, int] = {}
    seen_student = False
    for index, (row, line) in enumerate(zip(roster.rows, roster.lines, strict=True)):
        student = _normal_id(row[id_index], platform)
        column = roster.header[id_index].strip()
        if not student:
            if platform == "canvas" and not seen_student:
                continue
            raise RosterError(
                f"{roster.path}, line {line}: no value in the {column!r} column. Every student "
                "row needs one (is this an extra header or a notes row? delete it)."
            )
        seen_student = True
        if student in found:
            first = roster.lines[found[student]]
            raise RosterError(
                f"{roster.path}, lines {first} and {line}: both have {column} {student}. Each "
                "student must appear once; delete the duplicate row."
            )
        found[student] = index
    return found


def _grade_column(roster: Roster, platform: str, assignment: str, column: str | None):
    """The index of the column to fill, or None when it must be added."""
    header = [c.strip() for c in roster.header]
    wanted = (column or assignment).strip()
    if column and wanted in header:
        return header.index(wanted)
    if platform == "canvas":
        pattern = re.compile(rf"^{re.escape(wanted)}(\s*\(\d+\))?$", re.IGNORECASE)
    elif column is None and "Grade" in header:  # Moodle's grading worksheet
        return header.index("Grade")
    else:
        pattern = re.compile(rf"^(Assignment:\s*)?{re.escape(wanted)}(\s*\(\w+\))?$", re.IGNORECASE)
    found = [i for i, name in enumerate(header) if pattern.match(name)]
    if len(found) > 1:
        names = ", ".join(repr(header[i]) for i in found)
        raise RosterError(
            f"{roster.path}, line 1: several columns could be {assignment} ({names}); choose one "
            "with --column."
        )
    if not found and column:
        raise RosterError(f"{roster.path}, line 1: no column {column!r}.")
    return found[0] if found else None


def fill_roster(
    roster: Roster,
    platform: str,
    assignment: str,
    scores: Scores,
    missing_zero: bool = False,
    column: str | None = None,
    comments: dict[str, str] | None = None,
) -> tuple[list[list[str]], Match]:
    """The roster's rows, header first, with this assignment's column filled (and for a
    Moodle worksheet, with ``comments`` by student in its feedback comments column)."""
    graded = set(scores.by_student)
    id_index = _id_column(roster, platform, graded)
    students = _student_rows(roster, platform, id_index)
    grade_index = _grade_column(roster, platform, assignment, column)
    header = list(roster.header)
    rows = [list(row) for row in roster.rows]
    added = grade_index is None
    if added:
        header.append(assignment)
        grade_index = len(header) - 1
        student_rows = set(students.values())
        for index, row in enumerate(rows):
            points = index not in student_rows and row[0].strip() == "Points Possible"
            row.append(_number(scores.max_score) if points else "")
    match = Match(
        platform,
        roster.header[id_index].strip(),
        header[grade_index].strip(),
        added,
        missing_zero=missing_zero,
    )
    for student, index in students.items():
        if student in scores.by_student:
            rows[index][grade_index] = _number(scores.by_student[student])
            match.written[student] = rows[index][grade_index]
        else:
            match.no_submission.append(student)
            if missing_zero:
                rows[index][grade_index] = "0"
                match.written[student] = "0"
    match.not_in_roster = sorted(graded - set(students))
    stripped = [c.strip() for c in header]
    if platform == "moodle" and comments and FEEDBACK_COLUMN in stripped:
        at = stripped.index(FEEDBACK_COLUMN)
        for student, index in students.items():
            if student in comments and student in scores.by_student:
                rows[index][at] = comments[student]
                match.comments += 1
    if platform == "canvas" and not added:
        for row in rows:
            possible = row[grade_index].strip()
            if row[0].strip() == "Points Possible" and possible:
                try:
                    if float(possible) != scores.max_score:
                        match.notes.append(
                            f"note: Canvas's column is out of {possible} points, the notebook "
                            f"out of {_number(scores.max_score)}; the scores are written as the "
                            "gradebook has them."
                        )
                except ValueError:
                    pass
    return [header, *rows], match


def plain_rows(
    platform: str, assignment: str, scores: Scores, comments: dict[str, str] | None = None
) -> tuple[list[list[str]], Match]:
    """Without a roster: the columns the platform's importer needs, one row per submission
    (for Moodle with ``comments`` in a feedback comments column)."""
    students = sorted(scores.by_student)
    if platform == "canvas":
        rows = [[*CANVAS_FIXED, assignment], ["Points Possible", "", "", "", "", ""]]
        rows[1][-1] = _number(scores.max_score)
        for student in students:
            name = scores.names.get(student, student)
            rows.append([csv_safe(name), student, "", "", "", _number(scores.by_student[student])])
        match = Match(platform, "ID", assignment, added_column=True)
    else:
        rows = [["Identifier", "Full name", "Grade", "Maximum Grade"]]
        if comments is not None:
            rows[0].append(FEEDBACK_COLUMN)
        for student in students:
            rows.append(
                [
                    f"Participant {student}",
                    csv_safe(scores.names.get(student, student)),
                    _number(scores.by_student[student]),
                    _number(scores.max_score),
                ]
                + ([comments.get(student, "")] if comments is not None else [])
            )
        match = Match(platform, "Identifier", "Grade", added_column=True)
        match.comments = sum(1 for s in students if (comments or {}).get(s))
    match.written = {s: _number(scores.by_student[s]) for s in students}
    return rows, match


# -- Moodle's feedback: comments and files -------------------------------------------------


def summary(assignment: str, cells: list[CellResult]) -> list[str]:
    """A short plain-text summary of one student's result, a line each: the total, each test
    cell's points (and each part's, when the check has parts), the first failing message."""
    total = sum(c.points for c in cells)
    most = sum(c.max_points for c in cells)
    lines = [f"{assignment}: {_number(total)} of {_number(most)} points."]
    first = None
    for cell in cells:
        line = f"{cell.grade_id}: {_number(cell.points)}/{_number(cell.max_points)}"
        if cell.parts:
            parts = ", ".join(
                f"{p.name} {_number(p.points if p.passed else 0)}/{_number(p.points)}"
                for p in cell.parts
            )
            line += f" ({parts})"
        elif cell.status is not Status.PASSED:
            line += f" ({cell.status})"
        lines.append(line)
        if first is None and cell.points < cell.max_points:
            failing = next((p for p in cell.parts if p.passed is False and p.message), None)
            message = failing.message if failing else first_line(cell.message)
            if message:
                first = f"First problem, {cell.grade_id}: {message}"
    if first:
        lines.append(first)
    return [untrusted.text(line, MESSAGE_CHARS).replace("\n", " ") for line in lines]


def csv_safe(text: str) -> str:
    """A cell no spreadsheet runs as a formula."""
    return "'" + text if text.startswith(FORMULA_START) else text


def moodle_comment(lines: list[str]) -> str:
    """Summary lines as Moodle's comments column takes them: Moodle stores the column as
    HTML, so the text is escaped and its lines joined by ``<br>``, in one CSV line."""
    return csv_safe("<br>".join(html.escape(line, quote=False) for line in lines))


def submission_folders(source: Path) -> dict[str, str]:
    """Participant number -> the name of that participant's folder in Moodle's download of
    the submissions (a folder or a zip): ``Name_<n>_assignsubmission_file`` (Moodle 4.1 and
    later) or ``..._file_`` (earlier)."""
    source = Path(source)
    if source.is_dir():
        names = [p.name for p in source.iterdir() if p.is_dir() and not p.is_symlink()]
    elif source.is_file() and zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as archive:
            names = [
                PurePosixPath(n.replace("\\", "/")).parts[0]
                for n in archive.namelist()
                if "/" in n.replace("\\", "/")
            ]
    else:
        raise CourseError(f"--submissions {source}: neither a folder nor a .zip file.")
    found: dict[str, str] = {}
    for name in sorted(set(names)):
        match = MOODLE.match(name)
        if match and "/" not in name and ".." not in name:
            found.setdefault(match["id"], name)
    return found


def folder_name(participant: str, full_name: str, folders: dict[str, str]) -> str:
    """The participant's folder in the feedback zip: the submission's own folder name, else
    one built as Moodle before 4.1 built them (every version's upload reads it: Moodle takes
    the participant number from the second ``_``-separated field)."""
    if participant in folders:
        return folders[participant]
    name = re.sub(
        r"[\x00-\x1f\x7f-\x9f/\\_:*?\"<>|\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff]",
        " ",
        full_name,
    )
    name = " ".join(name.split())[:100].strip(" .") or "Participant"  # one space between words
    return f"{name}_{participant}_assignsubmission_file_"


def write_feedback_zip(
    course: Course,
    assignment: str,
    participants: dict[str, str],
    folders: dict[str, str],
    output: Path,
) -> tuple[int, list[str]]:
    """Write the zip of ``participants``' (number -> full name) feedback pages; how many went
    in, and who had no feedback page."""
    buffer = io.BytesIO()
    written, missing = 0, []
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for participant in sorted(participants, key=lambda p: (len(p), p)):
            page = course.feedback(participant, assignment)
            if not page.is_file():
                missing.append(participant)
                continue
            folder = folder_name(participant, participants[participant], folders)
            archive.writestr(f"{folder}/{FEEDBACK_FILE}", page.read_bytes())
            written += 1
    write_atomically(output, buffer.getvalue())
    return written, missing


def _full_names(roster: "Roster", id_index: int) -> dict[str, str]:
    """Participant -> full name, from the worksheet's ``Full name`` (or a gradebook export's
    ``First name`` and ``Last name``)."""
    header = [c.strip() for c in roster.header]
    names = {}
    for row in roster.rows:
        student = _normal_id(row[id_index], "moodle")
        if "Full name" in header:
            names[student] = row[header.index("Full name")]
        elif "First name" in header and "Last name" in header:
            names[student] = f"{row[header.index('First name')]} {row[header.index('Last name')]}"
    return names


def _csv(rows: list[list[str]], newline: str, bom: bool) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=newline).writerows(rows)
    return (codecs.BOM_UTF8 if bom else b"") + buffer.getvalue().encode("utf-8")


def export(
    course: Course,
    assignment: str,
    platform: str,
    roster: Path | None = None,
    output: Path | None = None,
    missing_zero: bool = False,
    column: str | None = None,
    submissions: Path | None = None,
) -> tuple[Path, Match]:
    """Write the platform's import file for ``assignment`` (whole, or not at all); for Moodle
    also the feedback zip beside it (folders named as in ``submissions``, Moodle's download
    of the graded submissions, when given)."""
    if platform not in PLATFORMS:
        raise CourseError(f"unknown platform {platform!r}: one of {', '.join(PLATFORMS)}.")
    if submissions is not None and platform != "moodle":
        raise CourseError("--submissions: only with --lms moodle (it names the feedback folders).")
    output = Path(output) if output else course.root / f"{platform}-{assignment}.csv"
    if roster is not None and output.resolve() == Path(roster).resolve():
        raise CourseError(f"--output is the roster {roster} itself; write the copy elsewhere.")
    scores = gradebook_scores(course, assignment)
    folders = submission_folders(submissions) if submissions is not None else {}
    comments = None
    if platform == "moodle":
        results = course.results(course.prepare(assignment))
        comments = {
            student: moodle_comment(summary(assignment, cells))
            for student, cells in results.items()
            if student in scores.by_student
        }
    if roster is None:
        rows, match = plain_rows(platform, assignment, scores, comments)
        data = _csv(rows, "\n", bom=False)
        participants = {s: scores.names.get(s, s) for s in scores.by_student}
    else:
        read = read_roster(Path(roster), platform)
        rows, match = fill_roster(
            read, platform, assignment, scores, missing_zero, column, comments
        )
        data = _csv(rows, read.newline, read.bom)
        id_index = [c.strip() for c in read.header].index(match.id_column)
        names = _full_names(read, id_index)
        participants = {s: names.get(s, s) for s in scores.by_student if s in names}
    if scores.needs_manual:
        match.notes.append(
            f"note: {len(scores.needs_manual)} submission(s) still need manual grading in "
            "formgrader; their scores are as they stand: " + ", ".join(scores.needs_manual)
        )
    write_atomically(output, data)
    if platform == "moodle":
        zip_path = output.with_name(f"{output.stem}-feedback.zip")
        numbered = {s: n for s, n in participants.items() if s.isdigit()}
        written, missing = write_feedback_zip(course, assignment, numbered, folders, zip_path)
        match.also_written.append(zip_path)
        named = "as the submissions' folders" if folders else "Name_<n>_assignsubmission_file_"
        match.notes.append(
            f"feedback files: {written} page(s) in {zip_path.name}, folders named {named} "
            "(Moodle: Assignment → View all submissions → Grading action → Upload multiple "
            "feedback files in a zip)."
        )
        unknown = sorted(set(participants) - set(numbered))
        if unknown:
            match.notes.append(
                f"not Moodle participant numbers, no feedback file ({len(unknown)}): "
                + ", ".join(unknown)
            )
        if folders:
            unmatched = sorted(set(numbered) - set(folders), key=lambda p: (len(p), p))
            if unmatched:
                match.notes.append(
                    f"no folder of theirs in {submissions} ({len(unmatched)}; named as Moodle "
                    "before 4.1 named them): " + ", ".join(unmatched)
                )
        if missing:
            match.notes.append(
                f"no feedback page, no file ({len(missing)}; a page is written when its "
                "submission is graded): " + ", ".join(missing)
            )
    return output, match
