"""The convolution checks' contract and partial credit, beyond the catalogue: what reaches
stderr, the memory layouts made where the student's code runs (also through a real grading
sandbox, where inputs arrive as contiguous copies), the parts a single-ingredient mistake
loses, and every point to a right function on any hidden seed."""

import contextlib
import io
import warnings

import pytest
from catalogue import FAST, NAIVE, WRONG
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_catalogue_checks import namespace_with

from autograder.checks import CheckFailed, conv
from autograder.checks._score import Score


def student(cell: str, code: str):
    with contextlib.redirect_stdout(io.StringIO()):
        return namespace_with("conv-layers", cell, code)[cell]


def run(check, fn, seed=None) -> tuple[float, str, str]:
    """The points, the first line of the message ("" when complete) and stderr."""
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            score = check(fn, seed=seed)
        except CheckFailed as failure:
            return 0.0, str(failure).splitlines()[0], err.getvalue()
    assert isinstance(score, Score)
    first = score.message.splitlines()[0] if score.message else ""
    return float(score), first, err.getvalue()


AS_STRIDED_FROM_SHAPE = next(
    w.code for w in WRONG if w.name == "fast_as_strided_strides_from_shape"
)


def test_a_students_warnings_never_reach_stderr():
    noisy = NAIVE.replace(
        "    n, c_in, h, w = x.shape\n",
        "    n, c_in, h, w = x.shape\n    import sys, warnings\n"
        "    warnings.warn('careful')\n    print('to stderr', file=sys.stderr)\n",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        points, said, err = run(conv.check_conv2d_naive, student("conv2d_naive", noisy), 205)
    assert points == 4 and said == "" and err == ""


def test_an_as_strided_im2col_with_strides_from_the_shape_loses_the_layout_part():
    points, said, _ = run(conv.check_conv2d_fast, student("conv2d_fast", AS_STRIDED_FROM_SHAPE))
    assert said and "take the strides from .stride()" in said
    assert 0 < points < 3.75  # the layouts part and no other visible one


@pytest.mark.parametrize(
    ("cell", "code", "part", "said"),
    [
        (
            "conv2d_naive",
            NAIVE.replace(
                "(s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)",
                "(s_h, s_w), (p_h, p_w) = (1, 1), pair(padding)",
            ),
            conv.STRIDE,
            "the stride is ignored",
        ),
        (
            "conv2d_naive",
            NAIVE.replace("out[:, o] += bias[o]", "pass"),
            conv.BIAS,
            "the bias is missing",
        ),
        (
            "conv2d_naive",
            NAIVE.replace("dtype=x.dtype, device=x.device", "device=x.device"),
            conv.DTYPE_LAYOUT,
            "dtype",
        ),
    ],
)
def test_a_mistake_in_one_ingredient_loses_that_part_and_the_hidden_one(cell, code, part, said):
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        score = conv.check_conv2d_naive(student(cell, code), seed=205)
    failed = {p.name for p in score.parts if p.passed is False}
    assert part in failed and failed <= {part, conv.HIDDEN, conv.PAIRS}
    assert said in score.message.splitlines()[0]


def test_a_flipped_kernel_earns_nothing_in_any_part():
    flipped = NAIVE.replace("(window * weight[o, c])", "(window * weight[o, c].flip(0, 1))")
    points, said, _ = run(conv.check_conv2d_naive, student("conv2d_naive", flipped), 205)
    assert points == 0 and "flipped" in said


@pytest.mark.slow
@settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**31))
def test_right_functions_get_every_point_on_any_hidden_seed(seed):
    for cell, code, check in [
        ("conv2d_naive", NAIVE, conv.check_conv2d_naive),
        ("conv2d_fast", FAST, conv.check_conv2d_fast),
    ]:
        points, said, err = run(check, student(cell, code), seed)
        assert points == 4 and said == "" and err == ""


def test_the_layout_probes_are_found_where_student_code_runs():
    from autograder.grading import supervisor

    for probe in (conv.probe_channels_last, conv.probe_transposed):
        assert supervisor.PROBES[f"{probe.__module__}:{probe.__qualname__}"] is probe


@pytest.mark.slow
def test_layouts_survive_the_trip_to_the_grading_sandbox(tmp_path):
    """At grading time the inputs travel as contiguous copies; the probe makes the layout on
    the sandbox's side, so a layout-blind as_strided still loses its part there."""
    from autograder.grading.sandbox import Limits, Sandbox

    sandbox = Sandbox(Limits(timeout=60), "cpu", [tmp_path])
    try:
        session = sandbox.begin({})
        session.deadline = float("inf")
        setup = (
            "import torch\ndef pair(v):\n    return (v, v) if isinstance(v, int) else tuple(v)\n"
        )
        assert session.run_cell(setup + AS_STRIDED_FROM_SHAPE)["error"] is None
        _, remote = session.lookup("conv2d_fast")
        with contextlib.redirect_stdout(io.StringIO()):
            score = conv.check_conv2d_naive(remote)
        failed = {p.name for p in score.parts if p.passed is False}
        assert failed == {conv.DTYPE_LAYOUT}, score.table()
        assert "take the strides from .stride()" in score.message
        session.end()
    finally:
        sandbox.kill()
