"""Monitoring a registered model: a new batch's drift against the model's training data, the model's
quality over the scored batches whose outcomes arrived, and, when a threshold is crossed, retraining
through papermill, registering the result as ``challenger`` and comparing it with the champion."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nbtrack.errors import InvalidValueError
from nbtrack.registry._champion import ModelComparison, compare_models
from nbtrack.registry._outcomes import OUTCOMES_KIND
from nbtrack.registry._quality import METRICS, higher_is_better
from nbtrack.registry._registry import ModelVersion, get_model, register_model, set_model_alias
from nbtrack.registry._score import _read_batch
from nbtrack.store import resolve_store
from nbtrack.store import runs as db

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from nbtrack.data._drift import DriftReport
    from nbtrack.store import Store, StoreLike

MONITOR_KIND = "monitor"
TRAINING = "training"
#: A column is also flagged when its share of missing values rises by more than this (absolute).
MAX_MISSING_RISE = 0.05
#: ... or when more than this share of its values are categories the training data never had.
MAX_UNSEEN = 0.05
#: A numeric column over the PSI threshold is flagged only if the KS test's p-value is below this.
NOISE_P = 0.01


@dataclass
class MonitorReport:
    """What one monitoring run found: ``drift`` (a :class:`DriftReport` with missing-value rates and unseen
    categories per column), ``quality`` (one row per scored batch with outcomes, oldest first),
    ``alerts`` (each threshold crossed, in words), and what was done about it (``retrained``,
    ``comparison``). ``exit_code`` is what ``nbtrack monitor`` exits with: 0 fine, 1 an alert."""

    run_id: str
    model: str
    drift: DriftReport
    quality: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    retrained: str | None = None  # the challenger's spec
    comparison: ModelComparison | None = None

    @property
    def exit_code(self) -> int:
        return 1 if self.alerts else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "model": self.model,
            "drift": self.drift.to_dict(),
            "quality": self.quality,
            "alerts": self.alerts,
            "retrained": self.retrained,
            "comparison": self.comparison.to_dict() if self.comparison else None,
            "exit_code": self.exit_code,
        }

    def summary(self) -> str:
        lines = [f"monitor {self.model} (run {self.run_id[-8:]})", "drift: " + self.drift.summary()]
        noise = [f"{c} (PSI {d['psi']:.3f}, KS p={d['ks_pvalue']:.2f})" for c, d in self.drift.columns.items()
                 if d.get("noise")]  # fmt: skip
        if noise:
            lines.append("PSI over the threshold but within sampling noise: " + ", ".join(noise))
        if self.quality:
            lines.append("quality by batch (scored, rows with outcomes, metrics):")
            for row in self.quality:
                values = ", ".join(f"{m}={v:.4f}" for m, v in row["metrics"].items())
                lines.append(f"  {row['scored'][:19]}  {row['matched']:>7}  {values}")
        else:
            lines.append("quality: no outcomes logged yet (nbtrack models outcomes BATCH_RUN FILE)")
        lines += [f"ALERT: {a}" for a in self.alerts] or ["no alert"]
        if self.retrained:
            lines.append(f"retrained: {self.retrained} (alias challenger)")
        if self.comparison:
            lines.append(self.comparison.summary())
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """IPython shows the summary (``%track monitor``, a report as a cell's last value)."""
        printer.text(self.summary())


def _sources(store: Store, version: ModelVersion, data: Any, against: Any) -> tuple[Any, Any, dict, dict, set]:
    """The batch and reference as column sources, how each is named, and the key columns of both."""
    from nbtrack.data import get_version
    from nbtrack.data._diff import _VersionSource
    from nbtrack.data._drift import FrameSource, _model_reference, _reference, mapped_reads

    reading = mapped_reads(store)  # each column reads every chunk of its version
    if isinstance(data, str) and not os.path.isfile(data) and "." not in os.path.basename(data):
        name, _, number = data.rpartition("@") if "@" in data else (data, "", "")
        current = get_version(name, int(number) if number.isdigit() else None, store=store)
        new: Any = _VersionSource(reading, current.name, current.version)
        batch = {"name": current.name, "dataset": current.name, "version": current.version, "key": current.key}
    else:
        frame, batch = _read_batch(data, store)
        new = FrameSource(frame)
        batch = {**batch, "key": None, "frame": frame}
    prefer = batch["dataset"] or next((d["dataset"] for d in version.lineage.get("data", []) if d["dataset"]), "")
    if against is None or against == TRAINING:
        ref_name, ref_version, run_id = _model_reference(prefer, version)
    else:
        ref_name, ref_version, run_id = _reference(store, prefer, against)
    ref = get_version(ref_name, ref_version, store=store)
    reference = {"dataset": ref.name, "version": ref.version, "run_id": run_id}
    keys = {str(k) for k in (batch["key"] or []) + (ref.key or [])}
    return _VersionSource(reading, ref.name, ref.version), new, batch, reference, keys


def _sampling_noise(checked: dict) -> None:
    """Unflag a numeric column whose PSI is over the threshold but whose KS test does not tell the two
    samples apart (p >= ``NOISE_P``): with small batches PSI alone is noisy (about 9 x (1/n + 1/m) expected
    with no drift at all: 0.13 for 100 rows against 250). Marked ``noise`` in the report."""
    for found in checked.values():
        pvalue = found.get("ks_pvalue")
        if found["flagged"] and found["kind"] == "numeric" and pvalue is not None and pvalue >= NOISE_P:
            found["flagged"], found["noise"] = False, True


def _missing_and_unseen(a: pd.Series, b: pd.Series, kind: str) -> dict[str, float | None]:
    """The missing-value rates of a column's two sides and, for categories, the share of the batch's values
    the training side lacks (measured while :func:`compare_sources` holds both sides)."""
    import pandas as pd

    found: dict[str, float | None] = {
        "missing_ref": float(a.isna().mean()) if len(a) else 0.0,
        "missing_new": float(b.isna().mean()) if len(b) else 0.0,
        "unseen": None,
    }
    if kind == "categorical":
        known = pd.unique(a.dropna())
        values = b.dropna()
        found["unseen"] = float((~values.isin(known)).mean()) if len(values) else 0.0
    return found


def _flag_missing_and_unseen(measured: dict[str, dict], checked: dict, alerts: list[str]) -> None:
    """Add the missing-value rates and shares of unseen categories to each checked column; flag rises."""
    for column, found in checked.items():
        found.update(measured[column])
        rise = found["missing_new"] - found["missing_ref"]
        if rise > MAX_MISSING_RISE:
            found["flagged"] = True
            alerts.append(f"{column}: missing values {found['missing_ref']:.1%} -> {found['missing_new']:.1%}")
        if found["unseen"] is not None and found["unseen"] > MAX_UNSEEN:
            found["flagged"] = True
            alerts.append(f"{column}: {found['unseen']:.1%} of the values are categories the training data lacks")


def quality_over_time(store: Store, version: ModelVersion) -> list[dict[str, Any]]:
    """One row per scored batch of ``version`` with outcomes (the latest outcomes run of each), in the
    order the batches were scored: batch_run, outcomes_run, scored (ISO time), matched, metrics."""
    from nbtrack.reading import list_runs

    where = (
        f"kind = '{OUTCOMES_KIND}' and tags.`nbtrack.model` = '{version.model}' "
        f"and tags.`nbtrack.model_version` = '{version.version}' and status = 'ok'"
    )
    latest: dict[str, dict[str, Any]] = {}
    for row in list_runs(where=where, order_by="start", limit=None, store=store)[1]:  # later runs replace earlier
        values = row["metrics"]
        latest[str(row["parent_id"])] = {
            "batch_run": row["parent_id"],
            "outcomes_run": row["run_id"],
            "scored": None,
            "matched": int(values.get("matched") or 0),
            "metrics": {m: values[m] for m in METRICS if values.get(m) is not None},
        }
    if not latest:
        return []
    scored = {r["run_id"]: r["start"] for r in list_runs(where=f"kind = 'score' and tags.`nbtrack.model` = "
                                                               f"'{version.model}'", limit=None, store=store)[1]}  # fmt: skip
    for row in latest.values():
        row["scored"] = scored.get(row["batch_run"]) or ""
    return sorted(latest.values(), key=lambda r: r["scored"])


def _quality_alerts(rows: list[dict[str, Any]], max_drop: float) -> list[str]:
    """A metric of the latest batch worse than the first batch's by more than ``max_drop``."""
    if len(rows) < 2:
        return []
    first, last = rows[0]["metrics"], rows[-1]["metrics"]
    alerts = []
    for metric in first.keys() & last.keys():
        drop = (first[metric] - last[metric]) * (1 if higher_is_better(metric) else -1)
        if drop > max_drop:
            alerts.append(
                f"{metric} {first[metric]:.4f} (first batch) -> {last[metric]:.4f} (latest): worse by {drop:.4f} "
                f"> {max_drop}"
            )
    return alerts


def monitor(
    model: str,
    data: Any,
    *,
    against: Any = TRAINING,
    threshold: float = 0.2,
    columns: list[str] | None = None,
    exclude: list[str] | None = None,
    max_drop: float = 0.05,
    quality: str | None = None,
    retrain: str | os.PathLike | None = None,
    data_param: str = "data",
    artifact: str | None = None,
    holdout: Any = None,
    label: str | None = None,
    slices: str | None = None,
    promote_if: str | None = None,
    trusted: bool = False,
    store: StoreLike | None = None,
) -> MonitorReport:
    """Check a registered model on a new batch, as a run of kind ``monitor``; returns a :class:`MonitorReport`.

    **Drift**: ``data`` (a stored version, ``.parquet``/``.csv`` file or DataFrame) against ``against``:
    ``"training"`` (the data version the model's lineage says it was trained on), a run, a model version
    or a data version ``name@N``. Keys, IDs, dates, constant and monotonic columns are left out as in
    :func:`nbtrack.drift` (``columns``/``exclude`` choose); a column is flagged when its PSI exceeds
    ``threshold`` (for numbers, only when the KS test also tells the samples apart, p < 0.01: small
    batches make PSI noisy), its share of missing values rises by more than 0.05, or more than 5 % of its
    values are categories the reference lacks. **Quality**: the metrics of every scored batch of this version whose
    outcomes were logged (:func:`nbtrack.log_outcomes`), oldest first; an alert when the latest batch is
    worse than the first by more than ``max_drop``, or when the latest outcomes run does not meet
    ``quality`` (query language: ``"metrics.auc >= 0.8"``).

    On an alert with ``retrain`` (a training notebook), the notebook runs through papermill
    (:func:`nbtrack.run_notebook`) with ``data_param`` set to the batch, its model is registered as the
    next version with alias ``challenger`` and, with ``holdout``, compared with the monitored version
    (:func:`nbtrack.compare_models`: ``label``, ``slices``, ``promote_if``; ``trusted=True`` needed).

    Example::

        report = nbtrack.monitor("churn@champion", "transactions@12", retrain="train.ipynb",
                                 holdout="holdout@1", promote_if="challenger.auc >= champion.auc + 0.01",
                                 trusted=True)
        report.alerts, report.exit_code
    """
    from nbtrack.data import fingerprint
    from nbtrack.data._drift import DriftReport, compare_sources
    from nbtrack.store import query
    from nbtrack.tracking import start_run

    store = resolve_store(store, create=False)
    if promote_if is not None and (retrain is None or holdout is None):
        raise InvalidValueError("promote_if needs retrain= and holdout= (CLI --retrain and --holdout).")
    if quality:
        query.compile_where(quality)  # a condition that does not parse fails before anything runs
    version = get_model(model, store=store)
    ref, new, batch, reference, keys = _sources(store, version, data, against)
    measured: dict[str, dict] = {}

    def measure(column: Any, a: pd.Series, b: pd.Series, found: dict) -> None:
        measured[column] = _missing_and_unseen(a, b, found["kind"])

    checked, excluded = compare_sources(ref, new, keys, threshold, columns, exclude, inspect=measure)
    if not checked:
        raise InvalidValueError(
            f"No column of the batch is left to check for drift (not checked: "
            f"{'; '.join(f'{c} ({why})' for c, why in excluded.items()) or 'no common column'}): name the "
            "columns to check with columns= (CLI --columns)."
        )
    _sampling_noise(checked)
    alerts = [f"{c}: PSI {d['psi']:.3f} > {threshold}" for c, d in checked.items() if d["flagged"]]
    _flag_missing_and_unseen(measured, checked, alerts)
    drift = DriftReport(batch["name"], batch["version"], reference, threshold, checked, excluded)
    rows = quality_over_time(store, version)
    alerts += _quality_alerts(rows, max_drop)
    if quality and rows and not db.run_matches(store, rows[-1]["outcomes_run"], quality):
        alerts.append(f"the latest batch with outcomes does not meet {quality!r} ({rows[-1]['metrics']})")
    with start_run(
        f"monitor {version.spec}",
        kind=MONITOR_KIND,
        params={"model": version.model, "model_version": version.version, "data": str(batch["name"]),
                "against": f"{reference['dataset']}@{reference['version']}", "threshold": threshold},
        tags={"nbtrack.model": version.model, "nbtrack.model_version": str(version.version)},
        store=store,
    ) as run:  # fmt: skip
        frame = batch.get("frame")
        run.record_data("input", fingerprint(frame) if frame is not None else _fingerprint(store, batch),
                        name=str(batch["name"]), dataset=batch["dataset"], version=batch["version"])  # fmt: skip
        run.log_metrics({"drifted_columns": len(drift.flagged), "alerts": len(alerts)})
        run.log_metrics({f"psi.{c}": d["psi"] for c, d in checked.items() if d["psi"] is not None})
        if rows:
            run.log_metrics({f"latest.{m}": v for m, v in rows[-1]["metrics"].items()})
        _figures(run, ref, new, drift, rows)
        report = MonitorReport(run.run_id, version.spec, drift, rows, alerts)
        if alerts and retrain is not None:
            report.retrained = _retrain(store, version, data, batch, retrain, data_param, artifact, run.run_id)
            if holdout is not None:
                report.comparison = compare_models(
                    model, report.retrained, holdout, label=label, slices=slices, promote_if=promote_if,
                    trusted=trusted, store=store,
                )  # fmt: skip
        run.log_text("monitor.json", json.dumps(report.to_dict(), indent=2, default=str))
    return report


def _fingerprint(store: Store, batch: dict[str, Any]) -> str:
    from nbtrack.data import get_version

    return get_version(batch["dataset"], batch["version"], store=store).fingerprint


def _retrain(
    store: Store, version: ModelVersion, data: Any, batch: dict, notebook: Any, param: str, artifact, monitor_run: str
) -> str:
    """Run the training notebook on the batch, register its model as the next version, alias ``challenger``."""
    from nbtrack.production.execute import run_notebook

    value = os.path.abspath(data) if isinstance(data, str) and os.path.isfile(data) else data
    if not isinstance(value, str):
        raise InvalidValueError(
            "Retraining passes the batch to the notebook as a parameter: give the batch as a file path or a "
            "stored version name@N, not a DataFrame."
        )
    where = f"{batch['dataset']}@{batch['version']}" if batch["dataset"] else batch["name"]
    result = run_notebook(notebook, {param: value}, name=f"retrain {version.model} on {where}", parent=monitor_run,
                          store=store, tags={"nbtrack.model": version.model})  # fmt: skip
    reason = f"retrained by monitor run {monitor_run[-8:]} on {where} after drift or a quality drop"
    new = register_model(result.run_id, version.model, artifact, store=store, description=reason)
    set_model_alias(version.model, new.version, "challenger", reason=reason, store=store)
    return new.spec


def _histograms(axes: Any, training: np.ndarray, batch: np.ndarray, bins: int = 30) -> None:
    """``axes.hist([training, batch], bins=30, density=True)``, the same bars, with the counting done by
    numpy's equal-width histogram: matplotlib's own concatenates both sides and bins them against an
    array of edges, which sorts them (4 s for 10 M values against 10 M)."""
    import numpy as np

    labels = ["training", "batch"]
    if not len(training) or not len(batch):  # a side with no value (flagged for its missing values)
        shown = [(side, label) for side, label in zip((training, batch), labels) if len(side)]
        if shown:
            axes.hist([side for side, _ in shown], bins=bins, density=True, label=[label for _, label in shown])
        return
    span = (min(training.min(), batch.min()), max(training.max(), batch.max()))  # matplotlib's range
    counts = [np.histogram(side, bins=bins, range=span) for side in (training, batch)]
    edges = counts[0][1]
    axes.hist([edges[:-1], edges[:-1]], bins=edges, weights=[c[0] for c in counts], density=True, label=labels)


#: At most this many drifting columns get a figure.
MAX_FIGURES = 6


def _figures(run: Any, ref: Any, new: Any, drift: DriftReport, rows: list[dict[str, Any]]) -> None:
    """A figure per drifting column (training against batch) and one of the metrics over batches, as
    artifacts of the monitoring run; nothing when matplotlib is not installed."""
    try:
        from matplotlib.figure import Figure
    except ImportError:  # matplotlib is optional (the demo extra): the report says everything in numbers
        return
    for column in drift.flagged[:MAX_FIGURES]:
        figure = Figure(figsize=(5, 3))
        axes = figure.subplots()
        a, b = ref.series(column).dropna(), new.series(column).dropna()
        if drift.columns[column]["kind"] == "numeric":
            _histograms(axes, a.to_numpy(float), b.to_numpy(float))
        else:
            shares = [a.astype(str).value_counts(normalize=True), b.astype(str).value_counts(normalize=True)]
            top = list(dict.fromkeys([*shares[0].index[:10], *shares[1].index[:10]]))
            for offset, (share, name) in enumerate(zip(shares, ("training", "batch"))):
                axes.bar([i + 0.4 * offset for i in range(len(top))], [share.get(t, 0.0) for t in top], 0.4, label=name)
            axes.set_xticks([i + 0.2 for i in range(len(top))], top, rotation=45, ha="right")
        psi = drift.columns[column]["psi"]  # None when one side has no value (flagged for its missing values)
        axes.set_title(f"{column}: PSI {psi:.3f}" if psi is not None else f"{column}: no PSI (a side has no value)")
        axes.legend()
        figure.tight_layout()
        run.log_figure(figure, f"drift-{column}.png")
    if rows:
        figure = Figure(figsize=(6, 3))
        axes = figure.subplots()
        for metric in dict.fromkeys(m for row in rows for m in row["metrics"]):
            axes.plot(range(1, len(rows) + 1), [r["metrics"].get(metric) for r in rows], marker="o", label=metric)
        axes.set_xlabel("scored batch")
        axes.set_title("quality over batches")
        axes.legend()
        figure.tight_layout()
        run.log_figure(figure, "quality.png")
