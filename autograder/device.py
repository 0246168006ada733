"""Choose the torch device the checks and the grader compute on.

``AUTOGRADER_DEVICE`` selects it: ``cpu``, ``cuda`` or ``auto`` (the default:
``cuda`` when a GPU is visible, else ``cpu``).
"""

import os

import torch

ENV_VAR = "AUTOGRADER_DEVICE"
CHOICES = ("auto", "cpu", "cuda")


def get_device(choice: str | None = None) -> torch.device:
    """Return the device named by ``choice`` or by ``$AUTOGRADER_DEVICE``.

    Raises ``ValueError`` for an unknown name and ``RuntimeError`` when
    ``cuda`` is asked for on a machine without a usable GPU.
    """
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
