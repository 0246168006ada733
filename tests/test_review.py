"""The static scan of students' cells (``grading.review``): an allow-list of what the
exercises need. Every route around the in-process guard is listed with its line, whatever it
is called; honest solutions, in every style, are not; a cell the scan cannot read is listed
as such, in bounded time, and the scan never raises."""

import keyword
import time

import pytest
from catalogue import CORRECT, WRONG
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from notebooks import reference_code

from autograder.grading.review import CELL_CHARS, UNSCANNED, scan

UNSCANNABLE = UNSCANNED.split("(")[0]


@pytest.mark.parametrize("assignment", ["conv-layers", "nn-review"])
def test_the_reference_solutions_need_no_review(assignment):
    assert scan(list(reference_code(assignment).items())) == []


def test_honest_student_solutions_need_no_review():
    entries = list(CORRECT) + [w for w in WRONG if "scipy" not in w.name]
    findings = {e.name: scan([(e.cell, e.code)]) for e in entries}
    assert not {name: f for name, f in findings.items() if f}


# Correct code in the styles real students write (and their scratch cells).
STYLES = {
    "module_own_attributes": """
class Counted(nn.Module):
    def __init__(self):
        super().__init__()
        self.ops, self.utils, self._calls = 0, None, 0

    def forward(self, x):
        self.ops += 1
        self._calls += 1
        return x.clamp(min=0)
""",
    "numpy_round_trip": """
import numpy as np

def conv2d_fast(x, weight, bias=None, stride=1, padding=0):
    (s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)
    xn = np.pad(x.detach().cpu().numpy(), ((0, 0), (0, 0), (p_h, p_h), (p_w, p_w)))
    k_h, k_w = weight.shape[-2:]
    windows = np.lib.stride_tricks.sliding_window_view(xn, (k_h, k_w), axis=(2, 3))
    windows = windows[:, :, ::s_h, ::s_w]
    out = np.einsum("nchwij,ocij->nohw", windows, weight.detach().cpu().numpy())
    out = torch.from_numpy(np.ascontiguousarray(out)).to(device=x.device, dtype=x.dtype)
    if bias is not None:
        out += bias.view(1, -1, 1, 1)
    return out
""",
    "numpy_as_strided": """
import numpy as np
from numpy.lib.stride_tricks import as_strided

def conv2d_fast(x, weight, bias=None, stride=1, padding=0):
    s_h, s_w = (stride, stride) if isinstance(stride, int) else stride
    p_h, p_w = (padding, padding) if isinstance(padding, int) else padding
    xp = np.pad(x.numpy(), [(0, 0), (0, 0), (p_h, p_h), (p_w, p_w)])
    n, c, h, w = xp.shape
    o, _, kh, kw = weight.shape
    ho, wo = (h - kh) // s_h + 1, (w - kw) // s_w + 1
    sn, sc, sh, sw = xp.strides
    cols = as_strided(xp, (n, c, ho, wo, kh, kw), (sn, sc, sh * s_h, sw * s_w, sh, sw))
    out = np.tensordot(cols, weight.numpy(), axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2)
    out = torch.tensor(out, dtype=x.dtype)
    return out if bias is None else out + bias[:, None, None]
""",
    "functional_unfold_matmul": """
import torch.nn.functional as F

def conv2d_fast(x, weight, bias=None, stride=1, padding=0):
    n, c_in, h, w = x.shape
    c_out, _, k_h, k_w = weight.shape
    (s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)
    h_out = (h + 2 * p_h - k_h) // s_h + 1
    w_out = (w + 2 * p_w - k_w) // s_w + 1
    cols = F.unfold(x, (k_h, k_w), padding=(p_h, p_w), stride=(s_h, s_w))
    out = weight.view(c_out, -1) @ cols
    if bias is not None:
        out = out + bias.view(1, -1, 1)
    return out.view(n, c_out, h_out, w_out)
""",
    "kernel_offset_loop": '''
def conv2d_fast(x, weight, bias=None, stride=1, padding=0):
    """Loop over the kernel's offsets only: K_h * K_w steps, whatever the output size."""
    (s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)
    xp = torch.nn.functional.pad(x, (p_w, p_w, p_h, p_h))
    n, _, h, w = xp.shape
    c_out, _, k_h, k_w = weight.shape
    h_out, w_out = (h - k_h) // s_h + 1, (w - k_w) // s_w + 1
    out = x.new_zeros(n, c_out, h_out, w_out)
    for u in range(k_h):
        for v in range(k_w):
            patch = xp[:, :, u : u + s_h * h_out : s_h, v : v + s_w * w_out : s_w]
            out += torch.einsum("nchw,oc->nohw", patch, weight[:, :, u, v])
    return out if bias is None else out + bias.reshape(1, -1, 1, 1)
''',
    "fft": """
def conv2d_fast(x, weight, bias=None, stride=1, padding=0):
    (s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)
    xp = torch.nn.functional.pad(x, (p_w, p_w, p_h, p_h))
    n, c, h, w = xp.shape
    k_h, k_w = weight.shape[-2:]
    X = torch.fft.rfft2(xp, s=(h, w))
    K = torch.fft.rfft2(torch.flip(weight, dims=(-2, -1)), s=(h, w))
    full = torch.fft.irfft2(torch.einsum("nchw,ochw->nohw", X, K), s=(h, w))
    out = full[:, :, k_h - 1 :: s_h, k_w - 1 :: s_w][:, :, : (h - k_h) // s_h + 1, : (w - k_w) // s_w + 1]
    return out if bias is None else out + bias[None, :, None, None]
""",
    "naive_itertools": """
import itertools

def conv2d_naive(x, weight, bias=None, stride=1, padding=0):
    s_h, s_w = pair(stride)
    p_h, p_w = pair(padding)
    x = torch.nn.functional.pad(x, [p_w, p_w, p_h, p_h])
    N, C, H, W = x.shape
    O, _, KH, KW = weight.shape
    HO, WO = (H - KH) // s_h + 1, (W - KW) // s_w + 1
    out = torch.zeros(N, O, HO, WO, dtype=x.dtype, device=x.device)
    for n, o, i, j in itertools.product(range(N), range(O), range(HO), range(WO)):
        window = x[n, :, i * s_h : i * s_h + KH, j * s_w : j * s_w + KW]
        out[n, o, i, j] = (window * weight[o]).sum() + (0 if bias is None else bias[o])
    return out
""",
    "module_classic": """
class Conv2d(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True):
        super(Conv2d, self).__init__()
        k_h, k_w = pair(kernel_size)
        self.stride, self.padding = stride, padding
        self._k = (k_h, k_w)
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, k_h, k_w))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_channels))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight[0].numel()
            bound = 1 / math.sqrt(fan_in)
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        return conv2d_fast(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self):
        return f"{tuple(self.weight.shape)}, stride={self.stride}, padding={self.padding}"

    def __repr__(self):
        return "Conv2d(" + self.extra_repr() + ")"
""",
    "module_old_init": """
import torch.nn as nn
from torch.nn import init

class Conv2d(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True):
        nn.Module.__init__(self)
        kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
        w = torch.randn(out_channels, in_channels, kh, kw) / math.sqrt(in_channels * kh * kw)
        self.weight = torch.nn.Parameter(w)
        self.bias = torch.nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.stride = stride
        self.padding = padding

    def forward(self, input):
        return conv2d_fast(input, self.weight, self.bias, stride=self.stride, padding=self.padding)
""",
    "self_check_cell": """
import time
x = torch.randn(8, 3, 32, 32)
w = torch.randn(16, 3, 3, 3)
start = time.perf_counter()
y = conv2d_fast(x, w, padding=1)
print(f"{time.perf_counter() - start:.4f} s", y.shape, torch.__version__)
torch.testing.assert_close(y, conv2d_naive(x, w, padding=1), rtol=1e-4, atol=1e-4)
checks.check_conv2d_fast(conv2d_fast)
print(conv2d_fast.__name__, conv2d_fast.__doc__)
""",
    "plot_cell": """
import matplotlib.pyplot as plt
import numpy as np
xs = torch.linspace(-5, 5, 101)
plt.plot(xs.numpy(), sigmoid(xs).numpy(), label="sigmoid")
plt.legend()
plt.show()
""",
    "activations_numpy_free": """
def sigmoid(x):
    out = torch.empty_like(x)
    positive = x >= 0
    out[positive] = 1 / (1 + torch.exp(-x[positive]))
    e = torch.exp(x[~positive])
    out[~positive] = e / (1 + e)
    return out
""",
    "relu_where": """
def relu(x):
    return torch.where(x > 0, x, torch.zeros_like(x))
""",
    "gradients_manual": '''
def neuron_gradients(x, w, b, target):
    """dL/dw and dL/db."""
    n = x.shape[0]
    z = x @ w + b
    y = 1.0 / (1.0 + torch.exp(-z))
    dz = (y - target) * y * (1.0 - y)
    grad_w = x.T @ dz / n
    grad_b = dz.sum() / n
    return grad_w, grad_b
''',
    "errors_and_asserts": """
class ShapeError(ValueError):
    pass

def conv_output_size(in_size, kernel_size, stride=1, padding=0):
    assert isinstance(in_size, int), "in_size must be an int"
    if stride < 1 or padding < 0:
        raise ValueError(f"bad stride {stride!r} or padding {padding!r}")
    if kernel_size > in_size + 2 * padding:
        raise ShapeError("kernel larger than the padded input")
    try:
        return (in_size + 2 * padding - kernel_size) // stride + 1
    except ZeroDivisionError as error:
        raise ValueError("stride 0") from error
""",
    "autograd_function": """
class _Conv(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight):
        ctx.save_for_backward(x, weight)
        return conv2d_fast(x, weight)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        return None, None

if __name__ == "__main__":
    print(getattr(torch, "float32"), hasattr(torch, "conv2d"))
""",
    "functools_typing": """
from functools import reduce
from typing import Optional, Tuple
import random

def mlp_param_count(sizes: list, bias: bool = True) -> int:
    pairs = zip(sizes[:-1], sizes[1:])
    return reduce(lambda total, p: total + p[0] * p[1] + (p[1] if bias else 0), pairs, 0)

def pick(seed: Optional[int] = None) -> Tuple[int, int]:
    random.seed(seed)
    return random.randint(0, 3), len(list(map(abs, [-1, 2])))
""",
}


@pytest.mark.parametrize("name", sorted(STYLES))
def test_correct_code_in_every_style_needs_no_review(name):
    assert scan([(name, STYLES[name])]) == []


def test_all_styles_in_one_notebook_need_no_review():
    assert scan(list(STYLES.items())) == []


IDENTIFIER = st.from_regex(r"[a-z][a-z0-9_]{0,7}", fullmatch=True).filter(
    lambda name: (
        not keyword.iskeyword(name)
        and name not in dir(__builtins__)
        and name not in {"torch", "nn", "math", "np", "checks", "pair", "self", "get_device"}
    )
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(STYLES)), st.data())
def test_correct_code_stays_unflagged_whatever_its_names(name, data):
    """Local names are the student's: renaming them never makes a finding."""
    code = STYLES[name]
    for local in ("out", "xp", "windows", "patch", "cols", "bound", "start", "pairs"):
        if f"{local} =" in code:
            new = data.draw(IDENTIFIER, label=local)
            code = code.replace(f"{local} ", f"{new} ").replace(f"{local}.", f"{new}.")
            code = code.replace(f"({local}", f"({new}").replace(f"{local})", f"{new})")
    assert scan([(name, code)]) == [], code


# Cheats: the code, and the lines that must each be listed.
CHEATS = {
    "self_rebound": ("self = [torch][0]\nf = self.ops\ng = self._C\n", [2, 3]),
    "numpy_tanh_kept": (
        """import numpy as np
from numpy import tanh as hyperbolic
def tanh(x, f=np.tanh):
    return torch.from_numpy(f(x.numpy()))
""",
        [2, 3],
    ),
    "frames_sys": (
        """import sys as interpreter
def conv2d_fast(x, weight, bias=None, stride=1, padding=0):
    frame = interpreter._getframe(1)
    while frame is not None:
        reply = frame.f_locals.get("outcome")
        frame = frame.f_back
    return x
""",
        [1, 3, 5, 6],
    ),
    "frames_traceback": (
        """def sigmoid(x):
    try:
        raise ValueError
    except ValueError as error:
        frame = error.__traceback__.tb_frame.f_back
    frame.f_locals["outcome"].forbidden.clear()
    return 1 / (1 + torch.exp(-x))
""",
        [5, 6],
    ),
    "frames_generator": (
        """def sigmoid(x):
    g = (v for v in [x])
    up = g.gi_frame.f_back
    return torch.sigmoid(x)
""",
        [3],
    ),
    "wire_by_built_name": (
        """m = __import__("sy" + "s").modules["autograder.grad" + "ing.wire"]
m.frame = lambda message: b""
""",
        [1],
    ),
    "wire_sys_alias": (
        """import sys as s
w = s.modules["".join(["autograder", ".grading.wire"])]
w.to_wire = lambda *a: a
""",
        [1, 2],
    ),
    "map_conv_dispatch_off": (
        """def conv2d_fast(x, weight, bias=None, stride=1, padding=0):
    with torch._C._DisableTorchDispatch():
        return list(map(torch.conv2d, [x], [weight]))[0]
""",
        [2],
    ),
    "disable_alias": (
        """from torch._C import _DisableTorchDispatch as calm
def conv2d_fast(x, weight, bias=None, stride=1, padding=0):
    with calm():
        return torch.conv2d(x, weight)
""",
        [1, 3],
    ),
    "subclass_dispatch": (
        """class Sneaky(torch.Tensor):
    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        return torch.nn.functional.conv2d(*args)
def conv2d_fast(x, weight, bias=None, stride=1, padding=0):
    return torch.add(x.as_subclass(Sneaky), 0)
""",
        [1, 3, 6],
    ),
    "subclass_dispatch_alias": (
        """Base = torch.Tensor
class Sneaky(Base):
    pass
""",
        [2],
    ),
    "no_dispatch_alias": (
        """from torch.utils._mode_utils import no_dispatch as hush
def conv2d_fast(x, weight, bias=None, stride=1, padding=0):
    with hush():
        return torch.conv2d(x, weight)
""",
        [1, 3],
    ),
    "torch_alias_utils": (
        """t = torch
u = t.utils
""",
        [2],
    ),
    "container_alias": (
        """box = [torch]
ops = box[0].ops.aten
""",
        [2],
    ),
    "magic_then_exec": (
        """%time x = 1
code = "import torch"
exec(code)
""",
        [1, 3],
    ),
    "magic_in_function_then_eval": (
        """def sigmoid(x):
    %time y = 1
    return eval("torch.sigmoid")(x)
""",
        [2, 3],
    ),
    "cell_magic": (
        """%%time
import ctypes
x = 1
""",
        [1, 2],
    ),
    "shell": (
        """files = !ls
!pip install scipy
""",
        [1, 2],
    ),
    "get_ipython_hex": (
        """get_ipython().ex(bytes.fromhex("7072696e74283129").decode())
""",
        [1],
    ),
    "ipython_alias": (
        """shell = get_ipython()
shell.run_cell("import sys")
""",
        [1, 2],
    ),
    "getattr_built": (
        """name = "conv" + "2d"
f = getattr(torch.nn.functional, name)
""",
        [2],
    ),
    "getattr_alias": (
        """look = getattr
f = look(torch, "conv2d")
""",
        [1],
    ),
    "getattr_private": (
        """c = getattr(torch, "_C")
""",
        [1],
    ),
    "vars_globals": (
        """f = vars(torch)["conv2d"]
g = globals()["__builtins__"]
""",
        [1, 2],
    ),
    "builtins_dunder": (
        """b = __builtins__
""",
        [1],
    ),
    "dunder_dict": (
        """f = torch.nn.functional.__dict__["conv2d"]
""",
        [1],
    ),
    "dunder_subclasses": (
        """objs = object.__subclasses__()
""",
        [1],
    ),
    "code_swap": (
        """def a(): pass
def b(): pass
a.__code__ = b.__code__
""",
        [3],
    ),
    "importlib": (
        """from importlib import import_module as im
m = im("scipy")
""",
        [1, 2],
    ),
    "gc": (
        """import gc
found = [o for o in gc.get_objects() if type(o).__name__ == "Child"]
""",
        [1, 2],
    ),
    "inspect": (
        """import inspect
f = inspect.currentframe().f_back
""",
        [1, 2],
    ),
    "ctypes": (
        """import ctypes
""",
        [1],
    ),
    "operator": (
        """import operator
f = operator.attrgetter("conv2d")(torch)
""",
        [1, 2],
    ),
    "os": (
        """import os
os.kill(os.getppid(), 9)
""",
        [1, 2],
    ),
    "builtins_module": (
        """import builtins
builtins.print = None
""",
        [1, 2],
    ),
    "type_three_args": (
        """T = type("T", (torch.Tensor,), {})
""",
        [1],
    ),
    "metaclass": (
        """class M(type):
    pass
class A(metaclass=M):
    pass
""",
        [1, 3],
    ),
    "torch_ops": (
        """y = torch.ops.aten.convolution(x, w, None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1)
""",
        [1],
    ),
    "torch_jit": (
        """@torch.jit.script
def f(x):
    return torch.sigmoid(x)
""",
        [1],
    ),
    "torch_library": (
        """lib = torch.library.Library("mine", "DEF")
""",
        [1],
    ),
    "setprofile_via_alias": (
        """from sys import setprofile as sp
sp(None)
""",
        [1, 2],
    ),
    "grader_module": (
        """from autograder.checks import _guard
import autograder.grading.wire as w
""",
        [1, 2],
    ),
    "relative_import": (
        """from . import helper
""",
        [1],
    ),
    "star_import": (
        """from torch.nn.functional import *
""",
        [1],
    ),
    "private_attr": (
        """x = torch.ones(1)
v = x._version
""",
        [2],
    ),
    "compile_builtin": (
        """code = compile("torch.sigmoid", "<s>", "eval")
""",
        [1],
    ),
    "history": (
        """print(In[-1], _ih, Out)
""",
        [1],
    ),
    "scipy": (
        """from scipy.special import expit
""",
        [1],
    ),
    "dunder_method": (
        """class Layer(nn.Module):
    def __getattr__(self, name):
        return 1
""",
        [2],
    ),
    "string_names_internals": (
        """name = "torch._C._DisableTorchDispatch"
""",
        [1],
    ),
}


@pytest.mark.parametrize("name", sorted(CHEATS))
def test_each_route_around_the_guard_is_listed_with_its_line(name):
    code, lines = CHEATS[name]
    findings = scan([("conv2d_fast", code)])
    assert set(lines) <= {f.line for f in findings}, findings
    written = code.splitlines()
    for finding in findings:
        assert finding.cell == "conv2d_fast" and finding.reason
        assert finding.code == written[finding.line - 1].strip(), finding


def test_the_issues_cheats_are_listed():
    """The ten of issue 21: frames, the wire replaced through sys.modules by a built name,
    map over torch.conv2d with dispatch off, a subclass's __torch_dispatch__, no_dispatch
    and sys under aliases, a magic line before exec, get_ipython().ex of hex."""
    for name in (
        "frames_sys",
        "frames_traceback",
        "wire_by_built_name",
        "wire_sys_alias",
        "map_conv_dispatch_off",
        "subclass_dispatch",
        "no_dispatch_alias",
        "magic_then_exec",
        "get_ipython_hex",
    ):
        code, lines = CHEATS[name]
        assert set(lines) <= {f.line for f in scan([("c", code)])}, name


# Generated cheats: a way to reach something outside the allow-list (the marked line), under
# any name, in any place a cell can hold code.
ACQUIRE = [
    "import sys as {a}",
    "from sys import setprofile as {a}",
    "from sys import modules as {a}",
    "{a} = __import__('s' + 'ys')",
    "{a} = __builtins__",
    "import importlib as {a}",
    "from importlib import import_module as {a}",
    "{a} = getattr(torch, '_' + 'C')",
    "{a} = getattr(torch, '_C')",
    "{a} = torch._C",
    "{a} = torch._C._DisableTorchDispatch",
    "{a} = vars(torch)",
    "{a} = globals()",
    "{a} = locals()",
    "{a} = eval('tor' + 'ch')",
    "exec(bytes.fromhex('7072696e74283129'))",
    "{a} = compile('1', 's', 'eval')",
    "{a} = get_ipython()",
    "{a} = get_ipython",
    "import gc as {a}",
    "import inspect as {a}",
    "import ctypes as {a}",
    "import operator as {a}",
    "import builtins as {a}",
    "import os as {a}",
    "import types as {a}",
    "import threading as {a}",
    "{a} = (lambda: 0).__globals__",
    "{a} = [torch][0].ops",
    "{a} = [torch][0].utils",
    "{a} = [torch][0]._C",
    "{a} = (torch,)[0].library",
    "from torch.utils._python_dispatch import _pop_mode as {a}",
    "from torch.utils._mode_utils import no_dispatch as {a}",
    "from torch._C import _DisableTorchDispatch as {a}",
    "from torch import _C as {a}",
    "import torch.utils as {a}",
    "{a} = torch.Tensor.__torch_dispatch__",
    "{a} = type('T', (torch.Tensor,), {{}})",
    "{a} = torch.ones(1).as_subclass",
    "{a} = (v for v in ()).gi_frame",
    "{a} = ValueError().__traceback__",
    "{a} = getattr",
    "{a} = setattr",
    "setattr(torch, 'conv' + '2d', None)",
    "{a} = torch.ops.aten.convolution",
    "{a} = torch.jit.script",
    "{a} = torch.library.Library",
    "{a} = torch.overrides",
    "from autograder.grading import wire as {a}",
    "import autograder.checks._guard as {a}",
    "{a} = checks._guard",
    "from scipy import signal as {a}",
    "{a} = torch.nn.functional.__dict__",
    "{a} = object.__subclasses__()",
    "{a} = {a}.__class__",
    "{a} = In[-1]",
    "{a} = _ih",
    "%time {a} = 1",
    "{a} = !ls",
    "!echo {a}",
    "{a}?",
    "class {A}(torch.Tensor):\n    pass",
    "class {A}:\n    pass\n@def __torch_dispatch__(cls, func, types, args=(), kwargs=None):\n    pass",
    "class {A}:\n@    __torch_function__ = None",
    "class {A}(type({a})):\n    pass",
]
CONTEXTS = [
    "{code}",
    "def {f}(x):\n{indented}\n    return x",
    "class {C}(nn.Module):\n    def forward(self, x):\n{indented2}\n        return x",
    "def {f}(x):\n    def inner():\n{indented2}\n    return inner",
    "for _ in range(1):\n{indented}",
    "with torch.no_grad():\n{indented}",
    "try:\n{indented}\nexcept Exception:\n    pass",
    "if {a} is None:\n{indented}",
]


def _indent(code: str, spaces: int) -> str:
    return "\n".join(" " * spaces + line for line in code.splitlines())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    acquire=st.sampled_from(ACQUIRE),
    context=st.sampled_from(CONTEXTS),
    alias=IDENTIFIER,
    before=st.integers(0, 3),
    use=st.booleans(),
)
def test_generated_routes_are_listed_on_their_line_whatever_they_are_called(
    acquire, context, alias, before, use
):
    names = {"a": alias, "A": alias.capitalize() + "T", "f": alias + "_f", "C": "L" + alias}
    lines = acquire.format(**names).splitlines()
    marked = next((n for n, line in enumerate(lines) if line.lstrip().startswith("@")), 0)
    lines = [line.replace("@", "", 1) if n == marked else line for n, line in enumerate(lines)]
    code = "\n".join(lines)
    if use:
        code += f"\nprint({alias})"
    placed = context.format(
        code=code, indented=_indent(code, 4), indented2=_indent(code, 8), **names
    )
    prefix = "".join(f"y{n} = torch.ones(2) * {n}\n" for n in range(before))
    cell = prefix + placed
    cell_lines = cell.splitlines()
    target = lines[marked].strip()
    wanted = next(n for n, line in enumerate(cell_lines, 1) if line.strip() == target)
    findings = scan([("cell 3", cell)])
    assert wanted in {f.line for f in findings}, (cell, findings)


def test_every_magic_and_shell_line_is_listed_with_its_own_line():
    cell = "x = 1\n%timeit conv2d_fast(x, w)\ny = !ls\ndef f():\n    %time 1\n    return 2\n!pip list\n"
    findings = scan([("cell 9", cell)])
    assert {f.line for f in findings} == {2, 3, 5, 7}, findings
    assert all("magic or shell" in f.reason for f in findings)


def test_a_magic_continued_over_lines_keeps_the_lines_after_it():
    cell = "\n\na = 1\n%time b = \\\n    2\nexec(a)\n"
    findings = {f.line: f.reason for f in scan([("c", cell)])}
    assert findings.keys() == {4, 6} and "run time" in findings[6], findings


def test_the_body_of_a_timed_cell_is_scanned_as_code():
    findings = scan([("c", "%%time\nimport ctypes\ny = 1\n")])
    assert {f.line for f in findings} == {1, 2}
    assert any("C code" in f.reason for f in findings if f.line == 2)


def test_a_string_that_looks_like_a_magic_is_not_one():
    assert scan([("c", 's = """\n%not a magic\n!nor this\n"""\n')]) == []


@pytest.mark.parametrize(
    "cell",
    [
        "x = " + "(" * 300 + "1" + ")" * 300,  # the parser's own limit
        "x = " + "-" * 100_000 + "1",  # parses, too deep to walk
        "x = a" + ".b" * 40_000,
        "x = " + "+".join(["1"] * 40_000),
        "def f(:\n    pass",
        "x = 1\n" * (CELL_CHARS // 6 + 1),  # too large
        "%time x = \\\n  1\n" * 5_000,  # many magics: not IPython's quadratic transform
    ],
    ids=["parens", "unary", "attributes", "sum", "syntax-error", "too-large", "magics"],
)
def test_a_cell_the_scan_cannot_read_is_listed_as_such_in_bounded_time(cell):
    started = time.process_time()
    findings = scan([("c", cell), ("d", "y = 2\n")])
    assert time.process_time() - started < 20
    cells = {f.cell for f in findings}
    assert "d" not in cells
    if not cell.startswith("%time"):
        assert any(f.reason.startswith(UNSCANNABLE) for f in findings), findings


def test_the_notebook_as_a_whole_is_bounded():
    cells = [(f"cell {n}", "y = torch.ones(2)\n" * 5000) for n in range(10)]
    started = time.process_time()
    findings = scan(cells)
    assert time.process_time() - started < 60
    assert {f.cell for f in findings if f.reason.startswith(UNSCANNABLE)}
