"""``gc`` racing writers: a blob that is unreferenced when gc starts and reused by a writer while it runs
(a new run logging the same bytes, a retried snapshot whose chunks a killed one left behind) is never
deleted once a row refers to it.

Writers are real processes on the same store. The interleavings are forced, not hoped for: the writer
stops right after it found the blob stored (the dedup hit) and before it commits its row, gc runs to the
end, then the writer commits; or gc stops after listing references while a writer commits. A last test
lets a writer and a gc process run freely against each other.
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import nbtrack
import nbtrack.data
from nbtrack.errors import UnsafeGcError
from nbtrack.store import Store, maintenance

OLD = 2 * 3600  # seconds: older than gc's grace period


def _age_database(root: Path, days: float = 1.0) -> None:
    """Make the store look created ``days`` ago (its blobs set 2 h back are then younger than it)."""
    conn = sqlite3.connect(root / "nbtrack.db")
    with conn:
        conn.execute("UPDATE _migrations SET applied = applied - ?", (days * 86400,))
    conn.close()


def _age(path: Path, seconds: float = OLD) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def _writer(root: Path, body: str, tmp_path: Path) -> subprocess.Popen:
    """A writer process on the store; ``pause()`` in ``body`` writes ``ready`` and waits for ``go``."""
    script = textwrap.dedent(
        """
        import os, sys, time
        from pathlib import Path
        import nbtrack, nbtrack.data
        from nbtrack.store import Store
        flags = Path(sys.argv[2])
        def pause():
            (flags / "ready").touch()
            deadline = time.time() + 60
            while not (flags / "go").exists():
                if time.time() > deadline:
                    sys.exit("never told to go")
                time.sleep(0.01)
        store = Store.open(sys.argv[1], create=False)
        """
    ) + textwrap.dedent(body)
    return subprocess.Popen([sys.executable, "-c", script, str(root), str(tmp_path)])


def _wait_ready(tmp_path: Path, proc: subprocess.Popen) -> None:
    deadline = time.time() + 60
    while not (tmp_path / "ready").exists():
        assert proc.poll() is None, "the writer died before it reached the pause"
        assert time.time() < deadline, "the writer never reached the pause"
        time.sleep(0.01)


def _go(tmp_path: Path, proc: subprocess.Popen) -> None:
    (tmp_path / "go").touch()
    assert proc.wait(60) == 0


def test_a_blob_reused_by_a_new_run_while_gc_runs_is_kept(tmp_path):
    root = tmp_path / ".nbtrack"
    store = Store.open(root)
    payload = os.urandom(50_000)
    with nbtrack.start_run(store=store) as old:
        digest = old.log_artifact(payload, "weights.bin")
    maintenance.delete_run(old.run_id, store=store)
    _age_database(root)
    _age(store.blobs.path(digest))
    # the writer stores the same bytes (found already stored), then stops before its row is committed
    proc = _writer(
        root,
        """
        from nbtrack.store.blobs import BlobStore
        original = BlobStore.put_bytes
        def put_then_pause(self, data):
            digest = original(self, data)
            pause()
            return digest
        BlobStore.put_bytes = put_then_pause
        with nbtrack.start_run("reuser", store=store) as run:
            run.log_artifact(Path(sys.argv[2], "payload").read_bytes(), "weights.bin")
        """,
        tmp_path,
    )
    (tmp_path / "payload").write_bytes(payload)
    _wait_ready(tmp_path, proc)
    report = maintenance.gc(store=store)  # the default grace period
    _go(tmp_path, proc)
    assert report.removed_blobs == 0, report
    run_id = nbtrack.runs(store=store).iloc[0]["run_id"]
    assert nbtrack.load_artifact(run_id, "weights.bin", store=store) == payload
    check = nbtrack.fsck(store=store)
    assert check.clean and not check.missing, check.lines()


def _frame(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    return pd.DataFrame({"id": np.arange(rows, dtype=np.int64), "x": rng.normal(size=rows)})


def test_chunks_left_by_a_killed_snapshot_and_reused_by_its_retry_while_gc_runs_are_kept(tmp_path):
    df = _frame(80_000)
    scratch = Store.open(tmp_path / "scratch" / ".nbtrack")
    nbtrack.data.snapshot(df, "table", store=scratch)
    root = tmp_path / ".nbtrack"
    store = Store.open(root)
    _age_database(root)
    # the chunks a killed snapshot wrote before it could commit: in objects/, referenced by nothing
    left = list(scratch.blobs.iter_hashes())
    assert len(left) >= 3
    for digest in left:
        target = store.blobs.path(digest)
        target.parent.mkdir(exist_ok=True)
        shutil.copyfile(scratch.blobs.path(digest), target)
        _age(target)
    df.to_pickle(tmp_path / "frame.pkl")
    proc = _writer(
        root,
        """
        import pandas as pd
        from nbtrack.data import _snapshot
        original = _snapshot._insert_version
        def pause_then_insert(*args, **kwargs):
            pause()
            return original(*args, **kwargs)
        _snapshot._insert_version = pause_then_insert
        nbtrack.data.snapshot(pd.read_pickle(Path(sys.argv[2], "frame.pkl")), "table", store=store)
        """,
        tmp_path,
    )
    _wait_ready(tmp_path, proc)
    report = maintenance.gc(store=store)
    _go(tmp_path, proc)
    assert report.removed_blobs == 0, report
    pd.testing.assert_frame_equal(nbtrack.data.load("table", store=store), df)
    assert nbtrack.fsck(store=store).clean


def test_a_reference_committed_after_gc_listed_references_is_seen_before_deleting(tmp_path, monkeypatch):
    """gc re-reads references inside a write transaction just before it deletes: a row committed after
    its first listing keeps the blob even when the blob's time says it is old (a writer that found it
    stored longer ago than the grace period)."""
    root = tmp_path / ".nbtrack"
    store = Store.open(root)
    payload = b"reused after the listing" * 1000
    with nbtrack.start_run(store=store) as old:
        digest = old.log_artifact(payload, "p.bin")
    maintenance.delete_run(old.run_id, store=store)
    _age_database(root)
    _age(store.blobs.path(digest))
    (tmp_path / "payload").write_bytes(payload)
    listed = maintenance.referenced_blobs

    def list_then_let_a_writer_commit(store_):
        keep = listed(store_)
        proc = _writer(
            root,
            """
            with nbtrack.start_run("late", store=store) as run:
                run.log_artifact(Path(sys.argv[2], "payload").read_bytes(), "p.bin")
            """,
            tmp_path,
        )
        assert proc.wait(60) == 0
        _age(store_.blobs.path(digest))
        return keep

    monkeypatch.setattr(maintenance, "referenced_blobs", list_then_let_a_writer_commit)
    report = maintenance.gc(store=store)
    assert report.removed_blobs == 0 and store.blobs.present(digest), report
    assert nbtrack.fsck(store=store).clean


def test_gc_and_a_writer_running_freely_lose_no_referenced_blob(tmp_path):
    """300 old unreferenced blobs; one process logs runs reusing them (in random order) while another
    runs gc over and over. Afterwards every referenced blob is there."""
    root = tmp_path / ".nbtrack"
    store = Store.open(root)
    payloads = [f"payload {i} ".encode() * 200 for i in range(300)]
    digests = [store.blobs.put_bytes(p) for p in payloads]
    _age_database(root)
    for digest in digests:
        _age(store.blobs.path(digest))
    for i, payload in enumerate(payloads):
        (tmp_path / f"p{i}").write_bytes(payload)
    order = list(range(len(payloads)))
    random.Random(7).shuffle(order)
    writer = _writer(
        root,
        f"""
        for i in {order!r}:
            with nbtrack.start_run(store=store) as run:
                run.log_artifact(Path(sys.argv[2], f"p{{i}}").read_bytes(), "a.bin")
        (Path(sys.argv[2]) / "writer-done").touch()
        """,
        tmp_path,
    )
    collector = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import sys
                from pathlib import Path
                from nbtrack.store import Store
                from nbtrack.store.maintenance import gc
                store = Store.open(sys.argv[1], create=False)
                rounds = removed = 0
                while not Path(sys.argv[2], "writer-done").exists():
                    removed += gc(store=store).removed_blobs
                    rounds += 1
                print(rounds, removed)
                """
            ),
            str(root),
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.wait(300) == 0
    out, _ = collector.communicate(timeout=300)
    assert collector.returncode == 0
    rounds, removed = map(int, out.split())
    assert rounds >= 2, "gc never ran alongside the writer"
    check = nbtrack.fsck(store=store)
    assert check.clean and not check.missing, (rounds, removed, check.lines()[:5])
    assert len(nbtrack.runs(store=store)) == len(payloads)


def test_gc_refuses_blobs_older_than_a_replaced_database(tmp_path):
    """A database replaced by a new one (an interrupted copy, a stray `nbtrack init`) refers to none of the
    blobs of the one it replaced: gc refuses to remove blobs older than the database unless forced."""
    root = tmp_path / ".nbtrack"
    store = Store.open(root)
    with nbtrack.start_run(store=store) as run:
        for i in range(20):
            run.log_artifact(os.urandom(1000), f"a{i}.bin")
    store.close()
    blobs = sorted(p for p in (root / "objects").rglob("*") if p.is_file())
    for path in blobs:
        _age(path, 600)
    fresh = Store.open(tmp_path / "elsewhere" / ".nbtrack")
    fresh.checkpoint()
    fresh.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{root / 'nbtrack.db'}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(tmp_path / "elsewhere" / ".nbtrack" / "nbtrack.db", root / "nbtrack.db")
    replaced = Store.open(root, create=False)
    with pytest.raises(UnsafeGcError, match="older than its database") as refused:
        maintenance.gc(grace_s=0, store=replaced)
    assert "Restore nbtrack.db from a copy" in str(refused.value)
    assert sorted(p for p in (root / "objects").rglob("*") if p.is_file()) == blobs
    report = maintenance.gc(grace_s=0, force=True, store=replaced)
    assert report.removed_blobs == len(blobs)
