"""Reading runs back: tables of runs, one run in full, comparisons, artifacts."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from html import escape
from typing import TYPE_CHECKING, Any

from nbtrack import _values
from nbtrack.errors import (
    ArtifactNotFoundError,
    DamagedStoreError,
    InvalidValueError,
    NbtrackError,
    UntrustedArtifactError,
)
from nbtrack.store import Store, StoreLike, resolve_store
from nbtrack.store import experiments as _experiments
from nbtrack.store import ids as _ids
from nbtrack.store import listing as _listing
from nbtrack.store import runs as db
from nbtrack.store import summary as _summary
from nbtrack.store._decode import damaged_value, stored_json
from nbtrack.store.history import unpack

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

_BASE_COLUMNS = ["run_id", "name", "experiment", "status", "kind", "start", "duration_s", "parent_id", "user"]
_BASE_POSITIONS = [_listing.LIST_FIELDS.index(name) for name in _BASE_COLUMNS]
# Where the summary columns sit in the rows select_runs returns (see nbtrack.store.listing.LIST_FIELDS).
_RUN_ID, _EXPERIMENT, _LAYOUT, _NUM, _STR, _TEXT = (
    _listing.LIST_FIELDS.index(name)
    for name in ("run_id", "experiment", "summary_layout", "summary_num", "summary_str", "summary_text")
)
_ARCHIVED = _listing.LIST_FIELDS.index("archived")
_EXPERIMENT_NAME = _listing.LIST_FIELDS.index("experiment_name")
_PREFIX_ORDER = {"params": 0, "metrics": 1, "tags": 2}


def archived_view(archived: bool | str) -> str:
    """``runs(archived=...)`` as a view of ``nbtrack.store.listing.ARCHIVED_VIEWS``: False leaves archived
    runs out, True lists them too, ``"only"`` lists only them."""
    if archived is False or archived is None:
        return "hide"
    if archived is True:
        return "include"
    if archived == "only":
        return "only"
    raise InvalidValueError(
        f"archived must be False (leave archived runs out), True (list them too) or 'only', not {archived!r}."
    )


def _open_for_reading(store: StoreLike | None) -> Store:
    store = resolve_store(store, create=False)
    store.reconcile_crashed()
    return store


def runs(
    experiment: str | None = None,
    where: str | None = None,
    order_by: str | None = None,
    limit: int | None = None,
    *,
    offset: int = 0,
    archived: bool | str = False,
    store: StoreLike | None = None,
) -> pd.DataFrame:
    """Runs as a pandas DataFrame, newest first.

    Columns: ``run_id, name, experiment, status, kind, start, duration_s, parent_id, user`` (who made the
    run: ``NBTRACK_USER``, else git's ``user.email``, else the OS user; None before nbtrack 0.3), then
    ``params.<k>``, ``metrics.<k>`` (the last value logged) and ``tags.<k>``.

    Archived runs (:func:`nbtrack.archive_runs`) are left out; ``archived=True`` lists them too and
    ``archived="only"`` lists only them, both with an ``archived`` column (when each was archived, NaT
    for a live run).

    Example::

        nbtrack.runs(where="metrics.acc > 0.9 and params.model = 'rf'", order_by="-metrics.acc", limit=10)
    """
    import pandas as pd

    view = archived_view(archived)
    store = _open_for_reading(store)
    with store.snapshot():  # the summary layouts looked up below must be those of the rows read
        rows = _listing.select_runs(store, experiment, where, order_by, limit, offset, columns="frame", archived=view)
        columns: list[Sequence[Any]] = list(zip(*rows)) or [()] * len(_listing.LIST_FIELDS)
        experiments = _experiments.experiment_names(store)
        try:
            columns[_EXPERIMENT] = [experiments[i] for i in columns[_EXPERIMENT]]
        except KeyError as error:  # an experiment id no experiment has: a value damaged on disk
            raise damaged_value("experiment of a run", error) from error
        base = pd.DataFrame({name: columns[i] for i, name in zip(_BASE_POSITIONS, _BASE_COLUMNS)})
        base["start"] = pd.to_datetime(base["start"].astype("float64"), unit="s", utc=True)
        if view != "hide":
            when = pd.Series(columns[_ARCHIVED], dtype="float64")
            base["archived"] = pd.to_datetime(when, unit="s", utc=True)
        summary = _summary_frame(store, rows, columns, base.index)
    if summary.columns.empty:
        return base
    ordered = sorted(summary.columns, key=lambda c: (_PREFIX_ORDER.get(c.partition(".")[0], 3), c))
    summary = summary[ordered]
    metric_columns = [c for c in ordered if c.startswith("metrics.")]
    summary[metric_columns] = summary[metric_columns].astype("float64")  # null (NaN) -> NaN in all-null columns
    return pd.concat([base, summary], axis=1)


class _Layouts:
    """``(names, codes)`` of each summary layout, looked up once per layout from a run that has it."""

    def __init__(self, store: Store):
        self.store, self.known = store, {"": ([], "")}

    def get(self, layout: str, run_id: str) -> tuple[list[str], str]:
        if layout not in self.known:
            self.known[layout] = db.summary_layout(self.store, run_id)
        return self.known[layout]


def _summary_frame(store: Store, rows: list[tuple], columns: list[Sequence[Any]], index: pd.Index) -> pd.DataFrame:
    """The params/metrics/tags columns of ``rows``: runs with the same summary layout are decoded
    together (numbers straight from their packed bytes, texts in one parse), then each column is
    assembled from its layouts' pieces with one indexed assignment per layout, so a store with many
    layouts (experiments that log different names) costs about what a uniform one does."""
    import numpy as np
    import pandas as pd

    layouts = _Layouts(store)
    groups: dict[str, list[int]] = {}
    for position, layout in enumerate(columns[_LAYOUT]):
        groups.setdefault(layout, []).append(position)
    pieces: dict[str, list[tuple[np.ndarray, str, Any]]] = {}
    names: set[str] = set()
    for layout, positions in groups.items():
        keys, codes = layouts.get(layout, rows[positions[0]][0])
        names.update(keys)
        where = np.asarray(positions, dtype=np.intp)
        for key, (code, values) in _group_columns(keys, codes, [rows[p] for p in positions]).items():
            pieces.setdefault(key, []).append((where, code, values))
    data = {key: _assemble(parts, len(rows)) for key, parts in pieces.items()}
    for name in sorted(names - set(data)):  # recorded, but None in every run
        data[name] = np.full(len(rows), None, dtype=object)
    # one constructor call: inserting columns one by one fragments the frame (pandas warns past 100)
    return pd.DataFrame(data, index=index)


def _group_columns(keys: list[str], codes: str, rows: list[tuple]) -> dict[str, tuple[str, Any]]:
    """One layout's runs, column by column: ``{name: (code, values)}``. Numbers come from a numpy view of
    the joined packed bytes, strings as Arrow arrays cut from the joined string bytes, other JSON values
    from one parse. Names whose value is None are left out."""
    import numpy as np

    data: dict[str, tuple[str, Any]] = {}
    packed = _packed_numbers(codes, rows)
    strings = _summary.string_columns(codes, packed, b"".join(row[_STR] or b"" for row in rows)) if "s" in codes else {}
    others = iter(zip(*_summary.parse_texts([row[_TEXT] or "[]" for row in rows]))) if "j" in codes else iter(())
    for i, (key, code) in enumerate(zip(keys, codes)):
        if code in "fi":
            data[key] = (code, packed[f"v{i}"])
        elif code == "b":
            data[key] = (code, packed[f"v{i}"].astype(bool))
        elif code == "s":
            data[key] = (code, strings[i].to_numpy(zero_copy_only=False))
        elif code == "j":
            values = np.empty(len(rows), dtype=object)
            values[:] = next(others)
            data[key] = (code, values)
    return data


def _assemble(parts: list[tuple[np.ndarray, str, Any]], size: int) -> Any:
    """One column from its layouts' ``(positions, code, values)``, typed as concatenating the layouts'
    frames would type it: integers and booleans stay so when every run has them; numbers with gaps are
    float64 (NaN); strings are pandas strings; anything mixed is object (NaN where a run lacks it)."""
    import numpy as np
    import pandas as pd

    codes = {code for _, code, _ in parts}
    complete = sum(len(where) for where, _, _ in parts) == size
    if complete and codes in ({"i"}, {"b"}):
        out = np.empty(size, dtype=np.int64 if codes == {"i"} else bool)
    elif codes <= {"f", "i"}:
        out = np.full(size, np.nan)
    else:
        out = np.full(size, np.nan, dtype=object)
    for where, _, values in parts:
        out[where] = values
    return pd.array(out, dtype="str") if codes == {"s"} else out


def _decode_row(layouts: _Layouts, row: tuple) -> dict[str, object]:
    keys, codes = layouts.get(row[_LAYOUT], row[_RUN_ID])
    return _summary.decode(keys, codes, row[_NUM], row[_STR] or b"", row[_TEXT] or "[]")


def _packed_numbers(codes: str, rows: list[tuple]) -> np.ndarray:
    """The rows' joined ``summary_num`` bytes as one structured array (no fields when the layout has no
    numbers and no strings)."""
    import numpy as np

    dtype = _summary.numeric_dtype(codes)
    if not dtype.itemsize:
        return np.empty(len(rows), dtype=dtype)
    return np.frombuffer(b"".join(row[_NUM] for row in rows), dtype=dtype)


def list_runs(
    experiment: str | None = None,
    where: str | None = None,
    order_by: str | None = None,
    limit: int | None = 100,
    offset: int = 0,
    store: StoreLike | None = None,
    archived: bool | str = False,
) -> tuple[int, list[dict]]:
    """``(total, rows)``: one page of runs as JSON-ready dicts, and how many runs match in all (archived
    runs as :func:`runs` says; each row's ``archived`` is when it was archived, or None)."""
    view = archived_view(archived)
    store = _open_for_reading(store)
    with store.snapshot():
        total = _listing.count_matching(store, experiment, where, view)
        rows = _listing.select_runs(store, experiment, where, order_by, limit, offset, matching=total, archived=view)
        layouts = _Layouts(store)
        return total, [_row_dict(row, _decode_row(layouts, row)) for row in rows]


def _row_dict(row: tuple, summary: dict[str, object]) -> dict[str, object]:
    fields = dict(zip(_listing.LIST_FIELDS[:_LAYOUT], row))
    return {
        **fields,
        "experiment": row[_EXPERIMENT_NAME],
        "short_id": _ids.short_id(fields["run_id"]),
        "start": _iso(fields["start"]),
        "end": _iso(fields["end"]),
        "archived": _iso(fields["archived"]),
        **_split_summary(summary),
    }


def _split_summary(summary: dict[str, object]) -> dict[str, dict[str, object]]:
    parts: dict[str, dict[str, object]] = {"params": {}, "metrics": {}, "tags": {}}
    for key, value in summary.items():
        prefix, _, name = key.partition(".")
        parts[prefix][name] = value
    parts["metrics"] = _json_safe({k: None if v != v else v for k, v in parts["metrics"].items()})
    return parts


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, timezone.utc).isoformat()


def _json_value(value: object) -> object:
    """NaN and infinities as strings, so the result is standard JSON."""
    if isinstance(value, float) and (value != value or abs(value) == float("inf")):
        return str(value)
    return value


def _json_safe(metrics: Mapping[str, object]) -> dict[str, object]:
    return {k: _json_value(v) for k, v in metrics.items()}


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


def _run_record(store: Store, run_id: str) -> RunRecord:
    db.check_sealed(store, run_id)
    row = db.run_row(store, run_id)
    data = db.data_links(store, run_id)
    params = {k: _decoded_param(v, t) for k, v, t in db.params(store, run_id)}
    latest = {k: (float("nan") if v is None else v) for k, v in db.latest_metrics(store, run_id)}
    tags = db.tags(store, run_id)
    _check_summary(store, run_id, params, latest, tags)
    return RunRecord(
        **{
            k: row[k]
            for k in (
                "run_id",
                "name",
                "experiment",
                "status",
                "kind",
                "duration_s",
                "source_path",
                "source_cell",
                "execution_count",
                "code",
                "parent_id",
                "host",
                "pid",
            )
        },
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


@dataclass
class ComparedKey:
    """One param or metric across the compared runs: a value per run (None where a run lacks it)."""

    key: str
    values: list[object]
    differs: bool


@dataclass
class Comparison:
    """Several runs side by side: the one comparison behind ``nbtrack.compare``, ``nbtrack compare``,
    ``%track compare`` and the sidebar's compare view."""

    runs: list[RunRecord]
    params: list[ComparedKey]
    metrics: list[ComparedKey]  # the last value of each metric

    @property
    def ids(self) -> list[str]:
        return [r.short_id for r in self.runs]

    def series(self, with_meta: bool = True) -> dict[str, dict[str, list[list]]]:
        """Metric histories ``{key: {run_id: [[step, value], ...]}}`` (``_wall_s``-like metrics only with
        ``with_meta``)."""
        found: dict[str, dict[str, list[list]]] = {}
        for record in self.runs:
            for key, step, value, _ in record._history().itertuples(index=False):
                if with_meta or not key.startswith("_"):
                    found.setdefault(key, {}).setdefault(record.run_id, []).append([int(step), value])
        return {key: found[key] for key in sorted(found)}

    def to_frame(self) -> pd.DataFrame:
        """One row per ``params.k`` / ``metrics.k``, one column per run (short ids) and ``differs``;
        differing rows first."""
        import pandas as pd

        rows = [(f"params.{c.key}", c) for c in self.params] + [(f"metrics.{c.key}", c) for c in self.metrics]
        frame = pd.DataFrame(
            [c.values for _, c in rows], index=[name for name, _ in rows], columns=self.ids, dtype=object
        )
        frame["differs"] = [c.differs for _, c in rows]
        return frame.sort_values("differs", ascending=False, kind="stable")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``runs`` (summaries), ``params`` and ``metrics`` as ``[{key, values, differs}]``,
        ``series`` of every metric."""

        def rows(compared: list[ComparedKey], safe: Callable[[list[object]], list[object]]) -> list[dict[str, Any]]:
            return [{"key": c.key, "values": safe(c.values), "differs": c.differs} for c in compared]

        series = {
            key: {
                run_id: [[step, None if value != value else _json_value(value)] for step, value in points]
                for run_id, points in by_run.items()
            }
            for key, by_run in self.series().items()
        }
        return {
            "runs": [r.to_dict() for r in self.runs],
            "params": rows(self.params, list),
            "metrics": rows(self.metrics, lambda values: [_json_value(v) for v in values]),
            "series": series,
        }


def compare_runs(run_ids: Iterable[str], store: StoreLike | None = None) -> Comparison:
    """Compare runs given by id, short id or name (each once, in the order given)."""
    store = _open_for_reading(store)
    records: list[RunRecord] = []
    for text in run_ids:
        record = get_run(text, store)
        if record.run_id not in {r.run_id for r in records}:
            records.append(record)
    return Comparison(records, _side_by_side([r.params for r in records]), _side_by_side([r.latest for r in records]))


def _side_by_side(dicts: Sequence[Mapping[str, object]]) -> list[ComparedKey]:
    compared = []
    for key in sorted({k for d in dicts for k in d}):
        values = [d.get(key) for d in dicts]
        distinct = {json.dumps(v, sort_keys=True, default=str) for v in values}
        compared.append(ComparedKey(key, values, len(distinct) > 1))
    return compared


def compare(run_ids: Iterable[str], store: StoreLike | None = None) -> pd.DataFrame:
    """Params and metrics of several runs side by side (one column per run), differing rows first.

    Example::

        nbtrack.compare(["4f7kq2xm", "baseline"])
    """
    return compare_runs(run_ids, store).to_frame()


def summary_names(experiment: str | None = None, store: StoreLike | None = None) -> dict[str, list[str]]:
    """The param, metric and tag names that the runs (of ``experiment``) record:
    ``{"params": [...], "metrics": [...], "tags": [...]}``, each sorted."""
    store = resolve_store(store, create=False)
    names: dict[str, set[str]] = {"params": set(), "metrics": set(), "tags": set()}
    for keys in db.summary_key_lists(store, experiment):
        for key in keys:
            prefix, _, name = key.partition(".")
            names[prefix].add(name)
    return {prefix: sorted(found) for prefix, found in names.items()}


def list_experiments(store: StoreLike | None = None) -> list[dict[str, object]]:
    """Experiments as JSON-ready dicts ``{name, runs, last_start}`` (no pandas needed)."""
    rows = _experiments.experiment_counts(resolve_store(store, create=False))
    return [{"name": name, "runs": count, "last_start": _iso(last)} for name, count, last in rows]


def experiments(store: StoreLike | None = None) -> pd.DataFrame:
    """Experiments with their number of runs and latest start, as a DataFrame."""
    import pandas as pd

    rows = _experiments.experiment_counts(_open_for_reading(store))
    frame = pd.DataFrame(rows, columns=["experiment", "runs", "last_start"])
    frame["last_start"] = pd.to_datetime(frame["last_start"].astype("float64"), unit="s", utc=True)
    return frame
