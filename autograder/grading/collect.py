"""Find each student's notebook in a folder or a ``.zip``, with a safe student id.

Understood layouts:

- nbgrader's ``[submitted/]<student>/<assignment>/<assignment>.ipynb``;
- Canvas, one flat file per student: ``<name>[_LATE]_<user id>_<submission id>_<file>.ipynb``
  (the id is the user id);
- Moodle, a folder per student: ``<Full Name>_<id>_assignsubmission_file_/<file>.ipynb``.

Nothing is extracted from a zip: notebooks are read from it in memory, and entries with
absolute paths, ``..``, links, or duplicate names are reported and skipped. A name from
which no id can be derived, or two notebooks for one student, is reported and skipped;
nothing is guessed. Every name from the folder or zip is quoted safely in messages
(``untrusted.name``): a file name can hold control sequences meant for a terminal.
"""

import re
import stat
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .untrusted import name as quoted

SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
CANVAS = re.compile(r"^.+?(?:_late)?_(?P<id>\d+)_\d+_.+\.ipynb$", re.IGNORECASE)
MOODLE = re.compile(r"^.+_(?P<id>\d+)_assignsubmission_file_?$")
IGNORED_PARTS = {"__MACOSX", ".ipynb_checkpoints"}


class CollectError(ValueError):
    """SUBMISSIONS cannot be read at all (no such path, not a zip, ...)."""


@dataclass
class Collected:
    student: str
    origin: str  # where it came from, for messages
    data: bytes


@dataclass
class Collection:
    submissions: dict[str, Collected] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def _student_id(parts: tuple[str, ...], assignment: str) -> tuple[str | None, str]:
    """The student id a notebook's path gives (or None), and a conflict to report.

    The platform's own naming of the top-level entry decides: a Moodle folder
    (``Name_<id>_assignsubmission_file_``) owns everything inside it, whatever the path
    below says; a top-level Canvas file gives its id; otherwise nbgrader's
    ``<student>/<assignment>/<file>``."""
    moodle = MOODLE.match(parts[0]) if len(parts) > 1 else None
    nbgrader = parts[-3] if len(parts) >= 3 and parts[-2] == assignment else None
    if moodle:
        inner = nbgrader or next((p for p in parts[1:-1] if MOODLE.match(p)), None)
        if inner and inner != parts[0] and inner != moodle["id"]:
            return moodle["id"], (
                f"{quoted('/'.join(parts))}: inside student {moodle['id']}'s Moodle folder but "
                f"named after {quoted(inner)}; graded as student {moodle['id']} only."
            )
        return moodle["id"], ""
    if len(parts) == 1:
        match = CANVAS.match(parts[0])
        return (match["id"] if match else None), ""
    return nbgrader, ""


Entry = tuple[tuple[str, ...], str, Callable[[], bytes]]  # path parts, origin, reader


def _entries_from_folder(root: Path, max_bytes: int) -> tuple[list[Entry], list[str]]:
    """Every file under ``root`` (parts, name, reader), and the problems met (links)."""
    entries: list[Entry] = []
    problems = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if path.is_symlink():
            problems.append(f"{quoted(relative)}: a symbolic link, skipped.")
        elif path.is_file():

            def read(path=path) -> bytes:
                with path.open("rb") as file:
                    return file.read(max_bytes + 1)  # more than the limit is refused later

            entries.append((relative.parts, f"{relative}", read))
    return entries, problems


def _entries_from_zip(archive: zipfile.ZipFile, max_bytes: int) -> tuple[list[Entry], list[str]]:
    """Every safe member of ``archive`` (parts, name, reader), and the problems met:
    paths leaving the archive, links and duplicate names are skipped."""
    entries: list[Entry] = []
    problems = []
    counts = Counter(info.filename for info in archive.infolist())
    for info in archive.infolist():
        name = info.filename
        if info.is_dir():
            continue
        path = PurePosixPath(name.replace("\\", "/"))
        if path.is_absolute() or re.match(r"^[A-Za-z]:", name) or ".." in path.parts:
            problems.append(f"{quoted(name)} in the zip: a path outside the archive, skipped.")
        elif stat.S_ISLNK(info.external_attr >> 16):
            problems.append(f"{quoted(name)} in the zip: a symbolic link, skipped.")
        elif counts[name] > 1:
            problems.append(f"{quoted(name)} appears {counts[name]} times in the zip, skipped.")
        else:

            def read(info=info) -> bytes:
                with archive.open(info) as member:
                    return member.read(max_bytes + 1)  # more than the limit is refused later

            entries.append((path.parts, name, read))
    return entries, problems


def _top(origin: str) -> str:
    return origin.replace("\\", "/").split("/")[0]


def collect(source: Path, assignment: str, max_bytes: int) -> Collection:
    """Every student's notebook for ``assignment`` in ``source`` (a folder or a zip)."""
    source = Path(source)
    collection = Collection()
    found: dict[str, list[tuple[str, object]]] = {}
    if source.is_dir():
        entries, problems = _entries_from_folder(source, max_bytes)
        collection.problems += problems
        archive = None
        for folder in sorted(source.rglob(assignment)):
            if folder.is_dir() and not folder.is_symlink() and not any(folder.glob("*.ipynb")):
                collection.problems.append(
                    f"{quoted(folder.relative_to(source))}: no notebook in this folder, "
                    "nothing to grade."
                )
    elif source.is_file() and zipfile.is_zipfile(source):
        archive = zipfile.ZipFile(source)
        entries, problems = _entries_from_zip(archive, max_bytes)
        collection.problems += problems
    elif source.exists():
        raise CollectError(f"{source} is neither a folder nor a .zip file.")
    else:
        raise CollectError(f"{source} does not exist.")
    try:
        for parts, origin, read in entries:
            if not parts[-1].endswith(".ipynb") or IGNORED_PARTS & set(parts):
                continue
            if any(p.startswith(".") for p in parts):
                continue
            student, conflict = _student_id(parts, assignment)
            if conflict:
                collection.problems.append(conflict)
            if student is None:
                collection.problems.append(
                    f"{quoted(origin)}: no student id in this name (expected nbgrader's "
                    f"<student>/{assignment}/{assignment}.ipynb, a Canvas or a Moodle export), skipped."
                )
            elif not SAFE_ID.match(student):
                collection.problems.append(
                    f"{quoted(origin)}: {quoted(student)} is not a usable student id "
                    "(letters, digits, . _ @ - only), skipped."
                )
            else:
                found.setdefault(student, []).append((origin, read))
        for student, notebooks in sorted(found.items()):
            if len({_top(origin) for origin, _ in notebooks}) == 1:  # one student's own folder
                named = [n for n in notebooks if n[0].endswith(f"/{assignment}/{assignment}.ipynb")]
                notebooks = named if len(named) == 1 else notebooks
            if len(notebooks) > 1:
                origins = ", ".join(quoted(origin) for origin, _ in notebooks)
                collection.problems.append(
                    f"student {student}: {len(notebooks)} notebooks ({origins}); "
                    "keep one and collect again. Skipped."
                )
                continue
            origin, read = notebooks[0]
            collection.submissions[student] = Collected(student, origin, read())
    finally:
        if archive is not None:
            archive.close()
    return collection
