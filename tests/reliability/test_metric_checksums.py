"""A metric history damaged inside ``nbtrack.db`` is an error naming ``fsck``, never a changed value.

SQLite keeps no checksum of the values in its pages. Every flipped bit measured by
``bench/bench_dbflips.py`` that read back as a silently changed value was inside a metric history, so
each history segment carries a checksum, and a run's checksummed histories must agree with its latest
values. Here the damage is made with SQL on a real store file (the bytes a flipped bit leaves): every
bit of a segment's three arrays, its count, its sequence number, the latest value, a segment moved to
another run; then ``get_run``, the CLI's ``show`` and ``fsck`` are asked.
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
    """A finished run with two metrics over three flushes each; returns its id."""
    store = Store.open(root)
    with nbtrack.start_run("trained", store=store) as run:
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
        ("UPDATE latest_metrics SET value = value + 1e-9 WHERE key = 'acc'", "latest value"),
        ("UPDATE latest_metrics SET key = 'acd' WHERE key = 'acc'", "no latest value"),
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
