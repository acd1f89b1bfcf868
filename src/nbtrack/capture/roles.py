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
    used_outside_loops: set[str] = set()

    in_loop_body = [False]  # whether the statement being read runs once per iteration of a loop

    def use(names: list[str], how: object) -> None:
        for name in names:
            if name in bound:
                uses.setdefault(name, []).append(how)
                if not in_loop_body[0]:
                    used_outside_loops.add(name)

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
            in_loop_body[0] = loop
            if isinstance(statement, SCOPES):
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
                    for sub, sub_value in pair(target, value):
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
            if isinstance(statement, COMPOUND):
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
    # plot geometry: every use draws, directly or through names that are themselves only drawn, and
    # at least one of those paths reaches a drawing call (values that only feed each other draw nothing)
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
    drawn &= draws
    # per-iteration intermediates: bound only inside loops, never printed, and every use is an input to
    # another name the loop binds (``eta = schedule(t)`` then ``theta = theta - eta * g``; an index
    # ``i = np.random.randint(m)`` then ``xi = X[i]``), none after the loop
    intermediates = {
        name
        for name, how in uses.items()
        if in_loop.get(name)
        and name not in reported
        and name not in used_outside_loops
        and all(isinstance(h, tuple) and any(t != name for t in h) for h in how)
    }
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
        elif name in intermediates:
            temporaries[name] = "a per-iteration intermediate of a loop"
    result.loaded = loaders - changed
