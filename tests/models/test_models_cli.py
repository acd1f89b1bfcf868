"""`nbtrack models ...` through click's CliRunner, on models fitted in real %%track cells."""

from __future__ import annotations

import getpass
import json

import nbtrack


def test_register_alias_show_history_from_the_command_line(cli, fit):
    first, second = fit(0.1), fit(10.0)
    auc = nbtrack.get_run(first).latest["auc"]
    assert "registered churn/1 from model.pkl" in cli("models", "register", first[-8:], "churn", "--description", "v1")
    refused = cli("models", "register", second, "churn", "--require", "metrics.auc >= 1.5", code=1)
    assert "does not meet 'metrics.auc >= 1.5'" in refused and "metrics.auc = " in refused
    cli("models", "register", second, "churn", "--require", "metrics.auc > 0.5")
    assert cli("models", "alias", "churn", "1", "champion", "--reason", "baseline") == "churn@champion -> 1\n"
    out = cli("models", "alias", "churn", "2", "champion", "--require", f"metrics.auc > {auc + 1}", code=1)
    assert "Refused to point churn@champion at version 2" in out
    cli("models", "alias", "churn", "2", "challenger")
    assert cli("models", "list") == "churn: 2 version(s), latest 2; challenger -> 2, champion -> 1\n"
    listed = cli("models", "show", "churn")
    assert "churn/1 [champion]" in listed and "churn/2 [challenger]" in listed and "auc=" in listed
    shown = cli("models", "show", "churn@champion")
    assert "churn/1 [champion]: model.pkl (sklearn.linear_model._logistic.LogisticRegression" in shown
    assert "trained on customers@1 (as df, 400 rows" in shown and "params     C=0.1" in shown
    detail = json.loads(cli("models", "show", "churn/2", "--format", "json"))
    assert detail["run_id"] == second and detail["lineage"]["params"]["C"] == 10.0
    history = cli("models", "history", "churn")
    assert f"champion  - -> 1  by {getpass.getuser()}@" in history and ": baseline" in history
    assert "removed churn@challenger (was 2)" in cli("models", "unalias", "churn", "challenger", "--reason", "lost")
    moves = json.loads(cli("models", "history", "churn", "--alias", "challenger", "--format", "json"))
    assert [(m["to_version"], m["reason"]) for m in moves] == [(2, None), (None, "lost")]


def test_deleting_needs_the_versions_gone_first(cli, fit):
    run_id = fit(1.0)
    cli("models", "register", run_id, "churn")
    cli("models", "alias", "churn", "1", "champion")
    assert "nbtrack models delete churn 1" in cli("delete", run_id, "--yes", code=1)
    assert "is champion: move or remove" in cli("models", "delete", "churn", "1", "--yes", code=1)
    cli("models", "unalias", "churn", "champion")
    assert cli("models", "delete", "churn", "1", "--yes") == "deleted churn/1\n"
    assert "deleted 1 run(s)" in cli("delete", run_id, "--yes")
    assert "No registered model 'fraud'" in cli("models", "show", "fraud", code=1)


def test_an_empty_store_lists_no_models(cli, store):
    assert "no registered models" in cli("models", "list")
    assert json.loads(cli("models", "list", "--format", "json")) == []
