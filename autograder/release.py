"""Generate the student notebooks in exercises/ from the sources in solutions/.

A thin layer over nbgrader's ``generate_assignment`` (solutions replaced by stubs, hidden
tests removed, cells locked and checksummed), configured by the root ``nbgrader_config.py``.
"""

import json
import os
import sys
import tempfile
from pathlib import Path

from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from traitlets.config.loader import PyFileConfigLoader

REPO = Path(__file__).resolve().parent.parent
CONFIG_FILE = "nbgrader_config.py"


class ReleaseError(RuntimeError):
    """nbgrader could not generate an assignment; the message carries its log."""


def assignments(root: Path = REPO) -> list[str]:
    """Names of the assignments in solutions/: each folder holding a same-named notebook."""
    source = root / "solutions"
    return sorted(p.parent.name for p in source.glob("*/*.ipynb") if p.stem == p.parent.name)


def nbgrader_api(root: Path, release_dir: Path, db_url: str) -> NbGraderAPI:
    """nbgrader's API for the sources under ``root``, releasing into ``release_dir``, with
    the gradebook at ``db_url``."""
    # nbgrader runs the `alembic` script by name; make this environment's scripts findable
    # even when the venv is not activated.
    scripts = str(Path(sys.executable).parent)
    if scripts not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = scripts + os.pathsep + os.environ.get("PATH", "")
    config = PyFileConfigLoader(CONFIG_FILE, path=str(root)).load_config()
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.release_directory = str(release_dir)
    config.CourseDirectory.db_url = db_url
    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)


def release(
    names: list[str] | None = None, root: Path = REPO, release_dir: Path | None = None
) -> list[Path]:
    """Generate the released notebooks for ``names`` (default: every assignment) into
    ``release_dir`` (default: ``root/exercises``) and return their paths."""
    names = names or assignments(root)
    release_dir = Path(release_dir or root / "exercises").resolve()
    unknown = sorted(set(names) - set(assignments(root)))
    if unknown:
        raise ReleaseError(f"no source notebook for {', '.join(unknown)} in {root / 'solutions'}")
    written = []
    with tempfile.TemporaryDirectory() as scratch:
        api = nbgrader_api(root, release_dir, f"sqlite:///{scratch}/gradebook.db")
        for name in names:
            result = api.generate_assignment(name, force=True)
            if not result["success"]:
                raise ReleaseError(f"nbgrader could not generate {name}:\n{result.get('log', '')}")
            written.append(release_dir / name / f"{name}.ipynb")
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


def stale(root: Path = REPO) -> list[str]:
    """Assignments whose committed exercises/ notebook differs from a fresh release."""
    with tempfile.TemporaryDirectory() as fresh:
        release(root=root, release_dir=Path(fresh))
        return [
            name
            for name in assignments(root)
            if not (root / "exercises" / name / f"{name}.ipynb").exists()
            or normalised(root / "exercises" / name / f"{name}.ipynb")
            != normalised(Path(fresh) / name / f"{name}.ipynb")
        ]
