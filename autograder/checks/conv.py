"""Checks for ``corr2d_padded``, ``conv2d_naive``, ``conv2d_fast`` and the ``Conv2d`` module.

Each check reads as cases, judge, explain:

- **Cases**, grouped into weighted parts (:data:`CONV_PARTS`): the simple cases, several
  channels and images, the bias, the stride, the padding, (h, w) pairs, float64 and other
  memory layouts, and the hidden random cases. Every case has a random, non-symmetric kernel,
  so a misconception such as a flipped kernel shows in every part. Inputs in another memory
  layout (channels_last, a transposed view) are made where the student's code runs, by a
  probe (:func:`probe_channels_last`, :func:`probe_transposed`): the grading sandbox
  receives contiguous copies, so the layout has to be made on its side.
- **Judge**: against ``torch.nn.functional.conv2d`` (cross-correlation, NCHW, zero padding per
  side), same shape, dtype and device, within a tolerance.
- **Explain** (:mod:`._cases` runs these in order): a known misconception whose replay
  (:func:`conv_mistakes`) reproduces the answer; else the experiments: the ingredient the
  failures follow (:data:`INGREDIENTS`, each case's :func:`conv_variants` taking one away),
  what the wrong values show (a factor, an offset, a running total, a shift, a region such as
  the border), which input channels and kernel offsets count (:func:`contributions`), and
  where each weight lands for an input that is a single 1 (:func:`impulse`).

Notation, as in the course: ``x: (N, C_in, H, W)``, ``weight: (C_out, C_in, K_h, K_w)``,
``bias: (C_out,)`` (``b`` is only ever the bias), stride ``S = (S_h, S_w)``, padding
``P = (P_h, P_w)`` zeros per side; kernel offsets ``u`` (row) and ``v`` (column), output
position ``i, j``, input channel ``c``, output channel ``o``, image ``n``; the padded input
``x̃`` (``padded`` in code):
``out[n, o, i, j] = b[o] + Σ_c Σ_u Σ_v x̃[n, c, i·S_h + u, j·S_w + v] · w[o, c, u, v]``.
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..device import get_device
from . import _experiments as ex
from ._cases import (
    Case,
    Finding,
    Judged,
    Lab,
    Mistake,
    Part,
    Ran,
    Variant,
    Verdict,
    attempt,
    close,
    explain_case,
    generic,
    judge_tensor,
    misplaced,
    pair,
    quiet,
    randn_code,
    report,
    run_parts,
    tolerance,
)
from ._experiments import Ingredient, Region
from ._loops import loop_rule
from ._score import PartResult, Score
from ._seeds import generator, integers, off_grid, oriented

FLIPPED = (
    "the kernel is flipped (as in the textbook's true convolution). A CNN layer computes "
    "cross-correlation: out[i, j] = Σ_u Σ_v x̃[i + u, j + v] · w[u, v], with no flip."
)
KERNEL_TRANSPOSED = (
    "the kernel's rows and columns are swapped: w[u, v] multiplies the input at row offset u, "
    "column offset v."
)
KERNEL_SIZES_SWAPPED = (
    "K_h and K_w are swapped: weight is (C_out, C_in, K_h, K_w), so the kernel has "
    "K_h = weight.shape[-2] rows and K_w = weight.shape[-1] columns."
)
BIAS_MISSING = "the bias is missing: add b[o] to every position of output channel o."
BIAS_PER_CHANNEL = (
    "the bias is added once per input channel: sum over the input channels first, then add "
    "b[o] once."
)
BIAS_INSIDE_SUM = (
    "the bias is added inside the sum, once per product: add b[o] once to each output "
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
# What the experiments say (see _experiments for the shared ones).
BORDER = (
    "the values are right where the window lies inside the input, and wrong where it reaches "
    "into the zero padding (the border of the output): pad the input first, P_h rows of zeros "
    "at the top and the bottom and P_w columns on the left and the right, and take every "
    "window from the padded input x̃."
)
SHIFT_ADVICE = (
    "Check where each window starts: output (i, j) comes from the window whose top-left "
    "corner is at row i·S_h, column j·S_w of the padded input x̃ (padded once, P zeros per side)."
)
CHANNELS_LEFT_OUT = (
    "input channel(s) c = {channels} do not count in your output (the others do, each once): "
    "each output value sums over all C_in input channels, Σ_c Σ_u Σ_v x̃[n, c, ...] · w[o, c, u, v]."
)
CHANNELS_WEIGHTED = (
    "the input channels do not count once each (their contributions are weighted {weights}): "
    "each output value sums over all C_in input channels, each once."
)
OFFSETS_LEFT_OUT = (
    "the kernel's {which} in your output (the rest of the kernel does): the "
    "window must cover u = 0, ..., K_h − 1 and v = 0, ..., K_w − 1 (check the ranges of "
    "your kernel loops or slices)."
)
IMPULSE_ORDER = (
    "each weight multiplies the wrong input value: given an input that is 0 except a single 1, "
    "the weights come out in other places than w[o, c, u, v] at out[o, r − u, s − v] (for the "
    "1 at row r, column s of channel c), e.g. {example}. Each weight must multiply the input at "
    "its own channel and kernel offset: if you flatten the windows and the weights, flatten "
    "both in the same order (unfold gives C_in, then K_h, then K_w)."
)
IMPULSE_FLIPPED = (
    "given an input that is 0 except a single 1, the kernel comes out rotated by 180° "
    "compared with cross-correlation's: " + FLIPPED
)
IMPULSE_TRANSPOSED = (
    "given an input that is 0 except a single 1, the kernel comes out transposed: "
    + KERNEL_TRANSPOSED
)
GRAD_X_ONLY = (
    "the forward pass and dL/dweight are right, but dL/dx is wrong. dL/dx is a full "
    "correlation of dL/dout (padded with K − 1 zeros, the stride's gaps filled with zeros) "
    "with the kernel rotated by 180°, as autograd computes it from your forward pass."
)
GRAD_X_UNROTATED = (
    "the forward pass and dL/dweight are right, but dL/dx is what the kernel without its "
    "180° rotation gives: dL/dx is a full correlation of dL/dout with the kernel rotated by "
    "180° (weight.flip(-2, -1)), with the input channels and output channels swapped."
)
GRAD_W_ONLY = (
    "the forward pass and dL/dx are right, but dL/dweight is wrong: dL/dw[o, c, u, v] = "
    "Σ_n Σ_i Σ_j dL/dout[n, o, i, j] · x̃[n, c, i·S_h + u, j·S_w + v], summed over the whole batch."
)
GRAD_B_ONLY = (
    "the forward pass is right and dL/dx and dL/dweight are too, but dL/dbias is wrong: "
    "dL/db[o] = Σ_n Σ_i Σ_j dL/dout[n, o, i, j]."
)
GRADS_WRONG = "the forward pass is right, but the gradients of {which} are wrong: {said}."
DTYPE_ADVICE = "work in the inputs' dtype: create every new tensor with dtype=x.dtype."
KERNEL_BEYOND_ADVICE = (
    "the kernel may be larger than the input when the padding makes it fit (K_h ≤ H + 2P_h "
    "and K_w ≤ W + 2P_w is all it takes): take the windows from the padded input, and check "
    "only that."
)
LAYOUT_ADVICE = (
    "x may come in any memory layout (channels_last, a transposed view): index, unfold and "
    "reshape work on any layout, view and as_strided only on one they know. For as_strided, "
    "take the strides from .stride() of a tensor you made contiguous yourself (e.g. "
    "padded.contiguous()), never from its shape."
)


# ---------------------------------------------------------------------------------------------
# Cases and parts.

SIMPLE = "simple cases: one image, one channel"
CHANNELS = "several channels and images"
BIAS = "bias"
STRIDE = "stride"
PADDING = "padding"
PAIRS = "(h, w) pairs"
DTYPE_LAYOUT = "float64 and memory layouts"
HIDDEN = "hidden random cases"
LOOPS = "no loop over output positions"

LAYOUTS = {
    "": "",
    "channels_last": "x channels_last",
    "transposed": "x a transposed view (not contiguous)",
}


def conv_parts(points: float) -> list[Part]:
    """The parts of a convolution check worth ``points`` in all: seven visible ingredients and
    the hidden random cases, an eighth each."""
    share = points / 8
    names = [SIMPLE, CHANNELS, BIAS, STRIDE, PADDING, PAIRS, DTYPE_LAYOUT]
    return [Part(name, share) for name in names] + [Part(HIDDEN, share, hidden=True)]


@dataclass(frozen=True)
class ConvSetting:
    """One convolution problem: ``x: (n, c_in, h, w)``, ``weight: (c_out, c_in, k_h, k_w)``.
    ``layout``: the memory layout x is given in where the student's code runs ("" contiguous,
    "channels_last", "transposed"); ``explicit``: stride and padding are passed even when
    they are the defaults."""

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
    layout: str = ""
    explicit: bool = False

    def tensors(self, g: torch.Generator, device: torch.device):
        """``(x, weight, bias or None)`` drawn from ``g`` and moved to ``device``."""
        k_h, k_w = pair(self.kernel)
        x = torch.randn(self.n, self.c_in, self.h, self.w, generator=g, dtype=self.dtype)
        weight = torch.randn(self.c_out, self.c_in, k_h, k_w, generator=g, dtype=self.dtype)
        bias = torch.randn(self.c_out, generator=g, dtype=self.dtype) if self.bias else None
        return x.to(device), weight.to(device), None if bias is None else bias.to(device)

    def conv_kwargs(self) -> dict:
        """Keyword arguments for the call; defaults are left out so they get exercised (but
        with ``explicit``)."""
        kwargs = {}
        if self.stride != 1 or self.explicit:
            kwargs["stride"] = self.stride
        if self.padding != 0 or self.explicit:
            kwargs["padding"] = self.padding
        return kwargs

    def describe(self) -> str:
        dtype = "" if self.dtype == torch.float32 else f", {str(self.dtype).removeprefix('torch.')}"
        layout = f", {LAYOUTS[self.layout]}" if self.layout else ""
        return (
            f"N={self.n}, C_in={self.c_in}, H={self.h}, W={self.w}, C_out={self.c_out}, "
            f"kernel={self.kernel}, stride={self.stride}, padding={self.padding}, "
            f"bias={'yes' if self.bias else 'None'}{dtype}{layout}"
        )


VISIBLE = [
    (SIMPLE, ConvSetting(1, 1, 5, 5, 1, 3, bias=False)),
    (SIMPLE, ConvSetting(1, 1, 6, 5, 1, (3, 2), bias=False, explicit=True)),
    (CHANNELS, ConvSetting(2, 3, 6, 6, 4, 3, bias=False)),
    (CHANNELS, ConvSetting(1, 3, 6, 5, 1, (3, 2), bias=False)),
    (CHANNELS, ConvSetting(3, 1, 5, 7, 2, (2, 3), bias=False)),
    (BIAS, ConvSetting(2, 2, 6, 5, 3, 3)),  # W_out = C_out: a bias along W broadcasts
    (BIAS, ConvSetting(1, 3, 5, 7, 2, (2, 3))),
    (STRIDE, ConvSetting(2, 2, 9, 9, 3, 3, stride=2, bias=False)),
    (STRIDE, ConvSetting(1, 1, 8, 10, 2, (3, 2), stride=3, bias=False)),
    (PADDING, ConvSetting(2, 2, 5, 7, 3, 3, padding=2, bias=False)),
    (PADDING, ConvSetting(1, 1, 2, 3, 2, (3, 4), padding=1, bias=False)),  # fits thanks to P
    (PAIRS, ConvSetting(2, 1, 7, 7, 2, 3, stride=(2, 2), padding=(1, 1), bias=False)),
    (PAIRS, ConvSetting(1, 2, 9, 10, 2, (3, 4), stride=(2, 3), padding=(1, 2), bias=False)),
    (PAIRS, ConvSetting(2, 1, 6, 7, 2, 3, stride=(1, 2), padding=(2, 0), bias=False)),
    (PAIRS, ConvSetting(1, 2, 5, 6, 2, (2, 3), padding=(1, 2), bias=False)),  # P_h < P_w
    (DTYPE_LAYOUT, ConvSetting(2, 3, 7, 6, 2, 3, bias=False, dtype=torch.float64)),
    (DTYPE_LAYOUT, ConvSetting(2, 3, 6, 5, 2, (3, 2), bias=False, layout="channels_last")),
    (DTYPE_LAYOUT, ConvSetting(1, 2, 5, 6, 3, 3, bias=False, layout="transposed")),
]


HIDDEN_ROLES = ("simple", "channels", "stride", "padding", "wide pairs", "tall pairs", "random")


def random_settings(
    seed: int, count: int | None = None, roles: tuple[str, ...] = HIDDEN_ROLES
) -> list[ConvSetting]:
    """Random but valid settings, one per role (then ``"random"`` ones up to ``count``), so
    that every draw has each ingredient the visible parts test, whatever the seed: the
    points of a mistake never depend on the draw. Sizes, values and what a role does not fix
    are random. ``simple``: one image, one channel, no bias, stride 1, no padding.
    ``channels``: several images, input and output channels, with a bias. ``stride``: an int
    stride of 2 or 3 that leaves a remainder, x a transposed view. ``padding``: stride 1, an
    int padding with a kernel larger than the input on one axis (it fits thanks to the
    padding), float64. ``wide pairs``: (h, w) pairs, every w quantity larger than its h
    counterpart (:func:`~._seeds.oriented`), x channels_last; ``tall pairs`` every h
    quantity larger. ``random``: anything valid."""
    draw = integers(seed, 0)
    count = len(roles) if count is None else count
    settings = []
    for number in range(count):
        role = roles[number] if number < len(roles) else "random"
        k_h, k_w = draw(1, 5), draw(1, 5)
        s_h, s_w, p_h, p_w = draw(1, 3), draw(1, 3), draw(0, 2), draw(0, 2)
        as_pairs = draw(0, 1) == 1
        layout = {0: "channels_last", 1: "transposed"}.get(draw(0, 5), "")
        n, c_in, c_out = draw(1, 3), draw(1, 4), draw(1, 5)
        bias, dtype = draw(0, 3) > 0, torch.float64 if draw(0, 3) == 0 else torch.float32
        extra_h, extra_w = draw(0, 8), draw(0, 8)
        if role == "simple":
            n = c_in = c_out = 1
            s_h = s_w = 1
            p_h = p_w = 0
            bias, as_pairs, layout, dtype = False, False, "", torch.float32
        elif role == "channels":
            n, c_in, bias = draw(2, 3), draw(2, 4), True
            c_out = c_in + draw(1, 2)  # not C_in: a loop bounded by the wrong count shows
        elif role == "stride":
            s_h, as_pairs, layout = draw(2, 3), False, "transposed"
        elif role == "padding":
            s_h, p_h, as_pairs, dtype = 1, draw(1, 2), False, torch.float64
            k_h, k_w = draw(p_h + 2, 5), draw(p_h + 2, 5)
            tall = draw(0, 1) == 1  # which axis has the kernel larger than the input
            extra_h, extra_w = (0, extra_w) if tall else (extra_h, 0)
        if not as_pairs:
            s_w, p_w = s_h, p_h
        h = max(1, k_h - 2 * p_h) + extra_h
        w = max(1, k_w - 2 * p_w) + extra_w
        if role == "stride":
            h, w = off_grid(h, k_h, s_h, p_h), off_grid(w, k_w, s_h, p_h)
        elif role.endswith("pairs"):
            as_pairs, layout = True, "channels_last" if role == "wide pairs" else ""
            (h, w), (k_h, k_w), (s_h, s_w), (p_h, p_w) = oriented(
                draw, role == "wide pairs", kernel=5, stride=3, padding=2, extra=3
            )
        settings.append(
            ConvSetting(
                n=n,
                c_in=c_in,
                h=h,
                w=w,
                c_out=c_out,
                kernel=(k_h, k_w) if as_pairs or k_h != k_w else k_h,
                stride=(s_h, s_w) if as_pairs else s_h,
                padding=(p_h, p_w) if as_pairs else p_h,
                bias=bias,
                dtype=dtype,
                layout=layout,
            )
        )
    return settings


def probe_channels_last(fn, x, *args, **kwargs):
    """Call ``fn`` with ``x`` in the channels_last memory layout (made here, beside the
    student's code, where the layout survives; the same values)."""
    return fn(x.contiguous(memory_format=torch.channels_last), *args, **kwargs)


def probe_transposed(fn, x, *args, **kwargs):
    """Call ``fn`` with ``x`` as a view whose last two axes are stored transposed (not
    contiguous; the same values), made beside the student's code."""
    return fn(x.transpose(-1, -2).contiguous().transpose(-1, -2), *args, **kwargs)


PROBES = {"": None, "channels_last": probe_channels_last, "transposed": probe_transposed}
LAYOUT_CODE = {
    "": "",
    "channels_last": ".contiguous(memory_format=torch.channels_last)",
    "transposed": ".transpose(-1, -2).contiguous().transpose(-1, -2)",
}


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


def _features(x, weight, stride, padding) -> tuple:
    """What variants may not change by accident: whether S divides H + 2P − K on each axis,
    and whether the input, the kernel and the output are square (a mistake that shows only
    on a non-square output hides on a square one, whatever the variant changed)."""
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


def conv_features(x, weight, bias, kwargs: dict, layout: str = "") -> frozenset:
    """The ingredients a convolution case exercises (keys of :data:`INGREDIENTS`)."""
    stride, padding = kwargs.get("stride", 1), kwargs.get("padding", 0)
    n, c_in = x.shape[0], x.shape[1]
    c_out, _, k_h, k_w = weight.shape
    divides_h, divides_w, square_input, square_kernel, _ = _features(x, weight, stride, padding)
    found = {"always", "no bias" if bias is None else "bias"}
    found |= {"batch axis", "channels first", "weight layout", "weight axes"}
    if pair(stride) != (1, 1):
        found.add("stride")
    if pair(padding) != (0, 0):
        found.add("padding")
    if 0 in pair(padding):
        found.add("zero padding")
    if pair(padding)[0] == 0:
        found.add("zero padding rows")
    if pair(padding)[1] == 0:
        found.add("zero padding columns")
    found.add("stride given" if "stride" in kwargs else "stride default")
    found.add("padding given" if "padding" in kwargs else "padding default")
    found.add("stride padding order")
    if not _features(x, weight, stride, padding)[4]:
        found.add("non-square output")
    for a, b, key in (
        (n, c_in, "N ≠ C_in"),
        (n, c_out, "N ≠ C_out"),
        (c_in, c_out, "C_in ≠ C_out"),
    ):
        if a != b:
            found.add(key)
    if n == 1:
        found.add("one image")
    if c_in == 1:
        found.add("one input channel")
    if c_out == 1:
        found.add("one output channel")
    if isinstance(stride, tuple) or isinstance(padding, tuple):
        found.add("pairs")
    for which, value in (("stride", stride), ("padding", padding)):
        if pair(value)[0] != pair(value)[1]:
            found.add(f"uneven {which}")
            found.add("unequal pair")
    if {"uneven stride", "uneven padding"} <= found:
        found.add("uneven both")
    if not square_kernel:
        found.add("non-square kernel")
    if not square_input:
        found.add("non-square input")
    if not (divides_h and divides_w):
        found.add("not divisible")
    if c_in > 1:
        found.add("channels in")
    if c_out > 1:
        found.add("channels out")
    if n > 1:
        found.add("batch")
    if k_h > x.shape[-2] or k_w > x.shape[-1]:
        found.add("kernel beyond input")
    if x.dtype == torch.float64:
        found.add("float64")
    if layout:
        found.add("layout")
    return frozenset(found)


INGREDIENTS = [
    Ingredient(
        "stride",
        "the stride is not 1",
        "it is 1",
        "output (i, j) comes from the window whose top-left corner is at row i·S_h, column "
        "j·S_w of the padded input, and H_out = ⌊(H + 2P_h − K_h) / S_h⌋ + 1.",
    ),
    Ingredient(
        "padding",
        "there is padding",
        "the padding is 0",
        "pad the input with P_h rows of zeros at the top and at the bottom and P_w columns on "
        "the left and on the right, once, before taking any window (padded = "
        "F.pad(x, (P_w, P_w, P_h, P_h))); then H_out = H + 2P_h − K_h + 1 at stride 1.",
    ),
    Ingredient(
        "pairs",
        "stride or padding is an (h, w) pair",
        "they are ints",
        "stride and padding may be ints or (height, width) pairs, as for F.conv2d.",
        message=PAIR_UNSUPPORTED,
    ),
    Ingredient(
        "unequal pair",
        "the two numbers of a pair differ",
        "they are equal",
        "each number belongs to its own axis: stride=(S_h, S_w) moves the window S_h rows "
        "down and S_w columns across, padding=(P_h, P_w) adds P_h rows at the top and the "
        "bottom and P_w columns on the left and the right (F.pad takes the last axis first: "
        "F.pad(x, (P_w, P_w, P_h, P_h))). Check every place that uses S_h, S_w, P_h or P_w.",
    ),
    Ingredient(
        "uneven stride",
        "the stride's two numbers differ",
        "they are equal",
        "stride=(S_h, S_w): S_h rows down, S_w columns across.",
        message=PAIR_SWAPPED,
    ),
    Ingredient(
        "uneven padding",
        "the padding's two numbers differ",
        "they are equal",
        "padding=(P_h, P_w): P_h rows at the top and bottom, P_w columns left and right.",
        message=PAIR_SWAPPED,
    ),
    Ingredient(
        "uneven both",
        "both pairs have two different numbers",
        "they do not",
        "stride=(S_h, S_w) and padding=(P_h, P_w) give the height first.",
        message=PAIR_SWAPPED,
    ),
    Ingredient(
        "bias",
        "there is a bias",
        "bias is None",
        "bias has shape (C_out,), one value per output channel: add b[o] once to every value of "
        "output channel o (bias.view(1, -1, 1, 1) broadcasts it over N, H_out and W_out).",
        message=BIAS_HANDLING,
    ),
    Ingredient(
        "no bias",
        "bias is None",
        "a bias is given",
        "add the bias only when `bias is not None`.",
        message=BIAS_NONE,
    ),
    Ingredient(
        "non-square kernel",
        "the kernel is not square",
        "it is square",
        "the kernel has K_h = weight.shape[-2] rows and K_w = weight.shape[-1] columns.",
        message=KERNEL_SQUARE_ONLY,
    ),
    Ingredient(
        "non-square input",
        "the input is not square",
        "it is square",
        "x has H = x.shape[2] rows and W = x.shape[3] columns.",
        message=INPUT_SQUARE_ONLY,
    ),
    Ingredient(
        "not divisible",
        "S does not divide H + 2P − K",
        "it does",
        "a window that does not fit is left out: H_out = ⌊(H + 2P − K) / S⌋ + 1.",
        message=ROUND_DOWN,
    ),
    Ingredient(
        "channels in",
        "C_in > 1",
        "C_in = 1",
        "each output value sums over all C_in input channels, each channel's window times "
        "the weights of the same channel: Σ_c Σ_u Σ_v x̃[n, c, i·S_h + u, j·S_w + v] · "
        "w[o, c, u, v] (if you flatten windows and weights, flatten both in the same order).",
    ),
    Ingredient(
        "channels out",
        "C_out > 1",
        "C_out = 1",
        "there is one filter per output channel: out[:, o] uses weight[o] and b[o] only. Look at "
        "every place your code uses C_out or loops over the output channels.",
    ),
    Ingredient(
        "batch",
        "N > 1",
        "N = 1",
        "each image of the batch gets its own output: out[n] depends on x[n] only.",
    ),
    Ingredient(
        "kernel beyond input",
        "the kernel is larger than the input (it fits only thanks to the padding)",
        "it fits in the input",
        KERNEL_BEYOND_ADVICE,
    ),
    Ingredient("float64", "the inputs are float64", "they are float32", DTYPE_ADVICE),
    Ingredient("layout", "x is not contiguous", "x is contiguous", LAYOUT_ADVICE),
    Ingredient(
        "stride default",
        "stride is left to its default (not passed)",
        "it is passed",
        "the defaults are stride=1 and padding=0: check them in your def line.",
    ),
    Ingredient(
        "padding default",
        "padding is left to its default (not passed)",
        "it is passed",
        "the defaults are stride=1 and padding=0: check them in your def line.",
    ),
    Ingredient(
        "zero padding",
        "the padding is 0 on an axis",
        "it is not",
        "check what your code does when P = 0: a slice such as padded[p:-p] is empty when "
        "p = 0 (write padded[p_h:p_h + H] instead).",
        observed=True,
    ),
    Ingredient(
        "zero padding rows",
        "P_h = 0",
        "P_h > 0",
        "check what your code does when P_h = 0 (a slice such as padded[p_h:-p_h] is empty "
        "then, and a division by P_h fails).",
        observed=True,
    ),
    Ingredient(
        "zero padding columns",
        "P_w = 0",
        "P_w > 0",
        "check what your code does when P_w = 0 (a slice such as padded[:, p_w:-p_w] is "
        "empty then, and a division by P_w fails).",
        observed=True,
    ),
    Ingredient(
        "non-square output",
        "the output is not square (H_out ≠ W_out)",
        "it is square",
        "check every place your code uses H_out or W_out (the loops over rows and columns, the "
        "shape of the output): H_out counts rows, W_out columns.",
    ),
    Ingredient(
        "N ≠ C_in",
        "N ≠ C_in",
        "N = C_in",
        "somewhere your code takes one for the other: x is (N, C_in, H, W).",
        observed=True,
    ),
    Ingredient(
        "N ≠ C_out",
        "N ≠ C_out",
        "N = C_out",
        "somewhere your code takes one for the other: x is (N, C_in, H, W), weight (C_out, "
        "C_in, K_h, K_w), the output (N, C_out, H_out, W_out).",
        observed=True,
    ),
    Ingredient(
        "C_in ≠ C_out",
        "C_in ≠ C_out",
        "C_in = C_out",
        "somewhere your code takes one for the other: weight is (C_out, C_in, K_h, K_w); x has "
        "C_in channels, the output C_out.",
        observed=True,
    ),
    Ingredient(
        "one image",
        "N = 1",
        "N > 1",
        "a batch of one image is a batch too: keep the batch axis (squeeze() and [0] drop it).",
        observed=True,
    ),
    Ingredient(
        "one input channel",
        "C_in = 1",
        "C_in > 1",
        "one input channel is a channel axis of size 1: keep it (squeeze() drops it).",
        observed=True,
    ),
    Ingredient(
        "one output channel",
        "C_out = 1",
        "C_out > 1",
        "one output channel is a channel axis of size 1: keep it (squeeze() drops it).",
        observed=True,
    ),
    Ingredient("stride padding order", "", "", "", message=STRIDE_PADDING_SWAPPED),
    Ingredient("batch axis", "", "", "", message=SINGLE_IMAGE),
    Ingredient("channels first", "", "", "", message=NHWC_INPUT),
    Ingredient("weight layout", "", "", "", message=WEIGHT_LAYOUT),
    Ingredient("weight axes", "", "", "", message=WEIGHT_AXES_SWAPPED),
]


def conv_variants(x, weight, bias, kwargs: dict, layout: str = "") -> list[Variant]:
    """The case with one ingredient taken away (keeping, as far as :func:`_features` can tell,
    everything else), and with each hypothesis about the input's meaning (one image, channels
    last, another weight layout) that a right answer would confirm."""
    stride, padding = kwargs.get("stride", 1), kwargs.get("padding", 0)
    (s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)
    c_out, c_in, k_h, k_w = weight.shape
    probe = PROBES[layout]
    expected = _conv(x, weight, bias, stride, padding)
    have = _features(x, weight, stride, padding)
    # a non-square output stays so (a slip that shows only there would hide); a square one
    # may change
    have = (*have[:4], None if have[4] else False)
    found: list[Variant] = []

    def add(key, change, x=x, weight=weight, bias=bias, call=None, expected=None, probe=probe):
        if x is None:
            return
        call = kwargs if call is None else call
        if expected is None:
            expected = _conv(x, weight, bias, call.get("stride", 1), call.get("padding", 0))
        if expected is not None and expected.numel() > 0:
            found.append(Variant(key, (x, weight, bias), call, expected, change, probe))

    if (s_h, s_w) != (1, 1):
        one = (1, 1) if isinstance(stride, tuple) else 1
        add("stride", f"stride={one}", call=kwargs | {"stride": one})
    if (p_h, p_w) != (0, 0):
        zero = (0, 0) if isinstance(padding, tuple) else 0
        padded = F.pad(x, (p_w, p_w, p_h, p_h))
        add(
            "padding",
            f"the input padded with zeros beforehand and padding={zero}",
            x=padded,
            call=kwargs | {"padding": zero},
            expected=expected,
        )
    given = [k for k in ("stride", "padding") if isinstance(kwargs.get(k), tuple)]
    if given and all(len(set(kwargs[k])) == 1 for k in given):  # the same values, as ints
        ints = {k: kwargs[k][0] for k in given}
        said = ", ".join(f"{k}={v}" for k, v in ints.items())
        add("pairs", f"{said} given as ints", call=kwargs | ints, expected=expected)
    unequal = [k for k in ("stride", "padding") if len(set(pair(kwargs.get(k, 0)))) == 2]
    if unequal:  # each pair's two numbers made equal (pairs still), nothing else changed
        evened = {k: (pair(kwargs[k])[0],) * 2 for k in unequal}
        call = kwargs | evened
        x_ = _cropped(x, weight, call.get("stride", 1), call.get("padding", 0), have)
        said = ", ".join(f"{k}={v}" for k, v in evened.items())
        add("unequal pair", f"{said} (each pair's two numbers equal)", x=x_, call=call)
    uneven = [k for k in ("stride", "padding") if len(set(pair(kwargs.get(k, 0)))) == 2]
    for which in uneven + (["both"] if len(uneven) == 2 else []):  # a swap undoes a swap
        swapped = uneven if which == "both" else [which]
        call = kwargs | {k: pair(kwargs[k])[::-1] for k in swapped}
        add(
            f"uneven {which}",
            f"the {which} pair given the other way round",
            call=call,
            expected=expected,
        )
    if bias is not None:
        add("bias", "bias=None", bias=None)
    else:
        zeros = torch.zeros(c_out, dtype=weight.dtype, device=weight.device)
        add("no bias", "a bias of zeros instead of None", bias=zeros)
    if k_h != k_w:  # the kernel's top-left square (zeros added would hide a slip)
        k = min(k_h, k_w)
        square = weight[..., :k, :k]
        x_ = _cropped(x, square, stride, padding, (*have[:3], True, have[4]))
        add("non-square kernel", f"a square kernel (weight[..., :{k}, :{k}])", x=x_, weight=square)
    if x.shape[-2] != x.shape[-1]:
        # square in, and out too where a crop can (a size that follows the wrong axis may
        # show only on the output)
        x_ = _cropped(x, weight, stride, padding, (*have[:2], True, have[3], True), square=True)
        if x_ is None:
            x_ = _cropped(x, weight, stride, padding, (*have[:2], True, have[3], None), True)
        add("non-square input", "a square input (x cropped)", x=x_)
    if have[4] is False:  # a square output (the input may stop being square)
        x_ = _cropped(x, weight, stride, padding, (have[0], have[1], None, have[3], True))
        add("non-square output", "x cropped so that the output is square", x=x_)
    if not (have[0] and have[1]):
        x_ = _cropped(x, weight, stride, padding, (True, True, *have[2:]))
        add("not divisible", "x cropped so that S divides H + 2P − K", x=x_)
    if c_in > 1:
        add(
            "channels in",
            "only the first input channel (x[:, :1], weight[:, :1])",
            x=x[:, :1],
            weight=weight[:, :1],
        )
    if c_out > 1:
        add(
            "channels out",
            "only the first filter (weight[:1], bias[:1])",
            weight=weight[:1],
            bias=None if bias is None else bias[:1],
        )
    if x.shape[0] > 1:
        add("batch", "only the first image (x[:1])", x=x[:1])
    if k_h > x.shape[-2] or k_w > x.shape[-1]:  # the input grown (its own values repeated)
        rows, cols = max(x.shape[-2], k_h), max(x.shape[-1], k_w)
        grown = x.repeat(1, 1, -(-rows // x.shape[-2]), -(-cols // x.shape[-1]))
        add(
            "kernel beyond input",
            f"an input of {rows}×{cols} (the kernel fits in it)",
            x=grown[..., :rows, :cols].contiguous(),
        )
    if x.dtype == torch.float64:
        add(
            "float64",
            "the same inputs in float32",
            x=x.float(),
            weight=weight.float(),
            bias=None if bias is None else bias.float(),
        )
    if layout:
        add("layout", "x contiguous (the same values)", probe=None)
    for key, default in (("stride", 1), ("padding", 0)):
        if key not in kwargs:
            add(
                f"{key} default",
                f"{key}={default} passed",
                call=kwargs | {key: default},
                expected=expected,
            )
    swapped_call = kwargs | {"stride": padding, "padding": stride}
    found.append(
        Variant(
            "stride padding order",
            (x, weight, bias),
            swapped_call,
            expected,
            "stride and padding passed the other way round",
            probe,
        )
    )
    nhwc = x.permute(0, 2, 3, 1).contiguous()
    hwio = weight.permute(2, 3, 1, 0).contiguous()
    found += [
        Variant("batch axis", (x[0], weight, bias), kwargs, expected[0], "one image (C_in, H, W)"),
        Variant(
            "channels first", (nhwc, weight, bias), kwargs, expected, "x given as (N, H, W, C_in)"
        ),
        Variant(
            "weight layout",
            (x, hwio, bias),
            kwargs,
            expected,
            "weight given as (K_h, K_w, C_in, C_out)",
        ),
    ]
    if c_in != c_out:
        swapped = weight.transpose(0, 1).contiguous()
        found.append(
            Variant(
                "weight axes",
                (x, swapped, bias),
                kwargs,
                expected,
                "weight given as (C_in, C_out, K_h, K_w)",
            )
        )
    return found


# ---------------------------------------------------------------------------------------------
# Experiments of a convolution's own (the shared ones are in _experiments).


def _conv_args(case: Case):
    """``(x, weight, bias, stride, padding)`` of a convolution case (x as the reference saw it)."""
    x, weight, bias = case.args[:3]
    return x, weight, bias, case.kwargs.get("stride", 1), case.kwargs.get("padding", 0)


def conv_factors(case: Case) -> list[tuple[float, str, str]]:
    """Factors that have a meaning in a convolution, for :func:`._experiments.scaled`."""
    x, weight, *_ = _conv_args(case)
    c_in, (k_h, k_w) = weight.shape[1], weight.shape[-2:]
    named = [
        (
            1 / (c_in * k_h * k_w),
            f"1/(C_in·K_h·K_w) = 1/{c_in * k_h * k_w}",
            "a mean over the window (all input channels and kernel offsets) instead of a sum.",
        ),
        (
            1 / (k_h * k_w),
            f"1/(K_h·K_w) = 1/{k_h * k_w}",
            "a mean over each channel's window instead of a sum.",
        ),
        (1 / c_in, f"1/C_in = 1/{c_in}", "the input channels averaged instead of summed."),
        (float(c_in), f"C_in = {c_in}", "each product counted once per input channel."),
        (
            float(k_h * k_w),
            f"K_h·K_w = {k_h * k_w}",
            "each product counted once per kernel offset.",
        ),
    ]
    return [(value, e, m) for value, e, m in named if value != 1]


def border_regions(case: Case) -> list[Region]:
    """The output positions whose window reaches into the zero padding."""
    x, weight, _, stride, padding = _conv_args(case)
    (s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)
    if (p_h, p_w) == (0, 0) or not isinstance(case.expected, torch.Tensor):
        return []
    (h, w), (k_h, k_w) = x.shape[-2:], weight.shape[-2:]
    h_out, w_out = case.expected.shape[-2:]
    rows = torch.tensor([i * s_h < p_h or i * s_h + k_h > p_h + h for i in range(h_out)])
    cols = torch.tensor([j * s_w < p_w or j * s_w + k_w > p_w + w for j in range(w_out)])
    mask = (rows[:, None] | cols[None, :]).to(case.expected.device)
    return [Region(mask, BORDER, about="border")]


def contributions(lab: Lab, index: int) -> Finding | None:
    """Which input channels, kernel rows and kernel columns count in the answer, and how many
    times: the answer (less the bias) fitted as a weighted sum of the right answer's parts,
    one part per input channel (then per kernel row, per kernel column)."""
    ran = lab.runs[index]
    got = ran.value
    if not ran.answered or ran.verdict is None or not ran.verdict.diagnose:
        return None
    expected = ran.case.expected
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
        return None
    if not torch.isfinite(got).all():
        return None
    x, weight, bias, stride, padding = _conv_args(ran.case)
    if x.ndim != 4:
        return None
    c_out, c_in, k_h, k_w = weight.shape
    target = (got - (0 if bias is None else bias.view(1, -1, 1, 1))).double().flatten()
    groups = [
        ("channel", c_in, lambda g: (slice(None), slice(g, g + 1), slice(None), slice(None))),
        ("row", k_h, lambda g: (slice(None), slice(None), slice(g, g + 1), slice(None))),
        ("column", k_w, lambda g: (slice(None), slice(None), slice(None), slice(g, g + 1))),
    ]
    for kind, count, where in groups:
        if count < 2 or target.numel() < 3 * count:
            continue
        parts = []
        for g in range(count):
            masked = torch.zeros_like(weight)
            masked[where(g)] = weight[where(g)]
            parts.append(F.conv2d(x, masked, None, pair(stride), pair(padding)).double().flatten())
        design = torch.stack(parts, dim=1)
        coefficients = torch.linalg.lstsq(design, target[:, None]).solution[:, 0]
        rtol, atol = tolerance(expected.dtype)
        scale = max(1.0, float(expected.abs().max()))
        if not torch.allclose(
            (design @ coefficients), target, rtol=10 * rtol, atol=10 * atol * scale
        ):
            continue
        rounded = [round(float(c), 3) for c in coefficients]
        if all(abs(c - 1) < 2e-3 for c in rounded):
            continue  # these parts all count once: the fault is elsewhere
        if all(abs(c - rounded[0]) < 2e-3 for c in rounded):
            continue  # one factor for all: said by the factor experiment
        left_out = [g for g, c in enumerate(rounded) if abs(c) < 2e-3]
        once = [g for g, c in enumerate(rounded) if abs(c - 1) < 2e-3]
        if kind == "channel":
            if left_out and len(left_out) + len(once) == count:
                sentence = CHANNELS_LEFT_OUT.format(channels=", ".join(map(str, left_out)))
            else:
                weights = ", ".join(f"c = {g}: {c:g}" for g, c in enumerate(rounded))
                sentence = CHANNELS_WEIGHTED.format(weights=weights)
            return Finding(sentence, about="channels counted", strength=0)
        if left_out and len(left_out) + len(once) == count:
            letter, last = ("u", k_h - 1) if kind == "row" else ("v", k_w - 1)
            names = ", ".join(f"{letter} = {g}" for g in left_out)
            which = f"{kind}s {names} never count" if len(left_out) > 1 else f"{kind} {names}"
            if left_out == [last]:
                which += f" (the last {kind})"
            if len(left_out) == 1:
                which += " never counts"
            return Finding(
                OFFSETS_LEFT_OUT.format(which=which), about="offsets counted", strength=0
            )
    return None


def impulse(lab: Lab, index: int) -> Finding | None:
    """Where each weight lands: the student's function on an input that is 0 except a single
    1 (one image, stride 1, no padding, no bias, in input channel 0 and then the last one).
    Cross-correlation puts w[o, c, u, v] at out[o, r − u, s − v] for the 1 at (r, s)."""
    case = lab.runs[index].case
    x, weight, *_ = _conv_args(case)
    if x.ndim != 4 or weight.ndim != 4 or lab.notes.get(("found", index)):
        return None  # a last resort: only when nothing else found anything
    c_out, c_in, k_h, k_w = weight.shape
    h, w, r, s = 2 * k_h + 2, 2 * k_w + 3, k_h, k_w
    for c in dict.fromkeys([0, c_in - 1]):
        probe_x = torch.zeros(1, c_in, h, w, dtype=x.dtype, device=x.device)
        probe_x[0, c, r, s] = 1
        expected = F.conv2d(probe_x, weight)
        trial = lab.trial(("impulse", index, c), case, (probe_x, weight, None), {}, expected)
        if trial is None or not trial.answered or trial.right:
            continue
        got = trial.value
        if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
            return None
        found = _landing(got[0], weight[:, c], weight, r, s)
        if found is not None:
            return Finding(found, about="kernel", detail=f"Input 0 but x[0, {c}, {r}, {s}] = 1.")
    return None


def _landing(response: torch.Tensor, kernel: torch.Tensor, weight, r: int, s: int) -> str | None:
    """What the response (C_out, H_out, W_out) to a single 1 at (r, s) shows about where the
    kernel (C_out, K_h, K_w) lands; None when it shows nothing this can name."""
    rtol, atol = tolerance(kernel.dtype)
    k_h, k_w = kernel.shape[-2:]
    h_out, w_out = response.shape[-2:]

    def placed(k: torch.Tensor, dh: int = 0, dw: int = 0) -> torch.Tensor | None:
        """The response a kernel ``k`` gives, moved by (dh, dw); None if it leaves the output."""
        out = torch.zeros_like(response)
        top, left = r - k.shape[-2] + 1 + dh, s - k.shape[-1] + 1 + dw
        if top < 0 or left < 0 or top + k.shape[-2] > h_out or left + k.shape[-1] > w_out:
            return None
        out[:, top : top + k.shape[-2], left : left + k.shape[-1]] = k.flip(-1, -2)
        return out

    def same(a) -> bool:
        return a is not None and torch.allclose(response, a, rtol=rtol, atol=atol)

    if same(placed(kernel.flip(-1, -2))):
        return IMPULSE_FLIPPED
    if k_h == k_w and same(placed(kernel.transpose(-1, -2))):
        return IMPULSE_TRANSPOSED
    # The right values in other places: each landing value found in the filter.
    for o in range(response.shape[0]):
        values = response[o].flatten()
        nonzero = values[values.abs() > atol]
        mine = weight[o].flatten()
        if nonzero.numel() != kernel[o].numel():
            return None
        matches = [(mine - v).abs() <= atol + rtol * v.abs() for v in nonzero]
        if not all(m.any() for m in matches):
            return None
    # every landing value is a weight of its filter: find one misplaced, as an example
    for u in range(k_h):
        for v in range(k_w):
            value = response[0, r - u, s - v]
            if torch.isclose(value, kernel[0, u, v], rtol=rtol, atol=atol):
                continue
            index = ((weight[0] - value).abs() <= atol + rtol * value.abs()).nonzero()
            if index.numel() == 0:
                return None
            c2, u2, v2 = (int(i) for i in index[0])
            example = (
                f"out[0, r − {u}, s − {v}] holds w[0, {c2}, {u2}, {v2}], where w[0, c, {u}, {v}] "
                "belongs"
            )
            return IMPULSE_ORDER.format(example=example)
    return None


def bias_as_bool(lab: Lab, index: int) -> Finding | None:
    """``if bias:`` on a tensor: the call raises "Boolean value of Tensor ..." and is right
    with bias None."""
    ran = lab.runs[index]
    if ran.raised is None or "Boolean value" not in ran.raised.message:
        return None
    for variant in lab.variants(index):
        if variant.ingredient == "bias":
            trial = lab.variant(index, variant)
            if trial is not None and trial.right:
                return Finding(BIAS_AS_BOOL, about="bias", strength=3)
    return None


CONV_EXPERIMENTS = [
    bias_as_bool,
    ex.reshaped,
    ex.scaled(
        conv_factors,
        "the sum over c, u, v",
        bias_advice="add b[o] once to every value of output channel o.",
    ),
    ex.running_total,
    ex.shifted(SHIFT_ADVICE),
    ex.regions(border_regions, axes=[(1, "output channel o"), (0, "image n")]),
    contributions,
    impulse,
    ex.ingredients(INGREDIENTS),
]


# ---------------------------------------------------------------------------------------------
# Known misconceptions, replayed.


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

    def add(message: str, output, key: str = "", about: str = "") -> None:
        if output is None:
            return
        if output.numel() > 0:  # an empty answer would be no evidence
            tentative = _size_only(output, expected)
            found.append(
                Mistake(message, output, key=key or message, tentative=tentative, about=about)
            )

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
        one_side = [("padding: top left", (p_w, 0, p_h, 0)), ("padding: bottom", (0, p_w, 0, p_h))]
        for key, sides in one_side:
            add(PADDING_ONE_SIDE, conv(x=F.pad(x, sides), padding=0), key, "padding")
        add(PADDING_IGNORED, conv(padding=0), about="padding")
        if p_h > 0 and p_w > 0:
            add(PADDING_ONE_AXIS, conv(padding=(0, p_w)), "padding: W only", "padding")
            add(PADDING_ONE_AXIS, conv(padding=(p_h, 0)), "padding: H only", "padding")
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


# ---------------------------------------------------------------------------------------------
# conv2d_naive and conv2d_fast.

CONV_ARGS = ("x", "weight", "bias")


def _conv_reference(kwargs: dict, bias) -> str:
    options = "".join(f", {k}={v!r}" for k, v in kwargs.items())
    return (
        f"torch.nn.functional.conv2d(x, weight, {'bias' if bias is not None else 'None'}{options})"
    )


def _conv_case(part: str, setting: ConvSetting, g: torch.Generator, device) -> Case:
    x, weight, bias = setting.tensors(g, device)
    kwargs = setting.conv_kwargs()
    stride, padding, layout = setting.stride, setting.padding, setting.layout
    return Case(
        description=setting.describe(),
        args=(x, weight, bias),
        kwargs=kwargs,
        expected=_conv(x, weight, bias, stride, padding),
        mistakes=lambda: conv_mistakes(x, weight, bias, stride, padding),
        features=conv_features(x, weight, bias, kwargs, layout),
        setup=(
            f"x, weight, bias = {randn_code(x)}{LAYOUT_CODE[layout]}, {randn_code(weight)}, "
            f"{randn_code(bias)}"
        ),
        reference=_conv_reference(kwargs, bias),
        part=part,
        probe=PROBES[layout],
        base=None if bias is None else bias.view(1, -1, 1, 1),
        variants=lambda: conv_variants(x, weight, bias, kwargs, layout),
    )


def conv_cases(seed: int | None) -> list[Case]:
    """The visible cases, part by part, and with a seed the hidden random ones."""
    device = get_device()
    g = generator(None, 0)
    cases = [_conv_case(part, setting, g, device) for part, setting in VISIBLE]
    if seed is not None:
        hidden = generator(seed, 0)
        cases += [_conv_case(HIDDEN, s, hidden, device) for s in random_settings(seed)]
    return cases


def _conv_judged(name: str, fn: Callable, seed: int | None, points: float) -> Judged:
    return run_parts(
        name,
        fn,
        conv_cases(seed),
        parts=conv_parts(points),
        names=CONV_ARGS,
        forbid="convolution",
        experiments=CONV_EXPERIMENTS,
    )


def check_conv2d_naive(conv2d_naive: Callable, seed: int | None = None) -> Score:
    """Check ``conv2d_naive(x, weight, bias=None, stride=1, padding=0)`` against ``F.conv2d``.

    ``x: (N, C_in, H, W)``, ``weight: (C_out, C_in, K_h, K_w)``, ``bias: (C_out,)`` or None
    -> ``(N, C_out, H_out, W_out)``, x's dtype and device. 4 points in eight parts
    (:func:`conv_parts`); with ``seed``, the hidden random cases too.
    """
    return report("conv2d_naive", _conv_judged("conv2d_naive", conv2d_naive, seed, 4))


def _loop_rule(conv2d_fast: Callable, seed: int | None = None) -> str | None:
    """Why ``conv2d_fast`` seems to loop over output positions (a message), or None; raises
    ``CheckFailed`` for a forbidden call on the rule's inputs. See ``_loops.loop_rule``."""
    return loop_rule(conv2d_fast, seed, "conv2d_fast")


# What the loop rule's inputs have (several images and channels, a bias or none, padding 0
# or 1): it counts only for a function that gets those parts right, so that its points do
# not depend on which of them a draw of its inputs has.
LOOP_NEEDS = (SIMPLE, CHANNELS, BIAS, PADDING)
LOOP_NEEDS_RIGHT_ANSWERS = (
    "the loop rule counts only for a function that gets the simple cases, several channels "
    "and images, the bias and padding right; see the parts above."
)


def check_conv2d_fast(conv2d_fast: Callable, seed: int | None = None) -> Score:
    """Check ``conv2d_fast`` like ``conv2d_naive`` (2 points in eight parts) and the loop rule
    (2 points): no Python loop whose number of steps grows with the number of output
    positions. The loop rule counts only when the parts its inputs exercise are right
    (:data:`LOOP_NEEDS`: a stub has no loops either, and a function wrong on its inputs
    cannot be timed)."""
    name = "conv2d_fast"
    judged = _conv_judged(name, conv2d_fast, seed, 2)
    if judged.problem:  # the check ends at 0, the loop rule with it
        problem = next((p.message for p in judged.parts if p.message), "")
        judged.parts.append(PartResult(LOOPS, 2, False, problem))
        return report(name, judged)
    ready = all(p.passed for p in judged.parts if p.name in LOOP_NEEDS)
    looping = None
    if ready:
        with quiet(conv2d_fast):
            looping = _loop_rule(conv2d_fast, seed)
    if not ready:
        judged.parts.append(PartResult(LOOPS, 2, False, LOOP_NEEDS_RIGHT_ANSWERS))
    elif looping:
        judged.parts.append(PartResult(LOOPS, 2, False, looping))
        if not judged.message:
            judged.message = f"{name}: {looping}"
    else:
        judged.parts.append(PartResult(LOOPS, 2, True))
    judged.cases += 1
    return report(name, judged)


# ---------------------------------------------------------------------------------------------
# corr2d_padded.

CORR_SIZE = (
    "the output is (H + 2P_h − K_h + 1, W + 2P_w − K_w + 1): pad the image with P_h rows of "
    "zeros at the top and the bottom and P_w columns on the left and the right, then every "
    "position where the kernel fits in the padded image gives one value."
)
CORR_SIMPLE = "simple cases: square image and kernel, padding an int"
CORR_NON_SQUARE = "non-square image and kernel"
CORR_PAIRS = "(P_h, P_w) pairs, 0 on one axis too"
CORR_LARGER = "a kernel larger than the image"
CORR_DTYPE = "float64 and a non-contiguous image"
CORR_PARTS = [
    Part(CORR_SIMPLE, 0.5),
    Part(CORR_NON_SQUARE, 0.25),
    Part(CORR_PAIRS, 0.25),
    Part(CORR_LARGER, 0.25),
    Part(CORR_DTYPE, 0.25),
    Part(HIDDEN, 0.5, hidden=True),
]
# (part, H, W, K_h, K_w, padding, dtype, layout)
CORR_VISIBLE = [
    (CORR_SIMPLE, 5, 5, 3, 3, 1, torch.float32, ""),
    (CORR_SIMPLE, 4, 4, 2, 2, 2, torch.float32, ""),
    (CORR_NON_SQUARE, 6, 4, 3, 2, 1, torch.float32, ""),
    (CORR_NON_SQUARE, 3, 7, 2, 4, 2, torch.float32, ""),
    (CORR_PAIRS, 5, 5, 3, 2, (1, 1), torch.float32, ""),
    (CORR_PAIRS, 5, 6, 3, 3, (1, 2), torch.float32, ""),
    (CORR_PAIRS, 4, 5, 2, 3, (0, 1), torch.float32, ""),
    (CORR_PAIRS, 6, 3, 3, 2, (2, 0), torch.float32, ""),
    (CORR_LARGER, 2, 3, 4, 3, 1, torch.float32, ""),
    (CORR_LARGER, 3, 3, 5, 5, 2, torch.float32, ""),
    (CORR_DTYPE, 5, 4, 3, 2, 1, torch.float64, ""),
    (CORR_DTYPE, 5, 6, 2, 3, (1, 1), torch.float32, "transposed"),
]
CORR_KEYS = {
    "non-square output",
    "unequal pair",
    "zero padding",
    "zero padding rows",
    "zero padding columns",
    "kernel beyond input",
    "padding",
    "pairs",
    "uneven padding",
    "non-square kernel",
    "non-square input",
    "float64",
    "layout",
}
CORR_MISTAKES = (
    FLIPPED,
    KERNEL_TRANSPOSED,
    KERNEL_SIZES_SWAPPED,
    PADDING_ONE_SIDE,
    PADDING_IGNORED,
    PADDING_ONE_AXIS,
    PAIR_SWAPPED,
    PAIR_ONE_VALUE,
    LOOP_SHORT,
    OFF_BY_ONE,
    OUTPUT_SIZE,
    CORR_SIZE,
)


def _of_image(text: str) -> str:
    """A convolution's sentence said of corr2d_padded's image."""
    return (
        text.replace("the input", "the image")
        .replace("x may", "the image may")
        .replace("F.pad(x,", "F.pad(image,")
        .replace("an input of", "an image of")
        .replace("x contiguous", "the image contiguous")
        .replace("x cropped", "the image cropped")
        .replace("input x̃", "image")
    )


CORR_PAIR_UNSUPPORTED = (
    "padding given as an int works, but not as a (P_h, P_w) pair: start with "
    "p_h, p_w = pair(padding), P_h rows of zeros at the top and the bottom, P_w columns on the "
    "left and the right."
)
CORR_PAIR_SWAPPED = (
    "the (P_h, P_w) pair is used the wrong way round: P_h rows of zeros go at the top and the "
    "bottom, P_w columns on the left and the right (F.pad, though, takes the last axis first: "
    "F.pad(image, (P_w, P_w, P_h, P_h)))."
)
CORR_PAIR_ONE_VALUE = (
    "only one number of the (P_h, P_w) pair is used, for both axes: padding=(P_h, P_w) adds "
    "P_h rows of zeros at the top and the bottom and P_w columns on the left and the right."
)
CORR_REPLACED = {
    "pairs": CORR_PAIR_UNSUPPORTED,
    "uneven padding": CORR_PAIR_SWAPPED,
    "non-square input": (
        "the answer is right for a square image but not for this non-square one: the image has "
        "H = image.shape[0] rows and W = image.shape[1] columns."
    ),
    "non-square kernel": (
        "the answer is right for a square kernel but not for this non-square one: the kernel "
        "has K_h = kernel.shape[0] rows and K_w = kernel.shape[1] columns."
    ),
}
CORR_ADVICE = {
    "unequal pair": (
        "each number belongs to its own axis: padding=(P_h, P_w) adds P_h rows of zeros at the "
        "top and the bottom and P_w columns on the left and the right (F.pad takes the last "
        "axis first: F.pad(image, (P_w, P_w, P_h, P_h))). Check every place that uses P_h or P_w."
    ),
    "padding": (
        "pad the image with P_h rows of zeros at the top and at the bottom and P_w columns on "
        "the left and on the right, once, before taking any window (padded = F.pad(image, "
        "(P_w, P_w, P_h, P_h))); the output is (H + 2P_h − K_h + 1, W + 2P_w − K_w + 1)."
    ),
}
CORR_INGREDIENTS = [
    Ingredient(
        i.key,
        i.present.replace("input", "image"),
        i.absent.replace("input", "image"),
        CORR_ADVICE.get(i.key, _of_image(i.advice)),
        CORR_REPLACED.get(i.key, i.message),
        i.observed,
    )
    for i in INGREDIENTS
    if i.key
    in {
        "non-square output",
        "unequal pair",
        "zero padding",
        "zero padding rows",
        "zero padding columns",
        "padding",
        "pairs",
        "uneven padding",
        "non-square kernel",
        "non-square input",
        "kernel beyond input",
        "float64",
        "layout",
    }
]


CORR_ROLES = ("simple", "non-square", "wide pairs", "tall pairs", "larger", "layout")


def _random_corr(seed: int, count: int | None = None) -> list[tuple]:
    """Random cases, one per role (then random ones up to ``count``), so that every draw has
    each ingredient the visible parts test: ``simple`` a square image and kernel, an int
    padding; ``non-square`` neither square; ``wide pairs`` every w quantity (image, kernel,
    padding) larger than its h counterpart, ``tall pairs`` every h quantity; ``larger`` a kernel larger than the image on one axis, float64; ``layout`` the image
    a transposed view. Sizes, values and what a role does not fix are random."""
    draw = integers(seed, 19)

    count = len(CORR_ROLES) if count is None else count
    found = []
    for number in range(count):
        role = CORR_ROLES[number] if number < len(CORR_ROLES) else "random"
        k_h, k_w, p_h, p_w = draw(1, 5), draw(1, 5), draw(0, 2), draw(0, 2)
        if (p_h, p_w) == (0, 0):
            p_h = 1
        as_pair = draw(0, 1) == 1 or p_h != p_w
        extra_h, extra_w = draw(0, 6), draw(0, 6)
        dtype = torch.float64 if draw(0, 3) == 0 else torch.float32
        layout = "transposed" if draw(0, 3) == 0 else ""
        if role == "simple":
            k_w, p_h, as_pair, extra_w = k_h, draw(1, 2), False, extra_h
            p_w = p_h
        elif role == "non-square":
            k_w = k_h % 5 + 1  # another size
            p_w, as_pair = p_h, False
            extra_w = (extra_h + draw(1, 6)) % 7
        elif role == "larger":
            p_h, dtype = draw(1, 2), torch.float64
            k_h, k_w = draw(p_h + 2, 5), draw(p_h + 2, 5)
            p_w, as_pair = p_h, False
            extra_h, extra_w = (0, extra_w) if draw(0, 1) else (extra_h, 0)
        elif role == "layout":
            layout = "transposed"
        h, w = max(1, k_h - 2 * p_h) + extra_h, max(1, k_w - 2 * p_w) + extra_w
        if role.endswith("pairs"):
            (h, w), (k_h, k_w), _, (p_h, p_w) = oriented(
                draw, role == "wide pairs", kernel=5, stride=1, padding=2, extra=5
            )
            as_pair = True
        elif role == "simple":
            w = h
        elif role == "non-square" and h == w:
            w = h + 1
        found.append((HIDDEN, h, w, k_h, k_w, (p_h, p_w) if as_pair else p_h, dtype, layout))
    return found


def _lift(case: Case):
    """A corr2d_padded case's ``(x, weight, None, kwargs)`` as a convolution: (1, 1, H, W)."""
    image, kernel, padding = case.args
    return image[None, None], kernel[None, None], {"padding": padding}


def _as_2d(mistake: Mistake, size: str = CORR_SIZE) -> Mistake:
    """A conv2d mistake on a (1, 1, H, W) problem, seen on the (H, W) answer of corr2d
    (``size``: what to say instead of the convolution's output size; the pair mistakes said
    of padding alone)."""
    said = {OUTPUT_SIZE: size, PAIR_SWAPPED: CORR_PAIR_SWAPPED, PAIR_ONE_VALUE: CORR_PAIR_ONE_VALUE}
    message = said.get(mistake.message, mistake.message)
    same = {
        "key": mistake.key,
        "neutral": size if mistake.neutral == OUTPUT_SIZE else mistake.neutral,
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


def _corr_mistakes(image, kernel, padding) -> list[Mistake]:
    found = [
        _as_2d(m)
        for m in conv_mistakes(image[None, None], kernel[None, None], None, 1, padding)
        if m.message in CORR_MISTAKES and not m.weak
    ]
    expected = _conv(image[None, None], kernel[None, None], None, 1, padding)[0, 0]
    return found + [misplaced(expected)]


def _corr_variants(image, kernel, padding, layout) -> list[Variant]:
    found = []
    for v in conv_variants(
        image[None, None], kernel[None, None], None, {"padding": padding}, layout
    ):
        if v.ingredient not in CORR_KEYS or v.args[0].ndim != 4:
            continue
        x, weight, _ = v.args
        found.append(
            Variant(
                v.ingredient,
                (x[0, 0], weight[0, 0], v.kwargs.get("padding", 0)),
                {},
                v.expected[0, 0],
                _of_image(v.change),
                v.probe,
            )
        )
    return found


def _corr_case(spec: tuple, g: torch.Generator, device) -> Case:
    part, h, w, k_h, k_w, padding, dtype, layout = spec
    image = torch.randn(h, w, generator=g, dtype=dtype).to(device)
    kernel = torch.randn(k_h, k_w, generator=g, dtype=dtype).to(device)
    expected = _conv(image[None, None], kernel[None, None], None, 1, padding)[0, 0]
    features = conv_features(
        image[None, None], kernel[None, None], None, {"padding": padding}, layout
    )
    shown = f", {LAYOUTS[layout].replace('x ', 'image ')}" if layout else ""
    dtype_said = "" if dtype == torch.float32 else ", float64"
    return Case(
        description=f"image {h}×{w}, kernel {k_h}×{k_w}, padding={padding}{dtype_said}{shown}",
        args=(image, kernel, padding),
        expected=expected,
        mistakes=lambda: _corr_mistakes(image, kernel, padding),
        features=frozenset(features & CORR_KEYS) | {"always"},
        setup=f"image, kernel = {randn_code(image)}{LAYOUT_CODE[layout]}, {randn_code(kernel)}",
        reference=(
            "torch.nn.functional.conv2d(image[None, None], kernel[None, None], "
            f"padding={padding!r})[0, 0]"
        ),
        part=part,
        probe=PROBES[layout],
        variants=lambda: _corr_variants(image, kernel, padding, layout),
    )


def _corr_factors(case: Case) -> list[tuple[float, str, str]]:
    k_h, k_w = case.args[1].shape
    if k_h * k_w == 1:
        return []
    return [
        (
            1 / (k_h * k_w),
            f"1/(K_h·K_w) = 1/{k_h * k_w}",
            "a mean over the window instead of a sum.",
        ),
        (
            float(k_h * k_w),
            f"K_h·K_w = {k_h * k_w}",
            "each product counted once per kernel offset.",
        ),
    ]


def _corr_border(case: Case) -> list[Region]:
    x, weight, kwargs = _lift(case)
    lifted = Case("", (x, weight, None), case.expected[None, None], kwargs)
    return [Region(r.mask, _of_image(r.sentence), r.about) for r in border_regions(lifted)]


def _corr_impulse(lab: Lab, index: int) -> Finding | None:
    """:func:`impulse` for one channel: where each kernel value lands for an image that is 0
    but for a single 1 (padding 1)."""
    case = lab.runs[index].case
    image, kernel, _ = case.args
    if lab.notes.get(("found", index)):
        return None  # a last resort: only when nothing else found anything
    k_h, k_w = kernel.shape
    h, w, r, s = 2 * k_h, 2 * k_w + 1, k_h - 1, k_w - 1
    probe_image = torch.zeros(h, w, dtype=image.dtype, device=image.device)
    probe_image[r, s] = 1
    expected = F.conv2d(probe_image[None, None], kernel[None, None], padding=1)[0, 0]
    trial = lab.trial(("impulse", index), case, (probe_image, kernel, 1), {}, expected)
    if trial is None or not trial.answered or trial.right:
        return None
    got = trial.value
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
        return None
    found = _landing(got[None], kernel[None], kernel[None, None], r + 1, s + 1)
    if found is None:
        return None
    return Finding(found, about="kernel", detail=f"Image 0 but image[{r}, {s}] = 1, padding=1.")


CORR_EXPERIMENTS = [
    ex.reshaped,
    ex.scaled(_corr_factors),
    ex.running_total,
    ex.shifted(SHIFT_ADVICE.replace("row i·S_h, column j·S_w", "row i, column j")),
    ex.regions(_corr_border),
    _corr_impulse,
    ex.ingredients(CORR_INGREDIENTS),
]


def check_corr2d_padded(corr2d_padded: Callable, seed: int | None = None) -> Score:
    """Check ``corr2d_padded(image, kernel, padding)``: the image ``(H, W)`` padded with zeros
    (``padding`` an int or a ``(P_h, P_w)`` pair, per side), cross-correlated with ``kernel``
    ``(K_h, K_w)`` -> ``(H + 2P_h − K_h + 1, W + 2P_w − K_w + 1)``, the image's dtype and device.
    2 points in six parts; every case has padding on some axis."""
    device = get_device()
    g = generator(None, 19)
    specs = list(CORR_VISIBLE) + ([] if seed is None else _random_corr(seed))
    hidden_g = generator(seed, 19) if seed is not None else g
    cases = [_corr_case(spec, hidden_g if spec[0] == HIDDEN else g, device) for spec in specs]
    return report(
        "corr2d_padded",
        run_parts(
            "corr2d_padded",
            corr2d_padded,
            cases,
            parts=CORR_PARTS,
            names=("image", "kernel", "padding"),
            forbid="convolution",
            experiments=CORR_EXPERIMENTS,
        ),
    )


# ---------------------------------------------------------------------------------------------
# The Conv2d module.

PARAMETERS = "parameters: shapes, nn.Parameter, a random start"
FORWARD = "forward pass"
GRADIENTS = "gradients of x, weight and bias"
MODULE_PARTS = [
    Part(PARAMETERS, 0.5),
    Part(FORWARD, 1),
    Part(GRADIENTS, 1),
    Part(HIDDEN, 0.5, hidden=True),
]


MODULE_ROLES = (
    "channels",
    "stride",
    "padding",
    "wide pairs",
    "tall pairs",
)  # the module's visible ingredients


def _module_settings(seed: int | None) -> list[tuple[str, tuple]]:
    """``(part, (in_channels, out_channels, kernel_size, stride, padding, bias))`` per case."""
    visible = [(3, 4, 3, 1, 0, True), (2, 5, (3, 2), 2, 1, False), (1, 2, 5, (1, 2), (2, 1), True)]
    found = [("", s) for s in visible]
    if seed is not None:
        found += [
            (HIDDEN, (s.c_in, s.c_out, s.kernel, s.stride, s.padding, s.bias))
            for s in random_settings(seed, roles=MODULE_ROLES)
        ]
    return found


def _forward_output(value, case: Case):
    """The forward output from what :func:`probe_forward_backward` returned."""
    return value["output"] if isinstance(value, dict) else Verdict("the layer returned nothing.")


def _module_variants(weights: tuple, x: torch.Tensor, grad_out, expected) -> list[Variant]:
    nhwc = x.permute(0, 2, 3, 1).contiguous()
    return [
        Variant("batch axis", (*weights, x[0], grad_out[0]), {}, expected[0], "one image"),
        Variant("channels first", (*weights, nhwc, grad_out), {}, expected, "x as (N, H, W, C_in)"),
    ]


# the functions' experiments but those that call the student's function with a weight or a
# bias of their own (a module holds its own)
MODULE_EXPERIMENTS = [
    e for e in CONV_EXPERIMENTS if e not in (bias_as_bool, contributions, impulse)
]


@dataclass
class _ModuleCase:
    """One case of the module check: its layer, and what each part found (None: right)."""

    number: int
    part: str
    where: str
    ran: Ran
    layer: object = None
    geometry: tuple = (1, 0)  # the layer's stride and padding
    parameters: str | None = None
    gradients: str | None = None
    problem: str | None = None


def check_conv2d_module(Conv2d: type, seed: int | None = None) -> Score:  # noqa: N803 (the class)
    """Check the ``Conv2d`` module against ``nn.Conv2d``: parameter shapes, a random
    initialisation, the forward pass with the same weights, and the gradients of the input,
    weight and bias. ``x: (N, C_in, H, W)`` -> ``(N, C_out, H_out, W_out)``. 3 points in four
    parts (:data:`MODULE_PARTS`)."""
    name = "Conv2d"
    with quiet(Conv2d):
        judged = _module_judged(name, Conv2d, seed)
    return report(name, judged)


def _module_judged(name: str, Conv2d, seed) -> Judged:  # noqa: N803
    device = get_device()
    g = generator(seed, 23)
    settings = _module_settings(seed)
    cases: list[_ModuleCase] = []
    for number, (part, (c_in, c_out, kernel, stride, padding, bias)) in enumerate(settings, 1):
        signature = (
            f"Conv2d({c_in}, {c_out}, {kernel}, stride={stride}, padding={padding}, bias={bias})"
        )
        options = {"stride": stride, "padding": padding, "bias": bias}
        reference = nn.Conv2d(c_in, c_out, kernel, **options).to(device)
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
            features=frozenset({"always", "batch axis", "channels first"}),
            part=part,
            base=None if r_bias is None else r_bias.view(1, -1, 1, 1),
            variants=lambda a=weights, x=x, go=grad_out, e=expected: _module_variants(
                a, x.detach(), go, e.detach()
            ),
        )
        inputs = [x, reference.weight] + ([reference.bias] if bias else [])
        expected_grads = torch.autograd.grad(expected, inputs, grad_out)
        where = f"{signature}, input x of shape {tuple(x.shape)}"
        item = _ModuleCase(number, part, where, Ran(case), geometry=(stride, padding))
        cases.append(item)
        built = attempt(Conv2d, (c_in, c_out, kernel), options)
        if built.problem is not None:
            return _module_problem(name, built.problem, where, settings)
        if built.raised is not None:
            item.ran = Ran(case, raised=built.raised)
            item.parameters = (
                f"building the layer raised {built.raised.type_name}: "
                + (built.raised.message.strip().splitlines() or [""])[0]
            )
            continue
        layer = item.layer = built.value
        facts = attempt(layer, (), {}, probe=probe_parameters)
        if facts.problem is not None:
            return _module_problem(name, facts.problem, where, settings)
        if facts.raised is None:
            item.parameters = _parameters_message(facts.value, reference)
        called = attempt(layer, case.args, {}, forbid="convolution", probe=probe_forward_backward)
        if called.problem is not None:
            return _module_problem(name, called.problem, where, settings)
        item.ran = Ran(case, raised=called.raised)
        if called.raised is None:
            found = called.value
            item.ran.value = _forward_output(found, case)
            if isinstance(item.ran.value, Verdict):
                item.ran.verdict, item.ran.value = item.ran.value, None
            else:
                item.ran.verdict = judge_tensor(item.ran.value, case.expected, case.what)
            if item.ran.verdict is None:
                item.gradients = _gradients_message(found, expected_grads, case, item.geometry)
            else:
                item.gradients = "the forward pass is wrong (see above), so are the gradients."
    return _module_result(name, cases)


def _module_problem(name: str, problem: str, where: str, settings) -> Judged:
    parts = [
        PartResult(
            p.name, p.points, False if (not p.hidden or len(settings) > 3) else None, problem
        )
        for p in MODULE_PARTS
    ]
    return Judged(parts, f"{name}: {problem}\n  {where}", problem=True, cases=len(settings))


GRADIENTS_NEED_FORWARD = "the gradients are judged once the forward pass is right."


def _module_result(name: str, cases: list[_ModuleCase]) -> Judged:
    """Each part's verdict from the cases' findings; a wrong forward pass explained like a
    convolution's (replays, then experiments on that case's layer)."""
    runs = [c.ran for c in cases]

    def forward(index: int) -> tuple[str, list[str], bool]:
        """The forward pass's explanation for ``cases[index]``, its detail lines, and whether
        it names a cause."""
        lab = Lab(
            cases[index].layer,
            runs,
            options={"forbid": "convolution", "probe": probe_forward_backward, "inference": False},
            judge=lambda value, case: judge_tensor(value, case.expected, case.what),
            normalize=_forward_output,
            budget=6,
        )
        found = explain_case(lab, index, MODULE_EXPERIMENTS)
        if found is not None:
            return found.summary, found.details, True
        found = generic(name, runs, index, ())
        if runs[index].raised is not None:
            found.summary = found.summary.replace(" on case", " in forward on case")
        return found.summary, [d for d in found.details if d], False

    verdicts: dict[str, list[tuple[int, str, list[str], bool]]] = {p.name: [] for p in MODULE_PARTS}
    for index, item in enumerate(cases):

        def put(part: str, *entry, hidden=bool(item.part), index=index) -> None:
            verdicts[HIDDEN if hidden else part].append((index, *entry))

        if item.parameters:
            put(PARAMETERS, item.parameters, [], True)
        if item.layer is None:
            put(FORWARD, item.parameters, [], True)
            put(GRADIENTS, item.parameters, [], True)
        elif item.ran.wrong:
            put(FORWARD, *forward(index))
            put(GRADIENTS, GRADIENTS_NEED_FORWARD, [], False)
        elif item.gradients:
            put(GRADIENTS, item.gradients, [], True)
    results = []
    lines: list[str] = []
    for part in MODULE_PARTS:
        ran = any(bool(c.part) == part.hidden for c in cases)
        failing = verdicts[part.name]
        if not ran:
            results.append(PartResult(part.name, part.points, None))
            continue
        if not failing:
            results.append(PartResult(part.name, part.points, True))
            continue
        chosen = next((f for f in failing if f[3]), failing[0])
        index, summary, details, _ = chosen
        results.append(PartResult(part.name, part.points, False, summary))
        if not lines:
            lines = [
                f"{name}: {summary}",
                f"  Failed on case {index + 1} of {len(cases)}: {cases[index].where}",
            ]
            lines += ["  " + d for d in details if d]
            if chosen is not failing[0]:
                first = failing[0]
                lines.append(f"  (Case {first[0] + 1} went wrong first: {first[1]})")
        elif summary not in "\n".join(lines) and chosen[3]:
            lines.append(f"  Also, on case {index + 1}: {summary}")
    return Judged(results, "\n".join(lines), cases=len(cases))


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


def _parameters_message(facts: dict, reference: nn.Conv2d) -> str | None:
    """What is wrong with a layer's parameters, or None."""
    if not isinstance(facts, dict):
        return "the layer's parameters could not be read."
    if not facts.get("is_module"):
        return "Conv2d should subclass nn.Module (class Conv2d(nn.Module): ...)."
    for attribute, expected in [("weight", reference.weight), ("bias", reference.bias)]:
        got = facts[attribute]
        if expected is None:
            if not got["is_none"]:
                return "with bias=False, self.bias should be None."
            continue
        if not got["is_parameter"]:
            return (
                f"self.{attribute} should be an nn.Parameter, so the optimiser sees it "
                f"(self.{attribute} = nn.Parameter(torch.empty(...)))."
            )
        shape = tuple(expected.shape)
        if got["shape"] != shape:
            shapes = f"self.{attribute} has shape {got['shape']}; nn.Conv2d's has {shape}"
            if (
                attribute == "weight"
                and shape[2] != shape[3]
                and got["shape"] == (*shape[:2], shape[3], shape[2])
            ):
                return f"{KERNEL_SIZES_SWAPPED} ({shapes}.)"
            if (
                attribute == "weight"
                and shape[0] != shape[1]
                and got["shape"] == (shape[1], shape[0], *shape[2:])
            ):
                return f"{WEIGHT_AXES_SWAPPED} ({shapes}.)"
            return f"{shapes} (weight: (C_out, C_in, K_h, K_w), bias: (C_out,))."
    if facts["uniform"]:
        return (
            "every weight starts with the same value, so all filters would learn the same thing. "
            "Initialise them randomly, e.g. uniform in ±1/√(C_in·K_h·K_w) as nn.Conv2d does."
        )
    return None


def _gradients_message(found: dict, expected_grads, case: Case, geometry: tuple) -> str | None:
    """What is wrong with the gradients of a layer whose forward pass is right, or None."""
    if not found.get("requires_grad"):
        return (
            "the output is cut off from autograd, so the layer cannot learn. Build it from x and "
            "self.weight with tensor operations (no torch.tensor(...), .item(), .data or .detach())."
        )
    grads = found.get("grads") or [None, None, None]
    names = ["x", "weight", "bias"]
    wrong = []
    for what, got, expected in zip(names, grads, expected_grads, strict=False):
        if got is None:
            source = "x itself (not x.detach() or x.data)" if what == "x" else f"self.{what} itself"
            return f"{what} gets no gradient: forward must compute with {source}."
        verdict = judge_tensor(got, expected, f"the gradient of {what}")
        if verdict is not None:
            wrong.append((what, verdict))
    if not wrong:
        return None
    which = [w for w, _ in wrong]
    factors = {
        what: _grad_factor(got, expected)
        for (what, got, expected) in zip(names, grads, expected_grads, strict=False)
        if what in which
    }
    said = "; ".join(
        f"dL/d{what} is {factors[what]:.4g} times the right one"
        if factors[what] is not None
        else f"dL/d{what} is wrong"
        for what in which
    )
    if which == ["x"]:
        weight, _, x, grad_out = case.args
        stride, padding = geometry
        unrotated = _grad_x(grad_out, weight.flip(-2, -1), x.shape, stride, padding)
        got = grads[0]
        if unrotated is not None and isinstance(got, torch.Tensor) and close(got, unrotated):
            return GRAD_X_UNROTATED
        return GRAD_X_ONLY + (f" ({said}.)" if factors["x"] is not None else "")
    if which == ["weight"]:
        return GRAD_W_ONLY + (f" ({said}.)" if factors["weight"] is not None else "")
    if which == ["bias"]:
        return GRAD_B_ONLY + (f" ({said}.)" if factors["bias"] is not None else "")
    return GRADS_WRONG.format(which=" and ".join(which), said=said)


def _grad_factor(got, expected) -> float | None:
    """The one factor between a wrong gradient and the right one, if there is one."""
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
        return None
    e = expected.double().flatten()
    if e.numel() < 2 or float(e.abs().max()) == 0:
        return None
    a = float((got.double().flatten() @ e) / (e @ e))
    return a if close((a * expected).to(got.dtype), got.to(expected.dtype)) else None


def _grad_x(grad_out, weight, shape, stride, padding) -> torch.Tensor | None:
    """dL/dx of a convolution with ``weight`` (what autograd gives), or None."""
    try:
        return torch.nn.grad.conv2d_input(shape, weight, grad_out, pair(stride), pair(padding))
    except RuntimeError:
        return None
