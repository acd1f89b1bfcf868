"""A full disk during a run: the write fails with one clear error, nothing buffered is lost, and the run
cannot end ``ok`` without its values.

The store lives on a small tmpfs the test mounts (root is needed to mount; CI runs as root), filled up
with a ballast file: SQLite then fails exactly as on any full file system and rolls back by itself.
"""

from __future__ import annotations

import os
import subprocess

import pandas as pd
import pytest
from fault_harness import Ballast

import nbtrack
import nbtrack.errors
from nbtrack.errors import StoreWriteError
from nbtrack.store import Store

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small file system needs root (CI runs as root)")


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_flush_on_a_full_disk_keeps_every_value_for_the_next_write(small_disk):
    store = Store.open(small_disk / ".nbtrack")
    ballast = Ballast(small_disk)
    run = nbtrack.start_run("full", store=store)
    run.log_param("lr", 0.1)
    for step in range(20_000):
        run.log_metric("loss", 1.0 / (step + 1), step=step)
    ballast.fill()
    with pytest.raises(StoreWriteError, match="full: free some space"):
        run.flush()
    with pytest.raises(StoreWriteError, match="full"):
        run.finish("ok")
    ballast.free()
    assert nbtrack.get_run(run.run_id, store=store).status == "running"  # never "ok" with values missing
    run.log_metric("loss", 0.0, step=20_000)
    run.finish("ok")
    record = nbtrack.get_run(run.run_id, store=store)
    assert record.status == "ok"
    assert record.params == {"lr": 0.1}
    history = record.metric("loss")
    assert len(history) == 20_001 and history.iloc[0] == 1.0 and history.iloc[-1] == 0.0
    assert nbtrack.fsck(store=store).clean


def test_a_failed_write_leaves_the_store_usable(small_disk):
    store = Store.open(small_disk / ".nbtrack")
    ballast = Ballast(small_disk)
    with nbtrack.start_run("before", store=store) as run:
        run.log_metric("acc", 0.5)
    ballast.fill()
    with pytest.raises(StoreWriteError, match="Nothing of this write was stored"):
        with nbtrack.start_run("during", store=store) as during:
            for step in range(50_000):
                during.log_metric("acc", step / 50_000, step=step)
    ballast.free()
    with nbtrack.start_run("after", store=store) as later:
        later.log_metric("acc", 0.7)
    assert {"before", "after"} <= set(nbtrack.runs(store=store)["name"])
    assert nbtrack.fsck(store=store).clean


def test_a_with_block_that_could_not_finish_is_no_longer_the_active_run(small_disk, tmp_path):
    """A run whose end failed (full disk) stays unfinished with its values, but its ``with`` block is over:
    later snapshots and module-level ``log_*`` calls must not land in it (they used to, and a snapshot
    into another store of the same folder then failed with a raw ``sqlite3.ProgrammingError``)."""
    store = Store.open(small_disk / ".nbtrack")
    ballast = Ballast(small_disk)
    with pytest.raises(StoreWriteError, match="full"):
        with nbtrack.start_run("cut short", store=store) as run:
            run.log_metric("acc", 0.5)
            ballast.fill()
    assert nbtrack.active_run() is None
    ballast.free()
    store.close()
    reopened = Store.open(small_disk / ".nbtrack")
    version = nbtrack.snapshot(pd.DataFrame({"a": [1, 2]}), "after", store=reopened)
    assert version.version == 1
    with pytest.raises(nbtrack.errors.NoActiveRunError):
        nbtrack.log_metric("acc", 0.9)
