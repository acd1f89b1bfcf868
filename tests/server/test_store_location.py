"""Which store the server reads (NbtrackServer.store_path, NBTRACK_HOME, else walking up from the
server's root_dir, never the process's working directory), and errors that are not the client's fault."""

from __future__ import annotations

import pytest
from traitlets.config import Config

import nbtrack
from nbtrack.store import Store


@pytest.fixture
def jp_server_config():
    """The extension enabled as nbtrack.json does it, with no store configured."""
    return Config({"ServerApp": {"jpserver_extensions": {"nbtrack": True}}})


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    """The process runs in a folder holding a different store, and NBTRACK_HOME is unset."""
    monkeypatch.delenv("NBTRACK_HOME", raising=False)
    other = Store.open(tmp_path / "elsewhere" / ".nbtrack")
    with nbtrack.start_run("decoy", experiment="wrong-store", store=other):
        pass
    monkeypatch.chdir(tmp_path / "elsewhere")
    return other


async def test_store_is_found_walking_up_from_root_dir_not_cwd(api, api_error, elsewhere, jp_root_dir):
    body = await api("version")
    assert body["store"] is None
    error = await api_error(404, "runs")
    assert error["code"] == "store_not_found"
    assert str(jp_root_dir) in error["message"] and "store_path" in error["message"]
    # The first tracked run in a parent of the root folder creates the store: the next request finds it.
    store = Store.open(jp_root_dir.parent / ".nbtrack")
    with nbtrack.start_run("found", experiment="right-store", store=store):
        pass
    assert (await api("version"))["store"] == str(store.root)
    assert [r["name"] for r in (await api("runs"))["runs"]] == ["found"]


async def test_nbtrack_home_is_used_when_no_store_path_is_configured(api, elsewhere, tmp_path, monkeypatch):
    home = Store.open(tmp_path / "home" / ".nbtrack")
    with nbtrack.start_run("from-home", store=home):
        pass
    monkeypatch.setenv("NBTRACK_HOME", str(home.root))
    assert [r["name"] for r in (await api("runs"))["runs"]] == ["from-home"]


async def test_a_store_from_a_newer_nbtrack_is_a_500_that_says_what_to_do(api_error, jp_root_dir, elsewhere):
    store = Store.open(jp_root_dir / ".nbtrack")
    store.conn.execute("PRAGMA user_version = 999")
    body = await api_error(500, "runs")
    assert body["code"] == "store_version" and "upgrade nbtrack" in body["message"]


async def test_unexpected_errors_are_500_json_without_traceback(api_error, jp_root_dir, elsewhere):
    store = Store.open(jp_root_dir / ".nbtrack")
    with nbtrack.start_run("x", store=store) as run:
        run_id = run.run_id
    store.conn.execute("DROP TABLE latest_metrics")
    body = await api_error(500, "runs", run_id)
    assert body["code"] == "internal_error"
    assert "OperationalError" in body["message"] and "server log" in body["message"]
    assert 'File "' not in body["message"]
