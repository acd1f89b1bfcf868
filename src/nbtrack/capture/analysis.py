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

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
_COMPOUND = tuple(
    getattr(ast, n)
    for n in (
        "If",
        "For",
        "AsyncFor",
        "While",
        "With",
        "AsyncWith",
        "Try",
        "TryStar",
        "ExceptHandler",
        "Match",
        "match_case",
    )
    if hasattr(ast, n)
)
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
            if self.code and any(hint in self.code for hint in _WORD_HINTS):  # else there is nothing to find
                tree = ast.parse(self.code)
                if "get_ipython()" in self.code:
                    _inline_magics(tree.body)
                pairs = [pair for statement in tree.body for pair in _bindings(statement)]
                if ":=" in self.code:
                    pairs.extend(_walrus_bindings(tree))
                _roles(tree, self.code, self, pairs)
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
    tree = ast.parse(code)
    if "get_ipython()" in code:
        _inline_magics(tree.body)
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
        if isinstance(statement, _COMPOUND):
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


# -- roles of bound names: results or temporaries -------------------------------------------------------
#: Calls that draw (methods of pyplot, axes and figures); a value used only in these is plot geometry.
_DRAW = frozenset(
    [
        "plot",
        "scatter",
        "fill_between",
        "fill_betweenx",
        "text",
        "annotate",
        "axvline",
        "axhline",
        "axvspan",
        "axhspan",
        "vlines",
        "hlines",
        "set_xlim",
        "set_ylim",
        "xlim",
        "ylim",
        "set_xticks",
        "set_yticks",
        "xticks",
        "yticks",
        "set_xbound",
        "set_ybound",
        "contour",
        "contourf",
        "pcolormesh",
        "pcolor",
        "imshow",
        "bar",
        "barh",
        "hist",
        "errorbar",
        "arrow",
        "add_patch",
        "axis",
        "step",
        "stem",
        "pie",
        "boxplot",
        "violinplot",
        "quiver",
        "semilogx",
        "semilogy",
        "loglog",
        "set_position",
        "set_aspect",
        "margins",
    ]
)
#: Calls whose result is geometry, not a measurement (``X[:, 0].min() - 1``, ``ax.get_xlim()``, ``len(x)``).
_GEOMETRY_CALLS = frozenset(
    [
        "min",
        "max",
        "get_xlim",
        "get_ylim",
        "xlim",
        "ylim",
        "get_xbound",
        "get_ybound",
        "len",
        "abs",
        "round",
        "int",
        "float",
        "arange",
        "linspace",
        "floor",
        "ceil",
        "nanmin",
        "nanmax",
        "amin",
        "amax",
    ]
)
#: Calls that read a clock: a value computed from one without a subtraction (``t0 = time.time()``,
#: ``int(time.time())``, ``deadline = time.time() + 60``) is a timestamp, not a measurement (a difference is).
_CLOCKS = frozenset(
    [
        "time",
        "time_ns",
        "perf_counter",
        "perf_counter_ns",
        "monotonic",
        "monotonic_ns",
        "process_time",
        "process_time_ns",
        "default_timer",
        "timestamp",
        "now",
        "utcnow",
        "today",
    ]
)
#: Methods that put a value into a container.
_FILLS = frozenset(["append", "extend", "insert", "add", "appendleft", "update", "setdefault", "put"])
#: Calls that load data (``pd.read_csv``, ``nbtrack.load``, ``load_dataset``...): their frame is an input.
_LOADERS_PREFIXES = ("read_", "load")
_LOOPS = (ast.For, ast.AsyncFor, ast.While)
_WORD_HINTS = (
    "for ",
    "while ",
    "if ",
    "try:",
    "match ",
    "time",
    "now(",
    "today(",
    "append",
    "[",
    "read_",
    "load",
    "+=",
) + tuple(f"{w}(" for w in ("plot", "scatter", "text", "xlim", "ylim", "fill_between", "contourf", "axvline"))


def _call_name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def _top_call(node: ast.expr | None) -> ast.Call | None:
    """The outermost call of ``node`` (``ax.fill_betweenx(...)``; ``a.b(...).c(...)`` gives ``.c``)."""
    return node if isinstance(node, ast.Call) else None


def _is_draw(node: ast.expr | None) -> bool:
    call = _top_call(node)
    if call is None:
        return False
    if _call_name(call) in _DRAW:
        return True
    root = call.func
    while isinstance(root, (ast.Attribute, ast.Call)):
        root = root.value if isinstance(root, ast.Attribute) else root.func
    return isinstance(root, ast.Name) and root.id in ("plt", "pyplot")


def _names_in(node: ast.AST, reported: set[str] | None = None) -> list[str]:
    """Names loaded in ``node``; names formatted into text (f-strings, ``print``/``str``/``format``) go to
    ``reported``."""
    found: list[str] = []
    stack: list[tuple[ast.AST, bool]] = [(node, False)]
    while stack:
        item, text = stack.pop()
        if isinstance(item, ast.Name) and isinstance(item.ctx, ast.Load):
            if text and reported is not None:
                reported.add(item.id)
            else:
                found.append(item.id)
            continue
        inner = text or isinstance(item, ast.JoinedStr)
        if isinstance(item, ast.Call) and _call_name(item) in ("print", "str", "format", "repr", "display"):
            inner = True
        stack.extend((child, inner) for child in ast.iter_child_nodes(item))
    return found


def _roles(tree: ast.Module, code: str, result: CellAnalysis, pairs: list[tuple[str, ast.expr | None]]) -> None:
    """Fill ``temporaries``, ``filled``, ``conditional`` and ``loaded`` (only walks cells that could have any)."""
    if not any(hint in code for hint in _WORD_HINTS):
        return
    bound = set(result.bound)
    uses: dict[str, list[object]] = {}  # name -> "draw" | "other" | tuple of names it feeds
    reported: set[str] = set()
    in_loop: dict[str, bool] = {}  # name -> every binding is inside a loop
    counters: set[str] = set()
    collected: set[str] = set()
    changed: set[str] = set()
    loaders: set[str] = set()
    computed_by_call: set[str] = set()
    clock: dict[str, bool] = {}
    unconditional: set[str] = set()

    def use(names: list[str], how: object) -> None:
        for name in names:
            if name in bound:
                uses.setdefault(name, []).append(how)

    def bind(name: str, value: ast.expr | None, loop: bool, conditional: bool) -> None:
        in_loop[name] = in_loop.get(name, True) and loop
        if not conditional:
            unconditional.add(name)
        if value is None:
            return
        calls = [n for n in ast.walk(value) if isinstance(n, ast.Call)]
        if any(_call_name(c) not in _GEOMETRY_CALLS for c in calls):
            computed_by_call.add(name)
        top = _top_call(value)
        is_clock = any(_call_name(c) in _CLOCKS for c in calls) and not any(
            isinstance(n, ast.BinOp) and isinstance(n.op, ast.Sub) for n in ast.walk(value)
        )
        clock[name] = clock.get(name, True) and is_clock
        if top is not None and _call_name(top).startswith(_LOADERS_PREFIXES) and "loader" not in _call_name(top):
            loaders.add(name)
        else:
            changed.add(name)

    def targets_of(target: ast.expr) -> list[str]:
        return [n.id for n in ast.walk(target) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)]

    def statements(body: list[ast.stmt], loop: bool, conditional: bool) -> None:
        for statement in body:
            if isinstance(statement, _SCOPES):
                use(
                    [n.id for n in ast.walk(statement) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)],
                    "other",
                )
                continue
            if isinstance(statement, (ast.Assign, ast.AnnAssign)):
                value = statement.value
                targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
                names = [n for t in targets for n in targets_of(t)]
                plain = all(isinstance(t, (ast.Name, ast.Tuple, ast.List)) for t in targets)
                if value is not None:
                    loaded_names = _names_in(value, reported)
                    if _is_draw(value):
                        use(loaded_names, "draw")
                    elif plain:
                        use(loaded_names, tuple(names))
                    else:
                        use(loaded_names, "other")
                        if loop:
                            collected.update(loaded_names)
                for target in targets:
                    if not isinstance(target, (ast.Name, ast.Tuple, ast.List)):
                        use(_names_in(target), "other")
                        for node in ast.walk(target):
                            if isinstance(node, (ast.Subscript, ast.Attribute)) and isinstance(node.value, ast.Name):
                                result.filled.add(node.value.id)
                                changed.add(node.value.id)
                    for sub, sub_value in _pair(target, value):
                        bind(sub, sub_value, loop, conditional)
                        if (
                            loop
                            and isinstance(sub_value, ast.BinOp)
                            and isinstance(sub_value.left, ast.Name)
                            and sub_value.left.id == sub
                            and isinstance(sub_value.right, ast.Constant)
                        ):
                            counters.add(sub)
                continue
            if isinstance(statement, ast.AugAssign):
                names = _names_in(statement.value, reported)
                target = statement.target
                if isinstance(target, ast.Name):
                    use(names, (target.id,))
                    bind(target.id, None, loop, conditional)
                    changed.add(target.id)
                    if loop and isinstance(statement.value, ast.Constant):
                        counters.add(target.id)
                    if isinstance(statement.value, (ast.List, ast.Tuple)):
                        result.filled.add(target.id)
                        if loop:
                            collected.update(names)
                else:
                    use(names + _names_in(target), "other")
                    root = target.value if isinstance(target, (ast.Subscript, ast.Attribute)) else None
                    if isinstance(root, ast.Name):
                        result.filled.add(root.id)
                        changed.add(root.id)
                continue
            if isinstance(statement, ast.Expr):
                value = statement.value
                loaded_names = _names_in(value, reported)
                call = _top_call(value)
                if _is_draw(value):
                    use(loaded_names, "draw")
                else:
                    use(loaded_names, "other")
                if call is not None and _call_name(call) in _FILLS and isinstance(call.func, ast.Attribute):
                    owner = call.func.value
                    if isinstance(owner, ast.Name):
                        result.filled.add(owner.id)
                        changed.add(owner.id)
                    if loop:
                        for argument in list(call.args) + [k.value for k in call.keywords]:
                            collected.update(_names_in(argument))
                elif call is not None and isinstance(call.func, ast.Attribute):
                    owner = call.func.value
                    if isinstance(owner, ast.Name) and any(
                        k.arg == "inplace" and not (isinstance(k.value, ast.Constant) and not k.value.value)
                        for k in call.keywords
                    ):
                        changed.add(owner.id)
                continue
            if isinstance(statement, _COMPOUND):
                is_loop = isinstance(statement, _LOOPS)
                for header in ("test", "iter", "subject"):
                    node = getattr(statement, header, None)
                    if node is not None:
                        use(_names_in(node, reported), "other")
                for item in getattr(statement, "items", None) or ():
                    use(_names_in(item.context_expr, reported), "other")
                if isinstance(statement, (ast.For, ast.AsyncFor)):
                    for name in targets_of(statement.target):
                        changed.add(name)
                with_like = isinstance(statement, (ast.With, ast.AsyncWith))
                for part in ("body", "orelse", "finalbody", "handlers", "cases"):
                    inner = getattr(statement, part, None) or []
                    for child in inner:
                        if isinstance(child, (ast.ExceptHandler, getattr(ast, "match_case", ast.ExceptHandler))):
                            if getattr(child, "type", None) is not None:
                                use(_names_in(child.type), "other")  # type: ignore[arg-type]
                            if getattr(child, "guard", None) is not None:
                                use(_names_in(child.guard), "other")  # type: ignore[arg-type]
                            statements(child.body, loop or is_loop, True)
                    statements(
                        [c for c in inner if isinstance(c, ast.stmt)], loop or is_loop, conditional or not with_like
                    )
                continue
            use(_names_in(statement, reported), "other")

    statements(tree.body, False, False)
    for name, _ in pairs:
        if name not in in_loop:  # bound by := only
            in_loop[name] = False
    result.conditional = {name for name in bound if name not in unconditional}
    # plot geometry: every use draws, directly or through names that are themselves only drawn
    drawn = {name for name, how in uses.items() if name not in reported and all(h != "other" for h in how)}
    while True:
        dropped = {
            name
            for name in drawn
            if any(isinstance(h, tuple) and any(t not in drawn and t != name for t in h) for h in uses[name])
        }
        if not dropped:
            break
        drawn -= dropped
    temporaries = result.temporaries
    for name in result.bound:
        if clock.get(name):
            temporaries[name] = "a clock reading (a timestamp, not a measurement)"
        elif name in counters:
            temporaries[name] = "a loop counter"
        elif name in collected and in_loop.get(name) and name not in reported:
            temporaries[name] = "a per-iteration value the loop collects"
        elif name in drawn and name not in computed_by_call:
            temporaries[name] = "plot geometry (only used to draw)"
    result.loaded = loaders - changed


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
            yield from _pair(target, statement.value)
    elif isinstance(statement, ast.AnnAssign):
        if isinstance(statement.target, ast.Name):
            yield statement.target.id, statement.value
    elif isinstance(statement, ast.AugAssign):
        if isinstance(statement.target, ast.Name):
            yield statement.target.id, None
    elif isinstance(statement, _COMPOUND):
        for name in ("body", "orelse", "finalbody", "handlers", "cases"):
            for child in getattr(statement, name, None) or ():
                yield from _bindings(child)


def _walrus_bindings(tree: ast.AST) -> Iterator[tuple[str, None]]:
    """Names bound with ``:=`` outside functions and comprehensions (walked only if the code has one)."""
    stack = list(ast.iter_child_nodes(tree))
    while stack:
        node = stack.pop()
        if isinstance(node, _SCOPES + (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            continue
        if isinstance(node, ast.NamedExpr) and isinstance(node.target, ast.Name):
            yield node.target.id, None
        stack.extend(ast.iter_child_nodes(node))


def _pair(target: ast.expr, value: ast.expr | None) -> Iterator[tuple[str, ast.expr | None]]:
    if isinstance(target, ast.Name):
        yield target.id, value
    elif isinstance(target, (ast.Tuple, ast.List)):
        values = value.elts if isinstance(value, (ast.Tuple, ast.List)) else None
        if (
            values is not None
            and len(values) == len(target.elts)
            and not any(isinstance(e, ast.Starred) for e in target.elts)
        ):
            for sub_target, sub_value in zip(target.elts, values):
                yield from _pair(sub_target, sub_value)
        else:
            for sub_target in target.elts:
                yield from _pair(sub_target.value if isinstance(sub_target, ast.Starred) else sub_target, None)


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
