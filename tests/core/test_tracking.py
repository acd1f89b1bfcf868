import math
import os

import pytest

import nbtrack
from nbtrack.errors import InvalidValueError, NoActiveRunError, UntrustedArtifactError


def test_a_run_records_params_metrics_tags_and_ends_ok(store):
    with nbtrack.start_run("baseline", experiment="exp", params={"lr": 0.1, "depth": 3}, tags={"stage": "dev"}) as run:
        for step in range(5):
            nbtrack.log_metric("loss", 1.0 / (step + 1))
        nbtrack.log_metric("acc", 0.9)
        run.log_param("model", "rf")
    record = nbtrack.get_run(run.run_id)
    assert record.status == "ok" and record.experiment == "exp" and record.name == "baseline"
    assert record.params == {"lr": 0.1, "depth": 3, "model": "rf"}
    assert record.latest == {"acc": 0.9, "loss": 0.2}
    assert record.metric("loss").tolist() == [1.0, 0.5, 1 / 3, 0.25, 0.2]
    assert record.tags == {"stage": "dev"}
    assert record.duration_s >= 0 and record.end >= record.start


def test_param_types_round_trip_exactly(store):
    params = {
        "i": 3,
        "f": 0.5,
        "s": "rf",
        "b": True,
        "n": None,
        "l": [1, "a", None],
        "d": {"x": [1.5]},
        "big": 2**70,
        "nan": float("nan"),
    }
    with nbtrack.start_run(params=params) as run:
        pass
    got = nbtrack.get_run(run.run_id).params
    assert math.isnan(got.pop("nan"))
    expected = dict(params)
    expected.pop("nan")
    assert got == expected
    assert type(got["b"]) is bool and type(got["i"]) is int and type(got["f"]) is float


def test_nan_and_inf_metrics_are_preserved(store):
    with nbtrack.start_run() as run:
        run.log_metric("nan", float("nan"))
        run.log_metric("pinf", float("inf"))
        run.log_metric("ninf", float("-inf"))
    record = nbtrack.get_run(run.run_id)
    assert math.isnan(record.latest["nan"]) and record.latest["pinf"] == math.inf and record.latest["ninf"] == -math.inf
    frame = nbtrack.runs()
    assert math.isnan(frame["metrics.nan"][0]) and frame["metrics.pinf"][0] == math.inf


def test_numpy_scalars_are_accepted(store):
    np = pytest.importorskip("numpy")
    with nbtrack.start_run(params={"n": np.int64(4)}) as run:
        run.log_metric("acc", np.float32(0.5))
    record = nbtrack.get_run(run.run_id)
    assert record.params["n"] == 4 and record.latest["acc"] == 0.5


@pytest.mark.parametrize("bad", [object(), {1, 2}, [object()], {"x": float("nan")}])
def test_params_that_cannot_be_stored_exactly_are_refused_before_anything_is_written(store, bad):
    with pytest.raises(InvalidValueError, match="cannot be stored exactly"):
        nbtrack.start_run(params={"p": bad})
    assert nbtrack.runs().empty


def test_huge_params_and_non_numeric_metrics_are_refused(store):
    with nbtrack.start_run() as run:
        with pytest.raises(InvalidValueError, match="artifact"):
            run.log_param("p", "x" * 100_000)
        with pytest.raises(InvalidValueError, match="real number"):
            run.log_metric("m", "high")
        with pytest.raises(InvalidValueError, match="non-empty"):
            run.log_metric("", 1.0)
    assert nbtrack.get_run(run.run_id).status == "ok"


def test_exceptions_mark_the_run_failed_and_still_propagate(store):
    with pytest.raises(ZeroDivisionError), nbtrack.start_run("boom") as run:
        run.log_metric("before", 1)
        1 / 0
    record = nbtrack.get_run(run.run_id)
    assert record.status == "failed"
    assert record.error["type"] == "ZeroDivisionError" and "1 / 0" in record.error["traceback"]
    assert record.latest == {"before": 1.0}


def test_keyboard_interrupt_marks_the_run_interrupted(store):
    with pytest.raises(KeyboardInterrupt), nbtrack.start_run() as run:
        raise KeyboardInterrupt
    assert nbtrack.get_run(run.run_id).status == "interrupted"


def test_nested_runs_are_children(store):
    with nbtrack.start_run("parent", experiment="e") as parent:
        with nbtrack.start_run("child") as child:
            nbtrack.log_metric("x", 1)
        nbtrack.log_metric("y", 2)
    assert nbtrack.get_run(child.run_id).parent_id == parent.run_id
    assert nbtrack.get_run(child.run_id).experiment == "e"
    assert nbtrack.get_run(parent.run_id).children == [child.run_id]
    assert nbtrack.get_run(parent.run_id).latest == {"y": 2.0}


def test_logging_outside_a_run_names_the_fix(store):
    with pytest.raises(NoActiveRunError, match="start_run"):
        nbtrack.log_metric("x", 1)


def test_rerunning_makes_new_runs(store):
    for _ in range(3):
        with nbtrack.start_run("same name", params={"a": 1}):
            nbtrack.log_metric("m", 1)
    assert len(nbtrack.runs()) == 3


def test_artifacts_figures_and_models(store, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.linear_model import LogisticRegression

    (tmp_path / "notes.txt").write_text("hello")
    model = LogisticRegression().fit([[0], [1], [2], [3]], [0, 0, 1, 1])
    figure = plt.figure()
    plt.plot([1, 2, 3])
    with nbtrack.start_run() as run:
        file_hash = run.log_artifact(tmp_path / "notes.txt")
        run.log_figure(figure)
        run.log_model(model, "clf")
    artifacts = {a["name"]: a for a in nbtrack.get_run(run.run_id).artifacts}
    assert artifacts["notes.txt"]["hash"] == file_hash and artifacts["notes.txt"]["media_type"] == "text/plain"
    assert artifacts["figure-1.png"]["media_type"] == "image/png"
    assert nbtrack.load_artifact(run.run_id, "figure-1.png")[:8] == b"\x89PNG\r\n\x1a\n"
    assert artifacts["clf"]["meta"]["class"].endswith("LogisticRegression")
    with pytest.raises(UntrustedArtifactError, match="trusted=True"):
        nbtrack.load_artifact(run.run_id, "clf")
    loaded = nbtrack.load_artifact(run.run_id, "clf", trusted=True)
    assert loaded.predict([[3]]).tolist() == [1]


def test_environment_is_recorded(store):
    with nbtrack.start_run() as run:
        pass
    env = nbtrack.get_run(run.run_id).environment
    assert env["python"].count(".") == 2 and "pandas" in env["packages"]
    assert "git" in env


def test_git_commit_and_dirty_diff_are_recorded(tmp_path, monkeypatch):
    import subprocess

    from nbtrack import environment

    repo = tmp_path / "repo"
    repo.mkdir()
    run = lambda *a: subprocess.run(["git", *a], cwd=repo, check=True, capture_output=True)
    run("init", "-q", "-b", "main")
    (repo / "train.py").write_text("lr = 0.1\n")
    run("add", "train.py")
    run("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    (repo / "train.py").write_text("lr = 0.2\n")
    state = environment.git_state(str(repo))
    assert state["branch"] == "main" and len(state["commit"]) == 40
    assert state["dirty"] and "+lr = 0.2" in state["diff"]


def test_run_left_running_by_a_dead_process_shows_crashed(store):
    import subprocess
    import sys

    code = "import nbtrack, os\nrun = nbtrack.start_run('doomed')\nrun.flush()\nos._exit(0)\n"
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ})
    frame = nbtrack.runs()
    assert frame["status"].tolist() == ["crashed"]
    assert nbtrack.runs(where="status = 'crashed'")["name"].tolist() == ["doomed"]


def test_short_ids_and_prefixes_resolve(store):
    from nbtrack.errors import RunNotFoundError

    with nbtrack.start_run() as run:
        pass
    assert nbtrack.get_run(run.short_id).run_id == run.run_id
    assert nbtrack.get_run(run.run_id[:12]).run_id == run.run_id
    with pytest.raises(RunNotFoundError, match="nbtrack runs"):
        nbtrack.get_run("zzzzzzzz")
    with pytest.raises(RunNotFoundError):
        nbtrack.get_run("'; drop table runs; --")


def test_run_ids_sort_by_time_and_are_unique():
    from nbtrack.store.ids import new_run_id

    ids = [new_run_id(now=1_700_000_000 + i) for i in range(100)]
    assert ids == sorted(ids)
    assert len({new_run_id() for _ in range(10_000)}) == 10_000


def test_compare_puts_differing_rows_first(store):
    with nbtrack.start_run(params={"lr": 0.1, "seed": 1}) as a:
        a.log_metric("acc", 0.8)
    with nbtrack.start_run(params={"lr": 0.2, "seed": 1}) as b:
        b.log_metric("acc", 0.9)
    table = nbtrack.compare([a.run_id, b.short_id])
    assert list(table.columns) == [a.short_id, b.short_id, "differs"]
    assert table.index[-1] == "params.seed" and not table.loc["params.seed", "differs"]
    assert table.loc["metrics.acc", b.short_id] == 0.9


def test_delete_run_and_gc_free_blobs(store):
    with nbtrack.start_run() as run:
        digest = run.log_artifact(b"payload", "p.bin")
    nbtrack.delete_run(run.run_id)
    assert nbtrack.runs().empty
    assert store.blobs.exists(digest)
    report = nbtrack.gc(grace_s=0)
    assert report.removed_blobs == 1 and not store.blobs.exists(digest)


def test_fsck_finds_and_repairs_missing_and_corrupt_blobs(store):
    with nbtrack.start_run() as run:
        lost = run.log_artifact(b"one", "one.bin")
        damaged = run.log_artifact(b"two", "two.bin")
    store.blobs.path(lost).unlink()
    store.blobs.path(damaged).write_bytes(b"tampered")
    report = nbtrack.fsck()
    assert not report.clean
    assert {h for _, h in report.missing} == {lost} and {h for _, h in report.corrupt} == {damaged}
    assert nbtrack.fsck(repair=True).repaired_rows == 2
    assert nbtrack.fsck().clean


def test_installed_packages_match_what_importlib_metadata_reports():
    # read from dist-info folder names for speed: must name the same distributions and versions
    import re
    from importlib import metadata

    from nbtrack import environment

    expected = {}
    for dist in metadata.distributions():
        if dist.metadata.get("Name"):
            expected.setdefault(re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower(), dist.version)
    assert environment.installed_packages() == dict(sorted(expected.items()))
    assert "scikit-learn" in expected and "jupyter-server" in expected


def test_a_stale_environment_is_refreshed_off_the_critical_path(monkeypatch, tmp_path):
    import threading
    import time as _time

    from nbtrack import environment

    calls = []

    def slow_git(cwd):
        calls.append(cwd)
        _time.sleep(0.5)
        return {"commit": f"c{len(calls)}"}

    monkeypatch.setattr(environment, "git_state", slow_git)
    monkeypatch.setattr(environment, "REFRESH_S", 0.0)
    monkeypatch.setattr(environment, "_cache", {})
    folder = str(tmp_path)
    first = environment.capture(folder)  # nothing cached: read now
    assert first["git"] == {"commit": "c1"}
    started = _time.perf_counter()
    second = environment.capture(folder)  # stale: the cached one at once, a refresh in the background
    assert _time.perf_counter() - started < 0.25 and second is first
    for thread in threading.enumerate():
        if thread.name == "nbtrack-environment":
            thread.join()
    assert environment._cache[folder][1]["git"] == {"commit": "c2"} and len(calls) == 2


def test_each_run_records_who_made_it_and_queries_filter_on_it(store, monkeypatch, cli):
    monkeypatch.setenv("NBTRACK_USER", "alice@example.org")
    with nbtrack.start_run("by-alice"):
        pass
    monkeypatch.setenv("NBTRACK_USER", "bob")
    with nbtrack.start_run("by-bob"):
        pass
    assert nbtrack.runs(where="user = 'alice@example.org'")["name"].tolist() == ["by-alice"]
    assert nbtrack.get_run("by-bob").user == "bob"
    assert "user       bob on " in cli("show", "by-bob")


def test_without_nbtrack_user_the_user_is_gits_or_the_os_users(monkeypatch):
    import getpass

    from nbtrack import environment

    monkeypatch.delenv("NBTRACK_USER", raising=False)
    monkeypatch.setattr(environment, "_user", [])
    monkeypatch.setattr(environment, "_git_user", lambda: None)
    assert environment.user() == getpass.getuser()
    monkeypatch.setattr(environment, "_user", [])
    monkeypatch.setattr(environment, "_git_user", lambda: "ana@example.org")
    assert environment.user() == "ana@example.org"
