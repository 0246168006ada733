"""Units of the grader: the wire format refuses code, the sandbox command hides what it must,
the sandbox runs student code and answers with data, and collection derives ids safely."""

import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import msgpack
import pytest
import torch

from autograder.grading import wire
from autograder.grading.collect import collect
from autograder.grading.sandbox import (
    Limits,
    Sandbox,
    SandboxTimeout,
    _bwrap_command,
    bubblewrap,
    visible,
)


class Payload:
    def __reduce__(self):
        return (os.system, ("touch /tmp/pwned-by-a-reply",))


def test_a_reply_that_would_run_code_is_refused():
    crafted = msgpack.packb({"value": msgpack.ExtType(wire.PICKLED, pickle.dumps(Payload()))})
    with pytest.raises(wire.FrameError):
        wire.decode(crafted)
    assert not Path("/tmp/pwned-by-a-reply").exists()
    with pytest.raises(TypeError):  # and the sandbox's side never writes one
        wire.encode({"value": Payload()})
    honest = wire.decode(wire.encode({"x": torch.ones(2), "n": (1, "a"), "big": 2**70}))
    assert (
        honest["n"] == (1, "a")
        and honest["big"] == 2**70
        and torch.equal(honest["x"], torch.ones(2))
    )


def test_every_kind_of_value_and_tensor_comes_back_as_it_was():
    values = [
        torch.randn(2, 3, 4, dtype=torch.float64)[:, 1:, ::2],  # a strided view
        torch.tensor([True, False]),
        torch.zeros(0, 5),
        torch.tensor(1.5, dtype=torch.bfloat16),
        torch.arange(6, dtype=torch.int32).reshape(2, 3).t(),
        torch.randn(3, dtype=torch.complex64).conj(),
    ]
    message = {"tensors": tuple(values), "nested": [(), [()], {"k": (1, [2.5, None])}], 7: b"\x00"}
    back = wire.decode(wire.encode(message))
    for sent, got in zip(values, back["tensors"], strict=True):
        assert got.dtype == sent.dtype and torch.equal(got, sent.resolve_conj())
    assert back["nested"] == [(), [()], {"k": (1, [2.5, None])}] and back[7] == b"\x00"
    assert isinstance(back["nested"][2]["k"], tuple) and isinstance(back["nested"][2]["k"][1], list)
    grad = wire.decode(wire.encode(torch.ones(2, requires_grad=True), objects=True), trusted=True)
    assert grad.requires_grad
    functions = wire.decode(wire.encode((torch.tanh, torch.float16), objects=True), trusted=True)
    assert functions == (torch.tanh, torch.float16)


@pytest.mark.skipif(bubblewrap() is None, reason="needs bubblewrap (installed by `make test`)")
def test_the_sandbox_sees_an_allow_list_mounted_after_its_private_tmp(tmp_path):
    command = _bwrap_command(Limits(), [tmp_path], "cpu")
    assert ["--ro-bind", "/", "/"] not in [command[i : i + 3] for i in range(len(command))]
    binds = [command[i + 2] for i, arg in enumerate(command) if arg in ("--ro-bind", "--symlink")]
    assert set(binds) == {str(p) for p in visible("cpu")}
    assert not [b for b in binds if b.startswith(("/root/.ssh", "/home", "/srv", "/var", "/opt"))]
    assert command.index("/tmp") < min(command.index(b) for b in binds)
    assert "--unshare-all" in command and "--die-with-parent" in command


def test_the_sandbox_runs_cells_and_answers_with_data(tmp_path):
    sandbox = Sandbox(Limits(timeout=5), "cpu", [tmp_path])
    try:
        session = sandbox.begin({"data.txt": b"hello"})
        session.deadline = float("inf")
        reply = session.run_cell(
            "import torch\nprint(open('data.txt').read())\nN = (3, 4)\n"
            "def double(x):\n    return 2 * x\n"
        )
        assert reply["error"] is None and reply["output"] == "hello\n"
        assert session.lookup("N") == ("value", (3, 4))
        assert session.lookup("missing") == ("undefined", None)
        _, double = session.lookup("double")
        assert torch.equal(double(torch.ones(2)), torch.full((2,), 2.0))
        error = session.run_cell("1 / 0")["error"]
        assert error.type_name == "ZeroDivisionError" and error.is_a("ArithmeticError")
        session.deadline = __import__("time").monotonic() + 1
        with pytest.raises(SandboxTimeout):
            session.run_cell("while True:\n    pass\n")
        assert not sandbox.alive
    finally:
        sandbox.kill()


def test_lms_names_give_ids_and_unsafe_or_duplicate_ones_are_reported(tmp_path):
    notebook = b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'
    archive = tmp_path / "lms.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("smith_LATE_42_9_conv.ipynb", notebook)
        z.writestr("Ann Lee_77_assignsubmission_file_/work.ipynb", notebook)
        z.writestr("alice/conv-layers/conv-layers.ipynb", notebook)
        z.writestr("bob/conv-layers/conv-layers.ipynb", notebook)
        z.writestr("bob/conv-layers/copy.ipynb", notebook)
        z.writestr("carol/conv-layers/a.ipynb", notebook)
        z.writestr("carol/conv-layers/b.ipynb", notebook)
        z.writestr("-x/conv-layers/conv-layers.ipynb", notebook)
        z.writestr("readme.ipynb", notebook)
    found = collect(archive, "conv-layers", 2**20)
    assert set(found.submissions) == {"42", "77", "alice", "bob"}
    problems = "\n".join(found.problems)
    assert "carol: 2 notebooks" in problems and "'-x' is not a usable student id" in problems
    assert "'readme.ipynb': no student id" in problems


def test_a_sandbox_that_cannot_start_stops_grading_and_records_nothing(tmp_path, monkeypatch):
    from grading import grade, write_batch
    from notebooks import submission

    from autograder.grading import sandbox

    write_batch(tmp_path / "submitted", "nn-review", {"ann": submission("nn-review")})
    monkeypatch.setattr(sandbox, "PROGRAM", "autograder.no_such_module")
    with pytest.raises(sandbox.SandboxUnavailable, match="did not start"):
        grade(tmp_path / "course", "nn-review", tmp_path / "submitted")
    assert not list((tmp_path / "course").glob("autograded/*/*/autograder.json"))
    assert not (tmp_path / "course/grades.csv").exists()


def test_a_small_view_of_a_large_tensor_travels_small():
    big = torch.zeros(2**24)
    payload = wire.encode(wire.to_wire(big[:4], keep=lambda value: None))
    assert len(payload) < 10_000


def _tensor_frame(dtype: str, shape: list, raw: bytes, device: str = "cpu") -> bytes:
    header = msgpack.packb([dtype, shape, device, False, raw])
    return msgpack.packb({"value": msgpack.ExtType(wire.TENSOR, header)})


def test_crafted_replies_are_refused_before_they_cost_the_grader():
    import resource
    import time

    started = time.monotonic()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # 10 MB of empty arrays inside arrays: 10 million lists (over 500 MB) if read in full.
    inner = b"\xdd" + (50_000).to_bytes(4, "big") + b"\x90" * 50_000
    bomb = b"\xdd" + (200).to_bytes(4, "big") + inner * 200
    with pytest.raises(wire.FrameError, match="too many items"):
        wire.decode(bomb)
    nested_tuples = b"\xc0"
    for _ in range(100):
        nested_tuples = msgpack.packb(msgpack.ExtType(wire.TUPLE, b"\x91" + nested_tuples))
    deep_lists = b"\x91" * 100 + b"\xc0"
    for crafted in (nested_tuples, deep_lists):
        with pytest.raises(wire.FrameError, match="too deep"):
            wire.decode(crafted)
    assert time.monotonic() - started < 5
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak) / 1024
    assert grown_mb < 300, f"reading the bombs took {grown_mb:.0f} MB"

    for dtype, shape, raw, device in [
        ("float32", [2**40, 2**40], b"\x00" * 16, "cpu"),  # a header larger than its bytes
        ("float32", [3], b"\x00" * 4, "cpu"),
        ("float32", [-1, 4], b"\x00" * 16, "cpu"),
        ("object", [1], b"\x00" * 8, "cpu"),  # no such dtype to read
        ("float32", [1], b"\x00" * 4, "meta"),
    ]:
        with pytest.raises(wire.FrameError):
            wire.decode(_tensor_frame(dtype, shape, raw, device))
    for garbage in (
        b"",
        b"\xc1",
        b"\x92\xc0",
        b"\xc0\xc0",
        msgpack.packb(msgpack.ExtType(99, b"")),
    ):
        with pytest.raises(wire.FrameError):
            wire.decode(garbage)
    assert torch.equal(
        wire.decode(_tensor_frame("bool", [2], b"\x00\x07"))["value"], torch.tensor([False, True])
    )


def test_without_bubblewrap_a_killed_sandbox_leaves_no_child_running(tmp_path, monkeypatch):
    import time

    from autograder.grading import sandbox as sandboxes

    monkeypatch.setattr(sandboxes, "bubblewrap", lambda: None)
    sandbox = Sandbox(Limits(timeout=5), "cpu", [tmp_path])
    scratch = sandbox._scratch  # unique to this sandbox: in its processes' command lines
    try:
        session = sandbox.begin({})
        session.deadline = time.monotonic() + 1
        with pytest.raises(SandboxTimeout):
            session.run_cell("while True:\n    pass\n")
    finally:
        sandbox.kill()
    time.sleep(0.5)
    processes = subprocess.run(["ps", "-ww", "-eo", "args"], capture_output=True, text=True).stdout
    assert scratch not in processes, "the child spinning in the loop outlived its sandbox"


def test_a_script_run_from_tmp_does_not_cover_the_private_tmp(monkeypatch, tmp_path):
    from autograder.grading.sandbox import visible

    monkeypatch.setattr(sys, "path", ["/tmp", "/", str(tmp_path), *sys.path])
    shown = set(visible("cpu"))
    assert not shown & {Path("/tmp"), Path("/dev/shm"), Path("/")}
    assert tmp_path in shown or any(p in tmp_path.parents for p in shown)
