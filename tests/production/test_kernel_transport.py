"""Kernels of `nbtrack run` talk over Unix sockets in a private folder: no TCP warning reaches the user's
terminal, and nothing is left behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def _nbtrack_run(tmp_path: Path, tmpdir: Path) -> subprocess.CompletedProcess:
    """`nbtrack run` of a plain notebook in a process whose temporary folder is ``tmpdir``."""
    env = {**os.environ, "NBTRACK_HOME": str(tmp_path / ".nbtrack"), "TMPDIR": str(tmpdir)}
    command = [sys.executable, "-m", "nbtrack", "run", str(NOTEBOOKS / "prod_plain.ipynb")]
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


def test_nbtrack_run_prints_no_kernel_warning_and_leaves_no_sockets(tmp_path):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    result = _nbtrack_run(tmp_path, scratch)
    assert result.returncode == 0, result.stderr
    assert "ok in" in result.stdout
    assert "TCP" not in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert not [p.name for p in scratch.iterdir() if p.name.startswith("nbtrack-kernels-")]


def test_a_long_temporary_folder_does_not_stop_the_kernel(tmp_path):
    """A socket path past the Unix limit (107 bytes) fails the kernel's start: with a TMPDIR that long, the
    sockets go to a private folder in /tmp instead."""
    scratch = tmp_path / ("deep-" + "t" * 60) / ("er-" + "m" * 60)
    scratch.mkdir(parents=True)
    result = _nbtrack_run(tmp_path, scratch)
    assert result.returncode == 0, result.stderr
    assert "ok in" in result.stdout
