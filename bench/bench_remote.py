"""Remotes (issue 17) against an S3-compatible server started here (moto's standalone server on 127.0.0.1).

Run:  python bench/bench_remote.py [--members 10] [--runs 1000] [--rows 1000000] [--big-rows 10000000]
      [--new-runs 1000]      (exits 1 when a target is missed)
API:  bench_remote(members, runs, rows, big_rows, new_runs) -> dict

1. Team: ``members`` processes, each its own store, each records ``runs`` runs (params, a metric history, a
   2 KB artifact) and 3 versions of one shared ``rows``-row dataset (the same data for everyone), then all
   push at once to the same bucket. One pull into a fresh store must then hold every run, identical row for
   row (every table a run writes) to the store that pushed it, and the 3 versions (same fingerprints, and
   version 3 loaded equal); ``fsck`` clean, ``check_remote`` clean, 0 errors.
2. Bytes: a store with a ``big_rows``-row dataset pushed; then ``new_runs`` new runs and a version with 1 %
   of the rows changed (keyed delta); the second push's bytes sent against the new data's stored size
   (the blobs it added: the version's chunks and the runs' artifacts). Target <= 1.1x.
3. No-op: a push and a pull with nothing new, timed (one listing each). Target <= 1 s.
4. Kills: pushes and pulls (alternating; 10 new runs with artifacts before each push) SIGKILLed at a
   random moment (some finish first) until ``kills`` were killed; then one push and one pull must leave both stores ``fsck`` clean,
   holding the same runs row for row, and the remote intact.

``--only team|changed|kills`` runs one part.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
SRC = str(Path(__file__).resolve().parents[1] / "src")
TARGETS = {"bytes_ratio": 1.1, "noop_s": 1.0}

MEMBER = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {src!r}); sys.path.insert(0, {bench!r})
    import numpy as np, nbtrack
    from bench_data import make_frame
    from nbtrack import remote
    store = nbtrack.Store.open({root!r})
    remote.add_remote("team", {url!r}, store=store)
    frame = make_frame({rows}, seed=7)
    for v in range(3):
        if v:
            frame.loc[frame.index[:: 97 + v], "x"] += 1.0
        nbtrack.snapshot(frame, "shared", key="id", store=store)
    rng = np.random.default_rng({n})
    for i in range({runs}):
        with nbtrack.start_run("m{n}-" + str(i), params={{"lr": 0.01 * i, "member": {n}}}, store=store) as run:
            for step in range(3):
                run.log_metric("loss", 1.0 / (step + 1), step=step)
            run.log_artifact(rng.bytes(2048), "weights.bin")
    print("ready", flush=True)
    sys.stdin.readline()  # everyone pushes at once
    started = time.perf_counter()
    report = remote.push("team", store=store, show_progress=False)
    print(time.perf_counter() - started, report.bytes_sent, report.runs, flush=True)
    """
)


TRANSFER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {src!r})
    import nbtrack, s3fs, fsspec
    from nbtrack import remote
    from nbtrack.remote import _transfer  # every import done before "ready": the kill lands in the transfer
    store = nbtrack.Store.open({root!r})
    fsspec.core.url_to_fs({url!r})
    print("ready", flush=True)
    remote.{action}("s3", store=store, show_progress=False)
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_s3() -> tuple[subprocess.Popen, str]:
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                server.kill()
                raise RuntimeError("moto's S3 server did not start") from None
            time.sleep(0.1)
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
    )
    return server, endpoint


def _bucket(name: str) -> str:
    import s3fs

    s3fs.S3FileSystem(skip_instance_cache=True).mkdir(name)
    return f"s3://{name}/project"


def _run_rows(store, run_id: str) -> list:
    from nbtrack.store.maintenance import RUN_TABLES

    rows = []
    for table in ("runs", *RUN_TABLES):
        columns = [r[1] for r in store.query(f'PRAGMA table_info("{table}")') if r[1] != "experiment_id"]
        quoted = ", ".join(f'"{c}"' for c in columns)
        rows.append(sorted(map(repr, store.query(f"SELECT {quoted} FROM {table} WHERE run_id = ?", (run_id,)))))
    return rows


def team(tmp: Path, members: int, runs: int, rows: int) -> dict:
    import nbtrack
    import nbtrack.data
    from nbtrack import remote
    from nbtrack.store import Store

    url = _bucket("team")
    procs = []
    for n in range(members):
        code = MEMBER.format(
            src=SRC, bench=str(Path(__file__).parent), root=str(tmp / f"m{n}"), url=url, rows=rows, runs=runs, n=n
        )
        procs.append(
            subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        )
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready", "a member failed before its push"
    started = time.perf_counter()
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    results, errors = [], 0
    for p in procs:
        out, _ = p.communicate(timeout=3600)
        errors += p.returncode != 0
        if p.returncode == 0:
            seconds, sent, pushed = out.split()
            results.append((float(seconds), int(sent), int(pushed)))
    wall = time.perf_counter() - started

    store = Store.open(tmp / "team")
    remote.add_remote("team", url, store=store)
    began = time.perf_counter()
    pulled = remote.pull("team", store=store, show_progress=False)
    pull_s = time.perf_counter() - began
    identical = 0
    for n in range(members):
        member = Store.open(tmp / f"m{n}")
        for run_id in nbtrack.runs(store=member).run_id:
            identical += _run_rows(member, run_id) == _run_rows(store, run_id)
        mine = [v["fingerprint"] for v in nbtrack.data.list_versions("shared", store=member)]
        theirs = [v["fingerprint"] for v in nbtrack.data.list_versions("shared", store=store)]
        errors += mine != theirs
        if n == 0:
            errors += not nbtrack.load("shared", 3, store=member).equals(nbtrack.load("shared", 3, store=store))
        member.close()
    return {
        "members": members,
        "runs_per_member": runs,
        "rows": rows,
        "push_wall_s": round(wall, 2),
        "push_s_max": round(max(r[0] for r in results), 2) if results else None,
        "bytes_sent_total": sum(r[1] for r in results),
        "runs_pushed": sum(r[2] for r in results),
        "pull_s": round(pull_s, 2),
        "runs_pulled": pulled.runs_added,
        "runs_identical": identical,
        "versions_pulled": pulled.data_versions_added,
        "fsck_clean": nbtrack.fsck(store=store).clean,
        "remote_intact": remote.check_remote("team", store=store, show_progress=False).ok,
        "errors": errors,
    }


def changed_data(tmp: Path, big_rows: int, new_runs: int) -> dict:
    import numpy as np

    import nbtrack
    import nbtrack.data
    from bench_data import make_frame
    from nbtrack import remote
    from nbtrack.store import Store

    url = _bucket("bytes")
    store = Store.open(tmp / "big")
    remote.add_remote("s3", url, store=store)
    frame = make_frame(big_rows, seed=3)
    first = nbtrack.snapshot(frame, "events", key="id", store=store)
    remote.push("s3", store=store, show_progress=False)
    before = set(store.blobs.iter_hashes())
    rng = np.random.default_rng(5)
    changed = rng.choice(big_rows, big_rows // 100, replace=False)
    frame.loc[changed, "x"] = rng.normal(size=len(changed))
    second = nbtrack.snapshot(frame, "events", key="id", store=store)
    for i in range(new_runs):
        with nbtrack.start_run(f"run-{i}", params={"lr": 0.001 * i}, store=store) as run:
            run.log_metric("acc", float(rng.random()))
            run.log_artifact(rng.bytes(2048), "weights.bin")
    new_blobs = sum(store.blobs.size(h) for h in set(store.blobs.iter_hashes()) - before)
    started = time.perf_counter()
    report = remote.push("s3", store=store, show_progress=False)
    push_s = time.perf_counter() - started
    started = time.perf_counter()
    noop_push = remote.push("s3", store=store, show_progress=False)
    noop_push_s = time.perf_counter() - started
    other = Store.open(tmp / "other")
    remote.add_remote("s3", url, store=other)
    remote.pull("s3", store=other, show_progress=False)
    started = time.perf_counter()
    noop_pull = remote.pull("s3", store=other, show_progress=False)
    noop_pull_s = time.perf_counter() - started
    assert noop_push.manifest is None and noop_pull.manifests == 0
    return {
        "big_rows": big_rows,
        "first_version_bytes": first.bytes_added,
        "changed_version_bytes_added": second.bytes_added,
        "new_runs": new_runs,
        "new_blob_bytes": new_blobs,
        "bytes_sent": report.bytes_sent,
        "bytes_ratio": round(report.bytes_sent / new_blobs, 3),
        "objects_sent": report.objects_sent,
        "objects_already_there": report.objects_present,
        "push_s": round(push_s, 2),
        "noop_push_s": round(noop_push_s, 3),
        "noop_pull_s": round(noop_pull_s, 3),
    }


def kills(tmp: Path, count: int) -> dict:
    import random

    import nbtrack
    from nbtrack import remote
    from nbtrack.store import Store

    url = _bucket("kills")
    pusher, puller = Store.open(tmp / "pusher"), Store.open(tmp / "puller")
    for store in (pusher, puller):
        remote.add_remote("s3", url, store=store)
    from nbtrack.remote._folder import RemoteFolder
    from nbtrack.store import remotes as _dal

    folder = RemoteFolder("s3", url)
    rng = random.Random(50)
    killed, progressed = 0, {"push": 0, "pull": 0}
    round_ = 0
    while killed < count and round_ < 4 * count:  # until ``count`` transfers were killed
        round_ += 1
        action, store = ("push", pusher) if round_ % 2 else ("pull", puller)
        if action == "push":
            for i in range(10):
                with nbtrack.start_run(f"r{round_}-{i}", store=pusher) as run:
                    run.log_artifact(rng.randbytes(4096), "a.bin")
        code = TRANSFER.format(src=SRC, root=str(store.root), action=action, url=url)
        before = len(folder.list("manifests")), len([m for m in _dal.manifests(puller, "s3") if m[2]])
        process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 2.5))  # a push here takes 0.3-2 s: kills land in every phase, some finish
        if process.poll() is None:
            process.kill()
            killed += 1
        process.wait()
        after = len(folder.list("manifests")), len([m for m in _dal.manifests(puller, "s3") if m[2]])
        progressed[action] += after[0 if action == "push" else 1] > before[0 if action == "push" else 1]
    remote.push("s3", store=pusher, show_progress=False)
    remote.pull("s3", store=puller, show_progress=False)
    ids = list(nbtrack.runs(store=pusher).run_id)
    same = sorted(ids) == sorted(nbtrack.runs(store=puller).run_id) and all(
        _run_rows(pusher, r) == _run_rows(puller, r) for r in ids
    )
    return {
        "rounds": round_,
        "killed": killed,
        "finished_before_the_kill": round_ - killed,
        "pushes_that_wrote_their_manifest": progressed["push"],
        "pulls_that_merged_a_push": progressed["pull"],
        "runs": len(ids),
        "stores_equal": same,
        "fsck_clean": nbtrack.fsck(store=pusher).clean and nbtrack.fsck(store=puller).clean,
        "remote_intact": remote.check_remote("s3", store=puller, show_progress=False).ok,
    }


def bench_remote(
    members: int = 10,
    runs: int = 1000,
    rows: int = 1_000_000,
    big_rows: int = 10_000_000,
    new_runs: int = 1000,
    kill_rounds: int = 50,
    only: str | None = None,
) -> dict:
    server, endpoint = start_s3()
    result: dict = {"endpoint": endpoint}
    try:
        with tempfile.TemporaryDirectory(prefix="nbtrack-bench-remote-") as tmp:
            if only in (None, "team"):
                result["team"] = team(Path(tmp), members, runs, rows)
            if only in (None, "changed"):
                result["changed"] = changed_data(Path(tmp), big_rows, new_runs)
            if only in (None, "kills"):
                result["kills"] = kills(Path(tmp), kill_rounds)
    finally:
        server.kill()
        server.wait()
    ok = True
    if "team" in result:
        t = result["team"]
        ok &= t["errors"] == 0 and t["runs_pulled"] == t["runs_identical"] == members * runs
        ok &= t["versions_pulled"] == 3 and t["fsck_clean"] and t["remote_intact"]
    if "changed" in result:
        c = result["changed"]
        ok &= c["bytes_ratio"] <= TARGETS["bytes_ratio"]
        ok &= max(c["noop_push_s"], c["noop_pull_s"]) <= TARGETS["noop_s"]
    if "kills" in result:
        k = result["kills"]
        ok &= k["stores_equal"] and k["fsck_clean"] and k["remote_intact"]
    result["ok"] = bool(ok)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--big-rows", type=int, default=10_000_000)
    parser.add_argument("--new-runs", type=int, default=1000)
    parser.add_argument("--kills", type=int, default=50, help="pushes and pulls SIGKILLed")
    parser.add_argument("--only", choices=["team", "changed", "kills"])
    args = parser.parse_args()
    result = bench_remote(args.members, args.runs, args.rows, args.big_rows, args.new_runs, args.kills, args.only)
    print(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
