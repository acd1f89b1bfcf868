"""%%track in real kernels: papermill, interruption, kernel death, two kernels sharing one store."""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

import pytest

import nbtrack

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
pytestmark = pytest.mark.slow


def by_name(name: str):
    frame = nbtrack.runs(where=f"name = '{name}'")
    assert len(frame) == 1, f"expected one run named {name}, found {len(frame)}"
    return nbtrack.get_run(frame.run_id[0])


def test_papermill_notebook_records_every_item(store, tmp_path):
    import nbformat
    import papermill

    source = tmp_path / "track_cells.ipynb"
    shutil.copy(NOTEBOOKS / "track_cells.ipynb", source)
    with pytest.raises(papermill.PapermillExecutionError, match="boom at the end"):
        papermill.execute_notebook(
            str(source), str(tmp_path / "out.ipynb"), kernel_name="python3", cwd=str(tmp_path), progress_bar=False
        )
    basic = by_name("basic")
    assert basic.status == "ok" and basic.kind == "cell" and basic.tags == {"stage": "test"}
    assert basic.params == {"lr": 0.05, "layers": [16, 8]}
    assert {k: v for k, v in basic.latest.items() if not k.startswith("_")} == {"acc": 0.875, "loss": 0.1}
    assert basic.code.startswith("lr = 0.05")
    assert basic.source_cell is None  # nbclient sends no cellId (JupyterLab does: see the next test)
    assert basic.execution_count == 3
    assert nbtrack.load_artifact(basic.run_id, "stdout.txt") == b"trained 0.875\n"
    assert {"_wall_s", "_cpu_s", "_peak_mem_mb"} <= set(basic.latest)

    plot = by_name("plot")  # one figure shown with plt.show() mid-cell, one left for the inline backend
    figures = [a for a in plot.artifacts if a["kind"] == "figure"]
    assert len(figures) == 2
    assert all(nbtrack.load_artifact(plot.run_id, a["name"]).startswith(b"\x89PNG") for a in figures)

    fit = by_name("fit")
    assert fit.params["model"] == "RandomForestClassifier" and fit.params["model.max_depth"] == 3
    assert fit.params["depth"] == 3 and fit.params["seed"] == 7  # read from the config cell
    assert 0.5 < fit.latest["score"] <= 1.0
    model = nbtrack.load_artifact(fit.run_id, "model.pkl", trusted=True)
    assert type(model).__name__ == "RandomForestClassifier" and model.n_estimators == 10

    assert list(by_name("steps").metric("val_loss")) == [1.0, 0.5, 1 / 3, 0.25, 0.2]

    broken = by_name("broken")
    assert broken.status == "failed" and broken.error["type"] == "ValueError"
    assert broken.error["message"] == "boom at the end"
    assert nbtrack.load_artifact(broken.run_id, "stdout.txt") == b"about to fail\n"

    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    cells = {c.id: c for c in out.cells}
    assert [o.output_type for o in cells["failing"].outputs if o.output_type == "error"] == ["error"]
    assert cells["after"].execution_count is None  # papermill stopped at the failing cell, as untracked
    images = [o for o in cells["figure"].outputs if "image/png" in o.get("data", {})]
    assert len(images) == 2  # the notebook still shows both figures
    assert len(nbtrack.runs()) == 5


@pytest.fixture
def kernel(store, tmp_path):
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(tmp_path))
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    reply = kc.execute_interactive("%load_ext nbtrack", timeout=60)
    assert reply["content"]["status"] == "ok"
    yield km, kc
    kc.stop_channels()
    if km.is_alive():
        km.shutdown_kernel(now=True)


def test_cell_id_and_notebook_path_come_from_the_frontend(store, tmp_path, monkeypatch):
    """JupyterLab sends cellId in the execute_request metadata and starts kernels with JPY_SESSION_NAME."""
    from jupyter_client.manager import KernelManager

    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "analysis.ipynb"))
    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(tmp_path))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        kc.execute_interactive("%load_ext nbtrack", timeout=60)
        content = {
            "code": "%%track labcell\nx = 1",
            "silent": False,
            "store_history": True,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": True,
        }
        msg = kc.session.msg("execute_request", content, metadata={"cellId": "7f3c-cell"})
        kc.shell_channel.send(msg)
        while True:
            reply = kc.get_shell_msg(timeout=30)
            if reply["parent_header"]["msg_id"] == msg["header"]["msg_id"]:
                break
        assert reply["content"]["status"] == "ok"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    run = by_name("labcell")
    assert run.source_cell == "7f3c-cell" and run.source_path == str(tmp_path / "analysis.ipynb")
    assert run.execution_count == 2


def wait_for_status(name: str, status: str, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frame = nbtrack.runs(where=f"name = '{name}'")
        if len(frame) and frame.status[0] == status:
            return nbtrack.get_run(frame.run_id[0])
        time.sleep(0.1)
    raise AssertionError(f"run {name} never reached status {status}")


def _wait_idle(kc, timeout: float = 30) -> None:
    """Until the kernel answers a silent no-op (it is idle and no longer aborting requests)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if kc.execute_interactive("", silent=True, timeout=timeout)["content"]["status"] == "ok":
            return
        time.sleep(0.2)
    raise AssertionError("the kernel did not become usable again")


def test_sigint_marks_the_run_interrupted(kernel):
    km, kc = kernel
    msg_id = kc.execute("%%track sleepy\nimport time\nx = 1\ntime.sleep(60)")
    wait_for_status("sleepy", "running")
    time.sleep(0.3)
    km.interrupt_kernel()
    reply = kc.get_shell_msg(timeout=30)
    assert reply["parent_header"]["msg_id"] == msg_id
    assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt"
    run = wait_for_status("sleepy", "interrupted", timeout=10)
    assert run.error["type"] == "KeyboardInterrupt" and run.params == {"x": 1}
    # ipykernel aborts requests that reach it while it still handles the interrupted cell's error (as it
    # aborts cells queued behind a failed one): the next cell is sent once the kernel is idle again
    _wait_idle(kc)
    reply = kc.execute_interactive("%%track after\ny = 2", timeout=30)  # the kernel is still usable
    assert reply["content"]["status"] == "ok" and by_name("after").status == "ok"


def test_figures_of_a_cell_that_imports_pyplot_itself_are_captured(kernel):
    """matplotlib is first imported inside the tracked cell (inline backend): both figures are saved."""
    km, kc = kernel
    outputs = []
    reply = kc.execute_interactive(
        "%%track firstplot --quiet\nimport matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()\n"
        "plt.figure()\nplt.bar([1], [3])",
        timeout=60,
        output_hook=outputs.append,
    )
    assert reply["content"]["status"] == "ok"
    shown = [m for m in outputs if m["msg_type"] == "display_data" and "image/png" in m["content"]["data"]]
    assert len(shown) == 2  # the notebook shows both, as without %%track
    run = by_name("firstplot")
    assert [a["name"] for a in run.artifacts if a["kind"] == "figure"] == ["figure-1.png", "figure-2.png"]


def test_top_level_await_is_refused_up_front_in_a_kernel(kernel):
    km, kc = kernel
    outputs = []
    reply = kc.execute_interactive(
        "%%track waits\nimport asyncio\nstarted = True\nawait asyncio.sleep(0)", timeout=30, output_hook=outputs.append
    )
    text = "".join(m["content"].get("text", "") for m in outputs if m["msg_type"] == "stream")
    assert "top-level `await`" in text and "untracked cell" in text
    assert len(nbtrack.runs()) == 0  # nothing ran, nothing was recorded
    reply = kc.execute_interactive("started", timeout=30)
    assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "NameError"


def test_runs_view_in_a_kernel_is_a_widget_with_an_html_fallback(kernel):
    km, kc = kernel
    kc.execute_interactive("%%track shown --quiet\nx = 1", timeout=30)
    outputs = []
    reply = kc.execute_interactive("%track runs", timeout=60, output_hook=outputs.append)
    assert reply["content"]["status"] == "ok"
    (result,) = [m["content"]["data"] for m in outputs if m["msg_type"] == "execute_result"]
    assert "application/vnd.jupyter.widget-view+json" in result
    assert "shown" in result["text/html"] and "<table" in result["text/html"]


def test_killed_kernel_leaves_a_crashed_run(kernel):
    km, kc = kernel
    kc.execute("%%track doomed\nimport time\ntime.sleep(60)")
    running = wait_for_status("doomed", "running")
    os.kill(running.pid, signal.SIGKILL)  # the kernel dies mid-cell, nothing can finish the run
    km.provisioner.process.wait(timeout=10)
    run = wait_for_status("doomed", "crashed", timeout=15)
    assert run.run_id == running.run_id


def test_two_kernels_tracking_into_one_store_lose_nothing(store, tmp_path):
    from jupyter_client.manager import KernelManager

    kernels = []
    for _ in range(2):
        km = KernelManager(kernel_name="python3")
        km.start_kernel(cwd=str(tmp_path))
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        kc.execute_interactive("%load_ext nbtrack", timeout=60)
        kernels.append((km, kc))
    try:
        pending = []
        for index in range(25):
            for k, (km, kc) in enumerate(kernels):
                pending.append(
                    (
                        kc,
                        kc.execute(
                            f"%%track k{k}-{index} --quiet\nseed = {index}\n"
                            f"import nbtrack\nfor s in range(20): nbtrack.log_metric('m', s, step=s)\n"
                            f"acc = seed / 100"
                        ),
                    )
                )
        for kc, msg_id in pending:
            while True:
                reply = kc.get_shell_msg(timeout=60)
                if reply["parent_header"]["msg_id"] == msg_id:
                    assert reply["content"]["status"] == "ok", reply["content"]
                    break
    finally:
        for km, kc in kernels:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
    frame = nbtrack.runs()
    assert len(frame) == 50 and set(frame.status) == {"ok"}
    for k in range(2):
        for index in (0, 13, 24):
            run = by_name(f"k{k}-{index}")
            assert run.params == {"seed": index} and run.latest["acc"] == index / 100
            assert len(run.metric("m")) == 20
