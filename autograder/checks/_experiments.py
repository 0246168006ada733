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

from ._cases import Case, Finding, Lab, Ran, tolerance


@dataclass(frozen=True)
class Ingredient:
    """One thing a case may exercise, named in the student's terms.

    ``key``: the feature's name in :attr:`._cases.Case.features` and :attr:`._cases.Variant.
    ingredient`. ``present`` / ``absent``: when the case has it or not, as the end of "wrong
    whenever ..." / "right whenever ..." ("the stride is not 1" / "the stride is 1").
    ``advice``: where to look, one sentence. ``message``: a sentence of its own for what the
    variant shows on one case (used instead of the generated one). An ``observed`` ingredient
    has no variant (the padding being 0, one image): it is named by its pattern alone, when
    at least two cases have it and two do not, the failures follow it exactly, and no other
    observed ingredient separates the cases the same way."""

    key: str
    present: str
    absent: str
    advice: str
    message: str = ""
    observed: bool = False  # no variant takes it away: its pattern over the cases is enough


def _whenever(runs: Sequence[Ran], present: str, absent: str) -> str:
    """ "<how these cases went wrong> whenever <present>, and right whenever <absent>"."""
    if all(r.raised is None for r in runs):
        return f"the answer is wrong whenever {present}, and right whenever {absent}"
    how = (
        "raises an error"
        if all(r.raised is not None for r in runs)
        else "goes wrong (a wrong answer or an error)"
    )
    return f"the function {how} whenever {present}, and is right whenever {absent}"


def _suspicion(key: str, judged: Sequence[Ran]) -> float:
    """How much the failures follow ``key``: the share of cases with it that went wrong, less
    the share of those without it that did (1: exactly the cases with it)."""
    having = [r for r in judged if key in r.case.features]
    lacking = [r for r in judged if key not in r.case.features]
    if not having:
        return -1.0
    if not lacking:  # every case has it: the failures cannot follow it, nor go against it
        return 0.0
    share = sum(r.wrong for r in having) / len(having)
    return share - sum(r.wrong for r in lacking) / len(lacking)


def ingredients(
    table: Sequence[Ingredient], calls: int = 6
) -> Callable[[Lab, int], Finding | None]:
    """The experiment that locates a fault by ingredient (see the module's description).

    The explained case's ingredients are tried in the order the failures follow them (the
    share of cases with the ingredient that went wrong, less the share of those without it),
    each by calling the function on the case with that one ingredient taken away (its
    variant), at most ``calls`` of them: the first that gets the case right is the finding.
    When the failures follow it exactly (every case with it went wrong, every case without it
    is right) the finding holds for every case: "wrong whenever <present>, right whenever
    <absent>"; else for this case: "wrong on this case, but right with <change>". An
    ingredient without ``present`` is a hypothesis about what the inputs mean (one image,
    channels last, another weight layout): its variant gives the inputs in that meaning, and
    is tried first (once one is wrong on a case, it is not tried on others). Nothing is said
    when no variant is right."""
    by_key = {i.key: i for i in table}

    def experiment(lab: Lab, index: int) -> Finding | None:
        ran = lab.runs[index]
        judged = [r for r in lab.runs if r.problem is None]
        everywhere = all(r.wrong for r in judged)
        known = lab.notes.setdefault("patterns", {})
        for key, finding in known.items():  # a pattern found for another case holds here too
            if key in ran.case.features:
                return finding
        if everywhere and lab.notes.get(("found", index)):
            return None  # no ingredient separates the cases, and the answer said something
        separating = []  # a pattern alone, for what no variant can take away
        for ingredient in table:
            if not ingredient.observed or ingredient.key not in ran.case.features:
                continue
            having = [r for r in judged if ingredient.key in r.case.features]
            if len(having) >= 2 and len(judged) - len(having) >= 2:
                if _suspicion(ingredient.key, judged) == 1.0:
                    separating.append((ingredient, having))
        if len(separating) == 1:  # two that separate the cases alike: which one is unknown
            ingredient, having = separating[0]
            finding = Finding(
                _whenever(having, ingredient.present, ingredient.absent) + f": {ingredient.advice}",
                about=ingredient.key,
                detail=f"Wrong in all {len(having)} of the {len(judged)} cases where "
                f"{ingredient.present}, right in the others.",
                strength=2,
            )
            known[ingredient.key] = finding
            return finding
        refuted = lab.notes.setdefault("refuted", set())  # hypotheses wrong on another case
        scored = []
        for variant in lab.variants(index):
            if variant.ingredient not in by_key or variant.ingredient in refuted:
                continue
            if not by_key[variant.ingredient].present:  # a hypothesis: tried first
                scored.append((-2.0, len(scored), variant))
                continue
            score = _suspicion(variant.ingredient, judged)
            if score >= 0:
                scored.append((-score, len(scored), variant))
        ordered = sorted(scored, key=lambda t: t[:2])
        hypotheses = [v for _, _, v in ordered if not by_key[v.ingredient].present]
        removals = [v for _, _, v in ordered if by_key[v.ingredient].present][:calls]
        for variant in hypotheses + removals:
            trial = lab.variant(index, variant)
            if trial is None or not trial.right:
                if trial is not None and not by_key[variant.ingredient].present:
                    refuted.add(variant.ingredient)
                continue
            ingredient = by_key[variant.ingredient]
            detail = f"On this case, with {variant.change}, the answer is right."
            if _suspicion(variant.ingredient, judged) == 1.0 and ingredient.present:
                having = [r for r in judged if ingredient.key in r.case.features]
                detail = (
                    f"Wrong in all {len(having)} of the {len(judged)} cases where "
                    f"{ingredient.present}, right in the others. " + detail
                )
                sentence = ingredient.message or (
                    _whenever(having, ingredient.present, ingredient.absent)
                    + f": {ingredient.advice}"
                )
                finding = Finding(sentence, about=ingredient.key, detail=detail, strength=2)
                known[ingredient.key] = finding
                return finding
            if not _confirmed_elsewhere(lab, index, variant):
                continue  # right here by a coincidence of this case's numbers
            if ran.raised is not None:
                said = "the function raises an error on this case, but gives the right answer"
            else:
                said = "the answer is wrong on this case, but right"
            sentence = ingredient.message or f"{said} with {variant.change}: {ingredient.advice}"
            return Finding(sentence, about=ingredient.key, detail=detail)
        return None

    return experiment


def _confirmed_elsewhere(lab: Lab, index: int, variant) -> bool:
    """Whether the same change makes another failing case with that ingredient right too
    (True when there is none to try): a change that is right on one case only may be right by
    a coincidence of that case's sizes."""
    for other, ran in enumerate(lab.runs):
        if other == index or not ran.wrong or ran.problem is not None:
            continue
        if variant.ingredient not in ran.case.features:
            continue
        twin = next((v for v in lab.variants(other) if v.ingredient == variant.ingredient), None)
        if twin is None:
            continue
        trial = lab.variant(other, twin)
        return trial is None or trial.right
    return True


def _answer(lab: Lab, index: int, same_shape: bool = True) -> tuple[Any, Any] | None:
    """``(got, expected)`` of a wrong answer that is a tensor of the expected dtype (and, with
    ``same_shape``, of the expected shape and finite), else None: values of another dtype (a
    True/False mask, ints) are not what the experiments fit numbers to."""
    ran = lab.runs[index]
    if not ran.answered or ran.verdict is None or not ran.verdict.diagnose:
        return None
    got, expected = ran.value, ran.case.expected
    if not isinstance(got, torch.Tensor) or not isinstance(expected, torch.Tensor):
        return None
    if got.dtype != expected.dtype:
        return None
    if same_shape:
        if got.shape != expected.shape or not torch.isfinite(got).all():
            return None
    return got, expected


def _base(case: Case, expected: torch.Tensor) -> torch.Tensor:
    """The case's ``base`` (the bias in the sum) broadcast to the shape of ``expected``;
    zeros when the case has none."""
    base = case.base if isinstance(case.base, torch.Tensor) else torch.zeros_like(expected)
    return base.expand_as(expected)


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
    squeezed = got.ndim < expected.ndim and [s for s in got.shape if s != 1] == without_ones
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
    factors: Factors = lambda case: [],
    what: str = "the sum",
    per_channel: str | None = None,
    bias_advice: str = "add the bias once.",
) -> Callable:
    """Every value off by one factor (``factors(case)``: ``(value, expression, meaning)`` to
    name it) or by one constant; the sign flipped; zeros. With a ``base`` (a bias) the factor
    is fitted to ``expected - base``, called ``what``; and when ``what`` is right but the
    base counts another number of times, that is said, with ``bias_advice``.
    ``per_channel``: the sentence to say when each index of axis 1 is off by a constant of
    its own (None: not tried)."""

    def experiment(lab: Lab, index: int) -> Finding | None:
        found = _answer(lab, index)
        if found is None:
            return None
        got, expected = found
        base = _base(lab.runs[index].case, expected)
        summed = expected - base
        if summed.numel() < 4 or float(summed.abs().max()) == 0:
            return None
        has_base = bool(base.abs().max() > 0)
        subject = f"{what} (everything but the bias)" if has_base else "your output"
        a, d = _fit(got - base, summed)
        if _fits(got, a * summed + base, expected):
            return _factor(a, subject, _confirmed(lab, index, factors), has_base)
        if has_base:  # the sum right, the bias counted another number of times
            b, _ = _fit(got - summed, base)
            if not _near(b, 1.0) and _fits(got, summed + b * base, expected):
                return Finding(
                    f"{what} is right, but the bias counts {b:.4g} times in your output "
                    "instead of once"
                    + (" (it is subtracted)" if _near(b, -1.0) else "")
                    + f": {bias_advice}",
                    about="bias factor",
                    strength=0,
                )
        if _fits(got, a * summed + base + d, expected):
            if abs(a) < 1e-6:
                return _constant(lab, index, d, subject, has_base)
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


def _constant(lab: Lab, index: int, value: float, subject: str, has_base: bool) -> Finding:
    """Every value of the answer (less its base) is ``value``, where the right ones differ: said
    of this case, or, when every other case answered with a tensor gives that same value
    everywhere too (other inputs, the same constant), of every case."""
    what = lab.runs[index].case.what
    if not has_base:  # the output, or the part of it judged (dL/dw)
        subject = "your output" if what == "the output" else f"your {what}"
    here = f"every value of {subject} is the same, {value:.4g}, where the right values differ"
    others = [r for i, r in enumerate(lab.runs) if i != index and r.answered]
    same = 0
    for ran in others:
        got = ran.value
        if not isinstance(got, torch.Tensor) or not isinstance(ran.case.expected, torch.Tensor):
            return Finding(here + " (on this case).", about="factor", strength=0)
        if has_base or got.numel() < 2 or got.dtype != ran.case.expected.dtype:
            return Finding(here + " (on this case).", about="factor", strength=0)
        if not bool((got == got.flatten()[0]).all()) or not _near(float(got.flatten()[0]), value):
            return Finding(here + " (on this case).", about="factor", strength=0)
        same += 1
    if same == 0:
        return Finding(here + " (on this case).", about="factor", strength=0)
    return Finding(
        f"every value of your output is {value:.4g}, on each of the {same + 1} cases, whatever "
        "their inputs: the output does not depend on the input's values.",
        about="factor",
        strength=0,
    )


def _scale_of(ran: Ran) -> float | None:
    """The one factor between a wrong answer and the right one (less its base), if there is."""
    got, expected = ran.value, ran.case.expected
    if not isinstance(got, torch.Tensor) or not isinstance(expected, torch.Tensor):
        return None
    if got.dtype != expected.dtype or got.shape != expected.shape:
        return None
    if not torch.isfinite(got).all():
        return None
    base = _base(ran.case, expected)
    summed = expected - base
    if summed.numel() < 4 or float(summed.abs().max()) == 0:
        return None
    a, _ = _fit(got - base, summed)
    return a if _fits(got, a * summed + base, expected) else None


def _confirmed(lab: Lab, index: int, factors: Factors) -> list[tuple[float, str, str]]:
    """The names of the explained case's factor that also name the factor of every other
    wrong case with one factor (a name true of one case only is not the reason). A name is
    its expression up to " = " ("1/(K_h·K_w)"), the same quantity in every case."""
    named = factors(lab.runs[index].case)
    here = _scale_of(lab.runs[index])
    if here is None:
        return []
    symbol = lambda expression: expression.split(" = ")[0]  # noqa: E731
    names = {symbol(e) for value, e, _ in named if _near(here, value)}
    for number, ran in enumerate(lab.runs):
        if len(names) < 2:
            break
        if number == index or not ran.answered or ran.verdict is None:
            continue
        there = _scale_of(ran)
        if there is not None:
            names &= {symbol(e) for value, e, _ in factors(ran.case) if _near(there, value)}
    return [(v, e, m) for v, e, m in named if symbol(e) in names]


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
        expressions = " = ".join(e for e, _ in names)
        meanings = {m for _, m in names}
        meaning = f": {meanings.pop()}" if len(meanings) == 1 else "."
        return Finding(
            f"every value of {subject} is {a:.4g} times the right one (the same factor "
            f"everywhere), and {a:.4g} = {expressions} here{meaning}",
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
    base = _base(lab.runs[index].case, expected)
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
            inside = (wrong & mask).sum() / mask.sum()
            if not (wrong & ~mask).any() and inside >= 0.9:  # wrong there, and only there
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
