"""Shared fixtures: every test gets its own real store in a temporary folder."""

from __future__ import annotations

import importlib.util
import os
import sys

import pytest

# IPython's InteractiveShell (used by the magics tests) replaces sys.modules["__main__"] with its user
# module, which has no __spec__, and multiprocessing's spawn (Dask's worker processes) then fails.
_REAL_MAIN = sys.modules["__main__"]

# Real Jupyter servers for the REST tests (jp_fetch, jp_serverapp, ...).
pytest_plugins = ["pytest_jupyter.jupyter_server"]


# Two workers (tests/run_all.sh runs `pytest -n 2 --dist loadscope --no-loadscope-reorder`): a work unit
# is a test file, run whole on one worker in its order, as without xdist (its module fixtures built once),
# except that all browser tests are one unit (two JupyterLabs and Chromiums at once on 2 cores only slow
# each other down), and so are the tests that add real OS users. The longest units start first, so
# neither worker is left with one of them at the end. (xdist's own `loadgroup` marks do nothing with
# pytest 9: it renames items through an attribute pytest 9 no longer reads.)
_UNITS = {"tests/browser/": "tests/browser", "tests/team/test_shared_store.py": "tests/team (OS users)"}
_LONGEST_FIRST = ("tests/reliability/test_crash_trials.py", "tests/browser/", "tests/production/test_no_harm.py")


def _unit(nodeid: str) -> str:
    path = nodeid.split("::", 1)[0]
    return next((unit for prefix, unit in _UNITS.items() if path.startswith(prefix)), path)


if importlib.util.find_spec("xdist") is not None:  # an unknown pytest_xdist_* hook is an error without it

    @pytest.hookimpl(tryfirst=True)
    def pytest_xdist_make_scheduler(config, log):
        if config.getvalue("dist") != "loadscope":
            return None
        from xdist.scheduler import LoadScopeScheduling

        class _Units(LoadScopeScheduling):
            def _split_scope(self, nodeid: str) -> str:
                return _unit(nodeid)

        return _Units(config, log)


def pytest_collection_modifyitems(items):
    """Under xdist, the longest work units first (a stable sort: the order inside a unit is kept)."""
    if "PYTEST_XDIST_WORKER" in os.environ:

        def rank(item: pytest.Item) -> int:
            path = item.nodeid.split("::", 1)[0]
            return next((i for i, prefix in enumerate(_LONGEST_FIRST) if path.startswith(prefix)), len(_LONGEST_FIRST))

        items.sort(key=rank)


@pytest.fixture(autouse=True)
def _no_store_above_tmp(tmp_path, monkeypatch):
    """Store discovery never walks above the test's temporary folder (a stray /tmp/.nbtrack would leak in)."""
    monkeypatch.setenv("NBTRACK_CEILING_DIRECTORIES", str(tmp_path.parent))


@pytest.fixture
def store_root(tmp_path, monkeypatch):
    """A fresh store folder, made the default for this test through NBTRACK_HOME."""
    root = tmp_path / ".nbtrack"
    monkeypatch.setenv("NBTRACK_HOME", str(root))
    monkeypatch.chdir(tmp_path)
    return root


@pytest.fixture
def store(store_root):
    """A fresh, real store (SQLite file + object folder) that is also the process default."""
    from nbtrack.store import default_store

    return default_store()


@pytest.fixture
def real_main_module(monkeypatch):
    """The interpreter's own ``__main__`` for tests that spawn processes with multiprocessing."""
    monkeypatch.setitem(sys.modules, "__main__", _REAL_MAIN)


@pytest.fixture
def shell(store):
    """The process's InteractiveShell with ``%load_ext nbtrack``, a clean namespace and a fresh store."""
    import matplotlib

    matplotlib.use("Agg")
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    ip.reset(new_session=False)
    ip.colors = "nocolor"
    ip.run_line_magic("load_ext", "nbtrack")
    magics = ip.magics_manager.registry["TrackMagics"]
    for trait in ("autolog", "figures", "quiet", "max_output_bytes", "max_models", "experiment"):
        magics.set_trait(trait, magics.trait_defaults(trait))
    yield ip
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.fixture
def cli():
    """``cli("runs", "--format", "json", code=0)``: the nbtrack command through click's CliRunner, in this
    process; asserts the exit code and returns the output."""
    from click.testing import CliRunner

    from nbtrack.cli import main

    runner = CliRunner()

    def invoke(*args, code=0):
        result = runner.invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    return invoke
