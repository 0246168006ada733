"""The reference solutions, read from the nbgrader source notebooks: run (the book's timing
page, which must not print them) or filled into the released notebook (a submission that
earns every point, for the bench and the tests)."""

import contextlib
import io
import re
from typing import Any

import nbformat

from . import sources as course_sources

MARKERS = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*(\n|\Z)", re.MULTILINE)


def source_notebook(
    assignment: str, sources: course_sources.Sources | None = None
) -> nbformat.NotebookNode:
    """The nbgrader source notebook (reference solutions and hidden tests) of the course
    ``sources`` (default: the one found from the working directory)."""
    sources = sources or course_sources.find()
    return nbformat.read(sources.notebook(assignment), as_version=4)


def without_markers(source: str) -> str:
    """A solution cell's code with its ``### BEGIN/END SOLUTION`` lines removed."""
    return MARKERS.sub("", source)


def load(assignment: str, names: list[str]) -> dict[str, Any]:
    """Run the setup cell and the solution cells that define ``names`` of ``assignment``'s
    source notebook in a fresh namespace; return those names."""
    notebook = source_notebook(assignment)
    namespace: dict[str, Any] = {}
    with contextlib.redirect_stdout(io.StringIO()):  # the setup cell greets the student
        for cell in notebook.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id == "setup" or grade_id in names:
                code = compile(without_markers(cell.source), f"<{assignment}:{grade_id}>", "exec")
                exec(code, namespace)
    return {name: namespace[name] for name in names}


def grade_id(cell: nbformat.NotebookNode) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def solution_code(assignment: str, sources: course_sources.Sources | None = None) -> dict[str, str]:
    """Each solution cell's reference code, markers removed, by grade_id."""
    return {
        grade_id(c): without_markers(c.source)
        for c in source_notebook(assignment, sources).cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }


def submission(
    sources: course_sources.Sources,
    assignment: str,
    replace: dict[str, str] | None = None,
    fill: bool = True,
) -> nbformat.NotebookNode:
    """The released notebook as a student would hand it in: every solution cell filled
    with the reference (``fill``) and the cells in ``replace`` given other code."""
    notebook = nbformat.read(sources.released(assignment), as_version=4)
    reference = solution_code(assignment, sources)
    for cell in notebook.cells:
        gid = grade_id(cell)
        if replace and gid in replace:
            cell.source = replace[gid]
        elif fill and gid in reference:
            cell.source = reference[gid]
    return notebook
