"""Batch scoring with a registered model: a recorded run linked to the model version, its input and output."""

from __future__ import annotations

import pandas as pd
import pytest

import nbtrack
from nbtrack.errors import InvalidValueError, UntrustedArtifactError


@pytest.fixture
def champion(shell, fit):
    run_id = fit(1.0)
    nbtrack.register_model(run_id, "churn")
    nbtrack.set_model_alias("churn", 1, "champion")
    return shell.user_ns["model"]


def test_scoring_a_stored_version_records_a_linked_run(champion, shell):
    scored = nbtrack.score("churn@champion", "customers@1", trusted=True, save_as="churn-scores")
    df = shell.user_ns["df"]
    assert list(scored.columns) == ["customer_id", "prediction", "score"]
    assert scored["prediction"].tolist() == champion.predict(df[["tenure", "spend"]]).tolist()
    assert scored["score"].tolist() == pytest.approx(champion.predict_proba(df[["tenure", "spend"]])[:, 1])
    run = nbtrack.get_run(scored.attrs["run_id"])
    assert run.kind == "score" and run.status == "ok" and run.name == "score churn/1"
    assert run.tags == {"nbtrack.model": "churn", "nbtrack.model_version": "1"}
    assert run.params == {"model": "churn", "model_version": 1, "rows": 400}
    assert [(i["dataset"], i["version"]) for i in run.inputs] == [("customers", 1)]
    assert [(o["dataset"], o["version"]) for o in run.outputs] == [("churn-scores", 1)]
    pd.testing.assert_frame_equal(nbtrack.load("churn-scores"), scored.reset_index(drop=True), check_like=True)
    found = nbtrack.runs(where="tags.`nbtrack.model` = 'churn' and kind = 'score'")
    assert found["run_id"].tolist() == [run.run_id]


def test_pickles_stay_closed_without_trusted_and_nothing_is_recorded(champion):
    before = len(nbtrack.runs())
    with pytest.raises(UntrustedArtifactError, match="trusted=True"):
        nbtrack.score("churn", "customers@1")
    assert len(nbtrack.runs()) == before


def test_the_cli_scores_files_into_files_or_standard_output(champion, shell, cli, tmp_path):
    batch = shell.user_ns["df"][["tenure", "spend"]][:50]
    batch.to_csv(tmp_path / "batch.csv", index=False)
    out = cli("score", "churn@champion", str(tmp_path / "batch.csv"), "-o", str(tmp_path / "p.parquet"), "--trusted")
    assert out.startswith("scored 50 rows with churn@champion in run ") and out.strip().endswith("p.parquet")
    written = pd.read_parquet(tmp_path / "p.parquet")
    assert written["prediction"].tolist() == champion.predict(batch).tolist()
    run = nbtrack.get_run(nbtrack.runs(limit=1)["run_id"][0])
    assert [(i["name"], i["rows"]) for i in run.inputs] == [("batch.csv", 50)]
    assert [o["name"] for o in run.outputs] == ["p.parquet"]
    printed = cli("score", "churn", str(tmp_path / "batch.csv"), "--trusted")
    assert printed.splitlines()[0] == "prediction,score" and len(printed.splitlines()) >= 51
    assert "--trusted" in cli("score", "churn", str(tmp_path / "batch.csv"), code=1)


def test_a_batch_without_the_model_s_columns_is_refused_naming_them(champion, tmp_path):
    with pytest.raises(InvalidValueError, match="lacks column.*spend"):
        nbtrack.score("churn", pd.DataFrame({"tenure": [1.0, 2.0]}), trusted=True)
    with pytest.raises(InvalidValueError, match="No file"):
        nbtrack.score("churn", str(tmp_path / "missing.parquet"), trusted=True)
    failed = nbtrack.runs(where="kind = 'score'")
    assert failed["status"].tolist() == ["failed"]  # the batch was read, the model refused it: a failed run


@pytest.mark.slow
def test_the_scoring_notebook_is_a_notebook_run_whose_child_is_the_scoring_run(champion, shell, cli, tmp_path):
    """`nbtrack models scoring-notebook` then `nbtrack run` of it with papermill parameters, in a real kernel."""
    batch = shell.user_ns["df"][["customer_id", "tenure", "spend"]][:40]
    batch.to_parquet(tmp_path / "june.parquet")
    notebook = tmp_path / "score.ipynb"
    assert cli("models", "scoring-notebook", "-o", str(notebook)).strip() == f"wrote {notebook}"
    assert "exists" in cli("models", "scoring-notebook", "-o", str(notebook), code=1)

    params = {"model": "churn@champion", "data": str(tmp_path / "june.parquet"), "key": "customer_id"}
    refused = nbtrack.run_notebook(notebook, params, check=False)  # trusted defaults to False: nothing unpickled
    assert refused.status == "failed" and "trusted=True" in refused.error["message"]

    params |= {"output": str(tmp_path / "june-scores.parquet"), "trusted": True}
    result = nbtrack.run_notebook(notebook, params)
    scoring = nbtrack.runs(where="kind = 'score'")
    assert scoring["parent_id"].tolist() == [result.run_id] and scoring["status"].tolist() == ["ok"]
    written = pd.read_parquet(tmp_path / "june-scores.parquet")
    assert written["customer_id"].tolist() == batch["customer_id"].tolist()
    assert written["prediction"].tolist() == champion.predict(batch[["tenure", "spend"]]).tolist()
    assert nbtrack.load_artifact(result.run_id, "output.ipynb").startswith(b"{")
