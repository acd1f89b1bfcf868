"""Step histories with smoothing, charts saved with the view, and a sweep's param effects (issue 16), in a
real JupyterLab driven by headless Chromium.

One JupyterLab serves the module; the tests share one page (and one browser profile, so one localStorage)
in file order, as a user would: smooth a run's loss curve and read raw and smoothed values in the hover,
find the smoothing remembered after a reload in a comparison, overlay the step histories in the
workspace's Charts tab and find that chart again after a reload, then read a sweep's param effects.
"""

from __future__ import annotations

import math
import re

import pytest
import test_workspace
from browser_lab import seeded_lab
from test_workspace import CONTRAST_JS, command, contrast, current_view, set_theme, shot, workspace

pytestmark = [pytest.mark.browser, pytest.mark.slow]

STEPS = 40
LRS = [0.001, 0.01, 0.1, 1.0]
DEPTHS = [2, 4, 8]


def loss_at(run: int, step: int) -> float:
    """A noisy decreasing loss: what smoothing is for."""
    return 1 / (1 + 0.1 * step) + 0.15 * math.sin(1.7 * step + run) + 0.2


def job_acc(lr: float, depth: int, i: int) -> float:
    return 0.9 + 0.08 * math.log10(lr) + 0.03 * DEPTHS.index(depth) + 0.002 * ((i * 7) % 5)


def seed(store) -> dict:
    """Three runs with a noisy loss over 40 steps (experiment curves) and a 13-job sweep (experiment grid)."""
    import nbtrack

    ids: dict = {"curves": []}
    for r in range(3):
        with nbtrack.start_run(f"noisy-{r}", experiment="curves", params={"r": r}, store=store) as run:
            for step in range(STEPS):
                run.log_metric("loss", loss_at(r, step), step=step)
        ids["curves"].append(run.run_id)
    with nbtrack.start_run("grid sweep", experiment="grid", kind="sweep", store=store) as sweep:
        i = 0
        for lr in LRS:
            for depth in DEPTHS:
                params = {"lr": lr, "depth": depth, "optimizer": "adam" if i % 2 else "sgd", "seed": 0}
                params["model.max_depth"] = depth  # an autolog internal: left out like in the leaderboard
                with nbtrack.start_run(
                    f"job-{i}", experiment="grid", params=params, kind="notebook", parent=sweep.run_id, store=store
                ) as job:
                    job.log_metric("acc", job_acc(lr, depth, i))
                    job.log_metric("val_loss", 1 - job_acc(lr, depth, i))
                i += 1
        # A job that failed before logging its metric: not used for the effects.
        with nbtrack.start_run(
            "job-failed",
            experiment="grid",
            params={"lr": 10.0, "depth": 2, "optimizer": "sgd", "seed": 0},
            kind="notebook",
            parent=sweep.run_id,
            store=store,
        ):
            pass
    ids["sweep"] = sweep.run_id
    return ids


@pytest.fixture(scope="module")
def lab(lab_base):
    with seeded_lab(lab_base, seed) as lab:
        yield lab


page = test_workspace.page  # JupyterLab loaded with nbtrack's commands; no store text ran as HTML


def ema(values: list[float], w: float) -> list[float]:
    """W&B's (TensorBoard's) debiased exponential moving average."""
    last = norm = 0.0
    out = []
    for v in values:
        last = last * w + (1 - w) * v
        norm = norm * w + (1 - w)
        out.append(last / norm)
    return out


def set_smoothing(page, scope, value: float) -> None:
    """Move a smoothing slider as a user drags it (a range input fires input events)."""
    scope.locator(".nbtrack-smoothing-slider").first.evaluate(
        "(s, v) => { s.value = String(v); s.dispatchEvent(new Event('input', {bubbles: true})); }", value
    )


def legend(page, chart) -> list[dict]:
    """Hover the middle of a chart and read its legend rows (uPlot's hover readout)."""
    over = chart.locator(".u-over")
    for attempt in range(3):  # a view that re-renders (compare, once the runs' details arrive) redraws its charts
        over.scroll_into_view_if_needed()
        box = over.bounding_box()
        page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
        page.mouse.move(box["x"] + box["width"] * 0.52, box["y"] + box["height"] * 0.5)
        try:
            page.wait_for_function(
                "c => /\\d/.test(c.querySelector('.u-legend .u-series .u-value')?.textContent ?? '')",
                arg=chart.element_handle(),
                timeout=5_000,
            )
            break
        except Exception:
            if attempt == 2:
                raise
    return chart.locator(".u-legend .u-series").evaluate_all(
        "rows => rows.map(r => ({cls: r.className, label: r.querySelector('.u-label')?.textContent ?? '',"
        " value: r.querySelector('.u-value')?.textContent ?? '', shown: getComputedStyle(r).display !== 'none'}))"
    )


def check_smoothed(rows: list[dict], runs: list[int], w: float) -> None:
    """The hovered step's legend says, for each run, the smoothed value (debiased EMA) and the raw one."""
    step = int(rows[0]["value"])
    shown = [r for r in rows[1:] if r["shown"]]
    assert len(shown) == len(runs), rows  # one entry per run: the raw line's own entry is hidden
    assert sum("nbtrack-raw-series" in r["cls"] for r in rows) == len(runs)  # the faint raw lines are drawn
    for row, run in zip(shown, runs):
        m = re.fullmatch(r"smoothed (\S+) · raw (\S+)", row["value"])
        assert m, row
        raw = [loss_at(run, s) for s in range(STEPS)]
        assert float(m.group(2)) == pytest.approx(raw[step], rel=1e-5)
        assert float(m.group(1)) == pytest.approx(ema(raw, w)[step], rel=1e-5)
        assert abs(ema(raw, w)[step] - raw[step]) > 1e-3  # smoothing changed the value


def test_run_view_smoothing_with_raw_and_smoothed_in_the_hover(page, lab):
    command(page, "nbtrack:open-run", {"runId": lab.seeded["curves"][0]})
    view = current_view(page)
    charts = view.locator(".nbtrack-step-charts")
    charts.wait_for()
    assert view.locator(".nbtrack-smoothing-value").inner_text() == "0.00"  # raw values at first
    rows = legend(page, charts.locator(".nbtrack-chart").first)
    assert not any("nbtrack-raw-series" in r["cls"] for r in rows)
    assert re.fullmatch(r"[\d.]+", rows[1]["value"]), rows  # one plain value, no raw/smoothed pair
    set_smoothing(page, view, 0.9)
    page.wait_for_function("() => document.querySelector('.nbtrack-step-charts')?.dataset.smoothing === '0.9'")
    assert view.locator(".nbtrack-smoothing-value").inner_text() == "0.90"
    assert page.evaluate("() => localStorage.getItem('nbtrack:smoothing')") == "0.9"
    page.wait_for_function("() => document.querySelectorAll('.nbtrack-step-charts .nbtrack-raw-series').length > 0")
    check_smoothed(legend(page, charts.locator(".nbtrack-chart").first), [0], 0.9)
    shot(page, "smoothing-run", view)


def test_smoothing_is_remembered_after_a_reload_in_a_comparison(page, lab):
    page.goto(f"{lab.url}lab?reset&token={lab.token}")
    page.wait_for_function("() => window.jupyterapp?.commands.hasCommand('nbtrack:open-compare')", timeout=60_000)
    page.evaluate("() => window.jupyterapp.restored.then(() => true)")  # the layout is restored: no tab jumps in
    command(page, "nbtrack:open-compare", {"runIds": lab.seeded["curves"][:2]})
    view = current_view(page)
    view.get_by_role("heading", name="Environment").wait_for()  # the runs' details arrived: no re-render
    charts = view.locator(".nbtrack-step-charts")
    assert view.locator(".nbtrack-smoothing-value").inner_text() == "0.90"
    check_smoothed(legend(page, charts.locator(".nbtrack-chart").first), [0, 1], 0.9)
    shot(page, "smoothing-compare", view)
    # Back to 0: the raw lines alone, at full strength.
    set_smoothing(page, view, 0)
    page.wait_for_function("() => document.querySelector('.nbtrack-step-charts')?.dataset.smoothing === '0'")
    assert charts.locator(".nbtrack-raw-series").count() == 0
    set_smoothing(page, view, 0.9)


def open_charts(page, experiment: str):
    command(page, "nbtrack:open-workspace", {"experiment": experiment})
    ws = workspace(page)
    ws.locator(".nbtrack-workspace-grid").wait_for()
    page.wait_for_function(
        "e => document.querySelector('.nbtrack-workspace-tab:not(.lm-mod-hidden) .nbtrack-experiment')?.value === e",
        arg=experiment,
    )
    ws.locator(".nbtrack-tabs .lm-TabBar-tab", has_text="Charts").click()
    page.wait_for_function("() => document.querySelector('.nbtrack-chart-metric')?.options.length > 0")
    return ws


def test_charts_tab_overlays_step_histories_and_saves_them_with_the_view(page, lab):
    ws = open_charts(page, "curves")
    ws.locator(".nbtrack-chart-metric").select_option("metrics.loss")
    ws.locator(".nbtrack-chart-x").select_option("steps")
    ws.locator(".nbtrack-chart-logy input").check()
    status = ws.locator(".nbtrack-chart-status")
    page.wait_for_function(
        "() => document.querySelector('.nbtrack-chart-status').textContent.startsWith('loss over steps')"
    )
    assert status.inner_text().startswith("loss over steps: 3 runs (40 steps at most)")
    host = ws.locator(".nbtrack-chart-host")
    assert host.locator(".nbtrack-steps-logy").count() == 0  # the tab's own log y box serves
    set_smoothing(page, host, 0.6)
    page.wait_for_function(
        "() => document.querySelector('.nbtrack-chart-host .nbtrack-step-charts')?.dataset.smoothing === '0.6'"
    )
    check_smoothed(legend(page, host.locator(".nbtrack-chart").first), [2, 1, 0], 0.6)  # newest first, as the table
    assert (
        page.evaluate(
            "() => window.jupyterapp.shell.currentWidget.content.charts._steps._charts[0].plot.scales.y.distr"
        )
        == 3
    )
    saved = page.evaluate("() => JSON.parse(localStorage.getItem('nbtrack:workspace:charts:curves'))")
    assert saved == {"metric": "metrics.loss", "x": "steps", "logX": False, "logY": True, "smoothing": 0.6}
    shot(page, "chart-steps-light", ws)
    # Another experiment has its own chart: the default bars until one is chosen there.
    ws.locator(".nbtrack-tabs .lm-TabBar-tab", has_text="Runs").click()
    ws.locator(".nbtrack-experiment").select_option("grid")
    ws.locator(".nbtrack-tabs .lm-TabBar-tab", has_text="Charts").click()
    page.wait_for_function("() => /^\\d+ runs/.test(document.querySelector('.nbtrack-chart-status').textContent)")
    assert ws.locator(".nbtrack-chart-x").input_value() == ""
    assert not ws.locator(".nbtrack-chart-logy input").is_checked()
    # After a reload the chart comes back as it was saved for curves.
    page.goto(f"{lab.url}lab?reset&token={lab.token}")
    page.wait_for_function("() => window.jupyterapp?.commands.hasCommand('nbtrack:open-workspace')", timeout=60_000)
    page.evaluate("() => window.jupyterapp.restored.then(() => true)")
    ws = open_charts(page, "curves")
    page.wait_for_function(
        "() => document.querySelector('.nbtrack-chart-status').textContent.startsWith('loss over steps')"
    )
    assert ws.locator(".nbtrack-chart-metric").input_value() == "metrics.loss"
    assert ws.locator(".nbtrack-chart-x").input_value() == "steps"
    assert ws.locator(".nbtrack-chart-logy input").is_checked()
    host = ws.locator(".nbtrack-chart-host")
    assert host.locator(".nbtrack-smoothing-value").inner_text() == "0.60"
    check_smoothed(legend(page, host.locator(".nbtrack-chart").first), [2, 1, 0], 0.6)
    ws.locator(".nbtrack-tabs .lm-TabBar-tab", has_text="Runs").click()


def spearman(x: list[float], y: list[float]) -> float:
    from scipy.stats import spearmanr

    rho: float = spearmanr(x, y).statistic  # pyright: ignore[reportAttributeAccessIssue]
    return rho


def eta_squared(groups: list, y: list[float]) -> float:
    mean = sum(y) / len(y)
    total = sum((v - mean) ** 2 for v in y)
    between = 0.0
    for g in set(groups):
        ys = [v for gg, v in zip(groups, y) if gg == g]
        between += len(ys) * (sum(ys) / len(ys) - mean) ** 2
    return between / total


def effects_table(view) -> tuple[dict[str, list[str]], list[str]]:
    rows = view.locator(".nbtrack-effects tbody tr").evaluate_all(
        "rows => rows.map(r => [...r.cells].map(c => c.textContent.trim()))"
    )
    return {r[0]: r[1:] for r in rows}, [r[0] for r in rows]


def test_sweep_view_shows_each_params_effect(page, lab):
    command(page, "nbtrack:open-run", {"runId": lab.seeded["sweep"]})
    view = current_view(page)
    section = view.locator(".nbtrack-sweep-effects")
    section.wait_for()
    jobs = [(lr, depth, i) for i, (lr, depth) in enumerate((lr, d) for lr in LRS for d in DEPTHS)]
    acc = [job_acc(lr, depth, i) for lr, depth, i in jobs]
    assert view.locator(".nbtrack-effect-metric").input_value() == "acc"  # the leaderboard's metric
    assert "12 of 13 jobs logged acc (higher is better)" in section.inner_text()
    cells, order = effects_table(view)
    # Sorted by importance; the one-value param last; the autolog internal left out.
    assert order == ["lr", "depth", "optimizer", "seed"]
    lr_rho = spearman([lr for lr, _, _ in jobs], acc)
    assert cells["lr"][1] == f"+{lr_rho:.2f}" and lr_rho > 0.9
    assert cells["lr"][0] == f"{eta_squared([lr for lr, _, _ in jobs], acc):.2f}"
    depth_rho = spearman([d for _, d, _ in jobs], acc)
    assert cells["depth"][1] == f"+{depth_rho:.2f}"
    assert cells["depth"][0] == f"{eta_squared([d for _, d, _ in jobs], acc):.2f}"
    assert cells["optimizer"][1] == "text values: no order"
    assert cells["optimizer"][0] == f"{eta_squared([i % 2 for _, _, i in jobs], acc):.2f}"
    assert cells["lr"][2:] == ["12", "4 values"]
    assert cells["seed"] == ["no effect measurable", "12", "one value: 0"]
    assert "model.max_depth" not in cells
    shot(page, "sweep-effects", section)
    # Another metric: the sign follows it.
    view.locator(".nbtrack-effect-metric").select_option("val_loss")
    page.wait_for_function(
        "() => document.querySelector('.nbtrack-effect-note').textContent.includes('val_loss (lower is better)')"
    )
    cells, order = effects_table(view)
    assert cells["lr"][1] == f"−{lr_rho:.2f}"


def blended_contrast(cell: dict) -> float:
    """Text contrast with the text colour's alpha blended over its background (muted text is translucent)."""
    fg, bg = cell["fg"], cell["bg"]
    alpha = fg[3] if len(fg) > 3 else 1.0
    mixed = [alpha * f + (1 - alpha) * b for f, b in zip(fg[:3], bg[:3])]
    return contrast(mixed, bg)


@pytest.mark.parametrize("theme", ["JupyterLab Dark", "JupyterLab Light"])
def test_new_views_readable_in_both_themes_at_1024(page, lab, theme):
    """The param effects table and the smoothing control keep text contrast >= 4.5:1 and fit 1024x768."""
    page.set_viewport_size({"width": 1024, "height": 768})
    set_theme(page, theme)
    try:
        command(page, "nbtrack:open-run", {"runId": lab.seeded["sweep"]})
        view = current_view(page)
        view.locator(".nbtrack-sweep-effects .nbtrack-effects td").first.wait_for()
        selectors = ".nbtrack-effects th, .nbtrack-effects td, .nbtrack-effect-note, .nbtrack-sweep-effects label"
        cells = view.locator(selectors).evaluate_all(CONTRAST_JS)
        low = [(c["text"], round(blended_contrast(c), 2)) for c in cells if blended_contrast(c) < 4.5]
        assert not low, low
        table = view.locator(".nbtrack-effects").bounding_box()
        assert table["x"] + table["width"] <= 1024
        shot(page, f"sweep-effects-1024-{'dark' if 'Dark' in theme else 'light'}", view)
        command(page, "nbtrack:open-run", {"runId": lab.seeded["curves"][1]})
        view = current_view(page)
        view.locator(".nbtrack-step-charts .nbtrack-chart").first.wait_for()
        cells = view.locator(".nbtrack-step-controls label, .nbtrack-smoothing-value").evaluate_all(CONTRAST_JS)
        low = [(c["text"], round(blended_contrast(c), 2)) for c in cells if blended_contrast(c) < 4.5]
        assert not low, low
        slider = view.locator(".nbtrack-smoothing-slider").bounding_box()
        assert slider["x"] + slider["width"] <= 1024
    finally:
        set_theme(page, "JupyterLab Light")
        page.set_viewport_size({"width": 1440, "height": 900})
