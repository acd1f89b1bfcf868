"""The REST API's route table and its thin handlers: parse the request, call the core, write JSON.

Every route lives under ``<base_url>/nbtrack/api/v1``; see ``ROUTES`` at the end of this module and
``docs/rest.md``. Handlers never turn a request value into a filesystem path: artifacts are looked up
by a validated content hash that the store's tables reference.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import tornado.web
import xxhash
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from nbtrack import _version
from nbtrack.errors import InvalidValueError, NbtrackError
from nbtrack.server import _views
from nbtrack.server._backend import NbtrackServer
from nbtrack.server._errors import error_body, http_status
from nbtrack.store.blobs import hash_stream

API_PREFIX = "nbtrack/api/v1"
API_VERSION = 1
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
MAX_COMPARE = 50
MAX_VALUES = 200_000  # runs one GET /values answers with (a chart across runs)
_Default = TypeVar("_Default", int, None)  # query_int's default: a number, or None for "not given"


class NbtrackHandler(APIHandler):
    """Base of every nbtrack handler: JSON errors ``{code, message}`` and access to the backend."""

    auth_resource = "nbtrack"

    @property
    def backend(self) -> NbtrackServer:
        return self.settings["nbtrack"]

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = (kwargs.get("exc_info") or (None, None, None))[1]
        status = http_status(exc, status_code)
        self.clear_header("Content-Disposition")
        self.set_status(status)
        self.finish(json.dumps(error_body(exc, status)))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        # Bad input is the client's business: one line, no traceback.
        if isinstance(value, NbtrackError) and http_status(value) < 500:
            self.log.info("nbtrack API %s %s: %s", self.request.method, self.request.path, value)
            return
        super().log_exception(typ, value, tb)

    def write_json(self, payload: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(_views.dumps(payload))

    def query_text(self, name: str) -> str | None:
        """A query argument, stripped; None when absent or empty."""
        value = self.get_query_argument(name, None)
        value = value.strip() if value is not None else None
        return value or None

    def query_int(self, name: str, default: _Default, low: int, high: int | None = None) -> int | _Default:
        text = self.query_text(name)
        if text is None:
            return default
        try:
            value = int(text)
        except ValueError:
            raise InvalidValueError(f"{name} must be an integer, not {text!r}.") from None
        if value < low:
            raise InvalidValueError(f"{name} must be at least {low}, not {value}.")
        return min(value, high) if high is not None else value

    def json_body(self) -> dict[str, Any]:
        if not self.request.body:
            return {}
        try:
            body = json.loads(self.request.body)
        except ValueError as exc:
            raise InvalidValueError(f"The request body is not valid JSON ({exc}): send a JSON object.") from None
        if not isinstance(body, dict):
            raise InvalidValueError('The request body must be a JSON object, e.g. {"params": {"lr": 0.1}}.')
        return body


class VersionHandler(NbtrackHandler):
    """GET /version: the handshake the sidebar makes before anything else."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        location = self.backend.store_location()
        self.write_json(
            {"version": _version.__version__, "api": API_VERSION, "store": str(location) if location else None}
        )


class ChangesHandler(NbtrackHandler):
    """GET /changes: a token that changes whenever a run is added, updated or deleted."""

    _track_activity = False  # polled every 2 s: must not keep an idle server alive

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json({"token": await self.backend.call(_views.changes_token)})


class ExperimentsHandler(NbtrackHandler):
    """GET /experiments: every experiment with its run count and last start."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json({"experiments": await self.backend.call(_views.experiments)})


class RunsHandler(NbtrackHandler):
    """GET /runs: one page of runs, filtered and ordered by the query language."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        experiment = self.query_text("experiment")
        where, order_by = self.query_text("where"), self.query_text("order_by")
        limit = self.query_int("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        offset = self.query_int("offset", 0, 0)
        fields = _views.parse_fields(self.query_text("fields"))
        default_columns = _views.parse_columns(self.query_text("columns"))
        archived = _views.parse_archived(self.query_text("archived"))

        def page(store: Any) -> dict[str, Any]:
            return _views.runs_page(
                store, experiment, where, order_by, limit, offset, fields, default_columns, archived
            )

        self.write_json(await self.backend.call(page))


class ValuesHandler(NbtrackHandler):
    """GET /values: a few values of every matching run in one answer, what a chart across runs draws."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        keys = _views.parse_value_keys(self.query_text("keys"))
        experiment = self.query_text("experiment")
        where, order_by = self.query_text("where"), self.query_text("order_by")
        limit = self.query_int("limit", MAX_VALUES, 1, MAX_VALUES)
        archived = _views.parse_archived(self.query_text("archived"))

        def values(store: Any) -> dict[str, Any]:
            return _views.run_values(store, keys, experiment, where, order_by, limit, archived)

        self.write_json(await self.backend.call(values))


class RunHandler(NbtrackHandler):
    """GET /runs/{run_id}: everything recorded about one run (id, unique prefix or short id).
    PATCH /runs/{run_id} {tags, remove, note}: set and remove tags of a finished run, set its note."""

    @tornado.web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        self.write_json(await self.backend.call(lambda store: _views.run_detail(store, run_id)))

    @tornado.web.authenticated
    @authorized
    async def patch(self, run_id: str) -> None:
        body = self.json_body()
        self.write_json(await self.backend.call(lambda store: _views.edit_run(store, run_id, body)))


class RunsActionHandler(NbtrackHandler):
    """Base of the POST routes that take ``{"ids": [...]}`` and apply one core action to those runs."""

    async def act_on_runs(self, action: Callable[[Any, list[str]], dict[str, Any]]) -> None:
        ids = _views.run_ids_of(self.json_body())
        self.write_json(await self.backend.call(lambda store: action(store, ids)))


class RunsArchiveHandler(RunsActionHandler):
    """POST /runs/archive {ids}: archive runs with their child runs (hidden from listings, restorable)."""

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        await self.act_on_runs(_views.archive)


class RunsRestoreHandler(RunsActionHandler):
    """POST /runs/restore {ids}: bring archived runs (and their archived child runs) back."""

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        await self.act_on_runs(_views.restore)


class RunsDeleteHandler(RunsActionHandler):
    """POST /runs/delete {ids}: delete archived runs for good, with their child runs (blobs go at gc)."""

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        await self.act_on_runs(_views.delete_archived)


class CompareHandler(NbtrackHandler):
    """GET /compare?ids=a,b,c: params and metrics side by side, with metric series."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        ids = [part.strip() for part in (self.query_text("ids") or "").split(",") if part.strip()]
        if not ids:
            raise InvalidValueError("Give the runs to compare: /compare?ids=<run id>,<run id>,...")
        if len(ids) > MAX_COMPARE:
            raise InvalidValueError(f"Compare at most {MAX_COMPARE} runs at a time, not {len(ids)}.")
        self.write_json(await self.backend.call(lambda store: _views.compare(store, ids)))


class ArtifactHandler(NbtrackHandler):
    """GET /artifacts/{hash}: the bytes of a stored artifact, by its content hash."""

    @property
    def content_security_policy(self) -> str:
        # Artifacts are user content: never let an HTML/SVG artifact run script in the server's origin.
        return super().content_security_policy + "; sandbox"

    @tornado.web.authenticated
    @authorized
    async def get(self, hash: str) -> None:  # "hash": the route's parameter name
        digest = hash
        _views.check_hash(digest)
        served = await self.backend.call(lambda store: _views.find_artifact(store, digest))
        # Served as immutable, so never serve damaged bytes: the file must hash to its name before the
        # first byte goes out (CorruptBlobError: a 500 naming `nbtrack fsck`), and is hashed again as it
        # is sent; bytes that changed in between abort the response (the client sees it incomplete).
        await self.backend.call(lambda store: store.blobs.check(digest, _verified_hash(served.path)))
        self.set_header("Content-Type", served.media_type)  # before the first flush sends headers
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Content-Disposition", served.disposition)
        self.set_header("Cache-Control", "private, max-age=31536000, immutable")
        self.set_header("ETag", f'"{digest}"')
        sent = xxhash.xxh3_128()
        with open(served.path, "rb") as handle:
            self.set_header("Content-Length", str(_views.file_size(handle)))
            while chunk := handle.read(_views.CHUNK):
                sent.update(chunk)
                self.write(chunk)
                await self.flush()
        if sent.hexdigest() != digest:
            raise RuntimeError(f"artifact {digest} changed on disk while it was sent; run `nbtrack fsck`")
        self.finish(set_content_type=served.media_type)


def _verified_hash(path: Any) -> str:
    with open(path, "rb") as handle:
        return hash_stream(handle)


class DatasetsHandler(NbtrackHandler):
    """GET /datasets: every versioned dataset."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json({"datasets": await self.backend.call(_views.datasets)})


class DatasetVersionsHandler(NbtrackHandler):
    """GET /datasets/{name}/versions: the versions of one dataset, oldest first."""

    @tornado.web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        self.write_json({"versions": await self.backend.call(lambda store: _views.versions(store, name))})


class DatasetDiffHandler(NbtrackHandler):
    """GET /datasets/{name}/diff?a=1&b=2: schema, row, statistics and drift changes between two versions
    (``b`` defaults to the latest version, ``a`` to the one before ``b``)."""

    @tornado.web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        a, b = self.query_int("a", None, 1), self.query_int("b", None, 1)  # default: the two latest
        self.write_json(await self.backend.call(lambda store: _views.diff(store, name, a, b)))


class LineageHandler(NbtrackHandler):
    """GET /lineage?run=ID or ?dataset=NAME&version=N: the graph of runs and data versions around it."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        run, dataset = self.query_text("run"), self.query_text("dataset")
        version = self.query_int("version", None, 1)
        if (run is None) == (dataset is None):
            raise InvalidValueError(
                "Ask for the lineage of one thing: /lineage?run=<run id> or /lineage?dataset=<name>&version=<n>."
            )
        self.write_json(await self.backend.call(lambda store: _views.lineage(store, run, dataset, version)))


class ModelsHandler(NbtrackHandler):
    """GET /models: every registered model with its versions count, latest version and aliases."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json({"models": await self.backend.call(_views.models)})


class ModelHandler(NbtrackHandler):
    """GET /models/{name}: one model's versions (newest first, each with its lineage), aliases and alias
    history. Models are never unpickled here; a version's bytes download from /artifacts/{blob}."""

    @tornado.web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        self.write_json(await self.backend.call(lambda store: _views.model(store, name)))


class RerunHandler(NbtrackHandler):
    """POST /runs/{run_id}/rerun {params}: re-execute a notebook run in the background."""

    @tornado.web.authenticated
    @authorized
    async def post(self, run_id: str) -> None:
        params = self.json_body().get("params") or {}
        if not isinstance(params, dict):
            raise InvalidValueError('params must be a JSON object of param overrides, e.g. {"lr": 0.1}.')
        source = await self.backend.call(lambda store: _views.rerun_source(store, run_id))
        job = self.backend.jobs.submit(source["run_id"], _views.rerun_work(source, params))
        self.write_json({"job_id": job.job_id}, status=202)


class JobHandler(NbtrackHandler):
    """GET /jobs/{job_id}: status of a rerun job (queued, running, ok, failed)."""

    _track_activity = False

    @tornado.web.authenticated
    @authorized
    async def get(self, job_id: str) -> None:
        self.write_json(self.backend.jobs.get(job_id))


# The whole API, one line per route (paths relative to <base_url>/nbtrack/api/v1).
ROUTES: list[tuple[str, type[NbtrackHandler]]] = [
    (r"/version", VersionHandler),
    (r"/changes", ChangesHandler),
    (r"/experiments", ExperimentsHandler),
    (r"/runs", RunsHandler),
    (r"/runs/archive", RunsArchiveHandler),  # before /runs/{run_id}, which would take these names
    (r"/runs/restore", RunsRestoreHandler),
    (r"/runs/delete", RunsDeleteHandler),
    (r"/runs/(?P<run_id>[^/]+)", RunHandler),
    (r"/runs/(?P<run_id>[^/]+)/rerun", RerunHandler),
    (r"/values", ValuesHandler),
    (r"/compare", CompareHandler),
    (r"/artifacts/(?P<hash>.*)", ArtifactHandler),
    (r"/datasets", DatasetsHandler),
    (r"/datasets/(?P<name>[^/]+)/versions", DatasetVersionsHandler),
    (r"/datasets/(?P<name>[^/]+)/diff", DatasetDiffHandler),
    (r"/lineage", LineageHandler),
    (r"/models", ModelsHandler),
    (r"/models/(?P<name>[^/]+)", ModelHandler),
    (r"/jobs/(?P<job_id>[^/]+)", JobHandler),
]


def setup_handlers(web_app: Any, backend: NbtrackServer) -> None:
    """Add the route table to the Jupyter server's tornado application."""
    web_app.settings["nbtrack"] = backend
    prefix = url_path_join(web_app.settings["base_url"], API_PREFIX)
    web_app.add_handlers(".*$", [(prefix + pattern, handler) for pattern, handler in ROUTES])
