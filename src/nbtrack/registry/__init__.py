"""The model registry: versions of named models made from runs' fitted models, with their lineage,
aliases (``champion``, ``challenger``, ...) and the history of who moved them, when and why.

Plain Python over the store's data-access layer (``nbtrack.store.models``); the CLI (``nbtrack models``),
the ``%track models`` magic and the REST routes (``/models``) call these functions. ``score`` applies a
registered model to a batch as a recorded run; ``log_outcomes`` records
a batch's true outcomes and the model's quality on it; ``monitor`` checks a model's drift and quality over
batches (and retrains); ``compare_models`` evaluates champion and challenger on one holdout.
"""

from nbtrack.registry._champion import ModelComparison, compare_models
from nbtrack.registry._monitor import MonitorReport, monitor
from nbtrack.registry._outcomes import log_outcomes
from nbtrack.registry._registry import (
    ModelVersion,
    delete_model_version,
    get_model,
    list_models,
    load_model,
    model_history,
    model_versions,
    models,
    parse_spec,
    register_model,
    remove_model_alias,
    set_model_alias,
)
from nbtrack.registry._score import score, scoring_notebook

__all__ = [
    "ModelComparison",
    "ModelVersion",
    "MonitorReport",
    "compare_models",
    "delete_model_version",
    "get_model",
    "list_models",
    "load_model",
    "log_outcomes",
    "model_history",
    "model_versions",
    "models",
    "monitor",
    "parse_spec",
    "register_model",
    "remove_model_alias",
    "score",
    "scoring_notebook",
    "set_model_alias",
]
