"""A full disk during a run: the write fails with one clear error, nothing buffered is lost, and the run
cannot end ``ok`` without its values.

The store lives on a small tmpfs the test mounts (root is needed to mount; CI runs as root), filled up
with a ballast file: SQLite then fails exactly as on any full file system and rolls back by itself.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

import nbtrack
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


class Ballast:
    """A file that takes every free byte of a file system, and gives it back."""

    def __init__(self, folder: Path):
        self.path = folder / "ballast"

    def fill(self) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            for size in (1 << 16, 4096, 512, 1):
                try:
                    while os.write(fd, b"\0" * size):
                        pass
                except OSError:
                    continue
        finally:
            os.close(fd)

    def free(self) -> None:
        self.path.unlink()


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
