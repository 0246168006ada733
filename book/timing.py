"""Convolution timings: the reference ``conv2d_naive`` and ``conv2d_fast`` against
``F.conv2d`` (used by ``make bench`` and the book's "How fast is convolution?" page)."""

import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from autograder.release.reference import load

SETTINGS = {
    "a: 64 images 3x32x32, 6 filters 5x5": ((64, 3, 32, 32), (6, 3, 5, 5)),
    "b: 64->64 channels 3x3, 8 maps 32x32": ((8, 64, 32, 32), (64, 64, 3, 3)),
}


def seconds(fn: Callable, *args, device: str, budget: float = 1.0) -> float:
    """Median wall time of ``fn(*args)`` over repeats that fit in ``budget`` seconds."""

    def once() -> float:
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn(*args)
        if device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    first = once()
    repeats = max(1, min(50, int(budget / max(first, 1e-6))))
    times = sorted(once() for _ in range(repeats))
    return times[len(times) // 2]


def measure(device: str, setting: tuple, budget: float = 1.0) -> dict[str, float]:
    """Seconds per call of each implementation, for ``setting = (x shape, weight shape)``
    (``x: (N, C_in, H, W)``, ``weight: (C_out, C_in, K, K)``), stride 1, padding 1."""
    functions = load("conv-layers", ["conv2d_naive", "conv2d_fast"])
    g = torch.Generator().manual_seed(0)
    x_shape, w_shape = setting
    x = torch.randn(*x_shape, generator=g).to(device)
    w = torch.randn(*w_shape, generator=g).to(device)
    b = torch.randn(w_shape[0], generator=g).to(device)
    with torch.no_grad():
        return {
            "naive": seconds(
                functions["conv2d_naive"], x, w, b, 1, 1, device=device, budget=budget
            ),
            "fast": seconds(functions["conv2d_fast"], x, w, b, 1, 1, device=device, budget=budget),
            "F.conv2d": seconds(F.conv2d, x, w, b, 1, 1, device=device, budget=budget),
        }
