"""Every statement about runs: their rows, params, metrics, tags, artifacts, environments and data links.

Write functions take the connection of an open ``store.transaction()`` so the caller decides what goes
into one transaction; read functions take the ``Store``. Rows come back as named dicts. Listing runs is in
``nbtrack.store.listing``, experiments in ``nbtrack.store.experiments``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from nbtrack.errors import DamagedStoreError
from nbtrack.store import query
from nbtrack.store import seal as _seal
from nbtrack.store import summary as _summary
from nbtrack.store._decode import damaged_value, stored_json
from nbtrack.store.blobs import hash_bytes

if TYPE_CHECKING:
    from nbtrack.store import Store


def check_sealed(store: Store, run_id: str) -> None:
    """Raise :class:`DamagedStoreError` if the run's row, artifact rows or data links differ from what its
    seal covers (``nbtrack.store.seal``)."""
    if store.schema_version >= _seal.SEAL_SCHEMA and _seal.broken_seals(store.query, [run_id]):
        raise unsealed(run_id)


def unsealed(run_id: str) -> DamagedStoreError:
    """The error for a run whose rows no longer match its seal."""
    return DamagedStoreError(
        f"Run {run_id}'s rows in nbtrack.db (the run, its artifacts or its data links) no longer match its "
        "seal: a value changed, or a row was lost or added, after they were written. The database is "
        "damaged: run `nbtrack fsck` to see what it finds, and restore nbtrack.db from a copy of the store."
    )


#: The schema version that added ``runs.archived`` (migration 9).
ARCHIVED_SCHEMA = 9


#: The columns of a run's row that ``run_row`` reads, in this order.
RUN_FIELDS = (
    "run_id",
    "name",
    "experiment",
    "status",
    "kind",
    "start",
    "end",
    "duration_s",
    "source_path",
    "source_cell",
    "execution_count",
    "code",
    "parent_id",
    "host",
    "pid",
    "error",
    "env_hash",
)
_USER_METRICS = "key NOT LIKE '\\_%' ESCAPE '\\'"  # names starting with _ are nbtrack's own (_wall_s, ...)


# -- finding runs ------------------------------------------------------------------------------------------


def run_matches(store: Store, run_id: str, where: str) -> bool:
    """Whether run ``run_id`` matches the query language's ``where``."""
    where_sql, where_params = query.compile_where(where)
    sql = f"SELECT 1 FROM runs r JOIN experiments e USING (experiment_id) WHERE r.run_id = ? AND ({where_sql})"
    return bool(store.query(sql, [run_id, *where_params]))


def ids_matching(store: Store, fragment: str, full: bool, limit: int = 6) -> list[str]:
    """Run ids equal to ``fragment`` (``full``), else starting or ending with it."""
    if full:
        rows = store.query("SELECT run_id FROM runs WHERE run_id = ?", (fragment,))
    else:
        rows = store.query(
            "SELECT run_id FROM runs WHERE run_id LIKE ? OR run_id LIKE ? LIMIT ?",
            (fragment + "%", "%" + fragment, limit),
        )
    return [r[0] for r in rows]


def runs_named(store: Store, name: str, limit: int = 6) -> list[dict[str, Any]]:
    """Runs called ``name``, newest first: ``run_id``, ``start`` and ``status`` of each."""
    rows = store.query(
        "SELECT run_id, start, status FROM runs WHERE name = ? ORDER BY start DESC, run_id DESC LIMIT ?", (name, limit)
    )
    return [{"run_id": r[0], "start": r[1], "status": r[2]} for r in rows]


def run_exists(store: Store, run_id: str) -> bool:
    return bool(store.query("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)))


def all_run_ids(store: Store) -> set[str]:
    return {r[0] for r in store.query("SELECT run_id FROM runs")}


def child_run_ids(store: Store, run_id: str) -> list[str]:
    return [r[0] for r in store.query("SELECT run_id FROM runs WHERE parent_id = ? ORDER BY run_id", (run_id,))]


def runs_tagged(store: Store, key: str, status: str | None = None) -> dict[str, str]:
    """``{tag value: run id}`` of the runs with tag ``key`` (and ``status``, if given)."""
    if status is None:
        return dict(store.query("SELECT value, run_id FROM tags WHERE key = ?", (key,)))
    return dict(
        store.query(
            "SELECT t.value, r.run_id FROM tags t JOIN runs r USING (run_id) WHERE t.key = ? AND r.status = ?",
            (key, status),
        )
    )


def running_on_host(store: Store, host: str) -> list[tuple[str, int | None, str | None]]:
    """``(run_id, pid, pid_start)`` of the runs this host left ``running``."""
    return store.query("SELECT run_id, pid, pid_start FROM runs WHERE status = 'running' AND host = ?", (host,))


def mark_crashed(conn: sqlite3.Connection, run_ids: Iterable[str], now: float) -> None:
    conn.executemany(
        "UPDATE runs SET status = 'crashed', updated = ? WHERE run_id = ? AND status = 'running'",
        [(now, run_id) for run_id in run_ids],
    )


def changes(store: Store) -> tuple[int, float | None]:
    """``(number of runs, latest update time)``: changes whenever a run is added, updated or deleted."""
    # Two subqueries, not "count(*), max(updated)": each alone is answered from runs_by_updated without
    # reading it (together they scan it: 10-15 ms at 100,000 runs, on every poll of the sidebar).
    count, updated = store.query("SELECT (SELECT count(*) FROM runs), (SELECT max(updated) FROM runs)")[0]
    return count, updated


def count_runs(store: Store) -> int:
    return store.query("SELECT COUNT(*) FROM runs")[0][0]


# -- archived runs (migration 9) ----------------------------------------------------------------------------
def any_archived(store: Store) -> bool:
    """Whether any run is archived (one probe of the partial index ``runs_archived``)."""
    if store.schema_version < ARCHIVED_SCHEMA:
        return False
    return bool(store.query("SELECT 1 FROM runs WHERE archived IS NOT NULL LIMIT 1"))


def archived_at(store: Store, run_id: str) -> float | None:
    """When ``run_id`` was archived, or None for a live run."""
    if store.schema_version < ARCHIVED_SCHEMA:
        return None
    rows = store.query("SELECT archived FROM runs WHERE run_id = ?", (run_id,))
    return rows[0][0] if rows else None


def with_descendants(conn: sqlite3.Connection, run_ids: Iterable[str]) -> list[str]:
    """``run_ids`` followed by their child runs, grandchildren..., each once."""
    found = list(dict.fromkeys(run_ids))
    seen = set(found)
    for current in found:
        for (child,) in conn.execute("SELECT run_id FROM runs WHERE parent_id = ?", (current,)):
            if child not in seen:
                seen.add(child)
                found.append(child)
    return found


def set_archived(conn: sqlite3.Connection, run_ids: Sequence[str], when: float | None, now: float) -> list[str]:
    """Archive (``when``: the time) or restore (``when=None``) runs; returns those whose state changed, in
    the given order. An archived run keeps its first archive time."""
    test = "archived IS NULL" if when is not None else "archived IS NOT NULL"
    changed = []
    for run_id in run_ids:
        cursor = conn.execute(
            f"UPDATE runs SET archived = ?, updated = ? WHERE run_id = ? AND {test}", (when, now, run_id)
        )
        if cursor.rowcount:
            changed.append(run_id)
    return changed


def summary_for_update(conn: sqlite3.Connection, run_id: str) -> tuple[str, list[str], str, bytes, bytes, str]:
    """``(status, names, codes, summary_num, summary_str, summary_text)`` of a run, read in the caller's
    write transaction (to rewrite the summary without losing a concurrent change)."""
    status, keys, codes, num, strings, text = conn.execute(
        "SELECT status, summary_keys, summary_codes, summary_num, summary_str, summary_text FROM runs WHERE run_id = ?",
        (run_id,),
    ).fetchone()
    return status, stored_json(keys, "summary names of a run"), codes, num, strings or b"", text or "[]"


def delete_tags(conn: sqlite3.Connection, run_id: str, keys: Iterable[str]) -> None:
    conn.executemany("DELETE FROM tags WHERE run_id = ? AND key = ?", [(run_id, key) for key in keys])


# -- one run -----------------------------------------------------------------------------------------------
def run_row(store: Store, run_id: str) -> dict[str, Any]:
    """The ``runs`` row of ``run_id`` with its experiment's name (fields as in ``RUN_FIELDS``)."""
    _seal.check_experiments(store)
    rows = store.query(
        'SELECT r.run_id, r.name, e.name, r.status, r.kind, r.start, r."end", r.duration_s, r.source_path, '
        "r.source_cell, r.execution_count, r.code, r.parent_id, r.host, r.pid, r.error, r.env_hash "
        "FROM runs r JOIN experiments e USING (experiment_id) WHERE r.run_id = ?",
        (run_id,),
    )
    if not rows:  # the caller resolved the id in the same snapshot: its experiment id is damaged
        raise damaged_value("experiment of a run", LookupError(f"run {run_id} names no experiment"))
    row: dict[str, Any] = dict(zip(RUN_FIELDS, rows[0]))
    if row["run_id"] != run_id:  # the id's index entry leads to another run's row
        raise damaged_value("run id of a run", LookupError(f"looking up run {run_id} found run {row['run_id']}"))
    if row["status"] not in RUN_STATUSES:
        raise damaged_value("status of a run", ValueError(f"{row['status']!r} is no run status"))
    return row


#: Every status a run can have.
RUN_STATUSES = frozenset({"running", "ok", "failed", "interrupted", "crashed"})


def run_user(store: Store, run_id: str) -> str | None:
    """Who made the run (None for runs recorded before nbtrack 0.3, or a store not yet migrated)."""
    if store.schema_version < 6:
        return None
    rows = store.query("SELECT user FROM runs WHERE run_id = ?", (run_id,))
    return rows[0][0] if rows else None


def experiment_of(store: Store, run_id: str) -> str | None:
    _seal.check_experiments(store)
    row = store.query(
        "SELECT e.name FROM runs r JOIN experiments e USING (experiment_id) WHERE r.run_id = ?", (run_id,)
    )
    return row[0][0] if row else None


def duration(store: Store, run_id: str) -> float | None:
    row = store.query("SELECT duration_s FROM runs WHERE run_id = ?", (run_id,))
    return row[0][0] if row else None


def params(store: Store, run_id: str) -> list[tuple[str, Any, str]]:
    """``(key, stored value, type tag)`` of each param, by key."""
    return store.query("SELECT key, value, type FROM params WHERE run_id = ? ORDER BY key", (run_id,))


def latest_metrics(store: Store, run_id: str, user_only: bool = False) -> list[tuple[str, float | None]]:
    """``(key, last value)`` of each metric, by key (NaN is None); ``user_only`` leaves out ``_wall_s`` etc."""
    where = f" AND {_USER_METRICS}" if user_only else ""
    return store.query(f"SELECT key, value FROM latest_metrics WHERE run_id = ?{where} ORDER BY key", (run_id,))


def children_latest_metrics(store: Store, parent_id: str) -> list[tuple[str, float | None]]:
    """``(key, last value)`` of the user metrics of every child run, oldest child first."""
    return store.query(
        f"SELECT m.key, m.value FROM latest_metrics m JOIN runs r USING (run_id) "
        f"WHERE r.parent_id = ? AND m.{_USER_METRICS} ORDER BY r.start, r.run_id",
        (parent_id,),
    )


def metric_segments(store: Store, run_id: str) -> list[tuple]:
    """The packed history segments ``(key, seq, n, steps, values, times)``, by key then sequence."""
    return store.query(
        'SELECT key, seq, n, steps, "values", times FROM metrics WHERE run_id = ? ORDER BY key, seq', (run_id,)
    )


def tags(store: Store, run_id: str) -> dict[str, str]:
    return dict(store.query("SELECT key, value FROM tags WHERE run_id = ? ORDER BY key", (run_id,)))


def environment(store: Store, env_hash: str | None) -> dict[str, Any]:
    """The environment stored under ``env_hash``, the hash of its JSON text (checked: the run's seal
    covers the hash, the hash covers the text), or {} when the run recorded none."""
    rows = store.query("SELECT data FROM environments WHERE env_hash = ?", (env_hash,))
    if not rows:
        return {}
    (text,) = rows[0]
    if not environment_matches(env_hash, text):
        raise damaged_value("environment of a run", ValueError(f"its text does not hash to {env_hash}"))
    return stored_json(text, "environment of a run")


def environment_matches(env_hash: str | None, text: object) -> bool:
    """Whether an ``environments`` row's text still hashes to its ``env_hash`` (its name)."""
    return isinstance(text, str) and hash_bytes(text.encode("utf-8", "surrogateescape")) == env_hash


_DATA_FIELDS = ("direction", "fingerprint", "dataset", "version", "name", "rows", "columns")


def data_links(store: Store, run_id: str, direction: str | None = None) -> list[dict[str, Any]]:
    """The DataFrames the run read (``input``) and wrote (``output``), in the order recorded."""
    sql = f"SELECT {', '.join(_DATA_FIELDS)} FROM run_data WHERE run_id = ?"
    args: tuple = (run_id,)
    if direction is not None:
        sql += " AND direction = ?"
        args = (run_id, direction)
    return [dict(zip(_DATA_FIELDS, r)) for r in store.query(sql + " ORDER BY rowid", args)]


_ARTIFACT_FIELDS = ("name", "kind", "hash", "size", "media_type", "created", "meta")


def artifacts(store: Store, run_id: str) -> list[dict[str, Any]]:
    rows = store.query(
        "SELECT name, kind, blob, size, media_type, created, meta FROM artifacts "
        "WHERE run_id = ? ORDER BY created, name",
        (run_id,),
    )
    return [
        {**dict(zip(_ARTIFACT_FIELDS, r)), "meta": stored_json(r[6], "meta of an artifact") if r[6] else None}
        for r in rows
    ]


def artifact(store: Store, run_id: str, name: str) -> tuple[str, str] | None:
    """``(kind, blob hash)`` of one artifact, or None."""
    rows = store.query("SELECT kind, blob FROM artifacts WHERE run_id = ? AND name = ?", (run_id, name))
    return (rows[0][0], rows[0][1]) if rows else None


def artifact_by_blob(store: Store, digest: str) -> tuple[str, str, str | None] | None:
    """``(name, kind, media type)`` of an artifact stored as blob ``digest``, or None."""
    rows = store.query("SELECT name, kind, media_type FROM artifacts WHERE blob = ? LIMIT 1", (digest,))
    return (rows[0][0], rows[0][1], rows[0][2]) if rows else None


# -- many runs ---------------------------------------------------------------------------------------------


def summary_layout(store: Store, run_id: str) -> tuple[list[str], str]:
    """The summary names and type codes of ``run_id`` (every run of its layout shares them), checked
    against the run's layout, their hash (which each listed row's seal covers)."""
    rows = store.query("SELECT summary_keys, summary_codes, summary_layout FROM runs WHERE run_id = ?", (run_id,))
    if not rows:  # the run was listed a moment ago: its row or the index leading to it is damaged
        raise damaged_value("summary names of a run", LookupError(f"run {run_id} was listed but cannot be read"))
    keys, codes, layout = rows[0]
    if keys is None or codes is None or _summary.layout_of(keys, codes) != layout:
        raise damaged_value("summary names of a run", ValueError(f"run {run_id}'s names and types are not its layout"))
    return stored_json(keys, "summary names of a run"), codes


def summary_row(store: Store, run_id: str) -> tuple[list[str], str, bytes, bytes, str]:
    """``(names, codes, summary_num, summary_str, summary_text)`` of one run (see ``nbtrack.store.summary``)."""
    rows = store.query(
        "SELECT summary_keys, summary_codes, summary_num, summary_str, summary_text FROM runs WHERE run_id = ?",
        (run_id,),
    )
    if not rows:
        raise damaged_value("summary of a run", LookupError(f"run {run_id} was listed but cannot be read"))
    keys, codes, num, strings, text = rows[0]
    return stored_json(keys, "summary names of a run"), codes, num or b"", strings or b"", text or "[]"


def summary_key_lists(store: Store, experiment: str | None) -> list[list[str]]:
    """Each distinct list of summary names (``params.k``, ``metrics.k``, ``tags.k``) of the runs."""
    sql = "SELECT DISTINCT r.summary_keys FROM runs r"
    args: tuple = ()
    if experiment is not None:
        _seal.check_experiments(store)
        sql += " JOIN experiments e USING (experiment_id) WHERE e.name = ?"
        args = (experiment,)
    return [stored_json(keys, "summary names of a run") for (keys,) in store.query(sql, args)]


# -- writing -----------------------------------------------------------------------------------------------
def insert_run(conn: sqlite3.Connection, **row: Any) -> None:
    """Insert a ``runs`` row; ``row`` holds its columns by name (status, kind, start, ... ; see the schema)."""
    row.setdefault("updated", row.get("start"))
    names = ", ".join(f'"{name}"' for name in row)
    conn.execute(f"INSERT INTO runs ({names}) VALUES ({', '.join('?' * len(row))})", tuple(row.values()))


def insert_environment(conn: sqlite3.Connection, env_hash: str, env_json: str) -> None:
    conn.execute("INSERT OR IGNORE INTO environments VALUES (?, ?)", (env_hash, env_json))


def write_params(conn: sqlite3.Connection, run_id: str, params: dict[str, tuple[Any, str]]) -> None:
    conn.executemany(
        "INSERT OR REPLACE INTO params VALUES (?, ?, ?, ?)", [(run_id, k, v, t) for k, (v, t) in params.items()]
    )


def write_tags(conn: sqlite3.Connection, run_id: str, tags: dict[str, str]) -> None:
    conn.executemany("INSERT OR REPLACE INTO tags VALUES (?, ?, ?)", [(run_id, k, v) for k, v in tags.items()])


def write_metrics(
    conn: sqlite3.Connection, run_id: str, segments: Sequence[tuple], latest: dict[str, tuple[float, int, float]]
) -> None:
    """Append packed history ``segments`` ``(key, seq, n, steps, values, times)`` and set the latest values."""
    conn.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?, ?)", [(run_id, *s) for s in segments])
    conn.executemany(
        "INSERT OR REPLACE INTO latest_metrics VALUES (?, ?, ?, ?, ?)",
        [(run_id, k, None if v != v else v, s, t) for k, (v, s, t) in latest.items()],
    )


def write_summary(conn: sqlite3.Connection, run_id: str, columns: dict[str, Any], now: float) -> None:
    """Set the run row's summary columns (see ``nbtrack.store.summary``)."""
    conn.execute(
        f"UPDATE runs SET {', '.join(f'{c} = ?' for c in columns)}, updated = ? WHERE run_id = ?",
        (*columns.values(), now, run_id),
    )


def write_artifacts(conn: sqlite3.Connection, run_id: str, rows: Iterable[tuple], now: float) -> None:
    """Insert or replace artifacts ``(name, kind, blob, size, media_type, created, meta JSON)``."""
    conn.executemany(
        "INSERT OR REPLACE INTO artifacts VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [(run_id, *row) for row in rows]
    )
    touch(conn, run_id, now)


def touch(conn: sqlite3.Connection, run_id: str, now: float) -> None:
    conn.execute("UPDATE runs SET updated = ? WHERE run_id = ?", (now, run_id))


def link_data(
    conn: sqlite3.Connection,
    run_id: str,
    direction: str,
    fingerprint: str,
    dataset: str | None,
    version: int | None,
    name: str | None,
    rows: int | None,
    columns: int | None,
) -> None:
    conn.execute(
        "INSERT INTO run_data VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (run_id, direction, fingerprint, dataset, version, name, rows, columns),
    )


def finish_run(
    conn: sqlite3.Connection, run_id: str, status: str, end: float, duration_s: float, error: dict | None
) -> None:
    conn.execute(
        'UPDATE runs SET status = ?, "end" = ?, duration_s = ?, error = ?, updated = ? WHERE run_id = ?',
        (status, end, duration_s, json.dumps(error) if error else None, end, run_id),
    )


def write_session(conn: sqlite3.Connection, run_id: str, slice_json: str) -> None:
    conn.execute("INSERT OR REPLACE INTO run_sessions VALUES (?, ?)", (run_id, slice_json))


def session(store: Store, run_id: str) -> str | None:
    """The JSON session slice a ``%%track`` run recorded, or None."""
    rows = store.query("SELECT slice FROM run_sessions WHERE run_id = ?", (run_id,))
    return rows[0][0] if rows else None


def delete_run_row(conn: sqlite3.Connection, run_id: str) -> None:
    """Delete the ``runs`` row only (``nbtrack.store.maintenance.delete_run`` deletes a run and all it holds)."""
    conn.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
