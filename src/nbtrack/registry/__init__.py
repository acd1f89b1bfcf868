"""The model registry: versions of named models made from runs' fitted models, with their lineage,
aliases (``champion``, ``challenger``, ...) and the history of who moved them, when and why.

Plain Python over the store's data-access layer (``nbtrack.store.models``); the CLI (``nbtrack models``),
the ``%track models`` magic and the REST routes (``/models``) call these functions. ``score`` applies a
registered model to a batch as a recorded run.
"""

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
from nbtrack.registry._score import score

__all__ = [
    "ModelVersion",
    "delete_model_version",
    "get_model",
    "list_models",
    "load_model",
    "model_history",
    "model_versions",
    "models",
    "parse_spec",
    "register_model",
    "remove_model_alias",
    "score",
    "set_model_alias",
]
