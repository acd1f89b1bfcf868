"""Values damaged inside ``nbtrack.db`` are an error naming ``fsck``, never a changed record.

SQLite keeps no checksum of the values in its pages. The flipped bits measured by
``bench/bench_dbflips.py`` that read back as silently changed values were inside metric histories, rows
lost from a run (a tag, a whole history) and a data version's meta. So each history segment and each
version meta carries a checksum, a run's histories must agree with its latest values, and its params,
metrics and tags rows with its summary. Here the damage is made with SQL on a real store file (the bytes
a flipped bit leaves); then ``get_run``, ``load``, the CLI and ``fsck`` are asked.
"""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

import nbtrack
from nbtrack.cli.main import main
from nbtrack.errors import DamagedStoreError
from nbtrack.store import Store


def _store(root: Path) -> str:
    """A finished run with a param, a tag and two metrics over three flushes each; returns its id."""
    store = Store.open(root)
    with nbtrack.start_run("trained", params={"lr": 0.1}, tags={"stage": "dev"}, store=store) as run:
        for flush in range(3):
            for step in range(flush * 4, flush * 4 + 4):
                run.log_metrics({"loss": 1 / (step + 1), "acc": step / 12}, step=step)
            run.flush()
    store.checkpoint()
    store.close()
    return run.run_id


def _damage(root: Path, sql: str, args: tuple = ()) -> None:
    conn = sqlite3.connect(root / "nbtrack.db")
    with conn:
        conn.execute(sql, args)
    conn.close()


def _segment(root: Path, key: str, seq: int) -> tuple[bytes, bytes, bytes]:
    conn = sqlite3.connect(root / "nbtrack.db")
    row = conn.execute('SELECT steps, "values", times FROM metrics WHERE key = ? AND seq = ?', (key, seq)).fetchone()
    conn.close()
    return row


def _history(root: Path, run_id: str):
    history = nbtrack.get_run(run_id, store=Store.open(root, create=False)).metrics
    assert history is not None
    return history


def test_every_flipped_bit_in_a_segment_is_an_error_naming_fsck(tmp_path):
    root = tmp_path / ".nbtrack"
    run_id = _store(root)
    expected = _history(root, run_id)
    assert len(expected) == 24
    steps, values, times = _segment(root, "loss", 1)
    rng = random.Random(7)
    for column, original in (("steps", steps), ("values", values), ("times", times)):
        for position in range(len(original)):  # every byte, one random bit of it
            damaged = bytearray(original)
            damaged[position] ^= 1 << rng.randrange(8)
            _damage(root, f'UPDATE metrics SET "{column}" = ? WHERE key = ? AND seq = 1', (bytes(damaged), "loss"))
            with pytest.raises(DamagedStoreError, match="history of metric 'loss'.*nbtrack fsck"):
                _history(root, run_id)
        _damage(root, f'UPDATE metrics SET "{column}" = ? WHERE key = ? AND seq = 1', (original, "loss"))
    assert _history(root, run_id).equals(expected)  # restored: the same values again


@pytest.mark.parametrize(
    "sql, why",
    [
        ("UPDATE metrics SET n = n + 1 WHERE key = 'acc' AND seq = 0", "count"),
        ("UPDATE metrics SET seq = 7 WHERE key = 'acc' AND seq = 1", "segment before it is missing"),
        ("UPDATE metrics SET run_id = 'elsewhere' WHERE key = 'acc' AND seq = 1", "segment before it is missing"),
        ("UPDATE metrics SET run_id = 'elsewhere' WHERE key = 'acc' AND seq = 2", "latest value"),
        ("UPDATE latest_metrics SET value = value + 1e-9 WHERE key = 'acc'", "do not match the run's summary"),
        ("UPDATE params SET value = 0.2 WHERE key = 'lr'", "do not match the run's summary"),
        ("UPDATE tags SET value = 'dew' WHERE key = 'stage'", "do not match the run's summary"),
        (
            "UPDATE params SET value = '(1, 2', type = 'literal'",
            "param of a run stored in nbtrack.db cannot be decoded",
        ),
        # without its seal (a read-only store of schema 9 or older): the value's own check still holds
        ("UPDATE runs SET experiment_id = 99, seal = NULL", "experiment of a run stored in nbtrack.db"),
        ("UPDATE latest_metrics SET key = 'acd' WHERE key = 'acc'", "do not match the run's summary"),
        ("DELETE FROM latest_metrics WHERE key = 'acc'", "do not match the run's summary"),
        ("DELETE FROM metrics WHERE key = 'acc'", "latest value for it but no history"),
        ("UPDATE tags SET run_id = 'elsewhere'", "do not match the run's summary"),
        ("UPDATE params SET key = 'lR'", "do not match the run's summary"),
        ("UPDATE metrics SET key = 'acd' WHERE key = 'acc' AND seq = 2", "checksum"),
    ],
)
def test_damage_around_the_segments_is_an_error(tmp_path, sql, why):
    """A flipped bit in the count, the sequence number, the run id or key of a segment, or in the latest
    value: each would otherwise read back as a shorter, reordered or different history."""
    root = tmp_path / ".nbtrack"
    run_id = _store(root)
    _damage(root, sql)
    with pytest.raises(DamagedStoreError, match=why):
        _history(root, run_id)


def test_the_cli_and_fsck_name_the_damage(tmp_path, monkeypatch):
    root = tmp_path / ".nbtrack"
    run_id = _store(root)
    steps, values, times = _segment(root, "acc", 2)
    damaged = bytearray(values)
    damaged[3] ^= 0x10
    _damage(root, "UPDATE metrics SET \"values\" = ? WHERE key = 'acc' AND seq = 2", (bytes(damaged),))
    monkeypatch.setenv("NBTRACK_HOME", str(root))
    shown = CliRunner().invoke(main, ["show", run_id])
    assert shown.exit_code == 1 and "history of metric 'acc'" in shown.output and "nbtrack fsck" in shown.output
    assert "Traceback" not in shown.output
    checked = CliRunner().invoke(main, ["fsck"])
    assert checked.exit_code == 1 and "1 metric history segments that do not match their checksum" in checked.output


def test_a_segment_written_before_checksums_still_reads(tmp_path):
    """Stores written before nbtrack 0.3 hold segments without the 8 checksum bytes: read as they are."""
    root = tmp_path / ".nbtrack"
    run_id = _store(root)
    expected = _history(root, run_id)
    _damage(root, "UPDATE metrics SET times = substr(times, 1, 8 * n)")
    assert _history(root, run_id).equals(expected)
    assert nbtrack.fsck(store=Store.open(root, create=False)).integrity == "ok"


def test_a_damaged_data_version_meta_is_an_error_naming_fsck(tmp_path, monkeypatch):
    """A version's meta says how its chunks become a frame; a digit changed inside it stays valid JSON."""
    import pandas as pd

    root = tmp_path / ".nbtrack"
    store = Store.open(root)
    frame = pd.DataFrame({"x": [1.5, 2.5, 3.5], "c": pd.Categorical(["a", "b", "a"])})
    nbtrack.snapshot(frame, "people", store=store)
    store.close()
    conn = sqlite3.connect(root / "nbtrack.db")
    (meta,) = conn.execute("SELECT meta FROM data_versions").fetchone()
    conn.close()
    assert '"_check"' in meta
    # without its seal (a read-only store of schema 9 or older): test_run_seal.py covers the version's seal
    _damage(
        root,
        "UPDATE data_versions SET meta = replace(meta, '\"object_columns\"', '\"object_colu-ns\"'), seal = NULL",
    )
    with pytest.raises(DamagedStoreError, match="meta of a data version.*checksum.*nbtrack fsck"):
        nbtrack.load("people", store=Store.open(root, create=False))
    monkeypatch.setenv("NBTRACK_HOME", str(root))
    checked = CliRunner().invoke(main, ["fsck"])
    assert checked.exit_code == 1 and "1 data version metas that do not match their checksum" in checked.output
    _damage(root, "UPDATE data_versions SET meta = ?", (meta,))
    pd.testing.assert_frame_equal(nbtrack.load("people", store=Store.open(root, create=False)), frame)


def test_a_data_version_meta_written_before_checksums_still_loads(tmp_path):
    import json

    import pandas as pd

    root = tmp_path / ".nbtrack"
    store = Store.open(root)
    frame = pd.DataFrame({"x": [1.5, 2.5]})
    nbtrack.snapshot(frame, "people", store=store)
    store.close()
    conn = sqlite3.connect(root / "nbtrack.db")
    (meta,) = conn.execute("SELECT meta FROM data_versions").fetchone()
    conn.close()
    unchecked = json.loads(meta)
    del unchecked["_check"]
    store = Store.open(root)  # written through nbtrack, as migration 10 seals a version of an older store
    with store.transaction() as conn:
        conn.execute("UPDATE data_versions SET meta = ?", (json.dumps(unchecked),))
    store.close()
    pd.testing.assert_frame_equal(nbtrack.load("people", store=Store.open(root, create=False)), frame)


def test_reading_a_run_while_it_logs_never_reports_damage(tmp_path):
    """The cross-checks read one state of the store: a flush landing between two of get_run's reads (the
    history, then the latest values and summary) must not look like damage."""
    import threading
    import time

    root = tmp_path / ".nbtrack"
    writer_store, reader_store = Store.open(root), Store.open(root)
    started, stop = threading.Event(), threading.Event()
    run_ids: list[str] = []

    def write() -> None:
        with nbtrack.start_run("live", store=writer_store) as run:
            run_ids.append(run.run_id)
            step = 0
            while not stop.is_set():
                run.log_metrics({"loss": 1 / (step + 1), "acc": step / 1e4}, step=step)
                run.set_tag("step", step)
                run.flush()
                started.set()
                step += 1

    writer = threading.Thread(target=write)
    writer.start()
    assert started.wait(30)
    reads, deadline = 0, time.monotonic() + 3
    try:
        while time.monotonic() < deadline:
            record = nbtrack.get_run(run_ids[0], store=reader_store)
            assert record.metrics is not None and len(record.metrics) >= 2
            reads += 1
    finally:
        stop.set()
        writer.join()
    assert reads > 10


def _registered(root: Path) -> None:
    """Model churn with versions 1 and 2; champion moved 1 -> 2, challenger on 1 then removed."""
    store = Store.open(root)
    for alpha in (0.5, 0.7):
        with nbtrack.start_run("trained", params={"alpha": alpha}, store=store) as run:
            run.log_model({"weights": [alpha]}, "model.pkl")
        nbtrack.register_model(run.run_id, "churn", store=store)
    nbtrack.set_model_alias("churn", 1, "champion", store=store)
    nbtrack.set_model_alias("churn", 1, "challenger", store=store)
    nbtrack.set_model_alias("churn", 2, "champion", reason="better", store=store)
    nbtrack.remove_model_alias("churn", "challenger", store=store)
    store.close()


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM model_aliases WHERE alias = 'champion'",  # a row lost: the alias would vanish
        "UPDATE model_aliases SET version = 1 WHERE alias = 'champion'",  # the alias back on the old model
        "INSERT INTO model_aliases VALUES ('churn', 'challenger', 1, 0)",  # a removed alias back
    ],
)
def test_an_alias_that_is_not_where_its_history_moved_it_is_an_error(tmp_path, sql):
    root = tmp_path / ".nbtrack"
    _registered(root)
    assert nbtrack.get_model("churn@champion", store=Store.open(root, create=False)).version == 2
    _damage(root, sql)
    with pytest.raises(DamagedStoreError, match="aliases of the models.*history.*nbtrack fsck"):
        nbtrack.get_model("churn@champion", store=Store.open(root, create=False))
    with pytest.raises(DamagedStoreError):
        nbtrack.registry.model_versions("churn", store=Store.open(root, create=False))


def test_a_clock_that_goes_back_between_two_moves_is_no_damage(tmp_path, monkeypatch):
    """The second move is dated before the first by the clock: it is still the alias's latest move."""
    import time

    root = tmp_path / ".nbtrack"
    _registered(root)
    store = Store.open(root, create=False)
    monkeypatch.setattr(time, "time", lambda: 1_000_000.0)  # 1970: before every move so far
    nbtrack.set_model_alias("churn", 1, "champion", reason="rollback", store=store)
    monkeypatch.undo()
    assert nbtrack.get_model("churn@champion", store=store).version == 1
    assert [m["to_version"] for m in nbtrack.model_history("churn", "champion", store=store)] == [1, 2, 1]


def test_a_status_that_is_no_status_is_an_error(tmp_path):
    root = tmp_path / ".nbtrack"
    run_id = _store(root)
    _damage(root, "UPDATE runs SET status = 'oo', seal = NULL")  # test_run_seal.py: with its seal
    with pytest.raises(DamagedStoreError, match="status of a run.*'oo' is no run status.*nbtrack fsck"):
        _history(root, run_id)
