"""The pieces of Python's syntax the capture rules share: scopes, compound statements, assignment targets."""

from __future__ import annotations

import ast
from collections.abc import Iterator

SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
COMPOUND = tuple(
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


def pair(target: ast.expr, value: ast.expr | None) -> Iterator[tuple[str, ast.expr | None]]:
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
                yield from pair(sub_target, sub_value)
        else:
            for sub_target in target.elts:
                yield from pair(sub_target.value if isinstance(sub_target, ast.Starred) else sub_target, None)


_last: tuple[str, ast.Module] | None = None


def parse(code: str) -> ast.Module:
    """``ast.parse(code)``, shared by the readers of one cell (its analysis and its session slice read
    the same code one after the other), so a tracked cell is parsed once. Callers must not change the
    tree; one that does (inlining magics) parses its own."""
    global _last
    last = _last
    if last is not None and last[0] == code:
        return last[1]
    tree = ast.parse(code)
    _last = (code, tree)
    return tree
