"""No point for a function that does nothing: every check in ``autograder.checks`` gives 0 to
a stub, a function that always raises (ValueError included: some right answers are a
ValueError), one that returns a constant, None, its first argument or all of them, with and
without the hidden cases; and its failure carries every part (0 points) for the feedback's
table."""

import contextlib
import inspect
import io

import pytest
import torch
from torch import nn

from autograder import checks
from autograder.checks import CheckFailed, _cases
from autograder.grading.engine import _parts

CELL_POINTS = {
    "check_sigmoid": 2,
    "check_tanh": 2,
    "check_relu": 1,
    "check_dense_forward": 2,
    "check_mlp_forward": 2,
    "check_mlp_param_count": 1,
    "check_neuron_gradients": 3,
    "check_sgd_step": 1,
    "check_param_constants": 1,
    "check_conv_output_shape": 2,
    "check_conv_layer_cost": 1,
    "check_same_padding": 1,
    "check_corr2d_padded": 2,
    "check_conv2d_naive": 4,
    "check_conv2d_fast": 4,
    "check_conv2d_module": 3,
}
CHECK_NAMES = [n for n in checks.__all__ if n.startswith("check_")]


def stub(*args, **kwargs):
    raise NotImplementedError()


def value_error(*args, **kwargs):
    raise ValueError("always")


def type_error(*args, **kwargs):
    raise TypeError("always")


def returns_none(*args, **kwargs):
    return None


def returns_zero(*args, **kwargs):
    return 0


def returns_first(*args, **kwargs):
    return args[0]


def returns_first_two(*args, **kwargs):
    return tuple(args[:2])


def returns_all(*args, **kwargs):
    return args


def zeros_like_first(*args, **kwargs):
    first = args[0]
    return torch.zeros_like(first) if isinstance(first, torch.Tensor) else 0


FUNCTIONS = [
    stub,
    value_error,
    type_error,
    returns_none,
    returns_zero,
    returns_first,
    returns_first_two,
    returns_all,
    zeros_like_first,
]


class InitStub(nn.Module):
    def __init__(self, *args, **kwargs):
        super().__init__()
        raise NotImplementedError()


class ForwardStub(nn.Module):
    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        raise NotImplementedError()


class ForwardRaises(ForwardStub):
    def forward(self, x):
        raise ValueError("always")


class Identity(ForwardStub):
    def forward(self, x):
        return x


class Zeros(ForwardStub):
    def forward(self, x):
        return torch.zeros_like(x)


CLASSES = [InitStub, ForwardStub, ForwardRaises, Identity, Zeros]
CONSTANTS = [None, 0, (), (0, 0), (1, 1)]


def degenerate(name: str) -> list:
    if name == "check_conv2d_module":
        return CLASSES
    if name == "check_param_constants":
        return CONSTANTS
    return FUNCTIONS


def points(name: str, given, seed):
    """``(points, the CheckFailed or None)``."""
    check = getattr(checks, name)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            if name == "check_param_constants":
                return float(check(given, given)), None
            return float(check(given, seed=seed)), None
        except CheckFailed as failure:
            return 0.0, failure


def test_every_check_is_listed():
    assert sorted(CELL_POINTS) == sorted(CHECK_NAMES)
    for name in CHECK_NAMES:
        assert "seed" in inspect.signature(getattr(checks, name)).parameters or (
            name == "check_param_constants"
        )


@pytest.mark.parametrize("name", CHECK_NAMES)
def test_a_function_that_does_nothing_earns_nothing(name):
    for given in degenerate(name):
        for seed in (None, 7):
            earned, failure = points(name, given, seed)
            label = getattr(given, "__name__", repr(given))
            assert earned == 0, (name, label, seed)
            if failure is not None and failure.score is not None:
                assert float(failure.score) == 0


@pytest.mark.parametrize("name", CHECK_NAMES)
def test_a_failed_check_carries_its_parts(name):
    """A stub's CheckFailed holds the check's 0-point Score: every part, adding up to the
    test cell's points, each failed (or, for the hidden cases without a seed, not run); the
    grading engine reads them from it."""
    given = {"check_conv2d_module": InitStub, "check_param_constants": None}.get(name, stub)
    for seed in (None, 7):
        earned, failure = points(name, given, seed)
        assert earned == 0 and failure is not None
        parts = failure.parts
        assert parts and failure.score is not None and float(failure.score) == 0
        assert sum(p.points for p in parts) == CELL_POINTS[name]
        assert all(p.passed is False or (p.passed is None and seed is None) for p in parts)
        assert _parts(failure) == parts
        for part in parts:
            assert part.name in str(failure)  # the table under the message


def test_a_raise_part_counts_only_with_the_valid_cases_right():
    """Raising ValueError is the right answer for an impossible layer or an even kernel;
    that part counts once the function also answers the simplest valid cases."""
    code = "def same_padding(k):\n    if k % 2 == 0:\n        raise ValueError\n    return k // 2 + 1\n"
    found: dict = {}
    exec(code, found)
    earned, failure = points("check_same_padding", found["same_padding"], None)
    assert earned == 0
    even = next(p for p in failure.parts if p.name == "even kernels raise ValueError")
    assert even.passed is False and even.message == _cases.NEEDS.format(part="odd kernels")
