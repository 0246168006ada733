"""The one door through which a check touches student code.

A check never calls the student's function itself: it asks :func:`invoke` to, and gets an
:class:`Outcome` back (the value, or the exception the call raised, plus what the guard saw).
In a student's own notebook the call runs right here, in-process. At grading time the
student's objects live in a sandboxed process and the check holds :class:`Remote` stand-ins
for them; ``invoke`` then sends the call there and gets plain data back (tensors, numbers,
strings), so the judging happens where the student's code cannot reach it.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from ._guard import names_watched, watching


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
    op_count: int = 0  # torch operators run
    call_count: int = 0  # Python and builtin calls made
    args_after: tuple = ()
    # CPU time the call used, measured outside the student's code when graded
    cpu_seconds: float = 0.0


class StandIn:
    """Stands for a student's value that lives elsewhere (at grading time, in the sandbox).
    ``invoke`` carries a call to it there; ``type_name`` names its type for messages."""

    type_name: str

    def invoke(self, args: tuple, kwargs: dict, **options) -> Outcome:
        raise TypeError(f"{self!r} cannot be called")


def type_name(value: Any) -> str:
    """The name of ``value``'s type, for a message (seen through a stand-in, too)."""
    if isinstance(value, StandIn):
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
    outcome, watch = Outcome(), None
    try:
        with watching(forbid) as watch, names_watched(target), torch.inference_mode(inference):
            started = time.thread_time()
            try:
                if probe is None:
                    outcome.value = target(*args, **kwargs)
                else:
                    outcome.value = probe(target, *args, **kwargs)
            finally:
                outcome.cpu_seconds = time.thread_time() - started
    except (Exception, SystemExit, KeyboardInterrupt) as error:  # the student's, reported
        outcome.error = Raised.of(error)
    if watch is not None:  # None: the watch itself could not start (outcome.error says why)
        outcome.forbidden = list(watch.forbidden)
        outcome.op_count, outcome.call_count = watch.op_count, watch.call_count
    if keep_args:
        outcome.args_after = args
    return outcome


def invoke(target: Any, args: tuple = (), kwargs: dict | None = None, **options) -> Outcome:
    """Run student code on ``args`` wherever ``target`` lives (see :func:`run_here`)."""
    kwargs = kwargs or {}
    if isinstance(target, StandIn):
        return target.invoke(args, kwargs, **options)
    return run_here(target, args, kwargs, **options)
