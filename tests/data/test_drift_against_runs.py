"""`--against RUN` finds the training data where runs keep it: on a notebook run's cells, or in the earlier
cells a tracked fit depends on (issue 18: both gave exit 2)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import nbtrack
from nbtrack.errors import DatasetNotFoundError


def _versions(store) -> None:
    rng = np.random.default_rng(0)
    nbtrack.snapshot(pd.DataFrame({"x": rng.normal(size=3000)}), "customers")
    nbtrack.snapshot(pd.DataFrame({"x": rng.normal(loc=1.0, size=3000)}), "customers")


def test_a_notebook_run_is_checked_against_what_its_cells_read(store, cli):
    _versions(store)
    with nbtrack.start_run("train.ipynb", kind="notebook") as notebook:
        with nbtrack.start_run("cell 3", parent=notebook) as cell:
            first = nbtrack.versions("customers")["fingerprint"][0]
            cell.record_data("input", first, name="df", dataset="customers", version=1)
    report = nbtrack.drift("customers", 2, against=notebook.run_id)
    assert report.reference == {"dataset": "customers", "version": 1, "run_id": notebook.run_id}
    assert report.flagged == ["x"]
    out = cli("data", "drift", "customers@2", "--against", notebook.run_id[-8:], code=1)
    assert "against customers@1" in out


def test_a_fit_on_a_split_of_a_loaded_version_is_checked_against_that_version(shell, store):
    _versions(store)
    for cell in [
        "import nbtrack\nfrom sklearn.linear_model import LinearRegression",
        "df = nbtrack.load('customers', 1)",
        "X_train, y_train = df[['x']][:2000], df['x'][:2000] * 2",
        "%%track fit\nmodel = LinearRegression().fit(X_train, y_train)",
    ]:
        shell.run_cell(cell, store_history=True).raise_error()
    fit = nbtrack.runs(limit=1)["run_id"][0]
    assert nbtrack.get_run(fit).inputs[0]["dataset"] is None  # it read X_train, no stored version
    report = nbtrack.drift("customers", 2, against=fit)
    assert (report.reference["dataset"], report.reference["version"]) == ("customers", 1)
    version = nbtrack.register_model(fit, "m")
    assert [(d["dataset"], d["version"]) for d in version.lineage["data"]][-1] == ("customers", 1)


def test_a_run_with_no_stored_data_anywhere_names_its_frames_and_the_fix(store):
    _versions(store)
    with nbtrack.start_run("blind") as blind:
        blind.record_data("input", "0" * 32, name="X_train")
    with pytest.raises(DatasetNotFoundError, match=r"1 unversioned input\(s\): X_train.*--against customers@N"):
        nbtrack.drift("customers", against=blind.run_id)


def test_a_registered_model_is_checked_against_the_data_its_lineage_names(store, cli):
    from sklearn.linear_model import LinearRegression

    _versions(store)
    first = nbtrack.versions("customers")["fingerprint"][0]
    with nbtrack.start_run("fit") as run:
        run.record_data("input", first, name="df", dataset="customers", version=1)
        run.log_model(LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0]), "model.pkl")
    nbtrack.register_model(run.run_id, "churn")
    nbtrack.set_model_alias("churn", 1, "champion")
    for against in ("churn@champion", "churn/1", "models:/churn", nbtrack.get_model("churn")):
        report = nbtrack.drift("customers", 2, against=against)
        assert report.reference == {"dataset": "customers", "version": 1, "run_id": run.run_id}, against
    assert "against customers@1" in cli("data", "drift", "customers@2", "--against", "churn@champion", code=1)
    assert nbtrack.drift("customers", 2, against="customers@2").ok  # name@N stays a data version
