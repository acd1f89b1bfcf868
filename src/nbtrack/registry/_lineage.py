"""What a model version keeps of the run it came from, and the ``require`` gate on registers and alias moves."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from nbtrack._values import decode_param
from nbtrack.errors import RequirementNotMetError
from nbtrack.store import datasets as _datasets
from nbtrack.store import query
from nbtrack.store import runs as db

if TYPE_CHECKING:
    from nbtrack.store import Store

#: The code kept in a version's lineage is cut to this many characters (a whole notebook run can be long).
MAX_CODE = 200_000
_DATA_FIELDS = ("dataset", "version", "fingerprint", "name", "rows", "columns")


def lineage(store: Store, run_id: str, artifact_meta: dict[str, Any] | None) -> dict[str, Any]:
    """The run's record frozen at registration: run, code, params, metrics, data inputs, environment.

    Frozen so that the version answers "trained on what" by itself; the run row stays too (a run with
    registered versions cannot be deleted)."""
    from nbtrack.records import get_run

    record = get_run(run_id, store=store)
    code = record.code or ""
    environment = record.environment
    git = environment.get("git") or {}
    return {
        "run_id": record.run_id,
        "run_name": record.name,
        "experiment": record.experiment,
        "status": record.status,
        "parent_id": record.parent_id,
        "source_path": record.source_path,
        "source_cell": record.source_cell,
        "code": code[:MAX_CODE],
        "code_truncated": len(code) > MAX_CODE,
        "params": record.params,
        "metrics": {k: _finite(v) for k, v in record.latest.items() if not k.startswith("_")},
        "tags": {k: v for k, v in record.tags.items() if not k.startswith("nbtrack.")},
        "data": training_data(store, run_id, record.parent_id),
        "environment": {
            "env_hash": db.run_row(store, run_id)["env_hash"],
            "python": environment.get("python"),
            "platform": environment.get("platform"),
            "git": {k: git.get(k) for k in ("commit", "branch", "dirty") if k in git},
        },
        "model": artifact_meta or {},
    }


def _finite(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def training_data(store: Store, run_id: str, parent_id: str | None) -> list[dict[str, Any]]:
    """The DataFrames a model's run was trained on, each once (by fingerprint) with the run that read it:

    1. those the run read, then those its child runs read (a notebook run's cells);
    2. for a cell of a notebook or session run, those its parent and the cells before it read: a model
       fitted on ``X_train`` was trained on the data version ``X_train`` was cut from, which an earlier
       cell loaded;
    3. the data versions the earlier cells it depends on loaded with ``nbtrack.load`` (its session slice,
       recorded by ``%%track``).
    """
    runs = [run_id, *_descendants(store, run_id)]
    if parent_id is not None:
        siblings = db.child_run_ids(store, parent_id)
        started: dict[str, float] = {r: db.run_row(store, r)["start"] for r in siblings}
        mine = started.get(run_id, float("inf"))
        earlier = [r for r in siblings if r != run_id and started[r] <= mine]
        runs += [parent_id, *sorted(earlier, key=lambda r: started[r])]
    seen: set[str] = set()
    found: list[dict[str, Any]] = []
    for source in runs:
        for link in db.data_links(store, source, "input"):
            if link["fingerprint"] not in seen:
                seen.add(link["fingerprint"])
                if link["dataset"] is None:  # read as a plain frame: a stored version with the same content?
                    stored = _datasets.version_by_fingerprint(store, link["fingerprint"])
                    link["dataset"], link["version"] = stored or (None, None)
                found.append({**{k: link[k] for k in _DATA_FIELDS}, "run_id": source})
    for load in _session_loads(store, run_id):
        if str(load.get("fingerprint")) not in seen:
            seen.add(str(load.get("fingerprint")))
            found.append(
                {
                    "dataset": load.get("dataset"),
                    "version": load.get("version"),
                    "fingerprint": load.get("fingerprint"),
                    "name": None,
                    "rows": None,
                    "columns": None,
                    "run_id": run_id,
                }
            )
    return found


def _descendants(store: Store, run_id: str) -> list[str]:
    found: list[str] = []
    for child in db.child_run_ids(store, run_id):
        found += [child, *_descendants(store, child)]
    return found


def _session_loads(store: Store, run_id: str) -> list[dict[str, Any]]:
    """``{"cell", "dataset", "version", "fingerprint"}`` of each load in the run's session slice."""
    text = db.session(store, run_id)
    if not text:
        return []
    try:
        loads = json.loads(text).get("loads", [])
    except (ValueError, AttributeError):  # not a slice this nbtrack reads: no loads known
        return []
    return [load for load in loads if isinstance(load, dict)]


def check_requirement(store: Store, run_id: str, require: str | None, action: str) -> None:
    """Raise :class:`RequirementNotMetError` unless run ``run_id`` matches ``require`` (the query language
    of ``nbtrack runs --where``), showing the actual value of every field the condition names."""
    if require is None or not require.strip():
        return
    if db.run_matches(store, run_id, require):
        return
    actual = ", ".join(f"{field} = {_actual(store, run_id, field)}" for field in query.fields(require))
    raise RequirementNotMetError(
        f"Refused to {action}: run {run_id[-8:]} does not meet {require!r} ({actual}). "
        "Choose a run that does, or leave out the requirement (--require / require=)."
    )


def _actual(store: Store, run_id: str, field: str) -> str:
    head, _, key = field.partition(".")
    head = query.KEYED_ALIASES.get(head.lower(), head.lower())
    key = key[1:-1] if key.startswith("`") else key
    if head == "metrics":
        values: dict[str, Any] = dict(db.latest_metrics(store, run_id))
        if key in values and values[key] is None:
            return "NaN"
    elif head == "params":
        values = {k: decode_param(v, t) for k, v, t in db.params(store, run_id)}
    elif head == "tags":
        values = db.tags(store, run_id)
    else:
        key, values = _RUN_FIELD.get(head, head), db.run_row(store, run_id)
    return repr(values[key]) if key in values else "not recorded"


# query fields that name a runs column -> its key in ``db.run_row``
_RUN_FIELD = {"id": "run_id", "duration": "duration_s", "parent": "parent_id", "source": "source_path"}
