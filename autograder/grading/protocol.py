"""The grader's side of the grader–sandbox protocol: the stand-ins a check holds for the
student's objects, and how replies and arguments are translated for the wire.

Requests are ``{"op": "exec" | "lookup" | "invoke" | "start" | "end", ...}`` (answered by
:mod:`autograder.grading.supervisor`); a student object crosses as a handle marker
``{"__remote__": n, "name", "type", "callable", "parameters"}`` and comes back here as a
:class:`Remote`; a value that is not data crosses as ``{"__opaque__": type, "repr"}``.
Everything read here came from student code: every string in a reply passes through
:func:`autograder.grading.untrusted.text` once, here (or in ``Session``), cut to its limit,
so nothing after this point can fail, hang or show a control character because of it.
"""

import inspect
from typing import Any

from ..checks._student import Outcome, Raised, StandIn
from . import untrusted, wire

MESSAGE_CHARS = 2_000  # what the grader keeps of a student's error message
NAME_CHARS = 200  # of a name or a type's name
MAX_BASES = 64  # base classes of a student's exception kept


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
    ``session``, and every string in it (dict keys too) made safe, whole: a string is data
    a check may compare, and the reply's size is bounded already (``wire``)."""

    def stand_in(marker: Any) -> Any:
        if isinstance(marker, str):
            return untrusted.text(marker)
        if not isinstance(marker, dict):
            return wire.KEEP
        if "__remote__" in marker:
            handle = marker["__remote__"]
            name = untrusted.text(marker.get("name"), NAME_CHARS)
            type_name = untrusted.text(marker.get("type"), NAME_CHARS)
            if not isinstance(handle, int) or isinstance(handle, bool):
                return Opaque(type_name, f"<{type_name} {name} (an unreadable handle)>")
            if marker.get("callable"):
                return RemoteCallable(session, handle, name, type_name, marker.get("parameters"))
            return Remote(session, handle, name, type_name)
        if "__opaque__" in marker:
            return Opaque(
                untrusted.text(marker["__opaque__"], NAME_CHARS),
                untrusted.text(marker.get("repr"), MESSAGE_CHARS),
            )
        return {
            untrusted.text(k) if isinstance(k, str) else k: wire.rebuild(v, stand_in)
            for k, v in marker.items()
        }

    return wire.rebuild(value, stand_in)


def handle_marker(value: Any) -> Any:
    """A :class:`Remote` in the grader's arguments travels as its handle marker."""
    return {"__remote__": value._handle} if isinstance(value, Remote) else wire.KEEP


def raised(error: Any) -> Raised | None:
    """The student's exception as reported by the sandbox, made safe and cut to size."""
    if error is None:
        return None
    if not isinstance(error, dict) or not isinstance(error.get("bases"), list | tuple):
        return Raised("Exception", ("Exception",), "unreadable error")
    return Raised(
        untrusted.text(error.get("type_name"), MESSAGE_CHARS),
        tuple(untrusted.text(b, MESSAGE_CHARS) for b in error["bases"][:MAX_BASES]),
        untrusted.text(error.get("message"), MESSAGE_CHARS),
    )
