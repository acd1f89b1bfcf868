"""A figure the display already rendered as PNG (the inline backend) is saved from that PNG, not drawn a
second time; a figure changed after it was displayed is drawn again (issue 22)."""

from __future__ import annotations

import io

import pytest

import nbtrack

DRAW = """import io
import matplotlib.pyplot as plt
fig, ax = plt.subplots()
ax.plot([1, 3, 2])
shown = io.BytesIO()
fig.canvas.print_figure(shown, format="png", bbox_inches="tight", dpi=fig.dpi, facecolor=fig.get_facecolor())
"""


def _figures(run_id: str) -> list[bytes]:
    run = nbtrack.get_run(run_id)
    return [nbtrack.load_artifact(run_id, a["name"]) for a in run.artifacts if a["kind"] == "figure"]


def test_a_figure_displayed_as_png_is_saved_from_that_png(shell, run_ok, last_run):
    run_ok("%%track --quiet\n" + DRAW)
    assert _figures(last_run().run_id) == [shell.user_ns["shown"].getvalue()]


def test_a_figure_changed_after_it_was_displayed_is_drawn_again(shell, run_ok, last_run):
    run_ok("%%track --quiet\n" + DRAW + "ax.set_title('changed after the display')\n")
    saved = _figures(last_run().run_id)
    assert len(saved) == 1 and saved[0] != shell.user_ns["shown"].getvalue()
    again = io.BytesIO()
    shell.user_ns["fig"].savefig(again, format="png", bbox_inches="tight")
    assert saved[0] == again.getvalue()  # what the figure shows now


def test_a_retina_display_is_not_taken_for_the_saved_png(shell, run_ok, last_run):
    run_ok("%%track --quiet\n" + DRAW.replace("dpi=fig.dpi", "dpi=fig.dpi * 2"))
    saved = _figures(last_run().run_id)
    assert len(saved) == 1 and saved[0] != shell.user_ns["shown"].getvalue()


@pytest.mark.slow
def test_in_a_kernel_the_saved_figures_are_the_pngs_the_notebook_shows(store, tmp_path):
    """A real kernel (papermill) with the inline backend: each figure's artifact is byte for byte the PNG in
    the output notebook, because it is the display's render (drawn once), not a second one."""
    import base64

    import nbformat
    import papermill

    cells = [
        "%load_ext nbtrack\n%matplotlib inline",
        "from matplotlib.backend_bases import FigureCanvasBase\ndrawn = []\noriginal = FigureCanvasBase.print_figure\n"
        "def counting(canvas, *args, **kwargs):\n    drawn.append(id(canvas.figure))\n"
        "    return original(canvas, *args, **kwargs)\nFigureCanvasBase.print_figure = counting",
        "%%track --quiet\nimport matplotlib.pyplot as plt\nfig, axes = plt.subplots(2, 2)\n"
        "for ax in axes.flat:\n    ax.plot([1, 2, 3])\nplt.show()\nother = plt.figure()\nlines = plt.plot([3, 1])",
        "assert len(drawn) == 2 and drawn[0] != drawn[1], drawn  # each figure drawn once: by the display",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, tmp_path / "figures.ipynb")
    papermill.execute_notebook(
        str(tmp_path / "figures.ipynb"), str(tmp_path / "out.ipynb"), cwd=str(tmp_path), progress_bar=False
    )
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    shown = [base64.b64decode(o["data"]["image/png"]) for o in out.cells[2].outputs if "image/png" in o.get("data", {})]
    assert len(shown) == 2
    assert _figures(nbtrack.runs(limit=1).run_id[0]) == shown
