"""Keeping a store healthy: delete runs, collect unreferenced blobs, check and repair."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from nbtrack.errors import InvalidValueError
from nbtrack.store import Store, default_store
from nbtrack.store import schema as _schema
from nbtrack.store.blobs import is_blob_hash

GC_GRACE_S = 3600.0
RUN_TABLES = ("params", "metrics", "latest_metrics", "tags", "artifacts", "run_data")


def delete_run(run_id: str, *, recursive: bool = False, store: Store | None = None) -> list[str]:
    """Delete a run and everything it recorded (its blobs go at the next ``gc``); returns the ids deleted.

    A run with child runs is deleted only with ``recursive=True``, which deletes the children too.
    """
    store = store or default_store(create=False)
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
        for table in (*RUN_TABLES, "runs"):
            conn.executemany(f"DELETE FROM {table} WHERE run_id = ?", [(r,) for r in doomed])
    return doomed


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


def referencing_tables(store: Store, digest: str, exclude: tuple[str, ...] = ("artifacts",)) -> list[str]:
    """The tables (of those holding blob hashes, less ``exclude``) that reference blob ``digest``."""
    return [
        table
        for table, column in _schema.BLOB_REFERENCES
        if table not in exclude and store.query(f'SELECT 1 FROM "{table}" WHERE "{column}" = ? LIMIT 1', (digest,))
    ]


def gc(*, dry_run: bool = False, grace_s: float = GC_GRACE_S, store: Store | None = None) -> GcReport:
    """Remove blobs no row refers to, and temporary files left by crashed writers.

    Files younger than ``grace_s`` are kept: a writer may have stored a blob and be about to refer to it.
    """
    store = store or default_store(create=False)
    report = GcReport()
    keep = referenced_blobs(store)
    cutoff = time.time() - grace_s
    for digest in list(store.blobs.iter_hashes()):
        if digest in keep:
            continue
        path = store.blobs.path(digest)
        stat = path.stat()
        if stat.st_mtime > cutoff:
            report.kept_recent += 1
            continue
        report.removed_blobs += 1
        report.removed_bytes += stat.st_size
        if not dry_run:
            path.unlink(missing_ok=True)
    for temporary in list(store.blobs.iter_temporary_files()):
        if temporary.stat().st_mtime <= cutoff:
            report.removed_temporary += 1
            if not dry_run:
                temporary.unlink(missing_ok=True)
    return report


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

    @property
    def clean(self) -> bool:
        return not self.missing and not self.corrupt and self.integrity == "ok"

    def lines(self) -> list[str]:
        lines = [f"checked {self.checked_blobs} referenced blobs; database integrity: {self.integrity}"]
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
        lines.append("clean" if self.clean else "NOT clean: run `nbtrack fsck --repair` to drop broken artifact rows")
        return lines


def fsck(*, repair: bool = False, store: Store | None = None) -> FsckReport:
    """Check every referenced blob exists and hashes to its name, and the database's integrity.

    With ``repair=True`` artifact rows that refer to missing or corrupt blobs are removed (other tables
    are reported only), and runs of dead processes are marked crashed.
    """
    store = store or default_store(create=False)
    report = FsckReport()
    report.integrity = "; ".join(r[0] for r in store.query("PRAGMA integrity_check"))
    report.crashed_marked = store.reconcile_crashed()
    keep: set[str] = set()
    for table, column in _schema.BLOB_REFERENCES:
        for (digest,) in store.query(f"SELECT DISTINCT {column} FROM {table}"):
            if digest is None:
                continue
            keep.add(digest)
            report.checked_blobs += 1
            if not is_blob_hash(digest) or not store.blobs.exists(digest):  # a non-hash value is no blob
                report.missing.append((table, digest))
            elif not store.blobs.verify(digest):
                report.corrupt.append((table, digest))
    report.unreferenced_blobs = sum(1 for d in store.blobs.iter_hashes() if d not in keep)
    report.temporary_files = sum(1 for _ in store.blobs.iter_temporary_files())
    broken = [h for table, h in report.missing + report.corrupt if table == "artifacts"]
    if repair and broken:
        with store.transaction() as conn:
            for digest in broken:
                report.repaired_rows += conn.execute("DELETE FROM artifacts WHERE blob = ?", (digest,)).rowcount
        report.missing = [m for m in report.missing if m[0] != "artifacts"]
        report.corrupt = [c for c in report.corrupt if c[0] != "artifacts"]
    return report
