"""nbtrack: Jupyter-native experiment tracking.

``%load_ext nbtrack`` then ``%%track`` a cell; or, in scripts::

    import nbtrack
    with nbtrack.start_run("baseline", params={"lr": 0.1}) as run:
        run.log_metric("acc", 0.93)
    nbtrack.runs(where="metrics.acc > 0.9")

Heavy modules (pandas, pyarrow, IPython) load only when a function needs them.
"""

from __future__ import annotations

import importlib

from ._version import __version__

_EXPORTS = {
    # recording
    "start_run": "tracking", "active_run": "tracking", "Run": "tracking",
    "log_param": "tracking", "log_params": "tracking", "log_metric": "tracking", "log_metrics": "tracking",
    "set_tag": "tracking", "set_tags": "tracking", "log_artifact": "tracking", "log_figure": "tracking",
    "log_model": "tracking", "track": "magics.block",
    # reading
    "runs": "reading", "list_runs": "reading", "get_run": "reading", "compare": "reading",
    "experiments": "reading", "load_artifact": "reading", "RunRecord": "reading",
    # data versions
    "snapshot": "data", "load": "data", "datasets": "data", "versions": "data", "diff": "data",
    "drift": "data", "lineage": "data", "DataVersion": "data",
    # maintenance
    "delete_run": "maintenance", "gc": "maintenance", "fsck": "maintenance",
    # store
    "Store": "store", "default_store": "store",
    # production (issue 5)
    "run_notebook": "production.execute", "export_notebook": "production.export",
    "export_script": "production.export", "sweep": "production.sweep", "merge": "production.merge",
    "reproduce": "production.reproduce",
    # errors
    "NbtrackError": "errors",
}

__all__ = ["__version__", "load_ipython_extension", "runs_widget", *_EXPORTS]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'nbtrack' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(__all__)


def load_ipython_extension(ipython) -> None:
    """``%load_ext nbtrack``: register the ``%%track`` cell magic and ``%track`` line magic."""
    from .magics import load_ipython_extension as load

    load(ipython)


def runs_widget(experiment: str | None = None, where: str | None = None, order_by: str | None = None,
                limit: int | None = 100):
    """An ipywidgets table of runs (sortable, filter box with the query language, compare selection)."""
    from .magics import runs_widget as widget

    return widget(experiment=experiment, where=where, order_by=order_by, limit=limit)


def _jupyter_server_extension_points():
    """Jupyter server extension entry: the REST API lives in nbtrack.server (imported only by the server)."""
    return [{"module": "nbtrack.server"}]
