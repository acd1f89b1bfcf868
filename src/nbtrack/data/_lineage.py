"""Lineage: which runs read and wrote which data versions.

Nodes are runs (``run:<id>``), data versions (``version:<name>@<n>``) and, for inputs that
match no stored version, unversioned data (``data:<fingerprint>``). Edges go in the direction
data flows: version -> run (``input``), run -> version (``output``), and previous version ->
next version of the same dataset (``parent``: a keyed delta's base -> the delta, followed from
either end). :func:`lineage` returns everything connected to the starting node, up to
``max_nodes``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nbtrack.data._versions import _store, get_version
from nbtrack.errors import InvalidValueError
from nbtrack.store import datasets as _dal

if TYPE_CHECKING:  # pragma: no cover
    from nbtrack.store import Store, StoreLike


@dataclass
class Lineage:
    """A small graph: ``nodes`` [{id, kind, label, ...}] and ``edges`` [{source, target, kind}]."""

    root: str
    nodes: list[dict] = field(default_factory=list)
    edges: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"root": self.root, "nodes": self.nodes, "edges": self.edges}

    def node(self, node_id: str) -> dict | None:
        return next((n for n in self.nodes if n["id"] == node_id), None)

    def __str__(self) -> str:
        labels = {n["id"]: n["label"] for n in self.nodes}
        lines = [f"lineage of {labels.get(self.root, self.root)}:"]
        lines += [f"  {labels[e['source']]} --{e['kind']}--> {labels[e['target']]}" for e in self.edges]
        return "\n".join(lines)


def lineage(
    run_or_version: Any = None,
    *,
    run: str | None = None,
    dataset: str | None = None,
    version: int | None = None,
    store: StoreLike | None = None,
    max_nodes: int = 200,
) -> Lineage:
    """The lineage graph around a run (id, prefix or Run) or a data version ("name@N", DataVersion).

    Keyword forms (used by the REST server): ``lineage(run=ID)``, ``lineage(dataset=NAME, version=N)``
    (version defaults to the latest).

    Example::

        g = nbtrack.lineage("customers@2")
        [n["label"] for n in g.nodes]   # ['customers@2', 'run 1a2b3c4d', 'model-data@1']
    """
    store = _store(store)
    if run_or_version is None:
        if run is not None:
            run_or_version = run
        elif dataset is not None:
            v = get_version(dataset, version, store=store)
            run_or_version = (v.name, v.version)
        else:
            raise InvalidValueError("lineage needs a run id or a data version: lineage('name@2') or lineage(run=ID).")
    root = _root_id(store, run_or_version)
    graph = Lineage(root)
    seen: set[str] = set()
    edges: set[tuple[str, str, str]] = set()
    todo = [root]
    while todo and len(seen) < max_nodes:
        node_id = todo.pop(0)
        if node_id in seen:
            continue
        seen.add(node_id)
        graph.nodes.append(_describe(store, node_id))
        for edge in _neighbours(store, node_id):
            edges.add(edge)
            for other in edge[:2]:
                if other not in seen:
                    todo.append(other)
    graph.edges = [{"source": s, "target": t, "kind": k} for s, t, k in sorted(edges) if s in seen and t in seen]
    return graph


def _root_id(store: Store, thing: Any) -> str:
    if hasattr(thing, "run_id") and not hasattr(thing, "fingerprint"):
        return f"run:{thing.run_id}"
    if hasattr(thing, "fingerprint") and hasattr(thing, "version"):
        return f"version:{thing.name}@{thing.version}"
    if isinstance(thing, tuple):
        name, number = thing
        v = get_version(name, number, store=store)
        return f"version:{v.name}@{v.version}"
    text = str(thing)
    if "@" in text:
        name, number = text.rsplit("@", 1)
        v = get_version(name, number, store=store)
        return f"version:{v.name}@{v.version}"
    return f"run:{store.resolve_run_id(text)}"


def _split_version(node_id: str) -> tuple[str, int]:
    name, number = node_id[len("version:") :].rsplit("@", 1)
    return name, int(number)


def _version_node(store: Store, dataset: str | None, version: int | None, fingerprint: str) -> str:
    if dataset is not None and version is not None:
        return f"version:{dataset}@{version}"
    found = _dal.version_by_fingerprint(store, fingerprint)
    if found is None:
        return f"data:{fingerprint}"
    name, number = found
    return f"version:{name}@{number}"


def _neighbours(store: Store, node_id: str) -> list[tuple[str, str, str]]:
    out: list[tuple[str, str, str]] = []
    if node_id.startswith("run:"):
        run_id = node_id[4:]
        for link in _dal.run_data_links(store, run_id):
            data = _version_node(store, link.dataset, link.version, link.fingerprint)
            out.append((data, node_id, "input") if link.direction == "input" else (node_id, data, "output"))
        for produced in _dal.versions_written_by(store, run_id):
            out.append((node_id, f"version:{produced.dataset}@{produced.version}", "output"))
        return out
    if node_id.startswith("data:"):
        fingerprint = node_id[5:]
        return [(node_id, f"run:{r}", "input") for r in _dal.runs_reading_fingerprint(store, fingerprint)]
    name, number = _split_version(node_id)
    row = _dal.version_row(store, name, number)
    if row is None:
        return out
    if row.run_id:
        out.append((f"run:{row.run_id}", node_id, "output"))
    if row.parent is not None:
        out.append((f"version:{name}@{row.parent}", node_id, "parent"))
    for child in _dal.versions_derived_from(store, name, number):  # walked both ways, like runs
        out.append((node_id, f"version:{name}@{child}", "parent"))
    for reader in _dal.runs_linked_to_version(store, "input", name, number, row.fingerprint):
        out.append((node_id, f"run:{reader}", "input"))
    for writer in _dal.runs_linked_to_version(store, "output", name, number, row.fingerprint):
        out.append((f"run:{writer}", node_id, "output"))
    return out


def _describe(store: Store, node_id: str) -> dict:
    if node_id.startswith("run:"):
        run_id = node_id[4:]
        brief = _dal.run_brief(store, run_id)
        name, status, start = (brief.name, brief.status, brief.start) if brief else (None, "deleted", None)
        label = f"run {run_id[-8:]}" + (f" ({name})" if name else "")
        return {
            "id": node_id,
            "kind": "run",
            "label": label,
            "run_id": run_id,
            "name": name,
            "status": status,
            "start": start,
        }
    if node_id.startswith("data:"):
        return {"id": node_id, "kind": "data", "label": f"unversioned {node_id[5:17]}", "fingerprint": node_id[5:]}
    name, number = _split_version(node_id)
    row = _dal.version_row(store, name, number)
    fingerprint, rows, columns = (row.fingerprint, row.rows, row.columns) if row else (None, None, None)
    return {
        "id": node_id,
        "kind": "version",
        "label": f"{name}@{number}",
        "dataset": name,
        "version": number,
        "fingerprint": fingerprint,
        "rows": rows,
        "columns": columns,
    }
