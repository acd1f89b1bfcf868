"""Model registry routes: /models and /models/{name}, on real scikit-learn models in a real store."""

from __future__ import annotations

import pytest
from sklearn.linear_model import LogisticRegression
from test_openapi import check

import nbtrack


@pytest.fixture
def churn(nb_store):
    """Model 'churn' with two versions from real fitted models, champion on version 1."""
    import pandas as pd

    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "y": [0, 0, 1, 1]})
    nbtrack.snapshot(frame, "train", store=nb_store)
    run_ids = []
    for C in (0.5, 2.0):
        with nbtrack.start_run(f"fit-{C}", experiment="churn", params={"C": C}, store=nb_store) as run:
            run.record_data("input", nbtrack.versions("train", store=nb_store)["fingerprint"][0], name="frame")
            run.log_model(LogisticRegression(C=C).fit(frame[["x"]], frame["y"]), "model.pkl")
            run.log_metric("auc", 0.8 + C / 10)
        run_ids.append(run.run_id)
        nbtrack.register_model(run.run_id, "churn", description=f"C={C}", store=nb_store)
    nbtrack.set_model_alias("churn", 1, "champion", reason="first", store=nb_store)
    return run_ids


async def test_models_lists_each_model_with_its_aliases(api, churn):
    body = await api("models")
    check("/models", body)
    assert [(m["name"], m["versions"], m["latest"], m["aliases"]) for m in body["models"]] == [
        ("churn", 2, 2, {"champion": 1})
    ]


async def test_one_model_has_versions_with_lineage_and_the_alias_history(api, churn, nb_store):
    body = await api("models", "churn")
    check("/models/{name}", body)
    assert [v["version"] for v in body["versions"]] == [2, 1] and body["versions"][1]["aliases"] == ["champion"]
    newest = body["versions"][0]
    assert newest["run_id"] == churn[1] and newest["lineage"]["params"] == {"C": 2.0}
    assert newest["lineage"]["metrics"] == {"auc": pytest.approx(1.0)}
    assert newest["lineage"]["data"][0]["name"] == "frame"
    assert [(h["alias"], h["to_version"], h["reason"]) for h in body["history"]] == [("champion", 1, "first")]
    # the bytes download as an attachment, never unpickled by the server
    response = await api("artifacts", newest["blob"], raw=True)
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.body == nb_store.blobs.read_bytes(newest["blob"])


async def test_an_unknown_model_is_a_404_naming_the_known_ones(api_error, churn):
    body = await api_error(404, "models", "fraud")
    check("/models/{name}", body, status="404")
    assert body["code"] == "model_not_found" and "the store has: churn" in body["message"]


async def test_models_is_empty_on_a_store_without_models(api, nb_store):
    assert await api("models") == {"models": []}


async def test_the_model_routes_need_credentials(jp_fetch, churn):
    from tornado.httpclient import HTTPClientError

    for parts in (("models",), ("models", "churn")):
        with pytest.raises(HTTPClientError) as caught:
            await jp_fetch("nbtrack", "api", "v1", *parts, headers={"Authorization": ""})
        assert caught.value.code == 403
