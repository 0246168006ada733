"""Every hidden check draws its cases from its seed alone (never from the global random
state a student's code can set), and, at grading time, from the course secret too: the
cases are reproducible for one secret and unknowable without it."""

import functools
import re

import pytest
import torch
from notebooks import graded_cell_code, reference_code
from test_catalogue_checks import namespace_with

from autograder import checks
from autograder.checks._seeds import case_seed, secret_cases

# A test cell sets its hidden tests' seed, then calls its check with it (issue 23's form).
HIDDEN_SEED = re.compile(r"^hidden_seed = (\d+)$", re.MULTILINE)
HIDDEN_CALL = re.compile(r"checks\.(check_\w+)\((\w+), seed=hidden_seed\)")
HIDDEN = [
    (assignment, check, name, int(seed))
    for assignment in ("nn-review", "conv-layers")
    for code in graded_cell_code(assignment).values()
    for seed in HIDDEN_SEED.findall(code)
    for check, name in HIDDEN_CALL.findall(code)
]


def _summary(value):
    if isinstance(value, torch.Tensor):
        return (tuple(value.shape), str(value.dtype), round(float(value.double().sum()), 6))
    if isinstance(value, tuple | list):
        return tuple(_summary(v) for v in value)
    return repr(value)


def recording(target, log: list):
    """``target`` (a function or a class) that notes what each call receives."""
    if isinstance(target, type):
        return type(target.__name__, (target,), {"__init__": _noting_init(target, log)})

    @functools.wraps(target)
    def noted(*args, **kwargs):
        log.append(_summary((args, sorted(kwargs.items()))))
        return target(*args, **kwargs)

    return noted


def _noting_init(target, log):
    def __init__(self, *args, **kwargs):
        log.append(_summary((args, sorted(kwargs.items()))))
        target.__init__(self, *args, **kwargs)

    return __init__


def cases_seen(assignment: str, check: str, name: str, seed: int) -> list:
    namespace = namespace_with(assignment, name, reference_code(assignment)[name])
    log: list = []
    torch.manual_seed(int(torch.randint(0, 2**31, (1,))))  # the global state must not matter
    getattr(checks, check)(recording(namespace[name], log), seed=seed)
    return log


def test_every_hidden_test_is_found():
    assert len(HIDDEN) == 15


@pytest.mark.parametrize("hidden", HIDDEN, ids=lambda h: h[1])
def test_hidden_cases_depend_on_the_seed_and_the_course_secret_only(hidden):
    assignment, check, name, seed = hidden
    first = cases_seen(assignment, check, name, seed)
    assert first and cases_seen(assignment, check, name, seed) == first
    with secret_cases(b"course A", "s1", "cell"):
        keyed = cases_seen(assignment, check, name, seed)
        assert cases_seen(assignment, check, name, seed) == keyed  # the instructor's replay
    with secret_cases(b"course B", "s1", "cell"):
        other = cases_seen(assignment, check, name, seed)
    assert keyed != first and other != keyed


def test_keyed_seeds_differ_by_secret_student_and_cell():
    plain = case_seed(101, 0)
    seen = {plain}
    for secret, student, cell in [(b"a", "s1", "c"), (b"b", "s1", "c"), (b"a", "s2", "c")]:
        with secret_cases(secret, student, cell):
            seen.add(case_seed(101, 0))
            assert case_seed(None, 7) == 7  # visible tests stay as the student saw them
    assert plain == 101 and len(seen) == 4
