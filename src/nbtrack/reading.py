"""Reading runs back: tables of runs, one run in full, comparisons, artifacts."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from . import _ids, _values, query
from .errors import ArtifactNotFoundError, UntrustedArtifactError
from .store import Store, default_store

_LIST_COLUMNS = (
    'r.run_id, r.name, e.name, r.status, r.kind, r.start, r."end", r.duration_s, r.parent_id, '
    "r.summary_keys, r.summary_values"
)
_BASE_COLUMNS = ["run_id", "name", "experiment", "status", "kind", "start", "duration_s", "parent_id"]
_PREFIX_ORDER = {"params": 0, "metrics": 1, "tags": 2}


def _store(store: Store | None) -> Store:
    store = store or default_store(create=False)
    store.reconcile_crashed()
    return store


def _select(store: Store, experiment, where, order_by, limit, offset, columns=_LIST_COLUMNS):
    where_sql, where_params = query.compile_where(where)
    order_sql, order_params = query.compile_order_by(order_by)
    sql = f"SELECT {columns} FROM runs r JOIN experiments e USING (experiment_id) WHERE ({where_sql})"
    params = list(where_params)
    if experiment is not None:
        sql += " AND e.name = ?"
        params.append(experiment)
    sql += f" ORDER BY {order_sql}"
    params.extend(order_params)
    if limit is not None:
        sql += " LIMIT ? OFFSET ?"
        params.extend([int(limit), int(offset or 0)])
    elif offset:
        sql += " LIMIT -1 OFFSET ?"
        params.append(int(offset))
    return store.query(sql, params)


def runs(experiment: str | None = None, where: str | None = None, order_by: str | None = None,
         limit: int | None = None, *, offset: int = 0, store: Store | None = None):
    """Runs as a pandas DataFrame, newest first.

    Columns: ``run_id, name, experiment, status, kind, start, duration_s, parent_id``, then
    ``params.<k>``, ``metrics.<k>`` (the last value logged) and ``tags.<k>``.

    Example::

        nbtrack.runs(where="metrics.acc > 0.9 and params.model = 'rf'", order_by="-metrics.acc", limit=10)
    """
    import pandas as pd

    rows = _select(_store(store), experiment, where, order_by, limit, offset)
    base = pd.DataFrame([row[:9] for row in rows], columns=[*_BASE_COLUMNS[:6], "end", *_BASE_COLUMNS[6:]])
    base = base.drop(columns="end")
    base["start"] = pd.to_datetime(base["start"].astype("float64"), unit="s", utc=True)
    summary = _summary_frame(rows, base.index)
    if summary.columns.empty:
        return base
    ordered = sorted(summary.columns, key=lambda c: (_PREFIX_ORDER.get(c.partition(".")[0], 3), c))
    summary = summary[ordered]
    metric_columns = [c for c in ordered if c.startswith("metrics.")]
    summary[metric_columns] = summary[metric_columns].astype("float64")  # null (NaN) -> NaN in all-null columns
    return pd.concat([base, summary], axis=1)


_MAX_KEY_GROUPS = 64


def _summary_frame(rows, index):
    """The params/metrics/tags columns of ``rows``: runs that share the same names are decoded together
    as plain arrays (one parse and one frame per group); very mixed stores fall back to one dict per run."""
    import pandas as pd

    groups: dict[str, list[int]] = {}
    for position, row in enumerate(rows):
        groups.setdefault(row[9], []).append(position)
    if len(groups) > _MAX_KEY_GROUPS:
        keys = _decode_all(list(groups))
        key_of = {text: names for text, names in zip(groups, keys)}
        values = _decode_all([row[10] for row in rows])
        return pd.DataFrame.from_records([dict(zip(key_of[row[9]], v)) for row, v in zip(rows, values)],
                                         index=index)
    frames = []
    for keys_text, positions in groups.items():
        names = json.loads(keys_text)
        values = _decode_all([rows[p][10] for p in positions])
        frames.append(pd.DataFrame(values, columns=names, index=index[positions]) if names else
                      pd.DataFrame(index=index[positions]))
    if len(frames) <= 1:
        return frames[0] if frames else pd.DataFrame(index=index)
    return pd.concat(frames, sort=False).reindex(index)


def _decode_all(texts: list[str]) -> list:
    """Decode many JSON documents in one parse (orjson when installed; the json module for the rare
    document orjson refuses, such as a NaN or infinite param)."""
    blob = "[" + ",".join(texts) + "]"
    try:
        import orjson
    except ImportError:  # pragma: no cover - orjson is a dependency; this keeps a broken install usable
        return json.loads(blob)
    try:
        return orjson.loads(blob)
    except orjson.JSONDecodeError:
        return json.loads(blob)


def list_runs(experiment: str | None = None, where: str | None = None, order_by: str | None = None,
              limit: int | None = 100, offset: int = 0, store: Store | None = None) -> tuple[int, list[dict]]:
    """``(total, rows)``: one page of runs as JSON-ready dicts, and how many runs match in all."""
    store = _store(store)
    rows = _select(store, experiment, where, order_by, limit, offset)
    total = _select(store, experiment, where, None, None, 0, columns="COUNT(*)")[0][0]
    return total, [_row_dict(row) for row in rows]


def _row_dict(row) -> dict:
    return {
        "run_id": row[0], "short_id": _ids.short_id(row[0]), "name": row[1], "experiment": row[2],
        "status": row[3], "kind": row[4], "start": _iso(row[5]), "end": _iso(row[6]), "duration_s": row[7],
        "parent_id": row[8], **_split_summary(dict(zip(json.loads(row[9]), json.loads(row[10])))),
    }


def _split_summary(summary: dict) -> dict:
    parts: dict[str, dict] = {"params": {}, "metrics": {}, "tags": {}}
    for key, value in summary.items():
        prefix, _, name = key.partition(".")
        parts[prefix][name] = value
    parts["metrics"] = _json_safe(parts["metrics"])
    return parts


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, timezone.utc).isoformat()


def _json_safe(metrics: dict) -> dict:
    """NaN and infinities as strings, so the result is standard JSON."""
    return {k: (v if v is None or (v == v and abs(v) != float("inf")) else str(v)) for k, v in metrics.items()}


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
    error: dict | None
    params: dict
    latest: dict
    tags: dict
    artifacts: list[dict]
    environment: dict
    inputs: list[dict]
    outputs: list[dict]
    metrics: object = field(repr=False, default=None)

    @property
    def short_id(self) -> str:
        return _ids.short_id(self.run_id)

    def metric(self, key: str):
        """The history of one metric as a Series indexed by step."""
        frame = self.metrics[self.metrics["key"] == key]
        return frame.set_index("step")["value"].rename(key)

    def to_dict(self) -> dict:
        """A JSON-ready dict, with ``metric_series`` as ``{key: [[step, value, time], ...]}``."""
        data = asdict(self)
        data.pop("metrics")
        data["short_id"] = self.short_id
        data["start"] = self.start.isoformat()
        data["end"] = self.end.isoformat() if self.end else None
        data["latest"] = _json_safe(self.latest)
        data["metrics"] = data["latest"]
        series: dict[str, list] = {}
        for key, step, value, time in self.metrics.itertuples(index=False):
            value = None if value != value else (str(value) if abs(value) == float("inf") else value)
            series.setdefault(key, []).append([int(step), value, time])
        data["metric_series"] = series
        return data

    def _repr_html_(self) -> str:
        from html import escape

        rows = "".join(f"<tr><th>{escape(str(k))}</th><td>{escape(repr(v))}</td></tr>"
                       for k, v in [("run", self.run_id), ("name", self.name), ("status", self.status),
                                    *[(f"params.{k}", v) for k, v in self.params.items()],
                                    *[(f"metrics.{k}", v) for k, v in self.latest.items()]])
        return f"<table>{rows}</table>"


def get_run(run_id: str, store: Store | None = None) -> RunRecord:
    """Everything a run recorded; ``run_id`` may be a full id, a unique prefix or the short id."""
    import pandas as pd

    store = _store(store)
    run_id = store.resolve_run_id(run_id)
    (row,) = store.query(
        'SELECT r.run_id, r.name, e.name, r.status, r.kind, r.start, r."end", r.duration_s, r.source_path, '
        "r.source_cell, r.execution_count, r.code, r.parent_id, r.host, r.pid, r.error, r.env_hash "
        "FROM runs r JOIN experiments e USING (experiment_id) WHERE r.run_id = ?", (run_id,))
    params = {k: _values.decode_param(v, t) for k, v, t in
              store.query("SELECT key, value, type FROM params WHERE run_id = ? ORDER BY key", (run_id,))}
    metrics = _metric_history(store, run_id)
    latest = {k: (float("nan") if v is None else v) for k, v in
              store.query("SELECT key, value FROM latest_metrics WHERE run_id = ? ORDER BY key", (run_id,))}
    env_row = store.query("SELECT data FROM environments WHERE env_hash = ?", (row[16],))
    data_rows = store.query(
        "SELECT direction, fingerprint, dataset, version, name, rows, columns FROM run_data WHERE run_id = ?",
        (run_id,))
    data = [dict(zip(("direction", "fingerprint", "dataset", "version", "name", "rows", "columns"), r))
            for r in data_rows]
    return RunRecord(
        run_id=row[0], name=row[1], experiment=row[2], status=row[3], kind=row[4],
        start=datetime.fromtimestamp(row[5], timezone.utc),
        end=datetime.fromtimestamp(row[6], timezone.utc) if row[6] else None, duration_s=row[7],
        source_path=row[8], source_cell=row[9], execution_count=row[10], code=row[11], parent_id=row[12],
        children=[r[0] for r in store.query("SELECT run_id FROM runs WHERE parent_id = ? ORDER BY run_id",
                                            (run_id,))],
        host=row[13], pid=row[14], error=json.loads(row[15]) if row[15] else None,
        params=params, latest=latest,
        tags=dict(store.query("SELECT key, value FROM tags WHERE run_id = ? ORDER BY key", (run_id,))),
        artifacts=_artifacts(store, run_id),
        environment=json.loads(env_row[0][0]) if env_row else {},
        inputs=[{k: v for k, v in d.items() if k != "direction"} for d in data if d["direction"] == "input"],
        outputs=[{k: v for k, v in d.items() if k != "direction"} for d in data if d["direction"] == "output"],
        metrics=metrics,
    )


def _metric_history(store: Store, run_id: str):
    """All values of all metrics of a run: columns key, step, value, time, ordered by key then step."""
    import pandas as pd

    from ._history import unpack

    rows = store.query('SELECT key, n, steps, "values", times FROM metrics WHERE run_id = ? ORDER BY key, seq',
                       (run_id,))
    keys, steps, values, times = unpack(rows)
    frame = pd.DataFrame({"key": pd.Series(keys, dtype=object), "step": steps, "value": values, "time": times})
    return frame.sort_values(["key", "step", "time"], kind="stable", ignore_index=True)


def _artifacts(store: Store, run_id: str) -> list[dict]:
    rows = store.query("SELECT name, kind, blob, size, media_type, created, meta FROM artifacts "
                       "WHERE run_id = ? ORDER BY created, name", (run_id,))
    return [{"name": r[0], "kind": r[1], "hash": r[2], "size": r[3], "media_type": r[4], "created": r[5],
             "meta": json.loads(r[6]) if r[6] else None} for r in rows]


def load_artifact(run_id: str, name: str, *, trusted: bool = False, store: Store | None = None):
    """The content of an artifact: bytes, or for a model the unpickled object when ``trusted=True``.

    Models are pickles, and unpickling runs code: nbtrack never does it unless you pass ``trusted=True``
    for a store whose authors you trust.
    """
    store = _store(store)
    run_id = store.resolve_run_id(run_id)
    rows = store.query("SELECT kind, blob FROM artifacts WHERE run_id = ? AND name = ?", (run_id, name))
    if not rows:
        names = [a["name"] for a in _artifacts(store, run_id)]
        raise ArtifactNotFoundError(f"Run {_ids.short_id(run_id)} has no artifact {name!r}; it has: {names}.")
    kind, blob = rows[0]
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


def compare(run_ids, store: Store | None = None):
    """Params and metrics of several runs side by side (one column per run), differing rows first."""
    import pandas as pd

    records = [get_run(run_id, store) for run_id in run_ids]
    table: dict[str, dict] = {}
    for record in records:
        column = record.short_id
        for key, value in record.params.items():
            table.setdefault(f"params.{key}", {})[column] = value
        for key, value in record.latest.items():
            table.setdefault(f"metrics.{key}", {})[column] = value
    frame = pd.DataFrame.from_dict(table, orient="index", columns=[r.short_id for r in records]).astype(object)
    frame["differs"] = [len({json.dumps(v, sort_keys=True, default=str) for v in row}) > 1
                        for row in frame.itertuples(index=False)]
    return frame.sort_values("differs", ascending=False, kind="stable")


def summary_names(experiment: str | None = None, store: Store | None = None) -> dict[str, list[str]]:
    """The param, metric and tag names that the runs (of ``experiment``) record:
    ``{"params": [...], "metrics": [...], "tags": [...]}``, each sorted."""
    store = store or default_store(create=False)
    sql = "SELECT DISTINCT r.summary_keys FROM runs r"
    args: tuple = ()
    if experiment is not None:
        sql += " JOIN experiments e USING (experiment_id) WHERE e.name = ?"
        args = (experiment,)
    names: dict[str, set] = {"params": set(), "metrics": set(), "tags": set()}
    for (keys_text,) in store.query(sql, args):
        for key in json.loads(keys_text):
            prefix, _, name = key.partition(".")
            names[prefix].add(name)
    return {prefix: sorted(found) for prefix, found in names.items()}


def list_experiments(store: Store | None = None) -> list[dict]:
    """Experiments as JSON-ready dicts ``{name, runs, last_start}`` (no pandas needed)."""
    rows = (store or default_store(create=False)).query(
        "SELECT e.name, COUNT(r.run_id), MAX(r.start) FROM experiments e LEFT JOIN runs r USING (experiment_id) "
        "GROUP BY e.experiment_id ORDER BY e.name")
    return [{"name": name, "runs": count, "last_start": _iso(last)} for name, count, last in rows]


def experiments(store: Store | None = None):
    """Experiments with their number of runs and latest start, as a DataFrame."""
    import pandas as pd

    rows = _store(store).query(
        "SELECT e.name, COUNT(r.run_id), MAX(r.start) FROM experiments e LEFT JOIN runs r USING (experiment_id) "
        "GROUP BY e.experiment_id ORDER BY e.name")
    frame = pd.DataFrame(rows, columns=["experiment", "runs", "last_start"])
    frame["last_start"] = pd.to_datetime(frame["last_start"].astype("float64"), unit="s", utc=True)
    return frame
