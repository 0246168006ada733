"""What each user installs: a light student package, extras for the rest, one pinned torch
for the course's own build; environment.yml, Binder and the CI workflows agree with it."""

import ast
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
HEAVY = ("nbgrader", "jupyter_book", "matplotlib", "jinja2", "sklearn", "sphinx", "traitlets")


def normalise(requirement: str) -> str:
    name, spec = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*(.*)", requirement).groups()
    return re.sub(r"[-_.]+", "-", name).lower() + spec.replace(" ", "")


def name(requirement: str) -> str:
    return re.match(r"[a-z0-9-]+", normalise(requirement)).group()


def constraints() -> dict[str, str]:
    lines = (REPO / "constraints.txt").read_text().splitlines()
    pins = [normalise(line) for line in lines if line.strip() and not line.startswith("#")]
    return {name(pin): pin for pin in pins}


def full_toolchain() -> set[str]:
    """Base requirements and every extra, the package's own extras left out, pinned as
    constraints.txt pins them."""
    extras = [r for deps in PROJECT["optional-dependencies"].values() for r in deps]
    wanted = [normalise(r) for r in PROJECT["dependencies"] + extras]
    pins = constraints()
    return {pins.get(name(r), r) for r in wanted if name(r) != "cnn-course"}


def environment_requirements() -> set[str]:
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    return {normalise(d) for d in pip if not d.startswith("-")}


def test_student_install_is_checks_torch_and_numpy_with_any_recent_torch():
    assert {name(r) for r in PROJECT["dependencies"]} == {"torch", "numpy"}
    torch = next(normalise(r) for r in PROJECT["dependencies"] if name(r) == "torch")
    assert "==" not in torch and ">=" in torch, "keep the torch a student already has"


def test_extras_split_instructors_authors_and_developers():
    extras = {k: {name(r) for r in v} for k, v in PROJECT["optional-dependencies"].items()}
    assert {"nbgrader", "jinja2", "tqdm", "matplotlib"} <= extras["grade"]
    assert {"jupyter-book", "matplotlib", "scikit-learn"} <= extras["book"]
    assert {"pytest", "playwright", "ruff"} <= extras["dev"]


def test_the_course_build_pins_the_cpu_wheel_through_constraints():
    assert constraints()["torch"] == "torch==2.13.0"
    makefile = (REPO / "Makefile").read_text()
    assert "-c constraints.txt -e '.[dev]'" in makefile


def test_environment_yml_is_the_full_toolchain():
    assert environment_requirements() == full_toolchain()
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]


def test_importing_the_checks_pulls_in_no_instructor_or_author_package():
    code = (
        "import json, sys; import autograder.checks, autograder.device; "
        "print(json.dumps(sorted(sys.modules)))"
    )
    loaded = json.loads(
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
    )
    roots = {module.split(".")[0] for module in loaded}
    assert not roots & set(HEAVY), roots & set(HEAVY)
    assert not [m for m in loaded if m.startswith(("autograder.grading", "autograder.release"))]
    assert "autograder.cli" not in loaded


def test_binder_environment_is_light():
    requirements = (REPO / "binder" / "requirements.txt").read_text()
    wanted = {
        name(line)
        for line in requirements.splitlines()
        if line.strip() and not line.startswith(("#", "-"))
    }
    assert wanted == {"torch", "numpy"}
    assert "download.pytorch.org/whl/cpu" in requirements
    assert "pip install --no-cache-dir --no-deps ." in (REPO / "binder" / "postBuild").read_text()


def _runs(workflow: dict) -> list[str]:
    return [
        step["run"]
        for job in workflow["jobs"].values()
        for step in job.get("steps", [])
        if "run" in step
    ]


def _triggers(workflow: dict) -> dict:
    return workflow.get("on", workflow.get(True)) or {}  # YAML 1.1 reads `on` as True


def test_workflows_run_only_the_readme_commands():
    readme = (REPO / "README.md").read_text()
    tests = yaml.safe_load((REPO / ".github/workflows/test.yml").read_text())
    assert {"push", "pull_request"} <= set(_triggers(tests))
    assert _runs(tests) == ["make test"]
    pages = yaml.safe_load((REPO / ".github/workflows/pages.yml").read_text())
    assert _triggers(pages)["push"]["branches"] == ["main"]
    assert _runs(pages) == ["make book"]
    uses = [s.get("uses", "") for job in pages["jobs"].values() for s in job["steps"]]
    upload = next(
        s
        for job in pages["jobs"].values()
        for s in job["steps"]
        if s.get("uses", "").startswith("actions/upload-pages-artifact")
    )
    assert upload["with"]["path"] == "_build/html"
    assert any(u.startswith("actions/deploy-pages") for u in uses)
    for command in ("make test", "make book"):
        assert command in readme


def test_ruff_check_and_format_are_clean():
    ruff = [sys.executable, "-m", "ruff"]
    check = subprocess.run(ruff + ["check", str(REPO)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    fmt = subprocess.run(ruff + ["format", "--check", str(REPO)], capture_output=True, text=True)
    assert fmt.returncode == 0, fmt.stdout


def test_architecture_names_every_module():
    text = (REPO / "ARCHITECTURE.md").read_text()
    package = REPO / "autograder"
    modules = [p.relative_to(package).as_posix() for p in package.rglob("*.py")]
    missing = [
        m for m in modules if f"`{m}`" not in text and f"`{m.removesuffix('.py')}`" not in text
    ]
    assert not missing, f"ARCHITECTURE.md does not mention {missing}"


def _imports(path: Path) -> set[str]:
    """The ``autograder`` modules ``path`` imports, as dotted names."""
    package = ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found |= {module} | {f"{module}.{alias.name}" for alias in node.names}
    return {m for m in found if m.split(".")[0] == "autograder"}


def test_the_rooms_import_across_their_boundaries_only():
    rooms = {
        path.relative_to(REPO).as_posix(): _imports(path)
        for path in (REPO / "autograder").rglob("*.py")
    }
    for module, imported in rooms.items():
        assert "autograder.cli" not in imported, module
        if module.startswith(("autograder/checks/", "autograder/device")):
            assert all(
                m.startswith(("autograder.checks", "autograder.device")) for m in imported
            ), (
                module,
                imported,
            )
        if module.startswith("autograder/release/"):
            assert not any(m.startswith("autograder.grading") for m in imported), module
