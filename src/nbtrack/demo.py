"""The README's demo: a small scikit-learn experiment recorded in the store of the working directory."""

from __future__ import annotations

import itertools


def run_demo(n_runs: int = 6, echo=print) -> list[str]:
    """Train a few classifiers on scikit-learn's wine data, record each as a run, print the leaderboard."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.datasets import load_wine
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import ConfusionMatrixDisplay, accuracy_score, f1_score
    from sklearn.model_selection import train_test_split

    from .reading import runs
    from .tracking import start_run

    X, y = load_wine(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    grid = list(itertools.product([10, 50, 200], [2, 4, None]))[:n_runs]
    run_ids = []
    for n_estimators, max_depth in grid:
        params = {"model": "random_forest", "n_estimators": n_estimators, "max_depth": max_depth}
        with start_run(f"rf-{n_estimators}-{max_depth}", experiment="demo-wine", params=params,
                       tags={"dataset": "wine"}) as run:
            model = RandomForestClassifier(n_estimators=n_estimators, max_depth=max_depth, random_state=0)
            model.fit(X_train, y_train)
            predicted = model.predict(X_test)
            run.log_metrics({"accuracy": accuracy_score(y_test, predicted),
                             "f1_macro": f1_score(y_test, predicted, average="macro")})
            figure, axes = plt.subplots(figsize=(4, 4))
            ConfusionMatrixDisplay.from_predictions(y_test, predicted, ax=axes, colorbar=False)
            run.log_figure(figure, "confusion_matrix.png")
            plt.close(figure)
            run.log_model(model)
            run_ids.append(run.run_id)
    table = runs(experiment="demo-wine", order_by="-metrics.accuracy")
    columns = ["run_id", "name", "status", "duration_s", "params.n_estimators", "params.max_depth",
               "metrics.accuracy", "metrics.f1_macro"]
    shown = table[columns].assign(run_id=table["run_id"].str[-8:])
    echo(f"Recorded {len(run_ids)} runs in {run_ids and _store_root()}:")
    echo(shown.to_string(index=False))
    return run_ids


def _store_root() -> str:
    from .store import default_store

    return str(default_store().root)
