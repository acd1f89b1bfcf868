"""The REST API's write routes of the workspace (issue 16): PATCH /runs/{id} (tags, note), POST
/runs/archive, /runs/restore and /runs/delete, on a real Jupyter server (jp_fetch) and a real store."""

from __future__ import annotations

import json

import nbtrack


def _post(ids):
    return {"method": "POST", "body": json.dumps({"ids": ids})}


async def test_tags_and_note_are_patched_and_read_back(api, runs, nb_store):
    body = {"tags": {"owner": "ana", "reviewed": True}, "remove": ["stage"], "note": "best so far\nsecond line"}
    edited = await api("runs", runs["deep"][-8:], method="PATCH", body=json.dumps(body))
    assert edited == {
        "run_id": runs["deep"],
        "tags": {"owner": "ana", "reviewed": "True", "nbtrack.note": "best so far\nsecond line"},
        "note": "best so far\nsecond line",
    }
    run = await api("runs", runs["deep"])
    assert run["tags"]["owner"] == "ana" and "stage" not in run["tags"] and run["archived"] is None
    page = await api("runs", params={"where": "tags.owner = 'ana'", "fields": "name,tags,archived"})
    assert [r["name"] for r in page["runs"]] == ["rf-deep"] and page["runs"][0]["archived"] is None
    cleared = await api("runs", runs["deep"], method="PATCH", body=json.dumps({"note": None}))
    assert cleared["note"] is None and "nbtrack.note" not in cleared["tags"]
    assert nbtrack.get_run(runs["deep"], store=nb_store).note is None


async def test_archive_hides_restore_brings_back_delete_is_for_archived_runs(api, api_error, runs, nb_store):
    archived = await api("runs", "archive", **_post([runs["rf"], "rf-deep"]))
    assert archived == {"archived": [runs["rf"], runs["deep"]]}
    page = await api("runs")
    assert page["total"] == 1 and [r["name"] for r in page["runs"]] == ["broken"]
    shown = await api("runs", params={"archived": "true"})
    assert shown["total"] == 3 and {r["name"]: r["archived"] is not None for r in shown["runs"]} == {
        "broken": False,
        "rf-deep": True,
        "rf-small": True,
    }
    only = await api("runs", params={"archived": "only", "order_by": "-metrics.acc"})
    assert [r["name"] for r in only["runs"]] == ["rf-deep", "rf-small"]
    assert (await api("runs", "restore", **_post([runs["deep"]]))) == {"restored": [runs["deep"]]}
    assert (await api("runs"))["total"] == 2
    body = await api_error(400, "runs", "delete", **_post([runs["deep"]]))
    assert body["code"] == "invalid_value" and "archive it first" in body["message"]
    assert (await api("runs", "archive", **_post([runs["broken"]])))["archived"] == [runs["broken"]]
    assert (await api("runs", "delete", **_post([runs["broken"]]))) == {"deleted": [runs["broken"]]}
    await api_error(404, "runs", runs["broken"])
    assert len(nbtrack.runs(archived=True, store=nb_store)) == 2


async def test_bad_input_gets_a_clear_error_and_changes_nothing(api_error, runs, nb_store):
    for bad in ('{"ids": []}', '{"ids": "abc"}', '{"ids": [1]}', "{}", "[1]"):
        body = await api_error(400, "runs", "archive", method="POST", body=bad)
        assert body["code"] == "invalid_value" and ("ids" in body["message"] or "JSON object" in body["message"])
    body = await api_error(400, "runs", "archive", **_post([runs["rf"]] * 1001))
    assert "at most 1000" in body["message"]
    body = await api_error(404, "runs", "archive", **_post([runs["rf"], "nosuchrun"]))
    assert body["code"] == "run_not_found" and "nbtrack runs" in body["message"]
    assert len(nbtrack.runs(store=nb_store)) == 3  # the known run of that call was not archived either
    body = await api_error(400, "runs", "restore", method="POST", body="{not json")
    assert "not valid JSON" in body["message"]
    body = await api_error(400, "runs", runs["rf"], method="PATCH", body=json.dumps({"tag": {"a": "b"}}))
    assert "Unknown field 'tag'" in body["message"] and '"tags"' in body["message"]
    body = await api_error(400, "runs", runs["rf"], method="PATCH", body=json.dumps({"tags": ["a"]}))
    assert "tags must be a JSON object" in body["message"]
    body = await api_error(400, "runs", runs["rf"], method="PATCH", body=json.dumps({"note": 3}))
    assert "note must be text" in body["message"]
    body = await api_error(
        400, "runs", runs["rf"], method="PATCH", body=json.dumps({"tags": {"a": "1"}, "remove": ["a"]})
    )
    assert "both set and removed" in body["message"]
    too_long = {"tags": {"owner": "ana"}, "note": "x" * 9000}
    body = await api_error(400, "runs", runs["rf"], method="PATCH", body=json.dumps(too_long))
    assert "shorten it" in body["message"]
    body = await api_error(400, "runs", params={"archived": "maybe"})
    assert "archived=false" in body["message"]
    assert nbtrack.get_run(runs["rf"], store=nb_store).tags == {"stage": "dev"}


async def test_a_running_run_is_refused_with_409(api_error, nb_store, runs):
    with nbtrack.start_run("live", store=nb_store) as live:
        body = await api_error(409, "runs", live.run_id, method="PATCH", body=json.dumps({"tags": {"a": "1"}}))
    assert body["code"] == "run_still_running" and "once it has ended" in body["message"]


async def test_write_routes_refuse_unauthenticated_and_cookie_calls_without_xsrf(
    http_server_client, jp_base_url, jp_auth_header, runs, nb_store
):
    base = f"{jp_base_url}nbtrack/api/v1/runs"
    for path, method, body in (
        (f"{base}/{runs['rf']}", "PATCH", {"note": "x"}),
        (f"{base}/archive", "POST", {"ids": [runs["rf"]]}),
        (f"{base}/restore", "POST", {"ids": [runs["rf"]]}),
        (f"{base}/delete", "POST", {"ids": [runs["rf"]]}),
    ):
        refused = await http_server_client.fetch(path, method=method, body=json.dumps(body), raise_error=False)
        assert refused.code == 403 and json.loads(refused.body)["code"] == "forbidden", (path, refused.code)
    login = await http_server_client.fetch(f"{jp_base_url}nbtrack/api/v1/version", headers=jp_auth_header)
    cookie = "; ".join(c.split(";", 1)[0] for c in login.headers.get_list("Set-Cookie"))
    no_xsrf = await http_server_client.fetch(
        f"{base}/archive",
        method="POST",
        body=json.dumps({"ids": [runs["rf"]]}),
        headers={"Cookie": cookie},
        raise_error=False,
    )
    assert no_xsrf.code == 403 and b"xsrf" in no_xsrf.body.lower()
    assert len(nbtrack.runs(store=nb_store)) == 3 and nbtrack.get_run(runs["rf"], store=nb_store).note is None
    with_xsrf = await http_server_client.fetch(
        f"{base}/archive",
        method="POST",
        body=json.dumps({"ids": [runs["rf"]]}),
        headers={"Cookie": f"{cookie}; _xsrf=abc123", "X-XSRFToken": "abc123"},
    )
    assert json.loads(with_xsrf.body) == {"archived": [runs["rf"]]}
