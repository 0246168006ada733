"""Run student code while watching for library calls the exercise forbids.

Three independent watchers see every route to a forbidden routine, aliases included:
- a ``TorchDispatchMode`` sees each ATen operator torch executes, whether it was reached
  through ``F.conv2d``, ``torch.conv2d``, ``nn.Conv2d``, ``torch.ops.aten``, a saved alias
  or TorchScript; an operator on a tensor subclass that brings its own ``__torch_dispatch__``
  (which torch runs where this watcher sees nothing) is recorded as such;
- a ``TorchFunctionMode`` sees each torch function and tensor method called, from Python or
  from C (``map(torch.conv2d, ...)``, ``functools.partial``), also while the first is off;
- a profile hook sees each Python and builtin call: torch's own functions and tensor
  methods (so switching the dispatcher off does not hide them), ``torch.ops`` overloads,
  NumPy's ``convolve``/``correlate``, ``math.tanh``, and every routine of ``scipy.signal``
  and ``scipy.ndimage``, their compiled ones included.
NumPy's and SciPy's activations are ufuncs, which no profiler sees: while activations are
forbidden they are replaced by watched stand-ins (in their module, and under the student's
own names in its function's module). A library is known by its exact module names
(``torch`` and ``torch.*``), never by a prefix a student's own module can share.

Before the watch ends it checks that the watchers still work: a tiny forbidden call of its
own (a *canary*) must be seen by each. A watcher the student's code removed, replaced or
fooled misses the canary, and that is recorded as a forbidden call too. The grading
sandbox also stops student code from starting threads (which no watcher would follow).
Building a convolution from ``unfold``/``as_strided`` and ``matmul``/``einsum`` stays
allowed. What is left (watchers switched off and on again around one call through torch's
private API, a ufunc kept where the watch does not look) is for the instructor's review of
the code (``autograder.grading.review``), which lists every such line.
"""

import functools
import inspect
import os
import re
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType

import torch
from torch.overrides import TorchFunctionMode, _get_current_function_mode
from torch.utils._python_dispatch import (
    TorchDispatchMode,
    _get_current_dispatch_mode,
    _get_current_dispatch_mode_stack,
    _pop_mode,
)

CONVOLUTION = re.compile(r"^_*(\w*_)?conv(olution|_|\dd|$)")
ACTIVATIONS = frozenset(
    "sigmoid tanh relu relu6 threshold leaky_relu rrelu_with_noise hardtanh hardsigmoid "
    "hardswish silu log_sigmoid_forward elu celu selu gelu mish softplus special_expit expit "
    "logistic".split()
)
PLAIN_ACTIVATIONS = frozenset({"tanh"})  # NumPy's and math's (exp stays allowed)
LIBRARY_CONVOLUTIONS = ("scipy.signal", "scipy.ndimage")
# NumPy's and SciPy's activations are ufuncs: calling one gives the profile hook no event, so
# while activations are forbidden they are replaced by watched stand-ins (module, name).
UFUNCS = (("numpy", "tanh"), ("scipy.special", "expit"), ("scipy.special", "log_expit"))
SUBCLASS = "a tensor subclass's own __torch_dispatch__ (code torch runs outside the watch)"
NUMPY_CONVOLUTIONS = frozenset({"convolve", "correlate", "correlate2"})
TAMPERED = "the forbidden-call guard, switched off or changed"


def _op_name(func) -> str:
    """``aten.sigmoid_.default`` -> ``sigmoid``."""
    return func._schema.name.split("::")[-1].rstrip("_") or func._schema.name


@dataclass
class Watch:
    """What one guarded call did: forbidden routines it reached, how many torch operators
    (``op_count``) and Python or builtin calls (``call_count``) it ran, and how many
    forbidden calls each watcher saw (canaries included)."""

    forbidden: list[str] = field(default_factory=list)
    op_count: int = 0
    call_count: int = 0
    dispatch_hits: int = 0
    profile_hits: int = 0
    function_hits: int = 0

    def record(self, what: str) -> None:
        if what not in self.forbidden:
            self.forbidden.append(what)


@dataclass(frozen=True)
class Rule:
    """What one kind of exercise forbids. ``op(name)`` judges an ATen operator's name;
    ``function(module, name)`` a Python or builtin function by its module and name."""

    op: Callable[[str], bool]
    function: Callable[[str, str], bool]
    canary: Callable[[], object]


def _in(module: str, *packages: str) -> bool:
    """Whether ``module`` is one of ``packages`` or inside one, by its exact name: a
    student's ``torch_utils`` is not ``torch``."""
    return any(module == p or module.startswith(p + ".") for p in packages)


def _library_convolution(module: str, name: str) -> bool:
    if (_in(module, "torch") or module.startswith("<torch")) and CONVOLUTION.match(name):
        return True
    if _in(module, *LIBRARY_CONVOLUTIONS):
        return True
    return _in(module, "numpy") and name in NUMPY_CONVOLUTIONS


def _library_activation(module: str, name: str) -> bool:
    name = name.rstrip("_")
    if _in(module, "torch", "scipy.special"):
        return name in ACTIVATIONS
    return (_in(module, "numpy") or module == "math") and name in PLAIN_ACTIVATIONS


def _conv_canary() -> object:
    one = torch.ones(1, 1, 1, 1)
    return torch.conv2d(one, one)


def _activation_canary() -> object:
    return torch.sigmoid(torch.zeros(1))


RULES: dict[str | None, Rule | None] = {
    None: None,
    "convolution": Rule(
        lambda name: bool(CONVOLUTION.match(name)), _library_convolution, _conv_canary
    ),
    "activation": Rule(lambda name: name in ACTIVATIONS, _library_activation, _activation_canary),
}


class _OpWatcher(TorchDispatchMode):
    def __init__(self, watch: Watch, rule: Rule | None):
        super().__init__()
        self.watch, self.rule = watch, rule
        self.findings: dict = {}  # operator -> what to record (None: allowed), judged once

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.watch.op_count += 1
        try:
            finding = self.findings[func]
        except KeyError:
            finding = self.findings[func] = self._finding(func)
        if finding is not None:
            self.watch.dispatch_hits += 1
            self.watch.record(finding)
        if types and self.rule is not None and any(map(_own_dispatch, types)):
            self.watch.record(SUBCLASS)
        return func(*args, **(kwargs or {}))

    def _finding(self, func) -> str | None:
        name = _op_name(func)
        if self.rule is not None and self.rule.op(name):
            return f"torch's built-in {name.removeprefix('special_')}"
        return None


class _FunctionWatcher(TorchFunctionMode):
    """The third watcher: a ``TorchFunctionMode`` sees each torch function and tensor method
    called, from Python or from C (``map(torch.conv2d, ...)`` and ``functools.partial`` call
    it from C, where the profile hook sees nothing), also while the dispatch watcher is off."""

    def __init__(self, watch: Watch, rule: Rule):
        super().__init__()
        self.watch, self.rule = watch, rule
        # function -> what to record (None: allowed): judged once per rule, for every watch
        self.findings: dict = _FUNCTION_FINDINGS.setdefault(rule, {})

    def __torch_function__(self, func, types, args=(), kwargs=None):
        try:
            finding = self.findings[func]
        except (KeyError, TypeError):  # TypeError: an unhashable callable, judged each time
            finding = self._finding(func)
            try:
                self.findings[func] = finding
            except TypeError:
                pass
        if finding is not None:
            self.watch.function_hits += 1
            self.watch.record(finding)
        return func(*args, **(kwargs or {}))

    def _finding(self, func) -> str | None:
        name = str(getattr(func, "__name__", ""))
        module = getattr(func, "__module__", None)
        if not isinstance(module, str):
            module = getattr(getattr(func, "__objclass__", None), "__module__", "torch")
        module = module if isinstance(module, str) else "torch"
        return f"{module}.{name}" if self.rule.function(module, name) else None


FUNCTION_WATCH = inspect.unwrap(_FunctionWatcher.__torch_function__).__code__
_FUNCTION_FINDINGS: dict[Rule, dict] = {}


def _function_path() -> frozenset:
    """The Python code of torch's own that hands a torch function written in Python (such as
    ``F.pad``) to the function watcher: judged, it would cost more than the call itself."""
    from torch import overrides

    names = ("handle_torch_function", "_get_overloaded_args", "_pop_mode_temporarily")
    names += ("_pop_mode", "_push_mode")
    found = [inspect.unwrap(getattr(overrides, name, None) or (lambda: None)) for name in names]
    return frozenset(
        f.__code__ for f in found if getattr(f, "__module__", "") == overrides.__name__
    )


def _own_dispatch(kind: type) -> bool:
    """Whether tensors of type ``kind`` bring their own ``__torch_dispatch__``: torch runs it
    inside the dispatch watcher, where that watcher sees nothing."""
    return getattr(kind, "__torch_dispatch__", None) is not torch._C._disabled_torch_dispatch_impl


# The watcher's own code (torch wraps the method; the wrapper's code is shared by others).
DISPATCH = inspect.unwrap(_OpWatcher.__torch_dispatch__).__code__


@dataclass(frozen=True)
class Quiet:
    """What the profile hook passes over: "call" events of ``calls`` (the code torch runs
    for each operator to reach the dispatch watcher, and the watcher itself) and builtins
    called from ``callers`` (the part of that code that only looks the watcher's rules up:
    not the wrappers, which pass calls on, so only their ``builtins``)."""

    calls: frozenset = frozenset()
    callers: frozenset = frozenset()
    builtins: frozenset = frozenset()  # module functions the wrappers call on their way


def _builtin_module(function) -> str:
    """The module a builtin function or bound builtin method belongs to."""
    module = getattr(function, "__module__", None)
    if isinstance(module, str):
        return module
    owner = getattr(function, "__self__", None)
    return "" if owner is None else str(getattr(type(owner), "__module__", ""))


def _call_watcher(watch: Watch, rule: Rule | None, quiet: Quiet = Quiet()):
    """The profile hook. The calls torch and the dispatch watcher make for each operator
    (``quiet``, and whatever the watcher calls itself) are not the student's and are passed
    over quickly: judged, they cost ten times the student's own calls."""
    calls, callers, harmless = quiet.calls, quiet.callers, quiet.builtins

    def profile(frame, event, arg):
        if event != "call" and event != "c_call":
            return
        code = frame.f_code
        if event == "call":
            if code in calls:
                return
        elif code in callers or (code in calls and arg in harmless):
            return
        if code is FUNCTION_WATCH:  # the function watcher judges its own calls
            return
        back = frame.f_back
        if back is not None and (back.f_code is DISPATCH or back.f_code is FUNCTION_WATCH):
            return
        watch.call_count += 1
        if rule is None:
            return
        if event == "call":
            module, name = frame.f_globals.get("__name__", ""), code.co_name
            if module == "torch._ops" and name == "__call__":  # torch.ops.aten.<op>(...)
                overload = frame.f_locals.get("self")
                module, name = "torch.ops", str(getattr(overload, "__name__", "")).split(".")[0]
        else:
            module, name = _builtin_module(arg), str(getattr(arg, "__name__", ""))
        if isinstance(module, str) and rule.function(module, name):
            watch.profile_hits += 1
            watch.record(f"{module}.{name}")

    return profile


def _verify(watch: Watch, rule: Rule, profile) -> None:
    """Run the rule's canary inside the watch: each watcher must see it. The canary's own
    finding is then forgotten; a watcher that missed it is recorded."""
    seen = list(watch.forbidden)
    before = (watch.dispatch_hits, watch.profile_hits, watch.function_hits)
    try:
        rule.canary()
    except Exception:  # a patched torch function: the watchers could not be checked
        pass
    after = (watch.dispatch_hits, watch.profile_hits, watch.function_hits)
    watch.forbidden[:] = seen
    if sys.getprofile() is not profile or not all(
        a > b for a, b in zip(after, before, strict=True)
    ):
        watch.record(TAMPERED)


@functools.cache
def _warm_up() -> Quiet:
    """The first call under a dispatch mode imports a good part of torch: do it once,
    before any profiling (profiled, it takes seconds). Returns what the profile hook may
    pass over."""
    with _OpWatcher(Watch(), None):
        for rule in (r for r in RULES.values() if r is not None):
            rule.canary()
    quiet, handing = _dispatch_path(), _function_path()
    return Quiet(quiet.calls | handing, quiet.callers | handing, quiet.builtins)


def _dispatch_path() -> Quiet:
    """The Python code of torch's own that runs between an operator's call and the dispatch
    watcher (rule lookups, and the wrappers that lead to it), found by watching one
    operator."""
    found, wrappers, called = set(), set(), set()
    package = os.path.dirname(torch.__file__) + os.sep

    def record(frame, event, arg):
        if (
            event == "c_call"
            and not wrappers
            and isinstance(getattr(arg, "__self__", None), ModuleType)
        ):
            called.add((frame.f_code, arg))
        if event != "call" or wrappers:
            return
        if frame.f_code is DISPATCH:
            caller = frame.f_back
            while caller is not None and caller.f_code in found:
                wrappers.add(caller.f_code)
                caller = caller.f_back
            wrappers.add(DISPATCH)
        elif frame.f_code.co_filename.startswith(package):
            found.add(frame.f_code)

    one = torch.ones(1)
    with _OpWatcher(Watch(), None):
        sys.setprofile(record)
        try:
            torch.add(one, one)
        finally:
            sys.setprofile(None)
    on_the_way = frozenset(arg for code, arg in called if code in wrappers)
    return Quiet(frozenset(found | wrappers), frozenset(found - wrappers | {DISPATCH}), on_the_way)


@contextmanager
def watching(forbid: str | None = None) -> Iterator[Watch]:
    """Watch the code run inside the block.

    ``forbid`` is ``"convolution"`` (torch's convolution operators, NumPy's and SciPy's
    convolutions and filters), ``"activation"`` (torch's, SciPy's, NumPy's and ``math``'s
    activation functions) or ``None`` (only count operators and calls). Forbidden calls are
    recorded, not stopped, so the student's code runs as written. (:func:`names_watched`
    extends the watch of ufuncs to the student's own names for them.)
    """
    quiet = _warm_up()
    watch = Watch()
    rule = RULES.get(forbid)
    if forbid is not None and rule is None:  # the table was emptied
        watch.record(TAMPERED)
    previous_profile = sys.getprofile()
    profile = _call_watcher(watch, rule, quiet)
    mode = _OpWatcher(watch, rule)
    functions = _FunctionWatcher(watch, rule) if rule is not None else None
    ufuncs = _UfuncWatch(watch, rule)
    sys.setprofile(profile)
    mode.__enter__()
    if functions is not None:
        functions.__enter__()
    try:
        with ufuncs:
            yield watch
    finally:
        if rule is not None:
            _verify(watch, rule, profile)
        if functions is not None:
            if _get_current_function_mode() is functions:
                functions.__exit__(None, None, None)
            else:  # the student's code popped it, or pushed a mode of its own above it
                watch.record(TAMPERED)
                _take_off_function_mode(functions)
        if _get_current_dispatch_mode() is mode:
            mode.__exit__(None, None, None)
        else:  # the student's code popped it, or pushed a mode of its own above it
            watch.record(TAMPERED)
            _take_off(mode)
        sys.setprofile(previous_profile)


class _Watched:
    """A library ufunc as a watched stand-in: each call is recorded in this thread's watches
    whose rule forbids it, then made; anything else is the ufunc's."""

    def __init__(self, module: str, name: str, ufunc: Callable):
        self.watched_module, self.watched_name, self.ufunc = module, name, ufunc

    def __call__(self, *args, **kwargs):
        for watch, rule in _ACTIVE.__dict__.get("watches", ()):
            if rule.function(self.watched_module, self.watched_name):
                watch.record(f"{self.watched_module}.{self.watched_name}")
        return self.ufunc(*args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self.__dict__["ufunc"], name)

    def __repr__(self) -> str:
        return repr(self.ufunc)


_ACTIVE = threading.local()  # .watches: this thread's (watch, rule) while ufuncs are watched
_SWAP = threading.Lock()
_SWAPPED: dict[tuple[str, str], tuple[object, _Watched]] = {}  # (module, name) -> both
_USERS = [0]  # watches that use the stand-ins now, in every thread


class _UfuncWatch:
    """While a rule forbids one of ``UFUNCS``: the library's ufunc replaced by a
    :class:`_Watched` in its module, put back afterwards. A stand-in the student's code
    removed is tampering."""

    def __init__(self, watch: Watch, rule: Rule | None):
        self.watch, self.rule = watch, rule
        self.wanted = [u for u in UFUNCS if rule is not None and rule.function(*u)]

    def __enter__(self) -> None:
        if not self.wanted:
            return
        with _SWAP:
            _USERS[0] += 1
            for module_name, name in self.wanted:
                module = sys.modules.get(module_name)
                current = getattr(module, name, None) if module is not None else None
                if current is None or (module_name, name) in _SWAPPED:
                    continue
                stand_in = _Watched(module_name, name, current)
                _SWAPPED[module_name, name] = (current, stand_in)
                setattr(module, name, stand_in)
        _ACTIVE.watches = [*_ACTIVE.__dict__.get("watches", ()), (self.watch, self.rule)]

    def __exit__(self, *exc) -> None:
        if not self.wanted:
            return
        watches = list(_ACTIVE.__dict__.get("watches", ()))
        if (self.watch, self.rule) in watches:
            watches.remove((self.watch, self.rule))
        _ACTIVE.watches = watches
        with _SWAP:
            for (module_name, name), (_, stand_in) in _SWAPPED.items():
                module = sys.modules.get(module_name)
                if getattr(module, name, None) is not stand_in:
                    self.watch.record(TAMPERED)  # the student's code took the stand-in away
            _USERS[0] -= 1
            if _USERS[0] == 0:
                for (module_name, name), (original, _) in list(_SWAPPED.items()):
                    module = sys.modules.get(module_name)
                    if module is not None:
                        setattr(module, name, original)
                _SWAPPED.clear()


@contextmanager
def names_watched(target: object) -> Iterator[None]:
    """While a watch's ufunc stand-ins are in place: the student's own names for those
    ufuncs in the module of ``target`` (as ``from numpy import tanh as t`` gives) are the
    stand-ins too, and are put back afterwards. (A ufunc the student keeps elsewhere, in a
    container or a default argument, is not seen: the review scan lists such names.)"""
    function = getattr(target, "__func__", target)
    namespace = getattr(function, "__globals__", None)
    renamed: list[tuple[str, _Watched, object]] = []
    if isinstance(namespace, dict) and _SWAPPED:
        stand_ins = {id(ufunc): stand_in for ufunc, stand_in in list(_SWAPPED.values())}
        for key, value in list(namespace.items()):
            if id(value) in stand_ins:
                namespace[key] = stand_ins[id(value)]
                renamed.append((key, stand_ins[id(value)], value))
    try:
        yield
    finally:
        for key, stand_in, ufunc in renamed:
            if namespace.get(key) is stand_in:
                namespace[key] = ufunc


def _take_off_function_mode(mode: TorchFunctionMode) -> None:
    """Remove ``mode`` and whatever was pushed above it from the torch function modes."""
    from torch.overrides import _get_current_function_mode_stack, _pop_mode

    while any(m is mode for m in _get_current_function_mode_stack()):
        _pop_mode()


def _take_off(mode: TorchDispatchMode) -> None:
    """Remove ``mode`` and whatever was pushed above it, and leave the dispatcher's
    per-thread state consistent (a mode popped behind the guard's back can leave it
    expecting a mode that is gone)."""
    while any(m is mode for m in _get_current_dispatch_mode_stack()):
        _pop_mode()
    if not _get_current_dispatch_mode_stack():
        mode.__enter__()
        mode.__exit__(None, None, None)
