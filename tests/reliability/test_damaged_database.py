"""A store whose database is empty, missing or damaged is never read as a new, empty store.

Real damage on real files: a 0-byte ``nbtrack.db`` (what an interrupted copy leaves), a deleted one, one
that SQLite can open but holds no tables, one that is not SQLite at all, and one with a page in the
middle overwritten. Every API and CLI entry point must refuse with a message saying what happened and
what to do; ``gc`` must remove nothing; ``fsck`` must report the damage instead of raising; and the
files must be left exactly as they were.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

import nbtrack
from nbtrack.cli.main import main
from nbtrack.errors import DamagedStoreError, UnsafeGcError
from nbtrack.store import Store, maintenance


def _store_with_blobs(root: Path, runs: int = 5) -> list[str]:
    store = Store.open(root)
    made = []
    for i in range(runs):
        with nbtrack.start_run(f"r{i}", params={"i": i}, store=store) as run:
            made.append(run.log_artifact(os.urandom(2000), "a.bin"))
            run.log_metric("m", i)
    store.checkpoint()
    store.close()
    return made


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _truncate(root: Path) -> None:
    (root / "nbtrack.db").write_bytes(b"")


def _delete(root: Path) -> None:
    (root / "nbtrack.db").unlink()


def _no_tables(root: Path) -> None:
    (root / "nbtrack.db").unlink()
    conn = sqlite3.connect(root / "nbtrack.db")
    conn.execute("CREATE TABLE t (x)")
    conn.execute("DROP TABLE t")  # a valid SQLite file with no schema, user_version 0
    conn.close()


def _garbage(root: Path) -> None:
    (root / "nbtrack.db").write_bytes(b"PK\x03\x04 not a database " * 100)


DAMAGE = {"empty": _truncate, "missing": _delete, "no tables": _no_tables, "not SQLite": _garbage}


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_a_store_whose_database_is_gone_is_refused_everywhere_and_left_untouched(kind, tmp_path, monkeypatch):
    root = tmp_path / ".nbtrack"
    _store_with_blobs(root)
    DAMAGE[kind](root)
    before = _files(root)
    monkeypatch.setenv("NBTRACK_HOME", str(root))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DamagedStoreError) as refused:
        Store.open(root, create=False)
    message = str(refused.value)
    assert "Restore nbtrack.db from a copy" in message and "nbtrack fsck" in message and str(root) in message
    for create in (True, False):
        with pytest.raises(DamagedStoreError):
            Store.open(root, create=create)
    with pytest.raises(DamagedStoreError):
        nbtrack.runs()
    with pytest.raises(DamagedStoreError):
        with nbtrack.start_run():
            pass
    runner = CliRunner()
    for args in (["runs"], ["experiments"], ["data", "list"], ["delete", "r0", "--yes"], ["gc"], ["fsck"]):
        result = runner.invoke(main, args)
        assert result.exit_code == 1, (args, result.output)
        assert "(no runs)" not in result.output and "clean" not in result.output.replace("NOT clean", "")
        assert "Restore nbtrack.db from a copy" in result.output, (args, result.output)
        assert "Traceback" not in result.output
    assert _files(root) == before  # not one byte changed: no new database, no blob removed


def test_an_empty_database_without_blobs_is_still_a_new_store(tmp_path):
    """A 0-byte database in a store with no blobs is what SQLite leaves while a store is being created."""
    root = tmp_path / ".nbtrack"
    (root / "objects").mkdir(parents=True)
    (root / "nbtrack.db").write_bytes(b"")
    store = Store.open(root, create=False)
    with nbtrack.start_run(store=store) as run:
        run.log_artifact(b"x", "x.bin")
    assert len(nbtrack.runs(store=store)) == 1


def _overwrite_page(db: Path, rootpage_of: str) -> None:
    conn = sqlite3.connect(db)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    page = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (rootpage_of,)).fetchone()[0]
    conn.close()
    with open(db, "r+b") as handle:
        handle.seek((page - 1) * page_size)
        handle.write(bytes([0xA5]) * page_size)


@pytest.mark.parametrize("damaged", ["artifacts", "artifacts_by_blob", "params"])
def test_fsck_reports_a_damaged_database_and_gc_removes_nothing(damaged, tmp_path, monkeypatch):
    root = tmp_path / ".nbtrack"
    _store_with_blobs(root, runs=40)
    _overwrite_page(root / "nbtrack.db", damaged)
    blobs = sorted(p for p in (root / "objects").rglob("*") if p.is_file())
    store = Store.open(root, create=False)  # page 1 and the schema are intact: the store opens
    report = maintenance.fsck(store=store)  # never raises
    assert not report.clean and report.integrity != "ok", report
    text = "\n".join(report.lines())
    assert "damaged" in text and "restore nbtrack.db from a copy" in text, text
    with pytest.raises(UnsafeGcError, match="damaged"):
        maintenance.gc(grace_s=0, store=store)
    with pytest.raises(UnsafeGcError):
        maintenance.gc(grace_s=0, force=True, store=store)  # force never overrides a damaged database
    assert sorted(p for p in (root / "objects").rglob("*") if p.is_file()) == blobs
    store.close()
    monkeypatch.setenv("NBTRACK_HOME", str(root))
    result = CliRunner().invoke(main, ["fsck"])
    assert result.exit_code == 1 and "NOT clean" in result.output and "Traceback" not in result.output, result.output


def test_a_store_whose_tables_are_still_only_in_its_write_ahead_log_opens(tmp_path):
    """The database file's header is out of date while the log holds the first transactions (schema
    version 0 there): such a store, with blobs, is a live store, not a damaged one."""
    import subprocess
    import sys
    import textwrap

    root = tmp_path / ".nbtrack"
    writer = textwrap.dedent(
        """
        import os, sys
        import nbtrack
        from nbtrack.store import Store
        store = Store.open(sys.argv[1])
        with nbtrack.start_run("only-in-the-log", store=store) as run:
            run.log_artifact(b"kept", "k.bin")
        os._exit(0)  # no checkpoint: everything is in nbtrack.db-wal
        """
    )
    subprocess.run([sys.executable, "-c", writer, str(root)], check=True)
    header = (root / "nbtrack.db").read_bytes()[:64]
    assert int.from_bytes(header[60:64], "big") == 0 and (root / "nbtrack.db-wal").stat().st_size > 0
    store = Store.open(root, create=False)
    assert list(nbtrack.runs(store=store)["name"]) == ["only-in-the-log"]


def test_reading_a_damaged_page_names_fsck_instead_of_a_raw_sqlite_error(tmp_path):
    root = tmp_path / ".nbtrack"
    _store_with_blobs(root, runs=40)
    _overwrite_page(root / "nbtrack.db", "params")
    store = Store.open(root, create=False)
    run_id = store.query("SELECT run_id FROM runs LIMIT 1")[0][0]  # the runs table is intact
    with pytest.raises(DamagedStoreError, match="nbtrack fsck") as caught:
        nbtrack.get_run(run_id, store=store)
    assert "restore nbtrack.db from a copy" in str(caught.value)
