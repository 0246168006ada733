"""Run student code while watching for library calls the exercise forbids.

Two watchers cover every route to a forbidden routine, aliases included:
- a ``TorchDispatchMode`` sees each ATen operator torch executes, whether it was
  reached through ``F.conv2d``, ``torch.conv2d``, ``nn.Conv2d`` or a saved alias;
- a profile hook sees each Python call made into ``scipy.signal`` or ``scipy.ndimage``.
"""

import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from torch.utils._python_dispatch import TorchDispatchMode

CONVOLUTION = re.compile(r"^_*(\w*_)?conv(olution|_|\dd|$)")
ACTIVATIONS = frozenset(
    "sigmoid tanh relu relu6 threshold leaky_relu rrelu_with_noise hardtanh hardsigmoid "
    "hardswish silu log_sigmoid_forward elu celu selu gelu mish softplus special_expit".split()
)
FORBIDDEN_PYTHON_MODULES = ("scipy.signal", "scipy.ndimage")


def _op_name(func) -> str:
    """``aten.sigmoid_.default`` -> ``sigmoid``."""
    return func._schema.name.split("::")[-1].rstrip("_") or func._schema.name


@dataclass
class Watch:
    """What one guarded call did: forbidden routines it reached, and how many torch ops it ran."""

    forbidden: list[str] = field(default_factory=list)
    op_count: int = 0

    def record(self, what: str) -> None:
        if what not in self.forbidden:
            self.forbidden.append(what)


class _OpWatcher(TorchDispatchMode):
    def __init__(self, watch: Watch, is_forbidden: Callable[[str], bool]):
        super().__init__()
        self.watch = watch
        self.is_forbidden = is_forbidden

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = _op_name(func)
        self.watch.op_count += 1
        if self.is_forbidden(name):
            self.watch.record(f"torch's built-in {name.removeprefix('special_')}")
        return func(*args, **(kwargs or {}))


def _python_call_watcher(watch: Watch):
    def profile(frame, event, arg):
        if event == "call":
            module = frame.f_globals.get("__name__", "")
            for forbidden in FORBIDDEN_PYTHON_MODULES:
                if module == forbidden or module.startswith(forbidden + "."):
                    watch.record(f"{forbidden}.{frame.f_code.co_name}")

    return profile


FORBIDDEN_OPS = {
    None: lambda name: False,
    "convolution": lambda name: bool(CONVOLUTION.match(name)),
    "activation": lambda name: name in ACTIVATIONS,
}


@contextmanager
def watching(forbid: str | None = None) -> Iterator[Watch]:
    """Watch the code run inside the block.

    ``forbid`` is ``"convolution"`` (torch's convolution operators and scipy's
    filters), ``"activation"`` (torch's activation operators) or ``None``.
    Forbidden calls are recorded, not stopped, so the student's code runs as written.
    """
    watch = Watch()
    is_forbidden = FORBIDDEN_OPS[forbid]
    previous_profile = sys.getprofile()
    if forbid == "convolution":
        sys.setprofile(_python_call_watcher(watch))
    try:
        with _OpWatcher(watch, is_forbidden):
            yield watch
    finally:
        sys.setprofile(previous_profile)
