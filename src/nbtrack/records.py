"""One run in full (:class:`RunRecord`, :func:`get_run`) and its artifacts (:func:`load_artifact`), each read
checked against the run's seal and summary: a value changed inside a damaged database is an error."""

from __future__ import annotations

import struct
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from html import escape
from typing import TYPE_CHECKING, Any

from nbtrack import _values
from nbtrack.errors import ArtifactNotFoundError, DamagedStoreError, NbtrackError, UntrustedArtifactError
from nbtrack.reading import _json_safe, _open_for_reading
from nbtrack.store import Store, StoreLike
from nbtrack.store import ids as _ids
from nbtrack.store import runs as db
from nbtrack.store import summary as _summary
from nbtrack.store._decode import damaged_value, stored_json
from nbtrack.store.history import unpack

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class RunRecord:
    """Everything one run recorded."""

    run_id: str
    name: str | None
    experiment: str
    status: str
    kind: str
    start: datetime
    end: datetime | None
    duration_s: float | None
    source_path: str | None
    source_cell: str | None
    execution_count: int | None
    code: str | None
    parent_id: str | None
    children: list[str]
    host: str | None
    pid: int | None
    error: dict[str, Any] | None
    params: dict[str, object]
    latest: dict[str, float]  # the last value of each metric (NaN for a None)
    tags: dict[str, str]
    artifacts: list[dict[str, Any]]
    environment: dict[str, Any]
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    #: every value of every metric: columns key, step, value, time (``get_run`` always fills it)
    metrics: pd.DataFrame | None = field(repr=False, default=None)
    #: who made the run: NBTRACK_USER, git's user.email or the OS user (None for runs before nbtrack 0.3)
    user: str | None = None
    #: when the run was archived (:func:`nbtrack.archive_runs`), None for a live run
    archived: datetime | None = None

    @property
    def note(self) -> str | None:
        """The run's note (:func:`nbtrack.set_note`; the reserved tag ``nbtrack.note``), or None."""
        return self.tags.get("nbtrack.note")

    @property
    def short_id(self) -> str:
        return _ids.short_id(self.run_id)

    def _history(self) -> pd.DataFrame:
        if self.metrics is None:
            raise NbtrackError(
                f"This record of run {self.short_id} holds no metric history: read the run with nbtrack.get_run()."
            )
        return self.metrics

    def metric(self, key: str) -> pd.Series:
        """The history of one metric as a Series indexed by step."""
        history = self._history()
        frame = history[history["key"] == key]
        return frame.set_index("step")["value"].rename(key)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, with ``metric_series`` as ``{key: [[step, value, time], ...]}``."""
        data = asdict(self)
        data.pop("metrics")
        data["short_id"] = self.short_id
        data["start"] = self.start.isoformat()
        data["end"] = self.end.isoformat() if self.end else None
        data["archived"] = self.archived.isoformat() if self.archived else None
        data["latest"] = _json_safe(self.latest)
        data["metrics"] = data["latest"]
        series: dict[str, list] = {}
        for key, step, value, time in self._history().itertuples(index=False):
            value = None if value != value else (str(value) if abs(value) == float("inf") else value)
            series.setdefault(key, []).append([int(step), value, time])
        data["metric_series"] = series
        return data

    def _repr_html_(self) -> str:

        rows = "".join(
            f"<tr><th>{escape(str(k))}</th><td>{escape(repr(v))}</td></tr>"
            for k, v in [
                ("run", self.run_id),
                ("name", self.name),
                ("status", self.status),
                *[(f"params.{k}", v) for k, v in self.params.items()],
                *[(f"metrics.{k}", v) for k, v in self.latest.items()],
            ]
        )
        return f"<table>{rows}</table>"


def get_run(run_id: str, store: StoreLike | None = None) -> RunRecord:
    """Everything a run recorded; ``run_id`` may be a full id, a unique prefix or the short id."""

    store = _open_for_reading(store)
    with store.snapshot():  # the cross-checks compare rows of one state, never the halves of a flush
        return _run_record(store, store.resolve_run_id(run_id))


#: The columns of a run's row a :class:`RunRecord` holds as stored (times, error and environment are decoded).
_AS_STORED = tuple(k for k in db.RUN_FIELDS if k not in ("start", "end", "error", "env_hash"))


def _run_record(store: Store, run_id: str) -> RunRecord:
    db.check_sealed(store, run_id)
    row = db.run_row(store, run_id)
    data = db.data_links(store, run_id)
    params = {k: _decoded_param(v, t) for k, v, t in db.params(store, run_id)}
    latest = {k: (float("nan") if v is None else v) for k, v in db.latest_metrics(store, run_id)}
    tags = db.tags(store, run_id)
    _check_summary(store, run_id, params, latest, tags)
    return RunRecord(
        **{k: row[k] for k in _AS_STORED},
        start=datetime.fromtimestamp(row["start"], timezone.utc),
        end=datetime.fromtimestamp(row["end"], timezone.utc) if row["end"] else None,
        children=db.child_run_ids(store, run_id),
        error=stored_json(row["error"], "error of a run") if row["error"] else None,
        params=params,
        latest=latest,
        tags=tags,
        artifacts=db.artifacts(store, run_id),
        environment=db.environment(store, row["env_hash"]),
        inputs=[{k: v for k, v in d.items() if k != "direction"} for d in data if d["direction"] == "input"],
        outputs=[{k: v for k, v in d.items() if k != "direction"} for d in data if d["direction"] == "output"],
        metrics=_metric_history(store, run_id, latest),
        user=db.run_user(store, run_id),
        archived=_datetime(db.archived_at(store, run_id)),
    )


def _check_summary(
    store: Store, run_id: str, params: dict[str, Any], latest: dict[str, float], tags: dict[str, str]
) -> None:
    """The run's ``params``, ``latest_metrics`` and ``tags`` rows hold what its summary holds (one transaction
    writes both): a row lost, renamed or changed inside a damaged database is an error, not a gap or another
    value. Values the summary keeps as JSON (lists, dicts...) are compared by name only."""
    keys, codes, num, strings, text = db.summary_row(store, run_id)
    rows: dict[str, Any] = {f"params.{k}": v for k, v in params.items()}
    rows.update((f"metrics.{k}", v) for k, v in latest.items())
    rows.update((f"tags.{k}", v) for k, v in tags.items())
    differences = sorted(set(keys) ^ set(rows))
    if not differences:
        try:
            summary = _summary.decode(keys, codes, num, strings, text)
        except (ValueError, struct.error, StopIteration) as error:  # bytes that no longer decode
            raise damaged_value("summary of a run", error) from error
        differences = [k for k, c in zip(keys, codes) if c in "fibsn" and not _same_value(summary[k], rows[k])]
    if differences:
        raise DamagedStoreError(
            f"The params, metrics and tags of run {run_id} stored in nbtrack.db do not match the run's summary "
            f"(for {', '.join(differences[:5])}): the database is damaged. Run `nbtrack fsck` to see what it finds, "
            "and restore nbtrack.db from a copy of the store."
        )


def _same_value(summary: object, stored: object) -> bool:
    if isinstance(summary, bool) or isinstance(stored, bool):
        return type(summary) is type(stored) and summary == stored
    if isinstance(summary, (int, float)) and isinstance(stored, (int, float)):  # SQLite may store 3 as 3.0
        return summary == stored or (summary != summary and stored != stored)  # NaN is NaN
    return type(summary) is type(stored) and summary == stored


def _decoded_param(value: Any, kind: str) -> object:
    """:func:`nbtrack._values.decode_param` of a stored param; text that no longer parses is damage."""
    try:
        return _values.decode_param(value, kind)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as error:
        raise damaged_value("param of a run", error) from error


def _datetime(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, timezone.utc)


def _metric_history(store: Store, run_id: str, latest: dict[str, float]) -> pd.DataFrame:
    """All values of all metrics of a run: columns key, step, value, time, ordered by key then step. The
    checksummed histories must agree with the run's ``latest`` values (see ``store.history``)."""
    import pandas as pd

    keys, steps, values, times = unpack(db.metric_segments(store, run_id), latest)
    frame = pd.DataFrame({"key": pd.Series(keys, dtype=object), "step": steps, "value": values, "time": times})
    return frame.sort_values(["key", "step", "time"], kind="stable", ignore_index=True)


def load_artifact(run_id: str, name: str, *, trusted: bool = False, store: StoreLike | None = None) -> Any:
    """The content of an artifact: bytes, or for a model the unpickled object when ``trusted=True``.

    Models are pickles, and unpickling runs code: nbtrack never does it unless you pass ``trusted=True``
    for a store whose authors you trust.
    """
    store = _open_for_reading(store)
    run_id = store.resolve_run_id(run_id)
    found = db.artifact(store, run_id, name)
    if found is None:
        names = [a["name"] for a in db.artifacts(store, run_id)]
        raise ArtifactNotFoundError(f"Run {_ids.short_id(run_id)} has no artifact {name!r}; it has: {names}.")
    kind, blob = found
    data = store.blobs.read_bytes(blob)
    if kind != "model":
        return data
    if not trusted:
        raise UntrustedArtifactError(
            f"{name!r} is a pickled model; unpickling can run arbitrary code. If you trust this store, call "
            f"load_artifact({run_id[-8:]!r}, {name!r}, trusted=True)."
        )
    import pickle

    return pickle.loads(data)
