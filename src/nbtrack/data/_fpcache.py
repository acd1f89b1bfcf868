"""Fingerprints of the DataFrames tracked cells read, kept while the frame provably did not change.

A tracked cell records the fingerprint of every DataFrame it reads or binds (its lineage), and
:func:`nbtrack.data.fingerprint` hashes every value: about 0.15 s per 10 M rows, paid on every execution
of a cell that only reads the frame. :class:`FingerprintCache` returns the fingerprint it computed for
the same frame object before when it can tell that nothing changed since, and computes it again
otherwise. pandas has no version counter, so "nothing changed" is established like this:

* **Pandas' copy-on-write does the bookkeeping.** While a frame is cached, the cache holds a shallow
  copy of it. Under copy-on-write (always on from pandas 3.0; ``pd.options.mode.copy_on_write = True``
  on pandas 2.x, else nothing is cached) any change made through pandas to a frame whose data another
  frame shares first gives the changed frame new arrays: ``df.iloc[...] = v``, ``df.loc[...] = v``,
  ``df["c"] = ...``, ``df.insert``/``pop``/``drop(inplace=True)``, ``fillna``/``replace``/``sort_values``/
  ``update``/``eval`` with ``inplace=True``, ``df.index = ...``, ``set_index(inplace=True)`` and the like.
* **The check compares identities, never contents:** the frame's block manager, its blocks, the arrays
  they hold, its column and row index objects (all kept alive by the cache, so an id cannot be reused),
  and the names of both indexes (the one part of an index that can change in place). Any difference,
  even one that leaves the values equal, recomputes the fingerprint.
* **A sample of the values is compared as well**, as a second line: the same 512 rows (the first and
  last 64 and 384 spread across the frame) of every column held in a NumPy array. It catches a write that
  goes around pandas (a NumPy array the frame was built on with ``copy=False`` and written later, a write
  through ``df["c"].array[i] = v``) when it touches a sampled row; such writes elsewhere are not seen.

What this guarantees: a change made through pandas' API always gives a new fingerprint. What it does not:
a write that bypasses pandas' copy-on-write outside the sampled rows (the two cases above) keeps the
old one. ``%config TrackMagics.cache_fingerprints = False`` turns the cache off (every read hashes every
value). The price of the shallow copy: the first in-place write to a cached frame copies the blocks it
writes to (as it would if any other view of the frame existed), and the arrays it replaced stay alive
until the next tracked cell looks at the frame (or the frame is deleted).

Frames smaller than :data:`MIN_VALUES` values are hashed every time: that costs less than a millisecond.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from typing import Any

#: Frames with fewer values (rows x columns) are always hashed (about 1 ms per 100,000 values).
MIN_VALUES = 100_000
#: The cache keeps this many frames (the least recently used is dropped).
MAX_ENTRIES = 32
#: Rows compared by value at each check (at most): the first and last 64, the rest spread evenly.
SAMPLE_ROWS = 512
_EDGE = 64


class _Entry:
    __slots__ = ("ref", "digest", "shallow", "identities", "names", "rows", "samples")

    def __init__(self, ref, digest, shallow, identities, names, rows, samples):
        self.ref = ref
        self.digest = digest
        self.shallow = shallow
        self.identities = identities
        self.names = names
        self.rows = rows
        self.samples = samples


class FingerprintCache:
    """``fingerprint(df)`` with the fingerprints of unchanged frames reused (see the module's docs)."""

    def __init__(self, max_entries: int = MAX_ENTRIES, min_values: int = MIN_VALUES) -> None:
        self.max_entries = max_entries
        self.min_values = min_values
        self.enabled = True
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[int, _Entry] = OrderedDict()
        self._lock = threading.RLock()  # re-entrant: a frame's weakref callback can run (GC) while it is held

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def fingerprint(self, df: Any) -> str:
        """The fingerprint of ``df`` (as :func:`nbtrack.data.fingerprint`), reused when it did not change."""
        from nbtrack.data._fingerprint import fingerprint

        if not (self.enabled and _cacheable(df, self.min_values)):
            return fingerprint(df)
        key = id(df)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                if entry.ref() is df and _unchanged(entry, df):
                    self._entries.move_to_end(key)
                    self.hits += 1
                    return entry.digest
                del self._entries[key]
        self.misses += 1
        shallow = df.copy(deep=False)  # first: from now on a write through pandas gives df new arrays
        digest = fingerprint(df)
        identities = _identities(df)
        rows = len(df)
        entry = _Entry(
            weakref.ref(df, self._forget(key)),
            digest,
            shallow,
            identities,
            _names(df),
            rows,
            _samples(identities[2], rows),
        )
        with self._lock:
            self._entries[key] = entry
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return digest

    def _forget(self, key: int):
        cache = weakref.ref(self)

        def forget(ref) -> None:  # the frame is gone: let its shallow copy (and memory) go too
            owner = cache()
            if owner is not None:
                with owner._lock:
                    entry = owner._entries.get(key)
                    if entry is not None and entry.ref is ref:
                        del owner._entries[key]

        return forget


def _cacheable(df: Any, min_values: int) -> bool:
    import pandas as pd

    if type(df) is not pd.DataFrame or not _copy_on_write(pd):
        return False
    if df.shape[0] * max(df.shape[1], 1) < min_values:
        return False
    return hasattr(getattr(df, "_mgr", None), "blocks")


def _copy_on_write(pd: Any) -> bool:
    """Copy-on-write is what makes a write visible; pandas 3 always has it, pandas 2 only when enabled."""
    if int(pd.__version__.split(".")[0]) >= 3:
        return True
    try:
        return pd.get_option("mode.copy_on_write") is True
    except Exception:
        return False


def _identities(df: Any) -> tuple:
    """The objects whose identity says the frame is the same: manager, blocks, arrays, both indexes."""
    manager = df._mgr
    blocks = tuple(manager.blocks)
    return manager, blocks, tuple(block.values for block in blocks), df.columns, df.index


def _names(df: Any) -> tuple:
    return tuple(df.columns.names), tuple(df.index.names)


def _unchanged(entry: _Entry, df: Any) -> bool:
    if len(df) != entry.rows:
        return False
    now = _identities(df)
    for then, current in zip(entry.identities, now):
        if isinstance(then, tuple):
            if len(then) != len(current) or any(a is not b for a, b in zip(then, current)):
                return False
        elif then is not current:
            return False
    try:
        if _names(df) != entry.names:
            return False
    except Exception:  # names that do not compare (arrays): take it as a change
        return False
    return _samples(now[2], entry.rows) == entry.samples


def _sample_rows(rows: int) -> Any:
    import numpy as np

    if rows <= SAMPLE_ROWS:
        return np.arange(rows)
    spread = np.linspace(_EDGE, rows - _EDGE - 1, SAMPLE_ROWS - 2 * _EDGE).astype(np.int64)
    return np.concatenate([np.arange(_EDGE), spread, np.arange(rows - _EDGE, rows)])


def _samples(arrays: tuple, rows: int) -> tuple:
    """The sampled rows' bytes of every array held as a NumPy array of numbers, booleans or times."""
    import numpy as np

    where = _sample_rows(rows)
    found = []
    for values in arrays:
        if isinstance(values, np.ndarray) and values.dtype.kind in "biufcmM" and values.shape[-1] == rows:
            found.append(values[..., where].tobytes())
        else:
            found.append(None)
    return tuple(found)


#: The cache of this process, used by ``%%track`` and :func:`nbtrack.track`.
CACHE = FingerprintCache()
