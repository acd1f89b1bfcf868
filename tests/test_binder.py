"""binder/ installs nbtrack the way the README does, and seeds a store so the sidebar is not empty."""

from __future__ import annotations

import os
import re
import shlex
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BINDER = ROOT / "binder"


def _readme_pip_targets() -> list[str]:
    """What the README's install command installs: the arguments of `pip install` that are not options."""
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```(?:bash|sh|shell)\n(.*?)```", readme, re.S)
    for block in blocks:
        for command in re.split(r"&&|;|\n", block):
            words = shlex.split(command)
            if len(words) > 2 and words[0].endswith("pip") and words[1] == "install":
                return [w for w in words[2:] if not w.startswith("-")]
    raise AssertionError("the README has no `pip install` command in a bash block")


def _requirements(path: Path) -> list[str]:
    return [line.split("#")[0].strip() for line in path.read_text().splitlines() if line.split("#")[0].strip()]


def test_binder_installs_nbtrack_like_the_readme():
    readme_targets = _readme_pip_targets()
    assert readme_targets == ["."]
    assert _requirements(BINDER / "requirements.txt") == readme_targets


def test_the_local_requirement_is_this_package():
    # repo2docker runs pip from the repository root, where "." is nbtrack's own pyproject.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == "nbtrack"
    assert project["scripts"]["nbtrack"] == "nbtrack.cli:main"


def test_post_build_checks_the_install_and_seeds_the_store():
    script = BINDER / "postBuild"
    assert os.access(script, os.X_OK), "repo2docker runs postBuild only when it is executable"
    text = script.read_text()
    assert text.startswith("#!/bin/bash") and "set -euo pipefail" in text
    commands = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    assert "nbtrack doctor" in commands  # a broken sidebar fails the build
    assert any(c.startswith("nbtrack demo") for c in commands)


def test_post_build_commands_exist_in_the_cli():
    from click.testing import CliRunner

    from nbtrack.cli import main

    for command in ["doctor", "demo"]:
        assert command in main.commands
        assert CliRunner().invoke(main, [command, "--help"]).exit_code == 0
