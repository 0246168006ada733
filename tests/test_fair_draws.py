"""A mistake's points never depend on the draw of its hidden cases (issue 23: partial credit
that is fair). Every student gets other hidden cases (keyed by the course secret, the student
and the cell); a mistake the visible parts catch must lose the hidden part too, whatever the
draw, and one they miss must be treated alike for everyone. The hidden draws therefore give
each ingredient of the visible parts a case of its own (a role), with random sizes and values.

Tested on mistakes nobody wrote for this: every wrong entry of the catalogue and a fixed
sample of the mutants of the reference solutions (tests/mutants.py), each scored under
several course secrets. A function that answers differently on the same input (one reading
uninitialised memory, say) is left out: its points vary with its own randomness."""

import contextlib
import io
import random

import pytest
import test_mutants_conv as conv_mutants
import test_mutants_nn as nn_mutants
from catalogue import WRONG
from test_checks_nn import CHECKS as NN_CHECKS
from test_mutants_conv import fast_and_unwatched  # noqa: F401 (no guard, one thread: autouse)

from autograder.checks import CheckFailed
from autograder.checks._seeds import secret_cases

pytestmark = pytest.mark.slow

SECRETS = (b"first course", b"second course", b"third course")
SEED = 7  # the test cell's seed; the secret keys it
CONV_SAMPLE, NN_SAMPLE = 40, 100
CHECKS = {**conv_mutants.CHECKS, **{name: check for name, (check, _) in NN_CHECKS.items()}}


def points(cell: str, fn, secret: bytes) -> float:
    with secret_cases(secret, "a student", cell), contextlib.redirect_stdout(io.StringIO()):
        try:
            return float(CHECKS[cell](fn, seed=SEED))
        except CheckFailed:
            return 0.0


def by_secret(cell: str, fn) -> dict[bytes, float] | None:
    """The points under each secret, or None for a function that scores differently twice
    under the same one."""
    found = {secret: points(cell, fn, secret) for secret in SECRETS}
    if len(set(found.values())) > 1 and points(cell, fn, SECRETS[0]) != found[SECRETS[0]]:
        return None
    return found


def unfair(entries) -> list[tuple[str, dict]]:
    """``(what, points by secret)`` for each entry whose points depend on the secret."""
    found = []
    for what, cell, fn in entries:
        scored = by_secret(cell, fn)
        if scored is not None and len(set(scored.values())) > 1:
            found.append((what, scored))
    return found


def catalogue_entries():
    for wrong in WRONG:
        if wrong.cell not in CHECKS:
            continue
        if wrong.cell in conv_mutants.CHECKS:
            yield wrong.name, wrong.cell, conv_mutants._defined(wrong.code, wrong.cell)
        else:
            yield wrong.name, wrong.cell, nn_mutants.function(wrong.cell, wrong.code)


def test_a_catalogue_mistake_scores_the_same_whatever_the_secret():
    entries = list(catalogue_entries())
    assert len(entries) > 100
    assert not unfair(entries)


def test_a_mutant_scores_the_same_whatever_the_secret():
    conv = []
    for name, cell, source, mutant in random.Random(6).sample(
        conv_mutants.population(), k=len(conv_mutants.population())
    ):
        try:
            fn = conv_mutants._defined(mutant, cell)
        except Exception:  # noqa: BLE001 (a mutant that cannot even be defined)
            continue
        reference = conv_mutants._defined(source, cell)
        if not conv_mutants.behaves_like(fn, reference, conv_mutants.probes(cell)):
            conv.append((f"{name}: {conv_mutants.change_of(source, mutant)}", cell, fn))
        if len(conv) == CONV_SAMPLE:
            break
    scalar = []
    for name, source, mutant in random.Random(6).sample(nn_mutants.all_mutants(), k=NN_SAMPLE):
        try:
            fn = nn_mutants.function(name, mutant)
        except Exception:  # noqa: BLE001 (a mutant that cannot even be defined)
            continue
        if not nn_mutants.equivalent(name, nn_mutants.function(name, source), fn):
            scalar.append((mutant, name, fn))
    print(f"\n{len(conv)} convolution mutants and {len(scalar)} others, scored under 3 secrets")
    assert not unfair(conv + scalar)
