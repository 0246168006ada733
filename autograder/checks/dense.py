"""Checks for the neuron, the fully connected layer, its parameter count, and one step of learning."""

from collections.abc import Callable
from numbers import Integral
from typing import Any

import torch
import torch.nn.functional as F

from ..device import get_device
from ._cases import Case, Mistake, Retry, Verdict, randn_code, run_cases
from ._seeds import generator
from ._student import Raised, type_name

NEURON_BIAS_MISSING = "the bias b is missing: y = f(w·x + b)."
NEURON_NO_ACTIVATION = "the activation is not applied: y = f(w·x + b)."
NEURON_BIAS_AFTER = "the bias must be added before the activation: f(w·x + b)."
NEURON_SIGMOID = "use the activation you are given, not the sigmoid."
NEURON_SUM_ALL = (
    "the sum runs over the whole batch: each example's w·x sums over its D inputs only, "
    "so use x @ w (or (x * w).sum(dim=-1))."
)
DENSE_BIAS_MISSING = "the bias b is missing: y = f(x Wᵀ + b)."
DENSE_NO_ACTIVATION = "the activation is not applied: y = f(x Wᵀ + b)."
DENSE_BIAS_AFTER = "the bias must be added before the activation."
DENSE_TRANSPOSED = "the result is transposed: one row per example, so (N, D_out)."
DENSE_W_NOT_TRANSPOSED = "W has shape (D_out, D_in): multiply by W.T, x @ W.T."
DENSE_SINGLE_EXAMPLE = (
    "given one example x of shape (D_in,) the answer is right, but x is a batch (N, D_in): "
    "compute all rows at once with x @ W.T + b."
)


def _neuron_mistakes(x, w, b, act) -> list[Mistake]:
    z = x @ w
    found = [
        Mistake(NEURON_BIAS_MISSING, act(z)),
        Mistake(NEURON_NO_ACTIVATION, z + b),
        Mistake(NEURON_BIAS_AFTER, act(z) + b),
        Mistake(NEURON_SIGMOID, torch.sigmoid(z + b)),
    ]
    if x.ndim > 1:
        found.append(Mistake(NEURON_SUM_ALL, act((x * w).sum() + b)))
    return found


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
        cases.append(
            Case(
                description=f"x with {len(lead) + 1} dimension(s), activation={act.__name__}",
                args=(x, w, b, act),
                expected=act(x @ w + b),
                mistakes=lambda x=x, w=w, b=b, act=act: _neuron_mistakes(x, w, b, act),
            )
        )
    run_cases("neuron", neuron, cases, names=("x", "w", "b", "activation"))


def _dense_mistakes(x, W, b, act) -> list[Mistake]:
    z = x @ W.T
    found = [
        Mistake(DENSE_BIAS_MISSING, act(z)),
        Mistake(DENSE_NO_ACTIVATION, z + b),
        Mistake(DENSE_BIAS_AFTER, act(z) + b),
        Mistake(DENSE_TRANSPOSED, act(z + b).T),
        Mistake(DENSE_TRANSPOSED, shape=(W.shape[0], x.shape[0])),
    ]
    if W.shape[0] == W.shape[1]:
        found.append(Mistake(DENSE_W_NOT_TRANSPOSED, act(x @ W + b)))
    return found


def _dense_retries(x, W, b, act) -> list[Retry]:
    expected = act(x @ W.T + b)
    transposed = W.T.contiguous()
    return [
        Retry(DENSE_W_NOT_TRANSPOSED, (x, transposed, b, act), {}, [expected], feature="W"),
        Retry(DENSE_SINGLE_EXAMPLE, (x[0], W, b, act), {}, [expected[0]]),
    ]


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
        cases.append(
            Case(
                description=f"N={n}, D_in={d_in}, D_out={d_out}",
                args=(x, W, b, act),
                expected=act(x @ W.T + b),
                mistakes=lambda x=x, W=W, b=b, act=act: _dense_mistakes(x, W, b, act),
                retries=lambda x=x, W=W, b=b, act=act: _dense_retries(x, W, b, act),
                setup=f"x, W, b = {randn_code(x)}, {randn_code(W)}, {randn_code(b)}",
                reference="torch.tanh(x @ W.T + b)",
                features=frozenset({"always", "W"} if d_in * d_out > 1 else {"always"}),
            )
        )
    run_cases("dense_forward", dense_forward, cases, names=("x", "W", "b", "activation"))


def judge_count(got: Any, case: Case) -> Verdict | None:
    """Judge a function that must return an exact ``int``."""
    if isinstance(got, bool) or not isinstance(got, Integral):
        return Verdict(f"should return an int, but returned {got!r} ({type_name(got)}).")
    if got == case.expected:
        return None
    return Verdict(
        f"returned {got}; expected {case.expected}.",
        diagnose=True,
        evidence=f"got {got}, expected {case.expected}.",
    )


DENSE_COUNT_BIAS_PER_INPUT = "each output unit has one bias: add out_features, not in_features."
DENSE_COUNT_NO_BIAS = "don't forget the biases: one per output unit."
DENSE_COUNT_ADDED = "every input connects to every output: in × out weights."
COUNT_BIAS_FALSE = "with bias=False there are no biases to count."


def _dense_count_mistakes(d_in: int, d_out: int, bias: bool) -> list[Mistake]:
    weights = d_in * d_out
    if not bias:
        return [Mistake(COUNT_BIAS_FALSE, weights + d_out)]
    return [
        Mistake(DENSE_COUNT_BIAS_PER_INPUT, weights + d_in),
        Mistake(DENSE_COUNT_NO_BIAS, weights),
        Mistake(DENSE_COUNT_ADDED, d_in + d_out + d_out),
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
):
    """Chain-rule gradients of L = ½ (σ(x·w + b) − t)², averaged over the batch, with
    switches that reproduce the usual slips: ``mean`` the number of divisions by N,
    ``sigma_prime`` σ' as y(1 − y), z(1 − z) or missing (None), ``dw`` how ∂z/∂w is taken
    (x; w; the product of sums), ``db_summed`` whether dL/db is summed over the batch."""
    z = x @ w + (b if with_bias else 0)
    y = torch.sigmoid(z)
    factor = {"y": y * (1 - y), "z": z * (1 - z), None: 1.0}[sigma_prime]
    dz = (y - t) * factor * (1.0 if half else 2.0) * sign / x.shape[0] ** mean
    grad_w = {"x": dz @ x, "w": dz.sum() * w, "sums": dz.sum() * x.sum(0)}[dw]
    return grad_w, dz.sum() if db_summed else dz


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
]


def _autograd_is_off(error: Raised) -> str | None:
    if "grad" in str(error) or "inference" in str(error).lower():
        return (
            "autograd is switched off inside this function: compute dL/dw and dL/db "
            "yourself with the chain rule."
        )
    return None


def _as_pair(what: str) -> Callable[[Any, Case], Any]:
    """Normalize a returned pair: a 1-element or Python-number second part becomes 0-d."""

    def normalize(got: Any, case: Case) -> Any:
        if not isinstance(got, tuple | list) or len(got) != 2:
            return Verdict(f"should return a pair {what}, but returned {type_name(got)}.")
        first, second = got
        expected = case.expected[1]
        if isinstance(second, torch.Tensor) and second.numel() == 1 and expected.ndim == 0:
            second = second.reshape(())
        elif isinstance(second, float | int) and not isinstance(second, bool):
            second = torch.tensor(float(second), dtype=expected.dtype, device=expected.device)
        return first, second

    return normalize


def check_neuron_gradients(neuron_gradients: Callable, seed: int | None = None) -> None:
    """Check ``neuron_gradients(x, w, b, target) -> (dL/dw, dL/db)`` against autograd.

    The neuron is ``y = sigmoid(x @ w + b)`` with ``x: (N, D)``, ``w: (D,)``, ``b`` a 0-d
    tensor, ``target: (N,)``; the loss is ``L = mean(0.5 * (y - target)**2)``.
    ``dL/dw`` has shape ``(D,)``; ``dL/db`` is a scalar (a 0-d or 1-element tensor).
    Autograd is not available inside the call: the gradients must come from the chain rule.
    """
    device, g = get_device(), generator(seed, 5)
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
    cases = []
    for number, (n, d) in enumerate(shapes, 1):
        x, w, b, t = _neuron_problem(
            n, d, g, device, torch.float64 if number == len(shapes) else torch.float32
        )
        w_, b_ = w.clone().requires_grad_(), b.clone().requires_grad_()
        loss = 0.5 * ((torch.sigmoid(x @ w_ + b_) - t) ** 2).mean()
        cases.append(
            Case(
                description=f"N={n}, D={d}",
                args=(x, w, b, t),
                expected=torch.autograd.grad(loss, (w_, b_)),
                parts=("dL/dw", "dL/db"),
                mistakes=lambda args=(x, w, b, t): [
                    Mistake(message, _sigmoid_neuron_grads(*args, **slip))
                    for message, slip in GRADIENT_MISTAKES
                ],
            )
        )
    run_cases(
        "neuron_gradients",
        neuron_gradients,
        cases,
        names=("x", "w", "b", "target"),
        normalize=_as_pair("(dL/dw, dL/db)"),
        inference=True,
        explain=_autograd_is_off,
    )


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


def _sgd_mistakes(w, b, gw, gb, lr) -> list[Mistake]:
    found = [Mistake(m, (f(w, gw, lr), f(b, gb, lr))) for m, f in SGD_MISTAKES]
    return found + [Mistake(SGD_B_FROZEN, (w - lr * gw, b))]


def check_sgd_step(sgd_step: Callable, seed: int | None = None) -> None:
    """Check ``sgd_step(w, b, grad_w, grad_b, lr) -> (w - lr * grad_w, b - lr * grad_b)``.

    Updating ``w`` and ``b`` in place and returning them is accepted too.
    """
    device, g = get_device(), generator(seed, 9)
    cases = []
    for lr in [0.1, 0.5, 0.01]:
        d = int(torch.randint(1, 8, (1,), generator=g))
        w, gw = torch.randn(d, generator=g).to(device), torch.randn(d, generator=g).to(device)
        b, gb = torch.randn((), generator=g).to(device), torch.randn((), generator=g).to(device)
        cases.append(
            Case(
                description=f"D={d}, lr={lr}",
                args=(w.clone(), b.clone(), gw, gb, lr),
                expected=(w - lr * gw, b - lr * gb),
                parts=("the new w", "the new b"),
                mistakes=lambda a=(w, b, gw, gb, lr): _sgd_mistakes(*a),
            )
        )
    run_cases(
        "sgd_step",
        sgd_step,
        cases,
        names=("w", "b", "grad_w", "grad_b", "lr"),
        normalize=_as_pair("(w, b)"),
        inputs_frozen=False,
    )
