"""Fixtures for the model registry tests: real scikit-learn models fitted in %%track cells of a real
IPython shell, recorded in a real store."""

from __future__ import annotations

import pytest

import nbtrack

DATA_CELL = """
import numpy as np, pandas as pd
import nbtrack
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier
from sklearn.metrics import roc_auc_score
rng = np.random.default_rng(0)
df = pd.DataFrame({"customer_id": np.arange(400), "tenure": rng.normal(24, 8, 400), "spend": rng.normal(50, 15, 400)})
df["churned"] = ((df.tenure < 20) ^ (rng.random(400) < 0.1)).astype(int)
nbtrack.snapshot(df, "customers", key="customer_id")
"""

FIT_CELL = """%%track fit-{C}
C = {C}
X_train, y_train = df[["tenure", "spend"]][:300], df["churned"][:300]
X_test, y_test = df[["tenure", "spend"]][300:], df["churned"][300:]
model = LogisticRegression(C=C).fit(X_train, y_train)
auc = roc_auc_score(y_test, model.predict_proba(X_test)[:, 1])
"""


@pytest.fixture
def fit(shell):
    """``fit(C)`` runs a %%track cell fitting a LogisticRegression; returns its run id. Cells go into the
    history as in a kernel, so a run's session slice holds this test's cells, not an earlier test's."""
    shell.run_cell(DATA_CELL, store_history=True).raise_error()

    def run(C: float = 1.0) -> str:
        shell.run_cell(FIT_CELL.format(C=C), store_history=True).raise_error()
        return nbtrack.runs(limit=1)["run_id"][0]

    return run
