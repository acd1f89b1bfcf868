"""Exact pandas <-> Arrow conversion and the content fingerprint.

A DataFrame becomes an Arrow table whose fields are positional (``_c0``, ``_c1``, ... for
columns, ``__index_level_i__`` for index levels), so duplicate and non-string column labels
are no problem; the real labels, index names and a few dtypes pyarrow does not restore
(object columns) live in a small JSON "frame meta" stored with the version.

Anything that would not come back exactly is refused here, at snapshot time, with a
:class:`~nbtrack.errors.UnsupportedDataError` naming the column and what to do.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from nbtrack.data import _chunks
from nbtrack.data._chunks import _fixed_values, _fixed_width
from nbtrack.errors import UnsupportedDataError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import pyarrow as pa

META_VERSION = 1
_SAMPLE_ROWS = 64


# ---------------------------------------------------------------- labels
def _encode_label(label: Any, what: str) -> Any:
    """Encode one column/index label as JSON ``[tag, value]`` so it comes back with its type."""
    import numpy as np
    import pandas as pd

    if label is None:
        return ["n", None]
    if isinstance(label, (bool, np.bool_)):
        return ["b", bool(label)]
    if isinstance(label, (int, np.integer)):
        return ["i", int(label)]
    if isinstance(label, (float, np.floating)):
        value = float(label)
        return ["f", repr(value) if not math.isfinite(value) else value]
    if isinstance(label, str):
        return ["s", label]
    if isinstance(label, tuple):
        return ["t", [_encode_label(x, what) for x in label]]
    if isinstance(label, pd.Timestamp):
        return ["ts", label.isoformat()]
    raise UnsupportedDataError(
        f"{what} {label!r} has type {type(label).__name__}, which nbtrack cannot store exactly; "
        "rename it to a str, int, float, bool or tuple of those (e.g. df.columns = df.columns.map(str))."
    )


def _decode_label(encoded: Any) -> Any:
    import pandas as pd

    tag, value = encoded
    if tag == "f":
        return float(value)
    if tag == "t":
        return tuple(_decode_label(x) for x in value)
    if tag == "ts":
        return pd.Timestamp(value)
    return value


def _encode_axis(index: pd.Index, what: str) -> dict:
    import pandas as pd

    if isinstance(index, pd.MultiIndex):
        spec = {
            "kind": "multi",
            "names": [_encode_label(n, what + " level name") for n in index.names],
            "labels": [_encode_label(x, what) for x in index],
            "dtypes": [str(level.dtype) for level in index.levels],
        }
        freqs = [_frequency(level, f"{what} level {i}") for i, level in enumerate(index.levels)]
        if any(f is not None for f in freqs):
            spec["level_freqs"] = freqs
        return spec
    if isinstance(index, pd.RangeIndex):
        return {
            "kind": "range",
            "name": _encode_label(index.name, what + " name"),
            "start": index.start,
            "step": index.step,
        }
    spec = {
        "kind": "plain",
        "name": _encode_label(index.name, what + " name"),
        "dtype": str(index.dtype),
    }
    freq = _frequency(index, what)
    if freq is not None:  # part of what makes two frames differ, so part of the meta (and the fingerprint)
        spec["freq"] = freq
    return spec


def _frequency(index: pd.Index, what: str) -> str | None:
    """The ``freq`` of a DatetimeIndex or TimedeltaIndex as a string that gives it back, or None."""
    import pandas as pd

    freq = index.freq if isinstance(index, (pd.DatetimeIndex, pd.TimedeltaIndex)) else None
    if freq is None:
        return None
    text = freq.freqstr
    if pd.tseries.frequencies.to_offset(text) != freq:
        raise UnsupportedDataError(
            f"the {what} has the frequency {freq!r}, which nbtrack cannot store exactly (its text {text!r} "
            f"reads back as another frequency); drop it with df.index.freq = None (or .columns.freq = None) "
            "or use a standard frequency such as 'D' or 'h'."
        )
    return text


def _with_level_frequencies(index: pd.MultiIndex, spec: dict) -> pd.MultiIndex:
    """``index`` with the frequencies its levels had (where its levels' values still conform to them)."""
    freqs = spec.get("level_freqs")
    if not freqs:
        return index
    levels = list(index.levels)
    for i, freq in enumerate(freqs):
        if freq is not None:
            try:
                levels[i] = _with_frequency(levels[i], {"freq": freq})
            except ValueError:  # other values than the original's level: the snapshot check refuses such an index
                pass
    return index.set_levels(levels)


def _check_level_frequencies(index: pd.MultiIndex, spec: dict) -> None:
    """Refuse a MultiIndex whose levels' frequencies would not come back (its rebuilt levels differ)."""
    import pandas as pd

    if not spec.get("level_freqs"):
        return
    plain = []
    for i in range(index.nlevels):
        values = index.get_level_values(i)
        if isinstance(values, (pd.DatetimeIndex, pd.TimedeltaIndex)):
            values = values.copy()
            values.freq = None  # as Arrow gives them back
        plain.append(values)
    rebuilt = _with_level_frequencies(pd.MultiIndex.from_arrays(plain), spec)
    for i in range(index.nlevels):
        before, after = index.get_level_values(i), rebuilt.get_level_values(i)
        freq = getattr(before, "freq", None)
        if freq != getattr(after, "freq", None):
            raise UnsupportedDataError(
                f"index level {i} ({index.names[i]!r}) has the frequency {freq!r}, which would not load "
                f"back (its levels hold other values than its rows); drop it with "
                f"df.index = df.index.set_levels(df.index.levels[{i}].values, level={i}), "
                "or store the index as columns with df.reset_index()."
            )


def _with_frequency(index: pd.Index, spec: dict) -> pd.Index:
    """``index`` with the frequency ``spec`` recorded (pandas checks that the values conform)."""
    import pandas as pd

    freq = spec.get("freq")
    if freq is None or not isinstance(index, (pd.DatetimeIndex, pd.TimedeltaIndex)):
        return index
    return type(index)(index, freq=freq, name=index.name)


def _decode_columns(spec: dict, labels: list) -> pd.Index:
    import pandas as pd

    if spec["kind"] == "multi":
        names = [_decode_label(n) for n in spec["names"]]
        tuples = [_decode_label(x) for x in spec["labels"]]
        if not tuples:
            return pd.MultiIndex(levels=[[]] * len(names), codes=[[]] * len(names), names=names)
        mi = pd.MultiIndex.from_tuples(tuples, names=names)
        levels = [lvl.astype(dt) if str(lvl.dtype) != dt else lvl for lvl, dt in zip(mi.levels, spec["dtypes"])]
        return mi.set_levels(levels)
    name = _decode_label(spec["name"])
    if spec["kind"] == "range":
        return pd.RangeIndex(spec["start"], spec["start"] + spec["step"] * len(labels), spec["step"], name=name)
    # tupleize_cols=False: a flat Index of tuple labels stays flat (a MultiIndex is recorded as "multi")
    return _with_frequency(pd.Index(labels, dtype=spec["dtype"], name=name, tupleize_cols=False), spec)


# ---------------------------------------------------------------- conversion
def to_arrow(df: pd.DataFrame, check: bool = True) -> tuple[pa.Table, dict]:
    """Convert ``df`` to an Arrow table with positional field names plus the frame meta.

    Raises UnsupportedDataError when a column cannot be stored exactly (``check=False`` skips
    the exactness checks of object columns and the sample round trip; fingerprints use that).
    """
    import pandas as pd
    import pyarrow as pa

    if not isinstance(df, pd.DataFrame):
        raise UnsupportedDataError(
            f"expected a pandas DataFrame, got {type(df).__name__}; wrap it with pandas.DataFrame(...) first."
        )
    columns_spec = _encode_axis(df.columns, "column label")
    if columns_spec["kind"] == "multi":
        labels = columns_spec.pop("labels")
    else:
        labels = [_encode_label(c, "column label") for c in df.columns]
    index_spec = _encode_axis(df.index, "index")
    if index_spec["kind"] == "multi":
        index_spec.pop("labels")
    for col in df.columns[df.dtypes.map(lambda d: isinstance(d, pd.SparseDtype)).to_numpy(dtype=bool)]:
        raise UnsupportedDataError(
            f"column {col!r} is sparse; convert it with df[{col!r}].sparse.to_dense() before snapshotting."
        )
    shallow = df.copy(deep=False)
    shallow.columns = [f"_c{i}" for i in range(df.shape[1])]
    range_index = isinstance(df.index, pd.RangeIndex)
    if not range_index:
        shallow.index = df.index.set_names([None] * df.index.nlevels)
    try:
        table = pa.Table.from_pandas(shallow, preserve_index=not range_index)
    except (pa.ArrowException, TypeError, ValueError) as exc:
        _raise_for_column(shallow, df, exc)
        raise
    object_cols = [i for i, dt in enumerate(df.dtypes) if dt == object]  # noqa: E721 - a numpy dtype equals its type
    object_index = [i for i in range(df.index.nlevels) if df.index.get_level_values(i).dtype == object]
    meta: dict[str, Any] = {
        "v": META_VERSION,
        "rows": len(df),
        "columns": columns_spec,
        "labels": labels,
        "index": index_spec,
        "object_columns": object_cols,
        "object_index_levels": object_index,
        "pandas": json.loads(table.schema.metadata[b"pandas"]) if table.schema.metadata else None,
    }
    category_dtypes = {
        str(i): str(dt.categories.dtype)
        for i, dt in enumerate(df.dtypes)
        if isinstance(dt, pd.CategoricalDtype) and (dt.categories.dtype == object or len(dt.categories) == 0)
    }
    if category_dtypes:  # Arrow gives back "str" categories for object ones, and object for no categories at all
        meta["category_dtypes"] = category_dtypes
    if not df.flags.allows_duplicate_labels:  # pandas compares flags too: part of what makes two frames differ
        meta["flags"] = {"allows_duplicate_labels": False}
    if not check:
        return table.replace_schema_metadata(None), meta
    if index_spec["kind"] == "multi":
        _check_level_frequencies(df.index, index_spec)  # pyright: ignore[reportArgumentType]  # a MultiIndex here
    for i in object_cols:
        _check_object_exact(df.iloc[:, i], table.column(f"_c{i}"), f"column {df.columns[i]!r}")
    for i in object_index:
        _check_object_exact(df.index.get_level_values(i), table.column(f"__index_level_{i}__"), f"index level {i}")
    _check_sample(df, table, meta)
    return table.replace_schema_metadata(None), meta


def _raise_for_column(shallow: pd.DataFrame, df: pd.DataFrame, exc: Exception) -> None:
    import pyarrow as pa

    for i in range(shallow.shape[1]):
        try:
            pa.Array.from_pandas(shallow.iloc[:, i])
        except (pa.ArrowException, TypeError, ValueError) as col_exc:
            raise UnsupportedDataError(
                f"column {df.columns[i]!r} (dtype {df.dtypes.iloc[i]}) cannot be stored exactly: {col_exc}. "
                "Convert it to a supported type first (e.g. .astype(str) for mixed objects, or split it into "
                "plain columns), or drop it from the snapshot."
            ) from exc
    for level in range(df.index.nlevels):
        try:
            pa.Array.from_pandas(df.index.get_level_values(level))
        except (pa.ArrowException, TypeError, ValueError) as level_exc:
            raise UnsupportedDataError(
                f"index level {level} ({df.index.names[level]!r}, dtype {df.index.get_level_values(level).dtype}) "
                f"cannot be stored exactly: {level_exc}. " + _index_advice(df.index.get_level_values(level))
            ) from exc
    raise UnsupportedDataError(
        f"this DataFrame cannot be stored exactly: {exc}. Convert its index to plain values "
        "(df.reset_index()) or its columns to supported dtypes."
    ) from exc


def _index_advice(values: Any) -> str:
    """What to do with an index level that cannot be stored (tuples: make it a MultiIndex)."""
    if len(values) and all(isinstance(x, tuple) for x in values[:100]):
        return (
            "It holds tuples: make it a MultiIndex (df.index = pd.MultiIndex.from_tuples(df.index)), "
            "or store it as columns with df.reset_index()."
        )
    return "Convert it to one type first (e.g. df.index = df.index.astype(str)), or store it as a column with df.reset_index()."


def _same(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    try:
        return bool(a == b)
    except Exception:
        return False


def _check_object_exact(values: Any, arrow_col: pa.ChunkedArray, what: str) -> None:
    back = arrow_col.to_numpy(zero_copy_only=False)
    for pos, (a, b) in enumerate(zip(values, back)):
        if not _same(a, b):
            advice = (
                _index_advice(values)
                if what.startswith("index")
                else "Convert it to a typed column first (e.g. .astype(str), .astype('Int64'), pd.to_datetime) "
                "or drop it."
            )
            raise UnsupportedDataError(
                f"{what} holds Python objects that would not come back exactly (row {pos}: {a!r} of type "
                f"{type(a).__name__} would load as {b!r} of type {type(b).__name__}). {advice}"
            )


def _check_sample(df: pd.DataFrame, table: pa.Table, meta: dict) -> None:
    """Round-trip the first rows and refuse any dtype that would change."""
    import pandas as pd

    n = min(_SAMPLE_ROWS, len(df))
    sample = table.slice(0, n)
    try:
        # the way a load reads them: the schema from its bytes (pandas extension types are rebuilt from
        # their serialised form), the rows from a chunk, then pandas
        _read_back_schema(table.schema)
        if _has_extension_types(table.schema):
            sample = _chunks.decode(bytes(_chunks.encode(sample, "lz4")))
        back = from_arrow(sample, meta, rows=n)
    except Exception as exc:  # pandas or Arrow cannot rebuild some column at all: name it rather than crash
        _raise_for_rebuild(df, sample, meta, exc)
        raise
    expected = df.iloc[:n]
    for i in range(df.shape[1]):
        try:
            pd.testing.assert_series_equal(
                expected.iloc[:, i], back.iloc[:, i], check_names=False, check_index=False, check_exact=True
            )
        except (AssertionError, TypeError, ValueError) as exc:
            raise UnsupportedDataError(
                f"column {df.columns[i]!r} (dtype {df.dtypes.iloc[i]}) would not load back exactly: "
                f"{str(exc).splitlines()[0]} ({' '.join(str(exc).split())[:200]}). Convert it to a "
                "standard dtype before snapshotting."
            ) from exc
    try:
        pd.testing.assert_index_equal(expected.index, back.index, exact=True, check_exact=True)
        freqs = getattr(expected.index, "freq", None), getattr(back.index, "freq", None)
        if freqs[0] != freqs[1]:
            raise AssertionError(f"freq {freqs[0]!r} != {freqs[1]!r}")
    except (AssertionError, TypeError, ValueError) as exc:
        raise UnsupportedDataError(
            f"the index (dtype {df.index.dtype}) would not load back exactly: {' '.join(str(exc).split())[:200]}. "
            "Use df.reset_index() to store it as columns."
        ) from exc


def _has_extension_types(schema: pa.Schema) -> bool:
    """Whether a field is a (pandas) extension type, also as a dictionary's values: those are rebuilt from
    their serialised form when read, so the sample goes through a chunk's bytes like a load (others: 0.1 ms
    per column saved on wide frames)."""
    import pyarrow as pa

    def extension(kind: pa.DataType) -> bool:
        if isinstance(kind, pa.ExtensionType):
            return True
        if isinstance(kind, pa.DictionaryType):
            return extension(kind.value_type)
        return any(extension(kind.field(i).type) for i in range(kind.num_fields))

    return any(extension(field.type) for field in schema)


def _read_back_schema(schema: pa.Schema) -> pa.Schema:
    import pyarrow as pa

    return pa.ipc.read_schema(pa.py_buffer(schema.serialize()))


def _raise_for_rebuild(df: pd.DataFrame, sample: pa.Table, meta: dict, exc: Exception) -> None:
    """Refuse the frame whose ``sample`` pandas could not rebuild, naming the column (or the index) at fault."""
    for i in range(df.shape[1]):
        try:
            one = sample.select([f"_c{i}"])
            _read_back_schema(one.schema)
            column_series(_chunks.decode(bytes(_chunks.encode(one, "lz4"))), meta, i)
        except Exception as col_exc:
            raise UnsupportedDataError(
                f"column {df.columns[i]!r} (dtype {df.dtypes.iloc[i]}) would not load back: pandas cannot rebuild "
                f"it from Arrow ({type(col_exc).__name__}: {col_exc}). Convert it to a standard dtype first "
                "(e.g. .astype(str), or a categorical of plain values), or drop it."
            ) from exc
    raise UnsupportedDataError(
        f"this DataFrame would not load back: pandas cannot rebuild it from Arrow ({type(exc).__name__}: {exc}). "
        "Store its index as columns (df.reset_index()) or convert its columns to standard dtypes."
    ) from exc


def from_arrow(table: pa.Table, meta: dict, rows: int | None = None, destruct: bool = False) -> pd.DataFrame:
    """Rebuild the exact DataFrame from a positional Arrow table and its frame meta.

    ``destruct=True`` frees each Arrow column as it is converted (the caller must hold no other
    reference to ``table`` or its buffers' owner; never for slices of a table still in use).
    """
    import pandas as pd

    if meta.get("pandas") is not None:
        table = table.replace_schema_metadata({b"pandas": json.dumps(meta["pandas"]).encode()})
    objects = {i: table.column(f"_c{i}").to_numpy(zero_copy_only=False) for i in meta["object_columns"]}
    object_levels = _object_levels(table, meta["object_index_levels"])
    df: pd.DataFrame
    if table.num_columns == 0:  # Arrow keeps no row count without columns
        df = pd.DataFrame(index=pd.RangeIndex(meta["rows"] if rows is None else rows))
    else:
        writable = _writable_views(table)
        # self_destruct frees each Arrow column once converted: peak memory ~ one frame, not two
        df = table.to_pandas(split_blocks=True, self_destruct=destruct)
        _make_writable(df, writable)
    del table
    for i, values in objects.items():
        df[f"_c{i}"] = pd.Series(values, index=df.index, dtype=object)
    for i, dtype in meta.get("category_dtypes", {}).items():
        column = df[f"_c{i}"]
        if str(column.cat.categories.dtype) != dtype:
            df[f"_c{i}"] = column.cat.set_categories(pd.Index(column.cat.categories, dtype=dtype))
    labels = [_decode_label(x) for x in meta["labels"]] if meta["columns"]["kind"] != "multi" else []
    ncols = len(meta["labels"])
    df = df[[f"_c{i}" for i in range(ncols)]] if list(df.columns) != [f"_c{i}" for i in range(ncols)] else df  # pyright: ignore[reportAssignmentType]  # list key selects a DataFrame
    df.columns = (
        _decode_columns(meta["columns"], labels)
        if meta["columns"]["kind"] != "multi"
        else (_decode_columns({**meta["columns"], "labels": meta["labels"]}, []))
    )
    index_spec = meta["index"]
    if index_spec["kind"] == "range":
        start, step = index_spec["start"], index_spec["step"]
        df.index = pd.RangeIndex(start, start + step * len(df), step, name=_decode_label(index_spec["name"]))
    else:
        if object_levels:
            df.index = _restore_object_levels(df.index, object_levels)
        if index_spec["kind"] == "multi":
            df.index = _with_level_frequencies(df.index, index_spec)  # pyright: ignore[reportArgumentType]  # a MultiIndex here
            df.index = df.index.set_names([_decode_label(n) for n in index_spec["names"]])
        else:
            df.index = _with_frequency(df.index.rename(_decode_label(index_spec["name"])), index_spec)
    if meta.get("flags", {}).get("allows_duplicate_labels") is False:
        df = df.set_flags(allows_duplicate_labels=False)
    return df


def _writable_views(table: pa.Table) -> dict:
    """Writable numpy views of the columns pandas will take without a copy: one chunk, fixed width, no
    nulls, in a buffer Arrow lets us write (a load's result arrays, see ``_chunks._FixedWidthColumns``)."""
    views = {}
    for name, column in zip(table.column_names, table.columns):
        if column.num_chunks != 1 or column.null_count or not _fixed_width(column.type):
            continue
        array = column.chunk(0)
        if array.buffers()[1].is_mutable:
            views[name] = _fixed_values(array, f"u{column.type.bit_width // 8}")
    return views


def _make_writable(df: pd.DataFrame, views: dict) -> None:
    """Give back writable columns where pandas took Arrow's memory read-only (Arrow marks zero-copy arrays so,
    and pandas then refuses ``df.loc[rows, col] = ...``): numpy columns over the same memory, writable, and a
    copy for other dtypes (tz-aware times). Columns pandas copied are left alone."""
    import numpy as np
    import pandas as pd

    for name, view in views.items():
        position = df.columns.get_loc(name) if name in df.columns else None  # index levels: immutable anyway
        if not isinstance(position, int):
            continue
        series = df.iloc[:, position]
        backing = getattr(series.array, "_ndarray", None)
        if not isinstance(backing, np.ndarray) or backing.flags.writeable or not np.shares_memory(backing, view):
            continue
        if isinstance(series.dtype, np.dtype) and series.dtype.itemsize == view.itemsize:
            df.isetitem(position, pd.Series(view.view(series.dtype), index=df.index, copy=False))
        else:
            df.isetitem(position, series.copy())


def column_series(table: pa.Table, meta: dict, position: int) -> pd.Series:
    """Column ``position`` of a version as a Series with a RangeIndex (``table`` holds field ``_c<position>``)."""
    return field_series(table, meta, f"_c{position}", position in meta["object_columns"])


def level_series(table: pa.Table, meta: dict, level: int) -> pd.Series:
    """Index level ``level`` of a version as a Series with a RangeIndex (``table`` holds its field)."""
    return field_series(table, meta, level_field(level), level in meta["object_index_levels"])


def level_field(level: int) -> str:
    """The Arrow field holding index level ``level`` (Arrow's own name for it)."""
    return f"__index_level_{level}__"


def field_series(table: pa.Table, meta: dict, field: str, as_object: bool) -> pd.Series:
    import pandas as pd

    column = table.column(field)
    if as_object:
        return pd.Series(column.to_numpy(zero_copy_only=False), dtype=object)
    import pyarrow as pa

    sub = pa.table({field: column})
    pandas_meta = meta.get("pandas")
    if pandas_meta is not None:
        pandas_meta = dict(
            pandas_meta, index_columns=[], columns=[c for c in pandas_meta["columns"] if c.get("field_name") == field]
        )
        sub = sub.replace_schema_metadata({b"pandas": json.dumps(pandas_meta).encode()})
    return sub.to_pandas(split_blocks=True, self_destruct=True).iloc[:, 0].rename(None)


def display_names(meta: dict) -> list[str]:
    """The column labels of a version as unique strings (duplicates get ``#2``, ``#3``...)."""
    labels = [_decode_label(x) for x in meta["labels"]]
    seen: dict[str, int] = {}
    names = []
    for label in labels:
        text = str(label)
        seen[text] = seen.get(text, 0) + 1
        names.append(text if seen[text] == 1 else f"{text}#{seen[text]}")
    return names


def index_names(meta: dict) -> list:
    spec = meta["index"]
    if spec["kind"] == "multi":
        return [_decode_label(n) for n in spec["names"]]
    return [_decode_label(spec["name"])] if spec["kind"] != "range" else []


def _object_levels(table: pa.Table, levels: list[int]) -> dict:
    return {i: table.column(level_field(i)).to_numpy(zero_copy_only=False) for i in levels}


def _restore_object_levels(index: pd.Index, levels: dict) -> pd.Index:
    import pandas as pd

    if not isinstance(index, pd.MultiIndex):
        return pd.Index(levels[0], dtype=object, tupleize_cols=False)
    arrays = [index.get_level_values(i) for i in range(index.nlevels)]
    for i, values in levels.items():
        arrays[i] = pd.Index(values, dtype=object)
    return pd.MultiIndex.from_arrays(arrays)


# ---------------------------------------------------------------- fingerprint
def _hash_array(h: Any, arr: pa.Array) -> None:
    """Feed the logical content of one Arrow array into ``h`` (layout independent)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.types as pt

    if arr.offset:
        arr = pa.concat_arrays([arr])
    n = len(arr)
    h.update(f"|{arr.type}|{n}|{arr.null_count}|".encode())
    bufs = arr.buffers()
    if arr.null_count and bufs[0] is not None:
        bits = np.frombuffer(bufs[0], dtype=np.uint8, count=(n + 7) // 8).copy()
        if n % 8:
            bits[-1] &= (1 << (n % 8)) - 1
        h.update(bits.tobytes())
    t = arr.type
    if pt.is_dictionary(t):
        _hash_array(h, arr.indices)
        _hash_array(h, arr.dictionary)
    elif pt.is_boolean(t):
        h.update(np.asarray(arr.fill_null(False)).tobytes())
    elif pt.is_string(t) or pt.is_binary(t) or pt.is_large_string(t) or pt.is_large_binary(t):
        width = 8 if (pt.is_large_string(t) or pt.is_large_binary(t)) else 4
        offsets = np.frombuffer(bufs[1], dtype=np.int64 if width == 8 else np.int32, count=n + 1)
        h.update(memoryview(offsets))  # pyright: ignore[reportArgumentType]  # ndarray supports the buffer protocol
        if bufs[2] is not None and n:
            h.update(memoryview(bufs[2])[: int(offsets[-1])])
    elif (pt.is_primitive(t) or pt.is_decimal(t)) and t.bit_width % 8 == 0 and bufs[1] is not None:
        h.update(memoryview(bufs[1])[: n * t.bit_width // 8])
    elif pt.is_null(t):
        pass
    else:  # nested / extension / views: hash a canonical IPC serialisation
        batch = pa.record_batch([arr], names=["x"])
        h.update(batch.serialize())


def fingerprint_table(table: pa.Table, meta: dict) -> str:
    import xxhash

    h = xxhash.xxh3_128()
    header = {k: v for k, v in meta.items() if k != "pandas"}
    if meta.get("pandas"):
        header["pandas_columns"] = [
            [c.get("field_name"), c.get("pandas_type"), c.get("numpy_type"), c.get("metadata")]
            for c in meta["pandas"]["columns"]
        ]
    h.update(json.dumps(header, sort_keys=True, default=str).encode())
    for name, col in zip(table.column_names, table.columns):
        h.update(f"#{name}".encode())
        chunks = col.chunks
        if len(chunks) > 1:
            import pyarrow as pa

            chunks = [pa.concat_arrays(chunks)]
        for chunk in chunks:
            _hash_array(h, chunk)
    return h.hexdigest()


def fingerprint(df: pd.DataFrame) -> str:
    """Content fingerprint of a DataFrame: 32 hex digits of xxh3_128 over its Arrow buffers.

    Equal frames (same values, dtypes, labels and index) get the same fingerprint whatever
    their memory layout; it is the identity of a data version. About 0.15 s per 10 M rows.

    Example::

        >>> nbtrack.data.fingerprint(df)
        '3f1c...'
    """
    table, meta = to_arrow_fast(df)
    return fingerprint_table(table, meta)


def to_arrow_fast(df: pd.DataFrame) -> tuple[pa.Table, dict]:
    """Like :func:`to_arrow` but without the exactness checks (for fingerprints of inputs)."""
    try:
        return to_arrow(df, check=False)
    except UnsupportedDataError:
        return _to_arrow_lossy(df)


def _to_arrow_lossy(df: pd.DataFrame) -> tuple[pa.Table, dict]:
    import pandas as pd
    import pyarrow as pa

    shallow = df.copy(deep=False)
    shallow.columns = [f"_c{i}" for i in range(df.shape[1])]
    for i, dt in enumerate(df.dtypes):
        if dt == object:  # noqa: E721 - a numpy dtype equals its type
            shallow[f"_c{i}"] = shallow[f"_c{i}"].map(repr).astype(str)
    table = pa.Table.from_pandas(shallow, preserve_index=not isinstance(df.index, pd.RangeIndex))
    meta = {"v": META_VERSION, "labels": [repr(c) for c in df.columns], "lossy": True}
    return table.replace_schema_metadata(None), meta
