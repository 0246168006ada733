"""The grader's side of the grader–sandbox protocol: the stand-ins a check holds for the
student's objects, and how replies and arguments are translated for the wire.

Requests are ``{"op": "exec" | "lookup" | "invoke" | "start" | "end", ...}`` (answered by
:mod:`autograder.grading.supervisor`); a student object crosses as a handle marker
``{"__remote__": n, "name", "type", "callable", "parameters"}`` and comes back here as a
:class:`Remote`; a value that is not data crosses as ``{"__opaque__": type, "repr"}``.
Everything read here came from student code: it is cut to size and never trusted.
"""

import inspect
from typing import Any

from ..checks._student import Outcome, Raised, StandIn
from . import wire

MESSAGE_CHARS = 2_000  # what the grader keeps of a student's error message


class Opaque(StandIn):
    """Stands for a value that cannot cross from the sandbox as data (a NumPy array, a
    student-defined object); the checks only need its type's name and its repr."""

    def __init__(self, type_name: str, text: str):
        self.type_name, self.text = type_name, text

    def __repr__(self) -> str:
        return self.text


class Remote(StandIn):
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


def unwire(session, value: Any) -> Any:
    """A reply's ``value`` with its marker dicts turned into stand-ins that call through
    ``session``."""

    def stand_in(marker: Any) -> Any:
        if isinstance(marker, dict) and "__remote__" in marker:
            handle = int(marker["__remote__"])
            name, type_name = str(marker.get("name"))[:200], str(marker.get("type"))[:200]
            if marker.get("callable"):
                return RemoteCallable(session, handle, name, type_name, marker.get("parameters"))
            return Remote(session, handle, name, type_name)
        if isinstance(marker, dict) and "__opaque__" in marker:
            return Opaque(str(marker["__opaque__"])[:200], str(marker.get("repr"))[:MESSAGE_CHARS])
        return wire.KEEP

    return wire.rebuild(value, stand_in)


def handle_marker(value: Any) -> Any:
    """A :class:`Remote` in the grader's arguments travels as its handle marker."""
    return {"__remote__": value._handle} if isinstance(value, Remote) else wire.KEEP


def raised(error: Any) -> Raised | None:
    """The student's exception as reported by the sandbox, cut to size."""
    if not isinstance(error, dict):
        return None
    try:
        return Raised(
            str(error["type_name"])[:MESSAGE_CHARS],
            tuple(str(b)[:MESSAGE_CHARS] for b in error["bases"][:64]),
            str(error["message"])[:MESSAGE_CHARS],
        )
    except (KeyError, TypeError):
        return Raised("Exception", ("Exception",), "unreadable error")
