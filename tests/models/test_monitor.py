"""After scoring: outcomes joined to predictions, monitoring (drift + quality over batches, exit codes),
champion against challenger on a holdout with slices and promote_if; real stores, real CLI invocations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import nbtrack
from nbtrack.errors import InvalidValueError, QueryError


def month(seed: int, shift: float = 0.0, start: int = 10_000, rows: int = 400) -> pd.DataFrame:
    """A month of customers drawn like the training data (new IDs), ``tenure`` shifted by ``shift`` sd."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "customer_id": np.arange(start, start + rows),
            "tenure": rng.normal(24 + 8 * shift, 8, rows),
            "spend": rng.normal(50, 15, rows),
        }
    )
    frame["churned"] = ((frame.tenure < 20) ^ (rng.random(rows) < 0.1)).astype(int)
    return frame


@pytest.fixture
def champion(shell, fit):
    nbtrack.register_model(fit(1.0), "churn")
    nbtrack.set_model_alias("churn", 1, "champion")
    return shell.user_ns["model"]


def test_outcomes_join_the_predictions_by_key_and_record_the_quality(champion, tmp_path):
    from sklearn.metrics import accuracy_score, roc_auc_score

    batch = month(1)
    batch.drop(columns="churned").to_csv(tmp_path / "june.csv", index=False)
    scored = nbtrack.score("churn@champion", str(tmp_path / "june.csv"), key="customer_id", trusted=True)
    labels = batch[["customer_id", "churned"]].sample(frac=1.0, random_state=0)  # any order: joined by key
    found = nbtrack.log_outcomes(scored, labels)
    assert found["task"] == "classification" and found["matched"] == 400 and found["unmatched_outcomes"] == 0
    assert found["metrics"]["auc"] == pytest.approx(roc_auc_score(batch.churned, scored["score"]))
    assert found["metrics"]["accuracy"] == pytest.approx(accuracy_score(batch.churned, scored["prediction"]))
    run = nbtrack.get_run(found["run_id"])
    assert run.kind == "outcomes" and run.parent_id == scored.attrs["run_id"]
    assert run.tags["nbtrack.model"] == "churn" and run.tags["nbtrack.model_version"] == "1"
    assert run.latest["auc"] == pytest.approx(found["metrics"]["auc"])


def test_outcomes_that_cannot_be_joined_are_refused_naming_the_fix(champion, tmp_path):
    batch = month(1)
    scored = nbtrack.score("churn", batch.drop(columns="churned"), trusted=True)  # no key kept
    with pytest.raises(InvalidValueError, match="share no key column.*--key"):
        nbtrack.log_outcomes(scored, batch[["customer_id", "churned"]].iloc[:10])
    keyed = nbtrack.score("churn", batch.drop(columns="churned"), key="customer_id", trusted=True)
    with pytest.raises(InvalidValueError, match="No outcome matched"):
        nbtrack.log_outcomes(keyed, pd.DataFrame({"customer_id": [-1, -2], "churned": [0, 1]}))
    with pytest.raises(InvalidValueError, match="label="):
        nbtrack.log_outcomes(keyed, batch)  # tenure, spend and churned: which one holds the outcomes?
    with pytest.raises(InvalidValueError, match="not a scoring run"):
        nbtrack.log_outcomes(nbtrack.runs(where="kind = 'cell'")["run_id"][0], batch)
    # positional: outcomes in the predictions' row order
    assert nbtrack.log_outcomes(scored, batch["churned"])["matched"] == 400


def _score_and_label(batch: pd.DataFrame, path) -> str:
    batch.drop(columns="churned").to_parquet(path)
    scored = nbtrack.score("churn@champion", str(path), key="customer_id", trusted=True)
    nbtrack.log_outcomes(scored, batch[["customer_id", "churned"]])
    return str(path)


def test_a_month_without_drift_passes_and_a_shifted_one_alerts(champion, tmp_path, cli):
    quiet = _score_and_label(month(2), tmp_path / "quiet.parquet")
    report = nbtrack.monitor("churn@champion", quiet)
    assert report.exit_code == 0 and report.alerts == []
    assert report.drift.reference["dataset"] == "customers" and report.drift.reference["version"] == 1
    assert report.drift.excluded == {"customer_id": "the version's key"}  # the training version's key
    assert set(report.drift.columns) == {"tenure", "spend"}  # churned is not in the batch
    assert [len(r["metrics"]) for r in report.quality] == [2]
    run = nbtrack.get_run(report.run_id)
    assert run.kind == "monitor" and run.latest["drifted_columns"] == 0
    assert "quality.png" in [a["name"] for a in run.artifacts]

    shifted = str(tmp_path / "shifted.parquet")
    month(3, shift=1.0).drop(columns="churned").to_parquet(shifted)  # no outcomes yet: drift alone alerts
    out = cli("monitor", "churn@champion", shifted, code=1)
    assert "ALERT: tenure: PSI" in out and "spend" not in out.split("ALERT")[1]
    monitored = nbtrack.runs(where="kind = 'monitor'", limit=1)["run_id"][0]
    assert "drift-tenure.png" in [a["name"] for a in nbtrack.get_run(monitored).artifacts]
    assert cli("monitor", "churn@champion", quiet, "--exclude", "tenure", code=0).count("ALERT") == 0


def test_quality_over_batches_alerts_on_a_drop_and_on_a_condition(champion, tmp_path, cli):
    first = _score_and_label(month(2), tmp_path / "may.parquet")
    flipped = month(4)
    flipped["churned"] = 1 - flipped["churned"]  # the world changed: the model is now mostly wrong
    _score_and_label(flipped, tmp_path / "june.parquet")
    report = nbtrack.monitor("churn@champion", first)
    assert report.drift.ok and len(report.quality) == 2
    assert any(a.startswith("auc ") and "worse by" in a for a in report.alerts) and report.exit_code == 1
    assert "does not meet" in cli("monitor", "churn", first, "--max-drop", "1", "--quality", "metrics.auc >= 0.8",
                                  code=1)  # fmt: skip
    assert cli("monitor", "churn", first, "--max-drop", "1", "--quality", "metrics.accuracy >= 0", code=0)


def test_monitor_exits_2_with_what_to_do(champion, tmp_path, cli):
    path = _score_and_label(month(2), tmp_path / "m.parquet")
    assert "No registered model 'nope'" in cli("monitor", "nope", path, code=2)
    assert "No file" in cli("monitor", "churn", str(tmp_path / "missing.parquet"), code=2)
    assert "--columns" in cli("monitor", "churn", path, "--exclude", "tenure,spend", code=2)
    assert "needs retrain" in cli("monitor", "churn", path, "--promote-if", "challenger.auc > champion.auc", code=2)
    with pytest.raises(QueryError):
        nbtrack.monitor("churn", path, quality="metrics.auc >=")


def test_the_cli_records_outcomes(champion, tmp_path, cli):
    batch = month(5)
    batch.drop(columns="churned").to_csv(tmp_path / "b.csv", index=False)
    out = cli("score", "churn@champion", str(tmp_path / "b.csv"), "--key", "customer_id", "-o",
              str(tmp_path / "p.parquet"), "--trusted")  # fmt: skip
    run_id = out.split(" in run ")[1].split()[0]
    batch[["customer_id", "churned"]].to_csv(tmp_path / "labels.csv", index=False)
    printed = cli("models", "outcomes", run_id, str(tmp_path / "labels.csv"))
    assert printed.startswith(f"400 outcomes of batch {run_id} (churn/1, classification): accuracy=")


def test_champion_and_challenger_on_a_holdout_per_slice_and_promotion(shell, fit, tmp_path, cli):
    weak, strong = fit(0.0001), fit(1.0)  # C=1e-4 predicts the majority class: the strong one is more accurate
    nbtrack.register_model(weak, "churn")
    nbtrack.register_model(strong, "churn")
    nbtrack.set_model_alias("churn", 1, "champion")
    nbtrack.set_model_alias("churn", 2, "challenger")
    holdout = month(6).drop(columns="customer_id")
    holdout["region"] = np.where(np.arange(400) % 4 == 0, "north", "south")
    holdout.to_parquet(tmp_path / "holdout.parquet")

    kept = nbtrack.compare_models("churn@champion", "churn@challenger", str(tmp_path / "holdout.parquet"),
                                  slices="region", promote_if="challenger.auc >= champion.auc + 0.5", trusted=True)  # fmt: skip
    assert not kept.promoted and "does not hold" in kept.decision and "challenger.auc = " in kept.decision
    assert kept.metrics["diff"]["accuracy"] == pytest.approx(
        kept.metrics["challenger"]["accuracy"] - kept.metrics["champion"]["accuracy"]
    )
    assert set(kept.slices) == {"north", "south"} and kept.slices["north"]["rows"] == 100
    assert kept.metrics["spread"]["diff.auc"] >= 0
    assert nbtrack.get_model("churn@champion").version == 1
    run = nbtrack.get_run(kept.run_id)
    assert run.kind == "compare" and run.latest["diff.auc"] == pytest.approx(kept.metrics["diff"]["auc"])

    out = cli("models", "compare", "churn@champion", "churn@challenger", "--holdout", str(tmp_path / "holdout.parquet"),
              "--slices", "region", "--promote-if", "challenger.accuracy >= champion.accuracy + 0.05 and worst.diff.accuracy > 0",
              "--trusted")  # fmt: skip
    assert "promoted: " in out and "churn@champion -> 2" in out and "north" in out
    assert nbtrack.get_model("churn@champion").version == 2
    last = nbtrack.model_history("churn", "champion")[-1]
    assert (
        last["from_version"] == 1
        and last["to_version"] == 2
        and "challenger.accuracy >= champion.accuracy + 0.05" in last["reason"]
    )
    assert "--trusted" in cli("models", "compare", "churn/1", "churn/2", "--holdout", str(tmp_path / "holdout.parquet"),
                              code=1)  # fmt: skip


def test_promote_if_reads_as_the_query_language():
    from nbtrack.registry._champion import condition_as_query

    assert condition_as_query("challenger.auc >= champion.auc + 0.01") == "metrics.`diff.auc` >= 0.01"
    assert condition_as_query("champion.rmse > challenger.rmse") == "metrics.`diff.rmse` < -0.0"
    assert condition_as_query("challenger.auc > 0.8 and worst.diff.auc >= -0.02") == (
        "metrics.`challenger.auc` > 0.8 and metrics.`worst.diff.auc` >= -0.02"
    )
    with pytest.raises(InvalidValueError, match="same metric"):
        condition_as_query("challenger.auc > champion.accuracy")
