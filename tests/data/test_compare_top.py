"""A diff's top values of a column with many distinct values: the most frequent non-null ones, in order."""

from __future__ import annotations

import numpy as np
import pandas as pd

import nbtrack.data as data
from nbtrack.data._compare import TOP, _counts, column_stats


def test_top_values_skip_missing_and_stop_at_top():
    rng = np.random.default_rng(3)
    names = np.array([f"user_{i:05d}" for i in range(20_000)], dtype=object)
    values = names[rng.integers(0, len(names), 200_000)]
    values[rng.choice(len(values), 50_000, replace=False)] = None  # missing is the most frequent "value"
    series = pd.Series(pd.array(values, dtype="str"))
    expected = series.value_counts(dropna=True)
    expected = expected.sort_values(ascending=False, kind="stable")
    top = column_stats(series, counts=_counts(series))["top"]
    assert len(top) == TOP
    assert [n for _, n in top] == list(expected.values[:TOP])
    assert all(isinstance(k, str) and int(expected[k]) == n for k, n in top)


def test_diff_of_stored_versions_reports_top_names(tmp_path):
    from nbtrack.store import Store

    store = Store.open(tmp_path / ".nbtrack", create=True)
    a = pd.DataFrame({"id": range(6), "city": ["Oslo", "Oslo", "Oslo", "Rome", "Rome", None]})
    b = a.assign(city=["Oslo", "Rome", "Rome", "Rome", "Lima", "Lima"])
    data.snapshot(a, "cities", key="id", store=store)
    data.snapshot(b, "cities", key="id", store=store)
    stats = data.diff("cities", 1, 2, store=store).stats["city"]
    assert stats["a"]["top"] == [["Oslo", 3], ["Rome", 2]]
    assert stats["b"]["top"] == [["Rome", 3], ["Lima", 2], ["Oslo", 1]]
    store.close()
