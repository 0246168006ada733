"""Diagnosis by experiment: find which ingredient of a case breaks a student's function, as a
teaching assistant would, and say so in the student's terms.

An *experiment* is a function ``(lab, index) -> Finding | list[Finding] | None`` that the
engine (:func:`._cases.explain_case`) runs for a failing case ``lab.runs[index]`` when no known
misconception reproduces its answer exactly. Each one tests one feature and supports one
sentence, and it states only what it observed:

- :func:`ingredients`: which ingredient (stride, padding, pairs, bias, channels, batch,
  square shapes, dtype, memory layout: the check's :class:`Ingredient` s) the failures follow,
  over every case that ran ("right whenever the padding is 0 and wrong whenever it is not"),
  confirmed by calling the function again on the failing case with that one ingredient taken
  away (its :class:`._cases.Variant`); else, per case, the one change that makes it right. For
  crashes as for wrong answers.
- :func:`reshaped`: the right values in the right order, in the wrong shape (size-1 axes
  dropped by a squeeze, or another reshape).
- :func:`scaled`: every value off by the same factor (named when it equals a quantity of the
  case, e.g. 1/(C_in·K_h·K_w), a mean instead of a sum), by the same constant, or by a
  constant per channel; the sign flipped; only zeros.
- :func:`running_total`: each value the running total of the right ones (something carries over
  from one output position to the next).
- :func:`shifted`: the right values moved by a few rows or columns (the last two axes).
- :func:`regions`: right in one region and wrong in another (the border where a window reaches
  into the padding; some output channels; some images).

Checks add experiments of their own (a convolution's impulse response, for instance) with the
same signature. :class:`._cases.Lab` gives an experiment the outcome of every case and a way to
call the student's function again (counted, cached, within a small budget).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ._cases import Finding, Lab, Ran, tolerance


@dataclass(frozen=True)
class Ingredient:
    """One thing a case may exercise, named in the student's terms.

    ``key``: the feature's name in :attr:`._cases.Case.features` and :attr:`._cases.Variant.
    ingredient`. ``present`` / ``absent``: when the case has it or not, as the end of "wrong
    whenever ..." / "right whenever ..." ("the stride is not 1" / "the stride is 1").
    ``advice``: where to look, one sentence. ``message``: a sentence of its own for what the
    variant shows on one case (used instead of the generated one)."""

    key: str
    present: str
    absent: str
    advice: str
    message: str = ""


def _wrong_kind(runs: Sequence[Ran]) -> str:
    if all(r.raised is not None for r in runs):
        return "raises an error"
    if all(r.raised is None for r in runs):
        return "is wrong"
    return "goes wrong (a wrong answer or an error)"


def ingredients(table: Sequence[Ingredient]) -> Callable[[Lab, int], Finding | None]:
    """The experiment that locates a fault by ingredient (see the module's description).

    Over every case that ran: an ingredient the explained case has, whose cases all went wrong
    while every case without it is right, and whose variant of the explained case (that
    ingredient taken away, nothing else) is right: "right whenever <absent>, wrong whenever
    <present>". Else the variants of the explained case that are right: "right on this case
    with <change>". Nothing when no variant is right (an ingredient that does not change the
    outcome is not named)."""
    by_key = {i.key: i for i in table}

    def experiment(lab: Lab, index: int) -> Finding | None:
        ran = lab.runs[index]
        variants = [v for v in lab.variants(index) if v.ingredient in by_key]
        fixes = []
        for variant in variants:
            trial = lab.variant(index, variant)
            if trial is not None and trial.right:
                fixes.append(variant)
        if not fixes:
            return None
        judged = [r for r in lab.runs if r.problem is None]
        patterns = []
        for variant in fixes:
            key = variant.ingredient
            having = [r for r in judged if key in r.case.features]
            lacking = [r for r in judged if key not in r.case.features]
            if lacking and all(r.wrong for r in having) and not any(r.wrong for r in lacking):
                patterns.append(variant)
        wrong = _wrong_kind([ran])
        if len(patterns) == 1:
            variant = patterns[0]
            ingredient = by_key[variant.ingredient]
            having = [r for r in judged if variant.ingredient in r.case.features]
            kind = _wrong_kind(having)
            return Finding(
                f"{kind} whenever {ingredient.present}, and is right whenever "
                f"{ingredient.absent} ({len(having)} of {len(judged)} cases went wrong, all "
                f"of them so): {ingredient.advice}",
                about=ingredient.key,
                detail=f"This case {wrong} as given and is right with {variant.change}.",
                strength=2,
            )
        if len(fixes) == 1:
            variant = fixes[0]
            ingredient = by_key[variant.ingredient]
            sentence = ingredient.message or (
                f"{wrong} on this case, but is right with {variant.change} "
                f"(the only change): {ingredient.advice}"
            )
            return Finding(
                sentence,
                about=ingredient.key,
                detail=f"This case {wrong} as given and is right with {variant.change}.",
            )
        changes = [v.change for v in fixes[:3]]
        listed = "; and also with ".join(changes)
        return Finding(
            f"{wrong} on this case, but is right with {listed} (each change alone makes it "
            "right, so the mistake needs all of these ingredients together).",
            about=" + ".join(v.ingredient for v in fixes),
            strength=1,
        )

    return experiment


def _answer(lab: Lab, index: int, same_shape: bool = True) -> tuple[Any, Any] | None:
    """``(got, expected)`` of a wrong answer that is a tensor (of the expected shape, finite,
    of the expected dtype when ``same_shape``), else None."""
    ran = lab.runs[index]
    if not ran.answered or ran.verdict is None or not ran.verdict.diagnose:
        return None
    got, expected = ran.value, ran.case.expected
    if not isinstance(got, torch.Tensor) or not isinstance(expected, torch.Tensor):
        return None
    if same_shape:
        if got.shape != expected.shape or not torch.isfinite(got).all():
            return None
    return got, expected


RESHAPED_SQUEEZED = (
    "the values are right and in the right order, but axes of size 1 are missing from the "
    "output's shape (a squeeze(), or indexing with [0], drops them): keep every axis, "
    "even one of size 1."
)
RESHAPED = (
    "the values are right and in the right order, but the output has another shape: "
    "reshape it to the expected shape."
)


def reshaped(lab: Lab, index: int) -> Finding | None:
    """The right values in the right order, in another shape: size-1 axes dropped (or added),
    or another reshape."""
    found = _answer(lab, index, same_shape=False)
    if found is None:
        return None
    got, expected = found
    if got.shape == expected.shape or got.numel() != expected.numel() or got.numel() == 0:
        return None
    if got.device != expected.device or got.dtype != expected.dtype:
        return None
    rtol, atol = tolerance(expected.dtype)
    if not torch.allclose(got.flatten(), expected.flatten(), rtol=rtol, atol=atol):
        return None
    without_ones = [s for s in expected.shape if s != 1]
    squeezed = [s for s in got.shape if s != 1] == without_ones
    return Finding(
        RESHAPED_SQUEEZED if squeezed else RESHAPED,
        about="shape",
        detail=f"Shape {tuple(got.shape)}; expected {tuple(expected.shape)}.",
        strength=0,
    )


def _fit(y: torch.Tensor, s: torch.Tensor) -> tuple[float, float]:
    """Least-squares ``a, d`` with ``y ≈ a·s + d`` (float64)."""
    y, s = y.double().flatten(), s.double().flatten()
    design = torch.stack([s, torch.ones_like(s)], dim=1)
    solution = torch.linalg.lstsq(design, y[:, None]).solution[:, 0]
    return float(solution[0]), float(solution[1])


def _near(a: float, b: float, rel: float = 2e-3) -> bool:
    return abs(a - b) <= rel * max(1.0, abs(b))


def _fits(got: torch.Tensor, model: torch.Tensor, expected: torch.Tensor) -> bool:
    rtol, atol = tolerance(expected.dtype)
    scale = float(expected.abs().max()) if expected.numel() else 1.0
    return torch.allclose(
        got.double(), model.double(), rtol=10 * rtol, atol=10 * atol * max(1.0, scale)
    )


Factors = Callable[[Any], list[tuple[float, str, str]]]


def scaled(
    factors: Factors = lambda case: [], what: str = "the sum", per_channel: str | None = None
) -> Callable:
    """Every value off by one factor (``factors(case)``: ``(value, expression, meaning)`` to
    name it) or by one constant; the sign flipped; zeros. With a ``base`` (a bias) the factor
    is fitted to ``expected - base``, called ``what``. ``per_channel``: the sentence to say
    when each index of axis 1 is off by a constant of its own (None: not tried)."""

    def experiment(lab: Lab, index: int) -> Finding | None:
        found = _answer(lab, index)
        if found is None:
            return None
        got, expected = found
        case = lab.runs[index].case
        base = case.base if isinstance(case.base, torch.Tensor) else torch.zeros_like(expected)
        base = base.expand_as(expected)
        summed = expected - base
        if summed.numel() < 4 or float(summed.abs().max()) == 0:
            return None
        has_base = bool(base.abs().max() > 0)
        subject = f"{what} (everything but the bias)" if has_base else "your output"
        a, d = _fit(got - base, summed)
        if _fits(got, a * summed + base, expected):
            return _factor(a, subject, factors(case), has_base)
        if _fits(got, a * summed + base + d, expected):
            if _near(a, 1.0):
                return Finding(
                    f"every value is off by the same constant, {d:+.4g} (the same at every "
                    "position, in every channel and image): look for something added to "
                    "every value.",
                    about="offset",
                    strength=0,
                )
            return Finding(
                f"every value of {subject} is {a:.4g} times the right one, plus "
                f"{d:+.4g}: the same factor and the same constant everywhere.",
                about="factor",
                strength=0,
            )
        if per_channel and expected.ndim >= 2 and expected.shape[1] > 1:
            difference = (got - expected).double()
            by_channel = difference.transpose(0, 1).reshape(expected.shape[1], -1)
            constant = by_channel[:, :1].expand_as(by_channel)
            if _fits(by_channel, constant, expected) and bool(by_channel[:, 0].abs().max() > 0):
                offsets = ", ".join(f"{float(v):+.3g}" for v in by_channel[:4, 0])
                more = ", ..." if by_channel.shape[0] > 4 else ""
                return Finding(
                    per_channel,
                    about="offset",
                    detail=f"Off by ({offsets}{more}) in output channels 0, 1, ...",
                    strength=0,
                )
        return None

    return experiment


def _factor(a: float, subject: str, named: list, has_base: bool) -> Finding | None:
    if _near(a, 1.0):
        return None
    if abs(a) < 1e-6:
        held = "only the bias" if has_base else "only zeros"
        return Finding(
            f"every value of {subject} is 0: your output holds {held}.",
            about="factor",
            strength=0,
        )
    if _near(a, -1.0):
        return Finding(
            f"every value of {subject} has the wrong sign (−1 times the right one): look "
            "for a stray minus sign.",
            about="factor",
            strength=0,
        )
    names = [(expression, meaning) for value, expression, meaning in named if _near(a, value)]
    if names:
        expression, meaning = names[0]
        also = "".join(f" (and {e})" for e, _ in names[1:])
        return Finding(
            f"every value of {subject} is {a:.4g} times the right one (the same factor "
            f"everywhere), and {a:.4g} = {expression} here{also}: {meaning}",
            about="factor",
            strength=0,
        )
    return Finding(
        f"every value of {subject} is {a:.4g} times the right one (the same factor "
        "everywhere): look for a constant factor, or a division that should not be there.",
        about="factor",
        strength=0,
    )


RUNNING_TOTAL = (
    "each value is the running total of the right values up to it, in the order your loops "
    "visit the output positions: something carries over from one output position to the "
    "next. Start each output value's sum afresh (e.g. acc = 0 inside the loop over positions)."
)


def running_total(lab: Lab, index: int) -> Finding | None:
    """Each value the cumulative sum of the right ones, in some loop order over the trailing
    axes (an accumulator not reset between output positions)."""
    found = _answer(lab, index)
    if found is None:
        return None
    got, expected = found
    case = lab.runs[index].case
    base = case.base if isinstance(case.base, torch.Tensor) else torch.zeros_like(expected)
    base = base.expand_as(expected)
    if expected.ndim < 2 or expected.shape[-1] * expected.shape[-2] < 2:
        return None
    for values, offset in ((expected - base, base), (expected, torch.zeros_like(expected))):
        for transposed in (False, True):
            v = values.transpose(-1, -2) if transposed else values
            for start in range(expected.ndim - 2, -1, -1):
                lead = v.shape[:start]
                total = v.reshape(*lead, -1).cumsum(-1).reshape(v.shape)
                total = total.transpose(-1, -2) if transposed else total
                if _fits(got, total + offset, expected) and not _fits(got, expected, expected):
                    return Finding(RUNNING_TOTAL, about="carry-over", strength=0)
    return None


def shifted(advice: str = "", reach: int = 2) -> Callable:
    """The right values moved by up to ``reach`` rows and columns (the last two axes): where
    the two overlap, the answer at (i, j) is the right one at (i + dh, j + dw). ``advice``:
    where to look, said after the observation."""

    def experiment(lab: Lab, index: int) -> Finding | None:
        found = _answer(lab, index)
        if found is None:
            return None
        got, expected = found
        if expected.ndim < 2:
            return None
        h, w = expected.shape[-2:]
        rtol, atol = tolerance(expected.dtype)
        for dh in range(-reach, reach + 1):
            for dw in range(-reach, reach + 1):
                rows, cols = h - abs(dh), w - abs(dw)
                if (dh, dw) == (0, 0) or rows * cols < max(4, (h * w) // 2):
                    continue
                top, left = max(0, -dh), max(0, -dw)
                g = got[..., top : top + rows, left : left + cols]
                e = expected[..., top + dh : top + dh + rows, left + dw : left + dw + cols]
                unmoved = expected[..., top : top + rows, left : left + cols]
                if not torch.allclose(g, e, rtol=rtol, atol=atol):
                    continue
                if torch.allclose(e, unmoved, rtol=rtol, atol=atol):
                    continue  # the values do not tell the shift apart
                i = f"i {'+' if dh >= 0 else '−'} {abs(dh)}" if dh else "i"
                j = f"j {'+' if dw >= 0 else '−'} {abs(dw)}" if dw else "j"
                return Finding(
                    f"your output is the right one moved: out[..., i, j] holds the value "
                    f"that belongs at out[..., {i}, {j}]." + (f" {advice}" if advice else ""),
                    about="position",
                    detail=f"Moved by {-dh} rows and {-dw} columns where the two overlap.",
                    strength=0,
                )
        return None

    return experiment


@dataclass(frozen=True)
class Region:
    """A part of the output (``mask``, broadcastable to it) and the sentence to say when the
    answer is wrong only there: ``sentence`` (right outside the region, wrong in it)."""

    mask: torch.Tensor
    sentence: str
    about: str = "position"


def regions(
    named: Callable[[Any], list[Region]] = lambda case: [],
    axes: Sequence[tuple[int, str]] = (),
) -> Callable:
    """Right in one region and wrong in another: a region of the case's own (``named(case)``,
    e.g. the border where a window reaches into the padding), or some indices along one of
    ``axes`` (``(axis, "output channel o")``): "only output channel o = 2 is wrong"."""

    def experiment(lab: Lab, index: int) -> Finding | None:
        found = _answer(lab, index)
        if found is None:
            return None
        got, expected = found
        rtol, atol = tolerance(expected.dtype)
        wrong = ~torch.isclose(got, expected, rtol=rtol, atol=atol)
        if not wrong.any() or wrong.all():
            return None
        for region in named(lab.runs[index].case):
            mask = region.mask.expand_as(wrong)
            if mask.all() or not mask.any():
                continue
            if not (wrong & ~mask).any() and (wrong & mask).any():
                return Finding(region.sentence, about=region.about, strength=0)
        for axis, label in axes:
            if expected.ndim <= axis or expected.shape[axis] < 2:
                continue
            bad = wrong.transpose(0, axis).reshape(expected.shape[axis], -1).any(dim=1)
            if bad.all() or not bad.any():
                continue
            listed = ", ".join(str(int(i)) for i in torch.nonzero(bad)[:, 0][:6])
            symbol = label.split()[-1]
            return Finding(
                f"only {label.rsplit(' ', 1)[0]} {symbol} = {listed} "
                f"{'is' if int(bad.sum()) == 1 else 'are'} wrong; the others are right.",
                about=label,
                strength=0,
            )
        return None

    return experiment
