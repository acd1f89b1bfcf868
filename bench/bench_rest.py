"""The REST list calls the sidebar makes, against a real Jupyter server on a 100,000-run store (issue 22).

Target (issue 22, on a quiet machine): every REST list call <= 150 ms of server time at 100,000 runs.

The store: 100,000 runs in 100 layouts (``bench_layouts.layout_specs``: each run 10 of 40 params, 10 of
40 metrics, a tag), written by ``bench_core.bulk_load_nbtrack`` (the API's own write code). A real
``jupyter lab`` with nbtrack's server extension is started by ``tests/browser/browser_lab.start_lab``
and each call is timed as the HTTP round trip from this process (so the figure is server time plus
about a millisecond of loopback HTTP: an upper bound of the server time). Every call is what the sidebar
sends (``GET /runs`` with ``limit=200``, ``offset`` a multiple of 200, its ``order_by`` and ``where``),
made once to warm up and then ``--repeat`` times; the median is reported.

Usage:  python bench/bench_rest.py [--runs 100000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent / "tests" / "browser"))

PAGE = 200
WHERE = "params.p7 = 'a' and metrics.m3 > 0.9"
BROAD = "metrics.m0 > 0.5"


def calls(runs: int, broad_matches: int) -> list[tuple[str, str, dict]]:
    """``(label, route, query)`` of each call timed; ``broad_matches``: how many runs match ``BROAD`` (the
    sidebar pages within a filter's matches, so its deep page is the last page that holds runs)."""
    last = (runs - 1) // PAGE * PAGE
    broad_last = (broad_matches - 1) // PAGE * PAGE
    return [
        ("runs, first page (newest first)", "runs", {"order_by": "-start"}),
        (f"runs, filtered: {WHERE}", "runs", {"where": WHERE, "order_by": "-start"}),
        (f"runs, filtered: {BROAD}", "runs", {"where": BROAD, "order_by": "-start"}),
        ("runs, sorted by -metrics.m3", "runs", {"order_by": "-metrics.m3"}),
        ("runs, sorted by params.p7", "runs", {"order_by": "params.p7"}),
        (f"runs, deep page: offset {last:,} (the last)", "runs", {"order_by": "-start", "offset": last}),
        ("runs, sorted by -metrics.m3, offset 50,000", "runs", {"order_by": "-metrics.m3", "offset": 50_000}),
        ("runs, sorted by name, offset 50,000", "runs", {"order_by": "name", "offset": 50_000}),
        (
            f"runs, filtered ({BROAD}), offset {broad_last:,} (the last)",
            "runs",
            {"where": BROAD, "order_by": "-start", "offset": broad_last},
        ),
        ("experiments", "experiments", {}),
        ("changes (polled every 2 s)", "changes", {}),
    ]


def _get(lab, route: str, query: dict) -> tuple[float, int, dict]:
    params = {"limit": PAGE, **query} if route == "runs" else query
    url = f"{lab.url}nbtrack/api/v1/{route}?{urllib.parse.urlencode(params)}"
    request = urllib.request.Request(url, headers={"Authorization": f"token {lab.token}"})
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as response:
        body = response.read()
    return time.perf_counter() - start, len(body), json.loads(body)


def bench(runs: int, repeat: int) -> list[tuple[str, float, int, str]]:
    from browser_lab import start_lab

    import bench_core
    import nbtrack
    from bench_layouts import layout_specs
    from nbtrack.store import Store

    rows = []
    with tempfile.TemporaryDirectory(prefix="nbtrack-bench-rest-") as tmp:
        root = Path(tmp) / "store" / ".nbtrack"
        store = Store.open(root, create=True)
        bench_core.bulk_load_nbtrack(store, layout_specs(runs, 100))
        store.checkpoint()
        store.close()
        lab = start_lab(Path(tmp) / "lab", root)
        try:
            _, _, broad = _get(lab, "runs", {"where": BROAD, "order_by": "-start"})
            for label, route, query in calls(runs, broad["total"]):
                _get(lab, route, query)  # warm-up (the column keys cache, imports)
                samples = [_get(lab, route, query) for _ in range(repeat)]
                seconds = statistics.median(s for s, _, _ in samples)
                _, size, body = samples[-1]
                shown = f"{len(body['runs'])} of {body['total']:,} runs" if route == "runs" else ""
                rows.append((label, seconds, size, shown))
            check = Store.open(root, create=False)  # the deep page holds the runs the core lists there
            _, _, body = _get(lab, "runs", {"order_by": "-metrics.m3", "offset": 50_000})
            total, expected = nbtrack.list_runs(order_by="-metrics.m3", limit=PAGE, offset=50_000, store=check)
            assert [r["run_id"] for r in body["runs"]] == [r["run_id"] for r in expected] and total == body["total"]
            check.close()
        finally:
            lab.stop()
    return rows


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    print(f"{args.runs:,} runs in 100 layouts; GET round trips, median of {args.repeat}; target <= 150 ms")
    for label, seconds, size, shown in bench(args.runs, args.repeat):
        print(f"{label:58} {seconds * 1000:8.1f} ms {size:>9,} B  {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
