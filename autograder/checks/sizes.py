"""Checks for the arithmetic of convolutional layers: parameter counts, output size, padding."""

from collections.abc import Callable

import torch

from ._cases import NOT_IMPLEMENTED, Case, Mistake, pair, run_cases
from ._report import fail, report_pass
from ._seeds import generator
from ._student import invoke
from .dense import COUNT_BIAS_FALSE, judge_count

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


def check_param_constants(fc_neuron_params: object, conv_filter_params: object) -> None:
    """Check ``FC_NEURON_PARAMS == (3072, 1)`` and ``CONV_FILTER_PARAMS == (75, 1)``:
    the (weights, biases) of one neuron on a 32×32×3 image, fully connected and as a 5×5×3 filter."""
    name = "FC_NEURON_PARAMS / CONV_FILTER_PARAMS"
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
            fail(name, f"{label} {NOT_A_PAIR}; it is {got!r}.")
        if tuple(got) != expected:
            fail(name, f"{label} = {got!r} is not right: {mistakes.get(tuple(got), COUNT_AGAIN)}")
    report_pass(name, 2)


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


def check_conv_param_count(conv_param_count: Callable, seed: int | None = None) -> None:
    """Check ``conv_param_count(in_channels, out_channels, kernel_size, bias=True)``
    = ``C_out*C_in*K_h*K_w (+ C_out)``; ``kernel_size`` an int or a pair."""
    g = generator(seed, 13)
    settings = [(3, 1, 5, None), (3, 6, 5, True), (16, 32, (3, 5), True), (8, 4, 3, False)]
    for _ in range(3 if seed is not None else 0):
        c_in, c_out = (int(v) for v in torch.randint(1, 65, (2,), generator=g))
        k_h, k_w = (int(v) for v in torch.randint(1, 8, (2,), generator=g))
        settings.append((c_in, c_out, (k_h, k_w), bool(torch.rand(1, generator=g) < 0.7)))
    cases = []
    for c_in, c_out, k, bias in settings:
        k_h, k_w = pair(k)
        cases.append(
            Case(
                description=f"C_in={c_in}, C_out={c_out}, kernel_size={k}, bias={bias is not False}",
                args=(c_in, c_out, k),
                kwargs={} if bias is None else {"bias": bias},
                expected=c_out * c_in * k_h * k_w + (0 if bias is False else c_out),
                mistakes=lambda a=(c_in, c_out, k, bias is not False): _conv_count_mistakes(*a),
            )
        )
    run_cases(
        "conv_param_count",
        conv_param_count,
        cases,
        names=("in_channels", "out_channels", "kernel_size"),
        judge=judge_count,
    )


def expected_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """``floor((size + 2*padding - kernel) / stride) + 1``."""
    return (size + 2 * padding - kernel) // stride + 1


SIZE_PADDING_ONCE = "padding goes on both sides: use n + 2P, not n + P."
SIZE_PLUS_ONE = "off by one: the formula is ⌊(n + 2P − K) / S⌋ + 1 (don't forget the + 1)."
SIZE_PLUS_TWO = "off by one: the formula is ⌊(n + 2P − K) / S⌋ + 1."
SIZE_ROUND_DOWN = "round down (⌊·⌋): a window that does not fit is not used."
SIZE_STRIDE_DIVIDES = "the stride divides (n + 2P − K), before the + 1."
SIZE_STRIDE_IGNORED = "the stride is ignored: divide (n + 2P − K) by S."
SHOULD_RAISE = "should raise ValueError for"
SAME_PADDING_TOTAL = "P is the padding on each side: the two sides together add K − 1."
SAME_PADDING_ROUNDED_UP = "with stride 1, n + 2P − K + 1 = n needs P = (K − 1) / 2."


def _output_size_mistakes(n, k, s, p) -> list[Mistake]:
    return [
        Mistake(SIZE_PADDING_ONCE, (n + p - k) // s + 1),
        Mistake(SIZE_PLUS_ONE, (n + 2 * p - k) // s),
        Mistake(SIZE_PLUS_TWO, (n + 2 * p - k) // s + 2),
        Mistake(SIZE_ROUND_DOWN, -((n + 2 * p - k) // -s) + 1),
        Mistake(SIZE_STRIDE_DIVIDES, (n + 2 * p - k + 1) // s),
        Mistake(SIZE_STRIDE_IGNORED, n + 2 * p - k + 1),
    ]


def check_conv_output_size(conv_output_size: Callable, seed: int | None = None) -> None:
    """Check ``conv_output_size(in_size, kernel_size, stride=1, padding=0)`` =
    ``floor((in_size + 2*padding - kernel_size) / stride) + 1`` and its ``ValueError`` cases:
    kernel larger than the padded input, stride < 1, padding < 0."""
    name = "conv_output_size"
    g = generator(seed, 17)
    settings = [
        (32, 5, 1, 0),
        (32, 5, 1, 2),
        (7, 3, 2, 0),
        (7, 3, 3, 1),
        (224, 11, 4, 2),
        (5, 5, 1, 0),
    ]
    for _ in range(6 if seed is not None else 0):
        k = int(torch.randint(1, 8, (1,), generator=g))
        n = k + int(torch.randint(0, 40, (1,), generator=g))
        s, p = (int(v) for v in torch.randint(1, 5, (2,), generator=g))
        settings.append((n, k, s, p - 1))
    cases = [
        Case(
            description=f"n={n}, K={k}, S={s}, P={p}",
            args=(n, k),
            kwargs={"stride": s, "padding": p},
            expected=expected_output_size(n, k, s, p),
            mistakes=lambda a=(n, k, s, p): _output_size_mistakes(*a),
        )
        for n, k, s, p in settings
    ]
    run_cases(
        name,
        conv_output_size,
        cases,
        names=("in_size", "kernel_size"),
        judge=judge_count,
        announce=False,
    )
    invalid = [
        ((3, 5), {}, "a 5-wide kernel on a 3-wide input with no padding"),
        ((3, 8), {"padding": 2}, "an 8-wide kernel on a 3-wide input padded to 7"),
        ((8, 3), {"stride": 0}, "stride 0"),
        ((8, 3), {"stride": -1}, "a negative stride"),
        ((8, 3), {"padding": -1}, "negative padding"),
    ]
    for args, kwargs, what in invalid:
        _expect_value_error(name, conv_output_size, args, kwargs, what)
    report_pass(name, len(cases) + len(invalid))


def _expect_value_error(name: str, fn: Callable, args: tuple, kwargs: dict, what: str) -> None:
    call = ", ".join([repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()])
    outcome = invoke(fn, args, kwargs)
    if outcome.error is None:
        fail(
            name,
            f"{name}({call}) {SHOULD_RAISE} {what}, but returned {outcome.value!r}.",
        )
    if outcome.error.is_a("ValueError"):
        return
    if outcome.error.is_a("NotImplementedError"):
        fail(name, NOT_IMPLEMENTED)
    fail(
        name,
        f"{name}({call}) {SHOULD_RAISE} {what}, but raised {outcome.error.type_name}.",
    )


def check_same_padding(same_padding: Callable, seed: int | None = None) -> None:
    """Check ``same_padding(kernel_size) = (kernel_size - 1) // 2`` for odd kernels and a
    ``ValueError`` for even ones."""
    name = "same_padding"
    g = generator(seed, 203)
    kernels = [1, 3, 5, 7, 11] + (
        [int(2 * torch.randint(6, 40, (1,), generator=g) + 1)] if seed is not None else []
    )
    cases = [
        Case(
            description=f"K={k}",
            args=(k,),
            expected=(k - 1) // 2,
            mistakes=lambda k=k: [
                Mistake(SAME_PADDING_TOTAL, k - 1),
                Mistake(SAME_PADDING_ROUNDED_UP, (k + 1) // 2),
            ],
        )
        for k in kernels
    ]
    run_cases(name, same_padding, cases, names=("kernel_size",), judge=judge_count, announce=False)
    for k in (2, 4):
        _expect_value_error(
            name, same_padding, (k,), {}, "an even kernel (no integer padding keeps the size)"
        )
    report_pass(name, len(cases) + 2)
