"""Fixtures of the production tests: the fixture notebooks in tests/notebooks/prod_*.ipynb."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


@pytest.fixture
def notebook(tmp_path):
    """Copy a fixture notebook into the test's folder (outputs land next to it) and return its path."""

    def copy(name: str) -> Path:
        target = tmp_path / name
        target.write_bytes((NOTEBOOKS / name).read_bytes())
        return target

    return copy
