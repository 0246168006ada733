"""Device selection, and the watcher that catches forbidden calls by any route."""

import pytest
import torch
import torch.nn.functional as F

from autograder.checks._guard import watching
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
