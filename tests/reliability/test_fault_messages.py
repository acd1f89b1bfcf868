"""The 13 fault scenarios of issue 21's finding 8, each with the one message the user now sees.

Each scenario makes a real fault (a full tmpfs, a read-only remount, a damaged or missing file, a store
from a newer nbtrack) and performs what a user does next; the test requires either success (a read-only
store is read) or one nbtrack error that says what happened and what to do. ``python
tests/reliability/test_fault_messages.py`` prints the table in docs/reliability.md (as root).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from fault_harness import SmallDisk, judge_error

import nbtrack
from nbtrack.store import Store

ROOT = os.geteuid() == 0


def _store(folder: Path) -> Store:
    store = Store.open(folder / ".nbtrack")
    with nbtrack.start_run("kept", params={"lr": 0.1}, store=store) as run:
        run.log_metric("acc", 0.9)
        run.log_artifact(os.urandom(50_000), "weights.bin")
    nbtrack.snapshot(_frame(), "data", store=store)
    return store


def _frame():
    import pandas as pd

    return pd.DataFrame({"id": range(2000), "x": [i / 7 for i in range(2000)]})


def _flip_first_blob(store: Store, name: str) -> None:
    if name == "artifact":
        digest = nbtrack.get_run("kept", store=store).artifacts[0]["hash"]
    else:
        digest = next(
            d for d in store.blobs.iter_hashes() if d != nbtrack.get_run("kept", store=store).artifacts[0]["hash"]
        )
    path = store.blobs.path(digest)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.write_bytes(bytes(data))


# each scenario: (fault kind for the message check, needs the small disk, what it does) -> the error or None
def full_flush(disk, tmp):
    store = _store(disk.mount)
    run = nbtrack.start_run("during", store=store)
    for step in range(5000):
        run.log_metric("loss", 1 / (step + 1), step=step)
    disk.fill()
    run.flush()


def full_artifact(disk, tmp):
    store = _store(disk.mount)
    run = nbtrack.start_run("during", store=store)
    disk.fill()
    run.log_artifact(os.urandom(1 << 20), "big.bin")


def full_snapshot(disk, tmp):
    store = _store(disk.mount)
    disk.fill()
    nbtrack.snapshot(_frame().assign(y=1.5), "data", store=store)


def full_migration(disk, tmp):
    import shutil

    shutil.copytree(Path(__file__).parent.parent / "fixtures" / "stores" / "schema-2", disk.mount / ".nbtrack")
    disk.fill()
    Store.open(disk.mount / ".nbtrack")


def read_only_read(disk, tmp):
    _store(disk.mount).close()
    disk.read_only()
    store = Store.open(disk.mount / ".nbtrack")
    try:
        assert list(nbtrack.runs(store=store)["name"]) == ["kept"]
        assert len(nbtrack.load("data", store=store)) == 2000
    finally:
        store.close()


def read_only_write(disk, tmp):
    _store(disk.mount).close()
    disk.read_only()
    store = Store.open(disk.mount / ".nbtrack")
    try:
        nbtrack.start_run("new", store=store)
    finally:
        store.close()


def flipped_chunk(disk, tmp):
    store = _store(tmp)
    _flip_first_blob(store, "chunk")
    nbtrack.load("data", store=store)


def flipped_artifact(disk, tmp):
    store = _store(tmp)
    _flip_first_blob(store, "artifact")
    nbtrack.load_artifact("kept", "weights.bin", store=store)


def missing_blob(disk, tmp):
    store = _store(tmp)
    store.blobs.delete(nbtrack.get_run("kept", store=store).artifacts[0]["hash"])
    nbtrack.load_artifact("kept", "weights.bin", store=store)


def empty_database(disk, tmp):
    _store(tmp).close()
    for suffix in ("", "-wal", "-shm"):
        (tmp / ".nbtrack" / f"nbtrack.db{suffix}").unlink(missing_ok=True)
    (tmp / ".nbtrack" / "nbtrack.db").write_bytes(b"")
    Store.open(tmp / ".nbtrack")


def truncated_database(disk, tmp):
    store = _store(tmp)
    store.checkpoint()
    store.close()
    db = tmp / ".nbtrack" / "nbtrack.db"
    db.write_bytes(db.read_bytes()[:8192])
    nbtrack.runs(store=Store.open(tmp / ".nbtrack"))


def damaged_value(disk, tmp):
    store = _store(tmp)
    with store.transaction() as conn:
        conn.execute("UPDATE environments SET data = substr(data, 1, 5) || char(1) || substr(data, 7)")
    nbtrack.get_run("kept", store=store)


def newer_store(disk, tmp):
    store = _store(tmp)
    store.conn.execute("PRAGMA user_version = 999")
    store.close()
    Store.open(tmp / ".nbtrack")


SCENARIOS = {
    "a flush on a full disk": ("full_disk", True, full_flush),
    "a 1 MB artifact on a full disk": ("full_disk", True, full_artifact),
    "a snapshot on a full disk": ("full_disk", True, full_snapshot),
    "opening a 0.1.0 store (migration) on a full disk": ("full_disk", True, full_migration),
    "reading a store on a read-only mount": ("read_only", True, read_only_read),
    "starting a run in a store on a read-only mount": ("read_only", True, read_only_write),
    "load() of a data version with a flipped bit in a chunk": ("damage", False, flipped_chunk),
    "load_artifact() with a flipped bit in the artifact": ("damage", False, flipped_artifact),
    "load_artifact() whose blob file was deleted": ("damage", False, missing_blob),
    "a 0-byte nbtrack.db next to blobs (an interrupted copy)": ("damage", False, empty_database),
    "a truncated nbtrack.db": ("damage", False, truncated_database),
    "a value damaged inside nbtrack.db (a flipped bit in a JSON text)": ("damage", False, damaged_value),
    "a store written by a newer nbtrack": ("newer", False, newer_store),
}


def attempt(name: str, folder: Path) -> tuple[str | None, str | None]:
    """(the message the user saw or None, what is wrong with it or None)."""
    fault, needs_disk, scenario = SCENARIOS[name]
    from nbtrack import tracking

    tracking._active.clear()
    try:
        if needs_disk:
            with SmallDisk(folder / "disk", size=4 << 20) as disk:
                try:
                    scenario(disk, folder)
                finally:
                    disk.read_write()
                    disk.free()
        else:
            scenario(None, folder)
    except Exception as error:
        return f"{type(error).__name__}: {error}", _judge(error, fault)
    return None, None


def _judge(error: BaseException, fault: str) -> str | None:
    if fault == "newer":
        text = str(error)
        return None if isinstance(error, nbtrack.NbtrackError) and "upgrade nbtrack" in text else text
    return judge_error(error, fault)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_each_fault_scenario_gives_one_clear_message_or_works(name, tmp_path):
    fault, needs_disk, _ = SCENARIOS[name]
    if needs_disk and not ROOT:
        pytest.skip("mounting a small file system needs root (CI runs as root)")
    message, problem = attempt(name, tmp_path)
    assert problem is None, message
    if name != "reading a store on a read-only mount":
        assert message is not None, "the fault went unnoticed"


if __name__ == "__main__":  # the table of docs/reliability.md
    import tempfile

    for number, name in enumerate(SCENARIOS, 1):
        with tempfile.TemporaryDirectory() as folder:
            try:
                message, problem = attempt(name, Path(folder))
            except Exception as error:  # an older nbtrack may fail where this one does not
                message, problem = f"{type(error).__name__}: {error}", "harness"
        verdict = "works" if message is None else "clear" if problem is None else "NOT clear"
        print(f"| {number} | {name} | {verdict} | {(message or 'reads work').replace('|', '/')[:400]} |")
    sys.exit(0)
