"""A store nbtrack cannot write is still readable, and writes to it say why they cannot happen.

The main tests put a real store on a real read-only mount: a child process gets its own mount namespace
(``unshare -m``) in which the store's folder is bind-mounted read-only, so even root gets ``EROFS`` from
the kernel, exactly as on a read-only share or a backup disk. (``chmod`` cannot make such a test: these
tests run as root, whom permission bits do not stop.) Inside, runs, a run, a data version and an
artifact are read, every kind of write raises :class:`StoreReadOnlyError`, and afterwards the store's
files are byte-for-byte unchanged. Three states of the folder: checkpointed (no -wal/-shm; SQLite can
only open it ``immutable``), with a live write-ahead log and its -shm (``mode=ro`` reads the log), and a
log without its -shm (cannot be read in place: a clear error).

Where mount namespaces are not available, the last test still runs: it opens a normal store the way a
read-only one is opened (``writable`` reporting False) and checks reads, refused writes and untouched
files; it does not exercise the kernel's refusal.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import nbtrack
import nbtrack.data
from nbtrack.errors import StoreReadOnlyError
from nbtrack.store import Store, maintenance
from nbtrack.store import _files as store_files
from nbtrack.store import _store as store_module

READER = textwrap.dedent(
    """
    import json, os, sys
    import nbtrack, nbtrack.data
    from nbtrack.errors import StoreReadOnlyError
    from nbtrack.store import Store, maintenance
    from click.testing import CliRunner
    from nbtrack.cli.main import main
    out = {}
    try:
        store = Store.open(os.environ["NBTRACK_HOME"], create=False)
    except Exception as error:
        print(json.dumps({"open_error": [type(error).__name__, str(error)]}))
        sys.exit(0)
    out["read_only"] = getattr(store, "read_only", None)
    out["runs"] = sorted(nbtrack.runs(store=store)["name"])
    run_id = nbtrack.runs(store=store).query("name == 'with-data'").iloc[0]["run_id"]
    out["params"] = nbtrack.get_run(run_id, store=store).params
    out["artifact"] = nbtrack.load_artifact(run_id, "a.bin", store=store).hex()
    out["rows"] = int(nbtrack.data.load("table", store=store)["x"].sum())
    out["fsck_clean"] = maintenance.fsck(store=store).clean
    out["cli_runs"] = CliRunner().invoke(main, ["runs"]).output
    refused = {}
    def attempt(label, fn):
        try:
            fn()
            refused[label] = "WROTE"
        except StoreReadOnlyError as error:
            refused[label] = str(error)
        except Exception as error:
            refused[label] = f"{type(error).__name__}: {error}"
    def new_run():
        with nbtrack.start_run("new", store=store):
            pass
    attempt("start_run", new_run)
    attempt("snapshot", lambda: nbtrack.data.snapshot(nbtrack.data.load("table", store=store), "copy", store=store))
    attempt("delete_run", lambda: maintenance.delete_run(run_id, store=store))
    attempt("gc", lambda: maintenance.gc(grace_s=0, store=store))
    cli = CliRunner().invoke(main, ["delete", run_id, "--yes"])
    refused["cli delete"] = cli.output
    out["refused"] = refused
    print(json.dumps(out))
    """
)


def _make_store(root: Path) -> None:
    store = Store.open(root)
    with nbtrack.start_run("with-data", params={"lr": 0.5}, store=store) as run:
        run.log_artifact(b"\x00\x01artifact", "a.bin")
        nbtrack.data.snapshot(pd.DataFrame({"x": np.arange(1000)}), "table", store=store)
    with nbtrack.start_run("second", store=store):
        pass


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _in_read_only_mount(source: Path, mountpoint: Path, script: str) -> subprocess.CompletedProcess:
    mountpoint.mkdir()
    shell = (
        f"mount --bind {source} {mountpoint} && mount -o remount,bind,ro {mountpoint} && "
        f"touch {mountpoint}/probe 2>/dev/null && exit 97; "
        f'exec "{sys.executable}" -c "$READER"'
    )
    env = dict(os.environ, NBTRACK_HOME=str(mountpoint), READER=script)
    return subprocess.run(["unshare", "-m", "sh", "-c", shell], env=env, capture_output=True, text=True, timeout=300)


def _mounts_available(tmp_path: Path) -> bool:
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return False
    (tmp_path / "probe-src").mkdir()
    (tmp_path / "probe-dst").mkdir()
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", f"mount --bind {tmp_path}/probe-src {tmp_path}/probe-dst"],
        capture_output=True,
    )
    return done.returncode == 0


def _check_reads_and_refusals(out: dict) -> None:
    assert out["read_only"] is True
    assert out["runs"] == ["second", "with-data"]
    assert out["params"] == {"lr": 0.5}
    assert bytes.fromhex(out["artifact"]) == b"\x00\x01artifact"
    assert out["rows"] == sum(range(1000))
    assert out["fsck_clean"] is True
    assert "with-data" in out["cli_runs"]
    for label, message in out["refused"].items():
        assert "is read-only" in message and "NBTRACK_HOME" in message, (label, message)


@pytest.mark.parametrize("state", ["checkpointed", "live log"])
def test_a_store_on_a_read_only_mount_is_read_and_refuses_writes(state, tmp_path):
    if not _mounts_available(tmp_path):
        pytest.skip("this machine allows no mount namespace (unshare -m); the simulated test below still runs")
    root = tmp_path / "store"
    if state == "checkpointed":
        _make_store(root)
        store_module._stores.clear()
    else:  # a writer that is still running (or was killed): committed transactions only in -wal, -shm beside it
        helper = textwrap.dedent(
            """
            import os, sys
            import numpy as np, pandas as pd
            import nbtrack, nbtrack.data
            from nbtrack.store import Store
            store = Store.open(sys.argv[1])
            store.conn.execute("PRAGMA wal_autocheckpoint = 0")
            with nbtrack.start_run("with-data", params={"lr": 0.5}, store=store) as run:
                run.log_artifact(b"\\x00\\x01artifact", "a.bin")
                nbtrack.data.snapshot(pd.DataFrame({"x": np.arange(1000)}), "table", store=store)
            with nbtrack.start_run("second", store=store):
                pass
            os._exit(0)  # no close: the log and its -shm stay, holding the runs
            """
        )
        subprocess.run([sys.executable, "-c", helper, str(root)], check=True)
        assert (root / "nbtrack.db-wal").stat().st_size > 0 and (root / "nbtrack.db-shm").exists()
    before = _files(root)
    done = _in_read_only_mount(root, tmp_path / "ro", READER)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert "open_error" not in out, out
    _check_reads_and_refusals(out)
    assert _files(root) == before


def test_a_read_only_log_without_its_shared_memory_file_gives_a_clear_error(tmp_path):
    if not _mounts_available(tmp_path):
        pytest.skip("this machine allows no mount namespace (unshare -m)")
    root = tmp_path / "store"
    helper = textwrap.dedent(
        """
        import os, sys
        import nbtrack
        from nbtrack.store import Store
        store = Store.open(sys.argv[1])
        store.conn.execute("PRAGMA wal_autocheckpoint = 0")
        with nbtrack.start_run("in-the-log", store=store) as run:
            run.log_artifact(b"x", "x.bin")
        os._exit(0)
        """
    )
    subprocess.run([sys.executable, "-c", helper, str(root)], check=True)
    (root / "nbtrack.db-shm").unlink()
    done = _in_read_only_mount(root, tmp_path / "ro", READER)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    kind, message = out["open_error"]
    assert kind == "StoreReadOnlyError", out
    assert "Copy the store folder to a writable place" in message and "NBTRACK_HOME" in message


def test_a_store_opened_read_only_reads_and_refuses_writes_without_changing_a_byte(tmp_path, monkeypatch):
    """Simulated: ``writable`` says no (as it does for a folder or database the process cannot write);
    the store is then opened ``mode=ro`` on an ordinary file system."""
    root = tmp_path / "store"
    _make_store(root)
    Store.open(root).checkpoint()
    store_module._stores.clear()
    before = _files(root)
    monkeypatch.setattr(store_files, "writable", lambda root: False)
    monkeypatch.setenv("NBTRACK_HOME", str(root))
    store = Store.open(root, create=False)
    assert store.read_only
    frame = nbtrack.runs(store=store)
    assert sorted(frame["name"]) == ["second", "with-data"]
    run_id = frame.query("name == 'with-data'").iloc[0]["run_id"]
    assert nbtrack.get_run(run_id, store=store).params == {"lr": 0.5}
    assert nbtrack.load_artifact(run_id, "a.bin", store=store) == b"\x00\x01artifact"
    assert int(nbtrack.data.load("table", store=store)["x"].sum()) == sum(range(1000))
    with pytest.raises(StoreReadOnlyError, match="is read-only"):
        with nbtrack.start_run(store=store):
            pass
    with pytest.raises(StoreReadOnlyError, match="is read-only"):
        maintenance.gc(store=store)
    assert maintenance.gc(dry_run=True, store=store).removed_blobs == 0
    assert maintenance.fsck(store=store).clean
    store.close()
    for suffix in ("-wal", "-shm"):  # mode=ro may leave SQLite's empty bookkeeping files; nothing else
        extra = root / f"nbtrack.db{suffix}"
        if extra.exists() and f"nbtrack.db{suffix}" not in before:
            assert extra.stat().st_size in (0, 32768), suffix
            extra.unlink()
    assert _files(root) == before


def test_a_read_only_store_that_needs_a_schema_upgrade_says_so(tmp_path, monkeypatch):
    fixture = Path(__file__).parent.parent / "fixtures" / "stores" / "schema-2"
    root = tmp_path / "old"
    shutil.copytree(fixture, root)
    before = _files(root)
    monkeypatch.setattr(store_files, "writable", lambda root: False)
    with pytest.raises(StoreReadOnlyError, match="upgrade its schema from version 2"):
        Store.open(root, create=False)
    assert _files(root) == before
