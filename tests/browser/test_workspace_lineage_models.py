"""The lineage graph and the models view of the workspace (issues 16 and 18) in a real JupyterLab.

One JupyterLab serves the module and the tests share one page in file order, as a user would: open a
run's lineage from its run view, click a run node and a data-version node (and back from the datasets
view to the graph), open a lineage from the command palette, read the models view (versions, aliases,
the alias history, each version's run and training data), see store text as text, then both views in
the light and dark themes at 1024x768. Screenshots go to tests/browser/screenshots (docs/img with
NBTRACK_DOC_SCREENSHOTS=1).
"""

from __future__ import annotations

import pytest
import test_workspace
from browser_lab import seeded_lab
from browser_seed import seed_dataset
from test_workspace import command, contrast, current_view, open_run, set_theme, shot, workspace
from workspace_seed import seed_data_runs

pytestmark = [pytest.mark.browser, pytest.mark.slow]

XSS_NAME = "<img src=x onerror=window.__xss=5>"
XSS_REASON = "<b>kept</b> for comparison"
CHAMPION_REASON = "better auc on the June holdout"


def seed(store) -> dict[str, str]:
    """customers@1-2 read by train-on-v1/v2; prep-features reads customers@2 (and an unversioned frame) and
    writes features@1, corrected as features@2 (a keyed delta); two runs fit on features@1 are versions 1
    and 2 of model churn (champion moved 1 -> 2, challenger set to 1); a run without data; a 100-step
    pipeline."""
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    import nbtrack
    from nbtrack.data import snapshot
    from nbtrack.data._versions import get_version
    from nbtrack.tracking import start_run

    seed_dataset(store)
    ids = dict(zip(("train1", "train2"), seed_data_runs(store)))
    customers = get_version("customers", 2, store=store)
    features = pd.DataFrame({"id": range(20), "f": [i * 0.5 for i in range(20)], "y": [i % 2 for i in range(20)]})
    with start_run("prep-features", experiment="data", kind="cell", store=store) as prep:
        prep.record_data("input", customers.fingerprint, name="df", dataset="customers", version=2, rows=customers.rows)
        prep.record_data("input", "f" * 32, name="lookup")  # a frame never snapshotted
        snapshot(features, "features", key="id", store=store)
    ids["prep"] = prep.run_id
    corrected = features.assign(f=[x + (1.0 if i < 3 else 0.0) for i, x in enumerate(features["f"])])
    snapshot(corrected, "features", key="id", store=store)  # features@2, a keyed delta of features@1
    with start_run("no-data", experiment="data", kind="cell", store=store) as plain:
        plain.log_metric("acc", 0.5)
    ids["plain"] = plain.run_id
    fv = get_version("features", 1, store=store)
    for role, name, c in (("fit1", XSS_NAME, 0.5), ("fit2", "fit-C2", 2.0)):
        with start_run(name, experiment="models", params={"C": c}, kind="cell", store=store) as run:
            run.record_data("input", fv.fingerprint, name="X", dataset="features", version=1, rows=fv.rows)
            run.log_model(LogisticRegression(C=c).fit(features[["f"]], features["y"]), "model.pkl")
            run.log_metric("auc", 0.8 + c / 10)
        ids[role] = run.run_id
        nbtrack.register_model(run.run_id, "churn", description=f"logistic regression, C={c}", store=store)
    ids["chain"] = seed_chain(store, 100)
    nbtrack.set_model_alias("churn", 1, "champion", reason="first model", store=store)
    nbtrack.set_model_alias("churn", 2, "champion", reason=CHAMPION_REASON, store=store)
    nbtrack.set_model_alias("churn", 1, "challenger", reason=XSS_REASON, store=store)
    return ids


def seed_chain(store, runs: int) -> str:
    """A pipeline of ``runs`` steps: step i reads steps@i (and steps@i-3) and writes steps@i+1; the id of the
    middle step (its lineage: 2 * runs + 1 nodes, more than the server's 200)."""
    import pandas as pd

    from nbtrack.data import snapshot
    from nbtrack.tracking import start_run

    versions = [snapshot(pd.DataFrame({"step": [0]}), "steps", store=store)]
    middle = ""
    for i in range(runs):
        with start_run(f"step-{i}", experiment="chain", kind="cell", store=store) as run:
            for v in {v.version: v for v in (versions[-1], versions[max(0, len(versions) - 4)])}.values():
                run.record_data("input", v.fingerprint, name="df", dataset="steps", version=v.version, rows=1)
            versions.append(snapshot(pd.DataFrame({"step": [i + 1]}), "steps", store=store))
        middle = run.run_id if i == runs // 2 else middle
    return middle


@pytest.fixture(scope="module")
def lab(lab_base):
    with seeded_lab(lab_base, seed) as lab:
        yield lab


# the workspace tests' page on this module's lab: JupyterLab loaded with nbtrack's commands, and at the
# end a check that no store text ran as HTML (window.__xss unset)
page = test_workspace.page


def lineage_view(page):
    return page.locator("#jp-main-dock-panel .nbtrack-lineage:not(.lm-mod-hidden)")


def node(page, node_id: str):
    return lineage_view(page).locator(f".nbtrack-lineage-node[data-id='{node_id}']")


def titles(page) -> dict[str, str]:
    """The shown graph's nodes: id -> the title line drawn in the node."""
    return dict(
        lineage_view(page)
        .locator(".nbtrack-lineage-node")
        .evaluate_all("gs => gs.map(g => [g.dataset.id, g.querySelector('.nbtrack-lineage-title').textContent])")
    )


def drawn_edges(page) -> set[tuple[str, str, str]]:
    return {
        (s, t, k)
        for s, t, k in lineage_view(page)
        .locator(".nbtrack-lineage-edge")
        .evaluate_all(
            "ps => ps.map(p => [p.dataset.source, p.dataset.target, "
            "[...p.classList].find(c => /-edge-/.test(c)).split('-').pop()])"
        )
    }


def sidebar_toggle(page):
    return page.locator(".jp-SideBar li[title='nbtrack']")


# --- lineage -------------------------------------------------------------------------------------------


def test_run_view_lineage_shows_what_the_run_read_and_wrote(page, lab):
    ids = lab.seeded
    view = open_run(page, ids["prep"])
    view.locator(".nbtrack-open-lineage").click()
    prep = f"run:{ids['prep']}"
    node(page, prep).wait_for()
    shown = titles(page)
    assert shown[prep] == "prep-features"
    assert shown["version:customers@2"] == "customers@2"  # read
    assert shown["version:features@1"] == "features@1"  # written
    # several hops: who else read customers@2, who read features@1
    assert shown[f"run:{ids['train2']}"] == "train-on-v2"
    assert shown[f"run:{ids['fit2']}"] == "fit-C2"
    assert shown[f"run:{ids['fit1']}"] == XSS_NAME
    edges = drawn_edges(page)
    assert ("version:customers@2", prep, "input") in edges
    assert (prep, "version:features@1", "output") in edges
    _, graph = lab.api(f"lineage?run={ids['prep']}")
    assert edges == {(e["source"], e["target"], e["kind"]) for e in graph["edges"]}  # every edge drawn
    assert set(shown) == {n["id"] for n in graph["nodes"]}
    assert "nbtrack-lineage-root" in node(page, prep).get_attribute("class")
    assert (
        lineage_view(page).locator(".nbtrack-lineage-count").inner_text() == "4 runs, 3 dataset versions, 1 unversioned"
    )
    unversioned = node(page, f"data:{'f' * 32}")  # shown, and not clickable: there is no version to open
    assert shown[f"data:{'f' * 32}"] == "unversioned data"
    assert unversioned.get_attribute("role") is None and "clickable" not in unversioned.get_attribute("class")
    assert (f"data:{'f' * 32}", prep, "input") in edges
    assert ("version:features@1", "version:features@2", "parent") in edges  # the delta's base, dashed
    dash = (
        lineage_view(page).locator(".nbtrack-lineage-edge-parent").evaluate("p => getComputedStyle(p).strokeDasharray")
    )
    assert dash not in ("", "none"), dash
    # laid out left to right as data flows, no two nodes on top of each other
    boxes = {i: node(page, i).bounding_box() for i in shown}
    assert boxes["version:customers@2"]["x"] < boxes[prep]["x"] < boxes["version:features@1"]["x"]
    placed = list(boxes.values())
    for i, a in enumerate(placed):
        for b in placed[i + 1 :]:
            apart = (
                a["x"] + a["width"] <= b["x"] + 0.5
                or b["x"] + b["width"] <= a["x"] + 0.5
                or a["y"] + a["height"] <= b["y"] + 0.5
                or b["y"] + b["height"] <= a["y"] + 0.5
            )
            assert apart, (a, b)
    shot(page, "lineage-light")


def test_clicking_a_run_node_opens_that_run(page, lab):
    node(page, f"run:{lab.seeded['train2']}").click()
    view = current_view(page)
    view.locator(".nbtrack-run-title").wait_for()
    assert "train-on-v2" in view.locator(".nbtrack-run-title").inner_text()
    page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text="lineage · prep-features").click()
    node(page, "version:customers@2").wait_for()
    node(page, f"run:{lab.seeded['fit2']}").focus()  # the keyboard works too: Tab to a node, Enter
    page.keyboard.press("Enter")
    page.locator(
        "#jp-main-dock-panel .nbtrack-detail:not(.lm-mod-hidden) .nbtrack-run-title", has_text="fit-C2"
    ).wait_for()
    page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text="lineage · prep-features").click()
    node(page, "version:customers@2").wait_for()


def test_clicking_a_version_node_opens_it_in_the_datasets_view_and_back(page, lab):
    node(page, "version:customers@2").click()
    sidebar = page.locator(".nbtrack-sidebar")
    marked = sidebar.locator(".nbtrack-version-marked")
    marked.wait_for()
    assert marked.get_attribute("data-version") == "2"
    assert sidebar.locator(".nbtrack-versions h3").inner_text() == "customers"
    assert sidebar.locator(".nbtrack-version").count() == 2  # the dataset's versions, v2 marked
    shot(page, "lineage-dataset-version-light")
    # from a version to its graph: v1 was read by train-on-v1 only
    sidebar.locator(".nbtrack-version[data-version='1'] .nbtrack-version-lineage").click()
    node(page, "version:customers@1").wait_for()
    assert "nbtrack-lineage-root" in node(page, "version:customers@1").get_attribute("class")
    assert titles(page) == {"version:customers@1": "customers@1", f"run:{lab.seeded['train1']}": "train-on-v1"}
    marked.locator(".nbtrack-version-diff").click()  # v2's diff with v1
    diff = page.locator("#jp-main-dock-panel .nbtrack-diff:not(.lm-mod-hidden)")
    diff.locator("h2").wait_for()
    assert diff.locator("h2").inner_text() == "customers: v1 → v2"
    sidebar_toggle(page).click()  # close the sidebar again


def run_palette_command(page, label: str) -> None:
    command(page, "apputils:activate-command-palette")
    palette = page.locator(".jp-ModalCommandPalette .lm-CommandPalette-input")
    palette.wait_for()
    palette.fill("lineage graph")
    page.locator(".lm-CommandPalette-item", has_text=label).click()


def test_palette_opens_the_lineage_of_the_shown_version_or_of_what_is_typed(page, lab):
    # a dataset diff is shown (previous test): the palette opens the lineage of its newer version
    run_palette_command(page, "nbtrack: Open lineage graph…")
    node(page, "version:customers@2").wait_for()
    assert "nbtrack-lineage-root" in node(page, "version:customers@2").get_attribute("class")
    # elsewhere (the workspace), it asks for a run or a version
    command(page, "nbtrack:open-workspace")
    workspace(page).wait_for()
    run_palette_command(page, "nbtrack: Open lineage graph…")
    dialog = page.locator(".jp-Dialog")
    dialog.locator("input").fill("features@1")
    dialog.locator("input").press("Enter")
    root = node(page, "version:features@1")
    root.wait_for()
    assert "nbtrack-lineage-root" in root.get_attribute("class")
    assert titles(page)[f"run:{lab.seeded['prep']}"] == "prep-features"
    # a run that does not exist: the server's message, which says how to list runs
    command(page, "nbtrack:open-workspace")
    run_palette_command(page, "nbtrack: Open lineage graph…")
    page.locator(".jp-Dialog input").fill("no-such-run")
    page.locator(".jp-Dialog input").press("Enter")
    error = lineage_view(page).locator(".nbtrack-error")
    error.wait_for()
    assert "No run has the id or name 'no-such-run'" in error.inner_text() and "nbtrack runs" in error.inner_text()


def test_a_run_without_data_says_so(page, lab):
    plain = lab.seeded["plain"]
    command(page, "nbtrack:open-lineage", {"run": plain})
    node(page, f"run:{plain}").wait_for()
    assert lineage_view(page).locator(".nbtrack-lineage-count").inner_text() == "1 run, 0 dataset versions"
    assert "recorded no DataFrame" in lineage_view(page).locator(".nbtrack-lineage-alone").inner_text()


def test_a_graph_of_the_server_s_200_nodes_is_drawn_and_says_it_is_cut(page, lab):
    chain = lab.seeded["chain"]
    started = page.evaluate("() => performance.now()")
    command(page, "nbtrack:open-lineage", {"run": chain})
    node(page, f"run:{chain}").wait_for(timeout=60_000)
    took = (page.evaluate("() => performance.now()") - started) / 1000
    count = lineage_view(page).locator(".nbtrack-lineage-count").inner_text()
    assert count.endswith("(the first 200 nodes)"), count
    assert lineage_view(page).locator(".nbtrack-lineage-node").count() == 200
    _, graph = lab.api(f"lineage?run={chain}")
    assert len(drawn_edges(page)) == len(graph["edges"])
    root = node(page, f"run:{chain}").bounding_box()  # scrolled into view
    view = lineage_view(page).locator(".nbtrack-lineage-canvas").bounding_box()
    assert view["x"] <= root["x"] and root["x"] + root["width"] <= view["x"] + view["width"] + 1
    print(f"200-node lineage: command to drawn in {took:.2f} s")


def test_store_text_in_the_graph_is_text(page, lab):
    fit1 = lab.seeded["fit1"]
    command(page, "nbtrack:open-lineage", {"run": fit1})
    n = node(page, f"run:{fit1}")
    n.wait_for()
    assert titles(page)[f"run:{fit1}"] == XSS_NAME  # shown as typed
    assert XSS_NAME in n.locator("title").text_content()
    assert lineage_view(page).locator(".nbtrack-lineage-graph img").count() == 0
    tab = page.locator(f"#jp-main-dock-panel .lm-TabBar-tab[data-id='nbtrack-lineage-{fit1}']")
    assert tab.inner_text().startswith("lineage · <img src=x")  # the tab's label too
    assert page.evaluate("() => window.__xss") is None


# --- models --------------------------------------------------------------------------------------------


def open_models(page):
    command(page, "nbtrack:open-workspace")
    ws = workspace(page)
    ws.locator(".nbtrack-tabs .lm-TabBar-tab", has_text="Models").click()
    models = ws.locator(".nbtrack-models")
    models.locator(".nbtrack-model-name").wait_for()
    models.locator(".nbtrack-model-versions").wait_for()
    return models


def cells(table) -> list[list[str]]:
    return table.locator("tbody tr").evaluate_all("rs => rs.map(r => [...r.cells].map(c => c.innerText.trim()))")


def test_models_view_lists_versions_aliases_and_the_alias_history(page, lab):
    ids = lab.seeded
    models = open_models(page)
    entry = models.locator(".nbtrack-models-list li[data-model='churn']")
    assert entry.locator(".nbtrack-model-link").inner_text() == "churn"
    assert sorted(entry.locator(".nbtrack-alias").all_inner_texts()) == ["challenger → v1", "champion → v2"]
    assert models.locator(".nbtrack-model-name").inner_text() == "churn"
    aliases = {row[0]: row for row in cells(models.locator(".nbtrack-model-aliases"))}
    assert aliases["champion"][1] == "v2" and aliases["champion"][4] == CHAMPION_REASON
    assert aliases["challenger"][1] == "v1" and aliases["challenger"][4] == XSS_REASON
    versions = models.locator(".nbtrack-model-versions tbody tr")
    assert [versions.nth(i).get_attribute("data-version") for i in range(versions.count())] == ["2", "1"]
    v2, v1 = cells(models.locator(".nbtrack-model-versions"))
    assert v2[0].startswith("v2") and "champion" in v2[0]
    assert v1[0].startswith("v1") and "challenger" in v1[0]
    assert v2[2].startswith(f"fit-C2 · {ids['fit2'][-8:]}") and v1[2].startswith(f"{XSS_NAME} · {ids['fit1'][-8:]}")
    assert "auc = 1" in v2[3] and v2[4] == "features@1 (X)" and v2[5] == "logistic regression, C=2.0"
    history = cells(models.locator(".nbtrack-model-history"))  # newest first
    assert [(r[1], r[2], r[4]) for r in history] == [
        ("challenger", "set to v1", XSS_REASON),
        ("champion", "v1 → v2", CHAMPION_REASON),
        ("champion", "set to v1", "first model"),
    ]
    assert all(r[3] for r in history)  # who moved it
    assert models.locator(".nbtrack-model-history b, .nbtrack-model-aliases b").count() == 0  # text, not HTML
    shot(page, "models-light")


def test_a_model_version_links_to_its_run_data_and_lineage(page, lab):
    ids = lab.seeded
    models = open_models(page)
    row = models.locator(".nbtrack-model-versions tr[data-version='2']")
    row.locator(".nbtrack-model-run").click()
    view = current_view(page)
    view.locator(".nbtrack-run-title").wait_for()
    assert "fit-C2" in view.locator(".nbtrack-run-title").inner_text()
    models = open_models(page)
    models.locator(".nbtrack-model-versions tr[data-version='2'] .nbtrack-model-data").click()
    page.locator(".nbtrack-sidebar .nbtrack-versions h3", has_text="features").wait_for()  # was customers
    marked = page.locator(".nbtrack-sidebar .nbtrack-version-marked")
    assert marked.get_attribute("data-version") == "1"
    sidebar_toggle(page).click()
    models = open_models(page)
    models.locator(".nbtrack-model-versions tr[data-version='2'] .nbtrack-model-lineage").click()
    root = node(page, f"run:{ids['fit2']}")
    root.wait_for()
    assert "nbtrack-lineage-root" in root.get_attribute("class")
    assert titles(page)["version:features@1"] == "features@1"
    assert (("version:features@1", f"run:{ids['fit2']}", "input")) in drawn_edges(page)


# --- themes and sizes ----------------------------------------------------------------------------------

RGB_JS = """const rgb = c => {
  const v = c.match(/[\\d.]+/g).map(Number).slice(0, 3);
  return c.startsWith('color(') ? v.map(x => x * 255) : v;  // color(srgb r g b) has 0-1 channels
};"""

SVG_CONTRAST_JS = """gs => { {RGB}
return gs.flatMap(g => {
  const bg = rgb(getComputedStyle(g.querySelector('rect')).fill);
  return [...g.querySelectorAll('text')].map(t => ({text: t.textContent, fg: rgb(getComputedStyle(t).fill), bg}));
}); }""".replace("{RGB}", RGB_JS)


@pytest.mark.parametrize("theme", ["JupyterLab Light", "JupyterLab Dark"])
def test_lineage_and_models_readable_at_1024x768(page, lab, theme):
    suffix = "dark" if "Dark" in theme else "light"
    page.set_viewport_size({"width": 1024, "height": 768})
    set_theme(page, theme)
    try:
        command(page, "nbtrack:open-lineage", {"run": lab.seeded["prep"]})
        node(page, f"run:{lab.seeded['prep']}").wait_for()
        texts = lineage_view(page).locator(".nbtrack-lineage-node").evaluate_all(SVG_CONTRAST_JS)
        low = [(t["text"], round(contrast(t["fg"], t["bg"]), 2)) for t in texts]
        assert texts and not [x for x in low if x[1] < 4.5], f"{theme}: node text under 4.5:1: {low}"
        canvas = lineage_view(page).locator(".nbtrack-lineage-canvas").bounding_box()
        assert canvas["x"] >= 0 and canvas["x"] + canvas["width"] <= 1024  # scrolls inside the tab
        shot(page, f"lineage-1024-{suffix}")
        models = open_models(page)
        for part in (".nbtrack-model-versions", ".nbtrack-model-history", ".nbtrack-models-list"):
            box = models.locator(part).bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 1024, part
        chips = models.locator(".nbtrack-alias").evaluate_all(
            "es => { " + RGB_JS + " return es.map(e => "
            "({fg: rgb(getComputedStyle(e).color), bg: rgb(getComputedStyle(e).backgroundColor)})); }"
        )
        assert chips and min(contrast(c["fg"], c["bg"]) for c in chips) >= 4.5
        shot(page, f"models-1024-{suffix}")
    finally:
        set_theme(page, "JupyterLab Light")
        page.set_viewport_size({"width": 1440, "height": 900})
