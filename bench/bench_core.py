"""Core benchmarks: logging one run, ``import nbtrack``, and reading 100,000 runs back, next to MLflow.

Run:  python bench/bench_core.py [--quick]      (prints a table, exits 1 if a target is missed)
API:  bench_core(quick=False) -> list[dict(name, nbtrack_s, peer, peer_s, ratio, target, ok, note)]

What is measured (every figure is a median; the machine is shared, medians resist noise):

1. One run with 10 params, 10 metrics x 100 steps (``log_metrics(dict, step)`` per step) and 5 tags,
   through each tool's module-level ("fluent") API: nbtrack into a fresh store in a temp folder; MLflow
   with a ``sqlite:///`` tracking URI and with its file store. The metric dicts are built before timing.
   Rounds of nbtrack and MLflow runs alternate, so both see the same machine load.
2. ``import nbtrack`` and ``import mlflow``: a fresh interpreter per sample, minus the bare interpreter
   start-up (``python -c pass``) measured the same way, samples interleaved.
3. ``nbtrack.runs()`` over 100,000 runs and a filtered query, next to ``mlflow.search_runs`` on 10,000
   runs (and nbtrack on the same 10,000 runs, for a like-for-like ratio). Stores are filled by bulk
   loaders (see ``bulk_load_nbtrack`` and ``bulk_load_mlflow``), each verified against the real API.
"""

from __future__ import annotations

import logging
import os
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

FULL = {
    "log_runs": 200,
    "mlflow_runs": 18,
    "rounds": 3,
    "import_repeat": 5,
    "query_runs": 100_000,
    "mlflow_query_runs": 10_000,
    "query_repeat": 5,
    "mlflow_api_runs": 200,
}
QUICK = {
    "log_runs": 60,
    "mlflow_runs": 6,
    "rounds": 2,
    "import_repeat": 3,
    "query_runs": 10_000,
    "mlflow_query_runs": 2_000,
    "query_repeat": 3,
    "mlflow_api_runs": 50,
}

PARAMS = {
    "lr": 0.01,
    "batch_size": 64,
    "optimizer": "adam",
    "dropout": 0.25,
    "layers": 4,
    "activation": "relu",
    "weight_decay": 1e-4,
    "epochs": 100,
    "seed": 42,
    "augment": True,
}
TAGS = {"stage": "dev", "team": "vision", "dataset": "cifar10", "owner": "bench", "note": "baseline"}
METRIC_KEYS = [f"m{i}" for i in range(10)]
STEP_METRICS = [{key: step * 0.001 + i for i, key in enumerate(METRIC_KEYS)} for step in range(100)]

WHERE = "metrics.m0 > 0.5 and params.p1 = 'x'"
ORDER_BY = "-metrics.m1"
LIMIT = 100
MLFLOW_FILTER = "metrics.m0 > 0.5 and params.p1 = 'x'"
MLFLOW_ORDER_BY = ["metrics.m1 DESC"]
QUERY_TEXT = (
    f'where="{WHERE}", order_by="{ORDER_BY}", limit={LIMIT}  |  MLflow: '
    f'filter_string="{MLFLOW_FILTER}", order_by={MLFLOW_ORDER_BY}, max_results={LIMIT}'
)


def _median(values) -> float:
    return statistics.median(values)


def _t(seconds: float) -> str:
    return f"{seconds * 1000:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def _spread(values) -> str:
    """Quartiles and extremes, to show how noisy a median is."""
    values = sorted(values)
    if len(values) < 4:
        return f"samples {', '.join(_t(v) for v in values)}"
    q1, _, q3 = statistics.quantiles(values, n=4)
    return f"IQR {_t(q1)} to {_t(q3)}, min {_t(values[0])}, max {_t(values[-1])}"


def _row(name, nbtrack_s, peer, peer_s, target_s, target, note="") -> dict:
    ratio = nbtrack_s / peer_s if (nbtrack_s is not None and peer_s) else None
    ok = bool(nbtrack_s is not None and (target_s is None or nbtrack_s <= target_s))
    return {
        "name": name,
        "nbtrack_s": nbtrack_s,
        "peer": peer,
        "peer_s": peer_s,
        "ratio": ratio,
        "target": target,
        "ok": ok,
        "note": note,
    }


def _quiet_mlflow() -> None:
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 refuses its file store otherwise
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    for name in ("mlflow", "alembic", "sqlalchemy"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _reset_mlflow() -> None:
    """Forget the tracking URI and active experiment set here, so later benchmarks start clean."""
    if "mlflow" not in sys.modules:
        return
    from mlflow.tracking import fluent
    from mlflow.tracking._tracking_service import utils

    fluent._active_experiment_id = None
    utils._tracking_uri = None
    os.environ.pop("MLFLOW_EXPERIMENT_ID", None)


def _have_mlflow() -> bool:
    try:
        import mlflow  # noqa: F401
    except ImportError:
        return False
    return True


# -- 1. logging one run ---------------------------------------------------------------------------


def _nbtrack_run(store) -> float:
    import nbtrack

    start = time.perf_counter()
    with nbtrack.start_run("bench", experiment="bench", store=store):
        nbtrack.log_params(PARAMS)
        nbtrack.set_tags(TAGS)
        for step, values in enumerate(STEP_METRICS):
            nbtrack.log_metrics(values, step=step)
    return time.perf_counter() - start


def _mlflow_run() -> float:
    import mlflow

    start = time.perf_counter()
    with mlflow.start_run(run_name="bench"):
        mlflow.log_params(PARAMS)
        mlflow.set_tags(TAGS)
        for step, values in enumerate(STEP_METRICS):
            mlflow.log_metrics(values, step=step)
    return time.perf_counter() - start


def _mlflow_target(kind: str, folder: Path) -> str:
    """Point the fluent API at a fresh ``kind`` store in ``folder``; returns the experiment id."""
    import mlflow

    uri = f"sqlite:///{folder}/mlflow.db" if kind == "sqlite" else (folder / "mlruns").as_uri()
    mlflow.set_tracking_uri(uri)
    experiment_id = mlflow.MlflowClient(uri).create_experiment(
        "bench", artifact_location=(folder / "artifacts").as_uri()
    )
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def bench_logging(cfg: dict, tmp: Path) -> list[dict]:
    from nbtrack.store import Store

    store = Store.open(tmp / "log" / ".nbtrack")
    first = _nbtrack_run(store)  # pays the environment capture (cached per process afterwards)
    nb: list[float] = []
    peers: dict[str, list[float]] = {"sqlite": [], "file": []}
    mlflow_ok = _have_mlflow()
    if mlflow_ok:
        _quiet_mlflow()
        import mlflow

        uris = {}
        for kind in peers:
            folder = tmp / f"mlflow-{kind}"
            folder.mkdir()
            _mlflow_target(kind, folder)
            _mlflow_run()  # warm-up: first run imports lazily-loaded modules, creates tables
            uris[kind] = (mlflow.get_tracking_uri(), mlflow.get_experiment_by_name("bench").experiment_id)
    for _ in range(cfg["rounds"]):
        nb += [_nbtrack_run(store) for _ in range(cfg["log_runs"] // cfg["rounds"])]
        if mlflow_ok:
            for kind, (uri, experiment_id) in uris.items():
                mlflow.set_tracking_uri(uri)
                mlflow.set_experiment(experiment_id=experiment_id)
                peers[kind] += [_mlflow_run() for _ in range(max(1, cfg["mlflow_runs"] // cfg["rounds"]))]
    note = (
        f"nbtrack: median of {len(nb)} runs ({_spread(nb)}); the first run in the process, which "
        f"captures the environment, took {first * 1000:.1f} ms and is excluded. MLflow {_version('mlflow')}: "
        + "; ".join(f"{kind} store median of {len(v)} runs ({_spread(v)})" for kind, v in peers.items() if v)
    )
    name = "log one run: 10 params, 10 metrics x 100 steps, 5 tags"
    nb_s = _median(nb)
    if not mlflow_ok:
        return [_row(name, nb_s, "mlflow (not installed)", None, 0.002, "<= 2 ms", note)]
    return [
        _row(name, nb_s, "mlflow fluent, sqlite:// store", _median(peers["sqlite"]), 0.002, "<= 2 ms", note),
        _row(
            name,
            nb_s,
            "mlflow fluent, file store",
            _median(peers["file"]),
            None,
            "informational (target judged in the row above)",
        ),
    ]


# -- 2. import time -------------------------------------------------------------------------------


def _start_s(code: str, cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, cwd=cwd, capture_output=True)
    return time.perf_counter() - start


def import_offenders(module: str, cwd: Path, top: int = 8) -> list[tuple[str, float]]:
    """The modules with the largest cumulative import time under ``python -X importtime``."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    rows = []
    for line in out.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if match:
            rows.append((match.group(4), int(match.group(2)) / 1e6, len(match.group(3))))
    # outermost imports only (one level below the statement itself), largest first
    level = min((depth for _, _, depth in rows), default=0)
    outer = [(name, cumulative) for name, cumulative, depth in rows if depth <= level + 2]
    return sorted(outer, key=lambda item: -item[1])[:top]


def bench_import(cfg: dict, tmp: Path) -> list[dict]:
    cwd = tmp / "import"
    cwd.mkdir()
    codes = {"bare": "pass", "nbtrack": "import nbtrack"}
    if _have_mlflow():
        codes["mlflow"] = "import mlflow"
    times: dict[str, list[float]] = {key: [] for key in codes}
    for code in codes.values():  # warm the OS file cache once
        _start_s(code, cwd)
    for _ in range(cfg["import_repeat"]):
        for key, code in codes.items():
            times[key].append(_start_s(code, cwd))
    bare = _median(times["bare"])
    nb = _median(times["nbtrack"]) - bare
    peer = _median(times["mlflow"]) - bare if "mlflow" in times else None
    note = f"fresh interpreter per sample, median of {cfg['import_repeat']}, minus bare start-up {bare * 1000:.0f} ms"
    if nb > 0.150:
        worst = ", ".join(f"{name} {seconds * 1000:.0f} ms" for name, seconds in import_offenders("nbtrack", cwd))
        note += f"; -X importtime top: {worst}"
    return [
        _row(
            "import nbtrack",
            nb,
            "import mlflow" if peer is not None else "mlflow (not installed)",
            peer,
            0.150,
            "<= 150 ms",
            note,
        )
    ]


# -- 3. reading many runs ------------------------------------------------------------------------


def run_specs(n: int, seed: int = 0) -> list[dict]:
    """``n`` runs' worth of values: 10 params (p1 one of x/y/z/w), 10 metrics in [0, 1), 2 tags."""
    rng = random.Random(seed)
    specs = []
    for i in range(n):
        params = {
            "p0": round(rng.random(), 6),
            "p1": rng.choice("xyzw"),
            "p2": rng.randrange(1, 512),
            "p3": rng.choice([True, False]),
            "p4": rng.choice(["adam", "sgd", "rmsprop"]),
            "p5": rng.randrange(0, 10),
            "p6": round(rng.uniform(0, 0.5), 4),
            "p7": f"cfg-{i % 97}",
            "p8": rng.randrange(1, 5) * 32,
            "p9": round(rng.random() * 10, 3),
        }
        metrics = {key: rng.random() for key in METRIC_KEYS}
        tags = {"stage": rng.choice(["dev", "prod"]), "batch": str(i // 1000)}
        specs.append({"name": f"run-{i}", "params": params, "metrics": metrics, "tags": tags})
    return specs


def write_with_api(store, specs: list[dict], experiment: str = "bench") -> None:
    """The reference: the same runs written through ``nbtrack.start_run``."""
    import nbtrack

    for spec in specs:
        with nbtrack.start_run(
            spec["name"], experiment=experiment, params=spec["params"], tags=spec["tags"], store=store
        ) as run:
            run.log_metrics(spec["metrics"], step=0)


def bulk_load_nbtrack(store, specs: list[dict], experiment: str = "bench", start: float | None = None) -> None:
    """Insert ``specs`` as finished runs in one transaction, through the API's own write code.

    Each run is a ``tracking.Run`` whose params, tags and ``log_metrics(..., step=0)`` are buffered as
    the API buffers them and written by ``Run._write_pending`` (params, tags, metrics, latest_metrics,
    the run's summary); the ``runs`` row is inserted with ``start_run``'s columns and ended as ``finish``
    ends it. What is skipped is one transaction (two commits) per run. Only ids and clocks differ.
    """
    from nbtrack import _values, environment, tracking
    from nbtrack.store import ids as _ids

    env_hash, env_json = environment.capture_stored()
    experiment_id = store.experiment_id(experiment)
    source_path = tracking._script_path()
    pid, pid_start = os.getpid(), tracking._own_start_time()
    t0 = start if start is not None else time.time() - 10 * len(specs)
    with store.transaction() as conn:
        conn.execute("INSERT OR IGNORE INTO environments VALUES (?, ?)", (env_hash, env_json))
        for i, spec in enumerate(specs):
            begin = t0 + 10 * i
            end = begin + 0.5 + (i % 7) * 0.1
            run = tracking.Run(store, _ids.new_run_id(begin), spec["name"], experiment, None)
            run.start_time = begin
            conn.execute(
                "INSERT INTO runs (run_id, name, experiment_id, status, kind, start, source_path, source_cell, "
                "execution_count, code, parent_id, host, pid, pid_start, env_hash, updated) "
                "VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run.run_id,
                    spec["name"],
                    experiment_id,
                    "script",
                    begin,
                    source_path,
                    None,
                    None,
                    None,
                    None,
                    store.host,
                    pid,
                    pid_start,
                    env_hash,
                    begin,
                ),
            )
            run._pending_params = {
                _values.check_key(k, "param"): _values.encode_param(k, v) for k, v in spec["params"].items()
            }
            run.params = {k: _values.decode_param(*pair) for k, pair in run._pending_params.items()}
            run._pending_tags = {_values.check_key(k, "tag"): _values.tag_value(k, v) for k, v in spec["tags"].items()}
            run.tags = dict(run._pending_tags)
            run.log_metrics(spec["metrics"], step=0)
            run._write_pending(conn)
            run._pending_written()  # as flush() does once its transaction commits (here: joined)
            conn.execute(
                'UPDATE runs SET status = ?, "end" = ?, duration_s = ?, error = ?, updated = ? WHERE run_id = ?',
                ("ok", end, end - begin, None, end, run.run_id),
            )
            run.status = "ok"


_CLOCK_COLUMNS = {"run_id", "start", "end", "duration_s", "updated", "time", "times", "pid", "pid_start"}


def _table_rows(store, table: str) -> list[tuple]:
    """Rows of ``table`` as (run name, columns...) without ids and clock values, sorted."""
    columns = [row[1] for row in store.query(f"PRAGMA table_info({table})")]
    keep = [c for c in columns if c not in _CLOCK_COLUMNS]
    if table == "runs":
        sql = f"SELECT {', '.join(f'r.{_q(c)}' for c in keep)} FROM runs r"
    else:
        sql = (
            f"SELECT r.name, {', '.join(f't.{_q(c)}' for c in keep)} FROM {table} t JOIN runs r ON r.run_id = t.run_id"
        )
    return sorted(store.query(sql), key=repr)


def _q(column: str) -> str:
    return f'"{column}"'


def verify_bulk_loader(tmp: Path, sample: int = 25) -> str:
    """Write the same ``sample`` runs through the API and through the bulk loader; compare everything
    a user can read back. Raises AssertionError on any difference; returns a one-line summary."""
    import nbtrack
    from nbtrack.store import Store

    specs = run_specs(sample, seed=7)
    api, bulk = Store.open(tmp / "verify-api" / ".nbtrack"), Store.open(tmp / "verify-bulk" / ".nbtrack")
    write_with_api(api, specs)
    bulk_load_nbtrack(bulk, specs)
    for table in ("runs", "params", "tags", "metrics", "latest_metrics", "environments", "experiments"):
        if table in ("environments", "experiments"):
            a, b = api.query(f"SELECT * FROM {table}"), bulk.query(f"SELECT * FROM {table}")
            a = [row[:2] if table == "experiments" else row for row in a]
            b = [row[:2] if table == "experiments" else row for row in b]
        else:
            a, b = _table_rows(api, table), _table_rows(bulk, table)
        assert a == b, f"bulk loader differs from the API in table {table}"
    drop = ["run_id", "start", "duration_s"]
    frame_a = nbtrack.runs(store=api).drop(columns=drop).sort_values("name").reset_index(drop=True)
    frame_b = nbtrack.runs(store=bulk).drop(columns=drop).sort_values("name").reset_index(drop=True)
    assert frame_a.equals(frame_b), "runs() differs between API-written and bulk-loaded runs"
    assert list(frame_a.dtypes) == list(frame_b.dtypes)
    ids_a = dict(api.query("SELECT name, run_id FROM runs"))
    ids_b = dict(bulk.query("SELECT name, run_id FROM runs"))
    for spec in specs[:5]:
        ra, rb = nbtrack.get_run(ids_a[spec["name"]], store=api), nbtrack.get_run(ids_b[spec["name"]], store=bulk)
        for attribute in (
            "name",
            "experiment",
            "status",
            "kind",
            "params",
            "latest",
            "tags",
            "code",
            "source_path",
            "environment",
            "error",
            "parent_id",
        ):
            assert getattr(ra, attribute) == getattr(rb, attribute), f"get_run().{attribute} differs"
        assert ra.metrics[["key", "step", "value"]].equals(rb.metrics[["key", "step", "value"]])
    where_a = nbtrack.runs(where=WHERE, order_by=ORDER_BY, store=api)["name"].tolist()
    where_b = nbtrack.runs(where=WHERE, order_by=ORDER_BY, store=bulk)["name"].tolist()
    assert where_a == where_b, "the filtered query differs"
    api.close()
    bulk.close()
    return (
        f"bulk loader verified: {sample} runs written through start_run and through the loader give "
        "identical rows in runs/params/tags/metrics/latest_metrics/environments (ids and clock values "
        "aside), identical runs() frames and filtered queries, identical get_run() records"
    )


_SAMPLES: dict[str, list[float]] = {}


def _timed(fn, repeat: int, label: str | None = None) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    if label:
        _SAMPLES[label] = times
    return _median(times)


def _copied_rows(table: str, template_rows: list[dict], values: dict | None) -> list[dict]:
    """A copied run's rows of ``table``: the template run's rows, except that a keyed table (params,
    metrics, latest_metrics, tags) gets one row per key of ``values`` (the copy's own names, which need not
    be the template's), shaped like the template's rows; tags the template has beyond ``values`` (MLflow's
    own ``mlflow.*`` tags) are kept."""
    if values is None:
        return [dict(row) for row in template_rows]
    shape = template_rows[0]
    kept = [dict(row) for row in template_rows if table == "tags" and row["key"] not in values]
    return kept + [dict(shape, key=key, value=value) for key, value in values.items()]


def bulk_load_mlflow(uri: str, folder: Path, specs: list[dict], api_runs: int) -> tuple[str, str]:
    """Fill an MLflow sqlite store with ``specs``.

    The first ``api_runs`` runs go through ``MlflowClient`` (create_run, log_batch, set_terminated).
    The rest are copies of the first run's rows in every table that has a ``run_uuid`` column (runs, tags,
    params, metrics, latest_metrics), with new ids, names, times, keys and values (each copy logs its own
    spec's names: stores of many layouts): exactly the rows MLflow's own store writes, minus the per-run
    round trips. Returns (experiment_id, summary).
    """
    import mlflow
    from mlflow.entities import Metric, Param, RunTag

    client = mlflow.MlflowClient(uri)
    experiment_id = client.create_experiment("bench", artifact_location=(folder / "artifacts").as_uri())
    t0 = int((time.time() - 10 * len(specs)) * 1000)
    api_runs = min(api_runs, len(specs))
    started = time.perf_counter()
    template = None
    for i, spec in enumerate(specs[:api_runs]):
        run = client.create_run(experiment_id, start_time=t0 + 10_000 * i, run_name=spec["name"])
        client.log_batch(
            run.info.run_id,
            metrics=[Metric(k, v, t0 + 10_000 * i + 250, 0) for k, v in spec["metrics"].items()],
            params=[Param(k, str(v)) for k, v in spec["params"].items()],
            tags=[RunTag(k, v) for k, v in spec["tags"].items()],
        )
        client.set_terminated(run.info.run_id, end_time=t0 + 10_000 * i + 500)
        template = template or run.info.run_id
    api_s = time.perf_counter() - started
    db = sqlite3.connect(folder / "mlflow.db")
    tables = [
        name
        for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        if "run_uuid" in [c[1] for c in db.execute(f'PRAGMA table_info("{name}")')]
    ]
    rows = {}
    for table in tables:
        columns = [c[1] for c in db.execute(f'PRAGMA table_info("{table}")')]
        rows[table] = (
            columns,
            [dict(zip(columns, r)) for r in db.execute(f'SELECT * FROM "{table}" WHERE run_uuid = ?', (template,))],
        )
    inserts: dict[str, list[tuple]] = {table: [] for table in tables}
    for i, spec in enumerate(specs[api_runs:], start=api_runs):
        run_id = uuid.uuid4().hex
        begin = t0 + 10_000 * i
        values = {
            "params": {k: str(v) for k, v in spec["params"].items()},
            "metrics": spec["metrics"],
            "latest_metrics": spec["metrics"],
            "tags": {**spec["tags"], "mlflow.runName": spec["name"]},
        }
        for table, (columns, template_rows) in rows.items():
            for row in _copied_rows(table, template_rows, values.get(table)):
                row["run_uuid"] = run_id
                if table == "runs":
                    row.update(
                        name=spec["name"],
                        start_time=begin,
                        end_time=begin + 500,
                        artifact_uri=row["artifact_uri"].replace(template, run_id),
                    )
                elif "timestamp" in row and table in values:
                    row["timestamp"] = begin + 250
                inserts[table].append(tuple(row[c] for c in columns))
    with db:
        for table in ("runs", *[t for t in tables if t != "runs"]):
            columns = rows[table][0]
            db.executemany(f'INSERT INTO "{table}" VALUES ({", ".join("?" * len(columns))})', inserts[table])
    db.close()
    # verify through MLflow itself
    found = mlflow.search_runs(experiment_ids=[experiment_id], max_results=len(specs) + 10)
    assert len(found) == len(specs), f"MLflow sees {len(found)} runs, expected {len(specs)}"
    for spec in (specs[api_runs], specs[-1]):
        (run_id,) = found.loc[found["tags.mlflow.runName"] == spec["name"], "run_id"]
        data = client.get_run(run_id).data
        assert data.params == {k: str(v) for k, v in spec["params"].items()}, "params differ"
        assert data.metrics == spec["metrics"], "metrics differ"
        assert {k: data.tags[k] for k in spec["tags"]} == spec["tags"], "tags differ"
    reference = client.get_run(template)
    copy = client.get_run(found.loc[found["tags.mlflow.runName"] == specs[-1]["name"], "run_id"].iloc[0])
    assert set(reference.data.tags) == set(copy.data.tags) and reference.info.status == copy.info.status
    summary = (
        f"MLflow store: {api_runs} runs through MlflowClient ({api_s / api_runs * 1000:.0f} ms per run, "
        f"so {len(specs)} would take {api_s / api_runs * len(specs) / 60:.1f} min), the rest as copies of "
        f"a client-written run's rows in {', '.join(tables)}; verified: search_runs returns "
        f"{len(found)} runs and get_run returns the intended params/metrics/tags"
    )
    return experiment_id, summary


def bench_query(cfg: dict, tmp: Path) -> list[dict]:
    import nbtrack
    from nbtrack.store import Store

    check = verify_bulk_loader(tmp)
    n, m = cfg["query_runs"], cfg["mlflow_query_runs"]
    big = Store.open(tmp / "q-big" / ".nbtrack")
    started = time.perf_counter()
    bulk_load_nbtrack(big, run_specs(n, seed=1))
    load_s = time.perf_counter() - started
    small = Store.open(tmp / "q-small" / ".nbtrack")
    specs_m = run_specs(m, seed=2)
    bulk_load_nbtrack(small, specs_m)
    repeat = cfg["query_repeat"]

    frame = nbtrack.runs(store=big)
    assert len(frame) == n and frame.shape[1] >= 10 + 10 + 2
    full_big = _timed(lambda: nbtrack.runs(store=big), repeat, "full_big")
    filtered = nbtrack.runs(where=WHERE, order_by=ORDER_BY, limit=LIMIT, store=big)
    assert len(filtered) == LIMIT

    def filtered(store):
        return nbtrack.runs(where=WHERE, order_by=ORDER_BY, limit=LIMIT, store=store)

    filt_big = _timed(lambda: filtered(big), repeat, "filt_big")
    full_small = _timed(lambda: nbtrack.runs(store=small), repeat, "full_small")
    filt_small = _timed(lambda: filtered(small), repeat, "filt_small")

    peer_full = peer_filt = None
    mlflow_note = "mlflow not installed"
    if _have_mlflow():
        _quiet_mlflow()
        import mlflow

        folder = tmp / "mlflow-query"
        folder.mkdir()
        uri = f"sqlite:///{folder}/mlflow.db"
        mlflow.set_tracking_uri(uri)
        experiment_id, mlflow_note = bulk_load_mlflow(uri, folder, specs_m, cfg["mlflow_api_runs"])
        peer_frame = mlflow.search_runs(experiment_ids=[experiment_id])
        assert len(peer_frame) == m
        peer_full = _timed(lambda: mlflow.search_runs(experiment_ids=[experiment_id]), max(2, repeat - 2), "peer_full")
        kwargs = dict(
            experiment_ids=[experiment_id], filter_string=MLFLOW_FILTER, order_by=MLFLOW_ORDER_BY, max_results=LIMIT
        )
        same = nbtrack.runs(where=WHERE, order_by=ORDER_BY, limit=LIMIT, store=small)["name"].tolist()
        theirs = mlflow.search_runs(**kwargs)["tags.mlflow.runName"].tolist()
        assert same == theirs, "nbtrack and MLflow disagree on the filtered query's result"
        peer_filt = _timed(lambda: mlflow.search_runs(**kwargs), repeat, "peer_filt")
    peer_m = f"mlflow.search_runs, {m:,} runs"

    def spread(*labels):
        names = {"full_big": "nbtrack", "filt_big": "nbtrack", "peer_full": "MLflow", "peer_filt": "MLflow"}
        return "; ".join(f"{names[label]} {_spread(_SAMPLES[label])}" for label in labels if label in _SAMPLES)

    notes = (
        f"nbtrack store of {n:,} runs bulk-loaded in {load_s:.0f} s; {check}; {mlflow_note}; "
        f"{spread('full_big', 'peer_full')}"
    )
    return [
        _row(
            f"nbtrack.runs() -> DataFrame, {n:,} runs x (10 params, 10 metrics, 2 tags)",
            full_big,
            peer_m,
            peer_full,
            1.0,
            "<= 1 s",
            notes,
        ),
        _row(
            f"filtered query, {n:,} runs (filter, order, limit 100)",
            filt_big,
            peer_m,
            peer_filt,
            0.300,
            "<= 300 ms",
            f"{QUERY_TEXT}; on the {m:,}-run stores both tools return the same runs in the same order; "
            f"{spread('filt_big', 'peer_filt')}",
        ),
        _row(
            f"nbtrack.runs() -> DataFrame, {m:,} runs (same data as MLflow)",
            full_small,
            peer_m,
            peer_full,
            None,
            "ratio (informational)",
        ),
        _row(
            f"filtered query, {m:,} runs (same data as MLflow)",
            filt_small,
            peer_m,
            peer_filt,
            None,
            "ratio (informational)",
        ),
    ]


def _version(package: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def bench_core(quick: bool = False) -> list[dict]:
    """All core rows: logging one run, import time, reading many runs (see the module docstring)."""
    cfg = QUICK if quick else FULL
    tmp = Path(tempfile.mkdtemp(prefix="nbtrack-bench-core-"))
    cwd = os.getcwd()
    try:
        os.chdir(tmp)  # MLflow's default ./mlruns and any store discovery stay in the temp folder
        return bench_logging(cfg, tmp) + bench_import(cfg, tmp) + bench_query(cfg, tmp)
    finally:
        _reset_mlflow()
        os.chdir(cwd)
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str]) -> int:
    results = bench_core(quick="--quick" in argv)
    for r in results:
        peer = f"{r['peer_s'] * 1000:.1f} ms" if r["peer_s"] is not None else "-"
        ratio = f"{r['ratio']:.3g}" if r["ratio"] is not None else "-"
        print(
            f"{'ok ' if r['ok'] else 'NO '} {r['nbtrack_s'] * 1000:9.2f} ms  {r['peer']}: {peer}  ratio {ratio}  "
            f"target {r['target']}  {r['name']}"
        )
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
