"""Issue 21, DataFrame findings: each case here loaded silently wrong before the fix (real store, real chunks)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import nbtrack.data
from nbtrack.data import UnsupportedDataError


def exact(expected: pd.DataFrame, actual: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        expected,
        actual,
        check_exact=True,
        check_freq=True,
        check_dtype=True,
        check_index_type=True,
        check_column_type=True,
        check_categorical=True,
    )


def sizes(n: int = 200) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "size": pd.Categorical(
                np.array(["S", "M", "L"])[np.arange(n) % 3], categories=["S", "M", "L"], ordered=True
            ),
            "x": np.linspace(0, 1, n),
        }
    )


def test_a_keyed_delta_keeps_categories_added_removed_and_reordered(store):
    v1 = sizes()
    v2 = v1.copy()
    v2["size"] = v2["size"].cat.add_categories(["XL"])
    v2.loc[5, "size"] = "XL"  # one row changed: stored as a delta
    v3 = v2.copy()
    v3["size"] = v3["size"].cat.reorder_categories(["XL", "L", "M", "S"])
    v3.loc[7, "x"] = 9.0
    v4 = v3.copy()
    v4.loc[v4["size"] == "S", "size"] = "M"
    v4["size"] = v4["size"].cat.remove_categories(["S"])
    v4 = v4.iloc[:150]  # fewer rows too
    v5 = v4.copy()
    v5["size"] = v5["size"].cat.as_unordered().cat.add_categories(["unused"])
    v5.loc[3, "x"] = -1.0
    frames = [v1, v2, v3, v4, v5]
    numbers = [nbtrack.data.snapshot(df, "sizes", key="id", store=store) for df in frames]
    assert [v.storage for v in numbers[:3]] == ["full", "delta", "delta"]
    for df, version in zip(frames, numbers):
        exact(df, nbtrack.data.load("sizes", version.version, store=store))


def test_a_comparison_on_an_ordered_categorical_gives_the_same_answer_after_a_reorder(store):
    v1 = sizes(30)
    nbtrack.data.snapshot(v1, "sizes", key="id", store=store)
    v2 = v1.copy()
    v2["size"] = v2["size"].cat.reorder_categories(["L", "M", "S"])  # now L < M < S
    v2.loc[0, "x"] = 5.0
    assert nbtrack.data.snapshot(v2, "sizes", key="id", store=store).storage == "delta"
    back = nbtrack.data.load("sizes", store=store)
    assert (back["size"] > "L").sum() == (v2["size"] > "L").sum() == 20


def test_a_keyed_delta_keeps_minus_zero_replacing_zero(store):
    v1 = pd.DataFrame({"id": np.arange(100), "x": np.zeros(100), "f32": np.zeros(100, dtype="float32")})
    nbtrack.data.snapshot(v1, "zeros", key="id", store=store)
    v2 = v1.copy()
    v2.loc[[3, 50], "x"] = -0.0
    v2.loc[4, "f32"] = -0.0
    v2.loc[9, "x"] = 1.0  # a visible edit alongside
    assert nbtrack.data.snapshot(v2, "zeros", key="id", store=store).storage == "delta"
    back = nbtrack.data.load("zeros", store=store)
    exact(v2, back)
    assert np.array_equal(np.signbit(back["x"].to_numpy()), np.signbit(v2["x"].to_numpy()))
    assert np.array_equal(np.signbit(back["f32"].to_numpy()), np.signbit(v2["f32"].to_numpy()))


def test_minus_zero_alone_is_a_new_version(store):
    v1 = pd.DataFrame({"x": [0.0, 1.0]})
    v2 = pd.DataFrame({"x": [-0.0, 1.0]})
    first = nbtrack.data.snapshot(v1, "z", store=store)
    second = nbtrack.data.snapshot(v2, "z", store=store)
    assert second.version != first.version
    assert np.signbit(nbtrack.data.load("z", store=store)["x"].iloc[0])


def test_a_datetime_index_keeps_its_frequency_and_dedup_tells_them_apart(store):
    with_freq = pd.DataFrame({"a": np.arange(5)}, index=pd.date_range("2024-03-29", periods=5, freq="B", tz="UTC"))
    without = with_freq.copy()
    without.index.freq = None
    first = nbtrack.data.snapshot(without, "days", store=store)
    second = nbtrack.data.snapshot(with_freq, "days", store=store)  # was: version 1 returned, freq lost
    assert second.version == first.version + 1
    exact(without, nbtrack.data.load("days", first.version, store=store))
    exact(with_freq, nbtrack.data.load("days", second.version, store=store))
    assert nbtrack.data.fingerprint(with_freq) != nbtrack.data.fingerprint(without)


def test_frequencies_of_timedelta_index_columns_and_multiindex_levels(store):
    dates = pd.date_range("2024-01-01", periods=3, freq="D")
    frames = [
        pd.DataFrame({"a": [1, 2, 3]}, index=pd.timedelta_range("1s", periods=3, freq="s")),
        pd.DataFrame([[1, 2, 3]], columns=dates),
        pd.DataFrame({"a": np.arange(6)}, index=pd.MultiIndex.from_product([dates, ["x", "y"]])),
    ]
    for i, df in enumerate(frames):
        nbtrack.data.snapshot(df, f"freq{i}", store=store)
        exact(df, nbtrack.data.load(f"freq{i}", store=store))


def test_a_flat_index_of_tuple_labels_stays_flat(store):
    df = pd.DataFrame([[1, 2]], columns=pd.Index([("a", 1), ("b", 2)], tupleize_cols=False))
    nbtrack.data.snapshot(df, "tuples", store=store)
    back = nbtrack.data.load("tuples", store=store)
    assert not isinstance(back.columns, pd.MultiIndex)
    exact(df, back)


def test_category_order_and_ordered_flag_are_content(store):
    a = pd.DataFrame({"c": pd.Categorical(["x", "y"], categories=["x", "y"])})
    b = pd.DataFrame({"c": pd.Categorical(["x", "y"], categories=["y", "x"])})
    c = pd.DataFrame({"c": pd.Categorical(["x", "y"], categories=["y", "x"], ordered=True)})
    numbers = [nbtrack.data.snapshot(df, "cats", store=store).version for df in (a, b, c)]
    assert numbers == [1, 2, 3]
    for df, number in zip((a, b, c), numbers):
        exact(df, nbtrack.data.load("cats", number, store=store))


def test_no_categories_left_and_object_categories_keep_their_dtype(store):
    df = pd.DataFrame(
        {
            "none_left": pd.Categorical(["a", None]).remove_categories(["a"]),  # was refused
            "objects": pd.Categorical(["a", "b"], categories=pd.Index(["b", "a", "z"], dtype=object)),  # was refused
        }
    )
    nbtrack.data.snapshot(df, "empty", store=store)
    exact(df, nbtrack.data.load("empty", store=store))


def test_a_frame_refusing_duplicate_labels_keeps_that_flag(store):
    df = pd.DataFrame({"a": [1, 2]}).set_flags(allows_duplicate_labels=False)
    nbtrack.data.snapshot(df, "flags", store=store)
    back = nbtrack.data.load("flags", store=store)
    assert back.flags.allows_duplicate_labels is False
    pd.testing.assert_frame_equal(df, back, check_flags=True)


def test_an_index_of_mixed_tuples_is_refused_naming_the_index_and_nothing_is_stored(store):
    df = pd.DataFrame({"a": [1, 2]}, index=pd.Index([("a", 1), ("b", 2)], tupleize_cols=False))
    with pytest.raises(UnsupportedDataError, match=r"index level 0.*MultiIndex\.from_tuples"):
        nbtrack.data.snapshot(df, "bad", store=store)
    assert store.query("SELECT COUNT(*) FROM data_versions")[0][0] == 0


def test_a_categorical_pandas_cannot_rebuild_is_refused_not_a_crash(store):
    df = pd.DataFrame({"ok": [1, 2], "spans": pd.Categorical(pd.interval_range(0, 2))})
    with pytest.raises(UnsupportedDataError, match=r"column 'spans'.*astype\(str\)"):  # was: TypeError from pandas
        nbtrack.data.snapshot(df, "bad", store=store)
    assert store.query("SELECT COUNT(*) FROM data_versions")[0][0] == 0


def test_a_column_whose_stored_schema_would_not_read_back_is_refused_before_it_is_stored(store):
    # found by the long generated run: 0 rows of a categorical of intervals passed the sample check, was stored,
    # and every load then failed reading the version's schema (pandas' interval type inside a dictionary)
    df = pd.DataFrame({"spans": pd.Categorical(pd.interval_range(0, 0))})
    with pytest.raises(UnsupportedDataError, match=r"column 'spans'"):
        nbtrack.data.snapshot(df, "bad", store=store)
    assert store.query("SELECT COUNT(*) FROM data_versions")[0][0] == 0
