"""IPython integration: ``%load_ext nbtrack`` registers ``%%track`` and ``%track``.

Importing this package imports only IPython pieces that are already loaded in a kernel; pandas,
matplotlib and scikit-learn are touched only by cells that use them.
"""

from __future__ import annotations


def load_ipython_extension(ipython) -> None:
    """Register the ``%%track`` cell magic and the ``%track`` line magic."""
    from nbtrack.magics.magic import TrackMagics

    ipython.register_magics(TrackMagics(ipython))
    _keep_session_log(ipython)
    _print_summaries(ipython)


#: nbtrack results that terminal IPython prints as their text summary (``str``), not as the dataclass's
#: field-by-field repr; named, so that nothing is imported before a result is shown. The ``%track`` views
#: (runs, show, compare) have their own text rendering.
SUMMARIES = [
    ("nbtrack.data._diff", "DataDiff"),
    ("nbtrack.data._drift", "DriftReport"),
    ("nbtrack.data._lineage", "Lineage"),
    ("nbtrack.registry._champion", "ModelComparison"),
    ("nbtrack.registry._monitor", "MonitorReport"),
    ("nbtrack.production.reproduce", "Reproduction"),
]


def _print_summaries(ipython) -> None:
    formatter = ipython.display_formatter.formatters["text/plain"]
    for module, name in SUMMARIES:
        formatter.for_type_by_name(module, name, _print_str)
    formatter.for_type_by_name("nbtrack.registry._registry", "ModelVersion", _print_summary)


def _print_str(value, printer, cycle: bool) -> None:
    printer.text(str(value))


def _print_summary(value, printer, cycle: bool) -> None:
    printer.text(value.summary())


def _keep_session_log(ipython) -> None:
    """Feed the session log (which executions raised, which data versions each loaded) from IPython's
    events, once per shell: the session slices of ``%%track`` runs use it."""
    from nbtrack.capture.session import SessionLog, activate

    log = getattr(ipython, "_nbtrack_session_log", None)
    if log is None:
        history = ipython.history_manager

        def position() -> int:  # the running cell is the last one stored in the history
            return len(history.input_hist_raw) - 1 if history is not None else -1

        log = SessionLog(position)
        ipython._nbtrack_session_log = log

        def before(info=None) -> None:
            if getattr(info, "store_history", True):
                log.before_cell(getattr(info, "raw_cell", None))

        def after(result) -> None:
            info = getattr(result, "info", None)
            if getattr(info, "store_history", True):
                log.after_cell(getattr(info, "raw_cell", None), bool(getattr(result, "success", True)))

        ipython.events.register("pre_run_cell", before)
        ipython.events.register("post_run_cell", after)
    activate(log)


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
