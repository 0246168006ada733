"""Partial credit: what a check returns, part by part.

A check's cases are grouped into weighted *parts* (for a convolution: the simple cases,
stride, padding, (h, w) pairs, several channels and images, the hidden random cases). The
check returns a :class:`Score`: a ``float`` worth the points of the parts that passed, so
that a test cell whose last line is the check has that number as its value, which is how
nbgrader gives partial credit (``nbgrader.utils.determine_grade`` reads the cell's first
``execute_result`` as the points), and carrying every part's result for the feedback.
The parts' points add up to the test cell's points in the notebook.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class PartResult:
    """One part of a check. ``passed`` is None when the part was not run here (the hidden
    cases, in a student's own notebook); ``message`` is why it failed, in one line."""

    name: str
    points: float
    passed: bool | None
    message: str = ""

    @property
    def mark(self) -> str:
        return {True: "✓", False: "✗", None: "·"}[self.passed]


def _points(value: float) -> str:
    """``1``, ``0.5``, ``2.25``: points as a person writes them."""
    return f"{value:g}"


class Score(float):
    """The points one check earned (a float: a test cell's value), with its ``parts`` and,
    when a part failed, the check's whole ``message`` about the first failing one."""

    parts: tuple[PartResult, ...]
    message: str

    def __new__(cls, parts: list[PartResult] | tuple[PartResult, ...], message: str = ""):
        # Parts not run here (the hidden cases, in a student's own notebook) count as earned
        # while every part that ran passed: a finished notebook then shows its full points,
        # and nbgrader's Validate (which compares the value with the cell's points) passes
        # it. Graded runs always run every part, so grades never include what did not run.
        complete = all(p.passed is not False for p in parts)
        earned = sum(p.points for p in parts if p.passed or (p.passed is None and complete))
        score = super().__new__(cls, earned)
        score.parts, score.message = tuple(parts), message
        return score

    @property
    def max_points(self) -> float:
        return sum(p.points for p in self.parts)

    @property
    def complete(self) -> bool:
        """Whether every part that ran passed."""
        return all(p.passed is not False for p in self.parts)

    def __repr__(self) -> str:  # what nbgrader reads (text/plain): the number alone
        return repr(float(self))

    def __str__(self) -> str:
        return repr(self)

    def _repr_html_(self) -> str:  # what a student sees under the cell in Jupyter
        hidden = sum(p.points for p in self.parts if p.passed is None)
        if hidden and self.complete:
            return (
                f"<b>{_points(self)} of {_points(self.max_points)} points</b> so far: "
                f"{_points(hidden)} of them depend on hidden cases when your notebook is graded"
            )
        text = f"<b>{_points(self)} of {_points(self.max_points)} points</b>"
        if hidden:
            text += f" ({_points(hidden)} more from hidden cases when your notebook is graded)"
        return text

    def table(self) -> str:
        """Every part on a line: ✓ passed, ✗ failed (with why), · not run here."""
        lines = []
        for part in self.parts:
            line = f"  {part.mark} {part.name} ({_points(part.points)} pt)"
            if part.passed is False and part.message:
                line += f": {part.message}"
            elif part.passed is None:
                line += ": checked with hidden cases when your notebook is graded"
            lines.append(line)
        return "\n".join(lines)
