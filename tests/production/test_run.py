"""`nbtrack run` / run_notebook on real kernels: success, failure, overrides."""

from __future__ import annotations

import json

import nbformat
import pytest
from click.testing import CliRunner

import nbtrack
from nbtrack.cli import main

pytestmark = pytest.mark.slow


def test_run_records_parent_and_children_with_the_values_used(notebook, store, tmp_path):
    out = tmp_path / "out.ipynb"
    result = CliRunner().invoke(
        main, ["run", str(notebook("prod_track.ipynb")), "-p", "alpha", "0.5", "-e", "prod", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    meta = nbformat.read(out, as_version=4).metadata
    run_id = meta.nbtrack["run_id"]
    assert meta.nbtrack["store"] == str(store.root) and meta.papermill["parameters"]["alpha"] == 0.5
    record = nbtrack.get_run(run_id)
    assert record.params == {"alpha": 0.5, "depth": 3}
    frame = nbtrack.runs(experiment="prod")
    assert set(frame["kind"]) == {"notebook", "cell"}
    children = frame[frame["kind"] == "cell"].set_index("name")
    assert children.loc["train", "params.alpha"] == 0.5  # the override reached the %%track cell
    assert children.loc["train", "metrics.score"] == 1.5
    assert set(store.query("SELECT parent_id FROM runs WHERE kind = 'cell'")) == {(run_id,)}
    assert record.latest["score"] == 1.5  # rolled up from the children
    artifacts = {a["name"]: a for a in record.artifacts}
    assert artifacts["output.ipynb"]["kind"] == "notebook"
    assert artifacts["output.ipynb"]["media_type"] == "application/x-ipynb+json"
    stored = json.loads(nbtrack.load_artifact(run_id, "output.ipynb"))
    assert stored["metadata"]["nbtrack"]["run_id"] == run_id
    assert "input.ipynb" in artifacts


def test_failing_notebook_keeps_partial_output_and_exits_non_zero(notebook, store, tmp_path):
    out = tmp_path / "broken.out.ipynb"
    result = CliRunner().invoke(main, ["run", str(notebook("prod_broken.ipynb")), "-o", str(out)])
    assert result.exit_code == 1
    assert "failed in cell 1: ValueError: broken on purpose" in result.output
    executed = nbformat.read(out, as_version=4)
    outputs = [o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert any("before the error" in o.get("text", "") for o in outputs)
    assert not any("never reached" in o.get("text", "") for o in outputs)
    run = nbtrack.runs().iloc[0]
    assert run["status"] == "failed"
    record = nbtrack.get_run(run["run_id"])
    assert record.error["cell_index"] == 1 and record.error["type"] == "ValueError"
    assert "output.ipynb" in {a["name"] for a in record.artifacts}


def test_unknown_parameter_is_an_error_listing_the_known_ones(notebook, store):
    result = CliRunner().invoke(main, ["run", str(notebook("prod_track.ipynb")), "-p", "alhpa", "1"])
    assert result.exit_code == 1
    assert "Unknown param 'alhpa'" in result.output and "alpha (float, default 1.0)" in result.output
    assert store.query("SELECT COUNT(*) FROM runs") == [(0,)]  # nothing ran


def test_existing_parameters_cell_is_overridden_through_papermill(notebook, store):
    result = nbtrack.run_notebook(notebook("prod_params.ipynb"), {"lr": "0.25", "epochs": "4"})
    assert result.params == {"lr": 0.25, "epochs": 4}
    assert result.metrics["loss"] == 1.0


def test_an_unknown_kernel_fails_the_run_with_the_kernel_error(notebook, store):
    from nbtrack.production.execute import NotebookFailedError

    with pytest.raises(NotebookFailedError, match="NoSuchKernel"):
        nbtrack.run_notebook(notebook("prod_track.ipynb"), kernel_name="no-such-kernel", store=store)
    run = nbtrack.runs(limit=1).iloc[0]
    assert run["status"] == "failed"
