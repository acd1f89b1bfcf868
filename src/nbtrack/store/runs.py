"""Every statement about runs: their rows, params, metrics, tags, artifacts, environments and data links.

Write functions take the connection of an open ``store.transaction()`` so the caller decides what goes
into one transaction; read functions take the ``Store``. Rows come back as named dicts, except where a
list is decoded in bulk (``select_runs``): there the column order is ``LIST_FIELDS``.
"""

from __future__ import annotations

import json
import sqlite3
import time
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

#: Column order of the rows ``select_runs`` returns: first the values a run's seal covers for listings
#: (``nbtrack.store.seal.LISTING_TEMPLATE``; ``experiment`` holds the experiment's id), then the seal, then
#: the experiment's name (``"list"`` rows only; None in ``"frame"`` rows, which map ids to names themselves).
LIST_FIELDS = (
    "run_id",
    "name",
    "experiment",
    "status",
    "kind",
    "start",
    "end",
    "duration_s",
    "parent_id",
    "user",
    "archived",
    "summary_layout",
    "summary_num",
    "summary_str",
    "summary_text",
    "seal",
    "experiment_name",
)
_COLUMNS = {
    "list": f"{_seal.LISTING_TEMPLATE}, {{seal}}, e.name",
    "frame": f"{_seal.LISTING_TEMPLATE}, {{seal}}, NULL",
    "count": "COUNT(*)",
}


def _columns(store: Store, columns: str) -> str:
    """The SELECT list of ``columns``; ``user`` is NULL in a store read before migration 6, ``archived``
    before migration 9 (read-only stores)."""
    version = store.schema_version
    return _COLUMNS[columns].format(
        user="r.user" if version >= 6 else "NULL",
        archived="r.archived" if version >= ARCHIVED_SCHEMA else "NULL",
        seal="r.seal" if version >= _seal.SEAL_SCHEMA else "NULL",
    )


def check_sealed(store: Store, run_id: str) -> None:
    """Raise :class:`DamagedStoreError` if the run's row, artifact rows or data links differ from what its
    seal covers (``nbtrack.store.seal``)."""
    if store.schema_version >= _seal.SEAL_SCHEMA and _seal.broken_seals(store.query, [run_id]):
        raise _unsealed(run_id)


def _unsealed(run_id: str) -> DamagedStoreError:
    return DamagedStoreError(
        f"Run {run_id}'s rows in nbtrack.db (the run, its artifacts or its data links) no longer match its "
        "seal: a value changed, or a row was lost or added, after they were written. The database is "
        "damaged: run `nbtrack fsck` to see what it finds, and restore nbtrack.db from a copy of the store."
    )


def check_listed(rows: Sequence[tuple]) -> None:
    """Raise :class:`DamagedStoreError` if a row ``select_runs`` returned differs from what its run's seal
    covers (a value changed inside a damaged database: ``nbtrack.store.seal``)."""
    for row in rows:
        seal = row[_SEAL]
        if seal is not None and seal[:16] != _seal.listing_digest(row):
            raise _unsealed(row[0])


_SEAL = LIST_FIELDS.index("seal")
#: The schema version that added ``runs.archived`` (migration 9).
ARCHIVED_SCHEMA = 9
#: Which runs a listing shows: live runs only (the default), live and archived, or archived only.
ARCHIVED_VIEWS = ("hide", "include", "only")
#: The archived runs, read from the partial index ``runs_archived`` (only archived runs are in it).
_ARCHIVED_IDS = "SELECT run_id FROM runs WHERE archived IS NOT NULL"


_RUN_FIELDS = (
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
def select_runs(
    store: Store,
    experiment: str | None,
    where: str | None,
    order_by: str | None,
    limit: int | None,
    offset: int | None,
    columns: str = "list",
    matching: int | None = None,
    archived: str = "hide",
) -> list[tuple]:
    """Runs matching the query language's ``where`` and ``order_by`` (see ``nbtrack.store.query``).

    Call it inside ``store.snapshot()``: a page (``limit`` or ``offset`` given) is read in two statements.
    The first finds the ids of the page's runs and reads nothing else: the index of ``start``, or the
    index of one name's values when the order is ``[-]metrics.k``, ``params.k`` or ``tags.k`` (migration
    7), walked until the page is full. The second reads the page's columns. A deep page thus costs an
    index walk, not the columns and the sort of every run before it.

    A page with a ``where`` first counts the matching runs (``matching``, when the caller has not): when
    most runs match, walking the runs in page order and testing each stops soon, so the test is made per
    run; when few match, they are read from the value indexes and sorted.

    ``archived`` (one of ``ARCHIVED_VIEWS``): archived runs are left out unless it is ``include`` or
    ``only``; while no run is archived, the query is the same as before migration 9.
    """
    if columns == "count":
        return [(count_matching(store, experiment, where, archived),)]
    paged = limit is not None or bool(offset)
    per_run = (
        paged and limit is not None and _mostly_matching(store, experiment, where, matching, limit, offset, archived)
    )
    scope = _Scope.of(store, experiment, where, per_run, archived)
    if scope is None:
        return []
    if not paged:
        order_sql, order_params = query.compile_order_by(order_by)
        sql = (
            f"SELECT {_columns(store, columns)} FROM runs r JOIN experiments e ON e.experiment_id = r.experiment_id "
            f"WHERE {scope.clause} ORDER BY {order_sql}"
        )
        rows = store.query(sql, [*scope.params, *order_params])
    else:
        rows = _rows_by_id(
            store, _page_ids(store, scope, query.order_items(order_by), limit, int(offset or 0)), columns
        )
    check_listed(rows)
    return rows


def count_matching(store: Store, experiment: str | None, where: str | None, archived: str = "hide") -> int:
    """How many runs match ``where`` (in ``experiment``; archived runs as ``select_runs`` says)."""
    scope = _Scope.of(store, experiment, where, archived=archived)
    if scope is None:
        return 0
    return store.query(f"SELECT COUNT(*) FROM runs r{scope.joins} WHERE {scope.clause}", scope.params)[0][0]


class _Scope:
    """The runs a query selects, as SQL over ``runs r``: the joins it needs, its condition and params."""

    def __init__(self, joins: str, clause: str, params: list[object]):
        self.joins, self.clause, self.params = joins, clause, params

    @classmethod
    def of(
        cls, store: Store, experiment: str | None, where: str | None, per_run: bool = False, archived: str = "hide"
    ) -> _Scope | None:
        """None when ``experiment`` does not exist or no run can match (archived only, none archived)."""
        check_experiments(store)  # listings show experiment names and filters compare them
        where_sql, where_params = query.compile_where(where, per_run)
        clause, params = f"({where_sql})", list(where_params)
        if experiment is not None:
            found = experiment_id(store, experiment)
            if found is None:
                return None
            clause += " AND r.experiment_id = ?"
            params.append(found)
        if archived != "include" and any_archived(store):
            # run ids from the small partial index: tested on the id an index walk already holds
            clause += f" AND r.run_id {'IN' if archived == 'only' else 'NOT IN'} ({_ARCHIVED_IDS})"
        elif archived == "only":
            return None
        return cls(_experiment_join(where_sql), clause, params)

    @property
    def everything(self) -> bool:
        return self.clause == "(1)"


def _mostly_matching(
    store: Store,
    experiment: str | None,
    where: str | None,
    matching: int | None,
    limit: int,
    offset: int | None,
    archived: str = "hide",
) -> bool:
    """Whether testing runs one by one in page order fills the page sooner than reading every match: a
    walk tests about ``(offset + limit) * runs / matching`` runs, reading the matches costs about three
    times more per match (a lookup, a row and a sort)."""
    if where is None or not where.strip():
        return False
    if matching is None:
        matching = count_matching(store, experiment, where, archived)
    runs = count_matching(store, experiment, None, archived)
    return 3 * matching * matching > (int(offset or 0) + int(limit)) * runs


def _experiment_join(sql: str) -> str:
    # Query SQL is made of fixed fragments only (names and literals are bound), so this test is exact.
    return " JOIN experiments e ON e.experiment_id = r.experiment_id" if "e.name" in sql else ""


def _page_ids(store: Store, scope: _Scope, items: list[query.OrderItem], limit: int | None, offset: int) -> list[str]:
    """The ids of the runs of one page, in order."""
    size = -1 if limit is None else int(limit)
    if len(items) == 1 and items[0].table is not None:
        return _page_by_value(store, scope, items[0], size, offset)
    order_sql, order_params = query.compile_order_items(items)
    joins = scope.joins or _experiment_join(order_sql)
    sql = f"SELECT r.run_id FROM runs r{joins} WHERE {scope.clause} ORDER BY {order_sql} LIMIT ? OFFSET ?"
    return [row[0] for row in store.query(sql, [*scope.params, *order_params, size, offset])]


def _page_by_value(store: Store, scope: _Scope, item: query.OrderItem, size: int, offset: int) -> list[str]:
    """A page ordered by one name's values: first the runs that have a value, walked in the value index
    of migration 7 (joined with the runs only to test ``where``), then those without one (NULL sorts
    last both ways), by ``run_id`` descending, as ties are."""
    table, key = item.table, item.key
    valued = f"FROM {table} k WHERE k.key = ? AND k.value IS NOT NULL"
    if not scope.everything:
        valued = (
            f"FROM {table} k CROSS JOIN runs r ON r.run_id = k.run_id{scope.joins} "
            f"WHERE k.key = ? AND k.value IS NOT NULL AND {scope.clause}"
        )
    found = [
        row[0]
        for row in store.query(
            f"SELECT k.run_id {valued} ORDER BY k.value {item.direction}, k.run_id DESC LIMIT ? OFFSET ?",
            [key, *scope.params, size, offset],
        )
    ]
    if 0 <= size <= len(found):
        return found
    if found or not offset:
        before = offset + len(found)
    else:  # the page starts past the runs that have a value: how many are there?
        before = store.query(f"SELECT COUNT(*) {valued}", [key, *scope.params])[0][0]
    rest = store.query(
        f"SELECT r.run_id FROM runs r{scope.joins} WHERE NOT EXISTS (SELECT 1 FROM {table} "
        f"WHERE run_id = r.run_id AND key = ? AND value IS NOT NULL) AND {scope.clause} "
        "ORDER BY r.run_id DESC LIMIT ? OFFSET ?",
        [key, *scope.params, -1 if size < 0 else size - len(found), max(0, offset - before)],
    )
    return found + [row[0] for row in rest]


def _rows_by_id(store: Store, run_ids: list[str], columns: str) -> list[tuple]:
    """The ``columns`` of runs given by id, in that order."""
    if not run_ids:
        return []
    return store.query(
        f"SELECT {_columns(store, columns)} FROM json_each(?) j CROSS JOIN runs r ON r.run_id = j.value "
        "JOIN experiments e ON e.experiment_id = r.experiment_id ORDER BY j.key",
        (json.dumps(run_ids),),
    )


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
    """The ``runs`` row of ``run_id`` with its experiment's name (fields as in ``_RUN_FIELDS``)."""
    check_experiments(store)
    rows = store.query(
        'SELECT r.run_id, r.name, e.name, r.status, r.kind, r.start, r."end", r.duration_s, r.source_path, '
        "r.source_cell, r.execution_count, r.code, r.parent_id, r.host, r.pid, r.error, r.env_hash "
        "FROM runs r JOIN experiments e USING (experiment_id) WHERE r.run_id = ?",
        (run_id,),
    )
    if not rows:  # the caller resolved the id in the same snapshot: its experiment id is damaged
        raise damaged_value("experiment of a run", LookupError(f"run {run_id} names no experiment"))
    row: dict[str, Any] = dict(zip(_RUN_FIELDS, rows[0]))
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
    check_experiments(store)
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
    if not isinstance(text, str) or hash_bytes(text.encode("utf-8", "surrogateescape")) != env_hash:
        raise damaged_value("environment of a run", ValueError(f"its text does not hash to {env_hash}"))
    return stored_json(text, "environment of a run")


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
def experiment_names(store: Store) -> dict[int, str]:
    """``{experiment_id: name}``, each row checked against its seal (``check_experiments``)."""
    if store.schema_version < _seal.SEAL_SCHEMA:
        return dict(store.query("SELECT experiment_id, name FROM experiments"))
    rows = store.query("SELECT experiment_id, name, created, seal FROM experiments")
    _raise_if_broken(rows)
    return {row[0]: row[1] for row in rows}


def check_experiments(store: Store) -> None:
    """Raise :class:`DamagedStoreError` if an experiment's name or id no longer matches its seal: every
    listing shows experiment names, and a filter by experiment finds its runs by name (a few rows: cheap)."""
    if store.schema_version >= _seal.SEAL_SCHEMA:
        _raise_if_broken(store.query("SELECT experiment_id, name, created, seal FROM experiments"))


def _raise_if_broken(rows: list[tuple]) -> None:
    broken = _seal.broken_experiments(rows)
    if broken:
        raise DamagedStoreError(
            f"The experiments row(s) with id {', '.join(map(str, broken))} in nbtrack.db no longer match their "
            "seal (a name changed after it was written): the database is damaged. Run `nbtrack fsck` to see what "
            "it finds, and restore nbtrack.db from a copy of the store."
        )


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
        check_experiments(store)
        sql += " JOIN experiments e USING (experiment_id) WHERE e.name = ?"
        args = (experiment,)
    return [stored_json(keys, "summary names of a run") for (keys,) in store.query(sql, args)]


def experiment_counts(store: Store) -> list[tuple[str, int, float | None]]:
    """``(experiment, number of runs, latest start)`` by name; archived runs are not counted."""
    # Per experiment through runs_by_experiment (a count of its range and its last entry), not a join and
    # a grouping of every run: 5-12 ms instead of 90-150 ms at 100,000 runs (GET /experiments).
    check_experiments(store)
    rows = store.query(
        "SELECT e.name, (SELECT COUNT(*) FROM runs r WHERE r.experiment_id = e.experiment_id), "
        "(SELECT MAX(r.start) FROM runs r WHERE r.experiment_id = e.experiment_id) FROM experiments e ORDER BY e.name"
    )
    if not any_archived(store):
        return rows
    archived = dict(  # from the partial index of archived runs: as many rows as runs archived
        store.query(
            "SELECT e.name, COUNT(*) FROM runs r JOIN experiments e USING (experiment_id) "
            "WHERE r.archived IS NOT NULL GROUP BY e.name"
        )
    )
    return [(name, count - archived.get(name, 0), last) for name, count, last in rows]


def experiment_id(store: Store, name: str) -> int | None:
    row = store.query("SELECT experiment_id FROM experiments WHERE name = ?", (name,))
    if not row:
        check_experiments(store)  # a name damaged on disk would otherwise read as "no such experiment"
    return row[0][0] if row else None


def create_experiment(conn: sqlite3.Connection, name: str) -> int:
    conn.execute("INSERT OR IGNORE INTO experiments (name, created) VALUES (?, ?)", (name, time.time()))
    return conn.execute("SELECT experiment_id FROM experiments WHERE name = ?", (name,)).fetchone()[0]


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
