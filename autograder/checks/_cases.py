"""The engine every check shares: run the student's function on a list of cases,
judge each answer, and explain a wrong one by the misconception that reproduces it.
"""

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch

from ._report import fail, report_pass
from ._student import Raised, invoke, type_name

# (rtol, atol) for comparing a student's tensor with the reference, per dtype.
TOLERANCES = {
    torch.float16: (1e-2, 1e-2),
    torch.bfloat16: (2e-2, 2e-2),
    torch.float32: (1e-4, 1e-4),
    torch.float64: (1e-9, 1e-9),
}

NOT_IMPLEMENTED = "not implemented yet: replace `raise NotImplementedError()` with your code."
OVERFLOW = "returned nan or inf where the answer is finite (an overflow?)."


@dataclass
class Mistake:
    """A known wrong answer: what the mistaken code returns, and what to tell the student.

    Give ``output`` (the value it returns) when the values identify the
    mistake, or only ``shape`` when the shape does.
    """

    message: str
    output: Any = None
    shape: tuple | None = None

    def returns_shape(self) -> tuple | None:
        if self.shape is not None:
            return tuple(self.shape)
        return tuple(self.output.shape) if isinstance(self.output, torch.Tensor) else None


@dataclass
class Case:
    """One call of the student's function and the answer it must give.

    ``mistakes`` is called only when the answer is wrong, so building the
    candidate wrong answers costs nothing when the student is right.
    """

    description: str
    args: tuple
    expected: Any
    kwargs: dict = field(default_factory=dict)
    mistakes: Callable[[], list[Mistake]] = list
    overflow_hint: str = ""


def tolerance(dtype: torch.dtype) -> tuple[float, float]:
    return TOLERANCES.get(dtype, (0.0, 0.0))


def describe(value: Any) -> str:
    """A short description of an argument for a failure message."""
    if isinstance(value, torch.Tensor):
        dtype = str(value.dtype).removeprefix("torch.")
        return f"tensor of shape {tuple(value.shape)} ({dtype}, {value.device.type})"
    if callable(value):
        return getattr(value, "__name__", type_name(value))
    return repr(value)


def describe_call(args: tuple, kwargs: dict, names: Iterable[str]) -> str:
    parts = [f"{n}={describe(a)}" for n, a in zip(names, args, strict=False)]
    parts += [f"{k}={describe(v)}" for k, v in kwargs.items()]
    return ", ".join(parts)


def close(got: torch.Tensor, expected: torch.Tensor) -> bool:
    rtol, atol = tolerance(expected.dtype)
    return got.shape == expected.shape and torch.allclose(
        got.to(expected.dtype), expected, rtol=rtol, atol=atol, equal_nan=True
    )


def _argument_names(fn: Callable, args: tuple, kwargs: dict) -> dict[str, Any]:
    try:
        bound = inspect.signature(fn).bind(*args, **kwargs)
        return dict(bound.arguments)
    except (TypeError, ValueError):
        return {f"argument {i + 1}": a for i, a in enumerate(args)} | kwargs


def raised_line(error: Raised) -> str:
    """``raised ValueError: the first line of its message``."""
    message = error.message.strip().splitlines()[0] if error.message.strip() else ""
    return f"raised {error.type_name}: {message}"


def call_student(
    name: str,
    fn: Callable,
    args: tuple,
    kwargs: dict,
    *,
    where: str,
    forbid: str | None = None,
    inputs_frozen: bool = True,
    inference: bool = False,
    probe: Callable | None = None,
    explain: Callable[[Raised], str | None] = lambda error: None,
) -> Any:
    """Call ``fn(*args, **kwargs)`` (or ``probe(fn, *args, **kwargs)``) through
    :func:`invoke` and fail with a student-facing message when the call raises, uses a
    forbidden routine, or (with ``inputs_frozen``) changes a tensor input.
    ``explain`` may turn an exception into a more specific first line."""
    check_inputs = inputs_frozen and probe is None
    snapshots = (
        [a.detach().clone() if isinstance(a, torch.Tensor) else None for a in args]
        if check_inputs
        else []
    )
    outcome = invoke(
        fn, args, kwargs, forbid=forbid, probe=probe, inference=inference, keep_args=check_inputs
    )
    if outcome.error is not None:
        if outcome.error.is_a("NotImplementedError"):
            fail(name, NOT_IMPLEMENTED)
        explanation = explain(outcome.error)
        if explanation:
            fail(name, explanation, where, raised_line(outcome.error))
        fail(name, raised_line(outcome.error), where)
    if outcome.forbidden:
        used = " and ".join(outcome.forbidden)
        fail(
            name,
            f"uses {used}, which this exercise asks you not to call. "
            "Write the computation yourself with basic tensor operations.",
        )
    if check_inputs:
        names = list(_argument_names(fn, args, kwargs))
        for position, (before, after) in enumerate(
            zip(snapshots, outcome.args_after, strict=False)
        ):
            if before is None:
                continue
            changed = not isinstance(after, torch.Tensor) or after.shape != before.shape
            if changed or not torch.equal(after.detach(), before):
                arg_name = names[position] if position < len(names) else f"argument {position + 1}"
                fail(
                    name,
                    f"changed its input `{arg_name}` in place. Leave the inputs as they are: "
                    "work on a copy (e.g. `x.clone()`) or build a new tensor.",
                    where,
                )
    return outcome.value


def judge_tensor(got: Any, case: Case, what: str = "the output") -> tuple[str, str] | None:
    """Compare one returned tensor with ``case.expected``; None when it is right,
    else ``(summary, detail)`` with the misconception that explains it when one does."""
    expected = case.expected
    if not isinstance(got, torch.Tensor):
        return f"{what} should be a torch.Tensor, but it is a {type_name(got)}.", ""
    if got.device != expected.device:
        return (
            f"{what} is on {got.device}, but the inputs are on {expected.device}. "
            "Create new tensors on the input's device (`device=x.device`).",
            "",
        )
    shape_detail = f"{what} has shape {tuple(got.shape)}; expected {tuple(expected.shape)}."
    if got.shape != expected.shape:
        for mistake in case.mistakes():
            if mistake.returns_shape() == tuple(got.shape):
                return mistake.message, shape_detail
        return f"{what} has the wrong shape.", shape_detail
    if got.dtype != expected.dtype:
        return (
            f"{what} has dtype {got.dtype} but the inputs are {expected.dtype}. "
            "Keep the input's dtype (e.g. `torch.zeros(..., dtype=x.dtype, device=x.device)`).",
            "",
        )
    if (~torch.isfinite(got) & torch.isfinite(expected)).any():
        return OVERFLOW + (" " + case.overflow_hint if case.overflow_hint else ""), ""
    if close(got, expected):
        return None
    for mistake in case.mistakes():
        if isinstance(mistake.output, torch.Tensor) and close(got, mistake.output):
            return mistake.message, ""
    error = (got.to(expected.dtype) - expected).abs()
    index = tuple(int(i) for i in torch.nonzero(error == error.max())[0]) if error.ndim else ()
    return (
        f"{what} has the right shape but wrong values.",
        f"Largest difference {error.max().item():.3g} at index {index}: "
        f"got {got[index].item():.6g}, expected {expected[index].item():.6g}.",
    )


def run_cases(
    name: str,
    fn: Callable,
    cases: Iterable[Case],
    *,
    names: tuple[str, ...],
    judge: Callable[[Any, Case], tuple[str, str] | None] = judge_tensor,
    forbid: str | None = None,
    announce: bool = True,
) -> None:
    """Run every case; fail at the first wrong answer, else (with ``announce``) print one
    success line."""
    if not callable(fn):
        fail(name, f"expected a function, got {describe(fn)}.")
    cases = list(cases)
    for number, case in enumerate(cases, 1):
        call = describe_call(case.args, case.kwargs, names)
        where = f"Failed on case {number} of {len(cases)}: {case.description}\n  call: {call}"
        got = call_student(name, fn, case.args, case.kwargs, where=where, forbid=forbid)
        problem = judge(got, case)
        if problem is not None:
            summary, detail = problem
            fail(name, summary, where, detail)
    if announce:
        report_pass(name, len(cases))
