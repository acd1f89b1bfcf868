"""Applying a keyed delta to its parent's rows, chunk by chunk where the row order allows it.

A keyed delta version is stored as its changed rows plus a map, in one of three layouts:

- ``changed_positions`` (every row kept its key and position): the positions the changed rows go to;
- ``deletes_inserts`` (the parent's surviving rows keep their order: rows deleted, inserted, edited, or
  moved, a moved row being stored again as a changed row): the parent positions deleted and the output
  positions of the changed rows;
- a full row map (written before 0.2.0 for reordered rows), one entry per row, ``>= 0`` for "the
  parent's row i" and ``-1, -2, ...`` for "changed row 0, 1, ...".

The first two become a *chunk transform* ``(piece, first_row) -> (piece, first_out_row)`` applied to
each parent chunk as it is decoded (``read_chunks(transform=...)``), in the reading threads. A
:class:`Piece` is a chunk whose rows are not copied yet: each transform only appends the changed rows'
values to a column's sources and rewrites the column's row index, so along a chain of deltas every
value is copied once, when the piece is materialized (straight into the result's arrays for numbers,
see ``_chunks._FixedWidthColumns``). Columns and chunks that no change touched are kept as they are.
Consecutive ``deletes_inserts`` deltas are merged into one first (:func:`merge_deletes_inserts`). A full
map is applied to the whole parent table with one ``take`` per column (:func:`take_rows`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pyarrow as pa


class Piece:
    """A chunk's rows, not yet copied. Column ``i`` is its ``sources[i]`` put end to end, then rows
    ``index[i]`` of them (the first source as it is when None), then ``patch[i] = (positions, rows)``:
    the values at those positions taken from those source rows instead (in-place edits, kept sparse)."""

    def __init__(self, table: pa.Table):
        self.schema = table.schema
        self.num_rows = table.num_rows
        self.sources: list[list] = [[column] for column in table.columns]
        self.index: list = [None] * table.num_columns
        self.patch: list = [None] * table.num_columns

    def append(self, i: int, values: pa.ChunkedArray) -> int:
        """Add ``values`` to column ``i``'s sources; the source row its first value has."""
        offset = sum(len(source) for source in self.sources[i])
        self.sources[i].append(values)
        return offset

    def set_rows(self, i: int, positions: np.ndarray, rows: np.ndarray) -> None:
        """Column ``i``'s values at ``positions`` now come from source ``rows`` (a later edit wins)."""
        import numpy as np

        if self.patch[i] is not None:
            positions = np.concatenate([self.patch[i][0], positions])
            rows = np.concatenate([self.patch[i][1], rows])
            last = len(positions) - 1 - np.unique(positions[::-1], return_index=True)[1]
            positions, rows = positions[last], rows[last]
        self.patch[i] = (positions, rows)

    def full_index(self, i: int) -> np.ndarray | None:
        """Column ``i``'s source row for each of its rows (None: its first source as it is)."""
        import numpy as np

        index, patch = self.index[i], self.patch[i]
        if patch is None:
            return index
        full = np.arange(self.num_rows, dtype=np.int32) if index is None else index.copy()
        full[patch[0]] = patch[1]
        return full

    def column(self, i: int) -> pa.ChunkedArray | pa.Array:
        """Column ``i``, materialized."""
        sources, index = self.sources[i], self.full_index(i)
        return sources[0] if index is None else _gather(sources, index)

    def table(self) -> pa.Table:
        """All columns, materialized."""
        import pyarrow as pa

        return pa.Table.from_arrays([self.column(i) for i in range(len(self.sources))], schema=self.schema)


# (piece, index of its first row) -> (piece, index of the piece's first row in the result)
ChunkTransform = Callable[[Piece, int], "tuple[Piece, int]"]


def aligned_patch(positions: np.ndarray, changed: pa.Table, changed_fields: list[str] | None) -> ChunkTransform:
    """Changed row ``j`` replaces row ``positions[j]`` (sorted), in the fields the edits touched."""
    import numpy as np

    patched = [i for i, field in enumerate(changed.schema.names) if changed_fields is None or field in changed_fields]

    def patch(piece: Piece, first_row: int) -> tuple[Piece, int]:
        lo, hi = np.searchsorted(positions, [first_row, first_row + piece.num_rows])
        if lo == hi:
            return piece, first_row
        rows = positions[lo:hi] - first_row
        for i in patched:
            offset = piece.append(i, changed.column(i).slice(lo, hi - lo))
            piece.set_rows(i, rows, offset + np.arange(hi - lo, dtype=np.int64))
        return piece, first_row

    return patch


def ordered_parts(src: np.ndarray, parent_rows: int) -> tuple[np.ndarray, np.ndarray] | None:
    """A full row map as (parent positions deleted, output positions of the changed rows), both sorted,
    or None when the parent's surviving rows do not keep their order or none survives."""
    import numpy as np

    kept = src >= 0
    survivors = src[kept]
    if len(survivors) == 0 or (len(survivors) > 1 and not bool((survivors[1:] > survivors[:-1]).all())):
        return None
    present = np.zeros(parent_rows, dtype=bool)
    present[survivors] = True
    return np.flatnonzero(~present), np.flatnonzero(~kept)


def deletes_inserts(deleted: np.ndarray, inserted: np.ndarray, parent_rows: int, changed: pa.Table) -> ChunkTransform:
    """Parent rows ``deleted`` dropped, changed row ``j`` placed at output position ``inserted[j]``, the
    other rows kept in order (at least one must be: see :func:`ordered_parts`). A changed row belongs to
    the piece of the kept row before it (the first kept row's piece for those before any), so the pieces
    of consecutive parent ranges tile the output, empty ranges included."""
    import numpy as np

    out_rows = parent_rows - len(deleted) + len(inserted)
    all_kept = parent_rows - len(deleted)
    kept_before = inserted - np.arange(len(inserted), dtype=np.int64)  # kept rows before changed row j

    def end_after_kept(k: int) -> int:
        """The output position just after the k-th kept row (counting from 1; 0 -> 0)."""
        return 0 if k == 0 else k + int(np.searchsorted(kept_before, k - 1, side="right"))

    def apply(piece: Piece, first_row: int) -> tuple[Piece, int]:
        n = piece.num_rows
        a, b = first_row, first_row + n
        d_lo, d_hi = np.searchsorted(deleted, [a, b])
        k_lo, k_hi = a - d_lo, b - d_hi
        out_lo = end_after_kept(k_lo)
        out_hi = out_rows if k_lo < k_hi == all_kept else end_after_kept(k_hi)
        i_lo, i_hi = np.searchsorted(inserted, [out_lo, out_hi])
        if d_lo == d_hi and i_lo == i_hi:
            return piece, out_lo
        gone, placed = deleted[d_lo:d_hi] - a, inserted[i_lo:i_hi] - out_lo
        k = len(placed)
        # row r of the piece, or n + j for its j-th changed row (int32: measured 5x faster to build here)
        kept = np.ones(n, dtype=bool)
        kept[gone] = False
        take = np.insert(np.flatnonzero(kept).astype(np.int32), placed - np.arange(k), n + np.arange(k, dtype=np.int32))
        moved = {}  # (id of a column's index, its changed rows' first source row) -> the index after this delta:
        # columns that share an index and sources (most of them, along a chain) share the new one
        for i in range(len(piece.sources)):
            index = piece.index[i]
            if index is None:
                # the changed rows go right after the piece's own rows, so ``take`` fits every such
                # column as it is (shared: never written to); a patch's source rows move up by k
                piece.sources[i].insert(1, changed.column(i).slice(i_lo, k))
                piece.index[i] = take
                if piece.patch[i] is not None:
                    positions, rows = piece.patch[i]
                    piece.patch[i] = (positions, np.where(rows >= n, rows + k, rows))
            else:
                offset = piece.append(i, changed.column(i).slice(i_lo, k))
                if (id(index), offset) not in moved:
                    extended = np.concatenate([index, offset + np.arange(k, dtype=np.int32)])
                    moved[id(index), offset] = np.take(extended, take, mode="clip")  # in range by construction
                piece.index[i] = moved[id(index), offset]
            if piece.patch[i] is not None:
                positions, rows = piece.patch[i]
                alive = kept[positions]
                positions, rows = positions[alive], rows[alive]
                rank = positions - np.searchsorted(gone, positions)  # kept rows before each position
                piece.patch[i] = (rank + np.searchsorted(placed - np.arange(k), rank, side="right"), rows)
        piece.num_rows = len(take)
        return piece, out_lo

    return apply


def merge_deletes_inserts(
    first: tuple[np.ndarray, np.ndarray, pa.Table], then: tuple[np.ndarray, np.ndarray, pa.Table]
) -> tuple[np.ndarray, np.ndarray, pa.Table]:
    """Two ``deletes_inserts`` deltas in a row (B over A, then C over B), each ``(deleted, inserted, changed)``,
    as one of C over A: each chunk of A is then rewritten once, not once per delta. Works on the changed
    positions only (a few per cent of the rows), never on one entry per row."""
    import numpy as np
    import pyarrow as pa

    deleted_a, inserted_b, changed_b = first
    deleted_b, inserted_c, changed_c = then
    # the B rows C deletes: B's own changed rows, or rows of A (the r-th row A kept, r = position - changed before)
    own = np.isin(deleted_b, inserted_b)
    kept_rank = deleted_b[~own] - np.searchsorted(inserted_b, deleted_b[~own])
    deleted = np.union1d(deleted_a, _nth_kept(kept_rank, deleted_a))
    # B's changed rows that C keeps, and where they land in C
    alive = ~np.isin(inserted_b, deleted_b)
    kept_b = inserted_b[alive] - np.searchsorted(deleted_b, inserted_b[alive])  # C keeps them as its k-th B row
    positions = np.concatenate([_nth_kept(kept_b, inserted_c), inserted_c])
    order = np.argsort(positions, kind="stable")
    changed = pa.concat_tables([changed_b.take(np.flatnonzero(alive)), changed_c]).take(order)
    return deleted, positions[order], changed


def _nth_kept(ranks: np.ndarray, skipped: np.ndarray) -> np.ndarray:
    """The positions of the ``ranks``-th (0-based) positions not in ``skipped`` (sorted, distinct)."""
    import numpy as np

    return ranks + np.searchsorted(skipped - np.arange(len(skipped)), ranks, side="right")


def pack_parts(deleted: np.ndarray, inserted: np.ndarray) -> np.ndarray:
    """The two arrays of a ``deletes_inserts`` map as one (stored as one blob): count, deleted, inserted."""
    import numpy as np

    return np.concatenate([np.array([len(deleted)], dtype=np.int64), deleted, inserted])


def unpack_parts(packed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    count = int(packed[0])
    return packed[1 : 1 + count], packed[1 + count :]


def take_rows(base: pa.Table, changed: pa.Table, src: np.ndarray) -> pa.Table:
    """Apply a full row map to the whole parent table: row i is ``base`` row ``src[i]`` or changed row ``-src[i] - 1``."""
    import pyarrow as pa

    take = src
    changed_rows = take < 0
    take[changed_rows] = base.num_rows - take[changed_rows] - 1
    del changed_rows
    schema, columns = base.schema, base.columns
    del base

    def apply(i: int) -> pa.Array:  # one column; the parent column is freed once taken
        column, columns[i] = columns[i], None
        return _gather([column, changed.column(i)], take)

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:  # Arrow's take releases the GIL
        out = list(pool.map(apply, range(len(columns))))
    return pa.Table.from_arrays(out, schema=schema) if out else schema.empty_table()


def compose(first: ChunkTransform, then: ChunkTransform | None) -> ChunkTransform:
    """``first``, then ``then`` on its result (a later version's delta on top of an earlier one's)."""
    if then is None:
        return first

    def both(piece: Piece, first_row: int) -> tuple[Piece, int]:
        return then(*first(piece, first_row))

    return both


def per_chunk(table: pa.Table, transform: ChunkTransform) -> pa.Table:
    """``transform`` applied to each record batch of a table loaded whole."""
    import pyarrow as pa

    out, first_row = [], 0
    for batch in table.to_batches():
        out.append(transform(Piece(pa.Table.from_batches([batch], schema=table.schema)), first_row)[0].table())
        first_row += batch.num_rows
    return pa.concat_tables(out) if out else transform(Piece(table), 0)[0].table()


def _gather(sources: list[pa.ChunkedArray], index: np.ndarray) -> pa.ChunkedArray | pa.Array:
    """Rows ``index`` of ``sources`` put end to end. Over many chunks Arrow's take measured 2.5x slower for
    strings than combining them first; over a few (a chunk and its changed rows), combining only costs a copy."""
    import pyarrow as pa

    if len(sources) == 1 and sources[0].num_chunks == 1:
        return sources[0].chunk(0).take(index)
    chunks = pa.chunked_array([chunk for source in sources for chunk in source.chunks], type=sources[0].type)
    return (chunks if chunks.num_chunks <= 4 else chunks.combine_chunks()).take(index)
