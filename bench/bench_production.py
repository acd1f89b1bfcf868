"""Production benchmarks: what tracking adds to a papermill execution, and sweep throughput.

* ``run overhead``: the same trivial notebook executed by ``papermill.execute_notebook`` and by
  ``nbtrack.run_notebook`` (which also infers parameters, records the run, stores the input and output
  notebooks and rolls up child metrics), in alternating pairs; medians. Target: <= 5 % more wall time.
* ``sweep throughput``: N trivial notebooks, ``nbtrack.sweep(..., jobs=2)`` against running them one
  after another with plain papermill in one process, in interleaved pairs (sweep, sequential, sweep,
  sequential...); the median of the pairs' ratios. Target: >= 1.8x the throughput (on 2 cores).

Kernel start-up (about 1 s) dominates both; the machine's other load makes single figures noisy, so
each side is measured several times, interleaved.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path


def _trivial_notebook(folder: Path) -> Path:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(
        cells=[new_code_cell("x = 1\ny = 2"), new_code_cell("z = sum(range(1000)) * x + y"), new_code_cell("print(z)")],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    )
    path = folder / "trivial.ipynb"
    nbformat.write(nb, str(path))
    return path


def bench_production(quick: bool = False) -> list[dict]:
    import logging

    import papermill

    import nbtrack
    from nbtrack.store import Store

    logging.getLogger("papermill").setLevel(logging.ERROR)
    folder = Path(tempfile.mkdtemp(prefix="bench-production-"))
    notebook = _trivial_notebook(folder)
    store = Store.open(folder / ".nbtrack")
    out = str(folder / "out.ipynb")
    # warm-up: imports, first kernel start, first store writes
    papermill.execute_notebook(str(notebook), out, progress_bar=False)
    nbtrack.run_notebook(notebook, store=store, output=out)

    pairs = 3 if quick else 7
    plain, tracked = [], []
    for _ in range(pairs):
        start = time.perf_counter()
        papermill.execute_notebook(str(notebook), out, progress_bar=False)
        plain.append(time.perf_counter() - start)
        start = time.perf_counter()
        nbtrack.run_notebook(notebook, store=store, output=out)
        tracked.append(time.perf_counter() - start)
    plain_s, tracked_s = statistics.median(plain), statistics.median(tracked)
    rows = [
        {
            "name": f"notebook run (trivial notebook, median of {pairs} interleaved pairs)",
            "nbtrack_s": tracked_s,
            "peer": "papermill.execute_notebook",
            "peer_s": plain_s,
            "ratio": tracked_s / plain_s,
            "target": "<= 1.05",
            "ok": tracked_s / plain_s <= 1.05,
        }
    ]

    n = 8 if quick else 16
    rounds = 2 if quick else 3
    sweeps, sequentials, ratios, all_ok = [], [], [], True
    for _ in range(rounds):  # interleaved: a change in the machine's load hits both sides alike
        start = time.perf_counter()
        board = nbtrack.sweep(notebook, {"x": list(range(n))}, jobs=2, store=store, progress=False)
        sweeps.append(time.perf_counter() - start)
        all_ok = all_ok and bool((board["status"] == "ok").all())
        start = time.perf_counter()
        for _ in range(n):
            papermill.execute_notebook(str(notebook), out, progress_bar=False)
        sequentials.append(time.perf_counter() - start)
        ratios.append(sequentials[-1] / sweeps[-1])
    speedup = statistics.median(ratios)
    rows.append(
        {
            "name": f"sweep of {n} trivial notebooks, --jobs 2 on {os.cpu_count()} cores, median of {rounds} "
            "interleaved pairs",
            "nbtrack_s": statistics.median(sweeps),
            "peer": "papermill, one after another",
            "peer_s": statistics.median(sequentials),
            "ratio": speedup,
            "target": "throughput >= 1.8x",
            "ok": speedup >= 1.8 and all_ok,
            "note": "ratio = sequential papermill time / sweep time (higher is better), median of the pairs' "
            "ratios " + ", ".join(f"{r:.2f}" for r in ratios),
        }
    )
    return rows


if __name__ == "__main__":
    for row in bench_production(quick="--quick" in os.sys.argv):
        print(row)
