"""Helpers for the notebook tests: read the source notebooks, assemble submissions, run a
notebook's cells and test cells in-process, and grade submissions with nbgrader's own
autograde into a throw-away course folder."""

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook

from autograder.checks import CheckFailed
from autograder.checks._score import Score
from autograder.release import reference
from autograder.release.assignments import nbgrader_api
from autograder.release.reference import grade_id
from autograder.release.sources import find

REPO = Path(__file__).resolve().parent.parent
SOURCES = find(REPO)  # this repository's course: nbgrader_config.py, solutions/, exercises/

HIDDEN = re.compile(r"^[ \t]*### (BEGIN|END) HIDDEN TESTS[ \t]*\n?", re.MULTILINE)


def released_notebook(assignment: str) -> nbformat.NotebookNode:
    return nbformat.read(SOURCES.released(assignment), as_version=4)


def source_notebook(assignment: str) -> nbformat.NotebookNode:
    return reference.source_notebook(assignment, SOURCES)


def graded_cell_code(assignment: str) -> dict[str, str]:
    """Each graded test cell's full code (visible and hidden tests), by grade_id."""
    return {
        grade_id(c): HIDDEN.sub("", c.source)
        for c in source_notebook(assignment).cells
        if c.metadata.get("nbgrader", {}).get("grade")
    }


def reference_code(assignment: str) -> dict[str, str]:
    """Each solution cell's reference code, markers removed, by grade_id."""
    return reference.solution_code(assignment, SOURCES)


def submission(assignment: str, replace: dict[str, str] | None = None, fill: bool = True):
    """The released notebook filled with the reference, ``replace``'s cells given other code."""
    return reference.submission(SOURCES, assignment, replace, fill)


def namespace_with(assignment: str, cell: str, code: str) -> dict:
    """Run the notebook's code cells in order, the reference except ``cell`` replaced."""
    namespace: dict = {}
    reference = reference_code(assignment)
    for nb_cell in source_notebook(assignment).cells:
        gid = nb_cell.metadata.get("nbgrader", {}).get("grade_id")
        if nb_cell.cell_type != "code" or nb_cell.metadata["nbgrader"].get("grade"):
            continue
        if gid == cell:
            exec(code, namespace)
        elif gid in reference:
            exec(reference[gid], namespace)
        elif gid == "setup":
            exec(nb_cell.source, namespace)
    return namespace


def run_cell(code: str, namespace: dict) -> tuple[str | None, list[Score]]:
    """Run a test cell statement by statement, as Jupyter would (an expression's value kept):
    the whole text of its first failure (a ``CheckFailed``, or a ``Score`` that lost a point
    in a part that ran: its message and table), and every ``Score`` it produced."""
    scores: list[Score] = []
    for node in ast.parse(code).body:
        try:
            if isinstance(node, ast.Expr):
                value = eval(compile(ast.Expression(node.value), "<test cell>", "eval"), namespace)
                if isinstance(value, Score):
                    scores.append(value)
                    if not value.complete:
                        return f"{value.message}\n{value.table()}", scores
            else:
                exec(compile(ast.Module([node], []), "<test cell>", "exec"), namespace)
        except CheckFailed as failure:
            return str(failure), scores
    return None, scores


@dataclass
class Graded:
    scores: dict[str, float]  # grade_id -> points awarded
    max_scores: dict[str, float]
    errors: dict[str, str]  # grade_id -> the test cell's error text, for cells that failed

    @property
    def total(self) -> float:
        return sum(self.scores.values())


def autograde(
    assignment: str, submissions: dict[str, nbformat.NotebookNode], course: Path
) -> dict[str, Graded]:
    """Grade each student's notebook with nbgrader's autograde; results from its gradebook."""
    course.mkdir(parents=True, exist_ok=True)
    db_url = f"sqlite:///{course}/gradebook.db"
    grader = nbgrader_api(SOURCES, course / "release", db_url, root=course)
    grader.config.ExecutePreprocessor.timeout = 120
    assert grader.generate_assignment(assignment)["success"]
    results = {}
    for student, notebook in submissions.items():
        path = course / "submitted" / student / assignment / f"{assignment}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, path)
        outcome = grader.autograde(assignment, student)
        assert outcome["success"], outcome.get("log")
        graded = nbformat.read(
            course / "autograded" / student / assignment / f"{assignment}.ipynb", 4
        )
        errors = {
            grade_id(c): "\n".join(
                f"{o.get('ename')}: {o.get('evalue')}"
                for o in c.outputs
                if o.output_type == "error"
            )
            for c in graded.cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")
        }
        with Gradebook(db_url) as gb:
            notebook_grades = gb.find_submission_notebook(assignment, assignment, student)
            scores = {g.name: g.score for g in notebook_grades.grades}
            max_scores = {g.name: g.max_score for g in notebook_grades.grades}
        results[student] = Graded(scores, max_scores, {k: v for k, v in errors.items() if v})
    return results
