"""Static analysis of a cell's code: which names it assigns literals to, binds and reads.

Pure ``ast`` work on the cell *after* IPython's input transformation (so ``!ls`` or ``%time`` lines
are plain Python calls here). Nothing in this module imports IPython.

Rules (documented in docs/tracking.md):

* a **literal assignment** is ``name = <literal>`` (also ``name: T = <literal>`` and ``a, b = 1, 2``)
  anywhere at module level of the cell (not inside ``def``/``class``/``lambda``/comprehensions), where
  ``<literal>`` is what :func:`ast.literal_eval` accepts minus sets, bytes and complex numbers;
* a **bound name** is any name the cell binds at module level by assignment, augmented assignment,
  annotated assignment or ``:=``; loop targets, imports, ``def``/``class`` and ``with ... as`` are not
  (they are rarely results);
* a **read name** is a name loaded before the cell binds it at module level (reads inside functions
  defined in the cell count too: they read the notebook's globals).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from nbtrack.capture._syntax import COMPOUND, SCOPES, pair, parse
from nbtrack.capture.roles import WORD_HINTS, assign_roles

_NO_VALUE = object()
_UNSTORABLE = object()

#: Containers larger than this (counting every nested item) are data, not params.
MAX_LITERAL_ITEMS = 256
#: Strings longer than this are data, not params.
MAX_LITERAL_STR = 1000


@dataclass
class CellAnalysis:
    """What one cell assigns, binds and reads (names in first-seen order)."""

    literals: dict[str, object] = field(default_factory=dict)
    bound: list[str] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)
    #: names assigned a Python literal that cannot be a param (a set, bytes, int-keyed dict, too large)
    skipped: list[str] = field(default_factory=list)
    #: bound names that are not results (see :func:`_roles`): loop counters, per-iteration values a loop
    #: collects, plot geometry, clock readings; never automatic metrics
    temporaries: dict[str, str] = field(default_factory=dict)
    #: names the cell fills (``xs.append(v)``, ``d[k] = v``, ``xs += [v]``...): accumulators, never params
    filled: set[str] = field(default_factory=set)
    #: bound names with no unconditional top-level binding (inside ``if``/``for``/``while``/``try``/``match``)
    conditional: set[str] = field(default_factory=set)
    #: names bound by a data-loading call (``pd.read_csv(...)``, ``nbtrack.load(...)``) and not changed
    #: after: DataFrames the cell reads, not ones it makes
    loaded: set[str] = field(default_factory=set)
    #: the analysed code; ``temporaries``, ``filled``, ``conditional`` and ``loaded`` are filled in by
    #: :meth:`roles` on first need (most cells never need them: a trivial cell pays nothing)
    code: str = ""
    roles_done: bool = False

    def roles(self) -> CellAnalysis:
        """Fill ``temporaries``, ``filled``, ``conditional`` and ``loaded`` (once); returns self."""
        if not self.roles_done:
            self.roles_done = True
            if self.code and any(hint in self.code for hint in WORD_HINTS):  # else there is nothing to find
                tree = ast.parse(self.code)
                if "get_ipython()" in self.code:
                    _inline_magics(tree.body)
                pairs = [pair for statement in tree.body for pair in _bindings(statement)]
                if ":=" in self.code:
                    pairs.extend(_walrus_bindings(tree))
                assign_roles(tree, self.code, self, pairs)
        return self


_NESTED = (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.NamedExpr)
_CACHE: dict[str, CellAnalysis] = {}
_CACHE_SIZE = 128


def analyse(code: str) -> CellAnalysis:
    """Analyse transformed cell code; raises SyntaxError like the compiler would.

    Results are cached by code (re-running a cell is the common case); treat them as read-only.
    """
    hit = _CACHE.get(code)
    if hit is not None:
        return hit
    result = _analyse(code)
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[code] = result
    return result


def _analyse(code: str) -> CellAnalysis:
    if "get_ipython()" in code:
        tree = ast.parse(code)  # a tree of its own: inlining magics changes it
        _inline_magics(tree.body)
    else:
        tree = parse(code)
    result = CellAnalysis()
    computed: set[str] = set()
    bound: dict[str, None] = {}
    pairs = [pair for statement in tree.body for pair in _bindings(statement)]
    if ":=" in code:
        pairs.extend(_walrus_bindings(tree))
    for target, value in pairs:
        bound.setdefault(target)
        literal = _literal(value) if value is not None else _NO_VALUE
        if literal is _UNSTORABLE and target not in result.skipped:
            result.skipped.append(target)
        if literal is _NO_VALUE or literal is _UNSTORABLE:
            computed.add(target)
            result.literals.pop(target, None)
        elif target not in computed:
            result.literals[target] = literal
    reader = _Reads()
    reader.visit(tree)
    result.bound = list(bound)
    result.reads = list(reader.reads)
    result.code = code
    return result


#: Magics whose code runs in the user's namespace as if it were written in the cell (IPython turns
#: ``%time x = f()`` into ``get_ipython().run_line_magic('time', 'x = f()')``).
#: ``%%track`` is one of them: an earlier tracked cell in the history binds what its body binds.
_INLINE_MAGICS = {"time": 1, "capture": 2, "track": 2}


def _inline_magics(body: list[ast.stmt]) -> None:
    """Replace ``%time CODE`` / ``%%time`` (and ``%%capture``) calls by the statements of CODE, in place."""
    for index in range(len(body) - 1, -1, -1):
        statement = body[index]
        if isinstance(statement, COMPOUND):
            for name in ("body", "orelse", "finalbody"):
                inner = getattr(statement, name, None)
                if inner:
                    _inline_magics(inner)
            continue
        if not (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call)):
            continue
        call = statement.value
        func = call.func
        if not (
            isinstance(func, ast.Attribute)
            and func.attr in ("run_line_magic", "run_cell_magic")
            and isinstance(func.value, ast.Call)
            and isinstance(func.value.func, ast.Name)
            and func.value.func.id == "get_ipython"
            and call.args
            and isinstance(call.args[0], ast.Constant)
        ):
            continue
        magic = call.args[0].value
        position = 2 if func.attr == "run_cell_magic" else 1
        if magic not in _INLINE_MAGICS or len(call.args) <= position:
            continue
        source = call.args[position]
        if not (isinstance(source, ast.Constant) and isinstance(source.value, str)):
            continue
        try:
            inner_tree = ast.parse(source.value)
        except SyntaxError:
            continue
        _inline_magics(inner_tree.body)
        body[index : index + 1] = inner_tree.body or [statement]


class _Reads(ast.NodeVisitor):
    """Names loaded before anything in the cell binds them, in evaluation order (approximately)."""

    def __init__(self):
        self.reads: dict[str, None] = {}
        self.bound: set[str] = set()
        self.local: list[set[str]] = []

    def _load(self, name: str) -> None:
        if name not in self.bound and not any(name in scope for scope in self.local):
            self.reads.setdefault(name)

    def _bind(self, target: ast.AST) -> None:
        if isinstance(target, ast.Name):
            (self.local[-1] if self.local else self.bound).add(target.id)
            return
        for node in ast.walk(target):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                (self.local[-1] if self.local else self.bound).add(node.id)
            elif isinstance(node, (ast.Subscript, ast.Attribute)):
                self.visit(node.value)
                if isinstance(node, ast.Subscript):
                    self.visit(node.slice)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self._load(node.id)

    def visit_Expr(self, node: ast.Expr) -> None:
        self._expression(node.value)

    def _expression(self, node: ast.expr) -> None:
        """Loads in an expression; a plain walk unless it holds a nested scope or ``:=``."""
        if isinstance(node, ast.Constant):
            return
        stack: list[ast.AST] = [node]
        while stack:
            item = stack.pop()
            if isinstance(item, ast.Name):
                if isinstance(item.ctx, ast.Load):
                    self._load(item.id)
            elif isinstance(item, _NESTED):
                self.visit(item)
            else:
                stack.extend(ast.iter_child_nodes(item))

    def visit_Assign(self, node: ast.Assign) -> None:
        self._expression(node.value)
        for target in node.targets:
            self._bind(target)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
        self._bind(node.target)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.target, ast.Name):
            self._load(node.target.id)
        self.visit(node.value)
        self._bind(node.target)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self._bind(node.target)

    def visit_For(self, node: ast.For) -> None:
        self._loop(node)

    def visit_AsyncFor(self, node: ast.AsyncFor) -> None:
        self._loop(node)

    def _loop(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.iter)
        self._bind(node.target)
        for child in node.body + node.orelse:
            self.visit(child)

    def visit_With(self, node: ast.With) -> None:
        self._with(node)

    def visit_AsyncWith(self, node: ast.AsyncWith) -> None:
        self._with(node)

    def _with(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            self.visit(item.context_expr)
            if item.optional_vars is not None:
                self._bind(item.optional_vars)
        for child in node.body:
            self.visit(child)

    def visit_Import(self, node: ast.Import) -> None:
        self._import(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        self._import(node)

    def _import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            name = (alias.asname or alias.name).split(".")[0]
            (self.local[-1] if self.local else self.bound).add(name)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.visit(node.type)
        if node.name:
            (self.local[-1] if self.local else self.bound).add(node.name)
        for child in node.body:
            self.visit(child)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda, body: Sequence[ast.AST]) -> None:
        for default in node.args.defaults + [d for d in node.args.kw_defaults if d is not None]:
            self.visit(default)
        for decorator in getattr(node, "decorator_list", []):
            self.visit(decorator)
        if not isinstance(node, ast.Lambda):
            (self.local[-1] if self.local else self.bound).add(node.name)
        arguments = node.args
        names = {a.arg for a in arguments.posonlyargs + arguments.args + arguments.kwonlyargs}
        names |= {a.arg for a in (arguments.vararg, arguments.kwarg) if a is not None}
        stored = {
            n.id for part in body for n in ast.walk(part) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
        }
        self.local.append(names | stored)
        for child in body:
            self.visit(child)
        self.local.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._function(node, node.body)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._function(node, node.body)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._function(node, [node.body])

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for child in node.bases + node.keywords + node.decorator_list:
            self.visit(child)
        self.local.append(set())
        for child in node.body:
            self.visit(child)
        self.local.pop()
        (self.local[-1] if self.local else self.bound).add(node.name)

    def _comprehension(
        self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp, elements: list[ast.expr]
    ) -> None:
        self.visit(node.generators[0].iter)
        self.local.append(set())
        for index, generator in enumerate(node.generators):
            if index:
                self.visit(generator.iter)
            self._bind(generator.target)
            for condition in generator.ifs:
                self.visit(condition)
        for element in elements:
            self.visit(element)
        self.local.pop()

    def visit_ListComp(self, node: ast.ListComp) -> None:
        self._comprehension(node, [node.elt])

    def visit_SetComp(self, node: ast.SetComp) -> None:
        self._comprehension(node, [node.elt])

    def visit_GeneratorExp(self, node: ast.GeneratorExp) -> None:
        self._comprehension(node, [node.elt])

    def visit_DictComp(self, node: ast.DictComp) -> None:
        self._comprehension(node, [node.key, node.value])


def _bindings(statement: ast.stmt) -> Iterator[tuple[str, ast.expr | None]]:
    """``(name, value_node or None)`` for module-level bindings in ``statement``, in source order."""
    if isinstance(statement, ast.Assign):
        for target in statement.targets:
            yield from pair(target, statement.value)
    elif isinstance(statement, ast.AnnAssign):
        if isinstance(statement.target, ast.Name):
            yield statement.target.id, statement.value
    elif isinstance(statement, ast.AugAssign):
        if isinstance(statement.target, ast.Name):
            yield statement.target.id, None
    elif isinstance(statement, COMPOUND):
        for name in ("body", "orelse", "finalbody", "handlers", "cases"):
            for child in getattr(statement, name, None) or ():
                yield from _bindings(child)


def _walrus_bindings(tree: ast.AST) -> Iterator[tuple[str, None]]:
    """Names bound with ``:=`` outside functions and comprehensions (walked only if the code has one)."""
    stack = list(ast.iter_child_nodes(tree))
    while stack:
        node = stack.pop()
        if isinstance(node, SCOPES + (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            continue
        if isinstance(node, ast.NamedExpr) and isinstance(node.target, ast.Name):
            yield node.target.id, None
        stack.extend(ast.iter_child_nodes(node))


def _literal(node: ast.expr) -> object:
    """The literal's value, ``_NO_VALUE`` for an expression that is not a literal, ``_UNSTORABLE`` for one
    that cannot be a param."""
    if not isinstance(node, (ast.Constant, ast.UnaryOp, ast.List, ast.Tuple, ast.Dict, ast.Set)):
        return _NO_VALUE
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _NO_VALUE
    return value if is_param_literal(value) else _UNSTORABLE


def is_param_literal(value: object) -> bool:
    """True for numbers, strings, bools, None and small lists/tuples/dicts of those."""
    budget = [MAX_LITERAL_ITEMS]

    def ok(v: object) -> bool:
        budget[0] -= 1
        if budget[0] < 0:
            return False
        if v is None or type(v) in (bool, int):
            return True
        if type(v) is float:
            return True
        if type(v) is str:
            return len(v) <= MAX_LITERAL_STR
        if type(v) is list or type(v) is tuple:
            return all(ok(x) for x in v)
        if type(v) is dict:
            return all(type(k) is str and ok(x) for k, x in v.items())
        return False

    return ok(value)
