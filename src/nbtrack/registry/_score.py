"""Batch scoring: a registered model applied to a batch of data, recorded as a run linked to the model version
and to its input and output data."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbtrack.errors import InvalidValueError
from nbtrack.registry._registry import get_model, load_model

if TYPE_CHECKING:
    import pandas as pd

    from nbtrack.store import Store

SCORE_KIND = "score"
#: The artifact of a scoring run that keeps its predictions (what outcomes are joined to).
PREDICTIONS = "predictions.parquet"
PARQUET = "application/vnd.apache.parquet"
_READERS = {".parquet": "read_parquet", ".pq": "read_parquet", ".csv": "read_csv"}


def _read_batch(data: Any, store: Store) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The batch as a DataFrame and how it is linked: ``{"name", "dataset", "version"}``."""
    import pandas as pd

    from nbtrack.data import get_version, load

    if isinstance(data, pd.DataFrame):
        return data, {"name": "batch", "dataset": None, "version": None}
    if not isinstance(data, (str, os.PathLike)):
        raise InvalidValueError(
            f"Score a DataFrame, a Parquet or CSV file, or a stored version 'name@N', not {type(data).__name__}."
        )
    path = os.fspath(data)
    suffix = os.path.splitext(path)[1].lower()
    if os.path.isfile(path):
        if suffix not in _READERS:
            raise InvalidValueError(f"{path}: score a .parquet or .csv file (or a stored version 'name@N').")
        return getattr(pd, _READERS[suffix])(path), {"name": os.path.basename(path), "dataset": None, "version": None}
    if suffix in _READERS:
        raise InvalidValueError(f"No file {path}: give an existing .parquet or .csv file, or a stored version name@N.")
    name, at, number = path.rpartition("@")
    if not at or not number.isdigit():
        name, number = path, ""
    info = get_version(name, int(number) if number else None, store=store)  # DatasetNotFoundError names the fix
    frame = load(info.name, info.version, store=store)
    return frame, {"name": info.name, "dataset": info.name, "version": info.version}


def _features(model: Any, frame: pd.DataFrame, keep: list[str]) -> pd.DataFrame:
    """The columns the model was fitted on (scikit-learn's ``feature_names_in_``), in its order; without
    them, every column but the ``keep`` (key) columns."""
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return frame.drop(columns=[k for k in keep if k in frame.columns])
    missing = [str(n) for n in names if n not in frame.columns]
    if missing:
        raise InvalidValueError(
            f"The batch lacks column(s) the model was fitted on: {', '.join(missing)} (it has: "
            f"{', '.join(map(str, frame.columns))})."
        )
    return frame.loc[:, list(names)]


def predictions(model: Any, frame: pd.DataFrame, keep: list[str]) -> pd.DataFrame:
    """``keep`` columns of the batch, ``prediction``, and for a binary classifier ``score`` (the probability
    of its second class)."""
    import pandas as pd

    features = _features(model, frame, keep)
    out = pd.DataFrame({k: frame[k] for k in keep if k in frame.columns}, index=frame.index)
    out["prediction"] = model.predict(features)
    classes = getattr(model, "classes_", None)
    if callable(getattr(model, "predict_proba", None)) and classes is not None and len(classes) == 2:
        out["score"] = model.predict_proba(features)[:, 1]
    return out


def score(
    model: str,
    data: Any,
    *,
    trusted: bool = False,
    output: str | os.PathLike | None = None,
    save_as: str | None = None,
    key: str | list[str] | None = None,
    store: Store | None = None,
) -> pd.DataFrame:
    """Score a batch with a registered model, as a run of kind ``score``; returns the predictions.

    ``model`` is a spec (``"churn@champion"``, ``"churn/3"``, ``"churn"``); ``trusted=True`` is required,
    since the model is unpickled. ``data`` is a DataFrame, a ``.parquet``/``.csv`` path, or a stored
    version (``"transactions@7"``). The predictions hold the batch's key columns (of a stored version),
    ``prediction`` and, for a binary classifier, ``score``; ``output`` writes them to a ``.parquet``/``.csv``
    file, ``save_as`` stores them as the next version of that dataset. ``key`` names columns of the batch
    to carry into the predictions (default: a stored version's key), so that outcomes can be joined to them
    later (:func:`nbtrack.log_outcomes`). The run (its id in ``result.attrs["run_id"]``) is tagged
    ``nbtrack.model`` / ``nbtrack.model_version``, records the batch as its input and the predictions as
    its output, and keeps the predictions as its artifact ``predictions.parquet``.

    Example::

        scored = nbtrack.score("churn@champion", "transactions@7", trusted=True, save_as="churn-scores")
        nbtrack.runs(where="tags.`nbtrack.model` = 'churn'")
    """
    from nbtrack.data import fingerprint, snapshot
    from nbtrack.store import default_store
    from nbtrack.tracking import start_run

    store = store or default_store(create=False)
    version = get_model(model, store=store)
    estimator = load_model(version.spec, trusted=trusted, store=store)
    if output is not None and os.path.splitext(os.fspath(output))[1].lower() not in _READERS:
        raise InvalidValueError(f"output={os.fspath(output)!r}: write predictions to a .parquet or .csv file.")
    frame, source = _read_batch(data, store)
    keep = key_columns(frame, key) if key is not None else _key_columns(source, store)
    with start_run(
        f"score {version.spec}",
        kind=SCORE_KIND,
        params={"model": version.model, "model_version": version.version, "rows": len(frame)},
        tags={"nbtrack.model": version.model, "nbtrack.model_version": str(version.version)},
        store=store,
    ) as run:
        run.record_data(
            "input",
            fingerprint(frame),
            name=source["name"],
            dataset=source["dataset"],
            version=source["version"],
            rows=len(frame),
            columns=frame.shape[1],
        )
        result = predictions(estimator, frame, keep)
        run.log_artifact(parquet_bytes(result), PREDICTIONS, media_type=PARQUET)
        if output is not None:
            _write(result, os.fspath(output))
            run.record_data(
                "output",
                fingerprint(result),
                name=os.path.basename(os.fspath(output)),
                rows=len(result),
                columns=result.shape[1],
            )
        if save_as is not None:
            key = [k for k in keep if k in result.columns] or None
            snapshot(result, save_as, key=key, message=f"scored by {version.spec}", store=store)
    result.attrs["run_id"] = run.run_id
    return result


def key_columns(frame: pd.DataFrame, key: str | list[str]) -> list[str]:
    """``key`` (a name, comma-separated names or a list) as a list of columns ``frame`` has."""
    names = [k.strip() for k in key.split(",")] if isinstance(key, str) else [str(k) for k in key]
    missing = [k for k in names if k not in frame.columns]
    if missing or not names:
        raise InvalidValueError(
            f"key={key!r}: the batch has no column {', '.join(missing) or '(none named)'}; it has: "
            f"{', '.join(map(str, frame.columns))}."
        )
    return names


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    import io

    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def _key_columns(source: dict[str, Any], store: Store) -> list[str]:
    if source["dataset"] is None:
        return []
    from nbtrack.data import get_version

    keys = get_version(source["dataset"], source["version"], store=store).key or []
    return [str(k) for k in keys]


def _write(frame: pd.DataFrame, path: str) -> None:
    if path.lower().endswith(".csv"):
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)


#: The parameterized notebook that scores a batch (papermill parameters: model, data, output, save_as, key,
#: trusted), shipped with nbtrack.
SCORING_NOTEBOOK = Path(__file__).with_name("scoring.ipynb")


def scoring_notebook(output: str | os.PathLike) -> Path:
    """Write the batch-scoring notebook to ``output`` and return its path: a papermill notebook whose
    parameters cell names the model, the batch and where the predictions go, and whose cell calls
    :func:`score`. Run by ``nbtrack run`` (or ``nbtrack sweep`` over batches), each execution is a notebook
    run with its output notebook, the scoring run its child. An existing file is not overwritten.

    Example::

        nbtrack.registry.scoring_notebook("score.ipynb")
        # then: nbtrack run score.ipynb -p model churn@champion -p data june.parquet -p output june.parquet -p trusted True
    """
    from nbtrack._paths import check_output_path, write_error

    target = check_output_path(output, "scoring notebook")
    if target.exists():
        raise InvalidValueError(f"{target} exists: remove it, or write the scoring notebook to another path.")
    try:
        target.write_bytes(SCORING_NOTEBOOK.read_bytes())
    except OSError as error:
        raise write_error(error, target, "scoring notebook") from error
    return target
