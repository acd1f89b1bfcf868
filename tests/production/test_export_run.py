"""`nbtrack export RUN`: what a run executed, as a standalone notebook or script, on real kernels."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import nbtrack

pytestmark = pytest.mark.slow

SESSION = [
    "import numpy as np\nimport pandas as pd\nimport nbtrack",
    "nbtrack.snapshot(pd.DataFrame({'x': np.arange(10.0)}), 'points')",
    "frame = nbtrack.load('points')",
    "def scale(values, factor):\n    return values * factor",
    "factor = 3",
    "print('not needed')",
    "%%track fit-cell\ntotal = float(scale(frame['x'], factor).sum())\ndisplay(total)",
]


@pytest.fixture
def cell_run(shell):
    shell.reset(new_session=True)
    for code in SESSION:
        shell.run_cell(code, store_history=True).raise_error()
    nbtrack.snapshot(nbtrack.load("points") * 2, "points")  # points@2 arrives after the run
    return nbtrack.runs(limit=1).run_id[0]


def test_a_cell_run_exports_as_its_session_slice_and_the_notebook_computes_the_same(cell_run, store, tmp_path):
    out = tmp_path / "standalone.ipynb"
    nb = nbtrack.export_run(cell_run, "notebook", out)
    sources = [cell.source for cell in nb.cells]
    assert sources[0].startswith("%load_ext nbtrack") and "nbtrack.pin_versions({'points': 1})" in sources[0]
    assert sources[1:] == [SESSION[0], SESSION[2], SESSION[3], SESSION[4], SESSION[6]]  # not the print
    result = nbtrack.run_notebook(out)
    assert result.ok and result.metrics["total"] == 135.0  # points@1, though points@2 is the latest


def test_a_cell_run_exports_as_a_standalone_script_with_a_job_run(cell_run, store, tmp_path, cli):
    output = cli("export", cell_run[-8:], "--to", "script", "-o", str(tmp_path / "fit.py"))
    assert "not exported: cell 0, line 1: %load_ext nbtrack" in output  # what it dropped is said
    env = {**os.environ, "NBTRACK_HOME": str(store.root)}
    done = subprocess.run(
        [sys.executable, str(tmp_path / "fit.py"), "--factor", "2"], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    assert "90.0" in done.stdout  # display() printed the value without IPython's display machinery
    job = nbtrack.runs(where="kind = 'script'")
    assert job["name"].tolist() == ["fit-cell"] and job["params.factor"].tolist() == [2]
    child = nbtrack.runs(where=f"parent_id = '{job.run_id[0]}'")
    assert child["metrics.total"].tolist() == [90.0]


def test_a_notebook_run_exports_its_input_notebook_with_the_params_it_ran_with(notebook, store, tmp_path):
    original = nbtrack.run_notebook(notebook("prod_params.ipynb"), {"lr": 0.25})
    nb = nbtrack.export_run(original.run_id, "notebook", tmp_path / "again.ipynb")
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "lr = 0.25" in injected[0].source
    assert nbtrack.run_notebook(tmp_path / "again.ipynb").metrics == original.metrics


def test_export_says_what_source_is_missing(store, cli):
    assert "'no-such-run' is neither a notebook file nor a run" in cli(
        "export", "no-such-run", "--to", "script", code=1
    )
    assert "no notebook file missing.ipynb" in cli("export", "missing.ipynb", "--to", "notebook", code=2)
