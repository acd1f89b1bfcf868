"""Data routes: datasets, versions, diff, lineage, and dataset chunks served by hash."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import nbtrack
from nbtrack.data import snapshot


@pytest.fixture
def customers(nb_store):
    """Two versions of 'customers' and one of 'raw/orders' (a name with a slash)."""
    df = pd.DataFrame({"id": [1, 2, 3], "spend": [10.0, 20.5, 7.25]})
    with nbtrack.start_run("clean", experiment="data", store=nb_store) as run:
        first = snapshot(df, "customers", key="id", message="first", store=nb_store)
        run_id = run.run_id
    changed = df.assign(spend=[10.0, 99.0, 7.25])
    second = snapshot(
        pd.concat([changed, pd.DataFrame({"id": [4], "spend": [1.0]})]), "customers", key="id", store=nb_store
    )
    snapshot(pd.DataFrame({"order": [1]}), "raw/orders", store=nb_store)
    return {"first": first, "second": second, "run_id": run_id}


async def test_datasets_lists_names_and_version_counts(api, customers):
    body = await api("datasets")
    by_name = {d["name"]: d for d in body["datasets"]}
    assert set(by_name) == {"customers", "raw/orders"}
    assert by_name["customers"]["versions"] == 2 and by_name["customers"]["latest"] == 2


async def test_versions_of_a_dataset_oldest_first(api, customers):
    body = await api("datasets", "customers", "versions")
    assert [v["version"] for v in body["versions"]] == [1, 2]
    assert body["versions"][0]["message"] == "first"
    assert body["versions"][0]["rows"] == 3 and body["versions"][1]["rows"] == 4
    assert body["versions"][0]["run_id"] == customers["run_id"]


async def test_dataset_name_with_a_slash_is_url_encoded(http_server_client, jp_base_url, jp_auth_header, customers):
    # jp_fetch would escape the %; send the path exactly as encodeURIComponent makes it.
    response = await http_server_client.fetch(
        f"{jp_base_url}nbtrack/api/v1/datasets/raw%2Forders/versions", headers=jp_auth_header
    )
    assert [v["version"] for v in json.loads(response.body)["versions"]] == [1]


async def test_unknown_dataset_is_404(api_error, customers):
    body = await api_error(404, "datasets", "nope", "versions")
    assert body["code"] == "dataset_not_found" and "nope" in body["message"]


async def test_dataset_chunks_download_by_hash(api, nb_store, customers):
    (digest,) = nb_store.query("SELECT blob FROM data_chunks WHERE dataset = 'raw/orders' LIMIT 1")[0]
    response = await api("artifacts", digest, raw=True)
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.body == nb_store.blobs.read_bytes(digest)


async def test_diff_of_two_versions(api, customers):
    body = await api("datasets", "customers", "diff", params={"a": "1", "b": "2"})
    assert (body["name"], body["a"], body["b"]) == ("customers", 1, 2)
    assert body["rows"]["added"] == 1 and body["rows"]["changed"] == 1
    assert body["rows"]["changed_columns"] == {"spend": 1}
    assert set(body["stats"]) >= {"spend"} and "drift" in body
    latest = await api("datasets", "customers", "diff")  # default: the two latest versions
    assert (latest["a"], latest["b"]) == (1, 2)


async def test_diff_rejects_bad_and_unknown_versions(api_error, customers):
    body = await api_error(400, "datasets", "customers", "diff", params={"a": "1", "b": "latest!"})
    assert body["code"] == "invalid_value" and "b must be an integer" in body["message"]
    body = await api_error(404, "datasets", "customers", "diff", params={"a": "1", "b": "7"})
    assert body["code"] == "dataset_not_found"
    body = await api_error(404, "datasets", "nope", "diff")
    assert body["code"] == "dataset_not_found"


async def test_lineage_of_a_version_and_of_a_run(api, customers):
    graph = await api("lineage", params={"dataset": "customers", "version": "1"})
    assert graph["root"] == "version:customers@1"
    ids = {node["id"]: node for node in graph["nodes"]}
    run_node = f"run:{customers['run_id']}"
    assert ids[run_node]["kind"] == "run" and ids["version:customers@1"]["kind"] == "version"
    assert {"source": run_node, "target": "version:customers@1", "kind": "output"} in graph["edges"]
    by_run = await api("lineage", params={"run": customers["run_id"][-8:]})
    assert by_run["root"] == run_node
    assert "version:customers@1" in {node["id"] for node in by_run["nodes"]}


async def test_lineage_needs_exactly_one_known_subject(api_error, customers):
    await api_error(400, "lineage")
    await api_error(400, "lineage", params={"run": customers["run_id"], "dataset": "customers"})
    assert (await api_error(404, "lineage", params={"dataset": "nope"}))["code"] == "dataset_not_found"
    assert (await api_error(404, "lineage", params={"run": "zzzzzzzz"}))["code"] == "run_not_found"
