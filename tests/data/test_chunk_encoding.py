"""How a chunk's columns are encoded: integer and date/time columns with small steps are stored as
their differences, and every value comes back exactly, whatever its width, sign or wrap-around."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

import nbtrack
from nbtrack.data import _chunks, _snapshot


def _tagged_fields(store, name, version):
    """The fields stored as differences in the chunks of ``name@version``."""
    blobs = store.query(
        "SELECT blob FROM data_chunks WHERE dataset = ? AND version = ? AND role = 'rows'", (name, version)
    )
    tagged = set()
    for (blob,) in blobs:
        schema = pa.ipc.open_stream(pa.py_buffer(store.blobs.read_bytes(blob))).schema
        tagged |= {field.name for field in schema if field.metadata and _chunks.DELTA_TAG in field.metadata}
    return tagged


def _steady_frame(rows=50_000):
    rng = np.random.default_rng(4)
    return pd.DataFrame(
        {
            "id": np.arange(rows, dtype=np.int64) * 3 + 10**15,
            "falling": (np.uint64(2**64 - 1) - np.arange(rows, dtype=np.uint64) * np.uint64(5)),
            "at": pd.date_range("2026-01-01", periods=rows, freq="1s", tz="Europe/Paris"),
            "waited": pd.to_timedelta(np.arange(rows) * 7, unit="ms"),
            "noise": rng.integers(-(2**63), 2**63 - 1, rows, dtype=np.int64),
            "counts": pd.array(np.where(np.arange(rows) % 10 == 0, None, np.arange(rows)), dtype="Int64"),
            "x": np.linspace(0.0, 1.0, rows),
        }
    )


def test_columns_with_small_steps_are_stored_as_differences_and_load_exactly(store):
    """Sorted keys, timestamps and durations (rising or falling) are stored as their differences; random
    integers, columns with nulls and floats are not. Every version loads back exactly."""
    df = _steady_frame()
    v1 = nbtrack.data.snapshot(df, "steady", store=store)
    assert _tagged_fields(store, "steady", 1) == {"_c0", "_c1", "_c2", "_c3"}  # id, falling, at, waited
    pd.testing.assert_frame_equal(nbtrack.data.load("steady", store=store), df)
    grown = pd.concat(
        [df, _steady_frame(500).assign(id=np.arange(500, dtype=np.int64) + 2 * 10**15)], ignore_index=True
    )
    v2 = nbtrack.data.snapshot(grown, "steady", store=store)
    assert v2.bytes_added < 0.05 * v1.bytes_added  # appended rows still share the earlier chunks
    pd.testing.assert_frame_equal(nbtrack.data.load("steady", 2, store=store), grown)
    pd.testing.assert_frame_equal(nbtrack.data.load("steady", 1, store=store), df)


def test_differences_make_a_sorted_key_much_smaller_than_plain_lz4(store, monkeypatch):
    df = pd.DataFrame({"id": np.arange(200_000, dtype=np.int64)})
    with_differences = nbtrack.data.snapshot(df, "delta", store=store)
    with monkeypatch.context() as patched:
        patched.setattr(_snapshot, "CODEC", "lz4")  # a dataset begun with 0.2.0's first codec
        plain = nbtrack.data.snapshot(df, "plain", store=store)
    assert with_differences.bytes_added * 10 < plain.bytes_added
    assert _tagged_fields(store, "plain", 1) == set()
    grown = pd.concat([df, pd.DataFrame({"id": np.arange(10**6, 10**6 + 2000, dtype=np.int64)})], ignore_index=True)
    v2 = nbtrack.data.snapshot(grown, "plain", store=store)
    assert _tagged_fields(store, "plain", 2) == set()  # it keeps its codec, so its chunks keep deduplicating
    assert v2.bytes_added < 0.1 * plain.bytes_added
    pd.testing.assert_frame_equal(nbtrack.data.load("plain", 2, store=store), grown)


_INTEGER_TYPES = [
    pa.int8(),
    pa.int16(),
    pa.int32(),
    pa.int64(),
    pa.uint8(),
    pa.uint16(),
    pa.uint32(),
    pa.uint64(),
    pa.timestamp("ns"),
    pa.date32(),
    pa.duration("us"),
    pa.time64("ns"),
]


@st.composite
def stepped_arrays(draw):
    """An integer-like Arrow array that starts anywhere in its type's range and moves by small steps,
    wrapping around the ends of the range (the case where differences overflow)."""
    kind = draw(st.sampled_from(_INTEGER_TYPES))
    width = kind.bit_width
    start = draw(st.integers(0, 2**width - 1))
    steps = draw(st.lists(st.integers(-300, 300), min_size=0, max_size=400))
    values = np.array([(start + s) % 2**width for s in np.cumsum([0] + steps).tolist()], dtype=f"u{width // 8}")
    if pa.types.is_date(kind) or pa.types.is_time(kind):  # keep dates and times in their valid range
        values %= np.array(86_400 * 10**9 if pa.types.is_time(kind) else 2_000_000, dtype=values.dtype)
    return pa.Array.from_buffers(kind, len(values), [None, pa.py_buffer(values)], null_count=0)


@settings(max_examples=300, deadline=None)
@given(array=stepped_arrays(), codec=st.sampled_from(["lz4+delta", "zstd+delta"]))
def test_any_stepped_integer_column_decodes_exactly(array, codec):
    table = pa.table({"values": array, "rank": pa.array(np.arange(len(array), dtype=np.int32))})
    decoded = _chunks.decode(bytes(_chunks.encode(table, codec)))
    assert decoded.schema.equals(table.schema, check_metadata=True)
    assert decoded.equals(table)
    assert _chunks.decode(bytes(_chunks.encode(table, codec)), [0]).column(0).equals(table.column(0))
