"""The README's demo: a small experiment recorded in the store of the working directory.

1. six runs through the Python API (a script-style loop),
2. a notebook with a DataFrame snapshot and a ``%%track`` cell, executed through papermill as one
   notebook run whose tracked cell is a child run,
3. a sweep of that notebook over a 2 x 2 grid, two kernels at a time,
then the leaderboard (one line per model trained) and the commands to look further.

The models see five of wine's thirteen measurements, so their scores differ (with all thirteen most of
them score 1.0). The notebooks run in a temporary folder, removed at the end: their input and output
notebooks are kept in the store as artifacts, and nothing is left in the working directory.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from pathlib import Path

NOTEBOOK = Path(__file__).with_name("wine.ipynb")
FEATURES = ["alcohol", "malic_acid", "ash", "alcalinity_of_ash", "magnesium"]


def run_demo(n_runs: int = 6, notebooks: bool = True, echo=print) -> list[str]:
    """Record the demo runs in the store of the working directory and print the leaderboard."""
    run_ids = _api_runs(n_runs, echo)
    if notebooks:
        with tempfile.TemporaryDirectory(prefix="nbtrack-demo-") as folder:
            _notebook_runs(Path(folder), echo)
    best = _leaderboard(echo)
    echo("\nLook further:")
    hints = [("nbtrack runs --experiment demo-wine --order-by -metrics.f1_macro", "every run, best first")]
    if best:
        hints.append((f"nbtrack show {best}", "everything the best run recorded"))
    hints.append(("jupyter lab", "then the nbtrack panel in the left sidebar"))
    width = max(len(command) for command, _ in hints)
    for command, what in hints:
        echo(f"  {command:<{width}}   # {what}")
    return run_ids


def _api_runs(n_runs: int, echo) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.datasets import load_wine
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import ConfusionMatrixDisplay, accuracy_score, f1_score
    from sklearn.model_selection import train_test_split

    from nbtrack.store import default_store
    from nbtrack.tracking import start_run

    wine = load_wine(as_frame=True).frame  # pyright: ignore[reportAttributeAccessIssue]  # a Bunch, not the tuple of return_X_y
    X, y = wine[FEATURES], wine["target"]
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.4, random_state=0, stratify=y)
    run_ids = []
    for n_estimators, max_depth in list(itertools.product([10, 50, 200], [2, 4]))[:n_runs]:
        params = {"model": "random_forest", "n_estimators": n_estimators, "max_depth": max_depth}
        with start_run(
            f"rf-{n_estimators}-{max_depth}",
            experiment="demo-wine",
            params=params,
            tags={"dataset": "wine", "source": "api"},
        ) as run:
            model = RandomForestClassifier(n_estimators=n_estimators, max_depth=max_depth, random_state=0)
            model.fit(X_train, y_train)
            predicted = model.predict(X_test)
            run.log_metrics(
                {
                    "accuracy": accuracy_score(y_test, predicted),
                    "f1_macro": f1_score(y_test, predicted, average="macro"),
                }
            )
            figure, axes = plt.subplots(figsize=(4, 4))
            ConfusionMatrixDisplay.from_predictions(y_test, predicted, ax=axes, colorbar=False)
            run.log_figure(figure, "confusion_matrix.png")
            plt.close(figure)
            run.log_model(model)
            run_ids.append(run.run_id)
    echo(f"1. Recorded {len(run_ids)} runs through the Python API in {default_store().root}")
    return run_ids


def _notebook_runs(folder: Path, echo) -> None:
    from nbtrack.production.execute import run_notebook
    from nbtrack.production.sweep import sweep

    notebook = folder / "wine.ipynb"
    shutil.copyfile(NOTEBOOK, notebook)
    result = run_notebook(notebook, experiment="demo-wine", output=folder / "wine-output.ipynb", cwd=folder)
    echo(
        f"2. Ran the demo notebook with papermill: notebook run {result.run_id[-8:]} ({result.status}); its "
        "%%track cell is a child run, and the executed notebook is kept in the store"
    )
    board = sweep(
        notebook,
        {"n_estimators": [20, 100], "max_depth": [3, None]},
        jobs=2,
        experiment="demo-wine",
        metric="accuracy",
        progress=False,
    )
    echo(f"3. Swept {len(board)} combinations of n_estimators x max_depth, 2 kernels at a time")


def _leaderboard(echo) -> str | None:
    """Print one line per model trained (scripts and notebooks; a notebook's tracked cell is the same model)
    and return the best run's short id."""
    from nbtrack.reading import runs

    table = runs(
        experiment="demo-wine",
        where="metrics.accuracy is not null and kind in ('script', 'notebook')",
        order_by="-metrics.f1_macro, -metrics.accuracy",
    )
    columns = [
        c
        for c in [
            "run_id",
            "name",
            "kind",
            "status",
            "params.n_estimators",
            "params.max_depth",
            "metrics.accuracy",
            "metrics.f1_macro",
        ]
        if c in table.columns
    ]
    from nbtrack._table import value_text

    shown = table[columns].assign(**{c: [value_text(c, v) for v in table[c]] for c in columns})  # 4, not 4.0
    echo("\nLeaderboard, one line per model (best F1 first):")
    echo(shown.to_string(index=False))
    return str(shown["run_id"].iloc[0]) if len(shown) else None
