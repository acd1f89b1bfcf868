"""Column statistics and drift measures shared by diff and drift.

PSI (population stability index) = sum over bins of (p_new - p_ref) * ln(p_new / p_ref), with
proportions floored at 1e-4. Numeric columns use 10 bins at the reference's deciles (open at
both ends); categorical, string and bool columns use their values (the 50 most frequent in the
reference, the rest pooled as "other"). Rules of thumb: < 0.1 stable, 0.1-0.25 moderate, > 0.25
large shift. Numeric columns also get the two-sample Kolmogorov-Smirnov statistic and p-value
(the statistic and asymptotic p-value of scipy.stats.ks_2samp, computed in blocks).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

EPS = 1e-4
BINS = 10
MAX_CATEGORIES = 50
TOP = 5


def column_names(df: "pd.DataFrame") -> list[str]:
    """Unique display names for the columns (duplicates get ``#2``, ``#3``...)."""
    seen: dict[str, int] = {}
    names = []
    for label in df.columns:
        text = str(label)
        seen[text] = seen.get(text, 0) + 1
        names.append(text if seen[text] == 1 else f"{text}#{seen[text]}")
    return names


def is_numeric(series: "pd.Series") -> bool:
    import pandas as pd

    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return False
    return bool(pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_datetime64_any_dtype(dtype)
                or pd.api.types.is_timedelta64_dtype(dtype))


def numeric_values(series: "pd.Series") -> "np.ndarray":
    """Non-null values as float64 (datetimes and durations as their integer ticks)."""
    import numpy as np
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(series.dtype) or pd.api.types.is_timedelta64_dtype(series.dtype):
        return series.dropna().to_numpy().view(np.int64).astype(np.float64)
    array = series.to_numpy(dtype=np.float64, na_value=np.nan)
    return array[~np.isnan(array)]  # always a fresh copy


def _py(value: Any) -> Any:
    """A JSON-ready Python scalar (NaN/inf -> None, timestamps -> ISO text)."""
    import numpy as np
    import pandas as pd

    if value is None:
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


def column_stats(series: "pd.Series") -> dict:
    """count, nulls, mean, std, min, max (numeric) and top values with counts (all columns)."""
    import pandas as pd

    nulls = int(series.isna().sum())
    out: dict[str, Any] = {"dtype": str(series.dtype), "count": int(len(series) - nulls), "nulls": nulls,
                           "mean": None, "std": None, "min": None, "max": None, "top": []}
    if is_numeric(series) and out["count"]:
        if pd.api.types.is_datetime64_any_dtype(series.dtype) or pd.api.types.is_timedelta64_dtype(series.dtype):
            out["min"], out["max"] = _py(series.min()), _py(series.max())
            out["mean"] = _py(series.mean())
        else:
            values = numeric_values(series)
            if len(values):
                out.update(mean=_py(values.mean()), std=_py(values.std(ddof=1)) if len(values) > 1 else None,
                           min=_py(values.min()), max=_py(values.max()))
    else:
        try:
            counts = series.value_counts(dropna=True).head(TOP)
            out["top"] = [[_py(k), int(v)] for k, v in counts.items()]
        except TypeError:  # unhashable objects
            out["top"] = []
    return out


def psi_numeric(ref: "np.ndarray", new: "np.ndarray") -> float | None:
    """PSI over 10 bins at the reference's deciles; both arrays must be sorted."""
    import numpy as np

    if len(ref) == 0 or len(new) == 0:
        return None
    positions = np.linspace(0, 1, BINS + 1)[1:-1] * (len(ref) - 1)
    edges = np.unique(ref[np.round(positions).astype(np.int64)])
    p = np.diff(np.concatenate([[0], np.searchsorted(ref, edges, side="right"), [len(ref)]])) / len(ref)
    q = np.diff(np.concatenate([[0], np.searchsorted(new, edges, side="right"), [len(new)]])) / len(new)
    return _psi(p, q)


def _psi(p: "np.ndarray", q: "np.ndarray") -> float:
    import numpy as np

    p = np.maximum(p, EPS)
    q = np.maximum(q, EPS)
    return float(np.sum((q - p) * np.log(q / p)))


def psi_categorical(ref: "pd.Series", new: "pd.Series") -> float | None:
    import numpy as np

    ref_counts = _counts(ref)
    new_counts = _counts(new)
    if ref_counts.sum() == 0 or new_counts.sum() == 0:
        return None
    keep = list(ref_counts.index[:MAX_CATEGORIES])
    keep += [k for k in new_counts.index[:MAX_CATEGORIES] if k not in set(keep)][: MAX_CATEGORIES]
    p = np.array([ref_counts.get(k, 0) for k in keep] + [ref_counts.drop(keep, errors="ignore").sum()], float)
    q = np.array([new_counts.get(k, 0) for k in keep] + [new_counts.drop(keep, errors="ignore").sum()], float)
    return _psi(p / p.sum(), q / q.sum())


def _counts(series: "pd.Series") -> "pd.Series":
    """Value counts keyed by plain Python values (categories, strings, bools; NaN/None as None)."""
    counts = series.value_counts(dropna=False)
    index = counts.index
    missing = index.isna()
    if missing.any():
        counts.index = index.astype(object).where(~missing, None)
        return counts.groupby(level=0, dropna=False).sum()
    return counts


def ks(ref: "np.ndarray", new: "np.ndarray", block: int = 1 << 20) -> tuple[float | None, float | None]:
    """Two-sample KS statistic and asymptotic two-sided p-value of two *sorted* arrays.

    Same result as ``scipy.stats.ks_2samp(ref, new, method="asymp")``, evaluated in blocks so
    the extra memory is a few blocks instead of several copies of both samples.
    """
    import numpy as np

    n1, n2 = len(ref), len(new)
    if n1 == 0 or n2 == 0:
        return None, None
    d = 0.0
    for data in (ref, new):
        for start in range(0, len(data), block):
            x = data[start:start + block]
            gap = np.searchsorted(ref, x, side="right") / n1 - np.searchsorted(new, x, side="right") / n2
            d = max(d, float(np.abs(gap).max()))
    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = m * n / (m + n)
    if en > 10_000:  # Kolmogorov's limit distribution: same p-value to ~4 digits, much faster
        from scipy.stats import kstwobign

        return d, float(np.clip(kstwobign.sf(d * np.sqrt(en)), 0, 1))
    from scipy.stats import kstwo

    return d, float(np.clip(kstwo.sf(d, np.round(en)), 0, 1))


def column_drift(ref: "pd.Series", new: "pd.Series") -> dict:
    """PSI for every column, KS for numeric ones."""
    if is_numeric(ref) and is_numeric(new):
        a, b = numeric_values(ref), numeric_values(new)  # fresh copies: sorting in place is safe
        a.sort()
        b.sort()
        statistic, pvalue = ks(a, b)
        return {"kind": "numeric", "psi": psi_numeric(a, b), "ks": statistic, "ks_pvalue": pvalue}
    try:
        return {"kind": "categorical", "psi": psi_categorical(ref, new), "ks": None, "ks_pvalue": None}
    except TypeError:
        return {"kind": "other", "psi": None, "ks": None, "ks_pvalue": None}
