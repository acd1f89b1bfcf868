"""Changing runs after they ended (issue 16): tags, notes, archive and restore, on real SQLite stores;
and the same through the CLI (click's CliRunner)."""

from __future__ import annotations

import json
import sqlite3

import pytest

import nbtrack
from nbtrack.errors import InvalidValueError, RunNotFoundError, RunStillRunningError
from nbtrack.store import schema as _schema


def _run(name, acc, **kwargs):
    with nbtrack.start_run(name, params={"lr": acc / 10}, tags={"stage": "dev"}, **kwargs) as run:
        run.log_metric("acc", acc)
    return run.run_id


@pytest.fixture
def three(store):
    return {name: _run(name, acc) for name, acc in (("a", 0.7), ("b", 0.8), ("c", 0.9))}


def test_tags_set_and_removed_on_a_finished_run_are_queryable_at_once(three):
    tags = nbtrack.tag_run("b", {"reviewed": True, "owner": "ana"}, remove=["stage"])
    assert tags == {"reviewed": "True", "owner": "ana"}
    frame = nbtrack.runs(where="tags.owner = 'ana'")
    assert frame["name"].tolist() == ["b"] and frame["tags.reviewed"].tolist() == ["True"]
    assert nbtrack.runs(where="tags.stage = 'dev'")["name"].tolist() == ["c", "a"]
    assert nbtrack.get_run("b").tags == {"reviewed": "True", "owner": "ana"}
    # the rest of the summary is untouched: params and metrics read back exactly
    row = nbtrack.runs(where="name = 'b'").iloc[0]
    assert row["metrics.acc"] == 0.8 and row["params.lr"] == 0.08
    assert nbtrack.runs(order_by="-tags.owner", limit=1)["name"].tolist() == ["b"]


def test_tag_errors_name_the_fix(three, store):
    with pytest.raises(InvalidValueError, match="both set and removed"):
        nbtrack.tag_run("a", {"x": "1"}, remove=["x"])
    with pytest.raises(InvalidValueError, match="non-empty"):
        nbtrack.tag_run("a", {"": "1"})
    with pytest.raises(RunNotFoundError, match="nbtrack runs"):
        nbtrack.tag_run("nosuchrun", {"x": "1"})
    with nbtrack.start_run("live") as live:
        with pytest.raises(RunStillRunningError, match=r"run\.set_tags"):
            nbtrack.tag_run(live.run_id, {"x": "1"})
    assert nbtrack.get_run("a").tags == {"stage": "dev"}  # nothing half-written


def test_a_note_is_the_reserved_tag_and_can_be_cleared(three):
    assert nbtrack.set_note("a", "leaks the test fold\nrerun with group k-fold\n\n") == (
        "leaks the test fold\nrerun with group k-fold"
    )
    record = nbtrack.get_run("a")
    assert record.note == "leaks the test fold\nrerun with group k-fold"
    assert record.tags["nbtrack.note"] == record.note and record.tags["stage"] == "dev"
    assert nbtrack.runs(where="tags.nbtrack.note ~ 'leak'")["name"].tolist() == ["a"]
    assert nbtrack.set_note("a", "  ") is None
    assert nbtrack.get_run("a").note is None and "nbtrack.note" not in nbtrack.get_run("a").tags
    with pytest.raises(InvalidValueError, match="shorten it"):
        nbtrack.set_note("a", "x" * 9000)


def test_archived_runs_are_hidden_listed_on_request_and_restored(three):
    archived = nbtrack.archive_runs(["a", "b"])
    assert archived == [three["a"], three["b"]]
    assert nbtrack.runs()["name"].tolist() == ["c"]
    assert "archived" not in nbtrack.runs().columns
    listed = nbtrack.runs(archived=True)
    assert listed["name"].tolist() == ["c", "b", "a"]
    assert listed["archived"].isna().tolist() == [True, False, False]
    assert nbtrack.runs(archived="only", order_by="-metrics.acc")["name"].tolist() == ["b", "a"]
    assert nbtrack.runs(where="metrics.acc > 0.75")["name"].tolist() == ["c"]
    assert nbtrack.runs(order_by="-metrics.acc", limit=5)["name"].tolist() == ["c"]
    total, rows = nbtrack.list_runs(archived=True)
    assert total == 3 and [r["archived"] is None for r in rows] == [True, False, False]
    assert nbtrack.list_runs()[0] == 1
    assert nbtrack.get_run("a").archived is not None  # still readable by id or name
    assert nbtrack.archive_runs("a") == []  # already archived: keeps its first time, not in the result
    assert nbtrack.restore_runs(archived) == archived
    assert nbtrack.runs()["name"].tolist() == ["c", "b", "a"]
    assert nbtrack.get_run("a").archived is None
    assert nbtrack.restore_runs("a") == []


def test_archiving_a_parent_archives_its_children_and_restore_undoes_it(store):
    with nbtrack.start_run("notebook") as parent:
        with nbtrack.start_run("cell", parent=parent) as child:
            pass
    other = _run("other", 0.5)
    assert nbtrack.archive_runs("notebook") == [parent.run_id, child.run_id]
    assert nbtrack.runs()["run_id"].tolist() == [other]
    assert nbtrack.restore_runs("notebook") == [parent.run_id, child.run_id]
    assert len(nbtrack.runs()) == 3


def test_archive_refuses_bad_input_and_writes_nothing(three):
    with pytest.raises(InvalidValueError, match="at least one run"):
        nbtrack.archive_runs([])
    with pytest.raises(RunNotFoundError):
        nbtrack.archive_runs(["a", "nosuchrun"])
    assert len(nbtrack.runs()) == 3
    with pytest.raises(InvalidValueError, match="'only'"):
        nbtrack.runs(archived="yes")


def test_permanent_delete_takes_archived_runs_only(three, store):
    from nbtrack.editing import delete_archived

    with pytest.raises(InvalidValueError, match="archive it first"):
        delete_archived(["a"])
    nbtrack.archive_runs("a")
    assert delete_archived(["a"]) == [three["a"]]
    assert nbtrack.runs(archived=True)["name"].tolist() == ["c", "b"]
    with pytest.raises(RunNotFoundError):
        nbtrack.get_run(three["a"])


def test_migration_9_is_idempotent_and_an_old_store_lists_every_run(three, store, tmp_path):
    conn = sqlite3.connect(store.root / "nbtrack.db")
    migration = next(m for m in _schema.MIGRATIONS if m[0] == 9)
    migration[2](conn)  # once more: the column and index exist, nothing fails
    assert [r[1] for r in conn.execute("PRAGMA index_list(runs)") if r[1] == "runs_archived"]
    conn.close()
    nbtrack.archive_runs("a")
    assert len(nbtrack.runs()) == 2


def test_cli_tag_note_archive_restore(cli, three):
    assert "owner=ana, stage=review" in cli("tag", "b", "stage=review", "owner=ana")
    assert "stage=review" in cli("tag", "b", "--remove", "owner") and nbtrack.get_run("b").tags == {"stage": "review"}
    assert "KEY=VALUE" in cli("tag", "b", "novalue", code=2)
    assert "--remove" in cli("tag", "b", code=2)
    assert "set" in cli("note", "b", "needs a second seed")
    assert cli("note", "b").strip() == "needs a second seed"
    out = cli("archive", "a", "b")
    assert "archived 2 run(s)" in out and f"nbtrack restore {three['a'][-8:]} {three['b'][-8:]}" in out
    shown = cli("show", "b")
    assert "archived" in shown and f"nbtrack restore {three['b'][-8:]}" in shown
    assert "note       needs a second seed" in shown
    listed = cli("runs", "--width", "200")
    assert three["c"][-8:] in listed and three["a"][-8:] not in listed
    marked = cli("runs", "--archived", "--width", "200")
    assert "archived" in marked and three["a"][-8:] in marked
    only = json.loads(cli("runs", "--only-archived", "--format", "json"))
    assert sorted(r["name"] for r in only) == ["a", "b"] and all(r["archived"] for r in only)
    assert "restored 2 run(s)" in cli("restore", "a", "b")
    assert len(json.loads(cli("runs", "--format", "json"))) == 3
    assert "removed" in cli("note", "b", "--clear")
    assert "nbtrack runs" in cli("archive", "nosuchrun", code=1)


def test_cli_help_names_the_fix_and_examples(cli):
    for command in ("tag", "note", "archive", "restore"):
        assert "Example:" in cli(command, "--help")


def test_experiment_counts_leave_archived_runs_out(three):
    assert nbtrack.experiments()["runs"].tolist() == [3]
    nbtrack.archive_runs(["a", "b"])
    assert nbtrack.experiments()["runs"].tolist() == [1]
    nbtrack.restore_runs(["a"])
    assert nbtrack.experiments()["runs"].tolist() == [2]


def test_merge_carries_tags_notes_and_archive_state(three, store, tmp_path):
    from nbtrack.store import Store

    other = Store.open(tmp_path / "laptop" / ".nbtrack")
    nbtrack.merge(store, into=other)
    nbtrack.tag_run("a", {"stage": "review"})
    nbtrack.set_note("a", "check the folds")
    nbtrack.archive_runs("b")
    report = nbtrack.merge(store, into=other)
    assert report.runs_updated == 2
    copy = nbtrack.get_run(three["a"], store=other)
    assert copy.tags == {"stage": "review", "nbtrack.note": "check the folds"}
    assert nbtrack.runs(store=other)["name"].tolist() == ["c", "a"]
    assert nbtrack.runs(where="tags.stage = 'review'", store=other)["name"].tolist() == ["a"]
    nbtrack.restore_runs("b")
    nbtrack.merge(store, into=other)
    assert nbtrack.runs(store=other)["name"].tolist() == ["c", "b", "a"]
