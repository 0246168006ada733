"""Where student code runs at grading time, seen from the grader.

A :class:`Sandbox` is one Python process (``autograder.grading.supervisor``) started under
bubblewrap when it is installed: its own user, PID, network and mount namespaces, the
file system read-only, the course folder, the submissions, the repository (but for the
``autograder`` package) and home folders hidden, ``/tmp`` a small private tmpfs. A pids
cgroup bounds the number of processes and a memory cgroup the memory of everything in it,
where the machine lets us create cgroups; every child has per-process resource limits.

The sandbox's main process (the *supervisor*) imports torch once and forks a fresh child
per submission (a :class:`Session`); no student code ever runs in the supervisor, which
cannot be traced or written to by its children (it is not dumpable). The grader talks to
the supervisor over a control socket and to each child over a socket of its own, handed
over for that session only: nothing a student writes, even on the way out, can be read as
another student's reply. After each child the supervisor kills every process left and
empties ``/tmp``; when it cannot (or does not answer in time), the sandbox is replaced.
Replies are read with a deadline; a sandbox that overruns it, dies or sends anything
malformed is killed whole, and the caller starts another.
"""

import atexit
import json
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from . import untrusted, wire
from .protocol import MESSAGE_CHARS, NAME_CHARS, Outcome, handle_marker, raised, unwire

PACKAGE = Path(__file__).resolve().parent.parent  # the autograder package
PROGRAM = "autograder.grading.supervisor"  # what runs inside
PASSED_ON = {"PATH", "LANG", "LC_ALL", "TZ", "LD_LIBRARY_PATH", "CUDA_VISIBLE_DEVICES"}
BOOT_SECONDS = 180.0  # a new sandbox: Python, torch and IPython imported
CONTROL_SECONDS = 10.0  # a child started, or the sandbox cleared after one
TRACEBACK_CHARS = 20_000  # what the grader keeps of a student's traceback


@dataclass(frozen=True)
class Limits:
    """What one submission may use. Defaults suit the course's notebooks with room to spare."""

    timeout: float = 60.0  # seconds per cell (a test cell: all its checks together)
    memory_mb: int = 4096  # address space for data, per process
    processes: int = 64  # processes and threads in the sandbox at once
    output_kb: int = 256  # text kept per cell; the rest is cut off
    files_mb: int = 256  # what the code may write (in its private /tmp)
    reply_mb: int = 64  # largest value a student function may return
    notebook_mb: int = 20  # largest notebook read
    submission_seconds: float = 300.0  # one whole notebook, restarts and replays included


class SandboxGone(BaseException):
    """The sandbox was killed or died. A BaseException so no ``except Exception`` in a
    check or test cell can swallow it."""


class SandboxTimeout(SandboxGone):
    """Student code ran past its time limit."""


class SandboxCrashed(SandboxGone):
    """The sandbox process ended or sent something unreadable."""


class SandboxUnavailable(BaseException):
    """A sandbox could not start at all: a problem of this machine, not of a submission, so
    grading stops instead of recording zeros."""


@cache
def bubblewrap() -> str | None:
    """The bwrap executable, if it is installed and can make namespaces here."""
    path = shutil.which("bwrap")
    if path is None:
        return None
    probe = [path, "--ro-bind", "/", "/", "--unshare-all", "--uid", "65534", "true"]
    if subprocess.run(probe, capture_output=True, timeout=60).returncode != 0:
        return None
    return path


def _inside(path: Path, folders: Iterable[Path]) -> bool:
    return any(path == f or f in path.parents for f in folders)


# What the sandbox sees of the host, read-only: the system's programs and libraries, the
# dynamic loader's configuration and the time zone. Everything else of the host (home
# folders, /srv, /opt, /var, the rest of /etc) is absent, but for this Python (below).
SYSTEM = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]
SYSTEM += ["/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime"]


def visible(device: str) -> list[Path]:
    """The host paths bound into the sandbox: the system, this Python's installation and
    environment (every folder on its sys.path), the ``autograder`` package, and for CUDA
    /sys (the driver's libraries are in /usr)."""
    paths = {Path(p) for p in SYSTEM + (["/sys"] if device == "cuda" else [])}
    paths |= {Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).parent, PACKAGE}
    paths |= {Path(sys.executable).resolve().parent.parent}
    paths |= {Path(p).absolute() for p in sys.path if p and Path(p).is_dir()}
    # The private /tmp and /dev/shm must stay private: a folder on sys.path that is one of
    # them, or above them (a script run from /tmp), is not bound over them.
    scratch = [Path("/tmp"), Path("/dev/shm")]
    found = [
        p
        for p in paths
        if os.path.lexists(p) and p not in scratch and not any(p in s.parents for s in scratch)
    ]
    # A folder inside another one on the list comes with it.
    return [p for p in found if p.is_symlink() or not _inside(p.parent, found)]


# Libraries with ready-made convolutions and filters that no exercise needs: inside the
# sandbox their folders are empty, so no watcher has to see every compiled routine of them.
UNAVAILABLE = ("scipy", "skimage", "cv2", "jax", "tensorflow")


def unavailable(shown: list[Path]) -> list[Path]:
    """The folders of :data:`UNAVAILABLE` packages in the shown ``site-packages``."""
    return sorted(
        p / name for p in shown if not p.is_symlink() for name in UNAVAILABLE if (p / name).is_dir()
    )


def _bwrap_command(limits: Limits, hide: list[Path], device: str) -> list[str]:
    hide = [p.resolve() if p.is_dir() else p.resolve().parent for p in hide if p.exists()]
    hide = [p for p in hide if p != Path("/")]
    command = [bubblewrap(), "--die-with-parent", "--new-session", "--unshare-all"]
    command += ["--uid", "65534", "--gid", "65534", "--proc", "/proc"]
    command += ["--dev-bind", "/dev", "/dev"] if device == "cuda" else ["--dev", "/dev"]
    # Mounts apply in order: the private /tmp first, so that a venv or package that lives
    # under /tmp is bound on top of it, not covered by it.
    size = str(limits.files_mb * 2**20)
    command += ["--size", size, "--tmpfs", "/tmp", "--size", size, "--tmpfs", "/dev/shm"]
    shown = visible(device)
    for path in sorted(shown, key=lambda p: len(p.parts)):
        if path.is_symlink():  # /bin -> usr/bin on a merged /usr
            command += ["--symlink", os.readlink(path), str(path)]
        else:
            command += ["--ro-bind", str(path), str(path)]
    # A course folder, submissions or sources inside what is shown (a venv in the course
    # repository, say) are covered again: empty and read-only.
    for path in sorted(hide, key=lambda p: len(p.parts)):
        if _inside(path, shown) and not _inside(PACKAGE, [path]):
            command += ["--tmpfs", str(path), "--remount-ro", str(path)]
    site_packages = {Path(p) for p in sys.path if p.endswith("-packages") and Path(p).is_dir()}
    for path in unavailable(sorted(site_packages)):
        command += ["--tmpfs", str(path), "--remount-ro", str(path)]
    # bubblewrap builds the new root on a tmpfs: read-only too, so only /tmp and /dev/shm
    # (emptied after each student) can be written.
    command += ["--remount-ro", "/", "--chdir", "/tmp"]
    return command


def _cgroup(limits: Limits, pid: int) -> list[Path]:
    """Put ``pid`` into fresh pids and memory cgroups (v1 or v2) with our limits, where
    this machine lets us; the folders made, to remove when the sandbox is gone."""
    memory = str(limits.memory_mb * 2 * 2**20)
    name = f"autograder-{os.getpid()}-{pid}"
    made = []
    unified = Path("/sys/fs/cgroup")
    plans = (
        [(unified / name, {"pids.max": str(limits.processes), "memory.max": memory})]
        if (unified / "cgroup.controllers").exists()
        else [
            (unified / "pids" / name, {"pids.max": str(limits.processes)}),
            (unified / "memory" / name, {"memory.limit_in_bytes": memory}),
        ]
    )
    for folder, settings in plans:
        try:
            folder.mkdir()
            made.append(folder)
            for key, value in settings.items():
                (folder / key).write_text(value)
            (folder / "cgroup.procs").write_text(str(pid))
        except OSError:
            continue
    return made


LOG_BYTES = 2**20  # what one sandbox may add to the batch's log
_LOG_LOCK = threading.Lock()


def _keep_log(stream, log: Path) -> None:
    """Copy a sandbox's stderr (the supervisor's and its children's tracebacks, and whatever
    student code writes to file descriptor 2) into ``log``, the first :data:`LOG_BYTES`
    only; the rest is read and dropped, so the sandbox never blocks on a full pipe."""
    kept = 0
    with stream:
        for chunk in iter(lambda: stream.read1(65536), b""):
            if kept >= LOG_BYTES:
                continue
            chunk = chunk[: LOG_BYTES - kept]
            kept += len(chunk)
            if kept >= LOG_BYTES:
                chunk += b"\n[this sandbox's log is cut off here]\n"
            with _LOG_LOCK, open(log, "ab") as file:
                file.write(chunk)


_LIVE: "weakref.WeakSet[Sandbox]" = weakref.WeakSet()


@atexit.register
def _kill_live() -> None:
    for sandbox in list(_LIVE):
        sandbox.kill()


class Channel:
    """Framed messages over one socket, read with a deadline. Any failure kills the
    sandbox (``on_failure``) and raises :class:`SandboxGone`."""

    def __init__(self, sock: socket.socket, reply_bytes: int, on_failure: Callable[[], None]):
        self.sock, self.reply_bytes, self.on_failure = sock, reply_bytes, on_failure

    def _fail(self, error: SandboxGone) -> SandboxGone:
        self.on_failure()
        return error

    def read(self, size: int, deadline: float) -> bytes:
        chunks, left = [], size
        while left:
            remaining = deadline - time.monotonic()
            wait = None if remaining == float("inf") else max(remaining, 0)
            if remaining <= 0 or not select.select([self.sock], [], [], wait)[0]:
                raise self._fail(SandboxTimeout())
            try:
                chunk = self.sock.recv(min(left, 2**20))
            except OSError:
                chunk = b""
            if not chunk:
                raise self._fail(SandboxCrashed("the sandbox process ended"))
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def receive(self, deadline: float) -> Any:
        (size,) = wire.HEADER.unpack(self.read(wire.HEADER.size, deadline))
        if size > self.reply_bytes:
            raise self._fail(
                SandboxCrashed(f"a reply of {size / 2**20:.0f} MB is over the size limit")
            )
        try:
            return wire.decode(self.read(size, deadline))
        except wire.FrameError as error:
            raise self._fail(SandboxCrashed(str(error))) from None

    def send(self, message: Any) -> None:
        try:
            self.sock.sendall(wire.frame(message, objects=True))  # read there as trusted
        except OSError:
            raise self._fail(SandboxCrashed("the sandbox process ended")) from None

    def close(self) -> None:
        self.sock.close()


class Sandbox:
    """One sandbox process, booting in the background as soon as it is made."""

    def __init__(self, limits: Limits, device: str, hide: list[Path], log: Path | None = None):
        self.limits, self.device = limits, device
        self.isolated = bubblewrap() is not None
        self._scratch = None if self.isolated else tempfile.mkdtemp(prefix="autograder-")
        workdir = "/tmp/work" if self.isolated else os.path.join(self._scratch, "work")
        config = {
            "isolated": self.isolated,
            "device": device,
            "workdir": workdir,
            "scratch": ["/tmp", "/dev/shm"] if self.isolated else [self._scratch],
            "memory_bytes": limits.memory_mb * 2**20,
            "file_bytes": limits.files_mb * 2**20,
            "output_chars": limits.output_kb * 1024,
        }
        # -I: no working folder (a student's /tmp) on sys.path, no user site, no PYTHON*
        # variables; -B: no bytecode written.
        python = [sys.executable, "-I", "-B", "-m", PROGRAM, json.dumps(config)]
        prefix = _bwrap_command(limits, hide, device) if self.isolated else []
        # A clean environment: the grader's may hold credentials (a database URL, tokens)
        # that student code must not see and print into its feedback.
        passed_on = {
            k: v for k, v in os.environ.items() if k in PASSED_ON or k.startswith("NVIDIA_")
        }
        environment = passed_on | {
            "AUTOGRADER_DEVICE": device,
            "MPLBACKEND": "Agg",
            "OMP_NUM_THREADS": "1",  # one thread per library: the child may start no more
            "OPENBLAS_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "PYTORCH_NVML_BASED_CUDA_CHECK": "1",
            "HOME": "/tmp" if self.isolated else self._scratch,
        }
        debug = os.environ.get("AUTOGRADER_SANDBOX_DEBUG")
        ours, theirs = socket.socketpair()
        self.process = subprocess.Popen(
            prefix + python,
            stdin=theirs,
            stdout=theirs,
            stderr=None if debug else subprocess.PIPE if log else subprocess.DEVNULL,
            env=environment,
            cwd=self._scratch or "/",
            start_new_session=True,
        )
        theirs.close()
        if self.process.stderr is not None:
            threading.Thread(target=_keep_log, args=(self.process.stderr, log), daemon=True).start()
        self.control = Channel(ours, 0, self.kill)
        self._cgroups = _cgroup(limits, self.process.pid) if self.isolated else []
        self._ready = False
        self.served = 0  # sessions begun: a sandbox that served none and fails is broken
        _LIVE.add(self)

    # -- life cycle ----------------------------------------------------------------------
    def wait_ready(self) -> None:
        """Wait for the supervisor's word that it is ready (booted, or cleared after the
        last child). A new sandbox that never gets there is this machine's problem:
        :class:`SandboxUnavailable`; a used one is replaced by the caller."""
        if self._ready:
            return
        wait = CONTROL_SECONDS if self.served else BOOT_SECONDS
        try:
            said = self.control.read(len(wire.READY), time.monotonic() + wait)
        except SandboxGone:
            said = b""
        if said != wire.READY:
            self.kill()
            if not self.served:
                raise SandboxUnavailable(
                    "the grading sandbox did not start; run again with "
                    "AUTOGRADER_SANDBOX_DEBUG=1 to see its error output."
                )
            raise SandboxCrashed("the sandbox was not ready for the next notebook")
        self._ready = True

    def begin(self, files: dict[str, bytes]) -> "Session":
        """Fork a fresh child for one submission, with ``files`` in its working folder,
        and a socket of its own to talk over."""
        self.wait_ready()
        self._ready = False
        self.served += 1
        ours, theirs = socket.socketpair()
        try:
            socket.send_fds(self.control.sock, [wire.START], [theirs.fileno()])
        except OSError:
            ours.close()
            self.kill()
            raise SandboxCrashed("the sandbox process ended") from None
        finally:
            theirs.close()
        session = Session(self, Channel(ours, self.limits.reply_mb * 2**20, self.kill))
        session.deadline = time.monotonic() + CONTROL_SECONDS
        if session.request({"op": "start", "files": files}) != {"started": True}:
            self.kill()
            raise SandboxCrashed("the sandbox did not start a child")
        return session

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for folder in self._cgroups:
            try:
                folder.rmdir()
            except OSError:
                pass
        self._cgroups = []
        if self._scratch:
            shutil.rmtree(self._scratch, ignore_errors=True)


class Session:
    """One submission's child process: run its cells, look its names up, call its code.

    ``deadline`` (a ``time.monotonic()`` value) bounds every request; the grader sets it
    before each cell."""

    def __init__(self, sandbox: Sandbox, channel: Channel):
        self.sandbox, self.channel = sandbox, channel
        self.deadline = float("inf")

    def request(self, message: dict) -> dict:
        self.channel.send(message)
        reply = self.channel.receive(self.deadline)
        if not isinstance(reply, dict):
            self.sandbox.kill()
            raise SandboxCrashed("a malformed reply")
        return reply

    def run_cell(self, source: str) -> dict:
        """Run one cell: its output (cut here to the output limit, whatever the sandbox
        sent), the error it raised and its traceback."""
        reply = self.request({"op": "exec", "source": source})
        output = reply.get("output")
        output = output if isinstance(output, str) else ""
        limit = self.sandbox.limits.output_kb * 1024
        return {  # every string made safe here, once (untrusted.text)
            "output": untrusted.text(output[:limit]),
            "truncated": bool(reply.get("truncated")) or len(output) > limit,
            "error": raised(reply.get("error")),
            "traceback": untrusted.text(reply.get("traceback", ""), TRACEBACK_CHARS),
        }

    def lookup(self, name: str) -> tuple[str, Any]:
        """``("undefined", None)``, ``("module", module name)`` or ``("value", value)``."""
        reply = self.request({"op": "lookup", "name": name})
        kind = reply.get("kind")
        if kind == "module":
            return kind, untrusted.text(reply.get("module"), NAME_CHARS)
        if kind == "value":
            return kind, self._unwire(reply.get("value"))
        return "undefined", None

    def invoke(self, handle: int, args: tuple, kwargs: dict, **options) -> Outcome:
        probe: Callable | None = options.pop("probe", None)
        message = {
            "op": "invoke",
            "handle": handle,
            "args": wire.rebuild(args, handle_marker),
            "kwargs": wire.rebuild(kwargs, handle_marker),
            "probe": f"{probe.__module__}:{probe.__qualname__}" if probe else None,
            "options": options,
        }
        reply = self.request(message)
        forbidden = reply.get("forbidden")
        args_after = self._unwire(reply.get("args_after"))
        return Outcome(
            value=self._unwire(reply.get("value")),
            error=raised(reply.get("error")),
            forbidden=[untrusted.text(f, MESSAGE_CHARS) for f in forbidden]
            if isinstance(forbidden, list)
            else [],
            op_count=_count(reply.get("op_count")),
            call_count=_count(reply.get("call_count")),
            args_after=tuple(args_after) if isinstance(args_after, tuple | list) else (),
        )

    def end(self) -> None:
        """Let the child exit; the sandbox clears up after it and is ready for the next."""
        try:
            self.channel.sock.sendall(wire.frame({"op": "end"}))
        except OSError:
            pass  # the child is gone already
        self.channel.close()

    def _unwire(self, value: Any) -> Any:
        """A reply's value with its marker dicts turned into stand-ins."""
        return unwire(self, value)


def _count(value: Any) -> int:
    """A count the sandbox reported (0 when it sent something else)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0
