"""What the code ran on: Python, platform, installed packages, git commit, branch and dirty diff.

Capturing packages and git state costs tens of milliseconds, so the result is cached per process and
refreshed in a background thread once it is ``REFRESH_S`` seconds old (a run records the environment
read at most that long, plus one refresh, before it starts); identical environments are stored once
(content-addressed).
"""

from __future__ import annotations

import json
import os
import pathlib
import platform
import re
import subprocess
import sys
import threading
import time

from nbtrack.store.blobs import hash_bytes

REFRESH_S = 30.0
MAX_DIFF_BYTES = 1 << 20

_cache: dict[str, tuple[float, dict]] = {}
_refreshing: set[str] = set()
_lock = threading.Lock()


def capture(cwd: str | None = None) -> dict:
    """The environment of this process as a JSON-ready dict. The first call in a folder reads it; later
    calls return the cached one, and once it is older than ``REFRESH_S`` seconds a background thread
    reads it again (so a tracked cell never waits for ``git`` or the package scan after the first)."""
    cwd = cwd or os.getcwd()
    with _lock:
        hit = _cache.get(cwd)
        if hit is not None:
            if time.monotonic() - hit[0] >= REFRESH_S and cwd not in _refreshing:
                _refreshing.add(cwd)
                threading.Thread(target=_refresh, args=(cwd,), name="nbtrack-environment", daemon=True).start()
            return hit[1]
    return _refresh(cwd)


def _refresh(cwd: str) -> dict:
    try:
        env = {
            "python": sys.version.split()[0],
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
            "platform": platform.platform(),
            "machine": platform.machine(),
            "packages": installed_packages(),
            "git": git_state(cwd),
        }
        with _lock:
            _cache[cwd] = (time.monotonic(), env)
        return env
    finally:
        with _lock:
            _refreshing.discard(cwd)


_user: list[str | None] = []


def user() -> str | None:
    """Who makes the runs of this process: ``NBTRACK_USER`` if set, else git's ``user.email`` (or
    ``user.name``), else the OS user; read once per process."""
    if os.environ.get("NBTRACK_USER"):
        return os.environ["NBTRACK_USER"]
    if not _user:
        _user.append(_git_user() or os_user())
    return _user[0]


def _git_user() -> str | None:
    for key in ("user.email", "user.name"):
        try:
            done = subprocess.run(["git", "config", "--get", key], capture_output=True, text=True, timeout=5)
        except (OSError, subprocess.SubprocessError):
            return None
        if done.returncode == 0 and done.stdout.strip():
            return done.stdout.strip()
    return None


def os_user() -> str | None:
    """The OS account running this process (the model registry's alias history records it)."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no USER/LOGNAME (some containers)
        return os.environ.get("USER")


def to_json(env: dict) -> str:
    return json.dumps(env, sort_keys=True, separators=(",", ":"))


_stored: dict[int, tuple[dict, str, str]] = {}


def capture_stored(cwd: str | None = None) -> tuple[str, str]:
    """``(hash, json)`` of :func:`capture`, serialised once per captured environment."""

    env = capture(cwd)
    hit = _stored.get(id(env))
    if hit is None or hit[0] is not env:
        text = to_json(env)
        _stored.clear()
        _stored[id(env)] = hit = (env, hash_bytes(text.encode()), text)
    return hit[1], hit[2]


def installed_packages() -> dict[str, str]:
    """``{name: version}`` of the installed distributions, names normalized as PyPI does
    (``scikit-learn``, ``jupyter-server``).

    Read from the ``NAME-VERSION.dist-info`` folder names on ``sys.path`` (about 1 ms) instead of
    parsing every METADATA file (about 0.3 s of CPU, paid by each kernel's first tracked cell);
    only folders whose name does not carry a version fall back to their metadata.
    """
    packages: dict[str, str] = {}
    for folder in sys.path:
        try:
            entries = os.scandir(folder or ".")
        except OSError:
            continue
        with entries:
            for entry in entries:
                found = _name_version(entry)
                if found and found[0] not in packages:  # the first on sys.path is the one imported
                    packages[found[0]] = found[1]
    return dict(sorted(packages.items()))


def _name_version(entry: os.DirEntry) -> tuple[str, str] | None:
    stem, dot, suffix = entry.name.rpartition(".")
    if suffix not in ("dist-info", "egg-info") or not dot:
        return None
    name, _, version = stem.partition("-")
    if not version or suffix == "egg-info":
        from importlib import metadata

        try:
            dist = metadata.PathDistribution(pathlib.Path(entry.path))
            declared = dist.metadata.get("Name")  # pyright: ignore[reportAttributeAccessIssue]  # stubs omit it before 3.12
            name, version = declared or name, dist.version
        except Exception:  # a broken metadata folder must not stop a run
            return None
        if not version:
            return None
    return re.sub(r"[-_.]+", "-", name).lower(), version


def git_state(cwd: str) -> dict | None:
    """Commit, branch and the dirty diff (bounded) of the git work tree holding ``cwd``, or None."""
    status = _git(cwd, "status", "--porcelain=v2", "--branch", "--untracked-files=no")
    if status is None:
        return None
    commit = branch = None
    dirty = False
    for line in status.splitlines():
        if line.startswith("# branch.oid "):
            commit = line.split()[-1]
        elif line.startswith("# branch.head "):
            branch = line.split()[-1]
        elif line and not line.startswith("#"):
            dirty = True
    if commit == "(initial)":
        commit = None
    diff = (_git(cwd, "diff", "HEAD") or "") if dirty and commit else ""
    truncated = len(diff.encode()) > MAX_DIFF_BYTES
    return {
        "commit": commit,
        "branch": None if branch == "(detached)" else branch,
        "dirty": dirty,
        "diff": diff.encode()[:MAX_DIFF_BYTES].decode(errors="ignore"),
        "diff_truncated": truncated,
    }


def _git(cwd: str, *args: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout if result.returncode == 0 else None
