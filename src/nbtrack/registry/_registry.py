"""Registered models: versions made from runs' fitted models, aliases, their history, loading."""

from __future__ import annotations

import re
import socket
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from nbtrack.errors import (
    ArtifactNotFoundError,
    InvalidValueError,
    ModelNotFoundError,
    StoreNotFoundError,
    UntrustedArtifactError,
)
from nbtrack.registry._lineage import check_requirement, lineage
from nbtrack.store import models as dal
from nbtrack.store import resolve_store
from nbtrack.store import runs as db

if TYPE_CHECKING:
    import pandas as pd

    from nbtrack.store import Store, StoreLike

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z")
LATEST = "latest"
PICKLE = "application/x-python-pickle"


@dataclass
class ModelVersion:
    """One version of a registered model: where it came from (``lineage``) and the aliases on it.

    ``lineage`` holds the run's id, name, experiment, code, params, metrics, tags, the data versions it
    was trained on (``data``) and its environment, as they were when the version was registered.
    """

    model: str
    version: int
    run_id: str
    artifact: str
    blob: str
    size: int
    media_type: str
    created: datetime
    created_by: str | None
    description: str | None
    lineage: dict[str, Any] = field(repr=False)
    aliases: list[str] = field(default_factory=list)

    @property
    def spec(self) -> str:
        """``name/version``, what :func:`load_model` takes."""
        return f"{self.model}/{self.version}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``created`` as ISO 8601."""
        return {**asdict(self), "created": self.created.isoformat()}

    def summary(self) -> str:
        """Several lines for people: the version, where it came from, what it was trained on."""
        lineage = self.lineage
        aliases = f" [{', '.join(self.aliases)}]" if self.aliases else ""
        lines = [
            f"{self.spec}{aliases}: {self.artifact} ({lineage.get('model', {}).get('class', self.media_type)}, "
            f"{self.size} bytes)",
            f"registered {self.created:%Y-%m-%d %H:%M:%S UTC} by {self.created_by or 'unknown'}"
            + (f": {self.description}" if self.description else ""),
            f"run        {self.run_id} ({lineage.get('run_name') or 'unnamed'}, experiment "
            f"{lineage.get('experiment')}, {lineage.get('status')})",
        ]
        for title in ("params", "metrics"):
            if lineage.get(title):
                lines.append(f"{title:<10} " + ", ".join(f"{k}={v!r}" for k, v in lineage[title].items()))
        for item in lineage.get("data", []):
            what = (
                f"{item['dataset']}@{item['version']}"
                if item.get("dataset")
                else f"fingerprint {item['fingerprint'][:12]}"
            )
            lines.append(
                f"trained on {what} (as {item.get('name')}, {item.get('rows')} rows, run {item['run_id'][-8:]})"
            )
        environment = lineage.get("environment", {})
        git = environment.get("git") or {}
        lines.append(
            f"python     {environment.get('python')} on {environment.get('platform')}"
            + (
                f"; git {str(git.get('commit'))[:12]}{' (dirty)' if git.get('dirty') else ''}"
                if git.get("commit")
                else ""
            )
        )
        return "\n".join(lines)


# -- names and specs -------------------------------------------------------------------------------------
def _check_name(name: object, what: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidValueError(
            f"{name!r} is not a valid {what}: use letters, digits, '_', '.' and '-' (up to 128, not starting "
            "with '.', '_' or '-'), e.g. 'churn'."
        )
    return name


def _check_alias(alias: object) -> str:
    alias = _check_name(alias, "alias name")
    if alias.isdigit() or alias == LATEST:
        raise InvalidValueError(
            f"{alias!r} cannot be an alias: 'name@{alias}' must keep meaning "
            f"{'a version number' if alias.isdigit() else 'the latest version'}; choose a word like 'champion'."
        )
    return alias


def parse_spec(spec: str) -> tuple[str, int | None, str | None]:
    """``"churn@champion"`` -> ``("churn", None, "champion")``; ``"churn/3"`` (or ``churn@3``) ->
    ``("churn", 3, None)``; ``"churn"`` (or ``churn@latest``) -> ``("churn", None, None)``: the latest.
    A leading ``models:/`` (MLflow's form) is accepted."""
    if not isinstance(spec, str):
        raise InvalidValueError(f"A model is named by a string like 'churn@champion', not {type(spec).__name__}.")
    text = spec.removeprefix("models:/")
    name, sep, rest = text.partition("@") if "@" in text else text.partition("/")
    _check_name(name, "model name")
    if not sep or rest == LATEST:
        return name, None, None
    if rest.isdigit():
        return name, int(rest), None
    if sep == "/":
        raise InvalidValueError(f"{spec!r}: after '/' comes a version number, e.g. '{name}/3' (or '{name}@{rest}').")
    return name, None, _check_alias(rest)


def _store(store: StoreLike | None) -> Store:
    store = resolve_store(store, create=False)
    if not dal.has_registry(store):  # a read-only store of an older schema
        raise ModelNotFoundError(
            f"The store at {store.root} predates the model registry: open it once with write access to upgrade it."
        )
    return store


def _record(store: Store, row: dict[str, Any], aliases: dict[str, int] | None = None) -> ModelVersion:
    """The version of ``row``; ``aliases`` (its model's, read once for several versions) or read here."""
    aliases = dal.aliases(store, row["model"]) if aliases is None else aliases
    on = [a for a, v in aliases.items() if v == row["version"]]
    created = datetime.fromtimestamp(row["created"], timezone.utc)
    return ModelVersion(**{**row, "created": created, "aliases": on})


def _require_model(store: Store, name: str) -> None:
    if dal.model_row(store, name) is None:
        known = dal.model_names(store)
        raise ModelNotFoundError(
            f"No registered model {name!r}"
            + (
                f"; the store has: {', '.join(known[:20])}."
                if known
                else ": register one with nbtrack.register_model(run, name)."
            )
        )


def _resolve(store: Store, spec: str) -> dict[str, Any]:
    name, number, alias = parse_spec(spec)
    _require_model(store, name)
    if alias is not None:
        aliases = dal.aliases(store, name)
        number = aliases.get(alias)
        if number is None:
            raise ModelNotFoundError(
                f"Model {name!r} has no alias {alias!r}"
                + (
                    f" (it has: {', '.join(f'{a} -> {v}' for a, v in aliases.items())})"
                    if aliases
                    else " (it has none)"
                )
                + f": set one with `nbtrack models alias {name} VERSION {alias}`."
            )
    elif number is None:
        number = dal.latest_version(store, name)
        if number is None:
            raise ModelNotFoundError(f"Model {name!r} has no versions left: register one with nbtrack.register_model.")
    row = dal.version(store, name, number)
    if row is None:
        have = [v["version"] for v in dal.versions(store, name)]
        raise ModelNotFoundError(f"Model {name!r} has no version {number}; it has versions {have}.")
    return row


# -- registering -----------------------------------------------------------------------------------------
def _model_artifacts(store: Store, run_id: str) -> list[tuple[str, dict[str, Any]]]:
    """``(run_id, artifact)`` of the fitted models of the run, or, if it has none, of its descendants (a
    notebook run keeps its models on the runs of its tracked cells)."""
    own = [(run_id, a) for a in db.artifacts(store, run_id) if a["kind"] == "model"]
    if own:
        return own
    found: list[tuple[str, dict[str, Any]]] = []
    for child in db.child_run_ids(store, run_id):
        found += _model_artifacts(store, child)
    return found


def _choose_artifact(store: Store, run_id: str, artifact: str | None) -> tuple[str, dict[str, Any]]:
    short = run_id[-8:]
    if artifact is not None:
        own = [a for a in db.artifacts(store, run_id) if a["name"] == artifact]
        matches = [(run_id, a) for a in own] or [m for m in _model_artifacts(store, run_id) if m[1]["name"] == artifact]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise InvalidValueError(
                f"Run {short}'s cells hold several models named {artifact!r} (runs "
                f"{', '.join(r[-8:] for r, _ in matches)}): register from the cell's run id instead."
            )
    candidates = _model_artifacts(store, run_id)
    listed = ", ".join(f"{a['name']}" + (f" (run {r[-8:]})" if r != run_id else "") for r, a in candidates)
    if artifact is not None:
        everything = [a["name"] for a in db.artifacts(store, run_id)]
        raise ArtifactNotFoundError(
            f"Run {short} has no artifact {artifact!r}; its models: {listed or 'none'}"
            + (f"; its artifacts: {', '.join(everything)}" if everything else "")
            + "."
        )
    if not candidates:
        raise ArtifactNotFoundError(
            f"Run {short} recorded no fitted model (nor did its child runs): fit one in a %%track cell or "
            "nbtrack.track() block, or store one with run.log_model(model)."
        )
    if len(candidates) > 1:
        raise InvalidValueError(
            f"Run {short} holds {len(candidates)} models: {listed}. Choose one with artifact=NAME "
            "(CLI: --artifact NAME)."
        )
    return candidates[0]


def _who() -> tuple[str | None, str | None]:
    from nbtrack.environment import os_user

    return os_user(), socket.gethostname()


def register_model(
    run: Any,
    name: str,
    artifact: str | None = None,
    *,
    store: StoreLike | None = None,
    description: str | None = None,
    require: str | None = None,
) -> ModelVersion:
    """Register a run's fitted model as the next version of model ``name``; returns the new version.

    ``run`` is a run id (full, unique prefix, short id or name) or a run object. The run's model artifacts
    are those ``%%track`` / ``nbtrack.track()`` recorded for fitted estimators (or ``log_model`` stored); for
    a notebook run, those of its tracked cells. ``artifact`` picks one when there are several (any artifact
    of the run may be named). ``require`` is a condition in the query language of ``nbtrack runs --where``
    (``"metrics.auc >= 0.9"``): registering is refused unless the run meets it. The version keeps the
    run's lineage (code, params, metrics, the data versions it was trained on, environment); the run can
    then no longer be deleted, and its model is never garbage-collected.

    Example::

        version = nbtrack.register_model(run_id, "churn", require="metrics.auc >= 0.9")
        nbtrack.set_model_alias("churn", version.version, "challenger", reason="retrained on June data")
    """
    store = _store(store)
    _check_name(name, "model name")
    store.require_writable(f"register model {name}")
    run_id = store.resolve_run_id(getattr(run, "run_id", run))
    status = db.run_row(store, run_id)["status"]
    if status in ("failed", "crashed"):
        raise InvalidValueError(
            f"Run {run_id[-8:]} {status}: its model may be incomplete. Register a model from a run that finished."
        )
    source_run, chosen = _choose_artifact(store, run_id, artifact)
    check_requirement(store, source_run, require, f"register {chosen['name']} of run {source_run[-8:]} as {name!r}")
    existing = dal.version_of_artifact(store, name, source_run, chosen["name"])
    if existing is not None:
        raise InvalidValueError(
            f"{chosen['name']} of run {source_run[-8:]} is already version {existing} of {name!r}: "
            f"use `{name}/{existing}`."
        )
    frozen = lineage(store, source_run, chosen["meta"])
    user, _ = _who()
    now = time.time()
    with store.transaction() as conn:
        if not db.run_exists(store, source_run):  # deleted since it was read: register nothing
            raise InvalidValueError(f"Run {source_run[-8:]} was deleted while its model was being registered.")
        dal.create_model(conn, name, now, description)
        number = dal.next_version(conn, name)
        dal.insert_version(
            conn,
            {
                "model": name,
                "version": number,
                "run_id": source_run,
                "artifact": chosen["name"],
                "blob": chosen["hash"],
                "size": chosen["size"],
                "media_type": chosen["media_type"],
                "created": now,
                "created_by": user,
                "description": description,
                "lineage": frozen,
            },
        )
    return get_model(f"{name}/{number}", store=store)


# -- reading ---------------------------------------------------------------------------------------------
def get_model(spec: str, *, store: StoreLike | None = None) -> ModelVersion:
    """The version ``spec`` names (``"churn@champion"``, ``"churn/3"``, ``"churn"`` = the latest), with its
    lineage and aliases; nothing is unpickled.

    Example::

        nbtrack.get_model("churn@champion").lineage["data"]
    """
    store = _store(store)
    return _record(store, _resolve(store, spec))


def load_model(spec: str, *, trusted: bool = False, store: StoreLike | None = None) -> Any:
    """The model ``spec`` names (``"churn@champion"``, ``"churn/3"``, ``"churn"`` = the latest).

    Models are pickles and unpickling runs code: nothing is unpickled unless ``trusted=True`` (trust the
    people who can write to this store). A registered artifact that is not a pickle comes back as bytes.

    Example::

        model = nbtrack.load_model("churn@champion", trusted=True)
        model.predict(X)
    """
    store = _store(store)
    row = _resolve(store, spec)
    pickled = row["media_type"] == PICKLE or row["lineage"].get("model", {}).get("format") == "pickle"
    if pickled and not trusted:
        raise UntrustedArtifactError(
            f"{row['model']}/{row['version']} is a pickled model; unpickling can run arbitrary code. If you trust "
            f"this store, call load_model({spec!r}, trusted=True)."
        )
    data = store.blobs.read_bytes(row["blob"])
    if not pickled:
        return data
    import pickle

    return pickle.loads(data)


def model_versions(name: str, *, store: StoreLike | None = None) -> list[ModelVersion]:
    """Every version of model ``name``, oldest first, with lineage and aliases.

    Example::

        [v.lineage["metrics"]["auc"] for v in nbtrack.model_versions("churn")]
    """
    store = _store(store)
    _require_model(store, _check_name(name, "model name"))
    aliases = dal.aliases(store, name)
    return [_record(store, row, aliases) for row in dal.versions(store, name)]


def list_models(*, store: StoreLike | None = None) -> list[dict[str, Any]]:
    """JSON-ready rows of :func:`models`: name, description, versions, latest, aliases, created, updated."""
    try:
        store = _store(store)
    except StoreNotFoundError:  # no store yet: no models (listing creates nothing)
        return []
    except ModelNotFoundError:  # an old read-only store: no registry, so no models
        return []
    aliases = dal.all_aliases(store)
    return [
        {
            **row,
            "aliases": aliases.get(row["name"], {}),
            "created": _iso(row["created"]),
            "updated": _iso(row["updated"]),
        }
        for row in dal.model_summaries(store)
    ]


def models(*, store: StoreLike | None = None) -> pd.DataFrame:
    """The registered models as a DataFrame: name, versions, latest, aliases ({alias: version}),
    description, created, updated.

    Example::

        nbtrack.models()
    """
    import pandas as pd

    columns = ["name", "versions", "latest", "aliases", "description", "created", "updated"]
    frame = pd.DataFrame(list_models(store=store), columns=columns)
    for column in ("created", "updated"):
        frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    return frame


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, timezone.utc).isoformat()


# -- aliases ---------------------------------------------------------------------------------------------
def set_model_alias(
    name: str,
    version: int,
    alias: str,
    *,
    reason: str | None = None,
    require: str | None = None,
    store: StoreLike | None = None,
) -> ModelVersion:
    """Point ``alias`` (``champion``, ``challenger``, any word) of model ``name`` at ``version``; the move is
    recorded with the OS user, host, time and ``reason``. ``require`` (query language, e.g.
    ``"metrics.auc >= 0.9"``) refuses the move unless the version's run meets it.

    Example::

        nbtrack.set_model_alias("churn", 3, "champion", reason="beat v2 on the May holdout")
    """
    store = _store(store)
    alias = _check_alias(alias)
    if isinstance(version, bool) or not isinstance(version, int):
        raise InvalidValueError(f"version must be a version number like 3, not {version!r}.")
    row = _resolve(store, f"{name}/{version}")
    check_requirement(store, row["run_id"], require, f"point {name}@{alias} at version {version}")
    _move(store, name, alias, version, reason)
    return _record(store, row)


def remove_model_alias(name: str, alias: str, *, reason: str | None = None, store: StoreLike | None = None) -> int:
    """Remove ``alias`` from model ``name`` (recorded in its history); returns the version it pointed at.

    Example::

        nbtrack.remove_model_alias("churn", "challenger", reason="lost the comparison")
    """
    store = _store(store)
    number = _resolve(store, f"{name}@{_check_alias(alias)}")["version"]
    _move(store, name, alias, None, reason)
    return number


def _move(store: Store, name: str, alias: str, to: int | None, reason: str | None) -> None:
    store.require_writable(f"move alias {alias} of model {name}")
    user, host = _who()
    with store.transaction() as conn:
        move = {
            "model": name,
            "alias": alias,
            "from_version": dal.alias_target(conn, name, alias),
            "to_version": to,
            "moved": time.time(),
            "user": user,
            "host": host,
            "reason": reason,
        }
        dal.move_alias(conn, move)


def model_history(name: str, alias: str | None = None, *, store: StoreLike | None = None) -> list[dict[str, Any]]:
    """Every alias move of model ``name`` (of one ``alias`` if given), oldest first: alias, from_version,
    to_version (None: removed), moved (ISO 8601, UTC), user, host, reason.

    Example::

        nbtrack.model_history("churn", "champion")
    """
    store = _store(store)
    _require_model(store, _check_name(name, "model name"))
    return [{**m, "moved": _iso(m["moved"])} for m in dal.history(store, name, alias)]


def delete_model_version(name: str, version: int, *, store: StoreLike | None = None) -> None:
    """Delete version ``version`` of model ``name`` (refused while an alias points at it). Its run can then
    be deleted, and its blob goes at the next ``gc`` if nothing else refers to it; the alias history stays.

    Example::

        nbtrack.delete_model_version("churn", 1)
    """
    store = _store(store)
    _resolve(store, f"{name}/{version}")
    store.require_writable(f"delete version {version} of model {name}")
    with store.transaction() as conn:
        on = dal.aliases_on_version(conn, name, version)
        if on:
            raise InvalidValueError(
                f"Version {version} of {name!r} is {', '.join(on)}: move or remove those aliases first "
                f"(`nbtrack models alias {name} OTHER_VERSION {on[0]}` or `nbtrack models unalias {name} {on[0]}`)."
            )
        dal.delete_version(conn, name, version)
