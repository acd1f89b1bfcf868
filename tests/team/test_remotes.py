"""Remotes (issue 17): push, pull and sync between real stores through a file:// remote and an S3-compatible
server (moto's standalone server, a real process on 127.0.0.1), with real processes killed mid-push and
several pushing at once."""

from __future__ import annotations

import random
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import nbtrack
from nbtrack import remote
from nbtrack.errors import CorruptRemoteObjectError, RemoteError
from nbtrack.store import Store
from nbtrack.store.maintenance import RUN_TABLES

SRC = str(Path(nbtrack.__file__).resolve().parents[1])


def _frame(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"id": np.arange(rows), "spend": rng.random(rows), "segment": rng.choice(["a", "b", "c"], rows)}
    )


def _fill(store: Store, tmp: Path, tag: str, runs: int = 3) -> None:
    """Runs with params, metric histories, tags, artifacts and a model; two data versions (the second a
    keyed delta); a registered model version with an alias."""
    frame = _frame(20_000)
    nbtrack.snapshot(frame, "customers", key="id", message=tag, store=store)
    changed = frame.copy()
    changed.loc[:199, "spend"] = -1.0
    for i in range(runs):
        with nbtrack.start_run(f"{tag}-{i}", params={"lr": 0.1 * (i + 1), "who": tag}, store=store) as run:
            for step in range(5):
                run.log_metric("loss", 1.0 / (step + 1 + i), step=step)
            run.set_tag("team", tag)
            run.log_artifact(f"notes {tag} {i}".encode(), "notes.txt")
            run.log_model({"weights": [i, 2, 3]}, "model")
    nbtrack.snapshot(changed, "customers", key="id", message=f"{tag} fix", store=store)
    last = nbtrack.runs(store=store, order_by="start").run_id.iloc[-1]
    version = nbtrack.register_model(last, f"churn-{tag}", "model", store=store)
    nbtrack.set_model_alias(f"churn-{tag}", version.version, "champion", reason="best", store=store)


def _run_rows(store: Store, run_id: str) -> dict:
    """Every row a run recorded, table by table (the runs row without the store-local experiment id)."""
    out = {}
    for table in ("runs", *RUN_TABLES):
        columns = [r[1] for r in store.query(f'PRAGMA table_info("{table}")') if r[1] != "experiment_id"]
        quoted = ", ".join(f'"{c}"' for c in columns)
        out[table] = sorted(map(repr, store.query(f"SELECT {quoted} FROM {table} WHERE run_id = ?", (run_id,))))
    return out


def _state(store: Store) -> dict:
    """Everything a pull could change (the remotes' bookkeeping aside), and the blob files."""
    tables = [
        r[0]
        for r in store.query("SELECT name FROM sqlite_master WHERE type = 'table'")
        if r[0] not in ("remote_manifests", "_migrations") and not r[0].startswith("sqlite_")
    ]
    state: dict = {t: sorted(map(repr, store.query(f'SELECT * FROM "{t}"'))) for t in tables}
    state["objects"] = sorted(store.blobs.iter_hashes())
    return state


@pytest.fixture
def two_stores(tmp_path, monkeypatch):
    monkeypatch.delenv("NBTRACK_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    alice = Store.open(tmp_path / "alice" / ".nbtrack")
    bob = Store.open(tmp_path / "bob" / ".nbtrack")
    url = (tmp_path / "remote").as_uri()
    remote.add_remote("origin", url, store=alice)
    remote.add_remote("origin", url, store=bob)
    return alice, bob, tmp_path / "remote"


def test_a_round_trip_through_a_folder_remote_is_exact_and_a_second_pull_changes_nothing(two_stores, tmp_path):
    alice, bob, _ = two_stores
    _fill(alice, tmp_path, "alice")
    pushed = remote.push(store=alice, show_progress=False)
    assert pushed.runs == 3 and pushed.data_versions == 2 and pushed.registry and pushed.objects_sent > 0
    assert str(remote.push(store=alice, show_progress=False)) == "origin is up to date: nothing to push."

    pulled = remote.pull(store=bob, show_progress=False)
    assert (pulled.manifests, pulled.runs_added, pulled.data_versions_added, pulled.model_versions_added) == (
        1,
        3,
        2,
        1,
    )
    for run_id in nbtrack.runs(store=alice).run_id:
        assert _run_rows(bob, run_id) == _run_rows(alice, run_id)  # params, metric histories, tags, artifacts, ...
        for name in ("notes.txt", "model"):
            a = nbtrack.load_artifact(run_id, name, store=alice, trusted=True)
            assert nbtrack.load_artifact(run_id, name, store=bob, trusted=True) == a
    assert nbtrack.get_run("alice-0", store=bob).user == nbtrack.get_run("alice-0", store=alice).user is not None
    for number in (1, 2):
        assert nbtrack.load("customers", number, store=bob).equals(nbtrack.load("customers", number, store=alice))
    model = nbtrack.get_model("churn-alice@champion", store=bob)
    assert model.version == 1 and nbtrack.model_history("churn-alice", store=bob)[0]["reason"] == "best"
    assert nbtrack.fsck(store=bob).clean and nbtrack.fsck(store=alice).clean

    before = _state(bob)
    assert str(remote.pull(store=bob, show_progress=False)) == "Nothing new on origin."
    assert _state(bob) == before
    assert str(remote.push(store=bob, show_progress=False)) == "origin is up to date: nothing to push."
    assert remote.check_remote(store=bob, show_progress=False).ok


def test_a_version_means_the_same_data_everywhere_by_its_global_id(two_stores, tmp_path):
    alice, bob, _ = two_stores
    nbtrack.snapshot(_frame(100, seed=1), "customers", store=bob)  # bob's own customers@1
    _fill(alice, tmp_path, "alice", runs=1)
    remote.push(store=alice, show_progress=False)
    pulled = remote.sync(store=bob, show_progress=False)[0]
    assert pulled.renumbered == {("customers", 1): 2, ("customers", 2): 3}  # numbers are per store
    assert "customers@1 is customers@2 here" in str(pulled)
    remote.pull(store=alice, show_progress=False)
    for version in nbtrack.data.list_versions("customers", store=alice):
        ref = "customers@" + version["fingerprint"][:12]
        assert nbtrack.load(ref, store=bob).equals(nbtrack.load(ref, store=alice))
    ids = {v["fingerprint"][:12] for v in nbtrack.data.list_versions("customers", store=bob)}
    assert ids == {v["fingerprint"][:12] for v in nbtrack.data.list_versions("customers", store=alice)}
    assert len(ids) == 3
    run = nbtrack.get_run("alice-0", store=bob)  # the run's input names bob's number for alice's data
    assert nbtrack.runs(where="user = '" + run.user + "' and host = '" + run.host + "'", store=bob).shape[0] >= 1


def test_a_damaged_or_truncated_object_is_refused_never_merged(two_stores, tmp_path):
    alice, bob, folder = two_stores
    _fill(alice, tmp_path, "alice", runs=1)
    remote.push(store=alice, show_progress=False)
    artifact = nbtrack.get_run("alice-0", store=alice).artifacts[0]["hash"]
    damaged = folder / "objects" / artifact[:2] / artifact
    damaged.write_bytes(damaged.read_bytes()[:-2])  # truncated
    with pytest.raises(CorruptRemoteObjectError, match="damaged or truncated.*push --verify"):
        remote.pull(store=bob, show_progress=False)
    assert nbtrack.runs(store=bob).empty and not bob.blobs.present(artifact)
    report = remote.check_remote(store=bob, show_progress=False)
    assert not report.ok and artifact in report.problems[0]

    damaged.unlink()  # the repair the message names: delete it, push again with --verify
    assert str(remote.push(store=alice, show_progress=False)).endswith("nothing to push.")  # trusts manifests
    pushed = remote.push(store=alice, verify=True, show_progress=False)
    assert str(pushed) == "origin is up to date: nothing to push (1 missing objects sent again)."
    assert remote.pull(store=bob, show_progress=False).runs_added == 1
    assert nbtrack.fsck(store=bob).clean and remote.check_remote(store=bob, show_progress=False).ok


TRANSFER = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {src!r})
    import nbtrack
    from nbtrack import remote
    from nbtrack.remote._folder import RemoteFolder

    def slow(method):  # a slow network: the kill lands between or inside transfers
        def slowly(self, *args, **kwargs):
            time.sleep(0.01)
            return method(self, *args, **kwargs)
        return slowly
    RemoteFolder.write, RemoteFolder.read = slow(RemoteFolder.write), slow(RemoteFolder.read)
    store = nbtrack.Store.open({store!r})
    print("ready", flush=True)
    print(remote.{action}(store=store, show_progress=False), flush=True)
    """
)


def _python(code: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)


def _killed_at_random(code: str, rng: random.Random, longest: float) -> bool:
    """Run a transfer in a process and SIGKILL it at a random moment; whether it was still running."""
    process = _python(code)
    assert process.stdout is not None and process.stdout.readline() == b"ready\n"
    time.sleep(rng.uniform(0.0, longest))
    running = process.poll() is None
    if running:
        process.send_signal(signal.SIGKILL)
    process.wait()
    return running


def _new_runs(store, round_: int) -> None:
    for i in range(10):
        with nbtrack.start_run(f"round-{round_}-{i}", store=store) as run:
            run.log_artifact(f"{round_} {i}".encode(), "a.txt")


def test_pushes_and_pulls_killed_at_random_moments_are_completed_by_the_next(two_stores, tmp_path):
    alice, bob, _ = two_stores
    _fill(alice, tmp_path, "alice", runs=2)
    rng = random.Random(17)
    pushes_killed = pulls_killed = 0
    for round_ in range(16):  # until 4 pushes were killed mid-transfer (a quick push may end before its kill)
        if pushes_killed >= 4 and round_ >= 6:
            break
        _new_runs(alice, round_)
        # the kill lands while manifests are listed, the pack is made, objects, the pack or the manifest are sent
        pushes_killed += _killed_at_random(TRANSFER.format(src=SRC, store=str(alice.root), action="push"), rng, 0.35)
        assert remote.check_remote(store=bob, show_progress=False).ok  # readable whatever the moment
    for round_ in range(16, 28):  # pulls killed while objects are fetched, packs merged, manifests marked
        if pulls_killed >= 2 and round_ >= 20:
            break
        _new_runs(alice, round_)
        remote.push(store=alice, show_progress=False)  # something new to pull each round
        pulls_killed += _killed_at_random(TRANSFER.format(src=SRC, store=str(bob.root), action="pull"), rng, 0.5)
        assert nbtrack.fsck(store=bob).clean
    assert pushes_killed >= 4 and pulls_killed >= 2
    remote.push(store=alice, show_progress=False)
    assert str(remote.push(store=alice, show_progress=False)).endswith("nothing to push.")
    remote.pull(store=bob, show_progress=False)
    assert sorted(nbtrack.runs(store=bob).run_id) == sorted(nbtrack.runs(store=alice).run_id)
    for run_id in nbtrack.runs(store=alice).run_id:
        assert _run_rows(bob, run_id) == _run_rows(alice, run_id)
    assert nbtrack.fsck(store=alice).clean and nbtrack.fsck(store=bob).clean
    assert remote.check_remote(store=bob, show_progress=False).ok


def test_several_processes_push_at_once_without_a_lock(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    url = (tmp_path / "remote").as_uri()
    code = textwrap.dedent(
        """
        import sys
        sys.path.insert(0, {src!r})
        import pandas as pd, nbtrack
        from nbtrack import remote
        store = nbtrack.Store.open({root!r})
        remote.add_remote("origin", {url!r}, store=store)
        nbtrack.snapshot(pd.DataFrame({{"x": range(5000)}}), "shared", store=store)  # the same data for all
        for i in range(5):
            with nbtrack.start_run("p{n}-" + str(i), store=store) as run:
                run.log_artifact(("artifact {n} " + str(i)).encode(), "a.txt")
        print(remote.push(store=store, show_progress=False), flush=True)
        """
    )
    members = [_python(code.format(src=SRC, root=str(tmp_path / f"m{n}" / ".nbtrack"), url=url, n=n)) for n in range(4)]
    for process in members:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err.decode()
        assert b"Pushed 5 runs" in out
    team = Store.open(tmp_path / "team" / ".nbtrack")
    remote.add_remote("origin", url, store=team)
    report = remote.pull(store=team, show_progress=False)
    assert report.manifests == 4 and report.runs_added == 20 and report.data_versions_added == 1
    assert len(list((tmp_path / "remote" / "manifests").iterdir())) == 4
    assert nbtrack.fsck(store=team).clean and remote.check_remote(store=team, show_progress=False).ok


def test_remote_config_is_a_name_and_a_url_never_credentials(tmp_path, store):
    assert nbtrack.add_remote("shared", str(tmp_path / "folder")) == (tmp_path / "folder").as_uri()
    with pytest.raises(RemoteError, match="never stores them"):
        nbtrack.add_remote("s3", "s3://key:secret@bucket/prefix")
    with pytest.raises(RemoteError, match="exists already"):
        nbtrack.add_remote("shared", "/elsewhere")
    with pytest.raises(RemoteError, match="No remote named 'nope'.*nbtrack remote add nope URL"):
        nbtrack.push("nope")
    nbtrack.add_remote("second", str(tmp_path / "other"))
    with pytest.raises(RemoteError, match="several remotes.*none is named origin"):
        nbtrack.push()
    nbtrack.remove_remote("second")
    assert nbtrack.remotes() == {"shared": (tmp_path / "folder").as_uri()}


def test_the_cli_and_the_magics_push_and_pull(tmp_path, shell, monkeypatch):
    from nbtrack.cli import main

    runner = CliRunner()
    url = (tmp_path / "remote").as_uri()
    assert runner.invoke(main, ["remote", "add", "origin", url]).exit_code == 0
    assert runner.invoke(main, ["remote", "list"]).output == f"origin\t{url}\n"
    shell.run_cell("%%track\nlr = 0.5\nacc = 0.75")
    result = runner.invoke(main, ["push"])
    assert result.exit_code == 0 and "Pushed 1 runs" in result.output
    assert "nothing to push" in runner.invoke(main, ["sync"]).output
    shell.run_cell("%%track\nlr = 0.25\nacc = 0.5")
    out = shell.run_cell("%track push").result
    assert out is None
    other = tmp_path / "other" / ".nbtrack"
    monkeypatch.setenv("NBTRACK_HOME", str(other))
    assert runner.invoke(main, ["remote", "add", "origin", url]).exit_code == 0
    result = runner.invoke(main, ["pull"])
    assert result.exit_code == 0 and "2 runs added" in result.output, result.output
    assert sorted(nbtrack.runs(store=str(other))["params.lr"]) == [0.25, 0.5]
    assert "Nothing new" in runner.invoke(main, ["pull"]).output
    result = runner.invoke(main, ["push", "nope"])
    assert result.exit_code == 1 and "No remote named 'nope'" in result.output
    assert runner.invoke(main, ["remote", "check"]).exit_code == 0
    assert runner.invoke(main, ["remote", "remove", "origin"]).exit_code == 0


# ---------------------------------------------------------------- an S3-compatible server
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_server():
    """moto's standalone S3 server as a real process on a free port of 127.0.0.1, killed at the end."""
    pytest.importorskip("s3fs", reason="the test extra installs s3fs")
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("moto's S3 server did not start") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.kill()
        server.wait()


@pytest.fixture
def s3_env(s3_server, monkeypatch):
    import s3fs

    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    bucket = f"team-{random.randrange(10**9)}"
    s3fs.S3FileSystem(skip_instance_cache=True).mkdir(bucket)
    return f"s3://{bucket}/churn"


def test_push_and_pull_through_an_s3_compatible_server(two_stores, tmp_path, s3_env):
    alice, bob, _ = two_stores
    remote.add_remote("s3", s3_env, store=alice)
    remote.add_remote("s3", s3_env, store=bob)
    assert remote.remotes(store=alice)["s3"] == s3_env  # no endpoint, no credentials
    _fill(alice, tmp_path, "alice", runs=2)
    assert remote.push("s3", store=alice, show_progress=False).runs == 2
    started = time.perf_counter()
    assert str(remote.push("s3", store=alice, show_progress=False)).endswith("nothing to push.")
    assert time.perf_counter() - started < 1.0
    assert remote.pull("s3", store=bob, show_progress=False).runs_added == 2
    for run_id in nbtrack.runs(store=alice).run_id:
        assert _run_rows(bob, run_id) == _run_rows(alice, run_id)
    assert nbtrack.load("customers", 2, store=bob).equals(nbtrack.load("customers", 2, store=alice))
    started = time.perf_counter()
    assert str(remote.pull("s3", store=bob, show_progress=False)) == "Nothing new on s3."
    assert time.perf_counter() - started < 1.0
    assert remote.check_remote("s3", store=bob, show_progress=False).ok
    assert nbtrack.fsck(store=bob).clean


def test_a_running_run_travels_once_it_ends_and_transfers_show_progress(two_stores, capsys):
    alice, bob, _ = two_stores
    for i in range(25):
        with nbtrack.start_run(f"done-{i}", store=alice) as run:
            run.log_artifact(f"artifact {i}".encode(), "a.txt")
    running = nbtrack.start_run("still running", store=alice)
    assert remote.push(store=alice).runs == 25  # progress shown: 25 objects
    assert "push origin: objects" in capsys.readouterr().err
    assert remote.pull(store=bob).runs_added == 25
    assert "pull origin: objects" in capsys.readouterr().err
    running.finish()
    assert remote.push(store=alice, show_progress=False).runs == 1
    assert remote.pull(store=bob, show_progress=False).runs_added == 1
    assert nbtrack.get_run("still running", store=bob).status == "ok"
