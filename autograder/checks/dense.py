"""Checks for the neuron, the fully connected layer, its parameter count, and one step of learning."""

from collections.abc import Callable
from numbers import Integral
from typing import Any

import torch
import torch.nn.functional as F

from ..device import get_device
from ._cases import Case, Mistake, call_student, describe_call, judge_tensor, run_cases
from ._report import fail, report_pass
from ._seeds import generator
from ._student import Raised, type_name


def check_neuron(neuron: Callable, seed: int | None = None) -> None:
    """Check ``neuron(x, w, b, activation) = activation(x @ w + b)``.

    ``x: (..., D)``, ``w: (D,)``, ``b`` a scalar; the result has shape ``x.shape[:-1]``.
    """
    device, g = get_device(), generator(seed, 7)
    cases = []
    for lead, b in [((), 0.5), ((4,), -1.25), ((2, 3), 0.3)]:
        d = int(torch.randint(2, 7, (1,), generator=g))
        x = torch.randn(*lead, d, generator=g).to(device)
        w = torch.randn(d, generator=g).to(device)
        b = torch.tensor(b, device=device) if lead == (2, 3) else b
        act = torch.tanh if len(lead) != 1 else F.softplus
        z = x @ w
        cases.append(
            Case(
                description=f"x with {len(lead) + 1} dimension(s), activation={act.__name__}",
                args=(x, w, b, act),
                expected=act(z + b),
                mistakes=lambda z=z, b=b, act=act: [
                    Mistake("the bias b is missing: y = f(w·x + b).", act(z)),
                    Mistake("the activation is not applied: y = f(w·x + b).", z + b),
                    Mistake(
                        "the bias must be added before the activation: f(w·x + b).", act(z) + b
                    ),
                    Mistake(
                        "use the activation you are given, not the sigmoid.", torch.sigmoid(z + b)
                    ),
                ],
            )
        )
    run_cases("neuron", neuron, cases, names=("x", "w", "b", "activation"))


def check_dense_forward(dense_forward: Callable, seed: int | None = None) -> None:
    """Check ``dense_forward(x, W, b, activation) = activation(x @ W.T + b)``.

    ``x: (N, D_in)``, ``W: (D_out, D_in)``, ``b: (D_out,)`` -> ``(N, D_out)``.
    """
    device, g = get_device(), generator(seed, 11)
    sizes = [(5, 4, 4), (1, 3, 2), (3, 6, 2)]
    if seed is not None:
        sizes += [tuple(int(v) for v in torch.randint(1, 9, (3,), generator=g)) for _ in range(3)]
    cases = []
    for n, d_in, d_out in sizes:
        x, W = (
            torch.randn(n, d_in, generator=g).to(device),
            torch.randn(d_out, d_in, generator=g).to(device),
        )
        b = torch.randn(d_out, generator=g).to(device)
        act = torch.tanh
        z = x @ W.T

        def mistakes(x=x, W=W, b=b, z=z, act=act, n=n, d_out=d_out):
            found = [
                Mistake("the bias b is missing: y = f(x Wᵀ + b).", act(z)),
                Mistake("the activation is not applied: y = f(x Wᵀ + b).", z + b),
                Mistake("the bias must be added before the activation.", act(z) + b),
                Mistake(
                    "the result is transposed: one row per example, so (N, D_out).",
                    shape=(d_out, n),
                ),
            ]
            if W.shape[0] == W.shape[1]:
                found.append(
                    Mistake("W has shape (D_out, D_in): multiply by W.T, x @ W.T.", act(x @ W + b))
                )
            return found

        cases.append(
            Case(
                description=f"N={n}, D_in={d_in}, D_out={d_out}",
                args=(x, W, b, act),
                expected=act(z + b),
                mistakes=mistakes,
            )
        )
    run_cases("dense_forward", dense_forward, cases, names=("x", "W", "b", "activation"))


def judge_count(got: Any, case: Case) -> tuple[str, str] | None:
    """Judge a function that must return an exact ``int``."""
    if isinstance(got, bool) or not isinstance(got, Integral):
        return f"should return an int, but returned {got!r} ({type_name(got)}).", ""
    if got == case.expected:
        return None
    for mistake in case.mistakes():
        if got == mistake.output:
            return mistake.message, f"got {got}, expected {case.expected}."
    return f"returned {got}; expected {case.expected}.", ""


def _dense_count_mistakes(d_in: int, d_out: int, bias: bool) -> list[Mistake]:
    weights = d_in * d_out
    if not bias:
        return [Mistake("with bias=False there are no biases to count.", weights + d_out)]
    return [
        Mistake(
            "each output unit has one bias: add out_features, not in_features.", weights + d_in
        ),
        Mistake("don't forget the biases: one per output unit.", weights),
        Mistake("every input connects to every output: in × out weights.", d_in + d_out + d_out),
    ]


def check_dense_param_count(dense_param_count: Callable, seed: int | None = None) -> None:
    """Check ``dense_param_count(in_features, out_features, bias=True)`` = ``in*out (+ out)``."""
    g = generator(seed, 3)
    random_sizes = [
        tuple(int(v) for v in torch.randint(2, 500, (2,), generator=g)) for _ in range(3)
    ]
    settings = [(3072, 1, None), (4, 3, True)] + [
        (d_in, d_out, bias)
        for (d_in, d_out), bias in zip(random_sizes, [True, False, True], strict=True)
    ]
    cases = [
        Case(
            description=f"{d_in} inputs, {d_out} outputs, bias={bias is not False}",
            args=(d_in, d_out),
            kwargs={} if bias is None else {"bias": bias},
            expected=d_in * d_out + (0 if bias is False else d_out),
            mistakes=lambda i=d_in, o=d_out, b=bias: _dense_count_mistakes(i, o, b is not False),
        )
        for d_in, d_out, bias in settings
    ]
    run_cases(
        "dense_param_count",
        dense_param_count,
        cases,
        names=("in_features", "out_features"),
        judge=judge_count,
    )


def _neuron_problem(n: int, d: int, g: torch.Generator, device: torch.device, dtype=torch.float32):
    x = torch.randn(n, d, generator=g, dtype=dtype).to(device)
    w = torch.randn(d, generator=g, dtype=dtype).to(device)
    b = torch.randn((), generator=g, dtype=dtype).to(device)
    t = torch.rand(n, generator=g, dtype=dtype).to(device)
    return x, w, b, t


def _sigmoid_neuron_grads(x, w, b, t, *, mean=True, sigma_prime=True, half=True, sign=1.0):
    """Chain-rule gradients of L = ½ (σ(x·w + b) − t)², averaged over the batch, with
    switches that reproduce the usual slips."""
    y = torch.sigmoid(x @ w + b)
    dz = (y - t) * (y * (1 - y) if sigma_prime else 1.0) * (1.0 if half else 2.0) * sign
    if mean:
        dz = dz / x.shape[0]
    return dz @ x, dz.sum()


GRADIENT_MISTAKES = [
    ("the loss is averaged over the batch: divide the summed gradient by N.", {"mean": False}),
    (
        "σ'(z) = σ(z)(1 − σ(z)) is missing from the chain rule: dL/dz = (y − t)·σ'(z).",
        {"sigma_prime": False},
    ),
    ("the gradient is twice too large: d/dy of ½(y − t)² is (y − t).", {"half": False}),
    ("the gradient has the wrong sign: dL/dy = y − t, not t − y.", {"sign": -1.0}),
]


def _autograd_is_off(error: Raised) -> str | None:
    if "grad" in str(error) or "inference" in str(error).lower():
        return (
            "autograd is switched off inside this function: compute dL/dw and dL/db "
            "yourself with the chain rule."
        )
    return None


def check_neuron_gradients(neuron_gradients: Callable, seed: int | None = None) -> None:
    """Check ``neuron_gradients(x, w, b, target) -> (dL/dw, dL/db)`` against autograd.

    The neuron is ``y = sigmoid(x @ w + b)`` with ``x: (N, D)``, ``w: (D,)``, ``b`` a 0-d
    tensor, ``target: (N,)``; the loss is ``L = mean(0.5 * (y - target)**2)``.
    ``dL/dw`` has shape ``(D,)``; ``dL/db`` is a scalar (a 0-d or 1-element tensor).
    Autograd is not available inside the call: the gradients must come from the chain rule.
    """
    name, device, g = "neuron_gradients", get_device(), generator(seed, 5)
    shapes = (
        [(1, 2), (6, 3), (10, 5)]
        if seed is None
        else [
            (
                int(torch.randint(2, 30, (1,), generator=g)),
                int(torch.randint(1, 9, (1,), generator=g)),
            )
            for _ in range(4)
        ]
    )
    for number, (n, d) in enumerate(shapes, 1):
        x, w, b, t = _neuron_problem(
            n, d, g, device, torch.float64 if number == len(shapes) else torch.float32
        )
        w_, b_ = w.clone().requires_grad_(), b.clone().requires_grad_()
        loss = 0.5 * ((torch.sigmoid(x @ w_ + b_) - t) ** 2).mean()
        expected_w, expected_b = torch.autograd.grad(loss, (w_, b_))
        args = (x, w, b, t)
        where = f"Failed on case {number} of {len(shapes)}: N={n}, D={d}\n  call: " + describe_call(
            args, {}, ("x", "w", "b", "target")
        )
        got = call_student(
            name, neuron_gradients, args, {}, where=where, inference=True, explain=_autograd_is_off
        )
        if not isinstance(got, tuple | list) or len(got) != 2:
            fail(
                name,
                f"should return a pair (dL/dw, dL/db), but returned {type_name(got)}.",
                where,
            )
        got_w, got_b = got
        if isinstance(got_b, torch.Tensor) and got_b.numel() == 1:
            got_b = got_b.reshape(())
        elif isinstance(got_b, float | int):
            got_b = torch.tensor(float(got_b), dtype=expected_b.dtype, device=device)
        mistakes = [
            (message, _sigmoid_neuron_grads(x, w, b, t, **slip))
            for message, slip in GRADIENT_MISTAKES
        ]
        for what, got_part, expected_part, index in [
            ("dL/dw", got_w, expected_w, 0),
            ("dL/db", got_b, expected_b, 1),
        ]:
            case = Case(
                description="",
                args=args,
                expected=expected_part,
                mistakes=lambda index=index, slips=mistakes: [
                    Mistake(m, out[index]) for m, out in slips
                ],
            )
            problem = judge_tensor(got_part, case, what=what)
            if problem is not None:
                fail(name, problem[0], where, problem[1])
    report_pass(name, len(shapes))


SGD_MISTAKES = [
    ("step against the gradient: w − lr·∇w (a + climbs the loss).", lambda p, g, lr: p + lr * g),
    ("multiply the gradient by the learning rate lr.", lambda p, g, lr: p - g),
]


def check_sgd_step(sgd_step: Callable, seed: int | None = None) -> None:
    """Check ``sgd_step(w, b, grad_w, grad_b, lr) -> (w - lr * grad_w, b - lr * grad_b)``.

    Updating ``w`` and ``b`` in place and returning them is accepted too.
    """
    name, device, g = "sgd_step", get_device(), generator(seed, 9)
    rates = [0.1, 0.5, 0.01]
    for number, lr in enumerate(rates, 1):
        d = int(torch.randint(1, 8, (1,), generator=g))
        w, gw = torch.randn(d, generator=g).to(device), torch.randn(d, generator=g).to(device)
        b, gb = torch.randn((), generator=g).to(device), torch.randn((), generator=g).to(device)
        args = (w.clone(), b.clone(), gw, gb, lr)
        where = f"Failed on case {number} of {len(rates)}: " + describe_call(
            args, {}, ("w", "b", "grad_w", "grad_b", "lr")
        )
        got = call_student(name, sgd_step, args, {}, where=where, inputs_frozen=False)
        if not isinstance(got, tuple | list) or len(got) != 2:
            fail(name, f"should return a pair (w, b), but returned {type_name(got)}.", where)
        for what, got_part, param, grad in [
            ("the new w", got[0], w, gw),
            ("the new b", got[1], b, gb),
        ]:
            if isinstance(got_part, torch.Tensor) and got_part.numel() == 1 and param.ndim == 0:
                got_part = got_part.reshape(())
            case = Case(
                description="",
                args=args,
                expected=param - lr * grad,
                mistakes=lambda p=param, gr=grad, lr=lr: [
                    Mistake(m, f(p, gr, lr)) for m, f in SGD_MISTAKES
                ],
            )
            problem = judge_tensor(got_part, case, what=what)
            if problem is not None:
                fail(name, problem[0], where, problem[1])
    report_pass(name, len(rates))
