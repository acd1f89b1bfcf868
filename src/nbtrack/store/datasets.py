"""Every statement about DataFrame versions: the ``datasets``, ``data_versions`` and ``data_chunks`` tables,
and the ``run_data`` links that lineage and drift follow.

Read functions take the ``Store``; write functions take the connection of an open ``store.transaction()``, so
the caller decides what goes into one transaction (a snapshot inserts its version and chunks in one).
``version_with_fingerprint`` is used both ways and takes either. Rows come back as named tuples; the JSON
columns (``meta``, ``key``) come back decoded and are written from dicts.

A version's ``meta`` says how its chunks become a DataFrame (dtypes, index, categories, delta layout), and
SQLite keeps no checksum of what its pages hold: a bit flipped inside it could still be valid JSON that
loads a different frame. So it is stored with a ``_check`` member, the xxh3-64 of the rest (as JSON with
sorted keys), checked when it is read; metas written before nbtrack 0.3 have none and are read as they are.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias

import xxhash

from nbtrack.errors import DamagedStoreError
from nbtrack.store import seal as _seal
from nbtrack.store._decode import stored_json

if TYPE_CHECKING:
    from nbtrack.store import Store

#: A store, or the connection of a transaction open on it.
Database: TypeAlias = "Store | sqlite3.Connection"


class VersionRow(NamedTuple):
    """The listed fields of one ``data_versions`` row (``key``: ``{"labels", "fields"}`` or None)."""

    dataset: str
    version: int
    fingerprint: str
    rows: int
    columns: int
    created: float
    bytes_added: int
    bytes_stored: int
    storage: str
    parent: int | None
    key: dict | None
    message: str | None
    run_id: str | None


class VersionLayout(NamedTuple):
    """How one version is stored: what reading and extending it needs."""

    version: int
    storage: str  # "full" or "delta"
    parent: int | None
    depth: int
    key: dict | None
    meta: dict  # the frame meta, Arrow schema, codec and delta layout
    rows: int


class ChunkRow(NamedTuple):
    """One ``data_chunks`` row of a version: ``role`` is ``rows``, ``delta`` or ``src``."""

    role: str
    seq: int
    blob: str
    rows: int
    nbytes: int


class DatasetSummary(NamedTuple):
    """One dataset as ``nbtrack.datasets()`` lists it (times are epoch seconds)."""

    name: str
    versions: int
    latest: int
    rows: int
    columns: int
    bytes: int
    created: float
    updated: float


class DataRef(NamedTuple):
    """A data version by name and number; both None when a run's input matches no stored version."""

    dataset: str | None
    version: int | None


class RunDataLink(NamedTuple):
    """One DataFrame a run read (``input``) or wrote (``output``)."""

    direction: str
    fingerprint: str
    dataset: str | None
    version: int | None


class RunBrief(NamedTuple):
    name: str | None
    status: str
    start: float | None


_VERSION_COLUMNS = (
    "dataset, version, fingerprint, rows, columns, created, bytes_added, bytes_stored, storage, "
    "parent, key, message, run_id"
)
_LAYOUT_COLUMNS = "version, storage, parent, depth, key, meta, rows"
_CHUNK_COLUMNS = "role, seq, blob, rows, nbytes"


def _fetch(db: Database, sql: str, params: tuple = ()) -> list[tuple]:
    if isinstance(db, sqlite3.Connection):
        return db.execute(sql, params).fetchall()
    return db.query(sql, params)


def _json(text: str | None) -> Any:
    return stored_json(text, "key of a data version") if text else None


def _checked(store: Store, rows: list[tuple], name: str | None = None) -> list[VersionRow]:
    """``rows`` of ``_VERSION_COLUMNS`` as versions, each checked against its seal; ``name``: the dataset
    they were looked up by (a row of another one means an index entry leads elsewhere: damaged)."""
    if name is not None and any(row[0] != name for row in rows):
        raise DamagedStoreError(f"Looking up dataset {name!r} in nbtrack.db found another one's version: {_DAMAGED}")
    _seal.check_rows(store, "data_versions", [(row[0], row[1]) for row in rows])
    return [_version(row) for row in rows]


_DAMAGED = (
    "the database is damaged. Run `nbtrack fsck` to see what it finds, and restore nbtrack.db from a copy of the store."
)


def _version(row: tuple) -> VersionRow:
    key_at = VersionRow._fields.index("key")
    return VersionRow._make((*row[:key_at], _json(row[key_at]), *row[key_at + 1 :]))


def _layout(row: tuple) -> VersionLayout:
    version, storage, parent, depth, key, meta, rows = row
    return VersionLayout(version, storage, parent, depth, _json(key), stored_meta(meta), rows)


# -- versions ----------------------------------------------------------------------------------------------
def latest_version(store: Store, name: str) -> VersionRow | None:
    """The newest version of dataset ``name``, or None."""
    rows = store.query(
        f"SELECT {_VERSION_COLUMNS} FROM data_versions WHERE dataset = ? ORDER BY version DESC LIMIT 1", (name,)
    )
    return _checked(store, rows, name)[0] if rows else None


def version_row(store: Store, name: str, version: int) -> VersionRow | None:
    """Version ``version`` of dataset ``name``, or None."""
    rows = store.query(
        f"SELECT {_VERSION_COLUMNS} FROM data_versions WHERE dataset = ? AND version = ?", (name, version)
    )
    if rows and rows[0][1] != version:
        raise DamagedStoreError(f"Looking up {name}@{version} in nbtrack.db found {name}@{rows[0][1]}: {_DAMAGED}")
    return _checked(store, rows, name)[0] if rows else None


def versions_derived_from(store: Store, name: str, version: int) -> list[int]:
    """The versions of ``name`` stored as keyed deltas of ``version`` (their ``parent``), oldest first."""
    rows = store.query(
        "SELECT version FROM data_versions WHERE dataset = ? AND parent = ? ORDER BY version", (name, version)
    )
    return [r[0] for r in rows]


def versions_with_fingerprint_prefix(store: Store, name: str, prefix: str) -> list[VersionRow]:
    """The versions of ``name`` whose fingerprint (the global id) starts with ``prefix`` (lowercase hex)."""
    rows = store.query(
        f"SELECT {_VERSION_COLUMNS} FROM data_versions WHERE dataset = ? AND fingerprint >= ? AND fingerprint < ? "
        "ORDER BY version",
        (name, prefix, prefix + "g"),
    )
    return _checked(store, rows, name)


def versions_of(store: Store, name: str) -> list[VersionRow]:
    """Every version of dataset ``name``, oldest first."""
    rows = store.query(f"SELECT {_VERSION_COLUMNS} FROM data_versions WHERE dataset = ? ORDER BY version", (name,))
    return _checked(store, rows, name)


def version_numbers(store: Store, name: str) -> list[int]:
    """The version numbers of dataset ``name``, newest first."""
    return [
        r[0] for r in store.query("SELECT version FROM data_versions WHERE dataset = ? ORDER BY version DESC", (name,))
    ]


def count_versions(store: Store, name: str) -> int:
    """How many versions dataset ``name`` has (0 for an unknown name)."""
    return store.query("SELECT COUNT(*) FROM data_versions WHERE dataset = ?", (name,))[0][0]


def version_with_fingerprint(db: Database, name: str, fingerprint: str) -> VersionRow | None:
    """The first version of dataset ``name`` with this content fingerprint, or None (a store or a transaction's
    connection: a snapshot asks before writing chunks, and again inside its insert transaction)."""
    rows = _fetch(
        db,
        f"SELECT {_VERSION_COLUMNS} FROM data_versions WHERE dataset = ? AND fingerprint = ? ORDER BY version LIMIT 1",
        (name, fingerprint),
    )
    return _version(rows[0]) if rows else None


def first_version_with_fingerprint(store: Store, fingerprint: str) -> VersionRow | None:
    """The earliest version (of any dataset) with this content fingerprint, or None."""
    rows = store.query(
        f"SELECT {_VERSION_COLUMNS} FROM data_versions WHERE fingerprint = ? ORDER BY created LIMIT 1", (fingerprint,)
    )
    return _version(rows[0]) if rows else None


def version_by_fingerprint(store: Store, fingerprint: str) -> tuple[str, int] | None:
    """``(dataset, version)`` of the earliest version with this content fingerprint; None when there is none or
    the store has no ``data_versions`` table."""
    try:
        rows = store.query(
            "SELECT dataset, version FROM data_versions WHERE fingerprint = ? ORDER BY created LIMIT 1", (fingerprint,)
        )
    except sqlite3.OperationalError as error:
        if "no such table" in str(error):
            return None
        raise
    return (rows[0][0], rows[0][1]) if rows else None


def version_layout(store: Store, name: str, version: int) -> VersionLayout | None:
    """How version ``version`` of dataset ``name`` is stored, or None if there is no such version."""
    rows = store.query(
        f"SELECT {_LAYOUT_COLUMNS} FROM data_versions WHERE dataset = ? AND version = ?", (name, version)
    )
    return _layout(rows[0]) if rows else None


def latest_version_layout(store: Store, name: str) -> VersionLayout | None:
    """How the newest version of dataset ``name`` is stored (a snapshot's parent), or None."""
    rows = store.query(
        f"SELECT {_LAYOUT_COLUMNS} FROM data_versions WHERE dataset = ? ORDER BY version DESC LIMIT 1", (name,)
    )
    return _layout(rows[0]) if rows else None


def version_meta(store: Store, name: str, version: int) -> dict:
    """The stored meta of an existing version (frame meta, Arrow schema, codec, delta layout)."""
    return stored_meta(
        store.query("SELECT meta FROM data_versions WHERE dataset = ? AND version = ?", (name, version))[0][0]
    )


def _meta_check(meta: dict) -> str:
    return xxhash.xxh3_64_hexdigest(json.dumps(meta, sort_keys=True).encode("utf-8", "surrogatepass"))


def _meta_text(meta: dict) -> str:
    """The stored JSON of a version's meta: the meta and its ``_check``."""
    return json.dumps({**meta, "_check": _meta_check(meta)})


def stored_meta(text: str) -> dict:
    """A version's meta read back; one whose ``_check`` does not match raises :class:`DamagedStoreError`."""
    meta = stored_json(text, "meta of a data version")
    if not isinstance(meta, dict):
        raise DamagedStoreError(_DAMAGED_META)
    check = meta.pop("_check", None)
    if check is not None and check != _meta_check(meta):
        raise DamagedStoreError(_DAMAGED_META)
    return meta


_DAMAGED_META = (
    "The meta of a data version stored in nbtrack.db (how its chunks become a DataFrame) does not match its "
    "checksum: the database is damaged. Run `nbtrack fsck` to see what it finds, and restore nbtrack.db from a "
    "copy of the store."
)


def row_count(store: Store, name: str, version: int) -> int:
    """The number of rows of an existing version."""
    return store.query("SELECT rows FROM data_versions WHERE dataset = ? AND version = ?", (name, version))[0][0]


def version_chunks(store: Store, name: str, version: int) -> list[ChunkRow]:
    """The chunks of a version, by role then sequence (checked against the version's seal)."""
    _seal.check_rows(store, "data_versions", [(name, version)])
    rows = store.query(
        f"SELECT {_CHUNK_COLUMNS} FROM data_chunks WHERE dataset = ? AND version = ? ORDER BY role, seq",
        (name, version),
    )
    return [ChunkRow(*r) for r in rows]


# -- datasets ----------------------------------------------------------------------------------------------
def dataset_summaries(store: Store) -> list[DatasetSummary]:
    """Every dataset with a version, by name: counts, latest shape, bytes added, first and last write."""
    rows = store.query(
        """SELECT d.name, COUNT(v.version), MAX(v.version),
                  (SELECT rows FROM data_versions WHERE dataset = d.name ORDER BY version DESC LIMIT 1),
                  (SELECT columns FROM data_versions WHERE dataset = d.name ORDER BY version DESC LIMIT 1),
                  SUM(v.bytes_added), d.created, MAX(v.created)
           FROM datasets d JOIN data_versions v ON v.dataset = d.name GROUP BY d.name ORDER BY d.name"""
    )
    # The join reaches each dataset through the index of its name, the versions through theirs: a row lost
    # from either index would drop a dataset from the list without a word, so both must name the same ones.
    listed = {r[0] for r in rows}
    versioned = {r[0] for r in store.query("SELECT DISTINCT dataset FROM data_versions")}
    named = {r[0] for r in store.query("SELECT name FROM datasets NOT INDEXED")}
    if listed != versioned or not versioned <= named:
        missing = sorted((versioned | named) - listed)
        raise DamagedStoreError(f"Dataset(s) {', '.join(map(repr, missing))} cannot be listed: {_DAMAGED}")
    return [DatasetSummary(*r) for r in rows]


def dataset_avg_rows(store: Store, name: str) -> int | None:
    """The average chunk size in rows that dataset ``name`` was given by its first version, or None."""
    rows = store.query("SELECT avg_rows FROM datasets WHERE name = ?", (name,))
    return rows[0][0] if rows else None


# -- writing a version (inside one store.transaction()) --------------------------------------------------
def add_dataset(conn: sqlite3.Connection, name: str, created: float, avg_rows: int) -> None:
    """Register dataset ``name`` unless it exists (its first version fixes ``avg_rows``)."""
    conn.execute("INSERT OR IGNORE INTO datasets (name, created, avg_rows) VALUES (?, ?, ?)", (name, created, avg_rows))


def next_version_number(conn: sqlite3.Connection, name: str) -> int:
    """The number the next version of dataset ``name`` gets (1 for a new dataset)."""
    return conn.execute(
        "SELECT COALESCE(MAX(version), 0) + 1 FROM data_versions WHERE dataset = ?", (name,)
    ).fetchone()[0]


def insert_version(
    conn: sqlite3.Connection,
    *,
    dataset: str,
    version: int,
    fingerprint: str,
    created: float,
    rows: int,
    columns: int,
    bytes_added: int,
    bytes_stored: int,
    storage: str,
    parent: int | None,
    depth: int,
    key: dict | None,
    message: str | None,
    run_id: str | None,
    meta: dict,
) -> None:
    """Insert one ``data_versions`` row (``key`` and ``meta`` are stored as JSON)."""
    conn.execute(
        "INSERT INTO data_versions (dataset, version, fingerprint, created, rows, columns, bytes_added, "
        "bytes_stored, storage, parent, depth, key, message, run_id, meta) VALUES "
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            dataset,
            version,
            fingerprint,
            created,
            rows,
            columns,
            bytes_added,
            bytes_stored,
            storage,
            parent,
            depth,
            json.dumps(key) if key else None,
            message,
            run_id,
            _meta_text(meta),
        ),
    )


def insert_chunks(conn: sqlite3.Connection, dataset: str, version: int, chunks: Iterable[ChunkRow]) -> None:
    """Insert the ``data_chunks`` rows of a version."""
    conn.executemany(
        "INSERT INTO data_chunks (dataset, version, role, seq, blob, rows, nbytes) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(dataset, version, c.role, c.seq, c.blob, c.rows, c.nbytes) for c in chunks],
    )


def set_version_message(conn: sqlite3.Connection, dataset: str, version: int, message: str | None) -> None:
    """Replace the message of a version (its content never changes)."""
    conn.execute("UPDATE data_versions SET message = ? WHERE dataset = ? AND version = ?", (message, dataset, version))


# -- runs and data: lineage and drift ----------------------------------------------------------------------
def run_input_versions(store: Store, run_id: str) -> list[DataRef]:
    """The data versions a run read, in the order recorded: the version it named, else the version with the
    input's fingerprint, else ``(None, None)``."""
    rows = store.query(
        """SELECT COALESCE(r.dataset, v.dataset), COALESCE(r.version, v.version)
           FROM run_data r LEFT JOIN data_versions v ON v.fingerprint = r.fingerprint
           WHERE r.run_id = ? AND r.direction = 'input' ORDER BY r.rowid""",
        (run_id,),
    )
    return [DataRef(*r) for r in rows]


def run_data_links(store: Store, run_id: str) -> list[RunDataLink]:
    """The DataFrames a run read and wrote."""
    rows = store.query("SELECT direction, fingerprint, dataset, version FROM run_data WHERE run_id = ?", (run_id,))
    return [RunDataLink(*r) for r in rows]


def versions_written_by(store: Store, run_id: str) -> list[DataRef]:
    """The versions snapshotted inside a run."""
    return [DataRef(*r) for r in store.query("SELECT dataset, version FROM data_versions WHERE run_id = ?", (run_id,))]


def runs_reading_fingerprint(store: Store, fingerprint: str) -> list[str]:
    """The runs that read a DataFrame with this fingerprint."""
    return [
        r[0]
        for r in store.query(
            "SELECT DISTINCT run_id FROM run_data WHERE fingerprint = ? AND direction = 'input'", (fingerprint,)
        )
    ]


def runs_linked_to_version(store: Store, direction: str, name: str, version: int, fingerprint: str) -> list[str]:
    """The runs that read (``direction="input"``) or wrote (``"output"``) version ``name@version``: recorded by
    name and number, or by its fingerprint."""
    return [
        r[0]
        for r in store.query(
            """SELECT DISTINCT run_id FROM run_data WHERE direction = ?
           AND ((dataset = ? AND version = ?) OR fingerprint = ?)""",
            (direction, name, version, fingerprint),
        )
    ]


def run_brief(store: Store, run_id: str) -> RunBrief | None:
    """A run's name, status and start time (what a lineage node shows), or None if it was deleted."""
    rows = store.query("SELECT name, status, start FROM runs WHERE run_id = ?", (run_id,))
    return RunBrief(*rows[0]) if rows else None
