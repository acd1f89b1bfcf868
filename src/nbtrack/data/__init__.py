"""DataFrame versions: snapshot, load, diff, drift and lineage of pandas DataFrames.

::

    v = nbtrack.snapshot(df, "customers", key="id", message="March export")
    df2 = nbtrack.load("customers")            # latest version, exactly equal to df
    nbtrack.diff("customers", 1, 2)            # schema, rows, statistics, drift
    nbtrack.drift("customers", 3, against=run_id)

Versions are stored as compressed Arrow chunks shared between versions (see docs/data.md).
Heavy modules (pandas, pyarrow, scipy) are imported only when a function runs.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "snapshot": "_snapshot", "load": "_versions", "datasets": "_versions", "versions": "_versions",
    "DataVersion": "_versions",
    "get_version": "_versions", "match_fingerprint": "_versions", "export": "_versions",
    "list_datasets": "_versions", "list_versions": "_versions",
    "fingerprint": "_frame",
    "diff": "_diff", "DataDiff": "_diff", "compare": "_diff",
    "drift": "_drift", "DriftReport": "_drift",
    "lineage": "_lineage", "Lineage": "_lineage",
    "UnsupportedDataError": "errors", "DatasetNotFoundError": "errors", "DataValidationError": "errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'nbtrack.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
