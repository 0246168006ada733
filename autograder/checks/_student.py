"""The one door through which a check touches student code.

A check never calls the student's function itself: it asks :func:`invoke` to, and gets an
:class:`Outcome` back (the value, or the exception the call raised, plus what the guard saw).
In a student's own notebook the call runs right here, in-process. At grading time the
student's objects live in a sandboxed process and the check holds :class:`Remote` stand-ins
for them; ``invoke`` then sends the call there and gets plain data back (tensors, numbers,
strings), so the judging happens where the student's code cannot reach it.
"""

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from ._guard import watching


@dataclass
class Raised:
    """An exception raised by student code: its type's name, its base classes' names and
    its message (the exception object itself stays where it was raised)."""

    type_name: str
    bases: tuple[str, ...]
    message: str

    @classmethod
    def of(cls, error: BaseException) -> "Raised":
        bases = tuple(t.__name__ for t in type(error).__mro__)
        return cls(type(error).__name__, bases, str(error))

    def is_a(self, type_name: str) -> bool:
        return type_name in self.bases

    def __str__(self) -> str:
        return self.message


@dataclass
class Outcome:
    """What one call of student code did. ``args_after`` are the positional arguments as
    they were after the call (to see in-place changes), when asked for."""

    value: Any = None
    error: Raised | None = None
    forbidden: list[str] = field(default_factory=list)
    op_count: int = 0
    args_after: tuple = ()


class Opaque:
    """Stands for a value that cannot cross from the sandbox as data (a NumPy array, a
    student-defined object); the checks only need its type's name and its repr."""

    def __init__(self, type_name: str, text: str):
        self.type_name, self.text = type_name, text

    def __repr__(self) -> str:
        return self.text


class Remote:
    """A student object that lives in the sandbox. ``session`` carries calls there."""

    def __init__(self, session, handle: int, name: str, type_name: str):
        self._session, self._handle = session, handle
        self.__name__, self.type_name = name, type_name

    def __repr__(self) -> str:
        return f"<{self.type_name} {self.__name__}>"

    def invoke(self, args, kwargs, **options) -> Outcome:
        return self._session.invoke(self._handle, args, kwargs, **options)


class RemoteCallable(Remote):
    """A student function or class in the sandbox. Calling it runs it there."""

    def __init__(self, session, handle, name, type_name, parameters):
        super().__init__(session, handle, name, type_name)
        self.__signature__ = _signature(parameters)

    def __call__(self, *args, **kwargs):
        outcome = self.invoke(args, kwargs)
        if outcome.error is not None:
            raise StudentError(outcome.error)
        return outcome.value


class StudentError(Exception):
    """Student code raised ``error`` in the sandbox (seen from the grader)."""

    def __init__(self, error: Raised):
        super().__init__(f"{error.type_name}: {error.message}")
        self.raised = error


def _signature(parameters: list[tuple[str, int, bool]] | None) -> inspect.Signature | None:
    if parameters is None:
        return None
    try:
        return inspect.Signature(
            [
                inspect.Parameter(
                    name,
                    inspect._ParameterKind(kind),
                    default=None if has_default else inspect._empty,
                )
                for name, kind, has_default in parameters
            ]
        )
    except (ValueError, TypeError):
        return None


def type_name(value: Any) -> str:
    """The name of ``value``'s type, for a message (seen through a stand-in, too)."""
    if isinstance(value, Opaque | Remote):
        return value.type_name
    return type(value).__name__


def run_here(
    target: Any,
    args: tuple,
    kwargs: dict,
    *,
    forbid: str | None = None,
    probe: Callable | None = None,
    inference: bool = False,
    keep_args: bool = False,
) -> Outcome:
    """Call ``target(*args, **kwargs)`` in this process, or ``probe(target, *args, **kwargs)``
    when a probe (trusted code that exercises a student object) is given."""
    outcome = Outcome()
    try:
        with watching(forbid) as watch, torch.inference_mode(inference):
            if probe is None:
                outcome.value = target(*args, **kwargs)
            else:
                outcome.value = probe(target, *args, **kwargs)
    except (Exception, SystemExit, KeyboardInterrupt) as error:  # the student's, reported
        outcome.error = Raised.of(error)
    outcome.forbidden, outcome.op_count = list(watch.forbidden), watch.op_count
    if keep_args:
        outcome.args_after = args
    return outcome


def invoke(target: Any, args: tuple = (), kwargs: dict | None = None, **options) -> Outcome:
    """Run student code on ``args`` wherever ``target`` lives (see :func:`run_here`)."""
    kwargs = kwargs or {}
    if isinstance(target, Remote):
        return target.invoke(args, kwargs, **options)
    return run_here(target, args, kwargs, **options)
