"""MLflow's refusals reach the user as one line that names the fix, not as MLflow's traceback."""

from __future__ import annotations

from click.testing import CliRunner

import nbtrack
from nbtrack.cli import main


def test_a_file_store_without_mlflows_opt_in_is_one_clear_line(store, tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    with nbtrack.start_run("a", store=store) as run:
        run.log_metric("acc", 0.5)
    result = CliRunner().invoke(main, ["export-mlflow", "--tracking-uri", f"file:{tmp_path / 'mlruns'}"])
    assert result.exit_code == 1
    assert "sqlite:///mlflow.db" in result.output and "MLFLOW_ALLOW_FILE_STORE=true" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
