"""The static scan of students' cells (``grading.review``): what the in-process guard cannot
rule out is listed for the instructor; honest solutions are not."""

import pytest
from catalogue import CORRECT, WRONG
from notebooks import reference_code

from autograder.grading.review import scan


@pytest.mark.parametrize("assignment", ["conv-layers", "nn-review"])
def test_the_reference_solutions_need_no_review(assignment):
    assert scan(list(reference_code(assignment).items())) == []


def test_honest_student_solutions_need_no_review():
    entries = list(CORRECT) + [w for w in WRONG if "scipy" not in w.name]
    findings = {e.name: scan([(e.cell, e.code)]) for e in entries}
    assert not {name: f for name, f in findings.items() if f}


TAMPERING = {
    "from torch.utils._python_dispatch import _pop_mode": "dispatch modes",
    "with torch._C._DisableTorchDispatch():\n    pass": "torch's internals",
    "import sys\nsys.setprofile(None)": "profiler",
    "import threading": "threads",
    "from _thread import start_new_thread": "threads",
    "import autograder.checks._guard as g": "grader's own code",
    "from autograder.checks import conv": "grader's own code",
    "import sys\nsys.modules['autograder.checks.conv'].probe = None": "loaded modules",
    "f = getattr(torch, name)": "computed names",
    "f = getattr(torch.nn.functional, 'conv' + '2d')": "computed names",
    "exec(code)": "run time",
    "y = eval('torch.conv2d')(x, w)": "run time",
    "m = __import__('scipy.signal')": "computed names",
    "import importlib\nm = importlib.import_module('scipy')": "computed names",
    "from scipy.signal import correlate2d": "SciPy",
    "import ctypes": "C code",
    "import gc\nobjects = gc.get_objects()": "interpreter's objects",
    "y = torch.ops.aten.convolution(x, w)": "operators directly",
    "f = torch.jit.script(g)": "TorchScript",
    "f.__code__ = g.__code__": "function's code",
    "import os\nos.kill(os.getppid(), 9)": "signals",
    "name = 'autograder.checks'": "grader's own code",
    "import multiprocessing": "processes",
    "%time import ctypes": "C code",  # not Python (a magic): read as text
}


@pytest.mark.parametrize("code", sorted(TAMPERING))
def test_each_route_around_the_guard_is_found_with_its_line(code):
    source = "import torch\n\ndef helper(x):\n    return x\n" + code + "\n"
    findings = scan([("conv2d_fast", source)])
    assert findings, code
    lines = {5 + n: line.strip() for n, line in enumerate(code.splitlines())}
    assert any(TAMPERING[code] in f.reason for f in findings), findings
    assert all(f.cell == "conv2d_fast" and lines.get(f.line) == f.code for f in findings)
