"""Each run's seal: a checksum over its ``runs`` row, its artifact rows and its data links (migration 10).

SQLite keeps no checksum of what a page holds, so one bit flipped inside a stored value (a run's name,
its start time, an artifact's blob hash, a packed summary number) reads back as another valid value.
The seal makes such a change an error. It is two xxh3-64 digests in 32 hex digits:

- the first 16 cover the columns a listing shows (``LISTING``: name, status, times, user, the packed
  summary of params, metrics and tags...), so ``runs()`` and each REST page check every row they return
  at the cost of one hash per row;
- the last 16 cover everything else as well: every other column of the row (code, source, error,
  environment...), the run's ``artifacts`` rows and its ``run_data`` rows, so a row changed, lost from an
  index or added is found by ``get_run`` and ``fsck``.

``updated`` is left out (it only says when the run last changed). A run recorded before migration 10 has
a seal from the migration; a NULL seal (never expected) is not checked.

Every write keeps seals current without the write functions knowing: the writing connection holds
TEMP triggers that note each run whose ``runs``, ``artifacts`` or ``run_data`` rows a statement changed,
and ``Store.transaction`` reseals those runs just before it commits (``reseal_changed``).
"""

from __future__ import annotations

import json
import marshal
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import xxhash

from nbtrack.errors import DamagedStoreError

if TYPE_CHECKING:
    from nbtrack.store import Store

#: Runs one statement with its parameters and returns its rows.
Read = Callable[[str, Sequence[Any]], list[tuple]]

#: The schema version that added ``runs.seal``.
SEAL_SCHEMA = 10

#: The columns the listing half covers, in this order, as every listing reads them (empty summaries as
#: NULL); ``{user}`` and ``{archived}`` are NULL in a store read before migrations 6 and 9 (no seal).
LISTING_TEMPLATE = (
    'r.run_id, r.name, r.experiment_id, r.status, r.kind, r.start, r."end", r.duration_s, r.parent_id, {user}, '
    "{archived}, r.summary_layout, r.summary_num, NULLIF(r.summary_str, x''), NULLIF(r.summary_text, '[]')"
)
LISTING_SQL = LISTING_TEMPLATE.format(user="r.user", archived="r.archived")
#: How many values the listing half covers (the first columns of every listing row).
LISTED = 15
_WHERE = " WHERE run_id IN (SELECT value FROM json_each(?))"
#: A run's artifact and data-link rows, in one order that depends only on their values.
_RELATED_SQL = (
    f"SELECT run_id, 'artifact', name, kind, blob, size, media_type, created, meta FROM artifacts{_WHERE} UNION ALL "
    f'SELECT run_id, \'data\', direction, fingerprint, dataset, version, name, "rows", "columns" FROM run_data{_WHERE} '
    "ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9"
)
_UNSEALED = ("seal", "updated")
#: Runs sealed or checked at a time (a store's code and summaries are never all held at once).
_BATCH = 2_000

# A running run is sealed when it ends (its seal is NULL until then): the flushes of a live run note
# nothing and cost no reseal.
_TRIGGERS = """
CREATE TEMP TABLE IF NOT EXISTS changed_runs (run_id TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TEMP TRIGGER IF NOT EXISTS seal_runs_insert AFTER INSERT ON main.runs WHEN NEW.status != 'running'
BEGIN INSERT OR IGNORE INTO changed_runs VALUES (NEW.run_id); END;
CREATE TEMP TRIGGER IF NOT EXISTS seal_runs_update AFTER UPDATE ON main.runs
WHEN NEW.seal IS OLD.seal AND NEW.status != 'running'
BEGIN INSERT OR IGNORE INTO changed_runs VALUES (NEW.run_id); END;
CREATE TEMP TABLE IF NOT EXISTS changed_experiments (experiment_id INTEGER PRIMARY KEY);
CREATE TEMP TRIGGER IF NOT EXISTS seal_experiments_insert AFTER INSERT ON main.experiments
BEGIN INSERT OR IGNORE INTO changed_experiments VALUES (NEW.experiment_id); END;
CREATE TEMP TRIGGER IF NOT EXISTS seal_experiments_update AFTER UPDATE ON main.experiments
WHEN NEW.seal IS OLD.seal BEGIN INSERT OR IGNORE INTO changed_experiments VALUES (NEW.experiment_id); END;
"""
_ENDED = "EXISTS (SELECT 1 FROM main.runs WHERE run_id = {row}.run_id AND status != 'running')"
_ROW_TRIGGERS = f"""
CREATE TEMP TRIGGER IF NOT EXISTS seal_{{table}}_insert AFTER INSERT ON main.{{table}} WHEN {_ENDED.format(row="NEW")}
BEGIN INSERT OR IGNORE INTO changed_runs VALUES (NEW.run_id); END;
CREATE TEMP TRIGGER IF NOT EXISTS seal_{{table}}_update AFTER UPDATE ON main.{{table}}
BEGIN INSERT OR IGNORE INTO changed_runs SELECT run_id FROM main.runs
WHERE run_id IN (NEW.run_id, OLD.run_id) AND status != 'running'; END;
CREATE TEMP TRIGGER IF NOT EXISTS seal_{{table}}_delete AFTER DELETE ON main.{{table}} WHEN {_ENDED.format(row="OLD")}
BEGIN INSERT OR IGNORE INTO changed_runs VALUES (OLD.run_id); END;
"""


class SealedTable(NamedTuple):
    """A table whose rows carry a seal of their own: its two key columns, the columns sealed, and the
    child table whose rows (same key columns) the seal covers too, with their columns and order."""

    keys: tuple[str, str]
    columns: str
    children: tuple[str, str, str] | None = None  # (table, columns, ORDER BY)

    def children_sql(self) -> str | None:
        if self.children is None:
            return None
        table, columns, order = self.children
        first, second = self.keys
        return f"SELECT {columns} FROM {table} WHERE {first} = ? AND {second} = ? ORDER BY {order}"


#: A data version's seal covers its chunk list too (a chunk row lost, added or pointed at another blob
#: would load other data); a model version's covers its run, artifact, blob and frozen lineage.
SEALED_ROWS = {
    "data_versions": SealedTable(
        ("dataset", "version"),
        "dataset, version, fingerprint, created, rows, columns, bytes_added, bytes_stored, storage, parent, depth, "
        "key, message, run_id, meta",
        ("data_chunks", "role, seq, blob, rows, nbytes", "role, seq"),
    ),
    "model_versions": SealedTable(
        ("model", "version"),
        "model, version, run_id, artifact, blob, size, media_type, created, created_by, description, lineage",
    ),
}


def _row_seal_triggers() -> str:
    """TEMP triggers noting, in ``changed_rows``, each ``SEALED_ROWS`` row a statement changed: a write to the
    row itself (not the reseal, which changes only its seal) or to one of its child rows."""
    sql = ["CREATE TEMP TABLE IF NOT EXISTS changed_rows (tbl TEXT, k1, k2, PRIMARY KEY (tbl, k1, k2)) WITHOUT ROWID;"]
    for table, spec in SEALED_ROWS.items():
        first, second = spec.keys

        def note(*rows: str, table: str = table, first: str = first, second: str = second) -> str:
            values = ", ".join(f"('{table}', {row}.{first}, {row}.{second})" for row in rows)
            return f"BEGIN INSERT OR IGNORE INTO changed_rows VALUES {values}; END;"

        sql += [
            f"CREATE TEMP TRIGGER IF NOT EXISTS seal_{table}_insert AFTER INSERT ON main.{table} {note('NEW')}",
            f"CREATE TEMP TRIGGER IF NOT EXISTS seal_{table}_update AFTER UPDATE ON main.{table} "
            f"WHEN NEW.seal IS OLD.seal {note('NEW')}",
        ]
        if spec.children is not None:
            child = spec.children[0]
            sql += [
                f"CREATE TEMP TRIGGER IF NOT EXISTS seal_{child}_insert AFTER INSERT ON main.{child} {note('NEW')}",
                f"CREATE TEMP TRIGGER IF NOT EXISTS seal_{child}_update AFTER UPDATE ON main.{child} "
                f"{note('NEW', 'OLD')}",
                f"CREATE TEMP TRIGGER IF NOT EXISTS seal_{child}_delete AFTER DELETE ON main.{child} {note('OLD')}",
            ]
    return "\n".join(sql) + "\n"


_ROW_SEAL_TRIGGERS = _row_seal_triggers()


_PENDING = (
    "SELECT EXISTS (SELECT 1 FROM temp.changed_rows), EXISTS (SELECT 1 FROM temp.changed_experiments), "
    "EXISTS (SELECT 1 FROM temp.changed_runs)"
)


def listing_digest(values: Sequence[Any]) -> str:
    """The listing half of a seal, from the first ``LISTED`` values of a listing row (``LISTING_SQL``).

    The values are SQLite's (str, bytes, int, float, None), serialized by ``marshal`` version 2: by value
    and type only (no references between objects, floats as their 8 bytes), and in C, so a listing of
    100,000 runs checks every row in a few tens of milliseconds."""
    return xxhash.xxh3_64_hexdigest(marshal.dumps(tuple(values[:LISTED]), 2))


def _full_digest(listing: str, row: dict[str, Any], related: list[tuple]) -> str:
    columns = tuple(sorted((name, value) for name, value in row.items() if name not in _UNSEALED))
    return xxhash.xxh3_64_hexdigest(marshal.dumps((listing, columns, tuple(related)), 2))


def install_triggers(conn: sqlite3.Connection) -> None:
    """Make ``conn`` note the runs each of its writes changes (TEMP objects: this connection only).
    Call it outside a transaction (``executescript`` commits first)."""
    conn.executescript(
        _TRIGGERS + "".join(_ROW_TRIGGERS.format(table=t) for t in ("artifacts", "run_data")) + _ROW_SEAL_TRIGGERS
    )


def reseal_changed(conn: sqlite3.Connection) -> None:
    """Reseal the runs the open transaction changed (called by ``Store.transaction`` before COMMIT)."""
    read = _reader(conn)
    ((rows, experiments, runs),) = read(_PENDING, [])  # one statement on the path of every commit
    if rows:
        _reseal_rows(conn, changed_only=True)
        conn.execute("DELETE FROM temp.changed_rows")
    if experiments:
        _seal_experiments(conn, "WHERE experiment_id IN (SELECT experiment_id FROM temp.changed_experiments)")
        conn.execute("DELETE FROM temp.changed_experiments")
    if runs:
        for run_ids in _batches(read, "SELECT run_id FROM temp.changed_runs"):
            conn.executemany("UPDATE runs SET seal = ? WHERE run_id = ?", _seals(read, run_ids))
        conn.execute("DELETE FROM temp.changed_runs")


def row_seal(read: Read, table: str, key: tuple[Any, Any]) -> tuple[str | None, str] | None:
    """``(stored seal, seal computed now)`` of one row of a ``SEALED_ROWS`` table, or None if it is gone."""
    spec = SEALED_ROWS[table]
    (first, second), columns, children = spec.keys, spec.columns, spec.children_sql()
    rows = read(f"SELECT {columns}, seal FROM {table} WHERE {first} = ? AND {second} = ?", list(key))
    if not rows:
        return None
    values = rows[0]
    if tuple(values[:2]) != tuple(key):  # the key's index entry leads to another row: damaged
        return values[-1] or "", "another row"
    child_rows = tuple(read(children, list(key))) if children else ()
    return values[-1], xxhash.xxh3_64_hexdigest(marshal.dumps((tuple(values[:-1]), child_rows), 2))


def broken_rows(read: Read, table: str, keys: Iterable[tuple[Any, Any]] | None = None) -> list[tuple[Any, Any]]:
    """The keys among ``keys`` (every row when None) of ``table`` whose seal does not match the row."""
    first, second = SEALED_ROWS[table].keys
    if keys is None:
        keys = [tuple(r) for r in read(f"SELECT {first}, {second} FROM {table}", [])]
    broken = []
    for key in keys:
        sealed = row_seal(read, table, key)
        if sealed is not None and sealed[0] is not None and sealed[0] != sealed[1]:
            broken.append(key)
    return broken


_ROW_NAMES = {"data_versions": "data version", "model_versions": "model version"}


def check_rows(store: Store, table: str, keys: Iterable[tuple[Any, Any]]) -> None:
    """Raise :class:`DamagedStoreError` if a row of ``keys`` in ``table`` (a ``SEALED_ROWS`` table) no longer
    matches its seal."""
    if store.schema_version < SEAL_SCHEMA:
        return
    broken = broken_rows(store.query, table, keys)
    if broken:
        names = ", ".join(f"{first}@{second}" for first, second in broken)
        raise DamagedStoreError(
            f"The {_ROW_NAMES[table]} {names} in nbtrack.db no longer matches its seal (a value of it changed, or "
            "a row of it was lost or added, after it was written): the database is damaged. Run `nbtrack fsck` to "
            "see what it finds, and restore nbtrack.db from a copy of the store."
        )


def _reseal_rows(conn: sqlite3.Connection, changed_only: bool = False) -> None:
    """Reseal the ``SEALED_ROWS`` rows the transaction changed (``changed_only``), or all of them."""
    read = _reader(conn)
    for table, spec in SEALED_ROWS.items():
        first, second = spec.keys
        if changed_only:
            keys = read("SELECT k1, k2 FROM temp.changed_rows WHERE tbl = ?", [table])
        else:
            keys = read(f"SELECT {first}, {second} FROM {table}", [])
        sealed = [(row_seal(read, table, tuple(key)), key) for key in keys]
        conn.executemany(
            f"UPDATE {table} SET seal = ? WHERE {first} = ? AND {second} = ?",
            [(seal[1], *key) for seal, key in sealed if seal is not None],
        )


def experiment_digest(experiment_id: int, name: str, created: float) -> str:
    """The seal of an ``experiments`` row: every listing and filter by experiment reads its name."""
    return xxhash.xxh3_64_hexdigest(marshal.dumps((experiment_id, name, created), 2))


def broken_experiments(rows: Iterable[tuple]) -> list[int]:
    """The ids among ``(experiment_id, name, created, seal)`` rows whose seal does not match."""
    return [r[0] for r in rows if r[3] is not None and r[3] != experiment_digest(r[0], r[1], r[2])]


def check_experiments(store: Store) -> None:
    """Raise :class:`DamagedStoreError` if an experiment's name or id no longer matches its seal: every
    listing shows experiment names, and a filter by experiment finds its runs by name (a few rows: cheap)."""
    if store.schema_version >= SEAL_SCHEMA:
        raise_if_experiments_broken(store.query("SELECT experiment_id, name, created, seal FROM experiments"))


def raise_if_experiments_broken(rows: list[tuple]) -> None:
    """Raise :class:`DamagedStoreError` if an ``(experiment_id, name, created, seal)`` row fails its seal."""
    broken = broken_experiments(rows)
    if broken:
        raise DamagedStoreError(
            f"The experiments row(s) with id {', '.join(map(str, broken))} in nbtrack.db no longer match their "
            "seal (a name changed after it was written): the database is damaged. Run `nbtrack fsck` to see what "
            "it finds, and restore nbtrack.db from a copy of the store."
        )


def _seal_experiments(conn: sqlite3.Connection, where: str = "") -> None:
    rows = conn.execute(f"SELECT experiment_id, name, created FROM experiments {where}").fetchall()
    conn.executemany(
        "UPDATE experiments SET seal = ? WHERE experiment_id = ?", [(experiment_digest(*r), r[0]) for r in rows]
    )


def seal_all(conn: sqlite3.Connection) -> None:
    """Seal every experiment, data version, model version and run (migration 10)."""
    _seal_experiments(conn)
    _reseal_rows(conn)
    read = _reader(conn)
    for run_ids in _batches(read, "SELECT run_id FROM runs"):
        conn.executemany("UPDATE runs SET seal = ? WHERE run_id = ?", _seals(read, run_ids))


def broken_seals(read: Read, run_ids: list[str] | None = None) -> list[str]:
    """The runs among ``run_ids`` (every run when None) whose seal does not match their rows; ``read``
    runs one statement (``Store.query``, so a damaged page is a clear error)."""
    broken = []
    for batch in [run_ids] if run_ids is not None else _batches(read, "SELECT run_id FROM runs"):
        computed = _computed(read, batch)
        broken += [r for r, (seal, listing, full) in computed.items() if seal not in (None, f"{listing}{full}")]
        # a row found under an id it does not hold: the id's index entry leads elsewhere (damaged)
        broken += sorted(set(computed) - set(batch))
    return sorted(broken)


def _batches(read: Read, sql: str, size: int = _BATCH) -> Iterator[list[str]]:
    """The run ids ``sql`` selects, ``size`` at a time."""
    run_ids = [row[0] for row in read(sql, [])]
    for start in range(0, len(run_ids), size):
        yield run_ids[start : start + size]


def _reader(conn: sqlite3.Connection) -> Read:
    return lambda sql, params: conn.execute(sql, params).fetchall()


def _seals(read: Read, run_ids: list[str]) -> list[tuple[str, str]]:
    """``(seal, run_id)`` of ``run_ids``, computed from their rows now."""
    return [(f"{listing}{full}", run_id) for run_id, (_, listing, full) in _computed(read, run_ids).items()]


def _computed(read: Read, run_ids: list[str]) -> dict[str, tuple[str | None, str, str]]:
    """``{run_id: (stored seal, listing digest, full digest)}`` of ``run_ids``."""
    params = [json.dumps(run_ids)]
    names = [row[1] for row in read("PRAGMA table_info(runs)", [])]
    related = _grouped(read(_RELATED_SQL, params * 2))
    computed = {}
    for values in read(f"SELECT {LISTING_SQL}, r.* FROM runs r{_WHERE}", params):
        row = dict(zip(names, values[LISTED:]))
        listing = listing_digest(values)
        computed[values[0]] = (row.get("seal"), listing, _full_digest(listing, row, related.get(values[0], [])))
    return computed


def _grouped(rows: Iterable[tuple]) -> dict[str, list[tuple]]:
    groups: dict[str, list[tuple]] = {}
    for row in rows:
        groups.setdefault(row[0], []).append(row[1:])
    return groups
