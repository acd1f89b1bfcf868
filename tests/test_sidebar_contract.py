"""The sidebar's types say what the REST API sends: labextension/src/tokens.ts against docs/rest-api.yaml.

Every exported interface of tokens.ts mirrors one schema of the OpenAPI file (the table MIRRORS below)
and must have the same property names, the same required/optional split and compatible types. The
interfaces are read by labextension/scripts/interfaces.mjs with the TypeScript compiler API from
labextension/node_modules; the schemas with pyyaml. tests/server/test_openapi.py checks the other half:
that the server's answers match the schemas.

Conventions of the comparison:
- a schema object with `properties` lists every key the server sends: it has an index signature in
  TypeScript only when it has `additionalProperties`;
- a schema object without `properties` is a map: `Record<string, T>`, T matching `additionalProperties`;
- `nullable: true` is `| null`; an enum of strings is a union of string literals (same values);
  integer and number are `number`; an array whose length `minItems` = `maxItems` pins may be a tuple;
- a schema without a type (`{}`, `items: {}`) is any JSON value: the alias `JSONValue`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
LABEXTENSION = ROOT / "labextension"
TOKENS = LABEXTENSION / "src" / "tokens.ts"
SCRIPT = LABEXTENSION / "scripts" / "interfaces.mjs"
SPEC_FILE = ROOT / "docs" / "rest-api.yaml"
SETUP_HINT = "run `bash tests/run_all.sh` (it installs node's packages in labextension/node_modules)"


def schema(name: str) -> str:
    return f"#/components/schemas/{name}"


def answer(path: str, method: str = "get", status: str = "200") -> str:
    """The JSON body schema of one documented response, as a JSON pointer."""
    escaped = path.replace("~", "~0").replace("/", "~1")
    return f"#/paths/{escaped}/{method}/responses/{status}/content/application~1json/schema"


# interface of tokens.ts -> the schema it mirrors
MIRRORS: dict[str, str] = {
    "IVersion": schema("Version"),
    "IChanges": answer("/changes"),
    "IExperiment": schema("Experiment"),
    "IExperimentList": answer("/experiments"),
    "IRunRow": schema("RunRow"),
    "IRunColumns": schema("RunColumns"),
    # GET /runs answers RunsPage or, with `fields`, SelectedRunsPage: the sidebar never sends fields
    "IRunsPage": schema("RunsPage"),
    "IRunValues": schema("RunValues"),
    "IArtifact": schema("Artifact"),
    "IDataRef": schema("DataRef"),
    "IRunError": schema("RunError"),
    "IRunDetail": schema("RunDetail"),
    "ICompareRow": schema("CompareRow"),
    "ICompare": schema("Compare"),
    "IDatasetSummary": schema("Dataset"),
    "IDatasetList": answer("/datasets"),
    "IDatasetVersion": schema("DatasetVersion"),
    "IDatasetVersionList": answer("/datasets/{name}/versions"),
    "IDatasetDiff": schema("DatasetDiff"),
    "IDiffSchema": schema("DiffSchema"),
    "IDtypeChange": schema("DiffSchema") + "/properties/dtype_changes/items",
    "IColumnStatsPair": schema("ColumnStatsPair"),
    "IRerunAccepted": answer("/runs/{run_id}/rerun", "post", "202"),
    "IRunEdited": answer("/runs/{run_id}", "patch"),
    "IRunArchived": answer("/runs/archive", "post"),
    "IRunRestored": answer("/runs/restore", "post"),
    "IRunDeleted": answer("/runs/delete", "post"),
    "IJob": schema("Job"),
    "ILineage": schema("Lineage"),
    "ILineageNode": schema("Lineage") + "/properties/nodes/items",
    "ILineageEdge": schema("Lineage") + "/properties/edges/items",
    "IModel": schema("Model"),
    "IModelList": answer("/models"),
    "IModelVersion": schema("ModelVersion"),
    "IModelLineage": schema("ModelVersion") + "/properties/lineage",
    "IModelData": schema("ModelVersion") + "/properties/lineage/properties/data/items",
    "IAliasMove": schema("AliasMove"),
    "IModelDetail": answer("/models/{name}"),
}

# type alias of tokens.ts -> the schema it mirrors
ALIAS_MIRRORS: dict[str, str] = {
    "RunStatus": schema("RunStatus"),
    "JobStatus": schema("Job") + "/properties/status",
    "MetricValue": schema("MetricValue"),
    "SeriesValue": schema("SeriesValue"),
}

# exported interfaces that mirror no schema, with the reason (none today)
NOT_MIRRORED: dict[str, str] = {}

ANY_JSON = "JSONValue"  # the alias that stands for any JSON value


# -- reading both sides ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return yaml.safe_load(SPEC_FILE.read_text())


@pytest.fixture(scope="module")
def ts() -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        pytest.fail(f"node is not on PATH, so labextension/src/tokens.ts cannot be read: {SETUP_HINT}")
    if not (LABEXTENSION / "node_modules" / "typescript" / "package.json").is_file():
        pytest.fail(f"labextension/node_modules/typescript is missing: {SETUP_HINT}", pytrace=False)
    done = subprocess.run(
        [node, str(SCRIPT), str(TOKENS)], capture_output=True, text=True, timeout=120, cwd=LABEXTENSION
    )
    assert done.returncode == 0, f"{SCRIPT.name} failed:\n{done.stderr}"
    return json.loads(done.stdout)


def pointer(document: Any, ref: str) -> Any:
    node = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


# -- the comparison --------------------------------------------------------------------------------
Key = tuple  # ("string",), ("lit", "ok"), ("number",), ("boolean",), ("null",), ("array",), ("object",), ("any",)


class Contract:
    """Compares TypeScript type trees (from interfaces.mjs) with OpenAPI schemas; collects errors."""

    def __init__(self, spec: dict[str, Any], ts: dict[str, Any]):
        self.spec, self.interfaces, self.aliases = spec, ts["interfaces"], ts["aliases"]
        self.errors: list[str] = []
        self._active: set[tuple[str, int]] = set()

    def error(self, where: str, text: str) -> None:
        self.errors.append(f"{where}: {text}")

    # schema side
    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = pointer(self.spec, node["$ref"])
        return node

    def merged(self, node: dict[str, Any]) -> dict[str, Any]:
        """An allOf of objects as one object (properties, required, additionalProperties joined)."""
        parts = [self.resolve(part) for part in node["allOf"]]
        parts = [self.merged(p) if "allOf" in p else p for p in parts]
        if len(parts) == 1:
            return {**parts[0], **({"nullable": True} if node.get("nullable") else {})}
        out: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
        for part in parts:
            out["properties"].update(part.get("properties", {}))
            out["required"] += part.get("required", [])
            if part.get("additionalProperties") not in (None, False):
                out["additionalProperties"] = part["additionalProperties"]
        if node.get("nullable"):
            out["nullable"] = True
        return out

    def schema_variants(self, node: dict[str, Any], where: str) -> dict[Key, Any]:
        node = self.resolve(node)
        if "allOf" in node:
            node = self.merged(node)
        out: dict[Key, Any] = {("null",): None} if node.get("nullable") else {}
        alternatives = node.get("anyOf") or node.get("oneOf")
        if alternatives:
            for alternative in alternatives:
                for key, payload in self.schema_variants(alternative, where).items():
                    if key in out and key in (("array",), ("object",)):
                        self.error(where, f"the schema has two {key[0]} alternatives: not comparable")
                    out[key] = payload
            return out
        kind = node.get("type")
        if "enum" in node:
            out.update({("lit", value): None for value in node["enum"]})
        elif kind == "string":
            out[("string",)] = None
        elif kind in ("integer", "number"):
            out[("number",)] = None
        elif kind == "boolean":
            out[("boolean",)] = None
        elif kind == "array":
            out[("array",)] = node
        elif kind == "object" or "properties" in node or "additionalProperties" in node:
            out[("object",)] = node
        elif kind is None:
            out[("any",)] = None
        else:
            self.error(where, f"unknown schema type {kind!r}")
        return out

    # TypeScript side
    def ts_variants(self, node: dict[str, Any], where: str) -> dict[Key, Any]:
        kind = node["kind"]
        if kind == "union":
            out: dict[Key, Any] = {}
            for member in node["types"]:
                for key, payload in self.ts_variants(member, where).items():
                    if key in out and key in (("array",), ("object",)):
                        self.error(where, f"the TypeScript union has two {key[0]} members: not comparable")
                    out[key] = payload
            return out
        if kind == "ref":
            name = node["name"]
            if name == ANY_JSON:
                return {("any",): None}
            if name in self.aliases:
                return self.ts_variants(self.aliases[name], where)
            if name in self.interfaces:
                return {("object",): node}
            self.error(where, f"unknown type {name!r} (only tokens.ts is read)")
            return {}
        if kind in ("string", "number", "boolean", "null"):
            return {(kind,): None}
        if kind == "literal":
            return {("lit", node["value"]): None}
        if kind in ("array", "tuple"):
            return {("array",): node}
        if kind in ("record", "object"):
            return {("object",): node}
        if kind == "undefined":
            return {}
        self.error(where, f"TypeScript type {node.get('text', kind)!r} says nothing: use the JSON it is")
        return {}

    def members(self, node: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], dict[str, Any] | None]:
        """(properties by name, index signature type) of an interface, object literal or Record."""
        if node["kind"] == "record":
            return {}, node["value"]
        if node["kind"] == "object":
            return {p["name"]: p for p in node["properties"]}, node["index"]
        interface = self.interfaces[node["name"]]
        properties: dict[str, dict[str, Any]] = {}
        index = interface["index"]
        for base in interface["extends"]:
            inherited, base_index = self.members({"kind": "ref", "name": base})
            properties.update(inherited)
            index = index or base_index
        properties.update({p["name"]: p for p in interface["properties"]})
        return properties, index

    # both
    def compare(self, ts_node: dict[str, Any], schema_node: dict[str, Any], where: str) -> None:
        mine, theirs = self.ts_variants(ts_node, where), self.schema_variants(schema_node, where)
        for variants in (mine, theirs):  # "any JSON value | null" is any JSON value
            if ("any",) in variants:
                variants.clear()
                variants[("any",)] = None
        if set(mine) != set(theirs):
            self.error(where, f"TypeScript {describe(mine)} but the schema {describe(theirs)}")
            return
        if ("array",) in mine:
            self.compare_arrays(mine[("array",)], theirs[("array",)], where)
        if ("object",) in mine:
            self.compare_objects(mine[("object",)], theirs[("object",)], where)

    def compare_arrays(self, ts_node: dict[str, Any], schema_node: dict[str, Any], where: str) -> None:
        items = schema_node.get("items", {})
        if ts_node["kind"] == "array":
            self.compare(ts_node["items"], items, where + "[]")
            return
        size = len(ts_node["items"])
        if schema_node.get("minItems") != size or schema_node.get("maxItems") != size:
            self.error(where, f"a {size}-tuple in TypeScript, but the schema does not pin minItems = maxItems = {size}")
        allowed = self.schema_variants(items, where)
        seen: set[Key] = set()
        for position, element in enumerate(ts_node["items"]):
            got = self.ts_variants(element, f"{where}[{position}]")
            if set(got) - set(allowed):
                self.error(
                    f"{where}[{position}]",
                    f"TypeScript {describe(got)} is not among the schema's items ({describe(allowed)})",
                )
            elif set(got) & {("array",), ("object",)}:
                self.compare(element, items, f"{where}[{position}]")
            seen |= set(got)
        if set(allowed) - seen:
            self.error(
                where,
                f"the schema's items are {shown(allowed)}, but no tuple element is "
                f"{shown(dict.fromkeys(set(allowed) - seen))}",
            )

    def compare_objects(self, ts_node: dict[str, Any], schema_node: dict[str, Any], where: str) -> None:
        guard = (json.dumps(ts_node, sort_keys=True), id(schema_node))
        if guard in self._active:  # a recursive type: already being compared
            return
        self._active.add(guard)
        try:
            self._compare_objects(ts_node, schema_node, where)
        finally:
            self._active.discard(guard)

    def _compare_objects(self, ts_node: dict[str, Any], schema_node: dict[str, Any], where: str) -> None:
        schema_node = self.merged(schema_node) if "allOf" in schema_node else schema_node
        properties, index = self.members(ts_node)
        documented = schema_node.get("properties", {})
        required = set(schema_node.get("required", []))
        extra = schema_node.get("additionalProperties")
        if not documented and extra is None:
            extra = True  # a bare object is a free-form map
        for name in sorted(required - set(documented)):
            self.error(where, f"the schema requires {name!r} but does not describe it")
        for name in sorted(set(properties) - set(documented)):
            self.error(f"{where}.{name}", "in TypeScript but not in the schema")
        for name in sorted(set(documented) - set(properties)):
            self.error(f"{where}.{name}", "in the schema but not in TypeScript")
        for name in sorted(set(properties) & set(documented)):
            prop, path = properties[name], f"{where}.{name}"
            if prop["optional"] != (name not in required):
                self.error(
                    path,
                    f"{'optional' if prop['optional'] else 'required'} in TypeScript but "
                    f"{'required' if name in required else 'optional'} in the schema",
                )
            self.compare(prop["type"], documented[name], path)
        has_extra = extra not in (None, False)
        if (index is not None) != has_extra:
            self.error(
                where,
                "TypeScript has an index signature but the schema no additionalProperties"
                if index is not None
                else "the schema has additionalProperties but TypeScript no index signature (or Record)",
            )
        elif index is not None:
            self.compare(index, {} if extra is True else extra, f"{where}[key]")


def shown(variants: dict[Key, Any]) -> str:
    words = sorted(repr(key[1]) if key[0] == "lit" else key[0] for key in variants)
    return " | ".join(words) or "nothing"


def describe(variants: dict[Key, Any]) -> str:
    return "is " + shown(variants)


# -- the tests -------------------------------------------------------------------------------------
def test_every_exported_interface_is_mapped_to_a_schema(ts, spec):
    exported = set(ts["interfaces"])
    unmapped = exported - set(MIRRORS) - set(NOT_MIRRORED)
    assert not unmapped, f"add these interfaces of tokens.ts to MIRRORS (or NOT_MIRRORED, with why): {unmapped}"
    gone = (set(MIRRORS) | set(NOT_MIRRORED)) - exported
    assert not gone, f"these interfaces are no longer in tokens.ts: {gone}"
    for name, ref in {**MIRRORS, **ALIAS_MIRRORS}.items():
        try:
            pointer(spec, ref)
        except (KeyError, TypeError):
            pytest.fail(f"{name} mirrors {ref}, which docs/rest-api.yaml does not have")
    assert set(ALIAS_MIRRORS) <= set(ts["aliases"])


def test_json_value_is_exactly_any_json(ts):
    alias = ts["aliases"][ANY_JSON]
    kinds = sorted(json.dumps(t, sort_keys=True) for t in alias["types"])
    ref = {"kind": "ref", "name": ANY_JSON}
    expected = sorted(
        json.dumps(t, sort_keys=True)
        for t in [
            {"kind": "string"},
            {"kind": "number"},
            {"kind": "boolean"},
            {"kind": "null"},
            {"kind": "array", "items": ref},
            {"kind": "object", "properties": [], "index": ref},
        ]
    )
    assert alias["kind"] == "union" and kinds == expected


@pytest.mark.parametrize("interface", sorted(MIRRORS))
def test_interface_matches_its_schema(interface, ts, spec):
    contract = Contract(spec, ts)
    contract.compare({"kind": "ref", "name": interface}, pointer(spec, MIRRORS[interface]), interface)
    if contract.errors:
        pytest.fail(
            f"labextension/src/tokens.ts {interface} and {MIRRORS[interface]} in docs/rest-api.yaml "
            "differ:\n  " + "\n  ".join(contract.errors),
            pytrace=False,
        )


@pytest.mark.parametrize("alias", sorted(ALIAS_MIRRORS))
def test_type_alias_matches_its_schema(alias, ts, spec):
    contract = Contract(spec, ts)
    contract.compare({"kind": "ref", "name": alias}, pointer(spec, ALIAS_MIRRORS[alias]), alias)
    if contract.errors:
        pytest.fail(
            f"labextension/src/tokens.ts {alias} and {ALIAS_MIRRORS[alias]} in docs/rest-api.yaml "
            "differ:\n  " + "\n  ".join(contract.errors),
            pytrace=False,
        )


def test_the_comparison_sees_a_field_on_one_side_only(ts, spec):
    """The checker itself: a property added to either side, a changed enum or optionality is caught."""
    run_row = ts["interfaces"]["IRunRow"]
    extra = {"name": "colour", "optional": False, "type": {"kind": "string"}, "text": "string"}
    mutated = {
        **ts,
        "interfaces": {**ts["interfaces"], "IRunRow": {**run_row, "properties": run_row["properties"] + [extra]}},
    }
    contract = Contract(spec, mutated)
    contract.compare({"kind": "ref", "name": "IRunRow"}, pointer(spec, MIRRORS["IRunRow"]), "IRunRow")
    assert contract.errors == ["IRunRow.colour: in TypeScript but not in the schema"]

    job = pointer(spec, MIRRORS["IJob"])
    loose = {
        **job,
        "required": [r for r in job["required"] if r != "finished"],
        "properties": {
            **job["properties"],
            "status": {"type": "string", "enum": ["queued", "ok"]},
            "queue": {"type": "integer"},
        },
    }
    contract = Contract(spec, ts)
    contract.compare({"kind": "ref", "name": "IJob"}, loose, "IJob")
    assert sorted(contract.errors) == [
        "IJob.finished: required in TypeScript but optional in the schema",
        "IJob.queue: in the schema but not in TypeScript",
        "IJob.status: TypeScript is 'failed' | 'ok' | 'queued' | 'running' but the schema is 'ok' | 'queued'",
    ]
