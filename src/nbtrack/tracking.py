"""Recording runs: ``start_run`` and the ``Run`` it returns, plus module-level logging helpers.

Params, metrics and tags are buffered in memory and written in one transaction when the run ends,
when ``flush()`` is called, or at most ``FLUSH_INTERVAL_S`` after the previous write, so logging a
metric costs microseconds and a crash loses at most that interval of metrics. Artifacts are written
at once (blob first, then the row that references it).
"""

from __future__ import annotations

import io
import json
import mimetypes
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from nbtrack import _values, environment
from nbtrack.errors import InvalidValueError, NoActiveRunError
from nbtrack.store import Store, StoreLike, process_start_time, resolve_store
from nbtrack.store import history as _history
from nbtrack.store import ids as _ids
from nbtrack.store import runs as db
from nbtrack.store import summary as _summary

if TYPE_CHECKING:
    import sqlite3
    from types import TracebackType

FLUSH_INTERVAL_S = 2.0
DEFAULT_EXPERIMENT = "default"
PARENT_ENV = "NBTRACK_PARENT_RUN"

_active: list[Run] = []
_active_lock = threading.Lock()

#: What ``log_artifact`` stores: a file (its path) or bytes.
ArtifactSource = str | os.PathLike | bytes | bytearray | memoryview


class FigureLike(Protocol):
    """What ``log_figure`` stores: a matplotlib figure, or anything with its ``savefig`` (a seaborn grid...)."""

    def savefig(self, fname: Any, /, **kwargs: Any) -> object: ...


class Run:
    """One execution being recorded. Use as a context manager, or call :meth:`finish` yourself."""

    def __init__(self, store: Store, run_id: str, name: str | None, experiment: str, parent_id: str | None):
        self.store = store
        self.run_id = run_id
        self.name = name
        self.experiment = experiment
        self.parent_id = parent_id
        self.status = "running"
        self.start_time = time.time()
        self.params: dict[str, object] = {}
        self.latest: dict[str, tuple[float, int, float]] = {}
        self.tags: dict[str, str] = {}
        self._pending_params: dict[str, tuple[object, str]] = {}
        self._pending_tags: dict[str, str] = {}
        self._pending_session: str | None = None
        self._pending_metrics: dict[str, _history.Segment] = {}
        self._segments: dict[str, int] = {}
        self._last_flush = time.monotonic()
        self._artifact_names: set[str] = set()
        self._lock = threading.RLock()

    @property
    def short_id(self) -> str:
        return _ids.short_id(self.run_id)

    def __repr__(self) -> str:
        return f"<nbtrack.Run {self.short_id} {self.name or ''} ({self.status})>"

    # -- context manager ---------------------------------------------------------------------------
    def __enter__(self) -> Run:
        with _active_lock:
            if self not in _active:
                _active.append(self)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        try:
            if exc is None:
                self.finish("ok")
            elif isinstance(exc, KeyboardInterrupt):
                self.finish("interrupted", error_info(exc))
            else:
                self.finish("failed", error_info(exc))
        finally:
            # the block is over even when finishing failed (a full disk): later module-level log_* calls
            # and snapshots must not land in this run; run.finish() can still write it once space is freed
            with _active_lock:
                if self in _active:
                    _active.remove(self)
        return False

    # -- logging -----------------------------------------------------------------------------------
    def log_param(self, key: str, value: object) -> None:
        """Record a param: an int, float, str, bool, None, or a list/dict of those."""
        self.log_params({key: value})

    def log_params(self, params: Mapping[str, object]) -> None:
        encoded = {_values.check_key(k, "param"): _values.encode_param(k, v) for k, v in params.items()}
        with self._lock:
            self._pending_params.update(encoded)
            self.params.update({k: _values.decode_param(*pair) for k, pair in encoded.items()})
            self._maybe_flush()

    def log_metric(self, key: str, value: object, step: int | None = None, time_: float | None = None) -> None:
        """Record one value of a metric; ``step`` defaults to the metric's previous step + 1 (from 0)."""
        value = _values.metric_value(key, value)
        with self._lock:
            self._add_metric(key, value, step, time.time() if time_ is None else time_)
            self._maybe_flush()

    def log_metrics(self, metrics: Mapping[str, object], step: int | None = None) -> None:
        """Record several metric values, all with the same ``step`` rule and the same timestamp."""
        values = [
            (key if key in self.latest else _values.check_key(key, "metric"), _values.metric_value(key, value))
            for key, value in metrics.items()
        ]  # all validated before any is buffered
        now = time.time()
        with self._lock:
            for key, value in values:
                self._add_metric(key, value, step, now)
            self._maybe_flush()

    def _add_metric(self, key: str, value: float, step: int | None, now: float) -> None:
        """Buffer one validated value; the caller holds ``self._lock``."""
        previous = self.latest.get(key)
        if step is None:
            step = 0 if previous is None else previous[1] + 1
        elif type(step) is not int or not _values.STEP_RANGE[0] <= step <= _values.STEP_RANGE[1]:
            step = _values.metric_step(key, step)
        segment = self._pending_metrics.get(key)
        if segment is None:
            if previous is None:
                _values.check_key(key, "metric")
            segment = self._pending_metrics[key] = _history.Segment()
        segment.steps.append(step)
        segment.values.append(value)
        segment.times.append(now)
        if previous is None or step >= previous[1]:
            self.latest[key] = (value, step, now)

    def set_tag(self, key: str, value: object) -> None:
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, object]) -> None:
        encoded = {_values.check_key(k, "tag"): _values.tag_value(k, v) for k, v in tags.items()}
        with self._lock:
            self._pending_tags.update(encoded)
            self.tags.update(encoded)
            self._maybe_flush()

    def log_artifact(
        self,
        path_or_bytes: ArtifactSource,
        name: str | None = None,
        *,
        kind: str = "file",
        media_type: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> str:
        """Store a file (path) or bytes as an artifact of this run; returns its content hash."""
        if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
            data = bytes(path_or_bytes)
            name = name or self._free_name("artifact", "")
            digest, size = self.store.blobs.put_bytes(data), len(data)
        elif isinstance(path_or_bytes, (str, os.PathLike)):
            path = Path(path_or_bytes)
            if not path.is_file():
                raise InvalidValueError(f"Cannot log {path} as an artifact: it is not a file.")
            name = name or path.name
            digest, size = self.store.blobs.put_file(path), path.stat().st_size
        else:
            raise InvalidValueError(
                f"log_artifact() takes a file path or bytes, not {type(path_or_bytes).__name__}: "
                "use log_figure() for figures and log_model() for estimators."
            )
        _values.check_key(name, "artifact")
        media_type = media_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        now = time.time()
        with self.store.transaction() as conn:
            db.write_artifacts(
                conn,
                self.run_id,
                [(name, kind, digest, size, media_type, now, json.dumps(meta) if meta else None)],
                now,
            )
        self._artifact_names.add(name)
        return digest

    def log_figure(self, figure: FigureLike, name: str | None = None, **savefig_kwargs: Any) -> str:
        """Store a matplotlib figure as a PNG artifact."""

        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", **savefig_kwargs)
        name = name or self._free_name("figure", ".png")
        return self.log_artifact(buffer.getvalue(), name, kind="figure", media_type="image/png")

    def log_model(self, model: object, name: str | None = None) -> str:
        """Store a fitted model (pickled). Loading it back needs ``load_artifact(..., trusted=True)``."""
        data, meta = pickled_model(model)
        name = name or self._free_name("model", ".pkl")
        return self.log_artifact(data, name, kind="model", media_type=MODEL_MEDIA_TYPE, meta=meta)

    def log_text(self, name: str, text: str) -> str:
        return self.log_artifact(
            text.encode("utf-8", "surrogateescape"), name, kind="text", media_type="text/plain; charset=utf-8"
        )

    def record_data(
        self,
        direction: str,
        fingerprint: str,
        *,
        name: str | None = None,
        dataset: str | None = None,
        version: int | None = None,
        rows: int | None = None,
        columns: int | None = None,
    ) -> None:
        """Link this run to a DataFrame it read (``input``) or wrote (``output``)."""
        if direction not in ("input", "output"):
            raise InvalidValueError(f"direction must be 'input' or 'output', not {direction!r}.")
        with self.store.transaction() as conn:
            db.link_data(conn, self.run_id, direction, fingerprint, dataset, version, name, rows, columns)

    def record_session(self, slice_json: str) -> None:
        """Keep the session slice this run depends on (JSON of :class:`nbtrack.capture.session.SessionSlice`);
        written with the run's buffered values. ``%%track`` calls it; ``nbtrack reproduce`` reads it."""
        with self._lock:
            self._pending_session = slice_json
            self._maybe_flush()

    # -- writing -----------------------------------------------------------------------------------
    def flush(self) -> None:
        """Write buffered params, metrics and tags now."""
        with self._lock:
            with self.store.transaction() as conn:
                self._write_pending(conn)
            self._pending_written()

    def finish(self, status: str = "ok", error: dict[str, Any] | None = None) -> None:
        """End the run with ``status`` (ok, failed, interrupted); later calls do nothing."""
        with self._lock:
            if self.status != "running":
                return
            end = time.time()
            with self.store.transaction() as conn:
                self._write_pending(conn)
                db.finish_run(conn, self.run_id, status, end, end - self.start_time, error)
            self._pending_written()
            self.status = status
        with _active_lock:
            if self in _active:
                _active.remove(self)

    def _maybe_flush(self) -> None:
        if time.monotonic() - self._last_flush > FLUSH_INTERVAL_S:
            self.flush()

    def _write_pending(self, conn: sqlite3.Connection) -> None:
        """Write the buffered values in the caller's transaction. The buffers are emptied only by
        ``_pending_written``, once that transaction has committed: a failed write (a full disk) keeps them
        for the next flush, so a run never ends with values silently dropped."""
        if self._pending_params:
            db.write_params(conn, self.run_id, self._pending_params)
        if self._pending_tags:
            db.write_tags(conn, self.run_id, self._pending_tags)
        if self._pending_metrics:
            segments = []
            for key, segment in self._pending_metrics.items():
                seq = self._segments.get(key, 0)
                segments.append((key, seq, *segment.pack(key, seq)))
            db.write_metrics(conn, self.run_id, segments, self.latest)
        if self._pending_session is not None:
            db.write_session(conn, self.run_id, self._pending_session)
        if self._pending_params or self._pending_tags or self._pending_metrics:
            db.write_summary(conn, self.run_id, _summary.encode(self._summary()), time.time())

    def _pending_written(self) -> None:
        for key in self._pending_metrics:
            self._segments[key] = self._segments.get(key, 0) + 1
        self._pending_params, self._pending_tags, self._pending_metrics = {}, {}, {}
        self._pending_session = None
        self._last_flush = time.monotonic()

    def _summary(self) -> dict[str, object]:
        """The run row's flat summary: ``params.k``, ``metrics.k`` (the last value) and ``tags.k``."""
        summary: dict[str, object] = {f"params.{k}": v for k, v in self.params.items()}
        summary.update((f"metrics.{k}", v[0]) for k, v in self.latest.items())
        summary.update((f"tags.{k}", v) for k, v in self.tags.items())
        return summary

    def _free_name(self, stem: str, suffix: str) -> str:
        n = 1
        while f"{stem}-{n}{suffix}" in self._artifact_names:
            n += 1
        return f"{stem}-{n}{suffix}"


MODEL_MEDIA_TYPE = "application/x-python-pickle"


def pickled_model(model: object) -> tuple[bytes, dict[str, Any]]:
    """``(pickle of model, artifact meta)`` as :meth:`Run.log_model` stores them: the pickle is the model as
    it is now (a later change to the object does not reach it)."""
    import pickle

    data = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    meta: dict[str, Any] = {
        "class": f"{type(model).__module__}.{type(model).__qualname__}",
        "format": "pickle",
        "python": sys.version.split()[0],
    }
    get_params: Callable[..., Mapping[str, object]] | None = getattr(model, "get_params", None)  # scikit-learn
    if callable(get_params):
        meta["params"] = {k: repr(v)[:200] for k, v in get_params(deep=False).items()}
        sklearn = sys.modules.get("sklearn")
        meta["sklearn"] = getattr(sklearn, "__version__", None)
    return data, meta


def start_run(
    name: str | None = None,
    experiment: str | None = None,
    params: Mapping[str, object] | None = None,
    tags: Mapping[str, object] | None = None,
    *,
    kind: str = "script",
    code: str | None = None,
    source_path: str | None = None,
    source_cell: str | None = None,
    execution_count: int | None = None,
    parent: Run | str | None = None,
    store: StoreLike | None = None,
) -> Run:
    """Start recording a run and make it the active run.

    Use it as a context manager; the run ends ``ok``, ``failed`` (exception recorded and re-raised) or
    ``interrupted`` (KeyboardInterrupt). A run started while another is active becomes its child.

    Example::

        with nbtrack.start_run("baseline", params={"lr": 0.1}) as run:
            run.log_metric("acc", 0.93)
    """
    store = resolve_store(store)
    if parent is None:
        current = active_run()
        parent_id = current.run_id if current else (os.environ.get(PARENT_ENV) or None)
    else:
        parent_id = parent.run_id if isinstance(parent, Run) else store.resolve_run_id(str(parent))
    if experiment is None:
        experiment = _inherited_experiment(store, parent_id)
    if name is not None and not isinstance(name, str):
        raise InvalidValueError(f"A run name must be a string, not {type(name).__name__}.")
    run = Run(store, _ids.new_run_id(), name, experiment, parent_id)
    initial_params = {_values.check_key(k, "param"): _values.encode_param(k, v) for k, v in (params or {}).items()}
    initial_tags = {_values.check_key(k, "tag"): _values.tag_value(k, v) for k, v in (tags or {}).items()}
    if source_path is None and kind == "script":
        source_path = _script_path()
    env_hash, env_json = environment.capture_stored()
    experiment_id = store.experiment_id(experiment)
    with store.transaction() as conn:
        db.insert_environment(conn, env_hash, env_json)
        db.insert_run(
            conn,
            run_id=run.run_id,
            name=name,
            experiment_id=experiment_id,
            status="running",
            kind=kind,
            start=run.start_time,
            source_path=source_path,
            source_cell=source_cell,
            execution_count=execution_count,
            code=code,
            parent_id=parent_id,
            host=store.host,
            user=environment.user(),
            pid=os.getpid(),
            pid_start=_own_start_time(),
            env_hash=env_hash,
        )
        run._pending_params, run._pending_tags = initial_params, initial_tags
        run.params = {k: _values.decode_param(*pair) for k, pair in initial_params.items()}
        run.tags = dict(initial_tags)
        run._write_pending(conn)
    run._pending_written()
    with _active_lock:
        _active.append(run)
    return run


_start_times: dict[int, str | None] = {}


def _own_start_time() -> str | None:
    pid = os.getpid()
    if pid not in _start_times:
        _start_times[pid] = process_start_time(pid)
    return _start_times[pid]


def active_run() -> Run | None:
    """The innermost run being recorded in this process, or None."""
    with _active_lock:
        return _active[-1] if _active else None


def _require_active() -> Run:
    run = active_run()
    if run is None:
        raise NoActiveRunError(
            "No active run: log inside `with nbtrack.start_run():` or a `%%track` cell, "
            "or call the method on a Run object."
        )
    return run


def log_param(key: str, value: object) -> None:
    """Record a param on the active run."""
    _require_active().log_param(key, value)


def log_params(params: Mapping[str, object]) -> None:
    """Record several params on the active run."""
    _require_active().log_params(params)


def log_metric(key: str, value: object, step: int | None = None) -> None:
    """Record a metric value on the active run (``step`` defaults to the previous step + 1)."""
    _require_active().log_metric(key, value, step)


def log_metrics(metrics: Mapping[str, object], step: int | None = None) -> None:
    """Record several metric values on the active run."""
    _require_active().log_metrics(metrics, step)


def set_tag(key: str, value: object) -> None:
    """Set a tag on the active run."""
    _require_active().set_tag(key, value)


def set_tags(tags: Mapping[str, object]) -> None:
    """Set several tags on the active run."""
    _require_active().set_tags(tags)


def log_artifact(path_or_bytes: ArtifactSource, name: str | None = None) -> str:
    """Store a file or bytes as an artifact of the active run; returns the content hash."""
    return _require_active().log_artifact(path_or_bytes, name)


def log_figure(figure: FigureLike, name: str | None = None) -> str:
    """Store a matplotlib figure as a PNG artifact of the active run."""
    return _require_active().log_figure(figure, name)


def log_model(model: object, name: str | None = None) -> str:
    """Store a fitted model (pickled) as an artifact of the active run."""
    return _require_active().log_model(model, name)


def error_info(exc: BaseException) -> dict[str, str]:
    """Type, message and traceback (its last 20,000 characters) of ``exc``, as a run records its error."""
    return {
        "type": type(exc).__qualname__,
        "message": str(exc),
        "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-20000:],
    }


def _inherited_experiment(store: Store, parent_id: str | None) -> str:
    if parent_id:
        found = db.experiment_of(store, parent_id)
        if found:
            return found
    return os.environ.get("NBTRACK_EXPERIMENT") or DEFAULT_EXPERIMENT


def _script_path() -> str | None:

    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    return os.path.abspath(path) if path else None
