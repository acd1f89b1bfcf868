"""Generated DataFrames and keyed version chains: every version loads back exactly, or is refused first.

Issue 21 ("nothing lost, nothing silently wrong"). Every generated frame is either stored and loaded back
equal under ``assert_frame_equal`` with every exact check (frequency, categories and their order, dtypes,
index and column classes) and with signed zeros compared bit for bit, or refused with
``UnsupportedDataError`` before anything is written. Keyed chains of random edits (category changes,
signed zeros, NaN, deletes, inserts, reorders) check every version of the chain the same way, and that a
snapshot answered from an existing version (same fingerprint) never returns one that differs.

Budget: ``max_examples`` below (a few seconds per test); ``HYPOTHESIS_PROFILE=long`` tries 25x as many
(see ``conftest.py``). ``NBTRACK_FUZZ_COUNTS=1`` prints how many examples were exact and refused.
"""

from __future__ import annotations

import itertools
import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nbtrack.data
from nbtrack.data import UnsupportedDataError

LONG = os.environ.get("HYPOTHESIS_PROFILE") == "long"
COUNTS: dict[str, int] = {"frames": 0, "frames_exact": 0, "frames_refused": 0, "chain_versions": 0, "chains": 0}
REFUSALS: dict[str, int] = {}
_names = itertools.count()


_SUPPRESS = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large]


def budget(n: int) -> settings:
    """``n`` examples (each test gets a fresh dataset name in the one store), 25x as many in the long profile."""
    return settings(max_examples=n * 25 if LONG else n, deadline=None, suppress_health_check=_SUPPRESS)


@pytest.fixture(scope="module", autouse=True)
def _print_counts():
    yield
    if os.environ.get("NBTRACK_FUZZ_COUNTS"):
        print(f"\nexact-generated counts: {COUNTS}")
        for reason, count in sorted(REFUSALS.items(), key=lambda item: -item[1]):
            print(f"  refused {count}x: {reason}")


# ---------------------------------------------------------------- exact comparison
def assert_exact(expected: pd.DataFrame, actual: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        expected,
        actual,
        check_exact=True,
        check_freq=True,
        check_dtype=True,
        check_index_type=True,
        check_column_type=True,
        check_categorical=True,
        check_flags=True,
    )
    for i in range(expected.shape[1]):
        _same_signs(expected.iloc[:, i], actual.iloc[:, i], f"column {expected.columns[i]!r}")
    for level in range(expected.index.nlevels):
        _same_signs(expected.index.get_level_values(level), actual.index.get_level_values(level), f"level {level}")


def _same_signs(a, b, what: str) -> None:
    """Floats (numpy, nullable, categories) carry the same sign bits: -0.0 is not 0.0."""
    if isinstance(a.dtype, pd.CategoricalDtype):
        _same_signs(a.dtype.categories, b.dtype.categories, what + " categories")
        return
    if a.dtype.kind != "f" and str(a.dtype) not in ("Float32", "Float64"):
        return
    na = np.asarray(pd.isna(a))
    av = np.asarray(a.to_numpy(dtype="float64", na_value=np.nan))[~na]
    bv = np.asarray(b.to_numpy(dtype="float64", na_value=np.nan))[~na]
    assert np.array_equal(np.signbit(av), np.signbit(bv)), f"{what}: signs of zero differ"


# ---------------------------------------------------------------- generated values
SPECIAL_FLOATS = [0.0, -0.0, np.nan, np.inf, -np.inf, 1.5, -2.25, 1e300, 5e-324]
floats = st.one_of(st.sampled_from(SPECIAL_FLOATS), st.floats(allow_nan=True, allow_infinity=True))
CATEGORY_POOL = ["a", "b", "c", "d", "zz", ""]
TIMEZONES = ["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata"]


def int_column(dtype: str, n: int):
    info = np.iinfo(dtype.lower())
    values = st.lists(st.integers(int(info.min), int(info.max)), min_size=n, max_size=n)
    if dtype[0].isupper():  # nullable
        values = st.lists(st.one_of(st.none(), st.integers(int(info.min), int(info.max))), min_size=n, max_size=n)
        return values.map(lambda v: pd.Series(pd.array(v, dtype=dtype)))
    return values.map(lambda v: pd.Series(np.array(v, dtype=dtype)))


@st.composite
def categorical(draw, n: int):
    kind = draw(st.sampled_from(["str", "int"]))
    pool = CATEGORY_POOL if kind == "str" else [3, 1, -7, 0, 42, 10]
    categories = draw(st.lists(st.sampled_from(pool), unique=True, max_size=len(pool)))
    values = draw(
        st.lists(st.one_of(st.none(), st.sampled_from(categories)) if categories else st.none(), min_size=n, max_size=n)
    )
    if draw(st.integers(0, 4)) == 0:  # categories held as objects, not pandas 3's "str"
        categories = pd.Index(categories, dtype=object)
    return pd.Series(pd.Categorical(values, categories=categories, ordered=draw(st.booleans())))


@st.composite
def column(draw, n: int):
    kind = draw(
        st.sampled_from(
            [
                "int",
                "nullable_int",
                "float",
                "nullable_float",
                "bool",
                "boolean",
                "str",
                "string",
                "object_str",
                "object_mixed",
                "category",
                "datetime_tz",
                "datetime",
                "timedelta",
                "period",
                "interval",
            ]
        )
    )
    if kind == "int":
        return draw(
            int_column(
                draw(st.sampled_from(["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"])), n
            )
        )
    if kind == "nullable_int":
        return draw(int_column(draw(st.sampled_from(["Int8", "Int16", "Int32", "Int64", "UInt8", "UInt64"])), n))
    if kind == "float":
        values = draw(st.lists(floats, min_size=n, max_size=n))
        dtype = draw(st.sampled_from(["float64", "float32"]))
        with np.errstate(over="ignore"):
            return pd.Series(np.array(values, dtype=dtype))
    if kind == "nullable_float":
        values = draw(
            st.lists(
                st.one_of(st.none(), st.sampled_from(SPECIAL_FLOATS[:2] + SPECIAL_FLOATS[3:])), min_size=n, max_size=n
            )
        )
        return pd.Series(pd.array(values, dtype=draw(st.sampled_from(["Float64", "Float32"]))))
    if kind == "bool":
        return pd.Series(np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool))
    if kind == "boolean":
        return pd.Series(
            pd.array(draw(st.lists(st.one_of(st.none(), st.booleans()), min_size=n, max_size=n)), dtype="boolean")
        )
    if kind in ("str", "string", "object_str"):
        values = draw(st.lists(st.one_of(st.none(), st.text(max_size=6)), min_size=n, max_size=n))
        return pd.Series(values, dtype={"str": "str", "string": "string", "object_str": object}[kind])
    if kind == "object_mixed":  # what Arrow would change: refused, naming the column
        values = draw(
            st.lists(st.one_of(st.none(), st.integers(-5, 5), st.text(max_size=2), st.floats()), min_size=n, max_size=n)
        )
        return pd.Series(values, dtype=object)
    if kind == "period":
        return pd.Series(pd.period_range("2024-01", periods=n, freq=draw(st.sampled_from(["M", "D"]))))
    if kind == "interval" and draw(st.integers(0, 3)) == 0:  # categories pandas cannot rebuild from Arrow: refused
        return pd.Series(pd.Categorical(pd.interval_range(0, n)))
    if kind == "interval":
        return pd.Series(pd.interval_range(0, n, closed=draw(st.sampled_from(["left", "right", "both"]))))
    if kind == "category":
        return draw(categorical(n))
    if kind == "timedelta":
        ticks = draw(st.lists(st.one_of(st.none(), st.integers(-(2**40), 2**40)), min_size=n, max_size=n))
        return pd.Series(pd.to_timedelta(ticks, unit=draw(st.sampled_from(["s", "ms", "ns"]))))
    ticks = draw(st.lists(st.one_of(st.none(), st.integers(0, 2**31)), min_size=n, max_size=n))
    times = pd.Series(pd.to_datetime(ticks, unit="s"))
    unit = draw(st.sampled_from(["s", "ms", "us", "ns"]))
    times = times.astype(f"datetime64[{unit}]")
    if kind == "datetime_tz":
        times = times.dt.tz_localize("UTC").dt.tz_convert(draw(st.sampled_from(TIMEZONES)))
    return times


labels = st.one_of(st.text(max_size=4), st.integers(-3, 3), st.tuples(st.sampled_from("xy"), st.integers(0, 2)))


@st.composite
def index(draw, n: int):
    kind = draw(st.sampled_from(["range", "range_step", "ints", "strings", "tuples", "datetime_freq", "multi"]))
    name = draw(st.one_of(st.none(), st.text(max_size=3), st.integers(0, 3)))
    if kind == "range":
        return pd.RangeIndex(n, name=name)
    if kind == "range_step":
        start, step = draw(st.integers(-10, 10)), draw(st.sampled_from([1, 2, 3, -1, -5]))
        return pd.RangeIndex(start, start + step * n, step, name=name)
    if kind == "ints":
        dtype = draw(st.sampled_from(["int64", "int32", "uint8"]))
        return pd.Index(np.array(draw(st.lists(st.integers(0, 200), min_size=n, max_size=n)), dtype=dtype), name=name)
    if kind == "strings":
        return pd.Index(
            draw(st.lists(st.text(max_size=4), min_size=n, max_size=n)),
            dtype=draw(st.sampled_from(["str", object])),
            name=name,
        )
    if kind == "tuples":
        values = draw(st.lists(st.tuples(st.sampled_from("ab"), st.integers(0, 9)), min_size=n, max_size=n))
        return pd.Index(values, tupleize_cols=False, name=name)
    if kind == "datetime_freq":
        freq = draw(st.sampled_from(["D", "h", "15min", "s", "W-SUN", "MS", "B"]))
        tz = draw(st.sampled_from([None, *TIMEZONES]))
        return pd.date_range("2024-03-30", periods=n, freq=freq, tz=tz, name=name)
    if kind == "multi" and draw(st.booleans()):  # a level of dates with a frequency, maybe with unused values
        dates = pd.date_range("2024-01-01", periods=n + draw(st.integers(0, 3)), freq=draw(st.sampled_from(["D", "h"])))
        product = pd.MultiIndex.from_product([dates, ["a", "b"]], names=["when", name])
        return product[draw(st.sampled_from([slice(0, n), slice(-n if n else len(product), None)]))]
    first = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    second = draw(st.lists(st.text(max_size=2), min_size=n, max_size=n))
    return pd.MultiIndex.from_arrays([first, second], names=[name, draw(st.sampled_from([None, "b"]))])


@st.composite
def frames(draw, max_rows: int = 30):
    n = draw(st.integers(0, max_rows))
    ncols = draw(st.integers(0, 5))
    df = pd.DataFrame({i: draw(column(n)).reset_index(drop=True) for i in range(ncols)}, index=pd.RangeIndex(n))
    kind = draw(st.sampled_from(["labels", "tuples", "multi"]))
    if kind == "labels":
        df.columns = pd.Index(draw(st.lists(labels, min_size=ncols, max_size=ncols)), dtype=object, tupleize_cols=False)
    elif kind == "tuples" and ncols:
        df.columns = pd.Index([("c", i) for i in range(ncols)], tupleize_cols=False)
    elif ncols:
        df.columns = pd.MultiIndex.from_tuples([(f"g{i % 2}", i) for i in range(ncols)], names=["grp", None])
    df.index = draw(index(n))
    if draw(st.integers(0, 9)) == 0 and not df.index.has_duplicates and not df.columns.has_duplicates:
        df = df.set_flags(allows_duplicate_labels=False)
    return df


def stored_count(store, name: str) -> int:
    return store.query("SELECT COUNT(*) FROM data_versions WHERE dataset = ?", (name,))[0][0]


def snapshot_exact(df: pd.DataFrame, name: str, store, key=None):
    """Snapshot ``df``; the version it returns (new or already stored) loads back exactly. None when refused."""
    before, blobs = stored_count(store, name), set(store.blobs.iter_hashes())
    try:
        version = nbtrack.data.snapshot(df, name, key=key, store=store)
    except UnsupportedDataError as exc:
        assert stored_count(store, name) == before and set(store.blobs.iter_hashes()) == blobs, "refused but stored"
        assert "column" in str(exc) or "index" in str(exc), str(exc)
        reason = " ".join(str(exc).split()[:6]) if not os.environ.get("FZ_FULL") else str(exc)
        REFUSALS[reason] = REFUSALS.get(reason, 0) + 1
        return None
    assert_exact(df, nbtrack.data.load(name, version.version, store=store))
    return version


# ---------------------------------------------------------------- generated frames
@budget(int(os.environ.get("FZ_N", 150)))
@given(df=frames())
def test_every_generated_frame_loads_back_exactly_or_is_refused_before_anything_is_stored(store, df):
    COUNTS["frames"] += 1
    name = f"f{next(_names)}"
    version = snapshot_exact(df, name, store)
    COUNTS["frames_exact" if version is not None else "frames_refused"] += 1
    if version is not None:  # the same content again is the same version
        assert nbtrack.data.snapshot(df.copy(), name, store=store).version == version.version


# ---------------------------------------------------------------- keyed chains
@st.composite
def keyed_frames(draw):
    n = draw(st.integers(1, 40))
    df = pd.DataFrame({"id": np.arange(n, dtype="int64") * 3})
    for i in range(draw(st.integers(1, 4))):
        df[f"c{i}"] = (
            draw(st.one_of(categorical(n), column(n))).to_numpy()
            if False
            else draw(st.one_of(categorical(n), categorical(n), column(n))).reset_index(drop=True)
        )
    return df


EDITS = [
    "cell",
    "signed_zero",
    "add_category",
    "remove_category",
    "reorder_categories",
    "flip_ordered",
    "delete",
    "insert",
    "swap",
    "move_block",
]


def _apply(df: pd.DataFrame, edit: str, draw) -> pd.DataFrame:
    df = df.copy()
    n = len(df)
    cats = [c for c in df.columns if isinstance(df[c].dtype, pd.CategoricalDtype)]
    floats_ = [c for c in df.columns if df[c].dtype.kind == "f" or str(df[c].dtype) in ("Float32", "Float64")]
    if edit == "cell" and n:
        col = draw(st.sampled_from(list(df.columns[1:])))
        donor = draw(st.integers(0, n - 1))
        row = draw(st.integers(0, n - 1))
        df.iloc[row, df.columns.get_loc(col)] = df[col].iloc[donor]
    elif edit == "signed_zero" and floats_ and n:
        col = draw(st.sampled_from(floats_))
        for row in draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=3)):
            df.iloc[row, df.columns.get_loc(col)] = draw(st.sampled_from([0.0, -0.0, np.nan]))
    elif edit == "add_category" and cats:
        col = draw(st.sampled_from(cats))
        pool = CATEGORY_POOL if df[col].cat.categories.dtype.kind not in "iu" else [5, 6, 7, -1]
        new = [x for x in pool if x not in df[col].cat.categories][:1]
        if new:
            df[col] = df[col].cat.add_categories(new)
            if n and draw(st.booleans()):
                df.iloc[draw(st.integers(0, n - 1)), df.columns.get_loc(col)] = new[0]
    elif edit == "remove_category" and cats:
        col = draw(st.sampled_from(cats))
        if len(df[col].cat.categories):
            df[col] = df[col].cat.remove_categories([draw(st.sampled_from(list(df[col].cat.categories)))])
    elif edit == "reorder_categories" and cats:
        col = draw(st.sampled_from(cats))
        df[col] = df[col].cat.reorder_categories(draw(st.permutations(list(df[col].cat.categories))))
    elif edit == "flip_ordered" and cats:
        col = draw(st.sampled_from(cats))
        df[col] = df[col].cat.as_unordered() if df[col].cat.ordered else df[col].cat.as_ordered()
    elif edit == "delete" and n > 1:
        df = df.drop(index=df.index[draw(st.lists(st.integers(0, n - 1), max_size=2))])
    elif edit == "insert" and n:
        rows = df.iloc[draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=2, unique=True))].copy()
        rows["id"] = np.arange(len(rows), dtype="int64") + int(df["id"].max()) + 1
        at = draw(st.integers(0, len(df)))
        df = pd.concat([df.iloc[:at], rows, df.iloc[at:]])
    elif edit == "swap" and n > 1:
        i = draw(st.integers(0, n - 2))
        order = np.arange(n)
        order[[i, i + 1]] = order[[i + 1, i]]
        df = df.iloc[order]
    elif edit == "move_block" and n > 2:
        a = draw(st.integers(0, n - 2))
        b = draw(st.integers(a + 1, n))
        df = (
            pd.concat([df.iloc[b:], df.iloc[a:b], df.iloc[:a]])
            if draw(st.booleans())
            else pd.concat([df.iloc[a:b], df.iloc[:a], df.iloc[b:]])
        )
    return df.reset_index(drop=True)


@budget(int(os.environ.get("FZ_C", 60)))
@given(first=keyed_frames(), data=st.data())
def test_every_version_of_a_keyed_chain_loads_back_exactly(store, first, data):
    COUNTS["chains"] += 1
    name = f"k{next(_names)}"
    chain = [first]
    for _ in range(data.draw(st.integers(1, 7))):
        edited = chain[-1]
        for edit in data.draw(st.lists(st.sampled_from(EDITS), min_size=1, max_size=3)):
            edited = _apply(edited, edit, data.draw)
        chain.append(edited)
    versions = []
    for df in chain:
        version = snapshot_exact(df, name, store, key="id")
        if version is None:
            return  # refused (checked: nothing stored)
        versions.append(version.version)
        COUNTS["chain_versions"] += 1
        COUNTS[f"chain_{version.storage}"] = COUNTS.get(f"chain_{version.storage}", 0) + 1
    for df, number in zip(chain, versions):  # older versions still load exactly once later ones are stored
        assert_exact(df, nbtrack.data.load(name, number, store=store))


# ---------------------------------------------------------------- keyed chains over many chunks
def _big_edit(df: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """One random edit of a several-chunk frame: what the small chains do, at scattered places."""
    df = df.copy()
    n = len(df)
    edit = rng.choice(["cells", "zeros", "categories", "delete_insert", "swap"])
    if edit == "cells":
        rows = rng.choice(n, size=max(1, n // 100), replace=False)
        df.loc[rows, "x"] = rng.normal(size=len(rows))
        df.loc[rows[::2], "size"] = rng.choice(list(df["size"].cat.categories), size=len(rows[::2]))
    elif edit == "zeros":
        df.loc[rng.choice(n, size=5, replace=False), "x"] = rng.choice([0.0, -0.0, np.nan], size=5)
    elif edit == "categories":
        sizes = df["size"].cat
        kind = rng.choice(["add", "remove", "reorder", "ordered"])
        if kind == "add":
            df["size"] = sizes.add_categories([f"new{rng.integers(1_000_000)}"])
        elif kind == "remove" and len(sizes.categories) > 1:
            df["size"] = sizes.remove_categories([sizes.categories[rng.integers(len(sizes.categories))]])
        elif kind == "reorder":
            df["size"] = sizes.reorder_categories(list(rng.permutation(list(sizes.categories))))
        else:
            df["size"] = sizes.as_unordered() if sizes.ordered else sizes.as_ordered()
        df.loc[rng.integers(n), "x"] = 1.0  # and one cell, so the version is a delta when it can be
    elif edit == "delete_insert":
        df = df.drop(index=rng.choice(n, size=n // 200, replace=False))
        new = df.sample(n // 200, random_state=int(rng.integers(1000))).assign(
            id=lambda d: np.arange(len(d)) + int(df["id"].max()) + 1
        )
        at = np.sort(rng.choice(len(df), size=len(new), replace=False))
        parts = np.split(np.arange(len(df)), at)
        df = pd.concat(
            [
                piece
                for i, part in enumerate(parts)
                for piece in ([df.iloc[part]] + ([new.iloc[[i]]] if i < len(new) else []))
            ]
        )
    else:
        order = np.arange(n)
        for i in rng.choice(n - 1, size=n // 200, replace=False):
            order[[i, i + 1]] = order[[i + 1, i]]
        df = df.iloc[order]
    return df.reset_index(drop=True)


@budget(int(os.environ.get("FZ_B", 6)))
@given(seed=st.integers(0, 2**32 - 1), steps=st.integers(2, 6))
def test_keyed_chains_over_many_chunks_load_back_exactly(store, seed, steps):
    rng = np.random.default_rng(seed)
    n = 6000  # chunks of at least 1,024 rows: several per version, so deltas patch several parent chunks
    first = pd.DataFrame(
        {
            "id": np.arange(n, dtype="int64"),
            "size": pd.Categorical(rng.choice(["S", "M", "L"], n), categories=["S", "M", "L", "XL"], ordered=True),
            "x": rng.choice([0.0, -0.0, 1.5, np.nan], n),
            "s": pd.array(rng.choice(np.array(["a", "b", None], dtype=object), n), dtype="str"),
        }
    )
    chain = [first]
    for _ in range(steps):
        chain.append(_big_edit(chain[-1], rng))
    name = f"big{next(_names)}"
    numbers = []
    for df in chain:
        version = snapshot_exact(df, name, store, key="id")
        assert version is not None
        numbers.append(version.version)
        COUNTS["chain_versions"] += 1
        COUNTS[f"big_{version.storage}"] = COUNTS.get(f"big_{version.storage}", 0) + 1
    for df, number in zip(chain, numbers):
        assert_exact(df, nbtrack.data.load(name, number, store=store))
