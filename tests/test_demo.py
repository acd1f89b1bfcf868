"""The README's demo: real differences between runs, one leaderboard line per model, nothing left behind."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import nbtrack
from nbtrack.store import Store


@pytest.mark.slow
def test_the_demo_shows_differences_leaves_nothing_behind_and_says_where_to_look(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "NBTRACK_HOME"}
    result = subprocess.run(
        [sys.executable, "-m", "nbtrack", "demo"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [".nbtrack"]  # nothing else in the working directory
    assert "TCP" not in result.stderr and "Traceback" not in result.stderr, result.stderr
    leaderboard = result.stdout.split("one line per model")[1].split("Look further")[0]
    rows = [line.split() for line in leaderboard.strip().splitlines()[2:]]  # after the title and the header
    assert len(rows) == 11  # 6 scripts + the notebook + 4 swept notebooks; no duplicate cell rows
    assert len({row[-1] for row in rows}) >= 6  # F1 scores differ: not a wall of ties
    assert "nbtrack show" in result.stdout and "jupyter lab" in result.stdout
    store = Store.open(tmp_path / ".nbtrack", create=False)
    notebook_runs = nbtrack.runs(experiment="demo-wine", where="kind = 'notebook'", store=store)
    first = nbtrack.get_run(notebook_runs["run_id"].iloc[-1], store=store)
    assert {"input.ipynb", "output.ipynb"} <= {artifact["name"] for artifact in first.artifacts}
