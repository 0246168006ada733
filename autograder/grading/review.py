"""What a person should look at in a submission's code: a static scan of the student's cells.

The forbidden-call guard and the counts of operators and calls are produced inside the
student's process, where determined code can switch a watcher off and on again, or rewrite
what is sent back. What such code must do to get there is visible in its source, so the
scan is an *allow-list* of what the exercises need: tensor operations, torch's and NumPy's
public math, ``math``, a few harmless standard modules (``itertools``, ``functools``,
``time``, ``random``...), Python's ordinary built-ins, and the dunders of defining a module
(``def __init__``, ``super().__init__()``). Every line that uses anything else is listed for
the instructor (``report.html``, "Needs review") with the reason:

- a module outside the list (``sys``, ``gc``, ``inspect``, ``ctypes``, ``importlib``,
  ``os``, ``builtins``, ``operator``, SciPy...), or a private or risky part of an allowed one
  (``torch._C``, ``torch.ops``, ``torch.utils``, ``torch.jit``, ``numpy.ctypeslib``...),
  *whatever it is called*: imports and assignments are followed (``import sys as s``,
  ``t = torch``), and what cannot be followed is judged by its attribute's name;
- dunder access (``x.__dict__``, ``__import__``, ``__builtins__``), private attributes
  (other than ``self._x``), frames and code objects (``f_back``, ``gi_frame``, ``tb_frame``);
- code run or names looked up at run time: ``exec``, ``eval``, ``compile``, ``globals()``,
  ``vars()``, ``getattr``/``setattr`` with a computed or private name (or passed around);
- tensor subclasses and the methods that make torch call back into Python
  (``__torch_dispatch__``, ``__torch_function__``), classes built at run time;
- IPython: ``get_ipython`` and its history names, and every ``%`` magic or ``!`` shell line
  (the cell is transformed as IPython would before it is parsed; the body of a ``%%time``
  cell is scanned as code too);
- a cell the scan cannot parse (a syntax error, a tree too deep to walk): listed as such,
  never a failure of the grader.

It never changes a score: it lists lines to read. A correct solution written with ordinary
tensor code gives no finding, so the list stays worth reading.
"""

import ast
import builtins
import re
from dataclasses import dataclass

from . import untrusted

CODE_CHARS = 200
CELL_CHARS = 100_000  # a cell scanned (~2,000 lines; honest cells are far smaller)
TOTAL_CHARS = 500_000  # all of a notebook's cells scanned
UNSCANNED = "this cell could not be scanned ({}): read it yourself; code the scan cannot read could hide anything"

# Names the notebook's own setup cell binds (locked cells are not scanned).
GIVEN = {
    "torch": "torch",
    "nn": "torch.nn",
    "math": "math",
    "checks": "autograder.checks",
    "get_device": "autograder.device.get_device",
}
# Modules whose public parts the exercises may use (less what DENIED takes back).
ALLOWED_ROOTS = frozenset(
    "torch numpy math itertools functools time random typing collections copy matplotlib "
    "__future__".split()
)
# Parts of the allowed modules that deserve a look anyway, by dotted prefix.
DENIED = {
    "torch.ops": "calls torch's operators directly",
    "torch.library": "registers or replaces torch operators",
    "torch.utils": "uses torch.utils (dispatch modes, hooks, extensions)",
    "torch.overrides": "changes how torch functions dispatch",
    "torch.jit": "compiles code with TorchScript",
    "torch.compile": "compiles code with torch.compile",
    "torch.compiler": "compiles code with torch.compile",
    "torch.fx": "rewrites code as graphs (torch.fx)",
    "torch.export": "exports or compiles code",
    "torch.hub": "downloads and runs code (torch.hub)",
    "torch.load": "loads pickled objects (which can run code)",
    "torch.classes": "uses registered C++ classes",
    "torch.multiprocessing": "starts processes",
    "torch.distributed": "starts processes or connections",
    "torch.package": "loads packaged code",
    "torch.profiler": "installs profiler callbacks",
    "torch.autograd.profiler": "installs profiler callbacks",
    "numpy.ctypeslib": "calls C code directly",
    "numpy.lib": "uses numpy.lib's internals",
    "numpy.core": "uses NumPy's internals",
    "numpy.load": "loads pickled objects (which can run code)",
    "numpy.f2py": "compiles and loads code",
    "numpy.distutils": "compiles and loads code",
    "functools.partialmethod": "wraps methods",
}
DENIED_EXCEPT = ("numpy.lib.stride_tricks",)
# The parts a cheat reaches for most, with what they do (the most specific is given).
SPECIFIC = {
    "torch._C": "reaches into torch's internals (the dispatcher)",
    "torch.utils._python_dispatch": "changes torch's dispatch modes (the forbidden-call guard)",
    "torch.utils._mode_utils": "switches torch's dispatch off (no_dispatch)",
    "sys.setprofile": "changes the interpreter's profiler (a watcher of the guard)",
    "sys.getprofile": "reads the interpreter's profiler (a watcher of the guard)",
    "sys.settrace": "changes the interpreter's tracer",
    "sys.modules": "changes loaded modules (the grader's among them)",
    "sys.meta_path": "changes how modules are imported",
    "sys._getframe": "inspects the interpreter's frames",
    "os.fork": "starts processes",
    "os.kill": "sends signals",
    "os.system": "runs shell commands",
    "os.popen": "runs shell commands",
}
GRADER = re.compile(r"autograder(\.checks(\.(check_\w+|CheckFailed))?|\.device(\.get_device)?)?")
MODULES = {
    "autograder": "reaches into the grader's own code",
    "sys": "reaches into the interpreter (modules, frames, profiler)",
    "os": "uses the operating system (processes, signals, files)",
    "gc": "walks the interpreter's objects",
    "inspect": "inspects the interpreter's frames",
    "ctypes": "calls C code directly (can rewrite memory)",
    "cffi": "calls C code directly (can rewrite memory)",
    "importlib": "imports modules by computed names",
    "builtins": "changes Python's built-in functions",
    "operator": "looks attributes and items up by computed names (operator)",
    "types": "builds functions and code objects",
    "threading": "starts threads (outside the guard's watch)",
    "_thread": "starts threads (outside the guard's watch)",
    "multiprocessing": "starts processes",
    "concurrent": "starts threads or processes",
    "subprocess": "starts programs",
    "signal": "sends or handles signals",
    "socket": "opens network connections",
    "marshal": "loads compiled code",
    "pickle": "loads objects from bytes (which can run code)",
    "base64": "decodes hidden text or code",
    "codecs": "decodes hidden text or code",
    "binascii": "decodes hidden text or code",
    "scipy": "uses SciPy (ready-made convolutions and activations)",
    "sklearn": "uses scikit-learn",
    "cv2": "uses OpenCV (ready-made convolutions)",
    "skimage": "uses scikit-image (ready-made convolutions)",
    "IPython": "reaches into IPython (runs code or commands)",
}
ALLOWED_BUILTINS = frozenset(
    "abs all any ascii bin bool bytearray bytes callable chr classmethod complex dict dir divmod "
    "enumerate filter float format frozenset hasattr hash help hex id int isinstance issubclass "
    "iter len list map max min next object oct ord pow print property range repr reversed "
    "round set slice sorted staticmethod str sum super tuple type zip display".split()
)
BUILTINS = {
    "exec": "runs code built at run time",
    "eval": "runs code built at run time",
    "compile": "compiles code built at run time",
    "globals": "reaches into a namespace's variables",
    "locals": "reaches into a namespace's variables",
    "vars": "reaches into an object's or namespace's variables",
    "open": "opens files",
    "breakpoint": "starts the debugger",
    "input": "waits for input",
    "memoryview": "reads raw memory",
}
COMPUTED = {
    "getattr": "reads an attribute by a computed name (getattr)",
    "setattr": "sets an attribute by a computed name (setattr)",
    "delattr": "deletes an attribute by a computed name (delattr)",
}
IPYTHON_NAMES = frozenset("get_ipython In Out exit quit".split())
MAGIC = "an IPython magic or shell command (a % or ! line)"
PYTHON_MAGICS = frozenset("time timeit capture prun".split())
# Dunders a cell may read, and the methods a class may define.
READABLE = frozenset("__name__ __doc__ __version__ __qualname__".split())
DEFINABLE = frozenset("__init__ __repr__ __str__".split())
# Attribute names judged whatever the object is (when the object cannot be followed).
ATTRIBUTES = {
    "ops": "calls torch's operators directly",
    "library": "registers or replaces torch operators",
    "jit": "compiles code with TorchScript",
    "overrides": "changes how torch functions dispatch",
    "utils": "uses torch.utils (dispatch modes, hooks, extensions)",
    "fx": "rewrites code as graphs (torch.fx)",
    "hub": "downloads and runs code (torch.hub)",
    "profiler": "installs profiler callbacks",
    "ctypeslib": "calls C code directly",
    "setprofile": "changes the interpreter's profiler (a watcher of the guard)",
    "getprofile": "reads the interpreter's profiler (a watcher of the guard)",
    "settrace": "changes the interpreter's tracer",
    "gettrace": "reads the interpreter's tracer",
    "meta_path": "changes how modules are imported",
    "as_subclass": "makes a tensor subclass (its own dispatch runs outside the guard)",
    "run_line_magic": "runs code or commands through IPython",
    "run_cell_magic": "runs code or commands through IPython",
    "run_cell": "runs code or commands through IPython",
    "ex": "runs code or commands through IPython",
    "ev": "runs code or commands through IPython",
    "system": "runs shell commands",
    "getoutput": "runs shell commands",
}
FRAMES = re.compile(r"(f|gi|cr|ag|tb|co)_[a-z]+|func_(globals|code|closure)|cell_contents")
TENSORS = ("torch.Tensor", "torch.nn.Parameter", "torch.nn.parameter", "torch.nn.Buffer")
TENSORS += ("numpy.ndarray",)
DISPATCH = {
    "__torch_dispatch__": "defines __torch_dispatch__ (torch calls it outside the guard's watch)",
    "__torch_function__": "defines __torch_function__ (torch calls it outside the guard's watch)",
}
# Library activations the guard watches by replacing them while a call runs (ufuncs, which
# no profiler sees): kept under a name of the student's own, one could escape the watch.
KEPT = frozenset({"numpy.tanh"})
KEPT_REASON = "{} kept under a name of its own (the guard watches it only where it is called)"
# Text inside string literals that names the grader or torch's internals.
STRINGS = (
    "autograder.",
    "_C.",
    "torch.ops",
    "_python_dispatch",
    "setprofile",
    "sys.modules",
    "__torch_dispatch__",
    "get_ipython",
    "_pop_mode",
    "DisableTorch",
)


@dataclass(frozen=True)
class Finding:
    """One line worth a look: ``cell`` (the solution cell's grade_id, or "cell N"), its
    1-based ``line`` (0: the whole cell), ``reason`` (for the instructor) and the line's
    ``code``."""

    cell: str
    line: int
    reason: str
    code: str


def scan(cells: list[tuple[str, str]]) -> list[Finding]:
    """The findings in ``cells`` (``(label, source)`` pairs, in notebook order), one per
    line and reason, in order. Never raises: a cell that cannot be read is a finding. The
    work is linear in the code's size, which is bounded (``CELL_CHARS``, ``TOTAL_CHARS``:
    a cell beyond them is listed as too large to scan)."""
    parsed, total = [], 0
    for label, source in cells:
        total += len(source)
        if len(source) > CELL_CHARS or total > TOTAL_CHARS:
            too_large = (0, UNSCANNED.format(f"{len(source):,} characters, too large"))
            parsed.append((label, source, None, lambda line: line, too_large))
        else:
            parsed.append((label, source, *_parse(source)))
    try:
        names = _Names([tree for _, _, tree, _, _ in parsed if tree is not None])
    except Exception:  # a tree too deep to walk: each cell still gets its own verdict
        names = _Names([])
    findings: list[Finding] = []
    for label, source, tree, lines_of, problem in parsed:
        lines = source.splitlines()
        found: set[tuple[int, str]] = {problem} if problem else set()
        if tree is not None:
            try:
                found.update(_Cell(names, source, lines_of).scan(tree))
            except Exception as error:  # listed, never the grader's failure
                found.add((0, UNSCANNED.format(_why(error))))
        for number, reason in sorted(found):
            code = lines[number - 1].strip() if 0 < number <= len(lines) else ""
            code = untrusted.text(code, CODE_CHARS).replace("\n", " ")
            findings.append(Finding(label, number, reason, code))
    return findings


def _why(error: BaseException) -> str:
    if isinstance(error, RecursionError | MemoryError):
        return "nested too deeply"
    if isinstance(error, SyntaxError):
        return f"not valid Python: {untrusted.text(error.msg, 100)}"
    return type(error).__name__


def _parse(source: str):
    """``(tree, line map, problem)``: the cell as IPython would run it, parsed; the map from
    the transformed code's lines to the cell's own; a finding when it cannot be parsed."""
    transformed = _transform(source)
    lines_of = _line_map(source.splitlines(), transformed.splitlines())
    try:
        tree = ast.parse(transformed)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError) as error:
        line = getattr(error, "lineno", None) if isinstance(error, SyntaxError) else None
        return None, lines_of, (lines_of(line) if line else 0, UNSCANNED.format(_why(error)))
    return tree, lines_of, None


def _transform(source: str) -> str:
    """``source`` with IPython's syntax (magics, shell escapes, help) turned into Python.
    IPython's transformer reads the whole cell again after each magic it turns; a cell with
    so many that this would be slow is turned line by line instead (a line that only looks
    like a magic, inside a string, is then taken for one)."""
    magics = sum(1 for line in source.splitlines() if _MAGIC_LINE.match(line))
    if magics == 0:
        return source
    if (magics + 1) * len(source) > TRANSFORM_BUDGET:
        return _magic_lines_replaced(source)
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(source)
    except Exception:  # IPython could not read it either
        return _magic_lines_replaced(source)


# A line IPython may take for a magic, a shell escape or help: `%x`, `!x`, `?x`, `x?`,
# `y = !x`, `y = %x` (a line inside a string can match too: IPython decides).
_MAGIC_LINE = re.compile(r"(?!\s*#)(\s*([%!?]|[\w., \t\[\]()*]+=\s*[%!])|.*\?\s*$)")
TRANSFORM_BUDGET = 100_000  # characters IPython's transformer may read in all (~6 µs each)


def _magic_lines_replaced(source: str) -> str:
    """Each magic-looking line (and the lines it continues onto) as a ``get_ipython()``
    call at its indentation, every other line as it is: the line count is kept."""
    lines, continued = source.splitlines(), False
    for number, line in enumerate(lines):
        if continued:
            continued, lines[number] = line.endswith("\\"), ""
        elif _MAGIC_LINE.match(line):
            indent = line[: len(line) - len(line.lstrip())]
            continued, lines[number] = line.endswith("\\"), indent + "get_ipython()"
    return "\n".join(lines)


def _line_map(original: list[str], transformed: list[str]):
    """A function from a line of the transformed cell to the cell's own line. IPython keeps
    lines where it can; a magic continued over several lines becomes one."""
    if len(original) == len(transformed):
        return lambda line: line
    mapping, o = {}, 0
    for t, text in enumerate(transformed):
        while o < len(original) and text.strip() and not original[o].strip():
            o += 1  # blank lines IPython dropped (at the start of a cell)
        if o < len(original) and original[o].strip() == text.strip():
            mapping[t + 1] = o + 1
            o += 1
            continue
        mapping[t + 1] = min(o + 1, len(original))
        following = transformed[t + 1].strip() if t + 1 < len(transformed) else None
        o += 1
        while o < len(original) and original[o].strip() != following:
            o += 1
    return lambda line: mapping.get(line, min(line, len(original)))


class _Names:
    """What names mean across the student's cells: the names they bind, and the library
    parts a name stands for (followed through imports and plain assignments)."""

    def __init__(self, trees: list[ast.AST]):
        self.bound: set[str] = set()
        self.stored: set[str] = set()  # bound by assignment (not as a parameter)
        self.classes: set[str] = set()
        self.paths: dict[str, set[str]] = {name: {path} for name, path in GIVEN.items()}
        assignments: list[tuple[str, ast.AST]] = []
        for tree in trees:
            for node in ast.walk(tree):
                self._bind(node, assignments)
        for _ in range(3):  # aliases of aliases
            for name, value in assignments:
                self.paths.setdefault(name, set()).update(self.resolve(value))

    def _bind(self, node: ast.AST, assignments: list) -> None:
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            self.bound.add(node.id)
            self.stored.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            self.bound.add(node.name)
            if isinstance(node, ast.ClassDef):
                self.classes.add(node.name)
        elif isinstance(node, ast.arg):
            self.bound.add(node.arg)
        elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
            self.bound.add(node.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                name = alias.asname or alias.name.split(".")[0]
                path = alias.name if alias.asname else name
                self.bound.add(name)
                self.paths.setdefault(name, set()).add(path)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                name = alias.asname or alias.name
                self.bound.add(name)
                self.paths.setdefault(name, set()).add(f"{node.module}.{alias.name}")
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.NamedExpr):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if node.value is None:
                    continue
                if isinstance(target, ast.Name):
                    assignments.append((target.id, node.value))
                elif isinstance(target, ast.Tuple | ast.List) and isinstance(
                    node.value, ast.Tuple | ast.List
                ):
                    pairs = zip(target.elts, node.value.elts, strict=False)
                    assignments += [(t.id, v) for t, v in pairs if isinstance(t, ast.Name)]

    def resolve(self, node: ast.AST) -> set[str]:
        """The library paths ``node`` (a name or an attribute chain on one) stands for."""
        attributes = []
        while isinstance(node, ast.Attribute):
            attributes.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return set()
        suffix = "".join("." + a for a in reversed(attributes))
        return {path + suffix for path in self.paths.get(node.id, ())}


def _path_reason(path: str) -> str | None:
    """Why using the library part ``path`` (``torch.ops.aten``) deserves a look, or None."""
    parts = path.split(".")
    root = parts[0]
    for number in range(len(parts), 0, -1):  # the most specific reason known
        prefix = ".".join(parts[:number])
        if prefix in SPECIFIC:
            return f"{prefix}: {SPECIFIC[prefix]}"
    if root == "autograder":
        return None if GRADER.fullmatch(path) else f"{path}: " + MODULES["autograder"]
    if root not in ALLOWED_ROOTS:
        return f"{root}: " + MODULES.get(root, "a module the exercises do not need")
    for number, part in enumerate(parts[1:], 1):
        if part.startswith("_") and part not in READABLE:
            prefix = ".".join(parts[: number + 1])
            return f"{prefix}: a private part of {root} (its internals)"
    for prefix, reason in DENIED.items():
        if path == prefix or path.startswith(prefix + "."):
            if not any(path == e or path.startswith(e + ".") for e in DENIED_EXCEPT):
                return f"{prefix}: {reason}"
    return None


def _exception(name: str) -> bool:
    """Whether the built-in ``name`` is an exception or warning class (always allowed)."""
    value = getattr(builtins, name, None)
    return isinstance(value, type) and issubclass(value, BaseException)


class _Cell:
    """The allow-list judged on one cell's tree."""

    def __init__(self, names: _Names, source: str, lines_of):
        self.names, self.lines = names, source.splitlines()
        self.lines_of = lines_of
        self.found: list[tuple[int, str]] = []
        self.parents: dict[ast.AST, ast.AST] = {}

    def scan(self, tree: ast.AST) -> list[tuple[int, str]]:
        for node in ast.walk(tree):
            for child in ast.iter_child_nodes(node):
                self.parents[child] = node
        for node in ast.walk(tree):
            method = getattr(self, "_" + type(node).__name__, None)
            if method is not None:
                method(node)
        return self.found

    def flag(self, node: ast.AST, reason: str) -> None:
        """A finding on ``node``'s line of the cell as the student wrote it."""
        self.found.append((self.lines_of(getattr(node, "lineno", 0)), reason))

    # imports
    def _Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if reason := _path_reason(alias.name):
                self.flag(node, reason)

    def _ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            self.flag(node, "a relative import (of a module beside the notebook)")
            return
        module = node.module or ""
        if reason := _path_reason(module):
            self.flag(node, reason)
            return
        for alias in node.names:
            if alias.name == "*":
                self.flag(node, f"imports every name of {module} (hides where names come from)")
            elif reason := _path_reason(f"{module}.{alias.name}"):
                self.flag(node, reason)
            elif f"{module}.{alias.name}" in KEPT:
                self.flag(node, KEPT_REASON.format(f"{module}.{alias.name}"))

    # names
    def _Name(self, node: ast.Name) -> None:
        name = node.id
        if name.startswith("__") and name.endswith("__") and name not in READABLE:
            self.flag(node, f"{name}: reaches behind the interpreter's back")
            return
        parent = self.parents.get(node)
        if not (isinstance(parent, ast.Attribute) and parent.value is node):  # else the chain's
            for path in self.names.paths.get(name, ()):
                if reason := _path_reason(path):
                    self.flag(node, reason)
                elif path in KEPT and not (isinstance(parent, ast.Call) and parent.func is node):
                    self.flag(node, KEPT_REASON.format(path))
        if name in self.names.bound or name in GIVEN or name in READABLE:
            return
        if not isinstance(node.ctx, ast.Load):
            return
        if name == "get_ipython":
            line = self.lines_of(node.lineno)
            said = 0 < line <= len(self.lines) and "get_ipython" in self.lines[line - 1]
            self.flag(node, "get_ipython: runs code or commands through IPython" if said else MAGIC)
        elif name in IPYTHON_NAMES or name.startswith("_"):
            self.flag(node, f"{name}: one of IPython's own names (history, outputs, the shell)")
        elif name in COMPUTED:
            if not (isinstance(parent, ast.Call) and parent.func is node):
                self.flag(node, f"{name} passed around: " + COMPUTED[name])
        elif hasattr(builtins, name) and name not in ALLOWED_BUILTINS and not _exception(name):
            reason = BUILTINS.get(name, "a built-in the exercises do not need")
            self.flag(node, f"{name}: {reason}")

    # attributes
    def _Attribute(self, node: ast.Attribute) -> None:
        parent = self.parents.get(node)
        if isinstance(parent, ast.Attribute) and parent.value is node:
            return  # judged with the whole chain
        chain, root = [], node
        while isinstance(root, ast.Attribute):
            chain.append(root)
            root = root.value
        if isinstance(root, ast.Call) and getattr(root.func, "id", None) == "get_ipython":
            return  # get_ipython is the finding
        paths = self.names.resolve(node)
        if paths:
            if node.attr == "__init__" and isinstance(parent, ast.Call) and parent.func is node:
                paths = {path.removesuffix(".__init__") for path in paths}  # Module.__init__(self)
            for path in paths:
                if reason := _path_reason(path):
                    self.flag(node, reason)
                elif path in KEPT and not (isinstance(parent, ast.Call) and parent.func is node):
                    self.flag(node, KEPT_REASON.format(path))
            return
        for link in reversed(chain):
            self._attribute_name(link, root)

    def _attribute_name(self, node: ast.Attribute, root: ast.AST) -> None:
        attr = node.attr
        parent = self.parents.get(node)
        called = isinstance(parent, ast.Call) and parent.func is node
        own = (  # the student's own object: `self`, a method's parameter (never assigned)
            isinstance(root, ast.Name)
            and root.id == "self"
            and node.value is root
            and "self" not in self.names.stored
        )
        if attr.startswith("__") and attr.endswith("__"):
            if attr in READABLE or (attr == "__init__" and called):
                return
            self.flag(node, f".{attr}: reaches behind an object's back")
        elif attr.startswith("_"):
            if not own:
                self.flag(node, f".{attr}: a private attribute")
        elif FRAMES.fullmatch(attr):
            self.flag(node, f".{attr}: walks the interpreter's frames or code")
        elif attr in ATTRIBUTES and not own:  # self.ops is the student's own attribute
            self.flag(node, f".{attr}: {ATTRIBUTES[attr]}")

    # calls
    def _Call(self, node: ast.Call) -> None:
        func = node.func
        if not isinstance(func, ast.Name) or func.id in self.names.bound:
            return
        if func.id in COMPUTED:
            name = node.args[1] if len(node.args) > 1 else None
            if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
                self.flag(node, COMPUTED[func.id])
            elif name.value.startswith("_"):
                self.flag(node, f"{func.id}: the private attribute {name.value!r}")
        elif func.id == "type" and len(node.args) == 3:
            self.flag(node, "type(name, bases, namespace): creates a class at run time")
        elif func.id == "get_ipython":
            self._ipython_code(node)

    def _ipython_code(self, node: ast.Call) -> None:
        """The code a ``%time`` line or ``%%time`` cell runs, scanned as code too."""
        call = self.parents.get(node)
        while isinstance(call, ast.Attribute):
            call = self.parents.get(call)
        if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Attribute):
            return
        args = [a.value if isinstance(a, ast.Constant) else None for a in call.args]
        if not args or args[0] not in PYTHON_MAGICS or not isinstance(args[-1], str):
            return
        kind, code = call.func.attr, args[-1]
        if kind not in ("run_line_magic", "run_cell_magic"):
            return
        first = self.lines_of(node.lineno)
        inner, lines_of, problem = _parse(code)
        found = [problem] if problem else []
        if inner is not None:
            found += _Cell(self.names, code, lines_of).scan(inner)
        # a line magic's code is on its own line; a cell magic's body starts on the next
        self.found += [
            (first if kind == "run_line_magic" else first + line, r) for line, r in found
        ]

    # definitions
    def _FunctionDef(self, node: ast.FunctionDef) -> None:
        name = node.name
        if name in DISPATCH:
            self.flag(node, DISPATCH[name])
        elif name.startswith("__") and name.endswith("__") and name not in DEFINABLE:
            self.flag(node, f"defines {name} (changes how Python treats the object)")

    _AsyncFunctionDef = _FunctionDef

    def _ClassDef(self, node: ast.ClassDef) -> None:
        if node.keywords:
            self.flag(node, "a class with a metaclass or class keywords")
        for base in node.bases:
            paths = self.names.resolve(base)
            if any(p == t or p.startswith(t + ".") for p in paths for t in TENSORS):
                self.flag(
                    node, "defines a tensor subclass (its own dispatch runs outside the guard)"
                )
            elif paths:
                continue  # a library class: its path is judged where it is named
            elif isinstance(base, ast.Name) and (
                base.id in self.names.classes
                or (base.id not in self.names.bound and base.id in {"object", "Exception"})
                or (base.id not in self.names.bound and base.id.endswith("Error"))
            ):
                continue
            else:
                self.flag(node, "a class derived from a computed or unknown base")

    def _Constant(self, node: ast.Constant) -> None:
        value = node.value
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        if isinstance(value, str):
            for needle in STRINGS:
                if needle in value:
                    self.flag(node, f"names {needle.strip('.')!r} in a string")
                    return
