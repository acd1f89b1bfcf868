"""Installing nbtrack: never from a package index (it is not published), and without node all but the sidebar."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# `pip install nbtrack`, `pip install -U nbtrack`, `pip install 'nbtrack[mlflow]'`, `pip install nbtrack==0.2`...
FROM_INDEX = re.compile(r"pip3? install\s+(?:-{1,2}[\w-]+\s+)*['\"]?nbtrack(?![\w.*/-]*\.whl)\b")
SHIPPED = ["README.md", "docs", "src", "labextension/src", "binder", "notebooks", "pyproject.toml"]
SUFFIXES = {".md", ".py", ".ts", ".tsx", ".json", ".yml", ".yaml", ".toml", ".ipynb", ".txt", ""}


def _shipped_files():
    for top in SHIPPED:
        path = REPO / top
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in files:
            rel = file.relative_to(REPO).as_posix()
            # src/nbtrack/labextension is the build output of labextension/src (scanned itself); skip caches
            if rel.startswith("src/nbtrack/labextension/") or "__pycache__" in rel or file.suffix not in SUFFIXES:
                continue
            yield rel, file


def test_no_text_tells_users_to_install_nbtrack_from_a_package_index():
    hits = []
    for rel, file in _shipped_files():
        for number, line in enumerate(file.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if FROM_INDEX.search(line):
                hits.append(f"{rel}:{number}: {line.strip()}")
    assert hits == [], "nbtrack is not on PyPI: say `pip install .` in the checkout, or a wheel:\n" + "\n".join(hits)


def test_the_pattern_catches_what_it_is_for():
    for text in [
        "pip install nbtrack",
        "pip install -U nbtrack",
        "pip install 'nbtrack[dask]'",
        'pip install "nbtrack"',
    ]:
        assert FROM_INDEX.search(text), text
    for text in ["pip install .", "pip install '.[dask]'", "pip install dist/nbtrack-0.2.0-py3-none-any.whl"]:
        assert not FROM_INDEX.search(text), text


# ---- the build hook without a suitable node -------------------------------------------------------------


def _source_tree(tmp_path: Path) -> Path:
    """A copy of the files git tracks, plus the (maybe uncommitted) build hook: a fresh clone, no build output."""
    tree = tmp_path / "src-tree"
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    for rel in filter(None, listed.decode().split("\0")):
        source = REPO / rel
        if source.is_file():
            (tree / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, tree / rel)
    for rel in ("hatch_build.py", "pyproject.toml"):
        shutil.copy2(REPO / rel, tree / rel)
    return tree


def _build_wheel(tree: Path, path_dirs: list[Path]) -> tuple[Path, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PATH", "VIRTUAL_ENV")}
    env["PATH"] = os.pathsep.join(map(str, path_dirs))
    assert shutil.which("node", path=env["PATH"]) in (None, str(path_dirs[0] / "node"))
    done = subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tree / "dist")],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        start_new_session=True,  # no controlling terminal: the hook's lines go to stderr, not /dev/tty
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = (tree / "dist").glob("nbtrack-*.whl")
    return wheel, done.stderr


def _check_wheel_without_sidebar(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "nbtrack/cli/main.py" in names and "nbtrack/_demo/wine.ipynb" in names
    data = [n.split(".data/data/", 1)[1] for n in names if ".data/data/" in n]
    assert data == ["etc/jupyter/jupyter_server_config.d/nbtrack.json"]  # everything but the sidebar


def test_build_without_node_installs_everything_but_the_sidebar_and_says_so(tmp_path):
    tree = _source_tree(tmp_path)
    wheel, stderr = _build_wheel(tree, [Path(sys.executable).parent])
    _check_wheel_without_sidebar(wheel)
    lines = [line for line in stderr.splitlines() if line.startswith("nbtrack build:")]
    assert lines == [
        "nbtrack build: installing without the JupyterLab sidebar: no node on PATH; install node >= 20.19 "
        "(Debian 12's nodejs is 18: use nodejs.org or NodeSource), then `pip install .` again"
    ]
    assert "Traceback" not in stderr
    assert not (tree / "src/nbtrack/labextension").exists() and not (tree / "labextension/node_modules").exists()

    # installed into a venv of its own (this environment's packages on its path, but not its editable nbtrack:
    # .pth files in a directory a .pth names are not read), the doctor reports the missing sidebar
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], capture_output=True, text=True
    ).stdout.strip()
    deps = subprocess.run(
        [sys.executable, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], capture_output=True, text=True
    ).stdout.strip()
    Path(site, "deps.pth").write_text(deps + "\n")
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--force-reinstall", str(wheel)],
        check=True,
        timeout=300,
    )
    env = {**os.environ, "PATH": f"{env_dir / 'bin'}{os.pathsep}{os.environ['PATH']}", "NBTRACK_HOME": str(tmp_path)}
    env.pop("JUPYTER_PATH", None)
    doctor = subprocess.run(
        [env_dir / "bin" / "nbtrack", "doctor"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120
    )
    assert str(env_dir) in doctor.stdout  # the nbtrack of the wheel, not this checkout's
    assert "[BAD] lab extension: not installed (JupyterLab will show no nbtrack sidebar)" in doctor.stdout
    assert "fix: install node >= 20.19, then `pip install .` again in the nbtrack checkout" in doctor.stdout
    assert "[ok ] server extension: nbtrack enabled" in doctor.stdout
    assert doctor.returncode == 1


def test_plain_pip_in_a_terminal_shows_the_no_node_line(tmp_path):
    """pip hides a build's output unless -v: the hook's progress and no-node lines reach the terminal
    (util-linux's `script`, part of every Debian, gives pip one)."""
    tree = _source_tree(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("PATH", "VIRTUAL_ENV")}
    env["PATH"] = str(Path(sys.executable).parent)
    pip = f"{sys.executable} -m pip wheel -q --no-deps --no-build-isolation . -w {tmp_path / 'dist'}"
    done = subprocess.run(
        [shutil.which("script") or "/usr/bin/script", "-qec", pip, str(tmp_path / "typescript")],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        start_new_session=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "nbtrack build: installing without the JupyterLab sidebar: no node on PATH" in done.stdout


@pytest.mark.parametrize("version", ["v18.19.0", "v20.18.1", "v21.7.3", "v22.11.0"])
def test_build_with_a_too_old_node_says_which_and_skips_the_sidebar(tmp_path, version):
    tree = _source_tree(tmp_path)
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "node").write_text(f"#!/bin/sh\necho {version}\n")
    (fake / "node").chmod(0o755)
    wheel, stderr = _build_wheel(tree, [fake, Path(sys.executable).parent])
    _check_wheel_without_sidebar(wheel)
    assert f"nbtrack build: installing without the JupyterLab sidebar: node {version} is too old " in stderr
    assert "install node >= 20.19" in stderr


@pytest.mark.parametrize("version", ["v20.19.0", "v20.20.2", "v22.12.0", "v24.1.0"])
def test_node_versions_the_bundler_accepts(tmp_path, monkeypatch, version):
    (tmp_path / "node").write_text(f"#!/bin/sh\necho {version}\n")
    (tmp_path / "node").chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.syspath_prepend(str(REPO))
    import hatch_build

    assert hatch_build.node_problem() is None


def test_the_server_log_names_a_missing_sidebar_and_its_fix(monkeypatch):
    """Plain `pip install` hides the build's line: JupyterLab's log says it at start-up instead."""
    from nbtrack import doctor, server

    assert server.sidebar_warning() is None  # this environment has the sidebar
    missing = doctor.Check("lab extension", False, "not installed (JupyterLab will show no nbtrack sidebar)", "FIX")
    monkeypatch.setattr(doctor, "check_lab_extension", lambda: [missing])
    assert server.sidebar_warning() == (
        "nbtrack sidebar: not installed (JupyterLab will show no nbtrack sidebar); fix: FIX"
    )
