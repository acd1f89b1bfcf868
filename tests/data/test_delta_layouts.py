"""How keyed deltas are stored and applied: the map layouts, chains of them, and every dtype through them."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from test_storage import make_frame

import nbtrack
from nbtrack.data import _deltas, _snapshot


def _layouts(store, name):
    rows = store.query("SELECT storage, meta FROM data_versions WHERE dataset = ? ORDER BY version", (name,))
    return [(storage, (json.loads(meta).get("delta") or {}).get("map")) for storage, meta in rows]


def _chunk_starts(store, name):
    sizes = [
        n
        for (n,) in store.query(
            "SELECT rows FROM data_chunks WHERE dataset = ? AND version = 1 AND role = 'rows' ORDER BY seq", (name,)
        )
    ]
    return np.cumsum([0] + sizes[:-1]), sizes


def _new_rows(ids, seed=9):
    return make_frame(len(ids), seed=seed).assign(id=np.asarray(ids, dtype=np.int64))


def test_rows_deleted_and_inserted_in_order_store_only_the_positions_and_chains_of_them_load_exactly(store):
    """A version whose surviving rows keep their order stores the deleted positions and where the
    changed rows go (not one map entry per row); chains of such versions, with whole chunks deleted,
    rows inserted before the first and after the last row and in-place edits between them, load exactly."""
    df = make_frame()
    nbtrack.data.snapshot(df, "ordered", key="id", store=store)
    starts, sizes = _chunk_starts(store, "ordered")
    assert len(sizes) > 6
    v2 = pd.concat(
        [
            _new_rows([-2, -1]),
            df.iloc[: starts[2]],
            df.iloc[starts[3] :],  # chunk 2 deleted whole
            _new_rows([10**9, 10**9 + 1]),
        ],
        ignore_index=True,
    )
    v2 = v2.drop(index=range(500, len(v2), 997)).reset_index(drop=True)  # scattered deletes
    v3 = pd.concat(
        [
            v2.iloc[: starts[4]],
            _new_rows([10**9 + 2]),
            v2.iloc[starts[4] : starts[5]],
            v2.iloc[starts[6] : len(v2) - 3],
        ],
        ignore_index=True,
    )  # another chunk and the last rows gone
    v4 = v3.copy()
    v4.loc[[0, 1, starts[3], len(v4) - 1], ["x", "user", "kind"]] = [[9.5, "edited", "k1"]] * 4
    v5 = pd.concat([_new_rows([-5]), v4.drop(index=range(0, len(v4), 501)), _new_rows([10**9 + 7])], ignore_index=True)
    frames = [df, v2, v3, v4, v5]
    for frame in frames[1:]:
        nbtrack.data.snapshot(frame, "ordered", key="id", store=store)

    assert _layouts(store, "ordered") == [
        ("full", None),
        ("delta", "deletes_inserts"),
        ("delta", "deletes_inserts"),
        ("delta", "changed_positions"),
        ("delta", "deletes_inserts"),
    ]
    src = store.query("SELECT blob FROM data_chunks WHERE dataset = 'ordered' AND version = 2 AND role = 'src'")[0][0]
    assert store.blobs.path(src).stat().st_size < len(df) // 20  # ~200 deletes and 4 inserts, not 200,000 entries
    for number, expected in enumerate(frames, start=1):
        pd.testing.assert_frame_equal(nbtrack.data.load("ordered", number, store=store), expected)


def test_moved_rows_are_stored_again_so_the_rest_keeps_its_order_and_a_sort_is_stored_in_full(store):
    """A row moved before rows it followed is stored again as a changed row (deleted + inserted), so the
    version keeps the chunk-by-chunk layout instead of a full row map; a sort by another column moves
    nearly every row and is stored in full."""
    df = make_frame(20_000)
    nbtrack.data.snapshot(df, "moved", key="id", store=store)
    order = np.arange(len(df))
    first = np.arange(5, len(df) - 1, 400)  # 50 rows swapped with their next neighbour
    order[first], order[first + 1] = first + 1, first
    swapped = df.iloc[order].reset_index(drop=True)
    moved_block = pd.concat(
        [swapped.iloc[:100], swapped.iloc[5000:5200], swapped.iloc[100:5000], swapped.iloc[5200:]], ignore_index=True
    )  # 200 rows moved up
    resorted = moved_block.sort_values("qty", kind="stable", ignore_index=True)
    versions = [
        nbtrack.data.snapshot(frame, "moved", key="id", store=store) for frame in (swapped, moved_block, resorted)
    ]
    assert _layouts(store, "moved")[1:] == [("delta", "deletes_inserts"), ("delta", "deletes_inserts"), ("full", None)]
    changed = [
        n
        for (n,) in store.query(
            "SELECT SUM(rows) FROM data_chunks WHERE dataset = 'moved' AND "
            "role = 'delta' GROUP BY version ORDER BY version"
        )
    ]
    assert changed == [50, 4900]  # one row per swap; the rows the block jumped over, the greedy choice
    for number, expected in enumerate([df, swapped, moved_block, resorted], start=1):
        pd.testing.assert_frame_equal(nbtrack.data.load("moved", number, store=store), expected)
    assert versions[0].bytes_added < 0.02 * nbtrack.data.get_version("moved", 1, store=store).bytes_added


def test_versions_with_an_unordered_full_row_map_from_before_0_2_0_still_load(store, monkeypatch):
    """0.1.0 stored reordered rows as one map entry per row; such versions, and in-place edits on top of
    them, load through the whole-table gather."""
    df = make_frame(20_000)
    nbtrack.data.snapshot(df, "old-shuffle", key="id", store=store)
    shuffled = df.sample(frac=1, random_state=3).reset_index(drop=True)
    shuffled.loc[[0, 9, 19_999], "x"] = -1.0
    with monkeypatch.context() as patched:  # what 0.1.0 wrote: every matched row kept, whatever its order
        patched.setattr(_snapshot, "_in_parent_order", lambda sources: np.ones(len(sources), dtype=bool))
        nbtrack.data.snapshot(shuffled, "old-shuffle", key="id", store=store)
    assert _layouts(store, "old-shuffle")[1] == ("delta", None)
    edited = shuffled.copy()
    edited.loc[[5, 6], "user"] = "edited"
    nbtrack.data.snapshot(edited, "old-shuffle", key="id", store=store)
    assert _layouts(store, "old-shuffle")[2] == ("delta", "changed_positions")
    pd.testing.assert_frame_equal(nbtrack.data.load("old-shuffle", 2, store=store), shuffled)
    pd.testing.assert_frame_equal(nbtrack.data.load("old-shuffle", 3, store=store), edited)


def test_ordered_moves_stored_as_a_full_row_map_before_0_2_0_still_load(store, monkeypatch):
    df = make_frame(20_000)
    nbtrack.data.snapshot(df, "old-map", key="id", store=store)
    moved = pd.concat([df.drop(index=range(3, 20_000, 101)), _new_rows([-1, 10**9])], ignore_index=True)
    with monkeypatch.context() as patched:
        patched.setattr(_deltas, "ordered_parts", lambda src, rows: None)  # what 0.1.0 wrote: one entry per row
        nbtrack.data.snapshot(moved, "old-map", key="id", store=store)
    assert _layouts(store, "old-map")[1] == ("delta", None)
    pd.testing.assert_frame_equal(nbtrack.data.load("old-map", 2, store=store), moved)


def test_a_version_that_keeps_no_parent_row_is_stored_in_full(store):
    df = make_frame(5_000)
    nbtrack.data.snapshot(df, "replaced", key="id", store=store)
    new = _new_rows(range(10**6, 10**6 + 10))
    v2 = nbtrack.data.snapshot(new, "replaced", key="id", store=store)
    assert v2.storage == "full"
    pd.testing.assert_frame_equal(nbtrack.data.load("replaced", 2, store=store), new)
    pd.testing.assert_frame_equal(nbtrack.data.load("replaced", 1, store=store), df)


def _typed_frame(n, seed):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": np.arange(n, dtype=np.int64) * 2,
            "when": pd.date_range("2026-01-01", periods=n, freq="min", tz="Europe/Paris"),
            "naive": pd.date_range("2020-02-29", periods=n, freq="s"),
            "took": pd.to_timedelta(rng.integers(0, 10**6, n), unit="ms"),
            "f32": rng.random(n).astype(np.float32),
            "u8": rng.integers(0, 255, n).astype(np.uint8),
            "i16": rng.integers(-300, 300, n).astype(np.int16),
            "maybe": pd.array([None if i % 7 == 0 else i for i in range(n)], dtype="Int64"),
            "ratio": pd.array([None if i % 11 == 0 else i / 3 for i in range(n)], dtype="Float64"),
            "nan": np.where(np.arange(n) % 13 == 0, np.nan, rng.normal(size=n)),
            "flag": rng.random(n) > 0.5,
            "text": pd.array([None if i % 17 == 0 else f"t{i}" for i in range(n)], dtype="str"),
        }
    )


@pytest.mark.parametrize("moves_first", [True, False])
def test_every_fixed_width_dtype_with_and_without_nulls_survives_edits_deletes_and_inserts(store, moves_first):
    """Numbers, dates and durations are gathered straight into the result's arrays (nulls in a bitmap on
    the side): through in-place edits and ordered deletes/inserts, in either order, every value and
    null comes back."""
    name = f"typed-{moves_first}"
    n = 30_000
    df = _typed_frame(n, 1)
    nbtrack.data.snapshot(df, name, key="id", store=store)

    def edit(frame):
        out = frame.copy()
        rows = np.arange(5, len(out), 251)
        out.loc[rows, "maybe"] = None
        out.loc[rows[::2], "maybe"] = 123
        out.loc[rows, "ratio"] = 0.25
        out.loc[rows, "when"] = pd.Timestamp("2030-05-05 05:05", tz="Europe/Paris")
        out.loc[rows, "f32"] = np.float32(-1.5)
        out.loc[rows[::3], "text"] = None
        return out

    def move(frame, first_id):
        extra = _typed_frame(12, 2).assign(id=np.arange(12, dtype=np.int64) * 2 + first_id)
        kept = frame.drop(index=frame.index[3::397]).reset_index(drop=True)
        return pd.concat(
            [extra.iloc[:4], kept.iloc[:9000], extra.iloc[4:8], kept.iloc[9000:], extra.iloc[8:]], ignore_index=True
        )

    v2 = move(df, 1) if moves_first else edit(df)
    v3 = edit(v2) if moves_first else move(v2, 1)
    v4 = move(v3, 10**6 + 1)
    for frame in (v2, v3, v4):
        nbtrack.data.snapshot(frame, name, key="id", store=store)
    assert [m for _, m in _layouts(store, name)[1:]] == (
        ["deletes_inserts", "changed_positions", "deletes_inserts"]
        if moves_first
        else ["changed_positions", "deletes_inserts", "deletes_inserts"]
    )
    for number, expected in enumerate([df, v2, v3, v4], start=1):
        pd.testing.assert_frame_equal(nbtrack.data.load(name, number, store=store), expected)


def test_new_datasets_use_lz4_and_a_zstd_dataset_keeps_zstd_so_its_chunks_still_deduplicate(store, monkeypatch):
    def codecs(name, version):
        blobs = store.query(
            "SELECT blob FROM data_chunks WHERE dataset = ? AND version = ? AND role = 'rows'", (name, version)
        )
        return {_codec_of(store.blobs.read_bytes(blob)) for (blob,) in blobs}

    df = make_frame(50_000)
    nbtrack.data.snapshot(df, "new", store=store)
    assert codecs("new", 1) == {"lz4"}
    with monkeypatch.context() as patched:
        patched.setattr(_snapshot, "CODEC", "zstd")  # a dataset begun before 0.2.0
        v1 = nbtrack.data.snapshot(df, "old", store=store)
    assert codecs("old", 1) == {"zstd"}
    appended = pd.concat([df, _new_rows(range(10**6, 10**6 + 500))], ignore_index=True)
    v2 = nbtrack.data.snapshot(appended, "old", store=store)
    assert codecs("old", 2) == {"zstd"}
    assert v2.bytes_added / v1.bytes_added < 0.03  # the old chunks are shared, not rewritten in lz4
    pd.testing.assert_frame_equal(nbtrack.data.load("old", 2, store=store), appended)


def _codec_of(data: bytes) -> str:
    """The codec of an Arrow IPC chunk: each compressed buffer is a frame of its codec, and LZ4 frames
    start with 04 22 4D 18, zstd frames with 28 B5 2F FD (the other magic turns up rarely by chance)."""
    lz4, zstd = data.count(b"\x04\x22\x4d\x18"), data.count(b"\x28\xb5\x2f\xfd")
    return "lz4" if lz4 > zstd else "zstd"


def test_chains_of_deletes_and_inserts_are_merged_before_reading_and_load_exactly(store, monkeypatch):
    """Three deletes-and-inserts versions in a row (with rows of earlier deltas deleted again, and the
    first rows of the parent gone) load through one merged delta over their first parent."""
    df = make_frame(30_000)
    nbtrack.data.snapshot(df, "merged", key="id", store=store)
    v2 = pd.concat([_new_rows([-1, -2]), df.drop(index=range(0, 30_000, 97))], ignore_index=True)
    thinned = v2.drop(index=[0, 5, 6, 7] + list(range(100, len(v2), 89)))
    v3 = pd.concat([thinned.iloc[:20_000], _new_rows([10**9]), thinned.iloc[20_100:]], ignore_index=True)
    v4 = pd.concat([_new_rows([-5]), v3.drop(index=range(1, len(v3), 53))], ignore_index=True)
    frames = [df, v2, v3, v4]
    for frame in frames[1:]:
        nbtrack.data.snapshot(frame, "merged", key="id", store=store)
    assert [m for _, m in _layouts(store, "merged")[1:]] == ["deletes_inserts"] * 3
    merges = []
    original = _deltas.merge_deletes_inserts
    monkeypatch.setattr(_deltas, "merge_deletes_inserts", lambda *a: merges.append(1) or original(*a))
    for number, expected in enumerate(frames, start=1):
        pd.testing.assert_frame_equal(nbtrack.data.load("merged", number, store=store), expected)
    assert len(merges) == 1 + 2  # v3: one merge; v4: two


def test_merging_two_deletes_and_inserts_deltas_equals_applying_them_one_after_the_other():
    """Against a row-by-row model, on 2,000 random small cases (rows deleted twice, changed rows of the
    first delta deleted by the second, everything deleted, nothing changed)."""
    import pyarrow as pa

    def apply(rows, deleted, inserted, changed):
        gone = set(deleted.tolist())
        kept = iter([row for i, row in enumerate(rows) if i not in gone])
        placed = dict(zip(inserted.tolist(), changed.column(0).to_pylist()))
        return [placed[p] if p in placed else next(kept) for p in range(len(rows) - len(gone) + len(placed))]

    def random_delta(rows, prefix):
        n = len(rows)
        deleted = np.sort(rng.choice(n, int(rng.integers(0, n + 1)), replace=False)).astype(np.int64)
        k = int(rng.integers(0, 6))
        inserted = np.sort(rng.choice(n - len(deleted) + k, k, replace=False)).astype(np.int64)
        return deleted, inserted, pa.table({"v": pa.array([f"{prefix}{j}" for j in range(k)], pa.string())})

    rng = np.random.default_rng(0)
    for _ in range(2000):
        a = [f"a{i}" for i in range(int(rng.integers(1, 30)))]
        first = random_delta(a, "b")
        b = apply(a, *first)
        then = random_delta(b, "c")
        assert apply(a, *_deltas.merge_deletes_inserts(first, then)) == apply(b, *then)
