"""Generate the student notebooks (exercises/) from the course's sources (solutions/).

A thin layer over nbgrader's ``generate_assignment`` (solutions replaced by stubs, hidden
tests removed, cells locked and checksummed), configured by the course's
``nbgrader_config.py``. Before generating, the source notebooks' install cell is pointed at
the wheel the course's site publishes (see :mod:`autograder.hosting`), so that a released
notebook opened anywhere can install the checks it needs.
"""

import copy
import json
import re
import shutil
import tempfile
from pathlib import Path

import nbformat
import nbgrader.api
from alembic.config import Config
from alembic.script import ScriptDirectory
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from nbgrader.dbutil import ALEMBIC_DIR

from .hosting import BOOK_CONFIG, Hosting
from .sources import Sources, assignment_notebook

INSTALL_CELL = "install"
INSTALL_SOURCE = re.compile(r'^COURSE_PACKAGE = ".*"$', re.MULTILINE)


class ReleaseError(RuntimeError):
    """nbgrader could not generate an assignment; the message carries its log."""


def _schema_version() -> str:
    """The gradebook schema's current version (alembic's head revision for nbgrader's
    migrations), read in this process."""
    config = Config()
    config.set_main_option("script_location", ALEMBIC_DIR)
    return ScriptDirectory.from_config(config).get_current_head()


# nbgrader stamps each new gradebook with its schema version by running the `alembic` script
# in a subprocess: seconds per gradebook, and only where the script is on PATH (an
# environment used without activating it). The same answer, from alembic's API.
nbgrader.api.get_alembic_version = _schema_version


def nbgrader_api(
    sources: Sources, release_dir: Path, db_url: str, root: Path | None = None
) -> NbGraderAPI:
    """nbgrader's API for ``sources``, releasing into ``release_dir``, with the gradebook
    at ``db_url``; ``root`` (default: the course's) holds ``submitted/`` and
    ``autograded/`` for nbgrader's own autograde."""
    config = copy.deepcopy(sources.config)  # the course's own stays as its file set it
    config.CourseDirectory.root = str(root or sources.root)
    config.CourseDirectory.source_directory = str(sources.source_dir)
    config.CourseDirectory.release_directory = str(release_dir)
    config.CourseDirectory.db_url = db_url
    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)


def install_source(sources: Sources) -> str | None:
    """What the install cell should install from: the site's wheel ('' when the course's
    repository is unset); None for a course without a book config (left as written)."""
    if not (sources.root / BOOK_CONFIG).is_file():
        return None
    return Hosting.read(sources.root).wheel_url


def point_install_cell(path: Path, url: str) -> bool:
    """Set ``COURSE_PACKAGE`` in the notebook's install cell to ``url``; True if it changed."""
    notebook = nbformat.read(path, as_version=4)
    changed = False
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == INSTALL_CELL:
            pointed = INSTALL_SOURCE.sub(f"COURSE_PACKAGE = {json.dumps(url)}", cell.source)
            changed |= pointed != cell.source
            cell.source = pointed
    if changed:
        nbformat.write(notebook, path)
    return changed


def release(
    sources: Sources, names: list[str] | None = None, release_dir: Path | None = None
) -> list[Path]:
    """Generate the released notebooks for ``names`` (default: every assignment) into
    ``release_dir`` (default: the course's release directory) and return their paths."""
    names = names or sources.assignments()
    release_dir = Path(release_dir or sources.release_dir).resolve()
    unknown = sorted(set(names) - set(sources.assignments()))
    if unknown:
        raise ReleaseError(f"no source notebook for {', '.join(unknown)} in {sources.source_dir}")
    url = install_source(sources)
    written = []
    with tempfile.TemporaryDirectory() as scratch:
        api = nbgrader_api(sources, release_dir, f"sqlite:///{scratch}/gradebook.db")
        for name in names:
            if url is not None:
                point_install_cell(sources.notebook(name), url)
            result = api.generate_assignment(name, force=True)
            if not result["success"]:
                raise ReleaseError(f"nbgrader could not generate {name}:\n{result.get('log', '')}")
            written.append(assignment_notebook(release_dir, name))
    return written


def normalised(path: Path) -> list[dict]:
    """The parts of a notebook that matter to students: each cell's type, source and
    nbgrader metadata (volatile metadata, outputs and execution counts left out)."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    return [
        {
            "cell_type": cell["cell_type"],
            "source": "".join(cell["source"]),
            "nbgrader": cell.get("metadata", {}).get("nbgrader"),
        }
        for cell in notebook["cells"]
    ]


def stale(sources: Sources) -> list[str]:
    """Assignments whose committed release differs from a fresh one, or whose install cell
    does not point where the course's book config says."""
    url = install_source(sources)
    with tempfile.TemporaryDirectory() as fresh:
        fresh_sources = _copy_sources(sources, Path(fresh) / "sources")
        release(fresh_sources, release_dir=Path(fresh) / "release")
        return [
            name
            for name in sources.assignments()
            if not sources.released(name).exists()
            or normalised(sources.released(name))
            != normalised(assignment_notebook(Path(fresh) / "release", name))
            or url is not None
            and normalised(sources.notebook(name)) != normalised(fresh_sources.notebook(name))
        ]


def _copy_sources(sources: Sources, folder: Path) -> Sources:
    """The same course with its source notebooks copied to ``folder`` (so that checking
    for staleness writes nothing into the course)."""
    shutil.copytree(sources.source_dir, folder)
    if (sources.root / BOOK_CONFIG).is_file():
        shutil.copy(sources.root / BOOK_CONFIG, folder.parent / BOOK_CONFIG)
    return Sources(folder.parent, folder, sources.release_dir, sources.config)
