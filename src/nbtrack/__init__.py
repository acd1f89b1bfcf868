"""nbtrack: Jupyter-native experiment tracking.

``%load_ext nbtrack`` then ``%%track`` a cell; or, in scripts::

    import nbtrack
    with nbtrack.start_run("baseline", params={"lr": 0.1}) as run:
        run.log_metric("acc", 0.93)
    nbtrack.runs(where="metrics.acc > 0.9")

The names below load on first use, so ``import nbtrack`` stays cheap; type checkers and IDEs see them
through the ``TYPE_CHECKING`` imports.
"""

from __future__ import annotations

import importlib

from nbtrack._version import __version__

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (13 ms): type checkers read it as True
if TYPE_CHECKING:
    from typing import Any

    from nbtrack.capture.block import track
    from nbtrack.comparison import compare
    from nbtrack.data import DataVersion, datasets, diff, drift, lineage, load, pin_versions, snapshot, versions
    from nbtrack.editing import archive_runs, restore_runs, set_note, tag_run
    from nbtrack.errors import NbtrackError
    from nbtrack.production.execute import run_notebook
    from nbtrack.production.export import export_notebook, export_run, export_script
    from nbtrack.production.reproduce import reproduce
    from nbtrack.production.sweep import sweep
    from nbtrack.reading import experiments, list_runs, runs
    from nbtrack.records import RunRecord, get_run, load_artifact
    from nbtrack.registry import (
        ModelComparison,
        ModelVersion,
        MonitorReport,
        compare_models,
        delete_model_version,
        get_model,
        load_model,
        log_outcomes,
        model_history,
        model_versions,
        models,
        monitor,
        register_model,
        remove_model_alias,
        score,
        set_model_alias,
    )
    from nbtrack.remote import add_remote, check_remote, pull, push, remotes, remove_remote, sync
    from nbtrack.store import Store, default_store
    from nbtrack.store.maintenance import delete_run, fsck, gc
    from nbtrack.store.merge import merge
    from nbtrack.tracking import (
        Run,
        active_run,
        log_artifact,
        log_figure,
        log_metric,
        log_metrics,
        log_model,
        log_param,
        log_params,
        set_tag,
        set_tags,
        start_run,
    )

_EXPORTS = {
    # recording
    "start_run": "nbtrack.tracking",
    "active_run": "nbtrack.tracking",
    "Run": "nbtrack.tracking",
    "log_param": "nbtrack.tracking",
    "log_params": "nbtrack.tracking",
    "log_metric": "nbtrack.tracking",
    "log_metrics": "nbtrack.tracking",
    "set_tag": "nbtrack.tracking",
    "set_tags": "nbtrack.tracking",
    "log_artifact": "nbtrack.tracking",
    "log_figure": "nbtrack.tracking",
    "log_model": "nbtrack.tracking",
    "track": "nbtrack.capture.block",
    # reading
    "runs": "nbtrack.reading",
    "list_runs": "nbtrack.reading",
    "get_run": "nbtrack.records",
    "compare": "nbtrack.comparison",
    "experiments": "nbtrack.reading",
    "load_artifact": "nbtrack.records",
    "RunRecord": "nbtrack.records",
    # changing runs after they ended
    "tag_run": "nbtrack.editing",
    "set_note": "nbtrack.editing",
    "archive_runs": "nbtrack.editing",
    "restore_runs": "nbtrack.editing",
    # data versions
    "snapshot": "nbtrack.data",
    "load": "nbtrack.data",
    "datasets": "nbtrack.data",
    "versions": "nbtrack.data",
    "diff": "nbtrack.data",
    "drift": "nbtrack.data",
    "lineage": "nbtrack.data",
    "pin_versions": "nbtrack.data",
    "DataVersion": "nbtrack.data",
    # the model registry
    "register_model": "nbtrack.registry",
    "load_model": "nbtrack.registry",
    "get_model": "nbtrack.registry",
    "models": "nbtrack.registry",
    "model_versions": "nbtrack.registry",
    "set_model_alias": "nbtrack.registry",
    "remove_model_alias": "nbtrack.registry",
    "model_history": "nbtrack.registry",
    "delete_model_version": "nbtrack.registry",
    "ModelVersion": "nbtrack.registry",
    "score": "nbtrack.registry",
    "log_outcomes": "nbtrack.registry",
    "monitor": "nbtrack.registry",
    "compare_models": "nbtrack.registry",
    "MonitorReport": "nbtrack.registry",
    "ModelComparison": "nbtrack.registry",
    # the store
    "Store": "nbtrack.store",
    "default_store": "nbtrack.store",
    "delete_run": "nbtrack.store.maintenance",
    "gc": "nbtrack.store.maintenance",
    "fsck": "nbtrack.store.maintenance",
    "merge": "nbtrack.store.merge",
    # remotes
    "add_remote": "nbtrack.remote",
    "remotes": "nbtrack.remote",
    "remove_remote": "nbtrack.remote",
    "push": "nbtrack.remote",
    "pull": "nbtrack.remote",
    "sync": "nbtrack.remote",
    "check_remote": "nbtrack.remote",
    # production
    "run_notebook": "nbtrack.production.execute",
    "export_notebook": "nbtrack.production.export",
    "export_script": "nbtrack.production.export",
    "export_run": "nbtrack.production.export",
    "sweep": "nbtrack.production.sweep",
    "reproduce": "nbtrack.production.reproduce",
    # errors
    "NbtrackError": "nbtrack.errors",
}

__all__ = [
    "__version__",
    "load_ipython_extension",
    "runs_widget",
    "start_run",
    "active_run",
    "Run",
    "log_param",
    "log_params",
    "log_metric",
    "log_metrics",
    "set_tag",
    "set_tags",
    "log_artifact",
    "log_figure",
    "log_model",
    "track",
    "runs",
    "list_runs",
    "get_run",
    "compare",
    "experiments",
    "load_artifact",
    "RunRecord",
    "tag_run",
    "set_note",
    "archive_runs",
    "restore_runs",
    "snapshot",
    "load",
    "datasets",
    "versions",
    "diff",
    "drift",
    "lineage",
    "pin_versions",
    "DataVersion",
    "register_model",
    "load_model",
    "get_model",
    "models",
    "model_versions",
    "set_model_alias",
    "remove_model_alias",
    "model_history",
    "delete_model_version",
    "ModelVersion",
    "score",
    "log_outcomes",
    "monitor",
    "compare_models",
    "MonitorReport",
    "ModelComparison",
    "Store",
    "default_store",
    "delete_run",
    "gc",
    "fsck",
    "merge",
    "add_remote",
    "remotes",
    "remove_remote",
    "push",
    "pull",
    "sync",
    "check_remote",
    "run_notebook",
    "export_notebook",
    "export_script",
    "export_run",
    "sweep",
    "reproduce",
    "NbtrackError",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'nbtrack' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext nbtrack``: register the ``%%track`` cell magic and ``%track`` line magic."""
    from nbtrack.magics import load_ipython_extension as load

    load(ipython)


def runs_widget(
    experiment: str | None = None,
    where: str | None = None,
    order_by: str | None = None,
    limit: int | None = 100,
) -> Any:
    """An ipywidgets table of runs (sortable, filter box with the query language, compare selection)."""
    from nbtrack.magics import runs_widget as widget

    return widget(experiment=experiment, where=where, order_by=order_by, limit=limit)


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """Jupyter server extension entry: the REST API lives in nbtrack.server (imported only by the server)."""
    return [{"module": "nbtrack.server"}]
