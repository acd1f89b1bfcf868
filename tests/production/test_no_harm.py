"""First, do no harm (issue 19): `nbtrack run` never changes what a notebook computes.

Every notebook here runs on real kernels, once through plain ``papermill.execute_notebook`` and once
through nbtrack, and the outputs of every cell are compared."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import nbformat
import papermill
import pytest
from click.testing import CliRunner

import nbtrack
from nbtrack.cli import main
from nbtrack.production import params as P
from nbtrack.production.export import export_script

pytestmark = pytest.mark.slow

#: What differs between two executions of the same code: the %%track summary line's run id and wall time,
#: and timings the notebook prints itself ("done in 0.012s").
_VOLATILE = re.compile(r"nbtrack: run \S+( FAILED)? [0-9.]+s|done in [0-9.]+s")


def _outputs(nb) -> list[list[dict]]:
    """Each cell's outputs, without what is volatile: run ids, timings, papermill's metadata, how the
    kernel happened to cut a stream into messages, and how stdout and stderr interleave (two streams the
    kernel flushes independently, in either order from one execution to the next). Non-stream outputs
    keep their order; each stream's text is joined and follows them, stdout then stderr."""
    cells = []
    for cell in nb.cells:
        outputs: list[dict] = []
        streams: dict[str, str] = {}
        for output in cell.get("outputs", []):
            kept = {k: v for k, v in output.items() if k not in ("metadata", "transient")}
            if kept.get("output_type") == "stream":
                streams[kept["name"]] = streams.get(kept["name"], "") + kept["text"]
            else:
                outputs.append(kept)
        for name in sorted(streams, key=lambda n: n != "stdout"):
            outputs.append({"name": name, "output_type": "stream", "text": streams[name]})
        for output in outputs:
            if "text" in output:
                output["text"] = _VOLATILE.sub("VOLATILE", output["text"])
        cells.append(outputs)
    return cells


def _both_ways(path, tmp_path, params=None):
    """``(papermill's output notebook, nbtrack's output notebook, nbtrack's result)``."""
    plain = tmp_path / f"{path.stem}.papermill.out.ipynb"
    try:
        papermill.execute_notebook(
            str(path), str(plain), parameters=params, progress_bar=False, cwd=str(path.parent), kernel_name="python3"
        )
    except papermill.PapermillExecutionError:
        pass  # a failing notebook fails both ways: its partial outputs are compared
    ours = tmp_path / f"{path.stem}.nbtrack.out.ipynb"
    result = nbtrack.run_notebook(path, params, output=ours, check=False)
    return nbformat.read(plain, as_version=4), nbformat.read(ours, as_version=4), result


def _text(nb) -> str:
    return "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))


@pytest.mark.parametrize(
    "name",
    [
        "prod_lasso.ipynb",  # scikit-learn's gallery example: alpha = 1 on dense data, then alpha = 0.1
        "prod_sections.ipynb",  # the same shape with %%track cells
        "prod_sections_plain.ipynb",
        "prod_track.ipynb",
        "prod_plain.ipynb",
        "prod_params.ipynb",
        "prod_typed.ipynb",
        "prod_broken.ipynb",
        "prod_error_markers.ipynb",
        "prod_sys_exit.ipynb",  # papermill stops at sys.exit(0) and calls the run a success
    ],
)
def test_without_params_a_notebook_computes_what_plain_papermill_computes(name, notebook, store, tmp_path):
    path = notebook(name)
    original = nbformat.read(path, as_version=4)
    plain, ours, _ = _both_ways(path, tmp_path)
    assert _outputs(ours) == _outputs(plain)
    # nothing injected, nothing added, nothing rewritten: the cells are the user's own
    executed = [c for c in ours.cells if P.ERROR_MARKER_TAG not in c.metadata.get("tags", [])]
    expected = [c for c in original.cells if P.ERROR_MARKER_TAG not in c.metadata.get("tags", [])]
    assert [c.source for c in executed] == [c.source for c in expected]
    assert P.find_tagged(ours, P.INJECTED_TAG) < 0


def test_the_gallery_lasso_notebook_fits_its_second_section_with_its_own_alpha(notebook, store, tmp_path):
    result = nbtrack.run_notebook(notebook("prod_lasso.ipynb"), output=tmp_path / "out.ipynb")
    text = _text(result.notebook)
    assert "alpha 1, non-zero" in text and "alpha 0.1, non-zero" in text
    assert "alpha" not in result.params


def test_the_second_section_keeps_its_own_value(notebook, store, tmp_path):
    result = nbtrack.run_notebook(notebook("prod_sections.ipynb"), output=tmp_path / "out.ipynb")
    text = _text(result.notebook)
    assert "dense 1.0 21.0" in text and "sparse 0.1 2.1" in text and "last 0.1 2.1" in text
    assert "alpha" not in result.params  # two literals, two values: not a param of the notebook
    children = nbtrack.runs(where="kind = 'cell'").set_index("name")
    assert children.loc["sparse", "metrics.score"] == pytest.approx(2.1)
    assert children.loc["dense", "params.alpha"] == 1.0 and children.loc["sparse", "params.alpha"] == 0.1


@pytest.mark.parametrize("command", ["run", "sweep"])
def test_a_param_assigned_in_several_cells_is_refused_with_its_cells(command, notebook, store):
    result = CliRunner().invoke(main, [command, str(notebook("prod_sections.ipynb")), "-p", "alpha", "0.5"])
    assert result.exit_code == 1, result.output
    assert "Param 'alpha' is assigned a literal in several places" in result.output
    assert "cell 4 (%%track dense), line 2; cell 6, line 1" in result.output
    assert store.query("SELECT COUNT(*) FROM runs") == [(0,)]  # nothing ran


def test_a_param_assigned_once_is_overridden_and_the_other_sections_are_left_alone(notebook, store, tmp_path):
    out = tmp_path / "out.ipynb"
    result = CliRunner().invoke(main, ["run", str(notebook("prod_sections.ipynb")), "-p", "scale", "1", "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = _text(nbformat.read(out, as_version=4))
    assert "dense 1.0 7.0" in text and "sparse 0.1 0.7" in text
    record = nbtrack.get_run(nbformat.read(out, as_version=4).metadata.nbtrack["run_id"])
    assert record.params == {"scale": 1, "rows": [1.0, 2.0, 4.0]}


def test_a_parameters_cell_is_overridden_only_there_as_papermill_does(notebook, store, tmp_path):
    # typed params (`a: float = 2.25`) are params; the %%track cell that sets `a = 0.5` itself keeps it
    plain, ours, result = _both_ways(notebook("prod_typed.ipynb"), tmp_path, {"a": 4.5})
    assert result.ok and result.params == {"a": 4.5, "n": 3, "name": "x"}
    assert _outputs(ours) == _outputs(plain)
    assert "first 4.5 3 x float" in _text(ours) and "second 1.5" in _text(ours)
    cli = CliRunner().invoke(main, ["run", str(notebook("prod_typed.ipynb")), "-p", "a", "3"])
    assert cli.exit_code == 0, cli.output
    latest = str(nbtrack.runs(where="kind = 'notebook'", order_by="-start", limit=1)["run_id"].iloc[0])
    assert nbtrack.get_run(latest).params["a"] == 3.0


def test_an_annotation_says_how_a_value_is_read():
    param = P.Parameter("a", 2, "parameters cell", "float")
    assert param.type_name == "float" and P.coerce([param], {"a": "2.5"}) == {"a": 2.5}
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("lr: float = 1\nsteps: int = 10")])
    exported = P.parameterize(nb)
    assert "lr: float = 1  # from cell 0, line 1" in exported.cells[0].source


def test_a_parameters_cell_that_does_not_parse_is_named_with_its_error(notebook, store):
    path = notebook("prod_bad_parameters.ipynb")
    result = CliRunner().invoke(main, ["run", str(path), "-p", "lr", "0.2"])
    assert result.exit_code == 1
    assert "The parameters cell (cell 1) is not valid Python: invalid syntax at line 2 ('epochs = = 2')" in (
        result.output
    )
    assert store.query("SELECT COUNT(*) FROM runs") == [(0,)]
    # without -p it runs as papermill runs it, and stops at that cell
    failed = nbtrack.run_notebook(path, check=False)
    assert failed.error is not None and failed.error["type"] == "SyntaxError" and failed.error["cell_index"] == 1


def test_the_failed_cell_is_numbered_as_in_the_users_notebook(notebook, store, tmp_path):
    result = CliRunner().invoke(main, ["run", str(notebook("prod_error_markers.ipynb"))])
    assert result.exit_code == 1
    assert "failed in cell 3: ValueError: still broken" in result.output
    record = nbtrack.get_run(str(nbtrack.runs(where="kind = 'notebook'")["run_id"].iloc[0]))
    assert (
        record.error is not None and record.error["cell_index"] == 3 and "still broken" in record.error["cell_source"]
    )


def test_ctrl_c_keeps_the_partial_output_notebook_and_records_it(notebook, store, tmp_path):
    path = notebook("prod_slow.ipynb")
    out = tmp_path / "slow.out.ipynb"
    process = subprocess.Popen(
        [sys.executable, "-m", "nbtrack", "run", str(path), "-o", str(out)],
        cwd=tmp_path,
        start_new_session=True,  # its own process group, as a terminal's foreground job
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not (tmp_path / "started.txt").exists():
            assert process.poll() is None and time.monotonic() < deadline, "the notebook never started"
            time.sleep(0.1)
        time.sleep(1.0)  # the first cell's output reaches papermill
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C in the terminal
        output, _ = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, output
    assert "interrupted: its partial output notebook is kept at" in output
    executed = nbformat.read(out, as_version=4)
    assert "first cell done" in _text(executed) and "never reached" not in _text(executed)
    run = nbtrack.runs(where="kind = 'notebook'").iloc[0]
    assert run["status"] == "interrupted"
    record = nbtrack.get_run(run["run_id"])
    assert record.error is not None and record.error["type"] == "KeyboardInterrupt"
    stored = nbformat.reads(nbtrack.load_artifact(run["run_id"], "output.ipynb").decode(), as_version=4)
    assert "first cell done" in _text(stored)


def test_an_exported_script_computes_what_the_notebook_computes(notebook, store, tmp_path):
    # the %%track cell sets `a = 0.5` itself: the script keeps it, as papermill keeps it in the notebook
    script = tmp_path / "typed.py"
    export_script(notebook("prod_typed.ipynb"), script)
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "first 2.25 3 x float" in done.stdout and "second 1.5" in done.stdout
    done = subprocess.run(
        [sys.executable, str(script), "--a", "4"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert "first 4.0 3 x float" in done.stdout and "second 1.5" in done.stdout


def test_export_leaves_a_name_assigned_in_several_places_where_it_is(notebook):
    nb = nbformat.read(notebook("prod_sections.ipynb"), as_version=4)
    exported = P.parameterize(nb)
    assert "alpha" not in exported.cells[P.find_tagged(exported, "parameters")].source
    assert [c.source for c in exported.cells if "alpha = " in c.source] == [nb.cells[4].source, nb.cells[6].source]
    text = export_script(nb).text
    # inside the script's job-level run: a plain cell one level in, a %%track block's body two
    assert "--alpha" not in text and "\n    alpha = 0.1\n" in text and "\n        alpha = 1.0\n" in text
    found = P.scan(nb)
    assert [p.name for p in found.params] == ["scale", "rows"]
    assert found.ambiguous == {"alpha": ["cell 4 (%%track dense), line 2", "cell 6, line 1"]}


def test_an_assignment_in_a_cell_with_magics_counts_as_another_place(tmp_path, store):
    # `-p alpha` used to replace cell 1's literal only: cell 0 (not read, it has a magic) set alpha back to 1.0
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("%matplotlib inline\nalpha = 1.0"),
            nbformat.v4.new_code_cell("alpha = 0.1\nprint(alpha)"),
            nbformat.v4.new_code_cell("%%time\ndepth = 3"),
            nbformat.v4.new_code_cell("files = !ls\nwidth = 2"),
        ]
    )
    path = tmp_path / "magics.ipynb"
    nbformat.write(nb, path)
    result = CliRunner().invoke(main, ["run", str(path), "-p", "alpha", "0.5"])
    assert result.exit_code == 1
    assert "Param 'alpha' is assigned a literal in several places (cell 0, line 2; cell 1, line 1)" in result.output
    assert store.query("SELECT COUNT(*) FROM runs") == [(0,)]
    found = P.scan(nb)
    assert found.params == [] and set(found.ambiguous) == {"alpha"}  # magic cells' literals are never params
