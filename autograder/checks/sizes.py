"""Checks for the arithmetic of convolutional layers: parameter counts, output size, padding."""

from collections.abc import Callable
from dataclasses import dataclass
from numbers import Integral
from typing import Any

import torch

from ._cases import (
    Case,
    Finding,
    Judged,
    Mistake,
    Part,
    Variant,
    Verdict,
    pair,
    report,
    score_cases,
)
from ._experiments import Ingredient, ingredients
from ._score import PartResult, Score
from ._seeds import generator, integers, off_grid, oriented
from ._student import type_name
from .dense import COUNT_BIAS_FALSE, judge_int, shown

FC_SEES_ALL = "a fully connected neuron sees every value: 32 × 32 pixels × 3 channels."
FC_BIAS_NOT_WEIGHT = "the bias is not a weight: (weights, biases) = (32·32·3, 1)."
NEURON_ONE_BIAS = "a neuron has one bias."
FILTER_SPANS_CHANNELS = "a 5×5 filter on a 3-channel image spans all 3 channels: 5 × 5 × 3 weights."
FILTER_BIAS_NOT_WEIGHT = "the bias is not a weight: (weights, biases) = (5·5·3, 1)."
FILTER_BIAS_PER_CHANNEL = "one filter has one bias, however many input channels it spans."
FILTER_ONE_BIAS = "a filter has one bias."
COUNT_AGAIN = "count again: (weights, biases) of a single unit."
NOT_A_PAIR = "should be a pair (weights, biases), like (10, 1)"

CONV_COUNT_CHANNELS = "each filter spans all input channels: C_out × C_in × K_h × K_w weights."
CONV_COUNT_BIAS_PER_INPUT = "one bias per filter (per output channel), not per input channel."
CONV_COUNT_ONE_FILTER = (
    "there are C_out filters, each with C_in × K_h × K_w weights: C_out × C_in × K_h × K_w in all."
)
CONV_COUNT_NO_BIAS = "count the biases too: one per output channel."
CONV_COUNT_KERNEL_K = "a K×K kernel has K·K weights per channel, not K."
CONV_COUNT_KERNEL_KH = "a (K_h, K_w) kernel has K_h·K_w weights per channel."


def _conv_count_mistakes(c_in, c_out, kernel_size, bias) -> list[Mistake]:
    k_h, k_w = pair(kernel_size)
    weights = c_out * c_in * k_h * k_w
    b = c_out if bias else 0
    found = [
        Mistake(CONV_COUNT_CHANNELS, c_out * k_h * k_w + b),
        Mistake(CONV_COUNT_BIAS_PER_INPUT, weights + (c_in if bias else 0)),
        Mistake(CONV_COUNT_ONE_FILTER, c_in * k_h * k_w + b) if c_out > 1 else None,
        Mistake(CONV_COUNT_NO_BIAS, weights) if bias else None,
        Mistake(COUNT_BIAS_FALSE, weights + c_out) if not bias else None,
        Mistake(CONV_COUNT_KERNEL_K, c_out * c_in * k_h + b),
        Mistake(CONV_COUNT_KERNEL_KH, c_out * c_in * k_h * k_h + b) if k_h != k_w else None,
    ]
    return [m for m in found if m is not None]


SIZE_PADDING_ONCE = "padding goes on both sides: use n + 2P, not n + P."
SIZE_PLUS_ONE = "off by one: the formula is ⌊(n + 2P − K) / S⌋ + 1 (don't forget the + 1)."
SIZE_PLUS_TWO = "off by one: the formula is ⌊(n + 2P − K) / S⌋ + 1."
SIZE_ROUND_DOWN = "round down (⌊·⌋): a window that does not fit is not used."
SIZE_STRIDE_DIVIDES = "the stride divides (n + 2P − K), before the + 1."
SIZE_STRIDE_IGNORED = "the stride is ignored: divide (n + 2P − K) by S."
SAME_PADDING_TOTAL = "P is the padding on each side: the two sides together add K − 1."
SAME_PADDING_ROUNDED_UP = "with stride 1, n + 2P − K + 1 = n needs P = (K − 1) / 2."


# ------------------------------------------------------------------------ conv_output_shape

SHOULD_RAISE_VALUE_ERROR = "should raise ValueError"


def probe_raises(fn: Callable, *args, **kwargs):
    """``fn(*args, **kwargs)`` where it runs, with a ValueError reported as data (a case whose
    right answer is that error): ``{"raised": "ValueError"}``, else ``{"returned": value}``.
    Other exceptions go on as they are."""
    try:
        value = fn(*args, **kwargs)
    except ValueError:
        return {"raised": "ValueError"}
    return {"returned": value}


def _expects_error(case: Case) -> bool:
    return isinstance(case.expected, dict)


def _judge_error(got: Any, case: Case) -> Verdict | None:
    """A case whose right answer is a ValueError (run through :func:`probe_raises`)."""
    if isinstance(got, dict) and got.get("raised") == "ValueError":
        return None
    value = got.get("returned") if isinstance(got, dict) else got
    return Verdict(
        f"{SHOULD_RAISE_VALUE_ERROR} for {case.expected['why']}, but returned {shown(value)}.",
        diagnose=True,
        evidence=f"returned {shown(value)}.",
    )


def _error_case(part: str, description: str, args: tuple, kwargs: dict, why: str) -> Case:
    return Case(
        description=description,
        args=args,
        kwargs=kwargs,
        expected={"raised": "ValueError", "why": why},
        part=part,
        probe=probe_raises,
    )


def judge_int_tuple(got: Any, case: Case) -> Verdict | None:
    """Judge an answer that must be a tuple of ints (``case.expected``), or a ValueError."""
    if _expects_error(case):
        return _judge_error(got, case)
    expected = case.expected
    names = case.parts or tuple(f"value {i + 1}" for i in range(len(expected)))
    if not isinstance(got, tuple):
        if isinstance(got, list) and len(got) == len(expected):
            return Verdict(f"returns a list; return a tuple ({', '.join(names)}).")
        return Verdict(
            f"should return a tuple ({', '.join(names)}), but returned {shown(got)} ({type_name(got)}).",
            diagnose=True,
            evidence=f"got {shown(got)}, expected {tuple(expected)!r}.",
        )
    if len(got) != len(expected):
        return Verdict(
            f"should return {len(expected)} numbers ({', '.join(names)}), but returned "
            f"{len(got)}: {shown(got)}.",
            diagnose=True,
            evidence=f"got {shown(got)}, expected {expected!r}.",
        )
    for name, value in zip(names, got, strict=True):
        if isinstance(value, float):
            return Verdict(
                f"{name} is {shown(value)}, a float: return ints (// divides and rounds down to an "
                "int; / gives a float)."
            )
        if isinstance(value, bool) or not isinstance(value, Integral):
            return Verdict(
                f"{name} should be an int, but it is {shown(value)} ({type_name(value)})."
            )
    if tuple(int(v) for v in got) == tuple(expected):
        return None
    wrong = [n for n, v, r in zip(names, got, expected, strict=True) if v != r]
    return Verdict(
        f"returned {shown(got)}; expected {tuple(expected)!r}.",
        diagnose=True,
        evidence=f"got {shown(got)}, expected {tuple(expected)!r} ({' and '.join(wrong)} wrong).",
    )


def output_shape(x_shape, weight_shape, stride=1, padding=0) -> tuple[int, int, int, int]:
    """The reference: ``(N, C_out, H_out, W_out)`` (no validation)."""
    (s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)
    n, _, h, w = x_shape
    c_out, _, k_h, k_w = weight_shape
    return n, c_out, (h + 2 * p_h - k_h) // s_h + 1, (w + 2 * p_w - k_w) // s_w + 1


OUT_C_IN = (
    "C_out is weight_shape[0], the number of filters; weight_shape[1] is C_in, which must "
    "match x's."
)
OUT_HW_ONLY = "return the whole shape (N, C_out, H_out, W_out), not only (H_out, W_out)."
OUT_NHWC = "the shape is channels first, as PyTorch stores it: (N, C_out, H_out, W_out)."
OUT_HW_SWAPPED = "H_out and W_out are swapped: the shape is (N, C_out, H_out, W_out)."
OUT_SQUARE = (
    "W_out is computed like H_out, from the height: W_out comes from W = x_shape[3], "
    "K_w = weight_shape[3], S_w and P_w."
)
OUT_KERNEL_SWAPPED = (
    "K_h is weight_shape[2] and K_w is weight_shape[3] (the kernel's height first)."
)
OUT_PAIR_FIRST = (
    "only the first number of a (height, width) pair is used, for both axes: "
    "stride=(S_h, S_w) and padding=(P_h, P_w) give each axis its own value."
)
OUT_PAIR_SWAPPED = (
    "a (height, width) pair is used the wrong way round: stride=(S_h, S_w) and "
    "padding=(P_h, P_w) give the height first."
)
OUT_PRODUCT = "the shape's numbers are multiplied together: return them as a tuple."
PAIRS_UNSUPPORTED = (
    "stride and padding may be (height, width) pairs as well as ints: start with "
    "(S_h, S_w), (P_h, P_w) = pair(stride), pair(padding) (or your own code that does this)."
)
OUT_INGREDIENTS = [
    Ingredient(
        "stride",
        "the stride is not 1",
        "the stride is 1",
        "the stride divides (H + 2P − K) before the + 1: H_out = ⌊(H + 2P − K) / S⌋ + 1.",
    ),
    Ingredient(
        "padding",
        "there is padding",
        "there is none",
        "P zeros are added on each side, so the padded height is H + 2P: "
        "H_out = ⌊(H + 2P − K) / S⌋ + 1, and a kernel larger than the input is fine when the "
        "padded input is as large as the kernel.",
    ),
    Ingredient(
        "pairs", "stride or padding is a (height, width) pair", "they are ints", PAIRS_UNSUPPORTED
    ),
]
SHAPE_NAMES = ("N", "C_out", "H_out", "W_out")
BASIC, STRIDE, PADDING, PAIRS, INVALID, HIDDEN = (
    "stride 1, no padding",
    "stride",
    "padding",
    "(height, width) pairs",
    "ValueError for an impossible layer",
    "hidden random cases",
)


def _axis(n, k, s, p, slip=None) -> int:
    if slip == "padding once":
        return (n + p - k) // s + 1
    if slip == "no + 1":
        return (n + 2 * p - k) // s
    if slip == "+ 2":
        return (n + 2 * p - k) // s + 2
    if slip == "round up":
        return -((n + 2 * p - k) // -s) + 1
    if slip == "stride divides all":
        return (n + 2 * p - k + 1) // s
    if slip == "stride ignored":
        return n + 2 * p - k + 1
    return (n + 2 * p - k) // s + 1


AXIS_SLIPS = [
    (SIZE_PADDING_ONCE, "padding once"),
    (SIZE_PLUS_ONE, "no + 1"),
    (SIZE_PLUS_TWO, "+ 2"),
    (SIZE_ROUND_DOWN, "round up"),
    (SIZE_STRIDE_DIVIDES, "stride divides all"),
    (SIZE_STRIDE_IGNORED, "stride ignored"),
]


@dataclass
class Counted(Case):
    """A case of a count or a shape. ``replays`` are its known misconceptions' answers, named
    by :func:`confirmed_replays` only when every other case agrees with them and another wrong
    answer confirms them: small numbers coincide (a padding of 1 and a batch of 2 give the
    same count as a forgotten N), which a tensor's values rarely do."""

    replays: Callable[[], list[Mistake]] = list


def confirmed_replays(normalize: Callable[[Any, Case], Any] | None = None) -> Callable:
    """The experiment that names a replay of a :class:`Counted` case: it gives this wrong
    answer, every other case's answer is what it gives there (right answers included, where
    it gives the right answer), and at least one other wrong answer is it."""

    def outputs(case: Case) -> dict[str, tuple[str, Any]]:
        found = {}
        for mistake in getattr(case, "replays", list)():
            output = mistake.output
            if normalize is not None:
                output = normalize(output, case)
                if isinstance(output, Verdict):
                    continue
            found.setdefault(mistake.key, (mistake.message, output))
        return found

    def experiment(lab, index: int) -> Finding | None:
        ran = lab.runs[index]
        if not ran.answered or ran.verdict is None or not ran.verdict.diagnose:
            return None
        others = [(r, outputs(r.case)) for r in lab.runs if r is not ran and r.answered]
        named = set()
        for key, (message, output) in outputs(ran.case).items():
            if not _equal(ran.value, output):
                continue
            confirmed, contradicted = 0, False
            for other, replays in others:
                if key not in replays:
                    continue
                given = replays[key][1]
                if other.verdict is None:
                    contradicted = not _equal(other.case.expected, given)
                elif _equal(other.value, given):
                    confirmed += 1
                else:
                    contradicted = True
                if contradicted:
                    break
            if confirmed and not contradicted:
                named.add(message)
        if len(named) != 1:
            return None  # none, or two that fit as well: a guess is worse than nothing
        return Finding(named.pop(), about="replay", strength=2)

    return experiment


def _equal(got: Any, expected: Any) -> bool:
    """Ints and tuples of ints as a count or a shape compares them (no tensors here)."""
    if isinstance(expected, tuple):
        return (
            isinstance(got, tuple | list)
            and len(got) == len(expected)
            and all(_equal(g, e) for g, e in zip(got, expected, strict=True))
        )
    return isinstance(got, int | float) and not isinstance(got, bool) and got == expected


def _shape_mistakes(x_shape, weight_shape, stride, padding) -> list[Mistake]:
    n, c_in, h, w = x_shape
    c_out, _, k_h, k_w = weight_shape
    (s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)
    h_out, w_out = _axis(h, k_h, s_h, p_h), _axis(w, k_w, s_w, p_w)
    found = [
        Mistake(OUT_C_IN, (n, c_in, h_out, w_out)),
        Mistake(OUT_HW_ONLY, (h_out, w_out)),
        Mistake(OUT_NHWC, (n, h_out, w_out, c_out)),
        Mistake(OUT_HW_SWAPPED, (n, c_out, w_out, h_out)),
        Mistake(OUT_SQUARE, (n, c_out, h_out, _axis(h, k_h, s_h, p_h))),
        Mistake(OUT_KERNEL_SWAPPED, (n, c_out, _axis(h, k_w, s_h, p_h), _axis(w, k_h, s_w, p_w))),
        Mistake(OUT_PAIR_FIRST, (n, c_out, h_out, _axis(w, k_w, s_h, p_h)), key="pair first"),
        Mistake(OUT_PAIR_SWAPPED, (n, c_out, _axis(h, k_h, s_w, p_w), _axis(w, k_w, s_h, p_h))),
        Mistake(OUT_PRODUCT, n * c_out * h_out * w_out),
    ]
    for message, slip in AXIS_SLIPS:
        found.append(
            Mistake(
                message, (n, c_out, _axis(h, k_h, s_h, p_h, slip), _axis(w, k_w, s_w, p_w, slip))
            )
        )
    return found


def _layer_kwargs(stride, padding) -> dict:
    """The keyword arguments a case passes: stride and padding where not the defaults."""
    return {
        k: v for k, v, default in (("stride", stride, 1), ("padding", padding, 0)) if v != default
    }


def _layer_features(stride, padding) -> set[str]:
    (s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)
    features = {"always"}
    features |= {"stride"} if (s_h, s_w) != (1, 1) else set()
    features |= {"padding"} if (p_h, p_w) != (0, 0) else set()
    features |= {"pairs"} if not isinstance(stride, int) or not isinstance(padding, int) else set()
    return features


def _layer_variants(x_shape, weight_shape, kwargs, features, answer: Callable) -> list[Variant]:
    """The same layer with one ingredient taken away: stride 1; the padding applied to the
    input's shape instead (the same answer); pairs replaced by their first numbers.
    ``answer(x_shape, weight_shape, **kwargs)``: the right answer for those arguments."""
    (s_h, _), (p_h, p_w) = pair(kwargs.get("stride", 1)), pair(kwargs.get("padding", 0))
    found = []
    if "stride" in features:
        rest = {k: v for k, v in kwargs.items() if k != "stride"}
        found.append(
            Variant(
                "stride",
                (x_shape, weight_shape),
                rest,
                answer(x_shape, weight_shape, **rest),
                "stride=1",
            )
        )
    if "padding" in features:
        n, c, h, w = x_shape
        padded = (n, c, h + 2 * p_h, w + 2 * p_w)
        rest = {k: v for k, v in kwargs.items() if k != "padding"}
        found.append(
            Variant(
                "padding",
                (padded, weight_shape),
                rest,
                answer(padded, weight_shape, **rest),
                f"the padded input's shape {padded} and padding=0 (the same answer)",
            )
        )
    if "pairs" in features:
        ints = {**kwargs, **({"stride": s_h} if "stride" in kwargs else {})}
        ints = {**ints, **({"padding": p_h} if "padding" in kwargs else {})}
        said = ", ".join(f"{k}={v}" for k, v in ints.items() if k in ("stride", "padding"))
        found.append(
            Variant(
                "pairs",
                (x_shape, weight_shape),
                ints,
                answer(x_shape, weight_shape, **ints),
                f"ints ({said})",
            )
        )
    return found


def _shape_case(part, x_shape, weight_shape, stride=1, padding=0) -> Case:
    kwargs = _layer_kwargs(stride, padding)
    expected = output_shape(x_shape, weight_shape, stride, padding)
    features = _layer_features(stride, padding)

    def variants() -> list[Variant]:
        return _layer_variants(x_shape, weight_shape, kwargs, features, output_shape)

    return Counted(
        description=f"x_shape={x_shape}, weight_shape={weight_shape}, stride={stride}, padding={padding}",
        args=(x_shape, weight_shape),
        kwargs=kwargs,
        expected=expected,
        parts=SHAPE_NAMES,
        replays=lambda: _shape_mistakes(x_shape, weight_shape, stride, padding),
        features=frozenset(features),
        part=part,
        variants=variants,
    )


def _other_error(lab, index: int) -> Finding | None:
    """A case whose right answer is a ValueError raised another exception."""
    ran = lab.runs[index]
    if ran.raised is None or not _expects_error(ran.case) or ran.raised.is_a("ValueError"):
        return None
    valid = [r for r in lab.runs if not _expects_error(r.case)]
    if any(r.raised is not None and r.raised.type_name == ran.raised.type_name for r in valid):
        return None  # it raises that on possible layers too: not a matter of the check
    return Finding(
        f"raises {ran.raised.type_name} for {ran.case.expected['why']}; it should raise "
        'ValueError (raise ValueError("...") with a message that says why).',
        about="error type",
        strength=1,
    )


def _valid_raises(lab, index: int) -> Finding | None:
    """A ValueError for a layer that is possible."""
    ran = lab.runs[index]
    if ran.raised is None or _expects_error(ran.case) or not ran.raised.is_a("ValueError"):
        return None
    return Finding(
        f"raises ValueError for a possible layer ({ran.case.description}): there the kernel "
        "fits the padded input (K_h ≤ H + 2P_h and K_w ≤ W + 2P_w), C_in agrees, the stride is "
        "at least 1 and the padding at least 0. Check the conditions of your ValueError.",
        about="error type",
        strength=0,
    )


def _components(lab, index: int) -> Finding | None:
    """Which numbers of a tuple answer are right and which are not."""
    ran = lab.runs[index]
    if not ran.answered or ran.verdict is None or _expects_error(ran.case):
        return None
    got, expected, names = ran.value, ran.case.expected, ran.case.parts
    if not isinstance(got, tuple) or len(got) != len(expected) or not names:
        return None
    right = [n for n, g, e in zip(names, got, expected, strict=True) if g == e]
    wrong = [n for n, g, e in zip(names, got, expected, strict=True) if g != e]
    if not right or not wrong:
        return None
    verb = "is" if len(right) == 1 else "are"
    return Finding(
        f"{' and '.join(right)} {verb} right; {' and '.join(wrong)} {'is' if len(wrong) == 1 else 'are'} not.",
        about="components",
        strength=0,
    )


def _invalid_cases(part: str) -> list[Case]:
    return [
        _error_case(
            part,
            "C_in of x differs from weight's",
            ((2, 3, 8, 8), (4, 2, 3, 3)),
            {},
            "x with 3 input channels and a weight made for 2",
        ),
        _error_case(
            part,
            "kernel taller than the input",
            ((1, 2, 4, 9), (3, 2, 5, 3)),
            {},
            "a 5-high kernel on a 4-high input with no padding",
        ),
        _error_case(
            part,
            "kernel wider than the padded input",
            ((1, 2, 9, 3), (3, 2, 3, 8)),
            {"padding": (1, 2)},
            "an 8-wide kernel on a 3-wide input padded to 7",
        ),
        _error_case(
            part,
            "kernel one row taller than the padded input",
            ((1, 1, 4, 9), (1, 1, 7, 3)),
            {"padding": 1},
            "a 7-high kernel on a 4-high input padded to 6",
        ),
        _error_case(
            part,
            "kernel one column wider than the padded input",
            ((1, 1, 9, 3), (1, 1, 3, 10)),
            {"padding": (1, 3)},
            "a 10-wide kernel on a 3-wide input padded to 9",
        ),
        _error_case(part, "stride 0", ((1, 1, 8, 8), (1, 1, 3, 3)), {"stride": 0}, "stride 0"),
        _error_case(
            part,
            "a stride pair with a 0",
            ((1, 1, 8, 8), (1, 1, 3, 3)),
            {"stride": (2, 0)},
            "stride (2, 0)",
        ),
        _error_case(
            part, "negative padding", ((1, 1, 8, 8), (1, 1, 3, 3)), {"padding": -1}, "padding −1"
        ),
        _error_case(
            part,
            "a padding pair with a negative",
            ((1, 1, 8, 8), (1, 1, 3, 3)),
            {"padding": (0, -2)},
            "padding (0, −2)",
        ),
    ]


SHAPE_ROLES = ("basic", "stride", "padding", "wide pairs", "tall pairs", "random")


def _random_shape_cases(seed: int) -> list[Case]:
    """Random layers, one per role, and one impossible layer of each kind the visible part
    has, so that every draw has each ingredient the visible parts test: ``basic`` stride 1,
    no padding, a kernel as large as the input on one axis; ``stride`` an int stride of 2 to
    4 that leaves a remainder, no padding; ``padding`` stride 1, an int padding and a kernel
    larger than the input plus one side's padding on one axis (it fits only with both
    sides'); ``wide pairs`` (h, w) pairs, every w quantity larger than its h counterpart
    (:func:`~._seeds.oriented`), ``tall pairs`` every h quantity; ``random`` anything valid.
    Outside ``random``, N, C_in and C_out are all different and above 1. Sizes are random."""
    draw = integers(seed, 202)

    cases = []
    for role in SHAPE_ROLES:
        k_h, k_w = draw(1, 7), draw(1, 7)
        s_h, s_w, p_h, p_w = draw(1, 4), draw(1, 4), draw(0, 3), draw(0, 3)
        as_pairs = draw(0, 1) == 1
        extra_h, extra_w = draw(0, 30), draw(0, 30)
        n, c_in, c_out = draw(1, 64), draw(1, 64), draw(1, 64)
        tall = draw(0, 1) == 1  # the axis a role's kernel fills
        if role != "random":  # N, C_in and C_out all different: a swapped one shows
            n, c_in = draw(2, 32), draw(33, 64)
            c_out = c_in + draw(1, 64)
        if role == "basic":
            s_h, p_h, as_pairs = 1, 0, False
            extra_h, extra_w = (0, extra_w) if tall else (extra_h, 0)
        elif role == "stride":
            s_h, p_h, as_pairs = draw(2, 4), 0, False
        elif role == "padding":
            s_h, p_h, as_pairs = 1, draw(1, 3), False
        if not as_pairs:
            s_w, p_w = s_h, p_h
        h = max(1, k_h - 2 * p_h) + extra_h
        w = max(1, k_w - 2 * p_w) + extra_w
        if role == "stride":
            h, w = off_grid(h, k_h, s_h, 0), off_grid(w, k_w, s_h, 0)
        elif role.endswith("pairs"):
            as_pairs = True
            (h, w), (k_h, k_w), (s_h, s_w), (p_h, p_w) = oriented(
                draw, role == "wide pairs", kernel=7, stride=4, padding=3, extra=8
            )
        if role == "padding":  # on one axis H + P < K ≤ H + 2P: it fits with both sides' padding
            fill = draw(0, p_h - 1)
            k_h, k_w = (h + 2 * p_h - fill, k_w) if tall else (k_h, w + 2 * p_h - fill)
        stride = (s_h, s_w) if as_pairs else s_h
        padding = (p_h, p_w) if as_pairs else p_h
        cases.append(_shape_case(HIDDEN, (n, c_in, h, w), (c_out, c_in, k_h, k_w), stride, padding))
    return cases + _random_invalid_cases(draw)


def _random_invalid_cases(draw: Callable[[int, int], int]) -> list[Case]:
    """The impossible layers of the visible part, each at its edge (a kernel one row or one
    column larger than the padded input, a stride of 0, a padding of −1: a test off by one
    shows, whatever the draw), the channels, sizes and which number of a pair is wrong drawn."""
    c, h, w, p_h, p_w = draw(2, 9), draw(1, 9), draw(1, 9), draw(1, 3), draw(1, 3)

    def pair_with(bad: int) -> tuple[int, int]:
        return (bad, draw(1, 3)) if draw(0, 1) else (draw(1, 3), bad)

    stride, padding = pair_with(0), pair_with(-1)
    other = c + draw(1, 3) if draw(0, 1) else draw(1, c - 1)
    return [
        _error_case(
            HIDDEN,
            "C_in differs",
            ((1, c, 9, 9), (2, other, 3, 3)),
            {},
            f"x with {c} input channels and a weight made for {other}",
        ),
        _error_case(
            HIDDEN,
            "kernel one row taller than the padded input",
            ((1, c, h, w + 9), (2, c, h + 2 * p_h + 1, 3)),
            {"padding": p_h},
            f"a {h + 2 * p_h + 1}-high kernel on a {h}-high input padded to {h + 2 * p_h}",
        ),
        _error_case(
            HIDDEN,
            "kernel one column wider than the padded input",
            ((1, c, h + 9, w), (2, c, 3, w + 2 * p_w + 1)),
            {"padding": (p_h, p_w)},
            f"a {w + 2 * p_w + 1}-wide kernel on a {w}-wide input padded to {w + 2 * p_w}",
        ),
        _error_case(HIDDEN, "stride 0", ((1, c, 8, 8), (1, c, 3, 3)), {"stride": 0}, "stride 0"),
        _error_case(
            HIDDEN,
            "a stride pair with a 0",
            ((1, c, 8, 8), (1, c, 3, 3)),
            {"stride": stride},
            f"stride {stride}",
        ),
        _error_case(
            HIDDEN, "negative padding", ((1, c, 8, 8), (1, c, 3, 3)), {"padding": -1}, "padding −1"
        ),
        _error_case(
            HIDDEN,
            "a padding pair with a negative",
            ((1, c, 8, 8), (1, c, 3, 3)),
            {"padding": padding},
            f"padding {padding}".replace("-", "−"),
        ),
    ]


def check_conv_output_shape(conv_output_shape: Callable, seed: int | None = None) -> Score:
    """Check ``conv_output_shape(x_shape, weight_shape, stride=1, padding=0)`` ->
    ``(N, C_out, H_out, W_out)``, a tuple of ints; stride and padding an int or an ``(h, w)``
    pair; ``ValueError`` when C_in differs, the kernel is larger than the padded input, the
    stride is below 1 or the padding negative.

    2 points: stride 1 and no padding; stride; padding (a kernel larger than the input that
    the padding makes fit included); pairs; the ValueErrors (counted only when stride 1 and
    no padding is right: a function that always raises earns nothing); with a ``seed``,
    hidden random layers.
    """
    cases = [
        _shape_case(BASIC, (2, 3, 7, 6), (4, 3, 3, 2)),
        _shape_case(BASIC, (1, 1, 5, 5), (2, 1, 5, 5)),
        _shape_case(STRIDE, (2, 3, 9, 8), (5, 3, 3, 3), stride=2),
        _shape_case(STRIDE, (3, 2, 11, 13), (4, 2, 4, 3), stride=3),
        _shape_case(PADDING, (2, 3, 5, 7), (4, 3, 3, 3), padding=1),
        _shape_case(PADDING, (1, 2, 3, 4), (3, 2, 5, 5), padding=2),
        _shape_case(PADDING, (1, 1, 3, 4), (2, 1, 7, 8), padding=2),
        _shape_case(PAIRS, (2, 3, 8, 9), (4, 3, 3, 5), stride=(2, 1), padding=(1, 2)),
        _shape_case(PAIRS, (1, 2, 10, 7), (3, 2, 4, 2), stride=(3, 2), padding=(0, 1)),
        _shape_case(PAIRS, (1, 1, 5, 2), (1, 1, 5, 8), padding=(0, 3)),
        *_invalid_cases(INVALID),
    ]
    if seed is not None:
        cases += _random_shape_cases(seed)
    return score_cases(
        "conv_output_shape",
        conv_output_shape,
        cases,
        parts=[
            Part(BASIC, 0.25),
            Part(STRIDE, 0.25),
            Part(PADDING, 0.25),
            Part(PAIRS, 0.25),
            Part(INVALID, 0.5, needs=BASIC),
            Part(HIDDEN, 0.5, hidden=True),
        ],
        names=("x_shape", "weight_shape"),
        judge=judge_int_tuple,
        experiments=[
            confirmed_replays(),
            _other_error,
            _valid_raises,
            _components,
            ingredients(OUT_INGREDIENTS),
        ],
    )


# ------------------------------------------------------------------------- conv_layer_cost

COST_NO_BATCH = "every image of the batch costs as much: multiply by N."
COST_NO_C_OUT = "each of the C_out filters gives an output channel of its own: multiply by C_out."
COST_NO_C_IN = (
    "each output value sums over all C_in input channels: C_in · K_h · K_w multiply-adds per "
    "output value."
)
COST_NO_KERNEL = "each output value takes K_h · K_w multiply-adds per input channel."
COST_INPUT_POSITIONS = (
    "the kernel is applied at H_out × W_out output positions, not at every one of the H × W "
    "input pixels."
)
COST_BIAS_ADDS = (
    "adding the bias is not a multiply-add: count N · C_out · H_out · W_out · C_in · K_h · K_w, "
    "the products of the weighted sums."
)
COST_DOUBLE = "a multiply-add is one multiplication and one addition together: count it once."
COST_INGREDIENTS = [
    Ingredient(
        "stride",
        "the stride is not 1",
        "the stride is 1",
        "the stride changes the number of output positions: H_out = ⌊(H + 2P − K) / S⌋ + 1.",
    ),
    Ingredient(
        "padding",
        "there is padding",
        "there is none",
        "padding changes the number of output positions: H_out = ⌊(H + 2P − K) / S⌋ + 1.",
    ),
    Ingredient(
        "pairs", "stride or padding is a (height, width) pair", "they are ints", PAIRS_UNSUPPORTED
    ),
    Ingredient("no bias", "bias=False", "bias=True", "with bias=False the layer has weights only."),
]
COST_PARAMS, COST_MACS, COST_MORE = (
    "parameters (with and without bias)",
    "multiply-adds (stride 1, no padding)",
    "multiply-adds with stride, padding and pairs",
)


def layer_cost(x_shape, weight_shape, stride=1, padding=0, bias=True) -> tuple[int, int]:
    """The reference: ``(parameters, multiply-adds)``."""
    n, c_out, h_out, w_out = output_shape(x_shape, weight_shape, stride, padding)
    c_out, c_in, k_h, k_w = weight_shape
    return c_out * c_in * k_h * k_w + (
        c_out if bias else 0
    ), n * c_out * h_out * w_out * c_in * k_h * k_w


def _cost_mistakes(x_shape, weight_shape, stride, padding, bias) -> list[Mistake]:
    params, macs = layer_cost(x_shape, weight_shape, stride, padding, bias)
    n, c_in, h, w = x_shape
    c_out, _, k_h, k_w = weight_shape
    (s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)
    h_out, w_out = _axis(h, k_h, s_h, p_h), _axis(w, k_w, s_w, p_w)
    weights = c_out * c_in * k_h * k_w
    found = [
        Mistake(m.message, (m.output, macs), key=m.key)
        for m in _conv_count_mistakes(c_in, c_out, (k_h, k_w), bias)
    ]
    per_position = c_in * k_h * k_w
    found += [
        Mistake(COST_NO_BATCH, (params, macs // n)) if n > 1 else None,
        Mistake(COST_NO_C_OUT, (params, macs // c_out)) if c_out > 1 else None,
        Mistake(COST_NO_C_IN, (params, macs // c_in)) if c_in > 1 else None,
        Mistake(COST_NO_KERNEL, (params, macs // (k_h * k_w))) if k_h * k_w > 1 else None,
        Mistake(COST_INPUT_POSITIONS, (params, n * c_out * h * w * per_position)),
        Mistake(COST_BIAS_ADDS, (params, macs + (n * c_out * h_out * w_out if bias else 0))),
        Mistake(COST_DOUBLE, (params, 2 * macs)),
    ]
    for message, slip in AXIS_SLIPS:
        slipped = (
            n * c_out * _axis(h, k_h, s_h, p_h, slip) * _axis(w, k_w, s_w, p_w, slip) * per_position
        )
        found.append(Mistake(message, (params, slipped)))
    del weights
    return [m for m in found if m is not None]


def _cost_normalize(got: Any, case: Case) -> Any:
    """A pair of ints; a case of the parameters' or the multiply-adds' part judges that one."""
    component = {COST_PARAMS: 0, COST_MACS: 1, COST_MORE: 1}.get(case.part)
    if not isinstance(got, tuple | list) or len(got) != 2:
        return Verdict(
            f"should return a pair (parameters, multiply-adds), but returned {shown(got)} "
            f"({type_name(got)})."
        )
    return tuple(got) if component is None else got[component]


def _cost_judge(got: Any, case: Case) -> Verdict | None:
    if isinstance(case.expected, tuple):
        return judge_int_tuple(got, case)
    return judge_int(got, case)


def _cost_case(part, x_shape, weight_shape, stride=1, padding=0, bias=None) -> Case:
    flag = bias is not False
    kwargs = _layer_kwargs(stride, padding) | ({} if bias is None else {"bias": bias})
    expected = layer_cost(x_shape, weight_shape, stride, padding, flag)
    component = {COST_PARAMS: 0, COST_MACS: 1, COST_MORE: 1}.get(part)
    features = _layer_features(stride, padding) | ({"no bias"} if not flag else set())

    def answer(*args, **options):
        full = layer_cost(*args, **{"stride": 1, "padding": 0, "bias": True, **options})
        return full if component is None else full[component]

    def variants() -> list[Variant]:
        found = _layer_variants(x_shape, weight_shape, kwargs, features, answer)
        if "no bias" in features:
            rest = {**kwargs, "bias": True}
            found.append(
                Variant(
                    "no bias",
                    (x_shape, weight_shape),
                    rest,
                    answer(x_shape, weight_shape, **rest),
                    "bias=True",
                )
            )
        return found

    names = ("parameters", "multiply-adds")
    return Counted(
        description=f"x_shape={x_shape}, weight_shape={weight_shape}, stride={stride}, padding={padding}, bias={flag}"
        + (f" ({names[component]} judged)" if component is not None else ""),
        args=(x_shape, weight_shape),
        kwargs=kwargs,
        expected=expected if component is None else expected[component],
        parts=names if component is None else (),
        what=names[component] if component is not None else "the output",
        replays=lambda: _cost_mistakes(x_shape, weight_shape, stride, padding, flag),
        features=frozenset(features),
        part=part,
        variants=variants,
        base=(x_shape, weight_shape, stride, padding, flag),
    )


def _cost_factor(lab, index: int) -> Finding | None:
    """The multiply-adds off by a factor that is exactly one product of the layer's sizes
    (N, C_out, C_in, K_h, K_w, H_out, W_out), and no other product of them."""
    ran = lab.runs[index]
    if not ran.answered or ran.verdict is None or not ran.verdict.diagnose:
        return None
    if ran.case.part not in (COST_MACS, COST_MORE) or not isinstance(ran.value, Integral):
        return None
    x_shape, weight_shape, stride, padding, _ = ran.case.base
    n, c_out, h_out, w_out = output_shape(x_shape, weight_shape, stride, padding)
    _, c_in, k_h, k_w = weight_shape
    sizes = [
        ("N", n),
        ("C_out", c_out),
        ("C_in", c_in),
        ("K_h", k_h),
        ("K_w", k_w),
        ("H_out", h_out),
        ("W_out", w_out),
    ]
    got, expected = int(ran.value), int(ran.case.expected)
    if got <= 0 or expected <= 0:
        return None
    if expected % got == 0:
        factor, said = expected // got, "missing"
    elif got % expected == 0:
        factor, said = got // expected, "counted twice"
    else:
        return None
    products: dict[int, list[str]] = {}
    for mask in range(1, 1 << len(sizes)):
        chosen = [sizes[i] for i in range(len(sizes)) if mask >> i & 1]
        value = 1
        for _, v in chosen:
            value *= v
        if value > 1:
            products.setdefault(value, []).append(" · ".join(name for name, _ in chosen))
    named = products.get(factor, [])
    if len(named) != 1:
        return None
    return Finding(
        f"your multiply-adds are the right count {'divided by' if said == 'missing' else 'times'} "
        f"{factor} = {named[0]} here (and by no other product of the layer's sizes): "
        f"{'that factor is missing' if said == 'missing' else 'that factor is counted twice'}. "
        "Each of the N · C_out · H_out · W_out output values takes C_in · K_h · K_w multiply-adds.",
        about="factor",
        strength=0,
    )


COST_ROLES = ("plain", "stride", "padding", "wide pairs", "tall pairs", "random")


def _random_cost_cases(seed: int) -> list[Case]:
    """Random layers, one per role, so that every draw has each ingredient the visible parts
    test: ``plain`` stride 1, no padding, a bias; ``stride`` an int stride of 2 or 3 that
    leaves a remainder, no padding; ``padding`` stride 1, an int padding, no bias; ``wide
    pairs`` (h, w) pairs, every w quantity larger than its h counterpart
    (:func:`~._seeds.oriented`), ``tall pairs`` every h quantity; ``random`` anything valid.
    Outside ``random``, N, C_in and C_out are all different and above 1 (a factor left out
    or swapped shows). Sizes are random."""
    draw = integers(seed, 204)

    cases = []
    for role in COST_ROLES:
        k_h, k_w, s_h, s_w = draw(1, 7), draw(1, 7), draw(1, 3), draw(1, 3)
        p_h, p_w = draw(0, 3), draw(0, 3)
        n, c_in, c_out, bias = draw(1, 64), draw(1, 64), draw(1, 128), draw(0, 3) > 0
        pairs = draw(0, 1) == 1
        if role != "random":
            n, c_in = draw(2, 32), draw(33, 64)
            c_out = c_in + draw(1, 64)
        if role == "plain":
            s_h, p_h, pairs, bias = 1, 0, False, True
        elif role == "stride":
            s_h, p_h, pairs = draw(2, 3), 0, False
        elif role == "padding":
            s_h, p_h, pairs, bias = 1, draw(1, 3), False, False
        if not pairs:
            s_w, p_w = s_h, p_h
        h, w = max(1, k_h - 2 * p_h) + draw(0, 40), max(1, k_w - 2 * p_w) + draw(0, 40)
        if role == "stride":
            h, w = off_grid(h, k_h, s_h, 0), off_grid(w, k_w, s_h, 0)
        elif role.endswith("pairs"):
            pairs = True
            (h, w), (k_h, k_w), (s_h, s_w), (p_h, p_w) = oriented(
                draw, role == "wide pairs", kernel=7, stride=3, padding=3, extra=12
            )
        stride, padding = ((s_h, s_w), (p_h, p_w)) if pairs else (s_h, p_h)
        cases.append(
            _cost_case(HIDDEN, (n, c_in, h, w), (c_out, c_in, k_h, k_w), stride, padding, bias)
        )
    return cases


def check_conv_layer_cost(conv_layer_cost: Callable, seed: int | None = None) -> Score:
    """Check ``conv_layer_cost(x_shape, weight_shape, stride=1, padding=0, bias=True)`` ->
    ``(parameters, multiply-adds)``: ``C_out·C_in·K_h·K_w (+ C_out)`` and
    ``N·C_out·H_out·W_out·C_in·K_h·K_w``, ints.

    1 point: the parameters (with and without bias); the multiply-adds at stride 1 without
    padding; with stride, padding and pairs; with a ``seed``, hidden random layers.
    """
    cases = [
        _cost_case(COST_PARAMS, (2, 3, 8, 8), (6, 3, 5, 5)),
        _cost_case(COST_PARAMS, (1, 16, 10, 10), (32, 16, 3, 3), bias=False),
        _cost_case(COST_PARAMS, (2, 5, 9, 7), (4, 5, 3, 2), bias=True),
        _cost_case(COST_MACS, (2, 3, 13, 17), (5, 3, 2, 4)),
        _cost_case(COST_MACS, (1, 4, 9, 11), (6, 4, 3, 5)),
        _cost_case(COST_MORE, (2, 3, 15, 12), (7, 3, 5, 3), stride=2, padding=1),
        _cost_case(COST_MORE, (3, 2, 10, 9), (4, 2, 3, 4), stride=(2, 3), padding=(1, 2)),
    ]
    if seed is not None:
        cases += _random_cost_cases(seed)
    return score_cases(
        "conv_layer_cost",
        conv_layer_cost,
        cases,
        parts=[
            Part(COST_PARAMS, 0.25),
            Part(COST_MACS, 0.25),
            Part(COST_MORE, 0.25),
            Part(HIDDEN, 0.25, hidden=True),
        ],
        names=("x_shape", "weight_shape"),
        normalize=_cost_normalize,
        judge=_cost_judge,
        experiments=[
            confirmed_replays(_cost_normalize),
            _cost_factor,
            _components,
            ingredients(COST_INGREDIENTS),
        ],
    )


# ---------------------------------------------------------------------------- same_padding

ODD, EVEN = "odd kernels", "even kernels raise ValueError"


def check_same_padding(same_padding: Callable, seed: int | None = None) -> Score:
    """Check ``same_padding(kernel_size)``: the padding that keeps the size at stride 1,
    ``(kernel_size - 1) // 2`` for an odd kernel, and a ``ValueError`` for an even one.

    1 point: odd kernels; even kernels (counted only when the odd ones are right: a function
    that always raises earns nothing); with a ``seed``, hidden random kernels.
    """
    why = "an even kernel (no integer padding keeps the size)"
    cases = [
        Counted(
            description=f"K={k}",
            args=(k,),
            expected=(k - 1) // 2,
            replays=lambda k=k: [
                Mistake(SAME_PADDING_TOTAL, k - 1),
                Mistake(SAME_PADDING_ROUNDED_UP, (k + 1) // 2),
            ],
            part=ODD,
        )
        for k in (1, 3, 5, 7, 11)
    ]
    cases += [_error_case(EVEN, f"K={k}", (k,), {}, why) for k in (2, 4)]
    if seed is not None:
        g = generator(seed, 203)
        k = int(2 * torch.randint(6, 40, (1,), generator=g) + 1)
        cases.append(
            Counted(
                description=f"K={k}",
                args=(k,),
                expected=(k - 1) // 2,
                replays=lambda k=k: [
                    Mistake(SAME_PADDING_TOTAL, k - 1),
                    Mistake(SAME_PADDING_ROUNDED_UP, (k + 1) // 2),
                ],
                part=HIDDEN,
            )
        )
        even = int(2 * torch.randint(3, 40, (1,), generator=g))
        cases.append(_error_case(HIDDEN, f"K={even}", (even,), {}, why))
    return score_cases(
        "same_padding",
        same_padding,
        cases,
        parts=[Part(ODD, 0.5), Part(EVEN, 0.25, needs=ODD), Part(HIDDEN, 0.25, hidden=True)],
        names=("kernel_size",),
        judge=_int_or_error,
        experiments=[confirmed_replays(), _other_error],
    )


def _int_or_error(got: Any, case: Case) -> Verdict | None:
    if _expects_error(case):
        return _judge_error(got, case)
    return judge_int(got, case)


# ------------------------------------------------------------------------- param_constants


def check_param_constants(fc_neuron_params: object, conv_filter_params: object) -> Score:
    """Check ``FC_NEURON_PARAMS == (3072, 1)`` and ``CONV_FILTER_PARAMS == (75, 1)``: the
    (weights, biases) of one neuron on a 3×32×32 image (channels first), fully connected and
    as a 3×5×5 filter. 1 point: half for each."""
    name = "FC_NEURON_PARAMS / CONV_FILTER_PARAMS"
    results, messages = [], []
    for label, got, expected, mistakes in [
        (
            "FC_NEURON_PARAMS",
            fc_neuron_params,
            (3072, 1),
            {
                (1024, 1): FC_SEES_ALL,
                (3073, 1): FC_BIAS_NOT_WEIGHT,
                (3073, 0): FC_BIAS_NOT_WEIGHT,
                (3072, 0): NEURON_ONE_BIAS,
            },
        ),
        (
            "CONV_FILTER_PARAMS",
            conv_filter_params,
            (75, 1),
            {
                (25, 1): FILTER_SPANS_CHANNELS,
                (76, 1): FILTER_BIAS_NOT_WEIGHT,
                (76, 0): FILTER_BIAS_NOT_WEIGHT,
                (75, 3): FILTER_BIAS_PER_CHANNEL,
                (75, 0): FILTER_ONE_BIAS,
            },
        ),
    ]:
        if not isinstance(got, tuple) or len(got) != 2:
            message = f"{label} {NOT_A_PAIR}; it is {shown(got)}."
        elif tuple(got) != expected:
            message = (
                f"{label} = {shown(got)} is not right: {mistakes.get(tuple(got), COUNT_AGAIN)}"
            )
        else:
            results.append(PartResult(label, 0.5, True))
            continue
        results.append(PartResult(label, 0.5, False, message))
        messages.append(message)
    text = "\n".join(f"{name}: {m}" if i == 0 else f"  Also: {m}" for i, m in enumerate(messages))
    return report(name, Judged(results, text, cases=2))
