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

Usage:  python bench/bench_layouts.py [--runs 100000] [--repeat 3]
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
                _median_s(lambda s=store: nbtrack.runs(store=s, where="params.p7 = 'a' and metrics.m3 > 0.9"), repeat),
                _median_s(lambda s=store: nbtrack.runs(store=s, order_by="-metrics.m3", limit=100), repeat),
            ]
            store.close()
        for i, label in enumerate(("runs()", "runs(where=...) filtered", "runs(order_by=..., limit=100)")):
            rows.append((label, timings[1][i], timings[100][i]))
    return rows


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"{args.runs:,} runs; median of {args.repeat}")
    print(f"{'call':32} {'1 layout':>10} {'100 layouts':>12} {'ratio':>6}")
    for label, one, many in bench(args.runs, args.repeat):
        print(f"{label:32} {one:9.3f}s {many:11.3f}s {many / one:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
