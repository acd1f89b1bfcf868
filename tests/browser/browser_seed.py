"""Record runs for the browser tests (and for screenshots) with nbtrack's Python API."""

from __future__ import annotations

import io
import math
from pathlib import Path

XSS_IMG = "<img src=x onerror=window.__xss=1>"
XSS_SCRIPT = "<script>window.__xss=2</script>"


def _png(title: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3))
    xs = [i / 10 for i in range(60)]
    ax.plot(xs, [math.sin(x) for x in xs])
    ax.set_title(title)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return buf.getvalue()


def seed_runs(store, n: int = 4) -> list[str]:
    """``n`` ok runs in experiment "wine" (lr, model params; loss curve; acc) plus one failed run."""
    from nbtrack.tracking import start_run

    ids = []
    for i in range(n):
        lr = [0.3, 0.1, 0.03, 0.01, 0.003][i % 5]
        code = f"model = train(lr={lr})\nacc = evaluate(model)  # run {i}\n"
        with start_run(
            f"rf-{i}",
            experiment="wine",
            params={"lr": lr, "model": "rf" if i % 2 else "gbm", "depth": 2 + i},
            tags={"stage": "dev"},
            kind="cell",
            code=code,
            store=store,
        ) as run:
            for step in range(10):
                run.log_metric("loss", 1.0 / (1 + step * lr * 3) + 0.01 * i, step=step)
            run.log_metric("acc", 0.80 + 0.03 * i)
            if i == 0:
                run.log_artifact(_png("loss curve"), "curve.png", kind="figure", media_type="image/png")
        ids.append(run.run_id)
    try:
        with start_run("broken", experiment="wine", params={"lr": 9.0}, kind="cell", code="1 / 0\n", store=store):
            1 / 0
    except ZeroDivisionError:
        pass
    return ids


def seed_xss(store) -> str:
    """A run whose name, params, tags and code hold HTML that must show as text."""
    from nbtrack.tracking import start_run

    with start_run(
        XSS_IMG,
        experiment="wine",
        params={"note": XSS_SCRIPT, XSS_IMG: 1},
        tags={"who": XSS_SCRIPT},
        kind="cell",
        code=f"print('{XSS_SCRIPT}')\n# {XSS_IMG}\n",
        store=store,
    ) as run:
        run.log_metric("acc", 0.5)
    return run.run_id


def seed_notebook_run(store, folder: Path) -> str:
    """A papermill run (nbtrack.run_notebook) of a notebook with parameter ``alpha`` and a ``%%track`` cell
    that binds a metric and draws a figure: the notebook run plus its child cell run."""
    import nbformat

    from nbtrack.production.execute import run_notebook

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("alpha = 0.1", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("print('alpha doubled is', alpha * 2)"),
        nbformat.v4.new_code_cell("%load_ext nbtrack"),
        nbformat.v4.new_code_cell(
            "%%track train-cell\nimport matplotlib.pyplot as plt\nscore = alpha * 4\nprint('score', score)\n"
            "plt.plot([0, 1, 2], [0, score, 0])\nplt.show()"
        ),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "pm-demo.ipynb"
    nbformat.write(nb, path)
    return run_notebook(
        str(path), {"alpha": 0.25}, experiment="papermill", name="pm-demo", store=store, kernel_name="python3"
    ).run_id


def seed_dataset(store) -> bool:
    """Two versions of a small dataset; False when the data API is not there."""
    try:
        import pandas as pd

        from nbtrack.data import snapshot
    except ImportError:
        return False
    df = pd.DataFrame({"id": range(50), "x": [float(i) for i in range(50)], "city": ["a", "b"] * 25})
    snapshot(df, "customers", key="id", store=store)
    df2 = df.copy()
    df2.loc[df2["id"] < 10, "x"] += 100.0
    df2["y"] = 1
    df2 = df2[df2["id"] != 49]
    snapshot(df2, "customers", key="id", store=store)
    return True


if __name__ == "__main__":  # python tests/browser/seed.py <store dir>: a store for manual looking
    import sys

    from nbtrack.store import Store

    store = Store.open(Path(sys.argv[1]), create=True)
    print(seed_runs(store, 5), seed_xss(store), seed_dataset(store))
