"""IPython integration: ``%load_ext nbtrack`` registers ``%%track`` and ``%track``.

Importing this package imports only IPython pieces that are already loaded in a kernel; pandas,
matplotlib and scikit-learn are touched only by cells that use them.
"""

from __future__ import annotations


def load_ipython_extension(ipython) -> None:
    """Register the ``%%track`` cell magic and the ``%track`` line magic."""
    from nbtrack.magics.magic import TrackMagics

    ipython.register_magics(TrackMagics(ipython))


def runs_widget(
    experiment: str | None = None, where: str | None = None, order_by: str | None = None, limit: int | None = 100
):
    """An interactive table of runs (ipywidgets): sortable, filterable with the query language,
    select runs to compare. Without a widget frontend it shows the table's HTML.

    Example::

        nbtrack.runs_widget(where="status = 'ok'", order_by="-metrics.acc")
    """
    from nbtrack.magics.widget import RunsWidget

    return RunsWidget(experiment=experiment, where=where, order_by=order_by, limit=limit)


__all__ = ["load_ipython_extension", "runs_widget"]
