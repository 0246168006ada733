"""`autograder similarity`: a planted copy (the reference solution with every name changed,
laid out anew and its methods reordered) is ranked first and flagged; students who each
wrote the textbook algorithms independently (im2col with unfold, the usual loops) stay under
the threshold; the report opens in a browser with no console error."""

import csv
import random
import re
from pathlib import Path

import pytest
from grading import as_bytes, grade, write_batch
from notebooks import SOURCES, reference_code, submission

from autograder.cli import main
from autograder.grading.similarity import THRESHOLD, compare, starter_code

pytestmark = pytest.mark.slow

ASSIGNMENT = "conv-layers"

# Two students' own solutions, written independently the way the textbook teaches: conv2d_fast
# is im2col with `unfold` and one matrix product in both, the loops are the usual loops.
ALICE = {
    "param_constants": """FC_NEURON_PARAMS = (3 * 32 * 32, 1)
CONV_FILTER_PARAMS = (3 * 5 * 5, 1)
""",
    "conv_output_shape": '''def conv_output_shape(x_shape, weight_shape, stride=1, padding=0):
    """The shape of a convolutional layer's output, from the shapes of its input and weights.

    x_shape: (N, C_in, H, W), weight_shape: (C_out, C_in, K_h, K_w),
    stride, padding: int or (h, w) pair.
    Returns (N, C_out, H_out, W_out), a tuple of four ints. Raises ValueError when the layer
    cannot be applied to such an input.
    """
    N, C, H, W = x_shape
    F_, C_w, KH, KW = weight_shape
    if C != C_w:
        raise ValueError("x has %d channels but the filters have %d" % (C, C_w))
    sizes = []
    for size, k, s, p in zip((H, W), (KH, KW), pair(stride), pair(padding)):
        if s <= 0 or p < 0:
            raise ValueError("stride must be positive and padding non-negative")
        if k > size + 2 * p:
            raise ValueError("the kernel does not fit in the padded input")
        sizes.append((size + 2 * p - k) // s + 1)
    return int(N), int(F_), int(sizes[0]), int(sizes[1])
''',
    "conv_layer_cost": '''def conv_layer_cost(x_shape, weight_shape, stride=1, padding=0, bias=True):
    """What a convolutional layer costs on an input of shape x_shape.

    x_shape: (N, C_in, H, W), weight_shape: (C_out, C_in, K_h, K_w),
    stride, padding: int or (h, w) pair, bias: whether the layer has biases.
    Returns (params, mult_adds): the layer's learnable parameters and the multiply-adds of
    one forward pass over the batch, two ints.
    """
    N = x_shape[0]
    F_, C, KH, KW = weight_shape
    _, _, Ho, Wo = conv_output_shape(x_shape, weight_shape, stride, padding)
    weights = F_ * C * KH * KW
    params = weights + F_ if bias else weights
    # every output pixel of every image uses each weight of its filter once
    macs = N * Ho * Wo * weights
    return int(params), int(macs)
''',
    "same_padding": '''def same_padding(kernel_size):
    """The padding per side that keeps the output as large as the input at stride 1.

    kernel_size: an int. Returns an int; raises ValueError when kernel_size is even.
    """
    if kernel_size % 2 == 0:
        raise ValueError("an even kernel cannot keep the size")
    return kernel_size // 2
''',
    "corr2d_padded": '''def corr2d_padded(image, kernel, padding):
    """2-D cross-correlation of one channel, after padding the image with zeros.

    image: (H, W), kernel: (K_h, K_w), padding: int or (P_h, P_w) pair, zeros per side.
    Returns (H + 2*P_h - K_h + 1, W + 2*P_w - K_w + 1), the image's dtype and device.
    """
    ph, pw = pair(padding)
    xp = torch.nn.functional.pad(image, (pw, pw, ph, ph))
    kh, kw = kernel.shape
    Hp, Wp = xp.shape
    result = torch.empty(Hp - kh + 1, Wp - kw + 1, dtype=image.dtype, device=image.device)
    for r in range(result.shape[0]):
        for c in range(result.shape[1]):
            result[r, c] = torch.sum(xp[r:r + kh, c:c + kw] * kernel)
    return result
''',
    "conv2d_naive": '''def conv2d_naive(x, weight, bias=None, stride=1, padding=0):
    """Convolutional layer (cross-correlation) with explicit loops.

    x: (N, C_in, H, W), weight: (C_out, C_in, K_h, K_w), bias: (C_out,) or None,
    stride, padding: int or (h, w) pair. Returns (N, C_out, H_out, W_out).
    """
    sh, sw = pair(stride)
    ph, pw = pair(padding)
    N, C, H, W = x.shape
    F_, _, KH, KW = weight.shape
    xp = torch.nn.functional.pad(x, (pw, pw, ph, ph))
    Ho = (H + 2 * ph - KH) // sh + 1
    Wo = (W + 2 * pw - KW) // sw + 1
    y = x.new_zeros((N, F_, Ho, Wo))
    flat = weight.reshape(F_, -1)
    for i in range(Ho):
        for j in range(Wo):
            patch = xp[:, :, i * sh:i * sh + KH, j * sw:j * sw + KW]  # (N, C, KH, KW)
            y[:, :, i, j] = patch.reshape(N, -1) @ flat.T
    if bias is not None:
        y += bias[None, :, None, None]
    return y
''',
    "conv2d_fast": '''def conv2d_fast(x, weight, bias=None, stride=1, padding=0):
    """Convolutional layer (cross-correlation) as im2col and one matrix product.

    x: (N, C_in, H, W), weight: (C_out, C_in, K_h, K_w), bias: (C_out,) or None,
    stride, padding: int or (h, w) pair. Returns (N, C_out, H_out, W_out).
    """
    sh, sw = pair(stride)
    ph, pw = pair(padding)
    N, C, H, W = x.shape
    F_, _, KH, KW = weight.shape
    Ho = (H + 2 * ph - KH) // sh + 1
    Wo = (W + 2 * pw - KW) // sw + 1
    cols = torch.nn.functional.unfold(x, (KH, KW), padding=(ph, pw), stride=(sh, sw))
    y = weight.reshape(F_, -1) @ cols  # (N, F, L)
    if bias is not None:
        y = y + bias.reshape(1, -1, 1)
    return y.reshape(N, F_, Ho, Wo)
''',
    "Conv2d": '''class Conv2d(nn.Module):
    """A 2-D convolutional layer. forward: (N, C_in, H, W) -> (N, C_out, H_out, W_out)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True):
        super().__init__()
        kh, kw = pair(kernel_size)
        self.stride = stride
        self.padding = padding
        scale = (in_channels * kh * kw) ** -0.5
        self.weight = nn.Parameter(scale * (2 * torch.rand(out_channels, in_channels, kh, kw) - 1))
        if bias:
            self.bias = nn.Parameter(scale * (2 * torch.rand(out_channels) - 1))
        else:
            self.bias = None

    def forward(self, x):
        return conv2d_fast(x, self.weight, self.bias, stride=self.stride, padding=self.padding)
''',
}

BOB = {
    "param_constants": """FC_NEURON_PARAMS = (3072, 1)  # 32x32 RGB image
CONV_FILTER_PARAMS = (75, 1)  # a 5x5x3 filter
""",
    "conv_output_shape": '''def conv_output_shape(x_shape, weight_shape, stride=1, padding=0):
    """The shape of a convolutional layer's output, from the shapes of its input and weights.

    x_shape: (N, C_in, H, W), weight_shape: (C_out, C_in, K_h, K_w),
    stride, padding: int or (h, w) pair.
    Returns (N, C_out, H_out, W_out), a tuple of four ints. Raises ValueError when the layer
    cannot be applied to such an input.
    """
    batch, channels, height, width = x_shape
    filters, weight_channels, kernel_h, kernel_w = weight_shape
    if weight_channels != channels:
        raise ValueError(f"x has {channels} channels, the weights want {weight_channels}")
    stride_h, stride_w = pair(stride)
    pad_h, pad_w = pair(padding)
    if not (stride_h >= 1 and stride_w >= 1):
        raise ValueError(f"bad stride {stride}")
    if pad_h < 0 or pad_w < 0:
        raise ValueError(f"bad padding {padding}")
    span_h = height + pad_h * 2 - kernel_h
    span_w = width + pad_w * 2 - kernel_w
    if span_h < 0 or span_w < 0:
        raise ValueError("the kernel is bigger than the padded input")
    out_h = math.floor(span_h / stride_h) + 1
    out_w = math.floor(span_w / stride_w) + 1
    return (batch, filters, out_h, out_w)
''',
    "conv_layer_cost": '''def conv_layer_cost(x_shape, weight_shape, stride=1, padding=0, bias=True):
    """What a convolutional layer costs on an input of shape x_shape.

    x_shape: (N, C_in, H, W), weight_shape: (C_out, C_in, K_h, K_w),
    stride, padding: int or (h, w) pair, bias: whether the layer has biases.
    Returns (params, mult_adds): the layer's learnable parameters and the multiply-adds of
    one forward pass over the batch, two ints.
    """
    filters, in_ch, kernel_h, kernel_w = weight_shape
    weights_per_filter = in_ch * kernel_h * kernel_w
    params = filters * weights_per_filter
    if bias:
        params += filters
    # one weighted sum (weights_per_filter products) for each value of the output
    outputs = 1
    for dim in conv_output_shape(x_shape, weight_shape, stride, padding):
        outputs *= dim
    return params, outputs * weights_per_filter
''',
    "same_padding": '''def same_padding(kernel_size):
    """The padding per side that keeps the output as large as the input at stride 1.

    kernel_size: an int. Returns an int; raises ValueError when kernel_size is even.
    """
    if kernel_size % 2 != 1:
        raise ValueError(f"kernel {kernel_size} is even")
    return (kernel_size - 1) // 2
''',
    "corr2d_padded": '''def corr2d_padded(image, kernel, padding):
    """2-D cross-correlation of one channel, after padding the image with zeros.

    image: (H, W), kernel: (K_h, K_w), padding: int or (P_h, P_w) pair, zeros per side.
    Returns (H + 2*P_h - K_h + 1, W + 2*P_w - K_w + 1), the image's dtype and device.
    """
    pad_h, pad_w = pair(padding)
    height, width = image.shape
    kernel_h, kernel_w = kernel.shape
    big = image.new_zeros((height + 2 * pad_h, width + 2 * pad_w))
    big[pad_h:pad_h + height, pad_w:pad_w + width] = image
    out_h = big.shape[0] - kernel_h + 1
    out_w = big.shape[1] - kernel_w + 1
    out = image.new_zeros((out_h, out_w))
    # add up one shifted copy of the padded image per kernel weight
    for u in range(kernel_h):
        for v in range(kernel_w):
            out += kernel[u, v] * big[u:u + out_h, v:v + out_w]
    return out
''',
    "conv2d_naive": '''def output_length(size, kernel, step, pad):
    """How many places the kernel can sit along one axis of an input with pad zeros on each
    side, moving step pixels at a time."""
    span = size + pad * 2 - kernel
    return math.floor(span / step) + 1


def conv2d_naive(x, weight, bias=None, stride=1, padding=0):
    """Convolutional layer (cross-correlation) with explicit loops.

    x: (N, C_in, H, W), weight: (C_out, C_in, K_h, K_w), bias: (C_out,) or None,
    stride, padding: int or (h, w) pair. Returns (N, C_out, H_out, W_out).
    """
    stride_h, stride_w = pair(stride)
    pad_h, pad_w = pair(padding)
    batch, _, height, width = x.shape
    filters, _, kh, kw = weight.shape
    out_h = output_length(height, kh, stride_h, pad_h)
    out_w = output_length(width, kw, stride_w, pad_w)
    padded = torch.nn.functional.pad(x, [pad_w, pad_w, pad_h, pad_h])
    result = torch.zeros(batch, filters, out_h, out_w, dtype=x.dtype, device=x.device)
    for row in range(out_h):
        top = row * stride_h
        for col in range(out_w):
            left = col * stride_w
            window = padded[:, None, :, top:top + kh, left:left + kw]
            result[:, :, row, col] = (window * weight[None]).sum(dim=(2, 3, 4))
    if bias is not None:
        result = result + bias.reshape(1, filters, 1, 1)
    return result
''',
    "conv2d_fast": '''def conv2d_fast(x, weight, bias=None, stride=1, padding=0):
    """Convolutional layer (cross-correlation) as im2col and one matrix product.

    x: (N, C_in, H, W), weight: (C_out, C_in, K_h, K_w), bias: (C_out,) or None,
    stride, padding: int or (h, w) pair. Returns (N, C_out, H_out, W_out).
    """
    stride_h, stride_w = pair(stride)
    pad_h, pad_w = pair(padding)
    batch, _, height, width = x.shape
    filters, _, kh, kw = weight.shape
    out_h = output_length(height, kh, stride_h, pad_h)
    out_w = output_length(width, kw, stride_w, pad_w)
    columns = torch.nn.functional.unfold(
        x, kernel_size=(kh, kw), padding=(pad_h, pad_w), stride=(stride_h, stride_w)
    )
    rows = weight.view(filters, -1)
    result = rows @ columns
    if bias is not None:
        result += bias.view(1, filters, 1)
    return result.view(batch, filters, out_h, out_w)
''',
    "Conv2d": '''class Conv2d(nn.Module):
    """A 2-D convolutional layer. forward: (N, C_in, H, W) -> (N, C_out, H_out, W_out)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True):
        super().__init__()
        kh, kw = pair(kernel_size)
        fan_in = in_channels * kh * kw
        limit = 1.0 / math.sqrt(fan_in)
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kh, kw))
        nn.init.uniform_(self.weight, -limit, limit)
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        if self.bias is not None:
            nn.init.uniform_(self.bias, -limit, limit)
        self.stride, self.padding = stride, padding

    def forward(self, x):
        out = conv2d_fast(x, self.weight, self.bias, self.stride, self.padding)
        return out
''',
}

# The reference, copied: every name changed, the code laid out anew (other line breaks,
# spacing, brackets and comments), the methods of Conv2d swapped.
COPY = {
    "param_constants": """CONV_FILTER_PARAMS = (5*5*3, 1)   # filter
FC_NEURON_PARAMS = (32*32*3, 1)   # neuron
""",
    "conv_output_shape": '''def conv_output_shape(x_shape, weight_shape, stride=1, padding=0):
    """The shape of a convolutional layer's output, from the shapes of its input and weights.

    x_shape: (N, C_in, H, W), weight_shape: (C_out, C_in, K_h, K_w),
    stride, padding: int or (h, w) pair.
    Returns (N, C_out, H_out, W_out), a tuple of four ints. Raises ValueError when the layer
    cannot be applied to such an input.
    """
    batch, chans, rows, cols = (int(v) for v in x_shape)
    nfilt, wchans, kr, kc = (int(v) for v in weight_shape)
    (st_r, st_c), (pd_r, pd_c) = pair(stride), pair(padding)
    if wchans != chans: raise ValueError(f"weights made for {wchans} channels, x has {chans}")
    if min(st_r, st_c) < 1: raise ValueError(f"stride below 1: {stride}")
    if min(pd_r, pd_c) < 0: raise ValueError(f"negative padding: {padding}")
    if kr > rows + 2*pd_r or kc > cols + 2*pd_c:
        raise ValueError(f"{kr}x{kc} kernel too large for the "
                         f"{rows + 2*pd_r}x{cols + 2*pd_c} padded input")
    return (batch, nfilt,
            (rows + 2*pd_r - kr)//st_r + 1, (cols + 2*pd_c - kc)//st_c + 1)
''',
    "conv_layer_cost": '''def conv_layer_cost(x_shape, weight_shape, stride=1, padding=0, bias=True):
    """What a convolutional layer costs on an input of shape x_shape.

    x_shape: (N, C_in, H, W), weight_shape: (C_out, C_in, K_h, K_w),
    stride, padding: int or (h, w) pair, bias: whether the layer has biases.
    Returns (params, mult_adds): the layer's learnable parameters and the multiply-adds of
    one forward pass over the batch, two ints.
    """
    batch, _, rows, cols = (int(v) for v in x_shape)
    nfilt, chans, kr, kc = (int(v) for v in weight_shape)
    (st_r, st_c), (pd_r, pd_c) = pair(stride), pair(padding)
    rows_out, cols_out = (rows + 2*pd_r - kr)//st_r + 1, (cols + 2*pd_c - kc)//st_c + 1
    per_value = chans*kr*kc   # products in one output value
    count = nfilt*per_value + (nfilt if bias else 0)
    return count, batch*nfilt*rows_out*cols_out*per_value
''',
    "same_padding": '''def same_padding(kernel_size):
    """The padding per side that keeps the output as large as the input at stride 1.

    kernel_size: an int. Returns an int; raises ValueError when kernel_size is even.
    """
    if kernel_size % 2 == 0: raise ValueError(f"even kernel {kernel_size}")
    return (kernel_size - 1)//2
''',
    "corr2d_padded": '''def corr2d_padded(image, kernel, padding):
    """2-D cross-correlation of one channel, after padding the image with zeros.

    image: (H, W), kernel: (K_h, K_w), padding: int or (P_h, P_w) pair, zeros per side.
    Returns (H + 2*P_h - K_h + 1, W + 2*P_w - K_w + 1), the image's dtype and device.
    """
    (pd_r, pd_c), (rows, cols), (kr, kc) = pair(padding), image.shape, kernel.shape
    xpad = torch.zeros(rows + 2*pd_r, cols + 2*pd_c, dtype = image.dtype, device = image.device)
    xpad[pd_r:pd_r + rows, pd_c:pd_c + cols] = image
    rows_out, cols_out = rows + 2*pd_r - kr + 1, cols + 2*pd_c - kc + 1
    res = torch.zeros(rows_out, cols_out, dtype = image.dtype, device = image.device)
    for a in range(rows_out):
        for b in range(cols_out):
            res[a, b] = (xpad[a:a+kr, b:b+kc]*kernel).sum()  # one window
    return res
''',
    "conv2d_naive": '''def conv2d_naive(x, weight, bias=None, stride=1, padding=0):
    """Convolutional layer (cross-correlation) with explicit loops.

    x: (N, C_in, H, W), weight: (C_out, C_in, K_h, K_w), bias: (C_out,) or None,
    stride, padding: int or (h, w) pair. Returns (N, C_out, H_out, W_out).
    """
    (st_r, st_c), (pd_r, pd_c) = pair(stride), pair(padding)
    batch, chans, rows, cols = x.shape
    nfilt, _, kr, kc = weight.shape
    rows_out, cols_out = (rows + 2*pd_r - kr)//st_r + 1, (cols + 2*pd_c - kc)//st_c + 1
    xpad = torch.zeros(batch, chans, rows + 2*pd_r, cols + 2*pd_c, dtype=x.dtype, device=x.device)
    xpad[:, :, pd_r:pd_r + rows, pd_c:pd_c + cols] = x
    res = torch.zeros(batch, nfilt, rows_out, cols_out, dtype=x.dtype, device=x.device)
    for a in range(rows_out):
        for b in range(cols_out):
            win = xpad[:, :, a*st_r:a*st_r + kr, b*st_c:b*st_c + kc]
            res[:, :, a, b] = (win[:, None]*weight[None]).sum(dim=(2, 3, 4))
    if bias is not None: res = res + bias.view(1, -1, 1, 1)
    return res
''',
    "conv2d_fast": '''def conv2d_fast(x, weight, bias=None, stride=1, padding=0):
    """Convolutional layer (cross-correlation) as im2col and one matrix product.

    x: (N, C_in, H, W), weight: (C_out, C_in, K_h, K_w), bias: (C_out,) or None,
    stride, padding: int or (h, w) pair. Returns (N, C_out, H_out, W_out).
    """
    (st_r, st_c), (pd_r, pd_c) = pair(stride), pair(padding)
    batch, chans, rows, cols = x.shape
    nfilt, _, kr, kc = weight.shape
    rows_out, cols_out = (rows + 2*pd_r - kr)//st_r + 1, (cols + 2*pd_c - kc)//st_c + 1
    xpad = torch.nn.functional.pad(x, (pd_c, pd_c, pd_r, pd_r)).contiguous(memory_format=torch.channels_last)
    sn, sc, sr, scol = xpad.stride()
    wins = xpad.as_strided((batch, rows_out, cols_out, kr, kc, chans),
                           (sn, sr*st_r, scol*st_c, sr, scol, sc))
    mat = wins.reshape(batch*rows_out*cols_out, kr*kc*chans)
    flt = weight.permute(0, 2, 3, 1).reshape(nfilt, -1)
    res = mat @ flt.T
    if bias is not None: res = res + bias
    return res.reshape(batch, rows_out, cols_out, nfilt).permute(0, 3, 1, 2)
''',
    "Conv2d": '''class Conv2d(nn.Module):
    """A 2-D convolutional layer. forward: (N, C_in, H, W) -> (N, C_out, H_out, W_out)."""

    def forward(self, x):
        return conv2d_fast(x, self.weight, self.bias,
                           self.stride, self.padding)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True):
        super().__init__()
        kr, kc = pair(kernel_size)
        self.stride,self.padding = stride,padding
        lim = 1/math.sqrt(in_channels*kr*kc)
        w = torch.empty(out_channels, in_channels, kr, kc).uniform_(-lim, lim)
        self.weight = nn.Parameter(w)
        self.bias = (nn.Parameter(torch.empty(out_channels).uniform_(-lim, lim))
                     if bias else None)
''',
}


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """A graded class: the reference, its disguised copy, two independent solutions, a stub."""
    root = tmp_path_factory.mktemp("similarity")
    students = {
        "ref": submission(ASSIGNMENT),
        "copier": submission(ASSIGNMENT, COPY),
        "alice": submission(ASSIGNMENT, ALICE),
        "bob": submission(ASSIGNMENT, BOB),
        "stub": submission(ASSIGNMENT, fill=False),
    }
    write_batch(root / "submitted", ASSIGNMENT, {s: as_bytes(n) for s, n in students.items()})
    summary, graded = grade(root / "course", ASSIGNMENT, root / "submitted")
    assert summary.graded == len(students), summary.problems
    for student in ("ref", "copier", "alice", "bob"):  # every one of them is correct
        assert all(c.status == "passed" for c in graded[student].values()), graded[student]
    return root / "course"


@pytest.fixture(scope="module")
def reported(course) -> tuple[Path, list[dict[str, str]], str]:
    args = ["similarity", ASSIGNMENT, "--course", course, "--source", SOURCES.source_dir]
    assert main([str(a) for a in args]) == 0
    with (course / "similarity.csv").open(newline="") as file:
        rows = list(csv.DictReader(file))
    return course, rows, (course / "similarity.html").read_text()


def test_the_planted_copy_is_disguised():
    reference = reference_code(ASSIGNMENT)
    released = submission(ASSIGNMENT, fill=False)
    given = {line.strip() for c in released.cells for line in c.source.splitlines()}
    for grade_id, code in COPY.items():
        own = {line.strip() for line in code.splitlines()}
        lines = [line.strip() for line in reference[grade_id].splitlines()]
        body = [line for line in lines if line and line not in given and line[0] != "#"]
        same = [line for line in body if line in own]
        assert len(same) <= len(body) // 3, (grade_id, same)  # renamed and laid out anew
    methods = re.findall(r"def (\w+)", COPY["Conv2d"])
    assert methods == ["forward", "__init__"]  # reordered


def test_the_copy_is_ranked_first_and_independent_solutions_stay_under(reported):
    _, rows, _ = reported
    assert list(rows[0]) == ["student_a", "student_b", "score", "flagged"]
    scores = [float(r["score"]) for r in rows]
    assert scores == sorted(scores, reverse=True) and len(rows) == 10  # every pair of 5
    first = rows[0]
    assert {first["student_a"], first["student_b"]} == {"copier", "ref"}
    assert float(first["score"]) >= 0.8 and first["flagged"] == "true"
    for row in rows[1:]:
        assert row["flagged"] == "false" and float(row["score"]) < THRESHOLD - 0.15, row
        if "stub" in (row["student_a"], row["student_b"]):
            assert float(row["score"]) == 0  # starter code is boilerplate


def test_the_report_shows_the_pair_side_by_side_and_explains_the_threshold(reported):
    _, _, html = reported
    assert "copier and ref" in html and html.count("<mark>") >= 10
    assert "data:image/png;base64," in html and "threshold 0.5" in html
    assert "textbook" in html and "No pair reaches" not in html
    assert "1 pair(s) at or above the threshold 0.5" in html


def test_scores_are_the_same_from_run_to_run_and_textbook_code_half_the_class_wrote_is_boilerplate():
    """Twelve students: each wrote the textbook im2col and code of their own; student 1
    copied student 0's own code. Only that pair is flagged."""
    rng = random.Random(7)

    def own_code(seed: int) -> str:
        pick = random.Random(seed)
        lines = [
            f"    t{i} = (a {pick.choice('+-*')} {pick.randint(2, 99)}) "
            f"{pick.choice(['+', '-', '*', '//', '%'])} (b ** {pick.randint(2, 9)})"
            for i in range(12)
        ]
        return "def helper(a, b):\n" + "\n".join(lines) + "\n    return t0\n"

    def textbook_im2col() -> str:  # ALICE's, each student naming things their own way
        code = ALICE["conv2d_fast"]
        for name in ("cols", "Ho", "Wo", "KH", "KW"):
            code = re.sub(rf"\b{name}\b", f"{name.lower()}_{rng.randint(0, 999)}", code)
        return code

    codes = {f"s{k:02d}": textbook_im2col() + "\n" + own_code(k) for k in range(12)}
    codes["s01"] = textbook_im2col() + "\n" + own_code(0)
    starter = starter_code(SOURCES.released(ASSIGNMENT))
    first, second = compare(codes, starter), compare(codes, starter, workers=2)
    assert [(p.student_a, p.student_b, p.score) for p in first.pairs] == [
        (p.student_a, p.student_b, p.score) for p in second.pairs
    ]
    assert first.common > 0
    assert [(p.student_a, p.student_b) for p in first.flagged] == [("s00", "s01")]
    assert max(p.score for p in first.pairs[1:]) < THRESHOLD


def test_bad_arguments_exit_2_with_a_message(tmp_path, capsys):
    cases = [
        (["--threshold", "0"], "--threshold"),
        (["--threshold", "1.5"], "--threshold"),
        (["--workers", "0"], "--workers"),
        ([], "no course folder"),
    ]
    for extra, message in cases:
        args = ["similarity", ASSIGNMENT, "--course", tmp_path / "none"]
        args += ["--source", SOURCES.source_dir, *extra]
        assert main([str(a) for a in args]) == 2, extra
        assert message in capsys.readouterr().err, extra


# -- the report in a real browser (Debian's chromium, driven by Playwright; see test_book) -----

CHROMIUM = Path("/usr/bin/chromium")


def test_the_report_opens_in_a_browser_with_no_console_error(reported):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (make test installs it)")
    from playwright.sync_api import sync_playwright

    course, _, _ = reported
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page()
            problems: list[str] = []
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto((course / "similarity.html").as_uri(), wait_until="load")
            assert problems == []
            assert page.locator("img").evaluate("img => img.naturalWidth") > 0  # the histogram
            assert page.locator("section mark").count() >= 10
            columns = page.locator("section .pair > div").all()
            assert len(columns) == 2
            left, right = (c.bounding_box() for c in columns)
            assert left["x"] + left["width"] <= right["x"] and left["y"] == right["y"]
        finally:
            browser.close()
