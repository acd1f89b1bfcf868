"""Models of a tracked cell are pickled in the cell's thread and written while the next is pickled; the run
ends only once every one is durable (issue 22)."""

from __future__ import annotations

import nbtrack

FIT_30 = """%%track --quiet --max-models 30
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
rng = np.random.default_rng(0)
X = rng.random((200, 5))
y = (X[:, 0] > 0.5).astype(int)
pipes = {f"c{i}": make_pipeline(StandardScaler(), LogisticRegression(C=0.1 + i)).fit(X, y) for i in range(30)}
"""


def test_thirty_fitted_pipelines_are_all_stored_as_they_were_when_the_cell_ended(shell, run_ok, last_run):
    run_ok(FIT_30)
    run = last_run()
    assert run.status == "ok"
    models = sorted(a["name"] for a in run.artifacts if a["kind"] == "model")
    assert models == sorted(f"pipes_c{i}.pkl" for i in range(30))
    run_ok(
        "for p in pipes.values():\n    p.set_params(logisticregression__C=99.0).fit(X[:50], y[:50])"
    )  # changed later
    X = shell.user_ns["X"]
    for i in (0, 17, 29):
        stored = nbtrack.load_artifact(run.run_id, f"pipes_c{i}.pkl", trusted=True)
        c = stored[-1].C
        assert c == 0.1 + i  # the model as the tracked cell left it
        assert stored.predict_proba(X).shape == (200, 2)
    assert run.params["pipes_c17.logisticregression__C"] == 17.1


def test_a_model_that_cannot_be_pickled_is_a_note_and_the_others_are_stored(shell, run_ok, last_run):
    run_ok(
        "%%track --quiet\nimport numpy as np\nfrom sklearn.linear_model import LinearRegression\n"
        "X = np.arange(10.0).reshape(-1, 1)\ngood = LinearRegression().fit(X, X[:, 0])\n"
        "bad = LinearRegression().fit(X, X[:, 0])\nbad.hook = lambda: 1\n"
    )
    run = last_run()
    assert run.status == "ok"
    assert [a["name"] for a in run.artifacts if a["kind"] == "model"] == ["good.pkl"]
    assert "model bad not saved" in run.tags["nbtrack.notes"]
