"""Registered models to and from MLflow's model registry (called by ``export_mlflow`` / ``import_mlflow``).

Export: each version of a registered model whose run is in MLflow becomes a version of the MLflow registered
model of the same name. Its files go to the MLflow run under ``nbtrack-models/<name>-<version>/``: a pickled
scikit-learn model as an MLflow model with the ``sklearn`` and ``python_function`` flavours
(``serialization_format: pickle``, written from the version's lineage, so nothing is unpickled), anything
else as the file it is. The MLflow version is tagged ``nbtrack.run_id`` and ``nbtrack.model_version``
(MLflow numbers versions itself); the model's aliases follow.

Import: each version of each MLflow registered model, its files downloaded from wherever MLflow keeps them
(MLflow 3's ``log_model`` stores them outside the run's artifacts), is attached to the imported run it was
logged from (as artifacts ``mlflow-models/<name>-<version>/...``) and registered as the next nbtrack version;
MLflow's aliases become nbtrack aliases (the move's reason says it came from MLflow).
"""

from __future__ import annotations

import json
import pickletools
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbtrack.errors import NbtrackError
from nbtrack.registry._registry import PICKLE, register_model, set_model_alias
from nbtrack.store import models as dal
from nbtrack.store import runs as db

if TYPE_CHECKING:
    from nbtrack.interop.mlflow import TransferReport
    from nbtrack.store import Store

EXPORT_TAG = "nbtrack.run_id"
VERSION_TAG = "nbtrack.model_version"
EXPORT_FOLDER = "nbtrack-models"
IMPORT_FOLDER = "mlflow-models"


# -------------------------------------------------------------------------------------------------- export
def export_models(client: Any, store: Store, exported: dict[str, str], report: TransferReport) -> None:
    """Export every registered version whose run is in MLflow (``exported``: nbtrack run id -> MLflow run id)."""
    numbers: dict[tuple[str, int], str] = {}  # (model, nbtrack version) -> MLflow version
    for row in dal.all_versions(store):
        name, number = row["model"], row["version"]
        mlflow_run = exported.get(row["run_id"])
        if mlflow_run is None:
            report.notes.append(f"model {name}/{number}: its run {row['run_id'][-8:]} is not in MLflow; not exported")
            continue
        done = _exported_version(client, name, number, row["run_id"])
        if done is None:
            done = _export_version(client, store, row, mlflow_run)
            report.models.append(f"{name}/{number}")
        numbers[(name, number)] = done
    for name, aliases in dal.all_aliases(store).items():
        for alias, number in aliases.items():
            if (name, number) in numbers:
                client.set_registered_model_alias(name, alias, numbers[(name, number)])


def _exported_version(client: Any, name: str, number: int, run_id: str) -> str | None:
    """The MLflow version already exported from nbtrack version ``number`` of ``name``, if any."""
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException:
        return None
    for found in client.search_model_versions(f"name = '{name}'"):
        if found.tags.get(VERSION_TAG) == str(number) and found.tags.get(EXPORT_TAG) == run_id:
            return str(found.version)
    return None


def _export_version(client: Any, store: Store, row: dict[str, Any], mlflow_run: str) -> str:
    from mlflow.exceptions import MlflowException

    name, number = row["model"], row["version"]
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name, description=f"exported from nbtrack model {name}")
    folder_name = f"{EXPORT_FOLDER}/{name}-{number}"
    with tempfile.TemporaryDirectory(prefix="nbtrack-model-") as folder:
        _write_model_folder(Path(folder), store.blobs.read_bytes(row["blob"]), row)
        client.log_artifacts(mlflow_run, folder, folder_name)
    created = client.create_model_version(
        name,
        f"runs:/{mlflow_run}/{folder_name}",
        run_id=mlflow_run,
        tags={VERSION_TAG: str(number), EXPORT_TAG: row["run_id"]},
        description=row["description"],
    )
    return str(created.version)


def _write_model_folder(folder: Path, data: bytes, row: dict[str, Any]) -> None:
    """The version's bytes, as an MLflow scikit-learn model when it is a pickled scikit-learn estimator."""
    meta = row["lineage"].get("model", {})
    sklearn = str(meta.get("class", "")).startswith("sklearn.") and row["media_type"] == PICKLE
    if not sklearn:
        (folder / row["artifact"].rsplit("/", 1)[-1]).write_bytes(data)
        return
    import mlflow.pyfunc
    from mlflow.models import Model

    (folder / "model.pkl").write_bytes(data)
    model = Model(run_id=None)
    model.add_flavor(
        "sklearn",
        pickled_model="model.pkl",
        sklearn_version=meta.get("sklearn"),
        serialization_format="pickle",
        code=None,
    )
    python = meta.get("python") or row["lineage"].get("environment", {}).get("python")
    mlflow.pyfunc.add_to_model(model, loader_module="mlflow.sklearn", model_path="model.pkl", python_version=python)
    model.save(str(folder / "MLmodel"))


# -------------------------------------------------------------------------------------------------- import
def import_models(client: Any, store: Store, known: dict[str, str], tracking_uri: str, report: TransferReport) -> None:
    """Import the versions of every MLflow registered model logged from an imported run (``known``: MLflow
    run id -> nbtrack run id), then its aliases."""
    local = db.all_run_ids(store)
    for registered in client.search_registered_models():
        name = registered.name
        numbers: dict[str, int] = {}
        versions = sorted(client.search_model_versions(f"name = '{name}'"), key=lambda v: int(v.version))
        for found in versions:
            if found.tags.get(EXPORT_TAG) in local:  # exported from this very store
                continue
            run_id = known.get(found.run_id or "")
            if run_id is None:
                report.notes.append(
                    f"MLflow model {name}/{found.version}: its run {found.run_id or '(none)'} was not imported; "
                    "import its experiment (or all) to bring it"
                )
                continue
            try:
                numbers[str(found.version)] = _import_version(client, store, found, run_id, tracking_uri, report)
            except NbtrackError as error:  # a name nbtrack cannot hold, ...: said, and the rest goes on
                report.notes.append(f"MLflow model {name}/{found.version}: {error}")
        for alias, version in (registered.aliases or {}).items():
            if str(version) in numbers:
                set_model_alias(name, numbers[str(version)], alias, reason="imported from MLflow", store=store)


def _import_version(client: Any, store: Store, found: Any, run_id: str, tracking_uri: str, report) -> int:
    import mlflow.artifacts

    name, version = found.name, found.version
    prefix = f"{IMPORT_FOLDER}/{name}-{version}"
    chosen = _registered_artifact(store, run_id, prefix)
    if chosen is not None:
        number = dal.version_of_artifact(store, name, run_id, chosen)
        if number is not None:  # imported before
            return number
    if chosen is None:
        with tempfile.TemporaryDirectory(prefix="nbtrack-import-") as folder:
            path = Path(
                mlflow.artifacts.download_artifacts(
                    artifact_uri=f"models:/{name}/{version}", dst_path=folder, tracking_uri=tracking_uri
                )
            )
            chosen = _attach(store, run_id, path, prefix)
    description = found.description or f"imported from MLflow model {name} version {version}"
    created = register_model(run_id, name, chosen, store=store, description=description)
    report.models.append(f"{name}/{version} -> {created.spec}")
    return created.version


def _registered_artifact(store: Store, run_id: str, prefix: str) -> str | None:
    """The artifact an earlier import of this version registered (its model file, else its MLmodel), if any."""
    found = [a for a in db.artifacts(store, run_id) if a["name"].startswith(prefix + "/")]
    models = [a["name"] for a in found if a["kind"] == "model"]
    return (models or [a["name"] for a in found if a["name"].endswith("/MLmodel")] or [None])[0]


def _attach(store: Store, run_id: str, folder: Path, prefix: str) -> str:
    """Store the downloaded files as artifacts of the run; returns the one to register: the pickled
    scikit-learn model if the MLmodel names one (pickle or cloudpickle), else the MLmodel file."""
    flavour = _sklearn_flavour(folder / "MLmodel")
    pickled = flavour.get("pickled_model") if flavour.get("serialization_format") in ("pickle", "cloudpickle") else None
    rows, chosen, now = [], None, time.time()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        name = f"{prefix}/{relative}"
        if relative == pickled:
            data = path.read_bytes()
            meta = {"class": _pickled_class(data), "format": "pickle", "sklearn": flavour.get("sklearn_version")}
            rows.append((name, "model", store.blobs.put_bytes(data), len(data), PICKLE, now, json.dumps(meta)))
            chosen = name
        else:
            rows.append((name, "file", store.blobs.put_file(path), path.stat().st_size, "application/octet-stream",
                         now, None))  # fmt: skip
    with store.transaction() as conn:
        db.write_artifacts(conn, run_id, rows, now)
    return chosen or f"{prefix}/MLmodel"


def _sklearn_flavour(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    import yaml

    found = yaml.safe_load(path.read_text()) or {}
    return (found.get("flavors") or {}).get("sklearn") or {}


def _pickled_class(data: bytes) -> str | None:
    """``module.Class`` of the object a pickle makes, read from its opcodes (nothing is unpickled)."""
    strings: list[str] = []
    try:
        for opcode, arg, _ in pickletools.genops(data):
            if opcode.name == "GLOBAL":
                return str(arg).replace(" ", ".")
            if opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                return f"{strings[-2]}.{strings[-1]}"
            if isinstance(arg, str):
                strings.append(arg)
    except ValueError:  # not a pickle this reads
        return None
    return None
