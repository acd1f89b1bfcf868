"""Every statement about the model registry: models, their versions, aliases and the aliases' history.

Write functions take the connection of an open ``store.transaction()``; read functions take the ``Store``.
Rows come back as named dicts; ``lineage`` is decoded from its JSON.
"""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING, Any

from nbtrack.errors import DamagedStoreError
from nbtrack.store import seal as _seal
from nbtrack.store._decode import damaged_value, stored_json

if TYPE_CHECKING:
    from nbtrack.store import Store

VERSION_FIELDS = (
    "model",
    "version",
    "run_id",
    "artifact",
    "blob",
    "size",
    "media_type",
    "created",
    "created_by",
    "description",
    "lineage",
)
HISTORY_FIELDS = ("model", "alias", "from_version", "to_version", "moved", "user", "host", "reason")
_VERSION_COLUMNS = ", ".join(VERSION_FIELDS)


def _checked(store: Store, rows: list[tuple]) -> list[dict[str, Any]]:
    """``rows`` of ``_VERSION_COLUMNS`` as versions, each checked against its seal."""
    _seal.check_rows(store, "model_versions", [(row[0], row[1]) for row in rows])
    return [_version(row) for row in rows]


def _version(row: tuple) -> dict[str, Any]:
    found: dict[str, Any] = dict(zip(VERSION_FIELDS, row))
    found["lineage"] = stored_json(found["lineage"], "lineage of a model version")
    return found


# -- reading ---------------------------------------------------------------------------------------------
def has_registry(store: Store) -> bool:
    """Whether the store's schema has the registry's tables (a read-only store may predate them)."""
    return bool(store.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'model_versions'"))


def model_names(store: Store) -> list[str]:
    return [r[0] for r in store.query("SELECT name FROM models ORDER BY name")]


def model_summaries(store: Store) -> list[dict[str, Any]]:
    """``name, description, created, versions, latest, updated`` of each model, by name."""
    rows = store.query(
        "SELECT m.name, m.description, m.created, COUNT(v.version), MAX(v.version), MAX(v.created) "
        "FROM models m LEFT JOIN model_versions v ON v.model = m.name GROUP BY m.name ORDER BY m.name"
    )
    keys = ("name", "description", "created", "versions", "latest", "updated")
    for row in rows:
        if not all(isinstance(value, (int, float, type(None))) for value in row[2:]):  # a type changed on disk
            raise damaged_value("model summary", TypeError(f"model {row[0]!r} has a time or count that is no number"))
    return [dict(zip(keys, r)) for r in rows]


def model_row(store: Store, name: str) -> dict[str, Any] | None:
    rows = store.query("SELECT name, created, description FROM models WHERE name = ?", (name,))
    return dict(zip(("name", "created", "description"), rows[0])) if rows else None


def versions(store: Store, name: str) -> list[dict[str, Any]]:
    """Every version of model ``name``, oldest first."""
    rows = store.query(f"SELECT {_VERSION_COLUMNS} FROM model_versions WHERE model = ? ORDER BY version", (name,))
    return _checked(store, rows)


def version(store: Store, name: str, number: int) -> dict[str, Any] | None:
    rows = store.query(f"SELECT {_VERSION_COLUMNS} FROM model_versions WHERE model = ? AND version = ?", (name, number))
    if rows and (rows[0][0], rows[0][1]) != (name, number):  # the key's index entry leads to another version
        raise damaged_value("model version", LookupError(f"looking up {name}@{number} found {rows[0][0]}@{rows[0][1]}"))
    return _checked(store, rows)[0] if rows else None


def latest_version(store: Store, name: str) -> int | None:
    return store.query("SELECT MAX(version) FROM model_versions WHERE model = ?", (name,))[0][0]


def version_of_artifact(store: Store, name: str, run_id: str, artifact: str) -> int | None:
    rows = store.query(
        "SELECT version FROM model_versions WHERE model = ? AND run_id = ? AND artifact = ?", (name, run_id, artifact)
    )
    return rows[0][0] if rows else None


def aliases(store: Store, name: str) -> dict[str, int]:
    """``{alias: version}`` of model ``name``, by alias."""
    return all_aliases(store, name).get(name, {})


def all_aliases(store: Store, name: str | None = None) -> dict[str, dict[str, int]]:
    """``{model: {alias: version}}`` of every model with aliases (of model ``name`` only, if given).

    Every change of ``model_aliases`` writes its move to ``alias_history`` in the same transaction (and a
    merge settles the aliases from the history), so each alias is where its latest move put it; one that is
    not (a row lost or changed inside a damaged database) raises :class:`DamagedStoreError`."""
    where, args = ("WHERE model = ?", (name,)) if name is not None else ("", ())
    with store.snapshot():
        rows = store.query(f"SELECT model, alias, version FROM model_aliases {where} ORDER BY model, alias", args)
        moved = store.query(f"SELECT model, alias, to_version FROM ({_LATEST_MOVES}) {where}", args)
    if sorted(rows) != sorted(m for m in moved if m[2] is not None):
        raise DamagedStoreError(
            "The aliases of the models stored in nbtrack.db are not where their history moved them: the database "
            "is damaged. Run `nbtrack fsck` to see what it finds, and restore nbtrack.db from a copy of the store."
        )
    found: dict[str, dict[str, int]] = {}
    for model, alias, number in rows:
        found.setdefault(model, {})[alias] = number
    return found


#: The latest move of each (model, alias): where the alias is now (``to_version`` NULL: removed).
_LATEST_MOVES = (
    "SELECT h.model, h.alias, h.to_version, h.moved FROM alias_history h WHERE h.rowid = (SELECT h2.rowid FROM "
    "alias_history h2 WHERE h2.model = h.model AND h2.alias = h.alias ORDER BY h2.moved DESC, h2.rowid DESC LIMIT 1)"
)


def history(store: Store, name: str, alias: str | None = None) -> list[dict[str, Any]]:
    """The alias moves of model ``name`` (of one ``alias`` if given), oldest first."""
    sql = f"SELECT {', '.join(HISTORY_FIELDS)} FROM alias_history WHERE model = ?"
    args: tuple = (name,)
    if alias is not None:
        sql += " AND alias = ?"
        args = (name, alias)
    return [dict(zip(HISTORY_FIELDS, r)) for r in store.query(sql + " ORDER BY moved, rowid", args)]


def versions_of_runs(store: Store, run_ids: list[str]) -> list[tuple[str, int, str]]:
    """``(model, version, run_id)`` of the versions registered from any of ``run_ids``."""
    marks = ", ".join("?" * len(run_ids))
    return store.query(
        f"SELECT model, version, run_id FROM model_versions WHERE run_id IN ({marks}) ORDER BY model, version",
        run_ids,
    )


# -- writing ---------------------------------------------------------------------------------------------
def create_model(conn: sqlite3.Connection, name: str, created: float, description: str | None) -> None:
    conn.execute(
        "INSERT OR IGNORE INTO models (name, created, description) VALUES (?, ?, ?)", (name, created, description)
    )


def next_version(conn: sqlite3.Connection, name: str) -> int:
    """The number the next version of ``name`` gets (read inside the write transaction that inserts it)."""
    return conn.execute("SELECT COALESCE(MAX(version), 0) + 1 FROM model_versions WHERE model = ?", (name,)).fetchone()[
        0
    ]


def insert_version(conn: sqlite3.Connection, row: dict[str, Any]) -> None:
    """Insert a ``model_versions`` row (fields as ``VERSION_FIELDS``; ``lineage`` a JSON-able dict)."""
    values = [json.dumps(row["lineage"], sort_keys=True) if f == "lineage" else row[f] for f in VERSION_FIELDS]
    conn.execute(f"INSERT INTO model_versions ({_VERSION_COLUMNS}) VALUES ({', '.join('?' * len(values))})", values)


def alias_target(conn: sqlite3.Connection, name: str, alias: str) -> int | None:
    row = conn.execute("SELECT version FROM model_aliases WHERE model = ? AND alias = ?", (name, alias)).fetchone()
    return row[0] if row else None


def move_alias(conn: sqlite3.Connection, move: dict[str, Any]) -> None:
    """Point ``move['alias']`` at ``move['to_version']`` (None removes it) and record the move
    (fields as ``HISTORY_FIELDS``). The move is dated after the alias's previous one even if the clock went
    back, so its latest move by date is where the alias is (what a merge settles aliases from)."""
    (last,) = conn.execute(
        "SELECT MAX(moved) FROM alias_history WHERE model = ? AND alias = ?", (move["model"], move["alias"])
    ).fetchone()
    if last is not None and move["moved"] <= last:
        move = {**move, "moved": last + 1e-6}
    if move["to_version"] is None:
        conn.execute("DELETE FROM model_aliases WHERE model = ? AND alias = ?", (move["model"], move["alias"]))
    else:
        conn.execute(
            "INSERT OR REPLACE INTO model_aliases (model, alias, version, updated) VALUES (?, ?, ?, ?)",
            (move["model"], move["alias"], move["to_version"], move["moved"]),
        )
    insert_history(conn, [move])


def insert_history(conn: sqlite3.Connection, moves: list[dict[str, Any]]) -> None:
    conn.executemany(
        f"INSERT INTO alias_history ({', '.join(HISTORY_FIELDS)}) VALUES ({', '.join('?' * len(HISTORY_FIELDS))})",
        [tuple(m[f] for f in HISTORY_FIELDS) for m in moves],
    )


def aliases_on_version(conn: sqlite3.Connection, name: str, number: int) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            "SELECT alias FROM model_aliases WHERE model = ? AND version = ? ORDER BY alias", (name, number)
        )
    ]


def delete_version(conn: sqlite3.Connection, name: str, number: int) -> int:
    """Delete one version row (its alias history stays: it is what happened); returns rows deleted."""
    return conn.execute("DELETE FROM model_versions WHERE model = ? AND version = ?", (name, number)).rowcount


# -- merging ---------------------------------------------------------------------------------------------
def all_models(store: Store) -> list[tuple[str, float, str | None]]:
    return store.query("SELECT name, created, description FROM models ORDER BY name")


def all_versions(store: Store) -> list[dict[str, Any]]:
    return _checked(store, store.query(f"SELECT {_VERSION_COLUMNS} FROM model_versions ORDER BY model, version"))


def all_history(store: Store) -> list[dict[str, Any]]:
    rows = store.query(f"SELECT {', '.join(HISTORY_FIELDS)} FROM alias_history ORDER BY moved, rowid")
    return [dict(zip(HISTORY_FIELDS, r)) for r in rows]


def version_matching(conn: sqlite3.Connection, name: str, run_id: str, artifact: str) -> int | None:
    """The version of ``name`` registered from the same artifact of the same run, if any."""
    row = conn.execute(
        "SELECT version FROM model_versions WHERE model = ? AND run_id = ? AND artifact = ?", (name, run_id, artifact)
    ).fetchone()
    return row[0] if row else None


def version_taken(conn: sqlite3.Connection, name: str, number: int) -> bool:
    return (
        conn.execute("SELECT 1 FROM model_versions WHERE model = ? AND version = ?", (name, number)).fetchone()
        is not None
    )


def history_has(conn: sqlite3.Connection, move: dict[str, Any]) -> bool:
    """Whether the same move (same alias, versions, time, user and host) is already recorded."""
    row = conn.execute(
        "SELECT 1 FROM alias_history WHERE model = ? AND alias = ? AND from_version IS ? AND to_version IS ? "
        "AND moved = ? AND user IS ? AND host IS ? LIMIT 1",
        tuple(move[f] for f in HISTORY_FIELDS[:7]),
    ).fetchone()
    return row is not None


def settle_aliases(conn: sqlite3.Connection) -> None:
    """Set every alias from its history: where the latest move of each (model, alias) put it."""
    conn.execute("DELETE FROM model_aliases")
    conn.execute(
        "INSERT INTO model_aliases (model, alias, version, updated) "
        f"SELECT model, alias, to_version, moved FROM ({_LATEST_MOVES}) WHERE to_version IS NOT NULL"
    )
