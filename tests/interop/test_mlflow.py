"""MLflow export/import against a real MLflow tracking store in a temporary folder, read back with MlflowClient."""

from __future__ import annotations

import math
import pickle

import pytest
from click.testing import CliRunner

import nbtrack
from nbtrack.cli import main
from nbtrack.interop.mlflow import export_mlflow, import_mlflow, param_from_text, param_to_text

mlflow = pytest.importorskip("mlflow", reason="mlflow is a test dependency: pip install -e '.[test]'")
from mlflow import MlflowClient  # noqa: E402

# MLflow's own SqlAlchemyStore uses a loader strategy SQLAlchemy 2.1 deprecates; not nbtrack's to fix.
pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated:DeprecationWarning")


@pytest.fixture(params=["file", "sqlite"])
def tracking_uri(request, tmp_path, monkeypatch):
    """A fresh MLflow tracking store: a file store (opt-in since MLflow 3) and a sqlite store (MLflow's
    SqlAlchemyStore: mlflow-skinny plus sqlalchemy and alembic, all in the test extra)."""
    if request.param == "sqlite":
        for module in ("sqlalchemy", "alembic"):
            pytest.importorskip(module, reason=f"MLflow's sqlite store needs {module}: pip install -e '.[test]'")
        monkeypatch.chdir(tmp_path)  # MLflow puts a sqlite store's artifacts in ./mlruns of the working directory
        return f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    return (tmp_path / "mlruns").as_uri()


@pytest.fixture
def recorded(store):
    """A parent run with params of every type, metric histories, tags, a figure, a model and code; a failed child."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.linear_model import LogisticRegression

    params = {"lr": 0.1, "n": 100, "model": "rf", "flag": True, "none": None, "layers": [64, 32], "opts": {"a": 1}}
    with nbtrack.start_run(
        "parent", experiment="wine", params=params, tags={"stage": "dev"}, code="x = 1\nprint(x)\n"
    ) as parent:
        for step, loss in enumerate([0.9, 0.5, 0.25]):
            parent.log_metric("loss", loss, step=step * 10)
        parent.log_metric("acc", float("nan"))
        parent.log_metric("acc", 0.93)
        figure = plt.figure()
        plt.plot([1, 2, 3])
        parent.log_figure(figure, "curve.png")
        plt.close(figure)
        parent.log_model(LogisticRegression(C=2.0), "model.pkl")
        parent.log_artifact(b"hello", "notes/readme.txt")
        with pytest.raises(ValueError), nbtrack.start_run("child", params={"fold": 1}) as child:
            child.log_metric("acc", 0.5)
            raise ValueError("boom")
    return store, parent.run_id, child.run_id


def _by_tag(client, key):
    runs = {}
    for experiment in client.search_experiments():
        for run in client.search_runs([experiment.experiment_id]):
            runs[run.data.tags[key]] = run
    return runs


def test_export_writes_everything_mlflow_users_read(recorded, tracking_uri, tmp_path):
    store, parent_id, child_id = recorded
    report = export_mlflow(tracking_uri, store=store)
    assert set(report.created) == {parent_id, child_id}
    client = MlflowClient(tracking_uri)
    runs = _by_tag(client, "nbtrack.run_id")
    parent, child = runs[parent_id], runs[child_id]
    assert client.get_experiment(parent.info.experiment_id).name == "wine"
    assert parent.info.run_name == "parent" and parent.info.status == "FINISHED"
    assert child.info.status == "FAILED"
    record = nbtrack.get_run(parent_id)
    assert parent.info.start_time == round(record.start.timestamp() * 1000)
    assert parent.info.end_time == round(record.end.timestamp() * 1000)
    assert parent.data.params == {
        "lr": "0.1",
        "n": "100",
        "model": "rf",
        "flag": "True",
        "none": "None",
        "layers": "[64, 32]",
        "opts": '{"a": 1}',
    }
    history = client.get_metric_history(parent.info.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(0, 0.9), (10, 0.5), (20, 0.25)]
    loss_times = record.metrics[record.metrics.key == "loss"]["time"].tolist()
    assert [m.timestamp for m in history] == [round(t * 1000) for t in loss_times]
    acc = client.get_metric_history(parent.info.run_id, "acc")
    assert math.isnan(acc[0].value) and acc[1].value == 0.93
    assert parent.data.tags["stage"] == "dev"
    assert parent.data.tags["nbtrack.code"] == "x = 1\nprint(x)\n"
    assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert "mlflow.parentRunId" not in parent.data.tags
    folder = tmp_path / "download"
    local = client.download_artifacts(parent.info.run_id, "", str(folder))
    from pathlib import Path

    local = Path(local)
    assert (local / "code.py").read_text() == "x = 1\nprint(x)\n"
    assert (local / "notes" / "readme.txt").read_bytes() == b"hello"
    assert (local / "curve.png").read_bytes() == nbtrack.load_artifact(parent_id, "curve.png")
    assert pickle.loads((local / "model.pkl").read_bytes()).C == 2.0


def test_export_twice_adds_no_duplicates_and_picks_up_new_runs(recorded, tracking_uri):
    store, parent_id, child_id = recorded
    export_mlflow(tracking_uri, store=store)
    again = export_mlflow(tracking_uri, store=store)
    assert again.created == {} and sorted(again.skipped) == sorted([parent_id, child_id])
    with nbtrack.start_run("later", experiment="wine") as later:
        later.log_metric("acc", 0.99)
    third = export_mlflow(tracking_uri, store=store)
    assert list(third.created) == [later.run_id]
    assert len(_by_tag(MlflowClient(tracking_uri), "nbtrack.run_id")) == 3
    total = sum(
        len(MlflowClient(tracking_uri).search_runs([e.experiment_id]))
        for e in MlflowClient(tracking_uri).search_experiments()
    )
    assert total == 3


def test_export_where_filters(recorded, tracking_uri):
    store, parent_id, _ = recorded
    report = export_mlflow(tracking_uri, where="status = 'ok'", store=store)
    assert list(report.created) == [parent_id]


def test_round_trip_export_then_import_into_another_store(recorded, tracking_uri, tmp_path):
    store, parent_id, child_id = recorded
    export_mlflow(tracking_uri, store=store)
    other = nbtrack.Store.open(tmp_path / "other" / ".nbtrack")
    report = import_mlflow(tracking_uri, store=other)
    assert len(report.created) == 2
    imported = {nbtrack.get_run(i, store=other).name: nbtrack.get_run(i, store=other) for i in report.created.values()}
    original = nbtrack.get_run(parent_id, store=store)
    copy = imported["parent"]
    assert copy.params == original.params  # types restored: float, int, str, bool, None, list, dict
    assert copy.experiment == "wine" and copy.status == "ok" and copy.kind == original.kind
    assert copy.code == original.code
    assert abs(copy.start.timestamp() - original.start.timestamp()) < 0.001
    assert abs(copy.duration_s - original.duration_s) < 0.002
    assert copy.tags["stage"] == "dev"
    assert copy.tags["mlflow.run_id"] in report.created
    assert copy.metric("loss").to_dict() == {0: 0.9, 10: 0.5, 20: 0.25}
    assert math.isnan(copy.metrics[copy.metrics.key == "acc"]["value"].iloc[0]) and copy.latest["acc"] == 0.93
    artifacts = {a["name"]: a for a in copy.artifacts}
    assert set(artifacts) == {"curve.png", "model.pkl", "notes/readme.txt"}
    assert artifacts["curve.png"]["kind"] == "figure" and artifacts["model.pkl"]["kind"] == "model"
    assert nbtrack.load_artifact(copy.run_id, "model.pkl", trusted=True, store=other).C == 2.0
    assert nbtrack.load_artifact(copy.run_id, "notes/readme.txt", store=other) == b"hello"
    child = imported["child"]
    assert child.status == "failed" and child.parent_id == copy.run_id and child.params == {"fold": 1}
    frame = nbtrack.runs(where="params.flag = 1 and metrics.acc > 0.9", store=other)
    assert frame["name"].tolist() == ["parent"]


def test_import_is_idempotent_and_skips_runs_exported_from_this_store(recorded, tracking_uri):
    store, _, _ = recorded
    export_mlflow(tracking_uri, store=store)
    report = import_mlflow(tracking_uri, store=store)
    assert report.created == {} and len(report.skipped) == 2
    assert store.query("SELECT COUNT(*) FROM runs")[0][0] == 2


def test_import_native_mlflow_runs(store, tracking_uri):
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment("native")
    with mlflow.start_run(run_name="trained") as run:
        mlflow.log_params(
            {"alpha": 0.5, "depth": 3, "kernel": "rbf", "scale": "1e-3", "grid": [1, 2], "names": ["a", "b"]}
        )
        for step in range(3):
            mlflow.log_metric("rmse", 1.0 / (step + 1), step=step)
        mlflow.set_tag("team", "ml")
        mlflow.log_text("some text", "notes.txt")
        with mlflow.start_run(run_name="nested", nested=True):
            mlflow.log_metric("x", 1.0)
    with mlflow.start_run(run_name="killed") as killed:
        pass
    MlflowClient(tracking_uri).set_terminated(killed.info.run_id, "KILLED")
    mlflow.set_tracking_uri(None)

    first = import_mlflow(tracking_uri, experiment="native", store=store)
    second = import_mlflow(tracking_uri, experiment="native", store=store)
    assert len(first.created) == 3 and second.created == {} and len(second.skipped) == 3
    assert store.query("SELECT COUNT(*) FROM runs")[0][0] == 3
    record = nbtrack.get_run(first.created[run.info.run_id], store=store)
    assert record.name == "trained" and record.status == "ok" and record.experiment == "native"
    assert record.params == {
        "alpha": 0.5,
        "depth": 3,
        "kernel": "rbf",
        "scale": 0.001,
        "grid": [1, 2],
        "names": ["a", "b"],
    }
    assert record.metric("rmse").round(6).to_dict() == {0: 1.0, 1: 0.5, 2: 0.333333}
    assert record.tags["team"] == "ml" and record.tags["mlflow.run_id"] == run.info.run_id
    assert nbtrack.load_artifact(record.run_id, "notes.txt", store=store) == b"some text"
    nested = [nbtrack.get_run(i, store=store) for i in first.created.values()]
    assert {r.name: r.parent_id for r in nested}["nested"] == record.run_id
    assert {r.name: r.status for r in nested}["killed"] == "interrupted"


def test_param_typing_rule():
    for value in [0.1, 3, -7, "rf", True, False, None, [1, "a"], {"k": [1.5]}, 1e-9, float("inf")]:
        assert param_from_text(param_to_text(value)) == value
    assert param_from_text("1_000") == "1_000"
    assert param_from_text("['a', 'b']") == ["a", "b"]
    assert param_from_text("[not json") == "[not json"
    assert math.isnan(param_from_text("nan"))


def test_cli_export_and_import(recorded, tracking_uri, tmp_path, monkeypatch):
    store, parent_id, _ = recorded
    runner = CliRunner()
    result = runner.invoke(main, ["export-mlflow", "--tracking-uri", tracking_uri, "--experiment", "wine"])
    assert result.exit_code == 0, result.output
    assert "exported 2 run(s), skipped 0" in result.output and parent_id in result.output
    result = runner.invoke(main, ["export-mlflow", "--tracking-uri", tracking_uri])
    assert "exported 0 run(s), skipped 2" in result.output
    monkeypatch.setenv("NBTRACK_HOME", str(tmp_path / "second" / ".nbtrack"))
    result = runner.invoke(main, ["import-mlflow", "--tracking-uri", tracking_uri, "--experiment", "wine"])
    assert result.exit_code == 0, result.output
    assert "imported 2 run(s)" in result.output
    result = runner.invoke(main, ["import-mlflow", "--tracking-uri", tracking_uri, "--experiment", "nope"])
    assert result.exit_code == 1 and "no experiment 'nope'" in result.output


def test_missing_mlflow_names_the_fix(store, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "mlflow", None)  # what `import mlflow` sees when it is not installed
    result = CliRunner().invoke(main, ["import-mlflow", "--tracking-uri", "sqlite:///x.db"])
    assert result.exit_code == 1 and "pip install mlflow" in result.output


def test_runs_transferred_while_running_are_refreshed_once_finished(store, tracking_uri, tmp_path):
    run = nbtrack.start_run("long", experiment="wine")
    run.log_metric("loss", 1.0)
    run.flush()
    first = export_mlflow(tracking_uri, store=store)
    client = MlflowClient(tracking_uri)
    assert client.get_run(first.created[run.run_id]).info.status == "RUNNING"
    other = nbtrack.Store.open(tmp_path / "other" / ".nbtrack")
    imported = import_mlflow(tracking_uri, store=other)
    assert nbtrack.get_run(imported.created[first.created[run.run_id]], store=other).status == "running"

    run.log_metric("loss", 0.5)
    run.finish("ok")
    second = export_mlflow(tracking_uri, store=store)
    assert list(second.created) == [run.run_id] and second.notes
    copies = _by_tag(client, "nbtrack.run_id")
    assert len(copies) == 1 and copies[run.run_id].info.status == "FINISHED"
    assert [m.value for m in client.get_metric_history(copies[run.run_id].info.run_id, "loss")] == [1.0, 0.5]

    again = import_mlflow(tracking_uri, store=other)
    assert len(again.created) == 1  # the new MLflow copy; the stale running one was deleted in MLflow
    frame = nbtrack.runs(store=other)
    assert frame["status"].tolist() == ["ok"]
    assert import_mlflow(tracking_uri, store=other).created == {}


def test_params_longer_than_mlflow_allows_go_to_an_artifact(store, tracking_uri, tmp_path):
    long_text = "x" * 7000
    with nbtrack.start_run("long-param", params={"prompt": long_text, "k": 1}) as run:
        pass
    report = export_mlflow(tracking_uri, store=store)
    assert "prompt" in report.notes[0]
    client = MlflowClient(tracking_uri)
    copy = client.get_run(report.created[run.run_id])
    assert copy.data.params == {"k": "1"}
    path = client.download_artifacts(copy.info.run_id, "nbtrack/long_params.json", str(tmp_path / "dl"))
    import json
    from pathlib import Path

    assert json.loads(Path(path).read_text()) == {"prompt": long_text}


def test_many_runs_show_a_progress_bar_on_stderr(store, tmp_path, monkeypatch):
    """export-mlflow and import-mlflow draw a tqdm bar (stderr, so stdout stays the report) from 20 runs on."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = (tmp_path / "mlruns").as_uri()
    for i in range(25):
        with nbtrack.start_run(f"r{i}", experiment="many") as run:
            run.log_metric("acc", i / 25)
    runner = CliRunner()
    exported = runner.invoke(main, ["export-mlflow", "--tracking-uri", uri])
    assert exported.exit_code == 0, exported.output
    assert "export to MLflow" in exported.stderr and "/25" in exported.stderr
    assert "export to MLflow" not in exported.stdout and "exported 25 run(s)" in exported.stdout
    monkeypatch.setenv("NBTRACK_HOME", str(tmp_path / "second" / ".nbtrack"))
    imported = runner.invoke(main, ["import-mlflow", "--tracking-uri", uri])
    assert imported.exit_code == 0, imported.output
    assert "import many" in imported.stderr and "/25" in imported.stderr
    assert "imported 25 run(s)" in imported.stdout
    few = runner.invoke(main, ["export-mlflow", "--tracking-uri", (tmp_path / "few").as_uri(), "-w", "name = 'r1'"])
    assert few.exit_code == 0 and few.stderr == ""  # a handful of runs: no bar


def test_the_note_is_mlflows_description_and_archived_runs_are_not_exported(store, tracking_uri, tmp_path):
    with nbtrack.start_run("kept", experiment="wine") as kept:
        kept.log_metric("acc", 0.9)
    with nbtrack.start_run("hidden", experiment="wine"):
        pass
    nbtrack.set_note("kept", "baseline for Q3")
    nbtrack.archive_runs("hidden")
    report = export_mlflow(tracking_uri, store=store)
    assert list(report.created) == [kept.run_id]
    client = MlflowClient(tracking_uri)
    mlflow_id = report.created[kept.run_id]
    assert client.get_run(mlflow_id).data.tags["mlflow.note.content"] == "baseline for Q3"
    client.set_tag(mlflow_id, "mlflow.note.content", "edited in MLflow's UI")
    other = nbtrack.Store.open(tmp_path / "other" / ".nbtrack")
    imported = nbtrack.get_run(import_mlflow(tracking_uri, store=other).created[mlflow_id], store=other)
    assert imported.note == "edited in MLflow's UI" and "mlflow.note.content" not in imported.tags
