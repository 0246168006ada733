"""What crosses between the grader and a sandbox: length-prefixed frames holding
``torch.save`` payloads, read back with ``torch.load(weights_only=True)``.

``weights_only`` admits tensors, numbers, strings and containers and nothing that runs
code when loaded, so a frame written by student code cannot attack the grader. Objects
that are not data travel as marker dicts: ``{"__remote__": handle, ...}`` for an object
that stays in the sandbox, ``{"__opaque__": type name, "repr": text}`` for data of
another kind (a NumPy array, say).
"""

import io
import numbers
import struct
import zipfile
from collections.abc import Callable
from typing import Any, BinaryIO

import torch

HEADER = struct.Struct(">Q")
# The sandbox's control socket carries two one-byte messages: the supervisor is READY (booted,
# or cleared after a child), and the grader asks it to START a child (the session's socket
# travels with it, as SCM_RIGHTS ancillary data).
READY, START = b"R", b"S"
KEEP = object()  # what a ``rebuild`` replacement returns to leave an item as it is
# What a reply from the sandbox may hold. ``to_wire`` never nests deeper than 10 or shares a
# container; a reply that does was crafted, and its walk could cost the grader exponential
# time and memory.
MAX_DEPTH = 32
MAX_ITEMS = 1_000_000


class FrameError(RuntimeError):
    """A frame was cut short, too large, or not a valid payload."""


def encode(message: Any) -> bytes:
    buffer = io.BytesIO()
    torch.save(message, buffer)
    return buffer.getvalue()


def decode(payload: bytes, trusted: bool = False) -> Any:
    """Read a payload; only a ``trusted`` one (the grader's, read in the sandbox) may hold
    references to functions such as ``torch.tanh``. An untrusted one must be what
    ``encode`` writes (an uncompressed archive, so that it unpacks to no more than its own
    size) and plain data of bounded depth and count, with no shared containers."""
    if not trusted:
        _check_archive(payload)
    try:
        value = torch.load(io.BytesIO(payload), weights_only=not trusted)
    except Exception as error:  # any malformed payload is the same failure to the grader
        raise FrameError(f"unreadable reply ({type(error).__name__})") from None
    if not trusted:
        _check_shape(value)
    return value


def _check_archive(payload: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(payload)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise FrameError("unreadable reply (not an archive)") from None
    if any(m.compress_type != zipfile.ZIP_STORED for m in members) or (
        sum(m.file_size for m in members) > len(payload)
    ):
        raise FrameError("unreadable reply (compressed or larger than it says)")


def _check_shape(value: Any) -> None:
    """Walk ``value`` once, without recursion: bounded depth and item count, and no
    container reached twice."""
    seen: set[int] = set()
    stack, items = [(value, 0)], 0
    while stack:
        item, depth = stack.pop()
        items += 1
        if items > MAX_ITEMS or depth > MAX_DEPTH:
            raise FrameError("unreadable reply (nested too deep or too many items)")
        if isinstance(item, tuple | list | dict) and item:  # () is one shared object
            if id(item) in seen:
                raise FrameError("unreadable reply (a container referenced twice)")
            seen.add(id(item))
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)


def frame(message: Any) -> bytes:
    """``message`` as one frame: its payload's length, then the payload."""
    payload = encode(message)
    return HEADER.pack(len(payload)) + payload


def write_frame(stream: BinaryIO, message: Any) -> None:
    stream.write(frame(message))
    stream.flush()


def read_exactly(stream: BinaryIO, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise FrameError("the other side closed the channel")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_frame(stream: BinaryIO, max_bytes: int, trusted: bool = False) -> Any:
    (size,) = HEADER.unpack(read_exactly(stream, HEADER.size))
    if size > max_bytes:
        raise FrameError(
            f"a reply of {size / 2**20:.0f} MB is over the {max_bytes / 2**20:.0f} MB limit"
        )
    return decode(read_exactly(stream, size), trusted)


def to_wire(value: Any, keep: Callable[[Any], dict], depth: int = 0) -> Any:
    """``value`` as data ``decode`` accepts. ``keep(obj)`` stores an object that must stay
    where it is and returns its ``__remote__`` marker."""
    if value is None or isinstance(value, bool | str | bytes):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, torch.Tensor):
        # A copy: torch.save writes a view's whole storage, and a subclass may not load.
        return value.detach().as_subclass(torch.Tensor).clone()
    if depth > 8:
        return opaque(value)
    if isinstance(value, tuple | list):
        items = [to_wire(v, keep, depth + 1) for v in value]
        return tuple(items) if isinstance(value, tuple) else items
    if isinstance(value, dict) and all(isinstance(k, str | int) for k in value):
        return {k: to_wire(v, keep, depth + 1) for k, v in value.items()}
    if type(value).__module__.startswith("numpy"):
        return opaque(value)
    return keep(value)


def rebuild(value: Any, replace: Callable[[Any], Any]) -> Any:
    """``value`` with its containers (tuples, lists, dicts) rebuilt and every item, the
    containers themselves first, passed through ``replace``, which returns a replacement
    or ``KEEP``. The marker dicts above are swapped this way in both directions."""
    replaced = replace(value)
    if replaced is not KEEP:
        return replaced
    if isinstance(value, tuple | list):
        return type(value)(rebuild(v, replace) for v in value)
    if isinstance(value, dict):
        return {k: rebuild(v, replace) for k, v in value.items()}
    return value


def opaque(value: Any) -> dict:
    try:
        text = repr(value)[:200]
    except Exception:  # a student's __repr__ may raise
        text = f"<{type(value).__name__}>"
    return {"__opaque__": type(value).__name__, "repr": text}
