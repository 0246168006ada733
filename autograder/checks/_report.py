"""How a check tells the student what happened: one line on success, a CheckFailed otherwise."""

from typing import NoReturn


class CheckFailed(AssertionError):
    """A check found a wrong answer. The message is written for the student.

    Its first line names the function and the most likely cause; the lines
    after it give the failing case and the details. ``score``: the check's ``Score``
    (0 points) with every part's result, when the check got as far as judging its parts
    (``parts``: those results, empty otherwise), for the feedback's table.
    """

    def __init__(self, message: str = "", score=None):
        super().__init__(message)
        self.score = score

    @property
    def parts(self) -> tuple:
        return tuple(self.score.parts) if self.score is not None else ()


def first_line(text: str) -> str:
    """The first non-blank line of ``text`` (stripped), or "" when there is none."""
    return text.strip().splitlines()[0] if text.strip() else ""


def fail(name: str, summary: str, *details: str) -> NoReturn:
    """Raise ``CheckFailed`` with the message ``"{name}: {summary}"`` and indented details."""
    lines = [f"{name}: {summary}"]
    lines += ["  " + line for detail in details if detail for line in detail.splitlines()]
    raise CheckFailed("\n".join(lines))


def report_pass(name: str, n_cases: int) -> None:
    """Print the one-line success message a student sees under a test cell."""
    noun = "case" if n_cases == 1 else "cases"
    print(f"✓ {name}: all {n_cases} {noun} passed")
