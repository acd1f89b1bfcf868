"""Start a real `jupyter lab` with nbtrack's server and lab extensions, driven by Debian's Chromium.

The server runs in its own process group with temporary config/runtime/settings folders and a
temporary store (NBTRACK_HOME); it is stopped by process group.  Chromium gets an empty profile
and the flags that keep it off the network.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
BUILT_EXTENSION = REPO / "src" / "nbtrack" / "labextension"
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@dataclass
class Lab:
    """A running JupyterLab: its URL, token, store folder and notebook root."""

    url: str
    token: str
    store_root: Path
    root_dir: Path
    process: subprocess.Popen
    log: Path

    def api(self, path: str) -> tuple[int, dict]:
        """GET an nbtrack REST route as the browser would (status, JSON)."""
        req = urllib.request.Request(
            f"{self.url}nbtrack/api/v1/{path}", headers={"Authorization": f"token {self.token}"}
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)


@contextlib.contextmanager
def chromium_context(width: int, height: int, timeout_ms: float, init_script: str | None = None) -> Iterator[Any]:
    """A Playwright browser context of headless Debian Chromium with an empty temporary profile."""
    import tempfile

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="nbtrack-chromium-") as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": width, "height": height},
        )
        context.set_default_timeout(timeout_ms)
        if init_script:
            context.add_init_script(init_script)
        try:
            yield context
        finally:
            context.close()


@contextlib.contextmanager
def seeded_lab(base: Path, seed: Callable[[Any], Any]) -> Iterator[Lab]:
    """A running JupyterLab on a new store at ``base/store/.nbtrack`` filled by ``seed(store)`` once it runs:
    ``lab.store`` is the open store, ``lab.seeded`` what ``seed`` returned; stopped at the end."""
    from nbtrack.store import Store

    store_root = base / "store" / ".nbtrack"
    store = Store.open(store_root, create=True)
    lab = start_lab(base / "lab", store_root)
    try:
        lab.store = store  # pyright: ignore[reportAttributeAccessIssue]
        lab.seeded = seed(store)  # pyright: ignore[reportAttributeAccessIssue]
        yield lab
    finally:
        lab.stop()


def start_lab(base: Path, store_root: Path, *, server_extension: bool = True, app: str = "jupyterlab") -> Lab:
    """Start `jupyter lab` (or, with ``app="notebook"``, Notebook 7's `jupyter notebook`) on a free
    127.0.0.1 port and wait until it answers /api/status."""
    cfg, runtime, settings, root, data = (base / n for n in ("config", "runtime", "settings", "root", "data"))
    for d in (cfg, runtime, root, data / "labextensions"):
        d.mkdir(parents=True, exist_ok=True)
    news = settings / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True, exist_ok=True)
    (news / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    (cfg / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": {"nbtrack": server_extension}}})
    )
    env = dict(
        os.environ,
        NBTRACK_HOME=str(store_root),
        JUPYTER_CONFIG_DIR=str(cfg),
        JUPYTER_RUNTIME_DIR=str(runtime),
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(base / "workspaces"),
    )
    if (BUILT_EXTENSION / "package.json").exists():
        # Test this checkout's build even when an older copy is installed in the environment.
        (data / "labextensions" / "nbtrack").symlink_to(BUILT_EXTENSION, target_is_directory=True)
        env["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(data), env.get("JUPYTER_PATH")]))
    token = secrets.token_hex(16)
    log = base / "lab.log"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            app,
            "--allow-root",
            "--ip",
            "127.0.0.1",
            # port 0: the server binds a port the OS gives it (a port picked here and passed on could be taken
            # meanwhile by another process, a kernel's ZeroMQ socket, and the server would move to another)
            "--port",
            "0",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            "--no-browser",
            f"--ServerApp.root_dir={root}",
            f"--{'JupyterNotebookApp' if app == 'notebook' else 'LabApp'}.expose_app_in_browser=True",
        ],
        cwd=root,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 90
    while True:
        lab = _answering(process, runtime, token, store_root, root, log)
        if lab is not None:
            return lab
        if process.poll() is not None or time.monotonic() > deadline:
            Lab("", token, store_root, root, process, log).stop()
            raise RuntimeError(f"jupyter lab did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.3)


def _answering(
    process: subprocess.Popen, runtime: Path, token: str, store_root: Path, root: Path, log: Path
) -> Lab | None:
    """The started server once it has written its port to its runtime file and answers /api/status."""
    info = runtime / f"jpserver-{process.pid}.json"
    try:
        port = json.loads(info.read_text())["port"]
    except (OSError, ValueError, KeyError):  # not written yet, or half written
        return None
    lab = Lab(f"http://127.0.0.1:{port}/", token, store_root, root, process, log)
    try:
        req = urllib.request.Request(f"{lab.url}api/status", headers={"Authorization": f"token {token}"})
        urllib.request.urlopen(req, timeout=5).read()
    except OSError:
        return None
    return lab
