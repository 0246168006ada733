"""Wrong and correct student implementations, each as the code a student would put in one
solution cell. A wrong one must lose the points of exactly one test cell, with the message
that names its misconception; a correct alternative must lose nothing."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Wrong:
    name: str
    assignment: str
    cell: str  # grade_id of the solution cell the student wrote
    code: str
    test: str  # grade_id of the test cell that must fail
    message: str  # must appear in the first line of the failure
    cascade: tuple[str, ...] = ()  # later test cells that use this function and may fail too
    off_by_one: bool = False  # the mistake is an off-by-one (only then may its message say so)


@dataclass(frozen=True)
class Correct:
    name: str
    assignment: str
    cell: str
    code: str


NN, CONV = "nn-review", "conv-layers"

WRONG = [
    Wrong(
        "tanh_textbook_overflow",
        NN,
        "tanh",
        """
def tanh(x):
    return (torch.exp(x) - torch.exp(-x)) / (torch.exp(x) + torch.exp(-x))
""",
        "test_tanh",
        "eˣ and e⁻ˣ overflow to inf",
    ),
    Wrong(
        "sigmoid_builtin",
        NN,
        "sigmoid",
        """
def sigmoid(x):
    return torch.sigmoid(x)
""",
        "test_sigmoid",
        "torch's built-in sigmoid",
    ),
    Wrong(
        "relu_builtin_alias",
        NN,
        "relu",
        """
from torch.nn.functional import relu as _r
def relu(x):
    return _r(x)
""",
        "test_relu",
        "torch's built-in relu",
    ),
    Wrong(
        "sigmoid_sign_flipped",
        NN,
        "sigmoid",
        """
def sigmoid(x):
    return 1 / (1 + torch.exp(x))
""",
        "test_sigmoid",
        "sign in the exponent",
    ),
    Wrong(
        "sigmoid_in_place",
        NN,
        "sigmoid",
        """
def sigmoid(x):
    x.neg_()
    return 1 / (1 + torch.exp(x))
""",
        "test_sigmoid",
        "in place",
    ),
    Wrong(
        "dense_not_transposed",
        NN,
        "dense_forward",
        """
def dense_forward(x, W, b, activation):
    return activation(x @ W + b)
""",
        "test_dense_forward",
        "W.T",
    ),
    Wrong(
        "dense_bias_missing",
        NN,
        "dense_forward",
        """
def dense_forward(x, W, b, activation):
    return activation(x @ W.T)
""",
        "test_dense_forward",
        "bias b is missing",
    ),
    Wrong(
        "gradients_summed",
        NN,
        "neuron_gradients",
        """
def neuron_gradients(x, w, b, target):
    y = torch.sigmoid(x @ w + b)
    dz = (y - target) * y * (1 - y)
    return dz @ x, dz.sum()
""",
        "test_neuron_gradients",
        "averaged over the batch",
    ),
    Wrong(
        "gradients_no_sigma_prime",
        NN,
        "neuron_gradients",
        """
def neuron_gradients(x, w, b, target):
    y = torch.sigmoid(x @ w + b)
    dz = (y - target) / x.shape[0]
    return dz @ x, dz.sum()
""",
        "test_neuron_gradients",
        "σ'(z)",
    ),
    Wrong(
        "gradients_by_autograd",
        NN,
        "neuron_gradients",
        """
def neuron_gradients(x, w, b, target):
    w = w.clone().requires_grad_()
    b = b.clone().requires_grad_()
    loss = 0.5 * ((torch.sigmoid(x @ w + b) - target) ** 2).mean()
    loss.backward()
    return w.grad, b.grad
""",
        "test_neuron_gradients",
        "chain rule",
    ),
    Wrong(
        "sgd_climbs",
        NN,
        "sgd_step",
        """
def sgd_step(w, b, grad_w, grad_b, lr):
    return w + lr * grad_w, b + lr * grad_b
""",
        "test_sgd_step",
        "climbs",
    ),
    Wrong(
        "constants_bias_as_weight",
        CONV,
        "param_constants",
        """
FC_NEURON_PARAMS = (3073, 1)
CONV_FILTER_PARAMS = (76, 1)
""",
        "test_param_constants",
        "bias is not a weight",
    ),
    Wrong(
        "same_padding_total",
        CONV,
        "same_padding",
        """
def same_padding(kernel_size):
    if kernel_size % 2 == 0:
        raise ValueError("even")
    return kernel_size - 1
""",
        "test_same_padding",
        "each side",
    ),
]

# conv2d_naive variants share one body; each mistake changes one line of it.
NAIVE = """
def conv2d_naive(x, weight, bias=None, stride=1, padding=0):
    (s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)
    n, c_in, h, w = x.shape
    c_out, _, k_h, k_w = weight.shape
    h_out = (h + 2 * p_h - k_h) // s_h + 1
    w_out = (w + 2 * p_w - k_w) // s_w + 1
    xp = torch.nn.functional.pad(x, (p_w, p_w, p_h, p_h))
    out = torch.zeros(n, c_out, h_out, w_out, dtype=x.dtype, device=x.device)
    for o in range(c_out):
        for i in range(h_out):
            for j in range(w_out):
                acc = 0
                for c in range(c_in):
                    window = xp[:, c, i * s_h:i * s_h + k_h, j * s_w:j * s_w + k_w]
                    acc = acc + (window * weight[o, c]).sum(dim=(1, 2))
                out[:, o, i, j] = acc
        if bias is not None:
            out[:, o] += bias[o]
    return out
"""


def naive_variant(old: str, new: str) -> str:
    assert old in NAIVE, old
    return NAIVE.replace(old, new)


WRONG += [
    Wrong(
        "naive_flipped",
        CONV,
        "conv2d_naive",
        naive_variant("(window * weight[o, c])", "(window * weight[o, c].flip(0, 1))"),
        "test_conv2d_naive",
        "flipped",
    ),
    Wrong(
        "naive_padding_once",
        CONV,
        "conv2d_naive",
        naive_variant(
            "h_out = (h + 2 * p_h - k_h) // s_h + 1\n    w_out = (w + 2 * p_w - k_w) // s_w + 1\n    xp = torch.nn.functional.pad(x, (p_w, p_w, p_h, p_h))",
            "h_out = (h + p_h - k_h) // s_h + 1\n    w_out = (w + p_w - k_w) // s_w + 1\n    xp = torch.nn.functional.pad(x, (p_w, 0, p_h, 0))",
        ),
        "test_conv2d_naive",
        "padding is applied once",
    ),
    Wrong(
        "naive_stride_ignored",
        CONV,
        "conv2d_naive",
        naive_variant(
            "(s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)",
            "(s_h, s_w), (p_h, p_w) = (1, 1), pair(padding)",
        ),
        "test_conv2d_naive",
        "stride is ignored",
    ),
    Wrong(
        "naive_stride_misplaced",
        CONV,
        "conv2d_naive",
        naive_variant(
            "xp[:, c, i * s_h:i * s_h + k_h, j * s_w:j * s_w + k_w]",
            "xp[:, c, i:i + k_h, j:j + k_w]",
        ),
        "test_conv2d_naive",
        "stride is applied wrongly",
    ),
    Wrong(
        "naive_bias_missing",
        CONV,
        "conv2d_naive",
        naive_variant("out[:, o] += bias[o]", "pass"),
        "test_conv2d_naive",
        "bias is missing",
    ),
    Wrong(
        "naive_bias_per_channel",
        CONV,
        "conv2d_naive",
        naive_variant(
            "acc = acc + (window * weight[o, c]).sum(dim=(1, 2))",
            "acc = acc + (window * weight[o, c]).sum(dim=(1, 2)) + (0 if bias is None else bias[o])",
        ).replace("out[:, o] += bias[o]", "pass"),
        "test_conv2d_naive",
        "bias is added once per input channel",
    ),
    Wrong(
        "naive_channels_overwritten",
        CONV,
        "conv2d_naive",
        naive_variant("acc = acc + (window", "acc = (window"),
        "test_conv2d_naive",
        "only the last input channel",
    ),
    Wrong(
        "naive_off_by_one",
        CONV,
        "conv2d_naive",
        naive_variant(
            "h_out = (h + 2 * p_h - k_h) // s_h + 1", "h_out = (h + 2 * p_h - k_h) // s_h"
        ),
        "test_conv2d_naive",
        "off by one",
        off_by_one=True,
    ),
    Wrong(
        "naive_nhwc_output",
        CONV,
        "conv2d_naive",
        naive_variant("    return out\n", "    return out.permute(0, 2, 3, 1)\n"),
        "test_conv2d_naive",
        "(N, H, W, C)",
    ),
    Wrong(
        "naive_float32_output",
        CONV,
        "conv2d_naive",
        naive_variant("dtype=x.dtype, device=x.device", "device=x.device"),
        "test_conv2d_naive",
        "dtype",
    ),
    Wrong(
        "naive_modifies_input",
        CONV,
        "conv2d_naive",
        naive_variant(
            "    n, c_in, h, w = x.shape\n", "    n, c_in, h, w = x.shape\n    x -= x.mean()\n"
        ),
        "test_conv2d_naive",
        "in place",
    ),
    Wrong(
        "naive_uses_F_conv2d",
        CONV,
        "conv2d_naive",
        """
import torch.nn.functional as F
def conv2d_naive(x, weight, bias=None, stride=1, padding=0):
    return F.conv2d(x, weight, bias, stride, padding)
""",
        "test_conv2d_naive",
        "torch's built-in convolution",
    ),
    Wrong(
        "fast_loops_over_positions",
        CONV,
        "conv2d_fast",
        """
def conv2d_fast(x, weight, bias=None, stride=1, padding=0):
    return conv2d_naive(x, weight, bias, stride, padding)
""",
        "test_conv2d_fast",
        "loop over output positions",
    ),
    Wrong(
        "fast_uses_scipy",
        CONV,
        "conv2d_fast",
        """
from scipy.signal import correlate2d
def conv2d_fast(x, weight, bias=None, stride=1, padding=0):
    (s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)
    xp = torch.nn.functional.pad(x, (p_w, p_w, p_h, p_h)).cpu().numpy()
    w = weight.cpu().numpy()
    out = torch.tensor([[sum(correlate2d(xp[n, c], w[o, c], mode="valid") for c in range(x.shape[1]))
                         for o in range(w.shape[0])] for n in range(x.shape[0])], dtype=x.dtype)
    out = out[:, :, ::s_h, ::s_w].to(x.device)
    return out if bias is None else out + bias.view(1, -1, 1, 1)
""",
        "test_conv2d_fast",
        "scipy.signal",
        cascade=("test_Conv2d",),
    ),
    Wrong(
        "module_weight_not_parameter",
        CONV,
        "Conv2d",
        """
class Conv2d(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True):
        super().__init__()
        k_h, k_w = pair(kernel_size)
        self.stride, self.padding = stride, padding
        self.weight = torch.randn(out_channels, in_channels, k_h, k_w)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None

    def forward(self, x):
        return conv2d_fast(x, self.weight, self.bias, self.stride, self.padding)
""",
        "test_Conv2d",
        "nn.Parameter",
    ),
    Wrong(
        "module_zero_init",
        CONV,
        "Conv2d",
        """
class Conv2d(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True):
        super().__init__()
        k_h, k_w = pair(kernel_size)
        self.stride, self.padding = stride, padding
        self.weight = nn.Parameter(torch.zeros(out_channels, in_channels, k_h, k_w))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None

    def forward(self, x):
        return conv2d_fast(x, self.weight, self.bias, self.stride, self.padding)
""",
        "test_Conv2d",
        "same value",
    ),
]

# Misconceptions each check names; every message a check defines is reached by one of these
# (tests/test_catalogue_checks.py checks that), and only an off-by-one may say "off by one".
FAST = """
def conv2d_fast(x, weight, bias=None, stride=1, padding=0):
    (s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)
    c_out, c_in, k_h, k_w = weight.shape
    xp = torch.nn.functional.pad(x, (p_w, p_w, p_h, p_h))
    patches = xp.unfold(2, k_h, s_h).unfold(3, k_w, s_w)  # (N, C_in, H_out, W_out, K_h, K_w)
    n, _, h_out, w_out = patches.shape[:4]
    columns = patches.permute(0, 2, 3, 1, 4, 5).reshape(n * h_out * w_out, c_in * k_h * k_w)
    out = columns @ weight.reshape(c_out, -1).T  # (N * H_out * W_out, C_out)
    out = out.reshape(n, h_out, w_out, c_out).permute(0, 3, 1, 2)
    if bias is not None:
        out = out + bias.view(1, -1, 1, 1)
    return out
"""


def fast_variant(old: str, new: str) -> str:
    assert old in FAST, old
    return FAST.replace(old, new)


def naive_variants(*changes: tuple[str, str]) -> str:
    code = NAIVE
    for old, new in changes:
        assert old in code, old
        code = code.replace(old, new)
    return code


BIAS_IN_LOOP = "        if bias is not None:\n            out[:, o] += bias[o]\n"
FAST_CASCADE = ("test_Conv2d",)

WRONG += [
    Wrong(
        "sigmoid_stub",
        NN,
        "sigmoid",
        """
def sigmoid(x):
    raise NotImplementedError()
""",
        "test_sigmoid",
        "not implemented yet",
    ),
    Wrong(
        "dense_no_activation",
        NN,
        "dense_forward",
        """
def dense_forward(x, W, b, activation):
    return x @ W.T + b
""",
        "test_dense_forward",
        "the activation is not applied",
    ),
    Wrong(
        "dense_bias_after_activation",
        NN,
        "dense_forward",
        """
def dense_forward(x, W, b, activation):
    return activation(x @ W.T) + b
""",
        "test_dense_forward",
        "the bias must be added before the activation",
    ),
    Wrong(
        "dense_one_column_per_example",
        NN,
        "dense_forward",
        """
def dense_forward(x, W, b, activation):
    return activation(W @ x.T + b[:, None])
""",
        "test_dense_forward",
        "the result is transposed",
    ),
    Wrong(
        "dense_one_example",
        NN,
        "dense_forward",
        """
def dense_forward(x, W, b, activation):
    d_out, d_in = W.shape
    out = torch.zeros(d_out, dtype=x.dtype, device=x.device)
    for k in range(d_out):
        out[k] = (W[k] * x).sum() + b[k]
    return activation(out)
""",
        "test_dense_forward",
        "given one example",
    ),
    Wrong(
        "gradients_sigma_prime_of_z",
        NN,
        "neuron_gradients",
        """
def neuron_gradients(x, w, b, target):
    z = x @ w + b
    y = torch.sigmoid(z)
    dz = (y - target) * z * (1 - z) / x.shape[0]
    return dz @ x, dz.sum()
""",
        "test_neuron_gradients",
        "here it is z(1 − z)",
    ),
    Wrong(
        "gradients_mean_twice",
        NN,
        "neuron_gradients",
        """
def neuron_gradients(x, w, b, target):
    y = torch.sigmoid(x @ w + b)
    dz = (y - target) * y * (1 - y) / len(x)
    return (dz @ x) / len(x), dz.mean()
""",
        "test_neuron_gradients",
        "divided by N twice",
    ),
    Wrong(
        "gradients_forward_without_bias",
        NN,
        "neuron_gradients",
        """
def neuron_gradients(x, w, b, target):
    y = torch.sigmoid(x @ w)
    dz = (y - target) * y * (1 - y) / x.shape[0]
    return dz @ x, dz.sum()
""",
        "test_neuron_gradients",
        "y must include the bias",
    ),
    Wrong(
        "gradients_dz_dw_is_w",
        NN,
        "neuron_gradients",
        """
def neuron_gradients(x, w, b, target):
    y = torch.sigmoid(x @ w + b)
    dz = (y - target) * y * (1 - y) / x.shape[0]
    return dz.sum() * w, dz.sum()
""",
        "test_neuron_gradients",
        "∂z/∂w = x, not w",
    ),
    Wrong(
        "gradients_product_of_sums",
        NN,
        "neuron_gradients",
        """
def neuron_gradients(x, w, b, target):
    y = torch.sigmoid(x @ w + b)
    dz = (y - target) * y * (1 - y) / x.shape[0]
    return dz.sum() * x.sum(dim=0), dz.sum()
""",
        "test_neuron_gradients",
        "rather than multiplying the two sums",
    ),
    Wrong(
        "gradients_db_not_summed",
        NN,
        "neuron_gradients",
        """
def neuron_gradients(x, w, b, target):
    y = torch.sigmoid(x @ w + b)
    dz = (y - target) * y * (1 - y) / x.shape[0]
    return dz @ x, dz
""",
        "test_neuron_gradients",
        "dL/db sums dL/dz over the batch",
    ),
    Wrong(
        "gradients_twice_too_large",
        NN,
        "neuron_gradients",
        """
def neuron_gradients(x, w, b, target):
    y = torch.sigmoid(x @ w + b)
    dz = 2 * (y - target) * y * (1 - y) / x.shape[0]
    return dz @ x, dz.sum()
""",
        "test_neuron_gradients",
        "twice too large",
    ),
    Wrong(
        "gradients_wrong_sign",
        NN,
        "neuron_gradients",
        """
def neuron_gradients(x, w, b, target):
    y = torch.sigmoid(x @ w + b)
    dz = (target - y) * y * (1 - y) / x.shape[0]
    return dz @ x, dz.sum()
""",
        "test_neuron_gradients",
        "wrong sign",
    ),
    Wrong(
        "sgd_divides_by_lr",
        NN,
        "sgd_step",
        """
def sgd_step(w, b, grad_w, grad_b, lr):
    return w - grad_w / lr, b - grad_b / lr
""",
        "test_sgd_step",
        "not divided by it",
    ),
    Wrong(
        "sgd_returns_step",
        NN,
        "sgd_step",
        """
def sgd_step(w, b, grad_w, grad_b, lr):
    return lr * grad_w, lr * grad_b
""",
        "test_sgd_step",
        "not the step",
    ),
    Wrong(
        "sgd_b_frozen",
        NN,
        "sgd_step",
        """
def sgd_step(w, b, grad_w, grad_b, lr):
    return w - lr * grad_w, b
""",
        "test_sgd_step",
        "b learns too",
    ),
    Wrong(
        "sgd_no_lr",
        NN,
        "sgd_step",
        """
def sgd_step(w, b, grad_w, grad_b, lr):
    return w - grad_w, b - grad_b
""",
        "test_sgd_step",
        "multiply the gradient by the learning rate lr.",
    ),
    Wrong(
        "naive_kernel_transposed",
        CONV,
        "conv2d_naive",
        naive_variant("(window * weight[o, c])", "(window * weight[o, c].T)"),
        "test_conv2d_naive",
        "rows and columns are swapped",
    ),
    Wrong(
        "naive_kernel_sizes_swapped",
        CONV,
        "conv2d_naive",
        naive_variant("c_out, _, k_h, k_w = weight.shape", "c_out, _, k_w, k_h = weight.shape"),
        "test_conv2d_naive",
        "right for a square kernel",
    ),
    Wrong(
        "fast_kernel_sizes_swapped",
        CONV,
        "conv2d_fast",
        fast_variant(
            "c_out, c_in, k_h, k_w = weight.shape", "c_out, c_in, k_w, k_h = weight.shape"
        ),
        "test_conv2d_fast",
        "K_h and K_w are swapped",
        cascade=FAST_CASCADE,
    ),
    Wrong(
        "naive_bias_wrong_axis",
        CONV,
        "conv2d_naive",
        naive_variants(
            (BIAS_IN_LOOP, ""),
            (
                "    return out\n",
                "    if bias is not None:\n        out = out + bias\n    return out\n",
            ),
        ),
        "test_conv2d_naive",
        "bias is broadcast along the wrong axis",
    ),
    Wrong(
        "naive_bias_view_wrong",
        CONV,
        "conv2d_naive",
        naive_variants(
            (BIAS_IN_LOOP, ""),
            (
                "    return out\n",
                "    if bias is not None:\n        out = out + bias.view(-1, 1, 1, 1)\n    return out\n",
            ),
        ),
        "test_conv2d_naive",
        "right when bias is None but not with a bias",
    ),
    Wrong(
        "naive_bias_inside_sum",
        CONV,
        "conv2d_naive",
        naive_variants(
            (
                "(window * weight[o, c]).sum(dim=(1, 2))",
                "(window * weight[o, c] + (0 if bias is None else bias[o])).sum(dim=(1, 2))",
            ),
            (BIAS_IN_LOOP, ""),
        ),
        "test_conv2d_naive",
        "bias is added inside the sum",
    ),
    Wrong(
        "naive_if_bias",
        CONV,
        "conv2d_naive",
        naive_variant("if bias is not None:", "if bias:"),
        "test_conv2d_naive",
        "`if bias:` cannot test a tensor",
    ),
    Wrong(
        "naive_bias_always_added",
        CONV,
        "conv2d_naive",
        naive_variant(BIAS_IN_LOOP, "        out[:, o] += bias[o]\n"),
        "test_conv2d_naive",
        "bias=None must work too",
    ),
    Wrong(
        "naive_first_channel_only",
        CONV,
        "conv2d_naive",
        naive_variant("for c in range(c_in):", "for c in range(1):"),
        "test_conv2d_naive",
        "only the first input channel",
    ),
    Wrong(
        "naive_channels_averaged",
        CONV,
        "conv2d_naive",
        naive_variant("out[:, o, i, j] = acc", "out[:, o, i, j] = acc / c_in"),
        "test_conv2d_naive",
        "channels are averaged",
    ),
    Wrong(
        "naive_channels_not_summed",
        CONV,
        "conv2d_naive",
        naive_variants(
            ("out = torch.zeros(n, c_out, h_out", "out = torch.zeros(n, c_out, c_in, h_out"),
            (
                "acc = acc + (window * weight[o, c]).sum(dim=(1, 2))",
                "out[:, o, c, i, j] = (window * weight[o, c]).sum(dim=(1, 2))",
            ),
            ("out[:, o, i, j] = acc", "pass"),
        ),
        "test_conv2d_naive",
        "channels are not summed",
    ),
    Wrong(
        "naive_weight_axes_swapped",
        CONV,
        "conv2d_naive",
        naive_variants(
            ("c_out, _, k_h, k_w = weight.shape", "_, c_out, k_h, k_w = weight.shape"),
            ("weight[o, c]", "weight[c, o]"),
        ),
        "test_conv2d_naive",
        "weight[o, c] is the kernel from input channel c",
    ),
    Wrong(
        "naive_batch_summed",
        CONV,
        "conv2d_naive",
        naive_variant(
            "acc = acc + (window * weight[o, c]).sum(dim=(1, 2))",
            "acc = acc + (window * weight[o, c]).sum()",
        ),
        "test_conv2d_naive",
        "runs over the whole batch",
    ),
    Wrong(
        "naive_batch_dropped",
        CONV,
        "conv2d_naive",
        naive_variant("    return out\n", "    return out[0]\n"),
        "test_conv2d_naive",
        "batch axis is missing",
    ),
    Wrong(
        "naive_one_image",
        CONV,
        "conv2d_naive",
        """
def conv2d_naive(x, weight, bias=None, stride=1, padding=0):
    (s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)
    c_in, h, w = x.shape
    c_out, _, k_h, k_w = weight.shape
    h_out = (h + 2 * p_h - k_h) // s_h + 1
    w_out = (w + 2 * p_w - k_w) // s_w + 1
    xp = torch.nn.functional.pad(x, (p_w, p_w, p_h, p_h))
    out = torch.zeros(c_out, h_out, w_out, dtype=x.dtype, device=x.device)
    for o in range(c_out):
        for i in range(h_out):
            for j in range(w_out):
                window = xp[:, i * s_h:i * s_h + k_h, j * s_w:j * s_w + k_w]
                out[o, i, j] = (window * weight[o]).sum()
    if bias is not None:
        out += bias.view(-1, 1, 1)
    return out
""",
        "test_conv2d_naive",
        "given one image (C_in, H, W)",
    ),
    Wrong(
        "naive_pair_swapped",
        CONV,
        "conv2d_naive",
        naive_variant(
            "(s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)",
            "(s_w, s_h), (p_w, p_h) = pair(stride), pair(padding)",
        ),
        "test_conv2d_naive",
        "pair is used the wrong way round",
    ),
    Wrong(
        "naive_pair_first_only",
        CONV,
        "conv2d_naive",
        naive_variant(
            "(s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)",
            "s_h = s_w = pair(stride)[0]\n    p_h = p_w = pair(padding)[0]",
        ),
        "test_conv2d_naive",
        "only one number of a (height, width) pair",
    ),
    Wrong(
        "naive_ints_only",
        CONV,
        "conv2d_naive",
        naive_variant(
            "(s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)",
            "s_h = s_w = stride\n    p_h = p_w = padding",
        ),
        "test_conv2d_naive",
        "but not as (height, width) pairs",
    ),
    Wrong(
        "fast_pad_order",
        CONV,
        "conv2d_fast",
        fast_variant("(p_w, p_w, p_h, p_h)", "(p_h, p_h, p_w, p_w)"),
        "test_conv2d_fast",
        "pair is used the wrong way round",
        cascade=FAST_CASCADE,
    ),
    Wrong(
        "naive_padding_ignored",
        CONV,
        "conv2d_naive",
        naive_variants(
            ("h_out = (h + 2 * p_h - k_h)", "h_out = (h - k_h)"),
            ("w_out = (w + 2 * p_w - k_w)", "w_out = (w - k_w)"),
            ("xp = torch.nn.functional.pad(x, (p_w, p_w, p_h, p_h))", "xp = x"),
        ),
        "test_conv2d_naive",
        "padding is ignored",
    ),
    Wrong(
        "fast_pads_width_only",
        CONV,
        "conv2d_fast",
        fast_variant("(p_w, p_w, p_h, p_h)", "(p_w, p_w)"),
        "test_conv2d_fast",
        "only one axis is padded",
        cascade=FAST_CASCADE,
    ),
    Wrong(
        "naive_rounds_up",
        CONV,
        "conv2d_naive",
        naive_variants(
            (
                "h_out = (h + 2 * p_h - k_h) // s_h + 1",
                "h_out = math.ceil((h + 2 * p_h - k_h) / s_h) + 1",
            ),
            (
                "w_out = (w + 2 * p_w - k_w) // s_w + 1",
                "w_out = math.ceil((w + 2 * p_w - k_w) / s_w) + 1",
            ),
        ),
        "test_conv2d_naive",
        "round down",
    ),
    Wrong(
        "naive_loops_stop_short",
        CONV,
        "conv2d_naive",
        naive_variant("for j in range(w_out):", "for j in range(w_out - 1):"),
        "test_conv2d_naive",
        "never filled",
        off_by_one=True,
    ),
    Wrong(
        "naive_w_out_from_h",
        CONV,
        "conv2d_naive",
        naive_variant("w_out = (w + 2 * p_w - k_w)", "w_out = (h + 2 * p_w - k_w)"),
        "test_conv2d_naive",
        "right for a square input",
    ),
    Wrong(
        "naive_out_square",
        CONV,
        "conv2d_naive",
        naive_variant(
            "out = torch.zeros(n, c_out, h_out, w_out", "out = torch.zeros(n, c_out, h_out, h_out"
        ),
        "test_conv2d_naive",
        "whenever the output is not square",
    ),
    Wrong(
        "fast_reads_nhwc",
        CONV,
        "conv2d_fast",
        """
def conv2d_fast(x, weight, bias=None, stride=1, padding=0):
    (s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)
    n, h, w, c_in = x.shape  # channels last
    c_out, _, k_h, k_w = weight.shape
    xp = torch.nn.functional.pad(x, (0, 0, p_w, p_w, p_h, p_h))
    patches = xp.unfold(1, k_h, s_h).unfold(2, k_w, s_w)  # (N, H_out, W_out, C_in, K_h, K_w)
    out = torch.einsum("nhwcij,ocij->nohw", patches, weight)
    return out if bias is None else out + bias.view(1, -1, 1, 1)
""",
        "test_conv2d_fast",
        "channels-last",
        cascade=FAST_CASCADE,
    ),
    Wrong(
        "fast_weight_tf_layout",
        CONV,
        "conv2d_fast",
        """
def conv2d_fast(x, weight, bias=None, stride=1, padding=0):
    (s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)
    k_h, k_w, c_in, c_out = weight.shape  # as in TensorFlow
    xp = torch.nn.functional.pad(x, (p_w, p_w, p_h, p_h))
    patches = xp.unfold(2, k_h, s_h).unfold(3, k_w, s_w)  # (N, C_in, H_out, W_out, K_h, K_w)
    out = torch.einsum("nchwij,ijco->nohw", patches, weight)
    return out if bias is None else out + bias.view(1, -1, 1, 1)
""",
        "test_conv2d_fast",
        "weight is read in another layout",
        cascade=FAST_CASCADE,
    ),
    Wrong(
        "fast_reshape_not_permute",
        CONV,
        "conv2d_fast",
        fast_variant(
            "out = out.reshape(n, h_out, w_out, c_out).permute(0, 3, 1, 2)",
            "out = out.reshape(n, c_out, h_out, w_out)",
        ),
        "test_conv2d_fast",
        "a reshape cannot move an axis",
        cascade=FAST_CASCADE,
    ),
    Wrong(
        "fast_permute_wrong_order",
        CONV,
        "conv2d_fast",
        fast_variant(
            "out = out.reshape(n, h_out, w_out, c_out).permute(0, 3, 1, 2)",
            "out = out.reshape(n, h_out, w_out, c_out).permute(0, 3, 2, 1)",
        ),
        "test_conv2d_fast",
        "the right values, but in the wrong places",
        cascade=FAST_CASCADE,
    ),
    Wrong(
        "module_forward_ignores_padding",
        CONV,
        "Conv2d",
        """
class Conv2d(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True):
        super().__init__()
        k_h, k_w = pair(kernel_size)
        self.stride, self.padding = stride, padding
        bound = 1 / math.sqrt(in_channels * k_h * k_w)
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, k_h, k_w).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(out_channels).uniform_(-bound, bound)) if bias else None

    def forward(self, x):
        return conv2d_fast(x, self.weight, self.bias, self.stride)
""",
        "test_Conv2d",
        "padding is ignored",
    ),
    Wrong(
        "module_stride_padding_swapped",
        CONV,
        "Conv2d",
        """
class Conv2d(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True):
        super().__init__()
        k_h, k_w = pair(kernel_size)
        self.stride, self.padding = stride, padding
        bound = 1 / math.sqrt(in_channels * k_h * k_w)
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, k_h, k_w).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(out_channels).uniform_(-bound, bound)) if bias else None

    def forward(self, x):
        return conv2d_fast(x, self.weight, self.bias, self.padding, self.stride)
""",
        "test_Conv2d",
        "stride and padding are passed the wrong way round",
    ),
    Wrong(
        "module_kernel_size_swapped",
        CONV,
        "Conv2d",
        """
class Conv2d(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True):
        super().__init__()
        k_w, k_h = pair(kernel_size)
        self.stride, self.padding = stride, padding
        bound = 1 / math.sqrt(in_channels * k_h * k_w)
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, k_h, k_w).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(out_channels).uniform_(-bound, bound)) if bias else None

    def forward(self, x):
        return conv2d_fast(x, self.weight, self.bias, self.stride, self.padding)
""",
        "test_Conv2d",
        "K_h and K_w are swapped",
    ),
    Wrong(
        "module_x_detached",
        CONV,
        "Conv2d",
        """
class Conv2d(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True):
        super().__init__()
        k_h, k_w = pair(kernel_size)
        self.stride, self.padding = stride, padding
        bound = 1 / math.sqrt(in_channels * k_h * k_w)
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, k_h, k_w).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(out_channels).uniform_(-bound, bound)) if bias else None

    def forward(self, x):
        return conv2d_fast(x.detach(), self.weight, self.bias, self.stride, self.padding)
""",
        "test_Conv2d",
        "x gets no gradient",
    ),
]

# One entry for each message of the activations and the constants (so that
# tests/test_catalogue_checks.py proves each reachable).


def constants(fc: str, conv: str) -> str:
    return f"\nFC_NEURON_PARAMS = {fc}\nCONV_FILTER_PARAMS = {conv}\n"


STABLE_TANH = """
    z = torch.exp(-2 * x.abs())
    return torch.sign(x) * (1 - z) / (1 + z)
"""

WRONG += [
    Wrong(
        "sigmoid_is_tanh",
        NN,
        "sigmoid",
        "\ndef sigmoid(x):" + STABLE_TANH,
        "test_sigmoid",
        "this looks like tanh",
    ),
    Wrong(
        "tanh_is_sigmoid",
        NN,
        "tanh",
        """
def tanh(x):
    return torch.exp(torch.minimum(x, torch.zeros_like(x))) / (1 + torch.exp(-x.abs()))
""",
        "test_tanh",
        "this is the sigmoid",
    ),
    Wrong(
        "tanh_sign_flipped",
        NN,
        "tanh",
        "\ndef tanh(x):" + STABLE_TANH.replace("(1 - z) / (1 + z)", "(z - 1) / (1 + z)"),
        "test_tanh",
        "tanh(x) is positive for x > 0",
    ),
    Wrong(
        "tanh_sigmoid_without_2x",
        NN,
        "tanh",
        """
def tanh(x):
    z = torch.exp(-x.abs())
    s = torch.where(x >= 0, 1 / (1 + z), z / (1 + z))
    return 2 * s - 1
""",
        "test_tanh",
        "check the factors 2",
    ),
    Wrong(
        "relu_min",
        NN,
        "relu",
        "\ndef relu(x):\n    return x.clamp(max=0)\n",
        "test_relu",
        "not min(x, 0)",
    ),
    Wrong(
        "relu_abs",
        NN,
        "relu",
        "\ndef relu(x):\n    return x.abs()\n",
        "test_relu",
        "absolute value",
    ),
    Wrong(
        "relu_returns_mask",
        NN,
        "relu",
        "\ndef relu(x):\n    return (x > 0).to(x.dtype)\n",
        "test_relu",
        "not a 0/1 mask",
    ),
    Wrong(
        "constants_fc_one_channel",
        CONV,
        "param_constants",
        constants("(32 * 32, 1)", "(5 * 5 * 3, 1)"),
        "test_param_constants",
        "sees every value",
    ),
    Wrong(
        "constants_fc_no_bias",
        CONV,
        "param_constants",
        constants("(32 * 32 * 3, 0)", "(5 * 5 * 3, 1)"),
        "test_param_constants",
        "a neuron has one bias",
    ),
    Wrong(
        "constants_filter_one_channel",
        CONV,
        "param_constants",
        constants("(32 * 32 * 3, 1)", "(5 * 5, 1)"),
        "test_param_constants",
        "spans all 3 channels",
    ),
    Wrong(
        "constants_filter_bias_as_weight",
        CONV,
        "param_constants",
        constants("(32 * 32 * 3, 1)", "(5 * 5 * 3 + 1, 1)"),
        "test_param_constants",
        "(weights, biases) = (5·5·3, 1)",
    ),
    Wrong(
        "constants_filter_bias_per_channel",
        CONV,
        "param_constants",
        constants("(32 * 32 * 3, 1)", "(5 * 5 * 3, 3)"),
        "test_param_constants",
        "however many input channels it spans",
    ),
    Wrong(
        "constants_filter_no_bias",
        CONV,
        "param_constants",
        constants("(32 * 32 * 3, 1)", "(5 * 5 * 3, 0)"),
        "test_param_constants",
        "a filter has one bias",
    ),
    Wrong(
        "constants_bias_per_colour",
        CONV,
        "param_constants",
        constants("(32 * 32, 3)", "(5 * 5 * 3, 1)"),
        "test_param_constants",
        "count again",
    ),
    Wrong(
        "constants_not_a_pair",
        CONV,
        "param_constants",
        constants("32 * 32 * 3 + 1", "5 * 5 * 3 + 1"),
        "test_param_constants",
        "should be a pair (weights, biases)",
    ),
    Wrong(
        "same_padding_rounded_up",
        CONV,
        "same_padding",
        """
def same_padding(kernel_size):
    if kernel_size % 2 == 0:
        raise ValueError("even")
    return (kernel_size + 1) // 2
""",
        "test_same_padding",
        "needs P = (K − 1) / 2",
    ),
]


CORRECT = [
    Correct(
        "sigmoid_minimum_trick",
        NN,
        "sigmoid",
        """
def sigmoid(x):
    return torch.exp(torch.minimum(x, torch.zeros_like(x))) / (1 + torch.exp(-x.abs()))
""",
    ),
    Correct(
        "tanh_from_stable_sigmoid",
        NN,
        "tanh",
        """
def tanh(x):
    z = -2 * x.abs()
    return torch.sign(x) * (1 - torch.exp(z)) / (1 + torch.exp(z))
""",
    ),
    Correct(
        "relu_clamp",
        NN,
        "relu",
        """
def relu(x):
    return x.clamp(min=0)
""",
    ),
    Correct(
        "relu_mask",
        NN,
        "relu",
        """
def relu(x):
    return x * (x > 0)
""",
    ),
    Correct(
        "sgd_in_place",
        NN,
        "sgd_step",
        """
def sgd_step(w, b, grad_w, grad_b, lr):
    w -= lr * grad_w
    b -= lr * grad_b
    return w, b
""",
    ),
    Correct(
        "gradients_einsum",
        NN,
        "neuron_gradients",
        """
def neuron_gradients(x, w, b, target):
    z = torch.einsum("nd,d->n", x, w) + b
    y = 1 / (1 + torch.exp(-z))
    delta = (y - target) * y * (1 - y)
    return torch.einsum("n,nd->d", delta, x) / len(x), delta.mean()
""",
    ),
    Correct("naive_all_loops", CONV, "conv2d_naive", NAIVE),
    Correct(
        "fast_as_strided_einsum",
        CONV,
        "conv2d_fast",
        """
def conv2d_fast(x, weight, bias=None, stride=1, padding=0):
    (s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)
    xp = torch.nn.functional.pad(x, (p_w, p_w, p_h, p_h)).contiguous()
    n, c, h, w = xp.shape
    c_out, _, k_h, k_w = weight.shape
    h_out, w_out = (h - k_h) // s_h + 1, (w - k_w) // s_w + 1
    sn, sc, sh, sw = xp.stride()
    windows = xp.as_strided((n, c, h_out, w_out, k_h, k_w), (sn, sc, sh * s_h, sw * s_w, sh, sw))
    out = torch.einsum("nchwij,ocij->nohw", windows, weight)
    return out if bias is None else out + bias[None, :, None, None]
""",
    ),
    Correct(
        "fast_tensor_unfold",
        CONV,
        "conv2d_fast",
        """
def conv2d_fast(x, weight, bias=None, stride=1, padding=0):
    (s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)
    k_h, k_w = weight.shape[-2:]
    xp = torch.nn.functional.pad(x, (p_w, p_w, p_h, p_h))
    patches = xp.unfold(2, k_h, s_h).unfold(3, k_w, s_w)  # (N, C, H_out, W_out, K_h, K_w)
    out = torch.einsum("nchwij,ocij->nohw", patches, weight)
    if bias is not None:
        out = out + bias.reshape(1, -1, 1, 1)
    return out
""",
    ),
]


# ---------------------------------------------------------------------------------------------
# Helper D1's entries of this round (issues 22, 23): the convolutions' mistakes nobody had
# listed, located by experiment (each message of conv.py and _experiments.py reached by one),
# two independent limitations said both, gaps in the contract (dtype, memory layouts, a kernel
# that fits only thanks to the padding, size-1 axes), a hand-written backward, and
# corr2d_padded's. The corr2d_padded entries count once the notebook has its test cell.

NAIVE_BIAS_IN_LOOP = "        if bias is not None:\n            out[:, o] += bias[o]\n"
CORR_PADDED = """
def corr2d_padded(image, kernel, padding):
    (p_h, p_w), (h, w), (k_h, k_w) = pair(padding), image.shape, kernel.shape
    padded = torch.zeros(h + 2 * p_h, w + 2 * p_w, dtype=image.dtype, device=image.device)
    padded[p_h : p_h + h, p_w : p_w + w] = image
    h_out, w_out = h + 2 * p_h - k_h + 1, w + 2 * p_w - k_w + 1
    out = torch.zeros(h_out, w_out, dtype=image.dtype, device=image.device)
    for i in range(h_out):
        for j in range(w_out):
            out[i, j] = (padded[i : i + k_h, j : j + k_w] * kernel).sum()
    return out
"""
# A layer with a hand-written backward (an autograd Function); BACKWARD_ROTATED is right.
BACKWARD = """
class _Conv(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding):
        ctx.save_for_backward(x, weight)
        ctx.stride, ctx.padding, ctx.has_bias = stride, padding, bias is not None
        return conv2d_fast(x, weight, bias, stride, padding)

    @staticmethod
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        (s_h, s_w), (p_h, p_w) = pair(ctx.stride), pair(ctx.padding)
        n, c_in, h, w = x.shape
        c_out, _, k_h, k_w = weight.shape
        h_out, w_out = grad_out.shape[2:]
        # dL/dx: a full correlation of dL/dout, the stride's gaps filled with zeros
        g = grad_out.new_zeros(n, c_out, (h_out - 1) * s_h + 1, (w_out - 1) * s_w + 1)
        g[:, :, ::s_h, ::s_w] = grad_out
        g = torch.nn.functional.pad(g, (k_w - 1, k_w - 1, k_h - 1, k_h - 1))
        kernel = weight.transpose(0, 1)
        dxp = conv2d_fast(g, kernel)
        rows, cols = h + 2 * p_h - dxp.shape[2], w + 2 * p_w - dxp.shape[3]
        dxp = torch.nn.functional.pad(dxp, (0, cols, 0, rows))
        dx = dxp[:, :, p_h:p_h + h, p_w:p_w + w]
        xp = torch.nn.functional.pad(x, (p_w, p_w, p_h, p_h))
        cols = xp.unfold(2, k_h, s_h).unfold(3, k_w, s_w)  # (N, C_in, H_out, W_out, K_h, K_w)
        dw = torch.einsum("nohw,nchwij->ocij", grad_out, cols)
        db = grad_out.sum(dim=(0, 2, 3)) if ctx.has_bias else None
        return dx, dw, db, None, None


class Conv2d(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True):
        super().__init__()
        k_h, k_w = pair(kernel_size)
        self.stride, self.padding = stride, padding
        bound = 1 / math.sqrt(in_channels * k_h * k_w)
        weight = torch.empty(out_channels, in_channels, k_h, k_w).uniform_(-bound, bound)
        self.weight = nn.Parameter(weight)
        self.bias = nn.Parameter(torch.empty(out_channels).uniform_(-bound, bound)) if bias else None

    def forward(self, x):
        return _Conv.apply(x, self.weight, self.bias, self.stride, self.padding)
"""
ROTATED = ("kernel = weight.transpose(0, 1)", "kernel = weight.transpose(0, 1).flip(-2, -1)")


def variant_of(code: str, *changes: tuple[str, str]) -> str:
    for old, new in changes:
        assert old in code, old
        code = code.replace(old, new)
    return code


WRONG += [
    Wrong(
        "naive_accumulator_not_reset",
        CONV,
        "conv2d_naive",
        naive_variants(
            (
                "            for j in range(w_out):\n                acc = 0\n",
                "            for j in range(w_out):\n",
            ),
            ("    for o in range(c_out):\n", "    for o in range(c_out):\n        acc = 0\n"),
        ),
        "test_conv2d_naive",
        "running total of the right values",
    ),
    Wrong(
        "naive_padded_after_correlation",
        CONV,
        "conv2d_naive",
        naive_variants(
            ("h_out = (h + 2 * p_h - k_h) // s_h + 1", "h_out = (h - k_h) // s_h + 1"),
            ("w_out = (w + 2 * p_w - k_w) // s_w + 1", "w_out = (w - k_w) // s_w + 1"),
            ("xp = torch.nn.functional.pad(x, (p_w, p_w, p_h, p_h))", "xp = x"),
            (NAIVE_BIAS_IN_LOOP, ""),
            (
                "    return out\n",
                "    out = torch.nn.functional.pad(out, (p_w, p_w, p_h, p_h))\n"
                "    if bias is not None:\n        out = out + bias.view(1, -1, 1, 1)\n    return out\n",
            ),
        ),
        "test_conv2d_naive",
        "whenever there is padding, and is right whenever the padding is 0",
    ),
    Wrong(
        "naive_mean_over_window",
        CONV,
        "conv2d_naive",
        naive_variant(
            "(window * weight[o, c]).sum(dim=(1, 2))", "(window * weight[o, c]).mean(dim=(1, 2))"
        ),
        "test_conv2d_naive",
        "= 1/(K_h·K_w) = 1/9 here: a mean over each channel's window instead of a sum",
    ),
    Wrong(
        "naive_mean_over_channels_and_window",
        CONV,
        "conv2d_naive",
        naive_variants(
            ("out[:, o, i, j] = acc", "out[:, o, i, j] = acc / (c_in * k_h * k_w)"),
        ),
        "test_conv2d_naive",
        "1/(C_in·K_h·K_w)",
    ),
    Wrong(
        "naive_channel_loop_bounded_by_c_out",
        CONV,
        "conv2d_naive",
        naive_variant("for c in range(c_in):", "for c in range(c_out):"),
        "test_conv2d_naive",
        "whenever C_in ≠ C_out",
    ),
    Wrong(
        "naive_windows_from_unpadded_input",
        CONV,
        "conv2d_naive",
        naive_variant("window = xp[:, c,", "window = x[:, c,"),
        "test_conv2d_naive",
        "whenever there is padding",
    ),
    Wrong(
        "naive_padded_twice",
        CONV,
        "conv2d_naive",
        naive_variant(
            "xp = torch.nn.functional.pad(x, (p_w, p_w, p_h, p_h))",
            "xp = torch.nn.functional.pad(torch.nn.functional.pad(x, (p_w, p_w, p_h, p_h)), (p_w, p_w, p_h, p_h))",
        ),
        "test_conv2d_naive",
        "the answer is wrong whenever there is padding",
    ),
    Wrong(
        "naive_squeezed",
        CONV,
        "conv2d_naive",
        naive_variant("    return out\n", "    return out.squeeze()\n"),
        "test_conv2d_naive",
        "axes of size 1 are missing",
    ),
    Wrong(
        "naive_output_sized_as_input",
        CONV,
        "conv2d_naive",
        naive_variant(
            "out = torch.zeros(n, c_out, h_out, w_out", "out = torch.zeros(n, c_out, h, w"
        ),
        "test_conv2d_naive",
        "the values are right where they are, but the output has the wrong size",
    ),
    Wrong(
        "naive_bias_subtracted",
        CONV,
        "conv2d_naive",
        naive_variant("out[:, o] += bias[o]", "out[:, o] -= bias[o]"),
        "test_conv2d_naive",
        "the bias counts -1 times",
    ),
    Wrong(
        "naive_channel_loop_short",
        CONV,
        "conv2d_naive",
        naive_variants(
            ("for c in range(c_in):", "for c in range(c_in - 1):"),
            ("acc = 0\n", "acc = torch.zeros(n, dtype=x.dtype, device=x.device)\n"),
        ),
        "test_conv2d_naive",
        "your output holds only zeros",
    ),
    Wrong(
        "naive_first_channel_twice",
        CONV,
        "conv2d_naive",
        naive_variant(
            "                acc = 0\n",
            "                acc = (xp[:, 0, i * s_h:i * s_h + k_h, j * s_w:j * s_w + k_w] * weight[o, 0]).sum(dim=(1, 2))\n",
        ),
        "test_conv2d_naive",
        "is 2 times the right one",
    ),
    Wrong(
        "naive_kernel_rows_short",
        CONV,
        "conv2d_naive",
        naive_variant(
            "window = xp[:, c, i * s_h:i * s_h + k_h, j * s_w:j * s_w + k_w]\n"
            "                    acc = acc + (window * weight[o, c]).sum(dim=(1, 2))",
            "window = xp[:, c, i * s_h:i * s_h + k_h - 1, j * s_w:j * s_w + k_w]\n"
            "                    acc = acc + (window * weight[o, c, :k_h - 1]).sum(dim=(1, 2))",
        ),
        "test_conv2d_naive",
        "(the last row) never counts",
    ),
    Wrong(
        "naive_flipped_and_loops_short",
        CONV,
        "conv2d_naive",
        naive_variants(
            ("(window * weight[o, c])", "(window * weight[o, c].flip(0, 1))"),
            ("for j in range(w_out):", "for j in range(w_out - 1):"),
        ),
        "test_conv2d_naive",
        "the kernel comes out rotated by 180°",
    ),
    Wrong(
        "naive_transposed_and_loops_short",
        CONV,
        "conv2d_naive",
        naive_variants(
            ("(window * weight[o, c])", "(window * weight[o, c].T)"),
            ("for j in range(w_out):", "for j in range(w_out - 1):"),
        ),
        "test_conv2d_naive",
        "the kernel comes out transposed",
    ),
    Wrong(
        "naive_square_kernels_and_ints_only",
        CONV,
        "conv2d_naive",
        naive_variants(
            (
                "(s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)",
                "s_h = s_w = stride\n    p_h = p_w = padding",
            ),
            ("c_out, _, k_h, k_w = weight.shape", "c_out, _, k_h, _ = weight.shape\n    k_w = k_h"),
        ),
        "test_conv2d_naive",
        "right for a square kernel",
    ),
    Wrong(
        "naive_kernel_must_fit_input",
        CONV,
        "conv2d_naive",
        naive_variant(
            "    n, c_in, h, w = x.shape\n",
            "    n, c_in, h, w = x.shape\n    if weight.shape[2] > h or weight.shape[3] > w:\n"
            "        raise ValueError('the kernel does not fit in the input')\n",
        ),
        "test_conv2d_naive",
        "whenever the kernel is larger than the input",
    ),
    Wrong(
        "fast_stride_into_unfold_dilation",
        CONV,
        "conv2d_fast",
        """
def conv2d_fast(x, weight, bias=None, stride=1, padding=0):
    (s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)
    n, c_in, h, w = x.shape
    c_out, _, k_h, k_w = weight.shape
    h_out, w_out = (h + 2 * p_h - k_h) // s_h + 1, (w + 2 * p_w - k_w) // s_w + 1
    cols = torch.nn.functional.unfold(x, (k_h, k_w), (s_h, s_w), (p_h, p_w))
    out = weight.reshape(c_out, -1) @ cols
    out = out.reshape(n, c_out, h_out, w_out)
    return out if bias is None else out + bias.view(1, -1, 1, 1)
""",
        "test_conv2d_fast",
        "whenever the stride is not 1",
        cascade=FAST_CASCADE,
    ),
    Wrong(
        "fast_weights_flattened_in_another_order",
        CONV,
        "conv2d_fast",
        fast_variant(
            "out = columns @ weight.reshape(c_out, -1).T",
            "out = columns @ weight.permute(0, 2, 3, 1).reshape(c_out, -1).T",
        ),
        "test_conv2d_fast",
        "each weight multiplies the wrong input value",
        cascade=FAST_CASCADE,
    ),
    Wrong(
        "fast_weight_made_float32",
        CONV,
        "conv2d_fast",
        fast_variant(
            "out = columns @ weight.reshape(c_out, -1).T",
            "out = columns @ weight.reshape(c_out, -1).float().T",
        ),
        "test_conv2d_fast",
        "create every new tensor with dtype=x.dtype",
    ),
    Wrong(
        "fast_as_strided_strides_from_shape",
        CONV,
        "conv2d_fast",
        """
def conv2d_fast(x, weight, bias=None, stride=1, padding=0):
    (s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)
    xp = torch.nn.functional.pad(x, (p_w, p_w, p_h, p_h)) if p_h or p_w else x
    n, c, h, w = xp.shape
    c_out, _, k_h, k_w = weight.shape
    h_out, w_out = (h - k_h) // s_h + 1, (w - k_w) // s_w + 1
    windows = xp.as_strided((n, c, h_out, w_out, k_h, k_w), (c * h * w, h * w, w * s_h, s_w, w, 1))
    out = torch.einsum("nchwij,ocij->nohw", windows, weight)
    return out if bias is None else out + bias[None, :, None, None]
""",
        "test_conv2d_fast",
        "take the strides from .stride()",
    ),
    Wrong(
        "fast_view_of_input",
        CONV,
        "conv2d_fast",
        fast_variant(
            "    xp = torch.nn.functional.pad(x, (p_w, p_w, p_h, p_h))\n",
            "    xp = torch.nn.functional.pad(x.view(x.shape[0], c_in, -1).view(x.shape), (p_w, p_w, p_h, p_h))\n",
        ),
        "test_conv2d_fast",
        "view and as_strided only on one they know",
    ),
    Wrong(
        "fast_output_not_reshaped",
        CONV,
        "conv2d_fast",
        fast_variant(
            "out = out.reshape(n, h_out, w_out, c_out).permute(0, 3, 1, 2)",
            "out = out.reshape(n, h_out * w_out, c_out).permute(0, 2, 1)",
        ).replace("out = out + bias.view(1, -1, 1, 1)", "out = out + bias.view(1, -1, 1)"),
        "test_conv2d_fast",
        "the values are right and in the right order, but the output has another shape",
        cascade=FAST_CASCADE,
    ),
    Wrong(
        "module_backward_kernel_not_rotated",
        CONV,
        "Conv2d",
        BACKWARD,
        "test_Conv2d",
        "dL/dx is what the kernel without its 180° rotation gives",
    ),
    Wrong(
        "module_backward_no_stride_gaps",
        CONV,
        "Conv2d",
        variant_of(
            BACKWARD,
            ROTATED,
            ("g[:, :, ::s_h, ::s_w] = grad_out", "g[:, :, :h_out, :w_out] = grad_out"),
        ),
        "test_Conv2d",
        "the forward pass and dL/dweight are right, but dL/dx is wrong",
    ),
    Wrong(
        "module_backward_dw_of_first_image",
        CONV,
        "Conv2d",
        variant_of(
            BACKWARD,
            ROTATED,
            (
                'dw = torch.einsum("nohw,nchwij->ocij", grad_out, cols)',
                'dw = torch.einsum("nohw,nchwij->ocij", grad_out[:1], cols[:1])',
            ),
        ),
        "test_Conv2d",
        "the forward pass and dL/dx are right, but dL/dweight is wrong",
    ),
    Wrong(
        "module_backward_db_mean",
        CONV,
        "Conv2d",
        variant_of(
            BACKWARD,
            ROTATED,
            ("db = grad_out.sum(dim=(0, 2, 3))", "db = grad_out.mean(dim=(0, 2, 3))"),
        ),
        "test_Conv2d",
        "but dL/dbias is wrong",
    ),
    Wrong(
        "module_backward_divided_by_n",
        CONV,
        "Conv2d",
        variant_of(
            BACKWARD,
            ROTATED,
            ("return dx, dw, db, None, None", "return dx / n, dw / n, db, None, None"),
        ),
        "test_Conv2d",
        "the gradients of x and weight are wrong: dL/dx is 0.5 times the right one",
    ),
    Wrong(
        "corr_padded_float32",
        CONV,
        "corr2d_padded",
        CORR_PADDED.replace(
            "dtype=image.dtype, device=image.device)\n    for", "device=image.device)\n    for"
        ),
        "test_corr2d_padded",
        "dtype torch.float32 but the inputs are torch.float64",
    ),
    Wrong(
        "corr_padded_flipped",
        CONV,
        "corr2d_padded",
        CORR_PADDED.replace("* kernel).sum()", "* kernel.flip(0, 1)).sum()"),
        "test_corr2d_padded",
        "the kernel is flipped",
    ),
    Wrong(
        "corr_padded_ints_only",
        CONV,
        "corr2d_padded",
        CORR_PADDED.replace(
            "(p_h, p_w), (h, w), (k_h, k_w) = pair(padding), image.shape, kernel.shape",
            "p_h = p_w = padding\n    (h, w), (k_h, k_w) = image.shape, kernel.shape",
        ),
        "test_corr2d_padded",
        "padding given as an int works, but not as a (P_h, P_w) pair",
    ),
    Wrong(
        "corr_padded_pair_swapped",
        CONV,
        "corr2d_padded",
        CORR_PADDED.replace("(p_h, p_w), (h, w)", "(p_w, p_h), (h, w)"),
        "test_corr2d_padded",
        "the (P_h, P_w) pair is used the wrong way round",
    ),
    Wrong(
        "corr_padded_first_number_only",
        CONV,
        "corr2d_padded",
        CORR_PADDED.replace(
            "= pair(padding), image.shape, kernel.shape\n",
            "= pair(padding), image.shape, kernel.shape\n    p_w = p_h\n",
        ),
        "test_corr2d_padded",
        "only one number of the (P_h, P_w) pair is used",
    ),
    Wrong(
        "corr_padded_kernel_must_fit",
        CONV,
        "corr2d_padded",
        CORR_PADDED.replace(
            "    (p_h, p_w), (h, w)",
            "    if kernel.shape[0] > image.shape[0] or kernel.shape[1] > image.shape[1]:\n"
            "        raise ValueError('kernel larger than image')\n    (p_h, p_w), (h, w)",
        ),
        "test_corr2d_padded",
        "whenever the kernel is larger than the image",
    ),
    Wrong(
        "corr_padded_after_correlation",
        CONV,
        "corr2d_padded",
        """
def corr2d_padded(image, kernel, padding):
    (p_h, p_w), (h, w), (k_h, k_w) = pair(padding), image.shape, kernel.shape
    out = torch.zeros(h - k_h + 1, w - k_w + 1, dtype=image.dtype, device=image.device)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = (image[i : i + k_h, j : j + k_w] * kernel).sum()
    return torch.nn.functional.pad(out, (p_w, p_w, p_h, p_h))
""",
        "test_corr2d_padded",
        "the values are right where the window lies inside the image",
    ),
    Wrong(
        "corr_padded_one_side",
        CONV,
        "corr2d_padded",
        CORR_PADDED.replace(
            "padded[p_h : p_h + h, p_w : p_w + w] = image", "padded[:h, :w] = image"
        ),
        "test_corr2d_padded",
        "your output is the right one moved",
    ),
    Wrong(
        "corr_padded_size_from_one_side",
        CONV,
        "corr2d_padded",
        CORR_PADDED.replace(
            "h_out, w_out = h + 2 * p_h - k_h + 1, w + 2 * p_w - k_w + 1",
            "h_out, w_out = h + p_h - k_h + 1, w + p_w - k_w + 1",
        ),
        "test_corr2d_padded",
        "right with the image padded with zeros beforehand",
    ),
    Wrong(
        "corr_padded_image_sized",
        CONV,
        "corr2d_padded",
        CORR_PADDED.replace(
            "h_out, w_out = h + 2 * p_h - k_h + 1, w + 2 * p_w - k_w + 1", "h_out, w_out = h, w"
        ),
        "test_corr2d_padded",
        "the output is (H + 2P_h − K_h + 1, W + 2P_w − K_w + 1)",
    ),
    Wrong(
        "corr_padded_mean",
        CONV,
        "corr2d_padded",
        CORR_PADDED.replace("* kernel).sum()", "* kernel).mean()"),
        "test_corr2d_padded",
        "a mean over the window instead of a sum",
    ),
]

CORRECT += [
    Correct(
        "naive_vectorised_over_channels",
        CONV,
        "conv2d_naive",
        """
def conv2d_naive(x, weight, bias=None, stride=1, padding=0):
    (s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)
    padded = torch.nn.functional.pad(x, (p_w, p_w, p_h, p_h))
    k_h, k_w = weight.shape[-2:]
    h_out = (padded.shape[2] - k_h) // s_h + 1
    w_out = (padded.shape[3] - k_w) // s_w + 1
    rows = []
    for i in range(h_out):
        row = []
        for j in range(w_out):
            window = padded[:, :, i * s_h : i * s_h + k_h, j * s_w : j * s_w + k_w]
            row.append(torch.einsum("ncuv,ocuv->no", window, weight))
        rows.append(torch.stack(row, dim=-1))
    out = torch.stack(rows, dim=-2)
    return out if bias is None else out + bias[:, None, None]
""",
    ),
    Correct(
        "fast_functional_unfold",
        CONV,
        "conv2d_fast",
        """
def conv2d_fast(x, weight, bias=None, stride=1, padding=0):
    (s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)
    n, _, h, w = x.shape
    c_out, _, k_h, k_w = weight.shape
    h_out, w_out = (h + 2 * p_h - k_h) // s_h + 1, (w + 2 * p_w - k_w) // s_w + 1
    cols = torch.nn.functional.unfold(x, (k_h, k_w), padding=(p_h, p_w), stride=(s_h, s_w))
    out = (weight.reshape(c_out, -1) @ cols).reshape(n, c_out, h_out, w_out)
    return out if bias is None else out + bias.view(1, -1, 1, 1)
""",
    ),
    Correct("module_backward_by_hand", CONV, "Conv2d", variant_of(BACKWARD, ROTATED)),
    Correct("corr_padded_loops", CONV, "corr2d_padded", CORR_PADDED),
    Correct(
        "corr_padded_pad_and_unfold",
        CONV,
        "corr2d_padded",
        """
def corr2d_padded(image, kernel, padding):
    p_h, p_w = pair(padding)
    padded = torch.nn.functional.pad(image, (p_w, p_w, p_h, p_h))
    windows = padded.unfold(0, kernel.shape[0], 1).unfold(1, kernel.shape[1], 1)
    return (windows * kernel).sum(dim=(-2, -1))
""",
    ),
    Correct(
        "corr_padded_as_strided",
        CONV,
        "corr2d_padded",
        """
def corr2d_padded(image, kernel, padding):
    p_h, p_w = pair(padding)
    padded = torch.nn.functional.pad(image, (p_w, p_w, p_h, p_h)).contiguous()
    (h, w), (k_h, k_w) = padded.shape, kernel.shape
    s_row, s_col = padded.stride()
    windows = padded.as_strided((h - k_h + 1, w - k_w + 1, k_h, k_w), (s_row, s_col, s_row, s_col))
    return torch.einsum("ijuv,uv->ij", windows, kernel)
""",
    ),
]


# ---------------------------------------------------------------------------------------------
# Helper D2's entries of this round (issues 22, 23): every message of the activations, the dense
# layer, the gradients, the SGD step, the constants and same_padding reached by a mistake, and
# real-world correct styles; then the entries of the new graded functions (mlp_forward,
# mlp_param_count, conv_output_shape, conv_layer_cost).


def fn(name: str, args: str, body: str) -> str:
    """A one-function cell: ``def name(args):`` and the indented ``body``."""
    lines = "\n".join("    " + line for line in body.strip("\n").splitlines())
    return f"\ndef {name}({args}):\n{lines}\n"


def sigmoid_code(body: str) -> str:
    return fn("sigmoid", "x", body)


def tanh_code(body: str) -> str:
    return fn("tanh", "x", body)


def relu_code(body: str) -> str:
    return fn("relu", "x", body)


def dense_code(body: str) -> str:
    return fn("dense_forward", "x, W, b, activation", body)


def gradients_code(body: str) -> str:
    return fn("neuron_gradients", "x, w, b, target", body)


def sgd_code(body: str) -> str:
    return fn("sgd_step", "w, b, grad_w, grad_b, lr", body)


GRADIENT_START = "y = torch.sigmoid(x @ w + b)\n"

WRONG += [
    Wrong(
        "sigmoid_exp_ratio_overflow",
        NN,
        "sigmoid",
        sigmoid_code("return torch.exp(x) / (1 + torch.exp(x))"),
        "test_sigmoid",
        "eˣ / (1 + eˣ) divides inf by inf for large positive x",
    ),
    Wrong(
        "sigmoid_precedence",
        NN,
        "sigmoid",
        sigmoid_code("return 1 / 1 + torch.exp(-x)"),
        "test_sigmoid",
        "1 / 1 + exp(−x) is read as (1 / 1) + exp(−x)",
    ),
    Wrong(
        "sigmoid_math_exp",
        NN,
        "sigmoid",
        sigmoid_code("return 1 / (1 + math.exp(-x))"),
        "test_sigmoid",
        "math.exp (like float(x) or x.item()) turns a tensor into one Python number",
    ),
    Wrong(
        "sigmoid_minus_in_denominator",
        NN,
        "sigmoid",
        sigmoid_code("return 1 / (1 - torch.exp(-x))"),
        "test_sigmoid",
        "the denominator is 1 + exp(−x), not 1 − exp(−x)",
    ),
    Wrong(
        "sigmoid_returns_derivative",
        NN,
        "sigmoid",
        sigmoid_code("s = 1 / (1 + torch.exp(-x))\nreturn s * (1 - s)"),
        "test_sigmoid",
        "this is the sigmoid's derivative",
    ),
    Wrong(
        "sigmoid_normalised_over_x",
        NN,
        "sigmoid",
        sigmoid_code("e = torch.exp(x - x.max())\nreturn e / e.sum()"),
        "test_sigmoid",
        "the value at one position depends on the other values of x",
    ),
    Wrong(
        "sigmoid_python_if",
        NN,
        "sigmoid",
        sigmoid_code(
            "if x >= 0:\n    return 1 / (1 + torch.exp(-x))\ne = torch.exp(x)\nreturn e / (1 + e)"
        ),
        "test_sigmoid",
        "Python's `if`, `and`/`or`, `max` and `min` decide on one value at a time",
    ),
    Wrong(
        "sigmoid_half_scale",
        NN,
        "sigmoid",
        sigmoid_code("return 0.5 / (1 + torch.exp(-x))"),
        "test_sigmoid",
        "every value of your output is 0.5 times the right one",
    ),
    Wrong(
        "sigmoid_float_for_scalar",
        NN,
        "sigmoid",
        sigmoid_code(
            "if x.ndim == 0:\n    return 1 / (1 + math.exp(-float(x)))\n"
            "return 1 / (1 + torch.exp(-x))"
        ),
        "test_sigmoid",
        "a Python number, not a tensor",
    ),
    Wrong(
        "sigmoid_numpy_array",
        NN,
        "sigmoid",
        sigmoid_code("import numpy as np\nreturn 1 / (1 + np.exp(-x.numpy()))"),
        "test_sigmoid",
        "returns a NumPy array, not a tensor",
    ),
    Wrong(
        "tanh_sinh",
        NN,
        "tanh",
        tanh_code("return (torch.exp(x) - torch.exp(-x)) / 2"),
        "test_tanh",
        "this is sinh(x)",
    ),
    Wrong(
        "tanh_upside_down",
        NN,
        "tanh",
        tanh_code("return (torch.exp(x) + torch.exp(-x)) / (torch.exp(x) - torch.exp(-x))"),
        "test_tanh",
        "numerator and denominator are swapped",
    ),
    Wrong(
        "tanh_no_brackets",
        NN,
        "tanh",
        tanh_code("return torch.exp(x) - torch.exp(-x) / torch.exp(x) + torch.exp(-x)"),
        "test_tanh",
        "the brackets are missing",
    ),
    Wrong(
        "tanh_returns_derivative",
        NN,
        "tanh",
        tanh_code(
            "e = torch.exp(-2 * x.abs())\nt = torch.sign(x) * (1 - e) / (1 + e)\nreturn 1 - t * t"
        ),
        "test_tanh",
        "this is tanh's derivative",
    ),
    Wrong(
        "tanh_minus_one_missing",
        NN,
        "tanh",
        tanh_code("return 2 / (1 + torch.exp(-2 * x))"),
        "test_tanh",
        "every value is 1 too large",
    ),
    Wrong(
        "tanh_abs_without_sign",
        NN,
        "tanh",
        tanh_code("e = torch.exp(-2 * x.abs())\nreturn (1 - e) / (1 + e)"),
        "test_tanh",
        "right for x = 0 and x > 0 but not for x < 0, where it returns −1 × the right value",
    ),
    Wrong(
        "tanh_doubled_argument",
        NN,
        "tanh",
        tanh_code("e = torch.exp(-4 * x.abs())\nreturn torch.sign(x) * (1 - e) / (1 + e)"),
        "test_tanh",
        "every value is tanh(2x), not tanh(x)",
    ),
    Wrong(
        "relu_python_max",
        NN,
        "relu",
        relu_code("return max(x, 0)"),
        "test_relu",
        "Python's `if`, `and`/`or`, `max` and `min` decide on one value at a time",
    ),
    Wrong(
        "relu_leaky",
        NN,
        "relu",
        relu_code("return torch.where(x > 0, x, 0.01 * x)"),
        "test_relu",
        "negative values are multiplied by a small slope",
    ),
    Wrong(
        "relu_identity_for_negatives",
        NN,
        "relu",
        relu_code("return torch.where(x > 0, x, x * 0.5)"),
        "test_relu",
        "right for x = 0 and x > 0 but not for x < 0, where it returns 0.5 × x",
    ),
    Wrong(
        "relu_bool_mask",
        NN,
        "relu",
        relu_code("return x > 0"),
        "test_relu",
        "not a 0/1 mask of where x > 0",
    ),
    Wrong(
        "relu_view_flat",
        NN,
        "relu",
        relu_code("return x.view(-1).clamp(min=0).view(x.shape)"),
        "test_relu",
        "whenever x is a transposed view (not contiguous in memory)",
    ),
    Wrong(
        "relu_loop_float32",
        NN,
        "relu",
        relu_code(
            "flat = [max(v, 0.0) for v in x.flatten().tolist()]\n"
            "return torch.tensor(flat).reshape(x.shape)"
        ),
        "test_relu",
        "has dtype torch.float32 but the inputs are torch.float64",
    ),
    Wrong(
        "relu_loop_one_dimension",
        NN,
        "relu",
        relu_code(
            "out = x.clone()\nfor i in range(len(x)):\n    if out[i] < 0:\n        out[i] = 0\nreturn out"
        ),
        "test_relu",
        "Python's `if`, `and`/`or`, `max` and `min` decide on one value at a time",
    ),
    Wrong(
        "relu_list_of_values",
        NN,
        "relu",
        relu_code("return torch.tensor([max(v, 0.0) for v in x.tolist()], dtype=x.dtype)"),
        "test_relu",
        "x flattened to 1-d",
    ),
    Wrong(
        "relu_softplus",
        NN,
        "relu",
        relu_code("return torch.log(1 + torch.exp(x))"),
        "test_relu",
        "ReLU needs no exp at all",
    ),
    Wrong(
        "dense_w_times_x",
        NN,
        "dense_forward",
        dense_code("return activation(W @ x + b)"),
        "test_dense_forward",
        "your code multiplies a (3, 4) tensor (the shape of W) by a (5, 4) tensor (the shape of x)",
    ),
    Wrong(
        "dense_product_transposed",
        NN,
        "dense_forward",
        dense_code("return activation(W @ x.T + b)"),
        "test_dense_forward",
        "met an axis of 5 values (N) and an axis of 3 values (D_out)",
    ),
    Wrong(
        "dense_linear_only",
        NN,
        "dense_forward",
        dense_code("return x @ W.T"),
        "test_dense_forward",
        "only x @ W.T is computed",
    ),
    Wrong(
        "dense_activation_on_inputs",
        NN,
        "dense_forward",
        dense_code("return activation(x) @ W.T + b"),
        "test_dense_forward",
        "the activation is applied to the inputs x",
    ),
    Wrong(
        "dense_always_tanh",
        NN,
        "dense_forward",
        dense_code("return torch.tanh(x @ W.T + b)"),
        "test_dense_forward",
        "use the activation you are given",
    ),
    Wrong(
        "dense_first_row_everywhere",
        NN,
        "dense_forward",
        dense_code("return activation(x[0] @ W.T + b).expand(x.shape[0], -1)"),
        "test_dense_forward",
        "every row of the output is the first example's",
    ),
    Wrong(
        "dense_squeezed",
        NN,
        "dense_forward",
        dense_code("return activation(x @ W.T + b).squeeze()"),
        "test_dense_forward",
        "keep the batch axis of size 1",
    ),
    Wrong(
        "dense_zeros_float32",
        NN,
        "dense_forward",
        dense_code(
            "out = torch.zeros(x.shape[0], W.shape[0])\nfor n in range(x.shape[0]):\n"
            "    out[n] = activation(W @ x[n] + b)\nreturn out"
        ),
        "test_dense_forward",
        "has dtype torch.float32 but the inputs are torch.float64",
    ),
    Wrong(
        "dense_bias_first_value",
        NN,
        "dense_forward",
        dense_code("return activation(x @ W.T + b[0])"),
        "test_dense_forward",
        "only output unit o = ",
    ),
    Wrong(
        "gradients_loss_for_derivative",
        NN,
        "neuron_gradients",
        gradients_code(
            GRADIENT_START + "dz = 0.5 * (y - target) ** 2 * y * (1 - y) / len(x)\n"
            "return dz @ x, dz.sum()"
        ),
        "test_neuron_gradients",
        "the loss ½(y − t)² stands where its derivative belongs",
    ),
    Wrong(
        "gradients_tanh_derivative",
        NN,
        "neuron_gradients",
        gradients_code(
            GRADIENT_START + "dz = (y - target) * (1 - y**2) / len(x)\nreturn dz @ x, dz.sum()"
        ),
        "test_neuron_gradients",
        "1 − y² is the derivative of tanh",
    ),
    Wrong(
        "gradients_dw_per_example",
        NN,
        "neuron_gradients",
        gradients_code(
            GRADIENT_START
            + "dz = (y - target) * y * (1 - y) / len(x)\nreturn dz[:, None] * x, dz.sum()"
        ),
        "test_neuron_gradients",
        "dL/dw is left per example, shape (N, D)",
    ),
    Wrong(
        "gradients_db_mean_of_mean",
        NN,
        "neuron_gradients",
        gradients_code(
            GRADIENT_START + "dz = (y - target) * y * (1 - y) / len(x)\nreturn dz @ x, dz.mean()"
        ),
        "test_neuron_gradients",
        "dL/db is divided by N twice",
    ),
    Wrong(
        "gradients_two_slips",
        NN,
        "neuron_gradients",
        gradients_code(GRADIENT_START + "dz = 2 * (y - target) / len(x)\nreturn dz @ x, dz.sum()"),
        "test_neuron_gradients",
        "two slips: σ'(z) = σ(z)(1 − σ(z)) is missing",
    ),
    Wrong(
        "gradients_x_times_dz",
        NN,
        "neuron_gradients",
        gradients_code(
            GRADIENT_START + "dz = (y - target) * y * (1 - y) / len(x)\nreturn x @ dz, dz.sum()"
        ),
        "test_neuron_gradients",
        "your code multiplies a (6, 3) tensor (the shape of x) by a (6,) tensor",
    ),
    Wrong(
        "gradients_target_added",
        NN,
        "neuron_gradients",
        gradients_code(
            GRADIENT_START + "dz = (y + target) * y * (1 - y) / len(x)\nreturn dz @ x, dz.sum()"
        ),
        "test_neuron_gradients",
        "your chain rule is not (y − t) times the rest",
    ),
    Wrong(
        "gradients_sigma_prime_misremembered",
        NN,
        "neuron_gradients",
        gradients_code(
            GRADIENT_START + "dz = (y - target) * y * (2 - y) / len(x)\nreturn dz @ x, dz.sum()"
        ),
        "test_neuron_gradients",
        "your chain rule lacks the factor σ'(z) = y(1 − y), or has another in its place",
    ),
    Wrong(
        "gradients_halved_sum",
        NN,
        "neuron_gradients",
        gradients_code(
            GRADIENT_START + "dz = (y - target) * y * (1 - y) / 2\nreturn dz @ x, dz.sum()"
        ),
        "test_neuron_gradients",
        "they grow with the batch like a sum",
    ),
    Wrong(
        "gradients_loop_one_too_far",
        NN,
        "neuron_gradients",
        gradients_code(
            "gw, gb = torch.zeros_like(w), 0.0\nfor i in range(len(x) + 1):\n"
            "    y = torch.sigmoid(x[i] @ w + b)\n"
            "    d = (y - target[i]) * y * (1 - y) / len(x)\n"
            "    gw, gb = gw + d * x[i], gb + d\nreturn gw, gb"
        ),
        "test_neuron_gradients",
        "a loop or an index runs one step too far",
    ),
    Wrong(
        "sgd_weight_doubled",
        NN,
        "sgd_step",
        sgd_code("return 2 * w - lr * grad_w, b - lr * grad_b"),
        "test_sgd_step",
        "raising w by 1 moves your new w by 2",
    ),
    Wrong(
        "tanh_factor_three_halves",
        NN,
        "tanh",
        tanh_code("e = torch.exp(-3 * x.abs())\nreturn torch.sign(x) * (1 - e) / (1 + e)"),
        "test_tanh",
        "tanh(k·x) with k = 1.5",
    ),
    Wrong(
        "sgd_bias_with_grad_w",
        NN,
        "sgd_step",
        sgd_code("return w - lr * grad_w, b - lr * grad_w"),
        "test_sgd_step",
        "b is updated with grad_w",
    ),
    Wrong(
        "sgd_w_frozen",
        NN,
        "sgd_step",
        sgd_code("return w, b - lr * grad_b"),
        "test_sgd_step",
        "w learns too",
    ),
    Wrong(
        "sgd_swapped",
        NN,
        "sgd_step",
        sgd_code("return b - lr * grad_b, w - lr * grad_w"),
        "test_sgd_step",
        "the pair comes back the other way round",
    ),
    Wrong(
        "sgd_lr_squared",
        NN,
        "sgd_step",
        sgd_code("return w - lr * lr * grad_w, b - lr * lr * grad_b"),
        "test_sgd_step",
        "lr² = 0.01: lr is applied twice",
    ),
    Wrong(
        "sgd_fixed_rate",
        NN,
        "sgd_step",
        sgd_code("return w - 0.1 * grad_w, b - 0.1 * grad_b"),
        "test_sgd_step",
        "each value of the new w is the old one minus 0.1 × its gradient",
    ),
    Wrong(
        "constants_both_wrong",
        CONV,
        "param_constants",
        constants("(32 * 32, 1)", "(5 * 5, 1)"),
        "test_param_constants",
        "FC_NEURON_PARAMS = (1024, 1) is not right",
    ),
    Wrong(
        "same_padding_no_error",
        CONV,
        "same_padding",
        fn("same_padding", "kernel_size", "return (kernel_size - 1) // 2"),
        "test_same_padding",
        "should raise ValueError for an even kernel",
    ),
    Wrong(
        "same_padding_assert",
        CONV,
        "same_padding",
        fn("same_padding", "kernel_size", "assert kernel_size % 2 == 1\nreturn kernel_size // 2"),
        "test_same_padding",
        "raises AssertionError for an even kernel",
    ),
    Wrong(
        "same_padding_float",
        CONV,
        "same_padding",
        fn(
            "same_padding",
            "kernel_size",
            "if kernel_size % 2 == 0:\n    raise ValueError('even')\nreturn (kernel_size - 1) / 2",
        ),
        "test_same_padding",
        "a float: return an int",
    ),
]

CORRECT += [
    Correct("sigmoid_plain_formula", NN, "sigmoid", sigmoid_code("return 1 / (1 + torch.exp(-x))")),
    Correct(
        "sigmoid_logaddexp",
        NN,
        "sigmoid",
        sigmoid_code("return torch.exp(-torch.logaddexp(torch.zeros_like(x), -x))"),
    ),
    Correct(
        "sigmoid_masks",
        NN,
        "sigmoid",
        sigmoid_code(
            "out = torch.empty_like(x)\npos = x >= 0\n"
            "out[pos] = 1 / (1 + torch.exp(-x[pos]))\n"
            "e = torch.exp(x[~pos])\nout[~pos] = e / (1 + e)\nreturn out"
        ),
    ),
    Correct(
        "sigmoid_clamped",
        NN,
        "sigmoid",
        sigmoid_code("return torch.reciprocal(1 + torch.exp(-x.clamp(-80, 80)))"),
    ),
    Correct(
        "tanh_one_minus_ratio",
        NN,
        "tanh",
        tanh_code("return 1 - 2 / (torch.exp(2 * x) + 1)"),
    ),
    Correct(
        "tanh_where_both_sides",
        NN,
        "tanh",
        tanh_code(
            "e = torch.exp(-2 * x.abs())\n"
            "return torch.where(x >= 0, (1 - e) / (1 + e), (e - 1) / (e + 1))"
        ),
    ),
    Correct(
        "relu_maximum",
        NN,
        "relu",
        relu_code("return torch.maximum(x, torch.zeros_like(x))"),
    ),
    Correct("relu_abs_average", NN, "relu", relu_code("return (x + x.abs()) / 2")),
    Correct("relu_masked_fill", NN, "relu", relu_code("return x.masked_fill(x < 0, 0)")),
    Correct(
        "dense_einsum",
        NN,
        "dense_forward",
        dense_code("return activation(torch.einsum('ni,oi->no', x, W) + b)"),
    ),
    Correct(
        "dense_matmul_order",
        NN,
        "dense_forward",
        dense_code("return activation(torch.matmul(W, x.T).T + b)"),
    ),
    Correct(
        "dense_addmm", NN, "dense_forward", dense_code("return activation(torch.addmm(b, x, W.T))")
    ),
    Correct(
        "dense_broadcast_sum",
        NN,
        "dense_forward",
        dense_code("return activation((x[:, None, :] * W[None, :, :]).sum(-1) + b)"),
    ),
    Correct(
        "dense_linear",
        NN,
        "dense_forward",
        dense_code("return activation(torch.nn.functional.linear(x, W, b))"),
    ),
    Correct(
        "gradients_transposed_product",
        NN,
        "neuron_gradients",
        gradients_code(
            GRADIENT_START + "dz = (y - target) * y * (1 - y)\n"
            "return x.T @ dz / x.shape[0], dz.mean().reshape(1)"
        ),
    ),
    Correct(
        "gradients_loop_python_float",
        NN,
        "neuron_gradients",
        gradients_code(
            "n = x.shape[0]\ngw = torch.zeros_like(w)\ngb = 0.0\nfor i in range(n):\n"
            "    y = 1 / (1 + torch.exp(-(x[i] @ w + b)))\n"
            "    d = (y - target[i]) * y * (1 - y) / n\n"
            "    gw = gw + d * x[i]\n    gb += float(d)\nreturn gw, gb"
        ),
    ),
    Correct(
        "sgd_sub_alpha",
        NN,
        "sgd_step",
        sgd_code("return torch.sub(w, grad_w, alpha=lr), torch.sub(b, grad_b, alpha=lr)"),
    ),
    Correct(
        "constants_channels_first",
        CONV,
        "param_constants",
        constants("(3 * 32 * 32, 1)", "(3 * 5 * 5, 1)"),
    ),
    Correct(
        "same_padding_floor_half",
        CONV,
        "same_padding",
        fn(
            "same_padding",
            "kernel_size",
            "if not kernel_size % 2:\n    raise ValueError(f'{kernel_size} is even')\n"
            "return kernel_size // 2",
        ),
    ),
]


def mlp_code(body: str) -> str:
    return fn("mlp_forward", "x, layers, activation", body)


def mlp_count_code(body: str) -> str:
    return fn("mlp_param_count", "sizes, bias=True", body)


def shape_code(body: str) -> str:
    return fn("conv_output_shape", "x_shape, weight_shape, stride=1, padding=0", body)


def cost_code(body: str) -> str:
    return fn("conv_layer_cost", "x_shape, weight_shape, stride=1, padding=0, bias=True", body)


MLP = """h = x
for i, (W, b) in enumerate(layers):
    h = h @ W.T + b
    if i < len(layers) - 1:
        h = activation(h)
return h"""
MLP_COUNT = "return sum(a * b + (b if bias else 0) for a, b in zip(sizes, sizes[1:]))"
SHAPE = """(s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)
n, c_in, h, w = x_shape
c_out, c_in_w, k_h, k_w = weight_shape
if c_in != c_in_w or min(s_h, s_w) < 1 or min(p_h, p_w) < 0:
    raise ValueError("impossible layer")
if k_h > h + 2 * p_h or k_w > w + 2 * p_w:
    raise ValueError("kernel larger than the padded input")
return (n, c_out, (h + 2 * p_h - k_h) // s_h + 1, (w + 2 * p_w - k_w) // s_w + 1)"""
COST = """(s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)
n, c_in, h, w = x_shape
c_out, _, k_h, k_w = weight_shape
h_out, w_out = (h + 2 * p_h - k_h) // s_h + 1, (w + 2 * p_w - k_w) // s_w + 1
params = c_out * c_in * k_h * k_w + (c_out if bias else 0)
return params, n * c_out * h_out * w_out * c_in * k_h * k_w"""


def mlp_wrong(name: str, body: str, message: str) -> Wrong:
    return Wrong(name, NN, "mlp_forward", mlp_code(body), "test_mlp_forward", message)


def count_wrong(name: str, body: str, message: str) -> Wrong:
    return Wrong(name, NN, "mlp_param_count", mlp_count_code(body), "test_mlp_param_count", message)


def shape_wrong(name: str, old: str, new: str, message: str, off_by_one: bool = False) -> Wrong:
    assert old in SHAPE, old
    code = shape_code(SHAPE.replace(old, new))
    return Wrong(
        name, CONV, "conv_output_shape", code, "test_conv_output_shape", message, (), off_by_one
    )


def cost_wrong(name: str, old: str, new: str, message: str) -> Wrong:
    assert old in COST, old
    code = cost_code(COST.replace(old, new))
    return Wrong(name, CONV, "conv_layer_cost", code, "test_conv_layer_cost", message)


SHAPE_RETURN = "return (n, c_out, (h + 2 * p_h - k_h) // s_h + 1, (w + 2 * p_w - k_w) // s_w + 1)"
H_OUT, W_OUT = "(h + 2 * p_h - k_h) // s_h + 1", "(w + 2 * p_w - k_w) // s_w + 1"
MACS = "n * c_out * h_out * w_out * c_in * k_h * k_w"

WRONG += [
    mlp_wrong(
        "mlp_activation_after_last",
        "h = x\nfor W, b in layers:\n    h = activation(h @ W.T + b)\nreturn h",
        "the activation is applied after the last layer too",
    ),
    mlp_wrong(
        "mlp_no_activation",
        "h = x\nfor W, b in layers:\n    h = h @ W.T + b\nreturn h",
        "the activation is missing",
    ),
    mlp_wrong(
        "mlp_activation_before",
        "h = x\nfor W, b in layers:\n    h = activation(h) @ W.T + b\nreturn h",
        "the activation is applied to each layer's input",
    ),
    mlp_wrong(
        "mlp_activation_once",
        "h = x\nfor i, (W, b) in enumerate(layers):\n    h = h @ W.T + b\n    if i == 0 and len(layers) > 1:\n        h = activation(h)\nreturn h",
        "the activation follows only the first layer",
    ),
    mlp_wrong(
        "mlp_no_bias",
        "h = x\nfor i, (W, b) in enumerate(layers):\n    h = h @ W.T\n    if i < len(layers) - 1:\n        h = activation(h)\nreturn h",
        "the biases are missing",
    ),
    mlp_wrong(
        "mlp_stops_early",
        "h = x\nfor W, b in layers[:-1]:\n    h = activation(h @ W.T + b)\nreturn h",
        "the last layer is not applied",
    ),
    mlp_wrong(
        "mlp_first_layer_only",
        "W, b = layers[0]\nreturn x @ W.T + b",
        "only the first layer is applied",
    ),
    mlp_wrong(
        "mlp_fixed_relu",
        MLP.replace("h = activation(h)", "h = torch.relu(h)"),
        "use the activation you are given",
    ),
    mlp_wrong(
        "mlp_x_every_layer",
        "h = x\nfor i, (W, b) in enumerate(layers):\n    h = x @ W.T + b\n    if i < len(layers) - 1:\n        h = activation(h)\nreturn h",
        "by a (3, 2) tensor (the shape of W of layer 2, transposed)",
    ),
    mlp_wrong(
        "mlp_w_not_transposed",
        "h = x\nfor i, (W, b) in enumerate(layers):\n    h = h @ W + b\n    if i < len(layers) - 1:\n        h = activation(h)\nreturn h",
        "your code multiplies a (3, 4) tensor (the shape of x) by a (2, 4) tensor",
    ),
    mlp_wrong(
        "mlp_unpacks_list",
        "W, b = layers\nreturn x @ W.T + b",
        "layers is a list with one (W, b) pair per layer",
    ),
    mlp_wrong(
        "mlp_returns_all",
        "h, outs = x, []\nfor i, (W, b) in enumerate(layers):\n    h = h @ W.T + b\n    if i < len(layers) - 1:\n        h = activation(h)\n    outs.append(h)\nreturn outs",
        "returns every layer's output",
    ),
    mlp_wrong(
        "mlp_squeezed",
        MLP.replace("return h", "return h.squeeze()"),
        "keep the batch axis of size 1",
    ),
    mlp_wrong(
        "mlp_third_layer_without_bias",
        "h = x\nfor i, (W, b) in enumerate(layers):\n    h = h @ W.T + (b if i < 2 else 0)\n    if i < len(layers) - 1:\n        h = activation(h)\nreturn h",
        "given only the first 2 of the 3 layers, the answer is right",
    ),
    count_wrong(
        "mlp_count_no_bias",
        "return sum(a * b for a, b in zip(sizes, sizes[1:]))",
        "the biases are not counted",
    ),
    count_wrong(
        "mlp_count_bias_flag_ignored",
        "return sum(a * b + b for a, b in zip(sizes, sizes[1:]))",
        "with bias=False there are no biases to count",
    ),
    count_wrong(
        "mlp_count_bias_per_input",
        "return sum(a * b + (a if bias else 0) for a, b in zip(sizes, sizes[1:]))",
        "each layer has one bias per output unit",
    ),
    count_wrong(
        "mlp_count_input_biases",
        "return sum(a * b for a, b in zip(sizes, sizes[1:])) + (sum(sizes) if bias else 0)",
        "the input has no biases",
    ),
    count_wrong(
        "mlp_count_last_layer_missing",
        "total = 0\nfor i in range(len(sizes) - 2):\n    total += sizes[i] * sizes[i + 1] + (sizes[i + 1] if bias else 0)\nreturn total",
        "the last layer is not counted",
    ),
    count_wrong(
        "mlp_count_first_layer_missing",
        "return sum(a * b + (b if bias else 0) for a, b in zip(sizes[1:], sizes[2:])) if len(sizes) > 2 else sizes[0] * sizes[1] + (sizes[1] if bias else 0)",
        "the first layer (from D_0 to D_1) is not counted",
    ),
    count_wrong(
        "mlp_count_one_big_layer",
        "return sizes[0] * sizes[-1] + (sizes[-1] if bias else 0)",
        "this counts one layer from D_0 straight to D_L",
    ),
    count_wrong(
        "mlp_count_added",
        "return sum(a + b + (b if bias else 0) for a, b in zip(sizes, sizes[1:]))",
        "every input of a layer connects to every unit",
    ),
    count_wrong(
        "mlp_count_last_biases_missing",
        MLP_COUNT + " - (sizes[-1] if bias else 0)",
        "the last layer has biases too",
    ),
    count_wrong(
        "mlp_count_float",
        "return float(" + MLP_COUNT.removeprefix("return ") + ")",
        "a float: return an int",
    ),
    count_wrong(
        "mlp_count_first_biases_missing",
        MLP_COUNT + " - (sizes[1] if bias and len(sizes) > 2 else 0)",
        "is exactly the 6 biases of layer 1 (of 2): that term is missing",
    ),
    shape_wrong(
        "shape_c_in_for_c_out", "return (n, c_out,", "return (n, c_in,", "C_out is weight_shape[0]"
    ),
    shape_wrong(
        "shape_hw_only", SHAPE_RETURN, f"return ({H_OUT}, {W_OUT})", "return the whole shape"
    ),
    shape_wrong(
        "shape_channels_last",
        SHAPE_RETURN,
        f"return (n, {H_OUT}, {W_OUT}, c_out)",
        "the shape is channels first",
    ),
    shape_wrong(
        "shape_h_w_swapped",
        SHAPE_RETURN,
        f"return (n, c_out, {W_OUT}, {H_OUT})",
        "H_out and W_out are swapped",
    ),
    shape_wrong("shape_square_input", W_OUT, H_OUT, "W_out is computed like H_out"),
    shape_wrong(
        "shape_kernel_swapped",
        "c_out, c_in_w, k_h, k_w = weight_shape",
        "c_out, c_in_w, k_w, k_h = weight_shape",
        "K_h is weight_shape[2]",
    ),
    shape_wrong(
        "shape_pair_first",
        "(s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)",
        "(s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)\ns_w, p_w = s_h, p_h",
        "only the first number of a (height, width) pair is used",
    ),
    shape_wrong(
        "shape_pair_swapped",
        "(s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)",
        "(s_w, s_h), (p_w, p_h) = pair(stride), pair(padding)",
        "a (height, width) pair is used the wrong way round",
    ),
    shape_wrong(
        "shape_product",
        SHAPE_RETURN,
        f"return n * c_out * ({H_OUT}) * ({W_OUT})",
        "the shape's numbers are multiplied together",
    ),
    shape_wrong(
        "shape_no_plus_one",
        SHAPE_RETURN,
        SHAPE_RETURN.replace(" // s_h + 1", " // s_h").replace(" // s_w + 1", " // s_w"),
        "don't forget the + 1",
        off_by_one=True,
    ),
    shape_wrong(
        "shape_rounds_up",
        SHAPE_RETURN,
        SHAPE_RETURN.replace(
            "(h + 2 * p_h - k_h) // s_h", "-(-(h + 2 * p_h - k_h) // s_h)"
        ).replace("(w + 2 * p_w - k_w) // s_w", "-(-(w + 2 * p_w - k_w) // s_w)"),
        "round down (⌊·⌋)",
    ),
    shape_wrong(
        "shape_stride_divides_all",
        SHAPE_RETURN,
        "return (n, c_out, (h + 2 * p_h - k_h + 1) // s_h, (w + 2 * p_w - k_w + 1) // s_w)",
        "the stride divides (n + 2P − K), before the + 1",
    ),
    shape_wrong(
        "shape_plus_two",
        SHAPE_RETURN,
        SHAPE_RETURN.replace("// s_h + 1", "// s_h + 2").replace("// s_w + 1", "// s_w + 2"),
        "off by one: the formula is",
        off_by_one=True,
    ),
    shape_wrong(
        "shape_stride_ignored",
        SHAPE_RETURN,
        "return (n, c_out, h + 2 * p_h - k_h + 1, w + 2 * p_w - k_w + 1)",
        "the stride is ignored",
    ),
    shape_wrong(
        "shape_padding_once",
        SHAPE_RETURN,
        SHAPE_RETURN.replace("2 * p_h", "p_h").replace("2 * p_w", "p_w"),
        "padding goes on both sides",
    ),
    shape_wrong(
        "shape_true_division", SHAPE_RETURN, SHAPE_RETURN.replace("//", "/"), "a float: return ints"
    ),
    shape_wrong(
        "shape_list",
        SHAPE_RETURN,
        "return [" + SHAPE_RETURN.removeprefix("return (").removesuffix(")") + "]",
        "returns a list; return a tuple",
    ),
    shape_wrong(
        "shape_ints_only",
        "(s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)",
        "s_h = s_w = stride\np_h = p_w = padding",
        "stride and padding may be (height, width) pairs as well as ints",
    ),
    shape_wrong(
        "shape_kernel_vs_unpadded",
        "if k_h > h + 2 * p_h or k_w > w + 2 * p_w:",
        "if k_h > h or k_w > w:",
        "a kernel larger than the input is fine when the padded input is as large as the kernel",
    ),
    shape_wrong(
        "shape_no_channel_check",
        "c_in != c_in_w or ",
        "",
        "should raise ValueError for x with 3 input channels and a weight made for 2",
    ),
    shape_wrong(
        "shape_kernel_must_be_smaller",
        "if k_h > h + 2 * p_h or k_w > w + 2 * p_w:",
        "if k_h >= h + 2 * p_h or k_w >= w + 2 * p_w:",
        "raises ValueError for a possible layer",
    ),
    shape_wrong(
        "shape_one_side_in_check",
        "if k_h > h + 2 * p_h or k_w > w + 2 * p_w:",
        "if k_h > h + p_h or k_w > w + p_w:",
        "gives the right answer with the padded input's shape",
    ),
    shape_wrong(
        "shape_assert",
        'raise ValueError("kernel larger than the padded input")',
        'raise AssertionError("kernel larger than the padded input")',
        "raises AssertionError for a 5-high kernel on a 4-high input",
    ),
    cost_wrong(
        "cost_no_batch",
        MACS,
        MACS.replace("n * c_out", "c_out"),
        "every image of the batch costs as much",
    ),
    cost_wrong(
        "cost_no_filters",
        MACS,
        MACS.replace("c_out * ", ""),
        "each of the C_out filters gives an output channel",
    ),
    cost_wrong(
        "cost_no_input_channels",
        MACS,
        MACS.replace(" * c_in", ""),
        "each output value sums over all C_in input channels",
    ),
    cost_wrong(
        "cost_no_kernel",
        MACS,
        MACS.replace(" * k_h * k_w", ""),
        "each output value takes K_h · K_w multiply-adds",
    ),
    cost_wrong(
        "cost_input_positions",
        MACS,
        MACS.replace("h_out * w_out", "h * w"),
        "not at every one of the H × W input pixels",
    ),
    cost_wrong(
        "cost_bias_adds",
        MACS,
        "n * h_out * w_out * params",
        "adding the bias is not a multiply-add",
    ),
    cost_wrong("cost_double", MACS, "2 * " + MACS, "count it once"),
    cost_wrong(
        "cost_bias_flag_ignored",
        "(c_out if bias else 0)",
        "c_out",
        "bias=False",
    ),
    cost_wrong(
        "cost_filter_one_channel",
        "params = c_out * c_in * k_h * k_w",
        "params = c_out * k_h * k_w",
        "each filter spans all input channels",
    ),
    cost_wrong(
        "cost_ints_only",
        "(s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)",
        "s_h = s_w = stride\np_h = p_w = padding",
        "stride and padding may be (height, width) pairs as well as ints",
    ),
    cost_wrong(
        "cost_stride_ignored",
        "// s_h + 1, (w + 2 * p_w - k_w) // s_w + 1",
        " + 1, (w + 2 * p_w - k_w) + 1",
        "the stride is ignored",
    ),
]

CORRECT += [
    Correct("mlp_loop", NN, "mlp_forward", mlp_code(MLP)),
    Correct(
        "mlp_split_last",
        NN,
        "mlp_forward",
        mlp_code(
            "*hidden, (W_last, b_last) = layers\nfor W, b in hidden:\n    x = activation(torch.addmm(b, x, W.T))\nreturn x @ W_last.T + b_last"
        ),
    ),
    Correct(
        "mlp_linear_einsum",
        NN,
        "mlp_forward",
        mlp_code(
            "for i, (W, b) in enumerate(layers):\n    x = torch.einsum('ni,oi->no', x, W) + b\n    if i + 1 < len(layers):\n        x = activation(x)\nreturn x"
        ),
    ),
    Correct(
        "mlp_recursive",
        NN,
        "mlp_forward",
        mlp_code(
            "W, b = layers[0]\nh = x @ W.T + b\nif len(layers) == 1:\n    return h\nreturn mlp_forward(activation(h), layers[1:], activation)"
        ),
    ),
    Correct(
        "mlp_count_loop",
        NN,
        "mlp_param_count",
        mlp_count_code(
            "total = 0\nfor i in range(1, len(sizes)):\n    total += sizes[i - 1] * sizes[i]\n    if bias:\n        total += sizes[i]\nreturn total"
        ),
    ),
    Correct("mlp_count_zip", NN, "mlp_param_count", mlp_count_code(MLP_COUNT)),
    Correct("shape_reference", CONV, "conv_output_shape", shape_code(SHAPE)),
    Correct(
        "shape_torch_size_floor",
        CONV,
        "conv_output_shape",
        shape_code(
            SHAPE.replace(
                SHAPE_RETURN,
                "h_out = math.floor((h + 2 * p_h - k_h) / s_h) + 1\nw_out = math.floor((w + 2 * p_w - k_w) / s_w) + 1\nreturn torch.Size([n, c_out, h_out, w_out])",
            )
        ),
    ),
    Correct("cost_reference", CONV, "conv_layer_cost", cost_code(COST)),
    Correct(
        "cost_prod",
        CONV,
        "conv_layer_cost",
        cost_code(
            "n, c_in, h, w = x_shape\nc_out, _, k_h, k_w = weight_shape\n"
            "(s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)\n"
            "out = (n, c_out, (h + 2 * p_h - k_h) // s_h + 1, (w + 2 * p_w - k_w) // s_w + 1)\n"
            "params = math.prod(weight_shape) + (c_out if bias else 0)\n"
            "return params, math.prod(out) * math.prod(weight_shape[1:])"
        ),
    ),
]
