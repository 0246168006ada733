"""Mistakes nobody listed, for the checks of activations, dense layers, gradients, SGD,
networks and layer sizes: every single small change of the reference solutions
(tests/mutants.py's ``SCALAR`` profile), run through the check a test cell calls, hidden
cases included.

A mutant that gives the reference's answers on probes drawn apart from the checks' cases
(other shapes, values and settings) is equivalent and left out; every other one must lose
points (*caught*), and most must be told something specific (*located*), not the generic
message. The test runs a fixed sample; ``python tests/test_mutants_nn.py`` runs them all and
prints the figures, ``--review N`` prints N located messages drawn at random with their
mutants, for a reviewer to read (a located message cannot be checked against a known
answer)."""

import contextlib
import io
import math
import random
import re
import sys

import pytest
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, __import__("os").path.dirname(__file__))

from catalogue import CORRECT  # noqa: E402
from mutants import SCALAR, mutants  # noqa: E402
from notebooks import reference_code  # noqa: E402

from autograder import checks  # noqa: E402
from autograder.checks import CheckFailed  # noqa: E402

pytestmark = pytest.mark.slow

GENERIC = re.compile(
    r"^\S+: (raised \w+ on case \d+ of \d+:|"
    r"(the output|dL/dw|dL/db|the new w|the new b) has the (right shape but wrong values|"
    r"wrong shape)|returned .*; expected .*\.$|"
    r"(the output|dL/dw|dL/db|the new w|the new b) should be a torch\.Tensor|"
    r"should return a |returned nan or inf where the answer is finite \(an overflow\?\)\.)"
)
SAMPLE = 150
SEEDS = (101, 202)


def pair(value):
    return (int(value), int(value)) if isinstance(value, int) else tuple(int(v) for v in value)


def _sources() -> dict[str, list[str]]:
    nn_review, conv_layers = reference_code("nn-review"), reference_code("conv-layers")
    styles = {c.name: c.code for c in CORRECT}
    return {
        "sigmoid": [nn_review["sigmoid"], styles["sigmoid_masks"]],
        "tanh": [nn_review["tanh"], styles["tanh_where_both_sides"]],
        "relu": [nn_review["relu"], styles["relu_abs_average"]],
        "dense_forward": [nn_review["dense_forward"], styles["dense_broadcast_sum"]],
        "neuron_gradients": [nn_review["neuron_gradients"], styles["gradients_loop_python_float"]],
        "sgd_step": [nn_review["sgd_step"]],
        "same_padding": [conv_layers["same_padding"]],
        "mlp_forward": [styles["mlp_loop"]],
        "mlp_param_count": [styles["mlp_count_loop"]],
        "conv_output_shape": [styles["shape_reference"]],
        "conv_layer_cost": [styles["cost_reference"]],
    }


def function(name: str, code: str):
    found = {"torch": torch, "math": math, "nn": nn, "F": F, "pair": pair}
    exec(code, found)
    return found[name]


def _probe_inputs(name: str) -> list[tuple]:
    """Inputs drawn apart from the checks' cases, for telling an equivalent mutant."""
    g = torch.Generator().manual_seed(987)
    if name in ("sigmoid", "tanh", "relu"):
        return [
            (7 * torch.randn(6, 5, generator=g),),
            (torch.tensor([-900.0, -60.0, -0.3, 0.0, 0.2, 45.0, 700.0]),),
            (3 * torch.randn(4, 3, generator=g, dtype=torch.float64),),
            (torch.tensor(-1.3),),
        ]
    if name == "dense_forward":
        return [
            (
                torch.randn(n, i, generator=g),
                torch.randn(o, i, generator=g),
                torch.randn(o, generator=g),
                act,
            )
            for n, i, o, act in [
                (3, 5, 2, torch.tanh),
                (1, 2, 4, F.softplus),
                (6, 6, 6, torch.sigmoid),
            ]
        ]
    if name == "mlp_forward":
        found = []
        for n, sizes in [(3, (4, 5, 2)), (2, (3, 3)), (1, (2, 6, 4, 3))]:
            layers = [
                (torch.randn(o, i, generator=g), torch.randn(o, generator=g))
                for i, o in zip(sizes, sizes[1:], strict=False)
            ]
            found.append((torch.randn(n, sizes[0], generator=g), layers, torch.tanh))
        return found
    if name == "neuron_gradients":
        return [
            (
                torch.randn(n, d, generator=g),
                torch.randn(d, generator=g),
                torch.randn((), generator=g),
                torch.rand(n, generator=g),
            )
            for n, d in [(7, 3), (1, 4), (12, 1)]
        ]
    if name == "sgd_step":
        return [
            (
                torch.randn(4, generator=g),
                torch.randn((), generator=g),
                torch.randn(4, generator=g),
                torch.randn((), generator=g),
                lr,
            )
            for lr in (0.2, 1.5)
        ]
    if name == "same_padding":
        return [(k,) for k in (1, 2, 9, 13, 6)]
    if name == "mlp_param_count":
        return [((5, 7, 3), True), ((5, 7, 3), False), ((2, 9), True), ((4, 4, 4, 4), True)]
    if name == "conv_output_shape":
        return [
            ((3, 2, 10, 7), (5, 2, 3, 2), 2, 1),
            ((1, 4, 6, 9), (2, 4, 4, 5), (1, 3), (2, 0)),
            ((1, 2, 3, 3), (1, 3, 3, 3), 1, 0),
            ((1, 1, 2, 8), (1, 1, 5, 3), 1, 1),
            ((2, 1, 8, 8), (1, 1, 3, 3), (1, 0), 0),
        ]
    if name == "conv_layer_cost":
        return [
            ((3, 2, 10, 7), (5, 2, 3, 2), 2, 1, True),
            ((1, 4, 6, 9), (2, 4, 4, 5), (1, 3), (2, 0), False),
        ]
    raise KeyError(name)


def _answers(fn, name: str) -> list:
    found = []
    for args in _probe_inputs(name):
        copies = tuple(a.clone() if isinstance(a, torch.Tensor) else a for a in args)
        if name in ("mlp_param_count",):
            call = lambda f, a=copies: f(list(a[0]), bias=a[1])  # noqa: E731
        elif name == "conv_output_shape":
            call = lambda f, a=copies: f(a[0], a[1], stride=a[2], padding=a[3])  # noqa: E731
        elif name == "conv_layer_cost":
            call = lambda f, a=copies: f(a[0], a[1], stride=a[2], padding=a[3], bias=a[4])  # noqa: E731
        else:
            call = lambda f, a=copies: f(*a)  # noqa: E731
        try:
            with warnings_off():
                found.append(call(fn))
        except Exception as error:  # noqa: BLE001 - what a mutant raises is its answer
            found.append(("raised", type(error).__name__))
    return found


@contextlib.contextmanager
def warnings_off():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _alike(a, b) -> bool:
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return (
            a.shape == b.shape
            and a.dtype == b.dtype
            and torch.allclose(a, b, rtol=1e-5, atol=1e-6, equal_nan=True)
        )
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        return len(a) == len(b) and all(_alike(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, torch.Tensor | float | int) and isinstance(b, torch.Tensor | float | int):
        if (
            isinstance(a, torch.Tensor)
            and a.numel() != 1
            or isinstance(b, torch.Tensor)
            and b.numel() != 1
        ):
            return False
        if isinstance(a, bool) or isinstance(b, bool):
            return False
        return math.isclose(float(a), float(b), rel_tol=1e-5, abs_tol=1e-6) and (
            isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor) or type(a) is type(b)
        )  # a scalar as a 0-d tensor or a Python number: the contract allows both
    return type(a) is type(b) and a == b


def equivalent(name: str, reference, mutant) -> bool:
    return all(
        _alike(a, b) for a, b in zip(_answers(reference, name), _answers(mutant, name), strict=True)
    )


def outcome(name: str, code: str) -> tuple[float, float, str]:
    """The mutant's lowest points over the seeds, the check's maximum, and the first line of
    the message there."""
    worst = None
    for seed in SEEDS:
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                score = getattr(checks, f"check_{name}")(function(name, code), seed=seed)
            result = (float(score), score.max_points, (score.message or "").split("\n")[0])
        except CheckFailed as failure:
            result = (0.0, None, str(failure).splitlines()[0])
        if worst is None or result[0] < worst[0]:
            worst = result
    return worst


def all_mutants() -> list[tuple[str, str, str]]:
    """``(name, reference source, mutant source)`` for every mutant of every reference."""
    found, seen = [], set()
    for name, sources in _sources().items():
        for source in sources:
            for mutant in mutants(source, profile=SCALAR):
                if (name, mutant) not in seen:
                    seen.add((name, mutant))
                    found.append((name, source, mutant))
    return found


def classify(entries) -> dict[str, list]:
    """Each mutant as equivalent, not caught, generic or located (with its message)."""
    kinds: dict[str, list] = {"equivalent": [], "not caught": [], "generic": [], "located": []}
    for name, source, mutant in entries:
        try:
            candidate = function(name, mutant)
        except Exception:  # noqa: BLE001 - a mutant that cannot even be defined
            continue
        if equivalent(name, function(name, source), candidate):
            kinds["equivalent"].append((name, mutant, ""))
            continue
        points, most, line = outcome(name, mutant)
        if most is not None and points == most:
            kinds["not caught"].append((name, mutant, line))
        elif GENERIC.match(line):
            kinds["generic"].append((name, mutant, line))
        else:
            kinds["located"].append((name, mutant, line))
    return kinds


def test_a_sample_of_mutants_is_caught_and_mostly_located():
    entries = all_mutants()
    sample = random.Random(20261206).sample(entries, min(SAMPLE, len(entries)))
    kinds = classify(sample)
    judged = len(sample) - len(kinds["equivalent"])
    caught = judged - len(kinds["not caught"])
    located = len(kinds["located"])
    running = not_raising_everywhere(kinds)
    print(
        f"\n{len(sample)} mutants: {judged} not equivalent, {caught} caught, {located} located; "
        f"of the {len(running)} that do not raise on every input, "
        f"{running.count('located')} located"
    )
    assert not kinds["not caught"], kinds["not caught"]
    # over all 971 caught mutants: 66 % located; 83 % of those that run on some input
    assert running.count("located") >= 0.75 * len(running)


def raises_everywhere(name: str, code: str) -> bool:
    """Whether the mutant raises an error on every probe input (nothing to locate there but
    the error itself)."""
    answers = _answers(function(name, code), name)
    return all(isinstance(a, tuple) and a[:1] == ("raised",) for a in answers)


def not_raising_everywhere(kinds: dict[str, list]) -> list[str]:
    """The kind ("generic" or "located") of each caught mutant that does not raise on every
    probe input."""
    return [
        kind
        for kind in ("generic", "located")
        for name, mutant, _ in kinds[kind]
        if not raises_everywhere(name, mutant)
    ]


def main(arguments: list[str]) -> None:
    kinds = classify(all_mutants())
    judged = sum(len(v) for k, v in kinds.items() if k != "equivalent")
    caught = judged - len(kinds["not caught"])
    print(
        f"mutants {judged + len(kinds['equivalent'])}: equivalent {len(kinds['equivalent'])}, "
        f"not caught {len(kinds['not caught'])}, caught {caught} ({caught / judged:.0%}), "
        f"located {len(kinds['located'])} ({len(kinds['located']) / max(caught, 1):.0%} of caught), "
        f"generic {len(kinds['generic'])}"
    )
    running = not_raising_everywhere(kinds)
    print(
        f"of the {len(running)} caught that do not raise on every input: "
        f"{running.count('located')} located ({running.count('located') / max(len(running), 1):.0%})"
    )
    by_name: dict[str, list[int]] = {}
    for kind, items in kinds.items():
        for name, _, _ in items:
            counts = by_name.setdefault(name, [0, 0, 0, 0])
            counts[list(kinds).index(kind)] += 1
    for name, (eq, missed, generic, located) in sorted(by_name.items()):
        print(
            f"  {name:18s} equivalent {eq:3d} not caught {missed:3d} generic {generic:3d} located {located:3d}"
        )
    for name, mutant, _ in kinds["not caught"]:
        print(f"NOT CAUGHT {name}:\n{mutant}\n")
    if "--review" in arguments:
        at = arguments.index("--review")
        count = int(arguments[at + 1])
        draw = int(arguments[at + 2]) if len(arguments) > at + 2 else 7
        for name, mutant, line in random.Random(draw).sample(kinds["located"], count):
            print(f"--- {name}\n{mutant}\n>>> {line}\n")


if __name__ == "__main__":
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (8 << 30, 8 << 30))  # a mutant may build a huge tuple
    main(sys.argv[1:])
