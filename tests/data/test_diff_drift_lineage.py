"""diff, drift and lineage with known answers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import nbtrack
from nbtrack.data import DatasetNotFoundError


@pytest.fixture
def people(store):
    a = pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "name": ["ann", "bob", "cy", "dee"],
            "age": [30, 40, 50, 60],
            "city": pd.Categorical(["x", "y", "x", "y"]),
        }
    )
    b = pd.DataFrame(
        {
            "id": [1, 2, 4, 5],
            "name": ["ann", "bobby", "dee", "eve"],
            "age": [31, 40, 60, 25],
            "score": [1.0, 2.0, 3.0, 4.0],
        }
    )
    nbtrack.snapshot(a, "people", key="id", store=store)
    nbtrack.snapshot(b, "people", key="id", store=store)
    return a, b


def test_keyed_diff_knows_added_removed_and_changed_cells(people, store):
    d = nbtrack.diff("people", 1, 2, store=store)
    assert d.schema["added"] == ["score"] and d.schema["removed"] == ["city"]
    assert d.rows["mode"] == "key"
    assert (d.rows["added"], d.rows["removed"], d.rows["changed"], d.rows["unchanged"]) == (1, 1, 2, 1)
    assert d.rows["changed_columns"] == {"name": 1, "age": 1}
    changes = {(c["key"], c["column"]): (c["before"], c["after"]) for c in d.rows["examples"]["changed"]}
    assert changes == {(2, "name"): ("bob", "bobby"), (1, "age"): (30, 31)}
    assert d.rows["examples"]["added"] == [5] and d.rows["examples"]["removed"] == [3]
    assert d.stats["age"]["a"]["mean"] == 45.0 and d.stats["age"]["b"]["min"] == 25
    assert d.stats["city"]["b"] is None and d.stats["city"]["a"]["top"][0][1] == 2
    json.dumps(d.to_dict())  # JSON-ready for the REST server
    frame = d.to_frame()
    assert set(frame["column"]) == {"id", "name", "age", "city", "score"}
    assert "+1 -1 ~2 changed" in d.summary()


def test_dtype_changes_and_multiset_rows_without_key(store):
    nbtrack.snapshot(pd.DataFrame({"a": [1, 2, 2, 3], "b": ["x", "y", "y", "z"]}), "bag", store=store)
    nbtrack.snapshot(pd.DataFrame({"a": [1.0, 2.0, 4.0], "b": ["x", "y", "w"]}), "bag", store=store)
    d = nbtrack.diff("bag", 1, 2, store=store)
    assert d.schema["dtype_changes"] == [{"column": "a", "before": "int64", "after": "float64"}]
    assert d.rows["mode"] == "multiset"
    # int 1 vs float 1.0 hash differently, so compare on an unchanged-dtype pair too
    nbtrack.snapshot(pd.DataFrame({"a": [1, 2, 4], "b": ["x", "y", "w"]}), "bag", store=store)
    d = nbtrack.diff("bag", 1, 3, store=store)
    assert (d.rows["added"], d.rows["removed"], d.rows["unchanged"]) == (1, 2, 2)


def test_html_view_escapes_everything(store):
    nasty = "<script>alert(1)</script>"
    nbtrack.snapshot(pd.DataFrame({nasty: ["<b>", "y"], "id": [1, 2]}), "html", key="id", store=store)
    nbtrack.snapshot(pd.DataFrame({nasty: ["<i>", "y"], "id": [1, 2]}), "html", key="id", store=store)
    page = nbtrack.diff("html", 1, 2, store=store)._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;" in page and "&lt;i&gt;" in page


def test_psi_and_ks_flag_a_shifted_column_and_not_a_stable_one(store):
    rng = np.random.default_rng(0)
    n = 20_000
    ref = pd.DataFrame(
        {
            "stable": rng.normal(size=n),
            "shifted": rng.normal(size=n),
            "cat": rng.choice(["a", "b", "c"], n, p=[0.6, 0.3, 0.1]),
        }
    )
    new = pd.DataFrame(
        {
            "stable": rng.normal(size=n),
            "shifted": rng.normal(loc=1.0, size=n),
            "cat": rng.choice(["a", "b", "c"], n, p=[0.2, 0.3, 0.5]),
        }
    )
    nbtrack.snapshot(ref, "feat", store=store)
    nbtrack.snapshot(new, "feat", store=store)
    d = nbtrack.diff("feat", 1, 2, store=store)
    assert d.drift["stable"]["psi"] < 0.02 and d.drift["stable"]["ks_pvalue"] > 0.001
    assert d.drift["shifted"]["psi"] > 0.5 and d.drift["shifted"]["ks"] > 0.3 and d.drift["shifted"]["ks_pvalue"] < 1e-6
    assert d.drift["cat"]["kind"] == "categorical" and d.drift["cat"]["psi"] > 0.5
    report = nbtrack.drift("feat", 2, against=1, threshold=0.2, store=store)
    assert report.flagged == ["shifted", "cat"] and not report.ok
    assert nbtrack.drift("feat", 1, against="feat@1", store=store).ok


def test_drift_against_a_run_uses_the_version_it_read(store):
    rng = np.random.default_rng(1)
    train = pd.DataFrame({"x": rng.normal(size=5000)})
    v1 = nbtrack.snapshot(train, "train", store=store)
    with nbtrack.start_run("fit", store=store) as run:
        run.record_data("input", nbtrack.data.fingerprint(train), name="train_df", rows=5000, columns=1)
    nbtrack.snapshot(pd.DataFrame({"x": rng.normal(loc=2, size=5000)}), "train", store=store)
    report = nbtrack.drift("train", against=run.run_id, store=store)
    assert report.reference == {"dataset": "train", "version": v1.version, "run_id": run.run_id}
    assert report.flagged == ["x"]
    with nbtrack.start_run("blind", store=store) as blind:
        blind.record_data("input", "0" * 32, name="mystery")
    with pytest.raises(DatasetNotFoundError, match="unversioned"):
        nbtrack.drift("train", against=blind.run_id, store=store)


def test_lineage_links_runs_and_versions_both_ways(store):
    raw = pd.DataFrame({"a": [1, 2, 3]})
    nbtrack.snapshot(raw, "raw", store=store)
    with nbtrack.start_run("prep", store=store) as prep:
        prep.record_data("input", nbtrack.data.fingerprint(raw), name="raw")
        nbtrack.snapshot(raw * 2, "clean", store=store)
    with nbtrack.start_run("train", store=store) as train:
        train.record_data("input", nbtrack.data.fingerprint(raw * 2), name="clean_df")
        train.record_data("input", "f" * 32, name="unknown")
    g = nbtrack.lineage("clean@1", store=store)
    ids = {n["id"] for n in g.nodes}
    assert {"version:raw@1", f"run:{prep.run_id}", "version:clean@1", f"run:{train.run_id}", f"data:{'f' * 32}"} <= ids
    edges = {(e["source"], e["target"], e["kind"]) for e in g.edges}
    assert ("version:raw@1", f"run:{prep.run_id}", "input") in edges
    assert (f"run:{prep.run_id}", "version:clean@1", "output") in edges
    assert ("version:clean@1", f"run:{train.run_id}", "input") in edges
    assert g.node("version:clean@1")["kind"] == "version"
    assert g.node(f"run:{prep.run_id}")["name"] == "prep"  # the lineage view shows it as the node's title
    json.dumps(g.to_dict())
    from_run = nbtrack.lineage(train.run_id[-8:], store=store)
    assert from_run.root == f"run:{train.run_id}" and "version:raw@1" in {n["id"] for n in from_run.nodes}
    assert nbtrack.lineage(dataset="clean", store=store).root == "version:clean@1"
    assert nbtrack.lineage(run=prep.run_id, store=store).root == f"run:{prep.run_id}"
    # a keyed delta of a version a run wrote is reached from the run (parent edges are walked both ways)
    base = pd.DataFrame({"id": range(20), "x": [i * 0.5 for i in range(20)]})
    with nbtrack.start_run("make", store=store) as make:
        nbtrack.snapshot(base, "keyed", key="id", store=store)
    changed = base.assign(x=[x + (1.0 if i < 3 else 0.0) for i, x in enumerate(base["x"])])
    assert nbtrack.snapshot(changed, "keyed", key="id", store=store).parent == 1
    walked = nbtrack.lineage(run=make.run_id, store=store)
    assert ("version:keyed@1", "version:keyed@2", "parent") in {
        (e["source"], e["target"], e["kind"]) for e in walked.edges
    }
    json.dumps(nbtrack.data.list_versions("clean", store=store))
    json.dumps(nbtrack.data.list_datasets(store=store))


def test_blockwise_ks_matches_scipy_and_psi_is_zero_for_identical_samples():
    from scipy.stats import ks_2samp

    from nbtrack.data._compare import ks, psi_numeric

    rng = np.random.default_rng(7)
    a = np.sort(rng.normal(size=3001))
    b = np.sort(np.round(rng.normal(loc=0.1, size=2000), 1))  # ties
    expected = ks_2samp(a, b, method="asymp")
    statistic, pvalue = ks(a, b, block=256)
    assert statistic == pytest.approx(expected.statistic) and pvalue == pytest.approx(expected.pvalue)
    assert psi_numeric(a, a) == pytest.approx(0.0)


def test_multiset_rows_over_many_dtypes_with_nulls(store):
    a = pd.DataFrame(
        {
            "f": [1.0, np.nan, -0.0, 2.5, 3.0],
            "i": pd.array([1, None, 3, 4, 5], dtype="Int64"),
            "s": pd.array(["x", None, "z", "w", "v"], dtype="str"),
            "c": pd.Categorical(["p", None, "q", "p", "q"]),
            "t": pd.to_datetime(["2024-01-01", None, "2024-01-03", "2024-01-04", "2024-01-05"]),
        }
    )
    b = pd.concat(
        [
            a.iloc[[0, 1, 2]],
            pd.DataFrame(
                {
                    "f": [0.0, 9.0],
                    "i": pd.array([3, 7], dtype="Int64"),
                    "s": pd.array(["z", "new"], dtype="str"),
                    "c": pd.Categorical(["q", "r"]),
                    "t": pd.to_datetime(["2024-01-03", "2025-01-01"]),
                }
            ),
        ],
        ignore_index=True,
    )
    b["c"] = b["c"].astype(pd.CategoricalDtype(["p", "q", "r"]))
    d = nbtrack.data.compare(a, b)
    # b = a's rows 0, 1, 2, then a copy of row 2 (with +0.0 for -0.0), then a new row
    assert (d.rows["added"], d.rows["removed"], d.rows["unchanged"]) == (2, 2, 3)
    d = nbtrack.data.compare(a, a.iloc[::-1].reset_index(drop=True))
    assert (d.rows["added"], d.rows["removed"]) == (0, 0)
