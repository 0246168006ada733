"""Checks for the fully connected layer, the gradients of a sigmoid neuron, and one step of
gradient descent.

Each check has weighted parts (a batch, one example, float64, non-contiguous inputs, the
hidden random cases; for the gradients, dL/dw and dL/db judged apart). A wrong answer is
explained first by a known misconception whose replay reproduces it (for the gradients,
every factor of the chain rule replaced in turn, alone and two at a time), then by
experiments: the ingredient whose cases fail and whose removal makes the call right (N = 1,
float64, a transposed view); which tensors met in a product of mismatched shapes (named by
their shapes); the right values in another shape; only some examples or output units
wrong; every value off by one factor; the step of an update as a multiple of the gradient.
"""

import re
import reprlib
from collections.abc import Callable
from numbers import Integral
from typing import Any

import torch
import torch.nn.functional as F

from ..device import get_device
from ._cases import (
    Case,
    Experiment,
    Finding,
    Lab,
    Mistake,
    Part,
    Retry,
    Variant,
    Verdict,
    randn_code,
    score_cases,
)
from ._experiments import Ingredient, ingredients, regions, reshaped, scaled
from ._score import Score
from ._seeds import generator
from ._student import Raised, type_name
from .activations import judge_open, probe_transposed


class _Shown(reprlib.Repr):
    """``repr`` cut short: a few items of a container, short strings, and an int of many
    digits by its length (Python refuses to write one of over 4300 digits)."""

    def __init__(self):
        super().__init__()
        self.maxlevel, self.maxtuple, self.maxlist, self.maxdict = 3, 8, 8, 4
        self.maxstring, self.maxother, self.maxlong = 40, 40, 40

    def repr_int(self, value, level):
        if value.bit_length() > 128:
            return f"<an int of about {int(value.bit_length() * 0.30103) + 1} digits>"
        return repr(value)


def shown(value: Any, limit: int = 80) -> str:
    """A student's value for a message, bounded in length (and in the time it takes)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        digits = int(value.bit_length() * 0.30103) + 1
        return f"an int of about {digits} digits"
    text = _Shown().repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


DENSE_BIAS_MISSING = "the bias b is missing: y = f(x Wᵀ + b)."
DENSE_NO_ACTIVATION = "the activation is not applied: y = f(x Wᵀ + b)."
DENSE_BIAS_AFTER = "the bias must be added before the activation."
DENSE_TRANSPOSED = "the result is transposed: one row per example, so (N, D_out)."
DENSE_W_NOT_TRANSPOSED = "W has shape (D_out, D_in): multiply by W.T, x @ W.T."
DENSE_SINGLE_EXAMPLE = (
    "given one example x of shape (D_in,) the answer is right, but x is a batch (N, D_in): "
    "compute all rows at once with x @ W.T + b."
)


def judge_int(got: Any, case: Case) -> Verdict | None:
    """Judge a function that must return an exact ``int`` (a float equal to it is named)."""
    if isinstance(got, float) and got.is_integer() and int(got) == case.expected:
        return Verdict(
            f"returned {shown(got)}, a float: return an int (// divides and rounds down to an int; "
            "int(...) converts)."
        )
    if isinstance(got, bool) or not isinstance(got, Integral):
        return Verdict(f"should return an int, but returned {shown(got)} ({type_name(got)}).")
    if got == case.expected:
        return None
    return Verdict(
        f"returned {shown(got)}; expected {case.expected}.",
        diagnose=True,
        evidence=f"got {shown(got)}, expected {case.expected}.",
    )


COUNT_BIAS_FALSE = "with bias=False there are no biases to count."


# ------------------------------------------------------------- products of mismatched shapes

MATMUL = re.compile(r"mat1 and mat2 shapes cannot be multiplied \((\d+)x(\d+) and (\d+)x(\d+)\)")
MATVEC = re.compile(r"size mismatch, got input \((\d+)\), mat \((\d+)x(\d+)\), vec \((\d+)\)")
BROADCAST = re.compile(
    r"The size of tensor a \((\d+)\) must match the size of tensor b \((\d+)\) "
    r"at non-singleton dimension (\d+)"
)


def _shape_text(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + (",)" if len(shape) == 1 else ")")


def _tensor(shape: tuple[int, ...], names: list[tuple[tuple[int, ...], str]]) -> str | None:
    """``a (5, 4) tensor (the shape of x)``: a tensor that met in the product, described by
    its shape and the case's tensors of that shape (a 1-d tensor of D values also matches
    1×D, as torch reports it in a product); None when no tensor of the case has it."""
    found = [n for s, n in names if s == shape]
    if not found and len(shape) == 2 and shape[0] == 1:
        shape = (shape[1],)
        found = [n for s, n in names if s == shape]
    if not found:
        return None
    return f"a {_shape_text(shape)} tensor (the shape of {' and of '.join(dict.fromkeys(found))})"


def _sizes(named: list[tuple[int, str]]) -> dict[int, str]:
    """`` (N)`` for a length only one of the case's named sizes has."""
    found: dict[int, set[str]] = {}
    for size, symbol in named:
        found.setdefault(size, set()).add(symbol)
    return {size: f" ({names.pop()})" for size, names in found.items() if len(names) == 1}


def mismatched_product(
    names: Callable[[Case], list[tuple[tuple[int, ...], str]]],
    advice: str,
    sizes: Callable[[Case], list[tuple[int, str]]] = lambda case: [],
) -> Experiment:
    """For a crash in a matrix product (or in adding a bias): the shapes that met there,
    and which of the case's tensors have them (``names(case)``: ``(shape, name)`` of the
    tensors the function works with, transposes included). The tensors are described by
    their shapes only: another of the same shape (an intermediate result) may be the one."""

    def experiment(lab: Lab, index: int) -> Finding | None:
        ran = lab.runs[index]
        if ran.raised is None:
            return None
        said = ran.raised.message
        table = names(ran.case)
        shapes = None
        found = MATMUL.search(said)
        if found:
            a = (int(found.group(1)), int(found.group(2)))
            shapes = (a, (int(found.group(3)), int(found.group(4))))
        found = MATVEC.search(said)
        if found:
            shapes = ((int(found.group(2)), int(found.group(3))), (int(found.group(4)),))
        if shapes is not None:
            left, right = (_tensor(s, table) for s in shapes)
            if left is None or right is None:
                return None
            inner = (shapes[0][-1], shapes[1][0])
            return Finding(
                f"your code multiplies {left} by {right}: in a product (p, q) @ (q, r) the "
                f"sizes that meet must agree, and here they are {inner[0]} and {inner[1]}. "
                + advice,
                about="product",
                detail=f"raised: {said.splitlines()[0]}",
                strength=1,
            )
        found = BROADCAST.search(said)
        if found:
            a, b = int(found.group(1)), int(found.group(2))
            if a == b:
                return None
            named = _sizes(sizes(ran.case))
            return Finding(
                f"an elementwise operation (such as +, −, * or /) met an axis of {a} values"
                f"{named.get(a, '')} and an axis of {b} values{named.get(b, '')}, which must be "
                f"as long (or of length 1). {advice}",
                about="product",
                detail=f"raised: {said.splitlines()[0]}",
                strength=1,
            )
        return None

    return experiment


INDEX = re.compile(r"index (-?\d+) is out of bounds for dimension (\d+) with size (\d+)")


def index_past_end(error: Raised) -> str | None:
    """An index one past the end of an axis (a loop that runs one step too far)."""
    found = INDEX.search(error.message)
    if found is None or found.group(1) != found.group(3):
        return None
    size = int(found.group(3))
    return (
        f"an index reaches {size} on an axis of {size} values (axis {found.group(2)}), which "
        f"has indices 0 to {size - 1}: a loop or an index runs one step too far "
        f"(range({size}) stops at {size - 1})."
    )


# ------------------------------------------------------------------------ dense_forward

DENSE_LINEAR_ONLY = "only x @ W.T is computed: add the bias b, then apply the activation."
DENSE_ACT_ON_INPUT = (
    "the activation is applied to the inputs x; it belongs to the weighted sums: "
    "activation(x @ W.T + b)."
)
DENSE_OWN_ACTIVATION = (
    "use the activation you are given (the argument `activation`), not a fixed one such as "
    "torch.tanh or torch.sigmoid."
)
DENSE_FIRST_ROW = (
    "every row of the output is the first example's: example n needs its own row "
    "activation(x[n] @ W.T + b)."
)
DENSE_PRODUCT = "For x (N, D_in) and W (D_out, D_in), x @ W.T is (N, D_out); then add b (D_out,)."
FLOAT64 = Ingredient(
    "float64",
    "the inputs are float64",
    "they are float32",
    "a tensor created inside without a dtype is float32: give it dtype=x.dtype.",
)
DENSE_INGREDIENTS = [
    Ingredient(
        "N=1",
        "the batch holds one example (N = 1)",
        "N > 1",
        "keep the batch axis of size 1: x is (1, D_in) and the answer (1, D_out) (no squeeze()).",
    ),
    FLOAT64,
    Ingredient(
        "transposed",
        "x and W are transposed views (not contiguous in memory)",
        "they are contiguous",
        "x.view(...) needs contiguous memory; use reshape, or matrix products, which work on "
        "any layout.",
    ),
]
ACTIVATIONS = [torch.tanh, torch.sigmoid, F.softplus, torch.relu]
BATCH, ONE, WIDE, LAYOUT, HIDDEN = (
    "a batch of examples",
    "one example (N = 1)",
    "float64",
    "non-contiguous x and W",
    "hidden random cases",
)


def _dense_mistakes(x, W, b, act) -> list[Mistake]:
    z = x @ W.T
    found = [
        Mistake(DENSE_BIAS_MISSING, act(z)),
        Mistake(DENSE_NO_ACTIVATION, z + b),
        Mistake(DENSE_BIAS_AFTER, act(z) + b),
        Mistake(DENSE_LINEAR_ONLY, z),
        Mistake(DENSE_TRANSPOSED, act(z + b).T),
        Mistake(DENSE_TRANSPOSED, shape=(W.shape[0], x.shape[0])),
        Mistake(DENSE_ACT_ON_INPUT, act(x) @ W.T + b),
        Mistake(DENSE_ACT_ON_INPUT, act(act(x) @ W.T + b)),
    ]
    # one key per fixed activation: a case that uses it confirms or rules out that one only
    found += [
        Mistake(DENSE_OWN_ACTIVATION, g(z + b), key=f"fixed {g.__name__}") for g in ACTIVATIONS
    ]
    if x.shape[0] > 1:
        found.append(Mistake(DENSE_FIRST_ROW, act(x[:1] @ W.T + b).expand(x.shape[0], -1)))
    if W.shape[0] == W.shape[1]:
        found.append(Mistake(DENSE_W_NOT_TRANSPOSED, act(x @ W + b)))
    return found


def _dense_retries(x, W, b, act) -> list[Retry]:
    expected = act(x @ W.T + b)
    return [
        Retry(DENSE_W_NOT_TRANSPOSED, (x, W.T.contiguous(), b, act), {}, [expected], feature="W"),
        Retry(DENSE_SINGLE_EXAMPLE, (x[0], W, b, act), {}, [expected[0]]),
    ]


def _dense_names(case: Case) -> list[tuple[tuple[int, ...], str]]:
    x, W, b, _ = _seen(case)
    return [
        (tuple(x.shape), "x"),
        (tuple(x.mT.shape), "x.T"),
        (tuple(W.shape), "W"),
        (tuple(W.mT.shape), "W.T"),
        (tuple(b.shape), "b"),
    ]


def _dense_sizes(case: Case) -> list[tuple[int, str]]:
    x, W, _, _ = _seen(case)
    return [(x.shape[0], "N"), (x.shape[1], "D_in"), (W.shape[0], "D_out")]


def _seen(case: Case) -> tuple:
    """The arguments as the student's function sees them (a probe may transpose them)."""
    if case.probe is probe_transposed:
        return tuple(a.mT if isinstance(a, torch.Tensor) and a.ndim >= 2 else a for a in case.args)
    return case.args


def _dense_case(part, n, d_in, d_out, act, g, device, dtype=torch.float32, transposed=False):
    x = torch.randn(n, d_in, generator=g, dtype=dtype).to(device)
    W = torch.randn(d_out, d_in, generator=g, dtype=dtype).to(device)
    b = torch.randn(d_out, generator=g, dtype=dtype).to(device)
    sent = (x.mT.contiguous(), W.mT.contiguous()) if transposed else (x, W)
    features = {"always"}
    if d_in * d_out > 1:
        features.add("W")
    if n == 1:
        features.add("N=1")
    if dtype == torch.float64:
        features.add("float64")
    if transposed:
        features.add("transposed")
    kind = "" if dtype == torch.float32 else f", {str(dtype).removeprefix('torch.')}"
    layout = ", x and W transposed views" if transposed else ""
    setup = f"x, W, b = {randn_code(x)}, {randn_code(W)}, {randn_code(b)}"
    if transposed:
        setup = f"x, W, b = {randn_code(x.mT)}.mT, {randn_code(W.mT)}.mT, {randn_code(b)}"

    def variants() -> list[Variant]:
        found = []
        if n == 1:
            x2 = torch.cat([x, x])
            found.append(
                Variant("N=1", (x2, W, b, act), {}, act(x2 @ W.T + b), "the example twice (N = 2)")
            )
        if dtype == torch.float64:
            x32, W32, b32 = x.float(), W.float(), b.float()
            found.append(
                Variant(
                    "float64", (x32, W32, b32, act), {}, act(x32 @ W32.T + b32), "float32 inputs"
                )
            )
        if transposed:
            found.append(
                Variant("transposed", (x, W, b, act), {}, act(x @ W.T + b), "contiguous x and W")
            )
        return found

    return Case(
        description=f"N={n}, D_in={d_in}, D_out={d_out}, activation={act.__name__}{kind}{layout}",
        args=(*sent, b, act),
        expected=act(x @ W.T + b),
        mistakes=lambda: _dense_mistakes(x, W, b, act),
        retries=lambda: _dense_retries(x, W, b, act),
        setup=setup,
        reference=f"{'torch.nn.functional.' if act is F.softplus else 'torch.'}{act.__name__}(x @ W.T + b)",
        features=frozenset(features),
        part=part,
        probe=probe_transposed if transposed else None,
        variants=variants,
    )


def _dense_cases(seed: int | None, device: torch.device) -> list[Case]:
    g = generator(None, 11)
    tanh, softplus, sigmoid = torch.tanh, F.softplus, torch.sigmoid
    cases = [
        _dense_case(BATCH, 5, 4, 3, tanh, g, device),
        _dense_case(BATCH, 3, 2, 6, softplus, g, device),
        _dense_case(BATCH, 6, 5, 4, sigmoid, g, device),
        _dense_case(ONE, 1, 4, 3, tanh, g, device),
        _dense_case(ONE, 1, 3, 2, softplus, g, device),
        _dense_case(WIDE, 4, 3, 5, tanh, g, device, torch.float64),
        _dense_case(WIDE, 2, 5, 3, sigmoid, g, device, torch.float64),
        _dense_case(LAYOUT, 4, 5, 3, softplus, g, device, transposed=True),
        _dense_case(LAYOUT, 3, 2, 4, tanh, g, device, transposed=True),
    ]
    if seed is not None:
        h = generator(seed, 105)
        for number in range(4):
            n, d_in, d_out = (int(v) for v in torch.randint(1, 9, (3,), generator=h))
            act = ACTIVATIONS[number % 3]
            dtype = torch.float64 if number % 2 else torch.float32
            cases.append(
                _dense_case(HIDDEN, n, d_in, d_out, act, h, device, dtype, transposed=number >= 2)
            )
    return cases


def check_dense_forward(dense_forward: Callable, seed: int | None = None) -> Score:
    """Check ``dense_forward(x, W, b, activation)`` against ``activation(x @ W.T + b)``.

    ``x: (N, D_in)``, ``W: (D_out, D_in)``, ``b: (D_out,)`` -> ``(N, D_out)``, in the inputs'
    dtype. 2 points: a batch of examples; one example (N = 1); float64; non-contiguous x and
    W; with a ``seed``, hidden random cases.
    """
    return score_cases(
        "dense_forward",
        dense_forward,
        _dense_cases(seed, get_device()),
        parts=[
            Part(BATCH, 0.75),
            Part(ONE, 0.25),
            Part(WIDE, 0.25),
            Part(LAYOUT, 0.25),
            Part(HIDDEN, 0.5, hidden=True),
        ],
        names=("x", "W", "b", "activation"),
        judge=judge_open,
        explain=index_past_end,
        experiments=[
            mismatched_product(_dense_names, DENSE_PRODUCT, _dense_sizes),
            reshaped,
            regions(axes=[(0, "example n"), (1, "output unit o")]),
            scaled(),
            ingredients(DENSE_INGREDIENTS),
        ],
    )


# ----------------------------------------------------------------------- neuron_gradients


def _neuron_problem(n: int, d: int, g: torch.Generator, device: torch.device, dtype=torch.float32):
    x = torch.randn(n, d, generator=g, dtype=dtype).to(device)
    w = torch.randn(d, generator=g, dtype=dtype).to(device)
    b = torch.randn((), generator=g, dtype=dtype).to(device)
    t = torch.rand(n, generator=g, dtype=dtype).to(device)
    return x, w, b, t


def _sigmoid_neuron_grads(
    x,
    w,
    b,
    t,
    *,
    mean=1,
    sigma_prime="y",
    half=True,
    sign=1.0,
    with_bias=True,
    dw="x",
    db_summed=True,
    residual="y - t",
    db="sum",
):
    """Chain-rule gradients of L = ½ (σ(x·w + b) − t)², averaged over the batch, with
    switches that reproduce the usual slips: ``residual`` what stands for dL/dy (y − t, or
    the loss itself), ``mean`` the number of divisions by N, ``sigma_prime`` σ' as y(1 − y),
    z(1 − z), tanh's 1 − y² or missing (None), ``dw`` how ∂z/∂w is taken (x; w; the product
    of sums; x per example, not summed), ``db_summed``/``db`` how dL/db is reduced over the
    batch (summed; left per example; averaged once more)."""
    z = x @ w + (b if with_bias else 0)
    y = torch.sigmoid(z)
    r = {"y - t": y - t, "loss": 0.5 * (y - t) ** 2}[residual]
    factor = {"y": y * (1 - y), "z": z * (1 - z), "tanh": 1 - y * y, None: 1.0}[sigma_prime]
    dz = r * factor * (1.0 if half else 2.0) * sign / x.shape[0] ** mean
    grad_w = {
        "x": dz @ x,
        "w": dz.sum() * w,
        "sums": dz.sum() * x.sum(0),
        "per example": dz[:, None] * x,
    }[dw]
    if not db_summed:
        db = "per example"
    grad_b = {"sum": dz.sum(), "per example": dz, "mean": dz.mean()}[db]
    return grad_w, grad_b


GRADIENT_MISTAKES = [
    ("the loss is averaged over the batch: divide the summed gradient by N.", {"mean": 0}),
    (
        "σ'(z) = σ(z)(1 − σ(z)) is missing from the chain rule: dL/dz = (y − t)·σ'(z).",
        {"sigma_prime": None},
    ),
    ("the gradient is twice too large: d/dy of ½(y − t)² is (y − t).", {"half": False}),
    ("the gradient has the wrong sign: dL/dy = y − t, not t − y.", {"sign": -1.0}),
    (
        "σ'(z) = σ(z)(1 − σ(z)) = y(1 − y), with y = σ(z); here it is z(1 − z).",
        {"sigma_prime": "z"},
    ),
    ("the gradient is divided by N twice: average over the batch once.", {"mean": 2}),
    (
        "y must include the bias: y = σ(x·w + b), and dL/dz depends on it.",
        {"with_bias": False},
    ),
    ("∂z/∂w = x, not w: dL/dw = Σₙ dL/dzₙ · xₙ (that is dz @ x).", {"dw": "w"}),
    (
        "dL/dw = Σₙ dL/dzₙ · xₙ: multiply each example's dL/dz by its own x, then sum over "
        "the batch (dz @ x), rather than multiplying the two sums.",
        {"dw": "sums"},
    ),
    (
        "dL/db sums dL/dz over the batch (b is shared by all N examples): it is a scalar.",
        {"db_summed": False},
    ),
    (
        "the loss ½(y − t)² stands where its derivative belongs: the chain rule starts from "
        "dL/dy = y − t.",
        {"residual": "loss"},
    ),
    (
        "σ'(z) is y(1 − y) for the sigmoid; 1 − y² is the derivative of tanh.",
        {"sigma_prime": "tanh"},
    ),
    (
        "dL/dw is left per example, shape (N, D): sum each example's dL/dz · xₙ over the batch "
        "(dz @ x), which gives shape (D,).",
        {"dw": "per example"},
    ),
    (
        "dL/db is divided by N twice: dL/dz already carries the 1/N of the mean, so sum it "
        "over the batch.",
        {"db": "mean"},
    ),
]


def _slip_factor(slip: dict) -> str:
    """Which factor of the chain rule a slip changes (two slips of one factor do not combine)."""
    key = next(iter(slip))
    return {"db_summed": "db", "half": "residual", "sign": "residual"}.get(key, key)


def _gradient_mistakes(x, w, b, t) -> list[Mistake]:
    """Every slip alone, then every two slips of different factors together."""
    found = [
        Mistake(message, _sigmoid_neuron_grads(x, w, b, t, **slip))
        for message, slip in GRADIENT_MISTAKES
    ]
    for i, (first, one) in enumerate(GRADIENT_MISTAKES):
        for second, other in GRADIENT_MISTAKES[i + 1 :]:
            if _slip_factor(one) == _slip_factor(other):
                continue
            output = _sigmoid_neuron_grads(x, w, b, t, **one, **other)
            found.append(Mistake(f"two slips: {first} And {second}", output))
    return found


DW, DB, GRAD_MORE = "dL/dw", "dL/db", "one example (N = 1), float64"
GRADIENT_INGREDIENTS = [
    Ingredient(
        "N=1",
        "the batch holds one example (N = 1)",
        "N > 1",
        "keep the batch axis of size 1 (no squeeze()), and sum over it as over any batch.",
    ),
    FLOAT64,
]


def _autograd_is_off(error: Raised) -> str | None:
    if "grad" in str(error) or "inference" in str(error).lower():
        return (
            "autograd is switched off inside this function: compute dL/dw and dL/db "
            "yourself with the chain rule."
        )
    return None


def _as_pair(what: str, components: dict[str, int] | None = None) -> Callable[[Any, Case], Any]:
    """Normalize a returned pair: a 1-element or Python-number second part becomes 0-d. With
    ``components`` (part name -> index), a case of such a part judges that element alone."""
    components = components or {}

    def normalize(got: Any, case: Case) -> Any:
        if not isinstance(got, tuple | list) or len(got) != 2:
            return Verdict(f"should return a pair {what}, but returned {type_name(got)}.")
        first, second = got
        component = components.get(case.part)
        reference = case.expected if component == 1 else None
        if component is None:
            reference = case.expected[1]
        if reference is not None and isinstance(reference, torch.Tensor):
            if isinstance(second, torch.Tensor) and second.numel() == 1 and reference.ndim == 0:
                second = second.reshape(())
            elif isinstance(second, float | int) and not isinstance(second, bool):
                second = torch.tensor(float(second), dtype=reference.dtype, device=reference.device)
        if component is not None:
            return (first, second)[component]
        return first, second

    return normalize


def _gradient_case(part, n, d, g, device, dtype=torch.float32) -> Case:
    x, w, b, t = _neuron_problem(n, d, g, device, dtype)
    expected = _gradients(x, w, b, t)
    component = {DW: 0, DB: 1}.get(part)
    features = {"always"} | ({"N=1"} if n == 1 else set())
    features |= {"float64"} if dtype == torch.float64 else set()

    def variants() -> list[Variant]:
        found = []
        if n == 1:
            args = (torch.cat([x, x]), w, b, torch.cat([t, t]))
            found.append(
                Variant(
                    "N=1",
                    args,
                    {},
                    _pick(_gradients(*args), component),
                    "the example twice (N = 2)",
                )
            )
        if dtype == torch.float64:
            args = tuple(v.float() for v in (x, w, b, t))
            found.append(
                Variant("float64", args, {}, _pick(_gradients(*args), component), "float32 inputs")
            )
        return found

    kind = "" if dtype == torch.float32 else ", float64"
    return Case(
        description=f"N={n}, D={d}{kind}" + (f" ({part} judged)" if component is not None else ""),
        args=(x, w, b, t),
        expected=_pick(expected, component),
        parts=() if component is not None else (DW, DB),
        what=part if component is not None else "the output",
        mistakes=lambda: _gradient_mistakes(x, w, b, t),
        setup=(
            f"x, w, b, target = {randn_code(x)}, {randn_code(w)}, {randn_code(b)}, "
            f"{randn_code(t).replace('randn', 'rand')}"
        ),
        reference="the gradients of 0.5 * ((torch.sigmoid(x @ w + b) - target) ** 2).mean()",
        features=frozenset(features),
        part=part,
        variants=variants,
    )


def _pick(pair: tuple, component: int | None):
    return pair if component is None else pair[component]


def _gradients(x, w, b, t) -> tuple[torch.Tensor, torch.Tensor]:
    w_, b_ = w.clone().requires_grad_(), b.clone().requires_grad_()
    with torch.inference_mode(False), torch.enable_grad():
        loss = 0.5 * ((torch.sigmoid(x @ w_ + b_) - t) ** 2).mean()
        return tuple(v.detach() for v in torch.autograd.grad(loss, (w_, b_)))


def _gradient_names(case: Case) -> list[tuple[tuple[int, ...], str]]:
    x, w, b, t = case.args
    return [
        (tuple(x.shape), "x"),
        (tuple(x.mT.shape), "x.T"),
        (tuple(w.shape), "w"),
        (tuple(t.shape), "target, y and dL/dz"),
    ]


def _gradient_factors(case: Case) -> list[tuple[float, str, str]]:
    n = case.args[0].shape[0]
    return [
        (float(n), "N", "the 1/N of the mean is missing."),
        (1 / n, "1/N", "it is divided by N once more than the mean asks."),
        (2.0, "2", "d/dy of ½(y − t)² is (y − t), with no factor 2."),
    ]


RESIDUAL_FACTOR = (
    "with targets equal to the predictions (t = y: nothing to learn) dL/dw and dL/db must be "
    "0, and yours are not: your chain rule is not (y − t) times the rest (the residual y − t "
    "is missing or changed, or your y is not σ(x·w + b))."
)
SIGMA_PRIME_FACTOR = (
    "where the sigmoid is saturated (z = 30, so σ'(z) = y(1 − y) ≈ 0) dL/dw and dL/db must be "
    "about 0, and yours are not: your chain rule lacks the factor σ'(z) = y(1 − y), or has "
    "another in its place."
)
LIKE_A_SUM = (
    "given every example twice, the mean loss and its gradients stay the same, and yours "
    "double: they grow with the batch like a sum, where the mean divides by N."
)


def _chain_rule_probes(lab: Lab, index: int) -> Finding | None:
    """Which factor of the chain rule is off, by inputs where one factor decides the answer:
    targets equal to the predictions (the residual y − t is 0, so the gradients are 0); a
    saturated sigmoid (σ'(z) ≈ 0, so they are about 0); every example given twice (the mean
    does not change, a sum doubles)."""
    ran = lab.runs[index]
    if not ran.answered or ran.verdict is None or not ran.verdict.diagnose:
        return None
    case = ran.case
    x, w, b, t = case.args
    component = {DW: 0, DB: 1}.get(case.part)
    parts = lambda value: value if isinstance(value, tuple) else (value,)  # noqa: E731
    if not all(isinstance(v, torch.Tensor) for v in parts(ran.value)):
        return None

    def answer(key: str, args: tuple):
        trial = lab.trial((key, index), case, args, {}, _pick(_gradients(*args), component))
        if trial is None or not trial.answered or isinstance(trial.value, Verdict):
            return None
        values = parts(trial.value)
        if not all(isinstance(v, torch.Tensor) for v in values):
            return None
        return values

    def zero(values) -> bool:
        return all(bool((v.abs() <= 1e-6).all()) for v in values)

    y = torch.sigmoid(x @ w + b)
    at_target = answer("t = y", (x, w, b, y))
    if at_target is not None and not zero(at_target):
        return Finding(RESIDUAL_FACTOR, about="chain rule", strength=1)
    saturated = (x, torch.zeros_like(w), torch.full_like(b, 30.0), torch.zeros_like(t))
    flat = answer("saturated", saturated)
    if flat is not None and not all(bool((v.abs() <= 1e-4).all()) for v in flat):
        return Finding(SIGMA_PRIME_FACTOR, about="chain rule", strength=1)
    twice = answer("twice", (torch.cat([x, x]), w, b, torch.cat([t, t])))
    mine = parts(ran.value)
    if twice is not None and len(twice) == len(mine):
        pairs = list(zip(twice, mine, strict=True))
        if all(a.shape == m.shape for a, m in pairs) and not zero(mine):
            if all(torch.allclose(a, 2 * m, rtol=1e-4, atol=1e-7) for a, m in pairs):
                return Finding(LIKE_A_SUM, about="chain rule", strength=1)
    return None


def check_neuron_gradients(neuron_gradients: Callable, seed: int | None = None) -> Score:
    """Check ``neuron_gradients(x, w, b, target) -> (dL/dw, dL/db)`` against autograd.

    The neuron is ``y = sigmoid(x @ w + b)`` with ``x: (N, D)``, ``w: (D,)``, ``b`` a 0-d
    tensor, ``target: (N,)``; the loss is ``L = mean(0.5 * (y - target)**2)``.
    ``dL/dw`` has shape ``(D,)``; ``dL/db`` is a scalar (a 0-d or 1-element tensor).
    Autograd is not available inside the call: the gradients must come from the chain rule.
    3 points: dL/dw; dL/db; one example (N = 1) and float64; with a ``seed``, hidden random
    cases.
    """
    device, g = get_device(), generator(None, 5)
    cases = [
        _gradient_case(part, n, d, g, device) for part in (DW, DB) for n, d in ((6, 3), (10, 5))
    ]
    cases += [
        _gradient_case(GRAD_MORE, 1, 2, g, device),
        _gradient_case(GRAD_MORE, 8, 4, g, device, torch.float64),
    ]
    if seed is not None:
        h = generator(seed, 107)
        for number in range(4):
            n = int(torch.randint(1, 30, (1,), generator=h))
            d = int(torch.randint(1, 9, (1,), generator=h))
            dtype = torch.float64 if number % 2 else torch.float32
            cases.append(_gradient_case(HIDDEN, n, d, h, device, dtype))
    return score_cases(
        "neuron_gradients",
        neuron_gradients,
        cases,
        parts=[
            Part(DW, 1),
            Part(DB, 0.5),
            Part(GRAD_MORE, 0.5),
            Part(HIDDEN, 1, hidden=True),
        ],
        names=("x", "w", "b", "target"),
        normalize=_as_pair("(dL/dw, dL/db)", {DW: 0, DB: 1}),
        inference=True,
        explain=lambda error: _autograd_is_off(error) or index_past_end(error),
        experiments=[
            mismatched_product(
                _gradient_names,
                "x @ w is (N,); dL/dz @ x (or x.T @ dL/dz) is (D,).",
                lambda case: [(case.args[0].shape[0], "N"), (case.args[0].shape[1], "D")],
            ),
            scaled(_gradient_factors),
            _chain_rule_probes,
            ingredients(GRADIENT_INGREDIENTS),
        ],
    )


# ------------------------------------------------------------------------------- sgd_step

SGD_MISTAKES = [
    ("step against the gradient: w − lr·∇w (a + climbs the loss).", lambda p, g, lr: p + lr * g),
    ("multiply the gradient by the learning rate lr.", lambda p, g, lr: p - g),
    (
        "the gradient is multiplied by lr, not divided by it: w − lr·∇w.",
        lambda p, g, lr: p - g / lr,
    ),
    ("return the new parameters w − lr·∇w, not the step lr·∇w.", lambda p, g, lr: lr * g),
]
SGD_B_FROZEN = "b learns too: return b − lr·grad_b as well as w − lr·grad_w."
SGD_W_FROZEN = "w learns too: return w − lr·grad_w as well as b − lr·grad_b."
SGD_B_WITH_GRAD_W = (
    "b is updated with grad_w: each parameter moves against its own gradient, b − lr·grad_b."
)
SGD_SWAPPED = "the pair comes back the other way round: return (w, b), the new w first."
NEW_W, NEW_B, SGD_WIDE = "the new w", "the new b", "float64"


def _sgd_mistakes(w, b, gw, gb, lr) -> list[Mistake]:
    found = [Mistake(m, (f(w, gw, lr), f(b, gb, lr))) for m, f in SGD_MISTAKES]
    new_w, new_b = w - lr * gw, b - lr * gb
    return found + [
        Mistake(SGD_B_FROZEN, (new_w, b)),
        Mistake(SGD_W_FROZEN, (w, new_b)),
        Mistake(SGD_B_WITH_GRAD_W, (new_w, b - lr * gw)),
        Mistake(SGD_SWAPPED, (new_b, new_w)),
    ]


def _step_ratio(ran) -> tuple[float, str, int] | None:
    """``(c, how c relates to lr, how many values)`` when every value of the new parameter is
    the old one minus c × its gradient (the same c); else None."""
    component = {NEW_W: 0, NEW_B: 1}.get(ran.case.part)
    if component is None or not ran.answered or ran.verdict is None:
        return None
    _, _, gw, gb, lr = ran.case.args
    got, grad = ran.value, (gw, gb)[component]
    old = ran.case.expected + lr * grad  # the inputs themselves may have been updated in place
    if not isinstance(got, torch.Tensor) or got.shape != old.shape or (grad.abs() < 1e-3).any():
        return None
    ratio = ((old - got) / grad).double().flatten()
    if not torch.allclose(ratio, ratio[:1].expand_as(ratio), rtol=1e-3, atol=1e-6):
        return None
    c = float(ratio[0])
    named = [(lr * lr, "lr²"), (2 * lr, "2·lr"), (1.0, "1"), (-lr, "−lr"), (1 / lr, "1/lr")]
    how = next((text for value, text in named if abs(c - value) <= 1e-6 * max(1.0, abs(value))), "")
    return c, how, ratio.numel()


def _sgd_step_size(lab: Lab, index: int) -> Finding | None:
    """The step taken, as a multiple of the gradient: (old − new) / grad, the same for every
    value, compared with lr. A single value (b) is always some multiple: then the other cases
    of the part must show the same relation to their lr (or the same multiple)."""
    ran = lab.runs[index]
    found = _step_ratio(ran)
    if found is None:
        return None
    c, how, count = found
    lr = ran.case.args[4]
    if abs(c - lr) <= 1e-6 * max(1.0, lr):
        return None
    if count < 2:
        others = [_step_ratio(r) for r in lab.runs if r is not ran and r.case.part == ran.case.part]
        if not others or any(
            o is None or (o[1] != how if how else abs(o[0] - c) > 1e-6 * max(1.0, abs(c)))
            for o in others
        ):
            return None
    name = "w" if ran.case.part == NEW_W else "b"
    said = {"lr²": f" (lr² = {lr * lr:g}: lr is applied twice)", "2·lr": " (2·lr)"}.get(how, "")
    return Finding(
        f"each value of the new {name} is the old one minus {c:.4g} × its gradient{said}; "
        f"the step asks for lr = {lr:g} × the gradient: {name} − lr·grad_{name}.",
        about="step",
        strength=1,  # exact on the case itself; no further call needed
    )


def _sgd_linear(lab: Lab, index: int) -> Finding | None:
    """The new value as a function of the old one and of its gradient, by two more calls
    (each raised by 1): c₁·w + c₂·grad_w + (the rest), where the step asks for 1 and −lr."""
    ran = lab.runs[index]
    component = {NEW_W: 0, NEW_B: 1}.get(ran.case.part)
    if component is None or not ran.answered or ran.verdict is None:
        return None
    got = ran.value
    args = list(ran.case.args)
    lr, grad = args[4], args[component + 2]
    base = ran.case.expected + lr * grad  # the parameter as given (it may have been updated)
    if not isinstance(got, torch.Tensor) or got.shape != base.shape:
        return None

    def shift(position: int) -> float | None:
        """How much the new value moves when argument ``position`` is raised by 1."""
        changed = [a.clone() if isinstance(a, torch.Tensor) else a for a in args]
        changed[component] = base.clone()
        changed[position] = changed[position] + 1
        expected = changed[component] - lr * changed[component + 2]
        trial = lab.trial(("sgd shift", index, position), ran.case, tuple(changed), {}, expected)
        if trial is None or not trial.answered or not isinstance(trial.value, torch.Tensor):
            return None
        if trial.value.shape != got.shape:
            return None
        delta = (trial.value - got).double().flatten()
        if not torch.allclose(delta, delta[:1].expand_as(delta), rtol=1e-4, atol=1e-5):
            return None
        return float(delta[0])

    on_old, on_grad = shift(component), shift(component + 2)
    if on_old is None or on_grad is None:
        return None
    if abs(on_old - 1) < 1e-4 and abs(on_grad + lr) < 1e-4 * max(1.0, lr):
        return None
    name = "w" if component == 0 else "b"
    return Finding(
        f"raising {name} by 1 moves your new {name} by {on_old:.4g}, and raising grad_{name} by 1 "
        f"moves it by {on_grad:.4g}; in {name} − lr·grad_{name} they move it by 1 and by "
        f"−lr = {-lr:g}.",
        about="step",
        detail="Called again with the parameter, then its gradient, raised by 1.",
        strength=1,
    )


def _sgd_case(part, d, lr, g, device, dtype=torch.float32) -> Case:
    w = torch.randn(d, generator=g, dtype=dtype).to(device)
    gw = torch.randn(d, generator=g, dtype=dtype).to(device)
    b = torch.randn((), generator=g, dtype=dtype).to(device)
    gb = torch.randn((), generator=g, dtype=dtype).to(device)
    component = {NEW_W: 0, NEW_B: 1}.get(part)
    expected = (w - lr * gw, b - lr * gb)
    kind = "" if dtype == torch.float32 else ", float64"
    return Case(
        description=f"D={d}, lr={lr}{kind}"
        + (f" ({part} judged)" if component is not None else ""),
        args=(w.clone(), b.clone(), gw, gb, lr),
        expected=_pick(expected, component),
        parts=() if component is not None else (NEW_W, NEW_B),
        what=part if component is not None else "the output",
        mistakes=lambda: _sgd_mistakes(w, b, gw, gb, lr),
        part=part,
    )


def check_sgd_step(sgd_step: Callable, seed: int | None = None) -> Score:
    """Check ``sgd_step(w, b, grad_w, grad_b, lr) -> (w - lr * grad_w, b - lr * grad_b)``.

    Updating ``w`` and ``b`` in place and returning them is accepted too. 1 point: the new
    w; the new b; float64; with a ``seed``, hidden random cases.
    """
    device, g = get_device(), generator(None, 9)
    cases = [
        _sgd_case(part, d, lr, g, device)
        for part in (NEW_W, NEW_B)
        for d, lr in ((3, 0.1), (5, 0.5))
    ]
    cases.append(_sgd_case(SGD_WIDE, 4, 0.05, g, device, torch.float64))
    if seed is not None:
        h = generator(seed, 108)
        for number in range(3):
            d = int(torch.randint(1, 8, (1,), generator=h))
            lr = [0.01, 0.3, 2.0][number]
            cases.append(
                _sgd_case(HIDDEN, d, lr, h, device, torch.float64 if number == 1 else torch.float32)
            )
    # Each call gets its own copies (an in-place update must not leak into the next case).
    return score_cases(
        "sgd_step",
        sgd_step,
        cases,
        parts=[
            Part(NEW_W, 0.25),
            Part(NEW_B, 0.25),
            Part(SGD_WIDE, 0.25),
            Part(HIDDEN, 0.25, hidden=True),
        ],
        names=("w", "b", "grad_w", "grad_b", "lr"),
        normalize=_as_pair("(w, b)", {NEW_W: 0, NEW_B: 1}),
        inputs_frozen=False,
        experiments=[_sgd_step_size, _sgd_linear],
    )
