"""Checks for ``corr2d``, ``conv2d_naive``, ``conv2d_fast`` and the ``Conv2d`` module.

The reference is ``torch.nn.functional.conv2d`` (cross-correlation, NCHW, zero padding
per side). A wrong answer is explained by replaying each known misconception with
the reference and finding the one that reproduces the student's output; a crash, by
calling the student's function again on inputs changed in one way (channels last, no
bias, ints instead of pairs, a square kernel, ...) and finding the change it gets right.

Notation, as in the course: ``x: (N, C_in, H, W)``, ``weight: (C_out, C_in, K_h, K_w)``,
``bias: (C_out,)``, stride ``S = (S_h, S_w)``, padding ``P = (P_h, P_w)`` (zeros per side).
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from ..device import get_device
from ._cases import (
    Case,
    Mistake,
    Ran,
    Retry,
    Verdict,
    attempt,
    call_student,
    case_header,
    close,
    describe_call,
    expect_tensor,
    explain_later,
    explain_wrong,
    first_line,
    judge_tensor,
    misplaced,
    pair,
    raised_line,
    randn_code,
    run_cases,
    try_retries,
)
from ._report import fail, report_pass
from ._seeds import generator
from ._student import invoke

FLIPPED = (
    "the kernel is flipped (as in the textbook's true convolution). A CNN layer computes "
    "cross-correlation: out[i, j] = Σ x[i + a, j + b] · w[a, b], with no flip."
)
KERNEL_TRANSPOSED = (
    "the kernel's rows and columns are swapped: w[a, b] multiplies the input at row offset a, "
    "column offset b."
)
KERNEL_SIZES_SWAPPED = (
    "K_h and K_w are swapped: weight is (C_out, C_in, K_h, K_w), so the kernel has "
    "K_h = weight.shape[-2] rows and K_w = weight.shape[-1] columns."
)
BIAS_MISSING = "the bias is missing: add bias[o] to every position of output channel o."
BIAS_PER_CHANNEL = "the bias is added once per input channel: sum over the input channels first, then add bias[o] once."
BIAS_INSIDE_SUM = (
    "the bias is added inside the sum, once per product: add bias[o] once to each output "
    "value, after summing over the input channels and the kernel window."
)
BIAS_WRONG_AXIS = (
    "the bias is broadcast along the wrong axis: it belongs to the channel axis, "
    "so reshape it to (1, C_out, 1, 1) before adding."
)
BIAS_AS_BOOL = (
    "`if bias:` cannot test a tensor of C_out values: write `if bias is not None:` "
    "(the answer is right when bias is None)."
)
BIAS_NONE = (
    "bias=None must work too (a layer may have no bias): add the bias only when `bias is not None`."
)
BIAS_HANDLING = (
    "the answer is right when bias is None but not with a bias: bias has shape (C_out,), one "
    "value per output channel; add it as bias.view(1, -1, 1, 1) so it broadcasts over "
    "N, H_out and W_out."
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
WEIGHT_LAYOUT = (
    "weight is read in another layout (like TensorFlow's (K_h, K_w, C_in, C_out)); "
    "in this course it is (C_out, C_in, K_h, K_w)."
)
STRIDE_IGNORED = (
    "the stride is ignored: move the window S pixels at a time, so H_out = ⌊(H + 2P − K) / S⌋ + 1."
)
STRIDE_MISPLACED = (
    "the stride is applied wrongly: output (i, j) comes from the window whose top-left corner "
    "is at row i·S_h, column j·S_w of the padded input."
)
PAIR_SWAPPED = (
    "a (height, width) pair is used the wrong way round: stride=(S_h, S_w) and "
    "padding=(P_h, P_w) give the height first (F.pad, though, takes the last axis first: "
    "F.pad(x, (P_w, P_w, P_h, P_h)))."
)
PAIR_ONE_VALUE = (
    "only one number of a (height, width) pair is used, for both axes: stride=(S_h, S_w) "
    "moves the window S_h rows down and S_w columns across; padding=(P_h, P_w) adds P_h rows "
    "at the top and bottom and P_w columns left and right."
)
PAIR_UNSUPPORTED = (
    "stride and padding given as ints work, but not as (height, width) pairs, which "
    "F.conv2d accepts too: start with (S_h, S_w), (P_h, P_w) = pair(stride), pair(padding)."
)
STRIDE_PADDING_SWAPPED = (
    "stride and padding are passed the wrong way round: the order is "
    "conv2d(x, weight, bias, stride, padding)."
)
PADDING_ONE_SIDE = (
    "padding is applied once instead of on each side: add P zeros at the top and the bottom "
    "(and left and right), so the padded height is H + 2P."
)
PADDING_IGNORED = (
    "the padding is ignored: pad the input with P zeros on each side before sliding the kernel."
)
PADDING_ONE_AXIS = (
    "only one axis is padded: add P_h rows of zeros at the top and bottom and P_w columns "
    "left and right, e.g. F.pad(x, (P_w, P_w, P_h, P_h))."
)
NHWC = "the output is laid out as (N, H, W, C); this course uses NCHW: (N, C_out, H_out, W_out)."
NHWC_INPUT = (
    "x is read as channels-last (N, H, W, C_in): given x in that layout, the answer is right. "
    "This course uses NCHW: x is (N, C_in, H, W), so C_in = x.shape[1]."
)
RESHAPE_NOT_PERMUTE = (
    "the values are in the wrong places: a reshape cannot move an axis. Reshape the "
    "(N·H_out·W_out, C_out) product to (N, H_out, W_out, C_out) first, then "
    ".permute(0, 3, 1, 2) to (N, C_out, H_out, W_out)."
)
BATCH_MISSING = (
    "the batch axis is missing: return (N, C_out, H_out, W_out) for a batch of N images."
)
BATCH_SUMMED = (
    "the sum runs over the whole batch, so every image gets the same output: sum over the "
    "input channels and the window only (e.g. .sum(dim=(1, 2, 3)) on an (N, C_in, K_h, K_w) window)."
)
SINGLE_IMAGE = (
    "given one image (C_in, H, W) the answer is right, but x is a batch (N, C_in, H, W): "
    "compute every image's output, e.g. keep the batch axis in your windows."
)
KERNEL_SQUARE_ONLY = (
    "the answer is right for a square kernel but not for this non-square one: the kernel has "
    "K_h = weight.shape[-2] rows and K_w = weight.shape[-1] columns, and "
    "H_out uses K_h, W_out uses K_w."
)
INPUT_SQUARE_ONLY = (
    "the answer is right for a square input but not for this non-square one: x has "
    "H = x.shape[2] rows and W = x.shape[3] columns; compute H_out from H, K_h, S_h, P_h "
    "and W_out from W, K_w, S_w, P_w."
)
ROUND_DOWN = (
    "the answer is right when S divides H + 2P − K exactly, but not otherwise: a window that "
    "does not fit is left out, so H_out = ⌊(H + 2P − K) / S⌋ + 1 (round down)."
)
OFF_BY_ONE = "the output size is off by one: H_out = ⌊(H + 2P − K) / S⌋ + 1. Check the + 1 and the ranges of your loops."
LOOP_SHORT = (
    "the last output row or column is never filled (the loops stop one short, an off-by-one): "
    "loop over range(H_out) and range(W_out)."
)
OUTPUT_SIZE = (
    "the values are right where they are, but the output has the wrong size: "
    "H_out = ⌊(H + 2P_h − K_h) / S_h⌋ + 1 and W_out = ⌊(W + 2P_w − K_w) / S_w⌋ + 1."
)


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
        k_h, k_w = pair(self.kernel)
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


def _conv(x, weight, bias, stride, padding) -> torch.Tensor | None:
    """``F.conv2d`` with pairs; an empty output where the formula gives a size of 0 (the kernel
    is one too large), None where it gives less."""
    (s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)
    if min(s_h, s_w) < 1 or min(p_h, p_w) < 0:
        return None
    h_out = (x.shape[-2] + 2 * p_h - weight.shape[-2]) // s_h + 1
    w_out = (x.shape[-1] + 2 * p_w - weight.shape[-1]) // s_w + 1
    if min(h_out, w_out) < 0:
        return None
    if min(h_out, w_out) == 0:  # what a loop over an empty range gives: no values at all
        return x.new_zeros(x.shape[0], weight.shape[0], h_out, w_out)
    return F.conv2d(x, weight, bias, (s_h, s_w), (p_h, p_w))


def _crop_of(expected: torch.Tensor, shape: tuple | None = None) -> Callable:
    """A test: the answer has ``shape`` (any other spatial size when None), and where it
    overlaps ``expected`` it is right (so only its size is wrong)."""

    def explains(got) -> bool:
        if not isinstance(got, torch.Tensor) or got.ndim != expected.ndim:
            return False
        if got.shape[:-2] != expected.shape[:-2]:
            return False
        if shape is not None and tuple(got.shape) != tuple(shape):
            return False
        if got.shape == expected.shape:
            return close(got, expected)
        h, w = (min(a, b) for a, b in zip(got.shape[-2:], expected.shape[-2:], strict=True))
        if h * w < 2:  # too little overlap to tell anything
            return False
        return close(got[..., :h, :w], expected[..., :h, :w])

    return explains


def _size_only(output: torch.Tensor, expected: torch.Tensor) -> bool:
    """Whether ``output`` differs from ``expected`` only in its size (right where they
    overlap): a size slip anywhere gives that too, so it names no cause by itself."""
    if output.shape == expected.shape or output.shape[:-2] != expected.shape[:-2]:
        return False
    h, w = (min(a, b) for a, b in zip(output.shape[-2:], expected.shape[-2:], strict=True))
    return close(output[..., :h, :w], expected[..., :h, :w])


def _short_loops(expected: torch.Tensor, filler: torch.Tensor, dh: int, dw: int) -> Callable:
    """A test: right except that the last ``dh`` rows and ``dw`` columns hold ``filler``
    (zeros, or only the bias): loops that stop one short."""
    h, w = expected.shape[-2:]

    def explains(got) -> bool:
        if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
            return False
        if h - dh < 1 or w - dw < 1:
            return False
        kept = got[..., : h - dh, : w - dw]
        if not close(kept, expected[..., : h - dh, : w - dw]):
            return False
        rows, cols = got[..., h - dh :, :], got[..., :, w - dw :]
        return close(rows, filler.expand_as(expected)[..., h - dh :, :]) and close(
            cols, filler.expand_as(expected)[..., :, w - dw :]
        )

    return explains


def conv_mistakes(x, weight, bias, stride, padding, *, module: bool = False) -> list[Mistake]:
    """What each misconception would return for ``conv2d(x, weight, bias, stride, padding)``,
    most specific first. ``module``: add the mistakes of a module's forward."""
    (s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)
    n, c_in = x.shape[:2]
    c_out, _, k_h, k_w = weight.shape

    def conv(x=x, weight=weight, bias=bias, stride=(s_h, s_w), padding=(p_h, p_w)):
        return _conv(x, weight, bias, stride, padding)

    expected = conv()
    h_out, w_out = expected.shape[-2:]
    no_bias = conv(bias=None)
    bias4 = torch.zeros_like(expected[:1, :, :1, :1]) if bias is None else bias.view(1, -1, 1, 1)
    found: list[Mistake] = []

    def add(message: str, output, key: str = "") -> None:
        if output is None:
            return
        if output.numel() > 0:  # an empty answer would be no evidence
            tentative = _size_only(output, expected)
            found.append(Mistake(message, output, key=key or message, tentative=tentative))

    # The kernel.
    add(FLIPPED, conv(weight=weight.flip(-1, -2)))
    if k_h == k_w > 1:
        add(KERNEL_TRANSPOSED, conv(weight=weight.transpose(-1, -2)))
    if k_h != k_w:
        add(KERNEL_SIZES_SWAPPED, conv(weight=weight.transpose(-1, -2)), "kernel sizes: .T")
        # listed even where it is the .T (a kernel 1 wide), so that other cases confirm it
        reshaped = weight.reshape(c_out, c_in, k_w, k_h)
        add(KERNEL_SIZES_SWAPPED, conv(weight=reshaped), "kernel sizes: reshape")
    # The bias.
    if bias is not None:
        add(BIAS_MISSING, no_bias)
        if c_in > 1:
            add(BIAS_PER_CHANNEL, conv(bias=bias * c_in))
        if c_in * k_h * k_w > 1:  # with a 1×1 kernel, as once per channel: both are listed
            add(BIAS_INSIDE_SUM, conv(bias=bias * c_in * k_h * k_w))
        if c_out > 1 and w_out == c_out:
            add(BIAS_WRONG_AXIS, no_bias + bias, "bias along W")
        if c_out > 1 and h_out == c_out:
            add(BIAS_WRONG_AXIS, no_bias + bias.view(-1, 1), "bias along H")
    # The input channels.
    if c_in > 1:
        for message, channel in [(LAST_CHANNEL_ONLY, -1), (FIRST_CHANNEL_ONLY, 0)]:
            one = slice(channel, None) if channel == -1 else slice(0, 1)
            add(message, conv(x=x[:, one], weight=weight[:, one]))
        add(CHANNELS_AVERAGED, no_bias / c_in + bias4)
        per_channel = torch.stack(
            [conv(x=x[:, c : c + 1], weight=weight[:, c : c + 1], bias=None) for c in range(c_in)],
            dim=2,
        )  # (N, C_out, C_in, H_out, W_out)
        for with_bias in (per_channel, per_channel + bias4[..., None]):
            add(CHANNELS_NOT_SUMMED, with_bias, f"not summed {with_bias is per_channel}")
            add(
                CHANNELS_NOT_SUMMED,
                with_bias.reshape(n, c_out * c_in, h_out, w_out),
                f"not summed, flat {with_bias is per_channel}",
            )
        if c_in == c_out:
            add(WEIGHT_AXES_SWAPPED, conv(weight=weight.transpose(0, 1)))
    # The batch.
    if n > 1:
        add(BATCH_SUMMED, no_bias.sum(0, keepdim=True).expand_as(expected) + bias4)
    add(BATCH_MISSING, expected[0])
    # The stride.
    if (s_h, s_w) != (1, 1):
        unstrided = conv(stride=1)
        add(STRIDE_MISPLACED, unstrided[..., :h_out, :w_out])
        if s_h > 1 and s_w > 1:
            add(STRIDE_MISPLACED, conv(stride=(1, s_w))[..., :h_out, :], "stride misplaced: rows")
            add(STRIDE_MISPLACED, conv(stride=(s_h, 1))[..., :w_out], "stride misplaced: cols")
        add(STRIDE_IGNORED, unstrided)
    # The padding.
    if (p_h, p_w) != (0, 0):
        add(PADDING_ONE_SIDE, conv(x=F.pad(x, (p_w, 0, p_h, 0)), padding=0), "padding: top left")
        add(PADDING_ONE_SIDE, conv(x=F.pad(x, (0, p_w, 0, p_h)), padding=0), "padding: bottom")
        add(PADDING_IGNORED, conv(padding=0))
        if p_h > 0 and p_w > 0:
            add(PADDING_ONE_AXIS, conv(padding=(0, p_w)), "padding: W only")
            add(PADDING_ONE_AXIS, conv(padding=(p_h, 0)), "padding: H only")
    # (height, width) pairs: swapped, or one number used for both axes. Every variant is
    # listed even where it changes nothing, so that a right answer there confirms it.
    swapped_s, swapped_p = (s_w, s_h), (p_w, p_h)
    for which, stride_, padding_ in [
        ("stride", swapped_s, (p_h, p_w)),
        ("padding", (s_h, s_w), swapped_p),
        ("both", swapped_s, swapped_p),
    ]:
        add(PAIR_SWAPPED, conv(stride=stride_, padding=padding_), f"swapped: {which}")
    for axis, one_s, one_p in [
        ("first", (s_h, s_h), (p_h, p_h)),
        ("second", (s_w, s_w), (p_w, p_w)),
    ]:
        for which, stride_, padding_ in [
            ("stride", one_s, (p_h, p_w)),
            ("padding", (s_h, s_w), one_p),
            ("both", one_s, one_p),
        ]:
            add(PAIR_ONE_VALUE, conv(stride=stride_, padding=padding_), f"{axis} only: {which}")
    if module and min(p_h, p_w) >= 1:
        add(STRIDE_PADDING_SWAPPED, conv(stride=(p_h, p_w), padding=(s_h, s_w)))
    # The layout of the output.
    add(NHWC, expected.permute(0, 2, 3, 1))
    for order, source in [((0, 2, 3, 1), "NHWC"), ((1, 0, 2, 3), "CNHW")]:
        scrambled = no_bias.permute(*order).reshape(expected.shape)
        add(RESHAPE_NOT_PERMUTE, scrambled + bias4, f"reshape {source}, then bias")
        if bias is not None:
            scrambled = (no_bias + bias4).permute(*order).reshape(expected.shape)
            add(RESHAPE_NOT_PERMUTE, scrambled, f"reshape {source} with bias")
    # The size of the output, and loops that stop short.
    for dh in (0, 1):
        for dw in (0, 1):
            if (dh, dw) != (0, 0):
                for kind, filler in [("zeros", torch.zeros_like(bias4)), ("bias", bias4)]:
                    test = _short_loops(expected, filler, dh, dw)
                    key = f"short {dh} {dw}, {kind}"
                    found.append(Mistake(LOOP_SHORT, explains=test, key=key))
    for dh in (-1, 0, 1):
        for dw in (-1, 0, 1):
            if (dh, dw) != (0, 0):
                size = (n, c_out, h_out + dh, w_out + dw)
                test = _crop_of(expected, size)
                found.append(
                    Mistake(
                        OFF_BY_ONE,
                        explains=test,
                        key=f"size {dh} {dw}",
                        neutral=OUTPUT_SIZE,
                        tentative=True,
                    )
                )
    found += [
        Mistake(OUTPUT_SIZE, explains=_crop_of(expected), fallback=True, tentative=True),
        Mistake(NHWC, shape=(n, h_out, w_out, c_out)),
        Mistake(BATCH_MISSING, shape=(c_out, h_out, w_out)),
        Mistake(CHANNELS_NOT_SUMMED, shape=(n, c_out, c_in, h_out, w_out)),
        misplaced(expected),
    ]
    return found


def _features(x, weight, stride, padding) -> tuple:
    """What the retries may not change by accident: whether S divides H + 2P − K on each
    axis, and whether the input, the kernel and the output are square (a mistake that shows
    only on a non-square output hides on a square one, whatever the retry changed)."""
    (h, w), (k_h, k_w) = x.shape[-2:], weight.shape[-2:]
    (s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)
    h_out, w_out = (h + 2 * p_h - k_h) // s_h + 1, (w + 2 * p_w - k_w) // s_w + 1
    return (
        (h + 2 * p_h - k_h) % s_h == 0,
        (w + 2 * p_w - k_w) % s_w == 0,
        h == w,
        k_h == k_w,
        h_out == w_out,
    )


def _cropped(x, weight, stride, padding, want: tuple, square: bool = False):
    """``x`` with its last rows and columns cut so that :func:`_features` gives ``want``
    (None in ``want``: any value), and the input is square with ``square``; None when no
    small cut does."""
    (h, w), (k_h, k_w) = x.shape[-2:], weight.shape[-2:]
    (p_h, p_w) = pair(padding)
    heights = [a for a in range(h, max(h - 8, 0), -1) if a + 2 * p_h >= k_h]
    widths = [b for b in range(w, max(w - 8, 0), -1) if b + 2 * p_w >= k_w]
    for a in heights:
        for b in widths:
            if square and a != b:
                continue
            got = _features(x[..., :a, :b], weight, stride, padding)
            if all(w_ is None or w_ == g for w_, g in zip(want, got, strict=True)):
                return x[..., :a, :b]
    return None


def _conv_shape(x, weight, stride, padding) -> tuple[int, ...]:
    """The shape of ``F.conv2d(x, weight, stride=stride, padding=padding)``."""
    (s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)
    k_h, k_w = weight.shape[-2:]
    h_out = (x.shape[-2] + 2 * p_h - k_h) // s_h + 1
    w_out = (x.shape[-1] + 2 * p_w - k_w) // s_w + 1
    return (x.shape[0], weight.shape[0], h_out, w_out)


def conv_features(x, weight, bias, stride, padding, pairs: bool) -> frozenset:
    """What a convolution case exercises, in the terms of :func:`conv_retries`' hypotheses."""
    c_out, c_in, k_h, k_w = weight.shape
    divides_h, divides_w, square_input, square_kernel, _ = _features(x, weight, stride, padding)
    found = {"always", "no bias" if bias is None else "bias"}
    if bias is not None and c_out > 1:
        found.add("bias of several values")
    if pairs:
        found.add("pairs")
    for which, value in (("stride", stride), ("padding", padding)):
        if pair(value)[0] != pair(value)[1]:
            found.add(f"uneven {which}")
    if {"uneven stride", "uneven padding"} <= found:
        found.add("uneven both")
    if not square_kernel:
        found.add("non-square kernel")
    h_out, w_out = _conv_shape(x, weight, stride, padding)[2:]
    if not square_input and h_out != w_out:
        found.add("non-square input and output")
    if not (divides_h and divides_w):
        found.add("not divisible")
    if max(c_in, c_out) > 1:
        found.add("several channels")
    return frozenset(found)


def _int_choices(kwargs: dict) -> list[dict]:
    """The ways to give each (h, w) pair in ``kwargs`` as one of its ints."""
    options = [
        [(key, v) for v in dict.fromkeys(value)]
        for key, value in kwargs.items()
        if key in ("stride", "padding") and not isinstance(value, int)
    ]
    choices = [{}]
    for option in options:
        choices = [choice | {key: v} for choice in choices for key, v in option]
    return choices if options else []


def _rivals(x, weight, bias, stride, padding) -> list[Mistake]:
    """The known mistakes on a retry's inputs (none where the reference gives no values)."""
    expected = _conv(x, weight, bias, stride, padding)
    if expected is None or expected.numel() == 0:
        return []
    return conv_mistakes(x, weight, bias, stride, padding)


def conv_retries(x, weight, bias, kwargs: dict) -> list[Retry]:
    """Calls that test one hypothesis about a crash or a wrong answer each: the same case
    with one thing changed (and nothing else, as far as :func:`_features` can tell)."""
    stride, padding = kwargs.get("stride", 1), kwargs.get("padding", 0)
    c_out, c_in, k_h, k_w = weight.shape
    have = _features(x, weight, stride, padding)
    # a non-square output stays so (a slip that shows only there would hide); a square one
    # may change
    have = (*have[:4], None if have[4] else False)
    found: list[Retry] = []

    def add(message, feature, x=x, weight=weight, bias=bias, when_raised=None, key="", **changed):
        if x is None:
            return
        call = kwargs | changed
        stride_, padding_ = call.get("stride", 1), call.get("padding", 0)
        expected = _conv(x, weight, bias, stride_, padding_)
        if expected is not None and expected.numel() > 0:
            rivals = partial(_rivals, x, weight, bias, stride_, padding_)
            found.append(
                Retry(
                    message, (x, weight, bias), call, [expected], when_raised, feature, key, rivals
                )
            )

    several = "bias of several values"
    if bias is not None:
        add(BIAS_AS_BOOL, several, bias=None, when_raised="Boolean value", key="no bias")
        add(BIAS_HANDLING, several, bias=None, key="no bias")
    else:
        zeros = torch.zeros(c_out, dtype=weight.dtype, device=weight.device)
        add(BIAS_NONE, "no bias", bias=zeros)
    uneven = [k for k in ("stride", "padding") if len(set(pair(kwargs.get(k, 0)))) == 2]
    for which in uneven + (["both"] if len(uneven) == 2 else []):  # a swap undoes a swap
        swapped = uneven if which == "both" else [which]
        call = kwargs | {k: pair(kwargs[k])[::-1] for k in swapped}
        found.append(
            Retry(
                PAIR_SWAPPED,
                (x, weight, bias),
                call,
                [_conv(x, weight, bias, stride, padding)],
                feature=f"uneven {which}",
                key=f"swapped {which}",
                rivals=partial(
                    _rivals, x, weight, bias, call.get("stride", 1), call.get("padding", 0)
                ),
            )
        )
    for choice in _int_choices(kwargs):  # the first that fits, with the same features
        one_s, one_p = pair(choice.get("stride", stride)), pair(choice.get("padding", padding))
        x_ = _cropped(x, weight, one_s, one_p, have)
        if x_ is not None:
            add(PAIR_UNSUPPORTED, "pairs", x=x_, **choice)
            break
    if k_h != k_w:
        k, big = min(k_h, k_w), max(k_h, k_w)
        padded = F.pad(weight, (0, big - k_w, 0, big - k_h))  # zeros where the kernel grows
        squares = [("zeros", padded)] + ([("crop", weight[..., :k, :k])] if k > 1 else [])
        for key, square in squares:
            x_ = _cropped(x, square, stride, padding, (*have[:3], True, have[4]))
            add(KERNEL_SQUARE_ONLY, "non-square kernel", x=x_, weight=square, key=key)
    if x.shape[-2] != x.shape[-1]:
        x_ = _cropped(x, weight, stride, padding, (*have[:2], True, have[3], None), square=True)
        add(INPUT_SQUARE_ONLY, "non-square input and output", x=x_)
    if not (have[0] and have[1]):
        x_ = _cropped(x, weight, stride, padding, (True, True, *have[2:]))
        add(ROUND_DOWN, "not divisible", x=x_)
    expected = _conv(x, weight, bias, stride, padding)
    hwio = weight.permute(2, 3, 1, 0).contiguous()
    nhwc = x.permute(0, 2, 3, 1).contiguous()
    found += [
        Retry(SINGLE_IMAGE, (x[0], weight, bias), kwargs, [expected[0]]),
        Retry(
            NHWC_INPUT,
            (nhwc, weight, bias),
            kwargs,
            [expected, expected.permute(0, 2, 3, 1)],
            key="NHWC",
        ),
        Retry(
            NHWC_INPUT,
            (nhwc, hwio, bias),
            kwargs,
            [expected, expected.permute(0, 2, 3, 1)],
            key="NHWC, HWIO",
        ),
        Retry(WEIGHT_LAYOUT, (x, hwio, bias), kwargs, [expected]),
    ]
    if c_in != c_out:
        swapped = weight.transpose(0, 1).contiguous()
        found.append(
            Retry(
                WEIGHT_AXES_SWAPPED,
                (x, swapped, bias),
                kwargs,
                [expected],
                feature="several channels",
            )
        )
    return found


def _conv_reference(kwargs: dict, bias) -> str:
    options = "".join(f", {k}={v!r}" for k, v in kwargs.items())
    return (
        f"torch.nn.functional.conv2d(x, weight, {'bias' if bias is not None else 'None'}{options})"
    )


def _conv_case(setting: ConvSetting, g: torch.Generator, device: torch.device) -> Case:
    x, weight, bias = setting.tensors(g, device)
    kwargs = setting.conv_kwargs()
    stride, padding = setting.stride, setting.padding
    return Case(
        description=setting.describe(),
        args=(x, weight, bias),
        kwargs=kwargs,
        expected=_conv(x, weight, bias, stride, padding),
        mistakes=lambda: conv_mistakes(x, weight, bias, stride, padding),
        retries=lambda: conv_retries(x, weight, bias, kwargs),
        features=conv_features(
            x,
            weight,
            bias,
            stride,
            padding,
            not isinstance(stride, int) or not isinstance(padding, int),
        ),
        setup=f"x, weight, bias = {randn_code(x)}, {randn_code(weight)}, {randn_code(bias)}",
        reference=_conv_reference(kwargs, bias),
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
    small, large = (invoke(conv2d_fast, s.tensors(g, device)) for s in (LOOP_SMALL, LOOP_LARGE))
    # Two independent counts: torch's operators (the dispatcher) and Python calls (the
    # profiler); a loop over positions makes at least one of them grow.
    for counted, what in (("op_count", "tensor operations"), ("call_count", "function calls")):
        few, many = getattr(small, counted), getattr(large, counted)
        if many > few + 8:
            fail(
                name,
                f"seems to loop over output positions: it made {many} {what} for a 12×12 "
                f"output but {few} for a 4×4 one. Gather all windows at once (unfold or "
                "as_strided) and use one matmul or einsum.",
            )
    report_pass(name, len(cases) + 1)


VALID_SIZE = "valid cross-correlation gives an (H − K_h + 1, W − K_w + 1) output, with no padding."
SAME_SIZE = "the output has the input's size ('same'); " + VALID_SIZE
FULL_SIZE = "the output is the 'full' size; " + VALID_SIZE
CORR2D_MISTAKES = (FLIPPED, KERNEL_TRANSPOSED, KERNEL_SIZES_SWAPPED, LOOP_SHORT, OFF_BY_ONE)


def _as_2d(mistake: Mistake) -> Mistake:
    """A conv2d mistake on a (1, 1, H, W) problem, seen on the (H, W) answer of corr2d."""
    message = VALID_SIZE if mistake.message == OUTPUT_SIZE else mistake.message
    same = {
        "key": mistake.key,
        "neutral": mistake.neutral,
        "fallback": mistake.fallback,
        "tentative": mistake.tentative,
    }
    if mistake.output is not None:
        return Mistake(message, mistake.output[0, 0], **same)
    test = mistake.explains
    return Mistake(
        message,
        explains=lambda got: (
            isinstance(got, torch.Tensor) and got.ndim == 2 and test(got[None, None])
        ),
        **same,
    )


def _corr2d_mistakes(image: torch.Tensor, kernel: torch.Tensor) -> list[Mistake]:
    """The conv2d misconceptions that apply to one channel, in 2-D, plus 'same' and 'full'
    output sizes."""
    (h, w), (k_h, k_w) = image.shape, kernel.shape
    as_2d = [
        _as_2d(m)
        for m in conv_mistakes(image[None, None], kernel[None, None], None, 1, 0)
        if m.message in CORR2D_MISTAKES + (OUTPUT_SIZE,) and not m.weak
    ]

    def shaped(shape):
        return lambda got: isinstance(got, torch.Tensor) and tuple(got.shape) == shape

    valid = (h - k_h + 1, w - k_w + 1)
    sizes = [
        Mistake(message, explains=shaped(shape))
        for message, shape in [(SAME_SIZE, (h, w)), (FULL_SIZE, (h + k_h - 1, w + k_w - 1))]
        if shape != valid
    ]
    return (
        [m for m in as_2d if m.message not in (OFF_BY_ONE, VALID_SIZE)]
        + sizes
        + [m for m in as_2d if m.message in (OFF_BY_ONE, VALID_SIZE)]
        + [misplaced(F.conv2d(image[None, None], kernel[None, None])[0, 0])]
    )


def _corr2d_retries(image: torch.Tensor, kernel: torch.Tensor) -> list[Retry]:
    (h, w), (k_h, k_w) = image.shape, kernel.shape
    found = []
    if k_h != k_w:
        k = min(k_h, k_w)
        found.append(
            Retry(
                KERNEL_SQUARE_ONLY,
                (image, kernel[:k, :k]),
                {},
                [_corr(image, kernel[:k, :k])],
                feature="non-square kernel",
                rivals=lambda: _corr2d_mistakes(image, kernel[:k, :k]),
            )
        )
    if h != w and min(h, w) >= max(k_h, k_w):
        m = min(h, w)
        found.append(
            Retry(
                INPUT_SQUARE_ONLY,
                (image[:m, :m], kernel),
                {},
                [_corr(image[:m, :m], kernel)],
                feature="non-square input",
                rivals=lambda: _corr2d_mistakes(image[:m, :m], kernel),
            )
        )
    return found


def _corr(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    return F.conv2d(image[None, None], kernel[None, None])[0, 0]


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
        cases.append(
            Case(
                description=f"image {h}×{w}, kernel {k_h}×{k_w}",
                args=(image, kernel),
                expected=_corr(image, kernel),
                mistakes=lambda image=image, kernel=kernel: _corr2d_mistakes(image, kernel),
                retries=lambda image=image, kernel=kernel: _corr2d_retries(image, kernel),
                setup=f"image, kernel = {randn_code(image)}, {randn_code(kernel)}",
                reference="torch.nn.functional.conv2d(image[None, None], kernel[None, None])[0, 0]",
                features=frozenset(
                    {"always"}
                    | ({"non-square kernel"} if k_h != k_w else set())
                    | ({"non-square input"} if h != w else set())
                ),
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


def _forward_output(value, case: Case):
    """The forward output from what :func:`probe_forward_backward` returned."""
    return value["output"] if isinstance(value, dict) else Verdict("the layer returned nothing.")


def _module_retries(weights: tuple, x: torch.Tensor, grad_out, expected, own: str) -> list[Retry]:
    """Retries of one case's layer (``own``: that case's feature; each case has its own
    layer, so no other case can confirm them)."""
    nhwc = x.permute(0, 2, 3, 1).contiguous()
    accepts = [expected, expected.permute(0, 2, 3, 1)]
    return [
        Retry(SINGLE_IMAGE, (*weights, x[0], grad_out[0]), {}, [expected[0]], feature=own),
        Retry(NHWC_INPUT, (*weights, nhwc, grad_out), {}, accepts, feature=own),
    ]


def check_conv2d_module(Conv2d: type, seed: int | None = None) -> None:  # noqa: N803 (the class)
    """Check the ``Conv2d`` module against ``nn.Conv2d``: parameter shapes, a random
    initialisation, the forward pass with the same weights, and the gradients of the
    input, weight and bias. ``x: (N, C_in, H, W)`` -> ``(N, C_out, H_out, W_out)``.

    Every case runs before a wrong forward pass is explained, so that the other cases can
    confirm or rule out the misconception that fits it."""
    name, device = "Conv2d", get_device()
    g = generator(seed, 23)
    settings = _module_settings(seed)
    runs: list[Ran] = []
    layers: list[tuple[object, str]] = []  # each case's layer, and where to say it failed
    first_wrong = None
    for number, (c_in, c_out, kernel, stride, padding, bias) in enumerate(settings, 1):
        signature = (
            f"Conv2d({c_in}, {c_out}, {kernel}, stride={stride}, padding={padding}, bias={bias})"
        )
        where = case_header(number, len(settings), signature)
        options = {"stride": stride, "padding": padding, "bias": bias}
        reference = nn.Conv2d(c_in, c_out, kernel, **options).to(device)
        if first_wrong is None:
            layer = call_student(name, Conv2d, (c_in, c_out, kernel), options, where=where)
            facts = call_student(name, layer, (), {}, where=where, probe=probe_parameters)
            _check_parameters(name, facts, reference, where)
        else:  # only evidence now: a layer that cannot be built tells nothing
            layer = attempt(Conv2d, (c_in, c_out, kernel), options).value
        k_h, k_w = pair(kernel)
        h, w = (
            k_h + int(torch.randint(0, 6, (1,), generator=g)),
            k_w + int(torch.randint(0, 6, (1,), generator=g)),
        )
        x = torch.randn(2, c_in, h, w, generator=g).to(device).requires_grad_()
        expected = reference(x)
        grad_out = torch.randn(expected.shape, generator=g).to(device)
        weights = (reference.weight.detach(), None if bias is False else reference.bias.detach())
        r_weight, r_bias = weights
        case = Case(
            description=signature,
            args=(*weights, x.detach(), grad_out),
            expected=expected.detach(),
            what="the forward output",
            mistakes=lambda x=x, w=r_weight, b=r_bias, r=reference: conv_mistakes(
                x.detach(), w, b, r.stride, r.padding, module=True
            ),
            retries=lambda a=weights, x=x, go=grad_out, e=expected, own=f"case {number}": (
                _module_retries(a, x.detach(), go, e.detach(), own)
            ),
            features=frozenset({f"case {number}"}),
        )
        inputs = [x, reference.weight] + ([reference.bias] if bias else [])
        expected_grads = torch.autograd.grad(expected, inputs, grad_out)
        where = f"{where}, input {describe_call((x,), {}, ('x',))}"
        ran, found = Ran(case), None
        if layer is not None:
            called = attempt(
                layer, case.args, {}, forbid="convolution", probe=probe_forward_backward
            )
            ran = Ran(case, raised=called.raised, problem=called.problem)
            if ran.answered:
                found = called.value
                ran.value = found["output"]
                ran.verdict = judge_tensor(ran.value, case.expected, case.what)
        runs.append(ran)
        layers.append((layer, where))
        if first_wrong is not None:
            continue
        if ran.problem is not None:
            fail(name, ran.problem, where)
        if ran.wrong:
            first_wrong = number - 1
            continue
        _check_gradients(name, found, expected_grads, where)
    if first_wrong is None:
        report_pass(name, len(settings))
        return
    _explain_forward(name, runs, first_wrong, layers)


def _explain_forward(name: str, runs: list[Ran], index: int, layers: list) -> None:
    """Fail with what explains the wrong forward pass of ``runs[index]``; ``layers``: each
    case's layer and where to say it failed."""
    ran, (layer, where) = runs[index], layers[index]
    wheres = [where for _, where in layers]
    again = {"normalize": _forward_output, "forbid": "convolution", "probe": probe_forward_backward}
    if ran.raised is not None:
        explanation = try_retries(layer, runs, index, **again)
        if explanation:
            fail(name, explanation, where, raised_line(ran.raised))
        later = explain_later(runs, index, lambda i: explain_wrong(layer, runs, i, **again))
        if later is not None:
            other, message = later
            fail(
                name,
                message,
                wheres[other],
                runs[other].verdict.evidence,
                f"(It also raised {ran.raised.type_name} in forward on case {index + 1}: "
                f"{first_line(ran.raised.message)})",
            )
        fail(
            name,
            f"raised {ran.raised.type_name} in forward on case {index + 1} of {len(runs)}: "
            f"{first_line(ran.raised.message)}",
            where,
        )
    verdict = ran.verdict
    if verdict.diagnose:
        message = explain_wrong(layer, runs, index, **again)
        if message:
            fail(name, message, where, verdict.evidence)
    fail(name, verdict.summary, where, verdict.detail)


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
        shape = tuple(expected.shape)
        if got["shape"] != shape:
            shapes = f"self.{attribute} has shape {got['shape']}; nn.Conv2d's has {shape}."
            if (
                attribute == "weight"
                and shape[2] != shape[3]
                and got["shape"] == (*shape[:2], shape[3], shape[2])
            ):
                fail(name, KERNEL_SIZES_SWAPPED, where, shapes)
            if (
                attribute == "weight"
                and shape[0] != shape[1]
                and got["shape"] == (shape[1], shape[0], *shape[2:])
            ):
                fail(name, WEIGHT_AXES_SWAPPED, where, shapes)
            fail(
                name,
                f"{shapes[:-1]} (weight: (C_out, C_in, K_h, K_w), bias: (C_out,)).",
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
            source = "x itself (not x.detach() or x.data)" if what == "x" else f"self.{what} itself"
            fail(name, f"{what} gets no gradient: forward must compute with {source}.", where)
        expect_tensor(name, got_grad, expected_grad, f"the gradient of {what}", where)
