"""run_values(): a few values of every matching run, as columns (what GET /values and the workspace's
Charts tab read); the same values, in the same order, as list_runs() rows."""

import math
from datetime import datetime

import pytest

import nbtrack
from nbtrack.errors import InvalidValueError, QueryError
from nbtrack.reading import list_runs
from nbtrack.runvalues import run_values


def _seed_runs():
    """Runs with missing metrics, a NaN, typed params, two experiments and an archived run."""
    ids = {}
    for i in range(12):
        params = {"lr": i / 100, "model": ["rf", "svm", "mlp"][i % 3]}
        if i % 4:
            params["depth"] = i
        if i == 5:
            params["layers"] = [64, 32]
        with nbtrack.start_run(f"r{i:02d}", experiment="a" if i < 9 else "b", params=params) as run:
            if i != 3:
                run.log_metric("acc", float("nan") if i == 7 else (i * 37 % 11) / 10)
            run.log_metric("loss", 1 / (i + 1))
        ids[i] = run.run_id
    nbtrack.archive_runs([ids[10]])
    return ids


@pytest.mark.parametrize(
    ("experiment", "where", "order_by"),
    [
        (None, None, None),
        ("a", None, "-metrics.acc"),
        ("a", "params.model = 'rf' or metrics.loss < 0.2", "params.depth, name"),
        (None, "metrics.acc is not null", "name"),
        ("b", None, "-start"),
    ],
)
def test_values_are_those_of_the_listed_runs_in_their_order(store, experiment, where, order_by):
    _seed_runs()
    keys = ["metrics.acc", "params.depth", "params.layers", "params.model", "start", "duration_s"]
    total, columns = run_values(keys[:4], experiment, where, order_by, store=store)
    _, more = run_values(keys[4:], experiment, where, order_by, store=store)
    listed_total, rows = list_runs(experiment, where, order_by, limit=None, store=store)
    assert total == listed_total == len(rows) == len(columns["run_id"])
    assert columns["run_id"] == [r["run_id"] for r in rows]
    assert columns["name"] == [r["name"] for r in rows]
    acc = [r["metrics"].get("acc") for r in rows]
    assert columns["metrics.acc"] == [None if v is None or math.isnan(v) else v for v in acc]
    for key in ("depth", "layers", "model"):
        assert columns[f"params.{key}"] == [r["params"].get(key) for r in rows]
    starts = [datetime.fromisoformat(r["start"]).timestamp() for r in rows]
    assert more["start"] == pytest.approx(starts, abs=1e-6)  # epoch seconds; the ISO text has microseconds
    assert more["duration_s"] == [r["duration_s"] for r in rows]


def test_limit_cuts_the_runs_and_total_counts_them_all(store):
    ids = _seed_runs()
    total, columns = run_values(["metrics.loss"], "a", order_by="name", limit=4, store=store)
    assert total == 9 and columns["run_id"] == [ids[i] for i in range(4)]
    assert columns["metrics.loss"] == [1 / (i + 1) for i in range(4)]
    assert run_values(["metrics.loss"], "a", limit=9, store=store)[0] == 9


def test_archived_runs_only_when_asked(store):
    ids = _seed_runs()
    assert ids[10] not in run_values(["metrics.acc"], "b", store=store)[1]["run_id"]
    assert ids[10] in run_values(["metrics.acc"], "b", archived=True, store=store)[1]["run_id"]
    assert run_values(["metrics.acc"], "b", archived="only", store=store)[1]["run_id"] == [ids[10]]


def test_unknown_keys_and_bad_queries_say_what_to_use(store):
    _seed_runs()
    for key in ("tags.stage", "metrics.", "acc", "status"):
        with pytest.raises(InvalidValueError, match="metrics.<name>, params.<name>, start or duration_s"):
            run_values([key], store=store)
    with pytest.raises(QueryError):
        run_values(["metrics.acc"], where="metrics.acc >> 1", store=store)
    assert run_values(["metrics.acc"], experiment="nope", store=store) == (
        0,
        {"run_id": [], "name": [], "metrics.acc": []},
    )
