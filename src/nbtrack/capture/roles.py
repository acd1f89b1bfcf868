"""What a cell does with the names it binds: results, or loop counters, plot geometry, clock readings,
accumulators it fills, names bound only under a condition, and frames it loaded (docs/tracking.md)."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from nbtrack.capture._syntax import COMPOUND, SCOPES, pair

if TYPE_CHECKING:
    from nbtrack.capture.analysis import CellAnalysis


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
WORD_HINTS = (
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


def assign_roles(tree: ast.Module, code: str, result: CellAnalysis, pairs: list[tuple[str, ast.expr | None]]) -> None:
    """Fill ``temporaries``, ``filled``, ``conditional`` and ``loaded`` (only walks cells that could have any)."""
    if not any(hint in code for hint in WORD_HINTS):
        return
    reader = _RoleReader(result)
    reader.statements(tree.body, False, False)
    for name, _ in pairs:
        if name not in reader.in_loop:  # bound by := only
            reader.in_loop[name] = False
    reader.conclude()


class _RoleReader:
    """One walk over a cell's statements, noting how each bound name is used; :meth:`conclude` turns the
    notes into roles on the :class:`CellAnalysis`."""

    def __init__(self, result: CellAnalysis) -> None:
        self.result = result
        self.bound = set(result.bound)
        self.uses: dict[str, list[object]] = {}  # name -> "draw" | "other" | tuple of names it feeds
        self.reported: set[str] = set()
        self.in_loop: dict[str, bool] = {}  # name -> every binding is inside a loop
        self.counters: set[str] = set()
        self.collected: set[str] = set()
        self.changed: set[str] = set()
        self.loaders: set[str] = set()
        self.computed_by_call: set[str] = set()
        self.clock: dict[str, bool] = {}
        self.unconditional: set[str] = set()
        self.used_outside_loops: set[str] = set()
        self.in_loop_body = False  # whether the statement being read runs once per iteration of a loop

    # -- the walk ---------------------------------------------------------------------------------------
    def use(self, names: list[str], how: object) -> None:
        for name in names:
            if name in self.bound:
                self.uses.setdefault(name, []).append(how)
                if not self.in_loop_body:
                    self.used_outside_loops.add(name)

    def bind(self, name: str, value: ast.expr | None, loop: bool, conditional: bool) -> None:
        self.in_loop[name] = self.in_loop.get(name, True) and loop
        if not conditional:
            self.unconditional.add(name)
        if value is None:
            return
        calls = [n for n in ast.walk(value) if isinstance(n, ast.Call)]
        if any(_call_name(c) not in _GEOMETRY_CALLS for c in calls):
            self.computed_by_call.add(name)
        top = _top_call(value)
        is_clock = any(_call_name(c) in _CLOCKS for c in calls) and not any(
            isinstance(n, ast.BinOp) and isinstance(n.op, ast.Sub) for n in ast.walk(value)
        )
        self.clock[name] = self.clock.get(name, True) and is_clock
        if top is not None and _call_name(top).startswith(_LOADERS_PREFIXES) and "loader" not in _call_name(top):
            self.loaders.add(name)
        else:
            self.changed.add(name)

    def mark_filled(self, name: str) -> None:
        self.result.filled.add(name)
        self.changed.add(name)

    def statements(self, body: list[ast.stmt], loop: bool, conditional: bool) -> None:
        for statement in body:
            self.in_loop_body = loop
            if isinstance(statement, SCOPES):
                self.use(
                    [n.id for n in ast.walk(statement) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)],
                    "other",
                )
            elif isinstance(statement, (ast.Assign, ast.AnnAssign)):
                self.assignment(statement, loop, conditional)
            elif isinstance(statement, ast.AugAssign):
                self.augmented(statement, loop, conditional)
            elif isinstance(statement, ast.Expr):
                self.expression(statement.value, loop)
            elif isinstance(statement, COMPOUND):
                self.compound(statement, loop, conditional)
            else:
                self.use(_names_in(statement, self.reported), "other")

    def assignment(self, statement: ast.Assign | ast.AnnAssign, loop: bool, conditional: bool) -> None:
        value = statement.value
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        names = [n for t in targets for n in _targets_of(t)]
        plain = all(isinstance(t, (ast.Name, ast.Tuple, ast.List)) for t in targets)
        if value is not None:
            loaded_names = _names_in(value, self.reported)
            if _is_draw(value):
                self.use(loaded_names, "draw")
            elif plain:
                self.use(loaded_names, tuple(names))
            else:
                self.use(loaded_names, "other")
                if loop:
                    self.collected.update(loaded_names)
        for target in targets:
            if not isinstance(target, (ast.Name, ast.Tuple, ast.List)):
                self.use(_names_in(target), "other")
                for node in ast.walk(target):
                    if isinstance(node, (ast.Subscript, ast.Attribute)) and isinstance(node.value, ast.Name):
                        self.mark_filled(node.value.id)
            for sub, sub_value in pair(target, value):
                self.bind(sub, sub_value, loop, conditional)
                if loop and _counts(sub, sub_value):
                    self.counters.add(sub)

    def augmented(self, statement: ast.AugAssign, loop: bool, conditional: bool) -> None:
        names = _names_in(statement.value, self.reported)
        target = statement.target
        if isinstance(target, ast.Name):
            self.use(names, (target.id,))
            self.bind(target.id, None, loop, conditional)
            self.changed.add(target.id)
            if loop and isinstance(statement.value, ast.Constant):
                self.counters.add(target.id)
            if isinstance(statement.value, (ast.List, ast.Tuple)):
                self.result.filled.add(target.id)
                if loop:
                    self.collected.update(names)
            return
        self.use(names + _names_in(target), "other")
        root = target.value if isinstance(target, (ast.Subscript, ast.Attribute)) else None
        if isinstance(root, ast.Name):
            self.mark_filled(root.id)

    def expression(self, value: ast.expr, loop: bool) -> None:
        loaded_names = _names_in(value, self.reported)
        call = _top_call(value)
        self.use(loaded_names, "draw" if _is_draw(value) else "other")
        if call is None or not isinstance(call.func, ast.Attribute):
            return
        owner = call.func.value
        if _call_name(call) in _FILLS:
            if isinstance(owner, ast.Name):
                self.mark_filled(owner.id)
            if loop:
                for argument in list(call.args) + [k.value for k in call.keywords]:
                    self.collected.update(_names_in(argument))
        elif isinstance(owner, ast.Name) and any(
            k.arg == "inplace" and not (isinstance(k.value, ast.Constant) and not k.value.value) for k in call.keywords
        ):
            self.changed.add(owner.id)

    def compound(self, statement: ast.stmt, loop: bool, conditional: bool) -> None:
        is_loop = isinstance(statement, _LOOPS)
        for header in ("test", "iter", "subject"):
            node = getattr(statement, header, None)
            if node is not None:
                self.use(_names_in(node, self.reported), "other")
        for item in getattr(statement, "items", None) or ():
            self.use(_names_in(item.context_expr, self.reported), "other")
        if isinstance(statement, (ast.For, ast.AsyncFor)):
            self.changed.update(_targets_of(statement.target))
        with_like = isinstance(statement, (ast.With, ast.AsyncWith))
        for part in ("body", "orelse", "finalbody", "handlers", "cases"):
            inner = getattr(statement, part, None) or []
            for child in inner:
                if isinstance(child, (ast.ExceptHandler, getattr(ast, "match_case", ast.ExceptHandler))):
                    if getattr(child, "type", None) is not None:
                        self.use(_names_in(child.type), "other")  # type: ignore[arg-type]
                    if getattr(child, "guard", None) is not None:
                        self.use(_names_in(child.guard), "other")  # type: ignore[arg-type]
                    self.statements(child.body, loop or is_loop, True)
            self.statements(
                [c for c in inner if isinstance(c, ast.stmt)], loop or is_loop, conditional or not with_like
            )

    # -- the roles --------------------------------------------------------------------------------------
    def conclude(self) -> None:
        result = self.result
        result.conditional = {name for name in self.bound if name not in self.unconditional}
        drawn = self.plot_geometry()
        intermediates = self.loop_intermediates()
        temporaries = result.temporaries
        for name in result.bound:
            if self.clock.get(name):
                temporaries[name] = "a clock reading (a timestamp, not a measurement)"
            elif name in self.counters:
                temporaries[name] = "a loop counter"
            elif name in self.collected and self.in_loop.get(name) and name not in self.reported:
                temporaries[name] = "a per-iteration value the loop collects"
            elif name in drawn and name not in self.computed_by_call:
                temporaries[name] = "plot geometry (only used to draw)"
            elif name in intermediates:
                temporaries[name] = "a per-iteration intermediate of a loop"
        result.loaded = self.loaders - self.changed

    def plot_geometry(self) -> set[str]:
        """Names every use of which draws, directly or through names that are themselves only drawn, at
        least one of those paths reaching a drawing call (values that only feed each other draw nothing)."""
        uses = self.uses
        drawn = {name for name, how in uses.items() if name not in self.reported and all(h != "other" for h in how)}
        while True:
            dropped = {
                name
                for name in drawn
                if any(isinstance(h, tuple) and any(t not in drawn and t != name for t in h) for h in uses[name])
            }
            if not dropped:
                break
            drawn -= dropped
        draws = {name for name in drawn if "draw" in uses[name]}
        while True:
            more = {
                name
                for name in drawn - draws
                if any(isinstance(h, tuple) and any(t in draws for t in h) for h in uses[name])
            }
            if not more:
                break
            draws |= more
        return drawn & draws

    def loop_intermediates(self) -> set[str]:
        """Per-iteration intermediates: bound only inside loops, never printed, and every use is an input to
        another name the loop binds (``eta = schedule(t)`` then ``theta = theta - eta * g``; an index
        ``i = np.random.randint(m)`` then ``xi = X[i]``), none after the loop."""
        return {
            name
            for name, how in self.uses.items()
            if self.in_loop.get(name)
            and name not in self.reported
            and name not in self.used_outside_loops
            and all(isinstance(h, tuple) and any(t != name for t in h) for h in how)
        }


def _targets_of(target: ast.expr) -> list[str]:
    return [n.id for n in ast.walk(target) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)]


def _counts(name: str, value: ast.expr | None) -> bool:
    """``name = name + 1`` (or any constant step): a loop counter when it runs in a loop."""
    return (
        isinstance(value, ast.BinOp)
        and isinstance(value.left, ast.Name)
        and value.left.id == name
        and isinstance(value.right, ast.Constant)
    )
