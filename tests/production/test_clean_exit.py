"""`sys.exit(0)` in a tracked cell ends it early on purpose: the cell's run is ok with what it recorded,
as papermill counts the notebook run."""

from __future__ import annotations

from pathlib import Path

import nbtrack

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def test_sys_exit_zero_in_a_tracked_cell_is_an_ok_run(store, tmp_path):
    result = nbtrack.run_notebook(NOTEBOOKS / "prod_sys_exit.ipynb", cwd=tmp_path, check=False)
    assert result.status == "ok"
    cells = nbtrack.runs(where="kind = 'cell'", store=store)
    (early,) = [run for _, run in cells.iterrows() if run["name"] == "early"]
    assert early["status"] == "ok" and early["params.value"] == 2.5  # a literal: a param
    assert nbtrack.get_run(early["run_id"], store=store).error is None
