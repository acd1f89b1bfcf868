"""Generated bad input: each value is stored exactly or refused with a clear message; queries never reach SQL."""

import math
import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nbtrack
from nbtrack.errors import InvalidValueError, QueryError, StoreWriteError
from nbtrack.store import Store
from nbtrack.store.query import compile_order_by, compile_where

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=50)
)
json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=20),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
unstorable = st.one_of(
    st.builds(object),
    st.sets(st.integers(), min_size=1, max_size=3),
    st.lists(st.floats(allow_nan=True), min_size=1).filter(lambda v: any(map(math.isnan, v))),
    st.builds(lambda n: "x" * n, st.integers(70_000, 200_000)),
    st.binary(min_size=1, max_size=5),
)
any_value = st.one_of(scalars, json_values, unstorable)


def same(a, b):
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, tuple):
        a = list(a)
    return a == b and type(a) is type(b)


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory):
    return Store.open(tmp_path_factory.mktemp("fuzz") / ".nbtrack")


@SETTINGS
@given(value=any_value)
def test_params_are_stored_exactly_or_refused_clearly(shared_store, value):
    try:
        run = nbtrack.start_run(params={"p": value}, store=shared_store)
    except InvalidValueError as error:
        assert "p" in str(error) and ("log" in str(error) or "artifact" in str(error))
        return
    run.finish()
    stored = nbtrack.get_run(run.run_id, store=shared_store).params["p"]
    assert same(value, stored), (value, stored)


@SETTINGS
@given(value=any_value)
def test_metrics_are_stored_exactly_or_refused_clearly(shared_store, value):
    with nbtrack.start_run(store=shared_store) as run:
        try:
            run.log_metric("m", value)
        except InvalidValueError as error:
            assert "real number" in str(error)
            return
    stored = nbtrack.get_run(run.run_id, store=shared_store).latest["m"]
    assert same(float(value), stored) or (math.isnan(float(value)) and math.isnan(stored))


query_alphabet = st.sampled_from(
    list("abcmetrisnpu.' \"()=<>!~,;-*/`%_\\0123456789")
    + [
        "and",
        "or",
        "not",
        "in",
        "is",
        "null",
        "params.",
        "metrics.",
        "tags.",
        "status",
        "DROP TABLE runs",
        "--",
        "/*",
        "é",
        "\x00",
        "\u202e",
    ]
)


query_texts = st.lists(query_alphabet, max_size=25).map("".join)


@SETTINGS
@given(text=query_texts)
def test_fuzzed_queries_give_parse_errors_never_sql_errors(shared_store, text):
    before = shared_store.query("SELECT COUNT(*) FROM runs")[0][0]
    for compile_ in (compile_where, compile_order_by):
        try:
            compile_(text)
        except QueryError as error:
            assert 0 <= error.position <= len(text)
    try:
        nbtrack.runs(where=text, store=shared_store)
        nbtrack.runs(order_by=text, store=shared_store)
    except QueryError:
        pass
    except sqlite3.Error as error:  # pragma: no cover - the point of the test
        pytest.fail(f"{text!r} reached SQLite: {error}")
    assert shared_store.query("SELECT COUNT(*) FROM runs")[0][0] == before


def test_unwritable_store_location_gives_a_clear_error(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("NBTRACK_HOME", str(blocker / ".nbtrack"))
    with pytest.raises(StoreWriteError, match="NBTRACK_HOME"):
        nbtrack.start_run()


@pytest.mark.parametrize("text, position", [("params.a,", 9), ("name, ", 6), (",", 0), ("name,-", 6)])
def test_order_by_with_an_empty_item_points_inside_the_text(text, position):
    """Found by the bench-sized fuzzing (3,000 texts): an empty item after a comma pointed one past the end."""
    with pytest.raises(QueryError) as caught:
        compile_order_by(text)
    assert caught.value.position == position
