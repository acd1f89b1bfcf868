"""Fixtures for the magics: a real IPython shell with nbtrack loaded, on a fresh store per test."""

from __future__ import annotations

import pytest


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
    for trait in ("autolog", "figures", "quiet", "max_output_bytes", "experiment"):
        magics.set_trait(trait, magics.trait_defaults(trait))
    yield ip
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.fixture
def run_ok(shell):
    """Run a cell and re-raise anything it raised (the way a test wants a cell to fail loudly)."""

    def run(code: str, **kwargs):
        result = shell.run_cell(code, **kwargs)
        result.raise_error()
        return result

    return run


@pytest.fixture
def last_run(store):
    """The newest run's full record."""

    def get():
        import nbtrack

        frame = nbtrack.runs(limit=1)
        assert len(frame), "no run was recorded"
        return nbtrack.get_run(frame.run_id[0])

    return get
