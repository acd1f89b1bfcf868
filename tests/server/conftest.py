"""Fixtures for the REST API tests: a real Jupyter server (pytest-jupyter) with nbtrack enabled,
reading a fresh store that each test fills with real runs through the core API."""

from __future__ import annotations

import json
from typing import Any

import pytest
from traitlets.config import Config

import nbtrack
from nbtrack.store import Store

# pytest_plugins for pytest-jupyter is declared in tests/conftest.py (pytest refuses it here).

API = ("nbtrack", "api", "v1")

# A 1x1 PNG, an HTML page and an SVG that would run script if rendered in the server's origin.
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
HTML = b"<html><body><script>alert(document.cookie)</script>report</body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


@pytest.fixture
def nb_store(tmp_path):
    """A fresh store in a temporary folder, outside the server's root_dir."""
    store = Store.open(tmp_path / "project" / ".nbtrack", create=True)
    yield store
    store.close()


@pytest.fixture
def jp_server_config(nb_store):
    """Enable the extension (as nbtrack.json does) and point it at this test's store."""
    return Config(
        {
            "ServerApp": {"jpserver_extensions": {"nbtrack": True}},
            "NbtrackServer": {"store_path": str(nb_store.root)},
        }
    )


@pytest.fixture
def api(jp_fetch):
    """``await api("runs", params={...})`` -> decoded JSON; ``raw=True`` returns the response."""

    async def call(*parts: str, raw: bool = False, **kwargs: Any) -> Any:
        response = await jp_fetch(*API, *parts, **kwargs)
        return response if raw else json.loads(response.body)

    return call


@pytest.fixture
def api_error(jp_fetch):
    """``await api_error(400, "runs", params=...)`` -> the JSON error body, asserting the status."""

    async def call(status: int, *parts: str, **kwargs: Any) -> dict[str, Any]:
        response = await jp_fetch(*API, *parts, raise_error=False, **kwargs)
        assert response.code == status, (response.code, response.body[:500])
        assert response.headers["Content-Type"].startswith("application/json")
        body = json.loads(response.body)
        assert set(body) >= {"code", "message"} and body["message"]
        assert "Traceback" not in body["message"]
        return body

    return call


@pytest.fixture
def runs(nb_store):
    """Real runs recorded with nbtrack.start_run: returns {label: run_id} and artifact hashes."""
    made: dict[str, Any] = {}
    with nbtrack.start_run(
        "rf-small", experiment="iris", params={"model": "rf", "depth": 3}, tags={"stage": "dev"}, store=nb_store
    ) as run:
        for step, acc in enumerate([0.7, 0.8, 0.85]):
            run.log_metric("acc", acc, step=step)
        run.log_metric("loss", 0.4)
        made["png"] = run.log_artifact(PNG, "curve.png", kind="figure", media_type="image/png")
        made["model"] = run.log_model({"weights": [1, 2, 3]}, "model.pkl")
        made["html"] = run.log_artifact(HTML, "report.html", media_type="text/html")
        made["svg"] = run.log_artifact(SVG, "plot.svg", media_type="image/svg+xml")
        made["text"] = run.log_text("notes.txt", "héllo")
        made["rf"] = run.run_id
        made["bytes"] = {"png": PNG, "html": HTML, "svg": SVG}
    with nbtrack.start_run(
        "rf-deep", experiment="iris", params={"model": "rf", "depth": 9}, tags={"stage": "prod"}, store=nb_store
    ) as run:
        run.log_metric("acc", 0.95, step=0)
        run.log_metric("acc", 0.97, step=1)
        made["deep"] = run.run_id
    with pytest.raises(ZeroDivisionError):
        with nbtrack.start_run("broken", experiment="wine", params={"lr": 0.1}, store=nb_store) as run:
            run.log_metric("acc", float("nan"))
            made["broken"] = run.run_id
            1 / 0
    return made
