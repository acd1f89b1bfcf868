"""Metric histories stored as packed segments.

Each flush of a run writes one ``metrics`` row per metric key holding that flush's values as three
little-endian arrays (int64 steps, float64 values, float64 times). NaN and infinities are kept as they
are. One row per key instead of one per value makes logging 1,000 values cost one short insert batch;
``latest_metrics`` keeps the last value per key for queries.

SQLite keeps no checksum of what its pages hold, so the ``times`` array is followed by 8 bytes: the
xxh3-64 of the segment's key, sequence number, count and three arrays. Reading a segment checks it, and
a flipped bit anywhere in them is a :class:`DamagedStoreError` instead of a changed value. Segments
written before nbtrack 0.3 have no checksum and are read unchecked.
"""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, TypeVar

import xxhash

from nbtrack.errors import DamagedStoreError

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

    def pack(self, key: str, seq: int) -> tuple[int, bytes, bytes, bytes]:
        """``(n, steps, values, times + checksum)`` as stored in the ``metrics`` row ``(key, seq)``."""
        steps, values, times = self.steps, self.values, self.times
        if _SWAP:
            steps, values, times = _swapped(steps), _swapped(values), _swapped(times)
        n, step_bytes, value_bytes, time_bytes = len(self.steps), steps.tobytes(), values.tobytes(), times.tobytes()
        return n, step_bytes, value_bytes, time_bytes + _checksum(key, seq, n, step_bytes, value_bytes, time_bytes)


def _checksum(key: str, seq: int, n: int, steps: bytes, values: bytes, times: bytes) -> bytes:
    digest = xxhash.xxh3_64(struct.pack("<qq", seq, n))
    digest.update(key.encode("utf-8", "surrogatepass"))
    for part in (steps, values, times):
        digest.update(part)
    return digest.digest()


def _swapped(values: array[_Number]) -> array[_Number]:
    copy = array(values.typecode, values)
    copy.byteswap()
    return copy


def unpack(
    rows: Iterable[tuple], latest: Mapping[str, float] | None = None
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Rows of ``(key, seq, n, steps, values, times)`` (by key, then seq) to (keys, steps, values, times)
    numpy arrays. A checksummed segment whose bytes do not match (or whose predecessor is missing) raises
    :class:`DamagedStoreError`; so does a checksummed history that disagrees with ``latest`` (the run's
    ``latest_metrics``: the value of each key's highest step, the last one logged among equal steps)."""
    import numpy as np

    keys: list[str] = []
    steps, values, times = [], [], []
    checked: dict[str, list[int]] = {}  # key -> positions in steps/values of its checksummed segments
    previous: tuple[str, int] | None = None
    previous_keys: set[str] = set()
    for key, seq, n, step_bytes, value_bytes, time_bytes in rows:
        body = verified(key, seq, n, step_bytes, value_bytes, time_bytes)
        has_checksum = body is not time_bytes
        if has_checksum and seq != (previous[1] + 1 if previous and previous[0] == key else 0):
            raise damaged_segment(key, seq, "the segment before it is missing")
        previous = (key, seq)
        previous_keys.add(key)
        if has_checksum:
            checked.setdefault(key, []).append(len(steps))
        keys.extend([key] * n)
        steps.append(np.frombuffer(step_bytes, dtype="<i8"))
        values.append(np.frombuffer(value_bytes, dtype="<f8"))
        times.append(np.frombuffer(body, dtype="<f8"))
    if latest is not None:
        for key, at in checked.items():
            key_steps = np.concatenate([steps[i] for i in at])
            _check_latest(key, key_steps, np.concatenate([values[i] for i in at]), latest)
        if checked or not keys:  # a run that logs checksummed segments (or none at all) has one per key
            for key in set(latest).difference(previous_keys):
                raise damaged_segment(key, 0, "the run has a latest value for it but no history")
    if not keys:
        empty = np.array([], dtype="float64")
        return keys, np.array([], dtype="int64"), empty, empty
    return keys, np.concatenate(steps), np.concatenate(values), np.concatenate(times)


def _check_latest(key: str, steps: np.ndarray, values: np.ndarray, latest: Mapping[str, float]) -> None:
    import numpy as np

    if key not in latest:
        raise damaged_segment(key, 0, "the run has no latest value for a metric it logged")
    if not len(steps):
        return
    last = len(steps) - 1 - int(np.argmax(steps[::-1] == steps.max()))
    expected, found = float(values[last]), float(latest[key])
    if not (expected == found or (expected != expected and found != found)):
        raise damaged_segment(key, 0, f"its latest value {found!r} is not the history's {expected!r}")


def verified(key: str, seq: int, n: int, steps: bytes, values: bytes, times: bytes) -> bytes:
    """The ``times`` array of a stored segment without its checksum, once the checksum matches (``times``
    itself, the same object, for a segment written before segments carried one)."""
    size = 8 * n if isinstance(n, int) and n >= 0 else -1
    if len(steps) != size or len(values) != size or len(times) not in (size, size + 8):
        raise damaged_segment(key, seq, "its arrays do not hold the count of values it records")
    if len(times) == size:  # written before segments carried a checksum
        return times
    body = times[:size]
    if _checksum(key, seq, n, steps, values, body) != times[size:]:
        raise damaged_segment(key, seq, "its bytes do not match their checksum")
    return body


def damaged_segment(key: str, seq: int, what: str) -> DamagedStoreError:
    return DamagedStoreError(
        f"The history of metric {key!r} (segment {seq}) stored in nbtrack.db is damaged: {what}. Run `nbtrack "
        "fsck` to see what it finds, and restore nbtrack.db from a copy of the store."
    )
