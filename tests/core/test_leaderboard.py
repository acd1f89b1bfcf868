"""`nbtrack runs` as a leaderboard: fitted to the terminal, columns chosen like the workspace, integers as
integers, notebook runs and their cell runs as one row, a sweep's jobs, no library warnings."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import nbtrack
from nbtrack import _table
from nbtrack.leaderboard import choose_columns, leaderboard, render_text

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
META = ("_wall_s", "_cpu_s", "_peak_mem_mb")


@pytest.fixture
def board(store):
    """Three scripts with autologged model hyperparameters and meta metrics, and a notebook run with its
    one %%track cell run (the cell logged the metric and the notebook run rolled it up)."""
    for index, (lr, acc) in enumerate([(0.01, 0.71), (0.1, 0.9), (0.3, 0.8)]):
        params = {
            "lr": lr,
            "epochs": 3 + index,
            "model": "RandomForestClassifier",
            "model.max_leaf_nodes": None,
            "model.n_jobs": 2,
            "model.min_impurity_decrease": 0.0,
        }
        with nbtrack.start_run(f"script-{index}", params=params, tags={"team": "fraud"}) as run:
            run.log_metrics({"acc": acc, "loss": 1 - acc, **{m: 0.5 for m in META}})
    with nbtrack.start_run("train.ipynb", kind="notebook", params={"depth": 4}) as notebook:
        with nbtrack.start_run("fit", kind="cell", parent=notebook, params={"depth": 4, "features": 12}) as cell:
            cell.log_metrics({"acc": 0.95, "_wall_s": 0.2})
        notebook.log_metrics({"acc": 0.95})
    return {"notebook": notebook.run_id, "cell": cell.run_id}


def _header(table: str) -> str:
    return table.splitlines()[1]  # the line under the group labels (metrics, params)


def _rows(table: str) -> list[str]:
    """The table's run lines (they start with the run's short id), not its header or the note under it."""
    return [line for line in table.splitlines() if re.match(r"[0-9a-z]{8}  ", line)]


def test_the_table_fits_the_terminal_and_hides_meta_metrics_and_autolog_internals(cli, board, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    table = cli("runs")
    assert all(len(line) <= 80 for line in table.splitlines()), table
    header = _header(table).split()
    assert header[:5] == ["run", "name", "status", "start", "duration"] and "acc" in header
    for hidden in (*META, "max_leaf_nodes", "n_jobs", "min_impurity_decrease", "team", "kind"):
        assert hidden not in table
    assert "more columns (--all shows them, --columns picks)" in table

    monkeypatch.setenv("COLUMNS", "200")
    wide = cli("runs")
    assert {"acc", "loss", "epochs", "lr", "model"} <= set(_header(wide).split())
    assert all(len(line) <= 200 for line in wide.splitlines())
    assert not {"max_leaf_nodes", "n_jobs", *META} & set(_header(wide).split())


def test_without_a_terminal_the_width_is_120(cli, board, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)  # CliRunner's stdout is no tty
    assert max(len(line) for line in cli("runs").splitlines()) <= _table.DEFAULT_WIDTH
    assert max(len(line) for line in cli("runs", "--width", "60").splitlines()) <= 60


def test_integers_print_as_integers_and_floats_with_four_digits(cli, board, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    rows = {line.split()[1]: line for line in _rows(cli("runs"))}
    assert " 4 " in rows["script-1"] + " " and "4.0" not in rows["script-1"]  # epochs
    assert "0.9 " in rows["script-1"] + " " and "0.1 " in rows["script-1"] + " "  # acc, lr
    assert "3.0" not in cli("runs", "--columns", "epochs")
    assert [_table.number(v) for v in (3.0, 0.867564, 12345.6, 1e-05, 2**40)] == [
        "3",
        "0.8676",
        "12346",
        "1e-05",
        "1099511627776",
    ]


def test_order_by_metric_comes_first_and_keeps_the_order(cli, board, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    table = cli("runs", "--order-by", "-metrics.loss")
    assert _header(table).split()[5] == "loss"  # the sorted metric is the first metric shown
    names = [line.split()[1] for line in _rows(table)]
    assert names == ["script-0", "script-2", "script-1", "train.ipynb"]  # loss 0.29, 0.2, 0.1, none


def test_columns_picks_and_all_shows_everything(cli, board):
    picked = cli("runs", "--columns", "name,acc,params.lr,tags.team")
    assert _header(picked).split() == ["name", "acc", "lr", "team"]
    assert "metrics" in picked.splitlines()[0] and "params" in picked.splitlines()[0]
    everything = cli("runs", "--all")
    assert {"_wall_s", "model.max_leaf_nodes", "team", "kind", "parent"} <= set(_header(everything).split())
    assert "more columns" not in everything
    error = cli("runs", "--columns", "name,accuracy", code=1)
    assert "No column 'accuracy'" in error and "metrics.acc" in error
    assert json.loads(cli("runs", "--format", "json", "--columns", "name,acc")) == [  # flat, as every machine format
        {"name": n, "metrics.acc": a}
        for n, a in [("fit", 0.95), ("train.ipynb", 0.95), ("script-2", 0.8), ("script-1", 0.9), ("script-0", 0.71)]
    ]


def test_a_notebook_run_and_its_cell_run_are_one_row(cli, board, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    table = cli("runs")
    assert board["notebook"][-8:] in table and board["cell"][-8:] not in table
    notebook_row = next(line for line in table.splitlines() if "train.ipynb" in line)
    assert "12" in notebook_row.split()  # the cell's param `features` fills the notebook run's row
    assert "1 cell runs folded into their notebook runs (--flat lists them)" in table
    flat = cli("runs", "--flat")
    assert board["notebook"][-8:] in flat and board["cell"][-8:] in flat
    # machine formats list every run and every column, as before
    rows = json.loads(cli("runs", "--format", "json"))
    assert len(rows) == 5 and "metrics._wall_s" in rows[0]
    assert len(cli("runs", "--format", "csv").splitlines()) == 6


def test_cells_logging_the_same_metric_keep_their_rows(store):
    with nbtrack.start_run("compare-models.ipynb", kind="notebook") as notebook:
        for model, acc in [("rf", 0.8), ("svm", 0.85)]:
            with nbtrack.start_run(model, kind="cell", parent=notebook) as cell:
                cell.log_metric("acc", acc)
        notebook.log_metric("acc", 0.85)
    frame = leaderboard()
    assert sorted(frame["name"]) == ["compare-models.ipynb", "rf", "svm"] and frame.attrs["folded"] == 0


def test_limit_counts_rows_after_folding(store):
    for index in range(4):
        with nbtrack.start_run(f"job {index}", kind="notebook") as notebook:
            with nbtrack.start_run("cell", kind="cell", parent=notebook) as cell:
                cell.log_metric("acc", index / 10)
    frame = leaderboard(limit=3)
    assert list(frame["name"]) == ["job 3", "job 2", "job 1"] and frame.attrs["folded"] == 3


def test_no_library_warnings_on_stderr(store, tmp_path):
    """Many params that are None in every run used to make pandas warn once per column (fragmented frame)."""
    for index in range(3):
        params = {**{f"option_{i}": None for i in range(150)}, "n": index}
        with nbtrack.start_run(f"r{index}", params=params) as run:
            run.log_metric("acc", index / 3)
    env = {**os.environ, "PYTHONWARNINGS": "always", "COLUMNS": "100"}
    for args in (["runs"], ["runs", "--all"], ["runs", "--format", "csv"]):
        done = subprocess.run(
            [sys.executable, "-m", "nbtrack", *args], capture_output=True, text=True, env=env, cwd=tmp_path
        )
        assert done.returncode == 0 and done.stderr == "", done.stderr
        if args == ["runs"]:
            assert len(done.stdout.splitlines()) == 6 and all(len(line) <= 100 for line in done.stdout.splitlines())


def test_choose_columns_is_the_one_choice(board):
    frame = leaderboard()
    default = choose_columns(frame)
    assert default[:5] == ["run_id", "name", "status", "start", "duration_s"]
    assert default.index("metrics.acc") < default.index("metrics.loss") < default.index("params.lr")
    assert not [c for c in default if c.startswith("metrics._") or c.startswith("params.model.")]
    assert choose_columns(frame, "id,duration,acc") == ["run_id", "duration_s", "metrics.acc"]
    assert choose_columns(frame, all=True)[-3:] == [f"metrics.{m}" for m in sorted(META)]


@pytest.mark.slow
def test_a_sweep_leaderboard_lists_each_job_once(cli, store, tmp_path, monkeypatch):
    notebook = tmp_path / "prod_track.ipynb"
    notebook.write_bytes((NOTEBOOKS / "prod_track.ipynb").read_bytes())
    board = nbtrack.sweep(notebook, {"alpha": [0.5, 2.0, 1.0]}, jobs=2, metric="score", progress=False)
    sweep_id = board.attrs["run_id"]
    monkeypatch.setenv("COLUMNS", "100")
    table = cli("runs", "--sweep", sweep_id[-8:])
    assert [line.split()[1:3] for line in _rows(table)] == [
        ["prod_track", "[1]"],
        ["prod_track", "[2]"],
        ["prod_track", "[0]"],
    ]
    assert _header(table).split()[5] == "score" and "alpha" in _header(table)
    narrow = _header(cli("runs", "--sweep", sweep_id[-8:], "--width", "75")).split()
    assert narrow[5:] == ["score", "alpha"]  # the target metric and the swept param before other metrics
    assert f"3 runs of sweep {sweep_id[-8:]}" in table
    # the whole store: each job once (its two %%track cell runs folded into it), plus the sweep run
    everything = cli("runs")
    assert sum("prod_track [" in line for line in everything.splitlines()) == 3
    assert "6 cell runs folded" in everything
    assert "is a notebook run, not a sweep" in cli("runs", "--sweep", board["run_id"][0][-8:], code=1)


def test_a_terminal_table_shows_the_first_200_runs_unless_limit_says(cli, store):
    for index in range(203):
        with nbtrack.start_run(f"r{index}") as run:
            run.log_metric("acc", index / 1000)
    table = cli("runs")
    assert len(_rows(table)) == 200 and _rows(table)[0].split()[1] == "r202"
    assert "the first 200 runs; more match (--limit N shows more" in " ".join(table.split())
    assert len(_rows(cli("runs", "--limit", "203"))) == 203
    assert len(cli("runs", "--format", "csv").splitlines()) == 204  # machine formats list every run
    everything = leaderboard()  # terminal IPython renders a %track runs frame of any size the same way
    assert "the first 200 of 203 runs" in render_text(everything, width=100)
