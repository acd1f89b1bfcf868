import pytest

import nbtrack
from nbtrack.errors import QueryError
from nbtrack.store.query import compile_order_by, compile_where


@pytest.fixture
def recorded(store):
    specs = [
        ("rf-1", "rf", 0.95, "prod"),
        ("rf-2", "rf", 0.85, "dev"),
        ("lr-1", "lr", 0.91, "prod"),
        ("tmp-x", "lr", 0.50, None),
    ]
    ids = {}
    for name, model, acc, stage in specs:
        with nbtrack.start_run(
            name, params={"model": model, "n": len(name)}, tags={"stage": stage} if stage else {}
        ) as r:
            r.log_metric("acc", acc)
        ids[name] = r.run_id
    with pytest.raises(RuntimeError), nbtrack.start_run("broken"):
        raise RuntimeError("x")
    return ids


def names(where=None, order_by="name"):
    return nbtrack.runs(where=where, order_by=order_by)["name"].tolist()


@pytest.mark.parametrize(
    "where, expected",
    [
        ("metrics.acc > 0.9 and params.model = 'rf'", ["rf-1"]),
        ("metrics.acc > 0.9 or params.model = 'rf'", ["lr-1", "rf-1", "rf-2"]),
        ("not params.model = 'rf'", ["broken", "lr-1", "tmp-x"]),
        ("(params.model = 'rf' or params.model = 'lr') and metrics.acc >= 0.91", ["lr-1", "rf-1"]),
        ("params.model != 'rf'", ["lr-1", "tmp-x"]),
        ("metrics.acc <= 0.85", ["rf-2", "tmp-x"]),
        ("tags.stage in ('prod', 'staging')", ["lr-1", "rf-1"]),
        ("tags.stage not in ('prod')", ["rf-2"]),
        ("tags.stage is null", ["broken", "tmp-x"]),
        ("name ~ '^rf-'", ["rf-1", "rf-2"]),
        ("status = 'failed'", ["broken"]),
        ("start > '2020-01-01'", ["broken", "lr-1", "rf-1", "rf-2", "tmp-x"]),
        ("start < '2020-01-01T00:00:00+00:00'", []),
        ("params.n = 4", ["rf-1", "rf-2", "lr-1"][:0] + ["lr-1", "rf-1", "rf-2"]),
        ('params.model == "lr" and not name ~ "tmp"', ["lr-1"]),
    ],
)
def test_where(recorded, where, expected):
    assert names(where) == expected


def test_order_by_descending_metric_with_missing_values_last(recorded):
    assert names(order_by="-metrics.acc") == ["rf-1", "lr-1", "rf-2", "tmp-x", "broken"]
    assert names(order_by="metrics.acc asc") == ["tmp-x", "rf-2", "lr-1", "rf-1", "broken"]
    assert names(order_by="params.model, -metrics.acc") == ["lr-1", "tmp-x", "rf-1", "rf-2", "broken"]


def test_limit_and_experiment(recorded):
    assert len(nbtrack.runs(limit=2)) == 2
    assert nbtrack.runs(experiment="nope").empty


@pytest.mark.parametrize(
    "text, position, expected",
    [
        ("metrics.acc >", 13, "Expected a value"),
        ("metrics.acc > 0.9 and", 21, "Expected a field"),
        ("bogus = 1", 0, "Unknown field"),
        ("(status = 'ok'", 14, "')'"),
        ("name ~ '['", 7, "regular expression"),
        ("status = 'ok' extra", 14, "Expected 'and', 'or'"),
        ("start > 'yesterday'", 8, "not a date"),
        ("status = 'ok'; DROP TABLE runs", 13, "Unexpected character"),
        ("name = 'x' -- comment", 11, ""),
    ],
)
def test_errors_name_the_position_and_what_was_expected(text, position, expected):
    with pytest.raises(QueryError) as info:
        compile_where(text)
    assert info.value.position == position
    assert expected in str(info.value)


def test_injection_attempts_never_reach_sql(recorded):
    attacks = [
        "name = 'x' or 1=1",
        "name = 'x'' OR ''1''=''1'",
        "params.`model' OR 1=1 --` = 'rf'",
        "name = 'a'); DROP TABLE runs; --",
        "名前 = 'x'",
        "metrics.acc > 0.9 /* */",
    ]
    for attack in attacks:
        try:
            result = nbtrack.runs(where=attack)
        except QueryError:
            continue
        assert len(result) <= 1
    assert len(nbtrack.runs()) == 5


def test_keys_are_bound_parameters_not_sql():
    sql, params = compile_where("params.`a'b` = 'x'")
    assert "a'b" not in sql and params == ["a'b", "x"]


def test_order_by_errors():
    with pytest.raises(QueryError, match="Unknown field") as info:
        compile_order_by("name, -bogus")
    assert info.value.position == 7


def test_a_number_beyond_64_bits_is_a_query_error_not_a_crash(store):
    with pytest.raises(QueryError, match="beyond the 64-bit integers"):
        nbtrack.runs(where="params.lr = 99999999999999999999", store=store)
    assert nbtrack.runs(where="params.lr = 1e20", store=store).empty
