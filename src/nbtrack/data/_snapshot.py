"""The write side of DataFrame versions: ``snapshot`` and how a version is stored.

A version is stored in full (content-defined chunks, see :mod:`nbtrack.data._chunks`) or, with a
key, as a delta against its parent (the changed rows plus a row-source map).

Write order: chunks go to the blob store first (each atomically), then one transaction
inserts the version's rows. A crash in between leaves only unreferenced blobs (``gc``
removes them), never a version with a missing chunk. Reading is in :mod:`nbtrack.data._versions`.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from nbtrack.data import _chunks, _deltas, _fingerprint, _frame, _labels
from nbtrack.data._validate import check
from nbtrack.data._versions import (
    DataVersion,
    _check_name,
    _schema_from_meta,
    _store,
    _version_from_row,
    get_version,
    load_table,
)
from nbtrack.errors import InvalidValueError
from nbtrack.store import datasets as _dal
from nbtrack.tracking import active_run

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    from nbtrack.store import Store, StoreLike

MAX_DEPTH = 8  # a keyed delta chain longer than this is compacted into a full version
MAX_DELTA_FRACTION = 0.3  # more changed rows than this: store the version in full
# New datasets compress their chunks with lz4: loads measured 1.5x faster than with zstd, for ~1.4x the bytes;
# "+delta" stores sorted keys and timestamps as differences (docs/data.md). A dataset keeps the codec of its
# first version, so its chunks keep deduplicating.
CODEC = "lz4+delta"


# ---------------------------------------------------------------- snapshot
def snapshot(
    df: pd.DataFrame,
    name: str,
    key: str | Sequence | None = None,
    message: str | None = None,
    *,
    expect: Any = None,
    store: StoreLike | None = None,
) -> DataVersion:
    """Store ``df`` as the next version of dataset ``name`` and return its :class:`DataVersion`.

    Identical content (same fingerprint) writes no data and returns the existing version with
    ``unchanged=True``; a ``message`` given then is added to that version's message (a line each).
    With ``key`` (a column label or list of labels whose values are unique), a version that
    changes few rows is stored as the changed rows plus a row map against the previous
    version. ``expect`` is checked before anything else and refuses the snapshot
    (``DataValidationError``, listing every failing check) when a check fails: either built-in
    checks ``{column: {"not_null": True, "unique": True, "range": (lo, hi)}}`` or a pandera
    ``DataFrameSchema`` / ``DataFrameModel`` (``pip install ".[pandera]"`` in the nbtrack checkout). Inside a run (``with
    nbtrack.start_run()`` or a ``%%track`` cell) the version is recorded as the run's output.

    Example::

        v = nbtrack.snapshot(df, "customers", key="id", message="March export")
        v.version, v.fingerprint, v.bytes_added
        nbtrack.snapshot(df, "people", expect={"age": {"range": (0, 120)}})
    """
    _check_name(name)
    table, meta = _frame.to_arrow(df)
    if expect is not None:
        check(df, expect)
    fp = _fingerprint.fingerprint_table(table, meta)
    store = _store(store, create=True)
    run = _active_run(store)
    existing = _dal.version_with_fingerprint(store, name, fp)
    if existing is not None:
        found = _kept_message(store, _version_from_row(existing), message)
        _record_output(run, found)
        return replace(found, unchanged=True)
    key_fields = _key_fields(df, key, meta) if key is not None else None
    plan = _plan(store, name, table, meta, key_fields)
    written = plan.write(store, desc=f"snapshot {name}")
    version = _insert_version(store, name, fp, df, meta, table, key, key_fields, message, run, plan, written)
    _record_output(run, version)
    return version


def _active_run(store: Store) -> Any:
    run = active_run()
    if run is not None and getattr(run.store, "root", None) != store.root:
        return None
    return run


def _record_output(run: Any, version: DataVersion) -> None:
    if run is not None:
        run.record_data(
            "output",
            version.fingerprint,
            dataset=version.name,
            version=version.version,
            rows=version.rows,
            columns=version.columns,
        )


def _key_labels(key: Any) -> list:
    labels = list(key) if isinstance(key, list) else [key]
    return [_labels.encode_label(x, "key") for x in labels]


def _key_fields(df: pd.DataFrame, key: Any, meta: dict) -> list[str]:
    """Arrow field names of the key columns; refuses missing or non-unique keys."""
    labels = list(key) if isinstance(key, list) else [key]
    fields = []
    for label in labels:
        positions = [i for i, c in enumerate(df.columns) if c == label]
        if len(positions) == 1:
            fields.append(f"_c{positions[0]}")
            continue
        if len(positions) > 1:
            raise InvalidValueError(f"key column {label!r} appears {len(positions)} times; rename the duplicates.")
        if label is not None and label in list(df.index.names):
            if meta["index"]["kind"] == "range":
                raise InvalidValueError(
                    f"key {label!r} is a RangeIndex (positions, not stored values), so it cannot match rows "
                    f"between versions: use df.reset_index() and key={label!r}, or key=None."
                )
            fields.append(f"__index_level_{list(df.index.names).index(label)}__")
            continue
        raise InvalidValueError(
            f"key {label!r} is not a column of the DataFrame (columns: {list(df.columns)[:10]}); "
            "pass key=None to snapshot without a key."
        )
    key_frame = df[[c for c in labels if c in df.columns]] if all(c in df.columns for c in labels) else None
    dup = key_frame.duplicated().any() if key_frame is not None else df.index.duplicated().any()
    if dup:
        raise InvalidValueError(
            f"key {labels if len(labels) > 1 else labels[0]!r} has duplicate values, so rows cannot be matched "
            "between versions: pass a unique key (or a list of columns) or key=None."
        )
    return fields


# ---------------------------------------------------------------- storage plans
@dataclass
class _Written:
    chunks: list[tuple[str, int, _chunks.Chunk]]  # (role, seq, chunk)

    @property
    def bytes_added(self) -> int:
        return sum(c.nbytes for _, _, c in self.chunks if c.new)

    @property
    def bytes_stored(self) -> int:
        return sum(c.nbytes for _, _, c in self.chunks)


class _Plan:
    storage = "full"
    parent: int | None = None
    depth = 0

    def __init__(self, table: pa.Table, avg_rows: int, codec: str):
        self.table = table
        self.avg_rows = avg_rows
        self.codec = codec

    def write(self, store: Store, desc: str | None = None) -> _Written:
        cuts = _chunks.cut_points(self.table, self.avg_rows)
        chunks = _chunks.write_chunks(self.table, cuts, store.blobs, desc=desc, codec=self.codec)
        return _Written([("rows", i, c) for i, c in enumerate(chunks)])


class _DeltaPlan(_Plan):
    storage = "delta"

    def __init__(
        self, changed: pa.Table, src: np.ndarray, avg_rows: int, parent: int, depth: int, parent_rows: int, codec: str
    ):
        super().__init__(changed, avg_rows, codec)
        self.src = src
        self.parent_rows = parent_rows
        self.layout: dict = {}
        self.parent = parent
        self.depth = depth

    def write(self, store: Store, desc: str | None = None) -> _Written:
        import numpy as np

        cuts = _chunks.cut_points(self.table, self.avg_rows)
        chunks = _chunks.write_chunks(self.table, cuts, store.blobs, desc=desc, codec=self.codec)
        if self.layout.get("aligned"):
            # every row kept its position: the map is just where the changed rows go (delta row j ->
            # the j-th changed position), 1% of the full map's entries for a 1% edit
            self.layout = dict(self.layout, map="changed_positions")
            data = _chunks.compress_array(np.flatnonzero(self.src < 0).astype(np.int64))
        elif (parts := _deltas.ordered_parts(self.src, self.parent_rows)) is not None:
            # the surviving rows keep their order: the rows deleted and where the changed rows go, which
            # loads chunk by chunk (a full map moves every row after the first change)
            self.layout = dict(self.layout, map="deletes_inserts")
            data = _chunks.compress_array(_deltas.pack_parts(*parts))
        else:
            data = _chunks.compress_array(self.src)
        h = _chunks.xxh3(data)
        new = not store.blobs.exists(h)
        if new:
            store.blobs.put_bytes(data)
        src_chunk = _chunks.Chunk(h, len(self.src), len(data), new)
        return _Written([("delta", i, c) for i, c in enumerate(chunks)] + [("src", 0, src_chunk)])


def _plan(store: Store, name: str, table: pa.Table, meta: dict, key_fields: list[str] | None) -> _Plan:
    import numpy as np

    avg_rows = _dal.dataset_avg_rows(store, name)
    latest = _dal.latest_version_layout(store, name)
    if avg_rows is None or latest is None:
        row_bytes = table.nbytes / max(table.num_rows, 1)
        return _Plan(table, _chunks.choose_avg_rows(table.num_rows, row_bytes), CODEC)
    parent, depth, parent_n, parent_meta = latest.version, latest.depth, latest.rows, latest.meta
    codec = parent_meta.get("codec", "zstd")  # versions before 0.2.0 do not say: they are zstd
    full = _Plan(table, avg_rows, codec)
    if not key_fields or table.num_rows == 0:
        return full
    if depth + 1 > MAX_DEPTH or (latest.key or {}).get("fields") != key_fields:
        return full
    if _schema_from_meta(parent_meta) != table.schema:
        return full
    parent_table = load_table(store, name, parent, desc=f"snapshot {name}: read version {parent}")
    delta = _build_delta(table, parent_table, key_fields, desc=f"snapshot {name}: compare with version {parent}")
    if delta is None:
        return full
    changed_mask, src, layout = delta
    n_same = len(src) - int(changed_mask.sum())
    if n_same == parent_n and not changed_mask[:n_same].any() and (src[:n_same] == np.arange(n_same)).all():
        return full  # a pure append: content-defined chunks share everything but the tail
    changed = table.filter(changed_mask) if changed_mask.any() else table.slice(0, 0)
    plan = _DeltaPlan(changed, src, avg_rows, parent, depth + 1, parent_n, codec)
    plan.layout = layout
    return plan


def _build_delta(new: pa.Table, old: pa.Table, key_fields: list[str], desc: str | None = None):
    """Match rows by key; return (changed mask, row-source map) or None if too much changed."""
    import numpy as np
    import pandas as pd

    def key_index(t: pa.Table) -> pd.Index:
        arrays = [pd.Index(t.column(f).to_pandas()) for f in key_fields]
        return arrays[0] if len(arrays) == 1 else pd.MultiIndex.from_arrays(arrays)

    try:
        idx = key_index(old).get_indexer(key_index(new))
    except (TypeError, ValueError):
        return None
    # aligned: every row kept its key and position (edits only): columns compare as they are, and
    # at load the columns that no edit touched are the parent's columns as they are
    aligned = len(new) == len(old) and bool((idx == np.arange(len(idx))).all())
    matched = idx >= 0
    same = matched.copy()
    pos = np.flatnonzero(matched)
    taken_idx = idx[matched]
    changed_fields = []
    fields = _chunks.progress_over(
        new.column_names, total=new.num_columns, cells=new.num_rows * new.num_columns, desc=desc
    )
    for field in fields:
        if not same.any():
            changed_fields = list(new.column_names)
            break
        if aligned:
            equal = _unchanged(new.column(field), old.column(field))
        else:
            equal = _unchanged(new.column(field).take(pos), old.column(field).take(taken_idx))
        if not equal.all():
            changed_fields.append(field)
        same[pos] &= equal
    if not aligned:
        # a row that comes before a row it followed in the parent is stored again, as a changed row (moved =
        # deleted + inserted): the parent's other rows then keep their order, and the version loads chunk by
        # chunk. A full row map would gather every row from afar at each load (1.4x `read_parquet` for 0.5%
        # of 10 M rows swapped with a neighbour, 3.7x for a sort by another column; docs/data.md)
        same &= _in_parent_order(np.where(same, idx, -1))
    changed = ~same
    n_changed = int(changed.sum())
    if n_changed > MAX_DELTA_FRACTION * max(len(new), 1):
        return None
    src = np.where(same, idx, 0).astype(np.int64)
    src[changed] = -np.arange(1, n_changed + 1, dtype=np.int64)
    return changed, src, {"aligned": aligned, "changed_fields": changed_fields}


def _in_parent_order(sources: np.ndarray) -> np.ndarray:
    """For each row, whether it comes from a parent row after every parent row read before it (``sources``:
    the parent row of each row, -1 for none). A neighbour swapped in costs one row, a sort nearly all."""
    import numpy as np

    if len(sources) == 0:
        return np.zeros(0, dtype=bool)
    before = np.maximum.accumulate(sources)
    return sources > np.concatenate([[-1], before[:-1]])


def _equal(a: pa.ChunkedArray, b: pa.ChunkedArray) -> np.ndarray:
    """Element-wise equality with null == null, as a numpy bool array."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.types as pt

    if pt.is_dictionary(a.type):
        a = a.cast(a.type.value_type)
        b = b.cast(b.type.value_type)
    try:
        eq = pc.equal(a, b)  # pyright: ignore[reportAttributeAccessIssue]  # generated compute functions lack stubs
    except pa.ArrowNotImplementedError:
        return np.array([x == y for x, y in zip(a.to_pylist(), b.to_pylist())], dtype=bool)
    both_null = pc.and_(pc.is_null(a), pc.is_null(b))  # pyright: ignore[reportAttributeAccessIssue]  # generated compute functions lack stubs
    eq = pc.or_kleene(pc.fill_null(eq, False), both_null)  # pyright: ignore[reportAttributeAccessIssue]  # generated compute functions lack stubs
    if pt.is_floating(a.type):
        eq = pc.or_(eq, pc.and_(pc.is_nan(a), pc.is_nan(b)).fill_null(False))  # pyright: ignore[reportAttributeAccessIssue]  # generated compute functions lack stubs
    return eq.to_numpy(zero_copy_only=False).astype(bool)


def _unchanged(a: pa.ChunkedArray, b: pa.ChunkedArray) -> np.ndarray:
    """Which cells a delta may take from the parent: :func:`_equal` (what a diff calls equal), except that
    floats must be equal bit for bit, so -0.0 replacing 0.0 (and one NaN another) is stored as an edit.
    Categories compare by value: the version's dictionary itself is read from its own chunks at load."""
    import pyarrow.types as pt

    kind = a.type.value_type if pt.is_dictionary(a.type) else a.type
    if pt.is_floating(kind):
        if pt.is_dictionary(a.type):
            a, b = a.cast(kind), b.cast(kind)
        return _same_bits(a, b)
    return _equal(a, b)


def _same_bits(a: pa.ChunkedArray, b: pa.ChunkedArray) -> np.ndarray:
    """Floats equal bit for bit (null == null): -0.0 is an edit of 0.0, and NaN equals the same NaN."""
    import numpy as np

    a_arr, b_arr = a.combine_chunks(), b.combine_chunks()
    if len(a_arr) == 0:
        return np.zeros(0, dtype=bool)
    unsigned = _chunks._UNSIGNED[a.type.bit_width // 8]
    eq = _chunks._fixed_values(a_arr, unsigned) == _chunks._fixed_values(b_arr, unsigned)
    if a_arr.null_count or b_arr.null_count:
        a_valid = a_arr.is_valid().to_numpy(zero_copy_only=False)
        b_valid = b_arr.is_valid().to_numpy(zero_copy_only=False)
        eq = np.where(a_valid & b_valid, eq, a_valid == b_valid)  # a value under a null is not a value
    return eq


def _kept_message(store: Store, found: DataVersion, message: str | None) -> DataVersion:
    """An unchanged snapshot's ``message`` is added to the existing version's (one line each), not dropped."""
    if not message or message in (found.message or "").split("\n"):
        return found
    combined = f"{found.message}\n{message}" if found.message else message
    with store.transaction() as conn:
        _dal.set_version_message(conn, found.name, found.version, combined)
    return replace(found, message=combined)


def _insert_version(
    store, name, fp, df, meta, table, key, key_fields, message, run, plan: _Plan, written: _Written
) -> DataVersion:
    stored_meta: dict[str, Any] = dict(
        meta, schema=base64.b64encode(table.schema.serialize().to_pybytes()).decode(), codec=plan.codec
    )
    if plan.storage == "delta":
        assert isinstance(plan, _DeltaPlan)
        stored_meta["delta"] = plan.layout
    now = time.time()
    stored_key = {"labels": _key_labels(key), "fields": key_fields} if key_fields else None
    # one transaction: the version's row and its chunks' rows are written together or not at all
    with store.transaction() as conn:
        again = _dal.version_with_fingerprint(conn, name, fp)
        if again is not None:  # another process stored the same content meanwhile
            return _version_from_row(again)
        _dal.add_dataset(conn, name, now, plan.avg_rows)
        number = _dal.next_version_number(conn, name)
        _dal.insert_version(
            conn,
            dataset=name,
            version=number,
            fingerprint=fp,
            created=now,
            rows=len(df),
            columns=df.shape[1],
            bytes_added=written.bytes_added,
            bytes_stored=written.bytes_stored,
            storage=plan.storage,
            parent=plan.parent,
            depth=plan.depth,
            key=stored_key,
            message=message,
            run_id=run.run_id if run is not None else None,
            meta=stored_meta,
        )
        _dal.insert_chunks(
            conn, name, number, [_dal.ChunkRow(role, seq, c.blob, c.rows, c.nbytes) for role, seq, c in written.chunks]
        )
    return get_version(name, number, store=store)
