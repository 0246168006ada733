"""Where every check's random numbers come from.

Visible tests call a check without ``seed``: it uses a fixed seed of its own, so a student
sees the same cases on every run. Hidden tests pass a ``seed``. At grading time the grader
also sets a *course secret* for the student and the test cell (:func:`secret_cases`): the
hidden cases then come from a keyed hash of the secret, the student, the cell and the seed.
Nobody without the course's secret can compute them in advance from this public package,
and the instructor, who holds the secret, gets the same cases again.
"""

import contextvars
import hashlib
import hmac
from collections.abc import Iterator
from contextlib import contextmanager

import torch

_KEY: contextvars.ContextVar[bytes | None] = contextvars.ContextVar("case_key", default=None)


def case_seed(seed: int | None, default: int) -> int:
    """The seed a check draws from: ``default`` for visible tests, else ``seed``, keyed by
    the course secret when one is set."""
    if seed is None:
        return default
    key = _KEY.get()
    if key is None:
        return seed
    mac = hmac.new(key, str(seed).encode(), hashlib.sha256).digest()
    return int.from_bytes(mac[:8], "big") >> 1  # torch seeds are non-negative 64-bit


def generator(seed: int | None, default: int) -> torch.Generator:
    """A generator for one check (never the global one, which a student's code can set)."""
    return torch.Generator().manual_seed(case_seed(seed, default))


@contextmanager
def secret_cases(secret: bytes, student: str, cell: str) -> Iterator[None]:
    """Within this block (in this thread), hidden cases are keyed by ``secret`` for
    ``student``'s ``cell``."""
    key = hmac.new(secret, f"{student}\0{cell}".encode(), hashlib.sha256).digest()
    token = _KEY.set(key)
    try:
        yield
    finally:
        _KEY.reset(token)
