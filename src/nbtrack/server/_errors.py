"""Translation of exceptions into the REST API's JSON errors ``{code, message}``."""

from __future__ import annotations

import re
from http.client import responses
from typing import Any

from tornado import web

from nbtrack import errors as e

#: Every error class of :mod:`nbtrack.errors` with its HTTP status and the stable ``code`` of the JSON
#: body. Written out so that renaming a class cannot change the API; ``tests/server`` checks that every
#: class is listed.
ERROR_CODES: dict[type[e.NbtrackError], tuple[int, str]] = {
    e.NbtrackError: (400, "nbtrack"),
    e.StoreNotFoundError: (404, "store_not_found"),
    e.StoreVersionError: (500, "store_version"),
    e.StoreWriteError: (500, "store_write"),
    e.RunNotFoundError: (404, "run_not_found"),
    e.AmbiguousRunIdError: (400, "ambiguous_run_id"),
    e.RunStillRunningError: (409, "run_still_running"),
    e.QueryError: (400, "query"),
    e.InvalidValueError: (400, "invalid_value"),
    e.NoActiveRunError: (400, "no_active_run"),
    e.ArtifactNotFoundError: (404, "artifact_not_found"),
    e.UntrustedArtifactError: (400, "untrusted_artifact"),
    e.UnknownParameterError: (400, "unknown_parameter"),
    e.TrackUsageError: (400, "track_usage"),
    e.UnsupportedDataError: (400, "unsupported_data"),
    e.DatasetNotFoundError: (404, "dataset_not_found"),
    e.DataValidationError: (400, "data_validation"),
    e.CorruptDataError: (500, "corrupt_data"),
    e.NotebookFailedError: (400, "notebook_failed"),
    e.RerunFailedError: (400, "rerun_failed"),
    e.KernelStartError: (500, "kernel_start"),
    e.KernelShutdownError: (500, "kernel_shutdown"),
    e.MlflowUnavailableError: (400, "mlflow_unavailable"),
    e.JobNotFoundError: (404, "job_not_found"),
    e.CorruptBlobError: (500, "corrupt_blob"),
    e.DamagedStoreError: (500, "damaged_store"),
    e.StoreReadOnlyError: (409, "store_read_only"),
    e.UnsafeGcError: (409, "unsafe_gc"),
    e.ModelNotFoundError: (404, "model_not_found"),
    e.RequirementNotMetError: (409, "requirement_not_met"),
    e.RemoteError: (502, "remote"),
    e.CorruptRemoteObjectError: (502, "corrupt_remote_object"),
}


def _status_and_code(exc: e.NbtrackError) -> tuple[int, str]:
    """The entry of the nearest listed class (a subclass defined outside nbtrack.errors gets its parent's)."""
    for cls in type(exc).__mro__:
        if cls in ERROR_CODES:
            return ERROR_CODES[cls]  # type: ignore[index]
    return ERROR_CODES[e.NbtrackError]


FORBIDDEN_HELP = (
    "Not authenticated: send the Jupyter server's token (header 'Authorization: token <token>'; "
    "`jupyter server list` shows it), or log in to JupyterLab in this browser."
)


def http_status(exc: BaseException | None, default: int = 500) -> int:
    """HTTP status for an exception: 400 for bad input, 404 for unknown things, else 500."""
    if isinstance(exc, web.HTTPError):
        return exc.status_code
    if isinstance(exc, e.NbtrackError):
        return _status_and_code(exc)[0]
    return default if exc is None else 500


def error_body(exc: BaseException | None, status: int) -> dict[str, Any]:
    """The JSON body ``{code, message}`` (plus ``position`` for query errors); never a traceback."""
    if isinstance(exc, e.NbtrackError):
        body: dict[str, Any] = {"code": _status_and_code(exc)[1], "message": str(exc)}
        position = getattr(exc, "position", None)
        if position is not None:
            body["position"] = position
            if "position" not in body["message"]:
                body["message"] += f" (at position {position})"
        return body
    if isinstance(exc, web.HTTPError):
        reason = exc.reason or responses.get(status, "Error")
        message = exc.log_message or (FORBIDDEN_HELP if status == 403 else reason)
        return {"code": _snake(reason), "message": message}
    if exc is not None:
        detail = str(exc).splitlines()[0][:300] if str(exc) else ""
        return {
            "code": "internal_error",
            "message": f"Internal error ({type(exc).__name__}: {detail}); the Jupyter server log has the traceback.",
        }
    reason = responses.get(status, "Error")
    return {"code": _snake(reason), "message": reason}


def _snake(name: str) -> str:
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip())
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
