"""%track runs and the runs widget leave archived runs out unless asked (issue 16), in a real IPython shell."""

from __future__ import annotations

import nbtrack
from nbtrack.magics.widget import RunsWidget


def test_track_runs_hides_archived_runs_unless_asked(shell, run_ok):
    run_ok("import nbtrack")
    for index in range(3):
        run_ok(f"%%track r{index} --quiet\nacc = {index / 10} + 0")
    nbtrack.archive_runs(["r0", "r1"])
    assert list(shell.run_line_magic("track", "runs").frame["name"]) == ["r2"]
    view = shell.run_line_magic("track", "runs --archived")
    assert list(view.frame["name"]) == ["r2", "r1", "r0"] and view.frame["archived"].notna().tolist() == [
        False,
        True,
        True,
    ]
    assert "archived" in view._repr_html_()
    assert list(shell.run_line_magic("track", "runs --only-archived").frame["name"]) == ["r1", "r0"]
    widget = RunsWidget(**view.query)
    widget.load()  # the widget's own query (its filter box) keeps the archived choice
    assert list(widget.frame["name"]) == ["r2", "r1", "r0"]
