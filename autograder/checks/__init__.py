"""What the notebooks' test cells call.

Each ``check_*`` runs a student's function on a list of cases in weighted parts, compares
every answer with the PyTorch reference on the device ``AUTOGRADER_DEVICE`` selects, and
returns a ``Score`` (the points, a float; the parts with it): one line when every part
passed; the points, the parts and the message when some did; ``CheckFailed`` (carrying the
``Score`` as ``score`` and its ``parts``) when none did. The message's first line names the
likely misconception. Without ``seed`` a check runs its fixed, visible cases; hidden tests
pass a ``seed`` and get random cases drawn from it.
"""

from ._report import CheckFailed
from .activations import check_relu, check_sigmoid, check_tanh
from .conv import (
    check_conv2d_fast,
    check_conv2d_module,
    check_conv2d_naive,
    check_corr2d_padded,
)
from .dense import (
    check_dense_forward,
    check_neuron_gradients,
    check_sgd_step,
)
from .mlp import check_mlp_forward, check_mlp_param_count
from .sizes import (
    check_conv_layer_cost,
    check_conv_output_shape,
    check_param_constants,
    check_same_padding,
)

__all__ = [
    "CheckFailed",
    "check_conv2d_fast",
    "check_conv2d_module",
    "check_conv2d_naive",
    "check_conv_layer_cost",
    "check_conv_output_shape",
    "check_corr2d_padded",
    "check_dense_forward",
    "check_mlp_forward",
    "check_mlp_param_count",
    "check_neuron_gradients",
    "check_param_constants",
    "check_relu",
    "check_same_padding",
    "check_sgd_step",
    "check_sigmoid",
    "check_tanh",
]
