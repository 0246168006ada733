"""Choose the torch device the checks and the grader compute on.

In order: the ``choice`` passed to :func:`get_device`; the device a grading batch set for
this thread with :func:`using_device`; ``$AUTOGRADER_DEVICE``; else ``auto`` (``cuda``
when a GPU is visible, else ``cpu``). Names: ``cpu``, ``cuda`` or ``auto``.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import torch

ENV_VAR = "AUTOGRADER_DEVICE"
CHOICES = ("auto", "cpu", "cuda")
_CURRENT: ContextVar[torch.device | None] = ContextVar("autograder_device", default=None)


def get_device(choice: str | None = None) -> torch.device:
    """Return the device named by ``choice``, else the one :func:`using_device` set, else
    the one ``$AUTOGRADER_DEVICE`` names.

    Raises ``ValueError`` for an unknown name and ``RuntimeError`` when
    ``cuda`` is asked for on a machine without a usable GPU.
    """
    if choice is None and _CURRENT.get() is not None:
        return _CURRENT.get()
    choice = (choice or os.environ.get(ENV_VAR) or "auto").strip().lower()
    if choice not in CHOICES:
        raise ValueError(f"{ENV_VAR} must be one of {', '.join(CHOICES)}, not {choice!r}")
    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"{ENV_VAR}=cuda, but torch sees no CUDA GPU on this machine")
    if choice == "cuda":
        # cuDNN convolutions default to TF32 (about 1e-3 relative error); the checks compare
        # float32 answers to 1e-4, so the reference must be computed in full float32.
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    return torch.device(choice)


@contextmanager
def using_device(choice: str) -> Iterator[torch.device]:
    """Within the block, and in this thread (or task) only, :func:`get_device` returns the
    device ``choice`` names: how a grading batch gives its checks the sandboxes' device."""
    token = _CURRENT.set(get_device(choice))
    try:
        yield _CURRENT.get()
    finally:
        _CURRENT.reset(token)
