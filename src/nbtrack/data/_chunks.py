"""Content-defined row chunks: where to cut a table, and how a chunk becomes a blob.

A version is stored as a list of row chunks. Each chunk is an Arrow IPC stream (one record
batch, lz4- or zstd-compressed buffers, no schema metadata; integer columns with small steps stored
as their differences) saved as a content-addressed blob, so two versions that share rows share chunks.

Cut points are chosen by content, not by position: a rolling hash over a window of
``WINDOW`` rows of one or two cheap "boundary columns" (numeric values, string lengths,
dictionary codes) marks a cut where its top bits are zero, which happens on average every
``avg_rows`` rows. Inserting or deleting rows therefore moves only the cuts near the change,
and the chunks elsewhere keep their bytes. Cuts are kept between ``avg_rows // 4`` and
``avg_rows * 4`` rows apart; runs without any cut (constant columns) fall back to fixed cuts,
which do not survive inserts.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar

from nbtrack._progress import progress
from nbtrack.data._deltas import Piece
from nbtrack.errors import CorruptDataError

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
    def read_bytes(self, digest: str) -> bytes: ...
    def exists(self, digest: str) -> bool: ...


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


def _boundary_values(col: pa.ChunkedArray) -> np.ndarray | None:
    """A uint64 value per row derived cheaply from the column's content, or None if unsuitable."""
    import numpy as np
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
            offs = np.frombuffer(
                arr.buffers()[1], dtype=np.int64 if large else np.int32, count=len(arr) + 1 + arr.offset
            )
            parts.append(np.diff(offs[arr.offset :]).view(np.uint32 if not large else np.uint64))
        else:
            return None
    if not parts:
        return np.zeros(0, dtype=np.uint64)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def cut_points(table: pa.Table, avg_rows: int) -> list[int]:
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


def _apply_limits(cand: np.ndarray, n: int, avg_rows: int) -> list[int]:
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


def encode(table: pa.Table, codec: str = "zstd") -> memoryview:
    """One chunk as an Arrow IPC stream with compressed buffers.

    ``codec``: ``lz4`` or ``zstd``, with ``+delta`` to store integer and date/time columns whose
    successive differences are small (sorted keys, timestamps) as those differences (see :func:`_delta_encoded`).
    """
    import pyarrow as pa
    import pyarrow.ipc as ipc

    compression, _, extra = codec.partition("+")
    sink = pa.BufferOutputStream()
    opts = ipc.IpcWriteOptions(compression=compression, use_threads=True)
    if any(col.num_chunks > 1 for col in table.columns):
        table = table.combine_chunks()
    if extra == "delta":
        table = _delta_encoded(table)
    batches = table.to_batches()
    if not batches:  # an empty chunk still carries the dictionaries (categories) of its columns
        batches = [pa.record_batch([col.combine_chunks() for col in table.columns], schema=table.schema)]
    with ipc.new_stream(sink, table.schema, options=opts) as writer:
        for batch in batches:
            writer.write_batch(batch)
    return memoryview(sink.getvalue())


def decode(data: bytes, fields: list[int] | None = None) -> pa.Table:
    """One chunk back as a table; ``fields`` (indices) decompresses only those columns."""
    import pyarrow as pa
    import pyarrow.ipc as ipc

    options = ipc.IpcReadOptions(included_fields=fields) if fields else None
    table = ipc.open_stream(pa.py_buffer(data), options=options).read_all()
    for i, field in enumerate(table.schema):
        if field.metadata and DELTA_TAG in field.metadata:
            table = _delta_decoded(table, i)
    return table


DELTA_TAG = b"nbtrack.delta"


def _delta_encoded(table: pa.Table) -> pa.Table:
    """``table`` (one chunk per column) with its delta-worthy columns replaced by their differences, their
    fields tagged. A column qualifies when it is an integer, date, time or duration without nulls and its
    differences need at least a byte less than its values: lz4 then finds long repeats where it found
    short ones (a sorted int64 key: 100x smaller, decoded 5x faster, measured in docs/data.md). The
    differences wrap around in unsigned arithmetic, so the sum restores every value exactly."""
    import numpy as np
    import pyarrow as pa

    for i, column in enumerate(table.columns):
        if not _delta_candidate(column.type) or column.null_count or len(column) < 2:
            continue
        width = column.type.bit_width // 8
        values = _fixed_values(column.chunk(0), _UNSIGNED[width])
        diffs = np.diff(values, prepend=values.dtype.type(0))  # wraps: no overflow
        signed = f"i{width}"
        if _signed_bits(diffs[1:].view(signed)) + 8 > _signed_bits(values.view(signed)):
            continue
        field = table.schema.field(i)
        tagged = field.with_metadata({**(field.metadata or {}), DELTA_TAG: b"1"})
        encoded = pa.Array.from_buffers(column.type, len(diffs), [None, pa.py_buffer(diffs)], null_count=0)
        table = table.set_column(i, tagged, encoded)
    return table


def _delta_decoded(table: pa.Table, i: int) -> pa.Table:
    """Column ``i`` (tagged by :func:`_delta_encoded`) summed back to its values, its field untagged."""
    import numpy as np
    import pyarrow as pa

    field, column = table.schema.field(i), table.column(i).combine_chunks()
    diffs = _fixed_values(column, _UNSIGNED[column.type.bit_width // 8])
    values = np.cumsum(diffs, dtype=diffs.dtype)
    metadata = {k: v for k, v in field.metadata.items() if k != DELTA_TAG}
    untagged = field.remove_metadata().with_metadata(metadata) if metadata else field.remove_metadata()
    return table.set_column(
        i, untagged, pa.Array.from_buffers(column.type, len(values), [None, pa.py_buffer(values)], null_count=0)
    )


def _delta_candidate(kind: pa.DataType) -> bool:
    import pyarrow.types as pt

    return _fixed_width(kind) and not pt.is_floating(kind)


def _signed_bits(values: np.ndarray) -> int:
    """Bits a two's-complement integer needs to hold every one of ``values`` (0 for none)."""
    if len(values) == 0:
        return 0
    lo, hi = int(values.min()), int(values.max())
    return max(hi.bit_length(), (~lo).bit_length() if lo < 0 else 0) + 1


def progress_over(items: Iterable[T], *, total: int, cells: int, desc: str | None) -> Iterable[T]:
    """``items`` with a progress bar (tqdm.auto) when ``cells`` (rows x columns) can take a second or more.

    ``desc`` None: never. Small data stays quiet, so tests and notebooks show no bars for it.
    """
    return progress(
        items, total=total, desc=desc or "", enabled=desc is not None and cells >= PROGRESS_MIN_CELLS, min_items=1
    )


def write_chunks(
    table: pa.Table, cuts: list[int], blobs: BlobPutGet, threads: int = 2, desc: str | None = None, codec: str = "zstd"
) -> list[Chunk]:
    """Encode each chunk and store the ones the blob store does not have yet (``desc``: progress label)."""
    import xxhash

    bounds = list(zip([0] + cuts[:-1], cuts))

    def one(bound: tuple[int, int]) -> Chunk:
        start, end = bound
        data = encode(table.slice(start, end - start), codec)
        h = xxhash.xxh3_128_hexdigest(data)
        new = not blobs.exists(h)
        if new:
            stored = blobs.put_bytes(data)  # pyright: ignore[reportArgumentType]  # any buffer works, no copy
            assert stored == h, "blob store hash differs from xxh3_128"
        return Chunk(h, end - start, len(data), new)

    cells = table.num_rows * max(table.num_columns, 1)
    if threads <= 1 or len(bounds) < 4:
        return [one(b) for b in progress_over(bounds, total=len(bounds), cells=cells, desc=desc)]
    with ThreadPoolExecutor(threads) as pool:
        return list(progress_over(pool.map(one, bounds), total=len(bounds), cells=cells, desc=desc))


def read_threads() -> int:
    """Threads reading chunks: twice the usable cores (at most 8). Decoding a chunk waits on the file, on
    fresh memory pages and on the GIL between numpy calls; with 4 threads on 2 cores, loading 10 M rows
    measured 10-20% faster than with 2, and slower again with 6 or 8."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(2, min(8, 2 * cores))


def read_chunks(
    hashes: list[str],
    blobs: BlobPutGet,
    schema: pa.Schema,
    threads: int | None = None,
    columns: list[str] | None = None,
    cells: int = 0,
    desc: str | None = None,
    transform: Callable[[Piece, int], tuple[Piece, int]] | None = None,
    chunk_rows: list[int] | None = None,
    out_rows: int | None = None,
) -> pa.Table:
    """Read and concatenate chunks (empty list -> empty table of ``schema``).

    ``columns`` keeps only those fields of each chunk as it is decoded (the others are freed at once).
    ``cells`` (rows x columns read) and ``desc`` decide whether a progress bar is shown.
    ``transform(piece, first_row) -> (piece, first_out_row)`` is applied to each chunk (as a
    ``nbtrack.data._deltas.Piece``) in the reading thread, while its buffers are still in cache;
    ``chunk_rows`` (each chunk's row count) gives ``first_row`` and is required with it.
    ``out_rows`` (the row count of the result, with ``chunk_rows``): fixed-width columns (numbers, dates,
    times) are copied into one array each as each chunk is read, and the chunk is freed at once. The
    result's columns are then single arrays that pandas takes without a copy, and the memory of the
    chunks already read is reused for the next ones (fresh pages cost more than the copy on this kind
    of machine: see docs/benchmarks.md).
    """
    import pyarrow as pa

    fields = None
    if columns is not None:
        fields = [schema.get_field_index(c) for c in columns]
        schema = pa.schema([schema.field(c) for c in columns])
    if not hashes:
        return schema.empty_table()
    if transform is not None and (chunk_rows is None or len(chunk_rows) != len(hashes)):
        raise ValueError("read_chunks: transform needs the row count of every chunk")
    if out_rows is not None and chunk_rows is None:
        raise ValueError("read_chunks: out_rows needs the row count of every chunk")
    starts = list(itertools.accumulate([0] + list(chunk_rows[:-1]))) if chunk_rows is not None else [0] * len(hashes)
    sink = _FixedWidthColumns(schema, out_rows) if out_rows is not None else None
    sink = sink if sink is not None and sink.widths else None

    def one(item: tuple[str, int]) -> pa.Table:
        h, first_row = item
        table = decode(blobs.read_bytes(h), fields)
        table = table.select(columns) if columns is not None else table
        if transform is None and sink is None:
            return table
        piece = Piece(table)
        if transform is not None:
            piece, first_row = transform(piece, first_row)
        return sink.fill(piece, first_row) if sink is not None else piece.table()

    items = list(zip(hashes, starts))
    threads = read_threads() if threads is None else threads
    if threads <= 1 or len(hashes) < 4:
        tables = [one(x) for x in progress_over(items, total=len(items), cells=cells, desc=desc)]
    else:
        with ThreadPoolExecutor(threads) as pool:
            tables = list(progress_over(pool.map(one, items), total=len(items), cells=cells, desc=desc))
    return sink.table(tables) if sink is not None else pa.concat_tables(tables)


_UNSIGNED = {1: "u1", 2: "u2", 4: "u4", 8: "u8"}


class _FixedWidthColumns:
    """The fixed-width columns of a table being read, each filled into one preallocated array."""

    def __init__(self, schema: pa.Schema, rows: int):
        import numpy as np
        import pyarrow as pa

        self.schema, self.rows = schema, rows
        self.widths = {i: field.type.bit_width // 8 for i, field in enumerate(schema) if _fixed_width(field.type)}
        self.others = [i for i in range(len(schema)) if i not in self.widths]
        # from Arrow's pool, which reuses the pages of frames already freed: fresh pages cost more than the
        # copy into them on this kind of machine (docs/benchmarks.md)
        self.buffers = {i: pa.allocate_buffer(rows * width) for i, width in self.widths.items()}
        self.values = {i: np.frombuffer(self.buffers[i], dtype=_UNSIGNED[width]) for i, width in self.widths.items()}
        self.valid: dict = {}  # column -> bool array, made when a chunk has nulls in it
        self.filled = 0
        self._lock = threading.Lock()

    def fill(self, piece: Piece, first_row: int) -> pa.Table:
        """Copy ``piece``'s fixed-width columns to rows ``first_row...``; its other columns, materialized."""
        import numpy as np
        import pyarrow as pa

        with self._lock:
            self.filled += piece.num_rows
        for i, width in self.widths.items():
            arrays = [chunk for source in piece.sources[i] for chunk in source.chunks]
            index, patch = piece.index[i], piece.patch[i]
            if index is None and patch is None:
                self._copy(i, arrays, first_row)
            elif not any(arr.null_count for arr in arrays):
                # rows picked straight into the result: the piece's values are copied once
                values = [_fixed_values(arr, _UNSIGNED[width]) for arr in arrays]
                out = self.values[i][first_row : first_row + piece.num_rows]
                if index is None:
                    self._copy(i, arrays[: piece.sources[i][0].num_chunks], first_row)
                else:
                    # mode="clip": the index is in range by construction, and the default mode buffers
                    # ``out`` (measured 9x slower)
                    np.take(values[0] if len(values) == 1 else np.concatenate(values), index, out=out, mode="clip")
                if patch is not None:
                    out[patch[0]] = _pick(values, patch[1])
            else:
                column = piece.column(i)
                self._copy(i, column.chunks if hasattr(column, "chunks") else [column], first_row)
        return pa.Table.from_arrays(
            [piece.column(i) for i in self.others], schema=pa.schema([self.schema.field(i) for i in self.others])
        )

    def _copy(self, i: int, arrays: list, first_row: int) -> None:
        at = first_row
        for arr in arrays:
            n = len(arr)
            if n == 0:
                continue
            self.values[i][at : at + n] = _fixed_values(arr, self.values[i].dtype)
            if arr.null_count:
                self._validity(i)[at : at + n] = arr.is_valid().to_numpy(zero_copy_only=False)
            at += n

    def _validity(self, i: int) -> np.ndarray:
        import numpy as np

        with self._lock:
            if i not in self.valid:
                self.valid[i] = np.ones(self.rows, dtype=bool)
            return self.valid[i]

    def table(self, pieces: list[pa.Table]) -> pa.Table:
        import numpy as np
        import pyarrow as pa

        if self.filled != self.rows:
            raise CorruptDataError(
                f"the chunks read gave {self.filled} rows where the version has {self.rows}: run `nbtrack fsck`."
            )
        columns: list = [None] * len(self.schema)
        rest = pa.concat_tables(pieces) if pieces and self.others else None
        for j, i in enumerate(self.others):
            assert rest is not None, "columns to read but no chunks read"
            columns[i] = rest.column(j)
        for i in self.widths:
            valid = self.valid.get(i)
            bitmap = None if valid is None else pa.py_buffer(np.packbits(valid, bitorder="little"))
            columns[i] = pa.Array.from_buffers(
                self.schema.field(i).type,
                self.rows,
                [bitmap, self.buffers[i]],
                null_count=-1 if valid is not None else 0,
            )
        return pa.Table.from_arrays(columns, schema=self.schema)


def _pick(arrays: list[np.ndarray], rows: np.ndarray) -> np.ndarray:
    """Rows ``rows`` of ``arrays`` put end to end, without joining them."""
    import numpy as np

    out = np.empty(len(rows), dtype=arrays[0].dtype)
    start = 0
    for values in arrays:
        inside = (rows >= start) & (rows < start + len(values))
        out[inside] = values[rows[inside] - start]
        start += len(values)
    return out


def _fixed_values(arr: pa.Array, kind) -> np.ndarray:
    """The values buffer of a fixed-width array as unsigned integers of its width (no copy)."""
    import numpy as np

    return np.frombuffer(arr.buffers()[1], dtype=kind, count=arr.offset + len(arr))[arr.offset :]


def _fixed_width(kind: pa.DataType) -> bool:
    """Numbers, dates, times and durations of 1, 2, 4 or 8 bytes (not bools: they are bits)."""
    import pyarrow.types as pt

    return (
        pt.is_integer(kind)
        or pt.is_floating(kind)
        or pt.is_timestamp(kind)
        or pt.is_date(kind)
        or pt.is_time(kind)
        or pt.is_duration(kind)
    ) and kind.bit_width // 8 in _UNSIGNED


def compress_array(values: np.ndarray) -> bytes:
    """Delta-encode an int64 array and zstd-compress it (row-source maps of keyed deltas)."""
    import numpy as np
    import pyarrow as pa

    raw = np.diff(values, prepend=np.int64(0)).astype(np.int64).tobytes()
    header = len(raw).to_bytes(8, "little")
    return header + pa.compress(raw, codec="zstd", asbytes=True)


def decompress_array(data: bytes) -> np.ndarray:
    import numpy as np
    import pyarrow as pa

    size = int.from_bytes(data[:8], "little")
    raw = pa.decompress(data[8:], decompressed_size=size, codec="zstd")  # an Arrow buffer: no copy to bytes
    return np.cumsum(np.frombuffer(raw, dtype=np.int64))


def xxh3(data: bytes) -> str:
    import xxhash

    return xxhash.xxh3_128_hexdigest(data)
