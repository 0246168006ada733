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
SIGMOID_SIGN = "the sign in the exponent is flipped: σ(x) = 1 / (1 + exp(−x))."
SIGMOID_IS_TANH = "this looks like tanh, not the sigmoid σ(x) = 1 / (1 + exp(−x))."
TANH_IS_SIGMOID = "this is the sigmoid; tanh(x) = (eˣ − e⁻ˣ) / (eˣ + e⁻ˣ) ranges over (−1, 1)."
TANH_SIGN = "the result has the wrong sign: tanh(x) is positive for x > 0."
TANH_FACTORS = "tanh(x) = 2σ(2x) − 1: check the factors 2 in your formula."
RELU_MIN = "ReLU keeps the positive part: relu(x) = max(x, 0), not min(x, 0)."
RELU_ABS = "ReLU sets negative values to 0; it does not take their absolute value."
RELU_MASK = "relu should return the values max(x, 0), not a 0/1 mask of where x > 0."


def _inputs(seed: int | None, device: torch.device) -> list[tuple[str, torch.Tensor, str]]:
    """Named inputs, each with the Python that makes one like it: small shapes first, then
    random shapes, large magnitudes and float64."""
    g = generator(seed, 1234)
    spots = [-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0]
    large = [-1e4, -800.0, -50.0, 50.0, 800.0, 1e4]
    shape = tuple(
        int(s)
        for s in torch.randint(1, 6, (int(torch.randint(1, 4, (1,), generator=g)),), generator=g)
    )
    dims = ", ".join(str(s) for s in shape)
    inputs = [
        ("a few values around 0", torch.tensor(spots), f"torch.tensor({spots})"),
        (
            f"a random {len(shape)}-d tensor",
            3 * torch.randn(shape, generator=g),
            f"3 * torch.randn({dims})",
        ),
        ("a 0-d tensor (a scalar)", torch.tensor(0.7), "torch.tensor(0.7)"),
        (
            "large values in [-1e4, 1e4]",
            torch.linspace(-1e4, 1e4, 41),
            "torch.linspace(-1e4, 1e4, 41)",
        ),
        (
            "float64 input",
            torch.randn(3, 4, generator=g, dtype=torch.float64) * 5,
            "5 * torch.randn(3, 4, dtype=torch.float64)",
        ),
        (
            "large float64 values",
            torch.tensor(large, dtype=torch.float64),
            f"torch.tensor({large}, dtype=torch.float64)",
        ),
    ]
    return [(d, t.to(device), code) for d, t, code in inputs]


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
            setup=f"x = {code}",
            reference=f"torch.{name}(x)",
        )
        for description, x, code in _inputs(seed, get_device())
    ]
    run_cases(name, fn, cases, names=("x",), forbid="activation")


def _sigmoid_mistakes(x: torch.Tensor) -> list[Mistake]:
    return [Mistake(SIGMOID_SIGN, torch.sigmoid(-x)), Mistake(SIGMOID_IS_TANH, torch.tanh(x))]


def _tanh_mistakes(x: torch.Tensor) -> list[Mistake]:
    return [
        Mistake(TANH_IS_SIGMOID, torch.sigmoid(x)),
        Mistake(TANH_SIGN, -torch.tanh(x)),
        Mistake(TANH_FACTORS, 2 * torch.sigmoid(x) - 1),
    ]


def _relu_mistakes(x: torch.Tensor) -> list[Mistake]:
    return [
        Mistake(RELU_MIN, x.clamp(max=0)),
        Mistake(RELU_ABS, x.abs()),
        Mistake(RELU_MASK, (x > 0).to(x.dtype)),
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
