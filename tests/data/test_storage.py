"""Storage grows with the change, not with the data; versions survive a killed writer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest

import nbtrack
from nbtrack.data import DatasetNotFoundError

ROWS = 200_000


def make_frame(rows=ROWS, seed=0):
    rng = np.random.default_rng(seed)
    words = np.array([f"user_{i:05d}" for i in range(50_000)], dtype=object)
    return pd.DataFrame(
        {
            "id": np.arange(rows, dtype=np.int64),
            "qty": rng.integers(0, 1000, rows).astype(np.int32),
            "x": rng.normal(size=rows),
            "y": rng.random(rows),
            "user": pd.array(words[rng.integers(0, len(words), rows)], dtype="str"),
            "kind": pd.Categorical.from_codes(rng.integers(0, 20, rows), [f"k{i}" for i in range(20)]),
        }
    )


def test_appending_one_percent_adds_at_most_three_percent(store):
    df = make_frame()
    v1 = nbtrack.data.snapshot(df, "orders", store=store)
    more = make_frame(ROWS // 100, seed=1).assign(id=np.arange(ROWS, ROWS + ROWS // 100))
    grown = pd.concat([df, more], ignore_index=True)
    v2 = nbtrack.data.snapshot(grown, "orders", store=store)
    assert v2.version == 2 and v2.rows == ROWS + ROWS // 100
    assert v2.bytes_added <= 0.03 * v1.bytes_added, (v2.bytes_added, v1.bytes_added)
    pd.testing.assert_frame_equal(nbtrack.data.load("orders", store=store), grown)
    pd.testing.assert_frame_equal(nbtrack.data.load("orders", 1, store=store), df)


def test_keyed_scattered_edits_inserts_and_deletes_store_only_changed_rows(store):
    df = make_frame()
    v1 = nbtrack.data.snapshot(df, "customers", key="id", store=store)
    rng = np.random.default_rng(5)
    edited = df.copy()
    rows = rng.choice(ROWS, ROWS // 100, replace=False)
    edited.loc[rows, "x"] += 1
    edited.loc[rows[:100], "user"] = "renamed"
    edited = edited.drop(index=rng.choice(ROWS, 300, replace=False))
    inserted = make_frame(200, seed=9).assign(id=np.arange(10**9, 10**9 + 200))
    edited = pd.concat([edited.iloc[:5000], inserted, edited.iloc[5000:]], ignore_index=True)
    v2 = nbtrack.data.snapshot(edited, "customers", key="id", store=store)
    assert v2.storage == "delta" and v2.parent == 1
    assert v2.bytes_added <= 0.05 * v1.bytes_added, (v2.bytes_added, v1.bytes_added)
    pd.testing.assert_frame_equal(nbtrack.data.load("customers", 2, store=store), edited)
    pd.testing.assert_frame_equal(nbtrack.data.load("customers", 1, store=store), df)


def test_without_a_key_an_insert_in_the_middle_reuses_most_chunks(store):
    df = make_frame()
    v1 = nbtrack.data.snapshot(df, "events", store=store)
    middle = pd.concat([df.iloc[: ROWS // 2], make_frame(50, seed=3), df.iloc[ROWS // 2 :]], ignore_index=True)
    v2 = nbtrack.data.snapshot(middle, "events", store=store)
    assert v2.storage == "full"
    assert v2.bytes_added <= 0.05 * v1.bytes_added, (v2.bytes_added, v1.bytes_added)
    pd.testing.assert_frame_equal(nbtrack.data.load("events", store=store), middle)


def test_long_delta_chains_are_compacted_and_every_version_still_loads(store):
    df = make_frame(20_000)
    frames = [df]
    nbtrack.data.snapshot(df, "chain", key="id", store=store)
    for i in range(12):
        df = df.copy()
        df.loc[i * 10 : i * 10 + 5, "y"] = float(i)
        frames.append(df)
        nbtrack.data.snapshot(df, "chain", key="id", store=store)
    table = nbtrack.data.versions("chain", store=store)
    assert list(table["version"]) == list(range(1, 14))
    assert (table["storage"] == "full").sum() >= 2  # compacted at least once
    for number, expected in enumerate(frames, start=1):
        pd.testing.assert_frame_equal(nbtrack.data.load("chain", number, store=store), expected)


def test_key_with_duplicates_is_refused(store):
    df = pd.DataFrame({"id": [1, 1, 2], "v": [1, 2, 3]})
    with pytest.raises(nbtrack.errors.InvalidValueError, match="duplicate"):
        nbtrack.data.snapshot(df, "dups", key="id", store=store)
    with pytest.raises(nbtrack.errors.InvalidValueError, match="not a column"):
        nbtrack.data.snapshot(df, "dups", key="nope", store=store)


def test_versions_and_datasets_tables(store):
    nbtrack.data.snapshot(pd.DataFrame({"a": [1, 2]}), "small", message="first", store=store)
    nbtrack.data.snapshot(pd.DataFrame({"a": [1, 2, 3]}), "small", message="second", store=store)
    table = nbtrack.data.versions("small", store=store)
    assert list(table.columns[:8]) == [
        "version",
        "created",
        "rows",
        "columns",
        "bytes_added",
        "fingerprint",
        "message",
        "run_id",
    ]
    assert list(table["rows"]) == [2, 3] and list(table["message"]) == ["first", "second"]
    listing = nbtrack.data.datasets(store=store)
    assert listing.loc[0, "name"] == "small" and listing.loc[0, "versions"] == 2 and listing.loc[0, "latest"] == 2
    with pytest.raises(DatasetNotFoundError, match="No dataset named 'nope'"):
        nbtrack.data.load("nope", store=store)
    with pytest.raises(DatasetNotFoundError, match="no version 7"):
        nbtrack.data.load("small", 7, store=store)
    pd.testing.assert_frame_equal(nbtrack.data.load("small@1", store=store), pd.DataFrame({"a": [1, 2]}))


def test_snapshot_inside_a_run_records_the_run_and_an_output(store):
    df = pd.DataFrame({"a": [1, 2, 3]})
    with nbtrack.start_run("prep", store=store) as run:
        version = nbtrack.data.snapshot(df, "clean", store=store)
    assert version.run_id == run.run_id
    record = nbtrack.get_run(run.run_id, store=store)
    assert any(
        o["dataset"] == "clean" and o["version"] == 1 and o["fingerprint"] == version.fingerprint
        for o in record.outputs
    )


def test_validation_refuses_failing_versions_with_the_checks_listed(store):
    df = pd.DataFrame({"id": [1, 2, 2], "age": [30, None, 250]})
    with pytest.raises(nbtrack.data.DataValidationError) as info:
        nbtrack.data.snapshot(
            df, "people", store=store, expect={"id": {"unique": True}, "age": {"not_null": True, "range": (0, 120)}}
        )
    message = str(info.value)
    assert "id" in message and "unique" in message and "not_null" in message and "range" in message
    assert len(info.value.failures) == 3
    assert store.query("SELECT COUNT(*) FROM data_versions")[0][0] == 0
    ok = nbtrack.data.snapshot(
        df.iloc[:1],
        "people",
        store=store,
        expect={"id": {"unique": True}, "age": {"not_null": True, "range": (0, 120)}},
    )
    assert ok.version == 1


@pytest.mark.slow
def test_sigkill_during_snapshot_leaves_no_referenced_chunk_missing(store, tmp_path):
    script = textwrap.dedent(f"""
        import sys, numpy as np, pandas as pd
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        from test_storage import make_frame
        import nbtrack.data
        from nbtrack.store import Store
        store = Store.open({str(store.root)!r})
        for i in range(1000):
            df = make_frame(300_000, seed=i)
            nbtrack.data.snapshot(df, "victim", store=store)
            print(i, flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        proc.stdout.readline()  # one version committed
        time.sleep(0.35)  # kill in the middle of the next ones
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    report = nbtrack.fsck(store=store)
    assert not report.missing and not report.corrupt
    versions = nbtrack.data.versions("victim", store=store)
    assert len(versions) >= 1
    for number in versions["version"]:
        frame = nbtrack.data.load("victim", int(number), store=store)
        assert len(frame) == 300_000


def test_key_in_the_index_and_composite_keys(store):
    with pytest.raises(nbtrack.errors.InvalidValueError, match="RangeIndex"):
        nbtrack.data.snapshot(make_frame(100).set_index("id"), "ranged", key="id", store=store)
    df = make_frame(20_000)
    df = df.assign(id=np.random.default_rng(0).permutation(len(df))).set_index("id")
    nbtrack.data.snapshot(df, "indexed", key="id", store=store)
    edited = df.copy()
    edited.iloc[::500, edited.columns.get_loc("x")] = 0.0
    v2 = nbtrack.data.snapshot(edited, "indexed", key="id", store=store)
    assert v2.storage == "delta" and v2.key == ["id"]
    pd.testing.assert_frame_equal(nbtrack.data.load("indexed", store=store), edited)
    assert nbtrack.data.diff("indexed", 1, 2, store=store).rows["changed"] == 40

    pairs = make_frame(20_000).assign(part=lambda f: f["id"] % 7, id=lambda f: f["id"] // 7)
    nbtrack.data.snapshot(pairs, "pairs", key=["id", "part"], store=store)
    changed = pairs.copy()
    changed.loc[::1000, "y"] = -1.0
    v2 = nbtrack.data.snapshot(changed, "pairs", key=["id", "part"], store=store)
    assert v2.storage == "delta" and v2.key == ["id", "part"]
    pd.testing.assert_frame_equal(nbtrack.data.load("pairs", store=store), changed)
    assert nbtrack.data.diff("pairs", 1, 2, store=store).rows["changed"] == 20


def test_gc_keeps_every_chunk_a_version_refers_to_and_fsck_checks_them(store):
    df = make_frame(30_000)
    nbtrack.data.snapshot(df, "kept", key="id", store=store)
    edited = df.copy()
    edited.loc[::100, "x"] = 0.0
    nbtrack.data.snapshot(edited, "kept", key="id", store=store)
    store.blobs.put_bytes(b"an orphan blob")
    report = nbtrack.gc(grace_s=0, store=store)
    assert report.removed_blobs == 1
    pd.testing.assert_frame_equal(nbtrack.data.load("kept", 1, store=store), df)
    pd.testing.assert_frame_equal(nbtrack.data.load("kept", 2, store=store), edited)
    check = nbtrack.fsck(store=store)
    assert check.checked_blobs >= 3 and not check.missing and not check.corrupt
    victim = store.query("SELECT blob FROM data_chunks WHERE dataset = 'kept' AND version = 1 LIMIT 1")[0][0]
    store.blobs.delete(victim)
    assert ("data_chunks", victim) in nbtrack.fsck(store=store).missing
    from nbtrack.errors import CorruptDataError

    with pytest.raises(CorruptDataError, match="fsck"):
        nbtrack.data.load("kept", 1, store=store)


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 10**6),
    n=st.integers(0, 3000),
    edits=st.integers(0, 60),
    deletes=st.integers(0, 30),
    inserts=st.integers(0, 30),
    shuffle=st.booleans(),
)
def test_keyed_versions_load_exactly_after_random_edits(store, seed, n, edits, deletes, inserts, shuffle):
    rng = np.random.default_rng(seed)
    name = f"random{seed}_{n}_{edits}_{deletes}_{inserts}_{int(shuffle)}"
    df = make_frame(n, seed=seed % 7).assign(id=rng.permutation(n) * 3)
    df["maybe"] = pd.array([None if i % 5 == 0 else i for i in range(n)], dtype="Int64")
    nbtrack.data.snapshot(df, name, key="id", store=store)
    new = df.copy()
    if n:
        rows = rng.integers(0, n, edits)
        new.loc[rows, "x"] = rng.normal(size=len(rows))
        new.loc[rows[: len(rows) // 2], "kind"] = "k3"
        new.loc[rows[: len(rows) // 3], "maybe"] = None
        new = new.drop(index=rng.choice(n, min(deletes, n), replace=False))
    extra = make_frame(inserts, seed=seed % 5 + 1).assign(id=np.arange(inserts) * 3 + 1)
    extra["maybe"] = pd.array([7] * inserts, dtype="Int64")
    new = pd.concat([new, extra], ignore_index=True)
    if shuffle:
        new = new.sample(frac=1, random_state=seed).reset_index(drop=True)
    nbtrack.data.snapshot(new, name, key="id", store=store)
    pd.testing.assert_frame_equal(nbtrack.data.load(name, store=store), new)
    pd.testing.assert_frame_equal(nbtrack.data.load(name, 1, store=store), df)


def test_edits_that_keep_every_row_in_place_store_a_map_of_changed_positions_only(store):
    import json

    df = make_frame()
    nbtrack.data.snapshot(df, "inplace", key="id", store=store)
    edited = df.copy()
    rows = np.random.default_rng(11).choice(ROWS, ROWS // 100, replace=False)
    edited.loc[rows, "x"] += 1
    edited.loc[rows[:50], "user"] = "renamed"
    v2 = nbtrack.data.snapshot(edited, "inplace", key="id", store=store)
    meta = json.loads(store.query("SELECT meta FROM data_versions WHERE dataset = 'inplace' AND version = 2")[0][0])
    assert v2.storage == "delta" and meta["delta"]["map"] == "changed_positions"
    src = store.query("SELECT blob FROM data_chunks WHERE dataset = 'inplace' AND version = 2 AND role = 'src'")[0][0]
    assert store.blobs.path(src).stat().st_size < ROWS  # ~1% of the rows' positions, not one entry per row
    pd.testing.assert_frame_equal(nbtrack.data.load("inplace", 2, store=store), edited)
    moved = edited.drop(index=rows[:10]).reset_index(drop=True)  # not in place: deletes
    nbtrack.data.snapshot(moved, "inplace", key="id", store=store)
    pd.testing.assert_frame_equal(nbtrack.data.load("inplace", 3, store=store), moved)
    pd.testing.assert_frame_equal(nbtrack.data.load("inplace", 2, store=store), edited)


def test_in_place_edits_on_chunk_edges_and_mixed_delta_chains_load_exactly(store):
    """Aligned deltas are patched into each parent chunk as it is read: edits on a chunk's first and
    last row, chains of such deltas, and deltas on a moved-rows parent all load back exactly."""
    import json

    from nbtrack.data._versions import load_table

    df = make_frame()
    nbtrack.data.snapshot(df, "edges", key="id", store=store)
    sizes = [
        n
        for (n,) in store.query(
            "SELECT rows FROM data_chunks WHERE dataset = 'edges' AND version = 1 AND role = 'rows' ORDER BY seq"
        )
    ]
    assert len(sizes) > 4
    starts = np.cumsum([0] + sizes[:-1])
    edges = np.unique(np.concatenate([starts, starts + np.array(sizes) - 1]))
    frames = [df]

    def snapshot(frame):
        frames.append(frame)
        return nbtrack.data.snapshot(frame, "edges", key="id", store=store)

    v2 = df.copy()
    v2.loc[edges, "x"] = -1.0
    v2.loc[edges[::2], "user"] = "edge"
    v2.loc[edges[1::2], "kind"] = "k7"
    snapshot(v2)
    v3 = v2.copy()
    v3.loc[edges[::3], "y"] = 2.0
    snapshot(v3)
    moved = v3.drop(index=edges[5:9]).reset_index(drop=True)  # rows move up: deletes
    snapshot(moved)
    v5 = moved.copy()
    v5.loc[[0, 1, len(v5) - 1], "qty"] = np.int32(-5)  # in place again, on a parent that moved rows
    snapshot(v5)

    layouts = [
        json.loads(m).get("delta")
        for (m,) in store.query("SELECT meta FROM data_versions WHERE dataset = 'edges' ORDER BY version")
    ]
    assert [bool(d and d.get("aligned")) for d in layouts] == [False, True, True, False, True]
    assert layouts[3] is not None  # v4 is a delta, not a compacted full version
    for number, expected in enumerate(frames, start=1):
        pd.testing.assert_frame_equal(nbtrack.data.load("edges", number, store=store), expected)
    subset = load_table(store, "edges", 3, columns=["_c4", "_c3"])  # the way diff reads one column
    whole = load_table(store, "edges", 3)
    assert subset.column_names == ["_c4", "_c3"]
    assert subset.equals(whole.select(["_c4", "_c3"]))


def test_chains_of_deletes_inserts_reorders_and_in_place_edits_load_exactly(store):
    """Rows inserted before the first row, a whole chunk deleted, inserts inside a chunk and at the end,
    then neighbouring rows swapped (each stored again as a moved row), in-place edits of that, deletes
    again and a shuffle (stored in full: it moves nearly every row): every version loads back exactly."""
    import json

    df = make_frame()
    nbtrack.data.snapshot(df, "moves", key="id", store=store)
    sizes = [
        n
        for (n,) in store.query(
            "SELECT rows FROM data_chunks WHERE dataset = 'moves' AND version = 1 AND role = 'rows' ORDER BY seq"
        )
    ]
    starts = np.cumsum([0] + sizes[:-1])
    frames = [df]

    def new_rows(ids):
        return make_frame(len(ids), seed=9).assign(id=np.asarray(ids, dtype=np.int64))

    middle = starts[5] + sizes[5] // 2
    v2 = pd.concat(
        [
            new_rows([-3, -2, -1]),  # before the first row
            df.iloc[1 : starts[2]],  # the first row deleted
            df.iloc[starts[3] : middle],  # chunk 2 deleted whole
            new_rows([10**9, 10**9 + 1]),  # inserted inside chunk 5
            df.iloc[middle:],
            new_rows([10**9 + 2, 10**9 + 3]),  # appended
        ],
        ignore_index=True,
    )
    order = np.arange(len(v2))
    swapped = np.arange(10, len(v2) - 1, 250)
    order[swapped], order[swapped + 1] = swapped + 1, swapped
    v3 = v2.iloc[order].reset_index(drop=True)  # neighbours swapped: each stored again, moved
    v4 = v3.copy()
    v4.loc[[0, 7, len(v4) - 1], ["x", "user"]] = [[1.5, "a"], [2.5, "b"], [3.5, "c"]]
    v5 = v4.drop(index=range(100, 4000, 7)).reset_index(drop=True)
    v6 = v5.sample(frac=1, random_state=4).reset_index(drop=True)
    for frame in (v2, v3, v4, v5, v6):
        frames.append(frame)
        nbtrack.data.snapshot(frame, "moves", key="id", store=store)

    rows = store.query("SELECT storage, meta FROM data_versions WHERE dataset = 'moves' ORDER BY version")
    assert [storage for storage, _ in rows] == ["full", "delta", "delta", "delta", "delta", "full"]
    assert [json.loads(m)["delta"].get("map") for _, m in rows[1:5]] == [
        "deletes_inserts",
        "deletes_inserts",
        "changed_positions",
        "deletes_inserts",
    ]
    for number, expected in enumerate(frames, start=1):
        pd.testing.assert_frame_equal(nbtrack.data.load("moves", number, store=store), expected)
