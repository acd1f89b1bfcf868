"""Every public ``store=`` argument takes a path (str or PathLike) as well as a Store: one resolver."""

from __future__ import annotations

import inspect
from pathlib import Path

import pandas as pd
import pytest

import nbtrack
import nbtrack.data
from nbtrack.store import Store, resolve_store

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    """The store the calls name (``tmp/project/.nbtrack``), while the default store is another one."""
    monkeypatch.setenv("NBTRACK_HOME", str(tmp_path / "default" / ".nbtrack"))
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    root = tmp_path / "project" / ".nbtrack"
    Store.open(root).close()
    return root


def _calls(root: Path, tmp_path: Path) -> dict[str, object]:
    """Each public function called with the store as a path (str, Path, or the folder holding .nbtrack),
    in an order that builds what the later calls read; returns what each call gave."""
    s, p, folder = str(root), root, root.parent
    got: dict[str, object] = {}
    from sklearn.linear_model import LinearRegression

    with nbtrack.start_run("first", experiment="paths", store=s) as run:
        run.log_param("alpha", 0.5)
        run.log_metric("acc", 0.9)
        run.log_artifact(b"hello", "note.txt")
        run.log_model(LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0]))
    got["start_run"] = run.run_id
    got["register_model"] = nbtrack.register_model("first", "m", store=s).version
    got["set_model_alias"] = nbtrack.set_model_alias("m", 1, "champion", store=p).aliases
    got["get_model"] = nbtrack.get_model("m@champion", store=folder).version
    got["load_model"] = type(nbtrack.load_model("m/1", trusted=True, store=s)).__name__
    got["models"] = list(nbtrack.models(store=p)["name"])
    got["model_versions"] = [v.version for v in nbtrack.model_versions("m", store=s)]
    if hasattr(nbtrack, "score"):  # batch scoring, being added by the model registry's work
        got["score"] = len(nbtrack.score("m/1", pd.DataFrame({"x": [0.5, 2.0]}), trusted=True, store=p))
    got["remove_model_alias"] = nbtrack.remove_model_alias("m", "champion", store=s)
    got["model_history"] = len(nbtrack.model_history("m", store=p))
    got["delete_model_version"] = nbtrack.delete_model_version("m", 1, store=s)
    with nbtrack.track("block", experiment="paths", store=p, namespace={}) as block:
        pass
    got["track"] = block.run_id
    people = pd.DataFrame({"id": [1, 2, 3], "age": [30, 40, 50]})
    got["snapshot"] = nbtrack.snapshot(people, "people", key="id", store=s).version
    nbtrack.snapshot(people.assign(age=[31, 40, 50]), "people", key="id", store=p)
    got["runs"] = sorted(nbtrack.runs(store=folder)["name"])
    got["list_runs"] = len(nbtrack.list_runs(store=s)[1])
    got["get_run"] = nbtrack.get_run("first", store=p).params
    got["compare"] = list(nbtrack.compare([got["start_run"], got["track"]], store=s).index)
    got["experiments"] = sorted(nbtrack.experiments(store=p)["experiment"])
    got["load_artifact"] = nbtrack.load_artifact("first", "note.txt", store=s)
    got["load"] = nbtrack.load("people", 1, store=p)["age"].tolist()
    got["datasets"] = list(nbtrack.datasets(store=s)["name"])
    got["versions"] = list(nbtrack.versions("people", store=p)["version"])
    got["diff"] = nbtrack.diff("people", 1, 2, store=s).name
    got["drift"] = nbtrack.drift("people", 2, against="people@1", store=p).reference
    got["lineage"] = [n["label"] for n in nbtrack.lineage("people@1", store=s).nodes]
    version = nbtrack.data.get_version("people", 2, store=p)
    got["get_version"] = version.version
    got["DataVersion.load"] = version.load(store=s)["age"].tolist()
    got["match_fingerprint"] = nbtrack.data.match_fingerprint(version.fingerprint, store=p).version
    got["list_datasets"] = [d["name"] for d in nbtrack.data.list_datasets(store=s)]
    got["list_versions"] = [v["version"] for v in nbtrack.data.list_versions("people", store=p)]
    got["export"] = nbtrack.data.export("people", 1, str(tmp_path / "people.parquet"), store=s).version
    got["fsck"] = nbtrack.fsck(store=p).clean
    got["gc"] = type(nbtrack.gc(dry_run=True, store=s)).__name__
    got["delete_run"] = nbtrack.delete_run(got["track"], store=p)
    other = tmp_path / "other" / ".nbtrack"
    with nbtrack.start_run("merged", store=other):
        pass
    got["merge"] = nbtrack.merge(str(other), into=s).runs_added
    url = (tmp_path / "team-remote").as_uri()
    got["add_remote"] = nbtrack.add_remote("team", url, store=s)
    got["remotes"] = nbtrack.remotes(store=p)
    got["push"] = nbtrack.push("team", store=folder, show_progress=False).runs
    got["pull"] = nbtrack.pull("team", store=s, show_progress=False).manifests
    got["sync"] = [str(r) for r in nbtrack.sync("team", store=p, show_progress=False)]
    got["check_remote"] = nbtrack.check_remote("team", store=s, show_progress=False).ok
    got["remove_remote"] = nbtrack.remove_remote("team", store=folder)
    notebook = tmp_path / "plain.ipynb"
    notebook.write_bytes((NOTEBOOKS / "prod_plain.ipynb").read_bytes())
    done = nbtrack.run_notebook(notebook, store=s)
    got["run_notebook"] = done.status
    got["export_run"] = len(nbtrack.export_run(done.run_id, "notebook", store=s).cells) > 0
    got["reproduce"] = nbtrack.reproduce(done.run_id, store=folder).verdict
    board = nbtrack.sweep(notebook, {"fail": [False]}, store=p, progress=False)
    got["sweep"] = list(board["status"])
    # after scoring: outcomes, monitoring and champion/challenger (a model version made again from "first")
    spec = nbtrack.register_model("first", "m", store=s).spec
    scored = nbtrack.score(spec, pd.DataFrame({"x": [0.5, 2.0]}), trusted=True, store=p)
    got["log_outcomes"] = nbtrack.log_outcomes(scored, [0.5, 2.5], store=folder)["metrics"]
    got["monitor"] = nbtrack.monitor(spec, "people@2", against="people@1", store=s).drift.reference
    holdout = pd.DataFrame({"x": [0.0, 1.0], "y": [0.0, 1.0]})
    compared = nbtrack.compare_models(spec, spec, holdout, label="y", trusted=True, store=p)
    got["compare_models"] = compared.metrics["diff"]
    # after everything else: editing a finished run (archived, then restored as it was)
    got["tag_run"] = nbtrack.tag_run("first", {"reviewed": "yes"}, store=folder)
    got["set_note"] = nbtrack.set_note("first", "kept", store=s)
    got["archive_runs"] = nbtrack.archive_runs("first", store=p)
    got["restore_runs"] = nbtrack.restore_runs("first", store=folder)
    return got


def test_every_public_store_argument_takes_a_path(elsewhere, tmp_path):
    got = _calls(elsewhere, tmp_path)
    assert [n for n in got["runs"] if not n.startswith("score ")] == ["block", "first"] and got["list_runs"] == len(
        got["runs"]
    )
    assert (
        got["get_run"] == {"alpha": 0.5}
        and {"params.alpha", "metrics.acc"} <= set(got["compare"])
        and "paths" in got["experiments"]
    )
    assert got["load_artifact"] == b"hello"
    assert got["snapshot"] == 1 and got["load"] == [30, 40, 50] and got["DataVersion.load"] == [31, 40, 50]
    assert got["datasets"] == ["people"] and got["versions"] == [1, 2] and got["list_versions"] == [1, 2]
    assert (
        got["diff"] == "people"
        and got["drift"] == {"dataset": "people", "version": 1, "run_id": None}
        and got["lineage"] == ["people@1"]
    )
    assert got["get_version"] == 2 and got["match_fingerprint"] == 2 and got["list_datasets"] == ["people"]
    assert got["export"] == 1 and (tmp_path / "people.parquet").exists()
    assert got["fsck"] is True and got["gc"] == "GcReport" and got["delete_run"] == [got["track"]]
    assert got["merge"] == 1 and got["run_notebook"] == "ok" and got["sweep"] == ["ok"] and got["export_run"]
    assert got["reproduce"] == "reproduced"
    assert got["register_model"] == 1 and got["set_model_alias"] == ["champion"] and got["get_model"] == 1
    assert got["load_model"] == "LinearRegression" and got["models"] == ["m"] and got["model_versions"] == [1]
    assert got.get("score", 2) == 2 and got["remove_model_alias"] == 1 and got["model_history"] == 2
    assert got["delete_model_version"] is None
    assert got["log_outcomes"] == {"rmse": pytest.approx(0.5 / 2**0.5), "mae": pytest.approx(0.25)}
    assert got["monitor"] == {"dataset": "people", "version": 1, "run_id": None}
    assert got["compare_models"] == {"rmse": 0.0, "mae": 0.0}
    assert got["tag_run"]["reviewed"] == "yes" and got["set_note"] == "kept"
    assert got["archive_runs"] and got["restore_runs"] == got["archive_runs"]
    url = (tmp_path / "team-remote").as_uri()
    assert got["add_remote"] == url and got["remotes"] == {"team": url} and got["push"] >= 2 and got["pull"] == 0
    assert got["sync"] == ["Nothing new on team.", "team is up to date: nothing to push."]
    assert got["check_remote"] is True and got["remove_remote"] is None
    # all of it went to the named store; the default one was never created
    assert not (tmp_path / "default").exists()
    named = resolve_store(elsewhere)
    names = sorted(
        n
        for (n,) in named.query(
            "SELECT name FROM runs WHERE name != 'fit' AND kind NOT IN ('score', 'outcomes', 'monitor', 'compare')"
        )
    )
    # "block" was deleted; "fit" are the notebooks' own child runs
    assert names == ["first", "merged", "plain", "plain [0]", "reproduce plain", "sweep plain"], names

    # every public function with a store= parameter is called above (a new one must be added here)
    public = {}
    for module in (nbtrack, nbtrack.data):
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isfunction(obj) and "store" in inspect.signature(obj).parameters:
                public[name] = obj
    assert "DataVersion.load" in got and "store" in inspect.signature(nbtrack.DataVersion.load).parameters
    missing = sorted(set(public) - set(got))
    assert missing == [], f"public functions with store= not called with a path here: {missing}"


def test_resolve_store_takes_a_store_a_path_or_none(elsewhere, tmp_path):
    store = Store.open(elsewhere)
    assert resolve_store(store) is store
    assert resolve_store(str(elsewhere)) is resolve_store(elsewhere)  # opened once per process
    assert resolve_store(elsewhere.parent).root == elsewhere  # the folder holding .nbtrack
    assert resolve_store(None).root == tmp_path / "default" / ".nbtrack"
    with pytest.raises(nbtrack.errors.StoreNotFoundError, match="nbtrack init"):
        resolve_store(tmp_path / "nowhere", create=False)
    with pytest.raises(nbtrack.errors.InvalidValueError, match="store= takes a Store or the path"):
        resolve_store(42)  # type: ignore[arg-type]


def test_a_reading_function_given_a_path_without_a_store_says_so(elsewhere, tmp_path):
    with pytest.raises(nbtrack.errors.StoreNotFoundError):
        nbtrack.runs(store=tmp_path / "empty")
    assert not (tmp_path / "empty").exists()  # reading never creates a store
