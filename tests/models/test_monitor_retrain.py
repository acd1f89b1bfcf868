"""``nbtrack monitor MODEL@champion NEW_DATA --retrain train.ipynb ...`` from the command line and the same
through ``%track monitor`` in a real IPython shell (issue 18):
the training notebook really runs through papermill in a real kernel on the newest data, its model becomes
``challenger``, champion and challenger are evaluated on the same holdout and by slices, and the champion
alias moves only when ``--promote-if`` holds."""

from __future__ import annotations

import json

import nbformat
import numpy as np
import pandas as pd
import pytest

import nbtrack

TRAIN_CELLS = [
    ("data = 'batch.parquet'", ["parameters"]),
    ("%load_ext nbtrack\nimport pandas as pd\nfrom sklearn.linear_model import LogisticRegression\n"
     "newest = pd.read_parquet(data)", []),
    ("%%track retrain\nrows = len(newest)\n"
     "model = LogisticRegression().fit(newest[['tenure', 'spend']], newest['churned'])", []),
]  # fmt: skip


def new_world(seed: int, rows: int, start: int) -> pd.DataFrame:
    """Customers after the market changed: longer tenures (drift), and now the long-standing ones churn
    (the champion, fitted when short tenures churned, gets most of them wrong)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "customer_id": np.arange(start, start + rows),
            "tenure": rng.normal(34, 8, rows),
            "spend": rng.normal(50, 15, rows),
        }
    )
    frame["churned"] = ((frame.tenure > 34) ^ (rng.random(rows) < 0.05)).astype(int)
    return frame


@pytest.fixture
def setting(shell, fit, tmp_path):
    """The champion (churn/1, fitted in a %%track cell on customers@1), the training notebook, a labelled
    batch of the newest data and a holdout of it with a region column to slice by."""
    nbtrack.register_model(fit(1.0), "churn")
    nbtrack.set_model_alias("churn", 1, "champion")
    book = nbformat.v4.new_notebook(
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    )
    book.cells = [nbformat.v4.new_code_cell(code, metadata={"tags": tags}) for code, tags in TRAIN_CELLS]
    nbformat.write(book, tmp_path / "train.ipynb")
    new_world(1, 600, 10_000).to_parquet(tmp_path / "june.parquet")
    holdout = new_world(2, 400, 20_000)
    holdout["region"] = np.where(np.arange(400) % 4 == 0, "north", "south")
    holdout.drop(columns="customer_id").to_parquet(tmp_path / "holdout.parquet")
    return tmp_path


def monitor(cli, *extra: str) -> str:
    return cli("monitor", "churn@champion", "june.parquet", "--retrain", "train.ipynb", "--holdout",
               "holdout.parquet", "--label", "churned", "--slices", "region", "--trusted", *extra, code=1)  # fmt: skip


def test_retrain_from_the_cli_runs_the_notebook_registers_a_challenger_and_promotes_only_when_told(setting, cli):
    report = json.loads(monitor(cli, "--format", "json"))
    assert any(a.startswith("tenure: PSI") for a in report["alerts"]) and report["retrained"] == "churn/2"
    notebook_run = nbtrack.get_run(nbtrack.runs(where="kind = 'notebook'", limit=1)["run_id"][0])
    assert notebook_run.status == "ok" and notebook_run.parent_id == report["run_id"]
    assert notebook_run.params["data"] == str(setting / "june.parquet")  # the newest data, as the notebook's param
    cells = nbtrack.runs(where="kind = 'cell'", limit=None)
    fitted = cells[cells["parent_id"] == notebook_run.run_id]
    assert list(fitted["metrics.rows"]) == [600]  # fitted in the kernel on the 600 rows of june.parquet
    challenger = nbtrack.get_model("churn@challenger")
    assert challenger.version == 2 and challenger.run_id in {notebook_run.run_id, *fitted["run_id"]}
    assert nbtrack.get_model("churn@champion").version == 1  # no --promote-if: a person decides
    comparison = report["comparison"]
    assert (comparison["champion"], comparison["challenger"]) == ("churn/1", "churn/2")
    assert comparison["rows"] == 400 and not comparison["promoted"]  # both on the same 400 holdout rows
    assert comparison["metrics"]["challenger"]["accuracy"] > comparison["metrics"]["champion"]["accuracy"] + 0.3
    assert {s: comparison["slices"][s]["rows"] for s in comparison["slices"]} == {"north": 100, "south": 300}
    assert comparison["metrics"]["worst"]["diff.accuracy"] == min(
        comparison["slices"][s]["diff"]["accuracy"] for s in ("north", "south")
    )

    kept = monitor(cli, "--promote-if", "challenger.accuracy >= champion.accuracy + 2")
    assert "retrained: churn/3 (alias challenger)" in kept and "does not hold" in kept
    assert nbtrack.get_model("churn@champion").version == 1

    promoted = monitor(
        cli, "--promote-if", "challenger.accuracy >= champion.accuracy + 0.3 and worst.diff.accuracy > 0"
    )
    assert "retrained: churn/4 (alias challenger)" in promoted and "promoted: " in promoted
    assert nbtrack.get_model("churn@champion").version == 4
    last = nbtrack.model_history("churn", "champion")[-1]
    assert (last["from_version"], last["to_version"]) == (1, 4) and "challenger.accuracy" in last["reason"]


def test_retrain_from_the_magic_in_a_real_shell(setting, shell, capsys):
    report = shell.run_line_magic(
        "track",
        "monitor churn@champion june.parquet --retrain train.ipynb --holdout holdout.parquet --label churned "
        '--slices region --promote-if "challenger.accuracy >= champion.accuracy + 0.3" --trusted',
    )
    assert report.exit_code == 1 and report.retrained == "churn/2" and report.comparison.promoted
    assert set(report.comparison.slices) == {"north", "south"}
    assert nbtrack.get_model("churn@champion").version == 2
    notebook_run = nbtrack.get_run(nbtrack.runs(where="kind = 'notebook'", limit=1)["run_id"][0])
    assert notebook_run.parent_id == report.run_id and notebook_run.params["data"] == str(setting / "june.parquet")
    shown = shell.display_formatter.format(report)[0]["text/plain"]  # what the cell shows
    assert "retrained: churn/2 (alias challenger)" in shown and "promoted: " in shown
