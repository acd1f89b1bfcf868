"""`nbtrack doctor` on the real installation, with Jupyter config folders in tmp to break it on purpose."""

from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner

import nbtrack
from nbtrack.cli import main
from nbtrack.doctor import check_lab_extension, check_server_extension, check_store, run_checks


@pytest.fixture
def jupyter_config(tmp_path, monkeypatch):
    """A user Jupyter config folder that takes precedence over the environment's."""
    folder = tmp_path / "jupyter-config"
    folder.mkdir()
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(folder))
    monkeypatch.setenv("JUPYTER_PREFER_ENV_PATH", "0")
    return folder


def _write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def test_healthy_installation_reports_everything_and_exits_zero(store, jupyter_config):
    with nbtrack.start_run("one"):
        pass
    result = CliRunner().invoke(main, ["doctor"])
    assert result.exit_code == 0, result.output
    for expected in [
        f"nbtrack: {nbtrack.__version__}",
        "python: 3.",
        "jupyterlab: 4.",
        "pandas: ",
        f"store: {store.root} (1 runs)",
        f"store schema: version {store.schema_version}",
        "server extension: nbtrack enabled",
        "lab extension: ",
        "all good",
    ]:
        assert expected in result.output


def test_no_store_yet_is_not_a_problem(tmp_path, monkeypatch):
    monkeypatch.delenv("NBTRACK_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    (check,) = check_store()
    assert check.ok and "first run will create" in check.detail and str(tmp_path) in check.detail


def test_store_from_a_newer_nbtrack_is_a_problem_with_a_fix(store):
    root = store.root
    conn = sqlite3.connect(root / "nbtrack.db")
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    checks = check_store(root)
    bad = [c for c in checks if not c.ok]
    assert [c.name for c in bad] == ["store schema"] and bad[
        0
    ].fix == "upgrade nbtrack: `git pull && pip install .` in its checkout (or install a newer wheel)"
    assert "newer nbtrack" in bad[0].detail


def test_doctor_never_writes_the_store(store):
    with nbtrack.start_run("one"):
        pass
    db = store.root / "nbtrack.db"
    before = (db.stat().st_mtime_ns, db.stat().st_size)
    assert all(c.ok for c in check_store(store.root))
    assert (db.stat().st_mtime_ns, db.stat().st_size) == before


def test_disabled_server_extension_exits_one_with_the_fix(store, jupyter_config):
    _write(
        jupyter_config / "jupyter_server_config.d" / "nbtrack.json",
        {"ServerApp": {"jpserver_extensions": {"nbtrack": False}}},
    )
    (check,) = check_server_extension()
    assert not check.ok and check.fix == "jupyter server extension enable nbtrack (then restart Jupyter)"
    result = CliRunner().invoke(main, ["doctor"])
    assert result.exit_code == 1
    assert "[BAD] server extension: disabled" in result.output
    assert "fix: jupyter server extension enable nbtrack" in result.output


def test_disabled_lab_extension_is_reported_with_the_fix(jupyter_config):
    _write(jupyter_config / "labconfig" / "page_config.json", {"disabledExtensions": {"nbtrack": True}})
    (check,) = check_lab_extension()
    assert not check.ok and "disabled" in check.detail and check.fix == "jupyter labextension enable nbtrack"
    assert [c.name for c in run_checks() if not c.ok] == ["lab extension"]
