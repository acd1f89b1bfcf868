"""What one cell of a session does, read from its code without running it: the names it binds, reads, kills
and may change in place, and whether it sets process-wide state (:func:`cell_facts`); IPython magics in it
turned into the Python they run (:func:`python_of`, :func:`plain_python`). :mod:`.session` builds a
run's slice from these facts."""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from nbtrack.capture._syntax import parse

#: Names every IPython session has without a cell binding them.
SESSION_NAMES = frozenset(
    {"In", "Out", "get_ipython", "exit", "quit", "display", "_", "__", "___", "_ih", "_oh", "_dh", "_i", "_ii"}
) | frozenset(dir(builtins))

#: Cell and line magics whose argument is Python that runs in the session.
_PYTHON_MAGICS = frozenset({"time", "timeit", "capture", "track", "prun"})
#: Magics that change the session's state in ways a slice cannot follow by names.
_STATE_MAGICS = frozenset({"run", "cd", "env", "writefile", "file", "load", "pushd", "popd", "config", "autoreload"})
#: Calls (last part of the dotted name) that set process-wide state a result may depend on.
_STATE_CALLS = frozenset(
    {
        "seed",
        "set_seed",
        "manual_seed",
        "manual_seed_all",
        "set_random_seed",
        "set_option",
        "set_config",
        "filterwarnings",
        "simplefilter",
        "chdir",
        "putenv",
        "setdefaultencoding",
        "use_deterministic_algorithms",
        "enable_iterative_imputer",
    }
)
#: Dotted call prefixes that set process-wide state.
_STATE_PREFIXES = ("sys.path.", "os.environ.", "pd.options.", "pandas.options.", "warnings.")
#: Methods that change their object whatever their result is used for.
_MUTATING_METHODS = frozenset(
    {
        "fit",
        "partial_fit",
        "fit_transform",
        "fit_predict",
        "fit_resample",
        "set_params",
        "set_output",
        "append",
        "extend",
        "insert",
        "pop",
        "popitem",
        "remove",
        "clear",
        "update",
        "add",
        "discard",
        "setdefault",
        "sort",
        "reverse",
        "shuffle",
        "load_state_dict",
        "compile",
        "train",
        "step",
        "zero_grad",
        "backward",
        "put",
        "resize",
        "fill",
        "sort_values",
        "sort_index",
    }
)
#: Methods whose call only reads or shows (a cell of these is not kept as a change).
_READING_METHODS = frozenset(
    {
        "head",
        "tail",
        "describe",
        "info",
        "plot",
        "hist",
        "boxplot",
        "show",
        "sample",
        "summary",
        "score",
        "predict",
        "predict_proba",
        "transform",
        "get_params",
        "keys",
        "values",
        "items",
        "count",
        "value_counts",
        "corr",
        "mean",
        "sum",
        "min",
        "max",
        "std",
        "nunique",
        "unique",
        "isna",
        "isnull",
        "to_string",
        "to_markdown",
        "to_csv",
        "to_parquet",
        "savefig",
        "memory_usage",
        "dtypes",
    }
)


@dataclass(frozen=True)
class CellFacts:
    """What one cell's code does with names, read from its syntax."""

    binds: frozenset[str] = frozenset()  # names bound anywhere at module level (maybe conditionally)
    kills: frozenset[str] = frozenset()  # names surely rebound by a top-level statement
    reads: frozenset[str] = frozenset()  # names read before the cell binds them (or inside functions)
    changes: frozenset[str] = frozenset()  # names possibly changed in place (receiver, subscript, attribute)
    method_receivers: frozenset[str] = frozenset()  # names a method is called on as a statement
    sets_state: bool = False  # seeds, options, chdir, %run, star import...
    binds_unknown: bool = False  # may bind names its syntax does not show (%run, exec, star import)


@lru_cache(maxsize=4096)
def cell_facts(code: str) -> CellFacts:
    """:class:`CellFacts` of ``code`` (transformed Python, as in IPython's ``In``); a cell that does not
    parse binds and reads nothing."""
    try:
        tree = parse(code)
    except (SyntaxError, ValueError):
        return CellFacts()
    reader = _Reader()
    reader.top_level(tree.body)
    return CellFacts(
        frozenset(reader.binds),
        frozenset(reader.kills),
        frozenset(reader.reads),
        frozenset(reader.changes),
        frozenset(reader.receivers),
        reader.sets_state,
        reader.binds_unknown,
    )


#: Top-level statements that always rebind the names they bind (an ``if`` or ``try`` may not).
_SURELY_BINDING = (ast.Assign, ast.AnnAssign, ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef)
_SURELY_BINDING += (ast.ClassDef, ast.For, ast.With)


#: The parts of compound statements, in the order they run (targets before the bodies that read them).
_ORDERED_PARTS: dict[type, tuple[str, ...]] = {
    ast.For: ("iter", "target", "body", "orelse"),
    ast.AsyncFor: ("iter", "target", "body", "orelse"),
    ast.While: ("test", "body", "orelse"),
    ast.If: ("test", "body", "orelse"),
    ast.With: ("items", "body"),
    ast.AsyncWith: ("items", "body"),
    ast.Try: ("body", "handlers", "orelse", "finalbody"),
}


class _Reader:
    """One pass over a cell's statements: each node is visited once, by :func:`_scan`, which also hands
    back the nodes that may change a name in place (assignments to items and attributes, calls, star
    imports) for :meth:`_change` to look at once the statement's bindings are known."""

    def __init__(self) -> None:
        self.binds: set[str] = set()
        self.kills: set[str] = set()
        self.reads: set[str] = set()
        self.changes: set[str] = set()
        self.receivers: set[str] = set()
        self.sets_state = False
        self.binds_unknown = False
        self._found: list[ast.AST] = []

    def top_level(self, body: list[ast.stmt]) -> None:
        for statement in body:
            surely = isinstance(statement, _SURELY_BINDING)
            before = set(self.binds) if surely else None
            found = self._found = []
            self._in_order(statement)
            if before is not None:
                self.kills |= self.binds - before
            for node in found:
                self._change(node, statement)

    def _in_order(self, statement: ast.stmt) -> None:
        """Reads and bindings of one statement in execution order: a loop's target or a ``with``'s name is
        bound before its body reads it, a branch's statements one after the other."""
        parts = _ORDERED_PARTS.get(type(statement))
        if parts is None:
            loads: set[str] = set()
            stores: set[str] = set()
            _scan(statement, loads, stores, self._found)
            self.reads |= loads - self.binds
            self.binds |= stores
            return
        for part in parts:
            value = getattr(statement, part, None)
            if value is None:
                continue
            for node in value if isinstance(value, list) else [value]:
                if isinstance(node, ast.stmt):
                    self._in_order(node)
                elif isinstance(node, ast.withitem):
                    self._expression(node.context_expr)
                    if node.optional_vars is not None:
                        self._expression(node.optional_vars)
                elif isinstance(node, ast.ExceptHandler):
                    if node.type is not None:
                        self._expression(node.type)
                    if node.name:
                        self.binds.add(node.name)
                    for inner in node.body:
                        self._in_order(inner)
                else:
                    self._expression(node)

    def _expression(self, node: ast.AST) -> None:
        loads: set[str] = set()
        stores: set[str] = set()
        _scan(node, loads, stores, self._found)
        self.reads |= loads - self.binds
        self.binds |= stores

    def _change(self, node: Any, statement: ast.stmt) -> None:
        """What one node :func:`_scan` found may change: items and attributes assigned, augmented names,
        star imports (state), calls (see :meth:`_call`)."""
        kind = type(node)
        if kind is ast.Call:
            self._call(node, statement)
            return
        if kind is ast.ImportFrom:
            if any(alias.name == "*" for alias in node.names):
                self.sets_state = self.binds_unknown = True
            return
        targets = node.targets if kind is ast.Assign or kind is ast.Delete else [node.target]
        for target in targets:
            if type(target) is ast.Name:
                if kind is ast.AugAssign:
                    self.changes.add(target.id)
                continue
            for element in ast.walk(target):
                if isinstance(element, ast.Subscript) and _dotted(getattr(element.value, "func", None)) in (
                    "globals",
                    "vars",
                ):
                    self.sets_state = self.binds_unknown = True
                elif isinstance(element, (ast.Subscript, ast.Attribute)):
                    self._changed(_root(element), _dotted(element))

    def _changed(self, root: str | None, dotted: str) -> None:
        if root is None:
            return
        if dotted.startswith(_STATE_PREFIXES) or ".rcParams" in dotted or dotted.startswith("rcParams"):
            self.sets_state = True
        self.changes.add(root)

    def _call(self, call: ast.Call, statement: ast.stmt) -> None:
        magic = _magic(call)
        if magic is not None:
            name, code = magic
            if name in _STATE_MAGICS:
                self.sets_state = True
                self.binds_unknown |= name in ("run", "load")
            elif name in _PYTHON_MAGICS and code is not None:
                inner = cell_facts(plain_python(code))
                self.binds |= inner.binds
                self.kills |= inner.kills
                self.reads |= inner.reads
                self.changes |= inner.changes
                self.receivers |= inner.method_receivers
                self.sets_state |= inner.sets_state
            return
        dotted = _dotted(call.func)
        last = dotted.rsplit(".", 1)[-1]
        if last in _STATE_CALLS or dotted.startswith(_STATE_PREFIXES):
            self.sets_state = True
        if dotted in ("exec", "setattr") or dotted.endswith(("globals.update", "user_ns.update")):
            self.sets_state = self.binds_unknown = True
        if not isinstance(call.func, ast.Attribute):
            return
        root = _root(call.func.value)
        if root is None:
            return
        inplace = any(k.arg == "inplace" and _is_true(k.value) for k in call.keywords)
        if last in _MUTATING_METHODS or inplace:
            self.changes.add(root)
        elif isinstance(statement, ast.Expr) and statement.value is call and last not in _READING_METHODS:
            self.receivers.add(root)


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, ast.ListComp, ast.SetComp)
_SCOPES += (ast.DictComp, ast.GeneratorExp)
_SCOPE_KINDS = frozenset(_SCOPES)
#: Nodes that may change a name in place or set state: :meth:`_Reader._change` looks at them.
_CHANGE_KINDS = frozenset({ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete, ast.ImportFrom, ast.Call})
#: Fields that never hold a node whose names matter (contexts, operators, identifiers, flags).
_NOT_CHILDREN = frozenset({"ctx", "op", "ops", "id", "attr", "arg", "name", "module", "level", "kind", "type_comment"})
_NOT_CHILDREN |= {"simple", "conversion", "is_async", "kwd_attrs", "rest", "tag"}
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}


def _child_fields(kind: type) -> tuple[str, ...]:
    fields = _CHILD_FIELDS.get(kind)
    if fields is None:
        fields = tuple(f for f in getattr(kind, "_fields", ()) if f not in _NOT_CHILDREN)
        _CHILD_FIELDS[kind] = fields
    return fields


def _scan(node: Any, loads: set[str], stores: set[str], found: list[ast.AST]) -> None:
    """Names read and bound at module level by ``node``; names read inside a function, lambda, class or
    comprehension count when that scope does not bind them itself. Every node that may change a name
    (:data:`_CHANGE_KINDS`) is appended to ``found``. One visit per node (the cost of a tracked cell's
    session slice is mostly this walk)."""
    stack: list[Any] = [node]
    pop, push, extend = stack.pop, stack.append, stack.extend
    while stack:
        node = pop()  # Any: the node kinds are told apart by type() below, faster than isinstance
        kind = type(node)
        if kind is ast.Name:
            context = type(node.ctx)
            if context is ast.Load:
                loads.add(node.id)
            else:
                stores.add(node.id)
                if context is ast.Del:
                    loads.add(node.id)
            continue
        if kind is ast.Constant or node is None:
            continue
        if kind in _CHANGE_KINDS:
            found.append(node)
        if kind is ast.Import or kind is ast.ImportFrom:
            for alias in node.names:
                if alias.name != "*":
                    stores.add((alias.asname or alias.name).split(".")[0])
            continue
        if kind is ast.Global or kind is ast.Nonlocal:
            stores.update(node.names)
            continue
        if kind is ast.AugAssign:
            if type(node.target) is ast.Name:
                loads.add(node.target.id)
        elif kind is ast.ExceptHandler or kind is ast.MatchAs or kind is ast.MatchStar:
            if node.name:
                stores.add(node.name)
        elif kind in _SCOPE_KINDS:
            _scope(node, loads, stores, found)
            continue
        for name in _CHILD_FIELDS.get(kind) or _child_fields(kind):
            value = getattr(node, name, None)
            if type(value) is list:
                extend(value)
            elif value is not None:
                push(value)


def _scope(node: ast.AST, loads: set[str], stores: set[str], found: list[ast.AST]) -> None:
    """A nested scope: its own name (a def or class binds it outside), decorators, defaults and bases
    read outside; in its body, the names it does not bind are read from the session."""
    inner_loads: set[str] = set()
    inner_stores: set[str] = set()
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        stores.add(node.name)
        outside: list[ast.AST] = list(node.decorator_list)
        if isinstance(node, ast.ClassDef):
            outside += [*node.bases, *(k.value for k in node.keywords)]
        else:
            outside += [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]
            outside += [a.annotation for a in _all_args(node.args) if a.annotation is not None]
            if node.returns is not None:  # its names do not count, a call in it may still change state
                found.extend(n for n in ast.walk(node.returns) if type(n) in _CHANGE_KINDS)
        for param in getattr(node, "type_params", ()):  # Python 3.12: likewise
            found.extend(n for n in ast.walk(param) if type(n) in _CHANGE_KINDS)
        for item in outside:
            _scan(item, loads, stores, found)
        body: list[ast.AST] = list(node.body)
    elif isinstance(node, ast.Lambda):
        outside = [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]
        for item in outside:
            _scan(item, loads, stores, found)
        body = [node.body]
    else:
        body = list(ast.iter_child_nodes(node))  # a comprehension: its targets are its own
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        inner_stores.update(a.arg for a in _all_args(node.args))
    for item in body:
        _scan(item, inner_loads, inner_stores, found)
    loads |= inner_loads - inner_stores


def _all_args(args: ast.arguments) -> list[ast.arg]:
    found = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    found += [a for a in (args.vararg, args.kwarg) if a is not None]
    return found


def _root(node: ast.AST) -> str | None:
    """``df`` of ``df["a"].values``, ``model`` of ``model.steps[0]``; None for a call's result."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _dotted(node: ast.AST | None) -> str:
    parts = []
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        if isinstance(node, ast.Attribute):
            parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _is_true(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def python_of(code: str) -> str:
    """The Python of a history entry: the body of a Python cell magic (``%%track``, ``%%time``...) the
    entry runs, its IPython lines made inert; any other entry as it is."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return code
    if len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr) and isinstance(tree.body[0].value, ast.Call):
        magic = _magic(tree.body[0].value)
        if magic is not None and magic[0] in _PYTHON_MAGICS and magic[1] is not None:
            return plain_python(magic[1])
    return code


def plain_python(source: str) -> str:
    """``source`` as typed in a cell, its IPython-only lines made inert for reading its names:
    ``%time stmt`` becomes ``stmt``, other magics and shell escapes ``pass``, ``x = !cmd`` ``x = None``."""
    lines = []
    for line in source.split("\n"):
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        name, eq, rest = stripped.partition("=")
        if stripped.startswith(("%time ", "%timeit ")):
            lines.append(indent + stripped.split(" ", 1)[1])
        elif stripped.startswith(("%", "!")):
            lines.append(indent + "pass")
        elif eq and name.strip().isidentifier() and rest.lstrip().startswith(("!", "%")):
            lines.append(f"{indent}{name.strip()} = None")
        else:
            lines.append(line)
    return "\n".join(lines)


def _magic(call: ast.Call) -> tuple[str, str | None] | None:
    """``(magic name, its Python or None)`` of ``get_ipython().run_line_magic('time', 'x = f()')`` or
    ``run_cell_magic('track', 'name', 'body')``; None for any other call."""
    func = call.func
    if not (isinstance(func, ast.Attribute) and func.attr in ("run_line_magic", "run_cell_magic")):
        return None
    if not (isinstance(func.value, ast.Call) and _dotted(func.value.func) == "get_ipython"):
        return None
    args = [a.value if isinstance(a, ast.Constant) and isinstance(a.value, str) else None for a in call.args]
    if not args or args[0] is None:
        return None
    name = args[0]
    code = args[2] if func.attr == "run_cell_magic" and len(args) > 2 else (args[1] if len(args) > 1 else None)
    if name == "system" or func.attr == "run_line_magic" and name not in _PYTHON_MAGICS:
        code = None
    return name, code
