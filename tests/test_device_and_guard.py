"""Device selection, and the watcher that catches forbidden calls by any route."""

import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from autograder.checks import _guard
from autograder.checks._guard import TAMPERED, watching
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
