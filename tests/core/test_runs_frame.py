"""runs(): the params/metrics/tags columns decoded from the runs' summaries, layout by layout, assembled by column."""

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
        "params.depth",
        "params.layers",
        "params.lr",
        "params.model",
    ]


def test_runs_frame_of_runs_without_tags_has_no_tag_columns(store):
    with nbtrack.start_run("only", params={"x": 1}):
        pass
    frame = nbtrack.runs()
    assert len(frame) == 1 and not any(c.startswith("tags.") for c in frame.columns)
    assert frame.loc[0, "params.x"] == 1


def test_many_different_name_sets_give_the_same_frame_as_few(store):
    # 80 distinct name sets, each decoded on its own and assembled column by column
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


def test_a_name_with_different_types_in_different_runs_keeps_each_value(store):
    for name, value in [("int", 3), ("text", "three"), ("flag", True), ("float", 3.5)]:
        with nbtrack.start_run(name, params={"x": value, f"only_{name}": 1}):
            pass
    with nbtrack.start_run("missing", params={"y": 1}):
        pass
    frame = nbtrack.runs(order_by="name").set_index("name")
    assert str(frame["params.x"].dtype) == "object"
    assert frame.loc["int", "params.x"] == 3 and frame.loc["text", "params.x"] == "three"
    assert frame.loc["flag", "params.x"] is True and frame.loc["float", "params.x"] == 3.5
    assert math.isnan(frame.loc["missing", "params.x"])
    assert str(frame["params.only_int"].dtype) == "float64"  # an int with gaps is a float column, NaN in the gaps


def test_runs_frame_keeps_every_summary_type_exactly(store):
    # each value type takes its own path (packed numbers, Arrow strings, JSON): all come back as logged
    odd = ["caf\u00e9", "\ud800"]  # a lone surrogate inside a JSON param survives (JSON escapes it)
    params = {
        "f": 0.25,
        "nan": float("nan"),
        "inf": float("-inf"),
        "i": -(2**63),
        "big": 2**70,
        "b": True,
        "s": "",
        "u": "caf\u00e9 \u2603",
        "odd": odd,
        "none": None,
        "j": {"a": [1, 2]},
    }
    with nbtrack.start_run("all", params=params, tags={"t": "x\x00y"}) as run:
        run.log_metric("m", float("inf"))
    frame = nbtrack.runs()
    row = frame.iloc[0]
    assert row["params.f"] == 0.25 and math.isnan(row["params.nan"]) and row["params.inf"] == float("-inf")
    assert row["params.i"] == -(2**63) and str(frame["params.i"].dtype) == "int64"
    assert row["params.big"] == 2**70 and row["params.b"] == True  # noqa: E712
    assert str(frame["params.b"].dtype) == "bool" and str(frame["params.u"].dtype) == "str"
    assert row["params.s"] == "" and row["params.u"] == "caf\u00e9 \u2603" and row["params.odd"] == odd
    assert row["params.none"] is None and row["params.j"] == {"a": [1, 2]}
    assert row["tags.t"] == "x\x00y" and row["metrics.m"] == float("inf")
    assert nbtrack.get_run(row["run_id"]).params["odd"] == odd
    total, rows = nbtrack.list_runs()
    assert rows[0]["params"]["big"] == 2**70 and rows[0]["params"]["u"] == "caf\u00e9 \u2603"
    assert rows[0]["metrics"] == {"m": "inf"} and rows[0]["tags"] == {"t": "x\x00y"}


def test_runs_read_while_a_run_changes_its_names_see_one_consistent_state(store):
    # the reader decodes each row with the layout of the row it read, even if the run moved on since
    import threading

    stop = threading.Event()

    def writer():
        i = 0
        with nbtrack.start_run("moving") as run:
            while not stop.is_set():
                run.log_param(f"p{i % 50}", i)
                run.flush()
                i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for _ in range(30):
            frame = nbtrack.runs()
            assert len(frame) <= 1
    finally:
        stop.set()
        thread.join()
    assert nbtrack.runs()["status"].tolist() == ["ok"]


def test_text_that_is_not_valid_unicode_is_refused_up_front(store):
    import pytest

    from nbtrack.errors import InvalidValueError

    with nbtrack.start_run("surrogates") as run:
        for log in (
            lambda: run.log_param("p", "bad \udcff name"),
            lambda: run.set_tag("t", "\ud800"),
            lambda: run.log_metric("m\udcff", 1.0),
        ):
            with pytest.raises(InvalidValueError, match="not valid Unicode"):
                log()
        run.log_param("ok", "fine")
    assert nbtrack.get_run(run.run_id).params == {"ok": "fine"} and nbtrack.fsck().clean


def test_runs_say_who_made_each_and_the_leaderboard_shows_it_once_several_people_did(store, monkeypatch, cli):
    from nbtrack import environment

    for person in ("ana@example.org", "ben@example.org"):
        monkeypatch.setenv("NBTRACK_USER", person)
        monkeypatch.setattr(environment, "_user", [])
        with nbtrack.start_run(f"by {person[:3]}") as run:
            run.log_metric("acc", 0.5)
    frame = nbtrack.runs(order_by="name")
    assert frame["user"].tolist() == ["ana@example.org", "ben@example.org"]
    assert nbtrack.runs(where="user = 'ben@example.org'")["name"].tolist() == ["by ben"]
    header = cli("runs", "--width", "200").splitlines()
    assert any("user" in line for line in header[:2]) and "ben@example.org" in "\n".join(header)
    alone = cli("runs", "--where", "user = 'ana@example.org'", "--width", "200").splitlines()
    assert not any("user" in line for line in alone[:2])  # one person: no user column
