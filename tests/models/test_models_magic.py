"""`%track models` in a real IPython shell."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

import nbtrack


def test_track_models_lists_models_versions_one_version_and_history(shell, fit, capsys):
    first, second = fit(0.1), fit(3.0)
    nbtrack.register_model(first, "churn")
    nbtrack.register_model(second, "churn")
    nbtrack.set_model_alias("churn", 2, "champion", reason="better auc")
    listed = shell.run_line_magic("track", "models")
    assert listed[["name", "versions", "latest"]].values.tolist() == [["churn", 2, 2]]
    versions = shell.run_line_magic("track", "models churn")
    assert versions["version"].tolist() == [1, 2] and versions["aliases"].tolist() == ["", "champion"]
    assert versions["run_id"].tolist() == [first, second] and "metrics.auc" in versions
    capsys.readouterr()
    assert shell.run_line_magic("track", "models churn@champion") is None
    out = capsys.readouterr().out
    assert "churn/2 [champion]" in out and "trained on customers@1" in out
    history = shell.run_line_magic("track", "models churn --history")
    assert history[["alias", "to_version", "reason"]].values.tolist() == [["champion", 2, "better auc"]]
    with pytest.raises(UsageError, match="No registered model 'fraud'"):
        shell.run_line_magic("track", "models fraud")
    with pytest.raises(UsageError, match="needs a model name"):
        shell.run_line_magic("track", "models --history")
