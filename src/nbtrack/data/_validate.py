"""Checks for ``snapshot(..., expect=...)``: built-in constraints or a pandera schema.

Built-in: ``expect`` maps a column label to checks: ``{"id": {"unique": True, "not_null": True},
"age": {"range": (0, 120)}}``. ``range`` bounds are inclusive; ``None`` leaves a side open.

pandera (optional, ``pip install ".[pandera]"`` in the nbtrack checkout): ``expect`` is a ``DataFrameSchema`` (or a
``DataFrameModel`` class). It is run with ``lazy=True`` so every failing check is reported; the
frame is stored as given (a schema's ``coerce=`` does not change what is stored).

Either way every failing check is collected, then the snapshot is refused with all of them listed
(column, check, failing examples) and nothing is written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nbtrack.errors import DataValidationError, InvalidValueError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

CHECKS = ("not_null", "unique", "range")
EXAMPLES = 5  # failing values listed per check


def check(df: pd.DataFrame, expect: Any) -> None:
    """Raise DataValidationError listing every failing check (nothing is written)."""
    if is_pandera_schema(expect):
        failures = _pandera_failures(df, expect)
    elif isinstance(expect, dict):
        failures = _builtin_failures(df, expect)
    else:
        raise InvalidValueError(
            f"expect= must be a dict of built-in checks like {{'age': {{'range': (0, 120)}}}} or a pandera "
            f"DataFrameSchema, not {type(expect).__name__}."
        )
    if failures:
        listed = "; ".join(f"{c}: {n} ({d})" for c, n, d in failures)
        raise DataValidationError(
            f"snapshot refused, {len(failures)} check(s) failed: {listed}. Fix the data or the expect= checks.",
            failures,
        )


def is_pandera_schema(expect: Any) -> bool:
    """True for a pandera schema object or DataFrameModel class (without importing pandera)."""
    kind = expect if isinstance(expect, type) else type(expect)
    return any(base.__module__.split(".")[0] == "pandera" for base in kind.__mro__) and hasattr(expect, "validate")


def _builtin_failures(df: pd.DataFrame, expect: dict) -> list[tuple[str, str, str]]:
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
    return failures


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


def _pandera_failures(df: pd.DataFrame, schema: Any) -> list[tuple[str, str, str]]:
    """pandera's failure cases grouped by (column, check): count and the first failing values."""
    from pandera.errors import SchemaError, SchemaErrors

    try:
        schema.validate(df, lazy=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases
    except SchemaError as exc:  # raised even in lazy mode for some schema-wide problems
        return [
            (
                str(getattr(exc.schema, "name", None) or "<frame>"),
                str(getattr(exc, "check", None) or "schema"),
                str(exc).splitlines()[0],
            )
        ]
    else:
        return []
    failures = []
    for (column, check_name), group in cases.groupby(["column", "check"], dropna=False, sort=False):
        if check_name == "column_in_dataframe":  # a missing column: the failure case is its name
            failures += [(str(name), "exists", "no such column") for name in group["failure_case"]]
            continue
        values = [_show(v) for v in group["failure_case"].head(EXAMPLES)]
        more = f" and {len(group) - EXAMPLES} more" if len(group) > EXAMPLES else ""
        failures.append(
            (
                str(column) if isinstance(column, str) else "<frame>",
                str(check_name),
                f"{len(group)} failing value(s): {', '.join(values)}{more}",
            )
        )
    return failures


def _show(value: Any) -> str:
    text = repr(value.item() if hasattr(value, "item") else value)
    return text if len(text) <= 60 else text[:57] + "..."
