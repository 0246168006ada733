"""Checks for ``sigmoid``, ``tanh`` and ``relu``: elementwise, any shape and layout, the
input's dtype and device, finite on [-1e4, 1e4].

Each check has parts (small values in any shape; large values; float64; the hidden random
cases). A wrong answer is explained, in this order, by a known misconception whose replay
reproduces it (the sign in the exponent, tanh for the sigmoid, ``1 / 1 + exp(-x)``, ...),
then by experiments on the student's function: where the first nan or inf appears and
which exponential overflows there; whether a value depends on other values of ``x``;
which inputs get right values and what the others get (0, x itself, a factor of the right
value); whether every value is a fixed multiple of, or offset from, the right one; whether
the answer is the right one at ``-x`` or ``2x``. A crash is explained by what Python says
(``if``/``max`` on a tensor, ``math.exp`` on a tensor) and by the one change of the input
that makes the call work (a contiguous copy, float32, one dimension).
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..device import get_device
from ._cases import (
    OVERFLOW,
    Case,
    Experiment,
    Finding,
    Lab,
    Mistake,
    Part,
    Variant,
    Verdict,
    close,
    judge_answer,
    score_cases,
    tolerance,
)
from ._experiments import Ingredient, ingredients, reshaped, scaled
from ._score import Score
from ._seeds import generator
from ._student import Raised, type_name

SIGMOID_SIGN = "the sign in the exponent is flipped: σ(x) = 1 / (1 + exp(−x))."
SIGMOID_IS_TANH = "this looks like tanh, not the sigmoid σ(x) = 1 / (1 + exp(−x))."
SIGMOID_PRECEDENCE = (
    "every value is 1 + exp(−x): 1 / 1 + exp(−x) is read as (1 / 1) + exp(−x). "
    "Put the denominator in brackets: 1 / (1 + exp(−x))."
)
SIGMOID_DENOMINATOR = "the denominator is 1 + exp(−x), not 1 − exp(−x)."
SIGMOID_DERIVATIVE = (
    "this is the sigmoid's derivative σ(x)(1 − σ(x)); the function itself is 1 / (1 + exp(−x))."
)
TANH_IS_SIGMOID = "this is the sigmoid; tanh(x) = (eˣ − e⁻ˣ) / (eˣ + e⁻ˣ) ranges over (−1, 1)."
TANH_SIGN = "the result has the wrong sign: tanh(x) is positive for x > 0."
TANH_FACTORS = "tanh(x) = 2σ(2x) − 1: check the factors 2 in your formula."
TANH_MINUS_ONE = "every value is 1 too large: tanh(x) = 2σ(2x) − 1 (the − 1 is missing)."
TANH_SINH = "this is sinh(x) = (eˣ − e⁻ˣ) / 2: tanh divides eˣ − e⁻ˣ by eˣ + e⁻ˣ, not by 2."
TANH_UPSIDE_DOWN = (
    "numerator and denominator are swapped (that is coth): tanh(x) = (eˣ − e⁻ˣ) / (eˣ + e⁻ˣ)."
)
TANH_PRECEDENCE = (
    "the brackets are missing: eˣ − e⁻ˣ / eˣ + e⁻ˣ divides only e⁻ˣ by eˣ; "
    "write (eˣ − e⁻ˣ) / (eˣ + e⁻ˣ)."
)
TANH_DERIVATIVE = "this is tanh's derivative 1 − tanh²(x), not tanh(x)."
RELU_MIN = "ReLU keeps the positive part: relu(x) = max(x, 0), not min(x, 0)."
RELU_ABS = "ReLU sets negative values to 0; it does not take their absolute value."
RELU_MASK = "relu should return the values max(x, 0), not a 0/1 mask of where x > 0."
RELU_LEAKY = (
    "negative values are multiplied by a small slope (that is the leaky ReLU); ReLU sets them to 0."
)

# What a crash says, and why.
PYTHON_LOGIC = (
    "Python's `if`, `and`/`or`, `max` and `min` decide on one value at a time, so they fail on "
    'a tensor of several values ("Boolean value of Tensor with more than one value is '
    'ambiguous"). Work on all values at once: torch.where(condition, a, b), x.clamp(...) or '
    "torch.maximum(...)."
)
PYTHON_NUMBER = (
    "math.exp (like float(x) or x.item()) turns a tensor into one Python number, so it works "
    'for a single value only ("only one element tensors can be converted to Python scalars"): '
    "use torch.exp, which works on every value of a tensor at once."
)
PYTHON_FLOAT = (
    "returns a Python number, not a tensor: math.exp (like float(x) or x.item()) turns the "
    "tensor into one number. Use torch.exp and tensor operations, which keep a tensor."
)
NUMPY_ARRAY = (
    "returns a NumPy array, not a tensor: stay with torch operations (torch.exp, torch.where, "
    "...), which keep the input's dtype and device."
)
NOT_ELEMENTWISE = (
    "the value at one position depends on the other values of x (changing only the second "
    "half of x changes the answer in the first half): an activation works on each value "
    "alone, with no sum, mean or max over x."
)

# Why exp overflows, and which forms of each function do so.
OVERFLOW_SIGMOID = (
    "eˣ / (1 + eˣ) divides inf by inf for large positive x. The plain 1 / (1 + e⁻ˣ) is safe: "
    "its e⁻ˣ overflows only for very negative x, where 1 / (1 + inf) = 0 is the right answer. "
    "Let exp see only −|x| if you want both sides exact."
)
OVERFLOW_TANH = (
    "(eˣ − e⁻ˣ) / (eˣ + e⁻ˣ) divides inf by inf once |x| > 88.7 in float32 (709.8 in float64). "
    "Let exp see only −2|x| ≤ 0: tanh(x) = sign(x)·(1 − e^(−2|x|)) / (1 + e^(−2|x|))."
)
OVERFLOW_RELU = "ReLU needs no exp at all: compare x with 0 (torch.where, clamp, a mask)."


@dataclass(frozen=True)
class Activation:
    name: str
    reference: Callable[[torch.Tensor], torch.Tensor]
    replays: Callable[[torch.Tensor], list[tuple[str, torch.Tensor]]]
    overflow: str
    points: tuple[float, float, float, float]  # small values, large values, float64, hidden


def _sigmoid_replays(x: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
    s = torch.sigmoid(x)
    return [
        (SIGMOID_SIGN, torch.sigmoid(-x)),
        (SIGMOID_IS_TANH, torch.tanh(x)),
        (SIGMOID_PRECEDENCE, 1 + torch.exp(-x)),
        (SIGMOID_DENOMINATOR, 1 / (1 - torch.exp(-x))),
        (SIGMOID_DERIVATIVE, s * (1 - s)),
    ]


def _tanh_replays(x: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
    t, e, e_ = torch.tanh(x), torch.exp(x), torch.exp(-x)
    return [
        (TANH_IS_SIGMOID, torch.sigmoid(x)),
        (TANH_SIGN, -t),
        (TANH_FACTORS, 2 * torch.sigmoid(x) - 1),
        (TANH_MINUS_ONE, 2 * torch.sigmoid(2 * x)),
        (TANH_SINH, torch.sinh(x)),
        (TANH_UPSIDE_DOWN, 1 / t),
        (TANH_PRECEDENCE, e - e_ / e + e_),
        (TANH_DERIVATIVE, 1 - t * t),
    ]


def _relu_replays(x: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
    return [
        (RELU_MIN, x.clamp(max=0)),
        (RELU_ABS, x.abs()),
        (RELU_MASK, (x > 0).to(x.dtype)),
        (RELU_MASK, (x >= 0).to(x.dtype)),
        (RELU_LEAKY, torch.where(x > 0, x, 0.01 * x)),
    ]


SIGMOID = Activation(
    "sigmoid", torch.sigmoid, _sigmoid_replays, OVERFLOW_SIGMOID, (0.75, 0.5, 0.25, 0.5)
)
TANH = Activation("tanh", torch.tanh, _tanh_replays, OVERFLOW_TANH, (0.75, 0.5, 0.25, 0.5))
RELU = Activation("relu", torch.relu, _relu_replays, OVERFLOW_RELU, (0.25, 0.25, 0.25, 0.25))


def probe_transposed(fn: Callable, *args):
    """``fn`` on ``args`` with every tensor of two or more dimensions (in lists and tuples
    too) replaced by its ``.mT``: inputs made non-contiguous where the student's function
    runs (a tensor sent to the grading sandbox arrives contiguous)."""

    def flip(value):
        if isinstance(value, torch.Tensor) and value.ndim >= 2:
            return value.mT
        if isinstance(value, list | tuple):
            return type(value)(flip(v) for v in value)
        return value

    return fn(*(flip(a) for a in args))


# ----------------------------------------------------------------------------- the cases

SMALL, LARGE, WIDE, HIDDEN = (
    "small values, any shape and layout",
    "large values (float32)",
    "float64",
    "hidden random cases",
)


def _seen(case: Case) -> torch.Tensor:
    """The input as the student's function sees it (a probe may transpose it)."""
    (x,) = case.args
    return x.mT if case.probe is probe_transposed else x


def _case(
    act: Activation, part: str, description: str, x: torch.Tensor, code: str, *, transposed=False
):
    """One case: ``x`` given as it is, or (``transposed``) as ``x.mT``, made in the
    student's process."""
    given = x.mT if transposed else x
    return Case(
        description=description,
        args=(x,),
        expected=act.reference(given),
        mistakes=lambda: _replays(act, given),
        overflow_hint=act.overflow,
        setup=f"x = {code}" + (".mT" if transposed else ""),
        reference=f"torch.{act.name}(x)",
        features=_features(given, transposed),
        part=part,
        probe=probe_transposed if transposed else None,
        variants=lambda: _variants(act, given, transposed),
    )


def _replays(act: Activation, x: torch.Tensor) -> list[Mistake]:
    """The known misconceptions' answers on ``x``, where they can tell: on values that are
    nearly all saturated (|x| > 5) many formulas agree, so none is offered there."""
    if int((x.abs() <= 5).sum()) < 3:
        return []
    return [Mistake(message, output) for message, output in act.replays(x)]


def _features(x: torch.Tensor, transposed: bool) -> frozenset:
    found = {"always"}
    if transposed:
        found.add("transposed")
    if x.dtype == torch.float64:
        found.add("float64")
    if x.ndim == 0:
        found.add("0-d")
    if x.ndim >= 2:
        found.add("several dims")
    return frozenset(found)


def _variants(act: Activation, x: torch.Tensor, transposed: bool) -> list[Variant]:
    """The case with one ingredient taken away: a contiguous copy, float32, one dimension."""
    found = []
    if transposed:
        found.append(("transposed", x.contiguous(), "a contiguous copy of x"))
    if x.dtype == torch.float64:
        found.append(("float64", x.float(), "x in float32"))
    if x.ndim == 0:
        found.append(("0-d", x.reshape(1), "x as a 1-d tensor of one value"))
    if x.ndim >= 2:
        found.append(("several dims", x.flatten(), "x flattened to 1-d"))
    return [Variant(key, (v,), {}, act.reference(v), change) for key, v, change in found]


INGREDIENTS = [
    Ingredient(
        "transposed",
        "x is a transposed view (not contiguous in memory)",
        "x is contiguous",
        "x.view(...) needs contiguous memory; x.reshape(...) and x.flatten() work on any "
        "tensor, and elementwise operations need no reshaping at all.",
    ),
    Ingredient(
        "float64",
        "x is float64",
        "x is float32",
        "a tensor created inside without a dtype is float32; create it with dtype=x.dtype "
        "(or use torch.zeros_like(x), torch.full_like(x, v)).",
    ),
    Ingredient(
        "0-d",
        "x is a 0-d tensor (a single number)",
        "x has at least one dimension",
        "indexing x[i], len(x) or a loop over x need a dimension; elementwise tensor "
        "operations work for any shape.",
    ),
    Ingredient(
        "several dims",
        "x has more than one dimension",
        "x is 1-d",
        "a loop over x or x[i] assume one dimension; elementwise tensor operations work for "
        "any shape.",
    ),
]


def _cases(act: Activation, seed: int | None, device: torch.device) -> list[Case]:
    g = generator(None, 1234)
    spots = [-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0]
    near = [-100.0, -89.0, -88.0, -45.0, -44.0, -20.0, 20.0, 44.0, 45.0, 88.0, 89.0, 100.0]
    large64 = [-1e4, -800.0, -710.0, -50.0, 50.0, 710.0, 800.0, 1e4]
    scalar = -0.7 if act.name == "relu" else 0.7

    def on(x):
        return x.to(device)

    cases = [
        _case(
            act, SMALL, "a few values around 0", on(torch.tensor(spots)), f"torch.tensor({spots})"
        ),
        _case(
            act,
            SMALL,
            "a random 2-d tensor",
            on(3 * torch.randn(3, 5, generator=g)),
            "3 * torch.randn(3, 5)",
        ),
        _case(
            act,
            SMALL,
            "a random 3-d tensor",
            on(3 * torch.randn(2, 3, 4, generator=g)),
            "3 * torch.randn(2, 3, 4)",
        ),
        _case(
            act,
            SMALL,
            "a 0-d tensor (one number)",
            on(torch.tensor(scalar)),
            f"torch.tensor({scalar})",
        ),
        _case(
            act,
            SMALL,
            "a transposed (non-contiguous) 2-d tensor",
            on(3 * torch.randn(4, 3, generator=g)),
            "3 * torch.randn(4, 3)",
            transposed=True,
        ),
        _case(
            act,
            LARGE,
            "large values in [-1e4, 1e4]",
            on(torch.linspace(-1e4, 1e4, 41)),
            "torch.linspace(-1e4, 1e4, 41)",
        ),
        _case(
            act,
            LARGE,
            "values where exp(±x) overflows",
            on(torch.tensor(near)),
            f"torch.tensor({near})",
        ),
        _case(
            act,
            WIDE,
            "float64 input",
            on(5 * torch.randn(3, 4, generator=g, dtype=torch.float64)),
            "5 * torch.randn(3, 4, dtype=torch.float64)",
        ),
        _case(
            act,
            WIDE,
            "large float64 values",
            on(torch.tensor(large64, dtype=torch.float64)),
            f"torch.tensor({large64}, dtype=torch.float64)",
        ),
    ]
    if seed is not None:
        cases += _hidden_cases(act, seed, device)
    return cases


def _parts(act: Activation) -> list[Part]:
    small, large, wide, hidden = act.points
    return [
        Part(SMALL, small),
        Part(LARGE, large),
        Part(WIDE, wide),
        Part(HIDDEN, hidden, hidden=True),
    ]


def _hidden_cases(act: Activation, seed: int, device: torch.device) -> list[Case]:
    """Random shapes, scales, dtypes and layouts. The first case's values lie in [-3, 3), at
    least one in each unit interval there (where the visible small values are: a mistake
    that shows on them shows on it, whatever the draw); the others are of scale 30 to 3000."""
    g = generator(seed, 4321)
    cases = []
    for number in range(4):
        ndim = int(torch.randint(1, 4, (1,), generator=g))
        shape = tuple(int(s) for s in torch.randint(2, 6, (ndim,), generator=g))
        dtype = torch.float64 if number % 2 else torch.float32
        if number == 0:
            shape = (6, *shape[1:])
        dims = ", ".join(str(s) for s in shape)
        kind = "" if dtype == torch.float32 else ", dtype=torch.float64"
        if number == 0:
            x = 6 * torch.rand(shape, generator=g, dtype=dtype) - 3
            x.view(-1)[:6] = torch.arange(-3.0, 3.0) + torch.rand(6, generator=g)
            code = f"6 * torch.rand({dims}{kind}) - 3"
            spread = "in [-3, 3)"
        else:
            scale = [30.0, 300.0, 3000.0][number - 1]
            x = scale * torch.randn(shape, generator=g, dtype=dtype)
            code = f"{scale:g} * torch.randn({dims}{kind})"
            spread = f"of scale {scale:g}"
        transposed = ndim >= 2 and number >= 2
        description = f"random {ndim}-d {str(dtype).removeprefix('torch.')} values {spread}"
        if transposed:
            description += ", transposed"
        cases.append(_case(act, HIDDEN, description, x.to(device), code, transposed=transposed))
    return cases


# ------------------------------------------------------------------------ the experiments


def _trial(lab: Lab, index: int, key: str, x: torch.Tensor, act: Activation):
    """The student's answer on ``x`` (judged against the reference), or None."""
    return lab.trial((key, index), lab.runs[index].case, (x,), {}, act.reference(x))


def _value(lab: Lab, index: int, key: str, x: torch.Tensor, act: Activation):
    """The student's tensor on ``x``, or None when the call fails or gives no tensor."""
    trial = _trial(lab, index, key, x, act)
    if trial is None or not trial.answered or not isinstance(trial.value, torch.Tensor):
        return None
    return trial.value


def _number(value: float) -> str:
    return f"{value:.4g}".replace("-", "−")


def _crash(act: Activation, error: Raised) -> str | None:
    """What Python's own error says about elementwise code."""
    if "Boolean value of Tensor" in error.message:
        return PYTHON_LOGIC
    if "only one element tensors can be converted" in error.message:
        return PYTHON_NUMBER
    return None


def _returned(act: Activation) -> Experiment:
    """What the answer is when it is not a tensor of the right shape: a Python number, a
    NumPy array, a True/False mask, the right values in another shape."""

    def experiment(lab: Lab, index: int) -> Finding | None:
        ran = lab.runs[index]
        if ran.raised is not None or ran.verdict is None:
            return None
        got, x = ran.value, _seen(ran.case)
        if not isinstance(got, torch.Tensor):
            if isinstance(got, int | float) and not isinstance(got, bool) and x.ndim == 0:
                return Finding(PYTHON_FLOAT, "type", strength=0)
            if type_name(got) == "ndarray":
                return Finding(NUMPY_ARRAY, "type", strength=0)
            return None
        return None

    return experiment


def _values(ran, finite: bool = False) -> tuple | None:
    """``(got, expected, x)`` when the answer is a tensor like the right one (shape, dtype,
    device) with wrong values (``finite``: and no nan or inf where the answer is finite);
    else None."""
    if ran.raised is not None or ran.verdict is None:
        return None
    got, expected = ran.value, ran.case.expected
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
        return None
    if got.dtype != expected.dtype or got.device != expected.device:
        return None
    if finite and (~torch.isfinite(got) & torch.isfinite(expected)).any():
        return None
    return got, expected, _seen(ran.case)


def _overflow(act: Activation) -> Experiment:
    """Where the first nan or inf appears on each side of 0, and which exponential overflows
    there: eˣ past ln(max), e²ˣ past ln(max) / 2 (likewise e⁻ˣ, e⁻²ˣ for negative x)."""

    def experiment(lab: Lab, index: int) -> Finding | None:
        found = _values(lab.runs[index])
        if found is None:
            return None
        got, expected, x = found
        wrong = got[~torch.isfinite(got) & torch.isfinite(expected)]
        if wrong.numel() == 0:
            return None
        kinds = [
            k for k, has in (("nan", wrong.isnan().any()), ("inf", wrong.isinf().any())) if has
        ]
        dtype = x.dtype
        top = torch.finfo(dtype).max
        limit = float(torch.log(torch.tensor(top, dtype=torch.float64)))
        steps = [limit / 2 - 0.5, limit / 2 + 0.5, limit - 0.5, limit + 0.5, 2 * limit]
        points = torch.tensor([-s for s in reversed(steps)] + steps, dtype=dtype, device=x.device)
        answer = _value(lab, index, "overflow points", points, act)
        if answer is None or answer.shape != points.shape:
            return None
        finite = torch.isfinite(answer).tolist()
        up, down = _onset(finite[len(steps) :]), _onset(finite[: len(steps)][::-1])
        if up is None or down is None or up == down == 0:
            return None
        where, terms = [], []
        for onset, sign, doubled, single in ((up, "", "e²ˣ", "eˣ"), (down, "−", "e⁻²ˣ", "e⁻ˣ")):
            if onset:
                edge = limit / 2 if onset == 1 else limit
                where.append(f"x {'>' if not sign else '<'} {sign}{_number(edge)}")
                terms.append(doubled if onset == 1 else single)
        name = str(dtype).removeprefix("torch.")
        verb = "overflows" if len(terms) == 1 else "overflow"
        sentence = (
            f"returns {' and '.join(kinds)} for {' and for '.join(where)} ({name}), where the "
            f"answer is finite: there {' and '.join(terms)} {verb} to inf ({name}'s largest "
            f"number is about {top:.3g})"
            + (
                ", and inf / inf (or inf − inf, 0 · inf) is nan. "
                if "nan" in kinds
                else ", and the result with it. "
            )
            + act.overflow
        )
        detail = "Called on " + ", ".join(_number(float(v)) for v in points) + "."
        return Finding(sentence, "where", detail, strength=1)

    return experiment


def _onset(finite: list[bool]) -> int | None:
    """For one side of 0 (|x| growing): 1 when values stop being finite past ln(max) / 2, 2
    past ln(max), 0 when all are finite, None when there is no such clean edge."""
    if finite == [True, False, False, False, False]:
        return 1
    if finite == [True, True, True, False, False]:
        return 2
    return 0 if all(finite) else None


def _not_elementwise(act: Activation) -> Experiment:
    """Change the second half of ``x``'s values only: the first half of the answer must
    stay as it was."""

    def experiment(lab: Lab, index: int) -> Finding | None:
        found = _values(lab.runs[index])
        if found is None:
            return None
        got, expected, x = found
        n = x.numel()
        if n < 4:
            return None
        changed = x.clone().contiguous()
        flat = changed.view(-1)
        flat[n // 2 :] = flat[n // 2 :] * 0.5 + 0.25
        answer = _value(lab, index, "second half changed", changed, act)
        if answer is None or answer.shape != got.shape:
            return None
        kept, before = answer.reshape(-1)[: n // 2], got.reshape(-1)[: n // 2]
        finite = torch.isfinite(kept) & torch.isfinite(before)
        if finite.sum() < 2 or close(kept[finite], before[finite]):
            return None
        return Finding(NOT_ELEMENTWISE, "elementwise", strength=1)

    return experiment


def _what_it_is(got: torch.Tensor, x: torch.Tensor, expected: torch.Tensor) -> str:
    """What ``got`` is on some values (a phrase), or ""."""
    rtol, atol = tolerance(expected.dtype)

    def same(a, b):
        return torch.allclose(a, b.to(a.dtype), rtol=rtol, atol=atol)

    if same(got, torch.zeros_like(got)):
        return "0"
    if same(got, x):
        return "x itself"
    if same(got, -x):
        return "−x"
    for base, phrase in ((x, "x"), (expected, "the right value")):
        if (base.abs() > 1e-6).all():
            ratio = got / base
            if same(ratio, ratio.flatten()[:1].expand_as(ratio)):
                return f"{_number(float(ratio.flatten()[0]))} × {phrase}"
    return ""


def _regions(act: Activation) -> Experiment:
    """Right on some region of the inputs (by sign, or up to some |x|), wrong on the rest."""

    def experiment(lab: Lab, index: int) -> Finding | None:
        found = _values(lab.runs[index], finite=True)
        if found is None:
            return None
        got, expected, x = found
        rtol, atol = tolerance(expected.dtype)
        wrong = ~torch.isclose(got, expected, rtol=rtol, atol=atol, equal_nan=True)
        if wrong.all() or not wrong.any():
            return None
        right_names, wrong_names = [], []
        for label, mask in (("x < 0", x < 0), ("x = 0", x == 0), ("x > 0", x > 0)):
            if not mask.any():
                continue
            if wrong[mask].all():
                wrong_names.append(label)
            elif not wrong[mask].any():
                right_names.append(label)
            else:
                break
        else:
            if (~wrong).sum() < 2:  # one right value (at x = 0, say) shows no region
                return None
            labels = " and ".join(wrong_names)
            what = _what_it_is(got[wrong], x[wrong], expected[wrong])
            tail = f", where it returns {what}" if what else ""
            return Finding(
                f"right for {' and '.join(right_names)} but not for {labels}{tail}. "
                f"Check what your {act.name} does for {labels}.",
                "where",
                strength=0,
            )
        size = x.abs()
        if wrong.sum() >= 2 and (~wrong).sum() >= 2:
            largest_right, smallest_wrong = size[~wrong].max(), size[wrong].min()
            if largest_right < smallest_wrong:
                return Finding(
                    f"right for |x| ≤ {_number(float(largest_right))} but not for larger |x| "
                    f"(wrong from |x| = {_number(float(smallest_wrong))} on): check what your "
                    f"formula does with large positive and negative values.",
                    "where",
                    strength=0,
                )
        return None

    return experiment


def _argument(act: Activation) -> Experiment:
    """The answer is the right function of k·x instead of x."""

    def experiment(lab: Lab, index: int) -> Finding | None:
        found = _values(lab.runs[index], finite=True)
        if found is None:
            return None
        got, _, x = found
        for k, text in ((-1.0, "−x"), (2.0, "2x"), (0.5, "x / 2"), (-2.0, "−2x"), (-0.5, "−x / 2")):
            if close(act.reference(k * x), got):
                return Finding(
                    f"every value is {act.name}({text}), not {act.name}(x): check how x enters "
                    "your formula.",
                    "relation",
                    strength=0,
                )
        k = _scale_inside(act, x, got)
        if k is not None and close(act.reference(k * x), got):
            return Finding(
                f"every value is {act.name}(k·x) with k = {_number(k)}, not {act.name}(x): "
                "check the factor of x inside your formula.",
                "relation",
                strength=0,
            )
        return None

    return experiment


def _scale_inside(act: Activation, x: torch.Tensor, got: torch.Tensor) -> float | None:
    """The k with got = f(k·x) for every value, when the sigmoid or tanh can be inverted
    there (values not saturated, x not near 0) and one k fits them all; else None."""
    inverse = {"sigmoid": torch.logit, "tanh": torch.atanh}.get(act.name)
    if inverse is None:
        return None
    y, x = got.double().flatten(), x.double().flatten()
    low = 0.0 if act.name == "sigmoid" else -1.0
    usable = (x.abs() > 0.1) & (y > low + 1e-6) & (y < 1 - 1e-6)
    if usable.sum() < 3:
        return None
    k = inverse(y[usable]) / x[usable]
    if not torch.allclose(k, k[:1].expand_as(k), rtol=1e-3, atol=1e-4):
        return None
    value = float(k.mean())
    return None if abs(value - 1) < 1e-3 or abs(value) < 1e-3 else value


def _informative(experiment: Experiment) -> Experiment:
    """``experiment`` only on a case with values where the functions differ: on values that
    are nearly all saturated (|x| > 5) a wrong formula can look like a constant offset or
    factor that it is not elsewhere."""

    def guarded(lab: Lab, index: int):
        if int((_seen(lab.runs[index].case).abs() <= 5).sum()) < 3:
            return None
        return experiment(lab, index)

    return guarded


def _like_expected(experiment: Experiment) -> Experiment:
    """``experiment`` only for an answer of the expected dtype (a True/False mask is not a
    number it can fit)."""

    def guarded(lab: Lab, index: int):
        value, expected = lab.runs[index].value, lab.runs[index].case.expected
        if isinstance(value, torch.Tensor) and value.dtype != expected.dtype:
            return None
        return experiment(lab, index)

    return guarded


def _experiments(act: Activation) -> list[Experiment]:
    # answer-reading experiments first, those that call the function again after them
    return [
        _returned(act),
        reshaped,
        _informative(_regions(act)),
        _informative(_like_expected(scaled())),
        _informative(_argument(act)),
        ingredients(INGREDIENTS),
        _overflow(act),
        _not_elementwise(act),
    ]


def judge_open(got, case: Case) -> Verdict | None:
    """As :func:`judge_answer`, with nan or inf and an answer that is not a tensor open to
    diagnosis (a replay of the mistake, or an experiment, may explain them)."""
    verdict = judge_answer(got, case)
    if verdict is None or verdict.diagnose:
        return verdict
    if verdict.summary.startswith(OVERFLOW) or not isinstance(got, torch.Tensor):
        return Verdict(verdict.summary, verdict.detail, diagnose=True, evidence=verdict.detail)
    if got.dtype == torch.bool:  # a mask: a replay may name it
        return Verdict(verdict.summary, verdict.detail, diagnose=True, evidence=verdict.detail)
    return verdict


# ----------------------------------------------------------------------------- the checks


def _check(act: Activation, fn: Callable, seed: int | None) -> Score:
    return score_cases(
        act.name,
        fn,
        _cases(act, seed, get_device()),
        parts=_parts(act),
        names=("x",),
        judge=judge_open,
        forbid="activation",
        explain=lambda error: _crash(act, error),
        experiments=_experiments(act),
    )


def check_sigmoid(sigmoid: Callable, seed: int | None = None) -> Score:
    """Check ``sigmoid(x)`` elementwise against ``torch.sigmoid`` (2 points: small values in
    any shape and layout, large values, float64; with a ``seed`` also hidden random cases)."""
    return _check(SIGMOID, sigmoid, seed)


def check_tanh(tanh: Callable, seed: int | None = None) -> Score:
    """Check ``tanh(x)`` elementwise against ``torch.tanh``, large |x| included (2 points)."""
    return _check(TANH, tanh, seed)


def check_relu(relu: Callable, seed: int | None = None) -> Score:
    """Check ``relu(x) = max(x, 0)`` elementwise against ``torch.relu`` (1 point)."""
    return _check(RELU, relu, seed)
