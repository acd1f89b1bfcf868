"""Stored notebooks and other stored HTML/JS never run in JupyterLab's origin from the sidebar.

A store can hold a notebook artifact nobody on this machine wrote (a merged store, a sweep's worker, an
import, a pull from a team remote). Its cells can say ``"trusted": true`` and carry
``application/javascript`` and ``text/html`` outputs. When the run view's **Open output notebook** saves
that artifact into the Jupyter root and opens it, jupyter_server must not sign it and JupyterLab must
open it untrusted: the outputs' script never runs (no marker on ``window``, no request it would make),
the saved file carries no ``trusted`` flag and no valid signature (``jupyter trust --check``), and it
stays untrusted when opened again later.

The same module checks the run view's other ways of showing stored bytes: figures (``<img>``, also an
SVG or HTML "figure" with script), and text/HTML artifacts opened from their link in a tab (served
sandboxed by ``GET /artifacts/{hash}``).

A real ``jupyter lab`` with this checkout's extensions, headless Debian Chromium, and the Jupyter data
folder (where the notary's secret and signature database live) set to a temporary folder so the test
can ask the same notary the server uses.
"""

from __future__ import annotations

import json
import os

import pytest
from browser_lab import SCREENSHOTS, start_lab

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RUN_NAME = "crafted-notebook"
ARTIFACTS_RUN = "crafted-artifacts"
REQUEST_MARK = "nbtrack-pwned"  # any request whose URL holds this was made by a payload

# What a hostile notebook artifact's outputs try to do once JupyterLab treats them as trusted.
JS_PAYLOAD = f"window.__pwned = 'javascript output';fetch('/{REQUEST_MARK}-js', {{method: 'POST'}}).catch(() => null);"
HTML_PAYLOAD = (
    "<p class='crafted-html'>crafted html output</p>"
    "<img src='x' onerror=\"window.__pwned_html = 'img onerror'\">"
    "<script>window.__pwned_html = 'script tag'; "
    f"fetch('/{REQUEST_MARK}-html', {{method: 'POST'}}).catch(() => null);</script>"
)
VISIBLE_TEXT = "an ordinary text output"

CRAFTED_NOTEBOOK = {
    "nbformat": 4,
    "nbformat_minor": 5,
    "metadata": {
        "trusted": True,
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    },
    "cells": [
        {"cell_type": "markdown", "id": "intro", "metadata": {}, "source": "# A crafted notebook"},
        {
            "cell_type": "code",
            "id": "crafted",
            "metadata": {"trusted": True},
            "execution_count": 1,
            "source": "print('hello')",
            "outputs": [
                # Only application/javascript: no safe alternative JupyterLab could fall back to.
                {"output_type": "display_data", "metadata": {}, "data": {"application/javascript": JS_PAYLOAD}},
                {"output_type": "display_data", "metadata": {}, "data": {"text/html": HTML_PAYLOAD}},
                {"output_type": "stream", "name": "stdout", "text": VISIBLE_TEXT + "\n"},
            ],
        },
    ],
}

SVG_PAYLOAD = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40" onload="window.__pwned = \'svg onload\'">'
    "<script>window.__pwned = 'svg script'</script><rect width='40' height='40' fill='teal'/></svg>"
)
HTML_ARTIFACT = (
    "<html><body><h1>report</h1><script>window.__pwned = 'html artifact'; "
    f"fetch('/{REQUEST_MARK}-artifact', {{method: 'POST'}}).catch(() => null);</script>"
    "<img src=x onerror=\"window.__pwned = 'html artifact img'\"></body></html>"
)
# (name, kind, media type, bytes): what the run view shows as a figure or lists with a link.
OTHER_ARTIFACTS = [
    ("chart.svg", "figure", "image/svg+xml", SVG_PAYLOAD),
    ("page-as-figure.html", "figure", "text/html", HTML_ARTIFACT),
    ("html-bytes.png", "figure", "image/png", HTML_ARTIFACT),
    ("report.html", "file", "text/html", HTML_ARTIFACT),
    ("notes.txt", "text", "text/plain; charset=utf-8", HTML_ARTIFACT),
]

ROW_HEIGHT, HEADER_HEIGHT = 22, 24  # the grid's row and header heights (px)


def seed(store) -> dict[str, str]:
    """The crafted notebook as the notebook artifact of a notebook run, and a run of hostile figures/files."""
    from nbtrack.tracking import start_run

    with start_run(RUN_NAME, experiment="imported", kind="notebook", store=store) as run:
        run.log_artifact(
            json.dumps(CRAFTED_NOTEBOOK, indent=1).encode(),
            "output.ipynb",
            kind="notebook",
            media_type="application/x-ipynb+json",
        )
        run.log_metric("acc", 0.5)
    hashes = {"notebook_run": run.run_id, "notebook_short": run.run_id[-8:]}
    with start_run(ARTIFACTS_RUN, experiment="imported", kind="script", store=store) as run:
        for name, kind, media_type, text in OTHER_ARTIFACTS:
            hashes[name] = run.log_artifact(text.encode(), name, kind=kind, media_type=media_type)
    return hashes


@pytest.fixture(scope="module")
def lab(lab_base):
    from nbtrack.store import Store

    store_root = lab_base / "store" / ".nbtrack"
    store = Store.open(store_root, create=True)
    seeded = seed(store)
    data_dir = lab_base / "jupyter-data"
    data_dir.mkdir()
    # The server's notary keeps its secret and signatures in the Jupyter data folder: a temporary one,
    # so that this test's notary is the server's.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_DATA_DIR", str(data_dir))
        lab = start_lab(lab_base / "lab", store_root)
    lab.seeded = seeded
    lab.data_dir = data_dir
    yield lab
    lab.stop()


def watched_page(chromium):
    """A new tab that records the requests it makes and the script dialogs it opens."""
    page = chromium.new_page()
    page.dialogs, page.requests = [], []

    def on_dialog(dialog) -> None:
        if dialog.type != "beforeunload":  # JupyterLab's "leave with unsaved changes?" is not a payload
            page.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on("request", lambda r: page.requests.append(r.url))
    return page


@pytest.fixture
def page(lab, chromium):
    """A fresh JupyterLab page per test, so that one test's markers cannot show up in the next."""
    page = watched_page(chromium)
    page.goto(f"{lab.url}lab?reset&token={lab.token}")
    page.wait_for_selector("#jp-main-dock-panel", timeout=60_000)
    yield page
    page.close(run_before_unload=False)


def open_run(page, name: str) -> None:
    """Open a run's view through the sidebar: filter by name, click the only row."""
    tab = page.locator(".jp-SideBar li[title='nbtrack']")
    tab.wait_for()
    if "lm-mod-current" not in (tab.get_attribute("class") or ""):
        tab.click()
    page.locator(".nbtrack-sidebar").wait_for()
    page.locator(".nbtrack-tabs .lm-TabBar-tab", has_text="Runs").click()
    page.locator(".nbtrack-grid").wait_for()
    page.fill(".nbtrack-filter", f"name = '{name}'")
    page.press(".nbtrack-filter", "Enter")
    page.wait_for_function(
        "() => document.querySelector('.nbtrack-count')?.textContent === '1 run (filtered)'", timeout=15_000
    )
    page.wait_for_timeout(300)  # the grid paints the filtered page
    box = page.locator(".nbtrack-grid").bounding_box()
    page.mouse.click(box["x"] + 150, box["y"] + HEADER_HEIGHT + ROW_HEIGHT / 2)
    page.locator("#jp-main-dock-panel .nbtrack-detail:not(.lm-mod-hidden) .nbtrack-run-title", has_text=name).wait_for()


def markers(page) -> list[str]:
    """Every sign that a payload ran: window markers, requests it made, dialogs."""
    found = []
    for key in ("__pwned", "__pwned_html"):
        value = page.evaluate(f"() => window.{key}")
        if value is not None:
            found.append(f"window.{key} = {value!r}")
    found += [f"request {url}" for url in page.requests if REQUEST_MARK in url]
    found += [f"dialog {message!r}" for message in page.dialogs]
    return found


def hover(page, selector: str) -> None:
    """The mouse over each element of the selection, then synthetic hover/focus events on all of them."""
    for box in page.evaluate(
        """(sel) => [...document.querySelectorAll(sel + ' *')].map(e => {
        const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2, r.width, r.height]; })""",
        selector,
    )[:150]:
        if box[2] and box[3] and 0 <= box[1] < 860:
            page.mouse.move(box[0], box[1])
    page.evaluate(
        """(sel) => { for (const e of document.querySelectorAll(sel + ' *'))
        for (const type of ['mouseover', 'mouseenter', 'focus', 'load', 'error'])
            e.dispatchEvent(new Event(type, {bubbles: true})); }""",
        selector,
    )
    page.wait_for_timeout(500)


def saved_notebook_checks(lab, rel_path: str) -> list[str]:
    """Why the saved copy at ``rel_path`` would be trusted: flags in the file, a valid signature in the
    server's notary, or cells the server itself reports as trusted."""
    import urllib.request

    from nbformat import reads
    from nbformat.sign import NotebookNotary

    problems = []
    text = (lab.root_dir / rel_path).read_text(encoding="utf-8")
    raw = json.loads(text)
    if "trusted" in raw.get("metadata", {}):
        problems.append(f"notebook metadata keeps trusted={raw['metadata']['trusted']!r}")
    for i, cell in enumerate(raw.get("cells", [])):
        if "trusted" in cell.get("metadata", {}):
            problems.append(f"cell {i} metadata keeps trusted={cell['metadata']['trusted']!r}")
    notary = NotebookNotary(data_dir=str(lab.data_dir))
    if notary.check_signature(reads(text, as_version=4)):
        problems.append("the server's notary has a valid signature for the saved file (jupyter trust --check)")
    req = urllib.request.Request(
        f"{lab.url}api/contents/{rel_path}?content=1", headers={"Authorization": f"token {lab.token}"}
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        served = json.loads(r.read())
    for i, cell in enumerate(served["content"]["cells"]):
        if cell["cell_type"] == "code" and cell["metadata"].get("trusted") is not False:
            problems.append(f"the contents API reports cell {i} trusted={cell['metadata'].get('trusted')!r}")
    return problems


def lab_cells_trusted(page) -> list[bool]:
    """What the open notebook's model says about each cell's trust."""
    return page.evaluate(
        """() => { const w = window.jupyterapp.shell.currentWidget;
        const cells = w.content.model.cells; const out = [];
        for (let i = 0; i < cells.length; i++) out.push(cells.get(i).trusted);
        return out; }"""
    )


def wait_rendered(page) -> None:
    """The notebook's outputs are on the page (the script ones included, whatever became of them)."""
    notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    notebook.locator(".jp-OutputArea-output", has_text=VISIBLE_TEXT).wait_for(timeout=30_000)
    notebook.locator(".crafted-html").wait_for(timeout=10_000)
    hover(page, ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea")
    page.wait_for_timeout(1500)  # time for any script output to have run


def contents_put(lab, rel_path: str, model: dict) -> dict:
    """PUT /api/contents/<rel_path> with the server's token."""
    import urllib.request

    req = urllib.request.Request(
        f"{lab.url}api/contents/{rel_path}",
        data=json.dumps(model).encode(),
        method="PUT",
        headers={"Authorization": f"token {lab.token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def test_open_output_notebook_opens_a_stored_notebook_untrusted(page, lab):
    rel_path = f"nbtrack-outputs/output-{lab.seeded['notebook_short']}.ipynb"
    # A user who opened this artifact before the fix has the copy the old sidebar saved (a notebook
    # save: signed) at the same path, and the notary remembers its signature. The new copy must not
    # match it.
    contents_put(lab, "nbtrack-outputs", {"type": "directory"})
    contents_put(lab, rel_path, {"type": "notebook", "format": "json", "content": CRAFTED_NOTEBOOK})
    assert any("notary" in p for p in saved_notebook_checks(lab, rel_path)), "the old copy was signed"

    open_run(page, RUN_NAME)
    view = page.locator("#jp-main-dock-panel .nbtrack-detail:not(.lm-mod-hidden)")
    view.locator("button", has_text="Open output notebook").click()
    # The sidebar's copy replaces the old one (its text names the run and artifact it came from).
    page.wait_for_function(
        "p => window.jupyterapp.shell.currentWidget?.context?.path === p", arg=rel_path, timeout=30_000
    )
    saved = json.loads((lab.root_dir / rel_path).read_text(encoding="utf-8"))
    assert saved["metadata"]["nbtrack"]["saved_copy"]["run_id"] == lab.seeded["notebook_run"]
    wait_rendered(page)
    page.screenshot(path=str(SCREENSHOTS / "xss-notebook-artifact.png"))

    problems = markers(page)
    trusted = lab_cells_trusted(page)
    if any(trusted):
        problems.append(f"JupyterLab holds cells as trusted: {trusted}")
    problems += saved_notebook_checks(lab, rel_path)
    assert not problems, "\n".join(problems)


def test_the_saved_copy_stays_untrusted_when_opened_again(page, lab):
    rel_path = f"nbtrack-outputs/output-{lab.seeded['notebook_short']}.ipynb"
    assert (lab.root_dir / rel_path).is_file(), "the previous test saved the copy"
    page.evaluate("p => window.jupyterapp.commands.execute('docmanager:open', {path: p})", rel_path)
    page.wait_for_function(
        "p => window.jupyterapp.shell.currentWidget?.context?.path === p", arg=rel_path, timeout=30_000
    )
    wait_rendered(page)
    problems = markers(page)
    trusted = lab_cells_trusted(page)
    if any(trusted):
        problems.append(f"JupyterLab holds cells as trusted: {trusted}")
    problems += saved_notebook_checks(lab, rel_path)
    assert not problems, "\n".join(problems)


def test_figures_and_artifact_links_never_run_stored_script(page, lab, chromium):
    open_run(page, ARTIFACTS_RUN)
    selector = "#jp-main-dock-panel .nbtrack-detail:not(.lm-mod-hidden)"
    view = page.locator(selector)
    view.locator(".nbtrack-figures img").first.wait_for()
    page.wait_for_function(
        "s => [...document.querySelectorAll(s + ' .nbtrack-figures img')].every(i => i.complete)", arg=selector
    )
    hover(page, selector)
    problems = markers(page)
    # Stored bytes reach the view only as <img src=artifact URL> and download links: no frames, no markup.
    injected = page.evaluate(
        """(s) => [...document.querySelectorAll(s + ' *')].filter(e =>
            ['script', 'iframe', 'object', 'embed', 'svg', 'style'].includes(e.tagName.toLowerCase())
            || [...e.attributes].some(a => a.name.startsWith('on') || a.name === 'srcdoc'))
            .map(e => e.outerHTML.slice(0, 80))""",
        selector,
    )
    if injected:
        problems.append(f"active markup in the run view: {injected}")
    text = view.inner_text()
    problems += [f"artifact {name} not listed as text" for name, *_ in OTHER_ARTIFACTS if name not in text]

    # A link opened in a tab of its own (middle click, or the URL pasted): the server's sandbox holds.
    for name, _kind, _media_type, _text in OTHER_ARTIFACTS:
        tab = watched_page(chromium)
        response = tab.goto(f"{lab.url}nbtrack/api/v1/artifacts/{lab.seeded[name]}")
        assert response is not None and response.status == 200, (name, response and response.status)
        tab.wait_for_timeout(500)
        problems += [f"{name} in a tab: {m}" for m in markers(tab)]
        tab.close()
    assert not problems, "\n".join(problems)


def test_the_checks_see_a_trusted_notebook(page, lab):
    """The checks are not blind: the same notebook, signed by the server's notary as jupyter_server
    signs a notebook it saves with trusted cells, is reported by every file check, and opened in
    JupyterLab its payloads run and are seen."""
    from nbformat import from_dict, writes
    from nbformat.sign import NotebookNotary

    nb = from_dict(json.loads(json.dumps(CRAFTED_NOTEBOOK)))
    notary = NotebookNotary(data_dir=str(lab.data_dir))
    assert notary.check_cells(nb)  # what jupyter_server does on a notebook save: trusted cells, so sign
    notary.sign(nb)
    rel_path = "signed-control.ipynb"
    (lab.root_dir / rel_path).write_text(writes(nb), encoding="utf-8")
    try:
        problems = saved_notebook_checks(lab, rel_path)
        assert any("notary" in p for p in problems), problems
        assert any("contents API" in p for p in problems), problems
        assert any("metadata keeps trusted=True" in p for p in problems), problems

        page.evaluate("p => window.jupyterapp.commands.execute('docmanager:open', {path: p})", rel_path)
        page.wait_for_function(
            "p => window.jupyterapp.shell.currentWidget?.context?.path === p", arg=rel_path, timeout=30_000
        )
        wait_rendered(page)
        seen = markers(page)
        assert any("window.__pwned = 'javascript output'" in m for m in seen), seen
        assert any("window.__pwned_html" in m for m in seen), seen
        assert any(f"{REQUEST_MARK}-js" in m for m in seen), seen
        assert any(lab_cells_trusted(page)), "a signed notebook opens trusted"
    finally:
        os.remove(lab.root_dir / rel_path)
