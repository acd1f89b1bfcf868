"""A store's remotes: ``nbtrack remote add NAME URL`` / ``list`` / ``remove``. Kept in the store (table
``remotes``): a name and a URL, never credentials (they come from the environment at each transfer)."""

from __future__ import annotations

import re
import time

from nbtrack.errors import RemoteError
from nbtrack.remote._folder import RemoteFolder, check_url
from nbtrack.store import StoreLike, resolve_store
from nbtrack.store import remotes as _dal

_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}")


def add_remote(name: str, url: str, *, store: StoreLike | None = None) -> str:
    """Add the remote ``name`` at ``url`` (a folder path or ``file://``, ``s3://bucket/prefix``, or any
    fsspec URL); returns the URL as stored. Nothing is sent until :func:`push`.

    Example::

        nbtrack.add_remote("origin", "s3://ml-team/churn")
    """
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise RemoteError(f"Remote name {name!r} is not valid: use letters, digits, _ . - (e.g. 'origin').")
    url = check_url(url)
    RemoteFolder(name, url)  # refuses a protocol fsspec cannot reach (a missing s3fs) before it is stored
    store = resolve_store(store)
    if _dal.remote_url(store, name) is not None:
        raise RemoteError(
            f"A remote named {name!r} exists already ({_dal.remote_url(store, name)}): pick another name, or "
            f"`nbtrack remote remove {name}` first."
        )
    with store.transaction() as conn:
        _dal.add_remote(conn, name, url, time.time())
    return url


def remotes(*, store: StoreLike | None = None) -> dict[str, str]:
    """``{name: url}`` of the store's remotes."""
    return {name: url for name, url, _ in _dal.all_remotes(resolve_store(store))}


def remove_remote(name: str, *, store: StoreLike | None = None) -> None:
    """Forget the remote ``name`` (nothing on the remote is touched)."""
    store = resolve_store(store)
    with store.transaction() as conn:
        removed = _dal.remove_remote(conn, name)
    if not removed:
        raise RemoteError(_unknown(name, store))


def _unknown(name: str, store) -> str:
    known = ", ".join(n for n, _, _ in _dal.all_remotes(store)) or "none yet"
    return f"No remote named {name!r} (remotes: {known}): add one with `nbtrack remote add {name} URL`."


def open_remote(store, name: str | None) -> RemoteFolder:
    """The remote ``name``; without a name the only remote, or the one named ``origin``."""
    configured = {n: url for n, url, _ in _dal.all_remotes(store)}
    if name is None:
        if len(configured) == 1:
            name = next(iter(configured))
        elif "origin" in configured:
            name = "origin"
        elif not configured:
            raise RemoteError("This store has no remote: add one with `nbtrack remote add origin URL`.")
        else:
            raise RemoteError(
                f"This store has several remotes ({', '.join(sorted(configured))}) and none is named origin: "
                "name the one to use (`nbtrack push NAME`)."
            )
    if name not in configured:
        raise RemoteError(_unknown(name, store))
    return RemoteFolder(name, configured[name])
