"""The model registry in the core: register a run's fitted model, aliases and their history, loading,
gating, lineage."""

from __future__ import annotations

import getpass
import pickle

import pytest

import nbtrack
from nbtrack.errors import (
    ArtifactNotFoundError,
    InvalidValueError,
    ModelNotFoundError,
    RequirementNotMetError,
    UntrustedArtifactError,
)


def test_a_fitted_model_becomes_version_1_with_its_lineage(shell, fit):
    run_id = fit(0.5)
    version = nbtrack.register_model(run_id, "churn", description="first try")
    assert (version.model, version.version, version.run_id, version.artifact) == ("churn", 1, run_id, "model.pkl")
    assert version.created_by == getpass.getuser() and version.description == "first try"
    lineage = version.lineage
    assert lineage["params"]["C"] == 0.5 and lineage["params"]["model"] == "LogisticRegression"
    assert lineage["metrics"]["auc"] == pytest.approx(nbtrack.get_run(run_id).latest["auc"])
    assert "_wall_s" not in lineage["metrics"]
    assert "LogisticRegression(C=C)" in lineage["code"] and lineage["run_name"] == "fit-0.5"
    assert [(d["dataset"], d["version"], d["name"]) for d in lineage["data"]] == [("customers", 1, "df")]
    assert lineage["environment"]["python"] and lineage["model"]["class"].endswith("LogisticRegression")
    assert nbtrack.register_model(fit(2.0), "churn").version == 2


def test_load_model_by_alias_version_and_latest_needs_trust(shell, fit):
    first, second = fit(0.1), fit(10.0)
    nbtrack.register_model(first, "churn")
    nbtrack.register_model(second, "churn")
    nbtrack.set_model_alias("churn", 1, "champion", reason="baseline")
    with pytest.raises(UntrustedArtifactError, match="trusted=True"):
        nbtrack.load_model("churn@champion")
    champion = nbtrack.load_model("churn@champion", trusted=True)
    assert champion.C == 0.1 and champion.predict_proba(shell.user_ns["X_test"]).shape == (100, 2)
    assert nbtrack.load_model("churn/2", trusted=True).C == 10.0
    assert nbtrack.load_model("churn", trusted=True).C == 10.0  # the latest
    assert nbtrack.load_model("models:/churn@champion", trusted=True).C == 0.1
    with pytest.raises(ModelNotFoundError, match="no alias 'challenger'.*champion -> 1"):
        nbtrack.get_model("churn@challenger")
    with pytest.raises(ModelNotFoundError, match=r"no version 7; it has versions \[1, 2\]"):
        nbtrack.get_model("churn/7")
    with pytest.raises(ModelNotFoundError, match="the store has: churn"):
        nbtrack.get_model("fraud")


def test_alias_moves_are_recorded_with_who_when_and_why(shell, fit):
    for C in (0.1, 1.0, 10.0):
        nbtrack.register_model(fit(C), "churn")
    nbtrack.set_model_alias("churn", 1, "champion", reason="baseline")
    nbtrack.set_model_alias("churn", 3, "challenger", reason="more regularisation")
    nbtrack.set_model_alias("churn", 3, "champion", reason="won on the May holdout")
    assert nbtrack.remove_model_alias("churn", "challenger", reason="promoted") == 3
    assert nbtrack.get_model("churn@champion").version == 3
    assert nbtrack.get_model("churn/3").aliases == ["champion"]
    history = nbtrack.model_history("churn")
    assert [(h["alias"], h["from_version"], h["to_version"], h["reason"]) for h in history] == [
        ("champion", None, 1, "baseline"),
        ("challenger", None, 3, "more regularisation"),
        ("champion", 1, 3, "won on the May holdout"),
        ("challenger", 3, None, "promoted"),
    ]
    assert {h["user"] for h in history} == {getpass.getuser()} and all(h["host"] and h["moved"] for h in history)
    assert [h["to_version"] for h in nbtrack.model_history("churn", "champion")] == [1, 3]
    frame = nbtrack.models()
    assert frame.to_dict("records")[0] | {"created": None, "updated": None} == {
        "name": "churn",
        "versions": 3,
        "latest": 3,
        "aliases": {"champion": 3},
        "description": None,
        "created": None,
        "updated": None,
    }


def test_require_gates_register_and_alias_moves_showing_the_actual_value(shell, fit):
    run_id = fit(1.0)
    auc = nbtrack.get_run(run_id).latest["auc"]
    with pytest.raises(RequirementNotMetError, match=rf"metrics.auc >= 0.999.*metrics.auc = {auc!r}"):
        nbtrack.register_model(run_id, "churn", require="metrics.auc >= 0.999")
    assert nbtrack.models().empty  # nothing was registered
    version = nbtrack.register_model(run_id, "churn", require="metrics.auc >= 0.5 and params.C = 1.0")
    with pytest.raises(RequirementNotMetError, match=r"metrics.recall = not recorded"):
        nbtrack.set_model_alias("churn", version.version, "champion", require="metrics.recall > 0.5")
    assert nbtrack.get_model("churn").aliases == []
    nbtrack.set_model_alias("churn", 1, "champion", require="metrics.auc > 0.5 and status = 'ok'")
    assert nbtrack.get_model("churn@champion").version == 1
    with pytest.raises(nbtrack.NbtrackError, match="position"):  # the runs query grammar, its errors
        nbtrack.set_model_alias("churn", 1, "champion", require="metrics.auc >")


def test_choosing_among_several_models_and_refusals(shell):
    shell.run_cell(
        "%%track two\nfrom sklearn.tree import DecisionTreeClassifier\nfrom sklearn.linear_model import Ridge\n"
        "tree = DecisionTreeClassifier(max_depth=2).fit([[0], [1], [2]], [0, 1, 1])\n"
        "ridge = Ridge().fit([[0], [1], [2]], [0, 1, 1])"
    ).raise_error()
    run_id = nbtrack.runs(limit=1)["run_id"][0]
    with pytest.raises(InvalidValueError, match="holds 2 models: tree.pkl, ridge.pkl.*artifact=NAME"):
        nbtrack.register_model(run_id, "m")
    with pytest.raises(ArtifactNotFoundError, match="no artifact 'forest.pkl'; its models: tree.pkl, ridge.pkl"):
        nbtrack.register_model(run_id, "m", "forest.pkl")
    assert nbtrack.register_model(run_id, "m", "ridge.pkl").artifact == "ridge.pkl"
    with pytest.raises(InvalidValueError, match="already version 1 of 'm'"):
        nbtrack.register_model(run_id, "m", "ridge.pkl")
    with pytest.raises(InvalidValueError, match="not a valid model name"):
        nbtrack.register_model(run_id, "churn@prod", "tree.pkl")
    with pytest.raises(InvalidValueError, match="cannot be an alias"):
        nbtrack.set_model_alias("m", 1, "2")
    with pytest.raises(nbtrack.NbtrackError, match="no fitted model"):
        with nbtrack.start_run("empty") as empty:
            pass
        nbtrack.register_model(empty.run_id, "m")


def test_a_notebook_style_parent_run_finds_its_cells_model(store):
    from sklearn.linear_model import LogisticRegression

    with nbtrack.start_run("notebook", kind="notebook") as parent:
        with nbtrack.start_run("cell", parent=parent) as cell:
            cell.log_model(LogisticRegression().fit([[0], [1]], [0, 1]), "clf.pkl")
    version = nbtrack.register_model(parent.run_id, "nb")
    assert version.run_id == cell.run_id and version.artifact == "clf.pkl"


def test_a_registered_run_cannot_be_deleted_and_its_model_survives_gc(shell, fit):
    run_id = fit(1.0)
    version = nbtrack.register_model(run_id, "churn")
    nbtrack.set_model_alias("churn", 1, "champion")
    with pytest.raises(InvalidValueError, match=r"churn/1.*nbtrack models delete churn 1"):
        nbtrack.delete_run(run_id)
    with pytest.raises(InvalidValueError, match="is champion: move or remove"):
        nbtrack.delete_model_version("churn", 1)
    assert nbtrack.gc(grace_s=0).removed_blobs == 0
    assert nbtrack.fsck().clean
    nbtrack.remove_model_alias("churn", "champion")
    nbtrack.delete_model_version("churn", 1)
    with pytest.raises(ModelNotFoundError, match="no versions left"):
        nbtrack.load_model("churn", trusted=True)
    assert nbtrack.delete_run(run_id) == [run_id]
    assert nbtrack.gc(grace_s=0).removed_blobs >= 1  # the pickle is garbage once nothing refers to it
    store = nbtrack.default_store()
    assert not store.blobs.present(version.blob)


def test_a_version_keeps_its_model_when_the_run_artifact_row_is_repaired_away(shell, fit):
    """The registered blob is referenced by the version itself: gc never takes it."""
    version = nbtrack.register_model(fit(1.0), "churn")
    store = nbtrack.default_store()
    assert store.blobs.present(version.blob)
    assert pickle.loads(store.blobs.read_bytes(version.blob)).C == 1.0
    from nbtrack.store import maintenance

    assert version.blob in maintenance.referenced_blobs(store)


def test_lineage_includes_the_data_read_before_the_fit_in_the_same_notebook_run(store):
    """A notebook cell that loads a snapshot and a later cell that fits on a split of it: the model's
    version says it was trained on the snapshot the earlier cell read."""
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    nbtrack.snapshot(pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "y": [0, 0, 1, 1]}), "customers", key="x")
    fingerprint = nbtrack.versions("customers")["fingerprint"][0]
    with nbtrack.start_run("notebook", kind="notebook") as parent:
        with nbtrack.start_run("load cell", parent=parent) as load:
            load.record_data("input", fingerprint, name="df", dataset="customers", version=1, rows=4, columns=2)
        with nbtrack.start_run("fit cell", parent=parent) as fit:
            fit.log_model(LogisticRegression().fit([[0.0], [3.0]], [0, 1]), "model.pkl")
        with nbtrack.start_run("later cell", parent=parent) as later:
            later.record_data("input", "f" * 32, name="scored")  # read after the fit: not training data
    data = nbtrack.register_model(fit.run_id, "churn").lineage["data"]
    assert [(d["dataset"], d["version"], d["name"], d["run_id"]) for d in data] == [("customers", 1, "df", load.run_id)]


def test_fsck_checks_registered_model_blobs(store):
    from sklearn.linear_model import LogisticRegression

    with nbtrack.start_run("fit") as run:
        run.log_model(LogisticRegression().fit([[0.0], [3.0]], [0, 1]), "model.pkl")
    version = nbtrack.register_model(run.run_id, "churn")
    store.blobs.path(version.blob).unlink()
    report = nbtrack.fsck()
    assert ("model_versions", version.blob) in report.missing and not report.clean
