"""Validation and typed encoding of params, metrics, tags and names."""

from __future__ import annotations

import ast
import json
import math
import numbers
import re
from typing import Any, NoReturn

from nbtrack.errors import InvalidValueError

MAX_KEY_LENGTH = 250
MAX_PARAM_BYTES = 64 * 1024
MAX_TAG_BYTES = 8 * 1024
_CONTROL = re.compile(r"[\x00-\x1f]")


def check_key(key: object, what: str) -> str:
    if not isinstance(key, str) or not key.strip():
        raise InvalidValueError(f"A {what} name must be a non-empty string, not {key!r}.")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidValueError(
            f"The {what} name {key[:40]!r}... is longer than {MAX_KEY_LENGTH} characters: shorten it."
        )
    if _CONTROL.search(key):
        raise InvalidValueError(f"The {what} name {key!r} contains control characters: remove them.")
    return check_text(key, f"The {what} name")


def check_text(text: str, what: str) -> str:
    """``text`` if it is valid Unicode (storable as UTF-8); lone surrogates are refused up front."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise InvalidValueError(
            f"{what} {text[:40]!r} has a character that is not valid Unicode text (a lone surrogate at position "
            f"{error.start}, often from bytes decoded with 'surrogateescape'): decode the bytes properly, or "
            "replace it, e.g. text.encode('utf-8', 'replace').decode()."
        ) from None
    return text


def _plain(value: object) -> object:
    """NumPy scalars to Python scalars; everything else unchanged."""
    item = getattr(value, "item", None)
    if item is not None and type(value).__module__ == "numpy" and getattr(value, "ndim", 1) == 0:
        return item()
    return value


def encode_param(key: str, value: object) -> tuple[object, str]:
    """``(sqlite_value, type)`` for a param, or InvalidValueError if it cannot be stored exactly."""
    value = _plain(value)
    if value is None:
        return None, "none"
    if isinstance(value, bool):
        return int(value), "bool"
    if isinstance(value, int):
        return (value, "int") if -(2**63) <= value < 2**63 else (str(value), "bigint")
    if isinstance(value, float):
        return (value, "float") if math.isfinite(value) else (repr(value), "float")
    if isinstance(value, str):
        if len(check_text(value, f"Param {key!r}").encode("utf-8")) > MAX_PARAM_BYTES:
            raise _too_large(key)
        return value, "str"
    if isinstance(value, (list, tuple, dict)):
        return _encode_container(key, value)
    raise InvalidValueError(
        f"Param {key!r} has type {type(value).__name__}, which cannot be stored exactly: log a number, "
        "string, boolean, None, or a list/dict of those (or use log_artifact() for objects)."
    )


def decode_param(value: Any, kind: str) -> object:
    """The Python value of a param stored as ``(value, kind)`` by :func:`encode_param` (``value`` as SQLite
    returns it: its type follows from ``kind``)."""
    if kind == "none":
        return None
    if kind == "bool":
        return bool(value)
    if kind == "bigint":
        return int(value)
    if kind == "float":
        return float(value)
    if kind == "json":
        return json.loads(value)
    if kind == "literal":
        return ast.literal_eval(value)
    return value


MAX_DEPTH = 32


def _encode_container(key: str, value: list | tuple | dict) -> tuple[str, str]:
    """Lists and dicts of plain values with string keys are stored as JSON (what queries and the REST API
    read); containers JSON would change (tuples, non-string dict keys) as a Python literal, checked to read
    back identical. Anything else is refused."""
    _check_depth(key, value)
    if _is_json_exact(value):
        try:
            text, kind = json.dumps(value, allow_nan=False, default=_refuse), "json"
        except (TypeError, ValueError) as error:
            raise _not_exact(key, str(error)) from None
    else:
        text, kind = repr(value), "literal"
        try:
            same = _identical(ast.literal_eval(text), value)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            same = False
        if not same:
            raise _not_exact(key, "it holds values a Python literal cannot restore, such as NaN or objects")
    if len(text) > MAX_PARAM_BYTES:
        raise _too_large(key)
    return text, kind


def _check_depth(key: str, value: object) -> None:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InvalidValueError(
                f"Param {key!r} is nested more than {MAX_DEPTH} levels deep: flatten it, or log it as an "
                "artifact with log_artifact()."
            )
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend((child, depth + 1) for child in item)


def _is_json_exact(value: object) -> bool:
    """Whether JSON gives ``value`` back with the same types (no tuples, only string keys, no NumPy)."""
    if isinstance(value, list):
        return all(_is_json_exact(item) for item in value)
    if isinstance(value, dict):
        return all(type(k) is str and _is_json_exact(v) for k, v in value.items())
    return value is None or type(value) in (bool, int, float, str)


def _identical(a: object, b: object) -> bool:
    """Equal with the same types all the way down (``1 == 1.0 == True`` is not enough; -0.0 is not 0.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_identical(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        pairs_a, pairs_b = list(a.items()), list(b.items())
        return len(pairs_a) == len(pairs_b) and all(
            _identical(ka, kb) and _identical(va, vb) for (ka, va), (kb, vb) in zip(pairs_a, pairs_b)
        )
    if isinstance(a, float):
        return repr(a) == repr(b)
    return a == b


def _not_exact(key: str, why: str) -> InvalidValueError:
    return InvalidValueError(
        f"Param {key!r} cannot be stored exactly ({why}): use plain numbers, strings, booleans, None, or "
        "lists/tuples/dicts of them, or log it as an artifact with log_artifact()."
    )


_EXACT_INT = 2**53
STEP_RANGE = (-(2**63), 2**63 - 1)


def metric_value(key: str, value: object) -> float:
    """``value`` as the float64 a metric stores, or InvalidValueError if it is not a real number or would
    change (an integer beyond 2**53, a Fraction, a number too large for a float)."""
    if type(value) is float:  # the common cases first: no numpy or ABC checks
        return value
    if type(value) is int and -_EXACT_INT <= value <= _EXACT_INT:
        return float(value)
    value = _plain(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidValueError(
            f"Metric {key!r} must be a real number, not {type(value).__name__} {str(value)[:40]!r}: "
            "log numbers as metrics and anything else as a param or tag."
        )
    try:
        number = float(value)
    except (OverflowError, ValueError):
        number = math.nan
        exact = False
    else:
        exact = math.isnan(number) or number == value
    if not exact:
        raise InvalidValueError(
            f"Metric {key!r} = {str(value)[:40]} cannot be stored exactly as a real number (a float64 metric): "
            "log float(value) if the rounding is fine, or log it as a param to keep it exact."
        )
    return number


def metric_step(key: str, step: object) -> int:
    """``step`` as the 64-bit integer a metric's history stores, or InvalidValueError naming the fix."""
    if type(step) is int and STEP_RANGE[0] <= step <= STEP_RANGE[1]:
        return step
    step = _plain(step)
    whole: int | None = None
    if isinstance(step, numbers.Integral) and not isinstance(step, bool):
        whole = int(step)
    elif isinstance(step, numbers.Real) and not isinstance(step, bool) and float(step).is_integer():
        whole = int(float(step))
    if whole is None or not STEP_RANGE[0] <= whole <= STEP_RANGE[1]:
        raise InvalidValueError(
            f"The step of metric {key!r} must be a whole number between -2**63 and 2**63-1, not "
            f"{type(step).__name__} {str(step)[:40]}: pass an int (e.g. the epoch or batch number)."
        )
    return whole


def tag_value(key: str, value: object) -> str:
    text = check_text(value if isinstance(value, str) else str(_plain(value)), f"Tag {key!r}")
    if len(text.encode("utf-8")) > MAX_TAG_BYTES:
        raise InvalidValueError(f"Tag {key!r} is larger than {MAX_TAG_BYTES} bytes: store it as an artifact instead.")
    return text


def _too_large(key: str) -> InvalidValueError:
    return InvalidValueError(
        f"Param {key!r} is larger than {MAX_PARAM_BYTES // 1024} KiB: log it as an artifact with log_artifact() "
        "and keep a short param (a name or a hash) instead."
    )


def _refuse(value: object) -> NoReturn:
    raise TypeError(f"{type(value).__name__} is not a plain JSON value")
