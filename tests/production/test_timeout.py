"""`--timeout` takes seconds as a number, and an expired timeout prints one clean line (real kernels)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from nbtrack.cli import main

pytestmark = pytest.mark.slow

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def test_run_timeout_of_half_a_second_fails_the_cell_cleanly(tmp_path):
    (tmp_path / "slow.ipynb").write_bytes((NOTEBOOKS / "prod_slow.ipynb").read_bytes())  # a 60 s loop in cell 1
    env = {**os.environ, "NBTRACK_HOME": str(tmp_path / ".nbtrack")}
    done = subprocess.run(
        [sys.executable, "-m", "nbtrack", "run", "slow.ipynb", "--timeout", "0.5"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    # the kernel's own stderr goes to the terminal too: no ZMQError traceback from it, no nbclient log line
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("Error: Notebook run ") and " failed in cell 1: CellTimeoutError: " in lines[0]
    assert "the cell ran longer than the timeout of 0.5 s: raise --timeout, or make it faster" in lines[0]

    from nbtrack.store import Store

    store = Store.open(tmp_path / ".nbtrack")
    ((status, error),) = store.query("SELECT status, error FROM runs")
    assert status == "failed" and json.loads(error)["type"] == "CellTimeoutError"
    assert (tmp_path / "started.txt").exists()  # cell 0 ran; cell 1 was cut short


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_timeout_must_be_a_positive_number(value, tmp_path, store):
    (tmp_path / "slow.ipynb").write_bytes((NOTEBOOKS / "prod_slow.ipynb").read_bytes())
    result = CliRunner().invoke(main, ["run", "slow.ipynb", "--timeout", value])
    assert result.exit_code == 2 and "Invalid value for '--timeout'" in result.output
    assert store.query("SELECT COUNT(*) FROM runs") == [(0,)]  # refused before anything ran


def test_api_refuses_a_timeout_that_is_not_positive(tmp_path, store):
    import nbtrack
    from nbtrack.errors import InvalidValueError

    with pytest.raises(InvalidValueError, match="timeout must be a positive number of seconds"):
        nbtrack.run_notebook(NOTEBOOKS / "prod_slow.ipynb", timeout=0)
    assert store.query("SELECT COUNT(*) FROM runs") == [(0,)]
