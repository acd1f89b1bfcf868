"""`nbtrack reproduce`: the three verdicts, on real kernels."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import nbtrack
from nbtrack.cli import main
from nbtrack.production._sources import free_names
from nbtrack.production.reproduce import REPRODUCES_TAG

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

    # the cell calls a function an earlier cell defined: its session slice holds that cell
    helper = nbtrack.reproduce(cells["helper"])
    assert helper.verdict == "reproduced" and helper.compared == ["doubled"], str(helper)

    cannot = nbtrack.reproduce(cells["outside"])
    assert cannot.verdict == "cannot" and cannot.run_id is None
    assert "variable 'secret' is read by the cell, but no cell of the session binds it" in cannot.missing[0]
    assert "reproduce the notebook run" in cannot.missing[0]


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


def _session(shell, cells: list[str]) -> str:
    shell.reset(new_session=True)
    for code in cells:
        shell.run_cell(code, store_history=True).raise_error()
    return nbtrack.runs(limit=1).run_id[0]


def test_a_cell_that_uses_earlier_cells_is_reproduced_from_its_session_slice(shell, store):
    run_id = _session(
        shell,
        [
            "import numpy as np\nfrom sklearn.preprocessing import StandardScaler\n"
            "from sklearn.linear_model import LogisticRegression",
            "rng = np.random.default_rng(3)\nX = rng.normal(size=(80, 4))\ny = (X[:, 0] + X[:, 1] > 0).astype(int)",
            "def split(a, n):\n    return a[:n], a[n:]",
            "X_train, X_test = split(X, 60)\ny_train, y_test = split(y, 60)",
            "scaler = StandardScaler().fit(X_train)",
            "%%track train\nmodel = LogisticRegression(C=0.3).fit(scaler.transform(X_train), y_train)\n"
            "accuracy = model.score(scaler.transform(X_test), y_test)",
        ],
    )
    original = nbtrack.get_run(run_id)
    assert "model.C" in original.params  # autolog's params are recorded, and must not break the reproduction
    result = CliRunner().invoke(main, ["reproduce", "train"])  # by name, while the name is unique
    assert result.exit_code == 0 and f"reproduced {run_id}" in result.output, result.output
    verdict = nbtrack.reproduce(run_id[-8:])
    assert verdict.verdict == "reproduced", str(verdict)
    assert verdict.compared == ["accuracy"]


def test_the_data_versions_the_session_loaded_are_pinned_and_not_stored_again(shell, store):
    import pandas as pd

    nbtrack.snapshot(pd.DataFrame({"a": [1, 2, 3]}), "tiny")
    run_id = _session(
        shell,
        [
            "import nbtrack",
            "frame = nbtrack.load('tiny')",
            "%%track total\ntotal = int(frame['a'].sum())\nnbtrack.snapshot(frame, 'tiny-copy')",
        ],
    )
    nbtrack.snapshot(pd.DataFrame({"a": [10, 20, 30]}), "tiny")  # tiny@2 arrives after the run
    verdict = nbtrack.reproduce(run_id)
    assert verdict.verdict == "reproduced", str(verdict)  # it read tiny@1 again, not the latest
    assert len(nbtrack.versions("tiny-copy")) == 1  # the unchanged snapshot is the existing version


def test_the_verdict_names_the_input_data_that_changed(shell, store, tmp_path):
    (tmp_path / "points.csv").write_text("x\n1\n2\n3\n")
    run_id = _session(
        shell,
        [
            "import pandas as pd",
            "points = pd.read_csv('points.csv')",
            "%%track mean\nmean = float(points['x'].mean())",
        ],
    )
    (tmp_path / "points.csv").write_text("x\n1\n2\n9\n")  # the file changed since
    verdict = nbtrack.reproduce(run_id)
    assert verdict.verdict == "differs"
    data = [d for d in verdict.differences if "data" in d]
    assert [d["data"] for d in data] == ["points"], verdict.differences
    assert "not stored" in data[0]["original"] and "3 rows" in data[0]["reproduced"]
    assert "input data points:" in str(verdict) and "mean: 2.0 -> 4.0" in str(verdict)


def test_a_cell_run_without_a_slice_skips_autologged_params(store):
    from nbtrack.production._sources import rebuilt_notebook

    with nbtrack.start_run("old", kind="cell", params={"C": 0.5, "model.C": 0.5}) as run:
        pass
    record = nbtrack.get_run(run.run_id)
    record.code = "from sklearn.linear_model import LogisticRegression\nmodel = LogisticRegression(C=C)"
    nb = rebuilt_notebook(store, record)
    assert not isinstance(nb, list)
    assert nb.cells[1].source == "C = 0.5"  # not `model.C = 0.5`, which would raise


def test_environment_differences_name_the_packages():
    from nbtrack.production.reproduce import _environment_differences

    before = {"python": "3.11.7", "packages": {"numpy": "1.26.4", "pandas": "2.2.0", "gone": "1"}}
    after = {"python": "3.11.7", "packages": {"numpy": "2.0.1", "pandas": "2.2.0", "new": "3"}}
    assert _environment_differences(before, after) == [
        {"package": "gone", "original": "1", "reproduced": None},
        {"package": "new", "original": None, "reproduced": "3"},
        {"package": "numpy", "original": "1.26.4", "reproduced": "2.0.1"},
    ]
