"""Build hook: the JupyterLab sidebar (``labextension/`` -> ``src/nbtrack/labextension``) goes into the wheel.

- A sidebar already built and newer than its sources (an sdist, a previous build) is packed as is: no node.
- Otherwise, with node ``^20.19 || >=22.12`` (what the bundler, @rspack/core 2.2, accepts): ``jlpm install``
  and ``jlpm build:prod`` (``build`` for editable installs), their output on stderr, so ``pip install -v .``
  shows each step. Plain ``pip install`` hides a build's output and shows only its spinner, so the hook's
  own progress lines (which step, how long it takes, the no-node line) go to the terminal (``/dev/tty``)
  when there is one.
- Without a suitable node: one line on stderr naming the fix, and a wheel with everything but the sidebar;
  ``nbtrack doctor`` then reports the lab extension as not installed.

Build output stays in git-ignored places: ``labextension/node_modules``, ``labextension/lib``,
``src/nbtrack/labextension``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

BUILT = "src/nbtrack/labextension"
SOURCES = ("labextension/src", "labextension/style", "labextension/package.json", "labextension/yarn.lock")
NODE_FIX = "install node >= 20.19 (Debian 12's nodejs is 18: use nodejs.org or NodeSource), then `pip install .` again"


def node_problem() -> str | None:
    """Why the node on PATH cannot build the sidebar, or None when it can."""
    node = shutil.which("node")
    if node is None:
        return "no node on PATH"
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError) as error:
        return f"`node --version` failed ({error})"
    match = re.match(r"v?(\d+)\.(\d+)", out)
    if match is None:
        return f"`node --version` printed {out!r}"
    major, minor = int(match[1]), int(match[2])
    if (major == 20 and minor >= 19) or (major == 22 and minor >= 12) or major >= 23:
        return None
    return f"node {out} is too old (the sidebar's bundler needs ^20.19 or >= 22.12)"


def _newest_mtime(paths: list[Path]) -> float:
    newest = 0.0
    for path in paths:
        files = path.rglob("*") if path.is_dir() else [path]
        newest = max([newest, *(f.stat().st_mtime for f in files if f.is_file())])
    return newest


def _up_to_date(root: Path) -> bool:
    marker = root / BUILT / "static" / "style.js"
    if not marker.is_file() or not (root / BUILT / "package.json").is_file():
        return False
    sources = [root / s for s in SOURCES if (root / s).exists()]
    return marker.stat().st_mtime >= _newest_mtime(sources)


def _say(message: str) -> None:
    """A progress line the user sees: on the terminal itself when there is one (pip captures a build's
    stderr and shows it only with ``-v``), else on stderr."""
    line = f"nbtrack build: {message}"
    try:
        with open("/dev/tty", "w") as tty:
            tty.write(f"\n{line}\n")
            return
    except OSError:  # no controlling terminal (CI, a service): stderr, shown by `pip install -v`
        print(line, file=sys.stderr, flush=True)


def _jlpm() -> list[str]:
    found = shutil.which("jlpm")
    return [found] if found else [sys.executable, "-m", "jupyter_builder.jlpm"]


class SidebarBuildHook(BuildHookInterface):
    """Builds the sidebar when it can, and adds it to the wheel's shared data when it exists."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name not in ("wheel", "sdist"):
            return
        root = Path(self.root)
        if not _up_to_date(root):
            problem = node_problem()
            if problem is None:
                self._build(root, "build" if version == "editable" else "build:prod")
            elif (root / BUILT / "package.json").is_file():
                _say(f"{problem}: packing the sidebar built earlier, older than labextension/ ({NODE_FIX} to rebuild)")
            else:
                _say(f"installing without the JupyterLab sidebar: {problem}; {NODE_FIX}")
        if self.target_name == "wheel" and (root / BUILT / "package.json").is_file():
            build_data["shared_data"][str(root / BUILT)] = "share/jupyter/labextensions/nbtrack"

    def _build(self, root: Path, command: str) -> None:
        cwd = root / "labextension"
        steps = [["install"], ["run", command]]
        _say("building the JupyterLab sidebar (about 1-2 min; `pip install -v` shows the steps)")
        for number, step in enumerate(steps, 1):
            _say(f"step {number}/{len(steps)}: jlpm {' '.join(step)}")
            # stdout goes to stderr too: a build backend's stdout is not the place for progress.
            result = subprocess.run([*_jlpm(), *step], cwd=cwd, stdout=sys.stderr)
            if result.returncode != 0:
                raise RuntimeError(
                    f"building the sidebar failed at `jlpm {' '.join(step)}` in {cwd} (exit {result.returncode}); "
                    "`pip install -v .` shows its output: fix what it says, then install again"
                )
        if not (root / BUILT / "package.json").is_file():
            raise RuntimeError(f"`jlpm run {command}` wrote no {BUILT}/package.json: check labextension/package.json")
        _say("sidebar built")
