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
        "nan or inf",
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
        "neuron_activation_before_bias",
        NN,
        "neuron",
        """
def neuron(x, w, b, activation):
    return activation(x @ w) + b
""",
        "test_neuron",
        "before the activation",
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
        "dense_count_no_bias",
        NN,
        "dense_param_count",
        """
def dense_param_count(in_features, out_features, bias=True):
    return in_features * out_features
""",
        "test_dense_param_count",
        "forget the biases",
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
        "conv_count_no_channels",
        CONV,
        "conv_param_count",
        """
def conv_param_count(in_channels, out_channels, kernel_size, bias=True):
    k_h, k_w = pair(kernel_size)
    return out_channels * k_h * k_w + (out_channels if bias else 0)
""",
        "test_conv_param_count",
        "spans all input channels",
    ),
    Wrong(
        "output_size_padding_once",
        CONV,
        "conv_output_size",
        """
def conv_output_size(in_size, kernel_size, stride=1, padding=0):
    if stride < 1 or padding < 0 or kernel_size > in_size + 2 * padding:
        raise ValueError("invalid")
    return (in_size + padding - kernel_size) // stride + 1
""",
        "test_conv_output_size",
        "both sides",
    ),
    Wrong(
        "output_size_never_raises",
        CONV,
        "conv_output_size",
        """
def conv_output_size(in_size, kernel_size, stride=1, padding=0):
    return (in_size + 2 * padding - kernel_size) // max(stride, 1) + 1
""",
        "test_conv_output_size",
        "should raise ValueError",
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
    Wrong(
        "corr2d_flipped",
        CONV,
        "corr2d",
        """
def corr2d(image, kernel):
    kernel = torch.flip(kernel, (0, 1))
    k_h, k_w = kernel.shape
    out = torch.zeros(image.shape[0] - k_h + 1, image.shape[1] - k_w + 1, dtype=image.dtype, device=image.device)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = (image[i:i + k_h, j:j + k_w] * kernel).sum()
    return out
""",
        "test_corr2d",
        "flipped",
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
    Correct(
        "output_size_float_floor",
        CONV,
        "conv_output_size",
        """
def conv_output_size(in_size, kernel_size, stride=1, padding=0):
    if stride < 1:
        raise ValueError("stride must be >= 1")
    if padding < 0:
        raise ValueError("padding must be >= 0")
    if kernel_size > in_size + 2 * padding:
        raise ValueError("kernel larger than padded input")
    return int(math.floor((in_size + 2 * padding - kernel_size) / stride)) + 1
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
