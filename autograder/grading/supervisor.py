"""The program that runs inside the sandbox (``python -m autograder.grading.supervisor CONFIG``).

It imports torch, IPython and the checks once, then waits: this *supervisor* never runs
student code, and is not dumpable, so its children can neither trace it nor write its
memory. For each submission the grader hands it, over the control socket (fd 0), a socket
for that session alone; it forks a child that reads the ``start`` request from it and
executes the student's cells in a fresh IPython namespace, answering the grader's
requests (run a cell, look a name up, call a student function) until ``end``. Before any
student code runs, the child takes an IPC namespace of its own (System V shared memory,
message queues, semaphores and POSIX message queues die with it), becomes the sandbox's
unprivileged user with no capabilities, and loses the kernel's keyrings and (on a CPU)
threads. Between submissions every leftover process is killed and every file removed; when
something cannot be removed, the supervisor exits and the grader starts a new sandbox, so
nothing carries over from one student to the next.

Everything the grader receives from here is data (see ``autograder.wire``).
"""

import ctypes
import errno
import inspect
import io
import json
import os
import resource
import shutil
import signal
import socket
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

from autograder import checks
from autograder.checks import _guard, _loops, _student
from autograder.checks._student import Raised, run_here
from autograder.grading import wire

TRUSTED_FRAME_BYTES = 2**40


def _guard_parts() -> tuple:
    """The objects the forbidden-call guard is made of, as a student's code would reach
    them: replaced ones mean the guard was tampered with."""
    return (
        _student.run_here,
        _student.watching,
        _guard.watching,
        _guard._verify,
        _guard._call_watcher,
        _guard._OpWatcher.__torch_dispatch__,
        _guard._FunctionWatcher.__torch_function__,
        _guard._Watched.__call__,
        _guard._UfuncWatch.__enter__,
        _guard._UfuncWatch.__exit__,
        _guard.names_watched,
        _student.names_watched,
        _loops.loop_rule,
        _guard.RULES,
        *_guard.RULES.values(),
        *(f.__code__ for f in (run_here, _guard.watching, _guard._verify, _guard._call_watcher)),
    )


def _probes() -> dict[str, Any]:
    """Every probe (trusted code that exercises a student object: ``probe_*`` in the
    checks' modules) by ``module:name``."""
    return {
        f"{module.__name__}:{name}": value
        for module in (
            checks.conv,
            checks.dense,
            checks.mlp,
            checks.activations,
            checks.sizes,
            _loops,
        )
        for name, value in vars(module).items()
        if name.startswith("probe_") and callable(value)
    }


# Taken before any student code ran: a request names a probe, and gets this one, whatever a
# student did to the modules since; the probes' code and the guard's are compared with it.
PROBES = _probes()
GUARD = _guard_parts() + tuple(getattr(f, "__code__", f) for f in PROBES.values())


def _intact() -> bool:
    parts = _guard_parts() + tuple(getattr(f, "__code__", f) for f in PROBES.values())
    return len(parts) == len(GUARD) and all(a is b for a, b in zip(parts, GUARD, strict=True))


class Shell(InteractiveShell):
    """IPython without a terminal: no history file, no GUI event loop, and the traceback
    of a failing cell kept for the grader instead of printed."""

    last_traceback = ""

    def enable_gui(self, gui=None):
        pass

    def _showtraceback(self, etype, evalue, stb):
        self.last_traceback = "\n".join(stb)


class CappedText(io.TextIOBase):
    """A text stream that keeps the first ``limit`` characters written to it."""

    def __init__(self, limit: int):
        self.limit, self.parts, self.size, self.truncated = limit, [], 0, False

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        room = self.limit - self.size
        if len(text) > room:
            self.truncated = True
            text = text[: max(room, 0)]
        self.parts.append(text)
        self.size += len(text)
        return len(text)

    def getvalue(self) -> str:
        return "".join(self.parts)


class Child:
    """Serves one submission: its namespace, and the objects the grader holds handles to."""

    def __init__(self, config: dict, channel_in, channel_out):
        self.config, self.channel_in, self.channel_out = config, channel_in, channel_out
        shell_config = Config()
        shell_config.HistoryManager.enabled = False
        self.shell = Shell(config=shell_config, colors="NoColor")
        self.handles: list[Any] = []
        self.pid = os.getpid()

    def keep(self, value: Any) -> dict:
        self.handles.append(value)
        parameters = None
        if callable(value):
            try:
                parameters = [
                    (p.name, int(p.kind), p.default is not inspect.Parameter.empty)
                    for p in inspect.signature(value).parameters.values()
                ]
            except (TypeError, ValueError):
                parameters = None
        return {
            "__remote__": len(self.handles) - 1,
            "name": str(getattr(value, "__name__", type(value).__name__)),
            "type": type(value).__name__,
            "callable": callable(value),
            "parameters": parameters,
        }

    def serve(self) -> None:
        while True:
            request = wire.read_frame(self.channel_in, TRUSTED_FRAME_BYTES, trusted=True)
            if request["op"] == "end":
                return
            reply = getattr(self, "do_" + request["op"])(request)
            if os.getpid() != self.pid:
                os._exit(0)  # a process the student forked: only the child itself may answer
            wire.write_frame(self.channel_out, reply)

    @contextmanager
    def captured(self) -> Iterator[CappedText]:
        """What the student's code prints meanwhile, up to the output limit."""
        stdout = CappedText(self.config["output_chars"])
        saved = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = stdout
        try:
            yield stdout
        finally:
            sys.stdout, sys.stderr = saved

    def do_exec(self, request: dict) -> dict:
        self.shell.last_traceback = ""
        with self.captured() as stdout:
            try:
                result = self.shell.run_cell(request["source"], store_history=False)
                error = result.error_before_exec or result.error_in_exec
            except (RecursionError, MemoryError) as too_big:  # IPython's own compile of a
                error = too_big  # cell too deeply nested raises out of run_cell: the cell's error
        return {
            "output": stdout.getvalue(),
            "truncated": stdout.truncated,
            "error": None if error is None else vars(Raised.of(error)),
            "traceback": self.shell.last_traceback[-20000:] if error is not None else "",
        }

    def do_lookup(self, request: dict) -> dict:
        namespace = self.shell.user_ns
        if request["name"] not in namespace:
            return {"kind": "undefined"}
        value = namespace[request["name"]]
        if inspect.ismodule(value):
            return {"kind": "module", "module": value.__name__}
        if callable(value):
            return {"kind": "value", "value": self.keep(value)}
        return {"kind": "value", "value": wire.to_wire(value, self.keep)}

    def resolve(self, value: Any) -> Any:
        """Turn the grader's ``__remote__`` markers back into the objects they stand for."""
        return wire.rebuild(
            value,
            lambda v: (
                self.handles[v["__remote__"]]
                if isinstance(v, dict) and "__remote__" in v
                else wire.KEEP
            ),
        )

    def do_invoke(self, request: dict) -> dict:
        target = self.handles[request["handle"]]
        probe = PROBES[request["probe"]] if request["probe"] else None
        args, kwargs = self.resolve(request["args"]), self.resolve(request["kwargs"])
        intact = _intact()
        with self.captured():  # prints inside a checked call are not shown
            outcome = run_here(target, args, kwargs, probe=probe, **request["options"])
        judged = request["options"].get("forbid") or probe is not None
        if judged and not (intact and _intact()):
            outcome.forbidden.append(_guard.TAMPERED)
        return {
            "value": wire.to_wire(outcome.value, self.keep),
            "error": None if outcome.error is None else vars(outcome.error),
            "forbidden": list(outcome.forbidden),
            "op_count": int(outcome.op_count),
            "call_count": int(outcome.call_count),
            "args_after": wire.to_wire(outcome.args_after, self.keep),
        }


def limit_resources(config: dict) -> None:
    """Per-process limits the student's code cannot raise again. On a GPU the data limit is
    left to the memory cgroup: the CUDA driver maps more address space than it uses."""
    data = [] if config["device"] == "cuda" else [(resource.RLIMIT_DATA, config["memory_bytes"])]
    for limit, value in data + [
        (resource.RLIMIT_FSIZE, config["file_bytes"]),
        (resource.RLIMIT_CORE, 0),
    ]:
        soft, hard = resource.getrlimit(limit)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(limit, (value, value))


def mount_points(folders: list[str]) -> set[str]:
    """The mount points under ``folders`` (the views of the interpreter and package, the
    hiding tmpfs mounts) and the folders leading to them: what clearing keeps."""
    keep = set()
    with open("/proc/self/mountinfo") as mounts:
        for line in mounts:
            point = line.split()[4]
            for folder in folders:
                if point != folder and point.startswith(folder.rstrip("/") + "/"):
                    while point != folder:
                        keep.add(point)
                        point = os.path.dirname(point)
    return keep


def _writable_again(function, path, _error) -> None:
    """rmtree's error handler: a student made a folder read-only; make it ours again."""
    for folder in (os.path.dirname(path), path):
        try:
            os.chmod(folder, 0o700, follow_symlinks=False)
        except (OSError, NotImplementedError):
            pass
    try:
        function(path)
    except OSError:
        pass  # found by the emptiness check


def clear(folder: str, keep: set[str]) -> bool:
    """Delete everything a student wrote in ``folder`` but the paths in ``keep``; True
    when nothing else is left."""
    # Open to every child again: the scratch folders to all, a folder leading to a mount
    # point (made by bubblewrap) to be read; a student could only have closed them.
    try:
        os.chmod(folder, 0o1777 if folder in ("/tmp", "/dev/shm") else 0o755)
    except OSError:
        pass
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return False
    for entry in entries:
        if entry.path in keep:
            if not os.path.ismount(entry.path) and not clear(entry.path, keep):
                return False
        elif entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, onerror=_writable_again)
        else:
            try:
                os.unlink(entry.path)
            except OSError:
                _writable_again(os.unlink, entry.path, None)
    try:
        return all(entry.path in keep for entry in os.scandir(folder))
    except OSError:
        return False


def run_child(config: dict, session: int, supervisor: int) -> None:
    os.setsid()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    # Without bubblewrap there is no PID namespace to take the child down with the
    # supervisor: it dies with its parent instead.
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != supervisor:  # the supervisor was gone already
        os._exit(0)
    if config["isolated"]:
        isolate(config["uid"])
    channel_in = os.fdopen(session, "rb", buffering=0)
    channel_out = os.fdopen(os.dup(session), "wb")
    request = wire.read_frame(channel_in, TRUSTED_FRAME_BYTES, trusted=True)
    if request.get("op") != "start":
        return
    workdir = config["workdir"]
    os.makedirs(workdir, exist_ok=True)
    for name, content in request["files"].items():
        with open(os.path.join(workdir, os.path.basename(name)), "wb") as file:
            file.write(content)
    os.chdir(workdir)
    limit_resources(config)
    torch.set_num_threads(1)
    # The CUDA driver starts threads of its own: threads are forbidden on a CPU only.
    restrict_syscalls(threads=config["device"] != "cuda")
    child = Child(config, channel_in, channel_out)
    wire.write_frame(channel_out, {"started": True})
    child.serve()


def remove_leftovers(config: dict, child_pid: int) -> None:
    """Kill whatever the last student left running, and delete what it wrote."""
    if config["isolated"] and os.getpid() == 1:
        # The init of our own PID namespace: every other process belongs to a student.
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
    else:
        try:
            os.killpg(child_pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG) == (0, 0):
                break
        except ChildProcessError:
            break


def warm_up() -> None:
    """Pay here, once, the first-use costs every child would otherwise pay: the guard's
    dispatch mode, the (de)serialiser and a few tensor operations. One thread, so that
    nothing forked inherits a running thread pool."""
    torch.set_num_threads(1)
    x = torch.ones(2, 3, 4, 4)
    w = torch.ones(1, 3, 2, 2)
    run_here(torch.nn.functional.conv2d, (x, w), {}, forbid="convolution", keep_args=True)
    for trusted in (False, True):
        wire.decode(wire.encode({"x": x, "n": (1, 2.0, "s")}), trusted)


PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_SECCOMP, PR_SET_NO_NEW_PRIVS = 1, 4, 22, 38


def prctl(option: int, value: int) -> None:
    if ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}, {value}) failed")


class _Instruction(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_ushort),
        ("jt", ctypes.c_ubyte),
        ("jf", ctypes.c_ubyte),
        ("k", ctypes.c_uint32),
    ]


class _Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_Instruction))]


# Per machine, seccomp filters see raw syscall numbers: the audit architecture, clone,
# clone3, and the keyring calls (add_key, request_key, keyctl).
ARCHITECTURES = {
    "x86_64": (0xC000003E, 56, 435, (248, 249, 250)),
    "aarch64": (0xC00000B7, 220, 435, (217, 218, 219)),
}
CLONE_THREAD = 0x00010000
X32_SYSCALL_BIT = 0x40000000  # x86_64's x32 numbering: a second way to name every call
LOAD, JUMP_EQUAL, JUMP_AT_LEAST, JUMP_SET, RETURN = 0x20, 0x15, 0x35, 0x45, 0x06
ALLOW, FAIL_WITH = 0x7FFF0000, 0x00050000  # SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO | errno


def restrict_syscalls(threads: bool) -> None:
    """From here on, this process and its children cannot use the kernel's keyrings
    (``add_key``, ``request_key`` and ``keyctl`` fail with EPERM: a key outlives the
    process that made it) nor, with ``threads``, start threads (``clone`` with
    ``CLONE_THREAD`` fails with EPERM, ``clone3`` with ENOSYS so that the C library falls
    back to ``clone``: a thread would run student code outside the guard's watchers;
    processes may still be forked). Calls through another ABI (32-bit, x32) fail with
    ENOSYS, so none of this can be named another way. The kernel enforces it: no code can
    lift it."""
    machine = ARCHITECTURES.get(os.uname().machine)
    if machine is None:
        return
    arch, clone, clone3, keyrings = machine
    program = [
        (LOAD, 0, 0, 4),  # seccomp_data.arch
        (JUMP_EQUAL, 1, 0, arch),
        (RETURN, 0, 0, FAIL_WITH | errno.ENOSYS),  # another ABI
        (LOAD, 0, 0, 0),  # seccomp_data.nr
        (JUMP_AT_LEAST, 0, 1, X32_SYSCALL_BIT),
        (RETURN, 0, 0, FAIL_WITH | errno.ENOSYS),
    ]
    denied = [(number, errno.EPERM) for number in keyrings]
    denied += [(clone3, errno.ENOSYS)] if threads else []
    for number, error in denied:
        program += [(JUMP_EQUAL, 0, 1, number), (RETURN, 0, 0, FAIL_WITH | error)]
    if threads:
        program += [
            (JUMP_EQUAL, 0, 3, clone),
            (LOAD, 0, 0, 16),  # seccomp_data.args[0], low half: clone's flags
            (JUMP_SET, 0, 1, CLONE_THREAD),
            (RETURN, 0, 0, FAIL_WITH | errno.EPERM),
        ]
    program.append((RETURN, 0, 0, ALLOW))
    instructions = (_Instruction * len(program))(*(_Instruction(*i) for i in program))
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    libc = ctypes.CDLL(None, use_errno=True)
    fprog = _Program(len(program), instructions)
    if libc.prctl(PR_SET_SECCOMP, 2, ctypes.byref(fprog), 0, 0) != 0:  # SECCOMP_MODE_FILTER
        raise OSError(ctypes.get_errno(), "could not restrict system calls (seccomp)")


CLONE_NEWIPC, CLONE_NEWUSER = 0x08000000, 0x10000000
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint32) for n in ("effective", "permitted", "inheritable")]


def _libc_call(name: str, *args) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if getattr(libc, name)(*args) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{name}: {os.strerror(error)}")


def isolate(uid: int) -> None:
    """Make this (forked, not yet student) process a student's: an IPC namespace of its own,
    so that System V IPC objects and POSIX message queues die with it instead of waiting
    for the next student; the unprivileged user ``uid`` (where the supervisor is the
    sandbox's root: the grader ran as root); no capabilities, none to regain."""
    try:
        _libc_call("unshare", CLONE_NEWIPC)  # with the supervisor's CAP_SYS_ADMIN
    except OSError:
        # Without it (a setuid bubblewrap): a user namespace of our own as well, which
        # brings the capability for the IPC namespace, and maps only ourselves.
        own_uid, own_gid = os.getuid(), os.getgid()
        _libc_call("unshare", CLONE_NEWUSER | CLONE_NEWIPC)
        for name, text in [
            ("setgroups", "deny"),
            ("uid_map", f"{own_uid} {own_uid} 1"),
            ("gid_map", f"{own_gid} {own_gid} 1"),
        ]:
            with open(f"/proc/self/{name}", "w") as file:
                file.write(text)
    if os.getuid() != uid:
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    header, data = _CapHeader(0x20080522, 0), (_CapData * 2)()  # _LINUX_CAPABILITY_VERSION_3
    _libc_call("capset", ctypes.byref(header), ctypes.byref(data))
    prctl(PR_SET_NO_NEW_PRIVS, 1)


MS_RDONLY, MS_REMOUNT, MS_BIND, MS_RELATIME = 1, 32, 4096, 1 << 21
# statvfs's flags that a remount must keep (a user namespace may not clear them), as mount's:
# nosuid, nodev, noexec, synchronous, mandatory locks, noatime, nodiratime; relatime.
KEPT_FLAGS = {2: 2, 4: 4, 8: 8, 16: 16, 64: 64, 1024: 1024, 2048: 2048, 4096: MS_RELATIME}


def read_only_devices() -> None:
    """Make every device node bound into ``/dev`` a read-only mount. A device on a read-only
    mount still reads and writes as ever (``/dev/null``, the GPU's), but its mode, owner and
    times cannot change: no student can chmod a host's node, whoever it runs as. Where the
    supervisor has no capability to (a setuid bubblewrap run by a grader that is not root,
    whose students are that grader on the host and own no node), it says so in the log."""
    with open("/proc/self/mountinfo") as mounts:
        points = [line.split()[4] for line in mounts]
    libc = ctypes.CDLL(None, use_errno=True)
    for point in points:
        if not point.startswith("/dev/") or point == "/dev/shm":
            continue
        flags = os.statvfs(point).f_flag
        kept = sum(ms for st, ms in KEPT_FLAGS.items() if flags & st)
        options = MS_REMOUNT | MS_BIND | MS_RDONLY | kept
        if libc.mount(b"none", point.encode(), None, options, None) != 0:
            error = ctypes.get_errno()
            if error == errno.EPERM and os.getuid() != 0:
                print(f"sandbox: {point} stays a read-write mount (no capability)", file=sys.stderr)
                continue
            raise OSError(error, f"cannot make {point} read-only: {os.strerror(error)}")


def not_dumpable() -> None:
    """Processes of the same user (the students' children) can no longer ptrace this one
    or open its /proc/<pid>/mem."""
    prctl(PR_SET_DUMPABLE, 0)


def can_isolate(uid: int) -> None:
    """Check, once, that a child can :func:`isolate` itself here: a sandbox in which it
    cannot never says it is ready (the machine's problem, not a student's)."""
    pid = os.fork()
    if pid == 0:
        try:
            isolate(uid)
            restrict_syscalls(threads=False)
            os._exit(0)
        except BaseException:
            traceback.print_exc()
            os._exit(1)
    if os.waitpid(pid, 0)[1] != 0:
        raise SystemExit("a child cannot be isolated in this sandbox")


def main() -> None:
    config = json.loads(sys.argv[1])
    # As the init of the sandbox's PID namespace the supervisor receives, from its children,
    # only the signals it handles: Python handles SIGINT (children get it back).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    control = socket.socket(fileno=os.dup(0))
    # Nothing a student prints may reach the control socket: fds 0 and 1 become /dev/null.
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1):
        os.dup2(devnull, fd)
    not_dumpable()
    if config["isolated"]:
        read_only_devices()
        can_isolate(config["uid"])
    keep = mount_points(config["scratch"])
    warm_up()
    control.sendall(wire.READY)
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, len(wire.START), 1)
        except OSError:
            return
        if message != wire.START or len(fds) != 1:
            return
        supervisor = os.getpid()
        pid = os.fork()
        if pid == 0:
            try:
                control.close()
                run_child(config, fds[0], supervisor)
            except BaseException:  # the grader sees the child end; the cause goes to stderr
                traceback.print_exc()
            finally:
                os._exit(0)
        os.close(fds[0])
        os.waitpid(pid, 0)
        remove_leftovers(config, pid)
        if not all(clear(folder, keep) for folder in config["scratch"]):
            return  # something a student left cannot be removed: a new sandbox, then
        control.sendall(wire.READY)


if __name__ == "__main__":
    main()
