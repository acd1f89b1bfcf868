"""``%track push`` and ``%track pull`` (handlers of the magics' dispatch table): parse, call
:mod:`nbtrack.remote`, print its report."""

from __future__ import annotations

from nbtrack import remote
from nbtrack.magics import subcommands

_PARSERS: dict = {}


def _parser(name: str, description: str, verify: bool = False):
    if name not in _PARSERS:
        p = subcommands.parser(name, description)
        p.add_argument("remote", nargs="?", default=None, help="the remote's name (default: the only one, or origin)")
        if verify:
            p.add_argument("--verify", action="store_true", help="check each object is on the remote")
        _PARSERS[name] = p
    return _PARSERS[name]


def push_command(shell, argstring: str):
    """%track push [REMOTE] [--verify]"""
    args = subcommands.parse(_parser("push", "Send this store's new runs, data and models.", verify=True), argstring)
    print(remote.push(args.remote, verify=args.verify))


def pull_command(shell, argstring: str):
    """%track pull [REMOTE]"""
    args = subcommands.parse(_parser("pull", "Bring in what was pushed to a remote."), argstring)
    print(remote.pull(args.remote))
