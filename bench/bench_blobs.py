"""What checking every blob's hash on read costs ``nbtrack.data.load``.

Run:  python bench/bench_blobs.py [ROWS] [REPEAT]     (default 10_000_000 rows, 7 pairs; exits 1 over target)
API:  bench_blobs(rows=10_000_000, repeat=7) -> dict(rows, chunks, blob_bytes, hash_s, checked_s, unchecked_s,
      cost, target, ok)

The frame is ``bench_data.make_frame`` (6 columns: int64, int32, two float64, str, category). It is
snapshotted once; then ``load`` is timed alternately with the check (``BlobStore.read_bytes`` as shipped)
and without it (the same read, minus the hash), ``REPEAT`` pairs, and the medians are compared, so load
changes on a shared machine hit both sides. ``hash_s`` is xxh3-128 alone over every chunk's bytes.
Target: the check costs at most 5 % of the load.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

TARGET = 0.05

sys.path.insert(0, str(Path(__file__).parent))


def bench_blobs(rows: int = 10_000_000, repeat: int = 7) -> dict:
    import xxhash

    import nbtrack.data
    from bench_data import make_frame
    from nbtrack.store import Store
    from nbtrack.store.blobs import BlobStore

    checked = BlobStore.read_bytes

    def unchecked(self: BlobStore, digest: str) -> bytes:
        with self.open(digest) as handle:
            return handle.read()

    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp) / ".nbtrack")
        frame = make_frame(rows)
        nbtrack.data.snapshot(frame, "bench", store=store)
        del frame
        hashes = [r[0] for r in store.query("SELECT blob FROM data_chunks WHERE dataset = 'bench'")]
        blobs = [store.blobs.path(h).read_bytes() for h in hashes]
        t0 = time.perf_counter()
        for data in blobs:
            xxhash.xxh3_128_hexdigest(data)
        hash_s = time.perf_counter() - t0
        blob_bytes = sum(len(b) for b in blobs)
        del blobs
        nbtrack.data.load("bench", store=store)  # warm the page cache
        times: dict[str, list[float]] = {"checked": [], "unchecked": []}
        cpu: dict[str, list[float]] = {"checked": [], "unchecked": []}
        try:
            for _ in range(repeat):
                for label, read in (("checked", checked), ("unchecked", unchecked)):
                    BlobStore.read_bytes = read  # type: ignore[method-assign]
                    t0, c0 = time.perf_counter(), time.process_time()
                    loaded = nbtrack.data.load("bench", store=store)
                    times[label].append(time.perf_counter() - t0)
                    cpu[label].append(time.process_time() - c0)
                    del loaded
        finally:
            BlobStore.read_bytes = checked  # type: ignore[method-assign]
        store.close()
    checked_s = statistics.median(times["checked"])
    unchecked_s = statistics.median(times["unchecked"])
    cost = checked_s / unchecked_s - 1
    best_cost = min(times["checked"]) / min(times["unchecked"]) - 1
    cpu_cost = statistics.median(cpu["checked"]) / statistics.median(cpu["unchecked"]) - 1
    return {
        "rows": rows,
        "chunks": len(hashes),
        "blob_bytes": blob_bytes,
        "hash_s": hash_s,
        "checked_s": checked_s,
        "unchecked_s": unchecked_s,
        "cost": cost,
        "best_cost": best_cost,
        "cpu_cost": cpu_cost,
        "best_checked_s": min(times["checked"]),
        "best_unchecked_s": min(times["unchecked"]),
        "target": TARGET,
        "ok": cost <= TARGET,
        "times": times,
        "cpu": cpu,
    }


def main() -> int:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    result = bench_blobs(rows, repeat)
    print(
        f"load of {result['rows']:,} rows ({result['chunks']} chunks, {result['blob_bytes'] / 1e6:.0f} MB of blobs): "
        f"{result['checked_s']:.3f} s with hash checks, {result['unchecked_s']:.3f} s without "
        f"(medians of {repeat} alternating pairs): cost {result['cost'] * 100:+.1f} % (target <= "
        f"{TARGET * 100:.0f} %); fastest of each: {result['best_checked_s']:.3f} s vs "
        f"{result['best_unchecked_s']:.3f} s ({result['best_cost'] * 100:+.1f} %); CPU time of the process "
        f"{result['cpu_cost'] * 100:+.1f} %; xxh3-128 alone over the blobs: {result['hash_s'] * 1000:.1f} ms "
        f"({result['blob_bytes'] / result['hash_s'] / 1e9:.1f} GB/s)"
    )
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
