"""Keeping a store healthy: delete runs, collect unreferenced blobs, check and repair."""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from nbtrack.errors import DamagedStoreError, InvalidValueError, UnsafeGcError
from nbtrack.store import Store, StoreLike, resolve_store
from nbtrack.store import datasets as _datasets
from nbtrack.store import history as _history
from nbtrack.store import models as _models
from nbtrack.store import runs as _runs
from nbtrack.store import schema as _schema
from nbtrack.store import seal as _seal
from nbtrack.store.blobs import is_blob_hash

GC_GRACE_S = 3600.0
RUN_TABLES = ("params", "metrics", "latest_metrics", "tags", "artifacts", "run_data", "run_sessions")


def delete_run(run_id: str, *, recursive: bool = False, store: StoreLike | None = None) -> list[str]:
    """Delete a run and everything it recorded (its blobs go at the next ``gc``); returns the ids deleted.

    A run with child runs is deleted only with ``recursive=True``, which deletes the children too. A run
    (or child run) that registered model versions come from is refused: delete those versions first.
    """
    store = resolve_store(store, create=False)
    run_id = store.resolve_run_id(run_id)
    doomed = [run_id]
    for current in doomed:
        doomed.extend(r[0] for r in store.query("SELECT run_id FROM runs WHERE parent_id = ?", (current,)))
    if len(doomed) > 1 and not recursive:
        raise InvalidValueError(
            f"Run {run_id[-8:]} has {len(doomed) - 1} child run(s): pass recursive=True (CLI: --recursive) "
            "to delete them too."
        )
    with store.transaction() as conn:
        _refuse_registered(store, run_id, doomed)  # inside: no version can be registered from them meanwhile
        for table in (*RUN_TABLES, "runs"):
            conn.executemany(f"DELETE FROM {table} WHERE run_id = ?", [(r,) for r in doomed])
    return doomed


def _refuse_registered(store: Store, run_id: str, doomed: list[str]) -> None:
    registered = _models.versions_of_runs(store, doomed) if _models.has_registry(store) else []
    if registered:
        listed = ", ".join(f"{model}/{version} (run {run[-8:]})" for model, version, run in registered[:10])
        first_model, first_version, _ = registered[0]
        raise InvalidValueError(
            f"Run {run_id[-8:]} is the source of registered model version(s) {listed}: a registered model keeps "
            f"its run. Delete those versions first (`nbtrack models delete {first_model} {first_version}`), "
            "then the run."
        )


def referenced_blobs(store: Store) -> set[str]:
    hashes: set[str] = set()
    for table, column in _schema.BLOB_REFERENCES:
        hashes.update(r[0] for r in store.query(f"SELECT DISTINCT {column} FROM {table}"))
    return hashes


@dataclass
class GcReport:
    removed_blobs: int = 0
    removed_bytes: int = 0
    removed_temporary: int = 0
    kept_recent: int = 0
    kept_reused: int = 0


def referencing_tables(store: Store, digest: str, exclude: tuple[str, ...] = ("artifacts",)) -> list[str]:
    """The tables (of those holding blob hashes, less ``exclude``) that reference blob ``digest``."""
    return [
        table
        for table, column in _schema.BLOB_REFERENCES
        if table not in exclude and store.query(f'SELECT 1 FROM "{table}" WHERE "{column}" = ? LIMIT 1', (digest,))
    ]


def database_problem(store: Store, *, full: bool = False) -> str | None:
    """None when SQLite finds the database sound (``PRAGMA quick_check``, or ``integrity_check`` with
    ``full``), else what it found."""
    pragma = "integrity_check" if full else "quick_check"
    try:
        found = "; ".join(str(r[0]) for r in store.query(f"PRAGMA {pragma}"))
    except (sqlite3.DatabaseError, DamagedStoreError) as error:
        return str(error.__cause__ or error)
    return None if found == "ok" else found


def _database_created(store: Store) -> float | None:
    """When this database was created (its first migration), or None if it does not say."""
    try:
        rows = store.query("SELECT MIN(applied) FROM _migrations")
    except sqlite3.OperationalError:
        return None
    return rows[0][0] if rows and rows[0][0] is not None else None


def _referenced_among(conn: sqlite3.Connection, digests: list[str]) -> set[str]:
    marks = ", ".join("?" * len(digests))
    found: set[str] = set()
    for table, column in _schema.BLOB_REFERENCES:
        found.update(
            r[0] for r in conn.execute(f'SELECT "{column}" FROM "{table}" WHERE "{column}" IN ({marks})', digests)
        )
    return found


#: What gc moves a blob to before deleting it (in the blob's own folder; not a blob name, so never read).
_ASIDE = ".gc-"
_BATCH = 256


def gc(
    *, dry_run: bool = False, grace_s: float = GC_GRACE_S, force: bool = False, store: StoreLike | None = None
) -> GcReport:
    """Remove blobs no row refers to, and temporary files left by crashed writers.

    Files younger than ``grace_s`` are kept: a writer may have stored a blob and be about to refer to it
    (a writer that reuses a stored blob refreshes its time, see ``BlobStore.exists``). Each blob is
    deleted only after re-checking, inside a write transaction, that no row refers to it, and after
    moving it aside and checking that no writer refreshed it meanwhile (then it is put back).

    Refused (:class:`UnsafeGcError`) when SQLite finds the database damaged, and, unless ``force=True``,
    when blobs it would remove are older than the database itself: the database was then replaced or
    recreated and those blobs are likely the data of the one it replaced.
    """
    store = resolve_store(store, create=False)
    if not dry_run:
        store.require_writable("collect unreferenced blobs")
    problem = database_problem(store)
    if problem is not None:
        raise UnsafeGcError(
            f"The database of the store at {store.root} is damaged ({problem}), so which blobs it refers to "
            "cannot be trusted: nothing was removed. Run `nbtrack fsck` and restore nbtrack.db from a copy."
        )
    report = GcReport()
    if not dry_run:
        _put_back_set_aside(store)
    keep = referenced_blobs(store)
    cutoff = time.time() - grace_s
    candidates: list[tuple[str, int]] = []
    older: list[str] = []
    born = _database_created(store)
    for digest in list(store.blobs.iter_hashes()):
        if digest in keep:
            continue
        try:
            stat = os.lstat(store.blobs.path(digest))
        except FileNotFoundError:
            continue
        if stat.st_mtime > cutoff:
            report.kept_recent += 1
            continue
        candidates.append((digest, stat.st_size))
        if born is not None and stat.st_mtime < born - 1.0:
            older.append(digest)
    if older and not force:
        raise UnsafeGcError(
            f"gc would remove {len(older)} blob(s) of {store.root} that are older than its database "
            f"(created {_when(born)}): the database was probably replaced or recreated (an interrupted copy?) "
            "and those blobs hold the data it lost. Nothing was removed. Restore nbtrack.db from a copy and run "
            "`nbtrack fsck`; if those blobs really are garbage, run gc with force=True (CLI: --force)."
        )
    if dry_run:
        report.removed_blobs = len(candidates)
        report.removed_bytes = sum(size for _, size in candidates)
    else:
        for start in range(0, len(candidates), _BATCH):
            _collect(store, candidates[start : start + _BATCH], cutoff, report)
    for temporary in list(store.blobs.iter_temporary_files()):
        try:
            fresh = temporary.stat().st_mtime > cutoff
        except FileNotFoundError:  # a writer renamed it into place meanwhile
            continue
        if not fresh:
            report.removed_temporary += 1
            if not dry_run:
                temporary.unlink(missing_ok=True)
    return report


def _collect(store: Store, batch: list[tuple[str, int]], cutoff: float, report: GcReport) -> None:
    """Delete one batch of unreferenced blobs, safely against writers running now.

    Inside a write transaction (no row can be committed meanwhile) the batch's references are re-read and
    the unreferenced blobs are renamed aside. A writer reusing a blob refreshes its time first: before the
    rename, the moved file shows the new time and is put back; after it, the writer finds the blob gone and
    writes it again. So a blob referred to when gc finishes is never deleted."""
    aside: list[tuple[str, Path, Path, int]] = []
    with store.transaction() as conn:
        referenced = _referenced_among(conn, [digest for digest, _ in batch])
        for digest, size in batch:
            if digest in referenced:
                report.kept_reused += 1
                continue
            path = store.blobs.path(digest)
            moved = path.with_name(_ASIDE + path.name)
            try:
                os.rename(path, moved)
            except FileNotFoundError:
                continue
            aside.append((digest, path, moved, size))
    for _digest, path, moved, size in aside:
        if os.lstat(moved).st_mtime > cutoff:  # reused by a writer between the listing and the rename
            os.rename(moved, path)
            report.kept_reused += 1
            continue
        moved.unlink()
        report.removed_blobs += 1
        report.removed_bytes += size


def _put_back_set_aside(store: Store) -> None:
    """Blobs a killed gc had moved aside go back, to be judged again."""
    if not store.blobs.root.is_dir():
        return
    for moved in store.blobs.root.glob(f"*/{_ASIDE}*"):
        original = moved.with_name(moved.name[len(_ASIDE) :])
        if original.exists():
            moved.unlink(missing_ok=True)
        else:
            os.rename(moved, original)


def _when(epoch: float | None) -> str:
    import datetime

    if epoch is None:
        return "at an unknown time"
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


#: Columns holding JSON texts nbtrack decodes: SQLite keeps no checksum of values, so fsck checks them.
_JSON_COLUMNS = (
    ("environments", "data"),
    ("runs", "summary_keys"),
    ("runs", "error"),
    ("artifacts", "meta"),
    ("data_versions", "key"),
    ("data_versions", "meta"),
    ("model_versions", "lineage"),
)


def _undecodable_values(store: Store) -> str | None:
    """What ``json_valid`` finds undecodable in the JSON columns (a bit flipped inside a value), or None."""
    found = []
    tables = {name for (name,) in store.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
    for table, column in _JSON_COLUMNS:
        if table not in tables:
            continue
        sql = f"SELECT COUNT(*) FROM {table} WHERE {column} IS NOT NULL AND NOT json_valid({column})"
        count = store.query(sql)[0][0]
        if count:
            found.append(f"{count} in {table}.{column}")
    found += [f"text that is not UTF-8 in {table}" for table in sorted(tables) if _holds_bad_text(store, table)]
    damaged_segments = _damaged_metric_segments(store)
    if damaged_segments:
        found.append(f"{damaged_segments} metric history segments that do not match their checksum")
    damaged_metas = _damaged_version_metas(store)
    if damaged_metas:
        found.append(f"{damaged_metas} data version metas that do not match their checksum")
    environments = sum(
        not _runs.environment_matches(env_hash, text)
        for env_hash, text in store.query("SELECT env_hash, data FROM environments")
    )
    if environments:
        found.append(f"{environments} environments whose text does not match their hash")
    sealed = store.schema_version >= _seal.SEAL_SCHEMA
    experiments = (
        _seal.broken_experiments(store.query("SELECT experiment_id, name, created, seal FROM experiments"))
        if sealed
        else []
    )
    if experiments:
        found.append(f"{len(experiments)} experiments whose row does not match its seal")
    for table in _seal.SEALED_ROWS if sealed else ():
        rows = _seal.broken_rows(store.query, table)
        if rows:
            shown = ", ".join(f"{first}@{second}" for first, second in rows[:5])
            found.append(f"{len(rows)} {table} rows that do not match their seal ({shown})")
    unsealed = _seal.broken_seals(store.query) if sealed else []
    if unsealed:
        shown = ", ".join(unsealed[:5]) + (", ..." if len(unsealed) > 5 else "")
        found.append(f"{len(unsealed)} runs whose rows do not match their seal ({shown})")
    return f"values that cannot be decoded: {', '.join(found)}" if found else None


def _damaged_version_metas(store: Store) -> int:
    """How many ``data_versions.meta`` texts fail :func:`nbtrack.store.datasets.stored_meta`'s check."""
    damaged = 0
    for (text,) in store.query("SELECT meta FROM data_versions WHERE json_valid(meta)"):
        try:
            _datasets.stored_meta(text)
        except DamagedStoreError:
            damaged += 1
    return damaged


def _damaged_metric_segments(store: Store) -> int:
    """How many rows of ``metrics`` fail :func:`nbtrack.store.history.verified` (a bit flipped inside)."""
    damaged = 0
    with store._lock:
        cursor = store.conn.execute('SELECT key, seq, n, steps, "values", times FROM metrics')
        try:
            while rows := cursor.fetchmany(10_000):
                for row in rows:
                    try:
                        _history.verified(*row)
                    except DamagedStoreError:
                        damaged += 1
        except sqlite3.OperationalError as error:  # a key that is not UTF-8: reported as such above
            if "could not decode" not in str(error).lower():
                raise
    return damaged


def _holds_bad_text(store: Store, table: str) -> bool:
    """Whether reading every row of ``table`` meets a text that is not UTF-8 (a bit flipped inside it)."""
    if table.startswith("sqlite_"):
        return False
    with store._lock:
        cursor = store.conn.execute(f'SELECT * FROM "{table}"')
        try:
            while cursor.fetchmany(10_000):
                pass
        except sqlite3.OperationalError as error:
            if "could not decode" not in str(error).lower():
                raise
            return True
    return False


@dataclass
class FsckReport:
    """What ``fsck`` found. ``clean`` is true when nothing refers to a missing or corrupt blob."""

    checked_blobs: int = 0
    missing: list[tuple[str, str]] = field(default_factory=list)
    corrupt: list[tuple[str, str]] = field(default_factory=list)
    integrity: str = "ok"
    crashed_marked: int = 0
    repaired_rows: int = 0
    unreferenced_blobs: int = 0
    temporary_files: int = 0
    #: Set when the database could not be read through (damaged): what SQLite said.
    damaged: str | None = None

    @property
    def clean(self) -> bool:
        return not self.missing and not self.corrupt and self.integrity == "ok" and self.damaged is None

    def lines(self) -> list[str]:
        lines = [f"checked {self.checked_blobs} referenced blobs; database integrity: {self.integrity}"]
        if self.damaged is not None:
            lines.append(
                f"the database is damaged ({self.damaged}): restore nbtrack.db from a copy (the blobs in objects/ "
                "are checked below by their own hashes); `sqlite3 nbtrack.db .recover` may salvage its rows"
            )
        lines += [f"missing blob {h} referenced from {table}" for table, h in self.missing]
        lines += [f"corrupt blob {h} referenced from {table}" for table, h in self.corrupt]
        if self.crashed_marked:
            lines.append(f"marked {self.crashed_marked} run(s) of dead processes as crashed")
        if self.repaired_rows:
            lines.append(f"removed {self.repaired_rows} artifact row(s) that referred to missing or corrupt blobs")
        if self.unreferenced_blobs or self.temporary_files:
            lines.append(
                f"{self.unreferenced_blobs} unreferenced blob(s), {self.temporary_files} temporary file(s): "
                "`nbtrack gc` removes them"
            )
        if self.clean:
            lines.append("clean")
        elif self.damaged is not None or self.integrity != "ok":
            lines.append(
                "NOT clean: the database is damaged; restore nbtrack.db from a copy of the store, and remove the "
                "damaged database's nbtrack.db-wal and nbtrack.db-shm (SQLite would replay them onto the copy)"
            )
        else:
            lines.append("NOT clean: run `nbtrack fsck --repair` to drop broken artifact rows")
        return lines


def fsck(*, repair: bool = False, store: StoreLike | None = None) -> FsckReport:
    """Check every referenced blob exists and hashes to its name, and the database's integrity.

    With ``repair=True`` artifact rows that refer to missing or corrupt blobs are removed (other tables
    are reported only), and runs of dead processes are marked crashed. A damaged database is reported
    (``damaged``, ``integrity``), never raised: the blobs are then checked against their own names.
    """
    store = resolve_store(store, create=False)
    report = FsckReport()
    problem = database_problem(store, full=True)
    report.integrity = problem or "ok"
    keep: set[str] = set()
    try:
        report.crashed_marked = 0 if store.read_only else store.reconcile_crashed()
        undecodable = _undecodable_values(store)
        if undecodable and report.integrity == "ok":  # damage inside values, which integrity_check cannot see
            report.integrity = undecodable
        for table, column in _schema.BLOB_REFERENCES:
            for (digest,) in store.query(f"SELECT DISTINCT {column} FROM {table}"):
                if digest is None:
                    continue
                keep.add(digest)
                report.checked_blobs += 1
                if not is_blob_hash(digest) or not store.blobs.present(digest):  # a non-hash value is no blob
                    report.missing.append((table, digest))
                elif not store.blobs.verify(digest):
                    report.corrupt.append((table, digest))
    except (sqlite3.DatabaseError, DamagedStoreError) as error:
        error = error.__cause__ or error
        report.damaged = str(error)
        if report.integrity == "ok":
            report.integrity = str(error)
        report.corrupt += [("objects", d) for d in store.blobs.iter_hashes() if not store.blobs.verify(d)]
        report.temporary_files = sum(1 for _ in store.blobs.iter_temporary_files())
        return report
    report.unreferenced_blobs = sum(1 for d in store.blobs.iter_hashes() if d not in keep)
    report.temporary_files = sum(1 for _ in store.blobs.iter_temporary_files())
    broken = [h for table, h in report.missing + report.corrupt if table == "artifacts"]
    if repair and broken and problem is None:
        with store.transaction() as conn:
            for digest in broken:
                report.repaired_rows += conn.execute("DELETE FROM artifacts WHERE blob = ?", (digest,)).rowcount
        report.missing = [m for m in report.missing if m[0] != "artifacts"]
        report.corrupt = [c for c in report.corrupt if c[0] != "artifacts"]
    return report
