"""Progress bars (tqdm.auto) on snapshots, loads and diffs of large frames; small frames stay quiet."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import nbtrack
from nbtrack.data import _chunks


def _cells_frame(rows: int, columns: int = 10) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({f"c{i}": rng.integers(0, 100, rows, dtype=np.int8) for i in range(columns)})


@pytest.mark.slow
def test_large_snapshot_load_and_diff_show_progress_on_stderr(store, capfd):
    rows = _chunks.PROGRESS_MIN_CELLS // 10  # 2 M rows x 10 one-byte columns: 20 MB, at the threshold
    df = _cells_frame(rows)
    nbtrack.snapshot(df, "big", store=store)
    assert "snapshot big" in capfd.readouterr().err
    pd.testing.assert_frame_equal(nbtrack.load("big", store=store), df)
    assert "load big@1" in capfd.readouterr().err
    df.loc[5, "c3"] = -1
    nbtrack.snapshot(df, "big", store=store)
    capfd.readouterr()
    d = nbtrack.diff("big", store=store)
    assert d.rows["added"] == 1 and "diff big" in capfd.readouterr().err


def test_small_snapshot_load_and_diff_are_quiet(store, capfd):
    df = _cells_frame(50_000)  # 500,000 cells, about 200 chunks: many chunks but little work
    nbtrack.snapshot(df, "small", store=store)
    nbtrack.load("small", store=store)
    df.loc[5, "c3"] = -1
    nbtrack.snapshot(df, "small", store=store)
    nbtrack.diff("small", store=store)
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""
