"""Translation of exceptions into the REST API's JSON errors ``{code, message}``."""

from __future__ import annotations

import re
from http.client import responses
from typing import Any

from tornado import web

from ..errors import NbtrackError


class FeatureUnavailableError(NbtrackError):
    """A route whose backing module is not installed or not written yet (HTTP 501)."""

    http_status = 501


class JobNotFoundError(NbtrackError):
    """No rerun job with this id (jobs live in the server's memory; a restart forgets them)."""

    http_status = 404


FORBIDDEN_HELP = (
    "Not authenticated: send the Jupyter server's token (header 'Authorization: token <token>'; "
    "`jupyter server list` shows it), or log in to JupyterLab in this browser."
)


def http_status(exc: BaseException | None, default: int = 500) -> int:
    """HTTP status for an exception: 400 for bad input, 404 for unknown things, else 500."""
    if isinstance(exc, web.HTTPError):
        return exc.status_code
    if isinstance(exc, NbtrackError):
        return int(exc.http_status)  # each error class declares its status (base: 400)
    return default if exc is None else 500


def error_body(exc: BaseException | None, status: int) -> dict[str, Any]:
    """The JSON body ``{code, message}`` (plus ``position`` for query errors); never a traceback."""
    if isinstance(exc, NbtrackError):
        body: dict[str, Any] = {"code": _snake(type(exc).__name__.removesuffix("Error")), "message": str(exc)}
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
