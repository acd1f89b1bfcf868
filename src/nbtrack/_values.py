"""Validation and typed encoding of params, metrics, tags and names."""

from __future__ import annotations

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
        try:
            text = json.dumps(value, allow_nan=False, sort_keys=False, default=_refuse)
        except (TypeError, ValueError) as error:
            raise InvalidValueError(
                f"Param {key!r} cannot be stored exactly ({error}): use plain numbers, strings, booleans, None, "
                "or lists/dicts of them, or log it as an artifact with log_artifact()."
            ) from None
        if len(text) > MAX_PARAM_BYTES:
            raise _too_large(key)
        return text, "json"
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
    return value


def metric_value(key: str, value: object) -> float:
    if type(value) is float:  # the common cases first: no numpy or ABC checks
        return value
    if type(value) is int:
        return float(value)
    value = _plain(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidValueError(
            f"Metric {key!r} must be a real number, not {type(value).__name__} {str(value)[:40]!r}: "
            "log numbers as metrics and anything else as a param or tag."
        )
    return float(value)


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
