"""What crosses between the grader and a sandbox: length-prefixed frames of MessagePack
(``msgpack``), with extension types of our own for a tensor (dtype, shape and raw bytes),
a tuple and an integer too large for 64 bits.

MessagePack is data only: reading it runs no code and cannot make two references to one
container, so a frame unpacks to a bounded multiple of its size. A frame from the sandbox
is also checked while it is read (no more than :data:`MAX_ITEMS` items, each tensor's bytes
matching its dtype and shape) and then walked once for depth. Only a *trusted* frame (the
grader's request, read in the sandbox) may carry other Python objects, pickled (a function
such as ``torch.tanh``, a dtype); one from the sandbox that does is refused. Objects that are
not data travel as marker dicts: ``{"__remote__": handle, ...}`` for an object that stays in
the sandbox, ``{"__opaque__": type name, "repr": text}`` for data of another kind (a NumPy
array, say).
"""

import math
import numbers
import pickle
import struct
from collections.abc import Callable
from typing import Any, BinaryIO

import msgpack
import torch

HEADER = struct.Struct(">Q")
# The sandbox's control socket carries two one-byte messages: the supervisor is READY (booted,
# or cleared after a child), and the grader asks it to START a child (the session's socket
# travels with it, as SCM_RIGHTS ancillary data).
READY, START = b"R", b"S"
KEEP = object()  # what a ``rebuild`` replacement returns to leave an item as it is
# What a reply from the sandbox may hold. ``to_wire`` never nests deeper than 10; a reply
# that does, or that holds more items than any honest value, was crafted.
MAX_DEPTH = 32
MAX_ITEMS = 100_000
TENSOR, TUPLE, BIG_INTEGER, PICKLED = 1, 2, 3, 4  # our MessagePack extension types
NAMES = {  # the dtypes a tensor may travel in, by the name it travels under
    dtype: str(dtype).removeprefix("torch.")
    for dtype in (
        torch.float16,
        torch.bfloat16,
        torch.float32,
        torch.float64,
        torch.complex64,
        torch.complex128,
        torch.bool,
        torch.uint8,
        torch.int8,
        torch.int16,
        torch.int32,
        torch.int64,
    )
}
DTYPES = {name: dtype for dtype, name in NAMES.items()}
DEVICES = ("cpu", "cuda")
OPTIONS = {"unicode_errors": "surrogatepass"}  # a student's string may hold lone surrogates


class FrameError(RuntimeError):
    """A frame was cut short, too large, or not a valid payload."""


def sendable(tensor: torch.Tensor) -> bool:
    """Whether a tensor travels as data (its dtype in :data:`NAMES`, dense, on the CPU or
    a GPU)."""
    return (
        tensor.dtype in NAMES
        and tensor.layout == torch.strided
        and tensor.device.type in DEVICES
        and not tensor.is_quantized
    )


def encode(message: Any, objects: bool = False) -> bytes:
    """``message`` as MessagePack. With ``objects``, what is not data (a function, a dtype)
    goes pickled: only a trusted reader takes such a frame (the grader's requests)."""

    def default(value: Any) -> msgpack.ExtType:
        if type(value) is tuple:
            return msgpack.ExtType(TUPLE, pack(list(value)))
        if type(value) is torch.Tensor and sendable(value):
            plain = value.detach().resolve_conj().resolve_neg().cpu().contiguous()
            raw = plain.reshape(-1).view(torch.uint8).numpy().tobytes()
            header = [NAMES[plain.dtype], list(plain.shape)]
            return msgpack.ExtType(
                TENSOR, pack([*header, value.device.type, value.requires_grad, raw])
            )
        if type(value) is int:  # beyond 64 bits
            return msgpack.ExtType(BIG_INTEGER, str(value).encode())
        if objects:
            return msgpack.ExtType(PICKLED, pickle.dumps(value))
        raise TypeError(f"a {type(value).__name__} is not data the grader can read")

    def pack(value: Any) -> bytes:
        return msgpack.packb(value, default=default, strict_types=True, **OPTIONS)

    return pack(message)


def decode(payload: bytes, trusted: bool = False) -> Any:
    """Read a payload. Only a ``trusted`` one (the grader's, read in the sandbox) may hold
    pickled objects; an untrusted one must be plain data of bounded depth and item count."""
    reader = _Reader(trusted)
    try:
        value = reader.unpack(payload)
    except FrameError:
        raise
    except Exception as error:  # any malformed payload is the same failure to the grader
        raise FrameError(f"unreadable reply ({type(error).__name__})") from None
    if not trusted:
        _check_depth(value)
    return value


class _Reader:
    """Unpacks one payload, counting items as containers are completed so that a crafted
    frame is refused while it is read, not after it has filled the memory."""

    def __init__(self, trusted: bool):
        self.trusted, self.items, self.depth = trusted, 0, 0

    def unpack(self, payload: bytes) -> Any:
        return msgpack.unpackb(
            payload,
            strict_map_key=False,
            list_hook=self.count,
            object_hook=self.count,
            ext_hook=self.extension,
            max_array_len=MAX_ITEMS,
            max_map_len=MAX_ITEMS,
            **OPTIONS,
        )

    def count(self, container: list | dict) -> list | dict:
        self.items += len(container) + 1
        if self.items > MAX_ITEMS and not self.trusted:
            raise FrameError("unreadable reply (too many items)")
        return container

    def extension(self, code: int, data: bytes) -> Any:
        if code == TUPLE:
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise FrameError("unreadable reply (nested too deep)")
            try:
                items = self.unpack(data)
            finally:
                self.depth -= 1
            if not isinstance(items, list):
                raise FrameError("unreadable reply (a malformed tuple)")
            return tuple(self.count(items))
        if code == TENSOR:
            return _tensor(data)
        if code == BIG_INTEGER and len(data) <= 4300:  # Python's own limit on int("...")
            return int(data.decode("ascii"))
        if code == PICKLED and self.trusted:
            return pickle.loads(data)
        raise FrameError(f"unreadable reply (extension type {code})")


def _tensor(data: bytes) -> torch.Tensor:
    """A tensor from its extension payload, checked: a known dtype and device, a shape
    whose size is exactly the bytes that came."""
    dtype, shape, device, requires_grad, raw = msgpack.unpackb(data, max_array_len=64, **OPTIONS)
    if (
        dtype not in DTYPES
        or device not in DEVICES
        or not isinstance(raw, bytes)
        or not isinstance(shape, list)
        or not all(type(n) is int and 0 <= n < 2**62 for n in shape)
        or math.prod(shape) * DTYPES[dtype].itemsize != len(raw)
    ):
        raise FrameError("unreadable reply (a tensor whose header and bytes disagree)")
    dtype = DTYPES[dtype]
    if not raw:
        tensor = torch.empty(shape, dtype=dtype)
    elif dtype is torch.bool:  # any byte but 0 is True, as torch itself would read it
        tensor = torch.frombuffer(bytearray(raw), dtype=torch.uint8).reshape(shape) != 0
    else:
        tensor = torch.frombuffer(bytearray(raw), dtype=torch.uint8).view(dtype).reshape(shape)
    if device == "cuda":
        tensor = tensor.to(device)
    return tensor.requires_grad_() if requires_grad is True else tensor


def _check_depth(value: Any) -> None:
    """Walk ``value`` once, without recursion: no deeper than :data:`MAX_DEPTH`."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise FrameError("unreadable reply (nested too deep)")
        if isinstance(item, tuple | list | dict):
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)


def frame(message: Any, objects: bool = False) -> bytes:
    """``message`` as one frame: its payload's length, then the payload (see ``encode``)."""
    payload = encode(message, objects)
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
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str.__str__(value)  # a plain str, whatever subclass it was
    if isinstance(value, bytes):
        return bytes(memoryview(value))
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, torch.Tensor):
        return value.detach().as_subclass(torch.Tensor) if sendable(value) else opaque(value)
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
