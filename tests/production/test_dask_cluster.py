"""Sweeps on a real Dask cluster started from its CLI: a scheduler and two workers, each worker in a
folder of its own (as on other machines), driven through `nbtrack sweep --scheduler`."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

pytestmark = pytest.mark.slow

DASK = str(Path(sys.executable).parent / "dask")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [DASK, *args], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _scheduler(folder: Path) -> tuple[str, subprocess.Popen]:
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    return address, _start(["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"], folder)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """``(scheduler address, worker processes)``: two single-threaded workers in separate folders."""
    from distributed import Client

    root = tmp_path_factory.mktemp("cluster")
    address, scheduler = _scheduler(root)
    workers = []
    for name in ("machine-a", "machine-b"):
        folder = root / name
        folder.mkdir()
        args = ["worker", address, "--nthreads", "1", "--no-dashboard", "--local-directory", str(folder)]
        workers.append(_start(args + ["--host", "127.0.0.1"], folder))
    try:
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=90)
        yield address, workers
    finally:
        _stop([*workers, scheduler])


def _notebook(folder: Path, body: str, parameters: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    params = new_code_cell(parameters, metadata={"tags": ["parameters"]})
    nb = new_notebook(cells=[new_code_cell("%load_ext nbtrack"), params, new_code_cell(body)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / "train.ipynb"
    nbformat.write(nb, path)
    return path


def _job_scores(store) -> list[float]:
    rows = store.query(
        "SELECT value FROM latest_metrics JOIN runs USING (run_id) WHERE kind = 'notebook' AND key = 'score' "
        "ORDER BY value"
    )
    return [value for (value,) in rows]


def _sweep(store: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "NBTRACK_HOME": str(store)}
    command = [sys.executable, "-m", "nbtrack", "sweep", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)


def test_workers_in_other_folders_read_the_files_next_to_the_notebook(cluster, tmp_path, store):
    address, _ = cluster
    project = tmp_path / "project"
    path = _notebook(
        project,
        "%%track\ntotal = sum(int(x) for x in open('data.csv').read().split())\nscore = factor * total",
        "factor = 1",
    )
    (project / "data.csv").write_text("1 2 3\n")
    (project / ".nbtrack").mkdir()  # never shipped: a store next to the notebook stays here

    done = _sweep(store.root, str(path), "-p", "factor", "1,10", "--scheduler", address)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _job_scores(store) == [6.0, 60.0]  # each job read data.csv on its worker

    kept_home = _sweep(store.root, str(path), "-p", "factor", "1,2", "--scheduler", address, "--no-ship-folder")
    assert kept_home.returncode == 1  # without the folder, the workers have no data.csv
    assert "2 of 2 jobs" in kept_home.stderr + kept_home.stdout


def test_a_cluster_without_workers_is_an_error_within_the_timeout(tmp_path, store):
    address, scheduler = _scheduler(tmp_path)
    path = _notebook(tmp_path / "project", "%%track\nscore = factor", "factor = 1")
    try:
        started = time.monotonic()
        result = _sweep(store.root, str(path), "-p", "factor", "1,2", "--scheduler", address, "--worker-timeout", "3")
        elapsed = time.monotonic() - started
    finally:
        _stop([scheduler])
    assert result.returncode == 1 and elapsed < 60, result.stderr
    assert "has no worker after 3 s" in result.stderr and f"dask worker {address}" in result.stderr
    assert "Traceback" not in result.stderr

    unreachable = f"tcp://127.0.0.1:{_free_port()}"
    result = _sweep(store.root, str(path), "-p", "factor", "1", "--scheduler", unreachable, "--worker-timeout", "2")
    assert result.returncode == 1 and "Could not reach the Dask scheduler" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def _kernels_under(pids: list[int]) -> list[int]:
    """ipykernel processes descending from ``pids``."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = (int(stat.rsplit(")", 1)[1].split()[1]), (entry / "cmdline").read_bytes())
            except (OSError, ValueError):
                continue
    found = []
    for pid, (_, cmdline) in parents.items():
        ancestor = pid
        while ancestor in parents and ancestor not in pids:
            ancestor = parents[ancestor][0]
        if ancestor in pids and b"ipykernel" in cmdline:
            found.append(pid)
    return found


def test_ctrl_c_interrupts_running_jobs_and_keeps_finished_ones(cluster, tmp_path, store):
    address, workers = cluster
    body = "%%track\nimport time\ntime.sleep(pause)\nscore = pause + 1"
    path = _notebook(tmp_path / "project", body, "pause = 0")
    env = {**os.environ, "NBTRACK_HOME": str(store.root)}
    command = [sys.executable, "-m", "nbtrack", "sweep", str(path), "-p", "pause", "0,120,120", "--scheduler", address]
    sweep = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180
    while not store.query("SELECT 1 FROM runs WHERE kind = 'notebook' AND status = 'ok'"):
        assert sweep.poll() is None and time.monotonic() < deadline, "the quick job never came back"
        time.sleep(0.5)
    while not _kernels_under([w.pid for w in workers]):  # the long job's kernel is running on a worker
        assert time.monotonic() < deadline
        time.sleep(0.5)

    sweep.send_signal(signal.SIGINT)
    _, stderr = sweep.communicate(timeout=60)
    assert sweep.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr

    assert store.query("SELECT status FROM runs WHERE kind = 'sweep'") == [("interrupted",)]
    assert _job_scores(store) == [1.0]  # the finished job is kept, merged as it finished
    deadline = time.monotonic() + 30
    while _kernels_under([w.pid for w in workers]):  # the running job's kernel was interrupted, not left
        assert time.monotonic() < deadline, "a worker kept running the cancelled job's notebook"
        time.sleep(0.5)
