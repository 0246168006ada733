"""The reference solutions, loaded from the nbgrader source notebooks (for benchmarks and
the book's timing page, which must not print them)."""

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
