"""Diagnoses on hidden cases: every wrong implementation of the convolution checks in the
catalogue (conv2d_naive, conv2d_fast, Conv2d, corr2d_padded; the other checks' sweep is
tests/test_checks_nn.py), run through its check with seeds of its own, must lose points and
be told its own misconception, another that is true of it (listed below, entry by entry),
or a generic message (which is never wrong); never the message of a misconception it does
not have. A check that returns a partial Score is read as its test cell is: the message of
its first failing part.

The checks' guard against forbidden library calls (a profile hook) is switched off here,
except for the entries whose message is the guard's: it makes students' loops many times
slower and has no say in which misconception is named. Each entry gets seeds of its own
(from its name), so that the sweep as a whole sees many settings; the convolutions get
fewer, and small ones.
"""

import contextlib
import io
import re
import zlib

import pytest
import torch
from catalogue import WRONG
from notebooks import graded_cell_code, namespace_with

from autograder import checks
from autograder.checks import CheckFailed, _guard, _student, conv
from autograder.checks._score import Score

pytestmark = pytest.mark.slow

# Messages that name no misconception: true whatever the mistake.
GENERIC = re.compile(
    r"^\S+: (raised \w+ (in forward )?on case \d+ of \d+:|the (forward )?output has the right "
    r"shape but wrong values|the (forward )?output has the wrong shape|returned -?\d+; "
    r"expected -?\d+\.$)"
)

# Other true diagnoses, by entry: what each also is (a swapped K_h/K_w is right for a square
# kernel; a bias on the wrong axis is bias handling that is right without a bias; ...).
ALSO_TRUE = {
    "naive_kernel_sizes_swapped": [conv.KERNEL_SIZES_SWAPPED],
    "fast_kernel_sizes_swapped": [conv.KERNEL_SQUARE_ONLY],
    "naive_bias_wrong_axis": [conv.BIAS_HANDLING],
    "naive_rounds_up": [conv.OUTPUT_SIZE],
    "naive_out_square": [conv.OUTPUT_SIZE, conv.INPUT_SQUARE_ONLY],
    # "the values are right where they are, but the output has the wrong size" is said only
    # when it is so: true of every mistake in the size, if less specific
    "naive_padding_once": [conv.OUTPUT_SIZE],
    "naive_off_by_one": [conv.OUTPUT_SIZE],
    "naive_w_out_from_h": [conv.INPUT_SQUARE_ONLY, conv.OUTPUT_SIZE, "output is not square"],
    "naive_channel_loop_bounded_by_c_out": [
        "with only the first filter",
        "with only the first input channel",
        "do not count in your output",
    ],
    # what the experiments say about padding, in its forms: a pattern over every case (wrong
    # answers only, or wrong answers and errors) or the one change that makes a case right
    "naive_padded_after_correlation": [
        "whenever there is padding",
        "right with the input padded with zeros beforehand",
    ],
    "naive_padded_twice": ["right with the input padded with zeros beforehand"],
    # padding on one side only, or an output sized for that: wrong exactly where there is padding
    "corr_padded_one_side": ["whenever there is padding"],
    "corr_padded_size_from_one_side": ["whenever there is padding"],
    "corr_padded_after_correlation": [
        "whenever there is padding",
        "right with the image padded with zeros beforehand",
    ],
}

# Entries some seeds could not catch before every draw had a case of each role (a float64
# case, one with bias=None, (h, w) pairs, ...): none now.
MAY_PASS: set[str] = set()

# Entries whose message comes from the guard: run with it, on one seed.
GUARDED = {
    "sigmoid_builtin",
    "relu_builtin_alias",
    "naive_uses_F_conv2d",
    "fast_uses_scipy",
    "fast_loops_over_positions",
}

# Extra seeds where a misdiagnosis was once found (kept as regressions).
REGRESSIONS = {
    "fast_pad_order": [15, 22, 28, 31],
    "fast_kernel_sizes_swapped": [27, 69561],
    "naive_bias_inside_sum": [16731],
    "naive_pair_swapped": [5, 13, 15],
    "naive_w_out_from_h": [1, 4],
    "naive_off_by_one": [460215],
    "naive_out_square": [10],
}

CALL = re.compile(r"checks\.(check_\w+)\((\w+)")


def check_of(wrong) -> tuple:
    """The check its test cell calls, and the name of the student's object it is given."""
    code = graded_cell_code(wrong.assignment)[wrong.test]
    name, argument = CALL.search(code).groups()
    return getattr(checks, name), argument


def loop_cost(seed: int) -> int:
    """How long a convolution written with loops takes on a seed's cases: its inner sums."""
    total = 0
    for s in conv.random_settings(seed):
        (k_h, k_w), (s_h, s_w), (p_h, p_w) = (conv.pair(v) for v in (s.kernel, s.stride, s.padding))
        h_out, w_out = (s.h + 2 * p_h - k_h) // s_h + 1, (s.w + 2 * p_w - k_w) // s_w + 1
        total += s.c_out * s.c_in * max(h_out, 1) * max(w_out, 1)
    return total


def seeds_of(wrong) -> list[int]:
    """Seeds of the entry's own (drawn from its name): 16 for quick checks; for the
    convolutions, the 8 of 60 whose cases a loop gets through fastest (small settings,
    where the coincidences that mislead a diagnosis are likeliest anyway)."""
    start = zlib.crc32(wrong.name.encode()) % 10_000
    candidates = [start + 7919 * k for k in range(60)]
    if wrong.name in GUARDED:
        chosen = candidates[:1]
    elif wrong.cell in ("conv2d_naive", "conv2d_fast", "Conv2d"):
        chosen = sorted(candidates, key=loop_cost)[:8]
    else:
        chosen = candidates[:16]
    return chosen + REGRESSIONS.get(wrong.name, [])


@contextlib.contextmanager
def unwatched(*args, **kwargs):
    yield _guard.Watch()


@pytest.fixture(autouse=True, scope="module")
def small_tensors_fast():
    """One thread, no oneDNN: the replays are hundreds of tiny convolutions, each of a new
    shape, which oneDNN and a thread pool make a hundred times slower (on a loaded machine
    most of all). The answers are the same within the checks' tolerances."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with torch.backends.mkldnn.flags(enabled=False):
        yield
    torch.set_num_threads(threads)


CELLS = ("conv2d_naive", "conv2d_fast", "Conv2d", "corr2d_padded")
SWEPT = [w for w in WRONG if w.cell in CELLS and w.test in graded_cell_code(w.assignment)]


@pytest.mark.parametrize("wrong", SWEPT, ids=lambda w: w.name)
def test_each_seed_names_the_mistake_or_a_true_cause(wrong, monkeypatch):
    if wrong.name not in GUARDED:
        monkeypatch.setattr(_student, "watching", unwatched)
    check, argument = check_of(wrong)
    student = namespace_with(wrong.assignment, wrong.cell, wrong.code)[argument]
    allowed = [wrong.message, *ALSO_TRUE.get(wrong.name, [])]
    wrong_lines = {}
    for seed in seeds_of(wrong):
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                score = check(student, seed=seed)
        except CheckFailed as failure:
            line = str(failure).splitlines()[0]
        else:
            assert isinstance(score, Score)
            line = score.message.splitlines()[0] if not score.complete else "passed"
        if line == "passed":
            if wrong.name not in MAY_PASS:
                wrong_lines[seed] = line
        elif not any(text in line for text in allowed) and not GENERIC.match(line):
            wrong_lines[seed] = line
    assert not wrong_lines


def test_the_lists_name_catalogue_entries_and_real_messages():
    names = {w.name for w in WRONG}
    assert set(ALSO_TRUE) | MAY_PASS | GUARDED | set(REGRESSIONS) <= names
