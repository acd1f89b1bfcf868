"""%track open: the output JupyterLab's nbtrack extension turns into the workspace, a run view or a comparison."""

from __future__ import annotations

import time

import pytest
from IPython.core.error import UsageError

from nbtrack.magics.workspace import OPEN_MIME


@pytest.fixture
def two_runs(shell, run_ok):
    for index in range(2):
        run_ok(f"%%track r{index} --quiet\nacc = 0.{index + 5}")
    import nbtrack

    return list(nbtrack.runs(order_by="name").run_id)


def bundle(shell, line: str) -> dict:
    request = shell.run_line_magic("track", line)
    return request._repr_mimebundle_()


def test_open_without_runs_asks_for_the_workspace(shell):
    data = bundle(shell, "open -e iris --where 'metrics.acc > 0.9'")
    assert data[OPEN_MIME]["view"] == "workspace"
    assert data[OPEN_MIME]["experiment"] == "iris" and data[OPEN_MIME]["where"] == "metrics.acc > 0.9"
    assert abs(data[OPEN_MIME]["created"] - time.time()) < 5  # the extension opens only fresh outputs
    assert "nbtrack: Open experiments workspace" in data["text/plain"]  # without the extension: how to get there


def test_open_one_run_or_several(shell, two_runs):
    one = bundle(shell, f"open {two_runs[0][-8:]}")[OPEN_MIME]
    assert one["view"] == "run" and one["run_ids"] == [two_runs[0]]  # a short id becomes the full id
    both = bundle(shell, "open r0 r1")[OPEN_MIME]
    assert both["view"] == "compare" and both["run_ids"] == two_runs


def test_open_an_unknown_run_is_a_usage_error(shell, two_runs):
    with pytest.raises(UsageError, match="nope"):
        shell.run_line_magic("track", "open nope")


def test_terminal_repr_is_text(shell):
    request = shell.run_line_magic("track", "open")
    assert "nbtrack runs" in repr(request) and "0x" not in repr(request)
