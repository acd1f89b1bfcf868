"""POST /runs/{id}/rerun and GET /jobs/{id}: a notebook run executed again on a real kernel."""

from __future__ import annotations

import asyncio
import json
import time

import nbformat
import pytest

import nbtrack


def _notebook(path, body: str) -> str:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("alpha = 1")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.write_text(nbformat.writes(nb))
    return str(path)


@pytest.fixture
def notebook_run(nb_store, tmp_path):
    """A notebook run recorded by nbtrack.run_notebook; its second cell fails when alpha > 3."""
    path = _notebook(tmp_path / "train.ipynb", "assert alpha <= 3, 'alpha too large'\nbeta = alpha * 2")
    return nbtrack.run_notebook(path, store=nb_store, experiment="nb").run_id


async def _wait(api, job_id: str, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = await api("jobs", job_id)
        assert job["status"] in ("queued", "running", "ok", "failed")
        assert 0.0 <= job["progress"] <= 1.0
        if job["status"] in ("ok", "failed") or time.monotonic() > deadline:
            return job
        await asyncio.sleep(0.2)


@pytest.mark.slow
async def test_rerun_with_new_params_records_a_new_run(api, notebook_run):
    response = await api(
        "runs", notebook_run, "rerun", method="POST", raw=True, body=json.dumps({"params": {"alpha": 2}})
    )
    assert response.code == 202
    job = await _wait(api, json.loads(response.body)["job_id"])
    assert job["status"] == "ok", job
    assert job["progress"] == 1.0 and job["error"] is None
    new = await api("runs", job["run_id"])
    assert new["run_id"] != notebook_run
    assert new["kind"] == "notebook" and new["status"] == "ok" and new["experiment"] == "nb"
    assert new["params"]["alpha"] == 2
    assert new["tags"]["rerun_of"] == notebook_run


@pytest.mark.slow
async def test_failing_rerun_reports_failed_with_its_run(api, notebook_run):
    body = await api("runs", notebook_run, "rerun", method="POST", body=json.dumps({"params": {"alpha": 10}}))
    job = await _wait(api, body["job_id"])
    assert job["status"] == "failed"
    assert "alpha too large" in job["error"]
    failed = await api("runs", job["run_id"])
    assert failed["status"] == "failed" and failed["params"]["alpha"] == 10


async def test_rerun_input_errors(api_error, runs):
    body = await api_error(400, "runs", runs["rf"], "rerun", method="POST", body=json.dumps({"params": {}}))
    assert "only notebook runs" in body["message"]
    body = await api_error(404, "runs", "01hzzzzzzzzzzzzzzzzzzzzzzz", "rerun", method="POST", body="{}")
    assert body["code"] == "run_not_found"
    body = await api_error(400, "runs", runs["rf"], "rerun", method="POST", body="{not json")
    assert "not valid JSON" in body["message"]
    body = await api_error(400, "runs", runs["rf"], "rerun", method="POST", body=json.dumps({"params": [1]}))
    assert "params must be a JSON object" in body["message"]


async def test_rerun_is_post_only_and_unknown_jobs_are_404(api_error, runs):
    await api_error(405, "runs", runs["rf"], "rerun")
    body = await api_error(404, "jobs", "0" * 32)
    assert body["code"] == "job_not_found" and "POST /runs/{run_id}/rerun" in body["message"]
