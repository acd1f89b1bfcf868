"""Applying a keyed delta to its parent's rows, chunk by chunk where the row order allows it.

A keyed delta version is stored as its changed rows plus a map: for an in-place delta (every row kept
its key and position), the positions the changed rows go to; otherwise one entry per row, ``>= 0`` for
"the parent's row i" and ``-1, -2, ...`` for "changed row 0, 1, ...".

An in-place delta becomes a *chunk transform* ``(parent_chunk, first_row) -> (piece, first_out_row)``
applied to each parent chunk as it is decoded (``read_chunks(transform=...)``), so the work runs in the
reading threads on data still in cache, and columns and chunks no edit touched are kept as they are.
Along a chain of in-place deltas the transforms compose. A full map (rows deleted, inserted or
reordered) is applied to the whole parent table with one ``take`` per column (:func:`take_rows`); a
per-chunk version of it, tried for maps that keep the rows in order, measured slower (every column of
every chunk is re-gathered, in many small takes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pyarrow as pa

# (chunk, index of its first row) -> (new chunk, index of the new chunk's first row)
ChunkTransform = Callable[["pa.Table", int], "tuple[pa.Table, int]"]


def aligned_patch(positions: "np.ndarray", changed: "pa.Table", changed_fields: list[str] | None) -> ChunkTransform:
    """Changed row ``j`` replaces row ``positions[j]`` (sorted), in the fields the edits touched."""
    import numpy as np
    import pyarrow as pa

    patched = [i for i, field in enumerate(changed.schema.names) if changed_fields is None or field in changed_fields]

    def patch(chunk: "pa.Table", first_row: int) -> "tuple[pa.Table, int]":
        n = chunk.num_rows
        lo, hi = np.searchsorted(positions, [first_row, first_row + n])
        if lo == hi or not patched:
            return chunk, first_row
        rows = positions[lo:hi] - first_row
        columns = list(chunk.columns)
        take = None
        for i in patched:
            edits = changed.column(i).slice(lo, hi - lo)
            if _plain_numbers(columns[i], edits):
                values = columns[i].to_numpy().copy()
                values[rows] = edits.to_numpy()
                columns[i] = pa.array(values, type=columns[i].type)
                continue
            if take is None:  # row r of the chunk, or n + j for its j-th edit
                take = np.arange(n, dtype=np.int64)
                take[rows] = n + np.arange(hi - lo, dtype=np.int64)
            columns[i] = _gather(columns[i], edits, take)
        return pa.Table.from_arrays(columns, schema=chunk.schema), first_row

    return patch


def take_rows(base: "pa.Table", changed: "pa.Table", src: "np.ndarray") -> "pa.Table":
    """Apply a full row map to the whole parent table: row i is ``base`` row ``src[i]`` or changed row ``-src[i] - 1``."""
    import pyarrow as pa

    take = src
    changed_rows = take < 0
    take[changed_rows] = base.num_rows - take[changed_rows] - 1
    del changed_rows
    schema, columns = base.schema, base.columns
    del base

    def apply(i: int) -> "pa.Array":  # one column; the parent column is freed once taken
        column, columns[i] = columns[i], None
        return _gather(column, changed.column(i), take)

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:  # Arrow's take releases the GIL
        out = list(pool.map(apply, range(len(columns))))
    return pa.Table.from_arrays(out, schema=schema) if out else schema.empty_table()


def compose(first: ChunkTransform, then: ChunkTransform | None) -> ChunkTransform:
    """``first``, then ``then`` on its result (a later version's delta on top of an earlier one's)."""
    if then is None:
        return first

    def both(chunk: "pa.Table", first_row: int) -> "tuple[pa.Table, int]":
        return then(*first(chunk, first_row))

    return both


def per_chunk(table: "pa.Table", transform: ChunkTransform) -> "pa.Table":
    """``transform`` applied to each record batch of a table loaded whole."""
    import pyarrow as pa

    out, first_row = [], 0
    for batch in table.to_batches():
        out.append(transform(pa.Table.from_batches([batch], schema=table.schema), first_row)[0])
        first_row += batch.num_rows
    return pa.concat_tables(out) if out else transform(table, 0)[0]


def _gather(column: "pa.ChunkedArray", extra: "pa.ChunkedArray", take: "np.ndarray") -> "pa.Array":
    """Rows ``take`` of ``column`` followed by ``extra``. The chunks are combined first: Arrow's take over a
    many-chunk string column measured 2.5x slower than combining it and taking from one array."""
    import pyarrow as pa

    return pa.chunked_array(column.chunks + extra.chunks, type=column.type).combine_chunks().take(take)


def _plain_numbers(column: "pa.ChunkedArray", extra: "pa.ChunkedArray") -> bool:
    """Integers or floats without nulls (zero-copy to numpy, patched there ~10x faster than with Arrow)."""
    import pyarrow as pa

    kind = column.type
    return (pa.types.is_integer(kind) or pa.types.is_floating(kind)) and column.null_count == 0 \
        and extra.null_count == 0
