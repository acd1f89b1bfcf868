"""docs/rest-api.yaml and docs/rest.md describe exactly the routes of the handler table, and the
server's answers match the documented schemas."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from nbtrack.server.handlers import ROUTES

DOCS = Path(__file__).resolve().parents[2] / "docs"
SPEC = yaml.safe_load((DOCS / "rest-api.yaml").read_text())
METHODS = ("get", "post", "put", "patch", "delete")


def template(pattern: str) -> str:
    """/runs/(?P<run_id>[^/]+)/rerun -> /runs/{run_id}/rerun"""
    return re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", pattern)


def table() -> dict[str, set[str]]:
    return {template(pattern): {m for m in METHODS if m in vars(handler)} for pattern, handler in ROUTES}


def resolve(node: dict) -> dict:
    while "$ref" in node:
        target: Any = SPEC
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def test_every_route_is_in_the_openapi_file_with_its_methods():
    documented = {path: {m for m in item if m in METHODS} for path, item in SPEC["paths"].items()}
    assert documented == table()


def test_every_path_parameter_is_declared_and_403_documented():
    for path, item in SPEC["paths"].items():
        for method in (m for m in item if m in METHODS):
            parameters = [resolve(p) for p in item[method].get("parameters", [])]
            declared = {p["name"] for p in parameters if p["in"] == "path"}
            assert declared == set(re.findall(r"{(\w+)}", path)), (method, path)
            assert "403" in item[method]["responses"], (method, path)


def test_every_route_has_a_section_in_rest_md():
    guide = (DOCS / "rest.md").read_text()
    for path, methods in table().items():
        for method in methods:
            assert f"### {method.upper()} {path}\n" in guide, f"docs/rest.md lacks '### {method.upper()} {path}'"


# -- answers match the schemas -------------------------------------------------------------------
def _json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema: `nullable: true` becomes a null alternative."""
    if isinstance(node, list):
        return [_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _json_schema(v) for k, v in node.items() if k not in ("nullable", "example")}
    if node.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def check(path: str, body: Any, method: str = "get", status: str = "200") -> None:
    content = resolve(SPEC["paths"][path][method]["responses"][status])["content"]["application/json"]
    schema = {**_json_schema(content["schema"]), "components": _json_schema(SPEC["components"])}
    jsonschema.validate(body, schema)


async def test_answers_match_the_documented_schemas(api, api_error, runs):
    check("/version", await api("version"))
    check("/changes", await api("changes"))
    check("/experiments", await api("experiments"))
    check("/runs", await api("runs"))
    check("/runs", await api("runs", params={"fields": "name,metrics.acc"}))
    check("/values", await api("values", params={"keys": "metrics.acc,params.model,start"}))
    for label in ("rf", "deep", "broken"):
        check("/runs/{run_id}", await api("runs", runs[label]))
    check("/compare", await api("compare", params={"ids": f"{runs['rf']},{runs['broken']}"}))
    check("/runs", await api_error(400, "runs", params={"where": "("}), status="400")
    check("/runs/{run_id}", await api_error(404, "runs", "zzzzzzzz"), status="404")


async def test_data_answers_match_the_documented_schemas(api, nb_store):
    import pandas as pd

    from nbtrack.data import snapshot
    from nbtrack.tracking import start_run

    snapshot(pd.DataFrame({"id": [1, 2]}), "customers", key="id", message="first", store=nb_store)
    check("/datasets", await api("datasets"))
    snapshot(pd.DataFrame({"id": [1, 2, 3]}), "customers", key="id", store=nb_store)
    check("/datasets/{name}/versions", await api("datasets", "customers", "versions"))
    check("/datasets/{name}/diff", await api("datasets", "customers", "diff", params={"a": "1", "b": "2"}))
    check("/lineage", await api("lineage", params={"dataset": "customers"}))
    with start_run("writer", store=nb_store):  # a run node too (name, status, start)
        snapshot(pd.DataFrame({"id": [1, 2, 3, 4]}), "customers", key="id", store=nb_store)
    graph = await api("lineage", params={"dataset": "customers"})
    assert {n["kind"] for n in graph["nodes"]} == {"run", "version"}
    check("/lineage", graph)


async def test_job_answers_match_the_documented_schema(api, jp_serverapp):
    import asyncio

    def boom(progress):
        raise RuntimeError("kernel died")

    jobs = jp_serverapp.web_app.settings["nbtrack"].jobs
    ok = jobs.submit("01jd0000000000000000000000", lambda progress: "01jd0000000000000000000001")
    failed = jobs.submit("01jd0000000000000000000000", boom)
    for job, status in ((ok, "ok"), (failed, "failed")):
        for _ in range(200):
            body = await api("jobs", job.job_id)
            if body["status"] in ("ok", "failed"):
                break
            await asyncio.sleep(0.05)
        check("/jobs/{job_id}", body)
        assert body["status"] == status
    assert body["error"] == "RuntimeError: kernel died"
