"""%track runs / show / compare and nbtrack.runs_widget() against a real store."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

import nbtrack
from nbtrack.magics.widget import RunsWidget


@pytest.fixture
def three_runs(shell, run_ok):
    run_ok("import nbtrack")
    for index, acc in enumerate([0.7, 0.9, 0.8]):
        run_ok(
            f"%%track r{index} --quiet\nlr = {index / 10}\nacc = {acc} + 0\n"
            f"for step in range(3):\n    nbtrack.log_metric('loss', {index + 1} / (step + 1), step=step)"
        )
    return list(nbtrack.runs(order_by="name").run_id)


def test_runs_leaderboard(shell, three_runs):
    view = shell.run_line_magic("track", "runs --order-by -metrics.acc --limit 2")
    assert list(view.frame["name"]) == ["r1", "r2"]
    html = view._repr_html_()
    assert "✓ ok" in html and three_runs[1][-8:] in html and three_runs[0][-8:] not in html


def test_runs_where_and_query_errors_are_usage_errors(shell, three_runs):
    view = shell.run_line_magic("track", 'runs --where "metrics.acc > 0.75 and params.lr < 0.15"')
    assert list(view.frame["name"]) == ["r1"]
    with pytest.raises(UsageError, match="position"):
        shell.run_line_magic("track", 'runs --where "metrics.acc >"')
    with pytest.raises(UsageError, match="Unknown %track subcommand 'bogus'"):
        shell.run_line_magic("track", "bogus")
    with pytest.raises(UsageError, match="unrecognized"):
        shell.run_line_magic("track", "runs --nope")


def test_show_has_everything_with_figures_inline(shell, run_ok):
    run_ok(
        "%%track <b>bold</b> --quiet\nimport matplotlib.pyplot as plt\nlr = 0.3\nplt.plot([1, 2])\nprint('<script>x</script>')"
    )
    run_id = nbtrack.runs().run_id[0]
    view = shell.run_line_magic("track", f"show {run_id[-8:]}")
    html = view._repr_html_()
    assert "data:image/png;base64," in html and "lr" in html and "0.3" in html
    assert "plt.plot([1, 2])" in html and "_wall_s" in html
    assert "<script>" not in html and "&lt;script&gt;" in html  # printed output is escaped
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html  # so is the run name
    with pytest.raises(UsageError, match="No run|no run"):
        shell.run_line_magic("track", "show zzzzzzzz")


def test_compare_highlights_differences_and_charts_histories(shell, three_runs):
    view = shell.run_line_magic("track", f"compare {three_runs[0][-8:]} {three_runs[1][-8:]}")
    rows = {key: (values, differs) for key, values, differs in view.rows("params")}
    assert rows["lr"] == ([0.0, 0.1], True)
    assert view.chart_png().startswith(b"\x89PNG")  # loss has several steps in both runs
    html = view._repr_html_()
    assert "background: #fff3b0" in html and "data:image/png" in html
    with pytest.raises(UsageError, match="at least two runs"):
        shell.run_line_magic("track", f"compare {three_runs[0]}")


def test_runs_widget_filters_sorts_and_compares(shell, three_runs):
    widget = nbtrack.runs_widget()
    assert len(widget.frame) == 3
    widget.filter.value = "metrics.acc >"
    assert "position" in widget.error.value and len(widget.frame) == 3  # error shown, table kept
    widget.filter.value = "metrics.acc >= 0.8"
    assert widget.error.value == "" and set(widget.frame["name"]) == {"r1", "r2"}
    widget.sort.value = "metrics.acc"
    widget.descending.value = False
    assert list(widget.shown["name"]) == ["r2", "r1"]
    assert [label.split()[0] for label, _ in widget.selection.options] == ["✓", "✓"]
    widget.selection.value = tuple(widget.frame.run_id)
    widget.show_compare()
    assert widget.output.outputs  # the comparison was displayed


def test_runs_view_offers_html_without_a_widget_kernel(shell, three_runs):
    view = shell.run_line_magic("track", "runs")
    bundle = view._repr_mimebundle_()
    assert "text/html" in bundle and "application/vnd.jupyter.widget-view+json" not in bundle


def test_dispatch_table_is_extendable(shell, three_runs, monkeypatch):
    from nbtrack.magics import subcommands

    monkeypatch.setitem(subcommands.SUBCOMMANDS, "echo", "tests.magics.test_views:_echo")
    assert shell.run_line_magic("track", "echo a b") == "echo:a b"


def _echo(shell, argstring):
    return f"echo:{argstring}"


def test_runs_can_be_named_by_run_name(shell, three_runs):
    view = shell.run_line_magic("track", "show r2")
    assert view.record.run_id == three_runs[2]
    view = shell.run_line_magic("track", "compare r0 r1")
    assert [r.name for r in view.records] == ["r0", "r1"]


def test_every_subcommand_and_option_is_documented(shell):
    """Like the CLI docs test: a %track subcommand or %%track option missing from the help or docs fails."""
    from pathlib import Path

    from nbtrack.magics import subcommands

    doc = shell.find_line_magic("track").__doc__
    docs = Path(__file__).resolve().parents[2] / "docs"
    guide = (docs / "tracking.md").read_text()
    all_docs = "".join(p.read_text() for p in docs.glob("*.md"))
    for name in subcommands.SUBCOMMANDS:
        assert f"%track {name}" in doc, f"%track {name} is not in the %track docstring"
        assert f"%track {name}" in all_docs, f"%track {name} is not in docs/"
    for action in shell.find_cell_magic("track").parser._actions:
        for option in action.option_strings:
            assert option in guide, f"%%track {option} is not in docs/tracking.md"
    for trait in ("autolog", "figures", "quiet", "max_output_bytes", "experiment"):
        assert f"TrackMagics.{trait}" in guide


def test_runs_widget_is_newest_first_and_keeps_the_requested_order(shell, three_runs):
    newest_first = nbtrack.runs_widget()
    assert list(newest_first.shown["name"]) == ["r2", "r1", "r0"]
    assert newest_first.sort.value == "" and newest_first.sort.options[0][0] == "query order (newest first)"
    ranked = nbtrack.runs_widget(order_by="-metrics.acc")
    assert list(ranked.shown["name"]) == ["r1", "r2", "r0"]  # not re-sorted by name or start
    ranked.filter.value = "metrics.acc > 0.75"  # a new query keeps the order too
    assert list(ranked.shown["name"]) == ["r1", "r2"]
    ranked.sort.value = "name"
    assert list(ranked.shown["name"]) == ["r2", "r1"]  # a picked column sorts (descending by default)
    ranked.sort.value = ""
    assert list(ranked.shown["name"]) == ["r1", "r2"]  # and back to the query's order
    html = ranked.table.value
    assert html.index(three_runs[1][-8:]) < html.index(three_runs[2][-8:])


def test_runs_widget_toolbar_wraps_instead_of_clipping(shell, three_runs):
    widget = nbtrack.runs_widget()
    toolbar, _, _, selection_bar, _ = widget.children
    for bar in (toolbar, selection_bar):
        assert bar.layout.flex_flow == "row wrap" and bar.layout.width == "100%"
    assert widget.filter.layout.width == "auto" and widget.filter.layout.min_width == "240px"
    assert "overflow-x:auto" in widget.table.value  # a wide table scrolls inside its box


def test_runs_columns_like_the_cli(shell, three_runs):
    html = shell.run_line_magic("track", "runs")._repr_html_()
    assert ">acc<" in html and ">lr<" in html and "_wall_s" not in html and "_cpu_s" not in html
    assert "more columns (--all shows them, --columns picks)" in html
    every = shell.run_line_magic("track", "runs --all")._repr_html_()
    assert "_wall_s" in every and "_peak_mem_mb" in every
    picked = shell.run_line_magic("track", "runs --columns name,acc --order-by -metrics.acc")
    assert picked.columns == ["name", "metrics.acc"]
    assert ">lr<" not in picked._repr_html_() and list(picked.frame["name"]) == ["r1", "r2", "r0"]
    with pytest.raises(UsageError, match="No column 'accuracy'.*metrics.acc"):
        shell.run_line_magic("track", "runs --columns accuracy")


def _plain(shell, value) -> str:
    """What terminal IPython prints for ``value`` (its text/plain rendering)."""
    return shell.display_formatter.format(value)[0]["text/plain"]


def test_terminal_ipython_shows_text_tables(shell, three_runs, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    runs = _plain(shell, shell.run_line_magic("track", "runs --order-by -metrics.acc"))
    lines = runs.splitlines()
    assert lines[1].split()[:5] == ["run", "name", "status", "start", "duration"] and "acc" in lines[1]
    assert [line.split()[1] for line in lines[2:5]] == ["r1", "r2", "r0"]
    assert all(len(line) <= 80 for line in lines) and "_wall_s" not in runs and " at 0x" not in runs
    compared = _plain(shell, shell.run_line_magic("track", "compare r0 r1"))
    assert compared.startswith("Compare ") and " at 0x" not in compared and "CompareView" not in compared
    lr_row = next(line for line in compared.splitlines() if line.startswith("* lr"))
    assert lr_row.split() == ["*", "lr", "0", "0.1"]
    acc_row = next(line for line in compared.splitlines() if line.startswith("* acc"))
    assert acc_row.split() == ["*", "acc", "0.7", "0.9"]
    shown = _plain(shell, shell.run_line_magic("track", "show r2"))
    assert shown.startswith("run        ") and "lr = 0.2" in shown and "acc = 0.8" in shown


def test_terminal_ipython_prints_data_results_as_their_summary(shell, run_ok):
    run_ok("import pandas as pd\ndf = pd.DataFrame({'id': [1, 2, 3], 'x': [0.5, 1.5, 2.5]})")
    run_ok("%track snapshot df customers --key id")
    run_ok("df.loc[1, 'x'] = 9.0\ndf = pd.concat([df, pd.DataFrame({'id': [4], 'x': [1.0]})])")
    run_ok("%track snapshot df customers --key id")
    diff = _plain(shell, shell.run_line_magic("track", "diff customers 1 2"))
    assert diff.startswith("customers: version 1 -> 2") and "+1 -0 ~1 changed" in diff
    assert "DataDiff(" not in diff and " at 0x" not in diff
    drift = _plain(shell, nbtrack.drift("customers", 2, against=1))
    assert "DriftReport(" not in drift and drift == str(nbtrack.drift("customers", 2, against=1))


def test_runs_of_a_sweep_in_the_notebook(shell):
    """A sweep's jobs as `nbtrack.sweep` records them (notebook runs under a sweep run, each with its cell
    run), built without kernels: one row per job, best first, in the view and in the widget."""
    with nbtrack.start_run("sweep train", kind="sweep", params={"lr": [0.1, 0.3, 0.2]}) as sweep:
        for index, (lr, loss) in enumerate([(0.1, 0.5), (0.3, 0.2), (0.2, 0.4)]):
            with nbtrack.start_run(f"train [{index}]", kind="notebook", parent=sweep, params={"lr": lr}) as job:
                with nbtrack.start_run("fit", kind="cell", parent=job) as cell:
                    cell.log_metrics({"loss": loss, "_wall_s": 0.1})
                job.log_metric("loss", loss)
        sweep.log_metric("best.loss", 0.2)  # what nbtrack.sweep(..., metric="loss", minimize=True) logs
    view = shell.run_line_magic("track", "runs --sweep 'sweep train'")
    assert list(view.frame["name"]) == ["train [1]", "train [2]", "train [0]"]  # lower loss first
    widget = RunsWidget(frame=view.frame, **view.query)
    assert list(widget.shown["name"]) == ["train [1]", "train [2]", "train [0]"]
    widget.load()  # a refresh queries the sweep again, same order
    assert list(widget.shown["name"]) == ["train [1]", "train [2]", "train [0]"]
    with pytest.raises(UsageError, match="not a sweep"):
        shell.run_line_magic("track", "runs --sweep 'train [0]'")
