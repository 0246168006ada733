"""The engine's own rules, without a sandbox: what the grader imports for a student, and
what decides whether an earlier result still stands."""

import shutil
import sys

import pytest

from autograder import checks
from autograder.grading import course, engine
from autograder.grading.engine import Assignment, TestCell
from autograder.grading.protocol import Opaque
from autograder.grading.sandbox import Limits


class Reports:
    """A session whose student namespace holds modules with the given names."""

    def __init__(self, modules: dict[str, str]):
        self.modules = modules

    def lookup(self, name: str):
        return ("module", self.modules[name]) if name in self.modules else ("undefined", None)


def test_the_grader_imports_only_allow_listed_modules_a_student_names():
    assert "this" not in sys.modules  # importing it prints; it stands for any module
    student = {"sigmoid": "this", "F": "torch.nn.functional", "checks": "autograder.checks"}
    namespace = engine.StudentNamespace(Reports(student))
    assert namespace["checks"] is checks  # the grader's own, never the student's
    assert isinstance(namespace["sigmoid"], Opaque)
    assert "this" not in sys.modules
    import torch.nn.functional

    assert namespace["F"] is torch.nn.functional
    with pytest.raises(KeyError):
        namespace["undefined_name"]


def test_a_change_to_a_check_changes_every_fingerprint(tmp_path, monkeypatch):
    package = tmp_path / "autograder"
    shutil.copytree(course.PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(course, "PACKAGE", package)
    assignment = Assignment("a", {"t": TestCell("t", "checks.check_relu(relu)", 1.0, "x")})

    def fingerprint() -> str:
        course.grading_code_digest.cache_clear()
        return course.Course.fingerprint(b"notebook", assignment, Limits(), b"secret")

    before = fingerprint()
    assert fingerprint() == before  # stable while nothing changes
    checks = package / "checks" / "activations.py"
    checks.write_text(checks.read_text() + "\n# a fixed check\n")
    assert fingerprint() != before
    course.grading_code_digest.cache_clear()
    keyed = course.Course.fingerprint(b"notebook", assignment, Limits(), b"another secret")
    assert keyed != fingerprint()


def test_the_course_secret_is_made_once_and_kept_private(tmp_path, monkeypatch):
    from notebooks import SOURCES

    monkeypatch.delenv(course.SECRET_VARIABLE, raising=False)
    graded = course.Course(tmp_path / "course", SOURCES)
    secret = graded.secret()
    assert len(secret) == 64 and graded.secret() == secret
    assert (graded.root / course.SECRET_FILE).stat().st_mode & 0o077 == 0
    assert course.Course(tmp_path / "other", SOURCES).secret() != secret
    monkeypatch.setenv(course.SECRET_VARIABLE, "from the environment")
    assert graded.secret() == b"from the environment"
