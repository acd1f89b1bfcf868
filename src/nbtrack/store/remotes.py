"""Every statement about remotes (migration 8): their config, the manifests seen on each, and the keys of
what a store holds that :mod:`nbtrack.remote` compares with a remote's manifests to decide what to push.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nbtrack.store import schema as _schema

if TYPE_CHECKING:
    import sqlite3

    from nbtrack.store import Store


# ---------------------------------------------------------------- config
def all_remotes(store: Store) -> list[tuple[str, str, float]]:
    """``(name, url, added)`` of every remote, by name."""
    return store.query("SELECT name, url, added FROM remotes ORDER BY name")


def remote_url(store: Store, name: str) -> str | None:
    rows = store.query("SELECT url FROM remotes WHERE name = ?", (name,))
    return rows[0][0] if rows else None


def add_remote(conn: sqlite3.Connection, name: str, url: str, added: float) -> None:
    conn.execute("INSERT INTO remotes (name, url, added) VALUES (?, ?, ?)", (name, url, added))


def remove_remote(conn: sqlite3.Connection, name: str) -> int:
    """Forget a remote and the manifests seen on it; the number of remotes removed (0 or 1)."""
    conn.execute("DELETE FROM remote_manifests WHERE remote = ?", (name,))
    return conn.execute("DELETE FROM remotes WHERE name = ?", (name,)).rowcount


# ---------------------------------------------------------------- manifests seen
def manifests(store: Store, remote: str) -> list[tuple[str, str, bool]]:
    """``(name, body, merged)`` of every manifest of ``remote`` this store has read."""
    return [
        (n, b, bool(m))
        for n, b, m in store.query("SELECT name, body, merged FROM remote_manifests WHERE remote = ?", (remote,))
    ]


def add_manifests(conn: sqlite3.Connection, remote: str, rows: list[tuple[str, str, bool]]) -> None:
    """Record manifests read (``(name, body, merged)``); one already recorded keeps its row."""
    conn.executemany(
        "INSERT OR IGNORE INTO remote_manifests (remote, name, body, merged) VALUES (?, ?, ?, ?)",
        [(remote, n, b, int(m)) for n, b, m in rows],
    )


def mark_merged(conn: sqlite3.Connection, remote: str, name: str) -> None:
    conn.execute("UPDATE remote_manifests SET merged = 1 WHERE remote = ? AND name = ?", (remote, name))


# ---------------------------------------------------------------- what this store holds
def finished_runs(store: Store) -> dict[str, float]:
    """``{run_id: updated}`` of every run that is no longer running (a running run travels when it ends)."""
    return dict(store.query("SELECT run_id, updated FROM runs WHERE status != 'running'"))


def experiment_names(store: Store) -> list[str]:
    return [r[0] for r in store.query("SELECT name FROM experiments")]


def data_versions(store: Store) -> list[tuple[str, int, str, int | None]]:
    """``(dataset, version, fingerprint, parent)`` of every data version."""
    return store.query("SELECT dataset, version, fingerprint, parent FROM data_versions")


def run_data_versions(store: Store) -> list[tuple[str, str, int]]:
    """``(run_id, dataset, version)`` of every stored version a run read or wrote."""
    return store.query(
        "SELECT run_id, dataset, version FROM run_data WHERE dataset IS NOT NULL AND version IS NOT NULL"
    )


def version_runs(store: Store) -> list[tuple[str, int, str]]:
    """``(dataset, version, run_id)`` of every data version a run wrote."""
    return store.query("SELECT dataset, version, run_id FROM data_versions WHERE run_id IS NOT NULL")


def registry_keys(store: Store) -> list[str]:
    """One text key per registered model version and per alias move: equal in every store holding them."""
    if not store.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'model_versions'"):
        return []
    versions = store.query("SELECT model, run_id, artifact FROM model_versions")
    moves = store.query(
        "SELECT h.model, h.alias, f.run_id, f.artifact, t.run_id, t.artifact, h.moved, h.user, h.host "
        "FROM alias_history h "
        "LEFT JOIN model_versions f ON f.model = h.model AND f.version = h.from_version "
        "LEFT JOIN model_versions t ON t.model = h.model AND t.version = h.to_version"
    )
    return [f"v|{m}|{r}|{a}" for m, r, a in versions] + ["m|" + "|".join(map(str, row)) for row in moves]


def referenced_blobs(store: Store) -> set[str]:
    """Every blob hash a row of ``store`` refers to (artifacts, data chunks, model versions)."""
    found: set[str] = set()
    for table, column in _schema.BLOB_REFERENCES:
        if store.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)):
            found.update(r[0] for r in store.query(f"SELECT DISTINCT {column} FROM {table} WHERE {column} IS NOT NULL"))
    return found
