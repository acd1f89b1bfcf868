"""Benchmark of DataFrame versions against Parquet (and `dvc add` when installed), and the memory of a diff.

Run:  python bench/bench_data.py [ROWS]      (default 10_000_000; prints a table, exits 1 if a target is missed)
API:  bench_data(rows=10_000_000) -> list[dict(name, nbtrack_s, peer, peer_s, ratio, target, ok)]

Every timing is the median of ``REPEAT`` runs (the machine is shared; medians resist noise).
Byte targets put the fraction of the first version's bytes in ``ratio``. Rows with target ``inf``
(the dvc comparisons) are informational and have ``ok`` None. Run it with /work/venv-bench/bin/python
to include dvc.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPEAT = 3


def make_frame(rows: int, seed: int = 0):
    """6 columns: int64 id, int32, two float64, str, category."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    words = np.array([f"user_{i:06d}" for i in range(100_000)], dtype=object)
    return pd.DataFrame(
        {
            "id": np.arange(rows, dtype=np.int64),
            "qty": rng.integers(0, 1000, rows).astype(np.int32),
            "x": rng.normal(size=rows),
            "y": rng.random(rows),
            "user": pd.array(words[rng.integers(0, len(words), rows)], dtype="str"),
            "kind": pd.Categorical.from_codes(rng.integers(0, 20, rows), [f"kind{i}" for i in range(20)]),
        }
    )


def _deletes_and_inserts(df, rng):
    """``df`` with 0.5% of its rows deleted and as many new rows inserted at scattered places (order kept)."""
    import numpy as np
    import pandas as pd

    n = len(df) // 200
    kept = df.drop(index=rng.choice(len(df), n, replace=False))
    new = make_frame(n, seed=7).assign(id=np.arange(len(df), len(df) + n, dtype=np.int64))
    places = np.concatenate([np.arange(len(kept)), np.sort(rng.choice(len(kept), n, replace=False)) + 0.5])
    both = pd.concat([kept, new], ignore_index=True)
    return both.iloc[np.argsort(places, kind="stable")].reset_index(drop=True)


def _load_row(label, store, version, frame, parquet, first, note=""):
    """The row timing the load of ``version`` (whose content is ``frame``) against ``pd.read_parquet`` of the
    same rows; its note gives the version's storage and bytes against the ``first`` version's."""
    import pandas as pd

    import nbtrack.data as data

    frame.to_parquet(parquet, compression="zstd")
    t_read, t_load = _paired_medians(
        lambda: pd.read_parquet(parquet), lambda: data.load(version.name, version.version, store=store)
    )
    return _row(
        label,
        t_load,
        "pd.read_parquet",
        t_read,
        t_load / t_read,
        1.2,
        f"{version.storage}; {version.bytes_added} of {first.bytes_added} bytes{note}",
    )


def _neighbours_swapped(df, rng):
    """``df`` with 0.5% of its rows swapped with the next row (a local reorder: a delta with a full row map)."""
    import numpy as np

    order = np.arange(len(df))
    first = 2 * rng.choice(len(df) // 2 - 1, len(df) // 400, replace=False)
    order[first], order[first + 1] = first + 1, first
    return df.iloc[order].reset_index(drop=True)


def _median_time(fn, repeat: int = REPEAT, setup=None) -> float:
    times = []
    for _ in range(repeat):
        if setup:
            setup()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _paired_medians(fn_a, fn_b, setup_b=None, repeat: int = REPEAT) -> tuple[float, float]:
    """Median times of ``fn_a`` and ``fn_b`` run alternately, so load changes on the shared machine hit both."""
    times_a, times_b = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn_a()
        times_a.append(time.perf_counter() - t0)
        if setup_b:
            setup_b()
        t0 = time.perf_counter()
        fn_b()
        times_b.append(time.perf_counter() - t0)
    return statistics.median(times_a), statistics.median(times_b)


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak_extra_memory(fn) -> int:
    """Peak resident memory above the starting point while ``fn`` runs (sampled every 2 ms)."""
    base = _rss()
    peak = [base]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _rss())
            time.sleep(0.002)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        fn()
    finally:
        done.set()
        thread.join()
    return max(peak[0], _rss()) - base


def _row(name, nbtrack_s, peer, peer_s, ratio, target, note=""):
    return {
        "name": name,
        "nbtrack_s": round(nbtrack_s, 4) if nbtrack_s is not None else None,
        "peer": peer,
        "peer_s": round(peer_s, 4) if peer_s is not None else None,
        "ratio": round(ratio, 4) if ratio is not None else None,
        "target": target,
        "ok": None if target == float("inf") else bool(ratio is not None and ratio <= target),
        "note": note,
    }


def bench_data(rows: int = 10_000_000) -> list[dict]:
    """Measure snapshot/load/growth targets on a ``rows``-row frame; see the module docstring."""
    import numpy as np
    import pandas as pd

    import nbtrack.data as data
    from nbtrack.data import _fingerprint
    from nbtrack.store import Store

    results: list[dict] = []
    tmp = Path(tempfile.mkdtemp(prefix="nbtrack-bench-data-"))
    try:
        df = make_frame(rows)
        frame_bytes = int(df.memory_usage(deep=True, index=True).sum())
        parquet = tmp / "frame.parquet"
        stores = tmp / "stores"

        def fresh_store():
            shutil.rmtree(stores, ignore_errors=True)
            return Store.open(stores / ".nbtrack")

        holder = {}

        def setup_snapshot():
            holder["store"] = fresh_store()

        t_parquet, t_snap = _paired_medians(
            lambda: df.to_parquet(parquet, compression="zstd"),
            lambda: holder.__setitem__("v1", data.snapshot(df, "bench", store=holder["store"])),
            setup_b=setup_snapshot,
        )
        results.append(
            _row(
                "first snapshot vs to_parquet(zstd)", t_snap, "df.to_parquet(zstd)", t_parquet, t_snap / t_parquet, 1.2
            )
        )
        store, v1 = holder["store"], holder["v1"]

        t_fp = _median_time(lambda: _fingerprint.fingerprint(df), repeat=5)
        t_resnap = _median_time(lambda: data.snapshot(df, "bench", store=store), repeat=5)
        results.append(
            _row(
                "re-snapshot unchanged (s, absolute)",
                t_resnap,
                "fingerprint only",
                t_fp,
                t_resnap,
                0.25,
                "ratio = seconds",
            )
        )

        t_read, t_load = _paired_medians(lambda: pd.read_parquet(parquet), lambda: data.load("bench", 1, store=store))
        results.append(_row("load v1 vs pd.read_parquet", t_load, "pd.read_parquet", t_read, t_load / t_read, 1.2))

        extra = max(1, rows // 100)
        appended = pd.concat(
            [df, make_frame(extra, seed=1).assign(id=np.arange(rows, rows + extra))], ignore_index=True
        )
        t0 = time.perf_counter()
        v2 = data.snapshot(appended, "bench", store=store)
        t_app = time.perf_counter() - t0
        append_fraction = v2.bytes_added / v1.bytes_added
        results.append(
            _row(
                "+1% appended rows: bytes added / v1 bytes",
                t_app,
                None,
                None,
                append_fraction,
                0.03,
                f"{v2.bytes_added} of {v1.bytes_added} bytes",
            )
        )
        appended.to_parquet(tmp / "appended.parquet", compression="zstd")
        del appended

        keyed = make_frame(rows, seed=2)
        k1 = data.snapshot(keyed, "keyed", key="id", store=store)
        rng = np.random.default_rng(3)
        idx = rng.choice(rows, size=max(1, rows // 100), replace=False)
        edited = keyed.copy()
        edited.loc[idx, "x"] = edited.loc[idx, "x"] + 1.0
        edited.loc[idx[: len(idx) // 2], "user"] = "edited"
        t0 = time.perf_counter()
        k2 = data.snapshot(edited, "keyed", key="id", store=store)
        t_edit = time.perf_counter() - t0
        results.append(
            _row(
                "1% scattered edits with key: bytes added / v1 bytes",
                t_edit,
                None,
                None,
                k2.bytes_added / k1.bytes_added,
                0.05,
                f"{k2.storage}; {k2.bytes_added} of {k1.bytes_added} bytes",
            )
        )
        results.append(
            _load_row("load keyed delta version vs pd.read_parquet", store, k2, edited, tmp / "edited.parquet", k1)
        )
        moved = _deletes_and_inserts(edited, rng)
        results.append(
            _load_row(
                "load keyed version after 0.5% deletes + 0.5% inserts vs pd.read_parquet",
                store,
                data.snapshot(moved, "keyed", key="id", store=store),
                moved,
                tmp / "moved.parquet",
                k1,
                "; parent: the edited version",
            )
        )
        swapped = _neighbours_swapped(moved, rng)
        results.append(
            _load_row(
                "load keyed version with 0.5% of rows swapped with a neighbour vs pd.read_parquet",
                store,
                data.snapshot(swapped, "keyed", key="id", store=store),
                swapped,
                tmp / "swapped.parquet",
                k1,
            )
        )
        resorted = swapped.sort_values("qty", kind="stable", ignore_index=True)
        del swapped
        results.append(
            _load_row(
                "load keyed version sorted by another column vs pd.read_parquet",
                store,
                data.snapshot(resorted, "keyed", key="id", store=store),
                resorted,
                tmp / "resorted.parquet",
                k1,
            )
        )
        del keyed, edited, moved, resorted

        peak, frame_bytes = _memory_in_fresh_process(rows, tmp / "memory")
        results.append(
            _row(
                "peak extra memory during snapshot / frame size",
                None,
                "frame bytes",
                None,
                peak / frame_bytes,
                1.0,
                f"{peak / 1e6:.0f} MB extra for a {frame_bytes / 1e6:.0f} MB frame",
            )
        )
        results.extend(_bench_dvc(parquet, tmp / "appended.parquet", t_parquet, t_snap, append_fraction))
        df = None  # frees the frame (a del here hides it from the lambdas above, for linters)
        results.extend(bench_diff_memory(rows, tmp / "diff"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return results


_MEMORY_SCRIPT = """
import ctypes, gc, json, sys
sys.path.insert(0, sys.argv[3])
import pyarrow as pa
from bench_data import make_frame, _peak_extra_memory
import nbtrack.data as data
from nbtrack.store import Store
df = make_frame(int(sys.argv[1]), seed=4)
store = Store.open(sys.argv[2])
data.snapshot(make_frame(1000, seed=9), "warm-up", store=store)  # imports and caches are not the snapshot's
gc.collect()
pa.default_memory_pool().release_unused()
ctypes.CDLL("libc.so.6").malloc_trim(0)
peak = _peak_extra_memory(lambda: data.snapshot(df, "memory", store=store))
print(json.dumps([peak, int(df.memory_usage(deep=True, index=True).sum())]))
"""


def _memory_in_fresh_process(rows: int, root: Path) -> tuple[int, int]:
    """Peak RSS growth during one snapshot, in a fresh interpreter whose freed memory went back to the OS."""
    import json

    out = subprocess.run(
        [sys.executable, "-c", _MEMORY_SCRIPT, str(rows), str(root / ".nbtrack"), str(Path(__file__).resolve().parent)],
        check=True,
        capture_output=True,
        text=True,
    )
    peak, frame_bytes = json.loads(out.stdout.strip().splitlines()[-1])
    return peak, frame_bytes


_DIFF_STORE_SCRIPT = """
import json, sys
sys.path.insert(0, sys.argv[3])
import numpy as np
from bench_data import make_frame
import nbtrack.data as data
from nbtrack.store import Store
rows = int(sys.argv[1])
store = Store.open(sys.argv[2])
df = make_frame(rows, seed=5)
data.snapshot(df, "keyed", key="id", store=store)
data.snapshot(df, "plain", store=store)
idx = np.random.default_rng(6).choice(rows, size=max(1, rows // 100), replace=False)
df.loc[idx, "x"] = df.loc[idx, "x"] + 1.0
data.snapshot(df, "keyed", key="id", store=store)
data.snapshot(df, "plain", store=store)
print(json.dumps(int(df.memory_usage(deep=True, index=True).sum())))
"""

_DIFF_MEMORY_SCRIPT = """
import ctypes, gc, json, sys, time
sys.path.insert(0, sys.argv[3])
import numpy, pandas, pyarrow
from bench_data import _high_water_mark, _peak_extra_memory, _rss
import nbtrack.data as data
from nbtrack.data import _diff
from nbtrack.store import Store
store = Store.open(sys.argv[2])
data.get_version(sys.argv[1], 1, store=store)
gc.collect()
pyarrow.default_memory_pool().release_unused()
ctypes.CDLL("libc.so.6").malloc_trim(0)
base = _rss()
_high_water_mark(reset=True)
t0 = time.perf_counter()
holder = {}
sampled = _peak_extra_memory(lambda: holder.__setitem__("d", data.diff(sys.argv[1], 1, 2, store=store)))
seconds = time.perf_counter() - t0
high_water = _high_water_mark() - base
print(json.dumps([max(sampled, high_water), seconds, holder["d"].rows]))
"""


def _high_water_mark(reset: bool = False) -> int:
    """This process's peak resident memory (VmHWM), optionally reset to the current RSS first.

    Not ``getrusage().ru_maxrss``: Linux carries that over from the parent across fork and exec, so a
    child of a large benchmark process would report the parent's peak. If the kernel refuses the
    reset, VmHWM may predate the measurement and only the sampled figure is meaningful.
    """
    if reset:
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def bench_diff_memory(rows: int, root: Path) -> list[dict]:
    """Peak resident growth of ``nbtrack.diff`` on two ``rows``-row versions (1% of x changed), in fresh processes.

    The target is the memory of the two versions as pandas frames (``memory_usage(deep=True)``, twice).
    Each diff runs in its own interpreter after pandas, pyarrow and nbtrack are imported (anything
    else the diff imports counts); the peak is the larger of the sampled RSS and the kernel's high-water mark.
    """
    import json

    here = str(Path(__file__).resolve().parent)
    out = subprocess.run(
        [sys.executable, "-c", _DIFF_STORE_SCRIPT, str(rows), str(root / ".nbtrack"), here],
        check=True,
        capture_output=True,
        text=True,
    )
    two_versions = 2 * json.loads(out.stdout.strip().splitlines()[-1])
    results = []
    for name, label in (("keyed", "with key"), ("plain", "without key")):
        out = subprocess.run(
            [sys.executable, "-c", _DIFF_MEMORY_SCRIPT, name, str(root / ".nbtrack"), here],
            check=True,
            capture_output=True,
            text=True,
        )
        peak, seconds, found = json.loads(out.stdout.strip().splitlines()[-1])
        results.append(
            _row(
                f"diff of two {rows:,}-row versions ({label}): peak memory / two versions in memory",
                seconds,
                "two versions as pandas frames",
                None,
                peak / two_versions,
                1.0,
                f"{peak / 1e9:.2f} GB peak growth vs {two_versions / 1e9:.2f} GB for the two frames; "
                f"diff took {seconds:.1f} s; rows {found['mode']}: +{found['added']} "
                f"-{found['removed']} ~{found['changed']}",
            )
        )
    return results


def _dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _bench_dvc(
    parquet: Path, appended_parquet: Path, t_parquet: float, t_snap: float, append_fraction: float
) -> list[dict]:
    """`dvc add` of the same frame as a Parquet file (informational: dvc versions whole files)."""
    dvc = shutil.which("dvc") or str(Path(sys.executable).parent / "dvc")
    if not Path(dvc).exists():
        return [
            _row(
                "first version: to_parquet + dvc add",
                t_snap,
                "dvc add",
                None,
                None,
                float("inf"),
                "skipped: dvc is not installed in this environment (pip install dvc)",
            )
        ]
    work = Path(tempfile.mkdtemp(prefix="nbtrack-bench-dvc-"))
    try:
        subprocess.run([dvc, "init", "--no-scm", "-q"], cwd=work, check=True)
        shutil.copy(parquet, work / "frame.parquet")
        t0 = time.perf_counter()
        subprocess.run([dvc, "add", "-q", "frame.parquet"], cwd=work, check=True)
        t_dvc = time.perf_counter() - t0
        first = _dir_bytes(work / ".dvc" / "cache")
        t0 = time.perf_counter()
        subprocess.run([dvc, "add", "-q", "frame.parquet"], cwd=work, check=True)
        t_dvc_again = time.perf_counter() - t0
        shutil.copy(appended_parquet, work / "frame.parquet")
        subprocess.run([dvc, "add", "-q", "frame.parquet"], cwd=work, check=True)
        growth = (_dir_bytes(work / ".dvc" / "cache") - first) / first
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return [
        _row(
            "first version: snapshot vs to_parquet + dvc add",
            t_snap,
            "to_parquet + dvc add",
            t_parquet + t_dvc,
            t_snap / (t_parquet + t_dvc),
            float("inf"),
            f"informational; dvc add alone {t_dvc:.2f} s",
        ),
        _row("unchanged again: dvc add (s)", None, "dvc add", t_dvc_again, None, float("inf"), "informational"),
        _row(
            "+1% appended: store growth, nbtrack vs dvc",
            None,
            "dvc cache growth",
            None,
            append_fraction,
            float("inf"),
            f"informational; dvc cache grew by {growth:.1%} of the first version",
        ),
    ]


def main(argv: list[str]) -> int:
    rows = int(argv[1]) if len(argv) > 1 else 10_000_000
    results = bench_data(rows)
    width = max(len(r["name"]) for r in results)
    print(f"{'benchmark':<{width}}  nbtrack_s  peer_s    ratio   target  ok   note")
    for r in results:
        print(
            f"{r['name']:<{width}}  {r['nbtrack_s'] if r['nbtrack_s'] is not None else '-':<9}  "
            f"{r['peer_s'] if r['peer_s'] is not None else '-':<8}  {r['ratio'] if r['ratio'] is not None else '-':<6}  "
            f"{r['target']:<6}  {'-' if r['ok'] is None else 'yes' if r['ok'] else 'NO':<3}  {r['note']}"
        )
    return 0 if all(r["ok"] is not False for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
