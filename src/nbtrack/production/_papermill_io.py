"""papermill's local files, read and written without changing the process's working directory.

papermill's own local handler wraps every read, write and listing in ``os.chdir(folder)`` and back. Two
notebooks executed at once in threads (a sweep's jobs) interleave those changes, and the process can be
left in another folder: in a notebook that called ``nbtrack.sweep``, later cells would then read files
relative to that folder. This handler resolves a relative path against the same folder instead and
never calls ``os.chdir``; it replaces papermill's in this process (``install``), with the same results.
"""

from __future__ import annotations

import json
import os
import threading

from papermill.iorw import LocalHandler, papermill_io

_installed = threading.Lock()


class LocalFiles(LocalHandler):
    """papermill's ``LocalHandler`` without ``os.chdir``: paths relative to its folder are joined to it."""

    def _resolved(self, path: str) -> str:
        return path if self._cwd is None or os.path.isabs(path) else os.path.join(self._cwd, path)

    def read(self, path):
        try:
            with open(self._resolved(path), encoding="utf-8") as file:
                return file.read()
        except OSError:
            try:  # papermill also takes a notebook's JSON text where a path is expected
                json.loads(path)
                return path
            except ValueError:
                pass
            raise

    def listdir(self, path):
        return [os.path.join(path, name) for name in os.listdir(self._resolved(path))]

    def write(self, buf, path):
        resolved = self._resolved(path)
        folder = os.path.dirname(resolved)
        if folder and not os.path.exists(folder):
            raise FileNotFoundError(f"output folder {os.path.dirname(path)} doesn't exist.")
        with open(resolved, "w", encoding="utf-8") as file:
            file.write(buf)


def install() -> None:
    """Make :class:`LocalFiles` papermill's handler of local paths (once per process)."""
    with _installed:
        handlers = papermill_io._handlers  # papermill takes the last handler registered as "local"
        if any(isinstance(handler, LocalFiles) for scheme, handler in handlers if scheme == "local"):
            return
        papermill_io._handlers = [(scheme, handler) for scheme, handler in handlers if scheme != "local"]
        papermill_io.register("local", LocalFiles())
