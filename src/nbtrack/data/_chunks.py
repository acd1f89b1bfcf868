"""Content-defined row chunks: where to cut a table, and how a chunk becomes a blob.

A version is stored as a list of row chunks. Each chunk is an Arrow IPC stream (one record
batch, zstd-compressed buffers, no schema metadata) saved as a content-addressed blob, so
two versions that share rows share chunks.

Cut points are chosen by content, not by position: a rolling hash over a window of
``WINDOW`` rows of one or two cheap "boundary columns" (numeric values, string lengths,
dictionary codes) marks a cut where its top bits are zero, which happens on average every
``avg_rows`` rows. Inserting or deleting rows therefore moves only the cuts near the change,
and the chunks elsewhere keep their bytes. Cuts are kept between ``avg_rows // 4`` and
``avg_rows * 4`` rows apart; runs without any cut (constant columns) fall back to fixed cuts,
which do not survive inserts.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable, Protocol, TypeVar

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pyarrow as pa

T = TypeVar("T")
WINDOW = 16
_K1 = 0x9E3779B97F4A7C15
_K2 = 0xC2B2AE3D27D4EB4F
_K3 = 0x165667B19E3779F9
MIN_AVG_ROWS = 1 << 10
MAX_AVG_ROWS = 1 << 16
TARGET_CHUNKS = 100
MAX_CHUNK_BYTES = 8 << 20
PROGRESS_MIN_CELLS = 20_000_000  # rows x columns from which a snapshot, load or diff shows a progress bar


class BlobPutGet(Protocol):
    def put_bytes(self, data: bytes) -> str: ...
    def read_bytes(self, h: str) -> bytes: ...
    def exists(self, h: str) -> bool: ...


@dataclass
class Chunk:
    blob: str
    rows: int
    nbytes: int
    new: bool


def choose_avg_rows(rows: int, row_bytes: float) -> int:
    """Average chunk length (a power of two) for a dataset whose first version has ``rows`` rows."""
    want = max(rows // TARGET_CHUNKS, 1)
    avg = MIN_AVG_ROWS
    while avg * 2 <= want and avg < MAX_AVG_ROWS:
        avg *= 2
    while avg > 64 and avg * max(row_bytes, 1.0) > MAX_CHUNK_BYTES:
        avg //= 2
    return avg


def _boundary_values(col: "pa.ChunkedArray") -> "np.ndarray | None":
    """A uint64 value per row derived cheaply from the column's content, or None if unsuitable."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.types as pt

    t = col.type
    parts = []
    for arr in col.chunks:
        if pt.is_dictionary(t):
            arr = arr.indices
            at = arr.type
        else:
            at = t
        if pt.is_integer(at) or pt.is_floating(at) or pt.is_temporal(at):
            width = at.bit_width // 8
            if width not in (1, 2, 4, 8):
                return None
            buf = arr.buffers()[1]
            dtype = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}[width]
            vals = np.frombuffer(buf, dtype=dtype, count=len(arr) + arr.offset)[arr.offset :]
            parts.append(vals)
        elif pt.is_string(at) or pt.is_large_string(at) or pt.is_binary(at) or pt.is_large_binary(at):
            large = pt.is_large_string(at) or pt.is_large_binary(at)
            offs = np.frombuffer(arr.buffers()[1], dtype=np.int64 if large else np.int32, count=len(arr) + 1 + arr.offset)
            parts.append(np.diff(offs[arr.offset :]).view(np.uint32 if not large else np.uint64))
        else:
            return None
    if not parts:
        return np.zeros(0, dtype=np.uint64)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def cut_points(table: "pa.Table", avg_rows: int) -> list[int]:
    """Row offsets (exclusive ends) of the content-defined chunks of ``table``."""
    import numpy as np

    n = table.num_rows
    if n == 0:
        return [0]
    values = []
    for col in table.columns:
        v = _boundary_values(col)
        if v is not None:
            values.append(v)
        if len(values) == 2:
            break
    if not values or n <= avg_rows // 4:
        return _fixed_cuts(0, n, avg_rows * 4)
    bits = int(avg_rows).bit_length() - 1
    with np.errstate(over="ignore"):
        h = np.multiply(values[0], np.uint64(_K1), dtype=np.uint64)
        tmp = np.empty_like(h)
        if len(values) > 1:
            np.multiply(values[1], np.uint64(_K2), out=tmp, dtype=np.uint64)
            h += tmp
        del values
        np.cumsum(h, out=h)
        win = tmp[: n - WINDOW + 1]
        win[0] = h[WINDOW - 1]
        np.subtract(h[WINDOW:], h[: n - WINDOW], out=win[1:])
        del h
        np.multiply(win, np.uint64(_K3), out=win)
        np.right_shift(win, np.uint64(64 - bits), out=win)
        cand = np.flatnonzero(win == 0) + WINDOW  # window ending at row i -> cut after it (end i + 1)
    return _apply_limits(cand, n, avg_rows)


def _fixed_cuts(start: int, n: int, size: int) -> list[int]:
    return list(range(start + size, n, size)) + [n]


def _apply_limits(cand: "np.ndarray", n: int, avg_rows: int) -> list[int]:
    lo, hi = max(avg_rows // 4, 1), avg_rows * 4
    cuts: list[int] = []
    last = 0
    for c in cand.tolist():
        if c - last < lo or c >= n:
            continue
        while c - last > hi:
            last += hi
            cuts.append(last)
        cuts.append(c)
        last = c
    while n - last > hi:
        last += hi
        cuts.append(last)
    cuts.append(n)
    return cuts


def encode(table: "pa.Table") -> memoryview:
    """One chunk as an Arrow IPC stream with zstd buffers."""
    import pyarrow as pa
    import pyarrow.ipc as ipc

    sink = pa.BufferOutputStream()
    opts = ipc.IpcWriteOptions(compression="zstd", use_threads=True)
    if any(col.num_chunks > 1 for col in table.columns):
        table = table.combine_chunks()
    batches = table.to_batches()
    if not batches:  # an empty chunk still carries the dictionaries (categories) of its columns
        batches = [pa.record_batch([col.combine_chunks() for col in table.columns], schema=table.schema)]
    with ipc.new_stream(sink, table.schema, options=opts) as writer:
        for batch in batches:
            writer.write_batch(batch)
    return memoryview(sink.getvalue())


def decode(data: bytes, fields: list[int] | None = None) -> "pa.Table":
    """One chunk back as a table; ``fields`` (indices) decompresses only those columns."""
    import pyarrow as pa
    import pyarrow.ipc as ipc

    options = ipc.IpcReadOptions(included_fields=fields) if fields else None
    return ipc.open_stream(pa.py_buffer(data), options=options).read_all()


def progress_over(items: Iterable[T], *, total: int, cells: int, desc: str | None) -> Iterable[T]:
    """``items`` with a progress bar (tqdm.auto) when ``cells`` (rows x columns) can take a second or more.

    ``desc`` None: never. Small data stays quiet, so tests and notebooks show no bars for it.
    """
    from nbtrack._progress import progress

    return progress(items, total=total, desc=desc or "", enabled=desc is not None and cells >= PROGRESS_MIN_CELLS,
                    min_items=1)


def write_chunks(table: "pa.Table", cuts: list[int], blobs: BlobPutGet, threads: int = 2,
                 desc: str | None = None) -> list[Chunk]:
    """Encode each chunk and store the ones the blob store does not have yet (``desc``: progress label)."""
    import xxhash

    bounds = list(zip([0] + cuts[:-1], cuts))

    def one(bound: tuple[int, int]) -> Chunk:
        start, end = bound
        data = encode(table.slice(start, end - start))
        h = xxhash.xxh3_128_hexdigest(data)
        new = not blobs.exists(h)
        if new:
            stored = blobs.put_bytes(data)
            assert stored == h, "blob store hash differs from xxh3_128"
        return Chunk(h, end - start, len(data), new)

    cells = table.num_rows * max(table.num_columns, 1)
    if threads <= 1 or len(bounds) < 4:
        return [one(b) for b in progress_over(bounds, total=len(bounds), cells=cells, desc=desc)]
    with ThreadPoolExecutor(threads) as pool:
        return list(progress_over(pool.map(one, bounds), total=len(bounds), cells=cells, desc=desc))


def read_chunks(hashes: list[str], blobs: BlobPutGet, schema: "pa.Schema", threads: int = 2,
                columns: list[str] | None = None, cells: int = 0, desc: str | None = None,
                transform: "Callable[[pa.Table, int], tuple[pa.Table, int]] | None" = None,
                chunk_rows: list[int] | None = None) -> "pa.Table":
    """Read and concatenate chunks (empty list -> empty table of ``schema``).

    ``columns`` keeps only those fields of each chunk as it is decoded (the others are freed at once).
    ``cells`` (rows x columns read) and ``desc`` decide whether a progress bar is shown.
    ``transform(chunk, first_row) -> (new_chunk, new_first_row)`` is applied to each chunk in the reading
    thread, while its buffers are still in cache (``nbtrack.data._deltas``); ``chunk_rows`` (each chunk's
    row count) gives ``first_row`` and is required with it.
    """
    import itertools

    import pyarrow as pa

    fields = None
    if columns is not None:
        fields = [schema.get_field_index(c) for c in columns]
        schema = pa.schema([schema.field(c) for c in columns])
    if not hashes:
        return schema.empty_table()
    if transform is not None and (chunk_rows is None or len(chunk_rows) != len(hashes)):
        raise ValueError("read_chunks: transform needs the row count of every chunk")
    starts = list(itertools.accumulate([0] + list(chunk_rows[:-1]))) if transform is not None else [0] * len(hashes)

    def one(item: tuple[str, int]) -> "pa.Table":
        h, first_row = item
        table = decode(blobs.read_bytes(h), fields)
        table = table.select(columns) if columns is not None else table
        return transform(table, first_row)[0] if transform is not None else table

    items = list(zip(hashes, starts))
    if threads <= 1 or len(hashes) < 4:
        tables = [one(x) for x in progress_over(items, total=len(items), cells=cells, desc=desc)]
    else:
        with ThreadPoolExecutor(threads) as pool:
            tables = list(progress_over(pool.map(one, items), total=len(items), cells=cells, desc=desc))
    return pa.concat_tables(tables)


def compress_array(values: "np.ndarray") -> bytes:
    """Delta-encode an int64 array and zstd-compress it (row-source maps of keyed deltas)."""
    import numpy as np
    import pyarrow as pa

    raw = np.diff(values, prepend=np.int64(0)).astype(np.int64).tobytes()
    header = len(raw).to_bytes(8, "little")
    return header + pa.compress(raw, codec="zstd", asbytes=True)


def decompress_array(data: bytes) -> "np.ndarray":
    import numpy as np
    import pyarrow as pa

    size = int.from_bytes(data[:8], "little")
    raw = pa.decompress(data[8:], decompressed_size=size, codec="zstd")  # an Arrow buffer: no copy to bytes
    return np.cumsum(np.frombuffer(raw, dtype=np.int64))


def xxh3(data: bytes) -> str:
    import xxhash

    return xxhash.xxh3_128_hexdigest(data)
