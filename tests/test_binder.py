"""binder/ installs nbtrack the way the README does, gives the sidebar build what it needs, and seeds a store.

mybinder.org cannot be reached from the test machine: these tests check the files against repo2docker's
documented behaviour (see docs/interop.md, "Binder"); executing binder/postBuild itself from a clean copy
in a fresh venv was checked by hand (the same doc says how).
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest
import tomllib

yaml = pytest.importorskip("yaml", reason="pyyaml is a test dependency: pip install -e '.[test]'")

ROOT = Path(__file__).resolve().parent.parent
BINDER = ROOT / "binder"


def _pip_targets(commands) -> list[str]:
    """The arguments of the first `pip install` (or `python -m pip install`) that are not options."""
    for command in commands:
        words = shlex.split(command)
        if words[:2] == ["python", "-m"] or words[:2] == ["python3", "-m"]:
            words = words[2:]
        if len(words) > 2 and words[0].endswith("pip") and words[1] == "install":
            return [w for w in words[2:] if not w.startswith("-")]
    raise AssertionError("no `pip install` command found")


def _readme_pip_targets() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```(?:bash|sh|shell)\n(.*?)```", readme, re.S)
    return _pip_targets(c for block in blocks for c in re.split(r"&&|;|\n", block) if c.strip())


def _post_build_commands() -> list[str]:
    text = (BINDER / "postBuild").read_text()
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _environment() -> dict:
    return yaml.safe_load((BINDER / "environment.yml").read_text())


def test_binder_holds_only_what_repo2docker_should_use():
    # With binder/ present repo2docker ignores configuration files elsewhere; with environment.yml present
    # it would ignore a requirements.txt, so none is kept (it would mislead readers).
    assert sorted(p.name for p in BINDER.iterdir()) == ["environment.yml", "postBuild"]


def test_post_build_installs_nbtrack_like_the_readme():
    readme_targets = _readme_pip_targets()
    assert readme_targets == [".[demo]"]  # nbtrack with what the demo needs (scikit-learn, matplotlib)
    commands = _post_build_commands()
    assert _pip_targets(commands) == readme_targets
    # repo2docker runs postBuild from the repository root, where "." is nbtrack's own pyproject.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == "nbtrack" and project["scripts"]["nbtrack"] == "nbtrack.cli:main"


def test_environment_has_python_and_node_for_the_sidebar_build_and_no_local_pip_paths():
    env = _environment()
    assert env["channels"] == ["conda-forge"]
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    assert "python=3.11" in conda  # what the suite runs on
    from packaging.specifiers import SpecifierSet

    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert "3.11" in SpecifierSet(requires)
    assert "pip" in conda
    node = [d for d in conda if d.startswith("nodejs")]
    # the sidebar's bundler (@rspack/core 2.2) needs node ^20.19 or >=22.12; built and tested with node 20
    assert node == ["nodejs>=20.19,<21"]
    # conda resolves a path in a `pip:` section from the file's folder, repo2docker's micromamba from the
    # working directory: the local install lives in postBuild instead.
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            assert not any(p.startswith((".", "/", "-e")) for p in dep.get("pip", []))


def test_post_build_checks_the_install_and_seeds_the_store():
    script = BINDER / "postBuild"
    assert os.access(script, os.X_OK), "repo2docker runs postBuild only when it is executable"
    text = script.read_text()
    assert text.startswith("#!/bin/bash") and "set -euo pipefail" in text
    commands = _post_build_commands()
    install = next(i for i, c in enumerate(commands) if "pip install" in c)
    doctor = commands.index("nbtrack doctor")  # a broken sidebar fails the build
    demo = next(i for i, c in enumerate(commands) if c.startswith("nbtrack demo"))
    assert install < doctor < demo


def test_post_build_commands_exist_in_the_cli():
    from click.testing import CliRunner

    from nbtrack.cli import main

    for command in _post_build_commands():
        words = shlex.split(command)
        if words[0] != "nbtrack":
            continue
        assert words[1] in main.commands
        result = CliRunner().invoke(main, [*words[1:], "--help"])
        assert result.exit_code == 0, result.output
