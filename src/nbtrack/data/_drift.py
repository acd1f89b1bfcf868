"""Drift monitoring: compare a data version with the data a run trained on.

``nbtrack.drift("customers", 5, against=run_id)`` finds the version of ``customers`` the run
read (its recorded inputs, matched by fingerprint) and flags columns whose PSI exceeds
``threshold``. ``against`` may also be a version number or ``"name@3"``.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nbtrack.data import _compare
from nbtrack.data._diff import _VersionSource
from nbtrack.data._versions import _store, get_version
from nbtrack.errors import DatasetNotFoundError, InvalidValueError
from nbtrack.store import datasets as _dal

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from nbtrack.store import Store


@dataclass
class DriftReport:
    """Per-column drift of ``name@version`` against a reference version."""

    name: str
    version: int
    reference: dict  # {"dataset", "version", "run_id" (or None)}
    threshold: float
    columns: dict  # column -> {kind, psi, ks, ks_pvalue, flagged}

    @property
    def flagged(self) -> list[str]:
        """Columns whose PSI is above the threshold."""
        return [c for c, d in self.columns.items() if d["flagged"]]

    @property
    def ok(self) -> bool:
        return not self.flagged

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "version": self.version,
            "reference": self.reference,
            "threshold": self.threshold,
            "columns": self.columns,
            "flagged": self.flagged,
        }

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(
            [{"column": c, **d} for c, d in self.columns.items()],
            columns=["column", "kind", "psi", "ks", "ks_pvalue", "flagged"],
        )

    def summary(self) -> str:
        ref = self.reference
        against = f"{ref['dataset']}@{ref['version']}" + (
            f" (read by run {ref['run_id'][-8:]})" if ref.get("run_id") else ""
        )
        head = f"{self.name}@{self.version} against {against}: "
        if self.ok:
            return head + f"no column over PSI {self.threshold}"
        return (
            head + ", ".join(f"{c} PSI={self.columns[c]['psi']:.3f}" for c in self.flagged) + f" over {self.threshold}"
        )

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        rows = "".join(
            "<tr>"
            + "".join(
                f"<td>{html.escape(_fmt(v))}</td>"
                for v in (c, d["kind"], d["psi"], d["ks"], d["ks_pvalue"], "yes" if d["flagged"] else "")
            )
            + "</tr>"
            for c, d in self.columns.items()
        )
        return (
            f"<div class='nbtrack-drift'><p>{html.escape(self.summary())}</p><table><thead><tr><th>column</th>"
            f"<th>kind</th><th>PSI</th><th>KS</th><th>KS p-value</th><th>flagged</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></div>"
        )


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def drift(
    name: str, version: int | str | None = None, *, against: Any, threshold: float = 0.2, store: Store | None = None
) -> DriftReport:
    """Compare ``name@version`` (default latest) with ``against`` and flag columns with PSI > ``threshold``.

    ``against``: a run (id, prefix or Run) whose recorded input of this dataset is the reference,
    a version number, or ``"name@N"``.

    Example::

        report = nbtrack.drift("customers", against=training_run_id)
        report.flagged        # ['income']
    """
    store = _store(store)
    current = get_version(name, version, store=store)
    ref_name, ref_version, run_id = _reference(store, name, against)
    ref = get_version(ref_name, ref_version, store=store)
    # one column of each version at a time, like diff: never both versions whole in memory
    source_ref = _VersionSource(store, ref.name, ref.version)
    source_new = _VersionSource(store, current.name, current.version)
    in_new = set(source_new.names)
    columns = {}
    for column in source_ref.names:
        if column not in in_new:
            continue
        result = _compare.column_drift(source_ref.series(column), source_new.series(column))
        result["flagged"] = bool(result["psi"] is not None and result["psi"] > threshold)
        columns[column] = result
    return DriftReport(
        current.name,
        current.version,
        {"dataset": ref.name, "version": ref.version, "run_id": run_id},
        threshold,
        columns,
    )


def _reference(store: Store, name: str, against: Any) -> tuple[str, int, str | None]:
    if hasattr(against, "run_id"):
        against = against.run_id
    if hasattr(against, "version") and hasattr(against, "name"):
        return against.name, against.version, None
    if isinstance(against, int) or (isinstance(against, str) and against.isdigit() and len(against) < 10):
        return name, int(against), None
    if isinstance(against, str) and "@" in against:
        ref_name, number = against.rsplit("@", 1)
        if not number.isdigit():
            raise InvalidValueError(f"against={against!r}: the version after @ must be a number, e.g. {ref_name}@3.")
        return ref_name, int(number), None
    run_id = store.resolve_run_id(str(against))
    inputs = _dal.run_input_versions(store, run_id)
    known = [(i.dataset, i.version) for i in inputs if i.dataset is not None and i.version is not None]
    same = [(d, v) for d, v in known if d == name]
    if same or known:
        dataset, number = (same or known)[-1]
        return dataset, int(number), run_id
    raise DatasetNotFoundError(
        f"Run {run_id[-8:]} read no stored data version ({len(inputs)} unversioned input(s)); snapshot the "
        "training data with nbtrack.snapshot(df, name) before training, or pass against='name@N'."
    )
