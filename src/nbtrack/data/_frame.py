"""Exact pandas <-> Arrow conversion (the content fingerprint is :mod:`._fingerprint`).

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

from nbtrack.data import _chunks, _labels
from nbtrack.data._chunks import _fixed_values, _fixed_width
from nbtrack.errors import UnsupportedDataError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import pyarrow as pa

META_VERSION = 1
_SAMPLE_ROWS = 64


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
    columns_spec = _labels.encode_axis(df.columns, "column label")
    if columns_spec["kind"] == "multi":
        labels = columns_spec.pop("labels")
    else:
        labels = [_labels.encode_label(c, "column label") for c in df.columns]
    index_spec = _labels.encode_axis(df.index, "index")
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
        _labels.check_level_frequencies(df.index, index_spec)  # pyright: ignore[reportArgumentType]  # a MultiIndex here
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
    labels = [_labels.decode_label(x) for x in meta["labels"]] if meta["columns"]["kind"] != "multi" else []
    ncols = len(meta["labels"])
    df = df[[f"_c{i}" for i in range(ncols)]] if list(df.columns) != [f"_c{i}" for i in range(ncols)] else df  # pyright: ignore[reportAssignmentType]  # list key selects a DataFrame
    df.columns = (
        _labels.decode_columns(meta["columns"], labels)
        if meta["columns"]["kind"] != "multi"
        else (_labels.decode_columns({**meta["columns"], "labels": meta["labels"]}, []))
    )
    index_spec = meta["index"]
    if index_spec["kind"] == "range":
        start, step = index_spec["start"], index_spec["step"]
        df.index = pd.RangeIndex(start, start + step * len(df), step, name=_labels.decode_label(index_spec["name"]))
    else:
        if object_levels:
            df.index = _restore_object_levels(df.index, object_levels)
        if index_spec["kind"] == "multi":
            df.index = _labels.with_level_frequencies(df.index, index_spec)  # pyright: ignore[reportArgumentType]  # a MultiIndex here
            df.index = df.index.set_names([_labels.decode_label(n) for n in index_spec["names"]])
        else:
            df.index = _labels.with_frequency(df.index.rename(_labels.decode_label(index_spec["name"])), index_spec)
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
    labels = [_labels.decode_label(x) for x in meta["labels"]]
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
        return [_labels.decode_label(n) for n in spec["names"]]
    return [_labels.decode_label(spec["name"])] if spec["kind"] != "range" else []


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
