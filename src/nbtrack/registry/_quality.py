"""A model's quality from true outcomes: the task (classification or regression) and its metrics.

Computed with numpy alone (scikit-learn stays the user's dependency): classification ``accuracy`` and, for a
binary classifier with a ``score`` column, ``auc`` (ROC AUC by ranks, ties averaged, as
``sklearn.metrics.roc_auc_score``); regression ``rmse`` and ``mae``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nbtrack.errors import InvalidValueError

if TYPE_CHECKING:
    import pandas as pd

TASKS = ("classification", "regression")
#: Metrics of each task, and whether higher is better (a drop of a lower-is-better metric is a rise).
METRICS = {"accuracy": True, "auc": True, "rmse": False, "mae": False}


def task_of(predictions: pd.DataFrame, model_class: str | None, task: str | None = None) -> str:
    """``classification`` or ``regression``: ``task`` if given; classification when the predictions carry
    a ``score`` (a binary classifier's probability), the model's class is a classifier, or the predicted
    values are not floats; regression otherwise."""
    import pandas as pd

    if task is not None:
        if task not in TASKS:
            raise InvalidValueError(f"task={task!r}: use 'classification' or 'regression'.")
        return task
    name = (model_class or "").rsplit(".", 1)[-1]
    if "score" in predictions.columns or name.endswith("Classifier") or name in ("LogisticRegression", "SVC"):
        return "classification"
    return "regression" if pd.api.types.is_float_dtype(predictions["prediction"].dtype) else "classification"


def quality(y_true: Any, prediction: Any, score: Any | None, task: str) -> dict[str, float]:
    """The task's metrics of ``prediction`` (and ``score``) against ``y_true``."""
    import numpy as np

    truth, predicted = np.asarray(y_true), np.asarray(prediction)
    if len(truth) == 0:
        return {}
    if task == "regression":
        try:
            error = predicted.astype(np.float64) - truth.astype(np.float64)
        except (TypeError, ValueError):
            raise InvalidValueError(
                "The outcomes are not numbers, so regression metrics cannot be computed: pass task='classification' "
                "(CLI --task classification) if the model is a classifier."
            ) from None
        return {"rmse": float(np.sqrt(np.mean(error**2))), "mae": float(np.mean(np.abs(error)))}
    found = {"accuracy": float(np.mean(truth.astype(str) == predicted.astype(str)))}
    if score is not None:
        auc = roc_auc(truth, np.asarray(score, dtype=np.float64))
        if auc is not None:
            found["auc"] = auc
    return found


def roc_auc(truth: Any, score: Any) -> float | None:
    """ROC AUC of ``score`` for the positive class (the larger of the two labels, as scikit-learn's
    ``classes_[1]``); None when the outcomes hold one class only."""
    import numpy as np
    import pandas as pd

    labels = np.unique(truth)
    if len(labels) != 2:
        return None
    positive = truth == labels[-1]
    ranks = pd.Series(score).rank(method="average").to_numpy()
    n_pos = int(positive.sum())
    n_neg = len(truth) - n_pos
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def higher_is_better(metric: str) -> bool:
    """Whether a larger value of ``metric`` is better (unknown names: yes)."""
    return METRICS.get(metric, True)
