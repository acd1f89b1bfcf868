"""A run's flat summary (params, last metric values, tags) as stored on its ``runs`` row.

Listing 100,000 runs must not build millions of Python objects, so the summary is split by type:

- ``summary_keys``: the sorted names (``params.lr``, ``metrics.acc``, ``tags.stage``) as a JSON array;
- ``summary_codes``: one type letter per name: ``f`` float, ``i`` int, ``b`` bool, ``s`` str,
  ``j`` other JSON (lists, dicts, ints beyond 64 bits), ``n`` None;
- ``summary_num``: little-endian 8-byte numbers: the ``f``/``i``/``b`` values in key order, then the
  UTF-8 byte length of each ``s`` value;
- ``summary_str``: the ``s`` values' UTF-8 bytes, one after the other;
- ``summary_text``: the ``j`` values as one JSON array;
- ``summary_layout``: a 64-bit hash of keys and codes.

Runs with the same layout are decoded together: their packed numbers are joined and read by numpy as
one structured array, their strings become Arrow string arrays straight from the joined bytes (no
Python object per value); only ``j`` values go through a JSON parse.
"""

from __future__ import annotations

import functools
import json
import struct
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import xxhash

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

_NUMERIC = {"f": "d", "i": "q", "b": "q"}
_INT64 = (-(2**63), 2**63 - 1)


def _code(key: str, value: Any) -> str:
    kind = type(value)
    if kind is float:
        return "f"
    if key.startswith("metrics."):
        return "f"  # a metric's last value: always a float, NaN when it was None
    if value is None:
        return "n"
    if kind is bool:
        return "b"
    if kind is int:
        return "i" if _INT64[0] <= value <= _INT64[1] else "j"
    if kind is str:
        return "s"
    return "j"


def layout_of(keys_text: str, codes: str) -> str:
    return xxhash.xxh3_64_hexdigest(f"{keys_text}\n{codes}".encode())


@functools.lru_cache(maxsize=1024)
def _layout(keys: tuple[str, ...], codes: str) -> tuple[str, str]:
    """``(keys as JSON, layout hash)``: the same few layouts recur in every flush of every run."""
    keys_text = json.dumps(list(keys))
    return keys_text, layout_of(keys_text, codes)


def encode(summary: Mapping[str, Any]) -> dict[str, str | bytes]:
    """The summary columns of a runs row for ``summary`` (``{"params.lr": 0.1, ...}``)."""
    keys = sorted(summary)
    codes = "".join(_code(key, summary[key]) for key in keys)
    numbers: list[float] = []
    strings: list[bytes] = []
    others: list[object] = []
    for key, code in zip(keys, codes):
        value = summary[key]
        if code == "f":
            numbers.append(float("nan") if value is None else float(value))
        elif code in "ib":
            numbers.append(int(value))
        elif code == "s":
            strings.append(value.encode())
        elif code == "j":
            others.append(value)
    numbers.extend(len(b) for b in strings)
    keys_text, layout = _layout(tuple(keys), codes)
    return {
        "summary_keys": keys_text,
        "summary_codes": codes,
        "summary_layout": layout,
        "summary_num": struct.pack(_struct_format(codes), *numbers),
        "summary_str": b"".join(strings),
        "summary_text": _json_text(others),
    }


def _json_text(values: list[object]) -> str:
    """The summary's copy of JSON-like values (the exact value stays in ``params``): dict keys JSON cannot
    hold, like tuples, are written as their repr."""
    try:
        return json.dumps(values, default=str)
    except TypeError:
        return json.dumps(_keys_as_text(values), default=str)


def _keys_as_text(value: object) -> object:
    if isinstance(value, dict):
        return {
            k if isinstance(k, (str, int, float, bool)) or k is None else repr(k): _keys_as_text(v)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_keys_as_text(item) for item in value]
    return value


def _struct_format(codes: str) -> str:
    return "<" + "".join(_NUMERIC.get(c, "") for c in codes) + "q" * codes.count("s")


def decode(keys: list[str], codes: str, num: bytes, strings: bytes, text: str) -> dict[str, object]:
    """One run's summary back as a dict (the inverse of :func:`encode`; metrics' NaN stays NaN)."""
    unpacked = struct.unpack(_struct_format(codes), num)
    numbers = iter(unpacked)
    lengths = iter(unpacked[len(unpacked) - codes.count("s") :])
    others = iter(json.loads(text))
    values: dict[str, object] = {}
    offset = 0
    for key, code in zip(keys, codes):
        if code in "fi":
            values[key] = next(numbers)
        elif code == "b":
            values[key] = bool(next(numbers))
        elif code == "s":
            length = next(lengths)
            values[key] = strings[offset : offset + length].decode()
            offset += length
        elif code == "j":
            values[key] = next(others)
        else:
            values[key] = None
    return values


def numeric_dtype(codes: str) -> np.dtype:
    """The numpy structured dtype that reads ``summary_num`` of a layout: field ``v<i>`` for the
    number of name ``i``, field ``len<i>`` for the byte length of str name ``i``."""
    import numpy as np

    fields = [(f"v{i}", "<f8" if code == "f" else "<i8") for i, code in enumerate(codes) if code in _NUMERIC]
    fields += [(f"len{i}", "<i8") for i, code in enumerate(codes) if code == "s"]
    return np.dtype(fields)


def string_columns(codes: str, packed: np.ndarray, joined: bytes) -> dict[int, pa.Array]:
    """``{i: pyarrow string array}`` for each str name ``i`` of a layout, cut out of ``joined`` (the
    runs' ``summary_str`` bytes in row order) by the lengths in ``packed``."""
    import numpy as np
    import pyarrow as pa

    positions = [i for i, code in enumerate(codes) if code == "s"]
    rows, width = len(packed), len(positions)
    lengths = np.column_stack([packed[f"len{i}"] for i in positions]).ravel()
    offsets = np.zeros(rows * width + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    values = pa.LargeStringArray.from_buffers(rows * width, pa.py_buffer(offsets), pa.py_buffer(joined))
    return {i: values.take(pa.array(np.arange(n, rows * width, width))) for n, i in enumerate(positions)}


def parse_texts(texts: list[str]) -> list[Any]:
    """Parse many ``summary_text`` arrays in one go (orjson; the json module for what orjson refuses,
    such as a NaN inside a JSON param)."""
    blob = "[" + ",".join(texts) + "]"
    try:
        import orjson
    except ImportError:  # pragma: no cover - orjson is a dependency; this keeps a broken install usable
        return json.loads(blob)
    try:
        return orjson.loads(blob)
    except orjson.JSONDecodeError:
        return json.loads(blob)
