"""Exact PSI and KS of two large numeric columns from bucket counts, without sorting the columns.

Sorting both sides of every numeric column was nearly all of a 10 M-row drift check (two sorts of 10 M
floats per column, about 1 s each). Neither measure needs the whole order: PSI needs the reference's
deciles and how many values of each side are at most each decile; KS needs the largest gap between the
two empirical distribution functions. Each side is counted into :data:`BUCKETS` buckets of equal width
over the two sides' range (one pass with ``np.bincount``, in blocks). The bucket of a value is a monotone
function of it (a subtraction, a multiplication by a positive number and a truncation, each monotone in
floating point), so the buckets cut both sorted sides at the same places, and the counts give both
distribution functions exactly at the last value of every bucket. Inside a bucket the gap cannot exceed
what the counts at its two ends allow, so only the buckets whose bound beats the largest gap found at the
bucket ends, plus the buckets holding the deciles, are gathered and sorted: under 0.5 % of a smooth
10 M-row column. Integer columns whose range fits the buckets get one bucket per value, and
nothing is sorted at all.

Every figure is computed from the same integer counts as :func:`nbtrack.data._compare.psi_numeric` and
:func:`~nbtrack.data._compare.ks` on sorted copies, with the same floating-point operations, so the
results are the same floats (tests/data/test_drift_buckets.py checks it on generated columns).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

#: Buckets per column: 2 MB of counts per side. At 10 M normal values against 10 M, the gathered buckets hold
#: 0.4 % of the values without drift, 0.1 % with a 0.5 sd shift (65,536 buckets: 5.7 % and 1.9 %, and the
#: check of an undrifted column took 0.60 s instead of 0.45 s; 1,048,576: 0.73 s, counting misses the cache).
BUCKETS = 1 << 18
#: Values counted per step, so the temporaries stay a few MB whatever the column's length.
BLOCK = 1 << 20


#: Integers up to this size convert to float64 exactly: counting them is counting their floats.
EXACT_INTEGERS = 2**53


def countable(series: pd.Series) -> np.ndarray:
    """The non-null values :func:`psi_and_ks` counts: a numpy integer column's own array when every value
    converts to float64 exactly (no 80 MB float copy of a 10 M-row column; the buckets convert a block at a
    time), otherwise :func:`~nbtrack.data._compare.numeric_values` without a copy."""
    import numpy as np

    from nbtrack.data._compare import numeric_values

    dtype = series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iu" and len(series):  # numpy integers: never null
        values = series.to_numpy()
        if max(abs(int(values.min())), abs(int(values.max()))) <= EXACT_INTEGERS:
            return values
    return numeric_values(series, copy=False)


class _Buckets:
    """Equal-width buckets over ``[low, high]``: a monotone map from values to ``0 .. buckets - 1``.

    ``integers``: the values are integers and ``high - low < buckets``: one bucket per integer (the
    subtraction is exact, the scale is 1), so a bucket never holds two distinct values."""

    def __init__(self, low: float, high: float, buckets: int, integers: bool):
        self.low, self.top, self.size = low, float(buckets - 1), buckets
        self.scale = 1.0 if integers else self.top / (high - low)

    def of(self, values: np.ndarray) -> np.ndarray:
        import numpy as np

        position = values - self.low
        position *= self.scale
        np.minimum(position, self.top, out=position)  # rounding may pass the last bucket's end by an ulp
        return position.astype(np.intp)

    def counts(self, values: np.ndarray) -> np.ndarray:
        import numpy as np

        counts = np.zeros(self.size, dtype=np.int64)
        for start in range(0, len(values), BLOCK):
            counts += np.bincount(self.of(values[start : start + BLOCK]), minlength=self.size)
        return counts

    def gather(self, values: np.ndarray, wanted: np.ndarray) -> np.ndarray:
        """The values that fall in the ``wanted`` buckets, sorted."""
        import numpy as np

        parts = [part[wanted[self.of(part)]] for part in (values[s : s + BLOCK] for s in range(0, len(values), BLOCK))]
        found = np.concatenate(parts) if parts else values[:0].copy()
        found.sort()
        return found


def psi_and_ks(ref: np.ndarray, new: np.ndarray, integers: bool = False) -> tuple[float, float] | None:
    """``(PSI, KS statistic)`` of two unsorted arrays of non-null floats, equal to what ``psi_numeric`` and
    ``ks`` give on sorted copies; None when the values do not suit buckets (empty, a single value, an
    infinity): sort them instead.

    ``integers``: the values are integers (one bucket per value when the range allows it). The arrays
    are not changed."""
    import numpy as np

    from nbtrack.data._compare import BINS, _psi, both

    n, m = len(ref), len(new)
    if n == 0 or m == 0:
        return None
    low, high = min(float(ref.min()), float(new.min())), max(float(ref.max()), float(new.max()))
    if not (math.isfinite(low) and math.isfinite(high) and math.isfinite(high - low)) or high == low:
        return None
    buckets = BUCKETS  # read here, so that tests can make buckets hold many values with few of them
    integers = integers and high - low < buckets
    cut = _Buckets(low, high, buckets, integers)
    if not math.isfinite(cut.scale):  # a range of a few subnormals: (x - low) * inf would be NaN at x = low
        return None
    count_ref, count_new = both(lambda: cut.counts(ref), lambda: cut.counts(new), n + m)
    upto_ref, upto_new = np.cumsum(count_ref), np.cumsum(count_new)
    filled = (count_ref + count_new) > 0
    # the gap at each bucket's last value, exactly as ks evaluates it there
    statistic = float(np.abs(upto_ref[filled] / n - upto_new[filled] / m).max())
    positions = np.round(np.linspace(0, 1, BINS + 1)[1:-1] * (n - 1)).astype(np.int64)
    holding = np.searchsorted(upto_ref, positions, side="right")  # the bucket of each reference quantile
    if integers:  # one value per bucket: the quantiles are the buckets' values, no bucket needs a look inside
        edges = np.unique(low + holding.astype(np.float64))  # x - low was exact, so low + (x - low) is x
        at = cut.of(edges)
        return _psi(np.diff(np.concatenate([[0], upto_ref[at], [n]])) / n,
                   np.diff(np.concatenate([[0], upto_new[at], [m]])) / m), statistic  # fmt: skip
    before_ref, before_new = upto_ref - count_ref, upto_new - count_new
    bound = np.maximum(upto_ref / n - before_new / m, upto_new / m - before_ref / n)
    wanted = filled & (bound > statistic)  # buckets where the gap could beat the bucket ends' largest
    wanted[holding] = True
    inside_ref, inside_new = both(lambda: cut.gather(ref, wanted), lambda: cut.gather(new, wanted), n + m)
    # values below each wanted bucket that were not gathered
    skipped_ref = upto_ref - np.cumsum(np.where(wanted, count_ref, 0))
    skipped_new = upto_new - np.cumsum(np.where(wanted, count_new, 0))
    edges = np.unique(inside_ref[positions - skipped_ref[holding]])
    at = cut.of(edges)
    p = np.diff(np.concatenate([[0], skipped_ref[at] + np.searchsorted(inside_ref, edges, side="right"), [n]])) / n
    q = np.diff(np.concatenate([[0], skipped_new[at] + np.searchsorted(inside_new, edges, side="right"), [m]])) / m
    statistic = max(
        statistic,
        _largest_gap(inside_ref, inside_new, skipped_ref, skipped_new, cut, n, m),
        _largest_gap(inside_new, inside_ref, skipped_new, skipped_ref, cut, m, n),
    )
    return _psi(p, q), statistic


def _largest_gap(
    data: np.ndarray, other: np.ndarray, skipped: np.ndarray, skipped_other: np.ndarray, cut: _Buckets, n: int, m: int
) -> float:
    """max |F_data(x) - F_other(x)| over the gathered values x of ``data`` (both sorted), as ``ks`` computes it:
    at the last of each run of equal values, counts over n and m, the values not gathered added back."""
    import numpy as np

    if not len(data):
        return 0.0
    last = np.ones(len(data), dtype=bool)
    last[:-1] = data[:-1] != data[1:]
    k = np.flatnonzero(last)
    x = data[k]
    at = cut.of(x)
    gap = (skipped[at] + k + 1) / n - (skipped_other[at] + np.searchsorted(other, x, side="right")) / m
    return float(np.abs(gap).max(initial=0.0))
