"""True outcomes of a scored batch: joined to the scoring run's predictions by key, the model's quality
recorded as a run of kind ``outcomes`` (a child of the scoring run), which ``monitor`` reads over time."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from nbtrack.errors import ArtifactNotFoundError, InvalidValueError
from nbtrack.registry._quality import quality, task_of
from nbtrack.registry._registry import get_model
from nbtrack.registry._score import PARQUET, PREDICTIONS, SCORE_KIND, _read_batch, key_columns, parquet_bytes
from nbtrack.store import resolve_store
from nbtrack.store import runs as db

if TYPE_CHECKING:
    import pandas as pd

    from nbtrack.store import Store, StoreLike

OUTCOMES_KIND = "outcomes"
OUTCOMES = "outcomes.parquet"
_PREDICTED = ("prediction", "score")


def batch_run_id(store: Store, batch: Any) -> str:
    """The scoring run ``batch`` names: a run id, a run object, or the DataFrame ``nbtrack.score`` returned."""
    attrs = getattr(batch, "attrs", None)
    if isinstance(attrs, dict) and "run_id" in attrs:
        batch = attrs["run_id"]
    run_id = store.resolve_run_id(str(getattr(batch, "run_id", batch)))
    row = db.run_row(store, run_id)
    if row["kind"] != SCORE_KIND:
        raise InvalidValueError(
            f"Run {run_id[-8:]} is a {row['kind']} run, not a scoring run: pass the run id `nbtrack score` printed "
            "(or the DataFrame nbtrack.score returned)."
        )
    return run_id


def stored_predictions(store: Store, run_id: str) -> pd.DataFrame:
    """The predictions scoring run ``run_id`` kept (its ``predictions.parquet``, else its stored output)."""
    import pandas as pd

    found = db.artifact(store, run_id, PREDICTIONS)
    if found is not None:
        return pd.read_parquet(io.BytesIO(store.blobs.read_bytes(found[1])))
    for link in db.data_links(store, run_id, "output"):
        if link["dataset"] is not None and link["version"] is not None:
            from nbtrack.data import load

            return load(link["dataset"], link["version"], store=store)
    raise ArtifactNotFoundError(
        f"Scoring run {run_id[-8:]} kept no predictions (it predates {PREDICTIONS}): score the batch again with "
        "`nbtrack score` and log the outcomes against the new run."
    )


def _outcome_frame(outcomes: Any, store: Store) -> pd.DataFrame:
    import pandas as pd

    if isinstance(outcomes, pd.Series):
        return outcomes.to_frame(outcomes.name if outcomes.name is not None else "outcome")
    if isinstance(outcomes, (list, tuple)) or hasattr(outcomes, "__array__") and not isinstance(outcomes, pd.DataFrame):
        return pd.DataFrame({"outcome": list(outcomes)})
    return _read_batch(outcomes, store)[0]


def join_outcomes(
    predicted: pd.DataFrame, outcomes: pd.DataFrame, key: str | list[str] | None, label: str | None
) -> tuple[pd.DataFrame, int]:
    """``(rows with prediction, [score,] outcome, unmatched)``: predictions joined to outcomes on ``key``
    (default: the predictions' key columns the outcomes have; positional when the predictions have none).
    ``unmatched`` counts outcomes whose key no prediction has."""

    keys = key_columns(outcomes, key) if key is not None else [c for c in predicted.columns if c not in _PREDICTED]
    keys = [k for k in keys if k in outcomes.columns]
    if not keys and len(outcomes) != len(predicted):
        raise InvalidValueError(
            f"The outcomes ({len(outcomes)} rows) share no key column with the predictions ({len(predicted)} rows): "
            "score with a key (nbtrack score ... --key ID) and pass the outcomes with that column (key=)."
        )
    candidates = [c for c in outcomes.columns if c not in keys]
    if label is None:
        if len(candidates) != 1:
            raise InvalidValueError(
                f"Which column holds the outcomes? The outcomes have {', '.join(map(str, candidates)) or 'no column'} "
                "besides the key: name it with label= (CLI --label)."
            )
        label = str(candidates[0])
    elif label not in outcomes.columns:
        raise InvalidValueError(f"label={label!r} is not a column of the outcomes; they have: {', '.join(outcomes)}.")
    if not keys:
        joined = predicted.reset_index(drop=True).assign(outcome=outcomes[label].to_numpy())
        return joined, 0
    missing = [k for k in keys if k not in predicted.columns]
    if missing:
        raise InvalidValueError(
            f"The predictions have no column {', '.join(missing)} to join on; they have: {', '.join(predicted)}. "
            "Score with that key (nbtrack score ... --key ID)."
        )
    right = outcomes.loc[:, [*keys, label]].rename(columns={label: "outcome"})
    repeated = int(right.duplicated(subset=keys).sum())
    if repeated:
        raise InvalidValueError(
            f"{repeated} outcome(s) repeat a key ({', '.join(keys)}): pass one outcome per scored row."
        )
    joined = predicted.merge(right, on=keys, how="inner")
    found = right.loc[:, keys].merge(predicted.loc[:, keys].drop_duplicates(), on=keys, how="left", indicator=True)
    return joined, int((found["_merge"] == "left_only").sum())


def log_outcomes(
    batch: Any,
    outcomes: Any,
    *,
    key: str | list[str] | None = None,
    label: str | None = None,
    task: str | None = None,
    store: StoreLike | None = None,
) -> dict[str, Any]:
    """Record the true outcomes of a scored batch and the model's quality on it, as a run of kind
    ``outcomes`` (a child of the scoring run, tagged with the model version); returns its summary.

    ``batch`` is the scoring run (id, run object, or the DataFrame ``nbtrack.score`` returned).
    ``outcomes`` is a DataFrame (the key column(s) and the outcome column), a Series or array in the
    predictions' row order, a ``.parquet``/``.csv`` file, or a stored version. ``key`` joins them to the
    predictions (default: the predictions' key columns); ``label`` names the outcome column (default:
    the one column besides the key). ``task`` (``classification``/``regression``) is inferred from the
    predictions. Metrics: ``accuracy`` and, for a binary classifier, ``auc``; ``rmse`` and ``mae`` for a
    regressor; plus ``matched`` (rows with an outcome) and ``unmatched_outcomes``. Labels that arrive in
    parts: pass all known so far; the latest outcomes run of a batch is the one monitoring reads.

    Example::

        scored = nbtrack.score("churn@champion", "transactions@7", trusted=True, key="txn_id")
        nbtrack.log_outcomes(scored, labels_df, key="txn_id", label="churned")  # {'metrics': {'auc': 0.91, ...}}
    """
    from nbtrack.data import fingerprint
    from nbtrack.tracking import start_run

    store = resolve_store(store, create=False)
    run_id = batch_run_id(store, batch)
    tags = db.tags(store, run_id)
    version = get_model(f"{tags['nbtrack.model']}/{tags['nbtrack.model_version']}", store=store)
    predicted = stored_predictions(store, run_id)
    frame = _outcome_frame(outcomes, store)
    joined, unmatched = join_outcomes(predicted, frame, key, label)
    if joined.empty:
        raise InvalidValueError(
            f"No outcome matched a prediction of scoring run {run_id[-8:]}: check that key= names the same IDs "
            f"the batch was scored with (the predictions' columns: {', '.join(predicted)})."
        )
    kind = task_of(predicted, version.lineage.get("model", {}).get("class"), task)
    metrics = quality(joined["outcome"], joined["prediction"], joined.get("score"), kind)
    with start_run(
        f"outcomes {version.spec}",
        kind=OUTCOMES_KIND,
        parent=run_id,
        params={"model": version.model, "model_version": version.version, "task": kind, "rows": len(frame)},
        tags={
            "nbtrack.model": version.model,
            "nbtrack.model_version": str(version.version),
            "nbtrack.batch_run": run_id,
        },
        store=store,
    ) as run:
        run.record_data("input", fingerprint(frame), name="outcomes", rows=len(frame), columns=frame.shape[1])
        run.log_artifact(parquet_bytes(joined), OUTCOMES, media_type=PARQUET)
        run.log_metrics({**metrics, "matched": len(joined), "unmatched_outcomes": unmatched})
    return {
        "run_id": run.run_id,
        "batch_run": run_id,
        "model": version.spec,
        "task": kind,
        "matched": len(joined),
        "unmatched_outcomes": unmatched,
        "metrics": metrics,
    }
