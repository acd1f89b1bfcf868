"""Merging stores: every core table, blobs and data versions; idempotent."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

import nbtrack
from nbtrack.cli import main
from nbtrack.store import Store
from nbtrack.store.merge import merge
from nbtrack.tracking import start_run


def _table_counts(store: Store) -> dict:
    tables = [
        "experiments",
        "runs",
        "params",
        "metrics",
        "latest_metrics",
        "tags",
        "artifacts",
        "environments",
        "run_data",
        "datasets",
        "data_versions",
        "data_chunks",
    ]
    return {t: store.query(f"SELECT COUNT(*) FROM {t}")[0][0] for t in tables}


@pytest.fixture
def other(tmp_path):
    other = Store.open(tmp_path / "other" / ".nbtrack")
    frame = pd.DataFrame({"x": [1, 2, 3], "y": ["a", "b", "c"]})
    with start_run("remote", "cluster", params={"lr": 0.1}, tags={"stage": "dev"}, store=other) as run:
        run.log_metric("loss", 0.5)
        run.log_metric("loss", 0.25)
        run.log_text("notes.txt", "from the cluster")
        version = nbtrack.snapshot(frame, "iris", store=other)
        run.record_data("input", version.fingerprint, name="frame", dataset="iris", version=version.version)
    return other


def test_merge_copies_every_table_and_is_idempotent(store, other):
    with start_run("local", "cluster", store=store) as run:
        run.log_metric("loss", 1.0)
    first = merge(other, into=store)
    assert (first.runs_added, first.data_versions_added) == (1, 1) and first.blobs_copied >= 2
    counts = _table_counts(store)
    assert counts["experiments"] == 1 and counts["runs"] == 2
    record = nbtrack.get_run(other.query("SELECT run_id FROM runs")[0][0])
    assert record.metrics["value"].tolist() == [0.5, 0.25]  # the whole series, not just the latest
    assert record.params == {"lr": 0.1} and record.tags == {"stage": "dev"} and record.latest["loss"] == 0.25
    assert nbtrack.load_artifact(record.run_id, "notes.txt") == b"from the cluster"
    assert nbtrack.load("iris", 1, store=store)["y"].tolist() == ["a", "b", "c"]
    again = merge(other.root, into=store)
    assert (again.runs_added, again.runs_updated, again.blobs_copied, again.data_versions_added) == (0, 0, 0, 0)
    assert _table_counts(store) == counts


def test_a_later_update_replaces_the_run_and_clashing_versions_are_renumbered(store, other):
    nbtrack.snapshot(pd.DataFrame({"x": [9]}), "iris", store=store)  # our iris@1 is different data
    merge(other, into=store)
    assert store.query("SELECT version FROM data_versions WHERE dataset = 'iris' ORDER BY version") == [(1,), (2,)]
    run_id = other.query("SELECT run_id FROM runs")[0][0]
    assert {v for (v,) in store.query("SELECT version FROM run_data WHERE run_id = ?", (run_id,))} == {2}
    with other.transaction() as conn:  # the run changes in the other store later
        conn.execute("UPDATE runs SET name = 'renamed', updated = updated + 10 WHERE run_id = ?", (run_id,))
    report = merge(other, into=store)
    assert report.runs_updated == 1
    assert store.query("SELECT name FROM runs WHERE run_id = ?", (run_id,)) == [("renamed",)]
    assert nbtrack.get_run(run_id).metrics["value"].tolist() == [0.5, 0.25]  # replaced, not duplicated


def test_merge_cli(store, other):
    result = CliRunner().invoke(main, ["merge", str(other.root.parent)])
    assert result.exit_code == 0, result.output
    assert "1 runs added" in result.output
    result = CliRunner().invoke(main, ["merge", str(store.root)])
    assert result.exit_code == 1 and "into itself" in result.output


def test_long_merges_show_a_progress_bar(store, tmp_path, capsys):
    from nbtrack.store import Store
    from nbtrack.store.merge import merge

    other = Store.open(tmp_path / "other" / ".nbtrack")
    with nbtrack.start_run("many blobs", store=other) as run:
        for i in range(25):
            run.log_artifact(f"blob {i}".encode(), f"b{i}.txt")
    merge(other, into=store)
    assert "merge: copy blobs" in capsys.readouterr().err
    assert len(nbtrack.get_run(run.run_id, store=store).artifacts) == 25
