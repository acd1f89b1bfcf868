import json

import nbtrack


def test_init_creates_a_store(cli, tmp_path, monkeypatch):
    monkeypatch.delenv("NBTRACK_HOME", raising=False)
    out = cli("init", str(tmp_path / "proj"))
    assert (tmp_path / "proj" / ".nbtrack" / "nbtrack.db").is_file() and "store ready" in out


def test_runs_show_compare_in_all_formats(cli, store):
    with nbtrack.start_run("a", params={"lr": 0.1}) as a:
        a.log_metric("acc", 0.8)
    with nbtrack.start_run("b", params={"lr": 0.2}) as b:
        b.log_metric("acc", 0.9)
    table = cli("runs", "--order-by", "-metrics.acc")
    assert table.index(b.short_id) < table.index(a.short_id)
    rows = json.loads(cli("runs", "--format", "json", "--where", "params.lr > 0.15"))
    assert [r["name"] for r in rows] == ["b"] and rows[0]["metrics.acc"] == 0.9
    assert cli("runs", "--format", "csv", "-n", "1").splitlines()[0].startswith("run_id,name")
    shown = cli("show", b.short_id)
    assert "lr = 0.2" in shown and "acc = 0.9" in shown
    assert json.loads(cli("show", b.short_id, "--format", "json"))["params"] == {"lr": 0.2}
    compared = cli("compare", a.short_id, b.short_id)
    assert "params.lr" in compared and "True" in compared


def test_errors_exit_non_zero_with_the_fix(cli, store):
    with nbtrack.start_run():
        pass
    assert "position" in cli("runs", "--where", "metrics.acc >", code=1)
    assert "nbtrack runs" in cli("show", "zzzzzzzz", code=1)


def test_missing_store_names_init(cli, tmp_path, monkeypatch):
    monkeypatch.delenv("NBTRACK_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    assert "nbtrack init" in cli("runs", code=1)


def test_fsck_gc_and_delete(cli, store):
    with nbtrack.start_run() as run:
        digest = run.log_artifact(b"abc", "a.bin")
    assert "clean" in cli("fsck")
    store.blobs.path(digest).unlink()
    assert "NOT clean" in cli("fsck", code=1)
    assert "removed 1 artifact row" in cli("fsck", "--repair")
    cli("delete", run.short_id, "--yes")
    assert nbtrack.runs().empty
    assert "removed 0 blob" in cli("gc")


def test_demo_records_a_leaderboard(cli, store):
    out = cli("demo", "--runs", "2", "--no-notebooks")
    assert "Recorded 2 runs" in out and "metrics.accuracy" in out and "Leaderboard" in out
    assert len(nbtrack.runs(experiment="demo-wine")) == 2
