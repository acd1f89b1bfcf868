"""``nbtrack doctor``: is this installation complete and the store usable? Each problem comes with its fix.

The checks are plain functions returning :class:`Check` rows, so they can be tested without the CLI.
Jupyter's own APIs answer the extension questions (the same ones ``jupyter server extension list`` and
``jupyter labextension list`` use): ``jupyter_server.extension.config.ExtensionConfigManager`` and
``jupyterlab.commands.get_federated_extensions`` plus the ``labconfig`` page config for disabled ones.
"""

from __future__ import annotations

import os
import platform
import sqlite3
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from nbtrack._version import __version__
from nbtrack.store import DB_FILENAME, default_root, find_store_root, inspect_store
from nbtrack.store import schema as _schema

KEY_PACKAGES = [
    "jupyterlab",
    "jupyter_server",
    "ipykernel",
    "ipython",
    "pandas",
    "pyarrow",
    "papermill",
    "scikit-learn",
    "matplotlib",
    "mlflow",
    "mlflow-skinny",
]
REQUIRED = {"jupyterlab", "jupyter_server", "ipykernel", "ipython", "pandas", "pyarrow", "papermill"}


@dataclass
class Check:
    """One line of the doctor's report: ``ok`` False means a problem, and ``fix`` says what to run."""

    name: str
    ok: bool
    detail: str
    fix: str | None = None

    def line(self) -> str:
        mark = "ok " if self.ok else "BAD"
        text = f"[{mark}] {self.name}: {self.detail}"
        return text if self.ok or not self.fix else f"{text}\n      fix: {self.fix}"


def check_versions() -> list[Check]:
    """nbtrack's and Python's versions, and those of the packages nbtrack relies on."""

    checks = [
        Check("nbtrack", True, f"{__version__} ({os.path.dirname(os.path.dirname(__file__))})"),
        Check(
            "python",
            sys.version_info >= (3, 10),
            f"{platform.python_version()} ({sys.executable})",
            "nbtrack needs Python 3.10 or newer: create the environment with a newer python",
        ),
    ]
    for package in KEY_PACKAGES:
        try:
            version = metadata.version(package)
        except metadata.PackageNotFoundError:
            if package in REQUIRED:
                checks.append(Check(package, False, "not installed", f"pip install {package}"))
            continue
        checks.append(Check(package, True, version))
    return checks


def check_store(path: str | os.PathLike | None = None) -> list[Check]:
    """Where the store is (or will be created) and whether its schema is one this nbtrack can use.

    The database is opened read-only: the doctor never migrates or otherwise writes a store.
    """

    root = find_store_root() if path is None else Path(path)
    if root is None or not (root / DB_FILENAME).exists():
        return [
            Check(
                "store",
                True,
                f"none yet; the first run will create {root or default_root()} "
                "(or run `nbtrack init`, or set NBTRACK_HOME)",
            )
        ]
    known = max(version for version, *_ in _schema.MIGRATIONS)
    try:
        version, runs = inspect_store(root)
    except sqlite3.DatabaseError as error:
        return [
            Check(
                "store",
                False,
                f"{root}: cannot read {DB_FILENAME} ({error})",
                "check the file's permissions, then `nbtrack fsck`; or set NBTRACK_HOME to another store",
            )
        ]
    checks = [Check("store", True, f"{root} ({runs} runs)")]
    if version > known:
        checks.append(
            Check(
                "store schema",
                False,
                f"version {version}, written by a newer nbtrack (this one knows up to {known})",
                "upgrade nbtrack: `git pull && pip install .` in its checkout (or install a newer wheel)",
            )
        )
    else:
        later = "" if version == known else f"; upgraded to {known} on the next write"
        checks.append(Check("store schema", True, f"version {version} (this nbtrack knows up to {known}){later}"))
    return checks


def check_server_extension() -> list[Check]:
    """Whether jupyter_server will load nbtrack's REST API (the sidebar's backend)."""
    from jupyter_core.paths import jupyter_config_path
    from jupyter_server.extension.config import ExtensionConfigManager

    enabled = ExtensionConfigManager(read_config_path=jupyter_config_path()).get_jpserver_extensions()
    if enabled.get("nbtrack"):
        return [Check("server extension", True, "nbtrack enabled")]
    state = "disabled" if "nbtrack" in enabled else "not configured"
    return [Check("server extension", False, state, "jupyter server extension enable nbtrack (then restart Jupyter)")]


def check_lab_extension() -> list[Check]:
    """Whether JupyterLab finds the sidebar (a prebuilt extension) and has not disabled it."""
    from jupyter_core.paths import jupyter_config_path, jupyter_path
    from jupyterlab.commands import get_federated_extensions
    from jupyterlab_server.config import get_page_config

    found = get_federated_extensions(jupyter_path("labextensions")).get("nbtrack")
    if not found:
        return [
            Check(
                "lab extension",
                False,
                "not installed (JupyterLab will show no nbtrack sidebar)",
                "install node >= 20.19, then `pip install .` again in the nbtrack checkout (it builds the sidebar; "
                "a wheel from `pip wheel .` on a machine with node carries it too), then check "
                "`jupyter labextension list`",
            )
        ]
    config = get_page_config([os.path.join(p, "labconfig") for p in jupyter_config_path()], logger=None)
    disabled = config.get("disabledExtensions") or {}
    if disabled.get("nbtrack") if isinstance(disabled, dict) else "nbtrack" in disabled:
        return [
            Check(
                "lab extension",
                False,
                f"{found['version']} installed but disabled",
                "jupyter labextension enable nbtrack",
            )
        ]
    return [Check("lab extension", True, f"{found['version']} enabled ({found['ext_path']})")]


def run_checks(store_path: str | os.PathLike | None = None) -> list[Check]:
    """Every check, in report order."""
    checks = check_versions() + check_store(store_path)
    for check in (check_server_extension, check_lab_extension):
        try:
            checks += check()
        except ImportError as error:
            checks.append(
                Check(
                    check.__name__.removeprefix("check_").replace("_", " "),
                    False,
                    f"cannot inspect: {error}",
                    "pip install jupyterlab jupyter_server",
                )
            )
    return checks
