"""Sweeps on real kernels: a failing job and a dying kernel are isolated; the Dask path merges back."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import nbtrack
from nbtrack.cli import main

pytestmark = pytest.mark.slow


def test_sweep_isolates_a_failing_job_and_a_killed_kernel(notebook, store):
    board = nbtrack.sweep(
        notebook("prod_plain.ipynb"), {"fail": [False, True], "crash": "false,true"}, jobs=2, progress=False
    )
    outcomes = {(r["params.fail"], r["params.crash"]): r for _, r in board.iterrows()}
    assert set(outcomes) == {(False, False), (True, False), (False, True), (True, True)}
    assert outcomes[(False, False)]["status"] == "ok" and outcomes[(False, False)]["metrics.score"] == 3.0
    assert "RuntimeError: deliberate failure" in outcomes[(True, False)]["error"]
    for killed in [(False, True), (True, True)]:  # os._exit in the kernel: the kernel dies mid-sweep
        assert outcomes[killed]["status"] == "failed" and "DeadKernelError" in outcomes[killed]["error"]
    assert board["status"].iloc[0] == "ok"  # the leaderboard puts successful jobs first
    sweep_run = nbtrack.runs(where="kind = 'sweep'").iloc[0]
    assert sweep_run["status"] == "ok" and sweep_run["tags.sweep.failed"] == "3"
    assert nbtrack.get_run(sweep_run["run_id"]).params == {"fail": [False, True], "crash": [False, True]}
    children = store.query("SELECT status, error FROM runs WHERE parent_id = ?", (sweep_run["run_id"],))
    assert sorted(s for s, _ in children) == ["failed", "failed", "failed", "ok"]
    dead = [json.loads(e) for s, e in children if e and "DeadKernelError" in e]
    assert [d["cell_index"] for d in dead] == [5, 5]  # the cell that was running when the kernel died


def test_random_combinations_are_seeded_and_typed():
    from nbtrack.production.params import Parameter
    from nbtrack.production.sweep import combinations

    known = [Parameter("lr", 0.1, "x"), Parameter("depth", 3, "x")]
    grid = {"lr": "0.01,0.1,1", "depth": [3, "5"]}
    assert len(combinations(known, grid)) == 6
    first = combinations(known, grid, random=3, seed=7)
    assert first == combinations(known, grid, random=3, seed=7) and len(first) == 3
    assert all(type(p["lr"]) is float and type(p["depth"]) is int for p in first)


def test_sweep_cli_grid_summary_and_leaderboard(notebook, store):
    result = CliRunner().invoke(
        main, ["sweep", str(notebook("prod_track.ipynb")), "-p", "alpha", "0.5,2", "--jobs", "2", "--metric", "score"]
    )
    assert result.exit_code == 0, result.output
    assert "2 jobs: 2 ok, 0 failed" in result.output
    lines = [line for line in result.output.splitlines() if " ok " in line]
    assert "2.0" in lines[0] and "6.0" in lines[0]  # best score (alpha 2 -> 6.0) first
    grandchildren = store.query("SELECT COUNT(*) FROM runs WHERE kind = 'cell'")
    assert grandchildren == [(4,)]  # two %%track cells per job, children of the job's run


def test_sweep_unknown_parameter(notebook, store):
    result = CliRunner().invoke(main, ["sweep", str(notebook("prod_track.ipynb")), "-p", "beta", "1,2"])
    assert result.exit_code == 1 and "Unknown param 'beta'" in result.output


def test_sweep_on_a_dask_local_cluster_merges_runs_back(notebook, store, real_main_module):
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        board = nbtrack.sweep(notebook("prod_track.ipynb"), {"alpha": [0.5, 2.0]}, executor=client, progress=False)
    assert list(board["status"]) == ["ok", "ok"]
    assert sorted(board["metrics.score"]) == [1.5, 6.0]
    sweep_id = store.query("SELECT run_id FROM runs WHERE kind = 'sweep'")[0][0]
    jobs = store.query("SELECT run_id FROM runs WHERE parent_id = ? AND kind = 'notebook'", (sweep_id,))
    assert len(jobs) == 2
    cells = store.query(
        "SELECT COUNT(*) FROM runs WHERE kind = 'cell' AND parent_id IN (?, ?)", (jobs[0][0], jobs[1][0])
    )
    assert cells == [(4,)]
    for (job_id,) in jobs:  # the output notebook's blob came back with the run
        assert nbtrack.load_artifact(job_id, "output.ipynb").startswith(b"{")


def _kernel_processes() -> list[int]:
    """Pids of ipykernel processes that are children of this test process."""
    import os
    from pathlib import Path

    found = []
    for entry in Path("/proc").iterdir():
        try:
            if (
                entry.name.isdigit()
                and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == os.getpid()
                and b"ipykernel" in (entry / "cmdline").read_bytes()
            ):
                found.append(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue
    return found


def test_many_kernels_at_once_each_job_in_its_own_fresh_kernel(tmp_path, store):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(
        cells=[
            new_code_cell("x = 0"),
            new_code_cell(
                "import os\nassert 'seen' not in globals(), 'kernel reused'\nseen = os.getpid()\n"
                "print(os.getpid(), os.environ['NBTRACK_PARENT_RUN'], os.getcwd())"
            ),
        ],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    )
    path = tmp_path / "pids.ipynb"
    nbformat.write(nb, str(path))
    board = nbtrack.sweep(path, {"x": list(range(8))}, jobs=4, progress=False)
    assert list(board["status"]) == ["ok"] * 8, board["error"].tolist()
    printed = [
        nbformat.reads(nbtrack.load_artifact(run_id, "output.ipynb").decode(), 4).cells[-1].outputs[0].text.split()
        for run_id in board["run_id"]
    ]
    assert len({pid for pid, _, _ in printed}) == 8  # eight kernel processes, one per job
    assert sorted(parent for _, parent, _ in printed) == sorted(board["run_id"])  # each its own run's id
    assert {cwd for _, _, cwd in printed} == {str(tmp_path)}  # in the notebook's folder
    assert _kernel_processes() == []  # every kernel (used or spare) is stopped when the sweep returns


def test_a_kernel_that_cannot_start_fails_its_jobs_with_a_clear_error(tmp_path, store, monkeypatch, notebook):
    import sys

    spec = tmp_path / "jupyter" / "kernels" / "broken"
    spec.mkdir(parents=True)
    spec.joinpath("kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-c", "import sys; sys.exit(3)", "{connection_file}"],
                "display_name": "broken",
                "language": "python",
            }
        )
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    board = nbtrack.sweep(
        notebook("prod_track.ipynb"), {"alpha": [0.5, 2.0, 3.0]}, jobs=2, kernel_name="broken", progress=False
    )
    assert list(board["status"]) == ["failed"] * 3
    assert all("KernelStartError: The kernel 'broken' died while starting" in e for e in board["error"])
    assert _kernel_processes() == []


def _sleeper(tmp_path):
    """A notebook whose one param is how long its second cell sleeps."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("seconds = 0.0"),
        nbformat.v4.new_code_cell("import time\ntime.sleep(seconds)"),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "sleeper.ipynb"
    nbformat.write(nb, path)
    return path


def test_sweep_cli_exits_1_when_any_job_failed_says_how_many_and_prints_its_run_id(tmp_path, store):
    result = CliRunner().invoke(main, ["sweep", str(_sleeper(tmp_path)), "-p", "seconds", "0,30", "--timeout", "2.5"])
    assert result.exit_code == 1, result.output  # one job timed out: a scheduler must see it
    (sweep_id,) = [r for (r,) in store.query("SELECT run_id FROM runs WHERE kind = 'sweep'")]
    assert f"Sweep run {sweep_id} (`nbtrack show {sweep_id[-8:]}`)" in result.output
    assert f"Error: 1 of 2 jobs of sweep {sweep_id[-8:]} failed" in result.output
    assert "2 jobs: 1 ok, 1 failed" in result.output
    errors = [
        json.loads(e)
        for (e,) in store.query("SELECT error FROM runs WHERE parent_id = ? AND error IS NOT NULL", (sweep_id,))
    ]
    assert [(e["type"], e["message"]) for e in errors] == [
        ("CellTimeoutError", "the cell ran longer than the timeout of 2.5 s: raise --timeout, or make it faster")
    ]
    assert "Traceback" not in result.output and "TraitError" not in result.output


def test_a_sweep_never_changes_the_working_directory_of_its_process(tmp_path, store, monkeypatch):
    """papermill's own local file handler calls os.chdir around every read and write; a sweep's jobs run
    in threads, so their changes interleaved and left the process in another folder (seen in CI: a later
    test found itself in this test's folder). nbtrack's handler changes no directory."""
    import os

    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(cells=[new_code_cell("x = 0"), new_code_cell("y = x * 2")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    folder = tmp_path / "project"
    folder.mkdir()
    nbformat.write(nb, str(folder / "nb.ipynb"))
    changes: list[str] = []
    real_chdir = os.chdir
    monkeypatch.setattr(os, "chdir", lambda path: (changes.append(str(path)), real_chdir(path)))
    before = os.getcwd()
    board = nbtrack.sweep(folder / "nb.ipynb", {"x": [1, 2, 3, 4]}, jobs=2, progress=False)
    assert list(board["status"]) == ["ok"] * 4
    assert changes == [] and os.getcwd() == before
