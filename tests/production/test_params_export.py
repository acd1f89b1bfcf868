"""Parameter inference, the papermill parameters cell, typed overrides and export (few kernels)."""

from __future__ import annotations

import os
import subprocess
import sys

import nbformat
import pytest

import nbtrack
from nbtrack.production import params as P
from nbtrack.production.execute import run_notebook
from nbtrack.production.export import export_notebook, export_script
from nbtrack.store import Store


def test_inference_reads_track_literals_and_top_level_constants(notebook):
    nb = nbformat.read(notebook("prod_track.ipynb"), as_version=4)
    found = {p.name: p for p in P.infer(nb)}
    assert {k: p.value for k, p in found.items()} == {"alpha": 1.0, "depth": 3}
    assert found["alpha"].source == "cell 2 (%%track train), line 2"
    plain = {p.name: p.value for p in P.infer(nbformat.read(notebook("prod_plain.ipynb"), as_version=4))}
    assert plain == {"alpha": 1.0, "depth": 3, "label": "base", "fail": False, "crash": False}


def test_computed_names_are_not_parameters():
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("n = 3\nk = 1"), nbformat.v4.new_code_cell("n = n + 1")]
    )
    assert [p.name for p in P.infer(nb)] == ["k"]


def test_export_notebook_adds_commented_parameters_cell_and_is_idempotent(notebook, tmp_path):
    out = tmp_path / "pm.ipynb"
    exported = export_notebook(notebook("prod_track.ipynb"), out)
    index = P.find_tagged(exported, "parameters")
    assert index == 1  # before the first code cell, after the title
    assert "alpha = 1.0  # from cell 2 (%%track train), line 2" in exported.cells[index].source
    track = exported.cells[index + 2].source
    assert "alpha = 1.0" not in track and P.MARKER + "alpha" in track  # papermill's value is not overwritten
    again = export_notebook(out)
    assert nbformat.writes(again) == nbformat.writes(nbformat.read(out, as_version=4))


def test_existing_parameters_cell_is_kept(notebook):
    nb = nbformat.read(notebook("prod_params.ipynb"), as_version=4)
    exported = export_notebook(nb)
    assert [c.source for c in exported.cells] == [c.source for c in nb.cells]
    assert {p.name: p.value for p in P.infer(nb)} == {"lr": 0.5, "epochs": 2}


def test_overrides_follow_the_parameter_types():
    params = [
        P.Parameter("lr", 0.1, "x"),
        P.Parameter("depth", 3, "x"),
        P.Parameter("flag", False, "x"),
        P.Parameter("name", "a", "x"),
        P.Parameter("sizes", [1], "x"),
    ]
    got = P.coerce(params, {"lr": "1e-3", "depth": "5", "flag": "true", "name": "7", "sizes": "[2, 3]"})
    assert got == {"lr": 0.001, "depth": 5, "flag": True, "name": "7", "sizes": [2, 3]}
    assert type(got["lr"]) is float and type(got["depth"]) is int
    with pytest.raises(nbtrack.NbtrackError, match="expects a value of type int"):
        P.coerce(params, {"depth": "five"})


def test_unknown_parameter_lists_the_known_ones():
    with pytest.raises(P.UnknownParameterError) as info:
        P.coerce([P.Parameter("lr", 0.1, "x")], {"lrr": "1"})
    assert "'lrr'" in str(info.value) and "lr (float, default 0.1)" in str(info.value)


def test_script_reports_what_it_cannot_express(tmp_path):
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("%matplotlib inline\nx = 1"),
            nbformat.v4.new_code_cell("!pip install foo\nfiles = !ls"),
            nbformat.v4.new_code_cell("%%bash\necho hi"),
            nbformat.v4.new_code_cell("%time y = x + 1"),
        ]
    )
    result = export_script(nb, tmp_path / "s.py")
    assert len(result.skipped) == 4
    assert any("!pip install foo (shell escape" in s for s in result.skipped)
    assert any("%%bash cell magic" in s for s in result.skipped)
    compile(result.text, "s.py", "exec")
    assert "\n    y = x + 1" in result.text  # the notebook's code runs inside the script's job-level run


@pytest.mark.slow
def test_export_round_trip_notebook_and_script_give_the_same_metrics(notebook, store, tmp_path):
    source = notebook("prod_track.ipynb")
    original = run_notebook(source, {"alpha": 0.5}, store=store)
    exported = run_notebook(export_notebook(source), {"alpha": 0.5}, store=store)
    assert exported.metrics["score"] == original.metrics["score"] == 1.5
    script = tmp_path / "track.py"
    export_script(source, script)
    help_text = subprocess.run(
        [sys.executable, str(script), "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "--alpha" in help_text and "float (default: 1.0" in help_text and "--depth" in help_text
    subprocess.run([sys.executable, str(script), "--alpha", "0.5"], check=True, cwd=tmp_path)
    latest = nbtrack.runs(where="name = 'train'", order_by="-start", limit=1)
    assert latest["params.alpha"].iloc[0] == 0.5 and latest["metrics.score"].iloc[0] == 1.5
    evaluate = nbtrack.runs(where="name = 'evaluate'", order_by="-start", limit=1)
    assert evaluate["metrics.loss"].iloc[0] == original.metrics["loss"]


def test_script_command_line_wins_over_a_track_literal_when_a_parameters_cell_exists(tmp_path):
    parameters = nbformat.v4.new_code_cell("alpha = 1.0")
    parameters.metadata["tags"] = ["parameters"]
    nb = nbformat.v4.new_notebook(
        cells=[parameters, nbformat.v4.new_code_cell("%%track fit\nalpha = 1.0\nscore = alpha * 2")]
    )
    text = export_script(nb).text
    assert "\n    alpha = 1.0" not in text and "# nbtrack parameter: alpha" in text
    assert "params={'alpha': alpha}" in text


def test_export_cli_writes_both_forms_and_lists_what_it_skipped(notebook, tmp_path):
    from click.testing import CliRunner

    from nbtrack.cli import main

    source = notebook("prod_track.ipynb")
    result = CliRunner().invoke(main, ["export", str(source), "--to", "notebook"])
    assert result.exit_code == 0 and (tmp_path / "prod_track.papermill.ipynb").exists()
    result = CliRunner().invoke(main, ["export", str(source), "--to", "script", "-o", str(tmp_path / "t.py")])
    assert result.exit_code == 0, result.output
    assert "params: alpha, depth" in result.output
    assert "not exported: cell 1, line 1: %load_ext nbtrack (dropped: no effect in a script)" in result.output


@pytest.mark.slow
def test_exported_script_records_what_the_track_cell_recorded_through_papermill(notebook, store, tmp_path):
    source = notebook("prod_capture.ipynb")  # a %%track cell that prints, draws, fits a model, reads df
    run_notebook(source, store=store)
    export_script(source, tmp_path / "capture.py")
    subprocess.run([sys.executable, str(tmp_path / "capture.py")], check=True, cwd=tmp_path, capture_output=True)
    cells = nbtrack.runs(where="name = 'fit'", order_by="start")
    assert len(cells) == 2
    from_notebook, from_script = (nbtrack.get_run(run_id) for run_id in cells["run_id"])
    assert from_script.status == from_notebook.status == "ok"
    assert from_script.params == from_notebook.params and from_script.params["model"] == "Ridge"
    public = [{k: v for k, v in r.latest.items() if not k.startswith("_")} for r in (from_notebook, from_script)]
    assert public[0] == public[1] and set(public[0]) == {"score"}
    assert {"_wall_s", "_cpu_s", "_peak_mem_mb"} <= set(from_script.latest)
    kinds = [{a["name"]: a["kind"] for a in r.artifacts} for r in (from_notebook, from_script)]
    assert kinds[0] == kinds[1] == {"model.pkl": "model", "figure-1.png": "figure", "stdout.txt": "text"}
    outputs = [nbtrack.load_artifact(r.run_id, "stdout.txt") for r in (from_notebook, from_script)]
    assert outputs[0] == outputs[1] and outputs[0].startswith(b"score 0.99")
    model = nbtrack.load_artifact(from_script.run_id, "model.pkl", trusted=True)
    assert type(model).__name__ == "Ridge" and model.alpha == 0.5
    assert (
        [(d["name"], d["fingerprint"]) for d in from_script.inputs]
        == [(d["name"], d["fingerprint"]) for d in from_notebook.inputs]
        != []
    )


def test_track_options_are_carried_into_the_script():
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "%%track fit -e prod -t stage=dev owner=ana --metrics score --no-figures --no-autolog\nscore = len('abc') * 1.5"
            )
        ]
    )
    text = export_script(nb).text
    assert (
        "with nbtrack.track('fit', experiment='prod', tags={'stage': 'dev', 'owner': 'ana'}, "
        "metrics=['score'], figures=False, autolog=False, params={}, "
        "namespace=globals(), kind='cell'):"
    ) in text
    assert "code=" not in text  # nbtrack.track reads the block's code from the script: no second copy
    compile(text, "s.py", "exec")


def test_track_params_option_is_carried_into_the_script(tmp_path):
    # %%track --params names: one defined before the cell (recorded at its start), one the cell assigns
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("import math\nwidth = math.floor(7.9)"),
            nbformat.v4.new_code_cell("%%track shape --params width,area\narea = width * 3\nscore = area / 10"),
        ]
    )
    script = tmp_path / "shape.py"
    script.write_text(export_script(nb).text)
    store = tmp_path / ".nbtrack"
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env={**os.environ, "NBTRACK_HOME": str(store)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    record = nbtrack.get_run(nbtrack.runs(store=Store.open(store))["run_id"][0], store=Store.open(store))
    assert record.params == {"width": 7, "area": 21}
    assert record.latest["score"] == 2.1 and not {"width", "area"} & set(record.latest)


def test_export_keeps_the_run_name_after_an_option(tmp_path):
    # `%%track --quiet baseline` used to lose its name on export: production read %%track lines with its own parser
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("%%track --quiet baseline\nlr = 0.1\nacc = lr * 2")])
    assert "lr = 0.1  # from cell 0 (%%track baseline), line 2" in export_notebook(nb).cells[0].source
    script = tmp_path / "baseline.py"
    text = export_script(nb, script).text
    assert "with nbtrack.track('baseline', params={'lr': lr}," in text
    store = tmp_path / ".nbtrack"
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env={**os.environ, "NBTRACK_HOME": str(store)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    frame = nbtrack.runs(store=Store.open(store)).set_index("kind")
    assert list(frame["name"]) == ["baseline", "baseline"] and frame["params.lr"]["cell"] == 0.1
    assert frame["parent_id"]["cell"] == frame["run_id"]["script"]  # the script's job run holds the cell run


def test_export_refuses_a_track_line_the_magic_would_refuse():
    from nbtrack.errors import TrackUsageError

    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("%%track fit --bogus\nscore = x * 2")]
    )
    with pytest.raises(TrackUsageError, match=r"cell 1: %%track fit --bogus: .*unrecognized arguments"):
        export_script(nb)
    # inference only labels the params' source: a refused line is just "%%track" there (the run reports it)
    nb.cells[1].source = "%%track fit --bogus\nalpha = 0.5\nscore = alpha * 2"
    assert [p.source for p in P.infer(nb)] == ["cell 0, line 1", "cell 1 (%%track), line 2"]


def test_only_the_track_magic_makes_a_track_cell():
    cell = nbformat.v4.new_code_cell
    assert P.is_track_cell(cell("%%track\nx = 1")) and P.is_track_cell(cell("\n  %%track fit -e a\nx = 1"))
    assert not P.is_track_cell(cell("%%tracked\nx = 1")) and not P.is_track_cell(cell("# %%track\nx = 1"))
