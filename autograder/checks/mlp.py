"""Checks for a whole fully connected network: ``mlp_forward`` (the forward pass) and
``mlp_param_count`` (its learnable parameters).

``mlp_forward(x, layers, activation)``: ``x`` is ``(N, D_0)``; ``layers`` a list of
``(W, b)``, ``W`` of shape ``(D_l, D_{l-1})`` and ``b`` of shape ``(D_l,)``; the activation
follows every layer but the last; the answer is ``(N, D_L)``. ``mlp_param_count(sizes,
bias=True)``: ``sizes = [D_0, ..., D_L]``; all L layers' weights (and biases).

A wrong answer is explained first by a known misconception whose replay reproduces it (the
activation after the last layer too, or nowhere; the last layer not counted; ...), then by
experiments: the ingredient (several layers, N = 1, float64, a transposed view) whose
cases fail and whose removal makes the call right; how many of the first layers the
function gets right; which tensors met in a product of mismatched shapes; for a count,
which layer's weights or biases the answer lacks or has too many of.
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..device import get_device
from ._cases import Case, Finding, Lab, Mistake, Part, Variant, close, score_cases
from ._experiments import Ingredient, ingredients, regions, reshaped, scaled
from ._score import Score
from ._seeds import generator
from .activations import judge_open, probe_transposed
from .dense import ACTIVATIONS, COUNT_BIAS_FALSE, FLOAT64, judge_int, mismatched_product
from .sizes import Counted, confirmed_replays

MLP_ACT_LAST = (
    "the activation is applied after the last layer too: it follows every layer but the "
    "last, whose output (N, D_L) is returned as it is."
)
MLP_NO_ACT = "the activation is missing: apply it to the output of every layer but the last."
MLP_ACT_BEFORE = (
    "the activation is applied to each layer's input (x included) instead of its output: "
    "h = activation(h @ W.T + b) for every layer but the last."
)
MLP_ACT_ONCE = "the activation follows only the first layer: it follows every layer but the last."
MLP_BIAS_MISSING = "the biases are missing: each layer computes h @ W.T + b."
MLP_STOPS_EARLY = (
    "the last layer is not applied: the network has L = len(layers) layers, and the answer is "
    "the last one's output (N, D_L)."
)
MLP_FIRST_ONLY = (
    "only the first layer is applied: each layer takes the previous layer's output, "
    "for W, b in layers: ..."
)
MLP_OWN_ACTIVATION = (
    "use the activation you are given (the argument `activation`), not a fixed one such as "
    "torch.tanh or torch.relu."
)
MLP_RETURNS_LIST = "returns every layer's output; return only the last one, a tensor (N, D_L)."
MLP_UNPACK = (
    "layers is a list with one (W, b) pair per layer: go through it with "
    "`for W, b in layers:` rather than unpacking the whole list (or one weight matrix) into "
    "two names."
)
MLP_PRODUCT = (
    "Layer l takes the previous layer's output h (N, D_{l-1}) and computes h @ W.T + b, "
    "of shape (N, D_l)."
)
MLP_INGREDIENTS = [
    Ingredient(
        "several layers",
        "the network has two or more layers",
        "it has one layer",
        "between layers, apply the activation to each layer's output (except the last one's) "
        "and give it to the next layer.",
    ),
    Ingredient(
        "N=1",
        "the batch holds one example (N = 1)",
        "N > 1",
        "keep the batch axis of size 1: x is (1, D_0) and the answer (1, D_L) (no squeeze()).",
    ),
    FLOAT64,
    Ingredient(
        "transposed",
        "x and the weights are transposed views (not contiguous in memory)",
        "they are contiguous",
        "x.view(...) needs contiguous memory; use reshape, or matrix products, which work on "
        "any layout.",
    ),
]
ONE_LAYER, SEVERAL, MORE, HIDDEN = (
    "one layer",
    "two or three layers",
    "one example (N = 1), float64, non-contiguous inputs",
    "hidden random cases",
)


def forward(x, layers, act, *, after=None, bias=True, before=False):
    """The network's output, with switches for the usual slips: ``after`` the indices of
    the layers followed by the activation (default: all but the last), ``before`` the
    activation on each layer's input instead."""
    count = len(layers)
    after = set(range(count - 1)) if after is None else after
    h = x
    for index, (W, b) in enumerate(layers):
        if before:
            h = act(h)
        h = h @ W.T + (b if bias else 0)
        if not before and index in after:
            h = act(h)
    return h


def _mistakes(x, layers, act) -> list[Mistake]:
    count = len(layers)
    found = [
        Mistake(MLP_ACT_LAST, forward(x, layers, act, after=set(range(count)))),
        Mistake(MLP_BIAS_MISSING, forward(x, layers, act, bias=False)),
        Mistake(MLP_ACT_BEFORE, forward(x, layers, act, before=True)),
    ]
    found += [
        Mistake(MLP_OWN_ACTIVATION, forward(x, layers, g), key=f"fixed {g.__name__}")
        for g in ACTIVATIONS
    ]
    if count >= 2:
        found += [
            Mistake(MLP_NO_ACT, forward(x, layers, act, after=set())),
            Mistake(MLP_STOPS_EARLY, forward(x, layers[:-1], act, after=set(range(count - 1)))),
            Mistake(MLP_STOPS_EARLY, forward(x, layers[:-1], act), key="stops early, no act"),
            Mistake(MLP_FIRST_ONLY, forward(x, layers[:1], act), key="first only"),
            Mistake(MLP_FIRST_ONLY, act(forward(x, layers[:1], act)), key="first only, act"),
        ]
    if count >= 3:
        found.append(Mistake(MLP_ACT_ONCE, forward(x, layers, act, after={0})))
    return found


def _seen(case: Case) -> tuple:
    """``(x, layers, activation)`` as the student's function sees them."""
    x, layers, act = case.args
    if case.probe is probe_transposed:
        return x.mT, [(W.mT, b) for W, b in layers], act
    return x, layers, act


def _names(case: Case) -> list[tuple[tuple[int, ...], str]]:
    x, layers, _ = _seen(case)
    n = x.shape[0]
    found = [(tuple(x.shape), "x")]
    for number, (W, b) in enumerate(layers, 1):
        found += [
            ((n, W.shape[0]), f"the output of layer {number}"),
            (tuple(W.shape), f"W of layer {number}"),
            (tuple(W.mT.shape), f"W of layer {number}, transposed"),
            (tuple(b.shape), f"b of layer {number}"),
        ]
    return found


def _sizes(case: Case) -> list[tuple[int, str]]:
    x, layers, _ = _seen(case)
    return [(x.shape[0], "N"), (x.shape[1], "D_0")] + [
        (W.shape[0], f"D_{number}") for number, (W, _) in enumerate(layers, 1)
    ]


def _case(part, n, sizes, act, g, device, dtype=torch.float32, transposed=False) -> Case:
    x = torch.randn(n, sizes[0], generator=g, dtype=dtype).to(device)
    layers = [
        (
            torch.randn(d_out, d_in, generator=g, dtype=dtype).to(device),
            torch.randn(d_out, generator=g, dtype=dtype).to(device),
        )
        for d_in, d_out in zip(sizes, sizes[1:], strict=False)
    ]
    expected = forward(x, layers, act)
    if transposed:
        args = (x.mT.contiguous(), [(W.mT.contiguous(), b) for W, b in layers], act)
    else:
        args = (x, [(W, b) for W, b in layers], act)
    features = {"always"}
    features |= {"several layers"} if len(layers) > 1 else set()
    features |= {"N=1"} if n == 1 else set()
    features |= {"float64"} if dtype == torch.float64 else set()
    features |= {"transposed"} if transposed else set()

    def variant(key: str, args: tuple, description: str) -> Variant:
        """Without ingredient ``key``: the network on ``args``, its answer the reference's."""
        return Variant(key, args, {}, forward(*args), description)

    def variants() -> list[Variant]:
        found = []
        if len(layers) > 1:
            found.append(variant("several layers", (x, layers[:1], act), "only the first layer"))
        if n == 1:
            x2 = torch.cat([x, x])
            found.append(variant("N=1", (x2, layers, act), "the example twice (N = 2)"))
        if dtype == torch.float64:
            x32, l32 = x.float(), [(W.float(), b.float()) for W, b in layers]
            found.append(variant("float64", (x32, l32, act), "float32 inputs"))
        if transposed:
            found.append(Variant("transposed", (x, layers, act), {}, expected, "contiguous inputs"))
        return found

    kind = "" if dtype == torch.float32 else ", float64"
    layout = ", transposed views" if transposed else ""
    name = ("torch.nn.functional." if act is F.softplus else "torch.") + act.__name__
    return Case(
        description=f"N={n}, sizes={list(sizes)}, activation={act.__name__}{kind}{layout}",
        args=args,
        expected=expected,
        mistakes=lambda: _mistakes(x, layers, act),
        setup=f"sizes = {list(sizes)}; x = torch.randn({n}, {sizes[0]}"
        + (", dtype=torch.float64" if dtype == torch.float64 else "")
        + "); layers = [(torch.randn(o, i), torch.randn(o)) for i, o in zip(sizes, sizes[1:])]",
        reference=f"your loop of (h @ W.T + b) with {name} after every layer but the last",
        features=frozenset(features),
        part=part,
        probe=probe_transposed if transposed else None,
        variants=variants,
    )


def _unpacking(error) -> str | None:
    if "values to unpack" in error.message:
        return MLP_UNPACK
    return None


def _depth(lab: Lab, index: int) -> Finding | None:
    """For a network of L ≥ 3 layers: the most first layers the function gets right."""
    ran = lab.runs[index]
    if "several layers" not in ran.case.features:
        return None
    x, layers, act = _seen(ran.case)
    count = len(layers)
    if count < 3:
        return None
    best = 0
    for k in range(1, count):
        first = [(W.contiguous(), b) for W, b in layers[:k]]
        trial = lab.trial(
            ("depth", index, k), ran.case, (x.contiguous(), first, act), {}, forward(x, first, act)
        )
        if trial is None:
            return None
        if trial.right:
            best = k
    if best < 2:
        return None
    return Finding(
        f"given only the first {best} of the {count} layers, the answer is right; with "
        f"{best + 1} it is not: look at what happens between layer {best} and layer "
        f"{best + 1} (the activation after every layer but the last, and each layer's input "
        "being the previous layer's output).",
        about="several layers",
        detail=f"Called with layers[:{best}]: right; with layers[:{best + 1}]: wrong.",
        strength=1,
    )


def _returned(lab: Lab, index: int) -> Finding | None:
    """A list (or tuple) of every layer's output instead of the last one."""
    ran = lab.runs[index]
    if not ran.answered or ran.verdict is None or isinstance(ran.value, torch.Tensor):
        return None
    if isinstance(ran.value, list | tuple) and ran.value:
        last = ran.value[-1]
        expected = ran.case.expected
        if isinstance(last, torch.Tensor) and last.shape == expected.shape:
            if close(last, expected):
                return Finding(MLP_RETURNS_LIST, about="type", strength=0)
    return None


def _cases(seed: int | None, device: torch.device) -> list[Case]:
    g = generator(None, 31)
    tanh, softplus, sigmoid, relu = torch.tanh, F.softplus, torch.sigmoid, torch.relu
    cases = [
        _case(ONE_LAYER, 3, (4, 2), tanh, g, device),
        _case(ONE_LAYER, 5, (3, 6), softplus, g, device),
        _case(SEVERAL, 4, (5, 3, 2), tanh, g, device),
        _case(SEVERAL, 3, (4, 6, 5, 2), softplus, g, device),
        _case(SEVERAL, 2, (3, 5, 4), sigmoid, g, device),
        _case(MORE, 1, (4, 3, 2), tanh, g, device),
        _case(MORE, 3, (2, 5, 4), sigmoid, g, device, torch.float64),
        _case(MORE, 4, (3, 2, 5), relu, g, device, transposed=True),
    ]
    if seed is not None:
        h = generator(seed, 109)
        for number in range(4):
            count = int(torch.randint(1, 5, (1,), generator=h))
            sizes = tuple(int(v) for v in torch.randint(1, 8, (count + 1,), generator=h))
            n = int(torch.randint(1, 7, (1,), generator=h))
            act = ACTIVATIONS[number % 3]
            dtype = torch.float64 if number % 2 else torch.float32
            cases.append(_case(HIDDEN, n, sizes, act, h, device, dtype, transposed=number >= 2))
    return cases


def check_mlp_forward(mlp_forward: Callable, seed: int | None = None) -> Score:
    """Check ``mlp_forward(x, layers, activation)`` against the reference forward pass.

    ``x: (N, D_0)``; ``layers``: a list of ``(W, b)`` with ``W: (D_l, D_{l-1})``, ``b:
    (D_l,)``; the activation after every layer but the last; the answer is ``(N, D_L)`` in
    the inputs' dtype. 2 points: one layer; two or three layers; one example, float64 and
    non-contiguous inputs; with a ``seed``, hidden random cases.
    """
    return score_cases(
        "mlp_forward",
        mlp_forward,
        _cases(seed, get_device()),
        parts=[
            Part(ONE_LAYER, 0.5),
            Part(SEVERAL, 0.75),
            Part(MORE, 0.25),
            Part(HIDDEN, 0.5, hidden=True),
        ],
        names=("x", "layers", "activation"),
        judge=judge_open,
        explain=_unpacking,
        experiments=[
            mismatched_product(_names, MLP_PRODUCT, _sizes),
            _returned,
            reshaped,
            regions(axes=[(0, "example n"), (1, "output unit o")]),
            scaled(),
            _depth,
            ingredients(MLP_INGREDIENTS),
        ],
    )


# -------------------------------------------------------------------------- mlp_param_count

MLP_COUNT_NO_BIAS = "the biases are not counted: each layer has D_l of them, one per unit."
MLP_COUNT_BIAS_PER_INPUT = (
    "each layer has one bias per output unit: D_l biases for the layer from D_{l-1} to D_l, "
    "not D_{l-1}."
)
MLP_COUNT_INPUT_BIAS = (
    "the input has no biases: only the L layers that compute something have them "
    "(D_1 + ... + D_L biases, not D_0 + ... + D_L)."
)
MLP_COUNT_LAST_MISSING = (
    "the last layer is not counted: sizes [D_0, ..., D_L] make L = len(sizes) − 1 layers, "
    "one for each pair of neighbouring sizes."
)
MLP_COUNT_FIRST_MISSING = (
    "the first layer (from D_0 to D_1) is not counted: every pair of neighbouring sizes is a layer."
)
MLP_COUNT_ENDS_ONLY = (
    "this counts one layer from D_0 straight to D_L: every pair of neighbouring sizes "
    "(D_{l-1}, D_l) is a layer of its own, with D_{l-1} × D_l weights."
)
MLP_COUNT_ADDED = "every input of a layer connects to every unit: D_{l-1} × D_l weights per layer."
MLP_COUNT_LAST_BIAS = "the last layer has biases too: D_L of them."
MLP_COUNT_INGREDIENTS = [
    Ingredient(
        "several layers",
        "there are two or more layers",
        "there is one layer",
        "add up every layer's count, one layer for each pair of neighbouring sizes.",
    ),
    Ingredient(
        "no bias",
        "bias=False",
        "bias=True",
        "with bias=False the layers have weights only.",
    ),
]
COUNT_ONE, COUNT_SEVERAL = "one layer", "several layers"


def _count(sizes, bias=True) -> int:
    return sum(a * b + (b if bias else 0) for a, b in zip(sizes, sizes[1:], strict=False))


def _count_mistakes(sizes: tuple[int, ...], bias: bool) -> list[Mistake]:
    """Each slip's count for ``sizes`` and ``bias`` (a slip about biases gives the right count
    with bias=False, so such a case neither confirms nor rules it out)."""
    right = _count(sizes, bias)
    weights = _count(sizes, False)
    first, last = sizes[0], sizes[-1]
    biases = right - weights
    found = [
        Mistake(
            MLP_COUNT_ADDED, sum(a + b for a, b in zip(sizes, sizes[1:], strict=False)) + biases
        ),
        Mistake(MLP_COUNT_LAST_MISSING, _count(sizes[:-1], bias)),
        Mistake(MLP_COUNT_NO_BIAS, weights),
        Mistake(MLP_COUNT_BIAS_PER_INPUT, weights + (sum(sizes[:-1]) if bias else 0)),
        Mistake(MLP_COUNT_INPUT_BIAS, right + (first if bias else 0)),
        Mistake(MLP_COUNT_LAST_BIAS, right - (last if bias else 0)),
    ]
    if not bias:
        found.append(Mistake(COUNT_BIAS_FALSE, _count(sizes, True)))
    if len(sizes) > 2:
        found += [
            Mistake(MLP_COUNT_FIRST_MISSING, _count(sizes[1:], bias)),
            Mistake(MLP_COUNT_ENDS_ONLY, first * last + (last if bias else 0)),
        ]
    return found


def _terms(sizes: tuple[int, ...], bias: bool) -> list[tuple[int, str]]:
    """Every term of the count, and the terms a slip adds, each with what it is."""
    found = []
    count = len(sizes) - 1
    for layer, (a, b) in enumerate(zip(sizes, sizes[1:], strict=False), 1):
        where = f"layer {layer} (of {count})"
        found.append((a * b, f"the {a} × {b} weights of {where}"))
        found.append(
            (b, f"the {b} biases of {where}" if bias else f"{b}, the biases {where} would have")
        )
    return found


def _term_off(lab: Lab, index: int) -> Finding | None:
    """The answer minus the right count is exactly one term of the count (one layer's
    weights or biases), with the sign saying missing or extra, and no other term fits."""
    ran = lab.runs[index]
    if not ran.answered or ran.verdict is None or not ran.verdict.diagnose:
        return None
    got, expected = ran.value, ran.case.expected
    sizes = ran.case.base  # the sizes as given (the student's function may change its list)
    bias = ran.case.kwargs.get("bias", True)
    difference = got - expected
    fitting = [text for value, text in _terms(tuple(sizes), bias) if value == abs(difference)]
    if len(set(fitting)) != 1:
        return None
    said = "is missing" if difference < 0 else "is counted once too often"
    return Finding(
        f"your count is {abs(difference)} {'short' if difference < 0 else 'too large'}, and "
        f"{abs(difference)} is exactly {fitting[0]}: that term {said}.",
        about="term",
        strength=0,
    )


def _count_case(part, sizes, bias=None) -> Case:
    flag = bias is not False
    features = {"always"}
    features |= {"several layers"} if len(sizes) > 2 else set()
    features |= {"no bias"} if not flag else set()
    kwargs = {} if bias is None else {"bias": bias}

    def variants() -> list[Variant]:
        found = []
        if len(sizes) > 2:
            found.append(
                Variant(
                    "several layers",
                    (list(sizes[:2]),),
                    kwargs,
                    _count(sizes[:2], flag),
                    "only the first layer",
                )
            )
        if not flag:
            found.append(
                Variant("no bias", (list(sizes),), {"bias": True}, _count(sizes, True), "bias=True")
            )
        return found

    return Counted(
        description=f"sizes={list(sizes)}, bias={flag}",
        args=(list(sizes),),
        kwargs=kwargs,
        expected=_count(sizes, flag),
        replays=lambda: _count_mistakes(tuple(sizes), flag),
        features=frozenset(features),
        part=part,
        variants=variants,
        base=tuple(sizes),
    )


def check_mlp_param_count(mlp_param_count: Callable, seed: int | None = None) -> Score:
    """Check ``mlp_param_count(sizes, bias=True)``: the weights (and biases) of all L layers
    of a fully connected network with sizes ``[D_0, ..., D_L]``, an int.

    1 point: one layer; several layers (each with and without biases); with a ``seed``,
    hidden random networks.
    """
    cases = [
        _count_case(COUNT_ONE, (3, 2)),
        _count_case(COUNT_ONE, (784, 10), True),
        _count_case(COUNT_ONE, (9, 4), False),
        _count_case(COUNT_SEVERAL, (4, 6, 2)),
        _count_case(COUNT_SEVERAL, (784, 128, 64, 10), True),
        _count_case(COUNT_SEVERAL, (3, 7, 5, 2), False),
        _count_case(COUNT_SEVERAL, (5, 11, 6), True),
    ]
    if seed is not None:
        h = generator(seed, 110)
        for number in range(4):
            length = int(torch.randint(2, 6, (1,), generator=h))
            sizes = tuple(int(v) for v in torch.randint(1, 300, (length,), generator=h))
            cases.append(_count_case(HIDDEN, sizes, number != 1))
    return score_cases(
        "mlp_param_count",
        mlp_param_count,
        cases,
        parts=[Part(COUNT_ONE, 0.25), Part(COUNT_SEVERAL, 0.5), Part(HIDDEN, 0.25, hidden=True)],
        names=("sizes",),
        judge=judge_int,
        experiments=[confirmed_replays(), _term_off, ingredients(MLP_COUNT_INGREDIENTS)],
    )
