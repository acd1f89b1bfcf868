"""Changing runs from the workspace (issue 16) in a real JupyterLab, driven by headless Chromium.

The same JupyterLab and seeded store as tests/browser/test_workspace.py (its fixtures): select two runs
with Ctrl-click, archive them (they leave the table, a toast offers Undo, Undo brings them back); show
archived runs (marked), restore one, delete one permanently after the confirmation dialog; add and
remove tags and write a note inline, checked through the REST API as another client would see them.
"""

from __future__ import annotations

import pytest
from test_workspace import (
    click_row,
    current_view,
    grid_text,
    lab,
    open_workspace,
    page,
    set_group,
    shot,
    wait_count,
    workspace,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

__all__ = ["lab", "page"]  # the module-scoped fixtures of test_workspace.py, used here by name

HOSTILE_TAG = "<img src=x onerror=window.__xss=5>"


def names(page) -> list[str]:
    return [row[0] for row in grid_text(page)["body"]]


def filter_runs(page, where: str, count: str) -> None:
    box = workspace(page).locator(".nbtrack-filter")
    box.fill(where)
    box.press("Enter")
    wait_count(page, count)


def wait_names(page, expected: list[str], timeout: float = 15_000) -> None:
    try:
        _wait_names(page, expected, timeout)
    except Exception:
        shot(page, "failed-names")
        assert names(page) == expected  # says what the table shows instead
        raise


def _wait_names(page, expected: list[str], timeout: float) -> None:
    page.wait_for_function(
        """want => {
          const m = window.jupyterapp.shell.currentWidget.content.grid.dataModel;
          const n = Math.min(m.rowCount('body'), 60);
          const got = [...Array(n).keys()].map(r => m.data('row-header', r, 0));
          return JSON.stringify(got) === JSON.stringify(want);
        }""",
        arg=expected,
        timeout=timeout,
    )


def archived_names(lab) -> list[str]:
    status, body = lab.api("runs?archived=only&experiment=iris")
    assert status == 200, body
    return sorted(r["name"] for r in body["runs"])


def test_archive_two_runs_and_undo(page, lab):
    open_workspace(page, "iris")
    set_group(page, "")
    filter_runs(page, "name ~ '^logreg'", "4 runs (filtered)")
    assert names(page) == ["logreg-C10.0", "logreg-C1.0", "logreg-C0.1", "logreg-C0.01"]
    ws = workspace(page)
    click_row(page, 0, "Control")
    click_row(page, 1, "Control")
    assert ws.locator(".nbtrack-selection-count").inner_text() == "2 selected"
    ws.locator(".nbtrack-archive").click()
    wait_count(page, "2 runs (filtered)")
    wait_names(page, ["logreg-C0.1", "logreg-C0.01"])
    toast = ws.locator(".nbtrack-toast")
    assert toast.locator(".nbtrack-toast-text").inner_text() == "2 runs archived"
    assert archived_names(lab) == ["logreg-C1.0", "logreg-C10.0"]  # what the server holds, not only the page
    shot(page, "archive-undo-toast")
    toast.locator(".nbtrack-toast-action", has_text="Undo").click()
    wait_count(page, "4 runs (filtered)")
    wait_names(page, ["logreg-C10.0", "logreg-C1.0", "logreg-C0.1", "logreg-C0.01"])
    assert toast.locator(".nbtrack-toast-text").inner_text() == "2 runs restored"
    assert archived_names(lab) == []
    # the runs Undo brought back stay selected, so the next action applies to them again
    assert ws.locator(".nbtrack-selection-count").inner_text() == "2 selected"


def select_only(page, row: int) -> None:
    """A plain click: selects that one run and opens its view; then back to the workspace."""
    click_row(page, row)
    open_workspace(page)
    assert workspace(page).locator(".nbtrack-selection-count").inner_text() == "1 selected"


def test_show_archived_marks_them_restore_and_delete_permanently(page, lab):
    import nbtrack

    with nbtrack.start_run("doomed", experiment="iris", params={"C": 3.0}, store=lab.store) as doomed:
        doomed.log_metric("acc", 0.1)
    open_workspace(page, "iris")
    set_group(page, "")
    ws = workspace(page)
    filter_runs(page, "name ~ '^logreg-C0' or name = 'doomed'", "3 runs (filtered)")
    wait_names(page, ["doomed", "logreg-C0.1", "logreg-C0.01"])
    click_row(page, 0, "Control")
    click_row(page, 2, "Control")
    ws.locator(".nbtrack-archive").click()
    wait_count(page, "1 run (filtered)")
    assert ws.locator(".nbtrack-toast-text").inner_text() == "2 runs archived"
    assert ws.locator(".nbtrack-restore").is_hidden() and ws.locator(".nbtrack-delete").is_hidden()
    ws.locator(".nbtrack-show-archived").check()
    wait_count(page, "3 runs (filtered)")
    wait_names(page, ["[archived] doomed", "logreg-C0.1", "[archived] logreg-C0.01"])
    shot(page, "archived-shown")
    click_row(page, 2)  # opens the archived run's view: marked there too
    meta = current_view(page).locator(".nbtrack-meta")
    meta.wait_for()
    assert "hidden from listings" in meta.locator("tr", has=page.locator("th", has_text="archived")).inner_text()
    open_workspace(page)
    assert ws.locator(".nbtrack-selection-count").inner_text() == "1 selected"
    ws.locator(".nbtrack-restore").click()
    wait_names(page, ["[archived] doomed", "logreg-C0.1", "logreg-C0.01"])
    assert archived_names(lab) == ["doomed"]
    select_only(page, 0)
    ws.locator(".nbtrack-delete").click()
    dialog = page.locator(".jp-Dialog")
    assert "cannot be undone" in dialog.inner_text()
    dialog.locator("button", has_text="Cancel").click()
    assert lab.api(f"runs/{doomed.run_id}")[0] == 200  # cancelled: nothing deleted
    ws.locator(".nbtrack-delete").click()
    page.locator(".jp-Dialog button.jp-mod-warn", has_text="Delete").click()
    wait_count(page, "2 runs (filtered)")
    assert ws.locator(".nbtrack-toast-text").inner_text() == "1 run deleted permanently"
    assert lab.api(f"runs/{doomed.run_id}")[0] == 404
    ws.locator(".nbtrack-show-archived").uncheck()
    wait_count(page, "2 runs (filtered)")


def test_tags_and_note_inline_are_saved_and_escaped(page, lab):
    ws = workspace(page)
    filter_runs(page, "name ~ '^logreg'", "4 runs (filtered)")
    wait_names(page, ["logreg-C10.0", "logreg-C1.0", "logreg-C0.1", "logreg-C0.01"])
    first, second = lab.seeded["iris"]["plain3"], lab.seeded["iris"]["plain2"]
    click_row(page, 0, "Control")
    click_row(page, 1, "Control")
    tag_input = ws.locator(".nbtrack-tag-input")
    tag_input.fill("stage=review")
    tag_input.press("Enter")
    ws.locator('.nbtrack-chip[data-tag="stage"]').wait_for()
    for run in (first, second):
        assert lab.api(f"runs/{run}")[1]["tags"] == {"stage": "review"}
    select_only(page, 0)  # logreg-C10.0 alone
    tag_input.fill(f"html={HOSTILE_TAG}")
    tag_input.press("Enter")
    chip = ws.locator('.nbtrack-chip[data-tag="html"]')
    chip.wait_for()
    assert HOSTILE_TAG in chip.inner_text()  # shown as text, never as markup
    note = ws.locator(".nbtrack-note-input")
    note.fill("needs a second seed\nthen compare with C=1")
    ws.locator(".nbtrack-save-note").click()
    page.wait_for_function(
        "() => document.querySelector('.nbtrack-workspace-tab .nbtrack-toast-text')?.textContent === 'Note saved'"
    )
    tags = lab.api(f"runs/{first}")[1]["tags"]
    assert tags == {
        "stage": "review",
        "html": HOSTILE_TAG,
        "nbtrack.note": "needs a second seed\nthen compare with C=1",
    }
    ws.locator('.nbtrack-chip[data-tag="stage"] .nbtrack-chip-remove').click()
    page.wait_for_function("() => !document.querySelector('.nbtrack-workspace-tab .nbtrack-chip[data-tag=\"stage\"]')")
    assert "stage" not in lab.api(f"runs/{first}")[1]["tags"]
    assert lab.api(f"runs/{second}")[1]["tags"] == {"stage": "review"}
    shot(page, "tags-and-note")
    # persisted: after a reload of JupyterLab the note is read back into the editor
    page.reload()
    page.wait_for_function("() => window.jupyterapp?.commands.hasCommand('nbtrack:open-workspace')")
    open_workspace(page, "iris")
    set_group(page, "")
    filter_runs(page, "name = 'logreg-C10.0'", "1 run (filtered)")
    click_row(page, 0, "Control")
    assert ws.locator(".nbtrack-note-input").input_value() == "needs a second seed\nthen compare with C=1"
    click_row(page, 0)  # the run view shows the note too
    note_row = current_view(page).locator(".nbtrack-meta tr", has=page.locator("th", has_text="note"))
    assert "needs a second seed" in note_row.inner_text()
    assert page.evaluate("() => window.__xss") is None


def test_shift_click_selects_a_range_and_select_all_every_row(page, lab):
    open_workspace(page, "iris")
    ws = workspace(page)
    filter_runs(page, "name ~ '^logreg'", "4 runs (filtered)")
    wait_names(page, ["logreg-C10.0", "logreg-C1.0", "logreg-C0.1", "logreg-C0.01"])
    select_only(page, 0)
    click_row(page, 2, "Shift")
    assert ws.locator(".nbtrack-selection-count").inner_text() == "3 selected"
    assert ws.locator(".nbtrack-compare-selected").inner_text() == "Compare 3"
    assert ws.locator(".nbtrack-note-row").is_hidden()  # a note is edited one run at a time
    ws.locator(".nbtrack-select-all").click()
    assert ws.locator(".nbtrack-selection-count").inner_text() == "4 selected"


def test_a_click_during_a_reload_keeps_its_selection(page, lab):
    """A reload (a poll, the Reload button) keeps the runs selected when it started; a run the user selects
    while its rows are still on their way is newer, and stays the selection."""
    open_workspace(page, "iris")
    ws = workspace(page)
    filter_runs(page, "name ~ '^logreg'", "4 runs (filtered)")
    wait_names(page, ["logreg-C10.0", "logreg-C1.0", "logreg-C0.1", "logreg-C0.01"])
    ws.locator(".nbtrack-select-all").click()
    assert ws.locator(".nbtrack-selection-count").inner_text() == "4 selected"
    held: list = []
    page.route(
        "**/nbtrack/api/v1/runs?**", lambda route: held.append(route)
    )  # the reload's rows wait until released below
    try:
        ws.locator("button[title='Reload']").click()
        for _ in range(100):
            if held:
                break
            page.wait_for_timeout(50)
        assert held, "the Reload button asked for no rows"
        click_row(page, 0)  # a plain click: that run alone (its view opens), while the reload waits
    finally:
        for route in held:
            route.continue_()
        page.unroute("**/nbtrack/api/v1/runs?**")
    open_workspace(page)
    wait_count(page, "4 runs (filtered)")
    page.wait_for_timeout(300)  # the released reload has applied its rows and selection
    assert ws.locator(".nbtrack-selection-count").inner_text() == "1 selected"


@pytest.mark.parametrize("theme", ["JupyterLab Dark", "JupyterLab Light"])
def test_edit_bar_chips_and_toast_are_readable_in_both_themes(page, lab, theme):
    from test_workspace import highlighted_contrasts, set_theme

    set_theme(page, theme)
    open_workspace(page, "iris")
    ws = workspace(page)
    filter_runs(page, "name ~ '^logreg'", "4 runs (filtered)")
    wait_names(page, ["logreg-C10.0", "logreg-C1.0", "logreg-C0.1", "logreg-C0.01"])
    select_only(page, 0)  # logreg-C10.0 keeps the html tag and the note of the test above
    ws.locator(".nbtrack-chip").first.wait_for()
    ws.locator(".nbtrack-archive").click()
    wait_count(page, "3 runs (filtered)")
    ws.locator(".nbtrack-toast-action").wait_for()
    visible = ".nbtrack-workspace-tab:not(.lm-mod-hidden)"
    found = []
    for selector in (".nbtrack-toast-text", ".nbtrack-toast-action", ".nbtrack-selection-count", ".nbtrack-archive"):
        found += highlighted_contrasts(page, f"{visible} {selector}")
    if "Dark" in theme:
        shot(page, "archive-toast-dark")
    ws.locator(".nbtrack-toast-action").click()
    wait_count(page, "4 runs (filtered)")
    ws.locator(".nbtrack-chip").first.wait_for()  # the restored run is selected again: its editor is back
    for selector in (".nbtrack-chip", ".nbtrack-note-input", ".nbtrack-tag-input"):
        found += highlighted_contrasts(page, f"{visible} {selector}")
    if "Dark" in theme:
        shot(page, "tags-and-note-dark")
    low = [(text, round(ratio, 2)) for text, ratio in found if ratio < 4.5]
    assert not low, f"{theme}: text under 4.5:1 contrast: {low}"


def test_a_new_workspace_follows_the_store_live_without_reading_its_rows_twice(page, lab):
    """The rows carry the store's changes token: the first GET /changes poll (2 s) of a new workspace finds
    that token and reads nothing again; a run written by another process then appears within a poll."""
    import nbtrack

    open_workspace(page, "iris")
    page.evaluate("() => window.jupyterapp.shell.currentWidget.close()")
    page.evaluate("() => { performance.setResourceTimingBufferSize(100000); performance.clearResourceTimings(); }")
    open_workspace(page, "iris")
    page.wait_for_function(
        "() => /^[0-9]+ runs?$/.test(document.querySelector("
        "'.nbtrack-workspace-tab:not(.lm-mod-hidden) .nbtrack-count')?.textContent ?? '')"
    )
    count = int(workspace(page).locator(".nbtrack-count").inner_text().split()[0])
    page.wait_for_timeout(3000)  # the first poll and a second one
    requests = page.evaluate(
        "() => performance.getEntriesByType('resource').map(e => e.name.split('/nbtrack/api/v1/')[1]).filter(Boolean)"
    )
    polls = [r for r in requests if r.startswith("changes?")]
    rows = [r for r in requests if r.startswith("runs?experiment=iris&")]  # the sidebar reads its own
    assert len(polls) >= 2 and len(rows) == 1, requests
    with nbtrack.start_run("live-in-workspace", experiment="iris", store=lab.store) as run:
        run.log_metric("acc", 0.5)
    wait_count(page, f"{count + 1} runs", timeout=10_000)
