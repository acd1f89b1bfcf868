"""Parallel coordinates stay readable at 20 axes (issue 16), in a real JupyterLab.

Three runs that differ in 24 long-named params and a metric are compared: the plot draws the first 20
axes and says so, each axis's name and range are text under it that never runs into its neighbours (a
long name cut in the middle, so names that differ at the end stay apart; the whole name in its tooltip),
and the plot scrolls sideways instead of squeezing the axes when the view is narrower than 20 axes need,
at 1440 and at 1024 pixels.
"""

from __future__ import annotations

import pytest
import test_workspace
from browser_lab import seeded_lab
from test_workspace import command, current_view, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PARAMS = [f"a_rather_long_param_name_{i:02d}" for i in range(24)]


def seed(store) -> list[str]:
    """Three runs whose 24 params and metric all differ; their ids."""
    import nbtrack

    ids = []
    for r in range(3):
        params = {name: (r + 1) * (i + 1) for i, name in enumerate(PARAMS)}
        with nbtrack.start_run(f"wide-{r}", experiment="wide", params=params, store=store) as run:
            run.log_metric("acc", 0.5 + r / 10)
        ids.append(run.run_id)
    return ids


@pytest.fixture(scope="module")
def lab(lab_base):
    with seeded_lab(lab_base, seed) as lab:
        yield lab


page = test_workspace.page  # JupyterLab loaded with nbtrack's commands; no store text ran as HTML


def _labels(page) -> list[dict]:
    view = current_view(page)
    view.locator(".nbtrack-pc-label").nth(19).wait_for()
    return view.locator(".nbtrack-pc-label").evaluate_all(
        "ls => ls.map(l => { const b = l.getBoundingClientRect(); const [name, range] = l.children;"
        " return {left: b.left, right: b.right, title: l.title, name: name.textContent, range: range.textContent,"
        " cut: name.scrollWidth > name.clientWidth}; })"
    )


@pytest.mark.parametrize("width", [1440, 1024])
def test_twenty_axes_with_labels_that_do_not_overlap(page, lab, width):
    page.set_viewport_size({"width": width, "height": 900})
    command(page, "nbtrack:open-compare", {"runIds": lab.seeded})
    view = current_view(page)
    view.get_by_role("heading", name="Parallel coordinates").wait_for()
    labels = _labels(page)
    assert len(labels) == 20
    section = view.locator("section", has=page.get_by_role("heading", name="Parallel coordinates"))
    assert "The first 20 of the 25 params and metrics that differ." in section.inner_text()
    names = [f"params.{name}" for name in sorted(PARAMS)[:20]]
    assert [label["title"].split("\n")[0] for label in labels] == names  # the whole name in the tooltip
    shown = [label["name"] for label in labels]
    assert len(set(shown)) == 20 and not any(label["cut"] for label in labels), shown  # told apart, no ellipsis
    for text, name in zip(shown, names):  # cut in the middle: the start and the distinguishing end stay
        head, _, tail = text.partition("…")
        assert name.startswith(head) and name.endswith(tail) and len(head) >= 6 and len(tail) >= 4, text
    assert labels[0]["range"] == "1 – 3"  # the first param is 1, 2, 3 across the runs
    ordered = sorted(labels, key=lambda label: label["left"])
    for left, right in zip(ordered, ordered[1:]):
        assert left["right"] <= right["left"] + 0.5, (left, right)
    chart = section.locator(".nbtrack-chart-wide")
    scroll, client = chart.evaluate("c => [c.scrollWidth, c.clientWidth]")
    assert scroll >= 20 * 100 and scroll > client  # room for every axis: the plot scrolls sideways
    shot(page, f"parallel-coordinates-{width}", section)
