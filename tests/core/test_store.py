import os
import sqlite3
import stat

import pytest

import nbtrack
from nbtrack.errors import ArtifactNotFoundError, StoreNotFoundError, StoreVersionError, StoreWriteError
from nbtrack.store import Store, find_store_root
from nbtrack.store import schema as _schema


def test_store_is_found_by_walking_up_like_git(tmp_path, monkeypatch):
    monkeypatch.delenv("NBTRACK_HOME", raising=False)
    Store.open(tmp_path / ".nbtrack")
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    assert find_store_root() == tmp_path / ".nbtrack"


def test_nbtrack_home_overrides_discovery(tmp_path, monkeypatch):
    Store.open(tmp_path / ".nbtrack")
    other = tmp_path / "elsewhere"
    monkeypatch.setenv("NBTRACK_HOME", str(other))
    monkeypatch.chdir(tmp_path)
    assert find_store_root() == other


def test_store_is_created_on_first_write_only(tmp_path, monkeypatch):
    monkeypatch.delenv("NBTRACK_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoreNotFoundError, match="nbtrack init"):
        nbtrack.runs()
    assert not (tmp_path / ".nbtrack").exists()
    with nbtrack.start_run("first"):
        pass
    assert (tmp_path / ".nbtrack" / "nbtrack.db").is_file()
    assert len(nbtrack.runs()) == 1


def test_store_uses_wal_and_records_migrations(store):
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.schema_version == _schema.latest_version()
    recorded = [r[0] for r in store.query("SELECT version FROM _migrations ORDER BY version")]
    assert recorded == sorted(v for v, _, _ in _schema.MIGRATIONS)


def test_store_is_owner_only(store):
    mode = stat.S_IMODE(os.stat(store.root).st_mode)
    assert mode & 0o077 == 0
    assert stat.S_IMODE(os.stat(store.root / "nbtrack.db").st_mode) & 0o077 == 0


def test_newer_store_is_refused_untouched(store_root):
    store = Store.open(store_root)
    store.conn.execute("PRAGMA user_version = 999")
    store.close()
    before = (store_root / "nbtrack.db").read_bytes()
    with pytest.raises(StoreVersionError, match="upgrade nbtrack"):
        Store.open(store_root)
    assert (store_root / "nbtrack.db").read_bytes() == before


def test_older_store_is_migrated(tmp_path):
    root = tmp_path / ".nbtrack"
    root.mkdir()
    conn = sqlite3.connect(root / "nbtrack.db")
    conn.execute("PRAGMA user_version = 0")
    conn.close()
    store = Store.open(root)
    assert store.schema_version == _schema.latest_version()
    assert "runs" in {r[0] for r in store.query("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_blobs_are_content_addressed_and_deduplicated(store):
    first = store.blobs.put_bytes(b"hello")
    second = store.blobs.put_bytes(b"hello")
    assert first == second and len(first) == 32
    assert store.blobs.read_bytes(first) == b"hello"
    assert store.blobs.verify(first)
    assert list(store.blobs.iter_hashes()) == [first]


def test_blob_paths_refuse_anything_but_a_hash(store):
    for bad in ["../../etc/passwd", "/etc/passwd", "A" * 32, "0" * 31, "0" * 33, "0" * 31 + "\x00"]:
        with pytest.raises(ArtifactNotFoundError):
            store.blobs.path(bad)


def test_full_disk_gives_a_clear_error_and_leaves_no_partial_blob(store, monkeypatch):
    import errno

    real_fsync = os.fsync

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(StoreWriteError, match="No space left"):
        store.blobs.put_bytes(b"x" * 1000)
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert list(store.blobs.iter_hashes()) == []
    assert list(store.blobs.iter_temporary_files()) == []
    assert nbtrack.fsck(store=store).clean


def test_opening_a_store_again_keeps_the_locks_of_its_open_connections(tmp_path):
    # reading the database header with open()/close() dropped this process's POSIX locks: another
    # process then checkpointed and deleted the write-ahead log under the open connections ("disk I/O error")
    import subprocess
    import sys

    from nbtrack.store import Store

    first = Store.open(tmp_path / ".nbtrack", create=True)
    with nbtrack.start_run("one", store=first):
        pass
    second = Store.open(tmp_path / ".nbtrack")
    other = (
        "import nbtrack\nfrom nbtrack.store import Store\ns = Store.open(r'%s')\n"
        "with nbtrack.start_run('two', store=s): pass\ns.close()" % (tmp_path / ".nbtrack")
    )
    subprocess.run([sys.executable, "-c", other], check=True, timeout=120)
    assert len(nbtrack.runs(store=first)) == 2 and len(nbtrack.runs(store=second)) == 2
    with nbtrack.start_run("three", store=first):
        pass
    assert sorted(nbtrack.runs(store=second)["name"]) == ["one", "three", "two"]
