"""Convolution timings: the reference ``conv2d_naive`` and ``conv2d_fast`` against
``F.conv2d`` (used by ``make bench`` and the book's "How fast is convolution?" page).

A timing is robust to a busy machine when it measures what the code itself costs rather than
how long it waited for a core:

- on the CPU, PyTorch runs on **one thread**, and each call is timed by the **CPU time of that
  thread** (``time.thread_time``), which does not advance while other programs have the core;
- on a GPU, by wall time with the device synchronised before and after each call;
- every implementation is called once first (a warm-up: memory allocated, libraries loaded),
  then ``repeats`` times, and the **minimum** is kept: every disturbance (another program,
  a cache flushed, the allocator) only ever adds time, so the fastest call is the one closest
  to the code's own cost.
"""

import time
from collections.abc import Callable
from contextlib import contextmanager

import torch
import torch.nn.functional as F

from autograder.release.reference import load

SETTINGS = {
    "a: 64 images 3x32x32, 6 filters 5x5": ((64, 3, 32, 32), (6, 3, 5, 5)),
    "b: 64->64 channels 3x3, 8 maps 32x32": ((8, 64, 32, 32), (64, 64, 3, 3)),
}


@contextmanager
def threads(count: int):
    """PyTorch's CPU operations on ``count`` threads inside the block."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def seconds(fn: Callable, *args, device: str, repeats: int = 7) -> float:
    """The shortest of ``repeats`` timed calls of ``fn(*args)``, after one warm-up call: CPU
    time of the calling thread on the CPU, wall time on a GPU."""

    def once() -> float:
        if device == "cpu":
            start = time.thread_time()
            fn(*args)
            return time.thread_time() - start
        torch.cuda.synchronize()
        start = time.perf_counter()
        fn(*args)
        torch.cuda.synchronize()
        return time.perf_counter() - start

    once()  # warm-up
    return min(once() for _ in range(repeats))


def measure(device: str, setting: tuple, repeats: int = 7) -> dict[str, float]:
    """Seconds per call of each implementation (``naive``, ``fast``, ``F.conv2d``), for
    ``setting = (x shape, weight shape)`` (``x: (N, C_in, H, W)``, ``weight: (C_out, C_in, K,
    K)``), stride 1, padding 1; on the CPU with PyTorch on one thread."""
    functions = load("conv-layers", ["conv2d_naive", "conv2d_fast"])
    g = torch.Generator().manual_seed(0)
    x_shape, w_shape = setting
    x = torch.randn(*x_shape, generator=g).to(device)
    w = torch.randn(*w_shape, generator=g).to(device)
    b = torch.randn(w_shape[0], generator=g).to(device)
    implementations = {
        "naive": functions["conv2d_naive"],
        "fast": functions["conv2d_fast"],
        "F.conv2d": F.conv2d,
    }
    with torch.no_grad(), threads(1 if device == "cpu" else torch.get_num_threads()):
        return {
            name: seconds(fn, x, w, b, 1, 1, device=device, repeats=repeats)
            for name, fn in implementations.items()
        }
