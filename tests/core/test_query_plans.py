"""Pages of runs read through the value indexes of migration 7 (issue 22): the same runs in the same
order as the one-statement query over every run, with and without the indexes, checked against an
order and a filter computed here in Python from what each run logged."""

from __future__ import annotations

import math
import random
import shutil
from pathlib import Path

import pytest

import nbtrack
from nbtrack.store import Store
from nbtrack.store import schema as _schema

N_RUNS = 240
MISSING = object()


def _specs(n: int) -> list[dict]:
    """Runs whose values tie often, are NaN or None, mix types, or are missing."""
    rng = random.Random(22)
    specs = []
    for i in range(n):
        metrics = {"m0": rng.choice([0.1, 0.5, 0.5, 0.9, -1.0, math.nan, MISSING])}
        if rng.random() < 0.3:
            metrics["m1"] = rng.choice([0.2, 0.7])
        params = {"p0": rng.choice([1, 2, 2, "x", "y", None, MISSING]), "p1": rng.choice([0.25, 0.5, MISSING])}
        tags = {"t0": rng.choice(["dev", "prod", MISSING])}
        specs.append(
            {
                "name": f"run-{i:03d}",
                "experiment": "a" if i % 3 else "b",
                "metrics": {k: v for k, v in metrics.items() if v is not MISSING},
                "params": {k: v for k, v in params.items() if v is not MISSING},
                "tags": {k: v for k, v in tags.items() if v is not MISSING},
            }
        )
    return specs


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """``(store root, {run_id: spec})``: the runs written through the public API."""
    root = tmp_path_factory.mktemp("plans") / ".nbtrack"
    store = Store.open(root)
    by_id = {}
    for spec in _specs(N_RUNS):
        with nbtrack.start_run(
            spec["name"], experiment=spec["experiment"], params=spec["params"], tags=spec["tags"], store=store
        ) as run:
            run.log_metrics(spec["metrics"])
        by_id[run.run_id] = spec
    store.close()
    return root, by_id


@pytest.fixture(scope="module")
def stores(recorded, tmp_path_factory):
    """The same runs in two stores: with the indexes of migration 7, and a copy without them."""
    root, _ = recorded
    bare = tmp_path_factory.mktemp("bare") / ".nbtrack"
    shutil.copytree(root, bare)
    without = Store.open(bare)
    with without.transaction() as conn:
        for index in _schema.VALUE_INDEXES.values():
            conn.execute(f"DROP INDEX {index}")
    indexed = Store.open(root)
    yield {"indexed": indexed, "without indexes": without}
    indexed.close()
    without.close()


def _value(spec: dict, field: str) -> object:
    """What a run holds for ``metrics.k`` / ``params.k`` / ``tags.k`` as the store compares it (None for
    a missing name, a None param and a NaN metric)."""
    head, _, key = field.partition(".")
    value = spec[head].get(key)
    return None if isinstance(value, float) and math.isnan(value) else value


ORDERS = ["-metrics.m0", "metrics.m0", "-metrics.m1", "params.p0", "-params.p0", "-params.p1", "tags.t0", "-tags.t0"]


@pytest.mark.parametrize("order_by", ORDERS)
def test_the_full_order_is_the_one_computed_from_the_logged_values(recorded, stores, order_by):
    _, by_id = recorded
    descending = order_by.startswith("-")
    field = order_by.lstrip("-")
    ids = sorted(by_id, reverse=True)
    valued = [i for i in ids if _value(by_id[i], field) is not None]
    rest = [i for i in ids if _value(by_id[i], field) is None]
    # sorted() keeps ties in their input order (run id, descending) either way, as the store orders them
    ranked = sorted(
        valued, key=lambda i: (isinstance(_value(by_id[i], field), str), _value(by_id[i], field)), reverse=descending
    )
    expected = ranked + rest
    for store in stores.values():
        assert nbtrack.runs(order_by=order_by, store=store)["run_id"].tolist() == expected


PAGES = [(5, 0), (7, 3), (10, 95), (10, 150), (40, 200), (30, 239), (10, 240), (10, 1000), (None, 17), (1000, 0)]
WHERES = [None, "metrics.m1 > 0.5", "tags.t0 = 'prod' or params.p0 = 2", "name ~ '7'", "experiment = 'b'"]


@pytest.mark.parametrize(
    "order_by", [None, "name", "-metrics.m0", "metrics.m0", "params.p0", "-tags.t0", "-metrics.m0, name"]
)
@pytest.mark.parametrize("where", WHERES)
def test_a_page_is_the_slice_of_the_full_order_with_and_without_the_indexes(stores, order_by, where):
    for experiment in (None, "a"):
        full = nbtrack.runs(experiment, where, order_by, store=stores["without indexes"])["run_id"].tolist()
        for label, store in stores.items():
            assert nbtrack.runs(experiment, where, order_by, store=store)["run_id"].tolist() == full, label
            for limit, offset in PAGES:
                end = None if limit is None else offset + limit
                total, rows = nbtrack.list_runs(experiment, where, order_by, limit, offset, store=store)
                assert total == len(full) and [r["run_id"] for r in rows] == full[offset:end], (label, limit, offset)
            for limit, offset in [(7, 3), (None, 17)]:  # the DataFrame's pages are read the same way
                page = nbtrack.runs(experiment, where, order_by, limit, offset=offset, store=store)
                assert page["run_id"].tolist() == full[offset : None if limit is None else offset + limit], label


FILTERS = {
    "metrics.m0 > 0.4": lambda v: v("metrics.m0") is not None and v("metrics.m0") > 0.4,
    "metrics.m0 <= 0.5": lambda v: v("metrics.m0") is not None and v("metrics.m0") <= 0.5,
    "not metrics.m0 > 0.4": lambda v: not (v("metrics.m0") is not None and v("metrics.m0") > 0.4),
    "metrics.m0 in (0.1, 0.9)": lambda v: v("metrics.m0") in (0.1, 0.9),
    "metrics.m0 not in (0.1, 0.9)": lambda v: v("metrics.m0") is not None and v("metrics.m0") not in (0.1, 0.9),
    "metrics.m0 is null": lambda v: v("metrics.m0") is None,
    "params.p0 = 'x'": lambda v: v("params.p0") == "x",
    "params.p0 = 2": lambda v: v("params.p0") == 2 and not isinstance(v("params.p0"), str),
    "params.p0 != 'x'": lambda v: v("params.p0") is not None and v("params.p0") != "x",
    "params.p0 ~ '^[xy2]$'": lambda v: v("params.p0") is not None and str(v("params.p0")) in ("x", "y", "2"),
    "params.p0 is not null": lambda v: v("params.p0") is not None,
    "params.p1 >= 0.5 and tags.t0 = 'dev'": lambda v: (v("params.p1") or 0) >= 0.5 and v("tags.t0") == "dev",
    "tags.t0 = 'prod' or metrics.m1 > 0.5": lambda v: v("tags.t0") == "prod" or (v("metrics.m1") or 0) > 0.5,
    "not (tags.t0 = 'prod' or metrics.m1 > 0.5)": lambda v: (
        not (v("tags.t0") == "prod" or (v("metrics.m1") or 0) > 0.5)
    ),
}


@pytest.mark.parametrize("where", list(FILTERS))
def test_filters_select_the_runs_computed_from_the_logged_values(recorded, stores, where):
    _, by_id = recorded
    expected = sorted(i for i, spec in by_id.items() if FILTERS[where](lambda field, s=spec: _value(s, field)))
    for label, store in stores.items():
        assert sorted(nbtrack.runs(where=where, store=store)["run_id"]) == expected, label
        assert nbtrack.list_runs(where=where, limit=3, store=store)[0] == len(expected), label


def _vm_steps(store: Store, call) -> int:
    """SQLite virtual machine instructions a call executes (in tens): the work its statements do."""
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0

    store.conn.set_progress_handler(count, 10)
    try:
        call()
    finally:
        store.conn.set_progress_handler(None, 100)
    return steps[0]


@pytest.mark.parametrize("order_by", ["-metrics.m0", "-params.p0", "-tags.t0"])
def test_a_top_page_walks_the_index_instead_of_sorting_every_run(stores, order_by):
    indexed, without = (
        _vm_steps(store, lambda s=store: nbtrack.runs(order_by=order_by, limit=5, store=s))
        for store in (stores["indexed"], stores["without indexes"])
    )
    assert indexed * 4 < without, (indexed, without)


def test_a_deep_page_costs_an_index_walk_not_the_columns_of_every_run_before_it(stores):
    store = stores["indexed"]
    first = _vm_steps(store, lambda: nbtrack.list_runs(limit=10, offset=0, store=store))
    deep = _vm_steps(store, lambda: nbtrack.list_runs(limit=10, offset=220, store=store))
    whole = _vm_steps(store, lambda: nbtrack.runs(store=store))
    assert deep < 2 * first and deep < whole / 2, (first, deep, whole)


def test_migration_7_adds_the_value_indexes_to_an_older_store_and_can_run_again(tmp_path):
    fixture = Path(__file__).parent.parent / "fixtures" / "stores" / "schema-6"
    root = tmp_path / ".nbtrack"
    shutil.copytree(fixture, root)
    store = Store.open(root)
    indexes = {name for (name,) in store.query("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert set(_schema.VALUE_INDEXES.values()) <= indexes
    assert 7 in {version for (version,) in store.query("SELECT version FROM _migrations")}
    with store.transaction() as conn:  # idempotent: may land before or after migrations numbered higher
        _schema._value_indexes(conn)
    assert nbtrack.runs(order_by="-metrics.acc", limit=1, store=store)["name"].tolist() == ["fixture"]
    assert nbtrack.runs(where="metrics.acc > 0.5 and params.model = 'rf'", store=store)["name"].tolist() == ["fixture"]
