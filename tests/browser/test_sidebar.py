"""The nbtrack sidebar in a real JupyterLab, driven by headless Chromium.

One JupyterLab serves the whole module; the tests run in file order and share one page, as a user
would: list runs, watch a new run arrive, filter, open a run, compare, look at a dataset, and see
hostile run names shown as text.
"""

from __future__ import annotations

import re

import pytest
from browser_lab import SCREENSHOTS, start_lab
from browser_seed import XSS_IMG, XSS_SCRIPT, seed_dataset, seed_notebook_run, seed_runs, seed_xss
from gridpaint import FRAMES, paint_both_ways

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROW_HEIGHT = 22  # px, the grid's defaultSizes.rowHeight
HEADER_HEIGHT = 24


@pytest.fixture(scope="module")
def lab(lab_base):
    from nbtrack.store import Store

    store_root = lab_base / "store" / ".nbtrack"
    store = Store.open(store_root, create=True)
    seeded = {"runs": seed_runs(store, 4), "xss": seed_xss(store), "dataset": seed_dataset(store)}
    lab = start_lab(lab_base / "lab", store_root)
    seeded["notebook"] = seed_notebook_run(store, lab.root_dir / "notebooks")
    lab.store = store
    lab.seeded = seeded
    yield lab
    lab.stop()


@pytest.fixture(scope="module")
def page(lab, chromium):
    page = chromium.new_page()
    page.dialogs = []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.goto(f"{lab.url}lab?reset&token={lab.token}")
    page.wait_for_selector("#jp-main-dock-panel", timeout=60_000)
    yield page
    page.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def open_sidebar(page) -> None:
    tab = page.locator(".jp-SideBar li[title='nbtrack']")
    tab.wait_for()
    if "lm-mod-current" not in (tab.get_attribute("class") or ""):
        tab.click()
    page.locator(".nbtrack-sidebar").wait_for()


def show_runs(page) -> None:
    open_sidebar(page)
    page.locator(".nbtrack-tabs .lm-TabBar-tab", has_text="Runs").click()
    page.locator(".nbtrack-grid").wait_for()


def count_text(page) -> str:
    return page.locator(".nbtrack-count").inner_text()


def wait_count(page, text: str, timeout: float = 15_000) -> None:
    page.wait_for_function(
        "t => document.querySelector('.nbtrack-count')?.textContent === t", arg=text, timeout=timeout
    )


def click_row(page, row: int, modifier: str | None = None) -> None:
    """Click a grid row (0 = first row under the header); the grid draws on a canvas."""
    box = page.locator(".nbtrack-grid").bounding_box()
    if modifier:
        page.keyboard.down(modifier)
    page.mouse.click(box["x"] + 150, box["y"] + HEADER_HEIGHT + row * ROW_HEIGHT + ROW_HEIGHT / 2)
    if modifier:
        page.keyboard.up(modifier)


def apply_filter(page, query: str) -> None:
    """Filter the runs and wait for the answer to this query: the count text alone can be the same
    before and after ("1 run (filtered)"), and a click on the old rows would open the wrong run."""
    from urllib.parse import parse_qs, urlparse

    def answers_query(response) -> bool:
        url = urlparse(response.url)
        return url.path.endswith("/nbtrack/api/v1/runs") and parse_qs(url.query).get("where") == [query]

    show_runs(page)
    page.fill(".nbtrack-filter", query)
    with page.expect_response(answers_query):
        page.press(".nbtrack-filter", "Enter")
    page.wait_for_timeout(100)  # the model applies the answer in the next tasks


def current_view(page):
    """The nbtrack view (run, compare, diff) showing in the main area."""
    return page.locator("#jp-main-dock-panel .nbtrack-detail:not(.lm-mod-hidden)")


def widen_sidebar(page, width: int = 470) -> None:
    """Drag the left area's split handle so more grid columns show (for the screenshots)."""
    handle = page.locator("#jp-main-split-panel > .lm-SplitPanel-handle").first
    box = handle.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 300)
    page.mouse.down()
    page.mouse.move(width, box["y"] + 300, steps=5)
    page.mouse.up()


def test_sidebar_lists_runs_with_status(page, lab):
    show_runs(page)
    widen_sidebar(page)
    wait_count(page, "8 runs")  # 4 ok + 1 failed + 1 hostile in "wine"; a notebook run + its %%track cell
    page.wait_for_function("() => document.querySelectorAll('.nbtrack-experiment option').length === 3")
    options = page.locator(".nbtrack-experiment option").all_inner_texts()
    assert options[0] == "All experiments" and {"wine (6)", "papermill (2)"} <= set(options)
    assert page.locator(".nbtrack-banner").is_hidden()
    shot(page, "01-sidebar")


def test_new_run_appears_live(page, lab):
    from nbtrack.tracking import start_run

    show_runs(page)
    with start_run("live-run", experiment="wine", params={"lr": 0.5}, store=lab.store) as run:
        run.log_metric("acc", 0.99)
    wait_count(page, "9 runs", timeout=10_000)  # the sidebar polls /changes every 2 s
    click_row(page, 0)  # newest first
    expect_title(page, "live-run")


def test_grid_reloads_with_one_paint_and_the_pixels_lumino_paints(page, lab):
    """The sidebar's grid is paintgrid.ts's PaintGrid: a reload (new rows, every column's width set
    back) costs one repaint, and its merged canvas copies (one per region instead of one per cell, about 1 ms each
    in a software-rendered Chromium) give the canvas Lumino paints, pixel for pixel (a row selected)."""
    show_runs(page)
    wait_count(page, "9 runs")
    sidebar = "[...window.jupyterapp.shell.widgets('left')].find(w => w.hasClass('nbtrack-sidebar'))"
    reload = page.evaluate(
        f"""async () => {{
          const sidebar = {sidebar};
          const grid = sidebar.grid;
          const frames = {FRAMES};
          const widths = () => sidebar.model.columns.map((c, i) => grid.columnSize('body', i));
          // As if the user had dragged every column narrower: a reload sets each one's width back.
          sidebar.model.columns.forEach((c, i) => grid.resizeColumn('body', i, 60));
          grid.paintOnce();
          await frames();
          const dragged = widths();
          const start = grid.counts.paints;
          await sidebar.reload();
          await frames();
          return {{paints: grid.counts.paints - start, dragged, widths: widths(),
                   expected: sidebar.model.columns.map(c => c.width),
                   selected: sidebar.selectedRunIds().length}};
        }}"""
    )
    assert set(reload["dragged"]) == {60}
    assert reload["widths"] == reload["expected"] != reload["dragged"]
    assert reload["paints"] == 1  # Lumino alone paints once more per resized column
    assert reload["selected"] == 1  # the row clicked above: the selection is painted too
    painted = paint_both_ways(page, f"({sidebar}).grid")
    assert painted["found"], "Lumino's DataGrid changed: paintgrid.ts no longer finds _blitContent/_drawCells"
    lumino, merged = painted["lumino"], painted["merged"]
    assert lumino["cells"] == merged["cells"] >= 40  # 9 rows of the 4 columns that fit, and their headers
    assert lumino["copies"] >= lumino["cells"]
    assert merged["copies"] <= 4  # body, column headers (no row headers in the sidebar), a spare
    assert merged["pixels"] == lumino["pixels"]


def expect_title(page, text: str) -> None:
    title = current_view(page).locator(".nbtrack-run-title")
    title.wait_for()
    try:
        page.wait_for_function(
            "t => [...document.querySelectorAll('.nbtrack-detail:not(.lm-mod-hidden) .nbtrack-run-title')]"
            ".some(e => e.textContent.endsWith(t))",
            arg=text,
            timeout=30_000,
        )
    except Exception:
        shot(page, "failed-expect-title")
        raise


def test_filter_with_query_and_inline_error(page, lab):
    apply_filter(page, "metrics.acc >")
    error = page.locator(".nbtrack-error").first
    error.wait_for()
    assert "position" in error.inner_text()
    shot(page, "02-filter-error")
    apply_filter(page, "metrics.acc > 0.85 and status = 'ok'")
    wait_count(page, "3 runs (filtered)")  # rf-2 0.86, rf-3 0.89, live-run 0.99
    assert page.locator(".nbtrack-error").first.inner_text() == ""


def test_sort_by_clicking_a_header(page, lab):
    apply_filter(page, "metrics.acc > 0.85 and status = 'ok'")
    wait_count(page, "3 runs (filtered)")
    box = page.locator(".nbtrack-grid").bounding_box()
    page.mouse.click(box["x"] + 150, box["y"] + HEADER_HEIGHT / 2)  # "name" header: descending
    page.wait_for_timeout(800)
    click_row(page, 0)
    expect_title(page, "rf-3")
    page.mouse.click(box["x"] + 150, box["y"] + HEADER_HEIGHT / 2)  # again: ascending
    page.wait_for_timeout(800)
    click_row(page, 0)
    expect_title(page, "live-run")
    page.locator(".nbtrack-grid").focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")  # the keyboard opens the next run
    expect_title(page, "rf-2")


def test_run_detail_shows_figure_code_and_params(page, lab):
    apply_filter(page, "name = 'rf-0'")
    wait_count(page, "1 run (filtered)")
    click_row(page, 0)
    expect_title(page, "rf-0")
    view = current_view(page)
    img = view.locator(".nbtrack-figures img")
    img.scroll_into_view_if_needed()
    page.wait_for_function(
        "() => { const i = document.querySelector('.nbtrack-detail:not(.lm-mod-hidden) .nbtrack-figures img');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    assert "lr" in view.locator(".nbtrack-params").inner_text()
    code = view.locator(".nbtrack-code .cm-content")
    assert "model = train(lr=0.3)" in code.inner_text()
    assert view.locator(".nbtrack-code .cm-editor.jp-mod-readOnly").count() == 1
    code.click()
    page.keyboard.type("XYZ")
    assert "XYZ" not in code.inner_text()  # read-only
    assert view.locator(".nbtrack-code .cm-content span").count() > 0  # syntax-highlighted tokens
    assert view.locator(".nbtrack-chart canvas").count() >= 1  # loss step chart
    shot(page, "03-run-detail")


def test_compare_runs(page, lab):
    apply_filter(page, "name ~ '^rf-'")
    wait_count(page, "4 runs (filtered)")
    click_row(page, 0)
    click_row(page, 1, "Control")
    click_row(page, 2, "Control")
    page.locator("button", has_text="Compare 3").click()
    view = current_view(page)
    view.locator(".nbtrack-compare-table").wait_for()
    table = view.locator(".nbtrack-compare-table").inner_text()
    assert "lr" in table and "acc" in table
    assert view.locator(".nbtrack-chart canvas").count() >= 2  # parallel coordinates + loss overlay
    assert view.get_by_role("heading", name="Parallel coordinates").is_visible()
    shot(page, "04-compare")


def test_user_text_is_never_html(page, lab):
    apply_filter(page, "params.note ~ 'script'")
    wait_count(page, "1 run (filtered)")
    click_row(page, 0)
    expect_title(page, XSS_IMG)
    view = current_view(page)
    assert XSS_SCRIPT in view.locator(".nbtrack-params").inner_text()
    assert XSS_IMG in view.locator(".nbtrack-params").inner_text()
    assert XSS_SCRIPT in view.locator(".nbtrack-code .cm-content").inner_text()
    page.wait_for_timeout(500)
    assert page.evaluate("window.__xss") is None
    assert page.locator("img[src='x']").count() == 0
    assert page.dialogs == []
    shot(page, "05-hostile-text")


def test_dataset_versions_snippet_and_diff(page, lab):
    assert lab.seeded["dataset"], "nbtrack.data ships with nbtrack: seeding the dataset must work"
    page.locator(".nbtrack-tabs .lm-TabBar-tab", has_text="Datasets").click()
    page.locator(".nbtrack-datasets a", has_text="customers").click()
    versions = page.locator(".nbtrack-versions")
    versions.get_by_text("v2").wait_for()
    assert 'nbtrack.load("customers", version=2)' in versions.inner_text()
    page.locator("button", has_text="Diff 2 versions").click()
    view = current_view(page)
    view.locator("h2", has_text="customers: v1 → v2").wait_for()
    status, body = lab.api("datasets/customers/diff?a=1&b=2")
    if status != 200:
        # The view shows the server's message; a failing diff route is a failing product.
        view.locator(".nbtrack-error").wait_for()
        assert body["message"] in view.inner_text()
    assert status == 200, f"dataset diff route answered {status}: {body.get('message')}"
    view.locator(".nbtrack-diff-schema").wait_for()
    shot(page, "06-dataset-diff")


def test_insert_snippet_into_notebook(page, lab):
    assert lab.seeded["dataset"], "nbtrack.data ships with nbtrack: seeding the dataset must work"
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:create-new', {kernelName: 'python3'})")
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell").first.wait_for()
    page.locator(".nbtrack-tabs .lm-TabBar-tab", has_text="Datasets").click()
    page.locator(".nbtrack-versions button", has_text="Insert").last.click()
    cells = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell .cm-content")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell .cm-content')]"
        ".some(e => e.textContent.includes('nbtrack.load(\"customers\", version=2)'))"
    )
    assert cells.count() == 2
    shot(page, "07-insert-snippet")


def test_track_cell_from_a_notebook_run(page, lab):
    apply_filter(page, "name = 'train-cell'")
    wait_count(page, "1 run (filtered)")
    click_row(page, 0)
    expect_title(page, "train-cell")
    view = current_view(page)
    metrics = view.locator(".nbtrack-metrics").inner_text()
    assert re.search(r"^score\t1(\.0+)?$", metrics, re.M), metrics  # score = 0.25 * 4
    assert "score = alpha * 4" in view.locator(".nbtrack-code .cm-content").inner_text()
    page.wait_for_function(
        "() => { const i = document.querySelector('.nbtrack-detail:not(.lm-mod-hidden) .nbtrack-figures img');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    assert "parent" in view.locator(".nbtrack-meta").inner_text()


def test_open_output_notebook_and_rerun_with_edited_params(page, lab):
    apply_filter(page, "name = 'pm-demo'")
    wait_count(page, "1 run (filtered)")
    click_row(page, 0)
    expect_title(page, "pm-demo")
    view = current_view(page)
    view.locator("button", has_text="Open output notebook").click()
    notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    notebook.locator(".jp-OutputArea-output", has_text="alpha doubled is 0.5").wait_for(timeout=30_000)
    shot(page, "11-output-notebook")

    click_row(page, 0)  # back to the run
    view = current_view(page)
    view.locator("button", has_text="Re-run with edited params").click()
    page.locator(".jp-Dialog input[data-param='alpha']").fill("0.5")
    page.locator(".jp-Dialog button", has_text="Re-run").click()
    view.locator(".nbtrack-job", has_text="Re-run ok").wait_for(timeout=90_000)
    view.locator(".nbtrack-job button", has_text="Open new run").click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.nbtrack-detail:not(.lm-mod-hidden) .nbtrack-params td')]"
        ".some(e => e.textContent === '0.5')"
    )
    shot(page, "12-rerun")
    apply_filter(page, "name = 'pm-demo'")
    wait_count(page, "2 runs (filtered)")  # the re-run is a new run; the list caught it live


def luminance(page, locator, dx: float, dy: float) -> float:
    """Brightness (0-255) of the pixel at (dx, dy) inside an element, read from a screenshot."""
    import io

    from PIL import Image

    box = page.locator(locator).first.bounding_box()
    png = page.screenshot(clip={"x": box["x"] + dx, "y": box["y"] + dy, "width": 1, "height": 1})
    r, g, b = Image.open(io.BytesIO(png)).convert("RGB").getpixel((0, 0))
    return 0.299 * r + 0.587 * g + 0.114 * b


def test_follows_dark_theme(page, lab):
    apply_filter(page, "name = 'rf-0'")
    wait_count(page, "1 run (filtered)")
    click_row(page, 0)
    expect_title(page, "rf-0")
    assert luminance(page, ".nbtrack-grid", 200, HEADER_HEIGHT + ROW_HEIGHT * 3) > 200
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
    page.wait_for_selector("body[data-jp-theme-light='false']", state="attached")
    page.wait_for_timeout(1500)
    assert luminance(page, ".nbtrack-grid", 200, HEADER_HEIGHT + ROW_HEIGHT * 3) < 80  # empty grid area
    assert luminance(page, ".nbtrack-detail:not(.lm-mod-hidden)", 6, 200) < 80
    current_view(page).locator(".nbtrack-chart").first.scroll_into_view_if_needed()
    shot(page, "10-dark-theme")
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'})")
    page.wait_for_selector("body[data-jp-theme-light='true']", state="attached")


def test_missing_server_extension_names_the_fix(lab_base, chromium):
    lab = start_lab(lab_base / "lab-no-server-ext", lab_base / "empty" / ".nbtrack", server_extension=False)
    try:
        page = chromium.new_page()
        page.goto(f"{lab.url}lab?reset&token={lab.token}")
        page.wait_for_selector("#jp-main-dock-panel", timeout=60_000)
        open_sidebar(page)
        banner = page.locator(".nbtrack-banner")
        banner.wait_for()
        text = banner.inner_text()
        assert "jupyter server extension enable nbtrack" in text
        assert "jupyter server extension list" in text
        assert "pip install ." in text and "pip install nbtrack" not in text  # nbtrack is not on PyPI
        shot(page, "08-server-extension-missing")
        page.close()
    finally:
        lab.stop()
