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
        "neuron_bias_missing",
        NN,
        "neuron",
        """
def neuron(x, w, b, activation):
    return activation(x @ w)
""",
        "test_neuron",
        "the bias b is missing",
    ),
    Wrong(
        "neuron_no_activation",
        NN,
        "neuron",
        """
def neuron(x, w, b, activation):
    return x @ w + b
""",
        "test_neuron",
        "the activation is not applied",
    ),
    Wrong(
        "neuron_always_sigmoid",
        NN,
        "neuron",
        """
def neuron(x, w, b, activation):
    return sigmoid(x @ w + b)
""",
        "test_neuron",
        "not the sigmoid",
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
        "neuron_sums_whole_batch",
        NN,
        "neuron",
        """
def neuron(x, w, b, activation):
    return activation((x * w).sum() + b)
""",
        "test_neuron",
        "the sum runs over the whole batch",
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
        "conv_count_one_filter",
        CONV,
        "conv_param_count",
        """
def conv_param_count(in_channels, out_channels, kernel_size, bias=True):
    k_h, k_w = pair(kernel_size)
    return in_channels * k_h * k_w + (out_channels if bias else 0)
""",
        "test_conv_param_count",
        "there are C_out filters",
    ),
    Wrong(
        "corr2d_same_size",
        CONV,
        "corr2d",
        """
def corr2d(image, kernel):
    k_h, k_w = kernel.shape
    out = torch.zeros_like(image)
    for i in range(image.shape[0] - k_h + 1):
        for j in range(image.shape[1] - k_w + 1):
            out[i, j] = (image[i:i + k_h, j:j + k_w] * kernel).sum()
    return out
""",
        "test_corr2d",
        "('same'); valid cross-correlation gives",
    ),
    Wrong(
        "corr2d_full_size",
        CONV,
        "corr2d",
        """
def corr2d(image, kernel):
    k_h, k_w = kernel.shape
    padded = torch.nn.functional.pad(image, (k_w - 1, k_w - 1, k_h - 1, k_h - 1))
    out = torch.zeros(image.shape[0] + k_h - 1, image.shape[1] + k_w - 1, dtype=image.dtype)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = (padded[i:i + k_h, j:j + k_w] * kernel).sum()
    return out
""",
        "test_corr2d",
        "'full' size",
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
        "the output has the wrong size",
    ),
    Wrong(
        "naive_out_square",
        CONV,
        "conv2d_naive",
        naive_variant(
            "out = torch.zeros(n, c_out, h_out, w_out", "out = torch.zeros(n, c_out, h_out, h_out"
        ),
        "test_conv2d_naive",
        "right for a square input",
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

# One entry for each message of the activations, the counts and the sizes (so that
# tests/test_catalogue_checks.py proves each reachable).
OUTPUT_SIZE_CHECKS = """
def conv_output_size(in_size, kernel_size, stride=1, padding=0):
    if stride < 1 or padding < 0 or kernel_size > in_size + 2 * padding:
        raise ValueError("invalid")
    return {}
"""


def constants(fc: str, conv: str) -> str:
    return f"\nFC_NEURON_PARAMS = {fc}\nCONV_FILTER_PARAMS = {conv}\n"


def conv_count(expression: str) -> str:
    return f"""
def conv_param_count(in_channels, out_channels, kernel_size, bias=True):
    k_h, k_w = pair(kernel_size)
    return {expression}
"""


def dense_count(expression: str) -> str:
    return f"""
def dense_param_count(in_features, out_features, bias=True):
    return {expression}
"""


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
        "dense_count_bias_per_input",
        NN,
        "dense_param_count",
        dense_count("in_features * out_features + (in_features if bias else 0)"),
        "test_dense_param_count",
        "add out_features, not in_features",
    ),
    Wrong(
        "dense_count_added",
        NN,
        "dense_param_count",
        dense_count("in_features + out_features + (out_features if bias else 0)"),
        "test_dense_param_count",
        "every input connects to every output",
    ),
    Wrong(
        "dense_count_bias_flag_ignored",
        NN,
        "dense_param_count",
        dense_count("in_features * out_features + out_features"),
        "test_dense_param_count",
        "with bias=False there are no biases",
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
        "conv_count_bias_per_input",
        CONV,
        "conv_param_count",
        conv_count("out_channels * in_channels * k_h * k_w + (in_channels if bias else 0)"),
        "test_conv_param_count",
        "not per input channel",
    ),
    Wrong(
        "conv_count_no_bias",
        CONV,
        "conv_param_count",
        conv_count("out_channels * in_channels * k_h * k_w"),
        "test_conv_param_count",
        "count the biases too",
    ),
    Wrong(
        "conv_count_kernel_once",
        CONV,
        "conv_param_count",
        conv_count("out_channels * in_channels * k_h + (out_channels if bias else 0)"),
        "test_conv_param_count",
        "K·K weights per channel, not K",
    ),
    Wrong(
        "conv_count_square_kernel",
        CONV,
        "conv_param_count",
        conv_count("out_channels * in_channels * k_h * k_h + (out_channels if bias else 0)"),
        "test_conv_param_count",
        "a (K_h, K_w) kernel has K_h·K_w weights",
    ),
    Wrong(
        "output_size_no_plus_one",
        CONV,
        "conv_output_size",
        OUTPUT_SIZE_CHECKS.format("(in_size + 2 * padding - kernel_size) // stride"),
        "test_conv_output_size",
        "don't forget the + 1",
        off_by_one=True,
    ),
    Wrong(
        "output_size_plus_two",
        CONV,
        "conv_output_size",
        OUTPUT_SIZE_CHECKS.format("(in_size + 2 * padding - kernel_size) // stride + 2"),
        "test_conv_output_size",
        "off by one: the formula is",
        off_by_one=True,
    ),
    Wrong(
        "output_size_rounds_up",
        CONV,
        "conv_output_size",
        OUTPUT_SIZE_CHECKS.format("math.ceil((in_size + 2 * padding - kernel_size) / stride) + 1"),
        "test_conv_output_size",
        "round down (⌊·⌋)",
    ),
    Wrong(
        "output_size_stride_divides_all",
        CONV,
        "conv_output_size",
        OUTPUT_SIZE_CHECKS.format("(in_size + 2 * padding - kernel_size + 1) // stride"),
        "test_conv_output_size",
        "before the + 1",
    ),
    Wrong(
        "output_size_stride_ignored",
        CONV,
        "conv_output_size",
        OUTPUT_SIZE_CHECKS.format("in_size + 2 * padding - kernel_size + 1"),
        "test_conv_output_size",
        "divide (n + 2P − K) by S",
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
