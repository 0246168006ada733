"""The reference solutions, loaded from the nbgrader source notebooks (for benchmarks and
the book's timing page, which must not print them)."""

import contextlib
import io
import re
from typing import Any

import nbformat

from .release import REPO

MARKERS = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*$", re.MULTILINE)


def load(assignment: str, names: list[str]) -> dict[str, Any]:
    """Run the setup cell and the solution cells that define ``names`` of ``assignment``'s
    source notebook in a fresh namespace; return those names."""
    notebook = nbformat.read(REPO / "solutions" / assignment / f"{assignment}.ipynb", 4)
    namespace: dict[str, Any] = {}
    with contextlib.redirect_stdout(io.StringIO()):  # the setup cell greets the student
        for cell in notebook.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id == "setup" or grade_id in names:
                code = compile(MARKERS.sub("", cell.source), f"<{assignment}:{grade_id}>", "exec")
                exec(code, namespace)
    return {name: namespace[name] for name in names}
