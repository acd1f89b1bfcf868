"""Merging one store into another: ``nbtrack merge OTHER_STORE`` and the Dask sweep's ship-back.

Run ids are globally unique (ULIDs) and blobs are content-addressed, so merging is a union:

* experiments are matched by name (their integer ids differ between stores);
* a run missing from the target is copied with all its rows (params, metrics, latest_metrics, tags,
  artifacts, run_data); a run present in both is replaced only if the other copy was updated later
  (so merging a store again, or merging back a store that was copied from this one, changes nothing);
* environments are copied by hash, blobs by content hash (verified while copying);
* data versions (migration 2) are matched by ``(dataset, fingerprint)``: a version the target already
  has keeps the target's number, a new one gets its number, or the next free one if that number is
  taken by different data; ``run_data`` and delta parents follow the renumbering;
* registered model versions (migration 4) are matched by ``(model, run, artifact)`` and renumbered the
  same way; the alias histories are united (each move once) and every alias ends where the latest move
  of either store put it.

Everything is written in one transaction: a merge that fails leaves the target as it was.

The remotes (:mod:`nbtrack.remote`) use the same merge both ways: a push merges a :class:`Selection` of
the store (the runs, data versions and registry the remote lacks) into an empty pack, and a pull merges a
downloaded pack into the store, after the objects it refers to were downloaded and checked.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nbtrack.errors import DamagedStoreError, NbtrackError
from nbtrack.store import seal as _seal
from nbtrack.store.maintenance import (
    RUN_TABLES,  # tables keyed by run_id: copied with their run, as delete_run clears them
)

if TYPE_CHECKING:
    import sqlite3

    from nbtrack.store import Store

#: ``{(dataset, version in the merged store): version in the target}``
Renumbering = dict[tuple[str, int], int]

_HANDLED = {
    "remotes",  # a store's remotes and what it saw on them are its own: never merged
    "remote_manifests",
    "experiments",
    "runs",
    "environments",
    "datasets",
    "data_versions",
    "data_chunks",
    "models",
    "model_versions",
    "model_aliases",
    "alias_history",
    "_migrations",
    *RUN_TABLES,
}


@dataclass(frozen=True)
class Selection:
    """What a partial merge copies (a push's pack): these runs, these data versions (``(dataset,
    fingerprint)``; include the versions their deltas build on and those the runs read or wrote, so their
    numbers map), and the whole model registry or none of it. Experiments always travel."""

    runs: frozenset[str]
    versions: frozenset[tuple[str, str]]
    models: bool


@dataclass
class MergeReport:
    """What a merge copied."""

    runs_added: int = 0
    runs_updated: int = 0
    runs_unchanged: int = 0
    blobs_copied: int = 0
    data_versions_added: int = 0
    renumbered: Renumbering = field(default_factory=dict)  # {(dataset, their version): our version}
    model_versions_added: int = 0
    alias_moves_added: int = 0
    renumbered_models: Renumbering = field(default_factory=dict)  # {(model, their version): our version}

    def __str__(self) -> str:
        return (
            f"{self.runs_added} runs added, {self.runs_updated} updated, {self.runs_unchanged} unchanged; "
            f"{self.blobs_copied} blobs copied; {self.data_versions_added} data versions added; "
            f"{self.model_versions_added} model versions added, {self.alias_moves_added} alias moves added"
        )


def merge(other: Store | str | os.PathLike, into: Store | str | os.PathLike | None = None) -> MergeReport:
    """Merge the store ``other`` (a Store or the path of a ``.nbtrack`` folder) into ``into``
    (default: the current store). Idempotent.

    Example::

        nbtrack.merge("/mnt/laptop/project/.nbtrack")
    """
    from nbtrack.store import Store, resolve_store

    target = resolve_store(into)
    if isinstance(other, Store):
        return _merge(other, target)
    source = Store.open(_store_path(other), create=False)
    try:
        return _merge(source, target)
    finally:
        source.close()


def merge_selection(source: Store, target: Store, only: Selection | None) -> MergeReport:
    """Merge the rows ``only`` names (all, when None) of ``source`` into ``target``, without blobs: the
    remotes move those themselves (a pack holds no blobs; a pull downloads and checks them first)."""
    return _merge(source, target, only, blobs=False)


def _merge(source: Store, target: Store, only: Selection | None = None, blobs: bool = True) -> MergeReport:
    """Merge ``source`` into ``target``; ``only``: a part of it; ``blobs=False``: the caller moved them."""
    if source.root.resolve() == target.root.resolve():
        raise NbtrackError(f"Cannot merge the store {target.root} into itself: name another store.")
    unknown = unknown_tables(source)
    if unknown:
        raise NbtrackError(
            f"{source.root} has tables this nbtrack cannot merge ({', '.join(unknown)}): it was written by a "
            "newer nbtrack; upgrade nbtrack (`git pull && pip install .` in its checkout, or a newer wheel) and merge again."
        )
    _refuse_bad_blob_references(source)
    _refuse_broken_seals(source, only)
    report = MergeReport()
    if blobs:
        report.blobs_copied = _copy_blobs(source, target)  # blobs first: rows never point at missing blobs
    with target.transaction() as conn:
        experiment_ids = _merge_experiments(source, conn)
        environments = source.query("SELECT env_hash, data FROM environments")
        if only is not None:
            wanted = {h for (run_id, h) in source.query("SELECT run_id, env_hash FROM runs") if run_id in only.runs}
            environments = [row for row in environments if row[0] in wanted]
        conn.executemany("INSERT OR IGNORE INTO environments VALUES (?, ?)", environments)
        renumber = _merge_data_versions(source, conn, report, only) if _has_table(source, "data_versions") else {}
        _merge_runs(source, conn, experiment_ids, renumber, report, only)
        if _has_table(source, "model_versions") and (only is None or only.models):
            _merge_models(source, conn, report)
    return report


def _store_path(path: str | os.PathLike) -> str:
    from nbtrack.store import DB_FILENAME, STORE_DIRNAME

    path = os.fspath(path)
    if not os.path.exists(os.path.join(path, DB_FILENAME)) and os.path.isdir(os.path.join(path, STORE_DIRNAME)):
        return os.path.join(path, STORE_DIRNAME)
    return path


def _has_table(store: Store, name: str) -> bool:
    return bool(store.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)))


def _refuse_bad_blob_references(source: Store) -> None:
    """A row of ``source`` whose blob column is not a content hash (a damaged or hand-made store) would
    be copied as a reference to nothing, or to a path: refuse the merge before anything is written."""
    from nbtrack.store import schema as _schema

    for table, column in _schema.BLOB_REFERENCES:
        if not _has_table(source, table):
            continue
        bad = source.query(
            f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL AND (length({column}) != 32 "
            f"OR {column} GLOB '*[^0-9a-f]*') LIMIT 1"
        )
        if bad:
            raise NbtrackError(
                f"{source.root} has a {table} row whose {column} is {bad[0][0]!r}, not a blob hash: run "
                f"`nbtrack fsck --repair` on that store (NBTRACK_HOME={source.root}) and merge again."
            )


def _refuse_broken_seals(source: Store, only: Selection | None) -> None:
    """A run of ``source`` that no longer matches its seal (damaged there) would be sealed anew in the
    target as if it were what was recorded: refuse the merge before anything is written."""
    if source.schema_version < _seal.SEAL_SCHEMA:
        return
    broken = _seal.broken_seals(source.query, sorted(only.runs) if only is not None else None)
    if broken:
        raise DamagedStoreError(
            f"{len(broken)} run(s) of {source.root} ({', '.join(broken[:3])}{', ...' if len(broken) > 3 else ''}) "
            "no longer match their seal: that store's database is damaged, so nothing was merged. Run `nbtrack "
            f"fsck` on it (NBTRACK_HOME={source.root}) and restore its nbtrack.db from a copy, then merge again."
        )


def _copy_blobs(source: Store, target: Store) -> int:
    copied = 0
    from nbtrack._progress import progress

    hashes = list(source.blobs.iter_hashes())
    for digest in progress(hashes, desc="merge: copy blobs"):
        if not target.blobs.exists(digest):
            if target.blobs.put_file(source.blobs.file(digest)) != digest:  # file(): never through a link out
                raise NbtrackError(f"Blob {digest} of {source.root} is corrupt: run `nbtrack fsck` on that store.")
            copied += 1
    return copied


def _merge_experiments(source: Store, conn: sqlite3.Connection) -> dict[int, int]:
    mapping: dict[int, int] = {}
    for experiment_id, name, created in source.query("SELECT experiment_id, name, created FROM experiments"):
        conn.execute("INSERT OR IGNORE INTO experiments (name, created) VALUES (?, ?)", (name, created))
        mapping[experiment_id] = conn.execute(
            "SELECT experiment_id FROM experiments WHERE name = ?", (name,)
        ).fetchone()[0]
    return mapping


def _columns(source: Store, table: str) -> list[str]:
    return [row[1] for row in source.query(f'PRAGMA table_info("{table}")')]


def _merge_runs(
    source: Store,
    conn: sqlite3.Connection,
    experiment_ids: dict[int, int],
    renumber: Renumbering,
    report: MergeReport,
    only: Selection | None = None,
) -> None:
    ours = dict(conn.execute("SELECT run_id, updated FROM runs").fetchall())
    columns = _columns(source, "runs")
    quoted = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" for _ in columns)
    where = columns.index("experiment_id")
    for row in source.query(f"SELECT {quoted} FROM runs"):
        run_id, updated = row[0], row[columns.index("updated")]
        if only is not None and run_id not in only.runs:
            continue
        if run_id in ours:
            if ours[run_id] >= updated:
                report.runs_unchanged += 1
                continue
            for table in ("runs", *RUN_TABLES):
                conn.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))
            report.runs_updated += 1
        else:
            report.runs_added += 1
        row = list(row)
        row[where] = experiment_ids[row[where]]
        conn.execute(f"INSERT INTO runs ({quoted}) VALUES ({marks})", row)
        for table in RUN_TABLES:
            _copy_run_rows(source, conn, table, run_id, renumber)


def _copy_run_rows(source: Store, conn: sqlite3.Connection, table: str, run_id: str, renumber: Renumbering) -> None:
    columns = _columns(source, table)
    if not columns:
        return  # a table the source's older schema does not have
    quoted = ", ".join(f'"{c}"' for c in columns)
    rows = source.query(f"SELECT {quoted} FROM {table} WHERE run_id = ?", (run_id,))
    if table == "run_data" and renumber:
        d, v = columns.index("dataset"), columns.index("version")
        rows = [tuple(renumber.get((r[d], r[v]), r[v]) if i == v else x for i, x in enumerate(r)) for r in rows]
    if rows:
        conn.executemany(f"INSERT INTO {table} ({quoted}) VALUES ({', '.join('?' for _ in columns)})", rows)


def _merge_data_versions(
    source: Store, conn: sqlite3.Connection, report: MergeReport, only: Selection | None = None
) -> Renumbering:
    """Copy datasets, versions and chunks; returns ``{(dataset, their version): our version}``."""
    conn.executemany(
        "INSERT OR IGNORE INTO datasets (name, created, avg_rows) VALUES (?, ?, ?)",
        source.query("SELECT name, created, avg_rows FROM datasets"),
    )
    columns = _columns(source, "data_versions")
    quoted = ", ".join(f'"{c}"' for c in columns)
    d, v, f, p = (columns.index(c) for c in ("dataset", "version", "fingerprint", "parent"))
    mapping: Renumbering = {}
    for row in source.query(f"SELECT {quoted} FROM data_versions ORDER BY dataset, version"):
        dataset, version, fingerprint = row[d], row[v], row[f]
        if only is not None and (dataset, fingerprint) not in only.versions:
            continue
        same = conn.execute(
            "SELECT version FROM data_versions WHERE dataset = ? AND fingerprint = ?", (dataset, fingerprint)
        ).fetchone()
        if same:
            mapping[(dataset, version)] = same[0]
            continue
        taken = conn.execute(
            "SELECT 1 FROM data_versions WHERE dataset = ? AND version = ?", (dataset, version)
        ).fetchone()
        new = version
        if taken:
            new = conn.execute("SELECT MAX(version) + 1 FROM data_versions WHERE dataset = ?", (dataset,)).fetchone()[0]
            report.renumbered[(dataset, version)] = new
        mapping[(dataset, version)] = new
        row = list(row)
        row[v] = new
        if row[p] is not None:
            row[p] = mapping.get((dataset, row[p]), row[p])
        conn.execute(f"INSERT INTO data_versions ({quoted}) VALUES ({', '.join('?' for _ in columns)})", row)
        chunk_columns = _columns(source, "data_chunks")
        chunks = source.query(
            f"SELECT {', '.join(chunk_columns)} FROM data_chunks WHERE dataset = ? AND version = ?", (dataset, version)
        )
        cv = chunk_columns.index("version")
        conn.executemany(
            f"INSERT OR IGNORE INTO data_chunks ({', '.join(chunk_columns)}) "
            f"VALUES ({', '.join('?' for _ in chunk_columns)})",
            [tuple(new if i == cv else x for i, x in enumerate(c)) for c in chunks],
        )
        report.data_versions_added += 1
    return mapping


def _merge_models(source: Store, conn: sqlite3.Connection, report: MergeReport) -> None:
    """Copy models, their versions (renumbered where the number is taken by another version) and the
    alias moves not yet recorded, then settle every alias on the latest move."""
    from nbtrack.store import models as _models

    for name, created, description in _models.all_models(source):
        _models.create_model(conn, name, created, description)
    mapping: Renumbering = {}
    for row in _models.all_versions(source):
        name, version = row["model"], row["version"]
        same = _models.version_matching(conn, name, row["run_id"], row["artifact"])
        if same is not None:
            mapping[(name, version)] = same
            continue
        new = version
        if _models.version_taken(conn, name, version):
            new = _models.next_version(conn, name)
            report.renumbered_models[(name, version)] = new
        mapping[(name, version)] = new
        _models.insert_version(conn, {**row, "version": new})
        report.model_versions_added += 1
    moves = []
    for move in _models.all_history(source):
        for end in ("from_version", "to_version"):
            if move[end] is not None:
                move[end] = mapping.get((move["model"], move[end]), move[end])
        if not _models.history_has(conn, move):
            moves.append(move)
    _models.insert_history(conn, moves)
    report.alias_moves_added = len(moves)
    if moves:
        _models.settle_aliases(conn)


def unknown_tables(store: Store) -> list[str]:
    """Tables this module does not know how to merge (a newer schema): reported, never guessed at."""
    names = [r[0] for r in store.query("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return [n for n in names if n not in _HANDLED and not n.startswith("sqlite_")]
