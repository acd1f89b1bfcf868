"""The read routes the sidebar uses: version handshake, change token, experiments, runs, one run, compare."""

from __future__ import annotations

import nbtrack


async def test_version_handshake_names_api_and_store(api, nb_store):
    body = await api("version")
    assert body == {"version": nbtrack.__version__, "api": 1, "store": str(nb_store.root)}


async def test_changes_token_moves_when_a_run_is_added_or_updated(api, nb_store):
    first = (await api("changes"))["token"]
    assert (await api("changes"))["token"] == first  # stable while nothing happens
    run = nbtrack.start_run("live", experiment="iris", store=nb_store)
    second = (await api("changes"))["token"]
    assert second != first
    run.log_metric("acc", 0.5)
    run.flush()
    third = (await api("changes"))["token"]
    assert third != second
    run.finish()
    assert (await api("changes"))["token"] != third


async def test_experiments_lists_run_counts_and_last_start(api, runs):
    body = await api("experiments")
    by_name = {e["name"]: e for e in body["experiments"]}
    assert set(by_name) == {"iris", "wine"}
    assert by_name["iris"]["runs"] == 2 and by_name["wine"]["runs"] == 1
    assert by_name["iris"]["last_start"].startswith("20")


async def test_runs_page_has_total_columns_token_and_rows(api, runs):
    body = await api("runs")
    assert body["total"] == 3 and body["offset"] == 0 and body["limit"] == 100
    assert body["token"] == (await api("changes"))["token"]
    assert body["columns"] == {"params": ["depth", "lr", "model"], "metrics": ["acc", "loss"], "tags": ["stage"]}
    newest_first = [row["run_id"] for row in body["runs"]]
    assert newest_first == [runs["broken"], runs["deep"], runs["rf"]]
    rf = body["runs"][2]
    assert rf["name"] == "rf-small" and rf["experiment"] == "iris" and rf["status"] == "ok"
    assert rf["params"] == {"model": "rf", "depth": 3}
    assert rf["metrics"] == {"acc": 0.85, "loss": 0.4}
    assert rf["tags"] == {"stage": "dev"}
    assert body["runs"][0]["status"] == "failed"


async def test_runs_filter_order_and_experiment(api, runs):
    body = await api("runs", params={"where": "metrics.acc > 0.8 and params.model = 'rf'", "order_by": "-metrics.acc"})
    assert [r["run_id"] for r in body["runs"]] == [runs["deep"], runs["rf"]]
    body = await api("runs", params={"experiment": "wine"})
    assert body["total"] == 1 and body["runs"][0]["run_id"] == runs["broken"]
    assert body["columns"] == {"params": ["lr"], "metrics": ["acc"], "tags": []}


async def test_runs_paging_and_limit_cap(api, runs):
    page = await api("runs", params={"limit": "1", "offset": "1"})
    assert page["total"] == 3 and page["limit"] == 1 and page["offset"] == 1
    assert [r["run_id"] for r in page["runs"]] == [runs["deep"]]
    capped = await api("runs", params={"limit": "5000"})
    assert capped["limit"] == 1000 and len(capped["runs"]) == 3


async def test_runs_fields_select_keys(api, runs):
    body = await api("runs", params={"fields": "name,metrics.acc", "where": "name = 'rf-small'"})
    assert body["runs"] == [{"run_id": runs["rf"], "name": "rf-small", "metrics": {"acc": 0.85}}]
    body = await api("runs", params={"fields": "status,tags", "where": "name = 'rf-deep'"})
    assert body["runs"] == [{"run_id": runs["deep"], "status": "ok", "tags": {"stage": "prod"}}]


async def test_default_columns_are_the_cli_choice(api, runs, nb_store):
    """columns=default: the columns nbtrack runs / %track runs show, from the one choice in the core."""
    from nbtrack.leaderboard import choose_columns

    params = {"model": "rf", "model.max_depth": 4, "model.n_jobs": 2, "depth": 4}
    with nbtrack.start_run("autologged", experiment="iris", params=params, store=nb_store) as run:
        run.log_metrics({"acc": 0.9, "_wall_s": 0.2, "_peak_mem_mb": 80.0})
    body = await api("runs", params={"experiment": "iris", "columns": "default", "order_by": "-metrics.loss"})
    columns = body["default_columns"]
    assert columns[:5] == ["run_id", "name", "status", "start", "duration_s"]
    assert columns[5:7] == ["metrics.loss", "metrics.acc"]  # the sorted metric first
    assert "params.depth" in columns and "params.model" in columns
    assert not {"metrics._wall_s", "metrics._peak_mem_mb", "params.model.max_depth", "params.model.n_jobs"} & set(
        columns
    )
    frame = nbtrack.runs(experiment="iris", order_by="-metrics.loss", store=nb_store)
    assert columns == choose_columns(frame, order_by="-metrics.loss", max_metrics=10, max_params=10)
    assert "default_columns" not in await api("runs")  # only when asked for
    selected = await api("runs", params={"columns": "default", "fields": "name"})
    assert selected["default_columns"][:2] == ["run_id", "name"] and selected["runs"][0].keys() == {"run_id", "name"}


async def test_bad_paging_and_fields_are_400(api_error, runs):
    for params in (
        {"limit": "ten"},
        {"limit": "0"},
        {"offset": "-1"},
        {"fields": "name,password"},
        {"fields": "name.first"},
        {"columns": "all"},
    ):
        body = await api_error(400, "runs", params=params)
        assert body["code"] == "invalid_value"


async def test_malformed_where_is_400_naming_the_position(api_error, runs):
    body = await api_error(400, "runs", params={"where": "metrics.acc >> 0.9"})
    assert body["code"] == "query"
    assert "position" in body["message"] and isinstance(body["position"], int)
    body = await api_error(400, "runs", params={"order_by": "-metrics.acc,,"})
    assert body["code"] == "query" and "position" in body["message"]


async def test_one_run_in_full(api, runs):
    body = await api("runs", runs["rf"])
    assert body["run_id"] == runs["rf"] and body["params"] == {"model": "rf", "depth": 3}
    assert [point[:2] for point in body["metric_series"]["acc"]] == [[0, 0.7], [1, 0.8], [2, 0.85]]
    assert {a["name"]: a["hash"] for a in body["artifacts"]}["curve.png"] == runs["png"]
    short = await api("runs", runs["rf"][-8:])
    assert short["run_id"] == runs["rf"]


async def test_failed_run_keeps_its_error_and_nan_is_json_null(api, runs):
    body = await api("runs", runs["broken"])
    assert body["status"] == "failed" and body["error"]["type"] == "ZeroDivisionError"
    assert body["metric_series"]["acc"][0][1] is None  # NaN: valid JSON for the browser


async def test_unknown_run_is_404(api_error, runs):
    body = await api_error(404, "runs", "01hzzzzzzzzzzzzzzzzzzzzzzz")
    assert body["code"] == "run_not_found"
    body = await api_error(404, "runs", "no such run!")
    assert body["code"] == "run_not_found"


async def test_compare_lines_up_params_metrics_and_series(api, runs):
    body = await api("compare", params={"ids": f"{runs['rf']},{runs['deep'][-8:]}"})
    assert [r["run_id"] for r in body["runs"]] == [runs["rf"], runs["deep"]]
    params = {row["key"]: row for row in body["params"]}
    assert params["depth"] == {"key": "depth", "values": [3, 9], "differs": True}
    assert params["model"] == {"key": "model", "values": ["rf", "rf"], "differs": False}
    metrics = {row["key"]: row for row in body["metrics"]}
    assert metrics["loss"]["values"] == [0.4, None]
    assert body["series"]["acc"][runs["deep"]] == [[0, 0.95], [1, 0.97]]
    assert runs["deep"] not in body["series"]["loss"]


async def test_compare_needs_ids_and_known_runs(api_error, runs):
    assert (await api_error(400, "compare"))["code"] == "invalid_value"
    body = await api_error(404, "compare", params={"ids": f"{runs['rf']},01hzzzzzzzzzzzzzzzzzzzzzzz"})
    assert body["code"] == "run_not_found"


async def test_columns_follow_new_keys(api, nb_store, runs):
    before = (await api("runs", params={"experiment": "iris"}))["columns"]
    assert "f1" not in before["metrics"]
    with nbtrack.start_run("new-keys", experiment="iris", params={"seed": 1}, store=nb_store) as run:
        run.log_metric("f1", 0.5)
    after = (await api("runs", params={"experiment": "iris"}))["columns"]
    assert "f1" in after["metrics"] and "seed" in after["params"]
