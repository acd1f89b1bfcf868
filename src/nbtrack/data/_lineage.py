"""Lineage: which runs read and wrote which data versions.

Nodes are runs (``run:<id>``), data versions (``version:<name>@<n>``) and, for inputs that
match no stored version, unversioned data (``data:<fingerprint>``). Edges go in the direction
data flows: version -> run (``input``), run -> version (``output``), and previous version ->
next version of the same dataset (``parent``, only for keyed deltas' parents and first-hop
neighbours). :func:`lineage` returns everything connected to the starting node, up to
``max_nodes``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from nbtrack.store import Store


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


def lineage(run_or_version: Any = None, *, run: str | None = None, dataset: str | None = None,
            version: int | None = None, store: "Store | None" = None, max_nodes: int = 200) -> Lineage:
    """The lineage graph around a run (id, prefix or Run) or a data version ("name@N", DataVersion).

    Keyword forms (used by the REST server): ``lineage(run=ID)``, ``lineage(dataset=NAME, version=N)``
    (version defaults to the latest).

    Example::

        g = nbtrack.lineage("customers@2")
        [n["label"] for n in g.nodes]   # ['customers@2', 'run 1a2b3c4d', 'model-data@1']
    """
    from nbtrack.data._versions import _store, get_version

    store = _store(store)
    if run_or_version is None:
        if run is not None:
            run_or_version = run
        elif dataset is not None:
            v = get_version(dataset, version, store=store)
            run_or_version = (v.name, v.version)
        else:
            from nbtrack.errors import InvalidValueError

            raise InvalidValueError("lineage needs a run id or a data version: lineage('name@2') or lineage(run=ID).")
    root = _root_id(store, run_or_version, get_version)
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


def _root_id(store: "Store", thing: Any, get_version) -> str:
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
    name, number = node_id[len("version:"):].rsplit("@", 1)
    return name, int(number)


def _version_node(store: "Store", dataset: str | None, version: int | None, fingerprint: str) -> str:
    if dataset is not None and version is not None:
        return f"version:{dataset}@{version}"
    found = store.query("SELECT dataset, version FROM data_versions WHERE fingerprint = ? ORDER BY created LIMIT 1",
                        (fingerprint,))
    return f"version:{found[0][0]}@{found[0][1]}" if found else f"data:{fingerprint}"


def _neighbours(store: "Store", node_id: str) -> list[tuple[str, str, str]]:
    out: list[tuple[str, str, str]] = []
    if node_id.startswith("run:"):
        run_id = node_id[4:]
        for direction, fp, dataset, version in store.query(
                "SELECT direction, fingerprint, dataset, version FROM run_data WHERE run_id = ?", (run_id,)):
            data = _version_node(store, dataset, version, fp)
            out.append((data, node_id, "input") if direction == "input" else (node_id, data, "output"))
        for (produced_name, produced_version) in store.query(
                "SELECT dataset, version FROM data_versions WHERE run_id = ?", (run_id,)):
            out.append((node_id, f"version:{produced_name}@{produced_version}", "output"))
        return out
    if node_id.startswith("data:"):
        fingerprint = node_id[5:]
        readers = store.query("SELECT DISTINCT run_id FROM run_data WHERE fingerprint = ? AND direction = 'input'",
                              (fingerprint,))
        return [(node_id, f"run:{r}", "input") for (r,) in readers]
    name, number = _split_version(node_id)
    row = store.query("SELECT fingerprint, run_id, parent FROM data_versions WHERE dataset = ? AND version = ?",
                      (name, number))
    if not row:
        return out
    fingerprint, run_id, parent = row[0]
    if run_id:
        out.append((f"run:{run_id}", node_id, "output"))
    if parent is not None:
        out.append((f"version:{name}@{parent}", node_id, "parent"))
    for (reader,) in store.query(
            """SELECT DISTINCT run_id FROM run_data WHERE direction = 'input'
               AND ((dataset = ? AND version = ?) OR fingerprint = ?)""", (name, number, fingerprint)):
        out.append((node_id, f"run:{reader}", "input"))
    for (writer,) in store.query(
            """SELECT DISTINCT run_id FROM run_data WHERE direction = 'output'
               AND ((dataset = ? AND version = ?) OR fingerprint = ?)""", (name, number, fingerprint)):
        out.append((f"run:{writer}", node_id, "output"))
    return out


def _describe(store: "Store", node_id: str) -> dict:
    if node_id.startswith("run:"):
        run_id = node_id[4:]
        row = store.query("SELECT name, status, start FROM runs WHERE run_id = ?", (run_id,))
        name, status, start = row[0] if row else (None, "deleted", None)
        label = f"run {run_id[-8:]}" + (f" ({name})" if name else "")
        return {"id": node_id, "kind": "run", "label": label, "run_id": run_id, "status": status, "start": start}
    if node_id.startswith("data:"):
        return {"id": node_id, "kind": "data", "label": f"unversioned {node_id[5:17]}", "fingerprint": node_id[5:]}
    name, number = _split_version(node_id)
    row = store.query("SELECT fingerprint, rows, columns FROM data_versions WHERE dataset = ? AND version = ?",
                      (name, number))
    fingerprint, rows, columns = row[0] if row else (None, None, None)
    return {"id": node_id, "kind": "version", "label": f"{name}@{number}", "dataset": name, "version": number,
            "fingerprint": fingerprint, "rows": rows, "columns": columns}
