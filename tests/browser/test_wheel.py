"""The one wheel carries the built sidebar and the server-extension config, so users need no node."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest
from browser_lab import BUILT_EXTENSION, REPO

pytestmark = pytest.mark.slow


def test_wheel_ships_labextension_and_server_config(tmp_path):
    if not (BUILT_EXTENSION / "package.json").exists():
        pytest.fail(
            "the labextension is not built: jlpm --cwd labextension install && jlpm --cwd labextension build:prod"
        )
    # No build isolation: the hook finds the built extension (skip-if-exists) and only packs it.
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation", "-w", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("nbtrack-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    data = [n.split(".data/data/", 1)[1] for n in names if ".data/data/" in n]
    assert "share/jupyter/labextensions/nbtrack/package.json" in data
    assert any(n.startswith("share/jupyter/labextensions/nbtrack/static/remoteEntry.") for n in data)
    assert "etc/jupyter/jupyter_server_config.d/nbtrack.json" in data
    assert not any(n.startswith("nbtrack/labextension/") for n in names)  # shipped once, as data
