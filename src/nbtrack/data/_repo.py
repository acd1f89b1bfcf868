"""Snapshot and load DataFrame versions in a store; list datasets and versions.

Write order: chunks go to the blob store first (each atomically), then one transaction
inserts the version's rows. A crash in between leaves only unreferenced blobs (``gc``
removes them), never a version with a missing chunk.
"""

from __future__ import annotations

import base64
import json
import re
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Sequence

from nbtrack.data import _chunks, _frame
from nbtrack.data.errors import CorruptDataError, DatasetNotFoundError
from nbtrack.errors import ArtifactNotFoundError, InvalidValueError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    from nbtrack.store import Store

MAX_DEPTH = 8  # a keyed delta chain longer than this is compacted into a full version
MAX_DELTA_FRACTION = 0.3  # more changed rows than this: store the version in full
_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-/]{0,199}")


@dataclass
class DataVersion:
    """One stored version of a named DataFrame.

    ``bytes_added`` is what this version added to the store (new chunks only);
    ``storage`` is ``full`` (content-defined chunks) or ``delta`` (changed rows against ``parent``).
    """

    name: str
    version: int
    fingerprint: str
    rows: int
    columns: int
    created: float
    bytes_added: int
    bytes_stored: int
    storage: str
    parent: int | None
    key: list | None
    message: str | None
    run_id: str | None

    def load(self, store: "Store | None" = None) -> "pd.DataFrame":
        """The DataFrame of this version."""
        return load(self.name, self.version, store=store)

    def to_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.name}@{self.version} ({self.rows} rows x {self.columns} columns, {self.fingerprint[:12]})"


_VERSION_COLUMNS = (
    "dataset, version, fingerprint, rows, columns, created, bytes_added, bytes_stored, storage, parent, key, "
    "message, run_id"
)


def _version_from_row(row: Sequence) -> DataVersion:
    values = list(row)
    values[10] = [_frame._decode_label(x) for x in json.loads(values[10])["labels"]] if values[10] else None
    return DataVersion(*values)


def _store(store: "Store | None", create: bool = False) -> "Store":
    if store is not None:
        return store
    from nbtrack.store import default_store

    return default_store(create=create)


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise InvalidValueError(
            f"dataset name {name!r} is not valid: use letters, digits, _ . - / (up to 200 characters, "
            "not starting with . - or /), e.g. 'customers' or 'raw/orders'."
        )
    return name


# ---------------------------------------------------------------- reading metadata
def get_version(name: str, version: int | str | None = None, *, store: "Store | None" = None) -> DataVersion:
    """The :class:`DataVersion` ``name@version`` (default: the latest)."""
    store = _store(store)
    if version is None or version == "latest":
        rows = store.query(
            f"SELECT {_VERSION_COLUMNS} FROM data_versions WHERE dataset = ? ORDER BY version DESC LIMIT 1", (name,)
        )
    else:
        try:
            number = int(version)
        except (TypeError, ValueError):
            raise InvalidValueError(f"version must be a number, not {version!r} (e.g. 3 or 'latest').") from None
        if number < 0:  # -1 = latest, -2 = the one before
            all_versions = [r[0] for r in store.query(
                "SELECT version FROM data_versions WHERE dataset = ? ORDER BY version DESC", (name,))]
            number = all_versions[-number - 1] if -number <= len(all_versions) else 0
        rows = store.query(
            f"SELECT {_VERSION_COLUMNS} FROM data_versions WHERE dataset = ? AND version = ?", (name, number)
        )
    if not rows:
        known = store.query("SELECT COUNT(*) FROM data_versions WHERE dataset = ?", (name,))[0][0]
        if not known:
            raise DatasetNotFoundError(
                f"No dataset named {name!r}: snapshot one with nbtrack.snapshot(df, {name!r}) "
                "or list them with nbtrack.datasets() / `nbtrack data list`."
            )
        raise DatasetNotFoundError(
            f"Dataset {name!r} has no version {version!r} (it has {known}): see nbtrack.versions({name!r})."
        )
    return _version_from_row(rows[0])


def match_fingerprint(fingerprint: str, *, store: "Store | None" = None) -> DataVersion | None:
    """The earliest stored version with this content fingerprint, or None (used for run inputs)."""
    store = _store(store)
    rows = store.query(
        f"SELECT {_VERSION_COLUMNS} FROM data_versions WHERE fingerprint = ? ORDER BY created LIMIT 1",
        (fingerprint,),
    )
    return _version_from_row(rows[0]) if rows else None


def datasets(*, store: "Store | None" = None) -> "pd.DataFrame":
    """All datasets as a DataFrame: name, versions, latest, rows, columns, bytes, created, updated."""
    import pandas as pd

    from nbtrack.errors import StoreNotFoundError

    try:
        store = _store(store)
    except StoreNotFoundError:  # no store yet: no datasets (listing creates nothing)
        store = None
    rows = [] if store is None else store.query(
        """SELECT d.name, COUNT(v.version), MAX(v.version),
                  (SELECT rows FROM data_versions WHERE dataset = d.name ORDER BY version DESC LIMIT 1),
                  (SELECT columns FROM data_versions WHERE dataset = d.name ORDER BY version DESC LIMIT 1),
                  SUM(v.bytes_added), d.created, MAX(v.created)
           FROM datasets d JOIN data_versions v ON v.dataset = d.name GROUP BY d.name ORDER BY d.name"""
    )
    frame = pd.DataFrame(
        rows, columns=["name", "versions", "latest", "rows", "columns", "bytes", "created", "updated"]
    )
    for col in ("created", "updated"):
        frame[col] = pd.to_datetime(frame[col], unit="s", utc=True)
    return frame


def versions(name: str, *, store: "Store | None" = None) -> "pd.DataFrame":
    """The versions of ``name`` as a DataFrame, oldest first.

    Columns: version, created (UTC), rows, columns, bytes_added, fingerprint, message, run_id,
    storage, parent, key.
    """
    import pandas as pd

    store = _store(store)
    get_version(name, store=store)  # raises for unknown names
    rows = store.query(
        """SELECT version, created, rows, columns, bytes_added, fingerprint, message, run_id, storage, parent, key
           FROM data_versions WHERE dataset = ? ORDER BY version""",
        (name,),
    )
    frame = pd.DataFrame(rows, columns=["version", "created", "rows", "columns", "bytes_added", "fingerprint",
                                        "message", "run_id", "storage", "parent", "key"])
    frame["created"] = pd.to_datetime(frame["created"], unit="s", utc=True)
    frame["parent"] = frame["parent"].astype("Int64")
    frame["key"] = [
        [_frame._decode_label(x) for x in json.loads(k)["labels"]] if k else None for k in frame["key"]
    ]
    return frame


def list_datasets(*, store: "Store | None" = None) -> list[dict]:
    """JSON-ready rows of :func:`datasets` (for REST and the CLI)."""
    frame = datasets(store=store)
    return [
        {**row, "created": row["created"].isoformat(), "updated": row["updated"].isoformat()}
        for row in frame.to_dict("records")
    ]


def list_versions(name: str, *, store: "Store | None" = None) -> list[dict]:
    """JSON-ready rows of :func:`versions`."""
    store = _store(store)
    get_version(name, store=store)
    rows = store.query(
        f"SELECT {_VERSION_COLUMNS} FROM data_versions WHERE dataset = ? ORDER BY version", (name,)
    )
    return [_version_from_row(r).to_dict() for r in rows]


# ---------------------------------------------------------------- snapshot
def snapshot(
    df: "pd.DataFrame",
    name: str,
    key: "str | Sequence | None" = None,
    message: str | None = None,
    *,
    expect: dict | None = None,
    store: "Store | None" = None,
) -> DataVersion:
    """Store ``df`` as the next version of dataset ``name`` and return its :class:`DataVersion`.

    Identical content (same fingerprint) returns the existing version and writes nothing.
    With ``key`` (a column label or list of labels whose values are unique), a version that
    changes few rows is stored as the changed rows plus a row map against the previous
    version. ``expect`` = ``{column: {"not_null": True, "unique": True, "range": (lo, hi)}}``
    refuses the snapshot (``DataValidationError``) when a check fails. Inside a run (``with
    nbtrack.start_run()`` or a ``%%track`` cell) the version is recorded as the run's output.

    Example::

        v = nbtrack.snapshot(df, "customers", key="id", message="March export")
        v.version, v.fingerprint, v.bytes_added
    """
    _check_name(name)
    table, meta = _frame.to_arrow(df)
    fp = _frame.fingerprint_table(table, meta)
    store = _store(store, create=True)
    run = _active_run(store)
    existing = store.query(
        f"SELECT {_VERSION_COLUMNS} FROM data_versions WHERE dataset = ? AND fingerprint = ? ORDER BY version LIMIT 1",
        (name, fp),
    )
    if existing:
        found = _version_from_row(existing[0])
        _record_output(run, found)
        return found
    if expect:
        from nbtrack.data._validate import check

        check(df, expect)
    key_fields = _key_fields(df, key, meta) if key is not None else None
    plan = _plan(store, name, table, meta, key_fields)
    written = plan.write(store)
    version = _insert_version(store, name, fp, df, meta, table, key, key_fields, message, run, plan, written)
    _record_output(run, version)
    return version


def _active_run(store: "Store") -> Any:
    from nbtrack.tracking import active_run

    run = active_run()
    if run is not None and getattr(run.store, "root", None) != store.root:
        return None
    return run


def _record_output(run: Any, version: DataVersion) -> None:
    if run is not None:
        run.record_data("output", version.fingerprint, dataset=version.name, version=version.version,
                        rows=version.rows, columns=version.columns)


def _key_labels(key: Any) -> list:
    labels = list(key) if isinstance(key, list) else [key]
    return [_frame._encode_label(x, "key") for x in labels]


def _key_fields(df: "pd.DataFrame", key: Any, meta: dict) -> list[str]:
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

    def __init__(self, table: "pa.Table", avg_rows: int, is_new_dataset: bool):
        self.table = table
        self.avg_rows = avg_rows
        self.is_new_dataset = is_new_dataset

    def write(self, store: "Store") -> _Written:
        cuts = _chunks.cut_points(self.table, self.avg_rows)
        chunks = _chunks.write_chunks(self.table, cuts, store.blobs)
        return _Written([("rows", i, c) for i, c in enumerate(chunks)])


class _DeltaPlan(_Plan):
    storage = "delta"

    def __init__(self, changed: "pa.Table", src: "np.ndarray", avg_rows: int, parent: int, depth: int):
        super().__init__(changed, avg_rows, False)
        self.src = src
        self.parent = parent
        self.depth = depth

    def write(self, store: "Store") -> _Written:
        cuts = _chunks.cut_points(self.table, self.avg_rows)
        chunks = _chunks.write_chunks(self.table, cuts, store.blobs)
        data = _chunks.compress_array(self.src)
        h = _chunks.xxh3(data)
        new = not store.blobs.exists(h)
        if new:
            store.blobs.put_bytes(data)
        src_chunk = _chunks.Chunk(h, len(self.src), len(data), new)
        return _Written([("delta", i, c) for i, c in enumerate(chunks)] + [("src", 0, src_chunk)])


def _plan(store: "Store", name: str, table: "pa.Table", meta: dict, key_fields: list[str] | None) -> _Plan:
    import numpy as np

    found = store.query("SELECT avg_rows FROM datasets WHERE name = ?", (name,))
    if not found:
        row_bytes = table.nbytes / max(table.num_rows, 1)
        return _Plan(table, _chunks.choose_avg_rows(table.num_rows, row_bytes), True)
    avg_rows = found[0][0]
    full = _Plan(table, avg_rows, False)
    if not key_fields or table.num_rows == 0:
        return full
    parent_rows = store.query(
        "SELECT version, key, meta, depth, rows FROM data_versions WHERE dataset = ? ORDER BY version DESC LIMIT 1",
        (name,),
    )
    if not parent_rows:
        return full
    parent, parent_key, parent_meta, depth, parent_n = parent_rows[0]
    parent_meta = json.loads(parent_meta)
    if depth + 1 > MAX_DEPTH or (json.loads(parent_key) if parent_key else {}).get("fields") != key_fields:
        return full
    if _schema_from_meta(parent_meta) != table.schema:
        return full
    parent_table = load_table(store, name, parent)
    delta = _build_delta(table, parent_table, key_fields)
    if delta is None:
        return full
    changed_mask, src, layout = delta
    n_same = len(src) - int(changed_mask.sum())
    if n_same == parent_n and not changed_mask[:n_same].any() and (src[:n_same] == np.arange(n_same)).all():
        return full  # a pure append: content-defined chunks share everything but the tail
    changed = table.filter(changed_mask) if changed_mask.any() else table.slice(0, 0)
    plan = _DeltaPlan(changed, src, avg_rows, parent, depth + 1)
    plan.layout = layout
    return plan


def _build_delta(new: "pa.Table", old: "pa.Table", key_fields: list[str]):
    """Match rows by key; return (changed mask, row-source map) or None if too much changed."""
    import numpy as np
    import pandas as pd

    def key_index(t: "pa.Table") -> "pd.Index":
        arrays = [pd.Index(t.column(f).to_pandas()) for f in key_fields]
        return arrays[0] if len(arrays) == 1 else pd.MultiIndex.from_arrays(arrays)

    try:
        idx = key_index(old).get_indexer(key_index(new))
    except (TypeError, ValueError):
        return None
    matched = idx >= 0
    same = matched.copy()
    pos = np.flatnonzero(matched)
    taken_idx = idx[matched]
    changed_fields = []
    for field in new.column_names:
        if not same.any():
            changed_fields = list(new.column_names)
            break
        a = new.column(field).take(pos)
        b = old.column(field).take(taken_idx)
        equal = _equal(a, b)
        if not equal.all():
            changed_fields.append(field)
        same[pos] &= equal
    changed = ~same
    n_changed = int(changed.sum())
    if n_changed > MAX_DELTA_FRACTION * max(len(new), 1):
        return None
    # aligned: every row kept its key and position (edits only), so at load the columns that no
    # edit touched are the parent's columns as they are
    aligned = len(new) == len(old) and bool((idx == np.arange(len(idx))).all())
    src = np.where(same, idx, 0).astype(np.int64)
    src[changed] = -np.arange(1, n_changed + 1, dtype=np.int64)
    return changed, src, {"aligned": aligned, "changed_fields": changed_fields}


def _equal(a: "pa.ChunkedArray", b: "pa.ChunkedArray") -> "np.ndarray":
    """Element-wise equality with null == null, as a numpy bool array."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.types as pt

    if pt.is_dictionary(a.type):
        a = a.cast(a.type.value_type)
        b = b.cast(b.type.value_type)
    try:
        eq = pc.equal(a, b)
    except pa.ArrowNotImplementedError:
        return np.array([x == y for x, y in zip(a.to_pylist(), b.to_pylist())], dtype=bool)
    both_null = pc.and_(pc.is_null(a), pc.is_null(b))
    eq = pc.or_kleene(pc.fill_null(eq, False), both_null)
    if pt.is_floating(a.type):
        eq = pc.or_(eq, pc.and_(pc.is_nan(a), pc.is_nan(b)).fill_null(False))
    return eq.to_numpy(zero_copy_only=False).astype(bool)


def _schema_from_meta(meta: dict) -> "pa.Schema":
    import pyarrow as pa

    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(meta["schema"])))


def _insert_version(store, name, fp, df, meta, table, key, key_fields, message, run, plan: _Plan,
                    written: _Written) -> DataVersion:
    stored_meta = dict(meta, schema=base64.b64encode(table.schema.serialize().to_pybytes()).decode())
    if plan.storage == "delta":
        stored_meta["delta"] = plan.layout
    now = time.time()
    key_json = json.dumps({"labels": _key_labels(key), "fields": key_fields}) if key_fields else None
    with store.transaction() as conn:
        again = conn.execute(
            f"SELECT {_VERSION_COLUMNS} FROM data_versions WHERE dataset = ? AND fingerprint = ? LIMIT 1", (name, fp)
        ).fetchone()
        if again:  # another process stored the same content meanwhile
            return _version_from_row(again)
        conn.execute("INSERT OR IGNORE INTO datasets (name, created, avg_rows) VALUES (?, ?, ?)",
                     (name, now, plan.avg_rows))
        number = conn.execute("SELECT COALESCE(MAX(version), 0) + 1 FROM data_versions WHERE dataset = ?",
                              (name,)).fetchone()[0]
        conn.execute(
            "INSERT INTO data_versions (dataset, version, fingerprint, created, rows, columns, bytes_added, "
            "bytes_stored, storage, parent, depth, key, message, run_id, meta) VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (name, number, fp, now, len(df), df.shape[1], written.bytes_added, written.bytes_stored, plan.storage,
             plan.parent, plan.depth, key_json, message, run.run_id if run is not None else None,
             json.dumps(stored_meta)),
        )
        conn.executemany(
            "INSERT INTO data_chunks (dataset, version, role, seq, blob, rows, nbytes) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(name, number, role, seq, c.blob, c.rows, c.nbytes) for role, seq, c in written.chunks],
        )
    return get_version(name, number, store=store)


# ---------------------------------------------------------------- load
def load_table(store: "Store", name: str, version: int, columns: list[str] | None = None) -> "pa.Table":
    """The positional Arrow table of ``name@version`` (follows delta chains); ``columns``: only these fields."""
    import numpy as np
    import pyarrow as pa

    row = store.query(
        "SELECT storage, parent, meta FROM data_versions WHERE dataset = ? AND version = ?", (name, version)
    )
    if not row:
        raise DatasetNotFoundError(f"Dataset {name!r} has no version {version}: see nbtrack.versions({name!r}).")
    storage, parent, meta = row[0]
    meta = json.loads(meta)
    schema = _schema_from_meta(meta)
    chunks = store.query(
        "SELECT role, blob FROM data_chunks WHERE dataset = ? AND version = ? ORDER BY role, seq", (name, version)
    )
    try:
        if storage == "full":
            return _chunks.read_chunks([b for r, b in chunks if r == "rows"], store.blobs, schema, columns=columns)
        base = load_table(store, name, parent, columns)
        changed = _chunks.read_chunks([b for r, b in chunks if r == "delta"], store.blobs, schema, columns=columns)
        src = _chunks.decompress_array(store.blobs.read_bytes(next(b for r, b in chunks if r == "src")))
    except ArtifactNotFoundError as exc:
        raise CorruptDataError(
            f"A chunk of {name}@{version} is missing from the store: {exc} Run `nbtrack fsck`."
        ) from exc
    take = np.where(src >= 0, src, base.num_rows - src - 1)
    del src
    schema, columns = base.schema, base.columns
    del base

    layout = meta.get("delta") or {}
    untouched = set(schema.names) - set(layout.get("changed_fields", schema.names)) if layout.get("aligned") else set()

    def apply(i: int) -> "pa.ChunkedArray":  # one column; the parent column is freed once taken
        if schema.names[i] in untouched:  # no edit touched it: the parent's column as it is
            return columns[i]
        combined = pa.chunked_array(columns[i].chunks + changed.column(i).chunks, type=columns[i].type)
        columns[i] = None
        return combined.take(take)

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:  # Arrow's take releases the GIL
        out = list(pool.map(apply, range(len(columns))))
    return pa.Table.from_arrays(out, schema=schema) if out else schema.empty_table()


def load(name: str, version: int | str | None = None, *, store: "Store | None" = None) -> "pd.DataFrame":
    """The DataFrame of ``name@version`` (default: the latest version), exactly as snapshotted.

    ``version`` may also be negative (-1 = latest, -2 = the one before) or ``"name@3"`` style
    given as ``name``.

    Example::

        df = nbtrack.load("customers")        # latest
        old = nbtrack.load("customers", 1)
    """
    store = _store(store)
    if version is None and isinstance(name, str) and "@" in name:
        name, version = name.rsplit("@", 1)
    info = get_version(name, version, store=store)
    meta = json.loads(store.query(
        "SELECT meta FROM data_versions WHERE dataset = ? AND version = ?", (info.name, info.version))[0][0])
    frame = _frame.from_arrow(load_table(store, info.name, info.version), meta, destruct=True)
    _release_arrow_memory()
    return frame


def _release_arrow_memory() -> None:
    """Give the Arrow allocator's freed pages back to the OS (it keeps them otherwise)."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def export(name: str, version: int | str | None, path: str, *, store: "Store | None" = None) -> DataVersion:
    """Write ``name@version`` to a Parquet file (zstd) and return the version exported."""
    store = _store(store)
    info = get_version(name, version, store=store)
    load(info.name, info.version, store=store).to_parquet(path, compression="zstd")
    return info
