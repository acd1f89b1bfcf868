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

from nbtrack.data import _chunks, _compare, _diff_rows, _frame, _versions
from nbtrack.errors import ArtifactNotFoundError, DatasetNotFoundError, InvalidValueError
from nbtrack.store import datasets as _dal

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import pyarrow as pa

    from nbtrack.store import Store, StoreLike

MAX_EXAMPLES = 20


@dataclass
class DataDiff:
    """What changed between version ``a`` and version ``b`` of dataset ``name`` (for :func:`compare` of two
    DataFrames: no versions, unless given)."""

    name: str
    a: int | None
    b: int | None
    key: list | None
    schema: dict
    rows: dict
    stats: dict = field(default_factory=dict)  # column -> {"a": stats, "b": stats}
    drift: dict = field(default_factory=dict)  # column -> {kind, psi, ks, ks_pvalue}

    def to_dict(self) -> dict:
        """JSON-ready: {name, a, b, key, schema, rows, stats, drift}."""
        return {
            "name": self.name,
            "a": self.a,
            "b": self.b,
            "key": [str(k) for k in self.key] if self.key else None,
            "schema": self.schema,
            "rows": self.rows,
            "stats": self.stats,
            "drift": self.drift,
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per column: dtypes, nulls, means, changed rows, PSI and KS."""
        import pandas as pd

        changed = self.rows.get("changed_columns", {})
        records = []
        for column in self.stats:
            a, b = self.stats[column].get("a"), self.stats[column].get("b")
            d = self.drift.get(column, {})
            records.append(
                {
                    "column": column,
                    "status": "added" if a is None else "removed" if b is None else "common",
                    "dtype_a": a and a["dtype"],
                    "dtype_b": b and b["dtype"],
                    "nulls_a": a and a["nulls"],
                    "nulls_b": b and b["nulls"],
                    "mean_a": a and a["mean"],
                    "mean_b": b and b["mean"],
                    "changed_rows": changed.get(column),
                    "psi": d.get("psi"),
                    "ks": d.get("ks"),
                    "ks_pvalue": d.get("ks_pvalue"),
                }
            )
        return pd.DataFrame.from_records(
            records,
            columns=[
                "column",
                "status",
                "dtype_a",
                "dtype_b",
                "nulls_a",
                "nulls_b",
                "mean_a",
                "mean_b",
                "changed_rows",
                "psi",
                "ks",
                "ks_pvalue",
            ],
        )

    def title(self) -> str:
        """``customers: version 1 -> 2``, or for two DataFrames ``DataFrames: frame_a -> frame_b``."""
        if self.a is not None and self.b is not None:
            return f"{self.name or 'DataFrames'}: version {self.a} -> {self.b}"
        a = f"version {self.a}" if self.a is not None else "frame_a"
        b = f"version {self.b}" if self.b is not None else "frame_b"
        return f"{self.name or 'DataFrames'}: {a} -> {b}"

    def summary(self) -> str:
        """A few lines of plain text."""
        s, r = self.schema, self.rows
        lines = [self.title()]
        if s["added"] or s["removed"] or s["dtype_changes"]:
            lines.append(
                f"  columns added {s['added']}, removed {s['removed']}, dtype changes "
                f"{[(c['column'], c['before'], c['after']) for c in s['dtype_changes']]}"
            )
        else:
            lines.append("  same columns and dtypes")
        lines.append(
            f"  rows ({r['mode']}): +{r['added']} -{r['removed']}"
            + (f" ~{r['changed']} changed" if r["mode"] == "key" else "")
            + f", {r['unchanged']} unchanged"
        )
        if r.get("changed_columns"):
            lines.append(
                "  changed cells per column: " + ", ".join(f"{c}={n}" for c, n in r["changed_columns"].items())
            )
        shifted = [(c, d["psi"]) for c, d in self.drift.items() if d.get("psi") is not None and d["psi"] > 0.1]
        if shifted:
            lines.append("  drift (PSI > 0.1): " + ", ".join(f"{c}={p:.3f}" for c, p in shifted))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return _render_html(self)


# ---------------------------------------------------------------- computing
def diff(
    name: str,
    a: int | str | None = None,
    b: int | str | None = None,
    *,
    key: Any = None,
    store: StoreLike | None = None,
) -> DataDiff:
    """Compare versions ``a`` and ``b`` of dataset ``name`` (defaults: the two latest).

    ``key`` overrides the key recorded with the versions (a column label or a list). Versions that
    together take at most 512 MB are read whole; larger ones one column at a time from the stored
    chunks, so the memory needed is about one column of each version plus a few bytes per row (see
    docs/data.md, "Memory").

    Example::

        d = nbtrack.diff("customers", 1, 2)
        print(d.summary()); d.to_frame()
    """
    store = _versions._store(store)
    vb = _versions.get_version(name, b, store=store)
    va = _versions.get_version(
        name, a if a is not None else vb.version - 1 if vb.version > 1 else vb.version, store=store
    )
    explicit = key is not None
    key = key if explicit else (vb.key or va.key)
    keys = list(key) if isinstance(key, list) else ([key] if key is not None else [])
    source_a, source_b = _VersionSource(store, name, va.version), _VersionSource(store, name, vb.version)
    if explicit:
        _check_key(keys, source_a, source_b, name)
    # a key in the index: its levels are compared as columns, as after reset_index(); levels that are not
    # plain names (numbers, tuples; MultiIndex columns) are left to pandas to name, on whole frames
    if (
        keys
        and not all(str(k) in source.names for k in keys for source in (source_a, source_b))
        and not (source_a.index_as_columns() and source_b.index_as_columns())
    ):
        source_a = _FrameSource(_index_as_columns(_versions.load(name, va.version, store=store), name))
        source_b = _FrameSource(_index_as_columns(_versions.load(name, vb.version, store=store), name))
    return _compare_sources(source_a, source_b, [str(k) for k in keys], name, va.version, vb.version)


def _index_as_columns(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    try:
        return frame.reset_index()
    except ValueError as exc:  # a level named like a column
        raise InvalidValueError(
            f"the index of {name!r} cannot be compared as columns ({exc}): give the index levels names no "
            "column has (df.rename_axis(...)) in the next snapshot, or pass a column as key=."
        ) from exc


def _check_key(keys: list, src_a: Any, src_b: Any, name: str) -> None:
    """Refuse a ``key=`` that is not a column (or index level) of both versions."""
    for k in keys:
        if not all(str(k) in src.names or k in src.index_names for src in (src_a, src_b)):
            raise InvalidValueError(
                f"key {k!r} is not a column of both versions of {name!r} (columns: {src_b.names[:10]}): "
                "pass one of them as key=, or leave key out to use the key recorded at snapshot time."
            )


def compare(
    frame_a: pd.DataFrame,
    frame_b: pd.DataFrame,
    *,
    key: Any = None,
    name: str = "",
    a: int | None = None,
    b: int | None = None,
) -> DataDiff:
    """The diff of two DataFrames (what :func:`diff` computes on two versions); ``name``, ``a`` and ``b`` only
    label it (its summary reads ``DataFrames: frame_a -> frame_b`` without them)."""
    keys = list(key) if isinstance(key, list) else ([key] if key is not None else [])
    return _compare_sources(_FrameSource(frame_a), _FrameSource(frame_b), [str(k) for k in keys], name, a, b)


class _FrameSource:
    """The columns of an in-memory DataFrame (never modified)."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame
        self.names = _compare.column_names(frame)
        self.rows = len(frame)
        self.index_names = list(frame.index.names)
        self._pos = {n: i for i, n in enumerate(self.names)}

    def series(self, name: str) -> pd.Series:
        return self.frame.iloc[:, self._pos[name]].reset_index(drop=True)


#: Two versions estimated to take at most this much memory together as Arrow tables are read whole, each
#: in one pass over its chunks (a 1 M-row, 6-column version: 0.07 s instead of 0.31 s column by column);
#: larger ones are read one column at a time, so a diff never holds both frames (docs/data.md, "Memory").
WHOLE_BYTES = 512 * 1024 * 1024


class _VersionSource:
    """The columns of a stored version, each loaded on demand (decoding only that field of each chunk), or
    all at once after :meth:`read_whole`."""

    def __init__(self, store: Store, name: str, version: int):
        self.store, self.name, self.version = store, name, version
        stored = _dal.version_layout(store, name, version)
        if stored is None:
            raise DatasetNotFoundError(f"Dataset {name!r} has no version {version}: see nbtrack.versions({name!r}).")
        self.meta = stored.meta
        self.rows = stored.rows
        self.names = _frame.display_names(self.meta)
        self.index_names = _frame.index_names(self.meta)
        self._pos = {n: i for i, n in enumerate(self.names)}
        self._levels: dict[str, int] = {}
        self._whole: pa.Table | None = None

    def index_as_columns(self) -> bool:
        """Show the index levels as the first columns, as ``reset_index()`` names them (when it would
        name them after the levels: every level named by a string no column has); False if not."""
        levels = self.index_names
        if (
            self.meta["columns"]["kind"] == "multi"
            or not all(isinstance(n, str) for n in levels)
            or len(set(levels)) < len(levels)
            or set(levels) & set(self.names)
        ):
            return False
        self._levels = {n: i for i, n in enumerate(levels)}
        self.names = list(levels) + self.names
        return True

    def estimated_bytes(self) -> int:
        """The memory of this version as an Arrow table, estimated from its first stored chunk."""
        return int(_bytes_per_row(self.store, self.name, self.version) * self.rows)

    def read_whole(self) -> None:
        """Read every column now, in one pass over the chunks; :meth:`series` then takes them from memory."""
        self._whole = _versions.load_table(self.store, self.name, self.version)

    def series(self, name: str) -> pd.Series:
        if name in self._levels:
            level = self._levels[name]
            field = _frame.level_field(level)
            table = self._table(field)
            series = _frame.level_series(table, self.meta, level)
        else:
            position = self._pos[name]
            table = self._table(f"_c{position}")
            series = _frame.column_series(table, self.meta, position)
        del table
        if self._whole is None:
            _versions._release_arrow_memory()  # the decoded chunks' pages go back to the OS before the next column
        return series

    def _table(self, field: str) -> pa.Table:
        if self._whole is not None:
            return self._whole.select([field])
        return _versions.load_table(self.store, self.name, self.version, columns=[field])


def _bytes_per_row(store: Store, name: str, version: int) -> float:
    """The Arrow bytes per row of the first chunk of rows the version (or the full version its deltas
    start from) stores: 0 when it stores none."""
    layout = _dal.version_layout(store, name, version)
    while layout is not None and layout.storage != "full" and layout.parent is not None:
        layout = _dal.version_layout(store, name, layout.parent)
    if layout is None:
        return 0.0
    first = next((c for c in _dal.version_chunks(store, name, layout.version) if c.role == "rows"), None)
    if first is None or not first.rows:
        return 0.0
    try:
        return _chunks.decode(store.blobs.read_bytes(first.blob)).nbytes / first.rows
    except ArtifactNotFoundError:  # reading the version says what is missing and what to do
        return 0.0


def _read_whole_if_small(src_a: Any, src_b: Any) -> None:
    """Read both stored versions whole, in parallel, when together they fit :data:`WHOLE_BYTES`."""
    sources = [s for s in (src_a, src_b) if isinstance(s, _VersionSource)]
    if len(sources) < 2 or sum(s.estimated_bytes() for s in sources) > WHOLE_BYTES:
        return
    if src_a.store.conn.in_transaction:  # maybe this thread's snapshot: a second thread would wait for it forever
        src_a.read_whole()
        src_b.read_whole()
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        other = pool.submit(src_b.read_whole)
        src_a.read_whole()
        other.result()


def _compare_sources(src_a: Any, src_b: Any, keys: list[str], name: str, a: int | None, b: int | None) -> DataDiff:
    names_a, names_b = src_a.names, src_b.names
    in_a, in_b = set(names_a), set(names_b)
    schema: dict = {
        "added": [c for c in names_b if c not in in_a],
        "removed": [c for c in names_a if c not in in_b],
        "dtype_changes": [],
    }
    _read_whole_if_small(src_a, src_b)
    matcher = _matcher(src_a, src_b, keys, in_a & in_b)
    stats: dict = {}
    drift: dict = {}
    for column in _progress(names_a + schema["added"], max(src_a.rows, src_b.rows), name):
        sa = src_a.series(column) if column in in_a else None
        sb = src_b.series(column) if column in in_b else None
        if sa is None or sb is None:  # added or removed: statistics only
            stats[column] = {
                "a": sa is not None and _compare.column_stats(sa) or None,
                "b": sb is not None and _compare.column_stats(sb) or None,
            }
            del sa, sb
            continue
        same_dtype = str(sa.dtype) == str(sb.dtype)
        if not same_dtype:
            schema["dtype_changes"].append({"column": column, "before": str(sa.dtype), "after": str(sb.dtype)})
        matcher.add(column, sa, sb)
        unchanged = same_dtype and matcher.same_values(column)
        _release_arrow_memory()
        numeric = _compare.is_numeric(sa) and _compare.is_numeric(sb)
        integers = _compare.is_integer(sa) and _compare.is_integer(sb)
        stats_a, summary_a = _compare.summarize(sa, numeric)
        del sa  # one side at a time: a's column is freed before b's summary is made
        stats_b, summary_b = _compare.summarize(sb, numeric)
        del sb
        stats[column] = {"a": stats_a, "b": stats_b}
        drift[column] = (
            _compare.unchanged_drift(summary_a, numeric)
            if unchanged
            else _compare.drift_of(summary_a, summary_b, numeric, integers)
        )
        del summary_a, summary_b
        _release_arrow_memory()
    return DataDiff(name, a, b, keys or None, schema, matcher.result(), stats, drift)


def _release_arrow_memory() -> None:
    _versions._release_arrow_memory()


def _matcher(src_a: Any, src_b: Any, keys: list[str], common: set) -> Any:
    """A key matcher when every key column is in both versions, else a multiset matcher."""
    if keys and all(k in common for k in keys):
        return _diff_rows.KeyMatcher(
            [src_a.series(k) for k in keys], [src_b.series(k) for k in keys], keys, src_b.series
        )
    return _diff_rows.MultisetMatcher(src_a.rows, src_b.rows)


def _progress(columns: list[str], rows: int, name: str) -> Any:
    """The columns, with a progress bar when the versions are large enough for the diff to take a while."""
    return _chunks.progress_over(columns, total=len(columns), cells=rows * len(columns), desc=f"diff {name}")


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
    parts = [f"<div class='nbtrack-diff'><h4>{_e(d.title()).replace(' -&gt; ', ' &rarr; ')}</h4>"]
    parts.append(
        "<p><b>Schema</b>: added "
        + _e(", ".join(s["added"]) or "none")
        + "; removed "
        + _e(", ".join(s["removed"]) or "none")
        + "</p>"
    )
    if s["dtype_changes"]:
        parts.append(
            _table(["column", "before", "after"], [[c["column"], c["before"], c["after"]] for c in s["dtype_changes"]])
        )
    changed = f", {r['changed']} changed" if r["mode"] == "key" else ""
    parts.append(
        f"<p><b>Rows</b> (by {_e('key ' + ', '.join(map(str, r['key'])) if r['key'] else 'content')}): "
        f"{_e(r['added'])} added, {_e(r['removed'])} removed{_e(changed)}, {_e(r['unchanged'])} unchanged</p>"
    )
    if r["examples"]["changed"]:
        parts.append(
            _table(
                ["key", "column", "before", "after"],
                [[x["key"], x["column"], x["before"], x["after"]] for x in r["examples"]["changed"]],
            )
        )
    frame = d.to_frame()
    parts.append("<p><b>Columns</b></p>")
    parts.append(_table(list(frame.columns), frame.astype(object).where(frame.notna(), None).values.tolist()))
    parts.append("</div>")
    return "".join(parts)
