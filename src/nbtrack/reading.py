"""Reading runs back: tables of runs, one run in full, comparisons, artifacts."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from nbtrack import _values
from nbtrack.store import ids as _ids
from nbtrack.store import query
from nbtrack.errors import ArtifactNotFoundError, UntrustedArtifactError
from nbtrack.store import Store, default_store

# Summary columns: empty strings/JSON come back as None (no Python object made per run).
_SUMMARY_COLUMNS = "r.summary_layout, r.summary_num, NULLIF(r.summary_str, x''), NULLIF(r.summary_text, '[]')"
_LIST_COLUMNS = (
    f'r.run_id, r.name, e.name, r.status, r.kind, r.start, r."end", r.duration_s, r.parent_id, {_SUMMARY_COLUMNS}'
)
# runs() maps experiment ids to names itself and has no "end" column: fewer objects to make per row.
_FRAME_COLUMNS = (
    f"r.run_id, r.name, r.experiment_id, r.status, r.kind, r.start, NULL, r.duration_s, r.parent_id, {_SUMMARY_COLUMNS}"
)
_BASE_COLUMNS = ["run_id", "name", "experiment", "status", "kind", "start", "duration_s", "parent_id"]
_BASE_POSITIONS = [0, 1, 2, 3, 4, 5, 7, 8]  # in the selected columns (6 is "end")
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

    store = _store(store)
    with store.snapshot():  # the summary layouts looked up below must be those of the rows read
        rows = _select(store, experiment, where, order_by, limit, offset, columns=_FRAME_COLUMNS)
        columns = list(zip(*rows)) or [()] * 13
        experiments = dict(store.query("SELECT experiment_id, name FROM experiments"))
        columns[2] = [experiments[i] for i in columns[2]]
        base = pd.DataFrame({name: columns[i] for i, name in zip(_BASE_POSITIONS, _BASE_COLUMNS)})
        base["start"] = pd.to_datetime(base["start"].astype("float64"), unit="s", utc=True)
        summary = _summary_frame(store, rows, columns, base.index)
    if summary.columns.empty:
        return base
    ordered = sorted(summary.columns, key=lambda c: (_PREFIX_ORDER.get(c.partition(".")[0], 3), c))
    summary = summary[ordered]
    metric_columns = [c for c in ordered if c.startswith("metrics.")]
    summary[metric_columns] = summary[metric_columns].astype("float64")  # null (NaN) -> NaN in all-null columns
    return pd.concat([base, summary], axis=1)


_MAX_LAYOUT_GROUPS = 64


class _Layouts:
    """``(names, codes)`` of each summary layout, looked up once per layout from a run that has it."""

    def __init__(self, store: Store):
        self.store, self.known = store, {"": ([], "")}

    def get(self, layout: str, run_id: str) -> tuple[list[str], str]:
        if layout not in self.known:
            keys, codes = self.store.query("SELECT summary_keys, summary_codes FROM runs WHERE run_id = ?",
                                           (run_id,))[0]
            self.known[layout] = (json.loads(keys), codes)
        return self.known[layout]


def _summary_frame(store: Store, rows, columns, index):
    """The params/metrics/tags columns of ``rows``: runs with the same summary layout are decoded
    together (numbers straight from their packed bytes, texts in one parse); very mixed stores fall
    back to one dict per run."""
    import pandas as pd

    layouts = _Layouts(store)
    groups: dict[str, list[int]] = {}
    for position, layout in enumerate(columns[9]):
        groups.setdefault(layout, []).append(position)
    if len(groups) > _MAX_LAYOUT_GROUPS:
        return pd.DataFrame.from_records([_decode_row(layouts, row) for row in rows], index=index)
    frames, names = [], set()
    for layout, positions in groups.items():
        keys, codes = layouts.get(layout, rows[positions[0]][0])
        names.update(keys)
        frames.append(_group_frame(keys, codes, [rows[p] for p in positions], index[positions]))
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, sort=False).reindex(index) if frames else \
        pd.DataFrame(index=index)
    for name in sorted(names - set(frame.columns)):
        frame[name] = None  # recorded, but None in every run
    return frame


def _group_frame(keys: list[str], codes: str, rows, index):
    """One layout's runs as a frame: numbers from a numpy view of the joined packed bytes, strings as
    Arrow arrays cut from the joined string bytes, other JSON values from one parse. Names whose value
    is None are left out (NaN after the concat)."""
    import numpy as np
    import pandas as pd

    from nbtrack.store import summary as _summary

    data = {}
    dtype = _summary.numeric_dtype(codes)
    packed = np.frombuffer(b"".join(row[10] for row in rows), dtype=dtype) if dtype.itemsize else None
    strings = _summary.string_columns(codes, packed, b"".join(row[11] or b"" for row in rows)) if "s" in codes else {}
    others = iter(zip(*_summary.parse_texts([row[12] or "[]" for row in rows]))) if "j" in codes else None
    for i, (key, code) in enumerate(zip(keys, codes)):
        if code in "fi":
            data[key] = packed[f"v{i}"].copy()
        elif code == "b":
            data[key] = packed[f"v{i}"].astype(bool)
        elif code == "s":
            data[key] = pd.array(strings[i], dtype="str")
        elif code == "j":
            data[key] = pd.Series(next(others), dtype=object, index=index).array
    return pd.DataFrame(data, index=index)


def _decode_row(layouts: _Layouts, row) -> dict:
    from nbtrack.store import summary as _summary

    keys, codes = layouts.get(row[9], row[0])
    return _summary.decode(keys, codes, row[10], row[11] or b"", row[12] or "[]")


def list_runs(experiment: str | None = None, where: str | None = None, order_by: str | None = None,
              limit: int | None = 100, offset: int = 0, store: Store | None = None) -> tuple[int, list[dict]]:
    """``(total, rows)``: one page of runs as JSON-ready dicts, and how many runs match in all."""
    store = _store(store)
    with store.snapshot():
        rows = _select(store, experiment, where, order_by, limit, offset)
        total = _select(store, experiment, where, None, None, 0, columns="COUNT(*)")[0][0]
        layouts = _Layouts(store)
        return total, [_row_dict(row, _decode_row(layouts, row)) for row in rows]


def _row_dict(row, summary: dict) -> dict:
    return {
        "run_id": row[0], "short_id": _ids.short_id(row[0]), "name": row[1], "experiment": row[2],
        "status": row[3], "kind": row[4], "start": _iso(row[5]), "end": _iso(row[6]), "duration_s": row[7],
        "parent_id": row[8], **_split_summary(summary),
    }


def _split_summary(summary: dict) -> dict:
    parts: dict[str, dict] = {"params": {}, "metrics": {}, "tags": {}}
    for key, value in summary.items():
        prefix, _, name = key.partition(".")
        parts[prefix][name] = value
    parts["metrics"] = _json_safe({k: None if v != v else v for k, v in parts["metrics"].items()})
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

    from nbtrack.store.history import unpack

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
