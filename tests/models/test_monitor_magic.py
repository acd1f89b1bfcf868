"""``%track monitor`` in a real IPython shell: the same check as ``nbtrack monitor``, its report returned and
shown as its summary, user mistakes as UsageErrors that name the fix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from IPython.core.error import UsageError

import nbtrack


def month(seed: int, shift: float = 0.0) -> pd.DataFrame:
    """A month of customers like the training data (new IDs), ``tenure`` shifted by ``shift`` sd."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"customer_id": np.arange(10_000, 10_400), "tenure": rng.normal(24 + 8 * shift, 8, 400),
         "spend": rng.normal(50, 15, 400)}
    )  # fmt: skip


@pytest.fixture
def champion(shell, fit, tmp_path):
    nbtrack.register_model(fit(1.0), "churn")
    nbtrack.set_model_alias("churn", 1, "champion")
    month(2).to_parquet(tmp_path / "quiet.parquet")
    month(3, shift=1.0).to_parquet(tmp_path / "shifted.parquet")


def test_track_monitor_checks_drift_and_returns_the_report(champion, shell):
    quiet = shell.run_line_magic("track", "monitor churn@champion quiet.parquet")
    assert quiet.exit_code == 0 and quiet.alerts == [] and set(quiet.drift.columns) == {"tenure", "spend"}
    assert quiet.drift.excluded == {"customer_id": "the version's key"}
    assert nbtrack.get_run(quiet.run_id).kind == "monitor"

    shifted = shell.run_line_magic("track", "monitor churn@champion shifted.parquet --threshold 0.25")
    assert shifted.exit_code == 1 and shifted.drift.flagged == ["tenure"] and shifted.drift.threshold == 0.25
    shown = shell.display_formatter.format(shifted)[0]["text/plain"]  # what the cell shows: the summary
    assert shown == shifted.summary() and "ALERT: tenure: PSI" in shown
    left_out = shell.run_line_magic("track", "monitor churn shifted.parquet --exclude tenure")
    assert left_out.exit_code == 0 and left_out.drift.excluded["tenure"] == "excluded by exclude="
    chosen = shell.run_line_magic("track", "monitor churn/1 shifted.parquet --columns spend,customer_id")
    assert list(chosen.drift.columns) == ["spend", "customer_id"]
    quality = shell.run_line_magic("track", 'monitor churn quiet.parquet --quality "metrics.auc >= 0.8"')
    assert quality.exit_code == 0 and quality.quality == []  # no outcomes logged yet: nothing to hold it to


def test_track_monitor_mistakes_are_usage_errors_naming_the_fix(champion, shell):
    with pytest.raises(UsageError, match="No registered model 'fraud'"):
        shell.run_line_magic("track", "monitor fraud quiet.parquet")
    with pytest.raises(UsageError, match="No file"):
        shell.run_line_magic("track", "monitor churn missing.parquet")
    with pytest.raises(UsageError, match="needs retrain"):
        shell.run_line_magic("track", 'monitor churn quiet.parquet --promote-if "challenger.auc > champion.auc"')
    with pytest.raises(UsageError, match="no such notebook file"):
        shell.run_line_magic("track", "monitor churn shifted.parquet --retrain nope.ipynb")
    with pytest.raises(UsageError, match="--columns"):
        shell.run_line_magic("track", "monitor churn quiet.parquet --exclude tenure,spend")
    with pytest.raises(UsageError):
        shell.run_line_magic("track", "monitor churn")  # DATA missing
    assert "monitor" in shell.find_line_magic("track").__doc__


def test_a_column_missing_from_every_row_of_the_batch_is_flagged_and_shown(champion, shell, tmp_path):
    batch = month(4)
    batch["spend"] = np.nan  # the feed broke: no spend at all
    batch.to_parquet(tmp_path / "broken.parquet")
    report = shell.run_line_magic("track", "monitor churn broken.parquet")
    assert report.exit_code == 1 and report.drift.flagged == ["spend"] and report.drift.columns["spend"]["psi"] is None
    assert "spend: missing values 0.0% -> 100.0%" in report.alerts
    assert "spend (no PSI: a side has no value)" in shell.display_formatter.format(report)[0]["text/plain"]
    assert "drift-spend.png" in [a["name"] for a in nbtrack.get_run(report.run_id).artifacts]
