"""Checks for ``sigmoid``, ``tanh`` and ``relu``: elementwise, any shape, finite on [-1e4, 1e4]."""

from collections.abc import Callable

import torch

from ..device import get_device
from ._cases import Case, Mistake, run_cases
from ._seeds import generator

EXP_OVERFLOW = (
    "exp(x) overflows to inf once x > 88 in float32 (709 in float64), and inf/inf is nan. "
    "Rewrite the formula so that exp only ever sees zero or negative numbers "
    "(work with |x| and put the sign back at the end)."
)


def _inputs(seed: int | None, device: torch.device) -> list[tuple[str, torch.Tensor]]:
    """Named inputs: small shapes first, then random shapes, large magnitudes and float64."""
    g = generator(seed, 1234)
    spots = torch.tensor([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0])
    inputs = [("a few values around 0", spots)]
    shape = tuple(
        int(s)
        for s in torch.randint(1, 6, (int(torch.randint(1, 4, (1,), generator=g)),), generator=g)
    )
    inputs.append((f"a random {len(shape)}-d tensor", 3 * torch.randn(shape, generator=g)))
    inputs.append(("a 0-d tensor (a scalar)", torch.tensor(0.7)))
    inputs.append(("large values in [-1e4, 1e4]", torch.linspace(-1e4, 1e4, 41)))
    inputs.append(("float64 input", torch.randn(3, 4, generator=g, dtype=torch.float64) * 5))
    inputs.append(
        (
            "large float64 values",
            torch.tensor([-1e4, -800.0, -50.0, 50.0, 800.0, 1e4], dtype=torch.float64),
        )
    )
    return [(d, t.to(device)) for d, t in inputs]


def _check(
    name: str, fn: Callable, reference: Callable, mistakes: Callable, seed: int | None
) -> None:
    cases = [
        Case(
            description=description,
            args=(x,),
            expected=reference(x),
            mistakes=lambda x=x: mistakes(x),
            overflow_hint=EXP_OVERFLOW,
        )
        for description, x in _inputs(seed, get_device())
    ]
    run_cases(name, fn, cases, names=("x",), forbid="activation")


def _sigmoid_mistakes(x: torch.Tensor) -> list[Mistake]:
    return [
        Mistake(
            "the sign in the exponent is flipped: σ(x) = 1 / (1 + exp(−x)).", torch.sigmoid(-x)
        ),
        Mistake("this looks like tanh, not the sigmoid σ(x) = 1 / (1 + exp(−x)).", torch.tanh(x)),
    ]


def _tanh_mistakes(x: torch.Tensor) -> list[Mistake]:
    return [
        Mistake(
            "this is the sigmoid; tanh(x) = (eˣ − e⁻ˣ) / (eˣ + e⁻ˣ) ranges over (−1, 1).",
            torch.sigmoid(x),
        ),
        Mistake("the result has the wrong sign: tanh(x) is positive for x > 0.", -torch.tanh(x)),
        Mistake(
            "tanh(x) = 2σ(2x) − 1: check the factors 2 in your formula.",
            2 * torch.sigmoid(x) - 1,
        ),
    ]


def _relu_mistakes(x: torch.Tensor) -> list[Mistake]:
    return [
        Mistake(
            "ReLU keeps the positive part: relu(x) = max(x, 0), not min(x, 0).", x.clamp(max=0)
        ),
        Mistake("ReLU sets negative values to 0; it does not take their absolute value.", x.abs()),
        Mistake(
            "relu should return the values max(x, 0), not a 0/1 mask of where x > 0.",
            (x > 0).to(x.dtype),
        ),
    ]


def check_sigmoid(sigmoid: Callable, seed: int | None = None) -> None:
    """Check ``sigmoid(x) = 1 / (1 + exp(-x))`` elementwise against ``torch.sigmoid``.

    ``seed`` picks a different random shape (hidden tests use their own seed).
    """
    _check("sigmoid", sigmoid, torch.sigmoid, _sigmoid_mistakes, seed)


def check_tanh(tanh: Callable, seed: int | None = None) -> None:
    """Check ``tanh(x)`` elementwise against ``torch.tanh``, large |x| included."""
    _check("tanh", tanh, torch.tanh, _tanh_mistakes, seed)


def check_relu(relu: Callable, seed: int | None = None) -> None:
    """Check ``relu(x) = max(x, 0)`` elementwise against ``torch.relu``."""
    _check("relu", relu, torch.relu, _relu_mistakes, seed)
