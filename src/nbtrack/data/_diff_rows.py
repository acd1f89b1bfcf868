"""Row-level comparison of two versions for a diff, one column at a time.

A matcher is built from the key columns (:class:`KeyMatcher`) or from nothing
(:class:`MultisetMatcher`), is handed each common column of both versions in turn
(``add``), and reports the row counts at the end (``result``). What it keeps between
columns is small and per row:

* by key, when both versions hold the same keys in the same order (edits only, the usual
  case): one "changed" flag per row, nothing else; otherwise the matched row positions of
  both versions (int32 below 2**31 rows) and the flags;
* without a key: one 64-bit hash per row of each version, mixed in block by block.

Cells are compared in Arrow (nulls equal nulls, NaN equals NaN, dictionary codes when both
columns share their categories), so no reordered copy of a whole column is ever made.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from nbtrack.data import _compare
from nbtrack.data._snapshot import _equal as equal_values

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd
    import pyarrow as pa

MAX_EXAMPLES = 20
BLOCK = 1 << 20  # rows per block of temporaries (8 MB of 64-bit values)
_MIX = (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9)


def positions_dtype(rows: int) -> Any:
    """The smallest integer dtype that holds row positions of a version of ``rows`` rows."""
    import numpy as np

    return np.int32 if rows < 2**31 else np.int64


def arrow(series: pd.Series) -> pa.ChunkedArray:
    """The Arrow view of a Series (zero-copy for numbers, Arrow strings and category codes)."""
    import pyarrow as pa

    array = pa.array(series, from_pandas=True)
    return array if isinstance(array, pa.ChunkedArray) else pa.chunked_array([array])


def _equal(a: pa.ChunkedArray, b: pa.ChunkedArray) -> np.ndarray:
    """Element-wise equality, nulls equal nulls; categoricals with the same categories compare codes."""
    import pyarrow.types as pt

    if pt.is_dictionary(a.type) and pt.is_dictionary(b.type) and a.num_chunks and b.num_chunks:
        da, db = a.chunk(0).dictionary, b.chunk(0).dictionary
        same = all(c.dictionary.equals(da) for c in a.chunks) and all(c.dictionary.equals(db) for c in b.chunks)
        if same and da.equals(db):
            import pyarrow as pa

            codes = lambda x: pa.chunked_array([c.indices for c in x.chunks], type=x.type.index_type)  # noqa: E731
            return equal_values(codes(a), codes(b))
    return equal_values(a, b)


def not_equal(x: pd.Series, y: pd.Series) -> np.ndarray:
    """Element-wise 'differs' of two aligned Series (nulls equal nulls, NaN equals NaN)."""
    import numpy as np
    import pyarrow as pa

    try:
        return ~_equal(arrow(x), arrow(y))
    except (pa.ArrowException, TypeError, ValueError):
        pass
    try:
        eq = np.asarray(x.to_numpy() == y.to_numpy(), dtype=bool)
    except (TypeError, ValueError):
        eq = (x.astype(object).to_numpy() == y.astype(object).to_numpy()).astype(bool)
    both_na = x.isna().to_numpy() & y.isna().to_numpy()
    return ~(eq | both_na)


def _not_equal_taken(sa: pd.Series, sb: pd.Series, rows_a: np.ndarray, rows_b: np.ndarray) -> np.ndarray:
    """'differs' of ``sa[rows_a]`` and ``sb[rows_b]``, gathered block by block (no reordered full copies)."""
    import numpy as np
    import pyarrow as pa

    try:
        a, b = arrow(sa), arrow(sb)
        out = np.empty(len(rows_a), dtype=bool)
        for start in range(0, len(rows_a), BLOCK):
            end = start + BLOCK
            out[start:end] = ~_equal(a.take(rows_a[start:end]), b.take(rows_b[start:end]))
        return out
    except (pa.ArrowException, TypeError, ValueError):
        x = sa.iloc[rows_a].reset_index(drop=True)
        y = sb.iloc[rows_b].reset_index(drop=True)
        return not_equal(x, y)


def _key_index(cols: list[pd.Series]) -> pd.Index:
    import pandas as pd

    if len(cols) == 1:
        return pd.Index(cols[0])
    return pd.MultiIndex.from_arrays(cols)


def _key_value(cols: list[pd.Series], position: int) -> Any:
    values = [_compare._py(c.iloc[int(position)]) for c in cols]
    return values if len(values) > 1 else values[0]


class KeyMatcher:
    """Rows matched by key: added, removed, changed rows and changed cells per column.

    ``series_b(column)`` loads a column of version b again (the keys of changed rows are looked
    up once at the end, so the key columns are not held during the column pass).
    """

    def __init__(
        self, keys_a: list[pd.Series], keys_b: list[pd.Series], keys: list[str], series_b: Callable[[str], pd.Series]
    ):
        import numpy as np

        self.keys, self._series_b = keys, series_b
        # matched positions; None when aligned (row i matches row i)
        self.rows_a: np.ndarray | None = None
        self.rows_b: np.ndarray | None = None
        rows = len(keys_b[0])
        self.aligned = len(keys_a[0]) == rows and not any(not_equal(x, y).any() for x, y in zip(keys_a, keys_b))
        self.counts, self.added_examples, self.removed_examples = (0, 0), [], []
        if not self.aligned:
            rows = self._match(keys_a, keys_b)
        self.changed_any = np.zeros(rows, dtype=bool)
        self.changed_columns: dict[str, int] = {}
        self._examples: list[tuple[int, str, Any, Any]] = []  # (matched row number, column, before, after)

    def _match(self, keys_a: list[pd.Series], keys_b: list[pd.Series]) -> int:
        """Sets the matched positions and examples; returns the number of matched rows."""
        import numpy as np

        in_a = _key_index(keys_a).get_indexer(_key_index(keys_b))  # for each row of b: its row in a, or -1
        dtype = positions_dtype(max(len(keys_a[0]), len(in_a)))
        added = np.flatnonzero(in_a < 0)
        self.rows_b = np.flatnonzero(in_a >= 0).astype(dtype)
        self.rows_a = in_a[self.rows_b].astype(dtype)
        del in_a
        removed = np.ones(len(keys_a[0]), dtype=bool)
        removed[self.rows_a] = False
        removed = np.flatnonzero(removed)
        self.counts = (len(added), len(removed))
        self.added_examples = [_key_value(keys_b, i) for i in added[:MAX_EXAMPLES]]
        self.removed_examples = [_key_value(keys_a, i) for i in removed[:MAX_EXAMPLES]]
        return len(self.rows_b)

    def add(self, column: str, sa: pd.Series, sb: pd.Series) -> None:
        """Compare one common column of both versions on the matched rows."""
        import numpy as np

        if column in self.keys:
            return
        rows_a, rows_b = self.rows_a, self.rows_b
        if self.aligned or rows_a is None or rows_b is None:  # not aligned: both set by _match
            neq = not_equal(sa, sb)
        else:
            neq = _not_equal_taken(sa, sb, rows_a, rows_b)
        count = int(neq.sum())
        if not count:
            return
        self.changed_columns[column] = count
        self.changed_any |= neq
        for i in np.flatnonzero(neq)[: max(0, MAX_EXAMPLES - len(self._examples))]:
            row_a, row_b = (i, i) if rows_a is None or rows_b is None else (rows_a[i], rows_b[i])
            self._examples.append(
                (int(row_b), column, _compare._py(sa.iloc[int(row_a)]), _compare._py(sb.iloc[int(row_b)]))
            )

    def same_values(self, column: str) -> bool:
        """After :meth:`add` of ``column``: True when both versions hold the same values in it, row for row (the
        key columns of aligned versions always do)."""
        return self.aligned and column not in self.changed_columns

    def result(self) -> dict:
        changed = int(self.changed_any.sum())
        examples = []
        if self._examples:
            keys_b = [self._series_b(k) for k in self.keys]
            examples = [
                {"key": _key_value(keys_b, row), "column": column, "before": before, "after": after}
                for row, column, before, after in self._examples
            ]
        return {
            "mode": "key",
            "key": self.keys,
            "added": int(self.counts[0]),
            "removed": int(self.counts[1]),
            "changed": changed,
            "unchanged": int(len(self.changed_any) - changed),
            "changed_columns": self.changed_columns,
            "examples": {"added": self.added_examples, "removed": self.removed_examples, "changed": examples},
        }


def _numeric_bits(series: pd.Series) -> np.ndarray:
    import numpy as np
    import pandas as pd

    if pd.api.types.is_float_dtype(series.dtype):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
        values[values == 0] = 0.0  # +0 == -0
        values[np.isnan(values)] = np.nan  # one NaN
        return values.view(np.uint64)
    if pd.api.types.is_datetime64_any_dtype(series.dtype) or pd.api.types.is_timedelta64_dtype(series.dtype):
        return series.array.asi8  # pyright: ignore[reportAttributeAccessIssue]  # DatetimeArray has asi8; ticks (tz-aware too); both sides have the same unit (see row_codes)
    return series.to_numpy(dtype=np.int64)


def _plain_numbers(s: pd.Series) -> bool:
    import pandas as pd

    kind_ok = (
        pd.api.types.is_numeric_dtype(s.dtype)
        or pd.api.types.is_datetime64_any_dtype(s.dtype)
        or pd.api.types.is_timedelta64_dtype(s.dtype)
    )
    # floats keep their NaNs (_numeric_bits maps every NaN and -0.0 to one code); other kinds with
    # missing values go through the dictionary path, which matches null with null
    return (
        kind_ok
        and not isinstance(s.dtype, pd.CategoricalDtype)
        and (not s.hasnans or pd.api.types.is_float_dtype(s.dtype))
    )


def _category_codes(sa: pd.Series, sb: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np
    import pandas as pd

    mapping = np.append(pd.Index(sa.cat.categories).get_indexer(sb.cat.categories), -1)
    mapping[mapping < 0] = -2  # categories (or NaN) of b only
    codes = sb.cat.codes.to_numpy()
    codes_b = mapping[codes]
    codes_b[codes < 0] = -1  # NaN matches NaN
    return sa.cat.codes.to_numpy(), codes_b


def row_codes(sa: pd.Series, sb: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes per row, equal exactly when the values are equal, without a hash table of all rows.

    Numbers: their bit patterns (one code for every NaN, +0 == -0). Categoricals: b's categories
    mapped onto a's. Strings and others: Arrow dictionary of a's values, b looked up in it (values
    a never had get a code a never uses). Codes are as narrow as their source (int8 category codes,
    int32 dictionary indices).
    """
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    same_kind = sa.dtype.kind == sb.dtype.kind and (sa.dtype.kind in "iuf" or str(sa.dtype) == str(sb.dtype))
    if same_kind and _plain_numbers(sa) and _plain_numbers(sb):
        return _numeric_bits(sa), _numeric_bits(sb)
    if isinstance(sa.dtype, pd.CategoricalDtype) and isinstance(sb.dtype, pd.CategoricalDtype):
        return _category_codes(sa, sb)
    try:
        codes_a, values = _dictionary_codes(arrow(sa))  # a's distinct values (null included): the code book
        pa.default_memory_pool().release_unused()  # the encoder's buffers, before b's lookups allocate
        codes_b = _lookup(arrow(sb), values)
    except (pa.ArrowException, TypeError, ValueError):
        codes_a, uniques = pd.factorize(sa.astype(str), use_na_sentinel=False)
        codes_b = pd.Index(uniques).get_indexer(sb.astype(str))
    return np.asarray(codes_a), np.asarray(codes_b)


def _dictionary_codes(column: pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    """Dictionary-encode a column: (int32 code per row, the distinct values), nulls encoded as a value."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    encoded = column.dictionary_encode(null_encoding="encode")
    if not encoded.num_chunks:
        return np.zeros(0, dtype=np.int32), pa.array([], type=column.type)
    values = encoded.chunk(0).dictionary
    if all(c.dictionary.equals(values) for c in encoded.chunks):  # one dictionary shared by every chunk
        return _flatten(pa.chunked_array([c.indices for c in encoded.chunks]), missing=-1), values
    values = pc.unique(column)  # pyright: ignore[reportAttributeAccessIssue]  # generated compute functions lack stubs
    return _flatten(pc.index_in(column, value_set=values, skip_nulls=False), missing=-1), values  # pyright: ignore[reportAttributeAccessIssue]  # generated compute function


def _lookup(column: pa.ChunkedArray, values: pa.Array) -> np.ndarray:
    """Position of each row's value in ``values`` (-1 when absent) as int32, about BLOCK rows per lookup."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    out = np.empty(len(column), dtype=np.int32)
    start, group = 0, []
    for chunk in column.chunks + [None]:  # None: flush the last group
        if chunk is not None:
            group.append(chunk)
        if group and (chunk is None or sum(len(c) for c in group) >= BLOCK):
            found = pc.index_in(pa.chunked_array(group, type=column.type), value_set=values, skip_nulls=False)  # pyright: ignore[reportAttributeAccessIssue]  # generated compute function
            codes = _flatten(found, missing=-1)
            out[start : start + len(codes)] = codes
            start += len(codes)
            group = []
    return out


def _flatten(codes: pa.ChunkedArray, missing: int) -> np.ndarray:
    """An int32 ChunkedArray as one numpy array (nulls -> ``missing``), chunk by chunk into one buffer."""
    import numpy as np

    out = np.empty(len(codes), dtype=np.int32)
    start = 0
    for chunk in codes.chunks:
        out[start : start + len(chunk)] = chunk.fill_null(missing).to_numpy(zero_copy_only=False)
        start += len(chunk)
    return out


def _mix(target: np.ndarray, codes: np.ndarray) -> None:
    """Fold one column's codes into the row hashes, in place and block by block."""
    import numpy as np

    k1, k2 = np.uint64(_MIX[0]), np.uint64(_MIX[1])
    with np.errstate(over="ignore"):
        for start in range(0, len(target), BLOCK):
            part = target[start : start + BLOCK]
            block = codes[start : start + BLOCK].astype(np.int64, copy=False).view(np.uint64)
            part ^= block + k1
            part *= k2
            part ^= part >> np.uint64(31)


class MultisetMatcher:
    """Rows as multisets: a 64-bit hash per row built column by column from codes shared by both versions."""

    def __init__(self, rows_a: int, rows_b: int):
        import numpy as np

        self.hash_a = np.zeros(rows_a, dtype=np.uint64)
        self.hash_b = np.zeros(rows_b, dtype=np.uint64)
        self._same: set[str] = set()

    def add(self, column: str, sa: pd.Series, sb: pd.Series) -> None:
        """Mix one common column of both versions into the row hashes."""
        import numpy as np

        codes_a, codes_b = row_codes(sa, sb)
        if np.array_equal(codes_a, codes_b):
            self._same.add(column)
        _mix(self.hash_a, codes_a)
        del codes_a
        _mix(self.hash_b, codes_b)

    def same_values(self, column: str) -> bool:
        """True when both versions hold the same values in ``column``, row for row (seen by :meth:`add`)."""
        return column in self._same

    def result(self) -> dict:
        import numpy as np

        # multiset intersection of two sorted hash arrays, in blocks: a row of b is matched when its
        # rank among equal hashes of b is below the number of equal hashes in a
        hash_a, hash_b = self.hash_a, self.hash_b
        hash_a.sort()
        hash_b.sort()
        common = 0
        for start in range(0, len(hash_b), BLOCK):
            x = hash_b[start : start + BLOCK]
            in_a = np.searchsorted(hash_a, x, side="right") - np.searchsorted(hash_a, x, side="left")
            rank = np.arange(start, start + len(x)) - np.searchsorted(hash_b, x, side="left")
            common += int((in_a > rank).sum())
        removed, added = len(hash_a) - common, len(hash_b) - common
        return {
            "mode": "multiset",
            "key": None,
            "added": added,
            "removed": removed,
            "changed": None,
            "unchanged": int(len(hash_b) - added),
            "changed_columns": {},
            "examples": {"added": [], "removed": [], "changed": []},
            "note": "without a key a changed row counts as one removed and one added row",
        }
