"""Registered models through MLflow's model registry, against MLflow's own sqlite:/// store (as
tests/interop/test_mlflow.py does): exported versions load with mlflow.sklearn, MLflow 3 log_model
models (kept outside the run's artifacts) come in as registered versions with their aliases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import nbtrack
from nbtrack.interop.mlflow import export_mlflow, import_mlflow

mlflow = pytest.importorskip("mlflow", reason="mlflow is a test dependency: pip install -e '.[test]'")
pytest.importorskip("sqlalchemy", reason="MLflow's sqlite store needs sqlalchemy: pip install -e '.[test]'")
from mlflow import MlflowClient  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning", "ignore::UserWarning")


@pytest.fixture(scope="module")
def empty_mlflow_db(tmp_path_factory):
    """An MLflow sqlite database with MLflow's schema, made once: its migrations take most of the time."""
    path = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def tracking_uri(tmp_path, monkeypatch, empty_mlflow_db):
    import shutil

    monkeypatch.chdir(tmp_path)  # MLflow puts a sqlite store's artifacts in ./mlruns
    shutil.copy(empty_mlflow_db, tmp_path / "mlflow.db")
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


def _data(seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"tenure": rng.normal(24, 8, 200), "spend": rng.normal(50, 15, 200)})
    return X, (X.tenure < 20).astype(int).to_numpy()


def test_registered_versions_export_as_mlflow_sklearn_models_with_aliases(store, tracking_uri):
    from sklearn.linear_model import LogisticRegression

    X, y = _data()
    for C in (0.1, 1.0):
        with nbtrack.start_run(f"fit-{C}", experiment="churn") as run:
            run.log_model(LogisticRegression(C=C).fit(X, y), "model.pkl")
        nbtrack.register_model(run.run_id, "churn", description=f"C={C}")
    nbtrack.set_model_alias("churn", 2, "champion")
    report = export_mlflow(tracking_uri, store=store)
    assert report.models == ["churn/1", "churn/2"] and "2 registered model version(s)" in report.summary("exported")
    client = MlflowClient(tracking_uri)
    versions = {v.tags["nbtrack.model_version"]: v for v in client.search_model_versions("name = 'churn'")}
    assert sorted(versions) == ["1", "2"] and versions["2"].description == "C=1.0"
    assert client.get_registered_model("churn").aliases == {"champion": versions["2"].version}
    mlflow.set_tracking_uri(tracking_uri)
    loaded = mlflow.sklearn.load_model("models:/churn@champion")  # the scikit-learn flavour
    expected = nbtrack.load_model("churn@champion", trusted=True)
    assert loaded.C == 1.0 and (loaded.predict(X) == expected.predict(X)).all()
    assert export_mlflow(tracking_uri, store=store).models == []  # again: nothing new
    assert len(client.search_model_versions("name = 'churn'")) == 2


def test_mlflow_3_log_model_versions_import_as_registered_versions(store, tracking_uri):
    from sklearn.linear_model import LogisticRegression

    X, y = _data(1)
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment("fraud")
    for C in (0.5, 2.0):
        with mlflow.start_run(run_name=f"C={C}"):
            mlflow.log_param("C", C)
            mlflow.sklearn.log_model(
                LogisticRegression(C=C).fit(X, y), name="model", registered_model_name="fraud",
                serialization_format="pickle", pip_requirements=["scikit-learn"],
            )  # fmt: skip
    MlflowClient(tracking_uri).set_registered_model_alias("fraud", "champion", "2")
    report = import_mlflow(tracking_uri, store=store)
    assert len(report.created) == 2 and report.models == ["fraud/1 -> fraud/1", "fraud/2 -> fraud/2"]
    champion = nbtrack.get_model("fraud@champion")
    assert champion.version == 2 and champion.lineage["params"] == {"C": 2.0}
    assert champion.lineage["model"]["class"] == "sklearn.linear_model._logistic.LogisticRegression"
    assert champion.artifact == "mlflow-models/fraud-2/model.pkl"
    model = nbtrack.load_model("fraud@champion", trusted=True)
    assert (
        model.C == 2.0 and model.predict(X).tolist() == mlflow.sklearn.load_model("models:/fraud/2").predict(X).tolist()
    )
    assert nbtrack.model_history("fraud")[-1]["reason"] == "imported from MLflow"
    again = import_mlflow(tracking_uri, store=store)
    assert again.models == [] and len(nbtrack.model_versions("fraud")) == 2
