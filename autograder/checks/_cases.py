"""The engine every check shares: run the student's function on a list of cases, judge
each answer, score the check part by part, and explain a wrong answer.

**Cases and parts.** A check builds :class:`Case` objects (one call of the student's
function, its inputs, the right answer) and groups them into weighted :class:`Part` s (for a
convolution: the simple cases, stride, padding, pairs, ...; ``Case.part`` names the part).
:func:`score_cases` runs every case, judges it, and gives a :class:`~._score.Score`: a part
passes when all its cases pass. A hidden part (``Part.hidden``) has cases only when the check
was given a seed; without one it is reported as not run. :func:`report` prints one line when
every part passed, the points, the table and the message when some did, and raises
``CheckFailed`` when none did or when a call was a *problem* (a forbidden routine, tampering,
a stub, an input changed in place), which ends the check at 0 points.

**Explaining a wrong answer.** For the first failing case of each failing part, in order:

1. a known misconception (:class:`Mistake`, a replay of the wrong computation on the case's
   inputs) whose replay reproduces the answer exactly, and that no other case rules out;
2. *experiments* (``Experiment``: ``(lab, index) -> Finding | list[Finding] | None``, the
   shared ones in :mod:`._experiments`): they read which cases passed and failed, look at
   the wrong values, or call the student's function again through the :class:`Lab` on
   inputs changed in one way (:class:`Variant`), and state only what they observed, in the
   student's terms (:class:`Finding`);
3. a legacy :class:`Retry` that gets the right answer (checks not yet moved to variants);
4. otherwise the generic message: what is wrong, the failing case and a one-line
   reproduction.

A replay that is only *tentative* (a size slip) or a catch-all (``fallback``) yields to the
experiments. Explanations are judged per case: one that holds for the case it explains is
kept when another case fails for another reason, and the message then says both.
"""

import contextlib
import dataclasses
import inspect
import io
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from numbers import Integral
from typing import Any

import torch

from . import _guard
from ._report import CheckFailed, fail, first_line, report_pass
from ._score import PartResult, Score
from ._student import Raised, StandIn, invoke, type_name

# (rtol, atol) for comparing a student's tensor with the reference, per dtype.
TOLERANCES = {
    torch.float16: (1e-2, 1e-2),
    torch.bfloat16: (2e-2, 2e-2),
    torch.float32: (1e-4, 1e-4),
    torch.float64: (1e-9, 1e-9),
}

NOT_IMPLEMENTED = "not implemented yet: replace `raise NotImplementedError()` with your code."
OVERFLOW = "returned nan or inf where the answer is finite (an overflow?)."
VALUES_MISPLACED = (
    "the output holds the right values, but in the wrong places: check the order of its axes "
    "(a reshape or view never moves an axis; permute does)."
)


def pair(value) -> tuple[int, int]:
    """An int or an ``(h, w)`` pair, as an ``(h, w)`` tuple of ints."""
    if isinstance(value, Integral):
        return int(value), int(value)
    h, w = value
    return int(h), int(w)


def case_header(number: int, total: int, description: str) -> str:
    """``Failed on case n of N: description``, the line that says where a check failed."""
    return f"Failed on case {number} of {total}: {description}"


def _same(got: Any, expected: Any) -> bool:
    """Whether ``got`` is ``expected`` (tensors within tolerance; tuples part by part)."""
    if isinstance(expected, tuple | list):
        return (
            isinstance(got, tuple | list)
            and len(got) == len(expected)
            and all(_same(g, e) for g, e in zip(got, expected, strict=True))
        )
    if isinstance(expected, torch.Tensor):
        return isinstance(got, torch.Tensor) and close(got, expected)
    return not isinstance(got, torch.Tensor | bool) and got == expected


@dataclass
class Mistake:
    """A known wrong answer: what the mistaken code returns, and what to tell the student.

    Give ``output`` (the value it returns, a tuple for an answer in parts) when the values
    identify the mistake; ``explains`` (a test of the student's answer) when only part of
    the answer is known; or only ``shape``, weaker evidence, used when nothing stronger fits
    and no other shape-only mistake gives the same shape. ``key`` names the variant (the
    message by default) so that other cases can confirm or rule it out; ``neutral`` is said
    instead when mistakes with other messages but the same ``neutral`` fit equally well.
    A ``fallback`` (a catch-all such as "the right values in the wrong places") is named
    only when no specific mistake fits. A ``tentative`` one (a wrong size with the right
    values, which a slip elsewhere gives too) is named only when every other case agrees
    with it and another wrong answer fits it too, and yields to the experiments, unless one
    of them locates the fault in the ingredient the mistake is ``about`` (then the mistake
    is named, the experiment's detail said with it).
    """

    message: str
    output: Any = None
    shape: tuple | None = None
    explains: Callable[[Any], bool] | None = None
    key: str = ""
    neutral: str = ""
    fallback: bool = False
    tentative: bool = False
    about: str = ""

    def __post_init__(self):
        self.key = self.key or self.message

    @property
    def weak(self) -> bool:
        return self.output is None and self.explains is None

    def fits(self, got: Any) -> bool:
        """Whether this mistake returns ``got``."""
        if self.output is not None:
            return _same(got, self.output)
        if self.explains is not None:
            return bool(self.explains(got))
        if self.shape is not None:  # an empty answer is no evidence
            return (
                isinstance(got, torch.Tensor)
                and got.numel() > 0
                and tuple(got.shape) == tuple(self.shape)
            )
        return False

    def returns_shape(self) -> tuple | None:
        if self.shape is not None:
            return tuple(self.shape)
        return tuple(self.output.shape) if isinstance(self.output, torch.Tensor) else None


@dataclass
class Retry:
    """Another call of the student's function that tests one hypothesis: when it returns
    one of ``accepts`` for ``args`` and ``kwargs``, ``message`` says what went wrong.
    ``when_raised``: try it only when the original call raised an error whose message
    contains this text. ``feature``: the cases the hypothesis says the function fails on
    (one of :attr:`Case.features`); a right answer on such a case rules the retry out.
    ``rivals``: the known mistakes replayed on the retry's inputs. A right answer there
    names nothing when one of them gives it too and may still explain the wrong answer:
    inputs that hide that misconception as well do not tell the two apart."""

    message: str
    args: tuple
    kwargs: dict
    accepts: list
    when_raised: str | None = None
    feature: str = "always"
    key: str = ""
    rivals: Callable[[], list[Mistake]] = list

    def __post_init__(self):
        self.key = self.key or self.message


@dataclass
class Variant:
    """A case's inputs with one *ingredient* taken away (stride 1 for a strided case, bias
    None for a case with a bias, ...), everything else kept as it was: what an experiment
    calls the student's function on to see whether that ingredient is what breaks it.
    ``ingredient``: the key of the feature removed (one of the case's ``features``);
    ``change``: how the inputs were changed, for the student (``"stride=1"``); ``probe``:
    a probe to call the function through (a memory layout), as :attr:`Case.probe`."""

    ingredient: str
    args: tuple
    kwargs: dict
    expected: Any
    change: str = ""
    probe: Callable | None = None


@dataclass
class Case:
    """One call of the student's function and the answer it must give.

    ``mistakes``, ``retries`` and ``variants`` are called only when the answer is wrong, so
    building the candidate wrong answers costs nothing when the student is right. ``parts``
    names the parts of an answer that is a tuple (``expected`` is then a tuple too). ``setup``
    and ``reference`` let a student reproduce the case in one line: the inputs (as Python) and
    the reference call to compare with. ``features`` name what the case exercises (the
    ingredients experiments locate faults by, and :class:`Retry` features). ``part``: the
    :class:`Part` the case counts for. ``probe``: a probe (``probe_*`` in a checks module,
    run beside the student's code) the call goes through, e.g. to give an input in a memory
    layout that survives only where the student's code runs. ``base``: the part of
    ``expected`` that a wrong factor does not scale (a bias), for the experiments.
    """

    description: str
    args: tuple
    expected: Any
    kwargs: dict = field(default_factory=dict)
    mistakes: Callable[[], list[Mistake]] = list
    retries: Callable[[], list[Retry]] = list
    overflow_hint: str = ""
    what: str = "the output"
    parts: tuple[str, ...] = ()
    setup: str = ""
    reference: str = ""
    features: frozenset = frozenset({"always"})
    part: str = ""
    probe: Callable | None = None
    base: Any = None
    variants: Callable[[], list[Variant]] = list


@dataclass
class Verdict:
    """What is wrong with one answer. ``diagnose``: a misconception may explain it (a
    wrong shape or wrong values); ``evidence``: said with a diagnosis, ``detail`` without."""

    summary: str
    detail: str = ""
    diagnose: bool = False
    evidence: str = ""


def tolerance(dtype: torch.dtype) -> tuple[float, float]:
    return TOLERANCES.get(dtype, (0.0, 0.0))


def describe(value: Any) -> str:
    """A short description of an argument for a failure message."""
    if isinstance(value, torch.Tensor):
        dtype = str(value.dtype).removeprefix("torch.")
        return f"tensor of shape {tuple(value.shape)} ({dtype}, {value.device.type})"
    if callable(value):
        return getattr(value, "__name__", type_name(value))
    return repr(value)


def describe_call(args: tuple, kwargs: dict, names: Iterable[str]) -> str:
    parts = [f"{n}={describe(a)}" for n, a in zip(names, args, strict=False)]
    parts += [f"{k}={describe(v)}" for k, v in kwargs.items()]
    return ", ".join(parts)


def randn_code(value: Any) -> str:
    """Python that makes a random tensor shaped like ``value`` (or ``value`` itself), for a
    one-line reproduction."""
    if not isinstance(value, torch.Tensor):
        return repr(value)
    dims = ", ".join(str(s) for s in value.shape) or "()"
    dtype = "" if value.dtype == torch.float32 else f", dtype={value.dtype}"
    return f"torch.randn({dims}{dtype})"


def close(got: torch.Tensor, expected: torch.Tensor) -> bool:
    rtol, atol = tolerance(expected.dtype)
    return got.shape == expected.shape and torch.allclose(
        got.to(expected.device, expected.dtype), expected, rtol=rtol, atol=atol, equal_nan=True
    )


def _argument_names(fn: Callable, args: tuple, kwargs: dict) -> dict[str, Any]:
    try:
        bound = inspect.signature(fn).bind(*args, **kwargs)
        return dict(bound.arguments)
    except (TypeError, ValueError):
        return {f"argument {i + 1}": a for i, a in enumerate(args)} | kwargs


def raised_line(error: Raised) -> str:
    """``raised ValueError: the first line of its message``."""
    return f"raised {error.type_name}: {first_line(error.message)}"


def _changed_input(fn: Callable, args: tuple, kwargs: dict, snapshots: list, after: tuple):
    """The name of the first tensor argument the call changed, or None."""
    for position, (before, now) in enumerate(zip(snapshots, after, strict=False)):
        if before is None:
            continue
        changed = not isinstance(now, torch.Tensor) or now.shape != before.shape
        if changed or not torch.equal(now.detach(), before):
            names = list(_argument_names(fn, args, kwargs))
            return names[position] if position < len(names) else f"argument {position + 1}"
    return None


@contextlib.contextmanager
def quiet(target: Any) -> Iterator[None]:
    """Around a check's work when the student's code runs in this process: warnings are
    dropped and stderr is kept from the cell (nbgrader scores 0 for a test cell with any
    stderr output before its value). Where the code runs elsewhere (a stand-in) its output
    stays there, and this process's streams are left alone (grading threads share them)."""
    if isinstance(target, StandIn):
        yield
        return
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


@dataclass
class Called:
    """One call of student code: its value, or the exception it raised, or ``problem``:
    a message that ends the check whatever the answer (a forbidden routine, an input
    changed in place, a stub)."""

    value: Any = None
    raised: Raised | None = None
    problem: str | None = None


def attempt(
    fn: Callable,
    args: tuple,
    kwargs: dict,
    *,
    forbid: str | None = None,
    inputs_frozen: bool = True,
    inference: bool = False,
    probe: Callable | None = None,
) -> Called:
    """Call ``fn(*args, **kwargs)`` (or ``probe(fn, *args, **kwargs)``) through :func:`invoke`."""
    check_inputs = inputs_frozen and probe is None
    snapshots = (
        [a.detach().clone() if isinstance(a, torch.Tensor) else None for a in args]
        if check_inputs
        else []
    )
    with quiet(fn):
        outcome = invoke(
            fn,
            args,
            kwargs,
            forbid=forbid,
            probe=probe,
            inference=inference,
            keep_args=check_inputs,
        )
    if outcome.error is not None:
        if outcome.error.is_a("NotImplementedError"):
            return Called(raised=outcome.error, problem=NOT_IMPLEMENTED)
        return Called(raised=outcome.error)
    if _guard.TAMPERED in outcome.forbidden:
        return Called(
            problem="changed or switched off the checks' own code (the watch for forbidden "
            "library calls, or the code that runs your function), so this call cannot be "
            "judged. Leave the course's code alone and call only torch and your own functions."
        )
    if outcome.forbidden:
        used = " and ".join(outcome.forbidden)
        return Called(
            problem=f"uses {used}, which this exercise asks you not to call. "
            "Write the computation yourself with basic tensor operations."
        )
    if check_inputs:
        changed = _changed_input(fn, args, kwargs, snapshots, outcome.args_after)
        if changed is not None:
            return Called(
                problem=f"changed its input `{changed}` in place. Leave the inputs as they are: "
                "work on a copy (e.g. `x.clone()`) or build a new tensor."
            )
    return Called(value=outcome.value)


def _largest_difference(got: torch.Tensor, expected: torch.Tensor) -> str:
    """Where ``got`` and ``expected`` (same shape) differ most, in one sentence."""
    error = (got.to(expected.device, expected.dtype) - expected).abs()
    error = torch.where(torch.isnan(error), torch.full_like(error, float("inf")), error)
    index = tuple(int(i) for i in torch.nonzero(error == error.max())[0]) if error.ndim else ()
    return (
        f"Largest difference {error.max().item():.3g} at index {index}: "
        f"got {got[index].item():.6g}, expected {expected[index].item():.6g}."
    )


def _overlap_detail(got: torch.Tensor, expected: torch.Tensor) -> str:
    """For tensors of the same rank but different shapes: how their common part compares."""
    if got.ndim != expected.ndim or got.ndim == 0:
        return ""
    common = tuple(slice(0, min(a, b)) for a, b in zip(got.shape, expected.shape, strict=True))
    g, e = got[common], expected[common]
    if g.numel() == 0:
        return ""
    text = ", ".join(
        ":" if s.stop == a == b else f":{s.stop}"
        for s, a, b in zip(common, got.shape, expected.shape, strict=True)
    )
    if close(g, e):
        return f"The common part [{text}] is right."
    return f"In the common part [{text}]: " + _largest_difference(g, e)


def judge_tensor(
    got: Any, expected: torch.Tensor, what: str = "the output", overflow_hint: str = ""
) -> Verdict | None:
    """Compare one returned tensor with ``expected``; None when it is right."""
    if not isinstance(got, torch.Tensor):
        return Verdict(f"{what} should be a torch.Tensor, but it is a {type_name(got)}.")
    if got.device != expected.device:
        return Verdict(
            f"{what} is on {got.device}, but the inputs are on {expected.device}. "
            "Create new tensors on the input's device (`device=x.device`)."
        )
    if got.shape != expected.shape:
        shapes = f"{what} has shape {tuple(got.shape)}; expected {tuple(expected.shape)}."
        return Verdict(
            f"{what} has the wrong shape.",
            " ".join(filter(None, [shapes, _overlap_detail(got, expected)])),
            diagnose=True,
            evidence=shapes,
        )
    if got.dtype != expected.dtype:
        return Verdict(
            f"{what} has dtype {got.dtype} but the inputs are {expected.dtype}. "
            "Keep the input's dtype (e.g. `torch.zeros(..., dtype=x.dtype, device=x.device)`)."
        )
    if (~torch.isfinite(got) & torch.isfinite(expected)).any():
        return Verdict(OVERFLOW + (" " + overflow_hint if overflow_hint else ""))
    if close(got, expected):
        return None
    shape = f"{what} has the expected shape {tuple(expected.shape)}. " if got.ndim else ""
    return Verdict(
        f"{what} has the right shape but wrong values.",
        shape + _largest_difference(got, expected),
        diagnose=True,
    )


def judge_answer(got: Any, case: Case) -> Verdict | None:
    """Judge a tensor answer, or a tuple of them part by part (``case.parts``)."""
    if not case.parts:
        return judge_tensor(got, case.expected, case.what, case.overflow_hint)
    for what, got_part, expected_part in zip(case.parts, got, case.expected, strict=True):
        verdict = judge_tensor(got_part, expected_part, what, case.overflow_hint)
        if verdict is not None:
            return verdict
    return None


def misplaced(expected: torch.Tensor) -> Mistake:
    """The right values, perhaps in the wrong places: as many values, alike once sorted, but
    not in the same order (the right values in the right order are only wrongly shaped)."""

    def explains(got: Any) -> bool:
        if not isinstance(got, torch.Tensor) or got.numel() != expected.numel():
            return False
        if got.shape != expected.shape and close(got.flatten(), expected.flatten()):
            return False  # in the right order: only the shape is wrong
        return close(got.flatten().sort().values, expected.flatten().sort().values)

    return Mistake(VALUES_MISPLACED, explains=explains, fallback=True)


@dataclass
class Ran:
    """What the student's function did on one case: ``value`` (normalized) with its
    ``verdict`` (None when right), or ``raised``, or a ``problem`` that ends the check."""

    case: Case
    value: Any = None
    raised: Raised | None = None
    verdict: Verdict | None = None
    problem: str | None = None
    normalize: Callable[[Any, Case], Any] | None = None
    _mistakes: list[Mistake] | None = None

    @property
    def answered(self) -> bool:
        return self.raised is None and self.problem is None

    @property
    def wrong(self) -> bool:
        return not self.answered or self.verdict is not None

    def mistakes(self) -> list[Mistake]:
        """The case's mistakes, their outputs normalized like the student's answers."""
        if self._mistakes is None:
            self._mistakes = self.case.mistakes()
            if self.normalize is not None:
                for mistake in self._mistakes:
                    if mistake.output is not None:
                        output = self.normalize(mistake.output, self.case)
                        mistake.output = None if isinstance(output, Verdict) else output
        return self._mistakes


def _empty(value: Any) -> bool:
    return isinstance(value, torch.Tensor) and value.numel() == 0


def _standing(mistake: Mistake, others: list[Ran]) -> int:
    """How the other cases judge ``mistake``: 2 consistent with each, 1 not ruled out by any
    right answer (but another wrong answer has another cause too), 0 ruled out."""
    level = 2
    for ran in others:
        variant = next((m for m in ran.mistakes() if m.key == mistake.key), None)
        if variant is None or _empty(ran.value):  # no evidence there
            continue
        if ran.verdict is None:
            if not variant.fits(ran.case.expected):
                return 0
        elif not variant.fits(ran.value):
            level = 1
    return level


def _confirmed_by_another(mistake: Mistake, others: list[Ran]) -> bool:
    """Whether another wrong answer is what ``mistake`` gives on its case too."""
    for ran in others:
        variant = next((m for m in ran.mistakes() if m.key == mistake.key), None)
        if variant is not None and ran.verdict is not None and variant.fits(ran.value):
            return True
    return False


def _may_name(mistake: Mistake, level: int, others: list[Ran]) -> bool:
    """A catch-all may always be named. A tentative mistake (a wrong size with the right
    values, which a slip elsewhere gives too) only when every other case agrees with it and
    another wrong answer fits it as well. Any other mistake that another wrong answer
    contradicts (level 1: that case went wrong otherwise) only when a further wrong answer
    confirms it, as :func:`.sizes.confirmed_replays` asks of a count: one matching answer
    among wrong ones that disagree may be a coincidence."""
    if mistake.fallback:
        return True
    if mistake.tentative:
        return level == 2 and _confirmed_by_another(mistake, others)
    return level == 2 or _confirmed_by_another(mistake, others)


def diagnose(runs: list[Ran], index: int) -> str | None:
    """The message of the misconception that explains ``runs[index]``'s answer, when one does
    and no other case rules it out; None otherwise, and None when two misconceptions with
    different messages fit the evidence equally well (a guess is worse than nothing)."""
    ran = runs[index]
    fitting = [m for m in ran.mistakes() if m.fits(ran.value)]
    if not fitting:
        return None
    others = [r for i, r in enumerate(runs) if i != index and r.answered]
    standing = [(_standing(m, others), m) for m in fitting]
    for level in (2, 1):
        here = [m for s, m in standing if s == level and _may_name(m, level, others)]
        specific = [m for m in here if not m.weak and not m.fallback]
        if specific:
            messages = list(dict.fromkeys(m.message for m in specific))
            if len(messages) == 1:
                return messages[0]
            neutral = {m.neutral for m in specific}
            return neutral.pop() if len(neutral) == 1 and "" not in neutral else None
        fallback = [m for m in here if m.fallback]
        if fallback:
            return fallback[0].message
        weak = {m.message for m in here if m.weak}
        if len(weak) == 1 and level == 2:
            return weak.pop()
    return None


def _retry_answer(fn: Callable, retry: Retry, case: Case, normalize, options: dict) -> Any:
    """The student's (normalized) answer to ``retry`` when it is one ``retry`` accepts,
    else None."""
    called = attempt(fn, retry.args, retry.kwargs, inputs_frozen=False, **options)
    if called.raised is not None or called.problem is not None:
        return None
    value = called.value
    if normalize is not None:
        value = normalize(value, case)
        if isinstance(value, Verdict):
            return None
    return value if any(_same(value, accepted) for accepted in retry.accepts) else None


def _confounded(retry: Retry, answer: Any, runs: list[Ran], index: int) -> bool:
    """Whether a known mistake other than ``retry``'s hypothesis also gives ``answer`` on the
    retry's inputs and may still explain ``runs[index]``: it fits that wrong answer (or,
    for a crash or an empty answer, cannot be replayed there, as when the kernel no longer
    fits) and no right answer elsewhere rules it out."""
    ran = runs[index]
    others = [r for i, r in enumerate(runs) if i != index and r.answered]
    for rival in retry.rivals():
        if rival.message == retry.message or rival.weak or rival.fallback:
            continue
        if not rival.fits(answer):
            continue
        here = next((m for m in ran.mistakes() if m.key == rival.key), None)
        empty = _empty(ran.value)
        if ran.answered and not empty and (here is None or not here.fits(ran.value)):
            continue  # a student with that misconception would have answered otherwise
        if (not ran.answered or empty) and here is not None:
            continue  # it gives values there: it does not explain a crash or no values
        if _standing(rival, others) > 0:
            return True
    return False


def try_retries(
    fn: Callable,
    runs: list[Ran],
    index: int,
    *,
    normalize: Callable[[Any, Case], Any] | None = None,
    **options,
) -> str | None:
    """The message of the retry that the student's function gets right on ``runs[index]``'s
    case. A retry is ruled out when a case with its ``feature`` was answered right (the
    hypothesis says it would fail there), or when it fails on another case that went wrong
    with that feature (tried once, to confirm it). When retries with different messages
    succeed, a confirmed one is preferred; if that does not decide, none is named."""
    ran = runs[index]
    succeeded: list[tuple[bool, str]] = []  # (confirmed, message)
    tried: set[str] = set()  # keys of the retries that succeeded
    for retry in ran.case.retries():
        if retry.when_raised is not None and (
            ran.raised is None or retry.when_raised not in ran.raised.message
        ):
            continue
        if retry.key in tried or any(message == retry.message for _, message in succeeded):
            continue  # a retry with the same key (a more specific message) came first
        others = [r for i, r in enumerate(runs) if i != index and retry.feature in r.case.features]
        if any(r.answered and r.verdict is None for r in others):
            continue
        answer = _retry_answer(fn, retry, ran.case, normalize, options)
        if answer is None or _confounded(retry, answer, runs, index):
            continue
        confirmed = False
        confirming = next((r for r in others if r.wrong and r.problem is None), None)
        if confirming is not None:
            again = next((t for t in confirming.case.retries() if t.key == retry.key), None)
            if again is not None:
                if _retry_answer(fn, again, confirming.case, normalize, options) is None:
                    continue
                confirmed = True
        succeeded.append((confirmed, retry.message))
        tried.add(retry.key)
    for pool in ([m for c, m in succeeded if c], [m for _, m in succeeded]):
        if len(pool) == 1:
            return pool[0]
        if pool:
            return None
    return None


def reproduction(name: str, case: Case, names: tuple[str, ...]) -> str:
    """``To reproduce: <inputs>; compare name(...) with <reference>.``, when the case says how."""
    if not case.setup or not case.reference:
        return ""
    arguments = list(names[: len(case.args)]) + [f"{k}={v!r}" for k, v in case.kwargs.items()]
    return (
        f"To reproduce: {case.setup}; compare {name}({', '.join(arguments)}) with {case.reference}."
    )


def _where(number: int, cases: list[Case], names: tuple[str, ...]) -> str:
    case = cases[number - 1]
    header = case_header(number, len(cases), case.description)
    return f"{header}\n  call: {describe_call(case.args, case.kwargs, names)}"


# ---------------------------------------------------------------------------------------------
# Partial credit: parts, experiments, and the scoring engine.


@dataclass(frozen=True)
class Part:
    """A weighted group of a check's cases, named for the student (``"stride"``); it passes
    when every case in it passes. ``hidden``: its cases come from the hidden tests' seed, so
    without a seed it is not run (and reported as such). ``needs``: the name of another part
    that must pass for this one to count (a part a degenerate function passes on its own,
    such as raising ValueError where the answer is an error, counts only for a function that
    also answers the valid cases). A hidden part counts only when every visible part passes
    (:data:`HIDDEN_NEEDS`)."""

    name: str
    points: float
    hidden: bool = False
    needs: str = ""


NEEDS = "counts only for a function that also gets the part “{part}” right; see that part."
# The hidden cases test what the visible parts test, on other numbers: a function wrong on a
# visible part is wrong on them too, and one that a draw happened to suit earns nothing more
# than another student with another draw.
HIDDEN_NEEDS = (
    "the hidden cases count only when every visible part is right (they test the same things "
    "on other numbers); see the parts above."
)


@dataclass(frozen=True)
class Finding:
    """What an experiment showed about a wrong answer, for the student.

    ``sentence``: one or two complete sentences, the observation first and then where to
    look; it states only what the experiment observed. ``about``: the ingredient or property
    it concerns (two findings about the same thing are not both said). ``detail``: how the
    experiment was done and what came back, one line. ``strength``: 2 for a pattern over
    every case that ran (confirmed by a call), 1 for an extra call on this case, 0 for what
    the wrong values themselves show."""

    sentence: str
    about: str
    detail: str = ""
    strength: int = 1


@dataclass
class Trial:
    """What the student's function did on an experiment's inputs."""

    value: Any = None
    raised: Raised | None = None
    verdict: Verdict | None = None
    problem: str | None = None

    @property
    def answered(self) -> bool:
        return self.raised is None and self.problem is None

    @property
    def right(self) -> bool:
        return self.answered and self.verdict is None


Experiment = Callable[["Lab", int], "Finding | list[Finding] | None"]


class Lab:
    """What experiments work with: every case's outcome (``runs``), and the student's function,
    called again through the same door as the cases (same guard, same probe, same judge) on
    inputs an experiment chooses. Calls are cached by key and bounded by ``budget`` (a
    wrong answer costs a few extra calls, never many)."""

    def __init__(
        self,
        fn: Callable,
        runs: list["Ran"],
        *,
        options: dict,
        judge: Callable[[Any, Case], Verdict | None],
        normalize: Callable[[Any, Case], Any] | None,
        budget: int = 40,
    ):
        self.fn, self.runs, self.options = fn, runs, options
        self.judge, self.normalize, self.budget = judge, normalize, budget
        self.calls = 0
        self._trials: dict[Any, Trial | None] = {}
        self.notes: dict[Any, Any] = {}  # what experiments keep between cases

    def trial(
        self,
        key: Any,
        like: Case,
        args: tuple,
        kwargs: dict,
        expected: Any,
        probe: Callable | None = None,
    ) -> Trial | None:
        """Call the student's function on ``args``/``kwargs`` and judge the answer against
        ``expected`` as ``like`` is judged; None when the budget is spent. ``key`` names the
        call so that an experiment asked again gets the same trial without a new call."""
        if key in self._trials:
            return self._trials[key]
        if self.calls >= self.budget:
            return None
        self.calls += 1
        options = dict(self.options)
        if probe is not None or "probe" not in options:
            options["probe"] = probe
        called = attempt(self.fn, args, kwargs, inputs_frozen=False, **options)
        trial = Trial(called.value, called.raised, problem=called.problem)
        if trial.answered:
            case = dataclasses.replace(like, args=args, kwargs=kwargs, expected=expected)
            value = called.value if self.normalize is None else self.normalize(called.value, case)
            if isinstance(value, Verdict):
                trial.verdict = value
            else:
                trial.value, trial.verdict = value, self.judge(value, case)
        self._trials[key] = trial
        return trial

    def variant(self, index: int, variant: Variant) -> Trial | None:
        """The student's answer on ``runs[index]``'s case with ``variant``'s one change."""
        case = self.runs[index].case
        return self.trial(
            ("variant", index, variant.ingredient, variant.change),
            case,
            variant.args,
            variant.kwargs,
            variant.expected,
            variant.probe,
        )

    def variants(self, index: int) -> list[Variant]:
        """``runs[index]``'s variants (built once)."""
        key = ("variants", index)
        if key not in self.notes:
            self.notes[key] = list(self.runs[index].case.variants())
        return self.notes[key]


@dataclass
class Explanation:
    """Why one case went wrong: the first line, the lines under it, and whether it names a
    cause (a misconception or an experiment's finding) or only says what is wrong."""

    summary: str
    details: list[str]
    specific: bool
    key: str = ""  # what it is about (a misconception's message, a finding's about)


def _findings(lab: Lab, index: int, experiments: Sequence[Experiment]) -> list[Finding]:
    """What the experiments found about ``runs[index]``: the strongest first, at most one per
    ``about``, and at most two in all. Experiments run in the order given (cheap ones that
    only read the answer first, those that call the student's function later); once one has
    located the fault by a call (strength 1 or more), or two have found something, the rest
    are not run. An experiment that raises (on an answer it was not made for) finds nothing.
    What was found so far is in ``lab.notes[("found", index)]``."""
    found: list[Finding] = lab.notes.setdefault(("found", index), [])
    for experiment in experiments:
        if len(found) >= 2 or any(f.strength >= 1 for f in found):
            break  # located: the later (costlier) experiments are not needed
        try:
            result = experiment(lab, index)
        except Exception:  # an answer it was not made for: an experiment that fails says nothing
            continue
        if result is None:
            continue
        found += [result] if isinstance(result, Finding) else list(result)
    found.sort(key=lambda f: -f.strength)
    chosen: list[Finding] = []
    for finding in found:
        if all(f.about != finding.about and f.sentence != finding.sentence for f in chosen):
            chosen.append(finding)
    return chosen[:2]


def _capitalised(sentence: str, position: int) -> str:
    """A finding's sentence as said after others: its first letter a capital."""
    return sentence[:1].upper() + sentence[1:] if position else sentence


def explain_case(
    lab: Lab,
    index: int,
    experiments: Sequence[Experiment] = (),
    explain: Callable[[Raised], str | None] = lambda error: None,
) -> Explanation | None:
    """What explains ``lab.runs[index]``'s failure (None when nothing does): a known
    misconception that reproduces the answer, else the experiments' findings, else a legacy
    retry, else a tentative misconception."""
    ran = lab.runs[index]
    runs = lab.runs
    weak_message, weak_about = None, set()
    if ran.raised is not None:
        message = explain(ran.raised)
        if message:
            return Explanation(message, [raised_line(ran.raised)], True, message)
        evidence = raised_line(ran.raised)
    elif ran.verdict is not None and ran.verdict.diagnose:
        message = diagnose(runs, index)
        if message:
            weak = [
                m
                for m in ran.mistakes()
                if (m.tentative or m.fallback) and message in (m.message, m.neutral)
            ]
            if not weak:
                return Explanation(message, [ran.verdict.evidence], True, message)
            weak_message, weak_about = message, {m.about for m in weak if m.about}
        evidence = ran.verdict.evidence
    else:
        return None
    findings = _findings(lab, index, experiments)
    agreeing = [f for f in findings if f.about in weak_about and f.strength >= 1]
    if weak_message and agreeing:
        return Explanation(weak_message, [evidence, agreeing[0].detail], True, weak_message)
    if findings:
        summary = " ".join(_capitalised(f.sentence, i) for i, f in enumerate(findings))
        details = [evidence] + [f.detail for f in findings]
        key = " + ".join(f.about for f in findings)
        return Explanation(summary, [d for d in details if d], True, key)
    if ran.case.retries is not list:
        again = {"normalize": lab.normalize, **lab.options}
        message = try_retries(lab.fn, runs, index, **again)
        if message:
            return Explanation(message, [evidence], True, message)
    if weak_message:
        return Explanation(weak_message, [evidence], True, weak_message)
    return None


def generic(name: str, runs: list["Ran"], index: int, names: tuple[str, ...]) -> Explanation:
    """What is wrong with ``runs[index]``, when nothing explains why."""
    ran, total = runs[index], len(runs)
    if ran.raised is not None:
        summary = (
            f"raised {ran.raised.type_name} on case {index + 1} of {total}: "
            f"{first_line(ran.raised.message)}"
        )
        return Explanation(summary, [reproduction(name, ran.case, names)], False)
    verdict = ran.verdict
    detail = [verdict.detail] if verdict.diagnose else []
    return Explanation(verdict.summary, detail + [reproduction(name, ran.case, names)], False)


@dataclass
class Judged:
    """A check's verdict before it is reported: each part's result, the message about the
    first failing case (empty when all passed), whether a *problem* ends the check at 0, and
    how many cases ran."""

    parts: list[PartResult]
    message: str = ""
    problem: bool = False
    cases: int = 0


def run_parts(
    name: str,
    fn: Callable,
    cases: Iterable[Case],
    *,
    parts: Sequence[Part],
    names: tuple[str, ...],
    judge: Callable[[Any, Case], Verdict | None] = judge_answer,
    normalize: Callable[[Any, Case], Any] | None = None,
    forbid: str | None = None,
    inputs_frozen: bool = True,
    inference: bool = False,
    explain: Callable[[Raised], str | None] = lambda error: None,
    experiments: Sequence[Experiment] = (),
    budget: int = 40,
) -> Judged:
    """Run every case (each counts for its ``part``), judge each part, and explain the first
    failing case of each failing part. Parts with no case (a hidden part without a seed) are
    reported as not run."""
    if not callable(fn):
        fail(name, f"expected a function, got {describe(fn)}.")
    cases = list(cases)
    with quiet(fn):
        options = {"forbid": forbid, "inference": inference}
        runs: list[Ran] = []
        for number, case in enumerate(cases, 1):
            called = attempt(
                fn, case.args, case.kwargs, inputs_frozen=inputs_frozen, probe=case.probe, **options
            )
            ran = Ran(
                case, called.value, called.raised, problem=called.problem, normalize=normalize
            )
            if ran.answered:
                value = ran.value if normalize is None else normalize(ran.value, case)
                if isinstance(value, Verdict):
                    ran.verdict = value
                else:
                    ran.value, ran.verdict = value, judge(value, case)
            runs.append(ran)
            if ran.problem is not None:
                where = "" if ran.problem == NOT_IMPLEMENTED else _where(number, cases, names)
                message = "\n".join(
                    [f"{name}: {ran.problem}"] + ["  " + line for line in where.splitlines()]
                )
                results = [
                    PartResult(
                        p.name, p.points, None if _empty_part(p, cases) else False, ran.problem
                    )
                    for p in parts
                ]
                return Judged(results, message, problem=True, cases=len(cases))
        lab = Lab(fn, runs, options=options, judge=judge, normalize=normalize, budget=budget)
        explanations: dict[int, Explanation] = {}

        def explanation(index: int) -> Explanation:
            if index not in explanations:
                try:
                    found = explain_case(lab, index, experiments, explain)
                except Exception:  # a replay or explanation unfit for the answer: say what is wrong
                    found = None
                explanations[index] = found or generic(name, runs, index, names)
            return explanations[index]

        results = []
        firsts = []  # the first failing case of each failing part
        for part in parts:
            mine = [i for i, c in enumerate(cases) if c.part == part.name]
            if not mine:
                results.append(PartResult(part.name, part.points, None))
                continue
            failing = [i for i in mine if runs[i].wrong]
            if not failing:
                results.append(PartResult(part.name, part.points, True))
                continue
            # the first failing case whose failure is explained (of the first few), else the first
            chosen = next((i for i in failing[:3] if explanation(i).specific), failing[0])
            firsts.append(chosen)
            results.append(PartResult(part.name, part.points, False, explanation(chosen).summary))
        unassigned = [i for i, c in enumerate(cases) if c.part not in {p.name for p in parts}]
        if unassigned:
            raise ValueError(f"cases of no declared part: {[cases[i].part for i in unassigned]}")
        passed = {r.name: r.passed for r in results}
        hidden = {p.name for p in parts if p.hidden}
        for position, part in enumerate(parts):
            if part.needs and results[position].passed and not passed[part.needs]:
                message = NEEDS.format(part=part.needs)
                results[position] = PartResult(part.name, part.points, False, message)
        visible_right = all(r.passed is not False for r in results if r.name not in hidden)
        for position, part in enumerate(parts):
            if part.hidden and results[position].passed and not visible_right:
                results[position] = PartResult(part.name, part.points, False, HIDDEN_NEEDS)
        if not firsts:
            return Judged(results, cases=len(cases))
        message = _message(name, runs, sorted(set(firsts)), explanation, cases, names)
        return Judged(results, message, cases=len(cases))


def _empty_part(part: Part, cases: list[Case]) -> bool:
    return not any(c.part == part.name for c in cases)


def _message(name, runs, firsts, explanation, cases, names) -> str:
    """The check's message: the first failing case and its explanation (or a later failing
    case's, when only that one is explained), then what else explains other failing cases."""
    first = firsts[0]
    lead, said = first, explanation(first)
    note = ""
    if not said.specific:
        for index in firsts[1:]:
            if explanation(index).specific:
                lead, said = index, explanation(index)
                ran = runs[first]
                went = (
                    f"it raised {ran.raised.type_name}: {first_line(ran.raised.message)}"
                    if ran.raised is not None
                    else ran.verdict.summary
                )
                note = f"(Case {first + 1} went wrong first: {went})"
                break
    lines = [f"{name}: {said.summary}", _where(lead + 1, cases, names), *said.details]
    if note:
        lines.append(note)
    also, keys = [], set((said.key or said.summary).split(" + "))
    for index in firsts:
        if index == lead:
            continue
        other = explanation(index)
        mine = set((other.key or other.summary).split(" + "))
        if other.specific and not mine <= keys:
            keys |= mine
            also.append(other.summary)
            lines.append(f"Also, on case {index + 1} ({cases[index].description}): {other.summary}")
        if len(also) == 2:
            break
    body = [lines[0]] + ["  " + line for text in lines[1:] if text for line in text.splitlines()]
    return "\n".join(body)


def report(name: str, judged: Judged) -> Score:
    """Print or raise what a student sees, and return the :class:`Score`: every part that ran
    passed: one line; some passed: the points, every part and the message; none passed, or a
    problem: ``CheckFailed`` (the message, then every part; the 0-point ``Score`` with it)."""
    score = Score(judged.parts, judged.message)
    ran = [p for p in judged.parts if p.passed is not None]
    if judged.problem or not any(p.passed for p in ran):
        # 0 points: a part that ran counts as failed (a problem ends the check whatever passed)
        parts = [p if not p.passed else dataclasses.replace(p, passed=False) for p in score.parts]
        score = Score(parts, judged.message)
        raise CheckFailed(f"{judged.message}\n{score.table()}", score)
    if all(p.passed for p in ran):
        report_pass(name, judged.cases)
        return score
    print(f"{name}: {float(score):g} of {score.max_points:g} points")
    print(score.table())
    print(judged.message)
    return score


def score_cases(name: str, fn: Callable, cases: Iterable[Case], **options) -> Score:
    """:func:`run_parts`, then :func:`report`: what a check returns."""
    return report(name, run_parts(name, fn, cases, **options))
