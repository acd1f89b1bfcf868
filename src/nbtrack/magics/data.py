"""``%track snapshot``, ``%track diff`` and ``%track data`` (handlers of the magics' dispatch table).

Each handler is ``handler(shell, argstring)``: parse, call ``nbtrack.data``, return what to display.
"""

from __future__ import annotations

import nbtrack.data as data
from nbtrack.data import diff, snapshot
from nbtrack.magics import subcommands

_PARSERS: dict = {}


def _parser(name: str, build):
    if name not in _PARSERS:
        _PARSERS[name] = build()
    return _PARSERS[name]


def _snapshot_parser():
    p = subcommands.parser("snapshot", "Store a DataFrame variable as the next version of a dataset.")
    p.add_argument("variable", help="name of the DataFrame variable")
    p.add_argument("name", nargs="?", default=None, help="dataset name (default: the variable name)")
    p.add_argument("--key", action="append", default=None, help="key column (repeat for several)")
    p.add_argument("-m", "--message", default=None)
    return p


def snapshot_command(shell, argstring: str):
    """%track snapshot df [NAME] [--key COL] [-m MESSAGE]"""
    from IPython.core.error import UsageError

    args = subcommands.parse(_parser("snapshot", _snapshot_parser), argstring)
    if args.variable not in shell.user_ns:
        raise UsageError(f"No variable {args.variable!r} in the notebook: %track snapshot VARIABLE [NAME].")
    key = args.key[0] if args.key and len(args.key) == 1 else args.key
    version = snapshot(shell.user_ns[args.variable], args.name or args.variable, key=key, message=args.message)
    if version.unchanged:
        kept = f"; message added to it: {args.message!r}" if args.message else ""
        print(f"nbtrack: {version.name}@{version.version} unchanged (same content, nothing written){kept}")
    else:
        print(f"nbtrack: {version} ({version.storage}, {version.bytes_added} bytes added)")
    return None


def _diff_parser():
    p = subcommands.parser("diff", "Compare two versions of a dataset.")
    p.add_argument("name")
    p.add_argument("a", nargs="?", default=None)
    p.add_argument("b", nargs="?", default=None)
    p.add_argument("--key", default=None)
    return p


def diff_command(shell, argstring: str):
    """%track diff NAME [A] [B] [--key COL]"""

    args = subcommands.parse(_parser("diff", _diff_parser), argstring)
    return diff(args.name, args.a, args.b, key=args.key)


def _data_parser():
    p = subcommands.parser("data", "List datasets, the versions of one, or load one.")
    p.add_argument("action", nargs="?", default="list", choices=["list", "versions", "load", "lineage"])
    p.add_argument("target", nargs="?", default=None, help="NAME, NAME@V or a run id")
    return p


def data_command(shell, argstring: str):
    """%track data [list | versions NAME | load NAME[@V] | lineage NAME@V|RUN]"""
    from IPython.core.error import UsageError

    args = subcommands.parse(_parser("data", _data_parser), argstring)
    if args.action == "list":
        return data.datasets()
    if not args.target:
        raise UsageError(f"%track data {args.action} needs a dataset name (or NAME@V).")
    if args.action == "versions":
        return data.versions(args.target)
    if args.action == "load":
        return data.load(args.target)
    return data.lineage(args.target).to_dict()
