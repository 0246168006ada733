"""Mistakes nobody listed, for the convolution checks: every single small change of the
reference solutions (an operator swapped, a term dropped, a constant or loop bound changed,
two names or two indices swapped, a statement left out, a call left out: tests/mutants.py's
``CONV`` profile), run through the check a notebook's test cell calls, hidden cases included.

A mutant is one function's source, run through its check in this process. A mutant that
gives the reference's answers on a set of probes drawn apart from the checks' cases behaves
like the reference there and is left out (an equivalent mutant); the rest must all lose points
(*caught*), and most must be told something specific (*located*), not the generic message.
The test samples the mutants (a fixed draw) so that it runs in a couple of minutes, and
prints the figures: share caught, share located, the generic remainder.

Located messages cannot be checked against a known answer here: a reviewer reads a random
sample of them with their mutants (``python tests/test_mutants_conv.py --review N``)."""

import ast
import contextlib
import difflib
import functools
import io
import random
import re
import sys
from dataclasses import dataclass

import pytest
import torch

sys.path.insert(0, __import__("os").path.dirname(__file__))

from catalogue import FAST, NAIVE  # noqa: E402
from mutants import CONV, mutants  # noqa: E402
from notebooks import namespace_with, reference_code  # noqa: E402

from autograder.checks import CheckFailed, _guard, _student, conv  # noqa: E402

pytestmark = pytest.mark.slow

# A message that names no cause: what is wrong, and where (true whatever the mistake).
GENERIC = re.compile(
    r"^\S+: (raised \w+ (in forward )?on case \d+ of \d+:|the (forward )?output has the right "
    r"shape but wrong values|the (forward )?output has the wrong shape|"
    r"the (forward )?output should be a torch.Tensor)"
)
SAMPLE = 120  # mutants run by the test (a fixed draw over all references)


def references() -> list[tuple[str, str, str]]:
    """``(name, solution cell, source)``: the notebook's reference solutions and the
    catalogue's other styles, for the functions the convolution checks check."""
    solutions = reference_code("conv-layers")
    found = [
        ("naive, the notebook's", "conv2d_naive", solutions["conv2d_naive"]),
        ("naive, loops over channels", "conv2d_naive", NAIVE),
        ("fast, the notebook's", "conv2d_fast", solutions["conv2d_fast"]),
        ("fast, unfold", "conv2d_fast", FAST),
        ("corr2d_padded, loops", "corr2d_padded", solutions["corr2d_padded"]),
    ]
    return found


CHECKS = {
    "conv2d_naive": conv.check_conv2d_naive,
    "conv2d_fast": conv.check_conv2d_fast,
    "corr2d_padded": conv.check_corr2d_padded,
}


def probes(cell: str) -> list[tuple]:
    """Inputs drawn apart from the checks' cases (other seeds), with every layout."""
    g = torch.Generator().manual_seed(99)
    found = []
    if cell == "corr2d_padded":
        for h, w, k_h, k_w, padding in [(5, 6, 3, 2, 1), (4, 4, 2, 3, (1, 2)), (2, 3, 4, 3, 1)]:
            for dtype in (torch.float32, torch.float64):
                image = torch.randn(h, w, generator=g, dtype=dtype)
                kernel = torch.randn(k_h, k_w, generator=g, dtype=dtype)
                found.append(((image, kernel, padding), {}))
        return found
    settings = conv.random_settings(1234, count=8) + conv.random_settings(4321, count=8)
    for setting in settings + [s for _, s in conv.VISIBLE]:
        x, weight, bias = setting.tensors(g, torch.device("cpu"))
        layout = {"channels_last": torch.channels_last}.get(setting.layout)
        if layout is not None:
            x = x.contiguous(memory_format=layout)
        elif setting.layout == "transposed":
            x = x.transpose(-1, -2).contiguous().transpose(-1, -2)
        found.append(((x, weight, bias), setting.conv_kwargs()))
    return found


def behaves_like(mutant, reference, inputs) -> bool:
    """Whether ``mutant`` gives ``reference``'s answers (dtype and all) on every input."""
    for args, kwargs in inputs:
        expected = reference(*args, **kwargs)
        try:
            with _quiet():
                got = mutant(*args, **kwargs)
        except Exception:  # noqa: BLE001 (a mutant's crash is its behaviour)
            return False
        if not (
            isinstance(got, torch.Tensor)
            and got.shape == expected.shape
            and got.dtype == expected.dtype
            and torch.allclose(got, expected, rtol=1e-4, atol=1e-4)
        ):
            return False
    return True


@contextlib.contextmanager
def _quiet():
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


@contextlib.contextmanager
def unwatched(*args, **kwargs):
    yield _guard.Watch()


@dataclass
class Outcome:
    reference: str
    cell: str
    mutant: str
    change: str  # the changed lines, - and +
    equivalent: bool
    points: float = 0.0
    max_points: float = 0.0
    message: str = ""  # the whole text of the failure

    @property
    def caught(self) -> bool:
        return self.points < self.max_points

    @property
    def first_line(self) -> str:
        return self.message.splitlines()[0] if self.message else ""

    @property
    def located(self) -> bool:
        return self.caught and not GENERIC.match(self.first_line)

    crashed_everywhere: bool = False  # raised on every case: nothing to tell apart


def change_of(original: str, mutant: str) -> str:
    a = ast.unparse(ast.parse(original)).splitlines()
    b = mutant.splitlines()
    return "\n".join(
        line
        for line in difflib.unified_diff(a, b, lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    )


def run_mutant(name: str, cell: str, source: str, mutant: str, seed: int = 205) -> Outcome:
    fn_reference = _defined(source, cell)
    outcome = Outcome(name, cell, mutant, change_of(source, mutant), equivalent=False)
    try:
        fn = _defined(mutant, cell)
    except Exception:  # noqa: BLE001 (a mutant that cannot even be defined)
        return outcome
    outcome.equivalent = behaves_like(fn, fn_reference, probes(cell))
    if outcome.equivalent:
        return outcome
    check = CHECKS[cell]
    out = io.StringIO()
    outcome.crashed_everywhere = crashes_everywhere(fn, cell)
    try:
        with contextlib.redirect_stdout(out):
            score = check(fn, seed=seed)
        outcome.points, outcome.max_points = float(score), score.max_points
        outcome.message = score.message
    except CheckFailed as failure:
        outcome.points, outcome.max_points, outcome.message = 0.0, 1.0, str(failure)
    return outcome


@functools.cache
def _base() -> dict:
    with _quiet():
        return namespace_with("conv-layers", "", "")


def crashes_everywhere(fn, cell: str) -> bool:
    """Whether ``fn`` raises on every one of the check's visible cases (a Python error on
    every input, however simple: no experiment can tell one ingredient from another)."""
    cases = conv.conv_cases(None) if cell != "corr2d_padded" else _corr_cases()
    for case in cases:
        try:
            with _quiet():
                fn(*case.args, **case.kwargs)
        except Exception:  # noqa: BLE001 (the mutant's crash is what is measured)
            continue
        return False
    return True


def _corr_cases() -> list:
    g = torch.Generator().manual_seed(19)
    return [conv._corr_case(spec, g, torch.device("cpu")) for spec in conv.CORR_VISIBLE]


def _defined(source: str, cell: str):
    namespace = dict(_base())
    exec(source, namespace)  # noqa: S102 (a mutant of our own reference)
    return namespace[cell]


def population() -> list[tuple[str, str, str, str]]:
    """Every mutant of every reference: ``(reference name, cell, source, mutant)``."""
    return [
        (name, cell, source, mutant)
        for name, cell, source in references()
        for mutant in mutants(source, cell, CONV)
    ]


def sample(size: int) -> list[tuple[str, str, str, str]]:
    everything = population()
    return random.Random(22).sample(everything, min(size, len(everything)))


@pytest.fixture(autouse=True)
def fast_and_unwatched(monkeypatch):
    """No guard (it makes loops many times slower and names no mistake), one thread."""
    monkeypatch.setattr(_student, "watching", unwatched)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def report(outcomes: list[Outcome]) -> dict:
    """The figures: mutants, those left out as equivalent, caught, located (of all caught,
    and of those that do not raise on every case), the generic remainder."""
    judged = [o for o in outcomes if not o.equivalent]
    caught = [o for o in judged if o.caught]
    located = [o for o in caught if o.located]
    some = [o for o in caught if not o.crashed_everywhere]
    return {
        "mutants": len(outcomes),
        "equivalent (left out)": len(outcomes) - len(judged),
        "judged": len(judged),
        "caught": len(caught),
        "located": len(located),
        "generic": len(caught) - len(located),
        "raise on every case": len(caught) - len(some),
        "share caught": round(len(caught) / max(1, len(judged)), 3),
        "share located": round(len(located) / max(1, len(caught)), 3),
        "share located, not raising on every case": round(
            sum(o.located for o in some) / max(1, len(some)), 3
        ),
    }


def test_mutants_of_the_references_are_caught_and_mostly_located(capsys):
    outcomes = [run_mutant(*item) for item in sample(SAMPLE)]
    figures = report(outcomes)
    with capsys.disabled():
        print("\nconv mutants:", figures)
        for o in outcomes:
            if not o.equivalent and not o.caught:
                print("NOT CAUGHT", o.reference, "\n" + o.change)
    missed = [o.change for o in outcomes if not o.equivalent and not o.caught]
    assert not missed
    assert figures["share located, not raising on every case"] >= 0.8


def main(argv: list[str]) -> None:
    """``--review N``: N random located messages with their mutants, for a reader to judge;
    ``--all``: the figures over every mutant."""
    _student.watching = unwatched
    torch.set_num_threads(1)
    if argv[:1] == ["--all"]:
        outcomes = [run_mutant(*item) for item in population()]
        print(report(outcomes))
        for o in outcomes:
            if not o.equivalent and not o.caught:
                print("NOT CAUGHT", o.reference, "\n" + o.change, "\n")
        return
    size = int(argv[1]) if argv[:1] == ["--review"] else 20
    seed = int(argv[2]) if len(argv) > 2 else 7
    everything = population()
    random.Random(seed).shuffle(everything)
    shown = 0
    for item in everything:
        outcome = run_mutant(*item)
        if not outcome.located:
            continue
        print(f"=== {outcome.reference} ({outcome.points:g} of {outcome.max_points:g})")
        print(outcome.change)
        print(outcome.message.split("\n  ✓")[0].split("\n  ✗")[0])
        print()
        shown += 1
        if shown == size:
            break


if __name__ == "__main__":
    main(sys.argv[1:])
