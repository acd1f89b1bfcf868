"""What a tracked cell recorded, written onto its run once the code has run: late params, the fitted models
the code names, numeric metrics, figures, printed output, DataFrame inputs and outputs, notes."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nbtrack import _values
from nbtrack.capture import outputs as _capture
from nbtrack.capture.plan import CellPlan, CellReport, TrackOptions, storable
from nbtrack.errors import InvalidValueError

if TYPE_CHECKING:
    from nbtrack.tracking import Run

#: Names of the meta metrics every tracked cell records (seconds, seconds, MiB).
WALL_METRIC, CPU_METRIC, MEMORY_METRIC = "_wall_s", "_cpu_s", "_peak_mem_mb"
#: Meta metric: estimators the cell's own code fitted, when more than the models it kept.
FITS_METRIC = "_fits"

#: ``(name, fingerprint, rows, columns)`` of a DataFrame a tracked block read or bound.
FrameRecord = tuple[str, str, int, int]


def _known_version(run: Run, digest: str) -> dict[str, Any]:
    """``{dataset, version}`` of the stored data version with this fingerprint, if there is one."""
    from nbtrack.data import match_fingerprint

    version = match_fingerprint(digest, store=run.store)
    return {"dataset": version.name, "version": version.version} if version else {}


def frame_record(name: str, frame: Any, notes: list[str], cached: bool = True) -> FrameRecord | None:
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


@dataclass
class Execution:
    """One execution of tracked code, as recording needs it: its plan, the namespace it ran in, its options,
    what was captured while it ran and the DataFrames it read."""

    plan: CellPlan
    namespace: dict[str, Any]
    options: TrackOptions
    capture: _capture.BlockCapture
    input_records: list[FrameRecord]


def record(run: Run, execution: Execution, report: CellReport) -> None:
    """Write what a tracked block captured onto ``run``: late params, fitted models, metrics, figures,
    printed output, DataFrame inputs and outputs, notes (shared by ``%%track`` and :func:`nbtrack.track`)."""
    plan, namespace, options, capture = execution.plan, execution.namespace, execution.options, execution.capture
    found = plan.analysis
    _log_late_params(run, plan, namespace, report)
    pandas = sys.modules.get("pandas")
    frame_type = pandas.DataFrame if pandas is not None else ()
    if any(_is_number(v) or isinstance(v, frame_type) for v in map(namespace.get, found.bound)):
        found.roles()  # which bound names are temporaries, conditional, loaded: only when it can matter
    fits = capture.fits
    models = _record_fits(run, fits, found, namespace, options, report, plan.returned) if fits else set()
    # names a failed or conditional execution did not bind this time: they still hold their earlier values
    not_bound = {n for n, v in plan.before.items() if (plan.failed or n in found.conditional) and namespace.get(n) is v}
    _log_metrics(run, _numeric_metrics(found, namespace, run.params, options, report, models | not_bound), report)
    meter = capture.meter
    run.log_metrics({WALL_METRIC: meter.wall_s, CPU_METRIC: meter.cpu_s, MEMORY_METRIC: meter.peak_growth_mb})
    _log_outputs(run, capture, report)
    if pandas is not None:
        _record_frames(run, execution, report, not_bound, pandas.DataFrame)
    if report.notes:
        run.set_tag("nbtrack.notes", "; ".join(report.notes))


def _log_late_params(run: Run, plan: CellPlan, namespace: dict[str, Any], report: CellReport) -> None:
    """The ``--params`` names the cell itself binds, with the values it left them."""
    late = {}
    for name in plan.late_params:
        value = namespace.get(name)
        if storable(name, value):
            late[name] = value
        else:
            report.notes.append(f"--params {name}: {type(value).__name__} value cannot be stored exactly")
    if late:
        run.log_params(late)


def _log_metrics(run: Run, metrics: dict[str, Any], report: CellReport) -> None:
    """The cell's numeric results, except series the code logged itself (never given inferred points)."""
    for name in set(run.latest) & set(metrics):
        del metrics[name]
        report.notes.append(f"{name} is logged with log_metric: the variable {name} is not added to that series")
    if metrics:
        run.log_metrics(metrics)


def _log_outputs(run: Run, capture: _capture.BlockCapture, report: CellReport) -> None:
    """The figures, in display order, and the printed output."""
    if capture.figures:
        for index, (_, png) in enumerate(capture.figures.pngs, 1):
            run.log_artifact(png, f"figure-{index}.png", kind="figure", media_type="image/png")
        report.figures = len(capture.figures.pngs)
    for channel in ("stdout", "stderr"):
        text = capture.tee.text(channel)
        if text:
            run.log_text(f"{channel}.txt", text)


def _record_frames(run: Run, execution: Execution, report: CellReport, not_bound: set[str], frame_type: type) -> None:
    """The DataFrames the code read (inputs, and frames it loaded and left as they were) and those it bound
    (outputs), each linked to the stored data version with its fingerprint when there is one."""
    found, namespace, cached = execution.plan.analysis, execution.namespace, execution.options.cache_fingerprints
    loaded: list[FrameRecord] = []
    for name in found.bound if found.loaded else ():
        value = namespace.get(name)
        if name in found.loaded and isinstance(value, frame_type) and name not in not_bound:
            found_record = frame_record(name, value, report.notes, cached)
            if found_record:
                loaded.append(found_record)
    read = {r[1] for r in execution.input_records}
    for name, digest, rows, columns in execution.input_records + [r for r in loaded if r[1] not in read]:
        run.record_data("input", digest, name=name, rows=rows, columns=columns, **_known_version(run, digest))
    from nbtrack.store import runs as db  # here, not at the top: %load_ext must not open the store layer

    snapshotted = {link["fingerprint"] for link in db.data_links(run.store, run.run_id, "output")}
    snapshotted |= {r[1] for r in loaded}  # a frame the cell loaded and left as it was is an input
    for name in found.bound:
        value = namespace.get(name)
        if name in not_bound or not isinstance(value, frame_type):
            continue
        written = frame_record(name, value, report.notes, cached)
        if written and written[1] not in snapshotted:
            run.record_data(
                "output", written[1], name=name, rows=written[2], columns=written[3], **_known_version(run, written[1])
            )


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
    if storable(key, value) and not isinstance(value, dict):
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
