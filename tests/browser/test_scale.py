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
