"""Drift leaves out what is not a feature (keys, IDs, dates, constants, counters) and says why; a month with
no real drift is never flagged, a real shift always is (issue 18)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nbtrack
from nbtrack.data import _compare
from nbtrack.data._drift import not_a_feature
from nbtrack.errors import InvalidValueError

N = 20_000


def month(seed: int, start: int, shift: float = 0.0, new_category: float = 0.0) -> pd.DataFrame:
    """One month of transactions: same distributions every month, new ids, later times."""
    rng = np.random.default_rng(seed)
    channel = rng.choice(["web", "store", "phone"], N, p=[0.5, 0.3, 0.2])
    if new_category:
        channel = np.where(rng.random(N) < new_category, "app", channel)
    return pd.DataFrame(
        {
            "txn_id": np.arange(start, start + N),
            "customer": [f"c{start + i:08d}" for i in range(N)],
            "at": pd.Timestamp("2026-01-01") + pd.to_timedelta(start + np.arange(N), unit="min"),
            "seq": (start + np.arange(N)) * 1.5,
            "currency": "EUR",
            "amount": rng.normal(50.0, 10.0, N) + shift * 10.0,
            "channel": channel,
        }
    )


EXCLUDED = {
    "txn_id": "the version's key",
    "customer": "an ID: every value is unique in both versions",
    "at": "a date/time: later data always has later values",
    "seq": "increases monotonically in both versions: a counter or a time",
    "currency": "constant: 'EUR' in both",
}


def test_a_month_with_no_real_drift_is_not_flagged_and_says_what_it_left_out(store):
    nbtrack.snapshot(month(1, 0), "txns", key="txn_id")
    nbtrack.snapshot(month(2, N), "txns", key="txn_id")
    report = nbtrack.drift("txns", 2, against=1)
    assert report.ok and set(report.columns) == {"amount", "channel"}
    assert report.excluded == EXCLUDED
    assert "not checked: txn_id (the version's key); customer (an ID" in report.summary()
    assert report.to_dict()["excluded"] == EXCLUDED


@pytest.mark.parametrize(("shift", "new_category", "flagged"), [(0.5, 0.0, ["amount"]), (0.0, 0.1, ["channel"])])
def test_a_real_shift_is_flagged(store, shift, new_category, flagged):
    nbtrack.snapshot(month(1, 0), "txns", key="txn_id")
    nbtrack.snapshot(month(2, N, shift=shift, new_category=new_category), "txns", key="txn_id")
    report = nbtrack.drift("txns", 2, against=1)
    assert report.flagged == flagged and set(report.excluded) == set(EXCLUDED)


def test_columns_checks_exactly_those_and_exclude_leaves_more_out(store):
    nbtrack.snapshot(month(1, 0), "txns", key="txn_id")
    nbtrack.snapshot(month(2, N), "txns", key="txn_id")
    chosen = nbtrack.drift("txns", 2, against=1, columns=["txn_id", "amount"])
    assert list(chosen.columns) == ["txn_id", "amount"] and chosen.flagged == ["txn_id"] and chosen.excluded == {}
    fewer = nbtrack.drift("txns", 2, against=1, exclude=["channel"])
    assert list(fewer.columns) == ["amount"] and fewer.excluded["channel"] == "excluded by exclude="
    with pytest.raises(InvalidValueError, match="'amout', which is not a column of both versions; they share: txn_id"):
        nbtrack.drift("txns", 2, against=1, columns=["amout"])


def test_a_column_constant_in_training_that_varies_now_is_kept_and_flagged(store):
    rng = np.random.default_rng(0)
    nbtrack.snapshot(pd.DataFrame({"region": ["eu"] * 1000, "x": rng.normal(size=1000)}), "d")
    nbtrack.snapshot(pd.DataFrame({"region": ["eu", "us"] * 500, "x": rng.normal(size=1000)}), "d")
    report = nbtrack.drift("d", 2, against=1)
    assert report.flagged == ["region"] and report.excluded == {}


def test_floats_that_are_all_distinct_are_features_not_ids():
    rng = np.random.default_rng(0)
    ref, new = pd.Series(rng.normal(size=500)), pd.Series(rng.normal(size=500))
    assert not_a_feature("income", ref, new, set()) is None
    assert not_a_feature("n", pd.Series([1, 2] * 50), pd.Series([2, 1] * 50), set()) is None
    assert not_a_feature("flag", pd.Series([True, False] * 50), pd.Series([True] * 100), set()) is None


def test_the_cli_reports_exclusions_and_takes_columns_and_exclude(store, cli):
    nbtrack.snapshot(month(1, 0), "txns", key="txn_id")
    nbtrack.snapshot(month(2, N), "txns", key="txn_id")
    calm = cli("data", "drift", "txns@2", "--against", "1")
    assert "no column over PSI 0.2" in calm and "not checked: txn_id (the version's key)" in calm
    flagged = cli("data", "drift", "txns@2", "--against", "1", "--columns", "txn_id,amount", code=1)
    assert "txn_id PSI=" in flagged
    body = json.loads(cli("data", "drift", "txns@2", "--against", "1", "--exclude", "amount", "--format", "json"))
    assert list(body["columns"]) == ["channel"] and body["excluded"]["amount"] == "excluded by exclude="
    nothing = cli("data", "drift", "txns@2", "--against", "1", "--exclude", "amount", "--exclude", "channel", code=2)
    assert "No column was left to check: name the columns to check with --columns" in nothing


# Over many seeds: the false-alarm rate of the default threshold (PSI > 0.2) on a feature whose
# distribution did not change, at 2,000 rows, is 0 (largest PSI seen over 200 seeds: 0.026); a 0.5 sd
# shift is always over it (smallest PSI seen: 0.205 at 2,000 rows, 0.217 at 20,000).
@given(seed=st.integers(0, 2**32 - 1))
def test_no_false_alarm_on_an_unchanged_feature_over_many_seeds(seed):
    rng = np.random.default_rng(seed)
    ref, new = pd.Series(rng.normal(size=2000)), pd.Series(rng.normal(size=2000))
    assert not_a_feature("x", ref, new, set()) is None
    assert _compare.column_drift(ref, new)["psi"] < 0.1


@given(seed=st.integers(0, 2**32 - 1))
def test_a_half_sd_shift_is_always_flagged_over_many_seeds(seed):
    rng = np.random.default_rng(seed)
    ref, new = pd.Series(rng.normal(size=N)), pd.Series(rng.normal(0.5, 1.0, size=N))
    assert _compare.column_drift(ref, new)["psi"] > 0.2
