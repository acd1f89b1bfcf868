"""Write docs/cli.md from the commands' own --help (run: python docs/gen_cli_reference.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

HEADER = """# CLI reference

Generated from `nbtrack COMMAND --help` by `python docs/gen_cli_reference.py`; a test fails when this
file and the commands' help differ. Every command finds the store like git finds `.git`: `NBTRACK_HOME`,
else the nearest `.nbtrack/` folder upward from the working directory. Errors exit with status 1 and a
message that names the fix.

Shell completion (click): `eval "$(_NBTRACK_COMPLETE=bash_source nbtrack)"` in `~/.bashrc`
(`zsh_source` / `fish_source` for zsh and fish).
"""


def _walk(command: click.Command, path: list[str], parent: click.Context | None = None):
    # A context chained to its parent, as when the command runs: options such as -h are inherited.
    ctx = command.make_context(
        path[-1], [], parent=parent, resilient_parsing=True, terminal_width=100, max_content_width=100
    )
    yield path, command, ctx
    if isinstance(command, click.Group):
        for name in sorted(command.commands):
            yield from _walk(command.commands[name], path + [name], ctx)


def render() -> str:
    from nbtrack.cli import main

    parts = [HEADER]
    for path, command, ctx in _walk(main, ["nbtrack"]):
        parts.append(f"\n## `{' '.join(path)}`\n\n```text\n{command.get_help(ctx)}\n```\n")
    return "".join(parts)


if __name__ == "__main__":
    target = Path(__file__).with_name("cli.md")
    target.write_text(render())
    print(f"wrote {target}", file=sys.stderr)
