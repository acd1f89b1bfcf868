"""Params, metric values and steps: each is stored exactly (same types all the way down) or refused with
an InvalidValueError that says what to do; never a raw exception, never a silent change."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nbtrack
from nbtrack.errors import InvalidValueError
from nbtrack.store import Store

SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

plain = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=10),
)
keys = st.one_of(st.text(max_size=6), st.integers(-5, 5), st.booleans(), st.none(), st.floats(-2, 2))
containers = st.recursive(
    plain,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.tuples(children, children),
        st.dictionaries(keys, children, max_size=3),
    ),
    max_leaves=10,
)


def identical(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(identical(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(map(repr, a)) == list(map(repr, b)) and all(identical(a[k], b[k]) for k in a)
    if isinstance(a, float):
        return repr(a) == repr(b)
    return a == b


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory):
    return Store.open(tmp_path_factory.mktemp("values") / ".nbtrack")


@SETTINGS
@given(value=containers)
def test_params_with_tuples_and_any_dict_keys_come_back_identical(shared_store, value):
    try:
        run = nbtrack.start_run(params={"p": value}, store=shared_store)
    except InvalidValueError as error:
        assert "'p'" in str(error) and ("log" in str(error) or "flatten" in str(error))
        return
    run.finish()
    stored = nbtrack.get_run(run.run_id, store=shared_store).params["p"]
    assert identical(value, stored), (value, stored)


@pytest.mark.parametrize(
    "value",
    [(1, 2), {1: "a", 2: "b"}, {"a": (1, 2.5)}, [(0.0, -0.0)], {None: 1, True: 2}, {(1, 2): "pair"}, (), ((),)],
)
def test_values_json_would_change_are_kept_exactly(store, value):
    with nbtrack.start_run(params={"p": value}, store=store) as run:
        pass
    assert identical(nbtrack.get_run(run.run_id, store=store).params["p"], value)


def test_deep_nesting_is_refused_with_the_fix(store):
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(InvalidValueError, match="nested more than 32 levels"):
        nbtrack.start_run(params={"deep": deep}, store=store)


metric_values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(),
    st.fractions(),
    st.booleans(),
    st.text(max_size=3),
    st.none(),
    st.complex_numbers(),
    st.sampled_from([np.float32(0.1), np.int64(2**62 + 1), np.uint64(2**64 - 1), np.float16(1.5)]),
)
steps = st.one_of(
    st.none(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.sampled_from([np.int64(5), np.int64(2**63 - 1), np.float64(3.0), np.uint64(2**64 - 1), "3"]),
)


@SETTINGS
@given(value=metric_values, step=steps)
def test_metric_values_and_steps_are_exact_or_refused_clearly(shared_store, value, step):
    with nbtrack.start_run(store=shared_store) as run:
        try:
            run.log_metric("m", value, step=step)
        except InvalidValueError as error:
            assert "'m'" in str(error) and ("real number" in str(error) or "whole number" in str(error))
            return
    record = nbtrack.get_run(run.run_id, store=shared_store)
    stored_value, stored_step = record.metric("m").iloc[-1], record.metric("m").index[-1]
    number = float(value)
    assert (math.isnan(number) and math.isnan(stored_value)) or (stored_value == value and stored_value == number)
    if step is not None:
        assert stored_step == step


@pytest.mark.parametrize(
    ("value", "step", "words"),
    [
        (2**53 + 1, None, "cannot be stored exactly"),
        (Fraction(1, 3), None, "cannot be stored exactly"),
        (10**400, None, "cannot be stored exactly"),
        (1.0, 1.5, "whole number"),
        (1.0, math.nan, "whole number"),
        (1.0, 2**63, "whole number"),
        (1.0, True, "whole number"),
    ],
)
def test_values_a_metric_would_change_are_refused(store, value, step, words):
    with nbtrack.start_run(store=store) as run, pytest.raises(InvalidValueError, match=words):
        run.log_metric("m", value, step=step)
