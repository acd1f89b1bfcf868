"""100,000 runs in the sidebar: the grid pages from the server and scrolls without loading them all."""

from __future__ import annotations

import json
import time

import pytest
from browser_lab import SCREENSHOTS, start_lab

pytestmark = [pytest.mark.browser, pytest.mark.slow]

N_RUNS = 100_000


@pytest.fixture(scope="module")
def big_lab(lab_base):
    from nbtrack.store import Store
    from nbtrack.tracking import start_run

    store_root = lab_base / "big" / ".nbtrack"
    store = Store.open(store_root, create=True)
    for i in range(N_RUNS):  # about 1 ms a run
        with start_run(f"r{i}", experiment="big", params={"lr": i % 7 / 10, "seed": i}, store=store) as run:
            run.log_metric("acc", (i * 7919 % 1000) / 1000)
    lab = start_lab(lab_base / "lab-big", store_root)
    yield lab
    lab.stop()


def test_hundred_thousand_runs_scroll(big_lab, chromium):
    page = chromium.new_page()
    page.goto(f"{big_lab.url}lab?reset&token={big_lab.token}")
    page.wait_for_selector("#jp-main-dock-panel", timeout=60_000)
    started = time.monotonic()
    page.locator(".jp-SideBar li[title='nbtrack']").click()
    page.wait_for_function("() => document.querySelector('.nbtrack-count')?.textContent === '100,000 runs'")
    first_page_s = time.monotonic() - started

    box = page.locator(".nbtrack-grid").bounding_box()
    page.mouse.move(box["x"] + 100, box["y"] + 200)
    page.evaluate("""() => { window.__frames = []; let last = performance.now();
        const tick = t => { window.__frames.push(t - last); last = t;
                            if (window.__frames.length < 300) requestAnimationFrame(tick); };
        requestAnimationFrame(tick); }""")
    for _ in range(40):  # a fling through about 5,000 rows
        page.mouse.wheel(0, 3000)
        page.wait_for_timeout(16)
    page.mouse.wheel(0, 10**8)  # then to the end
    page.wait_for_timeout(1500)
    frames = sorted(page.evaluate("window.__frames.slice(1)"))
    fetches = page.evaluate(
        "performance.getEntriesByType('resource').filter(e => e.name.includes('/nbtrack/api/v1/runs?'))"
        ".map(e => Math.round(e.duration))"
    )

    page.mouse.click(box["x"] + 150, box["y"] + box["height"] - 30)  # the last row: the oldest run
    title = page.locator(".nbtrack-detail:not(.lm-mod-hidden) .nbtrack-run-title")
    title.wait_for()
    assert title.inner_text().endswith("r0")
    page.screenshot(path=str(SCREENSHOTS / "09-100k-runs.png"))

    stats = {
        "runs": N_RUNS,
        "first_page_s": round(first_page_s, 2),
        "frames": len(frames),
        "frame_ms_median": frames[len(frames) // 2],
        "frame_ms_p95": frames[int(len(frames) * 0.95)],
        "runs_requests": len(fetches),
        "runs_request_ms_max": max(fetches),
    }
    (SCREENSHOTS / "scale.json").write_text(json.dumps(stats, indent=2))
    print(stats)
    assert first_page_s < 15
    assert stats["frame_ms_median"] < 50  # the grid paints at interactive rates while scrolling
    assert len(fetches) < 40  # pages fetched on demand, not 500 pages of 200
    page.close()


def test_workspace_charts_a_metric_over_all_hundred_thousand_runs(big_lab, chromium):
    """The Charts tab reads every run in one GET /values (no paging through GET /runs, no cut at 20,000)
    and draws its 100,000 bars as one column per pixel; the grid copies each region once (paintgrid.ts)."""
    page = chromium.new_page()
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{big_lab.url}lab?reset&token={big_lab.token}")
    page.wait_for_function("() => window.jupyterapp?.commands.hasCommand('nbtrack:open-workspace')", timeout=60_000)
    page.evaluate("() => window.jupyterapp.commands.execute('nbtrack:open-workspace', {experiment: 'big'})")
    tab = page.locator("#jp-main-dock-panel .nbtrack-workspace-tab:not(.lm-mod-hidden)")
    page.wait_for_function(
        "() => document.querySelector('.nbtrack-workspace-tab .nbtrack-count')?.textContent === '100,000 runs'"
    )
    grid = page.evaluate(
        "() => [...window.jupyterapp.shell.widgets('main')].find(w => w.id === 'nbtrack-workspace').content.grid"
        ".mergesCopies"
    )
    assert grid, "Lumino's DataGrid changed: paintgrid.ts paints one copy per cell again"

    tab.locator(".nbtrack-tabs .lm-TabBar-tab", has_text="Charts").click()
    page.wait_for_function(
        "() => /^100,000 runs · /.test(document.querySelector('.nbtrack-chart-status')?.textContent ?? '')",
        timeout=60_000,
    )
    chart = tab.locator(".nbtrack-chart")
    assert chart.get_attribute("data-points") == str(N_RUNS)
    requests = page.evaluate(
        "performance.getEntriesByType('resource').map(e => e.name).filter(n => /nbtrack\\/api\\/v1\\/(values|runs)\\?/.test(n))"
    )
    assert len([n for n in requests if "/values?" in n]) == 1
    assert not [n for n in requests if "fields=" in n]  # no pages of GET /runs for the chart
    # the bars reach the chart's top (the highest acc is 0.999) and cover its width: one column per pixel
    covered = page.evaluate(
        """() => {
          const u = document.querySelector('.nbtrack-chart canvas');
          const ctx = u.getContext('2d'), w = u.width, h = u.height;
          const data = ctx.getImageData(0, 0, w, h).data;
          let columns = 0;
          for (let x = 0; x < w; x++) {
            for (let y = 0; y < h; y++) {
              const i = (y * w + x) * 4;
              if (data[i + 3] > 0 && !(data[i] === data[i + 1] && data[i + 1] === data[i + 2])) { columns++; break; }
            }
          }
          return columns / w;
        }"""
    )
    assert covered > 0.7, covered  # coloured (the brand colour, not grey grid lines) across the plot
    page.screenshot(path=str(SCREENSHOTS / "10-100k-runs-chart.png"))
    page.close()


def test_workspace_jump_to_the_middle_of_sorted_runs_shows_the_rows_the_core_lists_there(big_lab, chromium):
    """Sorted by a metric, a jump to the middle of 100,000 runs fetches the pages on screen (adjacent pages in
    one GET /runs) and shows exactly the runs nbtrack.list_runs gives at those offsets, in that order."""
    from nbtrack import reading

    page = chromium.new_page()
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{big_lab.url}lab?reset&token={big_lab.token}")
    page.wait_for_function("() => window.jupyterapp?.commands.hasCommand('nbtrack:open-workspace')", timeout=60_000)
    page.evaluate("() => window.jupyterapp.commands.execute('nbtrack:open-workspace', {experiment: 'big'})")
    grid = "[...window.jupyterapp.shell.widgets('main')].find(w => w.id === 'nbtrack-workspace').content.grid"
    page.wait_for_function(
        "() => document.querySelector('.nbtrack-workspace-tab .nbtrack-count')?.textContent === '100,000 runs'"
    )
    page.evaluate(f"() => {grid}.dataModel.setQuery({{orderBy: 'metrics.acc'}})")
    page.wait_for_function(f"() => {grid}.dataModel.query.orderBy === 'metrics.acc' && !!{grid}.dataModel.rowAt(0)")
    page.evaluate("() => performance.clearResourceTimings()")
    # rows 49,900-49,999 are the last of one page and 50,000-... the first of the next: the screen spans both
    page.evaluate(f"() => {{ const g = {grid}; g.scrollTo(g.scrollX, 49_990 * g.defaultSizes.rowHeight); }}")
    page.wait_for_function(
        f"""() => {{ const g = {grid}, m = g.dataModel, h = g.defaultSizes.rowHeight;
                   const first = Math.floor(g.scrollY / h), last = Math.ceil((g.scrollY + g.pageHeight) / h);
                   if (first < 49_900) return false;
                   for (let r = first; r < last; r++) if (!m.rowAt(r)) return false;
                   return true; }}"""
    )
    first, names = page.evaluate(
        f"""() => {{ const g = {grid}, m = g.dataModel, h = g.defaultSizes.rowHeight;
                   const first = Math.floor(g.scrollY / h), last = Math.ceil((g.scrollY + g.pageHeight) / h);
                   const names = [];
                   for (let r = first; r < last; r++) names.push(m.rowAt(r).name);
                   return [first, names]; }}"""
    )
    assert first < 50_000 < first + len(names)  # both pages on screen
    _, rows = reading.list_runs("big", None, "metrics.acc", len(names), first, store=big_lab.store_root)
    assert names == [r["name"] for r in rows]
    offsets = page.evaluate(
        "performance.getEntriesByType('resource').map(e => e.name).filter(n => n.includes('/nbtrack/api/v1/runs?'))"
    )
    assert len(offsets) == 1 and "offset=49800" in offsets[0] and "limit=400" in offsets[0], offsets
    page.close()
