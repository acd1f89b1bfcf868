"""Metric histories stored as packed segments.

Each flush of a run writes one ``metrics`` row per metric key holding that flush's values as three
little-endian arrays (int64 steps, float64 values, float64 times). NaN and infinities are kept as they
are. One row per key instead of one per value makes logging 1,000 values cost one short insert batch;
``latest_metrics`` keeps the last value per key for queries.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Iterable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import numpy as np

_SWAP = sys.byteorder == "big"
_Number = TypeVar("_Number", int, float)


class Segment:
    """Values of one metric buffered between two flushes."""

    __slots__ = ("steps", "values", "times")

    def __init__(self) -> None:
        self.steps = array("q")
        self.values = array("d")
        self.times = array("d")

    def append(self, step: int, value: float, time: float) -> None:
        self.steps.append(step)
        self.values.append(value)
        self.times.append(time)

    def pack(self) -> tuple[int, bytes, bytes, bytes]:
        """``(n, steps, values, times)`` as stored in the ``metrics`` table."""
        steps, values, times = self.steps, self.values, self.times
        if _SWAP:
            steps, values, times = _swapped(steps), _swapped(values), _swapped(times)
        return len(self.steps), steps.tobytes(), values.tobytes(), times.tobytes()


def _swapped(values: array[_Number]) -> array[_Number]:
    copy = array(values.typecode, values)
    copy.byteswap()
    return copy


def unpack(rows: Iterable[tuple]) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Rows of ``(key, n, steps, values, times)`` to (keys, steps, values, times) numpy arrays."""
    import numpy as np

    keys: list[str] = []
    steps, values, times = [], [], []
    for key, n, step_bytes, value_bytes, time_bytes in rows:
        keys.extend([key] * n)
        steps.append(np.frombuffer(step_bytes, dtype="<i8"))
        values.append(np.frombuffer(value_bytes, dtype="<f8"))
        times.append(np.frombuffer(time_bytes, dtype="<f8"))
    if not keys:
        empty = np.array([], dtype="float64")
        return keys, np.array([], dtype="int64"), empty, empty
    return keys, np.concatenate(steps), np.concatenate(values), np.concatenate(times)
