"""The server extension's state: which store it reads, the thread that reads it, the rerun jobs."""

from __future__ import annotations

import asyncio
import importlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from traitlets import Bool, Integer, Unicode
from traitlets.config import LoggingConfigurable

from nbtrack.errors import StoreNotFoundError
from nbtrack.server.jobs import JobManager
from nbtrack.store import STORE_DIRNAME, Store, find_store_root

T = TypeVar("T")


class NbtrackServer(LoggingConfigurable):
    """Settings of nbtrack's REST API, set in ``jupyter_server_config.py`` or on the command line.

    The store is, in this order: ``NbtrackServer.store_path``; else ``NBTRACK_HOME``; else the first
    ``.nbtrack`` folder found walking up from the server's ``root_dir`` (not the process's cwd).

    Example::

        jupyter lab --NbtrackServer.store_path=/data/project/.nbtrack
    """

    store_path = Unicode(
        None,
        allow_none=True,
        help="Path of the .nbtrack store folder the REST API reads (default: NBTRACK_HOME, "
        "else the first .nbtrack folder found walking up from the server's root_dir).",
    ).tag(config=True)

    rerun_workers = Integer(1, help="How many reruns (POST /runs/{id}/rerun) may execute at the same time.").tag(
        config=True
    )

    root_dir = Unicode("", help="The Jupyter server's root_dir; set by the extension loader.")

    preload = Bool(
        True,
        help="Import the data libraries (pandas, pyarrow) in a background thread when the server starts, so "
        "the first dataset view or diff does not wait about half a second for them.",
    ).tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._store: Store | None = None
        # One thread owns the SQLite connection: requests never block the event loop, and the
        # connection is only ever used by the thread that opened it.
        self._store_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nbtrack-store")
        self.jobs = JobManager(max_workers=self.rerun_workers, log=self.log)
        if self.preload:
            threading.Thread(target=_import_data_libraries, name="nbtrack-preload", daemon=True).start()

    # -- store location ------------------------------------------------------------------------
    def store_location(self) -> Path | None:
        """The store folder this server reads, or None when none can be found yet."""
        if self.store_path:
            return Path(self.store_path).expanduser().absolute()
        return find_store_root(Path(self.root_dir or ".").expanduser())

    def _open_store(self) -> Store:
        if self._store is None:
            location = self.store_location()
            if location is None:
                raise StoreNotFoundError(
                    f"No nbtrack store (.nbtrack folder) found from {self.root_dir} upward. "
                    "Track a run from a notebook in the server's root folder (it creates "
                    f"{Path(self.root_dir) / STORE_DIRNAME}), or start the server with "
                    "--NbtrackServer.store_path=/path/to/.nbtrack or NBTRACK_HOME set."
                )
            # A configured location is created on first use; a discovered one exists already.
            self._store = Store.open(location, create=True)
            self.log.info("nbtrack REST API reads the store %s", self._store.root)
        return self._store

    async def call(self, fn: Callable[[Store], T]) -> T:
        """Run ``fn(store)`` on the store thread and return its result (or raise its error)."""
        future = self._store_thread.submit(lambda: fn(self._open_store()))
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        """Stop the threads (running reruns finish in the background)."""
        self.jobs.close()
        if self._store is not None:
            self._store_thread.submit(self._store.close)
        self._store_thread.shutdown(wait=False)


def _import_data_libraries() -> None:
    """Import what reading datasets needs, so that the first request using them finds them loaded."""
    for module in ("numpy", "pyarrow", "pyarrow.ipc", "pyarrow.compute", "pandas", "nbtrack.data._diff"):
        try:
            importlib.import_module(module)
        except Exception:  # a broken install is reported by the request that needs it
            return
