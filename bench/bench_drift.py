"""The drift check of a large batch against a large training version (issue 18's target: <= 2x the time of
reading both with pd.read_parquet, peak memory <= the two frames).

    .venv/bin/python bench/bench_drift.py [--rows 10000000] [--folder /tmp/nbtrack-drift-bench]

Makes a training frame and a batch of ``--rows`` rows each (an ID, a timestamp, five numeric features, one
categorical; the batch with new IDs, later times and one shifted feature), stores both as versions of one
dataset and as Parquet files, then measures, each in a fresh process (so peak RSS is its own):

* ``read``: ``pd.read_parquet`` of both files (what the target compares with);
* ``drift``: ``nbtrack.drift("events", 2, against="events@1")`` (stored versions, read column by column);
* ``monitor``: ``nbtrack.monitor`` of the batch's Parquet file against the model's training version (the
  batch read whole, the training version column by column).

Prints seconds and peak RSS above the process's baseline (after imports) for each, and the frames' size:
the best of ``--repeat`` runs of each against the best read, and each repeat's ratio to its own read.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

MEASURE = r"""
import json, sys, time
import numpy as np, pandas as pd
import nbtrack
from nbtrack.data import _drift  # imports done before the baseline
from nbtrack.registry import _monitor

def rss_mb():  # this process's peak RSS (VmHWM: ru_maxrss would keep the parent's peak across exec)
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024

what, folder = sys.argv[1], sys.argv[2]
store = folder + "/.nbtrack"
base = rss_mb()
start = time.perf_counter()
if what == "read":
    frames = [pd.read_parquet(f"{folder}/{n}.parquet") for n in ("train", "batch")]
    size = sum(int(f.memory_usage(deep=True).sum()) for f in frames)
elif what == "drift":
    report = nbtrack.drift("events", 2, against="events@1", store=store)
    size = report.flagged
else:
    report = nbtrack.monitor("events-model", f"{folder}/batch.parquet", store=store)
    size = report.drift.flagged
seconds = time.perf_counter() - start
print(json.dumps({"what": what, "seconds": seconds, "peak_mb": rss_mb() - base, "base_mb": base, "size": size}))
"""


def make(folder: Path, rows: int) -> None:
    import numpy as np
    import pandas as pd

    import nbtrack

    store = folder / ".nbtrack"
    if (folder / "batch.parquet").exists() and store.exists():
        return
    rng = np.random.default_rng(0)

    def frame(start: int, shift: float) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "event_id": np.arange(start, start + rows, dtype=np.int64),
                "ts": np.arange(start, start + rows, dtype=np.int64) * 10,
                **{f"x{i}": rng.normal(shift if i == 0 else 0.0, 1.0, rows) for i in range(4)},
                "count": rng.poisson(3, rows),
                "channel": pd.Categorical.from_codes(rng.integers(0, 8, rows), [f"c{i}" for i in range(8)]),
            }
        )

    train, batch = frame(0, 0.0), frame(rows, 0.5)  # the batch: new IDs, later times, x0 +0.5 sd
    train.to_parquet(folder / "train.parquet")
    batch.to_parquet(folder / "batch.parquet")
    started = time.perf_counter()
    nbtrack.snapshot(train, "events", key="event_id", store=store)
    nbtrack.snapshot(batch, "events", key="event_id", store=store)
    print(f"stored both versions in {time.perf_counter() - started:.1f} s", flush=True)
    with nbtrack.start_run("fit", store=store) as run:  # a model trained on events@1, for monitor
        from nbtrack.data import fingerprint

        run.record_data("input", fingerprint(train.head(1)), name="events", dataset="events", version=1, rows=rows)
        run.log_artifact(b"not a model", "model.bin", kind="model")
    nbtrack.register_model(run.run_id, "events-model", store=store)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--folder", default="/tmp/nbtrack-drift-bench")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    folder = Path(args.folder) / str(args.rows)
    folder.mkdir(parents=True, exist_ok=True)
    make(folder, args.rows)
    results: dict[str, list[dict]] = {}
    for _ in range(args.repeat):
        for what in ("read", "drift", "monitor"):
            done = subprocess.run(
                [sys.executable, "-c", MEASURE, what, str(folder)], capture_output=True, text=True, check=True,
                env={**os.environ, "NBTRACK_HOME": str(folder / ".nbtrack")},
            )  # fmt: skip
            found = json.loads(done.stdout.strip().splitlines()[-1])
            results.setdefault(what, []).append(found)
            print(json.dumps(found), flush=True)
    best = {w: min(r, key=lambda x: x["seconds"]) for w, r in results.items()}
    frames_mb = best["read"]["size"] / 2**20
    print(f"\n{args.rows:,} rows per frame; both frames in memory: {frames_mb:.0f} MB")
    for what in ("read", "drift", "monitor"):
        b = best[what]
        ratio = b["seconds"] / best["read"]["seconds"]
        # each repeat's own ratio too: on a loaded machine the best read and the best check may come from
        # different moments, and a repeat's read and check ran seconds apart
        pairs = ", ".join(f"{r['seconds'] / read['seconds']:.2f}x" for r, read in zip(results[what], results["read"]))
        print(f"{what:<8} {b['seconds']:7.1f} s ({ratio:.2f}x read; by repeat {pairs})   peak +{b['peak_mb']:.0f} MB")


if __name__ == "__main__":
    main()
