"""runs(): the params/metrics/tags columns decoded from the runs' summaries (grouped by names, or one dict per run)."""

import math

import nbtrack


def test_runs_frame_unions_keys_keeps_types_and_fills_missing_values(store):
    with nbtrack.start_run("a", params={"lr": 0.1, "layers": [64, 32], "model": "rf"}, tags={"stage": "dev"}) as a:
        a.log_metrics({"acc": 0.9, "loss": float("nan")})
    with nbtrack.start_run("b", params={"lr": 0.2, "depth": 3}) as b:
        b.log_metric("acc", 0.8)
    frame = nbtrack.runs(order_by="name").set_index("name")
    assert frame.loc["a", "params.lr"] == 0.1 and frame.loc["b", "params.lr"] == 0.2
    assert frame.loc["a", "params.layers"] == [64, 32] and frame.loc["a", "params.model"] == "rf"
    assert frame.loc["b", "params.depth"] == 3 and math.isnan(frame.loc["a", "params.depth"])
    assert frame.loc["a", "metrics.acc"] == 0.9 and math.isnan(frame.loc["a", "metrics.loss"])
    assert math.isnan(frame.loc["b", "metrics.loss"])
    assert frame.loc["a", "tags.stage"] == "dev"
    assert list(frame.columns[frame.columns.str.startswith("params.")]) == [
        "params.depth", "params.layers", "params.lr", "params.model"]


def test_runs_frame_of_runs_without_tags_has_no_tag_columns(store):
    with nbtrack.start_run("only", params={"x": 1}):
        pass
    frame = nbtrack.runs()
    assert len(frame) == 1 and not any(c.startswith("tags.") for c in frame.columns)
    assert frame.loc[0, "params.x"] == 1


def test_many_different_name_sets_give_the_same_frame_as_few(store):
    # more distinct name sets than runs() decodes group by group: the per-run fallback must agree
    for i in range(80):
        with nbtrack.start_run(f"r{i:02d}", params={"common": i, f"only_{i}": i * 10, "flag": i % 2 == 0}) as run:
            run.log_metric("m", i / 10)
    frame = nbtrack.runs(order_by="name").set_index("name")
    assert len(frame) == 80
    assert frame["params.common"].tolist() == list(range(80))
    assert frame.loc["r07", "params.only_7"] == 70 and math.isnan(frame.loc["r08", "params.only_7"])
    assert frame.loc["r08", "params.flag"] == True and frame.loc["r07", "params.flag"] == False  # noqa: E712
    assert frame["metrics.m"].tolist() == [i / 10 for i in range(80)]
    total, rows = nbtrack.list_runs(order_by="name", limit=2)
    assert total == 80 and rows[1]["params"] == {"common": 1, "flag": False, "only_1": 10}
