"""Every write path under every fault: a full disk, a read-only store, damaged files, SIGKILL.

One test per write path (a run, metrics, an artifact, a figure and a model, full and keyed snapshots, a
data link, merge, gc, delete, fsck --repair, import-mlflow, a notebook run, the migration of an old
store); each injects every fault once through ``fault_harness.py`` and requires: nothing committed before
the fault is lost or changed, ``fsck`` clean (or naming the damage), the store takes the write again, and
the user saw one clear error (API and CLI) saying what happened and what to do. The damage injected here
is the kind a reader must always catch (a truncated database, a truncated or bit-flipped blob);
``bench/bench_reliability.py`` runs many more injections, bit flips inside the database included.
"""

from __future__ import annotations

import os
import random

import pytest
from fault_harness import WRITE_PATHS, SmallDisk, Tally, add, inject_damage, inject_full_disk, inject_read_only
from fault_harness import inject_sigkill as _sigkill

import nbtrack
from nbtrack.store import Store

ROOT = os.geteuid() == 0


@pytest.fixture(scope="module")
def disk(tmp_path_factory):
    if not ROOT:
        yield None
        return
    with SmallDisk(tmp_path_factory.mktemp("fault-disk") / "disk") as mounted:
        yield mounted


@pytest.mark.slow
@pytest.mark.parametrize("name", list(WRITE_PATHS))
def test_every_fault_on_this_write_path_loses_nothing_and_says_what_to_do(name, disk, tmp_path):
    path = WRITE_PATHS[name]
    rng = random.Random(f"{name}-20261207")
    work = tmp_path / "work"
    work.mkdir()
    store_root = tmp_path / "store" / ".nbtrack"
    tally = Tally()
    outcomes = []
    if disk is not None:  # mounting needs root (CI runs as root); the other faults run anyway
        outcomes += [inject_full_disk(path, disk, work, rng), inject_read_only(path, disk, work, rng)]
    outcomes += [
        inject_damage(path, store_root, work, rng, target="db", how="truncate"),
        inject_damage(path, store_root, work, rng, target="blob", how=rng.choice(["truncate", "flip"])),
        _sigkill(path, store_root, work, rng, window=0.3 if path.slow else 1.0),
    ]
    for outcome in outcomes:
        add(tally, outcome)
    assert not tally.failures, "\n".join(tally.failures)
    assert tally.lost == 0 and tally.silently_wrong == 0 and tally.clear == tally.messages
    if disk is not None:  # a read-only store stops every write path with a message (API and CLI)
        assert outcomes[1].message is not None and outcomes[1].clear
        assert outcomes[1].cli_clear == outcomes[1].cli_runs == (path.cli is not None)


def test_a_truncated_database_is_refused_naming_the_fix(tmp_path):
    """A database cut short (an interrupted copy) is damage: restore it and run fsck; nothing is written."""
    root = tmp_path / ".nbtrack"
    store = Store.open(root)
    with nbtrack.start_run("kept", store=store) as run:
        run.log_metric("acc", 0.5)
    store.checkpoint()
    store.close()
    db = root / "nbtrack.db"
    db.write_bytes(db.read_bytes()[:5000])
    before = db.read_bytes()
    with pytest.raises(nbtrack.NbtrackError, match=r"is damaged .*restore nbtrack.db from a copy.*nbtrack fsck"):
        Store.open(root)
    assert db.read_bytes() == before


def test_a_damaged_value_inside_the_database_is_an_error_naming_fsck_and_fsck_finds_it(tmp_path):
    """SQLite keeps no checksum of values: a bit flipped inside a stored JSON text reached the user as a raw
    JSONDecodeError (33 of 300 random bit flips in nbtrack.db gave raw errors). Now a clear error, and fsck
    (``json_valid`` over the JSON columns) reports what integrity_check cannot see."""
    store = Store.open(tmp_path / ".nbtrack")
    with nbtrack.start_run("kept", store=store) as run:
        run.log_artifact(b"x", "a.bin", meta={"note": "ok"})
    assert nbtrack.fsck(store=store).clean
    with store.transaction() as conn:  # one byte of each JSON text changed, as a flipped bit does
        conn.execute("UPDATE environments SET data = substr(data, 1, 5) || '\x01' || substr(data, 7)")
        conn.execute("UPDATE artifacts SET meta = substr(meta, 1, 3) || '\x01' || substr(meta, 5)")
    with pytest.raises(nbtrack.NbtrackError, match=r"cannot be decoded .*damaged.*nbtrack fsck.*restore nbtrack.db"):
        nbtrack.get_run(run.run_id, store=store)
    report = nbtrack.fsck(store=store)
    assert not report.clean
    assert "values that cannot be decoded: 1 in environments.data, 1 in artifacts.meta" in report.integrity
    with store.transaction() as conn:  # a text that is no longer UTF-8 anywhere (here a tag) is found too
        conn.execute("INSERT INTO tags VALUES (?, 'k', CAST(x'ff' AS TEXT))", (run.run_id,))
    assert "text that is not UTF-8 in tags" in nbtrack.fsck(store=store).integrity


@pytest.mark.parametrize("checked", [True, False])
def test_a_damaged_arrow_schema_of_a_data_version_is_an_error_naming_fsck(tmp_path, checked):
    """The Arrow schema kept in a version's meta, damaged, was a raw ``OSError: Invalid flatbuffers message``.
    A meta written since nbtrack 0.3 carries a checksum, which meets the damage first; one written before
    (no ``_check``) meets it when Arrow reads the schema."""
    import json

    import pandas as pd

    store = Store.open(tmp_path / ".nbtrack")
    nbtrack.snapshot(pd.DataFrame({"a": [1, 2, 3]}), "d", store=store)
    (meta,) = store.query("SELECT meta FROM data_versions")[0]
    damaged = {**json.loads(meta), "schema": "AAAAAAAA"}
    if not checked:
        del damaged["_check"]
    with store.transaction() as conn:
        conn.execute("UPDATE data_versions SET meta = ?", (json.dumps(damaged),))
    what = "meta of a data version .*checksum" if checked else "Arrow schema of a data version "
    with pytest.raises(nbtrack.NbtrackError, match=rf"{what}.*damaged.*nbtrack fsck"):
        nbtrack.load("d", store=store)
