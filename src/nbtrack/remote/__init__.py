"""Remotes: a team shares one history through object storage, with no server to run.

``add_remote`` / ``remotes`` / ``remove_remote`` keep a store's remotes (a name and an fsspec URL:
``file://`` folders, ``s3://`` and whatever else fsspec reaches); ``push``, ``pull`` and ``sync`` move
runs, data versions, experiments and the model registry; ``check_remote`` reads everything on a remote
back against its hashes. The remote's layout and guarantees are in ``_transfer.py`` and docs/team.md.
"""

from nbtrack.remote._config import add_remote, remotes, remove_remote
from nbtrack.remote._transfer import CheckReport, PullReport, PushReport, check_remote, pull, push, sync

__all__ = [
    "CheckReport",
    "PullReport",
    "PushReport",
    "add_remote",
    "check_remote",
    "pull",
    "push",
    "remotes",
    "remove_remote",
    "sync",
]
