"""The extension as Jupyter discovers it: nbtrack.json enables it, `jupyter server extension list` validates it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbtrack

CONFIG = Path(__file__).resolve().parents[2] / "jupyter-config" / "server-config" / "nbtrack.json"


def test_extension_points_name_the_server_module():
    assert nbtrack._jupyter_server_extension_points() == [{"module": "nbtrack.server"}]


def test_server_extension_list_shows_nbtrack_enabled_and_valid(tmp_path):
    config_dir = tmp_path / "config"
    (config_dir / "jupyter_server_config.d").mkdir(parents=True)
    shutil.copy(CONFIG, config_dir / "jupyter_server_config.d" / "nbtrack.json")
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(config_dir), "NO_COLOR": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "jupyter", "server", "extension", "list"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    output = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)
    ours = output.split(f"Config dir: {config_dir}", 1)[1].split("Config dir:", 1)[0]
    assert "nbtrack enabled" in ours
    assert f"nbtrack {nbtrack.__version__} OK" in ours
