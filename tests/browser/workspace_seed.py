"""Runs for the workspace browser tests: what a scikit-learn user's store holds.

Besides browser_seed's "wine" runs: an "iris" experiment whose runs carry nbtrack's meta metrics and
autolog params (hidden by default), a sweep with three notebook jobs (each with its cell run), a cell
run recorded from a real notebook cell (to open the notebook at that cell), a text artifact, and two
runs that read different versions of a dataset.
"""

from __future__ import annotations

from pathlib import Path

HOSTILE_TEXT = "line one\n<script>window.__xss=3</script>\n<img src=x onerror=window.__xss=4>"


def _iris_run(store, name: str, c: float, acc: float, *, kind: str = "cell", parent=None, **extra):
    from nbtrack.tracking import start_run

    params = {"C": c, "solver": "lbfgs", "model": "LogisticRegression", "model.C": c, "model.max_iter": 100}
    params |= {f"model.p{i}": i for i in range(12)}  # autolog internals: get_params() entries
    with start_run(name, experiment="iris", params=params, kind=kind, parent=parent, store=store, **extra) as run:
        run.log_metric("acc", acc)
        run.log_metric("f1", acc - 0.02)
        run.log_metric("log_loss", 1.2 - acc)
        for meta, value in (("_cpu_s", 0.5), ("_wall_s", 0.7), ("_peak_mem_mb", 120.0)):
            run.log_metric(meta, value)
    return run


def seed_iris(store, notebook: Path) -> dict[str, str]:
    """Plain runs, a sweep of notebook jobs (of ``notebook``) with cell runs, a text artifact; ids by role."""
    from nbtrack.tracking import start_run

    ids = {}
    for i, c in enumerate([0.01, 0.1, 1.0, 10.0]):
        ids[f"plain{i}"] = _iris_run(store, f"logreg-C{c}", c, 0.70 + 0.06 * i).run_id
    with start_run("sweep iris", experiment="iris", params={"C": [0.5, 5.0, 50.0]}, kind="sweep", store=store) as sweep:
        for j, (c, acc) in enumerate([(0.5, 0.81), (5.0, 0.93), (50.0, 0.88)]):
            job = _iris_run(store, f"job-{j}", c, acc, kind="notebook", parent=sweep.run_id, source_path=str(notebook))
            ids[f"job{j}"] = job.run_id
            _iris_run(store, f"job-{j}-cell", c, acc, parent=job.run_id)
    ids["sweep"] = sweep.run_id
    with start_run("notes-run", experiment="iris", params={"C": 1.0}, kind="cell", store=store) as run:
        run.log_text("notes.txt", HOSTILE_TEXT)
        run.log_metric("acc", 0.5)
    ids["notes"] = run.run_id
    return ids


def seed_cell_run(store, root: Path) -> tuple[str, str]:
    """A notebook with three cells and a cell run recorded from its third cell: (run id, cell id)."""
    import nbformat

    from nbtrack.tracking import start_run

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"x{i} = {i}") for i in range(3)]
    nb.cells += [nbformat.v4.new_markdown_cell("filler\n\n" * 30) for _ in range(3)]
    nb.cells.append(nbformat.v4.new_code_cell("%%track fit-cell\nacc = 0.9"))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = root / "cells.ipynb"
    nbformat.write(nb, path)
    cell_id = nb.cells[-1].id
    with start_run(
        "fit-cell",
        experiment="cells",
        params={"alpha": 1},
        kind="cell",
        code="acc = 0.9\n",
        source_path=str(path),
        source_cell=cell_id,
        store=store,
    ) as run:
        run.log_metric("acc", 0.9)
    return run.run_id, cell_id


def seed_data_runs(store) -> tuple[str, str]:
    """Two runs of experiment "data" that read customers@1 and customers@2 (browser_seed.seed_dataset)."""
    from nbtrack.data._versions import get_version
    from nbtrack.tracking import start_run

    ids = []
    for version in (1, 2):
        v = get_version("customers", version, store=store)
        with start_run(
            f"train-on-v{version}",
            experiment="data",
            params={"lr": 0.1},
            kind="cell",
            code=f"df = nbtrack.load('customers', {version})\nacc = fit(df)\n" + ("# tuned\n" if version == 2 else ""),
            store=store,
        ) as run:
            run.record_data("input", v.fingerprint, name="df", dataset="customers", version=version, rows=v.rows)
            run.log_metric("acc", 0.8 + 0.05 * version)
        ids.append(run.run_id)
    return ids[0], ids[1]
