"""The reliability trials, sized by the caller: the test suite runs them at CI size, and
``bench/bench_reliability.py`` runs the same functions larger and reports the figures.

* :func:`concurrency`: N writer processes x M runs each (params, metrics, a tag, a blob) into one store,
  with a reader process listing runs the whole time; counts runs lost, "database is locked" errors,
  torn reads (a finished run seen without its params/metrics/tags) and checks ``fsck``.
* :func:`crash_trials`: writers SIGKILLed at random moments during a run write, a 1 MiB blob write, a
  keyed snapshot of 200,000 rows or a merge; ``fsck`` after every kill.
* :func:`run_examples`: a hypothesis test's body run for N generated examples (the bad-input corpus).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

# -- concurrency -----------------------------------------------------------------------------------

WRITER = """
import sys, nbtrack
worker, count = int(sys.argv[1]), int(sys.argv[2])
for i in range(count):
    with nbtrack.start_run(f"w{worker}-{i}", params={"worker": worker, "i": i, "lr": 0.1}) as run:
        run.log_metrics({"acc": i / count, "loss": 1 - i / count})
        run.set_tag("kind", "load")
        run.log_artifact(f"worker {worker} run {i}".encode(), "payload.txt")
"""

READER = """
import json, os, sys, nbtrack
stop = sys.argv[1]
reads = torn = seen = 0
errors = []
columns = ["params.worker", "metrics.acc", "metrics.loss", "tags.kind"]
while not os.path.exists(stop):
    try:
        frame = nbtrack.runs()
    except Exception as error:  # a reader must never fail while writers write
        errors.append(f"{type(error).__name__}: {error}")
        continue
    reads += 1
    if not len(frame):
        continue
    finished = frame[frame["status"] == "ok"]
    # a finished run is always seen whole: its params, metrics and tags arrive in one transaction
    if not frame["run_id"].is_unique or set(frame["status"]) - {"running", "ok"} or (
            len(finished) and (not set(columns) <= set(frame.columns)
                               or not finished[columns].notna().all().all())):
        torn += 1
    seen = max(seen, len(frame))
print(json.dumps({"reads": reads, "torn": torn, "max_seen": seen, "errors": errors[:5], "n_errors": len(errors)}))
"""


@dataclass
class ConcurrencyReport:
    writers: int
    runs_each: int
    expected: int = 0
    found_ok: int = 0
    lost: int = 0
    locked_errors: int = 0
    writer_failures: int = 0
    reader_reads: int = 0
    torn_reads: int = 0
    reader_errors: int = 0
    blobs: int = 0
    fsck_clean: bool = False
    seconds: float = 0.0
    details: list[str] = field(default_factory=list)


def concurrency(root: Path, writers: int, runs_each: int, timeout: float = 3600) -> ConcurrencyReport:
    """``writers`` processes write ``runs_each`` runs each into the store at ``root`` while a reader
    lists runs until they are done."""
    import nbtrack
    from nbtrack.store import Store

    env = {**os.environ, "NBTRACK_HOME": str(root)}
    Store.open(root).close()
    stop = root.parent / f"stop-reader-{os.getpid()}"
    stop.unlink(missing_ok=True)
    report = ConcurrencyReport(writers, runs_each, expected=writers * runs_each)
    started = time.perf_counter()
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(stop)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(w), str(runs_each)], env=env, stderr=subprocess.PIPE)
        for w in range(writers)
    ]
    errors = [p.communicate(timeout=timeout)[1].decode() for p in procs]
    report.seconds = time.perf_counter() - started
    stop.touch()
    out, err = reader.communicate(timeout=600)
    stop.unlink(missing_ok=True)
    report.writer_failures = sum(p.returncode != 0 for p in procs)
    report.locked_errors = sum(e.count("database is locked") for e in errors) + err.decode().count("database is locked")
    report.details += [e[-1500:] for e in errors if e.strip()]
    if reader.returncode == 0:
        read = json.loads(out)
        report.reader_reads, report.torn_reads, report.reader_errors = read["reads"], read["torn"], read["n_errors"]
        report.details += read["errors"]
    else:
        report.reader_errors += 1
        report.details.append(err.decode()[-1500:])
    store = Store.open(root, create=False)
    try:
        frame = nbtrack.runs(store=store)
        ok = frame[frame["status"] == "ok"]
        expected_names = {f"w{w}-{i}" for w in range(writers) for i in range(runs_each)}
        report.found_ok = len(set(ok["name"]) & expected_names)
        report.lost = report.expected - report.found_ok
        report.blobs = sum(1 for _ in store.blobs.iter_hashes())
        report.fsck_clean = nbtrack.fsck(store=store).clean
    finally:
        store.close()
    return report


# -- crash trials ----------------------------------------------------------------------------------

CRASH_WRITERS = {
    "run": """
import nbtrack
i = 0
while True:
    with nbtrack.start_run(f"r{i}", params={"i": i}) as run:
        for step in range(50):
            run.log_metric("m", step)
        run.flush()
    i += 1
""",
    "blob": """
import os, nbtrack
i = 0
while True:
    with nbtrack.start_run(f"b{i}") as run:
        run.log_artifact(os.urandom(1 << 20), "big.bin")
    i += 1
""",
    "snapshot": """
import nbtrack, numpy as np, pandas as pd
rng = np.random.default_rng()
frame = pd.DataFrame({"id": np.arange(200_000), "x": rng.random(200_000), "s": ["v"] * 200_000})
i = 0
while True:
    with nbtrack.start_run(f"s{i}"):
        frame.loc[rng.integers(0, len(frame), 500), "x"] = rng.random(500)
        nbtrack.snapshot(frame, "crashy", key="id")
    i += 1
""",
    "merge": """
import os, sys, tempfile, nbtrack
from nbtrack.store import Store
from nbtrack.store.merge import merge
target = Store.open(os.environ["NBTRACK_HOME"])
i = 0
while True:
    other = Store.open(os.path.join(tempfile.mkdtemp(dir=os.path.dirname(os.environ["NBTRACK_HOME"])), ".nbtrack"))
    for j in range(5):
        with nbtrack.start_run(f"m{i}-{j}", store=other) as run:
            run.log_metric("v", j)
            run.log_artifact(os.urandom(200_000), "part.bin")
    merge(other, into=target)
    i += 1
""",
}


@dataclass
class CrashReport:
    trials: int = 0
    by_kind: Counter = field(default_factory=Counter)
    killed_alive: int = 0  # writers that were still running when the SIGKILL came (all should be)
    fsck_clean: int = 0
    failures: list[str] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    writable_after: bool = False
    dataset_loads: bool | None = None
    seconds: float = 0.0


def crash_trials(root: Path, trials: int, seed: int) -> CrashReport:
    """``trials`` writers (the kinds in equal shares, shuffled) each SIGKILLed at a random moment;
    ``fsck`` after every kill, then the store must still take writes and the dataset must load."""
    import nbtrack
    from nbtrack.store import Store

    env = {**os.environ, "NBTRACK_HOME": str(root)}
    Store.open(root).close()
    rng = random.Random(seed)
    kinds = (list(CRASH_WRITERS) * (trials // len(CRASH_WRITERS) + 1))[:trials]
    rng.shuffle(kinds)
    report = CrashReport()
    started = time.perf_counter()
    for trial, kind in enumerate(kinds):
        process = subprocess.Popen([sys.executable, "-c", CRASH_WRITERS[kind]], env=env, stderr=subprocess.PIPE)
        time.sleep(0.5 + rng.random() * (1.5 if kind in ("snapshot", "merge") else 0.6))
        alive = process.poll() is None
        process.send_signal(signal.SIGKILL)
        _, err = process.communicate()
        report.trials += 1
        report.by_kind[kind] += 1
        report.killed_alive += alive
        if not alive:
            report.failures.append(f"trial {trial} ({kind}): the writer ended before the kill: {err.decode()[-800:]}")
        store = Store.open(root, create=False)
        try:
            fsck = nbtrack.fsck(store=store)
        finally:
            store.close()
        if fsck.clean:
            report.fsck_clean += 1
        else:
            report.failures.append(f"trial {trial} ({kind}): fsck not clean: {fsck.lines()}")
    store = Store.open(root, create=False)
    try:
        report.statuses = Counter(nbtrack.runs(store=store)["status"])
        with nbtrack.start_run("after the storm", store=store) as run:
            run.log_artifact(b"still writable", "x.bin")
        report.writable_after = nbtrack.get_run(run.run_id, store=store).status == "ok"
        if "crashy" in set(nbtrack.datasets(store=store)["name"]):  # some snapshot finished before its kill
            latest = nbtrack.load("crashy", store=store)
            report.dataset_loads = bool(latest["id"].is_unique and len(latest) == 200_000)
        if not nbtrack.fsck(store=store).clean:
            report.failures.append("fsck not clean after the final write")
    finally:
        store.close()
    report.seconds = time.perf_counter() - started
    return report


# -- generated inputs ------------------------------------------------------------------------------


def run_examples(test, strategies: dict, examples: int, **fixtures) -> int:
    """Run the body of the hypothesis test ``test`` (its ``.hypothesis.inner_test``) for ``examples``
    generated inputs drawn from ``strategies``; returns how many ran. A failing example raises."""
    from hypothesis import HealthCheck, given, settings

    inner = test.hypothesis.inner_test
    ran = 0

    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(**strategies)
    def body(**drawn):
        nonlocal ran
        ran += 1
        inner(**fixtures, **drawn)

    body()
    return ran
