"""The tutorials in notebooks/ run top to bottom under papermill, each on a fresh store (NBTRACK_HOME in tmp)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import nbtrack

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
TUTORIALS = sorted(p.name for p in NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))


def _execute(name: str, tmp_path: Path, monkeypatch) -> tuple[dict, nbtrack.Store]:
    import papermill

    root = tmp_path / "store" / ".nbtrack"
    monkeypatch.setenv("NBTRACK_HOME", str(root))  # the kernel inherits it
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(NOTEBOOKS / name, work / name)
    output = work / f"executed-{name}"
    papermill.execute_notebook(
        str(work / name), str(output), cwd=str(work), kernel_name="python3", progress_bar=False, execution_timeout=600
    )
    return json.loads(output.read_text()), nbtrack.Store.open(root, create=False)


def _text(executed: dict) -> str:
    chunks = []
    for cell in executed["cells"]:
        for out in cell.get("outputs", []):
            chunks.append("".join(out.get("text", "")))
            chunks.extend("".join(v) for k, v in out.get("data", {}).items() if k.startswith("text/"))
    return "\n".join(chunks)


def test_tutorials_are_committed_without_outputs():
    assert TUTORIALS == [
        "01-quickstart.ipynb",
        "02-data-versions.ipynb",
        "03-production.ipynb",
        "04-model-lifecycle.ipynb",
    ]
    for name in TUTORIALS:
        book = json.loads((NOTEBOOKS / name).read_text())
        for cell in book["cells"]:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None, f"{name} has outputs in git"


@pytest.mark.slow
def test_quickstart(tmp_path, monkeypatch):
    executed, store = _execute("01-quickstart.ipynb", tmp_path, monkeypatch)
    frame = nbtrack.runs(experiment="quickstart", store=store)
    assert sorted(frame["name"]) == ["logreg", "rf-large", "rf-small"]
    assert set(frame["status"]) == {"ok"}
    assert (frame["metrics.acc"] > 0.5).all()
    large = frame[frame["name"] == "rf-large"].iloc[0]
    assert large["params.n_estimators"] == 200 and large["params.max_depth"] == 8
    text = _text(executed)
    assert "rf-large" in text and "logreg" in text


@pytest.mark.slow
def test_data_versions(tmp_path, monkeypatch):
    executed, store = _execute("02-data-versions.ipynb", tmp_path, monkeypatch)
    assert nbtrack.versions("wine", store=store)["version"].tolist() == [1, 2]
    train = nbtrack.runs(experiment="data-tutorial", store=store).iloc[0]
    assert train["status"] == "ok"
    v1 = nbtrack.versions("wine", store=store)["fingerprint"].iloc[0]
    inputs = nbtrack.get_run(train["run_id"], store=store).inputs
    assert [(i["name"], i["fingerprint"]) for i in inputs] == [("wine", v1)]  # the run read version 1
    assert "alcohol" in _text(executed)


@pytest.mark.slow
def test_production(tmp_path, monkeypatch):
    executed, store = _execute("03-production.ipynb", tmp_path, monkeypatch)
    runs = nbtrack.runs(experiment="production", store=store)
    kinds = runs["kind"].value_counts().to_dict()
    assert kinds["sweep"] == 1 and kinds["notebook"] >= 5  # run + 4 sweep jobs (+ reproduce)
    assert (tmp_path / "work" / "train.py").exists() and (tmp_path / "work" / "train.papermill.ipynb").exists()
    assert "reproduced" in _text(executed).lower() or "match" in _text(executed).lower()


@pytest.mark.slow
def test_model_lifecycle(tmp_path, monkeypatch):
    executed, store = _execute("04-model-lifecycle.ipynb", tmp_path, monkeypatch)
    kinds = nbtrack.runs(where="tags.`nbtrack.model` = 'diagnosis'", store=store)["kind"].value_counts().to_dict()
    assert kinds == {"score": 2, "outcomes": 2, "monitor": 2, "notebook": 1, "compare": 1}  # notebook: retraining
    assert nbtrack.get_model("diagnosis@challenger", store=store).version == 2
    champion = nbtrack.get_model("diagnosis@champion", store=store)
    assert champion.version == 2  # the retrained model won on the new month's holdout
    assert [(d["dataset"], d["version"]) for d in champion.lineage["data"]][:1] == [("cases", 2)]
    monitors = nbtrack.runs(where="kind = 'monitor'", store=store)["run_id"].tolist()
    notebook_run = nbtrack.get_run(champion.lineage["run_id"], store=store).parent_id  # the %%track cell's parent
    assert nbtrack.get_run(notebook_run, store=store).parent_id == monitors[0]  # retrained by the latest monitor
    reasons = [m["reason"] for m in nbtrack.model_history("diagnosis", store=store)]
    assert reasons[0] == "first model in production" and reasons[-1].startswith("promoted by comparison run")
    text = _text(executed)
    assert "ALERT: mean_radius: PSI" in text and "retrained: diagnosis/2 (alias challenger)" in text
    assert "within sampling noise" in text  # the undrifted month: PSI noise of a 100-row batch, no alert
