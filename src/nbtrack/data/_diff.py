"""Compare two versions of a dataset: schema, rows, per-column statistics and drift.

``nbtrack.diff("customers", 1, 2)`` returns a :class:`DataDiff`; in Jupyter it renders as an
HTML report, ``.summary()`` is a few lines of text, ``.to_frame()`` one row per column and
``.to_dict()`` the JSON the REST server sends.

Rows are matched by the dataset's key when it has one (added, removed and changed rows, and
for changed rows which columns changed from what to what); without a key rows are compared
as multisets of whole rows (a changed row counts as one removed plus one added).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nbtrack.data import _compare

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from nbtrack.store import Store

MAX_EXAMPLES = 20


@dataclass
class DataDiff:
    """What changed between version ``a`` and version ``b`` of dataset ``name``."""

    name: str
    a: int
    b: int
    key: list | None
    schema: dict
    rows: dict
    stats: dict = field(default_factory=dict)  # column -> {"a": stats, "b": stats}
    drift: dict = field(default_factory=dict)  # column -> {kind, psi, ks, ks_pvalue}

    def to_dict(self) -> dict:
        """JSON-ready: {name, a, b, key, schema, rows, stats, drift}."""
        return {"name": self.name, "a": self.a, "b": self.b, "key": [str(k) for k in self.key] if self.key else None,
                "schema": self.schema, "rows": self.rows, "stats": self.stats, "drift": self.drift}

    def to_frame(self) -> "pd.DataFrame":
        """One row per column: dtypes, nulls, means, changed rows, PSI and KS."""
        import pandas as pd

        changed = self.rows.get("changed_columns", {})
        records = []
        for column in self.stats:
            a, b = self.stats[column].get("a"), self.stats[column].get("b")
            d = self.drift.get(column, {})
            records.append({
                "column": column,
                "status": "added" if a is None else "removed" if b is None else "common",
                "dtype_a": a and a["dtype"], "dtype_b": b and b["dtype"],
                "nulls_a": a and a["nulls"], "nulls_b": b and b["nulls"],
                "mean_a": a and a["mean"], "mean_b": b and b["mean"],
                "changed_rows": changed.get(column), "psi": d.get("psi"), "ks": d.get("ks"),
                "ks_pvalue": d.get("ks_pvalue"),
            })
        return pd.DataFrame.from_records(records, columns=[
            "column", "status", "dtype_a", "dtype_b", "nulls_a", "nulls_b", "mean_a", "mean_b", "changed_rows",
            "psi", "ks", "ks_pvalue"])

    def summary(self) -> str:
        """A few lines of plain text."""
        s, r = self.schema, self.rows
        lines = [f"{self.name}: version {self.a} -> {self.b}"]
        if s["added"] or s["removed"] or s["dtype_changes"]:
            lines.append(f"  columns added {s['added']}, removed {s['removed']}, dtype changes "
                         f"{[(c['column'], c['before'], c['after']) for c in s['dtype_changes']]}")
        else:
            lines.append("  same columns and dtypes")
        lines.append(f"  rows ({r['mode']}): +{r['added']} -{r['removed']}"
                     + (f" ~{r['changed']} changed" if r["mode"] == "key" else "") + f", {r['unchanged']} unchanged")
        if r.get("changed_columns"):
            lines.append("  changed cells per column: " + ", ".join(f"{c}={n}" for c, n in r["changed_columns"].items()))
        shifted = [(c, d["psi"]) for c, d in self.drift.items() if d.get("psi") is not None and d["psi"] > 0.1]
        if shifted:
            lines.append("  drift (PSI > 0.1): " + ", ".join(f"{c}={p:.3f}" for c, p in shifted))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return _render_html(self)


# ---------------------------------------------------------------- computing
def diff(name: str, a: int | str | None = None, b: int | str | None = None, *, key: Any = None,
         store: "Store | None" = None) -> DataDiff:
    """Compare versions ``a`` and ``b`` of dataset ``name`` (defaults: the two latest).

    ``key`` overrides the key recorded with the versions (a column label or a list). Columns are
    loaded one at a time, so the memory needed is about one column of each version plus the keys.

    Example::

        d = nbtrack.diff("customers", 1, 2)
        print(d.summary()); d.to_frame()
    """
    from nbtrack.data._repo import _store, get_version, load

    store = _store(store)
    vb = get_version(name, b, store=store)
    va = get_version(name, a if a is not None else vb.version - 1 if vb.version > 1 else vb.version, store=store)
    key = key if key is not None else (vb.key or va.key)
    keys = list(key) if isinstance(key, list) else ([key] if key is not None else [])
    source_a, source_b = _VersionSource(store, name, va.version), _VersionSource(store, name, vb.version)
    if keys and all(k in source_b.index_names and k in source_a.index_names for k in keys):
        # a key in the index: compare whole frames with the index as columns
        source_a = _FrameSource(load(name, va.version, store=store).reset_index())
        source_b = _FrameSource(load(name, vb.version, store=store).reset_index())
    return _compare_sources(source_a, source_b, [str(k) for k in keys], name, va.version, vb.version)


def compare(frame_a: "pd.DataFrame", frame_b: "pd.DataFrame", *, key: Any = None, name: str = "",
            a: int = 0, b: int = 0) -> DataDiff:
    """The diff of two DataFrames (what :func:`diff` computes on two versions)."""
    keys = list(key) if isinstance(key, list) else ([key] if key is not None else [])
    return _compare_sources(_FrameSource(frame_a), _FrameSource(frame_b), [str(k) for k in keys], name, a, b)


class _FrameSource:
    def __init__(self, frame: "pd.DataFrame"):
        self.frame = frame
        self.names = _compare.column_names(frame)
        self.rows = len(frame)
        self.index_names = list(frame.index.names)
        self._pos = {n: i for i, n in enumerate(self.names)}

    def series(self, name: str) -> "pd.Series":
        return self.frame.iloc[:, self._pos[name]].reset_index(drop=True)


class _VersionSource:
    """The columns of a stored version, each loaded on demand (decoding only that field of each chunk)."""

    def __init__(self, store: "Store", name: str, version: int):
        import json

        from nbtrack.data import _frame

        self.store, self.name, self.version = store, name, version
        meta, rows = store.query("SELECT meta, rows FROM data_versions WHERE dataset = ? AND version = ?",
                                 (name, version))[0]
        self.meta = json.loads(meta)
        self.rows = rows
        self.names = _frame.display_names(self.meta)
        self.index_names = _frame.index_names(self.meta)
        self._pos = {n: i for i, n in enumerate(self.names)}

    def series(self, name: str) -> "pd.Series":
        from nbtrack.data import _frame
        from nbtrack.data._repo import load_table

        position = self._pos[name]
        table = load_table(self.store, self.name, self.version, columns=[f"_c{position}"])
        return _frame.column_series(table, self.meta, position)


def _compare_sources(src_a: Any, src_b: Any, keys: list[str], name: str, a: int, b: int) -> DataDiff:
    names_a, names_b = src_a.names, src_b.names
    in_a, in_b = set(names_a), set(names_b)
    schema: dict = {"added": [c for c in names_b if c not in in_a], "removed": [c for c in names_a if c not in in_b],
                    "dtype_changes": []}
    keyed = bool(keys) and all(k in in_a and k in in_b for k in keys)
    matcher = _KeyMatcher(src_a, src_b, keys) if keyed else _MultisetMatcher(src_a.rows, src_b.rows)
    stats: dict = {}
    drift: dict = {}
    for column in names_a + schema["added"]:
        sa = src_a.series(column) if column in in_a else None
        sb = src_b.series(column) if column in in_b else None
        stats[column] = {"a": sa is not None and _compare.column_stats(sa) or None,
                         "b": sb is not None and _compare.column_stats(sb) or None}
        if sa is not None and sb is not None:
            if str(sa.dtype) != str(sb.dtype):
                schema["dtype_changes"].append({"column": column, "before": str(sa.dtype), "after": str(sb.dtype)})
            drift[column] = _compare.column_drift(sa, sb)
            matcher.add(column, sa, sb)
        del sa, sb
    return DataDiff(name, a, b, keys or None, schema, matcher.result(), stats, drift)


def _key_index(cols: list["pd.Series"]) -> "pd.Index":
    import pandas as pd

    if len(cols) == 1:
        return pd.Index(cols[0])
    return pd.MultiIndex.from_arrays(cols)


def _not_equal(x: "pd.Series", y: "pd.Series") -> "Any":
    """Element-wise 'differs' (nulls equal nulls, NaN equals NaN), computed in Arrow where possible."""
    import numpy as np
    import pyarrow as pa

    from nbtrack.data._repo import _equal

    try:
        return ~_equal(pa.chunked_array([pa.array(x, from_pandas=True)]),
                       pa.chunked_array([pa.array(y, from_pandas=True)]))
    except (pa.ArrowException, TypeError, ValueError):
        pass
    try:
        eq = np.asarray(x.to_numpy() == y.to_numpy(), dtype=bool)
    except (TypeError, ValueError):
        eq = (x.astype(object).to_numpy() == y.astype(object).to_numpy()).astype(bool)
    both_na = x.isna().to_numpy() & y.isna().to_numpy()
    return ~(eq | both_na)


class _KeyMatcher:
    """Rows matched by key: added, removed, changed rows and changed cells per column."""

    def __init__(self, src_a: Any, src_b: Any, keys: list[str]):
        import numpy as np

        self.keys = keys
        index_a = _key_index([src_a.series(k) for k in keys])
        self.index_b = _key_index([src_b.series(k) for k in keys])
        in_a = index_a.get_indexer(self.index_b)  # for each row of b: its row in a, or -1
        added_rows = np.flatnonzero(in_a < 0)
        self.matched_b = np.flatnonzero(in_a >= 0)
        self.matched_a = in_a[self.matched_b]
        del in_a
        removed = np.ones(src_a.rows, dtype=bool)
        removed[self.matched_a] = False
        removed_rows = np.flatnonzero(removed)
        del removed
        self.counts = (len(added_rows), len(removed_rows))
        self.added_examples = [_key_value(self.index_b, i) for i in added_rows[:MAX_EXAMPLES]]
        self.removed_examples = [_key_value(index_a, i) for i in removed_rows[:MAX_EXAMPLES]]
        del index_a, added_rows, removed_rows  # frees a's key hash table for the column pass
        n = len(self.matched_b)
        # same keys in the same order (edits only): compare columns as they are, without reordered copies
        self.aligned = n == src_a.rows == src_b.rows and bool((self.matched_a == np.arange(n)).all())
        self.changed_any = np.zeros(len(self.matched_b), dtype=bool)
        self.changed_columns: dict[str, int] = {}
        self.examples: list[dict] = []

    def add(self, column: str, sa: "pd.Series", sb: "pd.Series") -> None:
        import numpy as np

        if column in self.keys:
            return
        if self.aligned:
            x, y = sa, sb
        else:
            x = sa.iloc[self.matched_a].reset_index(drop=True)
            y = sb.iloc[self.matched_b].reset_index(drop=True)
        neq = _not_equal(x, y)
        count = int(neq.sum())
        if not count:
            return
        self.changed_columns[column] = count
        self.changed_any |= neq
        for i in np.flatnonzero(neq)[: max(0, MAX_EXAMPLES - len(self.examples))]:
            self.examples.append({"key": _key_value(self.index_b, self.matched_b[i]), "column": column,
                                  "before": _compare._py(x.iloc[i]), "after": _compare._py(y.iloc[i])})

    def result(self) -> dict:
        changed = int(self.changed_any.sum())
        return {
            "mode": "key", "key": self.keys,
            "added": int(self.counts[0]), "removed": int(self.counts[1]), "changed": changed,
            "unchanged": int(len(self.matched_b) - changed), "changed_columns": self.changed_columns,
            "examples": {"added": self.added_examples, "removed": self.removed_examples, "changed": self.examples},
        }


def _key_value(index: "pd.Index", position: int) -> Any:
    value = index[int(position)]
    return [_compare._py(v) for v in value] if isinstance(value, tuple) else _compare._py(value)


def _row_codes(sa: "pd.Series", sb: "pd.Series") -> tuple["Any", "Any"]:
    """uint64 codes per row, equal exactly when the values are equal, without a hash table of all rows.

    Numbers: their bit patterns (one code for every NaN, +0 == -0). Categoricals: b's categories
    mapped onto a's. Strings and others: Arrow dictionary of a's values, b looked up in it (values
    a never had get a code a never uses).
    """
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    def numeric_bits(series):
        if pd.api.types.is_float_dtype(series.dtype):
            values = series.to_numpy(dtype=np.float64, na_value=np.nan).copy()
            values[values == 0] = 0.0
            values[np.isnan(values)] = np.nan
            return values.view(np.uint64)
        if pd.api.types.is_datetime64_any_dtype(series.dtype) or pd.api.types.is_timedelta64_dtype(series.dtype):
            return series.to_numpy().view(np.int64).astype(np.uint64)
        return series.to_numpy(dtype=np.int64).astype(np.uint64, copy=True)

    plain = lambda s: (pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_datetime64_any_dtype(s.dtype)  # noqa: E731
                       or pd.api.types.is_timedelta64_dtype(s.dtype)) and not s.hasnans and \
        not isinstance(s.dtype, pd.CategoricalDtype)
    if plain(sa) and plain(sb) and sa.dtype.kind == sb.dtype.kind:
        return numeric_bits(sa), numeric_bits(sb)
    if isinstance(sa.dtype, pd.CategoricalDtype) and isinstance(sb.dtype, pd.CategoricalDtype):
        mapping = np.append(pd.Index(sa.cat.categories).get_indexer(sb.cat.categories), -1)
        mapping[mapping < 0] = -2  # categories (or NaN) of b only
        codes_b = mapping[sb.cat.codes.to_numpy()]
        codes_b[sb.cat.codes.to_numpy() < 0] = -1  # NaN matches NaN
        return sa.cat.codes.to_numpy().astype(np.int64).view(np.uint64), codes_b.astype(np.int64).view(np.uint64)
    try:
        encoded = pa.chunked_array([pa.array(sa, from_pandas=True)]).dictionary_encode(null_encoding="encode")
        dictionary = encoded.chunk(0).dictionary
        codes_a = np.asarray(encoded.chunk(0).indices.to_numpy(zero_copy_only=False), dtype=np.int64)
        found = pc.index_in(pa.array(sb, from_pandas=True), value_set=dictionary, skip_nulls=False)
        codes_b = np.asarray(found.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)
    except (pa.ArrowException, TypeError, ValueError):
        codes_a, uniques = pd.factorize(sa.astype(str), use_na_sentinel=False)
        codes_b = pd.Index(uniques).get_indexer(sb.astype(str))
    return np.asarray(codes_a, dtype=np.int64).view(np.uint64), np.asarray(codes_b, dtype=np.int64).view(np.uint64)


class _MultisetMatcher:
    """Rows as multisets: a 64-bit hash per row built column by column from codes shared by both versions."""

    def __init__(self, rows_a: int, rows_b: int):
        import numpy as np

        self.hash_a = np.zeros(rows_a, dtype=np.uint64)
        self.hash_b = np.zeros(rows_b, dtype=np.uint64)

    def add(self, column: str, sa: "pd.Series", sb: "pd.Series") -> None:
        import numpy as np
        import pandas as pd

        codes_a, codes_b = _row_codes(sa, sb)
        with np.errstate(over="ignore"):
            for target, codes in ((self.hash_a, codes_a), (self.hash_b, codes_b)):
                target ^= codes + np.uint64(0x9E3779B97F4A7C15)
                target *= np.uint64(0xBF58476D1CE4E5B9)
                target ^= target >> np.uint64(31)

    def result(self) -> dict:
        import numpy as np

        # multiset intersection of two sorted hash arrays, in blocks: a row of b is matched when its
        # rank among equal hashes of b is below the number of equal hashes in a
        hash_a, hash_b = self.hash_a, self.hash_b
        hash_a.sort()
        hash_b.sort()
        common = 0
        block = 1 << 20
        for start in range(0, len(hash_b), block):
            x = hash_b[start:start + block]
            in_a = np.searchsorted(hash_a, x, side="right") - np.searchsorted(hash_a, x, side="left")
            rank = np.arange(start, start + len(x)) - np.searchsorted(hash_b, x, side="left")
            common += int((in_a > rank).sum())
        removed, added = len(self.hash_a) - common, len(self.hash_b) - common
        return {"mode": "multiset", "key": None, "added": added, "removed": removed, "changed": None,
                "unchanged": int(len(self.hash_b) - added), "changed_columns": {},
                "examples": {"added": [], "removed": [], "changed": []},
                "note": "without a key a changed row counts as one removed and one added row"}


# ---------------------------------------------------------------- HTML
def _e(value: Any) -> str:
    if isinstance(value, float):
        return html.escape(f"{value:.4g}")
    return html.escape("" if value is None else str(value))


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table class='nbtrack-diff'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _render_html(d: DataDiff) -> str:
    s, r = d.schema, d.rows
    parts = [f"<div class='nbtrack-diff'><h4>{_e(d.name)}: version {_e(d.a)} &rarr; {_e(d.b)}</h4>"]
    parts.append("<p><b>Schema</b>: added " + _e(", ".join(s["added"]) or "none") + "; removed "
                 + _e(", ".join(s["removed"]) or "none") + "</p>")
    if s["dtype_changes"]:
        parts.append(_table(["column", "before", "after"],
                            [[c["column"], c["before"], c["after"]] for c in s["dtype_changes"]]))
    changed = f", {r['changed']} changed" if r["mode"] == "key" else ""
    parts.append(f"<p><b>Rows</b> (by {_e('key ' + ', '.join(map(str, r['key'])) if r['key'] else 'content')}): "
                 f"{_e(r['added'])} added, {_e(r['removed'])} removed{_e(changed)}, {_e(r['unchanged'])} unchanged</p>")
    if r["examples"]["changed"]:
        parts.append(_table(["key", "column", "before", "after"],
                            [[x["key"], x["column"], x["before"], x["after"]] for x in r["examples"]["changed"]]))
    frame = d.to_frame()
    parts.append("<p><b>Columns</b></p>")
    parts.append(_table(list(frame.columns), frame.astype(object).where(frame.notna(), None).values.tolist()))
    parts.append("</div>")
    return "".join(parts)
