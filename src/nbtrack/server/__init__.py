"""nbtrack's Jupyter server extension: a read-mostly REST API under ``<base_url>/nbtrack/api/v1/``.

Enable it with the ``jupyter-config/server-config/nbtrack.json`` file that installing nbtrack (``pip install .``
in a clone, or its wheel) installs (``{"ServerApp": {"jpserver_extensions": {"nbtrack": true}}}``), then check with
``jupyter server extension list``.  The routes are documented in ``docs/rest.md`` and
``docs/rest-api.yaml``; the store the server reads is chosen by :class:`NbtrackServer`.

This module imports tornado and jupyter_server; ``import nbtrack`` never imports it.
"""

from __future__ import annotations

from typing import Any

from nbtrack.server._backend import NbtrackServer

__all__ = ["NbtrackServer"]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "nbtrack.server"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Register every nbtrack route on the running Jupyter server."""
    from nbtrack.server.handlers import setup_handlers

    backend = NbtrackServer(parent=serverapp, root_dir=serverapp.root_dir)
    setup_handlers(serverapp.web_app, backend)
    serverapp.log.info("nbtrack REST API enabled at %snbtrack/api/v1/", serverapp.base_url)
    warning = sidebar_warning()
    if warning:
        serverapp.log.warning(warning)


def sidebar_warning() -> str | None:
    """One line for the server's log when JupyterLab has no nbtrack sidebar (e.g. installed from source
    without node >= 20.19: plain ``pip install`` hides the build's own line saying so), else None."""
    from nbtrack.doctor import check_lab_extension

    try:
        problems = [check for check in check_lab_extension() if not check.ok]
    except ImportError:  # no JupyterLab in this environment: no sidebar to miss
        return None
    return "; ".join(f"nbtrack sidebar: {c.detail}; fix: {c.fix}" for c in problems) or None


def _unload_jupyter_server_extension(serverapp: Any) -> None:
    """Stop the worker threads when the server shuts down."""
    backend = serverapp.web_app.settings.pop("nbtrack", None)
    if backend is not None:
        backend.close()
