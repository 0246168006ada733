"""Find the instructor's course the way nbgrader does: from ``nbgrader_config.py``.

A course is a folder holding ``nbgrader_config.py`` (its *root*), the source notebooks with
reference solutions and hidden tests (``source_directory``, ``solutions/`` here) and the
released ones (``release_directory``, ``exercises/`` here). ``--source DIR`` names the
source folder directly, for a course without a config file. Nothing is ever looked up
relative to where the ``autograder`` package is installed.
"""

from dataclasses import dataclass
from pathlib import Path

from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

CONFIG_FILE = "nbgrader_config.py"


class NoCourse(RuntimeError):
    """No course was found; the message says where we looked and what to do."""


@dataclass(frozen=True)
class Sources:
    """One course's source notebooks: ``<source_dir>/<a>/<a>.ipynb`` for each assignment."""

    root: Path  # the folder holding nbgrader_config.py (or the source folder's parent)
    source_dir: Path
    release_dir: Path
    config: Config  # nbgrader's configuration, as the course's file sets it

    @property
    def db_url(self) -> str | None:
        """The gradebook the course's config names, if it names one."""
        return self.config.CourseDirectory.get("db_url")

    def notebook(self, assignment: str) -> Path:
        return assignment_notebook(self.source_dir, assignment)

    def released(self, assignment: str) -> Path:
        return assignment_notebook(self.release_dir, assignment)

    def assignments(self) -> list[str]:
        """Each folder of the source directory holding a same-named notebook."""
        found = self.source_dir.glob("*/*.ipynb")
        return sorted(p.parent.name for p in found if p.stem == p.parent.name)

    def secret_places(self) -> list[Path]:
        """What student code must never read: the course root and its sources."""
        return [self.root, self.source_dir]


def assignment_notebook(folder: Path, assignment: str) -> Path:
    """nbgrader's layout: ``<folder>/<assignment>/<assignment>.ipynb``."""
    return folder / assignment / f"{assignment}.ipynb"


def find(start: Path | None = None, source: Path | None = None) -> Sources:
    """The course whose ``nbgrader_config.py`` is in ``start`` (default: the working
    directory) or the nearest folder above it; or, with ``source``, the course whose source
    notebooks are in ``source`` (its config file, if the folder above has one, still counts).

    Raises :class:`NoCourse` saying where it looked.
    """
    if source is not None:
        source = Path(source).resolve()
        if not source.is_dir():
            raise NoCourse(f"--source {source}: no such folder.")
        if (source / CONFIG_FILE).is_file():  # the course root rather than its sources
            return _from_config(source)
        if (source.parent / CONFIG_FILE).is_file():
            found = _from_config(source.parent)
            return Sources(found.root, source, found.release_dir, found.config)
        return Sources(source.parent, source, source.parent / "exercises", Config())
    start = Path(start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / CONFIG_FILE).is_file():
            return _from_config(folder)
    raise NoCourse(
        f"no course found: there is no {CONFIG_FILE} in {start} or any folder above it. "
        "Run autograder in your course folder (the one with nbgrader_config.py and the "
        "source notebooks), or name the source notebooks' folder with --source DIR."
    )


def _from_config(root: Path) -> Sources:
    try:
        config = PyFileConfigLoader(CONFIG_FILE, path=str(root)).load_config()
    except Exception as error:  # the instructor's Python file: any error at all
        raise NoCourse(f"cannot read {root / CONFIG_FILE}: {error}") from None
    directory = config.CourseDirectory
    course_root = root / directory.get("root", ".")
    source = course_root / directory.get("source_directory", "source")
    release = course_root / directory.get("release_directory", "release")
    return Sources(root, source.resolve(), release.resolve(), config)
