"""Device selection, and the watcher that catches forbidden calls by any route."""

import contextlib
import functools
import math
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from catalogue import CORRECT, WRONG
from notebooks import reference_code
from test_hostile import LOOP_FLOATS

from autograder.checks import _guard, _loops
from autograder.checks._guard import TAMPERED, watching
from autograder.checks._report import CheckFailed
from autograder.checks._seeds import secret_cases
from autograder.checks._student import invoke
from autograder.device import get_device


def test_device_defaults_to_what_is_available(monkeypatch):
    monkeypatch.delenv("AUTOGRADER_DEVICE", raising=False)
    assert get_device().type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_device_honours_the_environment(monkeypatch):
    monkeypatch.setenv("AUTOGRADER_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")


def test_unknown_device_is_a_clear_error():
    with pytest.raises(ValueError, match="cpu, cuda"):
        get_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_a_clear_error():
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        get_device("cuda")


@pytest.mark.parametrize(
    "call",
    [
        lambda x, w: F.conv2d(x, w),
        lambda x, w: torch.conv2d(x, w),
        lambda x, w: torch.nn.Conv2d(1, 1, 2, bias=False)(x),
        lambda x, w: torch.nn.functional.conv1d(x[:, :, 0], w[:, :, 0]),
    ],
)
def test_every_route_to_torch_convolution_is_seen(call):
    x, w = torch.randn(1, 1, 4, 4), torch.randn(1, 1, 2, 2)
    with watching("convolution") as watch:
        call(x, w)
    assert watch.forbidden


def test_scipy_filters_are_seen():
    from scipy.ndimage import correlate
    from scipy.signal import correlate2d

    with watching("convolution") as watch:
        correlate2d(torch.ones(3, 3).numpy(), torch.ones(2, 2).numpy())
        correlate(torch.ones(3, 3).numpy(), torch.ones(2, 2).numpy())
    assert any("scipy.signal" in f for f in watch.forbidden)
    assert any("scipy.ndimage" in f for f in watch.forbidden)


def test_allowed_building_blocks_are_not_flagged():
    x = torch.randn(1, 2, 5, 5)
    with watching("convolution") as watch:
        F.unfold(F.pad(x, (1, 1, 1, 1)), 3).sum()
        torch.einsum("ij,jk->ik", torch.ones(2, 2), torch.ones(2, 2))
        x.clamp(min=0)
    assert watch.forbidden == []


def test_builtin_activations_are_seen_but_their_building_blocks_are_not():
    x = torch.randn(4)
    for builtin in (torch.sigmoid, torch.tanh, torch.relu, F.relu, torch.special.expit):
        with watching("activation") as watch:
            builtin(x)
        assert watch.forbidden, builtin
    with watching("activation") as watch:
        (1 / (1 + torch.exp(-x)), x.clamp(min=0), torch.where(x > 0, x, 0 * x))
    assert watch.forbidden == []


def test_op_count_grows_with_a_python_loop_but_not_without():
    def looped(n):
        return sum(torch.ones(1) for _ in range(n))

    assert invoke(looped, (10,)).op_count > invoke(looped, (2,)).op_count
    assert invoke(torch.ones, (100,)).op_count == invoke(torch.ones, (4,)).op_count


def _conv(x, w):
    return F.conv2d(x, w)


@pytest.mark.parametrize(
    "route",
    [
        lambda x, w: torch.ops.aten.convolution.default(
            x, w, None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1
        ),
        lambda x, w: torch.ops.aten.conv2d(x, w),
        lambda x, w: torch.jit.script(_conv)(x, w),
        lambda x, w: torch.from_numpy(np.convolve(x.flatten().numpy(), w.flatten().numpy())),
        lambda x, w: torch.from_numpy(np.correlate(x.flatten().numpy(), w.flatten().numpy())),
    ],
    ids=["aten-overload", "aten-packet", "torchscript", "numpy-convolve", "numpy-correlate"],
)
def test_aliases_torchscript_and_numpy_convolutions_are_seen(route):
    x, w = torch.randn(1, 1, 4, 4), torch.randn(1, 1, 2, 2)
    with watching("convolution") as watch:
        route(x, w)
    assert watch.forbidden and TAMPERED not in watch.forbidden, watch.forbidden


def test_compiled_scipy_routines_are_seen():
    sigtools = pytest.importorskip("scipy.signal._sigtools")
    image, kernel = np.ones((4, 4)), np.ones((2, 2))
    with watching("convolution") as watch:
        sigtools._convolve2d(image, kernel, 1, 0, 0, 0)
    assert any(f.startswith("scipy.signal") for f in watch.forbidden), watch.forbidden


def test_switching_one_watcher_off_around_the_call_leaves_the_other():
    x, w = torch.randn(1, 1, 4, 4), torch.randn(1, 1, 2, 2)
    with watching("convolution") as watch:
        with torch._C._DisableTorchDispatch():
            F.conv2d(x, w)
    assert "torch.conv2d" in watch.forbidden
    with watching("convolution") as watch:
        profile = sys.getprofile()
        sys.setprofile(None)
        F.conv2d(x, w)
        sys.setprofile(profile)
    assert "torch's built-in convolution" in watch.forbidden


@pytest.fixture(scope="module")
def custom_op():
    """An operator of the student's own whose kernel calls F.conv2d (torch runs the kernel
    from inside the dispatch watcher, where that watcher does not look)."""
    library = torch.library.Library("student_guard_test", "DEF")
    library.define("mix(Tensor x, Tensor w) -> Tensor")
    library.impl("mix", _conv, "CompositeExplicitAutograd")
    yield torch.ops.student_guard_test.mix


@pytest.mark.parametrize(
    "route",
    [
        lambda x, w: torch._disable_dynamo(_conv)(x, w),
        lambda x, w: torch.ops.aten.convolution.default(
            x, w, None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1
        ),
        "custom-op",
    ],
    ids=["through-a-dynamo-wrapper", "aten-overload", "custom-op-kernel"],
)
def test_what_the_profile_hook_passes_over_for_speed_hides_no_call(route, custom_op):
    route = custom_op if route == "custom-op" else route
    assert _guard.DISPATCH.co_filename == _guard.__file__  # the watcher's own code, unwrapped
    x, w = torch.randn(1, 1, 4, 4), torch.randn(1, 1, 2, 2)
    with watching("convolution") as watch:
        with torch._C._DisableTorchDispatch():  # the profile hook alone
            route(x, w)
    assert any(f.startswith("torch") for f in watch.forbidden), watch.forbidden
    with watching("convolution") as watch:  # both watchers: the kernel's call is still seen
        route(x, w)
    assert watch.forbidden and TAMPERED not in watch.forbidden, watch.forbidden


def _pop_the_mode():
    from torch.utils._python_dispatch import _pop_mode

    _pop_mode()


def _empty_the_table():
    _guard.RULES["convolution"] = _guard.Rule(
        lambda name: False, lambda module, name: False, _guard.RULES["convolution"].canary
    )


@pytest.mark.parametrize(
    "tamper",
    [_pop_the_mode, lambda: sys.setprofile(None), _empty_the_table],
    ids=["dispatch-mode-popped", "profile-removed", "table-emptied"],
)
def test_a_watcher_switched_off_is_itself_a_forbidden_call(tamper, monkeypatch):
    monkeypatch.setattr(_guard, "RULES", dict(_guard.RULES))
    x, w = torch.randn(1, 1, 4, 4), torch.randn(1, 1, 2, 2)
    during = invoke(lambda: (tamper(), x + w.sum())[1], forbid="convolution")
    after = invoke(lambda: x + w.sum(), forbid="convolution")
    assert TAMPERED in during.forbidden + after.forbidden


def test_an_honest_call_passes_the_canaries():
    for forbid in ("convolution", "activation", None):
        assert invoke(lambda: torch.ones(3).exp(), forbid=forbid).forbidden == []


def test_a_loop_hidden_from_the_dispatcher_still_counts_its_calls():
    def looped(n):
        with torch._C._DisableTorchDispatch():
            return [torch.ones(2).sum() for _ in range(n)]

    few, many = invoke(looped, (2,)), invoke(looped, (20,))
    assert many.op_count == few.op_count
    assert many.call_count > few.call_count + 8


def test_a_batchs_device_holds_in_its_own_thread_only(monkeypatch):
    import threading

    from autograder.device import using_device

    monkeypatch.setenv("AUTOGRADER_DEVICE", "tpu")  # read only where no batch set a device
    elsewhere = []
    with using_device("cpu"):
        assert get_device() == torch.device("cpu")
        thread = threading.Thread(target=lambda: elsewhere.append(_raises(get_device)))
        thread.start()
        thread.join()
    assert elsewhere == [ValueError]
    assert _raises(get_device) is ValueError


def _raises(function):
    try:
        function()
    except Exception as error:
        return type(error)
    return None


# -- The loop rule of conv2d_fast (checks._loops): judged from CPU time ---------------------------


def _pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)


def _defined(code: str, name: str = "conv2d_fast"):
    """``name`` from ``code`` run as a solution cell (after the reference's conv2d_naive,
    which some solutions call)."""
    namespace = {"torch": torch, "nn": torch.nn, "F": F, "math": math, "np": np, "pair": _pair}
    exec(reference_code("conv-layers")["conv2d_naive"], namespace)
    exec(code, namespace)
    return namespace[name]


VECTORISED = {
    "unfold_matmul": """
def conv2d_fast(x, weight, bias=None, stride=1, padding=0):
    (s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)
    n, _, h, w = x.shape
    c_out, _, k_h, k_w = weight.shape
    h_out, w_out = (h + 2 * p_h - k_h) // s_h + 1, (w + 2 * p_w - k_w) // s_w + 1
    cols = F.unfold(x, (k_h, k_w), padding=(p_h, p_w), stride=(s_h, s_w))
    out = (weight.view(c_out, -1) @ cols).view(n, c_out, h_out, w_out)
    return out if bias is None else out + bias.view(1, -1, 1, 1)
""",
    "kernel_offsets_loop": """
def conv2d_fast(x, weight, bias=None, stride=1, padding=0):
    (s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)
    xp = F.pad(x, (p_w, p_w, p_h, p_h))
    n, _, h, w = xp.shape
    c_out, _, k_h, k_w = weight.shape
    h_out, w_out = (h - k_h) // s_h + 1, (w - k_w) // s_w + 1
    out = x.new_zeros(n, c_out, h_out, w_out)
    for u in range(k_h):
        for v in range(k_w):
            patch = xp[:, :, u : u + s_h * h_out : s_h, v : v + s_w * w_out : s_w]
            out += torch.einsum("nchw,oc->nohw", patch, weight[:, :, u, v])
    return out if bias is None else out + bias.reshape(1, -1, 1, 1)
""",
    "channel_loop": """
def conv2d_fast(x, weight, bias=None, stride=1, padding=0):
    (s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)
    k_h, k_w = weight.shape[-2:]
    xp = F.pad(x, (p_w, p_w, p_h, p_h))
    out = 0
    for c in range(x.shape[1]):
        patches = xp[:, c].unfold(1, k_h, s_h).unfold(2, k_w, s_w)
        out = out + torch.einsum("nhwij,oij->nohw", patches, weight[:, c])
    return out if bias is None else out + bias.reshape(1, -1, 1, 1)
""",
    "numpy_round_trip": """
def conv2d_fast(x, weight, bias=None, stride=1, padding=0):
    (s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)
    xn = np.pad(x.numpy(), ((0, 0), (0, 0), (p_h, p_h), (p_w, p_w)))
    k_h, k_w = weight.shape[-2:]
    windows = np.lib.stride_tricks.sliding_window_view(xn, (k_h, k_w), axis=(2, 3))
    out = np.einsum("nchwij,ocij->nohw", windows[:, :, ::s_h, ::s_w], weight.numpy())
    out = torch.from_numpy(np.ascontiguousarray(out)).to(x.dtype)
    return out if bias is None else out + bias.view(1, -1, 1, 1)
""",
}
VECTORISED |= {c.name: c.code for c in CORRECT if c.cell == "conv2d_fast"}
LOOPING = {
    "positions": """
def conv2d_fast(x, weight, bias=None, stride=1, padding=0):
    (s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)
    xp = F.pad(x, (p_w, p_w, p_h, p_h))
    n, _, h, w = xp.shape
    c_out, _, k_h, k_w = weight.shape
    h_out, w_out = (h - k_h) // s_h + 1, (w - k_w) // s_w + 1
    out = x.new_zeros(n, c_out, h_out, w_out)
    flat = weight.reshape(c_out, -1)
    for i in range(h_out):
        for j in range(w_out):
            window = xp[:, :, i * s_h : i * s_h + k_h, j * s_w : j * s_w + k_w]
            out[:, :, i, j] = window.reshape(n, -1) @ flat.T
    return out if bias is None else out + bias.view(1, -1, 1, 1)
""",
    "rows": """
def conv2d_fast(x, weight, bias=None, stride=1, padding=0):
    (s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)
    xp = F.pad(x, (p_w, p_w, p_h, p_h))
    k_h, k_w = weight.shape[-2:]
    h_out = (xp.shape[2] - k_h) // s_h + 1
    rows = []
    for i in range(h_out):
        band = xp[:, :, i * s_h : i * s_h + k_h].unfold(3, k_w, s_w)
        rows.append(torch.einsum("ncuwv,ocuv->now", band, weight))
    out = torch.stack(rows, 2)
    return out if bias is None else out + bias.view(1, -1, 1, 1)
""",
    "python_floats": LOOP_FLOATS,  # the hostile batch's loop over Python numbers
}
LOOPING |= {w.name: w.code for w in WRONG if w.cell == "conv2d_fast" and "loop" in w.message}


@contextlib.contextmanager
def _other_core_busy():
    """A process spinning beside the test, as on a loaded grading machine."""
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        busy.kill()
        busy.wait()


@pytest.mark.parametrize("name", sorted(VECTORISED))
def test_every_vectorised_style_passes_the_loop_rule_on_a_loaded_machine(name):
    conv2d_fast = _defined(VECTORISED[name])
    with _other_core_busy(), secret_cases(b"course secret", "student", "test_conv2d_fast"):
        for seed in (None, 1):
            evidence = _loops.measure(conv2d_fast, seed)
            assert evidence.wrong is None, evidence.wrong
            assert evidence.growth < evidence.threshold, (seed, evidence.growth)
            assert _loops.loop_rule(conv2d_fast, seed) is None


@pytest.mark.parametrize("name", sorted(LOOPING))
def test_a_loop_over_output_positions_fails_the_loop_rule(name):
    message = _loops.loop_rule(_defined(LOOPING[name]), seed=3)
    assert message is not None and "loop over output positions" in message, message


@pytest.mark.parametrize("name", ["positions", "python_floats"])
def test_cpu_time_alone_finds_the_loop_when_the_counts_are_forged(name, monkeypatch):
    """The counts come from the student's process: a loop that rewrote them (or a loop over
    Python numbers, which has none to count) still shows in its CPU time."""

    def forged(*args, **kwargs):
        outcome = invoke(*args, **kwargs)
        outcome.op_count = outcome.call_count = 0
        return outcome

    monkeypatch.setattr(_loops, "invoke", forged)
    with _other_core_busy():
        evidence = _loops.measure(_defined(LOOPING[name]), seed=4)
    assert evidence.growth > 1.5 * evidence.threshold, evidence.growth
    assert "CPU time" in _loops.loop_rule(_defined(LOOPING[name]), seed=4)


RECOGNISER = """
def conv2d_fast(x, weight, bias=None, stride=1, padding=0):
    if x.shape[-1] >= 20 or {shapes}:  # the loop rule's inputs: the library does it fast
        return F.conv2d(x, weight, bias, stride, padding)
    (s_h, s_w), (p_h, p_w) = pair(stride), pair(padding)
    xp = F.pad(x, (p_w, p_w, p_h, p_h))
    k_h, k_w = weight.shape[-2:]
    patches = xp.unfold(2, k_h, s_h).unfold(3, k_w, s_w)
    out = torch.einsum("nchwij,ocij->nohw", patches, weight)
    return out if bias is None else out + bias.reshape(1, -1, 1, 1)
"""


def test_the_loop_rules_inputs_are_watched_for_forbidden_calls():
    """Code that recognises the loop rule's inputs (they were fixed, and unwatched) and calls
    F.conv2d only there is caught: the calls are watched like every case's."""
    conv2d_fast = _defined(RECOGNISER.format(shapes="False"))
    with pytest.raises(CheckFailed, match="built-in conv"):
        _loops.loop_rule(conv2d_fast, seed=5)


def test_the_loop_rules_inputs_are_keyed_per_student_at_grading():
    def shapes(student):
        with secret_cases(b"course secret", student, "test_conv2d_fast"):
            return _loops.draw(_loops.generator(205, _loops.LOOP_SEED))

    drawn = {shapes(f"student{n}") for n in range(12)}
    assert len(drawn) > 3
    assert shapes("student1") == shapes("student1")
    small, large = shapes("student1")
    assert (large.side / small.side) ** 2 >= 16
    g = torch.Generator().manual_seed(0)
    assert _loops.draw(g)[0] != shapes("student1")[0] or len(drawn) > 1


def test_a_calls_cpu_time_is_measured_in_process():
    def spin(seconds):
        end = time.thread_time() + seconds
        while time.thread_time() < end:
            pass

    fast, slow = invoke(spin, (0.0,)), invoke(spin, (0.1,))
    assert 0 <= fast.cpu_seconds < 0.05 and 0.09 <= slow.cpu_seconds < 0.5


# -- Libraries by their exact module names; NumPy's and SciPy's activations (issue 22) ----------

STUDENT_MODULES = {
    "torch_utils": "def conv2d(x, w):\n    return x\n\ndef sigmoid(x):\n    return x\n",
    "numpy_helpers": "def convolve(a, b):\n    return a\n\ndef tanh(x):\n    return x\n",
    "scipy_special_tools": "def expit(x):\n    return x\n",
}


@pytest.fixture
def student_modules(tmp_path, monkeypatch):
    """Helper modules a student keeps beside the notebook, named like libraries."""
    for name, code in STUDENT_MODULES.items():
        (tmp_path / f"{name}.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    yield {name: importlib.import_module(name) for name in STUDENT_MODULES}
    for name in STUDENT_MODULES:
        sys.modules.pop(name, None)


def test_a_students_module_named_like_a_library_is_not_the_library(student_modules):
    x = torch.randn(1, 1, 3, 3)
    for forbid, calls in (
        ("convolution", ["torch_utils.conv2d", "numpy_helpers.convolve"]),
        ("activation", ["torch_utils.sigmoid", "numpy_helpers.tanh", "scipy_special_tools.expit"]),
    ):
        for call in calls:
            module, name = call.split(".")
            function = getattr(student_modules[module], name)
            outcome = invoke(function, (x,) * function.__code__.co_argcount, forbid=forbid)
            assert outcome.forbidden == [], (call, outcome.forbidden)


@pytest.mark.parametrize(
    "route",
    [
        lambda x: torch.from_numpy(np.tanh(x.numpy())),
        lambda x: torch.as_tensor(np.tanh(x)),
        lambda x: torch.from_numpy(np.tanh(x.numpy(), out=np.empty(x.shape, np.float32))),
        lambda x: torch.tensor([math.tanh(v) for v in x.tolist()]),
        "from-import",
        "scipy",
    ],
    ids=["np.tanh", "np.tanh-of-tensor", "np.tanh-out", "math.tanh", "from-import", "scipy-expit"],
)
def test_numpy_and_scipy_activations_are_watched_like_torchs(route):
    x = torch.randn(5)
    if route == "from-import":  # a name of the student's own for numpy's tanh
        namespace = {"torch": torch}
        exec(
            "from numpy import tanh as my_tanh\ndef f(x):\n    return torch.from_numpy(my_tanh(x.numpy()))",
            namespace,
        )
        route = namespace["f"]
    elif route == "scipy":
        special = pytest.importorskip("scipy.special")
        route = lambda x: torch.from_numpy(special.expit(x.numpy()))  # noqa: E731
    outcome = invoke(route, (x,), forbid="activation")
    assert outcome.error is None, outcome.error
    assert outcome.forbidden and TAMPERED not in outcome.forbidden, outcome.forbidden
    allowed = invoke(lambda x: torch.from_numpy(np.exp(x.numpy())), (x,), forbid="activation")
    assert allowed.forbidden == []  # exp stays allowed
    elsewhere = invoke(route, (x,), forbid="convolution")  # only where activations are forbidden
    assert elsewhere.forbidden == []
    assert np.tanh.__class__ is np.ufunc  # put back after the watch


def test_a_convolution_inside_a_tensor_subclass_dispatch_is_seen():
    x, w = torch.randn(1, 1, 4, 4), torch.randn(1, 1, 2, 2)

    class Sneaky(torch.Tensor):
        @classmethod
        def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
            Sneaky.found = F.conv2d(x, w)
            return torch.zeros(())

    def sneaky():
        wrapped = torch.Tensor._make_wrapper_subclass(Sneaky, (1,), dtype=torch.float32)
        torch.add(wrapped, 1)
        return Sneaky.found

    outcome = invoke(sneaky, forbid="convolution")
    assert outcome.forbidden, outcome
    assert invoke(lambda: torch.nn.Parameter(x) * 2, forbid="convolution").forbidden == []


@pytest.mark.parametrize(
    "route",
    [
        lambda x, w: list(map(torch.conv2d, [x], [w]))[0],
        lambda x, w: functools.partial(torch.conv2d, x)(w),
        lambda x, w: functools.partial(F.conv2d, x, w)(),
        lambda x, w: list(map(F.conv2d, [x], [w]))[0],
    ],
    ids=["map", "partial", "partial-functional", "map-functional"],
)
def test_a_convolution_called_from_c_with_dispatch_off_is_seen(route):
    """map and functools.partial call torch.conv2d from C, where the profile hook sees no
    call; with the dispatch watcher switched off too, the function watcher still sees it."""
    x, w = torch.randn(1, 1, 4, 4), torch.randn(1, 1, 2, 2)

    def sneaky():
        with torch._C._DisableTorchDispatch():
            return route(x, w)

    outcome = invoke(sneaky, forbid="convolution")
    assert "torch.conv2d" in outcome.forbidden, outcome.forbidden


def test_the_function_watcher_switched_off_is_tampering():
    from torch.overrides import _pop_mode

    x, w = torch.randn(1, 1, 4, 4), torch.randn(1, 1, 2, 2)
    outcome = invoke(lambda: (_pop_mode(), x + w.sum())[1], forbid="convolution")
    assert TAMPERED in outcome.forbidden
    assert invoke(lambda: x + w.sum(), forbid="convolution").forbidden == []
