"""Content fingerprint of a pandas DataFrame, used to link tracked cells to the data they read/write.

Prefers the data engineer's ``nbtrack.data.fingerprint`` when that module exists, so a cell's inputs
match the dataset versions it records. The fallback hashes the Arrow schema and every Arrow buffer
with xxh3-128 (about 1 GB/s; no pickling, no row loop).
"""

from __future__ import annotations


def fingerprint(frame) -> str:
    """32-hex fingerprint of ``frame``'s content, column names, dtypes and index."""
    try:
        from nbtrack.data import fingerprint as data_fingerprint  # type: ignore[attr-defined]
    except ImportError:
        data_fingerprint = None
    if data_fingerprint is not None:
        return str(data_fingerprint(frame))
    return arrow_fingerprint(frame)


def arrow_fingerprint(frame) -> str:
    import pyarrow as pa
    import xxhash

    digest = xxhash.xxh3_128()
    try:
        table = pa.Table.from_pandas(frame, preserve_index=True)
    except (pa.ArrowException, TypeError, ValueError):
        # mixed-type object columns: fall back to pandas' own row hashes
        import pandas as pd

        digest.update(repr(list(frame.columns)).encode())
        digest.update(repr([str(t) for t in frame.dtypes]).encode())
        digest.update(pd.util.hash_pandas_object(frame.astype(str), index=True).to_numpy().tobytes())
        return digest.hexdigest()
    digest.update(table.schema.remove_metadata().serialize().to_pybytes())
    digest.update(repr(list(frame.columns)).encode())
    for column in table.columns:
        for chunk in column.chunks:
            digest.update(str(len(chunk)).encode())
            for buffer in chunk.buffers():
                if buffer is not None:
                    digest.update(buffer)
    return digest.hexdigest()
