"""XSS payloads in dataset column names, data values and version messages are inert in the sidebar.

A store holds two versions of a dataset whose column names, string values, categorical values,
numeric columns' names and version messages are XSS payloads (and a run named by one made them). A
real JupyterLab with nbtrack's extensions is opened in headless Chromium; the Datasets tab, the version
list and the diff view (schema, rows, stats, drift) are opened and the mouse goes over every element.
Then: no script ran (``window.__xss`` undefined), no dialog opened, no request was made for a payload's
URL, no element or attribute carries a payload as markup, and every payload string the server sent is
visible as text.
"""

from __future__ import annotations

import json
import re

import pytest
from browser_lab import SCREENSHOTS, start_lab

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAYLOADS = [
    '<img src=/xss-img-1 onerror="window.__xss=1">',
    "<script>window.__xss=2</script>",
    '"><svg onload=window.__xss=3>',
    "javascript:window.__xss=4",
    "${window.__xss=5}",
    '{{constructor.constructor("window.__xss=6")()}}',
    "' onmouseover='window.__xss=7",
    '<a href="javascript:window.__xss=8" autofocus onfocus="window.__xss=8">x</a>',
    '<iframe src="http://127.0.0.2:9/xss-frame"></iframe>',
    '<style>@import "http://127.0.0.2:9/xss-css";</style>',
    '<details open ontoggle="window.__xss=9">',
    '<body onload=alert("xss-10")>',
]
DATASET = "xss/corpus"
MARKERS = re.compile(r"__xss|xss-|127\.0\.0\.2")

# In the page: markup a payload would have produced (script-capable elements, event handlers, URLs).
INJECTED_JS = r"""(selector) => {
  const found = [];
  for (const root of document.querySelectorAll(selector)) {
    for (const el of [root, ...root.querySelectorAll('*')]) {
      const tag = el.tagName.toLowerCase();
      if (['script', 'iframe', 'object', 'embed', 'style', 'details', 'body'].includes(tag) && el !== document.body)
        found.push('<' + tag + '> ' + (el.outerHTML || '').slice(0, 80));
      for (const attr of el.attributes) {
        const name = attr.name.toLowerCase();
        if (name.startsWith('on') || ['src', 'href', 'srcdoc', 'action', 'formaction', 'style', 'xlink:href'].includes(name)) {
          if (/__xss|xss-|127\.0\.0\.2|javascript:/i.test(attr.value)) found.push(tag + ' ' + name + '=' + attr.value.slice(0, 60));
        }
      }
    }
  }
  return found;
}"""


def seed(store) -> None:
    """Two versions of DATASET carrying every payload, snapshot by a run whose name is a payload."""
    import pandas as pd

    import nbtrack

    n = len(PAYLOADS)
    rotated = [PAYLOADS[(i + 1) % n] for i in range(n)]
    columns = {"id": list(range(n))}
    columns.update({p: list(PAYLOADS) for p in PAYLOADS})
    columns["category " + PAYLOADS[0]] = pd.Categorical(PAYLOADS, categories=PAYLOADS)
    columns["number " + PAYLOADS[1]] = [float(i) for i in range(n)]
    first = pd.DataFrame(columns)
    second = first.copy()
    second[PAYLOADS[0]] = rotated  # changed cells: payload before, payload after
    second["category " + PAYLOADS[0]] = pd.Categorical(rotated, categories=PAYLOADS)
    second["number " + PAYLOADS[1]] = second["number " + PAYLOADS[1]] * 5 + 3
    second = second.drop(columns=[PAYLOADS[2]]).rename(columns={PAYLOADS[3]: PAYLOADS[3] + " renamed"})
    with nbtrack.start_run(PAYLOADS[5], experiment=PAYLOADS[6], store=store):
        nbtrack.snapshot(first, DATASET, key="id", message=PAYLOADS[4] + " " + PAYLOADS[7], store=store)
        nbtrack.snapshot(second, DATASET, key="id", message=PAYLOADS[8] + " " + PAYLOADS[11], store=store)


@pytest.fixture(scope="module")
def lab(lab_base):
    from nbtrack.store import Store

    store_root = lab_base / "store" / ".nbtrack"
    store = Store.open(store_root, create=True)
    seed(store)
    lab = start_lab(lab_base / "lab", store_root)
    yield lab
    lab.stop()


@pytest.fixture(scope="module")
def page(lab, chromium):
    page = chromium.new_page()
    page.dialogs, page.requests, page.errors = [], [], []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.on("request", lambda r: page.requests.append(r.url))
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(f"{lab.url}lab?reset&token={lab.token}")
    page.wait_for_selector("#jp-main-dock-panel", timeout=60_000)
    yield page
    page.close()


def strings(value) -> list[str]:
    """Every string leaf (and key) of a JSON value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *strings(v)]]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


def hover_everything(page, selector: str) -> None:
    """The real mouse over each distinct spot of the view, then synthetic hover/focus events on every
    element (for the ones the mouse cannot reach)."""
    boxes = page.evaluate(
        """(sel) => [...document.querySelectorAll(sel + ' *')].map(e => {
        const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2, r.width, r.height]; })""",
        selector,
    )
    spots = {(round(x / 10) * 10, round(y / 10) * 10) for x, y, w, hgt in boxes if w and hgt and 0 <= y < 860}
    for x, y in sorted(spots, key=lambda s: (s[1], s[0]))[:250]:
        page.mouse.move(x, y)
    page.evaluate(
        """(sel) => { for (const e of document.querySelectorAll(sel + ' *'))
        for (const type of ['mouseover', 'mouseenter', 'focus'])
            e.dispatchEvent(new Event(type, {bubbles: true})); }""",
        selector,
    )
    page.wait_for_timeout(300)


def assert_inert(page, selector: str, expected: list[str]) -> None:
    hover_everything(page, selector)
    problems = []
    if (value := page.evaluate("() => window.__xss")) is not None:
        problems.append(f"a payload ran: window.__xss = {value!r}")
    if page.dialogs:
        problems.append(f"dialogs opened: {page.dialogs}")
    if hits := [url for url in page.requests if MARKERS.search(url)]:
        problems.append(f"requests for payload URLs: {hits}")
    if injected := page.evaluate(INJECTED_JS, selector):
        problems.append(f"payload markup in the DOM: {injected}")
    text = " ".join(page.locator(selector).first.inner_text().split())
    missing = [s for s in expected if " ".join(s.split()) not in text and json.dumps(s)[1:-1] not in text]
    if missing:
        problems.append(f"payload text not visible: {missing}")
    assert not problems, "\n".join(problems)


def open_datasets(page) -> None:
    tab = page.locator(".jp-SideBar li[title='nbtrack']")
    tab.wait_for()
    if "lm-mod-current" not in (tab.get_attribute("class") or ""):
        tab.click()
    page.locator(".nbtrack-sidebar").wait_for()
    page.locator(".nbtrack-tabs .lm-TabBar-tab", has_text="Datasets").click()


def test_dataset_list_and_versions_show_messages_as_text(page, lab):
    open_datasets(page)
    page.locator(".nbtrack-datasets a", has_text=DATASET).click()
    versions = page.locator(".nbtrack-versions")
    versions.get_by_text("v2").wait_for()
    status, body = lab.api(f"datasets/{DATASET.replace('/', '%2F')}/versions")
    assert status == 200, body
    messages = [v["message"] for v in body["versions"]]
    assert PAYLOADS[4] in messages[0] + messages[1]  # the server sends the payloads; the view must show them
    assert_inert(page, ".nbtrack-datasets", messages)
    page.screenshot(path=str(SCREENSHOTS / "xss-dataset-versions.png"))


def test_diff_view_shows_column_names_and_values_as_text(page, lab):
    page.locator("button", has_text="Diff 2 versions").click()
    view = page.locator("#jp-main-dock-panel .nbtrack-detail:not(.lm-mod-hidden)")
    view.locator(".nbtrack-diff-stats").wait_for(timeout=30_000)
    status, body = lab.api(f"datasets/{DATASET.replace('/', '%2F')}/diff?a=1&b=2")
    assert status == 200, body
    sent = sorted(
        {
            s
            for s in strings({k: body[k] for k in ("schema", "rows", "stats", "drift")})
            if MARKERS.search(s) or "<" in s
        }
    )
    # the diff carries the payloads as column names (schema, stats, drift) and as changed values (rows)
    assert PAYLOADS[2] in body["schema"]["removed"] and PAYLOADS[3] + " renamed" in body["schema"]["added"]
    assert any(p in sent for p in PAYLOADS) and len(sent) >= len(PAYLOADS)
    assert_inert(page, "#jp-main-dock-panel .nbtrack-detail:not(.lm-mod-hidden)", sent)
    page.screenshot(path=str(SCREENSHOTS / "xss-dataset-diff.png"))


def test_the_checks_see_a_live_payload(page):
    """The same checks on markup inserted unescaped into the page do fire, so a pass above is real."""
    page.evaluate(
        """(html) => { const d = document.createElement('div'); d.className = 'nbtrack-canary';
                      d.innerHTML = html; document.body.appendChild(d); }""",
        "".join(PAYLOADS),
    )
    page.wait_for_timeout(500)
    hover_everything(page, ".nbtrack-canary")
    assert page.evaluate("() => window.__xss") is not None
    assert any(MARKERS.search(url) for url in page.requests)
    assert page.evaluate(INJECTED_JS, ".nbtrack-canary")
    page.evaluate("() => { document.querySelector('.nbtrack-canary').remove(); window.__xss = undefined; }")
