"""The fingerprint cache of tracked cells (nbtrack.data._fpcache): a frame read again unchanged is not
hashed again, and a frame changed in any way through pandas never keeps its old fingerprint (issue 22)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nbtrack.data import fingerprint
from nbtrack.data._fpcache import CACHE, FingerprintCache


def _frame(rows: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(rows)
    return pd.DataFrame(
        {
            "f": rng.random(rows),
            "g": rng.random(rows),
            "i": np.arange(rows, dtype=np.int64),
            "s": [f"s{k % 7}" for k in range(rows)],
            "t": pd.date_range("2026-01-01", periods=rows, freq="min"),
            "m": pd.array(np.arange(rows), dtype="Int64"),
            "c": pd.Categorical([("a", "b", "c")[k % 3] for k in range(rows)]),
        }
    )


def _row(df: pd.DataFrame, draw_row: int) -> int:
    return draw_row % len(df)


# Every way of changing a frame in place through pandas: (name, function(df, row)).
MUTATIONS = [
    ("iloc set float", lambda df, r: df.iloc.__setitem__((r, 0), -1.5)),
    ("iloc set int", lambda df, r: df.iloc.__setitem__((r, 2), -7)),
    ("iloc set string", lambda df, r: df.iloc.__setitem__((r, 3), "zz")),
    ("iloc set time", lambda df, r: df.iloc.__setitem__((r, 4), pd.Timestamp("1999-01-01"))),
    ("iloc set nullable int to NA", lambda df, r: df.iloc.__setitem__((r, 5), pd.NA)),
    ("iloc set category", lambda df, r: df.iloc.__setitem__((r, 6), "a" if df.iloc[r, 6] != "a" else "b")),
    ("loc set one", lambda df, r: df.loc.__setitem__((df.index[r], "g"), 123.0)),
    ("loc set a slice", lambda df, r: df.loc.__setitem__((df.index[r:], "f"), 0.25)),
    ("loc set with a mask", lambda df, r: df.loc.__setitem__((df["i"] == df["i"].iloc[r], "i"), -1)),
    ("setitem same dtype", lambda df, r: df.__setitem__("f", df["f"] * 2)),
    ("setitem new dtype", lambda df, r: df.__setitem__("i", df["i"].astype("float64"))),
    ("column added", lambda df, r: df.__setitem__("new", 1)),
    ("insert", lambda df, r: df.insert(0, "first", 0.0)),
    ("column dropped", lambda df, r: df.drop(columns=["g"], inplace=True)),
    ("del column", lambda df, r: df.__delitem__("s")),
    ("pop", lambda df, r: df.pop("t")),
    ("rename columns inplace", lambda df, r: df.rename(columns={"f": "F"}, inplace=True)),
    ("columns assigned", lambda df, r: setattr(df, "columns", [f"x{k}" for k in range(df.shape[1])])),
    ("columns name", lambda df, r: setattr(df.columns, "name", "cols")),
    ("index assigned", lambda df, r: setattr(df, "index", df.index + 1)),
    ("index name", lambda df, r: setattr(df.index, "name", "row")),
    ("set_index inplace", lambda df, r: df.set_index("i", inplace=True)),
    ("reset_index inplace", lambda df, r: df.reset_index(inplace=True)),
    ("sort_values inplace", lambda df, r: df.sort_values("f", inplace=True)),
    ("sort_index descending inplace", lambda df, r: df.sort_index(ascending=False, inplace=True)),
    ("fillna inplace", lambda df, r: (df.iloc.__setitem__((r, 0), np.nan), df.fillna({"f": 3.0}, inplace=True))),
    ("replace inplace", lambda df, r: df.replace({"s": {df.iloc[r, 3]: "rep"}}, inplace=True)),
    ("clip inplace", lambda df, r: df["g"].clip(upper=0.5)),  # a no-op on df: must keep the fingerprint right
    ("update", lambda df, r: df.update(pd.DataFrame({"g": [9.0]}, index=[df.index[r]]))),
    ("eval inplace", lambda df, r: df.eval("f = f + 1", inplace=True)),
    ("drop rows inplace", lambda df, r: df.drop(index=df.index[r], inplace=True)),
    ("drop_duplicates inplace", lambda df, r: df.drop_duplicates(subset=["c"], inplace=True)),
    ("rows appended with loc", lambda df, r: df.loc.__setitem__(len(df) + 10, df.iloc[r].tolist())),
    ("where inplace", lambda df, r: df.where(df["i"] != df["i"].iloc[r], inplace=True)),
    ("mask inplace", lambda df, r: df.mask(df["i"] == df["i"].iloc[r], inplace=True)),
    ("iadd on a column", lambda df, r: df.__setitem__("g", df["g"].__iadd__(1.0))),
    ("iloc whole column", lambda df, r: df.iloc.__setitem__((slice(None), 1), 0.0)),
    ("astype of the frame", lambda df, r: df.__setitem__(["f", "g"], df[["f", "g"]].astype("float32"))),
    ("a write through Series.array on a sampled row", lambda df, r: df["f"].array.__setitem__(0, -42.0)),
]


@pytest.mark.parametrize("name, mutate", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_a_frame_changed_in_place_gets_its_new_fingerprint(name, mutate):
    cache = FingerprintCache(min_values=0)
    df = _frame()
    first = cache.fingerprint(df)
    assert cache.fingerprint(df) == first and cache.hits == 1  # unchanged: reused
    mutate(df, 17)
    assert cache.fingerprint(df) == fingerprint(df)  # never the stale one
    if not df.equals(_frame()) or name.startswith(("columns", "index", "rename", "set_index", "reset")):
        assert fingerprint(df) != first or name == "clip inplace"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(
        st.tuples(st.integers(0, len(MUTATIONS) - 1), st.integers(0, 10_000), st.booleans()), min_size=1, max_size=6
    )
)
def test_any_sequence_of_changes_and_reads_never_gives_a_stale_fingerprint(steps):
    cache = FingerprintCache(min_values=0)
    df = _frame(200)
    cache.fingerprint(df)
    for index, row, read in steps:
        try:
            MUTATIONS[index][1](df, _row(df, row))
        except Exception:  # a change that does not apply to the frame as it now is (a dropped column)
            continue
        if read:
            assert cache.fingerprint(df) == fingerprint(df)
    assert cache.fingerprint(df) == fingerprint(df)


def test_small_frames_other_types_and_a_dead_frame_are_not_kept():
    cache = FingerprintCache()  # the default threshold: 300 rows x 7 columns is hashed every time
    small = _frame()
    assert cache.fingerprint(small) == fingerprint(small) and len(cache) == 0
    cache = FingerprintCache(min_values=0)

    class Sub(pd.DataFrame):
        pass

    sub = Sub(_frame())
    cache.fingerprint(sub)
    assert len(cache) == 0  # a subclass may change pandas' internals: hashed every time
    df = _frame()
    cache.fingerprint(df)
    assert len(cache) == 1
    del df
    import gc

    gc.collect()
    assert len(cache) == 0  # its shallow copy (and memory) went with it


def test_at_most_max_entries_frames_are_kept():
    cache = FingerprintCache(max_entries=3, min_values=0)
    frames = [_frame(50 + k) for k in range(5)]
    for frame in frames:
        cache.fingerprint(frame)
    assert len(cache) == 3
    cache.fingerprint(frames[-1])
    assert cache.hits == 1


def test_a_tracked_cell_reuses_the_fingerprint_of_an_unchanged_frame_and_sees_a_change(
    shell, run_ok, last_run, monkeypatch
):
    monkeypatch.setattr(CACHE, "min_values", 0)
    CACHE.clear()
    run_ok("import pandas as pd\nraw = pd.DataFrame({'a': [1.0, 2.0, 3.0], 'b': ['x', 'y', 'z']})")
    run_ok("%%track\nn = len(raw)")
    first = last_run().inputs[0]["fingerprint"]
    hits = CACHE.hits
    run_ok("%%track\nm = raw.a.sum()")
    assert last_run().inputs[0]["fingerprint"] == first and CACHE.hits == hits + 1
    run_ok("raw.iloc[1, 0] = 20.0")  # an untracked cell changes the frame in place
    run_ok("%%track\nk = raw.a.sum()")
    changed = last_run().inputs[0]["fingerprint"]
    assert changed != first and changed == fingerprint(shell.user_ns["raw"])
    run_ok("%%track\nraw['c'] = raw.a * 2")  # a tracked cell changes what it read
    run_ok("%%track\nz = len(raw)")
    assert last_run().inputs[0]["fingerprint"] == fingerprint(shell.user_ns["raw"]) != changed


def test_cache_fingerprints_false_hashes_every_read(shell, run_ok, last_run, monkeypatch):
    monkeypatch.setattr(CACHE, "min_values", 0)
    CACHE.clear()
    magics = shell.magics_manager.registry["TrackMagics"]
    run_ok("import pandas as pd\nraw = pd.DataFrame({'a': [1.0, 2.0, 3.0]})")
    hits = CACHE.hits
    try:
        run_ok("%config TrackMagics.cache_fingerprints = False")
        run_ok("%%track\nn = len(raw)")
        run_ok("%%track\nm = len(raw)")
        assert CACHE.hits == hits and len(CACHE) == 0
        assert last_run().inputs[0]["fingerprint"] == fingerprint(shell.user_ns["raw"])
    finally:
        magics.set_trait("cache_fingerprints", True)
