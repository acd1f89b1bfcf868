"""The ``%track <subcommand>`` dispatch table.

Each entry maps a subcommand name to ``"module:function"``; the module is imported only when the
subcommand is used, so ``%load_ext nbtrack`` stays fast. A handler is called as
``handler(shell, argstring)`` and returns an object to display (or None). Parse ``argstring`` with
:func:`parser` so bad options raise IPython's ``UsageError``.

To add a subcommand, add one line here (the data engineer adds ``snapshot``, ``data`` and ``diff``
from ``nbtrack.data``) and describe it in the ``%track`` docstring in ``magic.py``.
"""

from __future__ import annotations

import importlib

SUBCOMMANDS: dict[str, str] = {
    "runs": "nbtrack.magics.views:runs_command",
    "show": "nbtrack.magics.views:show_command",
    "compare": "nbtrack.magics.views:compare_command",
    "snapshot": "nbtrack.magics.data:snapshot_command",
    "data": "nbtrack.magics.data:data_command",
    "diff": "nbtrack.magics.data:diff_command",
    "models": "nbtrack.magics.models:models_command",
    "monitor": "nbtrack.magics.models:monitor_command",
    "open": "nbtrack.magics.workspace:open_command",
    "push": "nbtrack.magics.remote:push_command",
    "pull": "nbtrack.magics.remote:pull_command",
}


def resolve(name: str):
    """The handler function for subcommand ``name`` (KeyError if unknown)."""
    module, _, function = SUBCOMMANDS[name].partition(":")
    return getattr(importlib.import_module(module), function)


def parser(prog: str, description: str = ""):
    """An argparse parser whose errors are IPython UsageErrors (use for subcommand options)."""
    from IPython.core.magic_arguments import MagicArgumentParser

    return MagicArgumentParser(prog=f"%track {prog}", description=description, add_help=False)


def split(argstring: str) -> list[str]:
    """Shell-like split (quotes removed); unbalanced quotes are a UsageError."""
    from IPython.core.error import UsageError
    from IPython.utils.process import arg_split  # pyright: ignore[reportPrivateImportUsage]  # its documented home

    try:
        return arg_split(argstring, posix=True, strict=True)
    except ValueError as error:
        raise UsageError(f"Cannot split the options {argstring!r} ({error}): check the quotes.") from None


def parse(parser_, argstring: str):
    """Parse ``argstring`` with a parser from :func:`parser` (UsageError on bad options).

    An option that takes one value accepts a value starting with ``-`` (``--order-by -metrics.acc``).
    """
    argv = split(argstring)
    merged: list[str] = []
    index = 0
    while index < len(argv):
        token = argv[index]
        action = parser_._option_string_actions.get(token)
        takes_one = (
            action is not None
            and action.nargs is None
            and action.const is None
            and not isinstance(action.default, bool)
        )
        if takes_one and index + 1 < len(argv) and argv[index + 1].startswith("-"):
            merged.append(f"{token}={argv[index + 1]}")
            index += 2
            continue
        merged.append(token)
        index += 1
    return parser_.parse_args(merged)
