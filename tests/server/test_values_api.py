"""GET /values: a few values of every matching run in one answer (the workspace's Charts tab)."""

from __future__ import annotations

import nbtrack


async def test_values_of_every_run_as_columns_in_the_runs_order(api, runs):
    body = await api("values", params={"keys": "metrics.acc,params.depth"})
    assert body["total"] == 3 and body["limit"] == 200_000
    assert body["token"] == (await api("changes"))["token"]
    assert body["run_id"] == [runs["broken"], runs["deep"], runs["rf"]]  # newest first, as GET /runs
    assert body["name"] == ["broken", "rf-deep", "rf-small"]
    # the last value logged; NaN (the broken run's acc) is null, as a missing param is
    assert body["values"] == {"metrics.acc": [None, 0.97, 0.85], "params.depth": [None, 9, 3]}


async def test_filter_order_experiment_and_limit_as_for_runs(api, runs):
    body = await api(
        "values", params={"keys": "metrics.acc", "where": "params.model = 'rf'", "order_by": "metrics.acc"}
    )
    assert body["run_id"] == [runs["rf"], runs["deep"]] and body["values"]["metrics.acc"] == [0.85, 0.97]
    body = await api("values", params={"keys": "params.lr,start,duration_s", "experiment": "wine"})
    assert body["run_id"] == [runs["broken"]] and body["values"]["params.lr"] == [0.1]
    assert isinstance(body["values"]["start"][0], float) and body["values"]["duration_s"][0] >= 0
    cut = await api("values", params={"keys": "metrics.acc", "limit": "1"})
    assert cut["total"] == 3 and cut["run_id"] == [runs["broken"]] and cut["limit"] == 1
    capped = await api("values", params={"keys": "metrics.acc", "limit": "999999"})
    assert capped["limit"] == 200_000 and len(capped["run_id"]) == 3


async def test_archived_runs_left_out_unless_asked(api, runs, nb_store):
    nbtrack.archive_runs([runs["deep"]], store=nb_store)
    assert runs["deep"] not in (await api("values", params={"keys": "metrics.acc"}))["run_id"]
    only = await api("values", params={"keys": "metrics.acc", "archived": "only"})
    assert only["run_id"] == [runs["deep"]]


async def test_bad_keys_and_queries_are_400_naming_the_fix(api_error, runs):
    for keys in (None, "", "a,b,c,d,e"):
        params = {} if keys is None else {"keys": keys}
        body = await api_error(400, "values", params=params)
        assert body["code"] == "invalid_value" and "keys=metrics.acc,params.lr" in body["message"]
    body = await api_error(400, "values", params={"keys": "tags.stage"})
    assert "metrics.<name>, params.<name>, start or duration_s" in body["message"]
    body = await api_error(400, "values", params={"keys": "metrics.acc", "where": "metrics.acc >> 1"})
    assert body["code"] == "query" and body["position"] == 13
    body = await api_error(400, "values", params={"keys": "metrics.acc", "limit": "0"})
    assert "limit must be at least 1" in body["message"]
