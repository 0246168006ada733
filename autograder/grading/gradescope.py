"""A Gradescope programming-assignment autograder for one assignment (``autograder gradescope``).

:func:`build` writes the zip Gradescope takes (its specification: gradescope/autograder_samples,
``docs/specs.md``): ``setup.sh`` and ``run_autograder`` at the top, and what they need:

- ``assignment.json``: the assignment's test cells as the source has them (hidden tests
  included), their points and the checksums of the released cells, the locked cells, the
  grading limits: what :class:`~autograder.grading.engine.Assignment` holds;
- ``secret``: a secret of this autograder's own that keys the hidden cases (never the
  course's: a zip handed to Gradescope must not let anyone recompute the course's cases);
- ``package/``: the ``cnn-course`` package as it is installed here, with a ``pyproject.toml``
  whose requirements are the package's and its grade extra's; ``constraints.txt``: torch as
  the course pins it. ``setup.sh`` installs bubblewrap, Python, the CPU build of that torch
  and the package into ``/autograder/venv``, then closes ``/autograder/source`` to others.

``run_autograder`` runs :func:`run` (``python -m autograder.grading.gradescope``): it grades
the one notebook in ``/autograder/submission`` with the course's engine and writes
``/autograder/results/results.json``: a ``tests`` entry per test cell, or per part where the
check gives partial credit (name, score, max_score, output = the diagnosis), what would show
the hidden cases in entries of their own that students see once grades are published
(``after_published``), the total ``score``, ``execution_time`` and a top-level ``output``.
No notebook, two notebooks or a file that is not a notebook give a clear message and 0; a
failure of the grader itself says so; it never crashes without a results file.

Student code never reads ``/autograder/source`` (the hidden tests, the secret) nor writes
``/autograder/results``: it runs in the bubblewrap sandbox, which sees neither; where
bubblewrap cannot run (a container without user namespaces), the grading runs in a child
process as the unprivileged user ``nobody``, with the source folder closed to it and the
results folder not its own, and the child is given the tests and secret over a pipe; where
neither is possible (not root), nothing is graded and the output says why. The grading
child always runs apart from this process, which alone writes the results.
"""

import argparse
import base64
import ctypes
import io
import json
import os
import pwd
import re
import shlex
import signal
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import asdict
from importlib import metadata
from pathlib import Path

from .. import __version__
from . import untrusted

PACKAGE = Path(__file__).resolve().parent.parent  # the autograder package
JOB_FILE = "assignment.json"
SECRET_FILE = "secret"
UNPRIVILEGED = "nobody"
HIDDEN_MARK = "BEGIN HIDDEN TESTS"
RESULT_BYTES = 64 * 2**20  # the most read back from the grading child
OUTPUT_CHARS = 20_000  # a test entry's output
FORMAT = 1


# -- building the zip -----------------------------------------------------------------------


def torch_pin(root: Path | None) -> str:
    """``torch==X`` as the course pins it (its ``constraints.txt``), else the version here."""
    if root is not None and (root / "constraints.txt").is_file():
        for line in (root / "constraints.txt").read_text().splitlines():
            found = re.fullmatch(r"\s*torch\s*==\s*([\w.]+)\s*(#.*)?", line)
            if found:
                return f"torch=={found[1]}"
    return f"torch=={metadata.version('torch').split('+')[0]}"


def requirements() -> list[str]:
    """The installed package's requirements and its grade extra's, without markers."""
    found = []
    for requirement in metadata.requires("cnn-course") or []:
        spec, _, marker = requirement.partition(";")
        marker = marker.replace(" ", "")
        if not marker or marker in ('extra=="grade"', "extra=='grade'"):
            found.append(spec.strip())
    return found


def pyproject(version: str, needs: list[str]) -> str:
    listed = "".join(f"    {json.dumps(r)},\n" for r in needs)
    return (
        "# The cnn-course package as it was when this autograder was made, with the\n"
        "# requirements of its grade extra (written by `autograder gradescope`).\n"
        '[build-system]\nrequires = ["setuptools>=77"]\nbuild-backend = "setuptools.build_meta"\n\n'
        f'[project]\nname = "cnn-course"\nversion = {json.dumps(version)}\n'
        f'requires-python = ">=3.10"\ndependencies = [\n{listed}]\n\n'
        '[tool.setuptools.packages.find]\ninclude = ["autograder*"]\n\n'
        '[tool.setuptools.package-data]\n"autograder.grading" = ["templates/*"]\n'
    )


def package_files() -> list[tuple[str, bytes]]:
    """The package's files (no bytecode), as paths under ``package/``."""
    files = []
    for path in sorted(PACKAGE.rglob("*")):
        relative = path.relative_to(PACKAGE.parent)
        if path.is_file() and "__pycache__" not in relative.parts and path.suffix != ".pyc":
            files.append((f"package/{relative.as_posix()}", path.read_bytes()))
    return files


def job_for(assignment, limits) -> dict:
    """What the grading child needs to rebuild the assignment (``engine.Assignment``)."""
    return {
        "format": FORMAT,
        "version": __version__,
        "assignment": assignment.name,
        "tests": [asdict(t) for t in assignment.tests.values()],
        "locked": dict(assignment.locked),
        "limits": asdict(limits),
    }


def _render(template: str, **values) -> str:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    environment = Environment(
        loader=PackageLoader("autograder.grading", "templates"),
        autoescape=False,
        keep_trailing_newline=True,
        undefined=StrictUndefined,
    )
    return environment.get_template(template).render(**values)


def build(course, assignment_name: str, output: Path, limits=None) -> Path:
    """Write the Gradescope autograder zip for ``assignment_name`` to ``output``."""
    from .course import write_atomically
    from .sandbox import Limits

    assignment = course.prepare(assignment_name)
    limits = limits or Limits()
    pin = torch_pin(course.sources.root)
    values = {
        "assignment": shlex.quote(assignment.name),
        "version": __version__,
        "torch": pin.split("==")[1],
        "torch_requirement": shlex.quote(pin),
    }
    files: list[tuple[str, bytes, int]] = [
        ("setup.sh", _render("gradescope-setup.sh.j2", **values).encode(), 0o755),
        ("run_autograder", _render("gradescope-run_autograder.j2", **values).encode(), 0o755),
        (JOB_FILE, json.dumps(job_for(assignment, limits), indent=1).encode(), 0o600),
        (SECRET_FILE, os.urandom(32).hex().encode(), 0o600),
        ("constraints.txt", f"{pin}\n".encode(), 0o644),
        ("package/pyproject.toml", pyproject(__version__, requirements()).encode(), 0o644),
    ]
    files += [(name, data, 0o644) for name, data in package_files()]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data, mode in files:
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    output = Path(output)
    write_atomically(output, buffer.getvalue())
    return output


# -- grading one submission -----------------------------------------------------------------


def _write_results(root: Path, results: dict) -> Path:
    folder = root / "results"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "results.json"
    data = json.dumps(results, indent=1, ensure_ascii=False).encode()
    with tempfile.NamedTemporaryFile(dir=folder, delete=False, prefix=".tmp-") as file:
        file.write(data)
        temporary = Path(file.name)
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)
    return path


def find_notebook(folder: Path, assignment: str, limit: int) -> tuple[bytes | None, str]:
    """The one notebook submitted (its bytes), or why there is none to grade."""
    found = []
    for top, dirs, names in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__MACOSX")))
        found += [Path(top) / n for n in sorted(names) if n.endswith(".ipynb")]
    shown = ", ".join(untrusted.name(p.relative_to(folder).as_posix()) for p in found[:5])
    if not found:
        return None, (
            f"No notebook (.ipynb) in your submission. Submit your {assignment}.ipynb: in "
            "Jupyter, File → Download; in Colab, File → Download → Download .ipynb."
        )
    if len(found) > 1:
        return None, (
            f"Your submission has {len(found)} notebooks ({shown}); submit only one, your "
            f"{assignment}.ipynb, and nothing was graded."
        )
    path = found[0]
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None, f"Your notebook {shown} cannot be read (is it a link?); submit the file."
    with os.fdopen(descriptor, "rb") as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            return None, f"Your notebook {shown} is not a regular file; submit the file."
        return file.read(limit + 1), ""


def student_key(root: Path) -> str:
    """Who submitted (Gradescope's user ids, for the hidden cases' key), else ``student``."""
    try:
        users = json.loads((root / "submission_metadata.json").read_text())["users"]
        ids = sorted(str(u["id"]) for u in users if isinstance(u, dict) and "id" in u)
        return "gradescope-" + "+".join(ids) if ids else "student"
    except (OSError, ValueError, KeyError, TypeError):
        return "student"


def isolation(bubblewrap_works: bool, euid: int, user: tuple[int, int] | None) -> str:
    """How student code is kept from the source and results: ``bubblewrap`` (its sandbox),
    ``user`` (grading as an unprivileged user, possible only as root) or ``refuse``."""
    if bubblewrap_works:
        return "bubblewrap"
    if euid == 0 and user is not None and user[0] != 0:
        return "user"
    return "refuse"


def unprivileged_user() -> tuple[int, int] | None:
    try:
        entry = pwd.getpwnam(UNPRIVILEGED)
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_gid


def _is_hidden_part(part) -> bool:
    """A check's part of hidden cases (the checks name it "hidden random cases")."""
    return "hidden" in part.name.lower()


def _output(text: str) -> str:
    return untrusted.text(text, OUTPUT_CHARS)


def _points(value: float) -> str:
    return f"{value:g}"


def test_entries(job: dict, cells: list) -> list[dict]:
    """Gradescope's ``tests``: per test cell, or per part when the cell's parts add up to
    its points; what would show hidden cases in entries visible once grades are published."""
    sources = {t["grade_id"]: t["source"] for t in job["tests"]}
    entries = []
    for number, cell in enumerate(cells, 1):
        hidden_tests = HIDDEN_MARK in sources.get(cell.grade_id, "")
        earned = sum(p.points for p in cell.parts if p.passed)
        if cell.parts and abs(earned - cell.points) < 1e-6:
            failing = next((p for p in cell.parts if p.passed is False), None)
            for index, part in enumerate(cell.parts, 1):
                passed = bool(part.passed)
                output = "" if passed else part.message
                if part is failing and cell.message:
                    output = cell.message  # the whole diagnosis of the first failing part
                entries.append(
                    {
                        "name": f"{cell.grade_id}: {part.name}",
                        "number": f"{number}.{index}",
                        "score": part.points if passed else 0.0,
                        "max_score": part.points,
                        "status": "passed" if passed else "failed",
                        "output": _output(output),
                        "visibility": "after_published" if _is_hidden_part(part) else "visible",
                    }
                )
            continue
        passed = cell.points >= cell.max_points
        entry = {
            "name": cell.grade_id,
            "number": str(number),
            "score": cell.points,
            "max_score": cell.max_points,
            "status": "passed" if passed else "failed",
            "output": "",
            "visibility": "visible",
        }
        entries.append(entry)
        if passed or not cell.message:
            continue
        if not hidden_tests:
            entry["output"] = _output(cell.message)
            continue
        # The message may be about a hidden case: its own entry, seen once grades are out.
        entry["output"] = (
            f"{cell.status}: {_points(cell.points)} of {_points(cell.max_points)} points. "
            "The details may show this cell's hidden cases: you see them once grades are "
            "published."
        )
        entries.append(
            {
                "name": f"{cell.grade_id}: details",
                "number": f"{number}.1",
                "status": "failed",
                "output": _output(cell.message),
                "visibility": "after_published",
            }
        )
    return entries


def results_for(job: dict, cells: list, problem: str, seconds: float, notes=()) -> dict:
    """Gradescope's results.json for one graded submission."""
    total = sum(c.points for c in cells)
    most = sum(c.max_points for c in cells)
    lines = [problem] if problem else []
    lines.append(f"{job['assignment']}: {_points(total)} of {_points(most)} points.")
    lines += list(notes)
    return {
        "score": total,
        "execution_time": round(seconds),
        "output": _output("\n".join(lines)),
        "output_format": "text",
        "test_output_format": "text",
        "test_name_format": "text",
        "tests": test_entries(job, cells),
    }


def _not_graded(job: dict | None, message: str, seconds: float) -> dict:
    """results.json for a submission that was not graded: the message, 0 points, and every
    test cell at 0 so the student sees what there was to earn."""
    tests = []
    for number, test in enumerate((job or {}).get("tests", []), 1):
        tests.append(
            {
                "name": test["grade_id"],
                "number": str(number),
                "score": 0.0,
                "max_score": test["points"],
                "status": "failed",
                "visibility": "visible",
            }
        )
    return {
        "score": 0.0,
        "execution_time": round(seconds),
        "output": _output(message),
        "output_format": "text",
        "test_output_format": "text",
        "test_name_format": "text",
        "tests": tests,
    }


NOT_YOURS = "This is not your code's doing; tell your instructor."


def run(root: Path) -> int:
    """Grade the submission under ``root`` (Gradescope's /autograder) and write its
    results.json; the exit status is 0 when the submission was graded or refused for a
    reason of its own, 2 when this autograder could not grade it."""
    started = time.monotonic()
    root = Path(root).resolve()
    try:
        job = json.loads((root / "source" / JOB_FILE).read_text())
        secret = (root / "source" / SECRET_FILE).read_bytes().strip()
        if job.get("format") != FORMAT or not secret:
            raise ValueError("an autograder made by another version")
    except (OSError, ValueError, AttributeError) as error:
        print(f"autograder: cannot read {root / 'source'}: {error}", file=sys.stderr)
        message = f"Not graded: this autograder is incomplete. {NOT_YOURS}"
        _write_results(root, _not_graded(None, message, time.monotonic() - started))
        return 2

    from .sandbox import Limits, bubblewrap

    limits = Limits(**job["limits"])
    data, problem = find_notebook(
        root / "submission", job["assignment"], limits.notebook_mb * 2**20
    )
    if data is None:
        _write_results(root, _not_graded(job, problem, time.monotonic() - started))
        print(f"not graded: {problem}")
        return 0
    user = unprivileged_user()
    how = isolation(bubblewrap() is not None, os.geteuid(), user)
    if how == "refuse":
        message = (
            "Not graded: this machine can keep student code away from the hidden tests "
            "neither with bubblewrap (it cannot run here) nor by running it as an "
            f"unprivileged user (the autograder does not run as root). {NOT_YOURS}"
        )
        print(f"autograder: refused to grade without isolation: {message}", file=sys.stderr)
        _write_results(root, _not_graded(job, message, time.monotonic() - started))
        return 2
    if how == "user":
        _close(root)
    request = {
        "job": job,
        "secret": secret.decode(),
        "student": student_key(root),
        "notebook": base64.b64encode(data).decode(),
        "hide": [str(root / "source"), str(root / "results"), str(root / "submission")],
    }
    reply, failure = _grade_in_child(request, how, user, limits)
    seconds = time.monotonic() - started
    if reply is None:
        print(f"autograder: the grading process failed: {failure}", file=sys.stderr)
        message = f"Not graded: the grader failed on this submission. {NOT_YOURS}"
        _write_results(root, _not_graded(job, message, seconds))
        return 2
    from .engine import CellResult

    cells = [CellResult(**c) for c in reply["cells"]]
    problem = str(reply.get("problem") or "")
    if problem:  # the whole file (unreadable): said once, every cell at 0
        _write_results(root, _not_graded(job, problem, seconds))
        print(f"not graded: {problem}")
        return 0
    notes = []
    if not reply.get("final", True):
        notes.append(f"Some cells could not be graded by the grader itself. {NOT_YOURS}")
    _write_results(root, results_for(job, cells, "", seconds, notes))
    sandbox = "bubblewrap sandbox" if reply.get("isolated") else f"user {UNPRIVILEGED}"
    print(
        f"graded {job['assignment']}: {sum(c.points for c in cells):g} of "
        f"{sum(c.max_points for c in cells):g} points in {seconds:.1f} s; student code ran in "
        f"the {sandbox}."
    )
    return 0


def _close(root: Path) -> None:
    """Before grading as an unprivileged user: the source folder (hidden tests, secret) is
    closed to others, the results folder is root's own and only root writes it."""
    os.chmod(root / "source", 0o700)
    results = root / "results"
    results.mkdir(exist_ok=True)
    os.chown(results, 0, 0)
    os.chmod(results, 0o755)


def _grade_in_child(request: dict, how: str, user, limits) -> tuple[dict | None, str]:
    """Run the grading in a child process (as ``user`` in ``user`` mode); its reply."""
    from .sandbox import BOOT_SECONDS

    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": "/tmp",
    }
    options: dict = {}
    if how == "user":
        options = {"user": user[0], "group": user[1], "extra_groups": [], "umask": 0o077}
    command = [sys.executable, "-I", "-m", "autograder.grading.gradescope", "--child"]
    child = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=environment,
        cwd="/tmp",
        start_new_session=True,
        **options,
    )
    wait = limits.submission_seconds + BOOT_SECONDS + 120
    try:
        out, _ = child.communicate(json.dumps(request).encode(), timeout=wait)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.communicate()
        return None, f"no answer in {wait:g} s"
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    if child.returncode != 0:
        return None, f"exit status {child.returncode}"
    try:
        reply = json.loads(out[:RESULT_BYTES])
        if not isinstance(reply, dict) or not isinstance(reply.get("cells"), list):
            raise ValueError("not a reply")
        return reply, ""
    except ValueError as error:
        return None, f"an unreadable reply ({error})"


def _not_dumpable() -> None:
    """No process of the same user may trace this one or read its memory (the secret)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
    except (OSError, AttributeError):
        pass


def child() -> int:
    """The grading child: the request on stdin, the reply on stdout (only the reply: all
    else printed goes to stderr, the instructor's log)."""
    _not_dumpable()
    reply_to = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    request = json.loads(sys.stdin.read())
    job = request["job"]

    from .engine import Assignment, Graded, Runner, Status, TestCell, Unreadable, read_submission
    from .sandbox import Limits, bubblewrap

    tests = {t["grade_id"]: TestCell(**t) for t in job["tests"]}
    assignment = Assignment(job["assignment"], tests, dict(job["locked"]))
    limits = Limits(**job["limits"])
    data = base64.b64decode(request["notebook"])
    try:  # a file that is no notebook needs no sandbox (booting one takes seconds)
        read_submission(data, limits)
    except Unreadable as problem:
        message = f"Your notebook could not be graded: {problem}"  # as Runner.grade says it
        graded = Graded(
            request["student"], assignment.all_cells(Status.ERROR, message), None, message
        )
    else:
        runner = Runner(
            limits, "cpu", [Path(p) for p in request["hide"]], request["secret"].encode()
        )
        try:
            graded = runner.grade(request["student"], data, assignment)
        finally:
            runner.close()
    reply = {
        "cells": [asdict(c) for c in graded.cells],
        "problem": graded.problem,
        "final": graded.final,
        "isolated": bubblewrap() is not None,
    }
    json.dump(reply, reply_to)
    reply_to.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m autograder.grading.gradescope",
        description="Grade /autograder/submission for Gradescope (run by run_autograder).",
    )
    parser.add_argument("--root", type=Path, default=Path("/autograder"))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child()
    try:
        return run(args.root)
    except Exception as error:  # never leave Gradescope without a results file
        print(f"autograder: {type(error).__name__}: {error}", file=sys.stderr)
        message = f"Not graded: the autograder failed. {NOT_YOURS}"
        try:
            _write_results(Path(args.root), _not_graded(None, message, 0.0))
        except OSError:
            pass
        return 2


if __name__ == "__main__":
    sys.exit(main())
