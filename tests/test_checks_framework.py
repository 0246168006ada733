"""The checks' shared framework (``checks._cases``, ``checks._experiments``) on inputs nobody
listed: an experiment that fails says nothing (and never becomes a grading error); an answer
of another dtype is no evidence for the experiments that fit values; a sentence says only
what its experiment observed; a replay contradicted by another wrong answer is not named
unless a further wrong answer confirms it; a failed check carries its parts; the old checks
no notebook calls are gone."""

import contextlib
import io

import pytest
import torch

from autograder import checks
from autograder.checks import _cases, activations, conv, dense, mlp, sizes

OLD_CHECKS = (
    "check_conv_output_size",
    "check_conv_param_count",
    "check_neuron",
    "check_dense_param_count",
)


def quietly(call, *args, **kwargs):
    with contextlib.redirect_stdout(io.StringIO()):
        return call(*args, **kwargs)


def test_the_checks_no_notebook_calls_are_gone():
    for name in OLD_CHECKS:
        assert name not in checks.__all__
        assert not hasattr(checks, name)
        for module in (activations, conv, dense, mlp, sizes):
            assert not hasattr(module, name), (module.__name__, name)


def outcome(check, fn, seed=None) -> tuple[float, str]:
    """The points and the first line of the message ("" when complete); any exception but
    CheckFailed goes on (a grading error)."""
    try:
        score = quietly(check, fn, seed=seed)
    except checks.CheckFailed as failure:
        return 0.0, str(failure).splitlines()[0]
    return float(score), score.message.splitlines()[0] if score.message else ""


# ------------------------------------------------------------------ (a) a failing experiment


def _counting_cases(answers: dict[int, int], mistakes: dict[int, int] | None = None):
    """Cases ``f(i) == i`` and a function that answers ``answers[i]`` (else i); each case's
    known mistake (when given) answers ``mistakes[i]``."""
    mistakes = mistakes or {}
    cases = [
        _cases.Case(
            description=f"i={i}",
            args=(i,),
            expected=i,
            part="all",
            mistakes=lambda i=i: (
                [_cases.Mistake("the known slip", mistakes[i])] if i in mistakes else []
            ),
        )
        for i in range(1, 5)
    ]

    def fn(i):
        return answers.get(i, i)

    return cases, fn


def _judge(got, case):
    if got == case.expected:
        return None
    return _cases.Verdict(f"returned {got}; expected {case.expected}.", diagnose=True)


def test_an_experiment_that_raises_says_nothing():
    def broken(lab, index):
        raise RuntimeError("an answer this experiment was not made for")

    def says(lab, index):
        return _cases.Finding("something observed.", about="x")

    cases, fn = _counting_cases({2: 7})
    judged = _cases.run_parts(
        "f", fn, cases, parts=[_cases.Part("all", 1)], names=("i",), judge=_judge,
        experiments=[broken],
    )  # fmt: skip
    assert judged.message.startswith("f: returned 7; expected 2.")
    judged = _cases.run_parts(
        "f", fn, cases, parts=[_cases.Part("all", 1)], names=("i",), judge=_judge,
        experiments=[broken, says],
    )  # fmt: skip
    assert judged.message.startswith("f: something observed.")  # the others still run


@pytest.mark.parametrize("dtype", [torch.bool, torch.int64, torch.float16])
@pytest.mark.parametrize("cell", ["dense_forward", "mlp_forward", "sigmoid", "conv2d_fast"])
def test_an_answer_of_another_dtype_is_told_so_and_never_crashes_a_check(cell, dtype):
    """(b) The experiments that fit values take no answer of another dtype (a True/False
    mask made ``scaled`` and ``regions`` raise: a grading error)."""
    right = {
        "dense_forward": lambda x, W, b, act: act(x @ W.T + b),
        "mlp_forward": mlp.forward,
        "sigmoid": lambda x: 1 / (1 + torch.exp(-x)),
        "conv2d_fast": conv_reference,
    }[cell]

    def wrong(*args, **kwargs):
        value = right(*args, **kwargs)
        return value > 0.5 if dtype == torch.bool else value.to(dtype)

    check = getattr(checks, f"check_{cell}")
    points, said = outcome(check, wrong, seed=3)
    assert points == 0
    assert "dtype" in said or "mask" in said, said


def conv_reference(x, weight, bias=None, stride=1, padding=0):
    """im2col with unfold: allowed where the library's convolution is not."""
    (s_h, s_w), (p_h, p_w) = _cases.pair(stride), _cases.pair(padding)
    n, _, h, w = x.shape
    c_out, _, k_h, k_w = weight.shape
    h_out, w_out = (h + 2 * p_h - k_h) // s_h + 1, (w + 2 * p_w - k_w) // s_w + 1
    cols = torch.nn.functional.unfold(x, (k_h, k_w), padding=(p_h, p_w), stride=(s_h, s_w))
    out = (weight.reshape(c_out, -1) @ cols).reshape(n, c_out, h_out, w_out)
    return out if bias is None else out + bias.view(1, -1, 1, 1)


# ------------------------------------------------------------- (c) what a constant output shows


def test_a_constant_output_on_one_case_is_not_said_to_ignore_the_input():
    """dL/dw whose values are all equal on each case (the summed dL/dz times ones), but
    differ between cases: the sentence says what one case showed, nothing about the input."""

    def equal_values(x, w, b, t):
        y = torch.sigmoid(x @ w + b)
        dz = (y - t) * y * (1 - y) / x.shape[0]
        return dz.sum() * torch.ones_like(w), dz.sum()

    _, said = outcome(checks.check_neuron_gradients, equal_values)
    assert "does not depend" not in said and "whatever" not in said
    assert "every value of your dL/dw is the same" in said, said


def test_an_output_constant_on_every_case_is_said_so():
    def constant(x, W, b, act):
        return torch.full((x.shape[0], W.shape[0]), 0.5, dtype=x.dtype)

    _, said = outcome(checks.check_dense_forward, constant)
    assert "every value of your output is 0.5, on each of the 9 cases" in said, said


# ---------------------------------------------------- (d) a replay another wrong answer denies


def test_a_replay_contradicted_by_another_wrong_answer_needs_a_confirming_one():
    """Case 2's answer is the known slip's; case 3 went wrong otherwise though the slip would
    have given something else there: not named. With case 4 giving the slip's answer too,
    named."""
    cases, fn = _counting_cases({2: 20, 3: 99}, {2: 20, 3: 30})
    judged = _cases.run_parts(
        "f", fn, cases, parts=[_cases.Part("all", 1)], names=("i",), judge=_judge
    )
    assert "the known slip" not in judged.message
    cases, fn = _counting_cases({2: 20, 3: 99, 4: 40}, {2: 20, 3: 30, 4: 40})
    judged = _cases.run_parts(
        "f", fn, cases, parts=[_cases.Part("all", 1)], names=("i",), judge=_judge
    )
    assert judged.message.startswith("f: the known slip")


def test_a_summed_gradient_in_every_row_is_not_told_per_example():
    """A mutant of the reference: dL/dw accumulated into a tensor shaped like x, so every row
    holds the summed gradient. The per-example replay fits one case by a coincidence of its
    numbers and no other wrong answer; it is not named."""

    def rows_of_sums(x, w, b, target):
        n = x.shape[0]
        gw, gb = torch.zeros_like(x), 0.0
        for i in range(n):
            y = 1 / (1 + torch.exp(-(x[i] @ w + b)))
            d = (y - target[i]) * y * (1 - y) / n
            gw = gw + d * x[i]
            gb += float(d)
        return gw, gb

    _, said = outcome(checks.check_neuron_gradients, rows_of_sums, seed=3)
    assert "left per example" not in said, said
