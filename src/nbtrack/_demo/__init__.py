"""The README's demo: a small experiment recorded in the store of the working directory.

1. six runs through the Python API (a script-style loop),
2. a notebook with a DataFrame snapshot and a ``%%track`` cell, executed through papermill as one
   notebook run whose tracked cell is a child run,
3. a sweep of that notebook over a 2 x 2 grid, two kernels at a time,
then the leaderboard and how to open JupyterLab with the sidebar.
"""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

NOTEBOOK = Path(__file__).with_name("wine.ipynb")


def run_demo(n_runs: int = 6, notebooks: bool = True, echo=print) -> list[str]:
    """Record the demo runs in the store of the working directory and print the leaderboard."""
    run_ids = _api_runs(n_runs, echo)
    if notebooks:
        _notebook_runs(echo)
    _leaderboard(echo)
    if notebooks:
        echo("\nBrowse the runs in JupyterLab's nbtrack sidebar:  .venv/bin/jupyter lab nbtrack-demo/wine.ipynb")
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

    X, y = load_wine(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
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


def _notebook_runs(echo) -> None:
    from nbtrack.production.execute import run_notebook
    from nbtrack.production.sweep import sweep

    folder = Path("nbtrack-demo")
    folder.mkdir(exist_ok=True)
    notebook = folder / "wine.ipynb"
    if not notebook.exists():
        shutil.copyfile(NOTEBOOK, notebook)
    result = run_notebook(notebook, experiment="demo-wine", output=folder / "wine-output.ipynb", cwd=folder)
    echo(
        f"2. Ran {notebook} with papermill: notebook run {result.run_id[-8:]} ({result.status}), "
        f"its %%track cell is a child run; output in {folder / 'wine-output.ipynb'}"
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


def _leaderboard(echo) -> None:
    from nbtrack.reading import runs

    table = runs(experiment="demo-wine", where="metrics.accuracy is not null", order_by="-metrics.accuracy")
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
    shown = table[columns].assign(run_id=table["run_id"].str[-8:])
    echo("\nLeaderboard (nbtrack runs --experiment demo-wine --order-by -metrics.accuracy):")
    echo(shown.to_string(index=False))
