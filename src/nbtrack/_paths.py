"""Checking a file path the user named for nbtrack to write (``-o``/``output=``) before any work is done."""

from __future__ import annotations

import os
from pathlib import Path

from nbtrack.errors import InvalidValueError, NbtrackError


def check_output_path(path: str | os.PathLike, what: str = "output") -> Path:
    """The absolute path to write ``what`` to, or an :class:`InvalidValueError` naming the fix.

    Refused: an empty name, a NUL byte, a name longer than the file system takes, a folder, a folder
    that does not exist, and any path inside an nbtrack store (directly, through a symlink or with
    ``..``), where the file would overwrite the database or a blob.
    """
    text = os.fspath(path)
    if not text or "\x00" in text:
        raise InvalidValueError(f"{what} path {text!r} is not a file name: give a path such as out/{what}.file.")
    target = Path(os.path.abspath(text))
    if any(len(part.encode()) > 255 for part in target.parts) or len(str(target).encode()) > 4000:
        raise InvalidValueError(f"{what} path {text[:60]!r}... is too long for the file system: choose a shorter name.")
    real = target.parent.resolve() / target.name
    if real.is_symlink():
        real = real.resolve()
    for folder in (real, *real.parents):
        if (folder / "nbtrack.db").is_file() and (folder / "objects").is_dir():
            raise InvalidValueError(
                f"{what} path {text!r} is inside the nbtrack store {folder}: writing there would overwrite the "
                "store's database or blobs. Choose a path outside the store."
            )
    if target.is_dir():
        raise InvalidValueError(f"{what} path {text!r} is a folder: give a file name inside it.")
    if not target.parent.is_dir():
        raise InvalidValueError(f"The folder of {what} path {text!r} does not exist: create {target.parent} first.")
    return target


def write_error(error: OSError, path: str | os.PathLike, what: str = "output") -> NbtrackError:
    """A clear error for a failed write of a file the user named."""
    reason = error.strerror or str(error)
    return NbtrackError(f"Could not write the {what} to {os.fspath(path)!r} ({reason}): choose a writable path.")
