"""Run one cell as one nbtrack run: plan (validate, before anything runs), execute, record.

The cell runs through ``shell.run_cell`` (like ``%%capture``), so tracebacks, the displayed last
expression and the inline backend behave exactly as in an untracked cell; an error in the cell is then
handed to the outer execution so the kernel's reply (and papermill) still sees the cell as failed.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nbtrack import _values
from nbtrack.capture import analysis as _analysis
from nbtrack.capture import outputs as _capture
from nbtrack.errors import InvalidValueError, TrackUsageError

if TYPE_CHECKING:
    from nbtrack.tracking import Run

#: Names of the meta metrics every tracked cell records (seconds, seconds, MiB).
WALL_METRIC, CPU_METRIC, MEMORY_METRIC = "_wall_s", "_cpu_s", "_peak_mem_mb"
#: Meta metric: estimators the cell's own code fitted, when more than the models it kept.
FITS_METRIC = "_fits"


@dataclass
class TrackOptions:
    name: str | None = None
    experiment: str | None = None
    tags: dict = field(default_factory=dict)
    params: list[str] = field(default_factory=list)
    metrics: list[str] | None = None
    figures: bool = True
    autolog: bool = True
    quiet: bool = False
    max_output_bytes: int = _capture.DEFAULT_MAX_OUTPUT_BYTES
    #: at most this many fitted models are recorded (params and a pickle each) per cell
    max_models: int = 20
    #: reuse the fingerprint of a DataFrame that provably did not change (nbtrack.data._fpcache)
    cache_fingerprints: bool = True


@dataclass
class CellReport:
    """What a tracked cell recorded (returned to the magic, used for the summary line)."""

    run_id: str
    short_id: str
    status: str
    duration_s: float
    params: dict
    metrics: dict
    figures: int = 0
    models: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: BaseException | None = None

    def summary(self) -> str:
        shown = [k for k in self.metrics if not k.startswith("_")][:4]
        parts = [f"{k}={_short(self.metrics[k])}" for k in shown]
        extra = []
        if self.figures:
            extra.append(f"{self.figures} figure{'s' * (self.figures > 1)}")
        if self.models:
            extra.append("model " + ", ".join(self.models))
        status = "" if self.status == "ok" else f" {self.status.upper()}"
        line = f"nbtrack: run {self.short_id}{status} {self.duration_s:.2f}s"
        if parts:
            line += "  " + " ".join(parts)
        if extra:
            line += "  (" + "; ".join(extra) + ")"
        return line


def _short(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


# -- planning ---------------------------------------------------------------------------------------
@dataclass
class CellPlan:
    analysis: _analysis.CellAnalysis
    params: dict
    late_params: list[str]
    inputs: list[tuple[str, object]]
    notes: list[str]
    #: the values the names the cell binds had before it; a name bound only under a condition (or after
    #: the point where the cell failed) that still holds its value was not bound by this execution
    before: dict[str, object] = field(default_factory=dict)
    #: whether the code raised (set after it runs)
    failed: bool = False
    #: the cell's displayed value (its last expression), set after it runs
    returned: object = None


def plan_cell(code: str, namespace: dict, options: TrackOptions, history: list[str] | None = None) -> CellPlan:
    """Everything decided before the cell runs; raises TrackUsageError for bad input.

    ``history``: the code of the cells run before (IPython's ``In``), newest last; a name the cell
    reads is a param only if the last of them that binds it assigns it a literal (without a history,
    or when no cell in it binds the name, a literal value is enough)."""
    try:
        found = _analysis.analyse(code)
    except SyntaxError:
        found = _analysis.CellAnalysis()
    notes: list[str] = []
    params: dict = {}
    for name in found.reads:
        if name in namespace and name not in found.literals and not name.startswith("_"):
            value = namespace[name]
            if (
                _analysis.is_param_literal(value)
                and name not in found.roles().filled
                and not _empty_container(value)
                and _storable(name, value)
                and _assigned_literally(name, history)
            ):
                params[name] = value
    for name, value in found.literals.items():
        if _empty_container(value) or name in found.roles().filled:
            continue  # an accumulator (clfs = [] then clfs.append(...)), not configuration
        if _storable(name, value):
            params[name] = value
        else:
            notes.append(f"{name} is not recorded as a param (its value cannot be stored exactly)")
    for name in found.skipped:
        if name not in params and name not in options.params:
            notes.append(
                f"{name} is not recorded as a param (sets, bytes, dicts with non-string keys and "
                "very large literals cannot be stored exactly; use --params with a storable value)"
            )
    late: list[str] = []
    for name in options.params:
        if name in found.literals:
            _check_param(name, found.literals[name])
            params[name] = found.literals[name]
        elif name in found.bound:
            late.append(name)
        elif name in namespace:
            _check_param(name, namespace[name])
            params[name] = namespace[name]
        else:
            raise TrackUsageError(
                f"--params names {name!r}, but the cell does not assign it and it is not defined: "
                "define it first or remove it from --params."
            )
    inputs = []
    pandas = sys.modules.get("pandas")
    if pandas is not None:
        for name in found.reads:
            value = namespace.get(name)
            if isinstance(value, pandas.DataFrame):
                inputs.append((name, value))
    before = {name: namespace[name] for name in found.bound if name in namespace}
    return CellPlan(found, params, late, inputs, notes, before)


def _empty_container(value: object) -> bool:
    return type(value) in (list, dict, tuple) and not value  # type: ignore[arg-type]


def _assigned_literally(name: str, history: list[str] | None) -> bool:
    """Whether the newest earlier cell that binds ``name`` assigns it a literal (True if none is known).
    An earlier ``%%track``/``%%time`` cell counts by its body; an import binds a name with no literal."""
    from nbtrack.capture.session import cell_facts, python_of

    if not history:
        return True
    # a name starts a line, follows punctuation, or follows an escaped newline inside a magic's body
    binding = re.compile(rf"(?:(?<![\w.])|(?<=\\n)){re.escape(name)}\s*(?:[:,)\]]|[-+*/%@&|^]?=(?!=))")
    for code in reversed(history[-500:]):
        if not isinstance(code, str) or name not in code:
            continue
        binds = cell_facts(code).binds
        if not (name in binds and "import" in code) and not binding.search(code):
            continue  # cheap: only cells that may bind the name are parsed
        try:
            found = _analysis.analyse(python_of(code))
        except SyntaxError:
            continue
        if name in found.literals:
            return True
        if name in found.bound or name in binds:
            return False
    return True


def _storable(name: str, value: object) -> bool:
    try:
        _values.encode_param(name, value)
    except InvalidValueError:
        return False
    return True


def _check_param(name: str, value: object) -> None:
    try:
        _values.encode_param(name, value)
    except InvalidValueError as error:
        raise TrackUsageError(f"--params {name}: {error}") from None
    if isinstance(value, dict) and not all(isinstance(k, str) for k in value):
        raise TrackUsageError(
            f"--params {name}: a dict with non-string keys would come back with string keys: "
            "use string keys or log it as an artifact."
        )


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
        for r in (_frame_record(name, frame, plan.notes, options.cache_fingerprints) for name, frame in plan.inputs)
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
        plan,
        namespace,
        options,
        capture,
        input_records,
        error,
        _cell_error_info(error) if error is not None else None,
    )
    if error is not None and outer is not None and outer.error_in_exec is None and outer.error_before_exec is None:
        outer.error_in_exec = error  # the kernel's execute_reply (and papermill) see the failure
    return report


#: ``(name, fingerprint, rows, columns)`` of a DataFrame a tracked block read or bound.
FrameRecord = tuple[str, str, int, int]


def record_and_finish(
    run: Run,
    plan: CellPlan,
    namespace: dict[str, Any],
    options: TrackOptions,
    capture: _capture.BlockCapture,
    input_records: list[FrameRecord],
    error: BaseException | None,
    info: dict[str, Any] | None,
) -> CellReport:
    """Record what the code did (see :func:`record`), then end ``run``: ok, or failed / interrupted by
    ``error`` (described by ``info``). Shared by the magic and :func:`nbtrack.track`."""
    from nbtrack import tracking

    report = CellReport(
        run.run_id, run.short_id, "ok", capture.meter.wall_s, dict(run.params), {}, notes=list(plan.notes)
    )
    plan.failed = error is not None
    try:
        record(run, plan, namespace, options, capture, input_records, report)
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


def _known_version(run: Run, digest: str) -> dict[str, Any]:
    """``{dataset, version}`` of the stored data version with this fingerprint, if there is one."""
    from nbtrack.data import match_fingerprint

    version = match_fingerprint(digest, store=run.store)
    return {"dataset": version.name, "version": version.version} if version else {}


def _frame_record(name: str, frame: Any, notes: list[str], cached: bool = True) -> FrameRecord | None:
    """``(name, fingerprint, rows, columns)``, or None (with a note) if the frame cannot be hashed. ``cached``:
    reuse the fingerprint of a frame that provably did not change since it was last hashed (see
    :mod:`nbtrack.data._fpcache` for what that guarantees)."""
    from nbtrack.data import fingerprint
    from nbtrack.data._fpcache import CACHE

    try:
        digest = CACHE.fingerprint(frame) if cached else fingerprint(frame)
        return name, digest, len(frame), len(frame.columns)
    except Exception as error:  # an exotic frame must not stop the user's cell
        notes.append(f"DataFrame {name} not fingerprinted ({type(error).__name__}: {error})")
        return None


def record(
    run: Run,
    plan: CellPlan,
    namespace: dict[str, Any],
    options: TrackOptions,
    capture: _capture.BlockCapture,
    input_records: list[FrameRecord],
    report: CellReport,
) -> None:
    """Write what a tracked block captured onto ``run``: late params, fitted models, metrics, figures,
    printed output, DataFrame inputs and outputs, notes (shared by ``%%track`` and :func:`nbtrack.track`)."""
    meter, tee, figures, fits = capture.meter, capture.tee, capture.figures, capture.fits
    found = plan.analysis
    late = {}
    for name in plan.late_params:
        value = namespace.get(name)
        if _storable(name, value):
            late[name] = value
        else:
            report.notes.append(f"--params {name}: {type(value).__name__} value cannot be stored exactly")
    if late:
        run.log_params(late)
    pandas = sys.modules.get("pandas")
    frame_type = pandas.DataFrame if pandas is not None else ()
    if any(_is_number(v) or isinstance(v, frame_type) for v in map(namespace.get, found.bound)):
        found.roles()  # which bound names are temporaries, conditional, loaded: only when it can matter
    models = _record_fits(run, fits, found, namespace, options, report, plan.returned) if fits else set()
    explicit = set(run.latest)  # series the code logged itself (log_metric): never given inferred points
    not_bound = {n for n, v in plan.before.items() if (plan.failed or n in found.conditional) and namespace.get(n) is v}
    metrics = _numeric_metrics(found, namespace, run.params, options, report, exclude=models | not_bound)
    for name in explicit & set(metrics):
        del metrics[name]
        report.notes.append(f"{name} is logged with log_metric: the variable {name} is not added to that series")
    if metrics:
        run.log_metrics(metrics)
    run.log_metrics({WALL_METRIC: meter.wall_s, CPU_METRIC: meter.cpu_s, MEMORY_METRIC: meter.peak_growth_mb})
    if figures:
        for index, (_, png) in enumerate(figures.pngs, 1):
            run.log_artifact(png, f"figure-{index}.png", kind="figure", media_type="image/png")
        report.figures = len(figures.pngs)
    for channel in ("stdout", "stderr"):
        text = tee.text(channel)
        if text:
            run.log_text(f"{channel}.txt", text)
    loaded: list[FrameRecord] = []
    if pandas is not None and found.loaded:
        for name in found.bound:
            value = namespace.get(name)
            if name in found.loaded and isinstance(value, pandas.DataFrame) and name not in not_bound:
                frame_record = _frame_record(name, value, report.notes, options.cache_fingerprints)
                if frame_record:
                    loaded.append(frame_record)
    read = {r[1] for r in input_records}
    for name, digest, rows, columns in input_records + [r for r in loaded if r[1] not in read]:
        run.record_data("input", digest, name=name, rows=rows, columns=columns, **_known_version(run, digest))
    if pandas is not None:
        from nbtrack.store import runs as db  # here, not at the top: %load_ext must not open the store layer

        snapshotted = {link["fingerprint"] for link in db.data_links(run.store, run.run_id, "output")}
        snapshotted |= {r[1] for r in loaded}  # a frame the cell loaded and left as it was is an input
        for name in found.bound:
            value = namespace.get(name)
            if name in not_bound:
                continue
            cached = options.cache_fingerprints
            record = _frame_record(name, value, report.notes, cached) if isinstance(value, pandas.DataFrame) else None
            if record and record[1] not in snapshotted:
                run.record_data(
                    "output", record[1], name=name, rows=record[2], columns=record[3], **_known_version(run, record[1])
                )
    if report.notes:
        run.set_tag("nbtrack.notes", "; ".join(report.notes))


def _is_number(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    return (
        type(value).__module__ == "numpy"
        and getattr(value, "ndim", None) == 0
        and getattr(getattr(value, "dtype", None), "kind", "") in "iuf"
    )


def _numeric_metrics(found, namespace, params, options, report, exclude=()) -> dict:
    if options.metrics is None:
        names = [
            n
            for n in found.bound
            if n not in params and n not in exclude and not n.startswith("_") and n not in found.temporaries
        ]
    else:
        names = list(options.metrics)
    metrics = {}
    for name in names:
        value = namespace.get(name)
        if _is_number(value):
            try:
                _values.metric_value(name, value)
            except InvalidValueError as error:  # an inferred metric never fails the user's cell
                report.notes.append(f"{name} is not recorded as a metric: {error}")
                continue
            metrics[name] = value
        elif options.metrics is not None:
            report.notes.append(
                f"--metrics {name}: "
                + ("not defined" if name not in namespace else f"{type(value).__name__} is not a number")
            )
    return metrics


def _record_fits(run, fits, found, namespace, options, report, returned=None) -> set[str]:
    """Record the fitted estimators the user's code names: bound to a name (or an item of a list, tuple
    or dict the cell binds) or returned as the cell's value. Estimators fitted inside library calls
    (a LabelEncoder in ``classification_report``, a clone in ``cost_complexity_pruning_path`` or
    ``cross_val_score``) and the throwaway fits of a loop are not models of the run; when the code fitted
    more than it kept, the meta metric ``_fits`` counts them."""
    names = set()
    used: set[str] = set()
    fitted = {id(e): e for e in fits.fitted}
    chosen: list[tuple[str, Any]] = []
    taken: set[int] = set()
    for name, value in _named_values(found, namespace, returned):
        if id(value) in fitted and id(value) not in taken:
            taken.add(id(value))
            chosen.append((name, value))
    order = {id(e): i for i, e in enumerate(fits.fitted)}
    chosen.sort(key=lambda item: order[id(item[1])])
    if len(chosen) > options.max_models:
        report.notes.append(
            f"{len(chosen)} fitted models are named; the first {options.max_models} are recorded "
            f"(--max-models N records more): {', '.join(n for n, _ in chosen[options.max_models :][:5])}"
            + (" ..." if len(chosen) - options.max_models > 5 else "")
            + " left out"
        )
        chosen = chosen[: options.max_models]
    if fits.user_fits > len(chosen):
        run.log_metrics({FITS_METRIC: fits.user_fits})
        report.notes.append(
            f"the code fitted {fits.user_fits} estimators; recorded the {len(chosen)} it keeps in names"
        )
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="nbtrack-models") as writer:
        _record_models(run, chosen, used, names, report, writer)
    return names


def _record_models(run, chosen, used: set[str], names: set[str], report, writer: ThreadPoolExecutor) -> None:
    """Params and a pickle of each chosen model. Each model is pickled here, in the cell's thread (the pickle
    is the model as the cell left it), and written (blob fsynced, then its artifact row) by ``writer`` while
    the next one is pickled; every write has ended, stored or noted, when this returns, so the run is never
    ``ok`` before its models are durable."""
    from nbtrack import tracking

    writes = []
    for name, estimator in chosen:
        while name in used:
            name += "_"
        used.add(name)
        names.add(name)
        params: dict[str, object] = {name: type(estimator).__name__}
        try:
            for key, value in estimator.get_params(deep=True).items():
                params[f"{name}.{key}"] = _estimator_param(key, value)
        except Exception as error:  # a third-party estimator with a broken get_params
            report.notes.append(f"{name}: get_params() failed ({type(error).__name__}: {error})")
        best_params = getattr(estimator, "best_params_", None)
        if isinstance(best_params, dict):  # a fitted search: what it found
            for key, value in best_params.items():
                params[f"{name}.best_params.{key}"] = _estimator_param(str(key), value)
            best_score = getattr(estimator, "best_score_", None)
            if _is_number(best_score):
                run.log_metrics({f"{name}.best_score": best_score})
        run.log_params(params)
        try:
            data, meta = tracking.pickled_model(estimator)
        except Exception as error:  # unpicklable (lambdas, open files...): keep the run, say so
            report.notes.append(f"model {name} not saved ({type(error).__name__}: {error})")
            continue
        kind, media_type = "model", tracking.MODEL_MEDIA_TYPE
        writes.append(
            (name, writer.submit(run.log_artifact, data, f"{name}.pkl", kind=kind, media_type=media_type, meta=meta))
        )
    for name, write in writes:
        try:
            write.result()
            report.models.append(name)
        except Exception as error:  # as log_model's failures always were: a note, the run kept
            report.notes.append(f"model {name} not saved ({type(error).__name__}: {error})")


def _items(name: str, value: object, depth: int, budget: list[int]):
    """``(name_key, item)`` for the items of a list, tuple or dict ``value`` (and theirs, ``depth`` levels)."""
    if depth <= 0 or budget[0] <= 0:
        return
    if type(value) in (list, tuple):
        pairs = list(enumerate(value))  # type: ignore[arg-type]
    elif type(value) is dict:
        pairs = [(k, v) for k, v in value.items() if type(k) in (str, int)]  # type: ignore[union-attr]
    else:
        return
    budget[0] -= len(pairs)
    for key, item in pairs[:10_000]:
        if type(item) is tuple and len(item) == 2 and type(item[0]) is str:
            yield f"{name}_{item[0]}"[:200], item[1]  # ("rf", RandomForestClassifier()): named by its label
        yield f"{name}_{key}"[:200], item
        yield from _items(f"{name}_{key}", item, depth - 1, budget)


def _estimator_param(key: str, value: object) -> object:
    if _storable(key, value) and not isinstance(value, dict):
        return value
    if hasattr(value, "get_params"):
        return type(value).__name__
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def _named_values(found, namespace: dict, returned: object = None):
    """``(name, value)`` of what the user's code names: names the cell binds, items of the lists, tuples
    and dicts it binds, three levels deep (``models_lr`` for ``models = {"lr": ...}``, ``classifiers_rf``
    for ``classifiers = [("rf", RandomForestClassifier()), ...]``, else ``<name>_<index>``), the cell's
    displayed value, other names."""
    for name in found.bound:
        if name in namespace:
            yield name, namespace[name]
    budget = [50_000]  # items looked at in all: a big nested container of data costs no more than this
    for name in found.bound:
        yield from _items(name, namespace.get(name), 3, budget)
    if returned is not None:  # `grid.fit(X, y)` displays grid itself: its own name, not gridsearchcv_out
        named = [n for n, v in namespace.items() if v is returned and not n.startswith("_")]
        yield (named[0] if named else f"{type(returned).__name__.lower()}_out"), returned
    for name, value in list(namespace.items()):
        if not name.startswith("_"):
            yield name, value
