"""The checks' shared framework (``checks._cases``, ``checks._experiments``) on inputs nobody
listed: an experiment that fails says nothing (and never becomes a grading error); an answer
of another dtype is no evidence for the experiments that fit values; a sentence says only
what its experiment observed; a replay contradicted by another wrong answer is not named
unless a further wrong answer confirms it; a failed check carries its parts; the old checks
no notebook calls are gone."""

import contextlib
import io

from autograder import checks
from autograder.checks import activations, conv, dense, mlp, sizes

OLD_CHECKS = (
    "check_conv_output_size",
    "check_conv_param_count",
    "check_neuron",
    "check_dense_param_count",
)


def quietly(call, *args, **kwargs):
    with contextlib.redirect_stdout(io.StringIO()):
        return call(*args, **kwargs)


def test_the_checks_no_notebook_calls_are_gone():
    for name in OLD_CHECKS:
        assert name not in checks.__all__
        assert not hasattr(checks, name)
        for module in (activations, conv, dense, mlp, sizes):
            assert not hasattr(module, name), (module.__name__, name)
