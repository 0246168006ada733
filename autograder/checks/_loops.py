"""The loop rule of ``conv2d_fast``: no loop whose number of steps grows with the number of
output positions (a loop over the kernel's offsets or the channels is fine).

Judged from what the student's process cannot rewrite: the **CPU time** of the call, on two
inputs whose outputs differ 64-fold in positions (8-fold in rows and columns). At grading
time the grader reads that time from outside the sandbox's child (``Outcome.cpu_seconds``,
filled by ``grading.sandbox``); in a student's own notebook it is this thread's CPU time
around the call (forging it there only fools oneself). A vectorised convolution costs about
the same on both (its time is the fixed cost of a few operators and of the call itself); a
loop over positions, rows or columns costs 8 to 64 times more on the larger one, whether it
loops over tensor operations or over Python numbers (each position takes 108 to 144
multiplications, so even a loop over numbers outweighs the call's fixed cost). The margin holds on a loaded machine: CPU time, not wall time (waiting for a core
does not count); one torch thread while measuring in-process (torch's helper threads spin
while they wait, which counts; the grading sandbox runs one already); the smallest of
repeated measurements; and a threshold set from the growth a vectorised reference shows on
the same inputs, run through the same door (at grading time in the sandbox, as a probe, so
it pays the same fixed costs), and at least ``MIN_GROWTH``.

The inputs are drawn from the check's generator (``_seeds.generator``): keyed by the course
secret at grading time, so they differ per student and cannot be recognised; and the calls
run under the forbidden-call watch like every other. The counts of torch operators and
Python calls the guard reports from inside the student's process are extra evidence for
*failing* only (a loop that forged them lower still shows in its CPU time; nobody forges
them higher to fail): no verdict of "no loop" rests on them.
"""

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..device import get_device
from . import _guard
from ._cases import quiet
from ._report import fail
from ._seeds import generator
from ._student import Outcome, StandIn, invoke

LOOP_SEED = 2  # the visible draw (a student's own notebook); graded draws are keyed
SCALE = 8  # the larger output's side over the smaller's: 64 times the positions
MIN_GROWTH = 4.0  # a loop over rows alone grows ~8-fold, over positions ~64-fold
REFERENCE_MARGIN = 2.5  # allowed: this many times the vectorised reference's growth
CLEAR = 3.0  # growth within [threshold / 2, CLEAR × threshold]: the large input measured again
REPEATS = 3  # measurements of each input at most; the smallest counts
COUNT_SLACK = 8  # operators or calls a vectorised function may add on the larger input


@dataclass(frozen=True)
class LoopInput:
    """One input of the loop rule: ``x: (n, c_in, h, w)``, ``weight: (c_out, c_in, k, k)``,
    an output of ``side × side`` positions."""

    n: int
    c_in: int
    c_out: int
    kernel: int
    padding: int
    side: int
    bias: bool

    def tensors(self, g: torch.Generator, device: torch.device) -> tuple:
        h = self.side + self.kernel - 1 - 2 * self.padding
        x = torch.randn(self.n, self.c_in, h, h, generator=g)
        weight = torch.randn(self.c_out, self.c_in, self.kernel, self.kernel, generator=g)
        bias = torch.randn(self.c_out, generator=g) if self.bias else None
        return x.to(device), weight.to(device), None if bias is None else bias.to(device)

    def kwargs(self) -> dict:
        return {"padding": self.padding} if self.padding else {}

    def describe(self) -> str:
        return f"N={self.n}, C_in={self.c_in}, C_out={self.c_out}, a {self.side}×{self.side} output"


def draw(g: torch.Generator) -> tuple[LoopInput, LoopInput]:
    """A small input and a large one, alike but for the output's size (3×3 or 4×4, and
    ``SCALE`` times that), drawn from ``g``. The work per position is in the input channels
    (6 to 8, a 3×3 kernel), not in images or output channels: a loop over those too costs
    the larger input seconds, not tens of seconds."""

    def pick(low: int, high: int) -> int:
        return int(torch.randint(low, high + 1, (1,), generator=g))

    n = pick(1, 2)
    c_in, c_out, padding, side, bias = pick(6, 8), 3 - n, pick(0, 1), pick(3, 4), bool(pick(0, 1))
    small = LoopInput(n, c_in, c_out, 3, padding, side, bias)
    return small, LoopInput(n, c_in, c_out, 3, padding, side * SCALE, bias)


def reference(x, weight, bias=None, padding=0) -> torch.Tensor:
    """A vectorised convolution (unfold and one matmul): the loop rule's yardstick."""
    n, c_out, k = x.shape[0], weight.shape[0], weight.shape[-1]
    side = x.shape[-1] + 2 * padding - k + 1
    columns = F.unfold(x, k, padding=padding)
    out = (weight.reshape(c_out, -1) @ columns).reshape(n, c_out, side, side)
    return out if bias is None else out + bias.reshape(1, -1, 1, 1)


def probe_reference(conv2d_fast: Callable, *args, **kwargs) -> torch.Tensor:
    """:func:`reference`, run through the same door as the student's function (trusted code:
    ``conv2d_fast`` is not called), so that its time includes the same fixed costs."""
    return reference(*args, **kwargs)


@contextlib.contextmanager
def _one_thread(target) -> Iterator[None]:
    """In this process, torch on one thread while measuring: torch's helper threads spin
    while they wait for a core, and the calling thread's CPU time counts their wait. (The
    grading sandbox runs torch on one thread already.)"""
    if isinstance(target, StandIn):
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@dataclass
class Evidence:
    """What the loop rule measured: the two inputs, each call's outcome (the large input's
    repeated only when its growth was near the threshold), the growth of the reference's
    CPU time, and an error or wrong answer on the rule's inputs."""

    small_input: LoopInput
    large_input: LoopInput
    small: list[Outcome]
    large: list[Outcome]
    reference: float
    wrong: str | None = None

    @property
    def threshold(self) -> float:
        return max(MIN_GROWTH, REFERENCE_MARGIN * self.reference)

    @property
    def growth(self) -> float | None:
        """The growth of the student's CPU time (None where it was not measured)."""
        small = min(o.cpu_seconds for o in self.small)
        large = min(o.cpu_seconds for o in self.large)
        return large / small if small > 0 and large > 0 else None

    def counts(self, counted: str) -> tuple[int, int]:
        """The smallest ``op_count`` or ``call_count`` on the small and the large input."""
        return (
            min(getattr(o, counted) for o in self.small),
            min(getattr(o, counted) for o in self.large),
        )


def measure(
    conv2d_fast: Callable,
    seed: int | None = None,
    name: str = "conv2d_fast",
    yardstick: Callable = probe_reference,
) -> Evidence:
    """Run ``conv2d_fast`` on the loop rule's inputs (drawn from ``seed``'s generator) under
    the forbidden-call watch, and the ``yardstick`` probe on the same inputs through the same
    door (at grading time it runs in the sandbox: a probe the sandbox knows). Raises
    ``CheckFailed`` when a call is a problem that ends the check (a forbidden routine, the
    guard switched off), as for every case."""
    g, device = generator(seed, LOOP_SEED), get_device()
    small_input, large_input = draw(g)
    small_args, large_args = small_input.tensors(g, device), large_input.tensors(g, device)
    kwargs = small_input.kwargs()

    def call(args, probe=None) -> Outcome:
        outcome = invoke(conv2d_fast, args, kwargs, forbid="convolution", probe=probe)
        _problem(name, outcome)
        return outcome

    def reference_seconds(args) -> float:
        return min(call(args, yardstick).cpu_seconds for _ in range(REPEATS))

    with quiet(conv2d_fast), _one_thread(conv2d_fast):
        for args in (small_args, large_args):  # a shape's first call may cost more
            call(args, yardstick)
        small_reference = reference_seconds(small_args)
        growth = reference_seconds(large_args) / small_reference if small_reference > 0 else 1.0
        small = [call(small_args) for _ in range(REPEATS)]
        evidence = Evidence(small_input, large_input, small, [call(large_args)], growth)
        while (
            evidence.growth is not None
            and evidence.threshold / 2 < evidence.growth < CLEAR * evidence.threshold
            and len(evidence.large) < REPEATS
        ):  # near the threshold, a noisy measurement may decide: the smallest of a few counts
            evidence.large.append(call(large_args))
    evidence.wrong = _wrong(small[0], small_input, small_args, kwargs) or _wrong(
        evidence.large[0], large_input, large_args, kwargs
    )
    return evidence


def loop_rule(
    conv2d_fast: Callable,
    seed: int | None = None,
    name: str = "conv2d_fast",
    yardstick: Callable = probe_reference,
) -> str | None:
    """Why ``conv2d_fast`` seems to loop over output positions (a message for the student),
    or None when it does not. ``seed``: the check's seed (None for the visible test);
    ``yardstick``: :func:`probe_reference`, a probe the grading sandbox knows (the
    supervisor takes every ``probe_*`` of the checks' modules, this one's included). Raises ``CheckFailed`` for a problem that ends the check
    (see :func:`measure`)."""
    evidence = measure(conv2d_fast, seed, name, yardstick)
    if evidence.wrong:
        return evidence.wrong
    large = f"a {evidence.large_input.side}×{evidence.large_input.side} output"
    small = f"a {evidence.small_input.side}×{evidence.small_input.side} one"
    advice = (
        "Gather all windows at once (unfold or as_strided) and use one matmul or einsum; a "
        "loop over the kernel's offsets or the channels is fine."
    )
    growth = evidence.growth
    if growth is not None and growth > evidence.threshold:
        return (
            f"seems to loop over output positions: it took {growth:.0f} times more CPU time "
            f"for {large} than for {small} ({SCALE * SCALE} times the positions), where a "
            f"vectorised convolution takes about {evidence.reference:.1f} times more. {advice}"
        )
    for counted, what in (("op_count", "tensor operations"), ("call_count", "function calls")):
        few, many = evidence.counts(counted)
        if many > few + COUNT_SLACK:
            return (
                f"seems to loop over output positions: it made {many} {what} for {large} "
                f"but {few} for {small}. {advice}"
            )
    return None


def _problem(name: str, outcome: Outcome) -> None:
    """End the check for a call that cannot be judged, as for every case."""
    if _guard.TAMPERED in outcome.forbidden:
        fail(
            name,
            "changed or switched off the checks' own code (the watch for forbidden library "
            "calls, or the code that runs your function), so this call cannot be judged. "
            "Leave the course's code alone and call only torch and your own functions.",
        )
    if outcome.forbidden:
        fail(
            name,
            f"uses {' and '.join(outcome.forbidden)}, which this exercise asks you not to "
            "call. Write the computation yourself with basic tensor operations.",
        )


def _wrong(outcome: Outcome, given: LoopInput, args: tuple, kwargs: dict) -> str | None:
    """Why an answer on the loop rule's input cannot count (an error, a wrong answer)."""
    if outcome.error is not None:
        return (
            f"raised {outcome.error.type_name} on the loop rule's input ({given.describe()}): "
            f"{outcome.error.message[:200]}"
        )
    expected = F.conv2d(*args, **kwargs)
    value = outcome.value
    if not (
        isinstance(value, torch.Tensor)
        and value.shape == expected.shape
        and torch.allclose(value.to(expected), expected, rtol=1e-4, atol=1e-4)
    ):
        return (
            f"gave a wrong answer on the loop rule's input ({given.describe()}), so its speed "
            "cannot be judged."
        )
    return None
