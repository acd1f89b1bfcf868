"""The experiments workspace (issue 16) in a real JupyterLab, driven by headless Chromium.

One JupyterLab serves the module; the tests share one page in file order, as a user would: open the
workspace from the palette, the sidebar and ``%track open``; read the default columns; pick columns;
group; select runs and compare them against a baseline; chart a metric; open a run (text artifact,
rerun only for notebook runs, open the notebook at the cell); then the same views in the dark theme
(contrast of highlighted cells measured) and at 1024x768. Screenshots go to docs/img/workspace-*.png.
"""

from __future__ import annotations

import time

import pytest
from browser_lab import REPO, start_lab
from browser_seed import seed_dataset, seed_runs
from workspace_seed import seed_cell_run, seed_data_runs, seed_iris

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DOCS_IMG = REPO / "docs" / "img"
ROW = 24  # px, the workspace grid's row height
HEADER = 26
NAME_WIDTH = 220


@pytest.fixture(scope="module")
def lab(lab_base):
    from nbtrack.store import Store

    store_root = lab_base / "store" / ".nbtrack"
    store = Store.open(store_root, create=True)
    lab = start_lab(lab_base / "lab", store_root)
    seeded = {"wine": seed_runs(store, 4), "dataset": seed_dataset(store)}
    seeded["iris"] = seed_iris(store)
    seeded["cell"], seeded["cell_id"] = seed_cell_run(store, lab.root_dir)
    seeded["data"] = seed_data_runs(store)
    lab.store = store
    lab.seeded = seeded
    yield lab
    lab.stop()


@pytest.fixture(scope="module")
def page(lab, chromium):
    page = chromium.new_page()
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{lab.url}lab?reset&token={lab.token}")
    page.wait_for_selector("#jp-main-dock-panel", timeout=60_000)
    page.wait_for_function("() => window.jupyterapp?.commands.hasCommand('nbtrack:open-workspace')")
    yield page
    assert page.evaluate("() => window.__xss") is None, "store text ran as HTML"
    page.close()


def shot(page, name: str, locator=None) -> None:
    DOCS_IMG.mkdir(exist_ok=True)
    (locator or page).screenshot(path=str(DOCS_IMG / f"workspace-{name}.png"))


def command(page, name: str, args: dict | None = None) -> None:
    page.evaluate("([n, a]) => window.jupyterapp.commands.execute(n, a)", [name, args or {}])


def workspace(page):
    return page.locator("#jp-main-dock-panel .nbtrack-workspace-tab:not(.lm-mod-hidden)")


def current_view(page):
    return page.locator("#jp-main-dock-panel .nbtrack-detail:not(.lm-mod-hidden)")


def count_text(page) -> str:
    return workspace(page).locator(".nbtrack-count").inner_text()


def wait_count(page, prefix: str, timeout: float = 15_000) -> None:
    page.wait_for_function(
        """p => [...document.querySelectorAll('.nbtrack-workspace-tab:not(.lm-mod-hidden) .nbtrack-count')]
               .some(e => e.textContent.startsWith(p))""",
        arg=prefix,
        timeout=timeout,
    )


def grid_text(page) -> dict:
    """The workspace grid's headers and visible cells, read from its data model (the grid is a canvas)."""
    return page.evaluate(
        """() => {
          const w = window.jupyterapp.shell.currentWidget;
          const grid = w.content.grid, m = grid.dataModel;
          const cols = m.columnCount('body'), rows = Math.min(m.rowCount('body'), 60);
          const headers = [...Array(cols).keys()].map(c => m.data('column-header', 0, c));
          const body = [...Array(rows).keys()].map(r =>
            [m.data('row-header', r, 0), ...[...Array(cols).keys()].map(c => m.data('body', r, c))]);
          return {corner: m.data('corner-header', 0, 0), headers, body};
        }"""
    )


def set_experiment(page, name: str) -> None:
    workspace(page).locator(".nbtrack-experiment").select_option(name)


def set_group(page, value: str) -> None:
    workspace(page).locator(".nbtrack-groupby").select_option(value)


def click_row(page, row: int, modifier: str | None = None, x: float = NAME_WIDTH + 60) -> None:
    box = workspace(page).locator(".nbtrack-workspace-grid").bounding_box()
    if modifier:
        page.keyboard.down(modifier)
    page.mouse.click(box["x"] + x, box["y"] + HEADER + row * ROW + ROW / 2)
    if modifier:
        page.keyboard.up(modifier)


def open_workspace(page, experiment: str | None = None) -> None:
    command(page, "nbtrack:open-workspace", {"experiment": experiment} if experiment is not None else {})
    workspace(page).locator(".nbtrack-workspace-grid").wait_for()


# --- opening -----------------------------------------------------------------------------------------


def test_palette_opens_workspace_with_first_rows(page, lab):
    started = time.monotonic()
    page.keyboard.press("Control+Shift+c")
    page.locator(".lm-CommandPalette-input").fill("experiments workspace")
    page.keyboard.press("Enter")
    workspace(page).locator(".nbtrack-workspace-grid").wait_for()
    wait_count(page, "20 runs")  # wine 5; iris 4 + sweep + 3 jobs + their 3 cell runs + notes; cells 1; data 2
    elapsed = time.monotonic() - started
    assert elapsed < 10
    assert page.locator(".jp-SideBar li[title='nbtrack']").count() == 1  # the sidebar stays


def test_sidebar_button_opens_the_same_workspace(page, lab):
    tab = page.locator(".jp-SideBar li[title='nbtrack']")
    tab.click()
    page.locator(".nbtrack-sidebar .nbtrack-open-workspace").click()
    assert page.locator(".nbtrack-workspace-tab").count() == 1
    workspace(page).wait_for()
    tab.click()  # close the sidebar again: the workspace has the room


# --- runs table ----------------------------------------------------------------------------------------


def test_default_columns_hide_meta_metrics_and_autolog_params(page, lab):
    open_workspace(page)
    set_experiment(page, "iris")
    wait_count(page, "12 runs")
    t = grid_text(page)
    assert t["corner"].startswith("name")  # the frozen column
    headers = [h.rstrip(" ▲▼") for h in t["headers"]]
    assert headers[0] == "status"
    assert {"metrics.acc", "metrics.f1", "metrics.log_loss", "start", "duration"} <= set(headers)
    assert not [h for h in headers if h.startswith("metrics._")], headers
    assert not [h for h in headers if h.startswith("params.model.")], headers
    assert "params.C" in headers and "params.solver" not in headers  # a param equal in every run says nothing
    assert len(headers) <= 10, headers
    names = [row[0] for row in t["body"]]
    assert "notes-run" in names
    shot(page, "runs-light")
