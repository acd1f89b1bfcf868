"""Score what ``%%track`` records on real notebooks against a ground truth written by reading their code.

Each notebook in ``bench/realworld/notebooks/`` runs in a real kernel (papermill) with ``%load_ext nbtrack``
added as the first cell and every code cell prefixed with ``%%track cell-NN -e NOTEBOOK --quiet`` (an empty
cell, or one that starts with another cell magic, is left as it is), into a scratch store. The runs are then read back
with the public API (``nbtrack.runs``, ``nbtrack.get_run``) and compared, cell by cell, with
``truth/NOTEBOOK.json``:

* params: names of the run's params, without the params of its recorded models (``clf``, ``clf.C``...);
* metrics: names of the run's metrics, without nbtrack's meta metrics (``_wall_s``...);
* figures: the number of figure artifacts;
* models: names of the model artifacts (``clf`` for ``clf.pkl``).

Then, unless ``--no-reproduce``, ``nbtrack.reproduce(run_id, store=...)`` is called for every run and its
verdicts are counted. Prints a table and writes a JSON result (``--out``).

Usage::

    .venv/bin/python bench/realworld/score.py                  # all notebooks, with reproduce
    .venv/bin/python bench/realworld/score.py --no-reproduce --only sm_ols pdsh_0511_k_means
    .venv/bin/python bench/realworld/score.py --observed /tmp/obs  # also write what each cell recorded
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import nbformat

HERE = Path(__file__).parent
KINDS = ("params", "metrics", "figures", "models")


def tracked(nb: nbformat.NotebookNode, experiment: str) -> nbformat.NotebookNode:
    """The notebook as the trial ran it: ``%load_ext nbtrack`` first, ``%%track`` on every code cell."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    index = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        index += 1
        if cell.source.strip() and not cell.source.lstrip().startswith("%%"):
            cell.source = f"%%track cell-{index:02d} -e {experiment} --quiet\n" + cell.source
    nb.cells.insert(0, nbformat.v4.new_code_cell("%load_ext nbtrack"))
    return nb


def observed_runs(store) -> dict[str, dict]:
    """What each tracked cell recorded, by run name (``cell-NN``): names per kind, figure count, status."""
    import nbtrack

    frame = nbtrack.runs(store=store)
    found: dict[str, dict] = {}
    for run_id in frame.run_id:
        run = nbtrack.get_run(run_id, store=store)
        models = [a["name"][: -len(".pkl")] for a in run.artifacts if a["kind"] == "model"]
        params = [
            k for k in run.params if ".best_params." in k or not any(k == m or k.startswith(m + ".") for m in models)
        ]
        found[run.name or run_id] = {
            "run_id": run_id,
            "status": run.status,
            "params": sorted(params),
            "metrics": sorted(k for k in run.latest if not k.startswith("_")),
            "figures": sum(a["kind"] == "figure" for a in run.artifacts),
            "models": sorted(models),
            "notes": run.tags.get("nbtrack.notes", ""),
        }
    return found


def score_cell(truth: dict, seen: dict) -> dict[str, tuple[int, int, int, list, list]]:
    """``kind -> (tp, fp, fn, false positives, false negatives)`` for one cell."""
    result = {}
    for kind in KINDS:
        if kind == "figures":
            want, got = int(truth.get(kind, 0)), int(seen.get(kind, 0))
            tp = min(want, got)
            result[kind] = (
                tp,
                got - tp,
                want - tp,
                [got - tp] if got > want else [],
                [want - tp] if want > got else [],
            )
            continue
        want_set, got_set = set(truth.get(kind, [])), set(seen.get(kind, []))
        fp, fn = sorted(got_set - want_set), sorted(want_set - got_set)
        result[kind] = (len(want_set & got_set), len(fp), len(fn), fp, fn)
    return result


def _old_style_names(scratch: Path) -> Path:
    """A matplotlib config folder whose style library knows the pre-3.6 names of the seaborn styles
    (``seaborn-whitegrid`` is ``seaborn-v0_8-whitegrid`` today), so tutorials written for older
    matplotlib run with their code unchanged."""
    import matplotlib

    config = scratch / "mplconfig"
    library = config / "stylelib"
    library.mkdir(parents=True, exist_ok=True)
    for style in (Path(matplotlib.get_data_path()) / "stylelib").glob("seaborn-v0_8*.mplstyle"):
        old = library / style.name.replace("seaborn-v0_8", "seaborn")
        if not old.exists():
            old.write_text(style.read_text())
    return config


def run_notebook(name: str, scratch: Path, timeout: float) -> tuple[dict[str, dict], str | None, float]:
    """Execute one tracked notebook into a store of its own; ``(runs by name, error or None, seconds)``."""
    import papermill

    from nbtrack.store import Store

    work = scratch / name
    work.mkdir(parents=True, exist_ok=True)
    home = work / ".nbtrack"
    nb = tracked(nbformat.read(HERE / "notebooks" / f"{name}.ipynb", as_version=4), name)
    source = work / f"{name}.tracked.ipynb"
    nbformat.write(nb, source)
    os.environ["NBTRACK_HOME"] = str(home)
    os.environ["MPLCONFIGDIR"] = str(_old_style_names(scratch))
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    error = None
    started = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(source),
            str(work / f"{name}.out.ipynb"),
            cwd=str(work),
            kernel_name="python3",
            progress_bar=False,
            execution_timeout=timeout,
        )
    except Exception as exc:  # a notebook that fails still has its runs up to the failure
        error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}"
    seconds = time.perf_counter() - started
    if not home.exists():
        return {}, error or "no store was written", seconds
    store = Store.open(home, create=False)
    return observed_runs(store), error, seconds


def _integrity(home: Path) -> str:
    """``nbtrack.fsck``'s verdict on the notebook's store once everything ran ("ok" or what is wrong)."""
    import nbtrack

    if not home.exists():
        return "missing"
    try:
        return str(nbtrack.fsck(store=home).integrity)
    except Exception as exc:  # a store that cannot even be opened is the finding
        return f"{type(exc).__name__}: {exc}"[:200]


def reproduce_all(name: str, scratch: Path, runs: dict[str, dict], timeout: float) -> Counter:
    import nbtrack
    from nbtrack.store import Store

    store = Store.open(scratch / name / ".nbtrack", create=False)
    verdicts: Counter = Counter()
    for run_name in sorted(runs):
        try:
            verdict = nbtrack.reproduce(runs[run_name]["run_id"], store=store, timeout=timeout)
            verdicts[verdict.verdict] += 1
            runs[run_name]["reproduce"] = verdict.verdict
            runs[run_name]["reproduce_detail"] = str(verdict)[:500]
        except Exception as exc:  # an error is a verdict too: it could not reproduce
            verdicts["error"] += 1
            runs[run_name]["reproduce"] = "error"
            runs[run_name]["reproduce_detail"] = f"{type(exc).__name__}: {exc}"[:500]
    return verdicts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="notebook names (default: all in the manifest)")
    parser.add_argument("--no-reproduce", action="store_true", help="do not call nbtrack.reproduce on each run")
    parser.add_argument("--out", default=str(HERE / "results.json"), help="where to write the JSON result")
    parser.add_argument("--observed", help="a folder to write what each notebook's cells recorded")
    parser.add_argument("--scratch", help="scratch folder (default: a new temporary one)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per cell")
    args = parser.parse_args(argv)

    manifest = json.loads((HERE / "manifest.json").read_text())
    names = args.only or [entry["name"] for entry in manifest["notebooks"]]
    scratch = Path(args.scratch or tempfile.mkdtemp(prefix="nbtrack-realworld-"))
    totals = {kind: [0, 0, 0] for kind in KINDS}
    verdicts: Counter = Counter()
    per_notebook = {}
    for name in names:
        truth_file = HERE / "truth" / f"{name}.json"
        truth = json.loads(truth_file.read_text())["cells"] if truth_file.exists() else {}
        runs, error, seconds = run_notebook(name, scratch, args.timeout)
        if not args.no_reproduce:
            verdicts += reproduce_all(name, scratch, runs, args.timeout)
        integrity = _integrity(scratch / name / ".nbtrack")
        cells = {}
        for cell in sorted(set(truth) | set(runs)):
            seen = runs.get(cell, {})
            want = truth.get(cell, {})
            scored = score_cell(want, seen)
            for kind, (tp, fp, fn, _, _) in scored.items():
                totals[kind][0] += tp
                totals[kind][1] += fp
                totals[kind][2] += fn
            wrong = {k: {"fp": v[3], "fn": v[4]} for k, v in scored.items() if v[3] or v[4]}
            status_wrong = seen.get("status") != want.get("status", "ok")
            cells[cell] = {"wrong": wrong, "status": seen.get("status"), "expected_status": want.get("status", "ok")}
            if "reproduce" in seen:
                cells[cell]["reproduce"] = seen["reproduce"]
                cells[cell]["reproduce_detail"] = seen["reproduce_detail"]
            if status_wrong:
                wrong["status"] = {"fp": [seen.get("status")], "fn": [want.get("status", "ok")]}
        per_notebook[name] = {"seconds": round(seconds, 1), "error": error, "store": integrity, "cells": cells}
        if args.observed:
            Path(args.observed).mkdir(parents=True, exist_ok=True)
            (Path(args.observed) / f"{name}.json").write_text(json.dumps(runs, indent=1, sort_keys=True))
        bad = sum(1 for c in cells.values() if c["wrong"])
        print(
            f"{name:50s} {seconds:6.1f}s  cells {len(cells):3d}  wrong {bad:3d}  store {integrity}  {error or ''}",
            flush=True,
        )

    table = {}
    for kind, (tp, fp, fn) in totals.items():
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        table[kind] = {"tp": tp, "fp": fp, "fn": fn, "precision": round(precision, 3), "recall": round(recall, 3)}
    print(f"\n{'kind':8s} {'TP':>5s} {'FP':>5s} {'FN':>5s} {'precision':>10s} {'recall':>8s}")
    for kind, row in table.items():
        print(f"{kind:8s} {row['tp']:5d} {row['fp']:5d} {row['fn']:5d} {row['precision']:10.3f} {row['recall']:8.3f}")
    if not args.no_reproduce:
        total = sum(verdicts.values())
        print("\nreproduce: " + ", ".join(f"{k} {v}" for k, v in sorted(verdicts.items())) + f" (of {total} runs)")
    print("\nwrong cells:")
    for name, result in per_notebook.items():
        for cell, info in result["cells"].items():
            if info["wrong"]:
                print(f"  {name} {cell}: {json.dumps(info['wrong'])}")
    Path(args.out).write_text(
        json.dumps(
            {
                "notebooks": len(names),
                "table": table,
                "reproduce": dict(verdicts) if not args.no_reproduce else None,
                "per_notebook": per_notebook,
            },
            indent=1,
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
