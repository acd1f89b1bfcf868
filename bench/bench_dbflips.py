"""One random bit flipped inside ``nbtrack.db``, then the whole store read back: how often is it noticed?

SQLite keeps no checksum of page contents, so a flipped bit inside a stored number or text can read back
as a different valid value. This bench measures how each flip is met by a reader, so that the share of
silent changes and of raw (non-nbtrack) errors is a figure, not a guess (docs/reliability.md).

The store: the fault harness's seed (two finished runs with params, 300 metric values, tags and an
artifact; a keyed dataset with two versions and a flat one), a run that failed (its error JSON), and a
model registered from a run and aliased ``champion``. It is checkpointed (everything in ``nbtrack.db``,
no write-ahead log), read once as the reference (``fault_harness.committed``: every run with its params,
metric history, tags, artifacts and data links; every model version; every data version loaded), then
for each trial copied, one random bit of its ``nbtrack.db`` flipped, and read back the same way. Each
trial is one of:

* ``unchanged``: everything read back equal to the reference (the flip hit bytes no read uses);
* ``clear error``: a read raised one ``NbtrackError`` (e.g. ``DamagedStoreError`` naming ``nbtrack fsck``);
* ``raw error``: a read raised something else (a ``sqlite3``, JSON or Arrow exception): a bug to fix;
* ``silently wrong``: everything read back, but something differs from the reference.

Usage:  python bench/bench_dbflips.py [--trials 300] [--seed 0]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "reliability"))


def build(root: Path) -> None:
    """The store every trial damages a copy of."""
    import fault_harness

    import nbtrack
    from nbtrack.store import Store

    store = Store.open(root, create=True)
    fault_harness.seed_store(store)
    try:
        with nbtrack.start_run("broken", params={"alpha": 2}, store=store):
            raise ValueError("a failure the run records")
    except ValueError:
        pass
    fault_harness._register(store, root.parent, 1)
    store.checkpoint()
    store.close()


def read_all(root: Path) -> dict:
    import fault_harness

    from nbtrack.store import Store

    store = Store.open(root, create=False)
    try:
        return fault_harness.committed(store)
    finally:
        store.close()


def flip_one_bit(db: Path, rng: random.Random) -> int:
    """Flip one random bit of ``db``; returns its byte offset."""
    data = bytearray(db.read_bytes())
    offset = rng.randrange(len(data))
    data[offset] ^= 1 << rng.randrange(8)
    db.write_bytes(bytes(data))
    return offset


def trial(source: Path, target: Path, reference: dict, rng: random.Random) -> tuple[str, str]:
    """``(verdict, detail)`` of one flip in a copy of ``source`` at ``target``."""
    import fault_harness

    from nbtrack.errors import NbtrackError

    shutil.copytree(source, target)
    offset = flip_one_bit(target / "nbtrack.db", rng)
    try:
        found = read_all(target)
    except NbtrackError as exc:
        return "clear error", f"byte {offset}: {type(exc).__name__}: {str(exc)[:160]}"
    except Exception as exc:  # what the bench is here to find
        where = " < ".join(
            f"{Path(f.filename).name}:{f.lineno}" for f in traceback.extract_tb(exc.__traceback__)[::-1][:4]
        )
        return "raw error", f"byte {offset}: {type(exc).__module__}.{type(exc).__name__}: {str(exc)[:200]} at {where}"
    finally:
        fault_harness._new_session()
    differences = fault_harness.changed(reference, found, set())
    extra = sorted(set(found) - set(reference))
    if differences or extra:
        return "silently wrong", f"byte {offset}: {(_what_changed(reference, found) + extra)[:3]}"
    return "unchanged", ""


def _what_changed(reference: dict, found: dict) -> list[str]:
    """``key.field: before -> after`` for each changed field of a run record (``key: changed`` otherwise)."""
    out = []
    for key, before in reference.items():
        after = found.get(key)
        if after == before:
            continue
        if isinstance(before, dict) and isinstance(after, dict):
            out += [
                f"{key[-6:]}.{f}: {before[f]!s:.60} -> {after.get(f)!s:.60}"
                for f in before
                if before[f] != after.get(f)
            ]
        else:
            out.append(f"{key}: changed")
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    started = time.perf_counter()
    verdicts: Counter[str] = Counter()
    details: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory(prefix="nbtrack-dbflips-") as tmp:
        source = Path(tmp) / "source" / ".nbtrack"
        build(source)
        reference = read_all(source)
        size = (source / "nbtrack.db").stat().st_size
        for i in range(args.trials):
            verdict, detail = trial(source, Path(tmp) / f"t{i}" / ".nbtrack", reference, rng)
            verdicts[verdict] += 1
            details.setdefault(verdict, []).append(detail)
            shutil.rmtree(Path(tmp) / f"t{i}")
    print(f"{args.trials} flips of one bit in a {size:,}-byte nbtrack.db (seed {args.seed}), whole store read back")
    for verdict in ("unchanged", "clear error", "raw error", "silently wrong"):
        share = verdicts[verdict] / args.trials * 100
        print(f"  {verdict:15} {verdicts[verdict]:5}  {share:5.1f} %")
    for verdict in ("raw error", "silently wrong"):
        for detail in details.get(verdict, [])[:12]:
            print(f"  {verdict}: {detail}")
    print(f"took {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
