"""Column statistics and drift measures shared by diff and drift.

PSI (population stability index) = sum over bins of (p_new - p_ref) * ln(p_new / p_ref), with
proportions floored at 1e-4. Numeric columns use 10 bins at the reference's deciles (open at
both ends); categorical, string and bool columns use their values (the 50 most frequent in the
reference, the rest pooled as "other"). Rules of thumb: < 0.1 stable, 0.1-0.25 moderate, > 0.25
large shift. Numeric columns also get the two-sample Kolmogorov-Smirnov statistic and p-value
(scipy.stats.ks_2samp, asymptotic method).
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

    values = series.dropna()
    if pd.api.types.is_datetime64_any_dtype(values.dtype) or pd.api.types.is_timedelta64_dtype(values.dtype):
        return values.to_numpy().view(np.int64).astype(np.float64)
    array = values.to_numpy(dtype=np.float64, na_value=np.nan)
    return array[~np.isnan(array)]


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
    import numpy as np

    if len(ref) == 0 or len(new) == 0:
        return None
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, BINS + 1)[1:-1]))
    p = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=len(edges) + 1) / len(ref)
    q = np.bincount(np.searchsorted(edges, new, side="right"), minlength=len(edges) + 1) / len(new)
    return _psi(p, q)


def _psi(p: "np.ndarray", q: "np.ndarray") -> float:
    import numpy as np

    p = np.maximum(p, EPS)
    q = np.maximum(q, EPS)
    return float(np.sum((q - p) * np.log(q / p)))


def psi_categorical(ref: "pd.Series", new: "pd.Series") -> float | None:
    import numpy as np

    ref_counts = ref.astype(object).value_counts(dropna=False)
    new_counts = new.astype(object).value_counts(dropna=False)
    if ref_counts.sum() == 0 or new_counts.sum() == 0:
        return None
    keep = list(ref_counts.index[:MAX_CATEGORIES])
    keep += [k for k in new_counts.index[:MAX_CATEGORIES] if k not in set(keep)][: MAX_CATEGORIES]
    p = np.array([ref_counts.get(k, 0) for k in keep] + [ref_counts.drop(keep, errors="ignore").sum()], float)
    q = np.array([new_counts.get(k, 0) for k in keep] + [new_counts.drop(keep, errors="ignore").sum()], float)
    return _psi(p / p.sum(), q / q.sum())


def ks(ref: "np.ndarray", new: "np.ndarray") -> tuple[float | None, float | None]:
    if len(ref) == 0 or len(new) == 0:
        return None, None
    from scipy.stats import ks_2samp

    result = ks_2samp(ref, new, method="asymp")
    return float(result.statistic), float(result.pvalue)


def column_drift(ref: "pd.Series", new: "pd.Series") -> dict:
    """PSI for every column, KS for numeric ones."""
    if is_numeric(ref) and is_numeric(new):
        a, b = numeric_values(ref), numeric_values(new)
        statistic, pvalue = ks(a, b)
        return {"kind": "numeric", "psi": psi_numeric(a, b), "ks": statistic, "ks_pvalue": pvalue}
    try:
        return {"kind": "categorical", "psi": psi_categorical(ref, new), "ks": None, "ks_pvalue": None}
    except TypeError:
        return {"kind": "other", "psi": None, "ks": None, "ks_pvalue": None}
