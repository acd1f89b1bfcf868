"""Reading runs from stores whose runs do not all log the same names (issue 22).

Real stores mix experiments that log different params and metrics. This bench writes N runs in L
layouts (each layout: 10 of 40 param names with float, int and string values, 10 of 40 metric names,
one tag; 80 columns in all) with bench_core's bulk loader (the API's own write code), then times, on
the same store:

* ``nbtrack.runs()``: every run as a DataFrame;
* a filtered ``runs(where="params.p7 = 'a' and metrics.m3 > 0.9")``;
* a top-100 ``runs(order_by="-metrics.m3", limit=100)``;

for L = 1 and L = 100, so the cost of mixed layouts is the ratio between them. Targets (issue 22, on a
quiet machine): runs() over 100,000 runs with 100 layouts <= 1 s, filtered <= 300 ms, top-100 <= 100 ms.

``--mlflow N`` also times ``mlflow.search_runs`` (sqlite store) on N runs (default 10,000) in 1 and 100
layouts, beside ``nbtrack.runs()`` on the same N runs, with the same three calls (the filter and order
use names of the first layout, so that both stores have matching runs; MLflow's spelling of them); both
answer the filtered and top-100 queries with the same runs, which
is checked. The MLflow store is filled by bench_core's bulk loader (200 runs through ``MlflowClient``,
the rest as copies of their rows with each run's own names, verified through MLflow's API).

``--million`` times the same calls on 1,000,000 runs in 100 layouts (target: filtered <= 1 s). Writing
a million runs through the API's write code would take about four minutes, so 100,000 are written that
way and the other 900,000 are SQL copies of their rows (runs, params, metrics, latest_metrics, tags)
with new ids and start times (``copy_runs``); the copies are checked to read back like their originals.

Usage:  python bench/bench_layouts.py [--runs 100000] [--repeat 3] [--million] [--mlflow [N]]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

PARAMS = [f"p{i}" for i in range(40)]
WHERE = "params.p7 = 'a' and metrics.m3 > 0.9"
TOP = "-metrics.m3"
METRICS = [f"m{i}" for i in range(40)]


def layout_specs(n: int, layouts: int, seed: int = 0) -> list[dict]:
    """``n`` runs cycling through ``layouts`` name sets."""
    rng = random.Random(seed)
    chosen = []
    for k in range(layouts):
        pick = random.Random(k)
        chosen.append((pick.sample(PARAMS, 10), pick.sample(METRICS, 10)))
    specs = []
    for i in range(n):
        params_names, metric_names = chosen[i % layouts]
        params = {}
        for j, name in enumerate(params_names):
            params[name] = (rng.random(), rng.randrange(100), rng.choice("abc"))[j % 3]
        metrics = {name: rng.random() for name in metric_names}
        specs.append({"name": f"run-{i}", "params": params, "metrics": metrics, "tags": {"stage": "dev"}})
    return specs


def _median_s(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench(runs: int, repeat: int) -> list[tuple[str, float, float]]:
    import bench_core
    import nbtrack
    from nbtrack.store import Store

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        timings = {}
        for layouts in (1, 100):
            store = Store.open(Path(tmp) / f"l{layouts}", create=True)
            bench_core.bulk_load_nbtrack(store, layout_specs(runs, layouts))
            timings[layouts] = [
                _median_s(lambda s=store: nbtrack.runs(store=s), repeat),
                _median_s(lambda s=store: nbtrack.runs(store=s, where=WHERE), repeat),
                _median_s(lambda s=store: nbtrack.runs(store=s, order_by=TOP, limit=100), repeat),
            ]
            store.close()
        for i, label in enumerate(("runs()", "runs(where=...) filtered", "runs(order_by=..., limit=100)")):
            rows.append((label, timings[1][i], timings[100][i]))
    return rows


# Names of layout 0 (a string param, a metric), so that the queries find runs in both stores.
SHARED_WHERE = "params.p2 = 'a' and metrics.m37 > 0.9"
SHARED_TOP = "-metrics.m37"
MLFLOW_WHERE = SHARED_WHERE  # the same spelling in MLflow's filter grammar
MLFLOW_TOP = ["metrics.m37 DESC"]


def bench_mlflow(runs: int, repeat: int) -> list[tuple[str, int, float, float]]:
    """``(call, layouts, nbtrack seconds, MLflow seconds)`` on the same ``runs`` specs in each store."""
    import mlflow

    import bench_core
    import nbtrack
    from nbtrack.store import Store

    bench_core._quiet_mlflow()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for layouts in (1, 100):
            specs = layout_specs(runs, layouts)
            store = Store.open(Path(tmp) / f"n{layouts}", create=True)
            bench_core.bulk_load_nbtrack(store, specs)
            folder = Path(tmp) / f"mlflow{layouts}"
            folder.mkdir()
            uri = f"sqlite:///{folder}/mlflow.db"
            mlflow.set_tracking_uri(uri)
            experiment, _ = bench_core.bulk_load_mlflow(uri, folder, specs, 200)
            ours = {
                "runs()": lambda s=store: nbtrack.runs(store=s),
                "filtered": lambda s=store: nbtrack.runs(store=s, where=SHARED_WHERE),
                "top-100": lambda s=store: nbtrack.runs(store=s, order_by=SHARED_TOP, limit=100),
            }
            theirs = {
                "runs()": lambda e=experiment: mlflow.search_runs([e], max_results=runs + 10),
                "filtered": lambda e=experiment: mlflow.search_runs([e], MLFLOW_WHERE, max_results=runs + 10),
                "top-100": lambda e=experiment: mlflow.search_runs([e], order_by=MLFLOW_TOP, max_results=100),
            }
            for call in ("filtered", "top-100"):
                names = ours[call]()["name"].tolist()
                peer = theirs[call]()["tags.mlflow.runName"].tolist()
                same = sorted(names) == sorted(peer) if call == "filtered" else names == peer
                assert same and names, f"nbtrack and MLflow disagree on {call} ({len(names)} vs {len(peer)} runs)"
            for call in ours:
                rows.append((call, layouts, _median_s(ours[call], repeat), _median_s(theirs[call], repeat)))
            store.close()
    return rows


def copy_runs(store, copies: int) -> None:
    """Add ``copies`` copies of every run: the same rows in runs, params, metrics, latest_metrics and
    tags under new run ids, each copy starting after the last run of the one before."""
    from nbtrack.store import ids as _ids
    from nbtrack.store import schema

    first, last = store.query("SELECT min(start), max(start) FROM runs")[0]
    span = last - first + 10
    originals = store.query("SELECT run_id, start FROM runs")
    with store.transaction() as conn:
        # the value indexes of migration 7 are built again after the copy: sorting once is several times
        # faster than inserting 9 million entries at scattered places (the same indexes in the end)
        for index in schema.VALUE_INDEXES.values():
            conn.execute(f"DROP INDEX IF EXISTS {index}")
        conn.execute("PRAGMA cache_size = -262144")  # 256 MB for this connection's copy
        conn.execute("CREATE TEMP TABLE copy_ids (old TEXT, new TEXT, shift REAL, copy INTEGER)")
        conn.executemany(
            "INSERT INTO copy_ids VALUES (?, ?, ?, ?)",
            [
                (run_id, _ids.new_run_id(start + span * c), span * c, c)
                for c in range(1, copies + 1)
                for run_id, start in originals
            ],
        )
        columns = [row[1] for row in conn.execute("PRAGMA table_info(runs)")]
        shifted = {"start", "end", "updated"}
        picks = ", ".join(
            "m.new"
            if c == "run_id"
            else f'r."{c}" + m.shift'
            if c in shifted
            else "r.name || '.' || m.copy"
            if c == "name"
            else f'r."{c}"'
            for c in columns
        )
        quoted = ", ".join(f'"{c}"' for c in columns)
        conn.execute(f"INSERT INTO runs ({quoted}) SELECT {picks} FROM copy_ids m JOIN runs r ON r.run_id = m.old")
        for table in ("params", "metrics", "latest_metrics", "tags"):
            names = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
            rest = ", ".join(f't."{c}"' for c in names[1:])
            conn.execute(f"INSERT INTO {table} SELECT m.new, {rest} FROM copy_ids m JOIN {table} t ON t.run_id = m.old")
        conn.execute("DROP TABLE temp.copy_ids")
        {version: function for version, _, function in schema.MIGRATIONS}[7](conn)


def _check_copies(store) -> None:
    """A copy reads back like its original: the same params, metrics and tags."""
    import nbtrack

    for name in ("run-0", "run-4242"):
        original = nbtrack.get_run(name, store=store)
        copy = nbtrack.get_run(f"{name}.9", store=store)
        assert (original.params, original.latest, original.tags) == (copy.params, copy.latest, copy.tags), name


def bench_million(repeat: int) -> list[tuple[str, float]]:
    """``(call, seconds)`` on 1,000,000 runs in 100 layouts."""
    import bench_core
    import nbtrack
    from nbtrack.store import Store

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp) / "million", create=True)
        started = time.perf_counter()
        bench_core.bulk_load_nbtrack(store, layout_specs(100_000, 100))
        written = time.perf_counter() - started
        copy_runs(store, 9)
        store.checkpoint()
        rows.append(("store filled (100,000 written + 900,000 copied)", time.perf_counter() - started))
        rows.append(("  of which the 100,000 runs through the API's write code", written))
        assert nbtrack.list_runs(limit=1, store=store)[0] == 1_000_000
        _check_copies(store)
        rows.append(("runs(where=...) filtered", _median_s(lambda: nbtrack.runs(store=store, where=WHERE), repeat)))
        rows.append(
            (
                "runs(order_by=..., limit=100)",
                _median_s(lambda: nbtrack.runs(store=store, order_by=TOP, limit=100), repeat),
            )
        )
        rows.append(("runs() (one sample)", _median_s(lambda: nbtrack.runs(store=store), 1)))
        store.close()
    return rows


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--million", action="store_true", help="time 1,000,000 runs in 100 layouts instead")
    parser.add_argument(
        "--mlflow", type=int, nargs="?", const=10_000, help="also time mlflow.search_runs on N runs (default 10,000)"
    )
    args = parser.parse_args(argv)
    if args.mlflow:
        print(f"{args.mlflow:,} runs in each store; median of {args.repeat}")
        print(f"{'call':10} {'layouts':>7} {'nbtrack':>10} {'mlflow.search_runs':>19} {'ratio':>7}")
        for label, layouts, ours, theirs in bench_mlflow(args.mlflow, args.repeat):
            print(f"{label:10} {layouts:7} {ours:9.3f}s {theirs:18.3f}s {theirs / ours:6.1f}x")
        return 0
    if args.million:
        print(f"1,000,000 runs in 100 layouts; median of {args.repeat}")
        for label, seconds in bench_million(args.repeat):
            print(f"{label:52} {seconds:9.3f}s")
        return 0
    print(f"{args.runs:,} runs; median of {args.repeat}")
    print(f"{'call':32} {'1 layout':>10} {'100 layouts':>12} {'ratio':>6}")
    for label, one, many in bench(args.runs, args.repeat):
        print(f"{label:32} {one:9.3f}s {many:11.3f}s {many / one:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
