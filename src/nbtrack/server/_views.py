"""The JSON the REST API returns, built from core calls. Every function here runs on the store thread
and takes the open :class:`~nbtrack.store.Store` first; none knows about HTTP."""

from __future__ import annotations

import json
import math
import mimetypes
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbtrack import comparison, data, editing, leaderboard, reading, records, registry, runvalues
from nbtrack.errors import ArtifactNotFoundError, InvalidValueError, RerunFailedError
from nbtrack.production.execute import run_notebook
from nbtrack.store import runs as db
from nbtrack.store.blobs import is_blob_hash
from nbtrack.store.maintenance import referencing_tables

CHUNK = 1 << 20
RUN_KEYS = (
    "run_id",
    "short_id",
    "name",
    "experiment",
    "status",
    "kind",
    "start",
    "end",
    "duration_s",
    "parent_id",
    "archived",
    "params",
    "metrics",
    "tags",
)
KEYED = ("params", "metrics", "tags")
PICKLE_TYPES = {
    "application/x-python-pickle",
    "application/python-pickle",
    "application/x-pickle",
    "application/pickle",
}
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".pt", ".pth", ".sav")
_MEDIA_TYPE = re.compile(
    r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*(\s*;\s*[a-z0-9_-]+=[\w.-]+)*", re.IGNORECASE
)


# -- JSON --------------------------------------------------------------------------------------
def dumps(payload: Any) -> str:
    """JSON for browsers: NaN and infinities become null (JSON.parse rejects them)."""
    try:
        return json.dumps(payload, allow_nan=False, default=_default)
    except ValueError:
        return json.dumps(_finite(payload), allow_nan=False, default=_default)


def _default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    if isinstance(value, (Path, bytes)):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return _finite(value.item())
    return value


# -- changes -----------------------------------------------------------------------------------
def changes_token(store: Any) -> str:
    """Changes when a run is added, deleted or updated (every flush, artifact and finish bumps
    ``runs.updated``). Two index lookups: cheap enough to poll every 2 s."""
    count, updated = db.changes(store)
    return f"{count}-{updated or 0:.6f}"


# -- runs --------------------------------------------------------------------------------------
def parse_fields(text: str | None) -> list[str] | None:
    """``fields=run_id,name,metrics.acc`` -> the list, checked; None means every key."""
    if text is None:
        return None
    fields = [part.strip() for part in text.split(",") if part.strip()]
    for field in fields:
        head, dot, key = field.partition(".")
        if head not in RUN_KEYS or (dot and (head not in KEYED or not key)):
            raise InvalidValueError(
                f"Unknown field {field!r} in fields: use {', '.join(RUN_KEYS)}, or params.<key>, "
                "metrics.<key>, tags.<key>."
            )
    return fields


def parse_columns(text: str | None) -> bool:
    """``columns=default``: send the page's ``default_columns`` (the CLI's and ``%track runs``' choice)."""
    if text is None:
        return False
    if text.strip() != "default":
        raise InvalidValueError(f"Unknown columns={text!r}: the only value is columns=default.")
    return True


def select_fields(row: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
    """Keep only ``fields`` of a run row (``run_id`` always); ``metrics.acc`` keeps one metric."""
    if fields is None:
        return row
    out: dict[str, Any] = {"run_id": row["run_id"]}
    for field in fields:
        head, _, key = field.partition(".")
        if not key:
            out[head] = row.get(head)
        elif head not in fields:  # "metrics" wins over "metrics.acc"
            values = row.get(head) or {}
            sub = out.setdefault(head, {})
            if key in values:
                sub[key] = values[key]
    return out


def column_keys(store: Any, experiment: str | None) -> dict[str, list[str]]:
    """The params, metrics and tags keys used by the runs of ``experiment`` (all runs when None):
    the sidebar's column choices, stable while the ``where`` filter changes."""
    return reading.summary_names(experiment, store=store)


# (store root, experiment) -> (changes token, keys): the DISTINCT scans are most of a page's time
# on large stores, and their result only changes when the token does.
_COLUMNS_CACHE: dict[tuple[str, str | None], tuple[str, dict[str, list[str]]]] = {}


def _cached_column_keys(store: Any, experiment: str | None, token: str) -> dict[str, list[str]]:
    key = (str(store.root), experiment)
    cached = _COLUMNS_CACHE.get(key)
    if cached is None or cached[0] != token:
        if len(_COLUMNS_CACHE) > 256:
            _COLUMNS_CACHE.clear()
        cached = _COLUMNS_CACHE[key] = (token, column_keys(store, experiment))
    return cached[1]


# -- artifacts ---------------------------------------------------------------------------------
@dataclass
class ServedBlob:
    path: Path
    media_type: str
    disposition: str


def check_hash(digest: str) -> None:
    """Only a well-formed content hash may name an artifact (no path, no traversal, no NUL)."""
    if not is_blob_hash(digest):
        shown = digest if len(digest) <= 80 else digest[:80] + "..."
        raise InvalidValueError(
            f"{shown!r} is not an artifact hash: expected 32 lowercase hex characters, as in the "
            "artifacts of GET /runs/{run_id}."
        )


def find_artifact(store: Any, digest: str) -> ServedBlob:
    """The blob file for ``digest`` and how to serve it, if a table of the store references it."""
    found = db.artifact_by_blob(store, digest)
    if found is not None:
        name, kind, media_type = found
    elif referencing_tables(store, digest):
        name, kind, media_type = digest, "data", "application/octet-stream"
    else:
        raise ArtifactNotFoundError(
            f"No artifact with hash {digest} in this store: take hashes from GET /runs/{{run_id}}."
        )
    path = store.blobs.path(digest)
    if not path.is_file() or not path.resolve().is_relative_to(store.blobs.root.resolve()):
        raise ArtifactNotFoundError(
            f"The artifact {digest} ({name}) is recorded but its file is missing: run `nbtrack fsck`."
        )
    media_type, attachment = serving_type(name, kind, media_type)
    disposition = "attachment" if attachment else "inline"
    return ServedBlob(path, media_type, f'{disposition}; filename="{_safe_filename(name)}"')


def serving_type(name: str, kind: str, media_type: str | None) -> tuple[str, bool]:
    """(Content-Type, as attachment?) for an artifact. Pickles never render: they download."""
    media_type = (media_type or "").strip()
    if kind == "model" or media_type.split(";")[0].lower() in PICKLE_TYPES or name.lower().endswith(PICKLE_SUFFIXES):
        return "application/octet-stream", True
    if kind == "data":
        return "application/octet-stream", True
    if not _MEDIA_TYPE.fullmatch(media_type):
        media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return media_type, media_type == "application/octet-stream"


def _safe_filename(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._") or "artifact"


def file_size(handle: Any) -> int:
    return os.fstat(handle.fileno()).st_size


# -- runs, experiments, compare (core: nbtrack.reading) ------------------------------------------
def runs_page(
    store: Any,
    experiment: str | None,
    where: str | None,
    order_by: str | None,
    limit: int,
    offset: int,
    fields: list[str] | None,
    default_columns: bool = False,
    archived: bool | str = False,
) -> dict[str, Any]:
    token = changes_token(store)  # before the read: a change during it shows up at the next poll
    total, rows = reading.list_runs(experiment, where, order_by, limit, offset, store=store, archived=archived)
    page = {
        "total": total,
        "offset": offset,
        "limit": limit,
        "token": token,
        "columns": _cached_column_keys(store, experiment, token),
        "runs": [select_fields(row, fields) for row in rows],
    }
    if default_columns:
        page["default_columns"] = leaderboard.row_columns(rows, order_by=order_by)
    return page


MAX_VALUE_KEYS = 4


def parse_value_keys(text: str | None) -> list[str]:
    """``keys=metrics.acc,params.lr`` -> the list (checked by ``reading.run_values``); 1 to 4 keys."""
    keys = [part.strip() for part in (text or "").split(",") if part.strip()]
    if not keys or len(keys) > MAX_VALUE_KEYS:
        raise InvalidValueError(
            f"keys takes 1 to {MAX_VALUE_KEYS} comma-separated keys (metrics.<name>, params.<name>, start, "
            f"duration_s), e.g. keys=metrics.acc,params.lr; got {len(keys)}."
        )
    return keys


def run_values(
    store: Any,
    keys: list[str],
    experiment: str | None,
    where: str | None,
    order_by: str | None,
    limit: int,
    archived: bool | str = False,
) -> dict[str, Any]:
    """GET /values: columns, not rows (a chart of 100,000 runs is one short answer)."""
    token = changes_token(store)
    total, columns = runvalues.run_values(keys, experiment, where, order_by, limit, archived=archived, store=store)
    run_ids, names = columns.pop("run_id"), columns.pop("name")
    return {"total": total, "limit": limit, "token": token, "run_id": run_ids, "name": names, "values": columns}


def run_detail(store: Any, run_id: str) -> dict[str, Any]:
    return records.get_run(run_id, store=store).to_dict()


ARCHIVED_ARGUMENT = {"false": False, "true": True, "only": "only"}
MAX_RUN_IDS = 1000


def parse_archived(text: str | None) -> bool | str:
    """``archived=false|true|only`` of GET /runs (default false: archived runs left out)."""
    if text is None:
        return False
    if text.lower() not in ARCHIVED_ARGUMENT:
        raise InvalidValueError(
            f"archived={text!r}: use archived=false (leave archived runs out), true (list them too) or only."
        )
    return ARCHIVED_ARGUMENT[text.lower()]


def run_ids_of(body: dict[str, Any]) -> list[str]:
    """The ``ids`` of a POST /runs/archive, /runs/restore or /runs/delete body, checked."""
    ids = body.get("ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i.strip() for i in ids):
        raise InvalidValueError('Send the runs as {"ids": ["<run id>", ...]}: a non-empty list of run ids.')
    if len(ids) > MAX_RUN_IDS:
        raise InvalidValueError(f"Send at most {MAX_RUN_IDS} run ids at a time, not {len(ids)}.")
    return ids


def edit_run(store: Any, run_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """PATCH /runs/{id} ``{"tags": {k: v}, "remove": [k], "note": text | null}``: the run's tags and note
    after the change (one call of the core per part given; each is one transaction)."""
    known = {"tags", "remove", "note"}
    unknown = sorted(set(body) - known)
    if unknown or not body:
        raise InvalidValueError(
            (f"Unknown field {unknown[0]!r}; " if unknown else "Nothing to change; ")
            + 'send {"tags": {"stage": "review"}, "remove": ["tmp"], "note": "text or null"} (any of the three).'
        )
    tags, remove = body.get("tags") or {}, body.get("remove") or []
    if not isinstance(tags, dict):
        raise InvalidValueError('tags must be a JSON object of tag values, e.g. {"stage": "review"}.')
    if not isinstance(remove, list) or not all(isinstance(k, str) for k in remove):
        raise InvalidValueError('remove must be a list of tag names, e.g. ["tmp"].')
    if "note" in body and body["note"] is not None and not isinstance(body["note"], str):
        raise InvalidValueError('note must be text, or null to remove it, e.g. {"note": "baseline"}.')
    editing.note_text(body.get("note"))  # a bad note is refused before the tags change
    run_id = store.resolve_run_id(run_id)
    if tags or remove:
        editing.tag_run(run_id, tags, remove=remove, store=store)
    if "note" in body:
        editing.set_note(run_id, body["note"], store=store)
    record = records.get_run(run_id, store=store)
    return {"run_id": run_id, "tags": record.tags, "note": record.note}


def archive(store: Any, ids: list[str]) -> dict[str, Any]:
    return {"archived": editing.archive_runs(ids, store=store)}


def restore(store: Any, ids: list[str]) -> dict[str, Any]:
    return {"restored": editing.restore_runs(ids, store=store)}


def delete_archived(store: Any, ids: list[str]) -> dict[str, Any]:
    return {"deleted": editing.delete_archived(ids, store=store)}


def experiments(store: Any) -> list[dict[str, Any]]:
    return reading.list_experiments(store=store)


def compare(store: Any, ids: list[str]) -> dict[str, Any]:
    """Runs side by side: one value per run (in ``runs`` order) for every param and metric key."""
    compared = comparison.compare_runs(ids, store=store).to_dict()
    compared["runs"] = [{key: run.get(key) for key in RUN_KEYS} for run in compared["runs"]]
    return compared


# -- data versions (core: nbtrack.data) ----------------------------------------------------------
def datasets(store: Any) -> list[dict[str, Any]]:
    return data.list_datasets(store=store)


def versions(store: Any, name: str) -> list[dict[str, Any]]:
    return data.list_versions(name, store=store)


def diff(store: Any, name: str, a: int | None, b: int | None) -> dict[str, Any]:
    return data.diff(name, a, b, store=store).to_dict()


def lineage(store: Any, run: str | None, dataset: str | None, version: int | None) -> dict[str, Any]:
    if run is not None:
        return data.lineage(run=run, store=store).to_dict()
    return data.lineage(dataset=dataset, version=version, store=store).to_dict()


# -- the model registry (core: nbtrack.registry) ----------------------------------------------------
def models(store: Any) -> list[dict[str, Any]]:
    return registry.list_models(store=store)


def model(store: Any, name: str) -> dict[str, Any]:
    """One model: its summary (as in :func:`models`), versions (newest first, with lineage) and alias history."""
    versions = registry.model_versions(name, store=store)  # raises ModelNotFoundError (404) first
    summary = next(m for m in registry.list_models(store=store) if m["name"] == name)
    return {
        "model": summary,
        "versions": [v.to_dict() for v in reversed(versions)],
        "history": registry.model_history(name, store=store),
    }


# -- reruns (core: nbtrack.production) -----------------------------------------------------------
def rerun_source(store: Any, run_id: str) -> dict[str, Any]:
    """The run to re-execute, checked: a notebook run whose notebook file still exists."""
    record = records.get_run(run_id, store=store)
    if record.kind != "notebook" or not record.source_path:
        raise InvalidValueError(
            f"Run {record.short_id} is a {record.kind} run; only notebook runs (nbtrack.run_notebook, "
            "`nbtrack run NOTEBOOK`) can be rerun."
        )
    if not Path(record.source_path).is_file():
        raise InvalidValueError(
            f"Run {record.short_id} ran {record.source_path}, which no longer exists: restore the notebook "
            "or run a copy with `nbtrack run`."
        )
    return {
        "run_id": record.run_id,
        "source_path": record.source_path,
        "params": record.params,
        "experiment": record.experiment,
        "store": str(store.root),
    }


def rerun_work(source: dict[str, Any], overrides: dict[str, Any]) -> Callable[[Callable[[float], None]], str | None]:
    """The job body: run the notebook again with its recorded params, ``overrides`` winning.

    It opens its own connection to the store (the job runs on its own thread)."""

    def work(progress: Callable[[float], None]) -> str | None:
        progress(0.05)
        result = run_notebook(
            source["source_path"],
            {**source["params"], **overrides},
            experiment=source["experiment"],
            store=source["store"],
            tags={"rerun_of": source["run_id"]},
            check=False,
        )
        if result.status != "ok":
            error = result.error or {}
            raise RerunFailedError(
                f"The rerun {result.run_id} failed: {error.get('type', 'Error')}: {error.get('message', '')} "
                f"(see GET /runs/{result.run_id})",
                run_id=result.run_id,
            )
        return result.run_id

    return work
