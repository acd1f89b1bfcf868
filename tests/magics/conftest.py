"""Fixtures for the magics tests (the `shell` fixture itself is in tests/conftest.py)."""

from __future__ import annotations

import pytest


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
