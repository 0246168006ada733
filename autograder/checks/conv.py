"""Checks for ``corr2d``, ``conv2d_naive``, ``conv2d_fast`` and the ``Conv2d`` module.

The reference is ``torch.nn.functional.conv2d`` (cross-correlation, NCHW, zero padding
per side). A wrong answer is explained by replaying each known misconception with
the reference and finding the one that reproduces the student's output.
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..device import get_device
from ._cases import Case, Mistake, call_student, describe_call, judge_tensor, run_cases
from ._report import fail, report_pass
from ._seeds import generator
from ._student import invoke

FLIPPED = (
    "the kernel looks flipped (that is true convolution). A CNN layer computes cross-correlation: "
    "out[i, j] = Σ x[i + a, j + b] · w[a, b], with no flip."
)
KERNEL_TRANSPOSED = (
    "the kernel's rows and columns are swapped: w[a, b] multiplies the input at row offset a, "
    "column offset b."
)
BIAS_MISSING = "the bias is missing: add bias[o] to every position of output channel o."
BIAS_PER_CHANNEL = "the bias is added once per input channel: sum over the input channels first, then add bias[o] once."
BIAS_WRONG_AXIS = (
    "the bias is broadcast along the wrong axis: it belongs to the channel axis, "
    "so reshape it to (1, C_out, 1, 1) before adding."
)
LAST_CHANNEL_ONLY = (
    "only the last input channel counts: the running sum over input channels is overwritten "
    "(= where += was meant)."
)
FIRST_CHANNEL_ONLY = (
    "only the first input channel is used: each output channel sums the correlations of all "
    "C_in input channels."
)
CHANNELS_AVERAGED = (
    "the input channels are averaged: each output channel is their sum, not their mean."
)
CHANNELS_NOT_SUMMED = (
    "the input channels are not summed: filter o gives one output channel, "
    "Σ over c of (x[c] ⋆ weight[o, c])."
)
WEIGHT_AXES_SWAPPED = (
    "weight[o, c] is the kernel from input channel c to output channel o: "
    "weight's axes are (C_out, C_in, K_h, K_w)."
)
STRIDE_IGNORED = (
    "the stride is ignored: move the window S pixels at a time, so H_out = ⌊(H + 2P − K) / S⌋ + 1."
)
STRIDE_MISPLACED = (
    "the stride is applied wrongly: output (i, j) comes from the window whose top-left corner "
    "is at row i·S, column j·S of the padded input."
)
PAIR_SWAPPED = (
    "a (height, width) pair is used the wrong way round: stride=(S_h, S_w), padding=(P_h, P_w)."
)
PADDING_ONE_SIDE = (
    "padding is applied once instead of on each side: add P zeros at the top and the bottom "
    "(and left and right), so the padded height is H + 2P."
)
PADDING_IGNORED = (
    "the padding is ignored: pad the input with P zeros on each side before sliding the kernel."
)
NHWC = "the output is laid out as (N, H, W, C); this course uses NCHW: (N, C_out, H_out, W_out)."
BATCH_MISSING = (
    "the batch axis is missing: return (N, C_out, H_out, W_out) for a batch of N images."
)
OFF_BY_ONE = "the output size is off by one: H_out = ⌊(H + 2P − K) / S⌋ + 1. Check the + 1 and the ranges of your loops."


def _pair(value) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


@dataclass(frozen=True)
class ConvSetting:
    """One convolution problem: ``x: (n, c_in, h, w)``, ``weight: (c_out, c_in, k_h, k_w)``."""

    n: int
    c_in: int
    h: int
    w: int
    c_out: int
    kernel: int | tuple[int, int]
    stride: int | tuple[int, int] = 1
    padding: int | tuple[int, int] = 0
    bias: bool = True
    dtype: torch.dtype = torch.float32

    def tensors(self, g: torch.Generator, device: torch.device):
        """``(x, weight, bias or None)`` drawn from ``g`` and moved to ``device``."""
        k_h, k_w = _pair(self.kernel)
        x = torch.randn(self.n, self.c_in, self.h, self.w, generator=g, dtype=self.dtype)
        weight = torch.randn(self.c_out, self.c_in, k_h, k_w, generator=g, dtype=self.dtype)
        bias = torch.randn(self.c_out, generator=g, dtype=self.dtype) if self.bias else None
        return x.to(device), weight.to(device), None if bias is None else bias.to(device)

    def conv_kwargs(self) -> dict:
        """Keyword arguments for the call; defaults are left out so they get exercised."""
        kwargs = {}
        if self.stride != 1:
            kwargs["stride"] = self.stride
        if self.padding != 0:
            kwargs["padding"] = self.padding
        return kwargs

    def describe(self) -> str:
        dtype = "" if self.dtype == torch.float32 else f", {str(self.dtype).removeprefix('torch.')}"
        return (
            f"N={self.n}, C_in={self.c_in}, H={self.h}, W={self.w}, C_out={self.c_out}, "
            f"kernel={self.kernel}, stride={self.stride}, padding={self.padding}, "
            f"bias={'yes' if self.bias else 'None'}{dtype}"
        )


VISIBLE = [
    ConvSetting(1, 1, 5, 5, 1, 3, bias=False),
    ConvSetting(1, 3, 6, 5, 1, (3, 2), bias=False),
    ConvSetting(2, 3, 6, 6, 4, 3),
    ConvSetting(2, 2, 5, 7, 3, 3, padding=2),
    ConvSetting(2, 2, 9, 8, 3, 3, stride=2),
    ConvSetting(1, 2, 9, 10, 2, (3, 4), stride=(2, 3), padding=(1, 2)),
    ConvSetting(2, 3, 7, 7, 2, 5, padding=2, dtype=torch.float64),
]


def random_settings(seed: int, count: int = 6) -> list[ConvSetting]:
    """``count`` random but valid settings: ints or pairs, with or without bias, some float64."""
    g = generator(seed, 0)

    def draw(low: int, high: int) -> int:
        return int(torch.randint(low, high + 1, (1,), generator=g))

    settings = []
    for _ in range(count):
        k_h, k_w = draw(1, 5), draw(1, 5)
        s_h, s_w, p_h, p_w = draw(1, 3), draw(1, 3), draw(0, 2), draw(0, 2)
        as_pairs = draw(0, 1) == 1
        if not as_pairs:
            s_w, p_w = s_h, p_h
        settings.append(
            ConvSetting(
                n=draw(1, 3),
                c_in=draw(1, 4),
                h=max(1, k_h - 2 * p_h) + draw(0, 8),
                w=max(1, k_w - 2 * p_w) + draw(0, 8),
                c_out=draw(1, 5),
                kernel=(k_h, k_w) if as_pairs or k_h != k_w else k_h,
                stride=(s_h, s_w) if as_pairs else s_h,
                padding=(p_h, p_w) if as_pairs else p_h,
                bias=draw(0, 3) > 0,
                dtype=torch.float64 if draw(0, 3) == 0 else torch.float32,
            )
        )
    return settings


def conv_mistakes(x, weight, bias, stride, padding) -> list[Mistake]:
    """What each misconception would return for ``conv2d(x, weight, bias, stride, padding)``,
    most specific first."""
    (s_h, s_w), (p_h, p_w) = _pair(stride), _pair(padding)
    n, c_in = x.shape[:2]
    c_out, _, k_h, k_w = weight.shape

    def conv(x=x, weight=weight, bias=bias, stride=(s_h, s_w), padding=(p_h, p_w)):
        return F.conv2d(x, weight, bias, stride, padding)

    expected = conv()
    h_out, w_out = expected.shape[-2:]
    no_bias = conv(bias=None)
    found = [Mistake(FLIPPED, conv(weight=weight.flip(-1, -2)))]
    if k_h == k_w > 1:
        found.append(Mistake(KERNEL_TRANSPOSED, conv(weight=weight.transpose(-1, -2))))
    if bias is not None:
        found.append(Mistake(BIAS_MISSING, no_bias))
        if c_in > 1:
            found.append(Mistake(BIAS_PER_CHANNEL, conv(bias=bias * c_in)))
        if w_out == c_out:
            found.append(Mistake(BIAS_WRONG_AXIS, no_bias + bias))
    if c_in > 1:
        one_channel = {"stride": (s_h, s_w), "padding": (p_h, p_w)}
        found += [
            Mistake(LAST_CHANNEL_ONLY, F.conv2d(x[:, -1:], weight[:, -1:], bias, **one_channel)),
            Mistake(FIRST_CHANNEL_ONLY, F.conv2d(x[:, :1], weight[:, :1], bias, **one_channel)),
            Mistake(
                CHANNELS_AVERAGED, no_bias / c_in + (0 if bias is None else bias.view(1, -1, 1, 1))
            ),
            Mistake(CHANNELS_NOT_SUMMED, shape=(n, c_out, c_in, h_out, w_out)),
            Mistake(CHANNELS_NOT_SUMMED, shape=(n, c_out * c_in, h_out, w_out)),
        ]
        if c_in == c_out:
            found.append(Mistake(WEIGHT_AXES_SWAPPED, conv(weight=weight.transpose(0, 1))))
    if (s_h, s_w) != (1, 1):
        unstrided = conv(stride=1)
        found += [
            Mistake(STRIDE_MISPLACED, unstrided[..., :h_out, :w_out]),
            Mistake(STRIDE_IGNORED, unstrided),
        ]
    if (p_h, p_w) != (0, 0):
        found += [
            Mistake(PADDING_ONE_SIDE, conv(x=F.pad(x, (p_w, 0, p_h, 0)), padding=0)),
            Mistake(PADDING_ONE_SIDE, conv(x=F.pad(x, (0, p_w, 0, p_h)), padding=0)),
        ]
        if h_out + 2 * p_h > k_h - 1 and w_out + 2 * p_w > k_w - 1:
            found.append(Mistake(PADDING_IGNORED, shape=_conv_shape(x, weight, (s_h, s_w), (0, 0))))
    if s_h != s_w or p_h != p_w:
        found.append(Mistake(PAIR_SWAPPED, shape=_conv_shape(x, weight, (s_w, s_h), (p_w, p_h))))
    found += [
        Mistake(NHWC, shape=(n, h_out, w_out, c_out)),
        Mistake(BATCH_MISSING, shape=(c_out, h_out, w_out)),
    ]
    found += [
        Mistake(OFF_BY_ONE, shape=(n, c_out, h_out + dh, w_out + dw))
        for dh in (-1, 0, 1)
        for dw in (-1, 0, 1)
        if (dh, dw) != (0, 0)
    ]
    return found


def _conv_shape(x, weight, stride, padding) -> tuple[int, ...]:
    (s_h, s_w), (p_h, p_w) = stride, padding
    k_h, k_w = weight.shape[-2:]
    h_out = (x.shape[2] + 2 * p_h - k_h) // s_h + 1
    w_out = (x.shape[3] + 2 * p_w - k_w) // s_w + 1
    return (x.shape[0], weight.shape[0], h_out, w_out)


def _conv_case(setting: ConvSetting, g: torch.Generator, device: torch.device) -> Case:
    x, weight, bias = setting.tensors(g, device)
    stride, padding = setting.stride, setting.padding
    return Case(
        description=setting.describe(),
        args=(x, weight, bias),
        kwargs=setting.conv_kwargs(),
        expected=F.conv2d(x, weight, bias, _pair(stride), _pair(padding)),
        mistakes=lambda: conv_mistakes(x, weight, bias, stride, padding),
    )


def _conv_cases(seed: int | None) -> list[Case]:
    device = get_device()
    settings = VISIBLE if seed is None else random_settings(seed)
    g = generator(seed, 0)
    return [_conv_case(setting, g, device) for setting in settings]


def check_conv2d_naive(conv2d_naive: Callable, seed: int | None = None) -> None:
    """Check ``conv2d_naive(x, weight, bias=None, stride=1, padding=0)`` against ``F.conv2d``.

    ``x: (N, C_in, H, W)``, ``weight: (C_out, C_in, K_h, K_w)``, ``bias: (C_out,)`` or None
    -> ``(N, C_out, H_out, W_out)``. Without ``seed``, a fixed list of cases from simple to
    complex; with it, random settings drawn from that seed.
    """
    run_cases(
        "conv2d_naive", conv2d_naive, _conv_cases(seed), names=CONV_ARGS, forbid="convolution"
    )


CONV_ARGS = ("x", "weight", "bias")
LOOP_SMALL = ConvSetting(2, 2, 6, 6, 3, 3)  # 4 × 4 output positions
LOOP_LARGE = ConvSetting(2, 2, 14, 14, 3, 3)  # 12 × 12 output positions


def check_conv2d_fast(conv2d_fast: Callable, seed: int | None = None) -> None:
    """Check ``conv2d_fast`` like ``conv2d_naive``, and that it has no Python loop over
    output positions: it must run as many tensor operations on a 12×12 output as on a 4×4 one."""
    name = "conv2d_fast"
    cases = _conv_cases(seed)
    run_cases(name, conv2d_fast, cases, names=CONV_ARGS, forbid="convolution", announce=False)
    g, device = generator(None, 1), get_device()
    small, large = (
        invoke(conv2d_fast, s.tensors(g, device)).op_count for s in (LOOP_SMALL, LOOP_LARGE)
    )
    if large > small + 8:
        fail(
            name,
            "seems to loop over output positions: it ran "
            f"{large} tensor operations for a 12×12 output but {small} for a 4×4 one. "
            "Gather all windows at once (unfold or as_strided) and use one matmul or einsum.",
        )
    report_pass(name, len(cases) + 1)


VALID_SIZE = "valid cross-correlation gives an (H − K_h + 1, W − K_w + 1) output, with no padding."


def _corr2d_mistakes(image: torch.Tensor, kernel: torch.Tensor) -> list[Mistake]:
    """The conv2d misconceptions that apply to one channel, in 2-D, plus padded output sizes."""
    (h, w), (k_h, k_w) = image.shape, kernel.shape
    as_2d = [
        Mistake(m.message, m.output[0, 0])
        if m.output is not None
        else Mistake(m.message, shape=m.shape[2:])
        for m in conv_mistakes(image[None, None], kernel[None, None], None, 1, 0)
        if m.message in (FLIPPED, KERNEL_TRANSPOSED, OFF_BY_ONE)
    ]
    padded = [
        Mistake("the output has the input's size ('same'); " + VALID_SIZE, shape=(h, w)),
        Mistake("the output is the 'full' size; " + VALID_SIZE, shape=(h + k_h - 1, w + k_w - 1)),
    ]
    return (
        [m for m in as_2d if m.message != OFF_BY_ONE]
        + padded
        + [m for m in as_2d if m.message == OFF_BY_ONE]
    )


def check_corr2d(corr2d: Callable, seed: int | None = None) -> None:
    """Check ``corr2d(image, kernel)``: single-channel valid cross-correlation,
    ``(H, W)`` and ``(K_h, K_w)`` -> ``(H - K_h + 1, W - K_w + 1)``."""
    device = get_device()
    g = generator(seed, 19)
    sizes = [(4, 4, 2, 2), (6, 5, 3, 3), (5, 7, 2, 3), (3, 3, 3, 3)]
    if seed is not None:
        sizes = []
        for _ in range(5):
            k_h, k_w = (int(v) for v in torch.randint(1, 5, (2,), generator=g))
            h, w = (int(v) for v in torch.randint(0, 7, (2,), generator=g))
            sizes.append((k_h + h, k_w + w, k_h, k_w))
    cases = []
    for h, w, k_h, k_w in sizes:
        image = torch.randn(h, w, generator=g).to(device)
        kernel = torch.randn(k_h, k_w, generator=g).to(device)

        def mistakes(image=image, kernel=kernel):
            return _corr2d_mistakes(image, kernel)

        cases.append(
            Case(
                description=f"image {h}×{w}, kernel {k_h}×{k_w}",
                args=(image, kernel),
                expected=F.conv2d(image[None, None], kernel[None, None])[0, 0],
                mistakes=mistakes,
            )
        )
    run_cases("corr2d", corr2d, cases, names=("image", "kernel"), forbid="convolution")


def _module_settings(seed: int | None) -> list[tuple[int, int, object, object, object, bool]]:
    """``(in_channels, out_channels, kernel_size, stride, padding, bias)`` for each case."""
    if seed is None:
        return [(3, 4, 3, 1, 0, True), (2, 5, (3, 2), 2, 1, False), (1, 2, 5, (1, 2), (2, 1), True)]
    return [
        (s.c_in, s.c_out, s.kernel, s.stride, s.padding, s.bias)
        for s in random_settings(seed, count=3)
    ]


def check_conv2d_module(Conv2d: type, seed: int | None = None) -> None:  # noqa: N803 (the class)
    """Check the ``Conv2d`` module against ``nn.Conv2d``: parameter shapes, a random
    initialisation, the forward pass with the same weights, and the gradients of the
    input, weight and bias. ``x: (N, C_in, H, W)`` -> ``(N, C_out, H_out, W_out)``."""
    name, device = "Conv2d", get_device()
    g = generator(seed, 23)
    settings = _module_settings(seed)
    for number, (c_in, c_out, kernel, stride, padding, bias) in enumerate(settings, 1):
        signature = (
            f"Conv2d({c_in}, {c_out}, {kernel}, stride={stride}, padding={padding}, bias={bias})"
        )
        where = f"Failed on case {number} of {len(settings)}: {signature}"
        options = {"stride": stride, "padding": padding, "bias": bias}
        layer = call_student(name, Conv2d, (c_in, c_out, kernel), options, where=where)
        reference = nn.Conv2d(c_in, c_out, kernel, **options).to(device)
        facts = call_student(name, layer, (), {}, where=where, probe=probe_parameters)
        _check_parameters(name, facts, reference, where)
        k_h, k_w = _pair(kernel)
        h, w = (
            k_h + int(torch.randint(0, 6, (1,), generator=g)),
            k_w + int(torch.randint(0, 6, (1,), generator=g)),
        )
        x = torch.randn(2, c_in, h, w, generator=g).to(device).requires_grad_()
        expected = reference(x)
        grad_out = torch.randn(expected.shape, generator=g).to(device)
        weights = (reference.weight.detach(), None if bias is False else reference.bias.detach())
        case = Case(
            description=signature,
            args=(x,),
            expected=expected.detach(),
            mistakes=lambda x=x, r=reference: conv_mistakes(
                x.detach(),
                r.weight.detach(),
                None if r.bias is None else r.bias.detach(),
                r.stride,
                r.padding,
            ),
        )
        where = f"{where}, input {describe_call((x,), {}, ('x',))}"
        ran = call_student(
            name,
            layer,
            (*weights, x.detach(), grad_out),
            {},
            where=where,
            forbid="convolution",
            probe=probe_forward_backward,
        )
        problem = judge_tensor(ran["output"], case, what="the forward output")
        if problem is not None:
            fail(name, problem[0], where, problem[1])
        inputs = [x, reference.weight] + ([reference.bias] if bias else [])
        expected_grads = torch.autograd.grad(expected, inputs, grad_out)
        _check_gradients(name, ran, expected_grads, where)
    report_pass(name, len(settings))


def probe_parameters(layer) -> dict:
    """What the check needs to know about a student's layer's parameters (run beside it)."""
    registered = dict(layer.named_parameters()) if isinstance(layer, nn.Module) else {}

    def describe(attribute: str) -> dict:
        value = getattr(layer, attribute, None)
        return {
            "is_parameter": isinstance(value, nn.Parameter) and attribute in registered,
            "is_none": value is None,
            "shape": tuple(value.shape) if isinstance(value, torch.Tensor) else None,
        }

    weight = getattr(layer, "weight", None)
    uniform = (
        isinstance(weight, torch.Tensor)
        and weight.numel() > 1
        and bool(torch.all(weight == weight.flatten()[0]))
    )
    return {
        "is_module": isinstance(layer, nn.Module),
        "weight": describe("weight"),
        "bias": describe("bias"),
        "uniform": uniform,
    }


def probe_forward_backward(layer, weight, bias, x, grad_out) -> dict:
    """Load ``weight``/``bias`` into a student's layer, run ``layer(x)`` and backpropagate
    ``grad_out`` (run beside the layer). Returns the output, whether autograd saw it, and
    the gradients of ``x``, weight and bias (None where there is none)."""
    layer = layer.to(x.device)
    with torch.no_grad():
        layer.weight.copy_(weight)
        if bias is not None:
            layer.bias.copy_(bias)
    x = x.clone().requires_grad_()
    output = layer(x)
    found = {"output": output, "requires_grad": False, "grads": None}
    if not isinstance(output, torch.Tensor):
        return found
    found["output"] = output.detach()
    found["requires_grad"] = output.requires_grad
    if output.requires_grad and output.shape == grad_out.shape:
        output.backward(grad_out)
        found["grads"] = [
            x.grad,
            layer.weight.grad,
            None if bias is None else layer.bias.grad,
        ]
    return found


def _check_parameters(name: str, facts: dict, reference: nn.Conv2d, where: str) -> None:
    if not facts["is_module"]:
        fail(name, "Conv2d should subclass nn.Module (class Conv2d(nn.Module): ...).", where)
    for attribute, expected in [("weight", reference.weight), ("bias", reference.bias)]:
        got = facts[attribute]
        if expected is None:
            if not got["is_none"]:
                fail(name, "with bias=False, self.bias should be None.", where)
            continue
        if not got["is_parameter"]:
            fail(
                name,
                f"self.{attribute} should be an nn.Parameter, so the optimiser sees it "
                f"(self.{attribute} = nn.Parameter(torch.empty(...))).",
                where,
            )
        if got["shape"] != tuple(expected.shape):
            fail(
                name,
                f"self.{attribute} has shape {got['shape']}; nn.Conv2d's has "
                f"{tuple(expected.shape)} (weight: (C_out, C_in, K_h, K_w), bias: (C_out,)).",
                where,
            )
    if facts["uniform"]:
        fail(
            name,
            "every weight starts with the same value, so all filters would learn the same thing. "
            "Initialise them randomly, e.g. uniform in ±1/√(C_in·K_h·K_w) as nn.Conv2d does.",
            where,
        )


def _check_gradients(name: str, ran: dict, expected_grads, where: str) -> None:
    if not ran["requires_grad"]:
        fail(
            name,
            "the output is cut off from autograd, so the layer cannot learn. Build it from "
            "x and self.weight with tensor operations (no torch.tensor(...), .item(), .data or .detach()).",
            where,
        )
    for what, got_grad, expected_grad in zip(
        ["x", "weight", "bias"], ran["grads"], expected_grads, strict=False
    ):
        if got_grad is None:
            fail(
                name,
                f"{what} gets no gradient: forward must compute with self.{what} itself.",
                where,
            )
        case = Case(description="", args=(), expected=expected_grad)
        problem = judge_tensor(got_grad, case, what=f"the gradient of {what}")
        if problem is not None:
            fail(name, problem[0], where, problem[1])
