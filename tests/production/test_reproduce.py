"""`nbtrack reproduce`: the three verdicts, on real kernels."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import nbtrack
from nbtrack.cli import main
from nbtrack.production.reproduce import REPRODUCES_TAG, free_names

pytestmark = pytest.mark.slow


@pytest.fixture
def recorded(notebook, store):
    result = nbtrack.run_notebook(notebook("prod_reproduce.ipynb"), store=store)
    return result, dict(store.query("SELECT name, run_id FROM runs WHERE kind = 'cell'"))


def test_three_verdicts(recorded, store):
    _, cells = recorded
    same = nbtrack.reproduce(cells["steady"])
    assert same.verdict == "reproduced" and same.compared == ["result"]
    run = nbtrack.get_run(same.run_id)
    assert run.kind == "reproduce" and run.tags[REPRODUCES_TAG] == cells["steady"]

    differs = nbtrack.reproduce(cells["noisy"])
    assert differs.verdict == "differs"
    assert [d["metric"] for d in differs.differences] == ["noise"] and differs.differences[0]["abs_diff"] > 0

    cannot = nbtrack.reproduce(cells["helper"])
    assert cannot.verdict == "cannot" and cannot.run_id is None
    assert "variable 'double' is defined outside the cell" in cannot.missing[0]


def test_reproduce_a_notebook_run_from_its_stored_input(notebook, store):
    original = nbtrack.run_notebook(notebook("prod_params.ipynb"), {"lr": 0.25})
    result = CliRunner().invoke(main, ["reproduce", original.run_id[-8:]])
    assert result.exit_code == 0, result.output
    assert "reproduced" in result.output and "loss" in result.output
    assert nbtrack.runs(where="kind = 'reproduce'")["params.lr"].tolist() == [0.25]


def test_a_run_without_input_notebook_cannot_be_reproduced(store):
    with nbtrack.start_run("script") as run:
        run.log_metric("x", 1)
    result = CliRunner().invoke(main, ["reproduce", run.run_id])
    assert result.exit_code == 1 and "no stored input notebook" in result.output


def test_free_names():
    assert free_names("import math\ny = math.sqrt(x) + len(z)\ndef f(a):\n    return a + w") in (
        ["x", "z", "w"],
        ["z", "x", "w"],
    )


def test_a_cell_reading_a_snapshotted_frame_is_reproduced_from_its_data_version(notebook, store):
    nbtrack.run_notebook(notebook("prod_data.ipynb"))
    cell_id = store.query("SELECT run_id FROM runs WHERE name = 'total'")[0][0]
    verdict = nbtrack.reproduce(cell_id)
    assert verdict.verdict == "reproduced" and verdict.compared == ["total"]
    # the reproduction loaded `frame` from tiny@1: its %%track child recorded the same input data
    child = store.query("SELECT run_id FROM runs WHERE parent_id = ? AND kind = 'cell'", (verdict.run_id,))[0][0]
    fingerprints = store.query("SELECT run_id, fingerprint FROM run_data WHERE name = 'frame'")
    assert {f for r, f in fingerprints if r == child} == {f for r, f in fingerprints if r == cell_id}


def test_rerun_with_new_params(notebook, store):
    from nbtrack.production.reproduce import rerun

    original = nbtrack.run_notebook(notebook("prod_params.ipynb"), {"lr": 0.25})
    again = rerun(original.run_id[-8:], {"epochs": "8"})
    assert again.ok and again.params == {"lr": 0.25, "epochs": 8} and again.metrics["loss"] == 0.5
    assert nbtrack.get_run(again.run_id).tags["nbtrack.rerun_of"] == original.run_id
