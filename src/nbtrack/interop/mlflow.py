"""MLflow interop: copy nbtrack runs into an MLflow tracking store and MLflow runs into nbtrack.

Both directions go through MLflow's own ``MlflowClient`` (imported only here, only when called), so
any tracking URI MLflow understands works: ``sqlite:///mlflow.db``, ``http://host:5000``, a file store.

Both are idempotent. An exported MLflow run carries the tag ``nbtrack.run_id``; runs of the store that
already have an MLflow run with that tag are skipped. An imported nbtrack run carries the tag
``mlflow.run_id``; MLflow runs already imported (or that came from this very store) are skipped.

See docs/interop.md for the field-by-field mapping.
"""

from __future__ import annotations

import ast
import json
import mimetypes
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from nbtrack import _values
from nbtrack._progress import progress
from nbtrack.editing import NOTE_TAG
from nbtrack.errors import InvalidValueError, MlflowUnavailableError, NbtrackError
from nbtrack.interop.mlflow_models import export_models, import_models
from nbtrack.reading import list_runs
from nbtrack.records import get_run
from nbtrack.store import Store, StoreLike, resolve_store
from nbtrack.store import ids as _ids
from nbtrack.store import models as dal_models
from nbtrack.store import runs as db
from nbtrack.store.maintenance import delete_run
from nbtrack.tracking import Run

EXPORT_TAG = "nbtrack.run_id"
IMPORT_TAG = "mlflow.run_id"
CODE_ARTIFACT = "code.py"
CODE_TAG = "nbtrack.code"
PARENT_TAG = "mlflow.parentRunId"
MAX_MLFLOW_TAG = 8000  # characters MLflow accepts in a tag value
MAX_MLFLOW_PARAM = 6000  # characters MLflow accepts in a param value

STATUS_TO_MLFLOW = {
    "ok": "FINISHED",
    "failed": "FAILED",
    "crashed": "FAILED",
    "interrupted": "KILLED",
    "running": "RUNNING",
}
STATUS_FROM_MLFLOW = {
    "FINISHED": "ok",
    "FAILED": "failed",
    "KILLED": "interrupted",
    "RUNNING": "running",
    "SCHEDULED": "running",
}
#: MLflow's run description (the note its UI edits); nbtrack's note is the tag ``nbtrack.note``.
MLFLOW_NOTE_TAG = "mlflow.note.content"
# MLflow tags that become nbtrack columns on import instead of tags.
_MAPPED_TAGS = {
    MLFLOW_NOTE_TAG,
    "mlflow.runName",
    PARENT_TAG,
    "mlflow.source.name",
    EXPORT_TAG,
    CODE_TAG,
    "nbtrack.kind",
    "nbtrack.status",
    "nbtrack.parent_id",
    "nbtrack.source_cell",
}


@dataclass
class TransferReport:
    """What an export or import did: ``created`` maps source run id -> new run id; ``skipped`` were done before."""

    created: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: registered model versions transferred (``name/version``; on import ``name/mlflow -> name/nbtrack``)
    models: list[str] = field(default_factory=list)

    def summary(self, verb: str) -> str:
        models = f" and {len(self.models)} registered model version(s)" if self.models else ""
        return f"{verb} {len(self.created)} run(s){models}, skipped {len(self.skipped)} already transferred"


def _client(tracking_uri: str):
    try:
        from mlflow import MlflowClient
    except ImportError:
        raise MlflowUnavailableError(
            "MLflow is not installed: `pip install mlflow` (or `pip install '.[mlflow]'` in the nbtrack checkout), then retry."
        ) from None
    from mlflow.exceptions import MlflowException

    try:
        client = MlflowClient(tracking_uri=tracking_uri)
        client.search_experiments(max_results=1)  # builds MLflow's store now, so its refusals come first
    except MlflowException as error:
        if "MLFLOW_ALLOW_FILE_STORE" in str(error):
            raise InvalidValueError(
                f"MLflow refuses the file store {tracking_uri!r} (it is in maintenance mode): use a database, "
                "e.g. --tracking-uri sqlite:///mlflow.db, or set MLFLOW_ALLOW_FILE_STORE=true to use it anyway."
            ) from None
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InvalidValueError(f"MLflow cannot use {tracking_uri!r}: {first_line}") from None
    return client


def _ms(epoch: float) -> int:
    return int(round(epoch * 1000))


def _search_all(client, experiment_ids: list[str], filter_string: str = "", order_by=None):
    """Every active run of the experiments (MLflow pages its answers)."""
    token = None
    while True:
        page = client.search_runs(experiment_ids, filter_string, max_results=1000, order_by=order_by, page_token=token)
        yield from page
        token = page.token
        if not token:
            return


# ---------------------------------------------------------------------------------------------- export
def export_mlflow(
    tracking_uri: str, *, where: str | None = None, experiment: str | None = None, store: StoreLike | None = None
) -> TransferReport:
    """Copy runs of the store into the MLflow tracking store at ``tracking_uri``.

    Each nbtrack experiment becomes the MLflow experiment of the same name (created if needed). A run
    keeps its name, status (ok->FINISHED, failed/crashed->FAILED, interrupted->KILLED, running->RUNNING),
    start and end times, params, every metric value with its step and timestamp, tags, artifacts
    (figures, pickled models, files), its code (artifact ``code.py`` and tag ``nbtrack.code``) and its
    parent (tag ``mlflow.parentRunId``). Runs exported before (tag ``nbtrack.run_id``) are skipped.

    Example::

        from nbtrack.interop.mlflow import export_mlflow
        export_mlflow("sqlite:///mlflow.db", where="status = 'ok'")
    """

    client = _client(tracking_uri)
    store = resolve_store(store, create=False)
    _, rows = list_runs(experiment=experiment, where=where, order_by="start", store=store)
    report = TransferReport()
    experiment_ids: dict[str, str] = {}
    exported = {}  # nbtrack run id -> MLflow run id, for runs already in MLflow
    still_running = {}  # the same, for copies exported while the run was running
    for name in sorted({row["experiment"] for row in rows}):
        experiment_ids[name] = _mlflow_experiment(client, name)
        for run in _search_all(client, [experiment_ids[name]]):
            if EXPORT_TAG in run.data.tags:
                exported[run.data.tags[EXPORT_TAG]] = run.info.run_id
                if run.info.status == "RUNNING":
                    still_running[run.data.tags[EXPORT_TAG]] = run.info.run_id
    for row in progress(rows, desc="export to MLflow"):
        if row["run_id"] in still_running and row["status"] != "running":
            client.delete_run(still_running[row["run_id"]])  # exported while running: replace the copy
            report.notes.append(f"run {row['short_id']} was exported while running; exported again")
        elif row["run_id"] in exported:
            report.skipped.append(row["run_id"])
            continue
        mlflow_id = _export_run(client, store, row["run_id"], experiment_ids[row["experiment"]], exported, report)
        exported[row["run_id"]] = mlflow_id
        report.created[row["run_id"]] = mlflow_id
    if dal_models.has_registry(store):
        export_models(client, store, _exported_runs(client, exported), report)
    return report


def _exported_runs(client, exported: dict[str, str]) -> dict[str, str]:
    """nbtrack run id -> MLflow run id of every run in MLflow exported from nbtrack (any experiment)."""
    found = dict(exported)
    for experiment in client.search_experiments():
        for run in _search_all(client, [experiment.experiment_id]):
            if EXPORT_TAG in run.data.tags:
                found.setdefault(run.data.tags[EXPORT_TAG], run.info.run_id)
    return found


def _mlflow_experiment(client, name: str) -> str:
    found = client.get_experiment_by_name(name)
    if found is not None:
        if found.lifecycle_stage == "deleted":
            client.restore_experiment(found.experiment_id)
        return found.experiment_id
    return client.create_experiment(name)


def _export_run(client, store: Store, run_id: str, experiment_id: str, exported: dict, report) -> str:

    record = get_run(run_id, store=store)
    created = client.create_run(experiment_id, start_time=_ms(record.start.timestamp()), run_name=record.name)
    mlflow_id = created.info.run_id
    try:
        long_params = _log_values(client, mlflow_id, record, _export_tags(record, exported))
        _export_artifacts(client, store, record, mlflow_id, long_params)
        client.set_tag(mlflow_id, EXPORT_TAG, record.run_id)  # last: a half-exported run is never "done"
        if record.status != "running":
            client.set_terminated(
                mlflow_id,
                STATUS_TO_MLFLOW.get(record.status, "FAILED"),
                end_time=_ms(record.end.timestamp()) if record.end else None,
            )
    except BaseException:
        client.delete_run(mlflow_id)
        raise
    if long_params:
        report.notes.append(
            f"run {record.short_id}: params {sorted(long_params)} are longer than MLflow allows; "
            "exported as artifact nbtrack/long_params.json"
        )
    return mlflow_id


def _export_tags(record, exported: dict) -> dict[str, str]:
    """The run's tags plus the nbtrack fields MLflow has no column for (see the mapping in docs/interop.md)."""
    tags = {key: value[:MAX_MLFLOW_TAG] for key, value in record.tags.items()}
    if record.note:  # MLflow's UI shows its note as the run's description
        tags[MLFLOW_NOTE_TAG] = record.note[:MAX_MLFLOW_TAG]
    tags.update({"nbtrack.kind": record.kind, "nbtrack.status": record.status})
    optional = {
        "mlflow.runName": record.name,
        "mlflow.source.name": record.source_path,
        "nbtrack.source_cell": record.source_cell,
        CODE_TAG: record.code,
        "nbtrack.parent_id": record.parent_id,
        PARENT_TAG: exported.get(record.parent_id),
    }
    tags.update({key: str(value)[:MAX_MLFLOW_TAG] for key, value in optional.items() if value})
    return tags


def _log_values(client, mlflow_id: str, record, tags: dict) -> dict:
    """Params, full metric histories and tags in MLflow's batch sizes; returns params too long for MLflow."""
    from mlflow.entities import Metric, Param, RunTag

    params, long_params = [], {}
    for key, value in record.params.items():
        text = param_to_text(value)
        if len(text) > MAX_MLFLOW_PARAM:
            long_params[key] = value
        else:
            params.append(Param(key, text))
    metrics = [
        Metric(key, float("nan") if value is None else float(value), _ms(when), int(step))
        for key, step, value, when in record.metrics.itertuples(index=False)
    ]
    items = [RunTag(k, v) for k, v in tags.items()]
    for start in range(0, len(params), 100):
        client.log_batch(mlflow_id, params=params[start : start + 100])
    for start in range(0, len(metrics), 1000):
        client.log_batch(mlflow_id, metrics=metrics[start : start + 1000])
    for start in range(0, len(items), 100):
        client.log_batch(mlflow_id, tags=items[start : start + 100])
    return long_params


def _export_artifacts(client, store: Store, record, mlflow_id: str, long_params: dict) -> None:
    with tempfile.TemporaryDirectory(prefix="nbtrack-export-") as folder:
        root = Path(folder)
        files = {a["name"]: store.blobs.read_bytes(a["hash"]) for a in record.artifacts}
        if record.code and CODE_ARTIFACT not in files:
            files[CODE_ARTIFACT] = record.code.encode("utf-8", "surrogateescape")
        if long_params:
            files["nbtrack/long_params.json"] = json.dumps(long_params, indent=1).encode()
        for name, data in files.items():
            target = (root / name).resolve()
            if root.resolve() not in target.parents:
                raise NbtrackError(
                    f"Artifact name {name!r} of run {record.short_id} escapes its folder; rename it before exporting."
                )
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        if files:
            client.log_artifacts(mlflow_id, str(root))


def param_to_text(value: object) -> str:
    """How an nbtrack param is written as an MLflow (string) param: ``str()`` for scalars, JSON for lists/dicts."""
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


# ---------------------------------------------------------------------------------------------- import
_INT = re.compile(r"[-+]?\d+")
_FLOAT_WORDS = {"nan", "inf", "-inf", "+inf", "infinity", "-infinity"}


def param_from_text(text: str) -> object:
    """Best-effort typing of an MLflow param (always a string there) for nbtrack.

    The rule, in order: ``"True"``/``"False"`` -> bool; ``"None"`` -> None; an integer literal -> int;
    a float literal (incl. ``1e-3``, ``nan``, ``inf``) -> float; text starting with ``[`` or ``{``
    that parses as JSON or as a Python literal (``str()`` of a list/dict) -> list/dict; else the string.
    """
    stripped = text.strip()
    if stripped in ("True", "False"):
        return stripped == "True"
    if stripped == "None":
        return None
    if _INT.fullmatch(stripped):
        return int(stripped)
    if ("_" not in stripped and any(c.isdigit() for c in stripped)) or stripped.lower() in _FLOAT_WORDS:
        try:
            return float(stripped)
        except ValueError:
            pass
    if stripped[:1] in ("[", "{"):
        for parse in (json.loads, ast.literal_eval):
            try:
                value = parse(stripped)
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                continue
            if isinstance(value, (list, dict, tuple)):
                try:
                    _values.encode_param("p", list(value) if isinstance(value, tuple) else value)
                except NbtrackError:
                    break
                return list(value) if isinstance(value, tuple) else value
    return text


def import_mlflow(
    tracking_uri: str, *, experiment: str | None = None, store: StoreLike | None = None
) -> TransferReport:
    """Copy the runs of an MLflow tracking store (all experiments, or ``experiment``) into the nbtrack store.

    A run keeps its name, status (FINISHED->ok, FAILED->failed, KILLED->interrupted, RUNNING->running),
    start/end times, params (typed by :func:`param_from_text`), every metric value with its step and
    timestamp, tags, parent (``mlflow.parentRunId``) and artifacts (downloaded into blobs). Each imported
    run gets the tag ``mlflow.run_id``; MLflow runs already imported, or exported from this very store,
    are skipped. Each run is written in one transaction: an interrupted import leaves no half run.

    Example::

        from nbtrack.interop.mlflow import import_mlflow
        import_mlflow("sqlite:///mlflow.db", experiment="wine")
    """
    client = _client(tracking_uri)
    store = resolve_store(store)
    if experiment is not None:
        found = client.get_experiment_by_name(experiment)
        if found is None:
            names = [e.name for e in client.search_experiments()]
            raise NbtrackError(f"MLflow at {tracking_uri} has no experiment {experiment!r}; it has: {names}.")
        experiments = [found]
    else:
        experiments = client.search_experiments()
    report = TransferReport()
    _drop_finished_running_copies(client, store, {e.experiment_id for e in experiments}, report)
    known = db.runs_tagged(store, IMPORT_TAG)
    local = db.all_run_ids(store)
    for exp in experiments:
        found = list(_search_all(client, [exp.experiment_id], order_by=["attributes.start_time ASC"]))
        for run in progress(found, desc=f"import {exp.name}"):
            mlflow_id = run.info.run_id
            exported_from = run.data.tags.get(EXPORT_TAG)  # the nbtrack run this MLflow run is an export of
            if mlflow_id in known or exported_from in local:
                report.skipped.append(mlflow_id)
                if exported_from is not None:
                    known.setdefault(mlflow_id, exported_from)
                continue
            new_id = _import_run(client, store, run, exp.name, known, report)
            known[mlflow_id] = new_id
            report.created[mlflow_id] = new_id
    import_models(client, store, known, tracking_uri, report)
    return report


def _drop_finished_running_copies(client, store: Store, experiment_ids: set, report: TransferReport) -> None:
    """Runs imported while running in MLflow are imported again once MLflow has finished (or deleted) them:
    drop the stale copy (with its children, which come back with it)."""
    from mlflow.exceptions import MlflowException

    for mlflow_id, run_id in db.runs_tagged(store, IMPORT_TAG, status="running").items():
        try:
            source = client.get_run(mlflow_id)
        except MlflowException:
            source = None  # gone from MLflow altogether
        if source is not None and (
            source.info.experiment_id not in experiment_ids
            or source.info.status in ("RUNNING", "SCHEDULED")
            and source.info.lifecycle_stage != "deleted"
        ):
            continue
        if db.run_exists(store, run_id):
            delete_run(run_id, recursive=True, store=store)
            report.notes.append(f"MLflow run {mlflow_id} was imported while running; refreshed")


def _import_run(client, store: Store, run, experiment: str, known: dict, report: TransferReport) -> str:
    tags = dict(run.data.tags)
    mlflow_id = run.info.run_id
    metrics = []
    for key in run.data.metrics:
        for m in client.get_metric_history(mlflow_id, key):
            metrics.append((key, m.value, int(m.step), m.timestamp / 1000))
    user_tags = {}
    for key, value in tags.items():
        if key in _MAPPED_TAGS:
            continue
        if len(value.encode("utf-8", "surrogatepass")) > _values.MAX_TAG_BYTES:
            report.notes.append(f"MLflow run {mlflow_id}: tag {key!r} is larger than nbtrack allows; not imported")
            continue
        user_tags[key] = value
    note = tags.get(MLFLOW_NOTE_TAG)  # what MLflow's UI shows and edits wins over an exported nbtrack.note
    if note and len(note.encode("utf-8", "surrogatepass")) <= _values.MAX_TAG_BYTES:
        user_tags[NOTE_TAG] = note
    user_tags[IMPORT_TAG] = mlflow_id
    parent = tags.get(PARENT_TAG)
    with tempfile.TemporaryDirectory(prefix="nbtrack-import-") as folder:
        code = tags.get(CODE_TAG)
        artifacts = _download_artifacts(client, mlflow_id, Path(folder))
        if EXPORT_TAG in tags and CODE_ARTIFACT in artifacts:  # written by export_mlflow: it is the code
            code = artifacts.pop(CODE_ARTIFACT).read_text("utf-8", "surrogateescape")
        return insert_run(
            store,
            name=run.info.run_name or tags.get("mlflow.runName"),
            experiment=experiment,
            status=STATUS_FROM_MLFLOW.get(run.info.status, "failed"),
            kind=tags.get("nbtrack.kind", "script"),
            start=run.info.start_time / 1000 if run.info.start_time else time.time(),
            end=run.info.end_time / 1000 if run.info.end_time else None,
            params={k: param_from_text(v) for k, v in run.data.params.items()},
            tags=user_tags,
            metrics=metrics,
            artifacts=artifacts,
            code=code,
            source_path=tags.get("mlflow.source.name"),
            source_cell=tags.get("nbtrack.source_cell"),
            parent_id=known.get(parent) if parent else None,
        )


def _download_artifacts(client, mlflow_id: str, folder: Path) -> dict[str, Path]:
    if not client.list_artifacts(mlflow_id):
        return {}
    local = Path(client.download_artifacts(mlflow_id, "", str(folder)))
    return {path.relative_to(local).as_posix(): path for path in sorted(local.rglob("*")) if path.is_file()}


def _artifact_kind(name: str, media_type: str) -> str:
    lower = name.lower()
    if media_type.startswith("image/"):
        return "figure"
    if lower.endswith((".pkl", ".pickle", ".joblib")):
        return "model"
    if lower.endswith(".ipynb"):
        return "notebook"
    return "file"


def insert_run(
    store: Store,
    *,
    name: str | None,
    experiment: str,
    status: str,
    kind: str,
    start: float,
    end: float | None,
    params: dict,
    tags: dict,
    metrics: list[tuple],
    artifacts: dict[str, Path],
    code: str | None = None,
    source_path: str | None = None,
    source_cell: str | None = None,
    parent_id: str | None = None,
) -> str:
    """Write one complete run with given times and status in one transaction; returns its new id.

    The core records runs as they happen (``start_run``); this writes a run that happened elsewhere. It
    inserts the ``runs`` row itself (times, status, code, parent), then records params, tags and
    metrics (``(key, value, step, epoch_time)`` tuples) through a :class:`nbtrack.tracking.Run`, so the
    ``params``/``tags``/``metrics``/``latest_metrics`` rows and the JSON summaries are exactly those
    ``tracking.py`` writes; artifacts are stored as blobs first, then referenced. All of it joins one
    ``Store.transaction()``: an error leaves no partial run. The run id is a new ULID dated at ``start``;
    host and pid stay empty, so a ``running`` run is never mistaken for a crashed local process.
    """

    blobs = []
    for artifact_name, path in artifacts.items():
        _values.check_key(artifact_name, "artifact")
        media_type = mimetypes.guess_type(artifact_name)[0] or "application/octet-stream"
        blobs.append(
            (
                artifact_name,
                _artifact_kind(artifact_name, media_type),
                store.blobs.put_file(path),
                path.stat().st_size,
                media_type,
            )
        )
    run = Run(store, _ids.new_run_id(start), name, experiment, parent_id)
    run.start_time = start
    experiment_id = store.experiment_id(experiment)
    now = time.time()
    with store.transaction() as conn:
        db.insert_run(
            conn,
            run_id=run.run_id,
            name=name,
            experiment_id=experiment_id,
            status=status,
            kind=kind,
            start=start,
            end=end,
            duration_s=None if end is None else end - start,
            source_path=source_path,
            source_cell=source_cell,
            code=code,
            parent_id=parent_id,
            updated=now,
        )
        run.log_params(params)
        run.set_tags(tags)
        for key, value, step, when in metrics:
            run.log_metric(key, value, step, when)
        db.write_artifacts(conn, run.run_id, [(n, k, b, size, m, now, None) for n, k, b, size, m in blobs], now)
        run.flush()  # joins this transaction
    run.status = status
    return run.run_id
