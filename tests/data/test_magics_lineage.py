"""Lineage through a real %%track cell, and the %track snapshot / diff / data subcommands."""

from __future__ import annotations

import pandas as pd

import nbtrack


def run_ok(shell, code):
    result = shell.run_cell(code)
    result.raise_error()
    return result


def test_a_tracked_cell_links_the_version_it_read_to_the_version_it_wrote(shell, store):
    run_ok(
        shell,
        "import pandas as pd, nbtrack\nraw = pd.DataFrame({'a': [1, 2, 3], 'b': ['x', 'y', 'z']})\n"
        "nbtrack.snapshot(raw, 'raw')",
    )
    run_ok(shell, "%%track prep\nclean = raw.assign(a=raw['a'] * 2)\nv = nbtrack.snapshot(clean, 'clean')\n")
    run_id = shell.user_ns["v"].run_id
    assert run_id is not None
    record = nbtrack.get_run(run_id)
    raw_fp = nbtrack.data.fingerprint(shell.user_ns["raw"])
    assert [(i["name"], i["dataset"], i["version"]) for i in record.inputs if i["fingerprint"] == raw_fp] == [
        ("raw", "raw", 1)
    ]
    clean_outputs = [o for o in record.outputs if o["fingerprint"] == nbtrack.data.fingerprint(shell.user_ns["clean"])]
    assert [(o["dataset"], o["version"]) for o in clean_outputs] == [("clean", 1)]  # recorded once, with its version
    graph = nbtrack.lineage("clean@1")
    edges = {(e["source"], e["target"], e["kind"]) for e in graph.edges}
    assert ("version:raw@1", f"run:{run_id}", "input") in edges
    assert (f"run:{run_id}", "version:clean@1", "output") in edges


def test_track_snapshot_diff_and_data_subcommands(shell, store, capsys):
    run_ok(shell, "import pandas as pd\ndf = pd.DataFrame({'id': [1, 2], 'v': [1.0, 2.0]})")
    run_ok(shell, "%track snapshot df people --key id -m 'first cut'")
    assert "people@1" in capsys.readouterr().out
    run_ok(shell, "df.loc[1, 'v'] = 5.0")
    run_ok(shell, "%track snapshot df people --key id")
    versions = nbtrack.versions("people")
    assert versions["message"][0] == "first cut" and pd.isna(versions["message"][1]) and versions["key"][0] == ["id"]
    result = run_ok(shell, "%track diff people 1 2")
    assert result.result.rows["changed"] == 1 and "<table" in result.result._repr_html_()
    listing = run_ok(shell, "%track data list").result
    assert list(listing["name"]) == ["people"]
    from IPython.core.error import UsageError

    bad = shell.run_cell("%track snapshot nothing_here")
    assert isinstance(bad.error_in_exec, UsageError) and "nothing_here" in str(bad.error_in_exec)
    missing = shell.run_cell("%track diff nope")
    assert isinstance(missing.error_in_exec, UsageError) and "No dataset named 'nope'" in str(missing.error_in_exec)


def test_an_unchanged_re_snapshot_says_unchanged_and_keeps_the_message(shell, store, capsys):
    run_ok(shell, "import pandas as pd\npeople = pd.DataFrame({'id': [1, 2, 3], 'age': [30, 40, 50]})")
    run_ok(shell, "%track snapshot people -m 'March export'")
    first = capsys.readouterr().out
    assert first.startswith("nbtrack: people@1 (") and " bytes added)" in first
    run_ok(shell, "%track snapshot people -m 'checked again in April'")
    again = capsys.readouterr().out
    assert again == (
        "nbtrack: people@1 unchanged (same content, nothing written); message added to it: 'checked again in April'\n"
    )
    assert "bytes added" not in again
    (version,) = nbtrack.data.list_versions("people")
    assert version["message"] == "March export\nchecked again in April"
    run_ok(shell, "%track snapshot people")  # no message: nothing to add
    assert capsys.readouterr().out == "nbtrack: people@1 unchanged (same content, nothing written)\n"
    same = nbtrack.snapshot(shell.user_ns["people"], "people", message="March export")  # already there
    assert same.unchanged and same.message == "March export\nchecked again in April"
    assert nbtrack.data.get_version("people", 1).unchanged is False  # a flag of the call, not of the version


def test_compare_of_two_frames_names_them_not_version_0():
    a = pd.DataFrame({"x": [1, 2, 3]})
    b = pd.DataFrame({"x": [1, 2, 4]})
    diff = nbtrack.data.compare(a, b)
    assert diff.summary().splitlines()[0] == "DataFrames: frame_a -> frame_b"
    assert "version 0" not in diff.summary() and "version 0" not in diff._repr_html_()
    assert nbtrack.data.compare(a, b, name="x", a=1, b=2).summary().splitlines()[0] == "x: version 1 -> 2"
