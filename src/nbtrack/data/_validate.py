"""Simple built-in checks for ``snapshot(..., expect=...)``.

``expect`` maps a column label to checks: ``{"id": {"unique": True, "not_null": True},
"age": {"range": (0, 120)}}``. ``range`` bounds are inclusive; ``None`` leaves a side open.
Every failing check is collected, then the snapshot is refused with all of them listed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nbtrack.data.errors import DataValidationError
from nbtrack.errors import InvalidValueError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

CHECKS = ("not_null", "unique", "range")


def check(df: "pd.DataFrame", expect: dict) -> None:
    """Raise DataValidationError listing every failing check (nothing is written)."""
    failures: list[tuple[str, str, str]] = []
    for column, checks in expect.items():
        if column not in df.columns:
            failures.append((str(column), "exists", "no such column"))
            continue
        values = df[column]
        if not isinstance(checks, dict):
            raise InvalidValueError(
                f"expect[{column!r}] must be a dict like {{'not_null': True, 'range': (0, 1)}}, not {checks!r}."
            )
        for name, arg in checks.items():
            failure = _one(values, name, arg, column)
            if failure:
                failures.append((str(column), name, failure))
    if failures:
        listed = "; ".join(f"{c}: {n} ({d})" for c, n, d in failures)
        raise DataValidationError(
            f"snapshot refused, {len(failures)} check(s) failed: {listed}. Fix the data or the expect= checks.",
            failures,
        )


def _one(values: Any, name: str, arg: Any, column: Any) -> str | None:
    if name not in CHECKS:
        raise InvalidValueError(f"unknown check {name!r} for column {column!r}: use one of {', '.join(CHECKS)}.")
    if name == "not_null" and arg:
        nulls = int(values.isna().sum())
        return f"{nulls} null value(s)" if nulls else None
    if name == "unique" and arg:
        dups = int(values.duplicated().sum())
        return f"{dups} duplicate value(s)" if dups else None
    if name == "range":
        lo, hi = arg
        bad = 0
        if lo is not None:
            bad += int((values < lo).sum())
        if hi is not None:
            bad += int((values > hi).sum())
        return f"{bad} value(s) outside [{lo}, {hi}]" if bad else None
    return None
