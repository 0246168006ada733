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
from collections.abc import Callable, Iterator
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


def integers(seed: int | None, default: int) -> Callable[[int, int], int]:
    """``draw(low, high)``: a random int in ``[low, high]``, both included, from
    :func:`generator`'s numbers for this ``seed``."""
    g = generator(seed, default)
    return lambda low, high: int(torch.randint(low, high + 1, (1,), generator=g))


def unequal(draw: Callable[[int, int], int], least: int, most: int, wide: bool) -> tuple[int, int]:
    """``(h, w)``: two different ints in ``[least, most]`` from ``draw``, the larger on the w
    axis when ``wide``, else on the h axis."""
    small = draw(least, most - 1)
    large = draw(small + 1, most)
    return (small, large) if wide else (large, small)


def oriented(
    draw: Callable[[int, int], int], wide: bool, kernel: int, stride: int, padding: int, extra: int
) -> tuple[tuple[int, int], ...]:
    """``(size, kernel, stride, padding)``, each an ``(h, w)`` pair: a random layer whose every w quantity (input size, kernel ``1..kernel``, stride
    ``1..stride`` unless ``stride`` is 1, padding ``0..padding``) is larger than its h counterpart when ``wide``, and
    smaller otherwise: hidden cases of both orientations make a mistake that takes one axis's
    number for the other's show, whichever way it errs. The windows end exactly at the far
    edge of the padded input on both axes (every padded row and column is read, so padding
    or a size wrong on the far side shows); ``extra`` more windows at most per axis."""
    k = unequal(draw, 1, kernel, wide)
    s = unequal(draw, 1, stride, wide) if stride > 1 else (1, 1)
    p = unequal(draw, 0, padding, wide)
    sizes = []
    for k_a, s_a, p_a in zip(k, s, p, strict=True):
        base = k_a - 2 * p_a  # the smallest size with one window, if it is at least 1
        fewest = max(0, -(-(1 - base) // s_a))  # windows beyond the first that make it >= 1
        sizes.append(base + s_a * (fewest + draw(0, extra)))
    small, large = (0, 1) if wide else (1, 0)
    while sizes[large] <= sizes[small]:
        sizes[large] += s[large]
    return (sizes[0], sizes[1]), k, s, p


def off_grid(size: int, kernel: int, stride: int, padding: int) -> int:
    """``size``, or one more where the last window would end exactly at the far edge of the
    padded input: with a stride above 1 the division then leaves a remainder, so a rounding
    the wrong way shows."""
    return size + 1 if (size + 2 * padding - kernel) % stride == 0 else size


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
