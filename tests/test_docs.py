"""Every public function and CLI command is documented, in its docstring and in docs/."""

from pathlib import Path

import click
import pytest

import nbtrack
from nbtrack.cli import main

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _commands(group: click.Group, prefix=""):
    for name, command in group.commands.items():
        yield prefix + name, command
        if isinstance(command, click.Group):
            yield from _commands(command, prefix + name + " ")


@pytest.mark.parametrize("name", [n for n in nbtrack.__all__ if not n.startswith("_")])
def test_public_names_have_docstrings_and_appear_in_api_docs(name):
    obj = getattr(nbtrack, name)
    if name == "__version__":
        return
    assert (obj.__doc__ or "").strip(), f"nbtrack.{name} has no docstring"
    api_docs = "".join(p.read_text() for p in DOCS.glob("*.md"))
    assert f"`{name}" in api_docs or f"nbtrack.{name}" in api_docs, f"nbtrack.{name} is not in docs/"


@pytest.mark.parametrize("name, command", list(_commands(main)))
def test_cli_commands_have_help_with_an_example_and_appear_in_cli_docs(name, command):
    help_text = command.help or ""
    assert help_text.strip(), f"`nbtrack {name}` has no help"
    if not isinstance(command, click.Group):
        assert "Example" in help_text, f"`nbtrack {name} --help` shows no example"
    assert f"nbtrack {name}" in (DOCS / "cli.md").read_text(), f"`nbtrack {name}` is missing from docs/cli.md"


def test_cli_reference_is_generated_from_the_current_help():
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen_cli_reference", DOCS / "gen_cli_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (DOCS / "cli.md").read_text() == module.render(), (
        "docs/cli.md is stale: run python docs/gen_cli_reference.py"
    )


def test_cli_examples_are_one_command_per_line():
    """click rewraps a help paragraph: several example lines need a \\b line before them, or --help (and
    docs/cli.md) runs them together on one line."""
    import re

    joined = [line for line in (DOCS / "cli.md").read_text().splitlines() if re.search(r"\S\s{2,}nbtrack \w", line)]
    assert joined == [], "put \\b before these examples in the command's docstring:\n" + "\n".join(joined)
