"""Column statistics and drift measures shared by diff and drift.

PSI (population stability index) = sum over bins of (p_new - p_ref) * ln(p_new / p_ref), with
proportions floored at 1e-4. Numeric columns use 10 bins at the reference's deciles (open at
both ends); categorical, string and bool columns use their values (the 50 most frequent in the
reference, the rest pooled as "other"). Rules of thumb: < 0.1 stable, 0.1-0.25 moderate, > 0.25
large shift. Numeric columns also get the two-sample Kolmogorov-Smirnov statistic and p-value
(the statistic and asymptotic p-value of scipy.stats.ks_2samp, computed in blocks; for large
samples the p-value comes from Kolmogorov's limit distribution, evaluated with numpy, so a diff of
big versions never imports scipy).

A column is summarised one side at a time (:func:`summarize`: its statistics plus what drift
needs, a sorted copy of the numbers or the value counts), so a diff can free each version's
column before it loads the next one.
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

EPS = 1e-4
BINS = 10
MAX_CATEGORIES = 50
TOP = 5


def column_names(df: pd.DataFrame) -> list[str]:
    """Unique display names for the columns (duplicates get ``#2``, ``#3``...)."""
    seen: dict[str, int] = {}
    names = []
    for label in df.columns:
        text = str(label)
        seen[text] = seen.get(text, 0) + 1
        names.append(text if seen[text] == 1 else f"{text}#{seen[text]}")
    return names


def is_numeric(series: pd.Series) -> bool:
    import pandas as pd

    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return False
    return bool(
        pd.api.types.is_numeric_dtype(dtype)
        or pd.api.types.is_datetime64_any_dtype(dtype)
        or pd.api.types.is_timedelta64_dtype(dtype)
    )


def is_integer(series: pd.Series) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_integer_dtype(series.dtype))


def numeric_values(series: pd.Series, copy: bool = True) -> np.ndarray:
    """Non-null values as a fresh float64 array (datetimes and durations as their integer ticks).

    One copy of the column at most (plus a boolean mask when it has nulls): callers sort it in place.
    ``copy=False``: the column's own float64 array when it is one without nulls (not to be changed).
    """
    import numpy as np
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(series.dtype) or pd.api.types.is_timedelta64_dtype(series.dtype):
        return series.dropna().array.asi8.astype(np.float64)  # pyright: ignore[reportAttributeAccessIssue]  # DatetimeArray has asi8; ticks, tz-aware columns included
    if isinstance(series.dtype, np.dtype) and series.dtype.kind in "iu":  # numpy integers: no null, a plain cast
        return series.to_numpy().astype(np.float64)  # (pandas' to_numpy(float) took 0.23 s for 10 M, this 0.03)
    array = series.to_numpy(dtype=np.float64, na_value=np.nan, copy=copy)
    missing = np.isnan(array)
    if missing.any():
        return array[~missing]
    return array


def _py(value: Any) -> Any:
    """A JSON-ready Python scalar (NaN/inf -> None, timestamps -> ISO text)."""
    import numpy as np
    import pandas as pd

    if value is None or value is pd.NaT:
        return None
    if isinstance(value, (pd.Timestamp, pd.Timedelta)):
        return None if pd.isna(value) else str(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (int, str)):
        return value
    return str(value)


def column_stats(series: pd.Series, values: np.ndarray | None = None, counts: pd.Series | None = None) -> dict:
    """count, nulls, mean, std, min, max (numeric) and top values with counts (all columns).

    ``values``: the column's :func:`numeric_values`, already computed (sorted or not), if at hand;
    ``counts``: its :func:`_counts` (most frequent first, nulls as None), if at hand.
    """
    import pandas as pd

    nulls = int(series.isna().sum())
    out: dict[str, Any] = {
        "dtype": str(series.dtype),
        "count": int(len(series) - nulls),
        "nulls": nulls,
        "mean": None,
        "std": None,
        "min": None,
        "max": None,
        "top": [],
    }
    if is_numeric(series) and out["count"]:
        if pd.api.types.is_datetime64_any_dtype(series.dtype) or pd.api.types.is_timedelta64_dtype(series.dtype):
            out["min"], out["max"] = _py(series.min()), _py(series.max())
            out["mean"] = _py(series.mean())
        else:
            out.update(_moments(numeric_values(series) if values is None else values))
    elif counts is not None:
        # the first TOP non-null keys only: a string column's counts hold every distinct value (a 1 M-row
        # column of 100,000 names took 0.3 s a version to turn them all into Python values)
        top = (
            [_py(k), int(v)]
            for k, v in counts.items()
            if not pd.isna(k)  # pyright: ignore[reportGeneralTypeIssues]  # scalar isna returns bool
        )
        out["top"] = list(itertools.islice(top, TOP))
    else:
        try:
            top = series.value_counts(dropna=True).head(TOP)
            out["top"] = [[_py(k), int(v)] for k, v in top.items()]
        except TypeError:  # unhashable objects
            out["top"] = []
    return out


def _moments(values: np.ndarray, block: int = 1 << 20) -> dict:
    """mean, std (ddof=1), min, max of float values, in blocks (no temporary as large as the column)."""
    import numpy as np

    n = len(values)
    if not n:
        return {}
    total = sum(float(values[s : s + block].sum()) for s in range(0, n, block))
    mean = total / n
    squares = sum(float(np.square(values[s : s + block] - mean).sum()) for s in range(0, n, block))
    low = min(float(values[s : s + block].min()) for s in range(0, n, block))
    high = max(float(values[s : s + block].max()) for s in range(0, n, block))
    return {
        "mean": _py(mean),
        "std": _py(math.sqrt(squares / (n - 1))) if n > 1 else None,
        "min": _py(low),
        "max": _py(high),
    }


def summarize(series: pd.Series, numeric: bool) -> tuple[dict, Any]:
    """The statistics of one side of a column and what :func:`drift_of` needs from it.

    ``numeric`` (both sides numeric): the non-null values as a fresh float64 array (unsorted);
    otherwise the value counts (None for unhashable values). The caller can drop ``series`` afterwards.
    """
    if numeric:
        values = numeric_values(series)
        return column_stats(series, values), values
    try:
        counts = _counts(series)
    except TypeError:  # unhashable objects
        counts = None
    return column_stats(series, counts=counts), counts


def drift_of(ref: Any, new: Any, numeric: bool, integers: bool = False) -> dict:
    """PSI (and KS when ``numeric``) from two :func:`summarize` results; ``integers``: both columns hold
    integers (see :func:`numeric_drift`)."""
    if numeric:
        return numeric_drift(ref, new, integers)
    if ref is None or new is None:
        return {"kind": "other", "psi": None, "ks": None, "ks_pvalue": None}
    return {"kind": "categorical", "psi": psi_counts(ref, new), "ks": None, "ks_pvalue": None}


def unchanged_drift(summary: Any, numeric: bool) -> dict:
    """What :func:`drift_of` gives for a column against the same values (``summary`` of either side):
    no shift, without counting both sides."""
    if numeric:
        if not len(summary):
            return {"kind": "numeric", "psi": None, "ks": None, "ks_pvalue": None}
        return {"kind": "numeric", "psi": 0.0, "ks": 0.0, "ks_pvalue": 1.0}
    if summary is None:
        return {"kind": "other", "psi": None, "ks": None, "ks_pvalue": None}
    return {"kind": "categorical", "psi": None if summary.sum() == 0 else 0.0, "ks": None, "ks_pvalue": None}


def numeric_drift(ref: np.ndarray, new: np.ndarray, integers: bool = False) -> dict:
    """PSI and KS of two unsorted arrays of non-null numbers (never changed).

    From :data:`BUCKETED` values on, counted in buckets (:mod:`._buckets`) instead of sorting both sides:
    the same figures, without the sorts that were most of a large column's check. ``integers``: the
    values are integers (one bucket per value when their range allows it).
    """
    import numpy as np

    if len(ref) + len(new) >= BUCKETED:
        from nbtrack.data._buckets import psi_and_ks

        found = psi_and_ks(ref, new, integers=integers)
        if found is not None:
            psi, statistic = found
            return {
                "kind": "numeric",
                "psi": psi,
                "ks": statistic,
                "ks_pvalue": ks_pvalue(statistic, len(ref), len(new)),
            }
    a, b = ref.astype(np.float64), new.astype(np.float64)  # copies: sorted in place below
    both(a.sort, b.sort, len(a) + len(b))
    statistic, pvalue = ks(a, b)
    return {"kind": "numeric", "psi": psi_numeric(a, b), "ks": statistic, "ks_pvalue": pvalue}


def psi_numeric(ref: np.ndarray, new: np.ndarray) -> float | None:
    """PSI over 10 bins at the reference's deciles; both arrays must be sorted."""
    import numpy as np

    if len(ref) == 0 or len(new) == 0:
        return None
    positions = np.linspace(0, 1, BINS + 1)[1:-1] * (len(ref) - 1)
    edges = np.unique(ref[np.round(positions).astype(np.int64)])
    p = np.diff(np.concatenate([[0], np.searchsorted(ref, edges, side="right"), [len(ref)]])) / len(ref)
    q = np.diff(np.concatenate([[0], np.searchsorted(new, edges, side="right"), [len(new)]])) / len(new)
    return _psi(p, q)


def _psi(p: np.ndarray, q: np.ndarray) -> float:
    import numpy as np

    p = np.maximum(p, EPS)
    q = np.maximum(q, EPS)
    return float(np.sum((q - p) * np.log(q / p)))


def psi_categorical(ref: pd.Series, new: pd.Series) -> float | None:
    """PSI over the values of two columns (the 50 most frequent of each, the rest pooled)."""
    return psi_counts(_counts(ref), _counts(new))


def psi_counts(ref_counts: pd.Series, new_counts: pd.Series) -> float | None:
    """PSI from two value counts (most frequent first), see :func:`psi_categorical`."""
    import numpy as np

    if ref_counts.sum() == 0 or new_counts.sum() == 0:
        return None
    ref, new = _by_key(ref_counts), _by_key(new_counts)
    keep = list(itertools.islice(ref, MAX_CATEGORIES))
    kept = set(keep)
    keep += [k for k in itertools.islice(new, MAX_CATEGORIES) if k not in kept][:MAX_CATEGORIES]
    p = [ref.get(k, 0) for k in keep]
    q = [new.get(k, 0) for k in keep]
    # the rest pooled: every count not kept (a string column can have 100,000 distinct values)
    p.append(sum(ref.values()) - sum(p))
    q.append(sum(new.values()) - sum(q))
    p_array, q_array = np.array(p, float), np.array(q, float)
    return _psi(p_array / p_array.sum(), q_array / q_array.sum())


def _by_key(counts: pd.Series) -> dict[object, int]:
    """``{value: count}``, most frequent first, every missing value (None, NaN, NaT, NA) under the one key
    None: pandas may key them as None on one side and NaN on the other, and NaN keys do not look up."""
    import numpy as np
    import pandas as pd

    keys = counts.index.to_numpy(dtype=object)
    values = counts.to_numpy(dtype=np.int64)
    if not pd.isna(keys).any():
        merged = dict(zip(keys.tolist(), values.tolist()))
        if len(merged) == len(keys):  # no two keys equal as Python values (1 and 1.0 and True would be)
            if len(values) < 2 or bool((values[1:] <= values[:-1]).all()):
                return merged
            return dict(sorted(merged.items(), key=lambda item: -item[1]))
    merged = {}
    for key, count in zip(keys.tolist(), values.tolist()):
        key = None if _is_missing(key) else key
        merged[key] = merged.get(key, 0) + int(count)
    return dict(sorted(merged.items(), key=lambda item: -item[1]))


def _is_missing(value: object) -> bool:
    import pandas as pd

    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value)


def _counts(series: pd.Series) -> pd.Series:
    """Value counts keyed by plain Python values (categories, strings, bools; NaN/None as None)."""
    counts = series.value_counts(dropna=False)
    index = counts.index
    missing = index.isna()
    if missing.any():
        counts.index = index.astype(object).where(~missing, None)
        counts = cast("pd.Series", counts.groupby(level=0, dropna=False).sum())  # a Series' groupby sums to a Series
        return counts.sort_values(ascending=False, kind="stable")  # most frequent first, like value_counts
    return counts


def ks(ref: np.ndarray, new: np.ndarray, block: int = 1 << 20) -> tuple[float | None, float | None]:
    """Two-sample KS statistic and asymptotic two-sided p-value of two *sorted* arrays.

    Same result as ``scipy.stats.ks_2samp(ref, new, method="asymp")``, evaluated in blocks so
    the extra memory is a few blocks instead of several copies of both samples.
    """
    n1, n2 = len(ref), len(new)
    if n1 == 0 or n2 == 0:
        return None, None
    d = max(*both(lambda: _largest_gap(ref, new, block), lambda: _largest_gap(new, ref, block), n1 + n2))
    return d, ks_pvalue(d, n1, n2)


def ks_pvalue(d: float, n1: int, n2: int) -> float:
    """The asymptotic two-sided p-value of KS statistic ``d`` between samples of ``n1`` and ``n2`` values."""
    import numpy as np

    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = m * n / (m + n)
    if en > 10_000:  # Kolmogorov's limit distribution: within 3% of kstwo at 10,000, ~0.2% at 1,000,000
        return kolmogorov_sf(d * math.sqrt(en))
    from scipy.stats import kstwo  # exact small-sample distribution (small samples: the import is the cost)

    return float(np.clip(kstwo.sf(d, max(1.0, np.round(en))), 0, 1))  # en < 0.5 (1 vs 1 value) rounds to 0


#: From this many values on, the two sides of a column are sorted and searched in two threads (numpy
#: releases the GIL for both): a 10 M-row drift check spends most of its time there.
PARALLEL = 1_000_000


def both(first: Any, second: Any, size: int) -> tuple[Any, Any]:
    """``(first(), second())``, in two threads when ``size`` is at least :data:`PARALLEL`."""
    if size < PARALLEL:
        return first(), second()
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        other = pool.submit(second)
        return first(), other.result()


def _largest_gap(data: np.ndarray, other: np.ndarray, block: int) -> float:
    """max |F_data(x) - F_other(x)| over the values x of ``data`` (both sorted), one search per distinct value.

    At the last of a run of equal values, F_data(x) is simply its position + 1 over len(data).
    """
    import numpy as np

    n, m, d = len(data), len(other), 0.0
    for start in range(0, n, block):
        x = data[start : start + block]
        after = data[start + 1 : start + block + 1]
        last = np.ones(len(x), dtype=bool)  # x[k] is the last of its run of equal values
        last[: len(after)] = x[: len(after)] != after
        k = np.flatnonzero(last)
        gap = (start + k + 1) / n - np.searchsorted(other, x[k], side="right") / m
        d = max(d, float(np.abs(gap).max(initial=0.0)))
    return d


def kolmogorov_sf(x: float) -> float:
    """P(K > x) for Kolmogorov's limit distribution (``scipy.stats.kstwobign.sf``) without scipy.

    Two series that each converge within a few terms on their side of x = 1:
    P(K <= x) = sqrt(2 pi) / x * sum_k exp(-(2k - 1)^2 pi^2 / (8 x^2)) for small x, and
    P(K > x) = 2 * sum_k (-1)^(k - 1) exp(-2 k^2 x^2) for large x.
    """
    if x <= 0:
        return 1.0
    if x < 1.0:
        factor = math.pi**2 / (8 * x * x)
        cdf = math.sqrt(2 * math.pi) / x * sum(math.exp(-((2 * k - 1) ** 2) * factor) for k in range(1, 12))
        return min(max(1.0 - cdf, 0.0), 1.0)
    total = sum((-1) ** (k - 1) * math.exp(-2 * k * k * x * x) for k in range(1, 101))
    return min(max(2.0 * total, 0.0), 1.0)


#: From this many values on (both sides), numeric drift is counted in buckets (:mod:`._buckets`) instead of
#: sorting both sides: the same figures, without the sorts that were most of a 10 M-row check.
BUCKETED = 1 << 18


def column_drift(ref: pd.Series, new: pd.Series) -> dict:
    """PSI for every column, KS for numeric ones."""
    if is_numeric(ref) and is_numeric(new):
        from nbtrack.data._buckets import countable

        return numeric_drift(countable(ref), countable(new), is_integer(ref) and is_integer(new))
    try:
        return {"kind": "categorical", "psi": psi_categorical(ref, new), "ks": None, "ks_pvalue": None}
    except TypeError:
        return {"kind": "other", "psi": None, "ks": None, "ks_pvalue": None}
