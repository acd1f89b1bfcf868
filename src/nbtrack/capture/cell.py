"""Run one cell as one nbtrack run: plan (validate, before anything runs: :mod:`.plan`), execute, record
(:mod:`.recording`).

The cell runs through ``shell.run_cell`` (like ``%%capture``), so tracebacks, the displayed last
expression and the inline backend behave exactly as in an untracked cell; an error in the cell is then
handed to the outer execution so the kernel's reply (and papermill) still sees the cell as failed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from nbtrack.capture import outputs as _capture
from nbtrack.capture.plan import CellReport, TrackOptions, plan_cell
from nbtrack.capture.recording import Execution, frame_record, record
from nbtrack.errors import TrackUsageError

if TYPE_CHECKING:
    from nbtrack.tracking import Run


# -- context ----------------------------------------------------------------------------------------
def notebook_path(namespace: dict) -> str | None:
    """The notebook's path as the frontend told the kernel (JupyterLab/Notebook 7, VS Code)."""
    for value in (
        os.environ.get("JPY_SESSION_NAME"),
        namespace.get("__session__"),
        namespace.get("__vsc_ipynb_file__"),
    ):
        if isinstance(value, str) and value:
            return value
    return None


def cell_id(shell) -> str | None:
    """The frontend's cell id: IPython's ExecutionInfo, else the execute_request metadata."""
    result = getattr(shell.displayhook, "exec_result", None)
    value = getattr(getattr(result, "info", None), "cell_id", None)
    if value:
        return str(value)
    header = None
    kernel = getattr(shell, "kernel", None)
    get_parent: Callable[..., dict[str, Any]] | None = getattr(kernel, "get_parent", None)  # ipykernel's
    if callable(get_parent):
        try:
            header = get_parent("shell")
        except TypeError:
            header = get_parent()
    if not header:
        header = {"metadata": getattr(shell, "parent_header", {}).get("metadata", {})}
    metadata = (header or {}).get("metadata") or {}
    value = metadata.get("cellId") or metadata.get("cell_id")
    return str(value) if value else None


def cell_source(shell, body: str) -> str:
    """The cell's code exactly as typed, without the ``%%track`` line (IPython adds a newline to ``body``)."""
    result = getattr(shell.displayhook, "exec_result", None)
    raw = getattr(getattr(result, "info", None), "raw_cell", None)
    if isinstance(raw, str) and raw.lstrip().startswith("%%track"):
        _, _, rest = raw.lstrip().partition("\n")
        if rest.rstrip("\n") == body.rstrip("\n"):
            return rest
    return body[:-1] if body.endswith("\n") else body


def execution_count(shell) -> int | None:
    result = getattr(shell.displayhook, "exec_result", None)
    count = getattr(result, "execution_count", None)
    return count if count is not None else getattr(shell, "execution_count", None)


# -- running ----------------------------------------------------------------------------------------
def track_cell(shell, cell: str, options: TrackOptions, *, store=None, line: str | None = None) -> CellReport:
    """Run ``cell`` in ``shell`` as one new run and record what it did; ``line`` is the ``%%track`` line's
    options as typed (kept in the run's session slice)."""
    from nbtrack import tracking

    namespace = shell.user_ns
    transformed = _transformed(shell, cell)
    _refuse_nested_await(shell, cell, transformed)
    history = _history(shell, namespace, cell)
    plan = plan_cell(transformed, namespace, options, history)
    input_records = [
        r
        for r in (frame_record(name, frame, plan.notes, options.cache_fingerprints) for name, frame in plan.inputs)
        if r
    ]
    run = tracking.start_run(
        options.name,
        options.experiment,
        params=plan.params,
        tags=options.tags,
        kind="cell",
        code=cell_source(shell, cell),
        source_path=notebook_path(namespace),
        source_cell=cell_id(shell),
        execution_count=execution_count(shell),
        store=store,
    )
    _record_session(run, shell, (cell, transformed), history, line, plan.notes)
    outer = getattr(shell.displayhook, "exec_result", None)
    capture = _capture.BlockCapture(
        options.max_output_bytes,
        figures=options.figures,
        autolog=options.autolog,
        skip=_shell_is_not_printing(shell),
        namespace=namespace,
    )
    result = None
    try:
        with capture:
            result = shell.run_cell(cell, store_history=False)
            capture.finish()
    except BaseException as error:  # interrupted (or failing) outside the user's code
        shell.displayhook.exec_result = outer
        run.finish(_failure_status(error), tracking.error_info(error))
        raise
    shell.displayhook.exec_result = outer
    error = result.error_before_exec or result.error_in_exec
    plan.returned = result.result
    report = record_and_finish(
        run,
        Execution(plan, namespace, options, capture, input_records),
        error,
        _cell_error_info(error) if error is not None else None,
    )
    if error is not None and outer is not None and outer.error_in_exec is None and outer.error_before_exec is None:
        outer.error_in_exec = error  # the kernel's execute_reply (and papermill) see the failure
    return report


def record_and_finish(
    run: Run, execution: Execution, error: BaseException | None, info: dict[str, Any] | None
) -> CellReport:
    """Record what the code did (see :func:`~nbtrack.capture.recording.record`), then end ``run``: ok, or
    failed / interrupted by ``error`` (described by ``info``). Shared by the magic and :func:`nbtrack.track`."""
    from nbtrack import tracking

    plan = execution.plan
    report = CellReport(
        run.run_id, run.short_id, "ok", execution.capture.meter.wall_s, dict(run.params), {}, notes=list(plan.notes)
    )
    plan.failed = error is not None
    try:
        record(run, execution, report)
    except BaseException as recording_error:
        run.finish(_failure_status(recording_error), tracking.error_info(recording_error))
        raise
    if error is not None and _is_clean_exit(error):
        error = info = None  # sys.exit(0): the code ended early on purpose, as papermill counts it
    status = "ok" if error is None else _failure_status(error)
    run.finish(status, info)
    report.status, report.error = status, error
    report.params = dict(run.params)
    report.metrics = {k: v[0] for k, v in run.latest.items()}
    return report


def _history(shell, namespace: dict, cell: str) -> list[str] | None:
    """The transformed code of the cells run before this one (IPython's ``In``), or None."""
    history = getattr(getattr(shell, "history_manager", None), "input_hist_parsed", None)
    if not isinstance(history, list):
        history = namespace.get("In")
    if not isinstance(history, list) or len(history) < 2:
        return None
    last = history[-1]
    if isinstance(last, str) and "run_cell_magic('track'" in last and repr(cell) in last:
        return history[:-1]  # this cell itself (stored before it runs)
    return history


def _record_session(
    run: Run, shell, cell: tuple[str, str], history: list[str] | None, line: str | None, notes: list[str]
) -> None:
    """Keep the session slice the cell depends on (see :mod:`nbtrack.capture.session`) with the run; a slice that cannot be made is a note, never a failure of the user's cell.
    ``cell``: the cell's code as typed and as Python."""
    from nbtrack.capture import session as _session

    typed, code = cell
    raw = getattr(getattr(shell, "history_manager", None), "input_hist_raw", None)
    log = _session.active_log()
    try:
        raw = raw if isinstance(raw, list) else None
        failed = log.failed_cells(raw) if log else set()
        sliced = _session.slice_session(history or [], raw, code, shell.user_ns, failed)
    except (RecursionError, MemoryError, ValueError, TypeError) as error:
        notes.append(f"the session slice was not recorded ({type(error).__name__}: {error}); reproduce may refuse")
        return
    sliced.magic = f"%%track {line.strip()}".rstrip() if line else "%%track"
    sliced.code = cell_source(shell, typed)
    sliced.loads = log.loads_of(sliced.cells) if log else []
    sliced.cwd = os.getcwd()
    run.record_session(sliced.to_json())


def _is_clean_exit(error: BaseException) -> bool:
    """``sys.exit()``, ``sys.exit(0)`` (papermill's rule for a run that ends early with success)."""
    return isinstance(error, SystemExit) and error.code in (None, 0)


def _failure_status(error: BaseException) -> str:
    return "interrupted" if isinstance(error, KeyboardInterrupt) else "failed"


def _transformed(shell, cell: str) -> str:
    """The cell as Python (IPython syntax such as ``!ls`` or ``%time`` turned into calls)."""
    if not any(mark in cell for mark in "%!?") and not cell[:1].isspace() and ">>>" not in cell:
        return cell  # plain Python: IPython's transformers would return it unchanged
    try:
        return shell.transform_cell(cell)
    except Exception:
        return cell


def _refuse_nested_await(shell, cell: str, transformed: str) -> None:
    """Top-level ``await`` cannot run nested inside a kernel's running event loop: say so up front."""
    if "await" not in transformed:
        return
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        running = False
    else:
        running = True
    if not running:
        try:
            running = asyncio.get_event_loop_policy().get_event_loop().is_running()
        except RuntimeError:
            running = False
    try:
        needs_async = shell.should_run_async(cell, transformed_cell=transformed, preprocessing_exc_tuple=None)
    except TypeError:
        needs_async = False
    if running and needs_async:
        raise TrackUsageError(
            "%%track cannot run a cell with top-level `await` in a kernel (the cell would have to re-enter "
            "the kernel's running event loop): do the awaiting in an untracked cell above, and track the "
            "cell that uses its results."
        )


def _cell_error_info(error: BaseException) -> dict:
    """Type, message and traceback of the cell's exception, starting at the cell's own frames."""
    import traceback

    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None and "IPython" in tb.tb_frame.f_code.co_filename.split(os.sep):
        tb = tb.tb_next
    text = "".join(traceback.format_exception(type(error), error, tb))
    return {"type": type(error).__qualname__, "message": str(error), "traceback": text[-20000:]}


def _shell_is_not_printing(shell):
    """True while the shell writes a traceback or a displayed value (not the cell's own printing)."""
    display_pub, displayhook = getattr(shell, "display_pub", None), getattr(shell, "displayhook", None)

    def skip() -> bool:
        return bool(
            getattr(shell, "showing_traceback", False)
            or getattr(display_pub, "is_publishing", False)
            or getattr(displayhook, "is_active", False)
        )

    return skip
