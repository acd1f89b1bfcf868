"""Champion against challenger: two model versions evaluated on the same holdout (overall and per slice)
as a recorded run of kind ``compare``, and ``promote_if`` conditions that move the champion alias."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from nbtrack.errors import InvalidValueError
from nbtrack.registry._quality import quality, task_of
from nbtrack.registry._registry import ModelVersion, get_model, load_model, parse_spec, set_model_alias
from nbtrack.registry._score import _read_batch, predictions
from nbtrack.store import query, resolve_store
from nbtrack.store import runs as db

if TYPE_CHECKING:
    import pandas as pd

    from nbtrack.store import StoreLike

COMPARE_KIND = "compare"
ROLES = ("champion", "challenger")
#: ``challenger.auc >= champion.auc + 0.01``: a metric of one side against the same metric of the other.
_PAIR = re.compile(
    r"\b(champion|challenger)\.(\w+)\s*(>=|<=|==|!=|<>|=|<|>)\s*(champion|challenger)\.(\w+)"
    r"(?:\s*([+-])\s*(\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+))?"
)
_NAME = re.compile(r"(?<![\w.`])((?:worst\.|spread\.)?(?:champion|challenger|diff)\.\w+)\b")
_FLIP = {">=": "<=", "<=": ">=", ">": "<", "<": ">", "=": "=", "==": "==", "!=": "!=", "<>": "<>"}


@dataclass
class ModelComparison:
    """Champion and challenger on one holdout: metrics of each, their difference (challenger minus
    champion), per slice with the spread, and whether the challenger was promoted (and why or why not)."""

    run_id: str
    champion: str
    challenger: str
    holdout: str
    task: str
    rows: int
    metrics: dict[str, dict[str, float]]  # {"champion": {...}, "challenger": {...}, "diff": {...}}
    slices: dict[str, dict[str, Any]] = field(default_factory=dict)  # value -> {"rows", "champion", ...}
    slice_column: str | None = None
    promoted: bool = False
    decision: str = "no promotion condition given: promotion stays a person's decision"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        lines = [
            f"{self.challenger} (challenger) against {self.champion} (champion) on {self.holdout}, {self.rows} rows:"
        ]
        for metric, diff in self.metrics["diff"].items():
            lines.append(
                f"  {metric:<9} champion {self.metrics['champion'][metric]:.4f}  challenger "
                f"{self.metrics['challenger'][metric]:.4f}  difference {diff:+.4f}"
            )
        if self.slices:
            lines.append(f"by {self.slice_column}:")
            for value, found in self.slices.items():
                diffs = ", ".join(f"{m} {d:+.4f}" for m, d in found["diff"].items())
                lines.append(f"  {value!s:<12} {found['rows']:>6} rows  {diffs}")
            spread = self.metrics.get("spread", {})
            if spread:
                lines.append("  spread of the difference: " + ", ".join(f"{m} {v:.4f}" for m, v in spread.items()))
        lines.append(("promoted: " if self.promoted else "not promoted: ") + self.decision)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def condition_as_query(condition: str) -> str:
    """A ``promote_if`` condition in the query language, over the comparison run's metrics:
    ``challenger.auc >= champion.auc + 0.01`` becomes ``metrics.`diff.auc` >= 0.01``; a lone
    ``challenger.auc``, ``champion.auc``, ``diff.auc``, ``worst.diff.auc`` or ``spread.diff.auc`` becomes
    ``metrics.`...```; ``and``, ``or``, ``not`` and parentheses are the query language's."""

    def pair(match: re.Match) -> str:
        left, metric, op, right, other, sign, number = match.groups()
        if metric != other or left == right:
            raise InvalidValueError(
                f"promote_if compares {left}.{metric} with {right}.{other}: compare one metric of the challenger "
                "with the same metric of the champion, e.g. 'challenger.auc >= champion.auc + 0.01'."
            )
        offset = float(number or 0) * (-1 if sign == "-" else 1)
        if left == "champion":  # champion.m op challenger.m + c  <=>  diff.m (flipped op) -c
            op, offset = _FLIP[op], -offset
        return f"metrics.`diff.{metric}` {op} {offset!r}"

    rewritten = _PAIR.sub(pair, condition)
    return _NAME.sub(lambda m: f"metrics.`{m.group(1)}`", rewritten)


def _holdout_label(holdout: pd.DataFrame, models: list[Any], keys: list[str], label: str | None) -> str:
    if label is not None:
        if label not in holdout.columns:
            raise InvalidValueError(f"label={label!r} is not a column of the holdout; it has: {', '.join(holdout)}.")
        return label
    features = {str(n) for m in models for n in getattr(m, "feature_names_in_", [])}
    left = [str(c) for c in holdout.columns if str(c) not in features and str(c) not in keys]
    if len(left) != 1:
        raise InvalidValueError(
            f"Which column of the holdout holds the true outcomes? Besides the models' features it has: "
            f"{', '.join(left) or 'nothing'}. Name it with label= (CLI --label)."
        )
    return left[0]


def _evaluate(model: Any, frame: pd.DataFrame, label: str, slices, version: ModelVersion, task) -> tuple:
    """The model's predictions on the holdout and its task. The slice column is a feature only when the
    model was fitted on it (``feature_names_in_``); without names it is left out like a key."""
    predicted = predictions(model, frame.drop(columns=[label]), [slices] if slices else [])
    kind = task_of(predicted, version.lineage.get("model", {}).get("class"), task)
    return predicted, kind


def compare_models(
    champion: str,
    challenger: str,
    holdout: Any,
    *,
    label: str | None = None,
    slices: str | None = None,
    task: str | None = None,
    promote_if: str | None = None,
    trusted: bool = False,
    store: StoreLike | None = None,
) -> ModelComparison:
    """Evaluate two versions of a model on the same holdout, as a run of kind ``compare``.

    ``holdout`` is a DataFrame, a ``.parquet``/``.csv`` file or a stored version holding the models'
    features and the true outcome (``label``; default: the one column that is neither a feature nor the
    slice column). ``slices`` names a column: the metrics per value of it, with the spread of the
    difference, so a challenger that wins on average but loses badly on one group shows. ``promote_if``
    (``"challenger.auc >= champion.auc + 0.01"``, see :func:`condition_as_query`) moves the champion's alias
    (the alias in ``champion``'s spec, else ``champion``) to the challenger when it holds, recording the
    comparison in the alias history; otherwise nothing moves and ``decision`` says why. Both models are
    unpickled: ``trusted=True`` is required.

    Example::

        result = nbtrack.compare_models("churn@champion", "churn@challenger", "customers@9", label="churned",
                                        slices="region", promote_if="challenger.auc >= champion.auc + 0.01",
                                        trusted=True)
    """
    from nbtrack.tracking import start_run

    store = resolve_store(store, create=False)
    condition = condition_as_query(promote_if) if promote_if else None
    if condition is not None:
        query.compile_where(condition)  # a condition that does not parse fails before anything runs
    versions = [get_model(champion, store=store), get_model(challenger, store=store)]
    if versions[0].model != versions[1].model:
        raise InvalidValueError(
            f"{champion} and {challenger} are versions of different models: compare two versions of one model."
        )
    fitted = [load_model(v.spec, trusted=trusted, store=store) for v in versions]
    frame, source = _read_batch(holdout, store)
    if slices is not None and slices not in frame.columns:
        raise InvalidValueError(f"slices={slices!r} is not a column of the holdout; it has: {', '.join(frame)}.")
    target = _holdout_label(frame, fitted, [slices] if slices else [], label)
    where = f"{source['dataset']}@{source['version']}" if source["dataset"] else source["name"]
    with start_run(
        f"compare {versions[1].spec} with {versions[0].spec}",
        kind=COMPARE_KIND,
        params={"champion": versions[0].spec, "challenger": versions[1].spec, "holdout": where, "label": target},
        tags={"nbtrack.model": versions[0].model, **({"nbtrack.slices": slices} if slices else {})},
        store=store,
    ) as run:
        from nbtrack.data import fingerprint

        run.record_data("input", fingerprint(frame), name=source["name"], dataset=source["dataset"],
                        version=source["version"], rows=len(frame), columns=frame.shape[1])  # fmt: skip
        result = _compare(frame, fitted, versions, target, slices, task)
        result.update(run_id=run.run_id, champion=versions[0].spec, challenger=versions[1].spec, holdout=where)
        comparison = ModelComparison(**result, slice_column=slices)
        run.log_metrics({f"{side}.{m}": v for side, found in comparison.metrics.items() for m, v in found.items()})
        run.log_text("comparison.json", json.dumps(comparison.to_dict(), indent=2, default=str))
    if promote_if and condition:
        _decide(comparison, versions, champion, promote_if, condition, store)
    return comparison


def _compare(frame: pd.DataFrame, fitted: list, versions: list[ModelVersion], label: str, slices, task) -> dict:
    scored = [_evaluate(m, frame, label, slices, v, task) for m, v in zip(fitted, versions)]
    kind = scored[0][1]
    truth = frame[label].to_numpy()

    def metrics(mask: Any = None) -> dict[str, dict[str, float]]:
        found = {}
        for role, (predicted, _) in zip(ROLES, scored):
            part = predicted if mask is None else predicted[mask]
            found[role] = quality(truth if mask is None else truth[mask], part["prediction"], part.get("score"), kind)
        common = [m for m in found["champion"] if m in found["challenger"]]
        found["diff"] = {m: found["challenger"][m] - found["champion"][m] for m in common}
        return found

    overall = metrics()
    by_slice: dict[str, dict[str, Any]] = {}
    if slices:
        for value in sorted(frame[slices].dropna().unique(), key=str):
            mask = (frame[slices] == value).to_numpy()
            by_slice[str(value)] = {"rows": int(mask.sum()), **metrics(mask)}
        for metric in overall["diff"]:
            diffs = [s["diff"][metric] for s in by_slice.values() if metric in s["diff"]]
            if diffs:
                overall.setdefault("worst", {})[f"diff.{metric}"] = min(diffs)
                overall.setdefault("spread", {})[f"diff.{metric}"] = max(diffs) - min(diffs)
    return {"task": kind, "rows": len(frame), "metrics": overall, "slices": by_slice}


def _decide(
    comparison: ModelComparison, versions: list[ModelVersion], spec: str, text: str, condition: str, store
) -> None:
    values = ", ".join(f"{name} = {_metric(comparison, name)}" for name in dict.fromkeys(_NAME.findall(text)))
    if not db.run_matches(store, comparison.run_id, condition):
        comparison.decision = f"{text!r} does not hold ({values}); {versions[0].spec} stays"
        return
    alias = parse_spec(spec)[2] or "champion"
    reason = f"promoted by comparison run {comparison.run_id[-8:]} on {comparison.holdout}: {text} ({values})"
    set_model_alias(versions[1].model, versions[1].version, alias, reason=reason, store=store)
    comparison.promoted = True
    comparison.decision = f"{text!r} holds ({values}); {versions[1].model}@{alias} -> {versions[1].version}"


def _metric(comparison: ModelComparison, name: str) -> str:
    head, _, metric = name.partition(".")
    value = comparison.metrics.get(head, {}).get(metric)
    return "not computed" if value is None else f"{value:.4f}"
