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

    ``key`` overrides the key recorded with the versions (a column label or a list).

    Example::

        d = nbtrack.diff("customers", 1, 2)
        print(d.summary()); d.to_frame()
    """
    from nbtrack.data._repo import _store, get_version, load

    store = _store(store)
    vb = get_version(name, b, store=store)
    va = get_version(name, a if a is not None else vb.version - 1 if vb.version > 1 else vb.version, store=store)
    key = key if key is not None else (vb.key or va.key)
    if isinstance(key, (list, tuple)) and len(key) == 1:
        key = key[0]
    frame_a = load(name, va.version, store=store)
    frame_b = load(name, vb.version, store=store)
    keys = key if isinstance(key, list) else [key]
    if key is not None and all(k not in frame_b.columns and k in frame_b.index.names for k in keys):
        frame_a, frame_b = frame_a.reset_index(), frame_b.reset_index()  # a key in the index: compare as columns
    return compare(frame_a, frame_b, key=key, name=name, a=va.version, b=vb.version)


def compare(frame_a: "pd.DataFrame", frame_b: "pd.DataFrame", *, key: Any = None, name: str = "",
            a: int = 0, b: int = 0) -> DataDiff:
    """The diff of two DataFrames (what :func:`diff` computes on loaded versions)."""
    names_a, names_b = _compare.column_names(frame_a), _compare.column_names(frame_b)
    pos_a, pos_b = dict(zip(names_a, range(len(names_a)))), dict(zip(names_b, range(len(names_b))))
    common = [c for c in names_a if c in pos_b]
    schema = {
        "added": [c for c in names_b if c not in pos_a],
        "removed": [c for c in names_a if c not in pos_b],
        "dtype_changes": [
            {"column": c, "before": str(frame_a.dtypes.iloc[pos_a[c]]), "after": str(frame_b.dtypes.iloc[pos_b[c]])}
            for c in common if str(frame_a.dtypes.iloc[pos_a[c]]) != str(frame_b.dtypes.iloc[pos_b[c]])
        ],
    }
    col_a = lambda c: frame_a.iloc[:, pos_a[c]]  # noqa: E731
    col_b = lambda c: frame_b.iloc[:, pos_b[c]]  # noqa: E731
    keys = key if isinstance(key, list) else ([key] if key is not None else [])
    if keys and all(str(k) in pos_a and str(k) in pos_b for k in keys):
        rows = _rows_by_key(frame_a, frame_b, [str(k) for k in keys], common, col_a, col_b)
    else:
        rows = _rows_as_multisets(frame_a, frame_b, common, col_a, col_b)
    stats: dict = {}
    for c in names_a:
        stats.setdefault(c, {"a": None, "b": None})["a"] = _compare.column_stats(col_a(c))
    for c in names_b:
        stats.setdefault(c, {"a": None, "b": None})["b"] = _compare.column_stats(col_b(c))
    drift = {c: _compare.column_drift(col_a(c), col_b(c)) for c in common}
    return DataDiff(name, a, b, keys or None, schema, rows, stats, drift)


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


def _rows_by_key(frame_a, frame_b, keys, common, col_a, col_b) -> dict:
    import numpy as np

    index_a = _key_index([col_a(k) for k in keys])
    index_b = _key_index([col_b(k) for k in keys])
    in_a = index_a.get_indexer(index_b)  # for each row of b: its row in a, or -1
    added_rows = np.flatnonzero(in_a < 0)
    matched_b = np.flatnonzero(in_a >= 0)
    matched_a = in_a[matched_b]
    removed_mask = np.ones(len(frame_a), dtype=bool)
    removed_mask[matched_a] = False
    removed_rows = np.flatnonzero(removed_mask)
    changed_any = np.zeros(len(matched_b), dtype=bool)
    changed_columns: dict[str, int] = {}
    examples: list[dict] = []
    for c in common:
        if c in keys:
            continue
        x = col_a(c).iloc[matched_a].reset_index(drop=True)
        y = col_b(c).iloc[matched_b].reset_index(drop=True)
        neq = _not_equal(x, y)
        count = int(neq.sum())
        if count:
            changed_columns[c] = count
            changed_any |= neq
            for i in np.flatnonzero(neq)[: max(0, MAX_EXAMPLES - len(examples))]:
                examples.append({"key": _key_value(index_b, matched_b[i]), "column": c,
                                 "before": _compare._py(x.iloc[i]), "after": _compare._py(y.iloc[i])})
    return {
        "mode": "key", "key": keys,
        "added": int(len(added_rows)), "removed": int(len(removed_rows)), "changed": int(changed_any.sum()),
        "unchanged": int(len(matched_b) - changed_any.sum()), "changed_columns": changed_columns,
        "examples": {
            "added": [_key_value(index_b, i) for i in added_rows[:MAX_EXAMPLES]],
            "removed": [_key_value(index_a, i) for i in removed_rows[:MAX_EXAMPLES]],
            "changed": examples,
        },
    }


def _key_value(index: "pd.Index", position: int) -> Any:
    value = index[int(position)]
    return [_compare._py(v) for v in value] if isinstance(value, tuple) else _compare._py(value)


def _rows_as_multisets(frame_a, frame_b, common, col_a, col_b) -> dict:
    import pandas as pd

    def row_hashes(frame, col):
        if not common:
            return pd.Series([0] * len(frame), dtype="uint64")
        sub = pd.DataFrame({i: col(c).reset_index(drop=True) for i, c in enumerate(common)})
        try:
            return pd.util.hash_pandas_object(sub, index=False)
        except TypeError:
            return pd.util.hash_pandas_object(sub.astype(str), index=False)

    counts_a = row_hashes(frame_a, col_a).value_counts()
    counts_b = row_hashes(frame_b, col_b).value_counts()
    both = counts_a.to_frame("a").join(counts_b.to_frame("b"), how="outer").fillna(0)
    removed = int((both["a"] - both["b"]).clip(lower=0).sum())
    added = int((both["b"] - both["a"]).clip(lower=0).sum())
    return {"mode": "multiset", "key": None, "added": added, "removed": removed, "changed": None,
            "unchanged": int(len(frame_b) - added), "changed_columns": {},
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
