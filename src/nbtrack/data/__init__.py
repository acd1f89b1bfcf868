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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nbtrack.data._diff import DataDiff, compare, diff
    from nbtrack.data._drift import DriftReport, drift
    from nbtrack.data._fingerprint import fingerprint
    from nbtrack.data._lineage import Lineage, lineage
    from nbtrack.data._snapshot import snapshot
    from nbtrack.data._versions import (
        DataVersion,
        datasets,
        export,
        get_version,
        list_datasets,
        list_versions,
        load,
        match_fingerprint,
        pin_versions,
        versions,
    )
    from nbtrack.errors import DatasetNotFoundError, DataValidationError, UnsupportedDataError

_EXPORTS = {
    "snapshot": "nbtrack.data._snapshot",
    "load": "nbtrack.data._versions",
    "datasets": "nbtrack.data._versions",
    "versions": "nbtrack.data._versions",
    "DataVersion": "nbtrack.data._versions",
    "get_version": "nbtrack.data._versions",
    "match_fingerprint": "nbtrack.data._versions",
    "pin_versions": "nbtrack.data._versions",
    "export": "nbtrack.data._versions",
    "list_datasets": "nbtrack.data._versions",
    "list_versions": "nbtrack.data._versions",
    "fingerprint": "nbtrack.data._fingerprint",
    "diff": "nbtrack.data._diff",
    "DataDiff": "nbtrack.data._diff",
    "compare": "nbtrack.data._diff",
    "drift": "nbtrack.data._drift",
    "DriftReport": "nbtrack.data._drift",
    "lineage": "nbtrack.data._lineage",
    "Lineage": "nbtrack.data._lineage",
    "UnsupportedDataError": "nbtrack.errors",
    "DatasetNotFoundError": "nbtrack.errors",
    "DataValidationError": "nbtrack.errors",
}

__all__ = [
    "DataDiff",
    "DataValidationError",
    "DataVersion",
    "DatasetNotFoundError",
    "DriftReport",
    "Lineage",
    "UnsupportedDataError",
    "compare",
    "datasets",
    "diff",
    "drift",
    "export",
    "fingerprint",
    "get_version",
    "lineage",
    "list_datasets",
    "list_versions",
    "load",
    "match_fingerprint",
    "pin_versions",
    "snapshot",
    "versions",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'nbtrack.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
