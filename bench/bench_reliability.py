"""Reliability at bench size: the suite's guarantees run larger than CI, with the figures they held.

* concurrency: 8 writer processes x 1,000 runs each (params, metrics, a tag, a blob) into one store
  while a reader process lists runs the whole time: runs lost, "database is locked" errors, torn reads,
  ``fsck``;
* crash safety: 300 writers SIGKILLed at random moments, in equal shares during a run write, a 1 MiB
  blob write, a keyed snapshot of 200,000 rows and a merge: ``fsck`` after every kill, no run left
  ``running``, the store still takes writes and the dataset loads;
* generated bad input (hypothesis): params and metric values (2,000 each), DataFrames (500), fuzzed
  query texts (3,000): each stored exactly or refused with a clear message, queries never reach SQL.

The trials are the test suite's own (``tests/reliability/reliability_harness.py`` and the bodies of the
hypothesis tests in ``tests/reliability/test_bad_input.py`` and ``tests/data/test_roundtrip.py``), run
with bigger sizes. Timings here are what the runs took on a shared machine, not targets; the figures
that matter are the counts, and every row's target is "nothing lost, nothing unclean".

* the long profile (``--long``): each generated input kind (DataFrames, keyed version chains, params,
  metric values and steps, queries) at 25x its CI budget, every example classified exact / refused
  clearly / silently wrong / crash; and the fault matrix of ``tests/reliability/fault_harness.py``: every
  write path under a full disk, a read-only store, truncated and bit-flipped files and SIGKILL, ``--rounds``
  times each.

Usage:  python bench/bench_reliability.py [--quick]   (or python bench/run.py --only reliability)
        python bench/bench_reliability.py --long [--rounds 6] [--factor 25]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SIZES = {
    "writers": 8,
    "runs_each": 1000,
    "crash_trials": 300,
    "value_examples": 2000,
    "frame_examples": 500,
    "query_examples": 3000,
}
QUICK = {
    "writers": 4,
    "runs_each": 50,
    "crash_trials": 8,
    "value_examples": 100,
    "frame_examples": 20,
    "query_examples": 100,
}


def _import_tests():
    for folder in ("tests/reliability", "tests/data"):
        path = str(REPO / folder)
        if path not in sys.path:
            sys.path.insert(0, path)
    import reliability_harness

    return reliability_harness


def _describe(exc: BaseException) -> str:
    """The failure and hypothesis's falsifying example (kept in the exception's notes)."""
    notes = " ".join(getattr(exc, "__notes__", []))
    return f"{type(exc).__name__}: {str(exc)[:300]} {notes[:500]}".strip()


def _row(name: str, seconds: float, ok: bool, target: str, note: str = "") -> dict:
    return {
        "name": name,
        "nbtrack_s": seconds,
        "peer": None,
        "peer_s": None,
        "ratio": None,
        "target": target,
        "ok": ok,
        "note": note,
    }


def concurrency_row(harness, tmp: Path, writers: int, runs_each: int) -> dict:
    r = harness.concurrency(tmp / "concurrency" / ".nbtrack", writers, runs_each)
    ok = (
        r.lost == 0
        and r.locked_errors == 0
        and r.torn_reads == 0
        and r.writer_failures == 0
        and r.reader_errors == 0
        and r.fsck_clean
        and r.blobs == r.expected
    )
    name = (
        f"concurrency: {writers} processes × {runs_each:,} runs + a reader: {r.found_ok:,} of {r.expected:,} "
        f"runs ok ({r.lost} lost), {r.blobs:,} blobs, {r.locked_errors} 'database is locked', "
        f"{r.torn_reads} torn of {r.reader_reads:,} reads, {r.reader_errors} reader errors, "
        f"fsck {'clean' if r.fsck_clean else 'NOT clean'}; {r.expected / r.seconds:.0f} runs/s"
    )
    return _row(
        name, r.seconds, ok, "0 lost, 0 locked, 0 torn, fsck clean", "; ".join(r.details)[:400] if r.details else ""
    )


def crash_row(harness, tmp: Path, trials: int) -> dict:
    r = harness.crash_trials(tmp / "crash" / ".nbtrack", trials, seed=20261124)
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(r.by_kind.items()))
    statuses = ", ".join(f"{n} {s}" for s, n in sorted(r.statuses.items()))
    ok = (
        not r.failures
        and r.fsck_clean == r.trials == r.killed_alive
        and "running" not in r.statuses
        and r.writable_after
        and r.dataset_loads is not False
    )
    name = (
        f"crash safety: {r.trials} SIGKILLs ({kinds}): fsck clean after {r.fsck_clean} of {r.trials}; "
        f"runs afterwards: {statuses}; still writable: {'yes' if r.writable_after else 'NO'}; "
        f"200,000-row dataset loads: {'yes' if r.dataset_loads else 'NO' if r.dataset_loads is False else 'n/a'}"
    )
    return _row(
        name,
        r.seconds,
        ok,
        f"fsck clean {r.trials}/{r.trials}, none running",
        "; ".join(r.failures)[:400] if r.failures else "",
    )


def generated_rows(harness, tmp: Path, values: int, frames: int, queries: int) -> list[dict]:
    try:
        import hypothesis  # noqa: F401
        import pytest  # noqa: F401  (the test modules whose bodies are re-run import it)
    except ImportError:
        return [
            _row(
                "generated input: not run: this environment lacks hypothesis/pytest (pip install 'nbtrack[test]')",
                0.0,
                False,
                "0 failures",
            )
        ]
    import test_bad_input
    import test_roundtrip

    import nbtrack
    from nbtrack.store import Store

    rows = []
    store = Store.open(tmp / "values" / ".nbtrack")
    stored = "each stored exactly or refused naming the fix"
    cases = [
        (
            "params (scalars, NaN/inf, nested JSON, sets, objects, bytes, 70-200 KB strings)",
            stored,
            test_bad_input.test_params_are_stored_exactly_or_refused_clearly,
            {"value": test_bad_input.any_value},
            values,
        ),
        (
            "metric values",
            stored,
            test_bad_input.test_metrics_are_stored_exactly_or_refused_clearly,
            {"value": test_bad_input.any_value},
            values,
        ),
        (
            "fuzzed query texts",
            "each a result or a QueryError with its position, never an SQLite error; the store unchanged",
            test_bad_input.test_fuzzed_queries_give_parse_errors_never_sql_errors,
            {"text": test_bad_input.query_texts},
            queries,
        ),
    ]
    for label, promise, test, strategies, n in cases:
        started = time.perf_counter()
        error = ""
        try:
            ran = harness.run_examples(test, strategies, n, shared_store=store)
        except Exception as exc:  # a failing example is the finding: report it
            ran, error = 0, f"{type(exc).__name__}: {str(exc)[:300]}"
        rows.append(
            _row(
                f"generated input: {ran:,} {label}: {promise}" + (f"; FAILED: {error}" if error else "; 0 failures"),
                time.perf_counter() - started,
                not error and ran > 0,
                "0 failures",
                error,
            )
        )
    runs_total = len(nbtrack.runs(store=store))
    fsck_clean = nbtrack.fsck(store=store).clean
    store.close()
    rows.append(
        _row(
            f"generated input: the store after them holds {runs_total:,} runs, fsck "
            f"{'clean' if fsck_clean else 'NOT clean'}",
            0.0,
            fsck_clean,
            "fsck clean",
        )
    )
    started = time.perf_counter()
    frame_store = Store.open(tmp / "frames" / ".nbtrack")
    error = ""
    try:
        ran = harness.run_examples(
            test_roundtrip.test_generated_frames_round_trip_exactly,
            {"df": test_roundtrip.frames()},
            frames,
            store=frame_store,
        )
    except Exception as exc:
        ran, error = 0, f"{type(exc).__name__}: {str(exc)[:300]}"
    clean = nbtrack.fsck(store=frame_store).clean
    frame_store.close()
    rows.append(
        _row(
            f"generated input: {ran:,} DataFrames (17 column kinds, 6 index kinds, odd labels): each "
            "loads back equal with strict dtypes or is refused naming the column"
            + (f"; FAILED: {error}" if error else "; 0 failures")
            + f"; fsck {'clean' if clean else 'NOT clean'}",
            time.perf_counter() - started,
            not error and ran > 0 and clean,
            "0 failures",
            error,
        )
    )
    return rows


# -- the long profile: every generated input classified, and the fault matrix -------------------------


#: what the long profile measured, printed as JSON with ``--json`` (docs/reliability.md's tables)
FIGURES: dict = {}


def classify_examples(test, strategies: dict, examples: int, **fixtures) -> dict:
    """Run a hypothesis test's body for ``examples`` generated inputs without stopping at a failure, and
    classify each: ``exact`` (passed, no nbtrack error raised), ``refused`` (passed: the body met the
    documented refusal, an nbtrack error naming the fix), ``wrong`` (the body's exactness or clarity
    assertion failed: a silent change or an unclear refusal) or ``crash`` (any other exception)."""
    from collections import Counter

    from hypothesis import HealthCheck, given, settings

    from nbtrack.errors import NbtrackError

    made = [0]
    original_new = NbtrackError.__new__

    def counting_new(cls, *args, **kwargs):
        made[0] += 1
        return original_new(cls)

    inner = test.hypothesis.inner_test
    counts: Counter = Counter()
    examples_failing: list[str] = []

    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(**strategies)
    def body(**drawn):
        before = made[0]
        try:
            inner(**fixtures, **drawn)
        except AssertionError as exc:
            counts["wrong"] += 1
            examples_failing.append(f"wrong: {_describe(exc)[:300]} for {drawn!r:.300}")
        except Exception as exc:  # a crash is the finding: count it and go on
            counts["crash"] += 1
            examples_failing.append(f"crash: {type(exc).__name__}: {str(exc)[:200]} for {drawn!r:.300}")
        else:
            counts["refused" if made[0] > before else "exact"] += 1
        counts["tried"] += 1  # hypothesis's own discards (data exhausted mid-example) never get here

    NbtrackError.__new__ = counting_new  # type: ignore[method-assign]
    try:
        body()
    finally:
        NbtrackError.__new__ = original_new  # type: ignore[method-assign]
    return {"counts": counts, "failing": examples_failing[:10]}


def generated_profile(tmp: Path, factor: int) -> list[dict]:
    """The hypothesis long profile: each input kind's own test body over ``factor`` times its CI budget."""
    for folder in ("tests/reliability", "tests/data"):
        if str(REPO / folder) not in sys.path:
            sys.path.insert(0, str(REPO / folder))
    import test_bad_input
    import test_exact_generated as exact
    import test_values_exact as values

    from nbtrack.store import Store

    store = Store.open(tmp / "generated" / ".nbtrack")
    kinds = [
        (
            "DataFrames (all dtypes, indexes, categoricals, tz, NaN/NaT/None, signed zeros)",
            exact.test_every_generated_frame_loads_back_exactly_or_is_refused_before_anything_is_stored,
            {"df": exact.frames()},
            150,
            {"store": store},
        ),
        (
            "keyed version chains (categories added/removed/reordered, -0.0 edits)",
            exact.test_every_version_of_a_keyed_chain_loads_back_exactly,
            {"first": exact.keyed_frames(), "data": exact.st.data()},
            60,
            {"store": store},
        ),
        (
            "params (tuples, any dict keys, nesting)",
            values.test_params_with_tuples_and_any_dict_keys_come_back_identical,
            {"value": values.containers},
            100,
            {"shared_store": store},
        ),
        (
            "params (scalars, NaN/inf, JSON, sets, objects, bytes, long strings)",
            test_bad_input.test_params_are_stored_exactly_or_refused_clearly,
            {"value": test_bad_input.any_value},
            100,
            {"shared_store": store},
        ),
        (
            "metric values and steps",
            values.test_metric_values_and_steps_are_exact_or_refused_clearly,
            {"value": values.metric_values, "step": values.steps},
            100,
            {"shared_store": store},
        ),
        (
            "queries (fuzzed where/order_by texts)",
            test_bad_input.test_fuzzed_queries_give_parse_errors_never_sql_errors,
            {"text": test_bad_input.query_texts},
            120,
            {"shared_store": store},
        ),
    ]
    rows = []
    for label, test, strategies, ci_budget, fixtures in kinds:
        started = time.perf_counter()
        result = classify_examples(test, strategies, ci_budget * factor, **fixtures)
        c = result["counts"]
        FIGURES.setdefault("generated", {})[label] = {**c, "failing": result["failing"]}
        ok = c["wrong"] == 0 and c["crash"] == 0
        rows.append(
            _row(
                f"generated {label}: {c['tried']:,} tried, {c['exact']:,} exact, {c['refused']:,} refused clearly, "
                f"{c['wrong']} silently wrong or unclear, {c['crash']} crashes",
                time.perf_counter() - started,
                ok,
                "0 silently wrong, 0 crashes",
                "; ".join(result["failing"])[:600],
            )
        )
    store.close()
    return rows


def fault_rows(tmp: Path, rounds: int, seed: int = 20261207) -> list[dict]:
    """The fault matrix: every write path x every fault, ``rounds`` times (full disk and read-only need root)."""
    import os

    harness = _fault_harness()
    faults = list(harness.FAULTS)
    if os.geteuid() != 0:
        faults = [f for f in faults if f not in ("full_disk", "read_only")]
    started = time.perf_counter()
    tallies = harness.run_matrix(tmp / "faults", list(harness.WRITE_PATHS), faults, rounds, seed)
    seconds = time.perf_counter() - started
    FIGURES["faults"] = {f"{p}/{f}": {**vars(t), "failures": t.failures[:5]} for (p, f), t in tallies.items()}
    FIGURES["fault_seconds"] = seconds
    rows = []
    for (path, fault), t in tallies.items():
        rows.append(
            _row(
                f"fault {path} / {fault}: {t.injected} injected, {t.lost} with data lost, {t.clear} of {t.messages} "
                f"messages clear (CLI {t.cli_clear} of {t.cli_runs} runs gave one clear Error: line or succeeded: "
                f"{t.cli_runs - sum('CLI' in f for f in t.failures)}), {t.silently_wrong} silently wrong reads",
                seconds / len(tallies),
                not t.failures,
                "0 lost, every message clear",
                " | ".join(t.failures)[:800],
            )
        )
    return rows


def _fault_harness():
    path = str(REPO / "tests/reliability")
    if path not in sys.path:
        sys.path.insert(0, path)
    import fault_harness

    return fault_harness


def bench_reliability(quick: bool = False) -> list[dict]:
    sizes = QUICK if quick else SIZES
    harness = _import_tests()
    with tempfile.TemporaryDirectory(prefix="bench-reliability-") as folder:
        tmp = Path(folder)
        rows = [concurrency_row(harness, tmp, sizes["writers"], sizes["runs_each"])]
        rows.append(crash_row(harness, tmp, sizes["crash_trials"]))
        rows += generated_rows(harness, tmp, sizes["value_examples"], sizes["frame_examples"], sizes["query_examples"])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, to check the harness")
    parser.add_argument(
        "--long",
        action="store_true",
        help="the long profile only: generated inputs at 25x their CI budget and the fault matrix (--rounds)",
    )
    parser.add_argument("--rounds", type=int, default=6, help="fault-matrix rounds per (write path, fault)")
    parser.add_argument("--factor", type=int, default=25, help="generated inputs: times the CI budget")
    parser.add_argument("--json", help="also write the long profile's figures to this JSON file")
    parser.add_argument("--part", choices=["generated", "faults"], help="the long profile: only this half")
    args = parser.parse_args(argv)
    if args.long:
        with tempfile.TemporaryDirectory(prefix="bench-long-") as folder:
            rows = [] if args.part == "faults" else generated_profile(Path(folder), args.factor)
            rows += [] if args.part == "generated" else fault_rows(Path(folder), args.rounds)
        if args.json:
            import json

            Path(args.json).write_text(json.dumps(FIGURES, indent=1, default=str))
    else:
        rows = bench_reliability(quick=args.quick)
    print("| trial | took | target | held |\n|---|---|---|---|")
    for row in rows:
        print(f"| {row['name']} | {row['nbtrack_s']:.0f} s | {row['target']} | {'yes' if row['ok'] else '**NO**'} |")
        if row.get("note"):
            print(f"|   note: {row['note']} | | | |")
    return 0 if all(row["ok"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
