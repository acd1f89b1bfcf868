"""100 writers SIGKILLed at random moments during a run write, a blob write, a snapshot or a merge.

After every kill the store must be clean (`fsck`: no row refers to a missing or corrupt blob, SQLite
integrity ok), the killed process's run must read as `crashed`, and the store must accept new writes.
"""

import os
import random
import signal
import subprocess
import sys
import time

import pytest

import nbtrack

WRITERS = {
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
from nbtrack.production.merge import merge
target = Store.open(os.environ["NBTRACK_HOME"])
i = 0
while True:
    other = Store.open(os.path.join(tempfile.mkdtemp(), ".nbtrack"))
    for j in range(5):
        with nbtrack.start_run(f"m{i}-{j}", store=other) as run:
            run.log_metric("v", j)
            run.log_artifact(os.urandom(200_000), "part.bin")
    merge(other, into=target)
    i += 1
""",
}


@pytest.mark.slow
def test_one_hundred_sigkills_leave_the_store_consistent(store):
    env = {**os.environ, "NBTRACK_HOME": str(store.root)}
    rng = random.Random(20261123)
    kinds = list(WRITERS) * 25
    rng.shuffle(kinds)
    outcomes = []
    for trial, kind in enumerate(kinds):
        process = subprocess.Popen([sys.executable, "-c", WRITERS[kind]], env=env, stderr=subprocess.PIPE)
        time.sleep(0.5 + rng.random() * (1.5 if kind in ("snapshot", "merge") else 0.6))
        alive = process.poll() is None
        process.send_signal(signal.SIGKILL)
        _, err = process.communicate()
        assert alive, f"trial {trial} ({kind}): the writer ended before the kill:\n{err.decode()[-2000:]}"
        report = nbtrack.fsck()
        assert report.clean, (trial, kind, report.lines())
        outcomes.append(kind)
    frame = nbtrack.runs()
    assert "running" not in set(frame["status"])
    assert set(frame["status"]) <= {"ok", "crashed"}
    assert (frame["status"] == "crashed").sum() >= 1
    assert len(outcomes) == 100
    with nbtrack.start_run("after the storm") as run:
        run.log_artifact(b"still writable", "x.bin")
    assert nbtrack.get_run(run.run_id).status == "ok"
    latest = nbtrack.load("crashy")
    assert latest["id"].is_unique and len(latest) == 200_000
    assert nbtrack.fsck().clean
