"""`nbtrack merge` carries model versions, aliases and their history across stores."""

from __future__ import annotations

from sklearn.linear_model import LogisticRegression

import nbtrack
from nbtrack.store import Store


def _train(store: Store, C: float) -> str:
    with nbtrack.start_run(f"fit-{C}", params={"C": C}, store=store) as run:
        run.log_model(LogisticRegression(C=C).fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1]), "model.pkl")
        run.log_metric("auc", 0.9)
    return run.run_id


def test_merge_renumbers_clashing_versions_and_unites_alias_histories(tmp_path):
    ours, theirs = Store.open(tmp_path / "a" / ".nbtrack"), Store.open(tmp_path / "b" / ".nbtrack")
    nbtrack.register_model(_train(ours, 0.1), "churn", store=ours)
    nbtrack.set_model_alias("churn", 1, "champion", reason="ours", store=ours)
    their_run = _train(theirs, 5.0)
    nbtrack.register_model(their_run, "churn", store=theirs)
    nbtrack.set_model_alias("churn", 1, "challenger", reason="theirs", store=theirs)
    nbtrack.register_model(their_run, "fraud", store=theirs)

    report = nbtrack.merge(theirs, into=ours)
    assert report.model_versions_added == 2 and report.renumbered_models == {("churn", 1): 2}
    assert report.alias_moves_added == 1 and "2 model versions added" in str(report)
    assert [v.run_id for v in nbtrack.model_versions("churn", store=ours)][1] == their_run
    assert nbtrack.load_model("churn@challenger", trusted=True, store=ours).C == 5.0
    assert nbtrack.load_model("churn@champion", trusted=True, store=ours).C == 0.1
    assert nbtrack.load_model("fraud", trusted=True, store=ours).C == 5.0
    history = nbtrack.model_history("churn", store=ours)
    assert [(h["alias"], h["to_version"], h["reason"]) for h in history] == [
        ("champion", 1, "ours"),
        ("challenger", 2, "theirs"),
    ]
    again = nbtrack.merge(theirs, into=ours)  # idempotent
    assert (again.model_versions_added, again.alias_moves_added) == (0, 0)
    assert len(nbtrack.model_history("churn", store=ours)) == 2


def test_the_latest_alias_move_of_either_store_wins(tmp_path):
    ours, theirs = Store.open(tmp_path / "a" / ".nbtrack"), Store.open(tmp_path / "b" / ".nbtrack")
    nbtrack.register_model(_train(ours, 0.1), "churn", store=ours)
    nbtrack.set_model_alias("churn", 1, "champion", store=ours)
    nbtrack.merge(ours, into=theirs)  # they start from a copy of ours
    nbtrack.register_model(_train(theirs, 2.0), "churn", store=theirs)
    nbtrack.set_model_alias("churn", 2, "champion", reason="promoted over there", store=theirs)
    nbtrack.merge(theirs, into=ours)
    assert nbtrack.get_model("churn@champion", store=ours).lineage["params"]["C"] == 2.0
    assert [h["to_version"] for h in nbtrack.model_history("churn", store=ours)] == [1, 2]


def test_concurrent_registrations_get_distinct_versions(tmp_path):
    """Two processes registering at once: the number is taken inside the write transaction."""
    import os
    import subprocess
    import sys

    store = Store.open(tmp_path / ".nbtrack")
    runs = [_train(store, float(C)) for C in range(1, 9)]
    store.close()
    script = (
        "import sys, nbtrack\n"
        "for run_id in sys.argv[1:]:\n"
        "    nbtrack.register_model(run_id, 'churn', description=run_id)\n"
    )
    env = {**os.environ, "NBTRACK_HOME": str(tmp_path / ".nbtrack")}
    workers = [subprocess.Popen([sys.executable, "-c", script, *runs[i::2]], env=env) for i in range(2)]
    assert [w.wait(timeout=120) for w in workers] == [0, 0]
    versions = nbtrack.model_versions("churn", store=Store.open(tmp_path / ".nbtrack"))
    assert [v.version for v in versions] == list(range(1, 9))
    assert sorted(v.run_id for v in versions) == sorted(runs)
