"""Where student code runs at grading time, seen from the grader.

A :class:`Sandbox` is one Python process (``autograder.grading.supervisor``) started under
bubblewrap when it is installed: its own user, PID, network and mount namespaces, the
file system read-only, the course folder, the submissions, the repository (but for the
``autograder`` package) and home folders hidden, ``/tmp`` and ``/dev/shm`` small private
tmpfs mounts. ``/dev`` holds only the devices student code needs (and, for CUDA, the GPU's),
each a read-only mount: usable, but no mode or owner of a host node can change. When the
grader runs as root, the sandbox's user namespace maps its students to an unprivileged host
user (:data:`HOST_UID`), so no host file or node is theirs. A pids cgroup bounds the number
of processes and a memory cgroup the memory of everything in it, where the machine lets us
create cgroups; every child has per-process resource limits.

The sandbox's main process (the *supervisor*) imports torch once and forks a fresh child
per submission (a :class:`Session`); no student code ever runs in the supervisor, which
cannot be traced or written to by its children (it is not dumpable). The grader talks to
the supervisor over a control socket and to each child over a socket of its own, handed
over for that session only: nothing a student writes, even on the way out, can be read as
another student's reply. Each child has System V IPC and POSIX message queues of its own
(a fresh IPC namespace) and no kernel keyrings. After each child the supervisor kills every
process left and empties ``/tmp`` and ``/dev/shm``, the only places a child can write; when it
cannot (or does not answer in time), the sandbox is replaced. The CPU time a call of student
code used is read here, from the kernel's accounts, never from the sandbox's reply.
Replies are read with a deadline; a sandbox that overruns it, dies or sends anything
malformed is killed whole, and the caller starts another.
"""

import atexit
import codecs
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
# Who student code is in the sandbox (and its group): not 65534, the number a user namespace
# shows for every owner it does not map, so that what is a student's own can be told apart.
SANDBOX_UID = 1000
HOST_UID = 65534  # who it is on the host when the grader runs as root: nobody, owner of nothing
DEVICES = ("null", "zero", "full", "random", "urandom")  # all of /dev that student code sees


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


def gpu_devices() -> list[str]:
    """The GPU's device nodes on this machine (NVIDIA's driver: the control node, one per
    GPU, unified memory, and MIG's capabilities folder), for a CUDA sandbox."""
    names = sorted(n for n in os.listdir("/dev") if n.startswith("nvidia"))
    return [f"/dev/{n}" for n in names]


def devices(device: str) -> list[str]:
    """The host devices bound into the sandbox's ``/dev``: :data:`DEVICES`, and for CUDA the
    GPU's (:func:`gpu_devices`); never the rest of the host's ``/dev``."""
    found = [f"/dev/{name}" for name in DEVICES if os.path.exists(f"/dev/{name}")]
    return found + (gpu_devices() if device == "cuda" else [])


def _dev_options(size: str, device: str) -> list[str]:
    """A ``/dev`` of our own, read-only: the :func:`devices` bound in (the supervisor makes
    each a read-only mount too), the usual links, and a private ``/dev/shm``."""
    options = ["--tmpfs", "/dev"]
    for path in devices(device):
        options += ["--dev-bind", path, path]
    for fd, name in enumerate(("stdin", "stdout", "stderr")):
        options += ["--symlink", f"/proc/self/fd/{fd}", f"/dev/{name}"]
    options += ["--symlink", "/proc/self/fd", "/dev/fd"]
    options += ["--perms", "1777", "--size", size, "--tmpfs", "/dev/shm"]
    return options + ["--remount-ro", "/dev"]  # the tmpfs only: its mounts keep their own


def _setuid(path: str) -> bool:
    try:
        return bool(os.stat(path).st_mode & 0o4000)
    except OSError:
        return False


def _bwrap_command(
    limits: Limits, hide: list[Path], device: str, userns: int | None = None
) -> list[str]:
    """bubblewrap's command line. ``userns``: an open user namespace to start in (see
    :func:`host_user_namespace`; the grader is root); without it bubblewrap makes one that
    maps the sandbox's user to the grader's."""
    hide = [p.resolve() if p.is_dir() else p.resolve().parent for p in hide if p.exists()]
    hide = [p for p in hide if p != Path("/")]
    # --as-pid-1: the supervisor is the PID namespace's init (no reaper of bubblewrap's that
    # runs as the students' user where bubblewrap maps them, and whose /proc entries, such as
    # oom_score_adj, they could write and the next student read), whom no child can signal.
    command = [bubblewrap(), "--die-with-parent", "--new-session", "--as-pid-1"]
    if userns is None:
        command += ["--unshare-all", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID)]
        if not _setuid(command[0]):
            # The supervisor's, in the sandbox's own namespaces only: it makes each device
            # a read-only mount and each child's IPC namespace; children drop it.
            command += ["--cap-add", "CAP_SYS_ADMIN"]
    else:
        # bubblewrap sets the sandbox up as that namespace's root (the host's root, which may
        # read what the grader reads); the supervisor stays root there, its children become
        # SANDBOX_UID (HOST_UID on the host) before any student code runs.
        command += ["--userns", str(userns), "--unshare-ipc", "--unshare-pid"]
        command += ["--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
    command += ["--proc", "/proc"]
    size = str(limits.files_mb * 2**20)
    command += _dev_options(size, device)
    # Mounts apply in order: the private /tmp first, so that a venv or package that lives
    # under /tmp is bound on top of it, not covered by it.
    command += ["--perms", "1777", "--size", size, "--tmpfs", "/tmp"]
    shown = visible(device)
    # The folders leading to what is shown, readable by the sandbox's user whatever their
    # mode on the host (a Python under /root, mode 0700): they hold nothing else.
    leading = {a for p in shown for a in p.parents if len(a.parts) > 1 and not _inside(a, shown)}
    for folder in sorted(leading - {Path("/tmp"), Path("/dev")}, key=lambda p: len(p.parts)):
        command += ["--perms", "0755", "--dir", str(folder)]
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


_UNSHARE_USER = (
    "import ctypes, os\n"
    "ok = ctypes.CDLL(None, use_errno=True).unshare(0x10000000) == 0\n"  # CLONE_NEWUSER
    "os.write(1, b'1' if ok else b'0')\n"
    "os.read(0, 1)\n"
)


def host_user_namespace() -> int:
    """For a grader running as root: a new user namespace in which root is the host's root
    (bubblewrap sets the sandbox up as it) and :data:`SANDBOX_UID` the host's
    :data:`HOST_UID`, nothing else; an open file descriptor of it. Student code runs as
    :data:`SANDBOX_UID`: on the host, an unprivileged user that owns nothing the sandbox
    shows (where bubblewrap's own namespace would map it to root)."""
    helper = subprocess.Popen(
        [sys.executable, "-I", "-S", "-c", _UNSHARE_USER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        if helper.stdout.read(1) != b"1":
            raise SandboxUnavailable(
                "cannot make a user namespace for the sandbox (as root, student code would "
                "run as root on the host); run autograder grade as an ordinary user"
            )
        proc, users = Path(f"/proc/{helper.pid}"), f"0 0 1\n{SANDBOX_UID} {HOST_UID} 1\n"
        (proc / "setgroups").write_text("deny")
        (proc / "uid_map").write_text(users)
        (proc / "gid_map").write_text(users)
        return os.open(proc / "ns/user", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        helper.stdin.close()
        helper.stdout.close()
        helper.wait()


def processes(root: int) -> list[int]:
    """``root`` and every process below it (the host's pids), parents first."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as file:
                    parent = int(file.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue  # gone meanwhile
            children.setdefault(parent, []).append(int(entry))
    found = [root]
    for pid in found:
        found += children.get(pid, [])
    return found


def _own_cgroups() -> dict[str, str]:
    """Where this process sits in each cgroup v1 hierarchy, by controller."""
    own = {}
    try:
        with open("/proc/self/cgroup") as file:
            for line in file:
                _, controllers, where = line.rstrip("\n").split(":", 2)
                for controller in controllers.split(","):
                    own[controller] = where
    except (OSError, ValueError):
        pass
    return own


def _cgroup(limits: Limits, pids: list[int]) -> list[Path]:
    """Put ``pids`` (every process of a sandbox) into fresh pids, memory and CPU-accounting
    cgroups (v1 or v2) with our limits, where this machine lets us; the folders made, to
    remove when the sandbox is gone. In v1 they go below the grader's own, so the sandbox
    stays within whatever bounds the grader."""
    memory = str(limits.memory_mb * 2 * 2**20)
    name = f"autograder-{os.getpid()}-{pids[0]}"
    made = []
    unified = Path("/sys/fs/cgroup")
    if (unified / "cgroup.controllers").exists():
        plans = [(unified / name, {"pids.max": str(limits.processes), "memory.max": memory})]
    else:
        own = _own_cgroups()
        plans = [
            (unified / controller / own.get(controller, "/").lstrip("/") / name, settings)
            for controller, settings in [
                ("pids", {"pids.max": str(limits.processes)}),
                ("memory", {"memory.limit_in_bytes": memory}),
                ("cpuacct", {}),
            ]
        ]
    for folder, settings in plans:
        _remove_stale(folder.parent)
        try:
            folder.mkdir()
            made.append(folder)
            for key, value in settings.items():
                (folder / key).write_text(value)
            for pid in pids:
                (folder / "cgroup.procs").write_text(str(pid))
        except OSError:
            continue
    return made


def _remove_stale(parent: Path) -> None:
    """Remove the empty cgroups that graders gone without cleaning up (killed, say) left in
    ``parent`` (a busy one stays: rmdir refuses it)."""
    try:
        for folder in parent.glob("autograder-*-*"):
            grader = int(folder.name.split("-")[1])
            if grader != os.getpid() and not Path(f"/proc/{grader}").exists():
                try:
                    folder.rmdir()
                except OSError:
                    pass
    except (OSError, ValueError):
        pass


def _remove_cgroups(folders: list[Path]) -> None:
    """Kill whatever is left in ``folders`` and remove them (a folder is busy until its
    last process is gone)."""
    for folder in folders:
        try:
            for pid in (folder / "cgroup.procs").read_text().split():
                os.kill(int(pid), 9)
        except (OSError, ValueError):
            pass
    left = list(folders)
    deadline = time.monotonic() + 2
    while left and time.monotonic() < deadline:
        for folder in list(left):
            try:
                folder.rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                continue
            left.remove(folder)
        if left:
            time.sleep(0.01)


TICK_NS = 10**9 // os.sysconf("SC_CLK_TCK")


def _read(path: str, folder: int) -> bytes:
    fd = os.open(path, os.O_RDONLY, dir_fd=folder)
    try:
        return os.read(fd, 4096)
    finally:
        os.close(fd)


def cpu_ns(proc: int, pids: Iterable[str | int]) -> int:
    """The CPU time (ns) the processes ``pids`` of the procfs open as ``proc`` used, and the
    children they reaped: per process, the larger of its live threads' run times (ns) and
    its own account in clock ticks (which keeps threads that ended), plus its reaped
    children's ticks."""
    total = 0
    for pid in pids:
        try:
            fields = _read(f"{pid}/stat", proc).rsplit(b")", 1)[1].split()
            own, reaped = int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])
            tasks = os.open(f"{pid}/task", os.O_RDONLY | os.O_DIRECTORY, dir_fd=proc)
            try:
                threads = sum(
                    int(_read(f"{t}/schedstat", tasks).split()[0]) for t in os.listdir(tasks)
                )
            finally:
                os.close(tasks)
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile: its time is in its parent's reaped children
        total += max(threads, own * TICK_NS) + reaped * TICK_NS
    return total


LOG_BYTES = 2**20  # what one sandbox may add to the batch's log
_LOG_LOCK = threading.Lock()


def _keep_log(stream, log: Path) -> None:
    """Copy a sandbox's stderr (the supervisor's and its children's tracebacks, and whatever
    student code writes to file descriptor 2) into ``log`` as safe text (``untrusted.text``:
    no control sequence reaches the terminal that shows the log), the first
    :data:`LOG_BYTES` read only; the rest is read and dropped, so the sandbox never blocks
    on a full pipe."""
    kept, held = 0, ""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")  # across chunks

    def write(raw: str) -> None:
        with _LOG_LOCK, open(log, "a", encoding="utf-8") as file:
            file.write(untrusted.text(raw))

    with stream:
        for chunk in iter(lambda: stream.read1(65536), b""):
            if kept >= LOG_BYTES:
                continue
            chunk = chunk[: LOG_BYTES - kept]
            kept += len(chunk)
            raw = held + decoder.decode(chunk, final=kept >= LOG_BYTES)
            # A CR LF split between chunks is one line end, not two.
            raw, held = (raw[:-1], "\r") if raw.endswith("\r") else (raw, "")
            if kept >= LOG_BYTES:
                raw, held = raw + held + "\n[this sandbox's log is cut off here]\n", ""
            write(raw)
        if kept < LOG_BYTES:
            write(held + decoder.decode(b"", final=True))


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
            "uid": SANDBOX_UID,  # who a child becomes before student code runs
        }
        # -I: no working folder (a student's /tmp) on sys.path, no user site, no PYTHON*
        # variables; -B: no bytecode written.
        python = [sys.executable, "-I", "-B", "-m", PROGRAM, json.dumps(config)]
        # As root, the sandbox starts in a user namespace of ours (see host_user_namespace),
        # without the grader's supplementary groups.
        userns = host_user_namespace() if self.isolated and os.geteuid() == 0 else None
        prefix = _bwrap_command(limits, hide, device, userns) if self.isolated else []
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
            # As nbgrader's autograde sets it: the notebooks' hand-in cell then runs nothing
            # (the test cells are the grade; it would run every visible check again).
            "NBGRADER_EXECUTION": "autograde",
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
            pass_fds=() if userns is None else (userns,),
            extra_groups=None if userns is None else [],
        )
        theirs.close()
        if userns is not None:
            os.close(userns)
        if self.process.stderr is not None:
            log.touch()  # there from the start, for whoever reads or tails it
            threading.Thread(target=_keep_log, args=(self.process.stderr, log), daemon=True).start()
        self.control = Channel(ours, 0, self.kill)
        self._cgroups: list[Path] = []  # made once the sandbox is up (see _booted)
        self._cpu_account: Path | None = None
        self._supervisor = self.process.pid
        self._processes: list[int] = []  # without isolation: the supervisor and its child
        self._proc: int | None = None  # the sandbox's /proc, open (see cpu_ns)
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
        if not self.served:
            self._booted()
        self._ready = True

    def _booted(self) -> None:
        """Once booted (its processes are bubblewrap and the supervisor, and no more start
        but children): every one of them into the sandbox's cgroups, which its children then
        join as they start."""
        pids = processes(self.process.pid)
        self._supervisor = pids[-1]  # the end of the chain
        if self.isolated:
            self._cgroups = _cgroup(self.limits, pids)
        try:  # the procfs the sandbox's processes see: theirs, and only theirs
            root = f"/proc/{self._supervisor}/root/proc" if self.isolated else "/proc"
            self._proc = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            self._proc = None
        for folder in self._cgroups:
            for account in ("cpuacct.usage", "cpu.stat"):
                if (folder / account).exists():
                    self._cpu_account = folder / account

    def cpu_ns(self) -> int | None:
        """The CPU time (ns) the sandbox's processes have used so far, as the kernel accounts
        it (its cgroup's, or else every process of the sandbox read through its own
        ``/proc``); None when it cannot be read (the sandbox is gone)."""
        try:
            if self._cpu_account is not None:
                text = self._cpu_account.read_text()
                if self._cpu_account.name == "cpuacct.usage":
                    return int(text)
                return 1000 * int(text.split("usage_usec", 1)[1].split()[0])
            if self._proc is None:
                return None
            if self.isolated:  # every process there
                return cpu_ns(self._proc, [e for e in os.listdir(self._proc) if e.isdigit()])
            # No isolation: the supervisor and the child (its reaped children included);
            # what the child leaves running on its own is not counted.
            return cpu_ns(self._proc, self._processes)
        except (OSError, ValueError, IndexError):
            return None

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
        if not self.isolated:
            self._processes = processes(self.process.pid)
        return session

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        folders, self._cgroups, self._cpu_account = self._cgroups, [], None
        _remove_cgroups(folders)  # another thread may be killing it too: each its own list
        if self._scratch:
            shutil.rmtree(self._scratch, ignore_errors=True)

    def __del__(self) -> None:
        if getattr(self, "_proc", None) is not None:  # not in kill: another thread may read
            os.close(self._proc)


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
        before = self.sandbox.cpu_ns()
        reply = self.request(message)
        after = self.sandbox.cpu_ns()
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
            # measured here, never taken from the reply: whatever the student's process says
            cpu_seconds=(after - before) / 1e9 if before is not None and after is not None else 0.0,
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
