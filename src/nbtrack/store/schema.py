"""The store's schema as numbered migrations.

Each migration is ``(version, name, function(conn))``; they run in order inside one write transaction
and are recorded in the ``_migrations`` table and in ``PRAGMA user_version``. A store whose version is
newer than the last migration known here was written by a newer nbtrack and is refused untouched.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

#: ``(version, name, function(conn))`` of one schema change.
Migration = tuple[int, str, Callable[[sqlite3.Connection], None]]


def execute_script(conn: sqlite3.Connection, script: str) -> None:
    """Run ``;``-separated DDL inside the caller's transaction (``executescript`` would commit it)."""
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def _core(conn: sqlite3.Connection) -> None:
    execute_script(
        conn,
        """
        CREATE TABLE experiments (
            experiment_id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            created REAL NOT NULL
        );
        CREATE TABLE environments (
            env_hash TEXT PRIMARY KEY,
            data TEXT NOT NULL
        );
        CREATE TABLE runs (
            run_id TEXT PRIMARY KEY,
            name TEXT,
            experiment_id INTEGER NOT NULL REFERENCES experiments(experiment_id),
            status TEXT NOT NULL,
            kind TEXT NOT NULL,
            start REAL NOT NULL,
            "end" REAL,
            duration_s REAL,
            source_path TEXT,
            source_cell TEXT,
            execution_count INTEGER,
            code TEXT,
            parent_id TEXT,
            host TEXT,
            pid INTEGER,
            pid_start TEXT,
            env_hash TEXT,
            error TEXT,
            summary_keys TEXT NOT NULL DEFAULT '[]',
            summary_values TEXT NOT NULL DEFAULT '[]',
            updated REAL NOT NULL
        );
        CREATE INDEX runs_by_experiment ON runs(experiment_id, start);
        CREATE INDEX runs_by_start ON runs(start, run_id);
        CREATE INDEX runs_by_status ON runs(status);
        CREATE INDEX runs_by_parent ON runs(parent_id);
        CREATE INDEX runs_by_updated ON runs(updated);
        CREATE TABLE params (
            run_id TEXT NOT NULL,
            key TEXT NOT NULL,
            value,
            type TEXT NOT NULL,
            PRIMARY KEY (run_id, key)
        ) WITHOUT ROWID;
        CREATE TABLE metrics (
            run_id TEXT NOT NULL,
            key TEXT NOT NULL,
            seq INTEGER NOT NULL,
            n INTEGER NOT NULL,
            steps BLOB NOT NULL,
            "values" BLOB NOT NULL,
            times BLOB NOT NULL,
            PRIMARY KEY (run_id, key, seq)
        ) WITHOUT ROWID;
        CREATE TABLE latest_metrics (
            run_id TEXT NOT NULL,
            key TEXT NOT NULL,
            value REAL,
            step INTEGER NOT NULL,
            time REAL NOT NULL,
            PRIMARY KEY (run_id, key)
        ) WITHOUT ROWID;
        CREATE TABLE tags (
            run_id TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (run_id, key)
        ) WITHOUT ROWID;
        CREATE TABLE artifacts (
            run_id TEXT NOT NULL,
            name TEXT NOT NULL,
            kind TEXT NOT NULL,
            blob TEXT NOT NULL,
            size INTEGER NOT NULL,
            media_type TEXT NOT NULL,
            created REAL NOT NULL,
            meta TEXT,
            PRIMARY KEY (run_id, name)
        );
        CREATE INDEX artifacts_by_blob ON artifacts(blob);
        CREATE TABLE run_data (
            run_id TEXT NOT NULL,
            direction TEXT NOT NULL CHECK (direction IN ('input', 'output')),
            fingerprint TEXT NOT NULL,
            dataset TEXT,
            version INTEGER,
            name TEXT,
            rows INTEGER,
            columns INTEGER
        );
        CREATE INDEX run_data_by_run ON run_data(run_id);
        CREATE INDEX run_data_by_fingerprint ON run_data(fingerprint);
        """,
    )


MIGRATIONS: list[Migration] = [
    (1, "core: experiments, runs, params, metrics, tags, artifacts, environments, run_data", _core),
]

# (table, column) pairs holding blob hashes: gc keeps these blobs, fsck checks them.
BLOB_REFERENCES: list[tuple[str, str]] = [("artifacts", "blob")]

_DATA_VERSIONS_DDL = """
CREATE TABLE datasets (
    name TEXT PRIMARY KEY,
    created REAL NOT NULL,
    avg_rows INTEGER NOT NULL
);
CREATE TABLE data_versions (
    dataset TEXT NOT NULL REFERENCES datasets(name),
    version INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    created REAL NOT NULL,
    rows INTEGER NOT NULL,
    columns INTEGER NOT NULL,
    bytes_added INTEGER NOT NULL,
    bytes_stored INTEGER NOT NULL,
    storage TEXT NOT NULL CHECK (storage IN ('full', 'delta')),
    parent INTEGER,
    depth INTEGER NOT NULL DEFAULT 0,
    key TEXT,
    message TEXT,
    run_id TEXT,
    meta TEXT NOT NULL,
    PRIMARY KEY (dataset, version)
);
CREATE INDEX data_versions_by_fingerprint ON data_versions(fingerprint);
CREATE INDEX data_versions_by_run ON data_versions(run_id);
CREATE TABLE data_chunks (
    dataset TEXT NOT NULL,
    version INTEGER NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('rows', 'delta', 'src')),
    seq INTEGER NOT NULL,
    blob TEXT NOT NULL,
    rows INTEGER NOT NULL,
    nbytes INTEGER NOT NULL,
    PRIMARY KEY (dataset, version, role, seq)
);
CREATE INDEX data_chunks_by_blob ON data_chunks(blob)
"""


def _data_versions(conn: sqlite3.Connection) -> None:
    """Migration 2: the tables of DataFrame versions.

    ``datasets``       one row per name: the chunking parameter fixed by its first version.
    ``data_versions``  one row per version: fingerprint, shape, how it is stored (full or a keyed
                       delta against ``parent``), the frame meta (labels, index, Arrow schema).
    ``data_chunks``    the blobs of a version, in order: ``rows`` chunks of a full version, ``delta``
                       chunks and one ``src`` row-source map of a keyed delta.
    """
    execute_script(conn, _DATA_VERSIONS_DDL)


MIGRATIONS.append((2, "data versions: datasets, data_versions, data_chunks", _data_versions))
BLOB_REFERENCES.append(("data_chunks", "blob"))


def _typed_summaries(conn: sqlite3.Connection) -> None:
    """Migration 3: each run's summary split by type (see ``nbtrack.store.summary``), so listing many runs
    reads numbers as packed arrays; the old ``summary_values`` JSON is emptied (kept as a column only
    because dropping columns needs SQLite 3.35)."""
    import json

    from nbtrack.store import summary as _summary

    for column, declaration in [
        ("summary_codes", "TEXT NOT NULL DEFAULT ''"),
        ("summary_layout", "TEXT NOT NULL DEFAULT ''"),
        ("summary_num", "BLOB NOT NULL DEFAULT x''"),
        ("summary_str", "BLOB NOT NULL DEFAULT x''"),
        ("summary_text", "TEXT NOT NULL DEFAULT '[]'"),
    ]:
        conn.execute(f"ALTER TABLE runs ADD COLUMN {column} {declaration}")
    rows = conn.execute("SELECT run_id, summary_keys, summary_values FROM runs").fetchall()
    for run_id, keys, values in rows:
        columns = _summary.encode(dict(zip(json.loads(keys), json.loads(values))))
        conn.execute(
            f"UPDATE runs SET {', '.join(f'{c} = ?' for c in columns)}, summary_values = '[]' WHERE run_id = ?",
            (*columns.values(), run_id),
        )


MIGRATIONS.append((3, "runs: typed summaries (codes, layout, packed numbers, strings, JSON values)", _typed_summaries))

_MODEL_REGISTRY_DDL = """
CREATE TABLE models (
    name TEXT PRIMARY KEY,
    created REAL NOT NULL,
    description TEXT
);
CREATE TABLE model_versions (
    model TEXT NOT NULL REFERENCES models(name),
    version INTEGER NOT NULL,
    run_id TEXT NOT NULL,
    artifact TEXT NOT NULL,
    blob TEXT NOT NULL,
    size INTEGER NOT NULL,
    media_type TEXT NOT NULL,
    created REAL NOT NULL,
    created_by TEXT,
    description TEXT,
    lineage TEXT NOT NULL,
    PRIMARY KEY (model, version),
    UNIQUE (model, run_id, artifact)
);
CREATE INDEX model_versions_by_run ON model_versions(run_id);
CREATE INDEX model_versions_by_blob ON model_versions(blob);
CREATE TABLE model_aliases (
    model TEXT NOT NULL,
    alias TEXT NOT NULL,
    version INTEGER NOT NULL,
    updated REAL NOT NULL,
    PRIMARY KEY (model, alias)
);
CREATE TABLE alias_history (
    model TEXT NOT NULL,
    alias TEXT NOT NULL,
    from_version INTEGER,
    to_version INTEGER,
    moved REAL NOT NULL,
    user TEXT,
    host TEXT,
    reason TEXT
);
CREATE INDEX alias_history_by_model ON alias_history(model, moved)
"""


def _model_registry(conn: sqlite3.Connection) -> None:
    """Migration 4: the model registry.

    ``models``          one row per registered model name.
    ``model_versions``  version N of a model: the run and artifact it came from, the blob of the pickled
                        model (a reference of its own: the version outlives nothing it needs), and its
                        lineage frozen as JSON (params, metrics, data inputs, environment, code).
    ``model_aliases``   the version each alias (``champion``, ``challenger``, ...) points to now.
    ``alias_history``   every alias move: from which version to which (NULL: set or removed), when, by
                        which OS user on which host, and why.
    """
    execute_script(conn, _MODEL_REGISTRY_DDL)


MIGRATIONS.append((4, "model registry: models, model_versions, model_aliases, alias_history", _model_registry))
BLOB_REFERENCES.append(("model_versions", "blob"))


def _run_sessions(conn: sqlite3.Connection) -> None:
    """Migration 5: the session slice of each ``%%track`` run (:mod:`nbtrack.capture.session`) as JSON,
    written with the run's other values (a row, not a blob: no fsync per tracked cell)."""
    execute_script(conn, "CREATE TABLE run_sessions (run_id TEXT PRIMARY KEY, slice TEXT NOT NULL) WITHOUT ROWID;")


MIGRATIONS.append((5, "run sessions: the session slice of each %%track run", _run_sessions))


def _run_users(conn: sqlite3.Connection) -> None:
    """Migration 6: who made each run (``runs.user``; NULL for runs recorded before)."""
    execute_script(conn, "ALTER TABLE runs ADD COLUMN user TEXT;")


MIGRATIONS.append((6, "runs: the user who made each run", _run_users))

#: Indexes of migration 7 (see ``_value_indexes``); ``nbtrack.store.runs`` reads them by their names.
VALUE_INDEXES = {
    "latest_metrics": "latest_metrics_by_value",
    "params": "params_by_value",
    "tags": "tags_by_value",
}


def _value_indexes(conn: sqlite3.Connection) -> None:
    """Migration 7: the runs of one param, metric or tag name in value order (``key, value, run_id``), so
    a query ordered by ``metrics.acc`` walks an index and stops at its ``limit``, and a comparison on one
    name reads only the runs that have it. Idempotent: it may land before or after migrations numbered
    higher."""
    for table, index in VALUE_INDEXES.items():
        conn.execute(f"CREATE INDEX IF NOT EXISTS {index} ON {table}(key, value, run_id)")


MIGRATIONS.append((7, "indexes of params, latest metric values and tags by name and value", _value_indexes))


def _remotes(conn: sqlite3.Connection) -> None:
    """Migration 8: remotes (``nbtrack remote add``: a name and an fsspec URL, never credentials) and the
    manifests of each remote seen so far (``merged``: pulled into this store, or pushed from it).
    Idempotent: it may land before or after migrations numbered lower."""
    execute_script(
        conn,
        """
        CREATE TABLE IF NOT EXISTS remotes (name TEXT PRIMARY KEY, url TEXT NOT NULL, added REAL NOT NULL);
        CREATE TABLE IF NOT EXISTS remote_manifests (
            remote TEXT NOT NULL,
            name TEXT NOT NULL,
            body TEXT NOT NULL,
            merged INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (remote, name)
        ) WITHOUT ROWID;
        """,
    )


MIGRATIONS.append((8, "remotes: remote config and the manifests seen on each", _remotes))


def _archived_runs(conn: sqlite3.Connection) -> None:
    """Migration 9: archived runs (``runs.archived``: when the run was archived, NULL for a live run), like
    MLflow's soft delete: hidden from listings unless asked for, restorable. The partial index holds only
    the archived runs, so hiding them costs a lookup in a small index. Idempotent: it may land before or
    after migrations numbered lower."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
    if "archived" not in columns:
        conn.execute("ALTER TABLE runs ADD COLUMN archived REAL")
    conn.execute("CREATE INDEX IF NOT EXISTS runs_archived ON runs(archived, run_id) WHERE archived IS NOT NULL")


MIGRATIONS.append((9, "runs: archived runs (soft delete, restorable)", _archived_runs))


def _run_seals(conn: sqlite3.Connection) -> None:
    """Migration 10: the seal of each run, experiment, data version and model version (a ``seal`` column
    in each table, see :mod:`nbtrack.store.seal`), computed for everything recorded so far."""
    from nbtrack.store import seal

    for table in ("runs", "experiments", "data_versions", "model_versions"):
        if "seal" not in {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN seal TEXT")
    seal.seal_all(conn)


MIGRATIONS.append((10, "seals: checksums over runs, experiments, data versions and model versions", _run_seals))


def _run_experiment_index(conn: sqlite3.Connection) -> None:
    """Migration 11: each run's experiment by run id, in an index (``run_id, experiment_id``). A page deep in
    a metric's order within one experiment walks that metric's value index and tests each run's
    experiment: from this index, not from the wide ``runs`` rows (offset 50,000 of 100,000 runs: 171 ms ->
    55 ms, workspace's "sort and jump to the middle")."""
    conn.execute("CREATE INDEX IF NOT EXISTS runs_experiment_by_id ON runs(run_id, experiment_id)")


MIGRATIONS.append((11, "runs: an index of each run's experiment by run id", _run_experiment_index))


def latest_version() -> int:
    return max(version for version, _, _ in MIGRATIONS)


def pending(current: int) -> list[Migration]:
    return [m for m in sorted(MIGRATIONS, key=lambda m: m[0]) if m[0] > current]


def apply(conn: sqlite3.Connection, migration: Migration) -> None:
    """Run one migration; the caller holds the write transaction."""
    version, name, function = migration
    conn.execute("CREATE TABLE IF NOT EXISTS _migrations (version INTEGER PRIMARY KEY, name TEXT, applied REAL)")
    function(conn)
    conn.execute("INSERT INTO _migrations VALUES (?, ?, ?)", (version, name, time.time()))
    conn.execute(f"PRAGMA user_version = {int(version)}")
