"""What a person should look at in a submission's code: a static scan of the student's cells.

The forbidden-call guard runs inside the student's process, where determined code can
switch a watcher off and on again around one call. What such code must do to get there is
visible in its source: reaching into torch's dispatcher or the interpreter, importing
libraries the exercises do not need, building names from strings, starting threads or
processes. The scan lists each such line for the instructor (``report.html``, "Needs
review"); it never changes a score, since honest code can use some of these too.
"""

import ast
from dataclasses import dataclass

# module (or package prefix) -> why an import of it deserves a look
MODULES = {
    "autograder": "reaches into the grader's own code",
    "ctypes": "calls C code directly (can rewrite memory)",
    "cffi": "calls C code directly (can rewrite memory)",
    "gc": "walks the interpreter's objects",
    "importlib": "imports modules by computed names",
    "builtins": "changes Python's built-in functions",
    "threading": "starts threads (outside the guard's watch)",
    "_thread": "starts threads (outside the guard's watch)",
    "multiprocessing": "starts processes",
    "concurrent": "starts threads or processes",
    "subprocess": "starts programs",
    "os": "uses the operating system (processes, signals, files)",
    "signal": "sends or handles signals",
    "socket": "opens network connections",
    "inspect": "inspects the interpreter's frames",
    "marshal": "loads compiled code",
    "pickle": "loads objects from bytes",
    "base64": "decodes hidden text or code",
    "codecs": "decodes hidden text or code",
    "scipy": "uses SciPy (ready-made convolutions and activations)",
    "sklearn": "uses scikit-learn",
    "cv2": "uses OpenCV (ready-made convolutions)",
    "skimage": "uses scikit-image (ready-made convolutions)",
    "torch._C": "reaches into torch's internals (the dispatcher)",
    "torch.utils._python_dispatch": "changes torch's dispatch modes (the forbidden-call guard)",
    "torch.overrides": "changes how torch functions dispatch",
    "torch.library": "registers or replaces torch operators",
    "torch.jit": "compiles code with TorchScript",
    "torch._dynamo": "compiles code with torch.compile",
    "torch.ops": "calls torch's operators directly",
    "numpy.ctypeslib": "calls C code directly",
}
# a dotted name's beginning -> why using it deserves a look
NAMES = {
    "torch._C": "reaches into torch's internals (the dispatcher)",
    "torch.ops": "calls torch's operators directly",
    "torch.jit": "compiles code with TorchScript",
    "torch.compile": "compiles code with torch.compile",
    "torch.library": "registers or replaces torch operators",
    "torch.overrides": "changes how torch functions dispatch",
    "sys.setprofile": "changes the interpreter's profiler (a watcher of the guard)",
    "sys.getprofile": "reads the interpreter's profiler (a watcher of the guard)",
    "sys.settrace": "changes the interpreter's tracer",
    "sys.modules": "changes loaded modules",
    "sys.meta_path": "changes how modules are imported",
    "sys._getframe": "inspects the interpreter's frames",
    "os.fork": "starts processes",
    "os.kill": "sends signals",
    "os.system": "runs shell commands",
    "os.popen": "runs shell commands",
    "os.exec": "replaces the process with another program",
}
# attributes that reach behind any object's back
DUNDERS = {
    "__code__": "rewrites a function's code",
    "__globals__": "reaches into another module's globals",
    "__builtins__": "changes Python's built-in functions",
    "__subclasses__": "walks classes to reach hidden objects",
    "__closure__": "rewrites a function's captured variables",
}
CALLS = {
    "exec": "runs code built at run time",
    "eval": "runs code built at run time",
    "compile": "compiles code built at run time",
    "__import__": "imports modules by computed names",
    "globals": "reaches into the module's globals",
    "setattr": "sets attributes by computed names",
    "delattr": "deletes attributes by computed names",
}
# text inside string literals that names the grader or torch's internals
STRINGS = {
    "autograder": "names the grader's own code in a string",
    "_C.": "names torch's internals in a string",
    "torch.ops": "names torch's operators in a string",
    "_python_dispatch": "names torch's dispatch modes in a string",
    "setprofile": "names the interpreter's profiler in a string",
}
CODE_CHARS = 200


@dataclass(frozen=True)
class Finding:
    """One line worth a look: ``cell`` (the solution cell's grade_id, or "cell N"), its
    1-based ``line``, ``reason`` (for the instructor) and the line's ``code``."""

    cell: str
    line: int
    reason: str
    code: str


def _dotted(node: ast.AST) -> str:
    """``a.b.c`` for an attribute chain on a name, else ''."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


def _module_reason(name: str) -> str | None:
    for module, reason in MODULES.items():
        if name == module or name.startswith(module + "."):
            return reason
    return None


def _reasons(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [r for alias in node.names if (r := _module_reason(alias.name))]
    if isinstance(node, ast.ImportFrom) and node.module:
        found = [r for r in [_module_reason(node.module)] if r]
        found += [r for a in node.names if (r := _module_reason(f"{node.module}.{a.name}"))]
        return found[:1]
    if isinstance(node, ast.Attribute):
        if node.attr in DUNDERS:
            return [DUNDERS[node.attr]]
        dotted = _dotted(node)
        return [reason for name, reason in NAMES.items() if dotted.startswith(name)][:1]
    if isinstance(node, ast.Name) and node.id in DUNDERS:
        return [DUNDERS[node.id]]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        if node.func.id in CALLS:
            return [CALLS[node.func.id]]
        if node.func.id == "getattr" and len(node.args) >= 2:
            if not isinstance(node.args[1], ast.Constant):
                return ["reads attributes by computed names"]
            if str(node.args[1].value).startswith("_"):
                return [f"reads the private attribute {node.args[1].value!r}"]
    if isinstance(node, ast.Constant) and isinstance(node.value, str | bytes):
        text = node.value if isinstance(node.value, str) else node.value.decode("latin-1")
        return [reason for needle, reason in STRINGS.items() if needle in text][:1]
    return []


def scan(cells: list[tuple[str, str]]) -> list[Finding]:
    """The findings in ``cells`` (``(label, source)`` pairs), one per line and reason, in
    order. A cell that does not parse (IPython magics, a syntax error) is read line by
    line for the same names."""
    findings: list[Finding] = []
    for label, source in cells:
        lines = source.splitlines()
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            found = [
                (number, reason)
                for number, text in enumerate(lines, 1)
                for reason in _text_reasons(text)
            ]
        else:
            found = [
                (node.lineno, reason)
                for node in ast.walk(tree)
                if hasattr(node, "lineno")
                for reason in _reasons(node)
            ]
        for number, reason in sorted(set(found)):
            code = lines[number - 1].strip() if 0 < number <= len(lines) else ""
            findings.append(Finding(label, number, reason, code[:CODE_CHARS]))
    return findings


def _text_reasons(text: str) -> list[str]:
    """For a line that is not Python: the names above, found as plain text."""
    words = {**{f"import {m}": r for m, r in MODULES.items()}, **STRINGS}
    return [reason for needle, reason in words.items() if needle in text][:1]
