"""One remote's folder through fsspec: list, read checked against a content hash, write once.

Every name on a remote is the xxh3-128 hash of its bytes, so a write never replaces anything: a name that
exists already holds the same bytes (skipped), and a reader checks what it downloaded against the name.
On a local or mounted folder (``file://``) a file is written to ``.tmp-*`` beside its name, fsynced, and
hard-linked into place (a link never replaces an existing file; renamed where links are not supported),
so a killed push leaves at most a temporary file that readers skip; object stores (S3, GCS, Azure) make
a PUT visible whole or not at all.
"""

from __future__ import annotations

import errno
import os
import posixpath
import tempfile
import urllib.parse
from typing import Any

from nbtrack.errors import CorruptRemoteObjectError, RemoteError
from nbtrack.store.blobs import hash_bytes

_LOCAL = {"file", "local"}


def check_url(url: str) -> str:
    """The URL as stored: a plain path becomes ``file://`` + its absolute path; credentials are refused."""
    if not isinstance(url, str) or not url.strip():
        raise RemoteError("A remote needs a URL: a folder (file:///srv/nbtrack or a path), s3://bucket/prefix, ...")
    if "://" not in url:
        return "file://" + os.path.abspath(os.path.expanduser(url))
    parts = urllib.parse.urlsplit(url)
    if parts.password or parts.username or parts.query:
        raise RemoteError(
            f"The remote URL {parts.scheme}://{parts.hostname}{parts.path} carries credentials or options: "
            "nbtrack never stores them. Give the URL alone and set credentials the usual way (for S3: "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or ~/.aws/credentials, AWS_ENDPOINT_URL for other services)."
        )
    return url


class RemoteFolder:
    """The folder at ``url``; opening it touches nothing on the remote."""

    def __init__(self, name: str, url: str):
        import fsspec

        self.name = name
        self.url = url
        try:
            fs, root = fsspec.core.url_to_fs(url)
        except (ImportError, ValueError) as error:
            scheme = url.split("://", 1)[0]
            package = {"s3": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs", "abfs": "adlfs"}.get(scheme)
            hint = f"`pip install {package}`" if package else "install the fsspec implementation of that protocol"
            raise RemoteError(f"Cannot reach remote {name!r} ({url}): {error}. {hint}, then try again.") from None
        self.fs: Any = fs
        self.root = root.rstrip("/")
        protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
        self.local = protocol in _LOCAL

    def path(self, *parts: str) -> str:
        return posixpath.join(self.root, *parts)

    def _error(self, error: Exception, doing: str) -> RemoteError:
        return RemoteError(f"Could not {doing} remote {self.name!r} ({self.url}): {error}. {_advice(error)}")

    def list(self, folder: str) -> list[str]:
        """The names in ``folder`` (one listing, never cached), temporary files left out."""
        path = self.path(folder)
        try:
            self.fs.invalidate_cache(path)
            entries = self.fs.ls(path, detail=False)
        except FileNotFoundError:
            return []
        except OSError as error:
            raise self._error(error, f"list {folder}/ on") from error
        names = (posixpath.basename(e.rstrip("/")) for e in entries)
        return sorted(n for n in names if n and not n.startswith(".tmp-"))

    def exists(self, relative: str) -> bool:
        try:
            return bool(self.fs.exists(self.path(relative)))
        except OSError as error:
            raise self._error(error, f"look for {relative} on") from error

    def read(self, relative: str, digest: str) -> bytes:
        """The bytes of ``relative``, which must hash to ``digest`` (else :class:`CorruptRemoteObjectError`)."""
        try:
            data = self.fs.cat_file(self.path(relative))
        except FileNotFoundError:
            raise RemoteError(
                f"{relative} is missing from remote {self.name!r} ({self.url}) though a manifest lists it: someone "
                "deleted it. Run `nbtrack push --verify` from a store that holds it to upload it again."
            ) from None
        except OSError as error:
            raise self._error(error, f"download {relative} from") from error
        actual = hash_bytes(data)
        if actual != digest:
            raise CorruptRemoteObjectError(
                f"{relative} on remote {self.name!r} ({self.url}) is damaged or truncated ({len(data)} bytes that "
                f"hash to {actual}): nothing of it was merged. Delete that file from the remote and run "
                "`nbtrack push --verify` from a store that holds it to upload it again; `nbtrack remote check` "
                "lists every damaged file."
            )
        return data

    def write(self, relative: str, data: bytes | None = None, source: str | None = None, check: bool = False) -> int:
        """Write ``data`` (or the file ``source``) as ``relative``; the bytes sent, or -1 when it existed.

        ``check``: ask first whether it exists (worth a request for a large object). On a folder an existing
        name is never replaced; on an object store an unchecked write of a name that exists puts the same
        bytes again (the name is their hash), never other bytes."""
        if (check or self.local) and self.exists(relative):
            return -1
        size = len(data) if data is not None else os.path.getsize(source or "")
        try:
            if self.local:
                self._write_local(self.path(relative), data, source)
            elif data is not None:
                self.fs.pipe_file(self.path(relative), data)
            else:
                self.fs.put_file(source, self.path(relative))
        except OSError as error:
            raise self._error(error, f"upload {relative} to") from error
        return size

    def _write_local(self, target: str, data: bytes | None, source: str | None) -> None:
        folder = os.path.dirname(target)
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
        try:
            with os.fdopen(fd, "wb") as handle:
                if data is not None:
                    handle.write(data)
                else:
                    with open(source or "", "rb") as original:
                        for block in iter(lambda: original.read(1 << 20), b""):
                            handle.write(block)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(tmp, target)  # never replaces: an existing name already holds these bytes
            except FileExistsError:
                pass
            except OSError as error:
                if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                    raise
                os.replace(tmp, target)  # no hard links on this filesystem
        finally:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass


def _advice(error: Exception) -> str:
    """What to do about a failed remote operation, by what the OS or the service said."""
    again = "then run the command again (it completes what this one left: nothing half-done is used)"
    number = getattr(error, "errno", None)
    if number in (errno.ENOSPC, errno.EDQUOT):
        return f"The disk holding the remote is full: free some space on it, {again}."
    if number == errno.EROFS:
        return (
            f"The remote's folder is on a read-only file system: make it writable, or add a writable remote; {again}."
        )
    if number in (errno.EACCES, errno.EPERM) or isinstance(error, PermissionError):
        return f"You may not write or read there: fix the folder's permissions or your credentials, {again}."
    return (
        "Check that it is reachable and that your credentials allow it (for S3: AWS_* environment variables or "
        f"~/.aws, AWS_ENDPOINT_URL for S3-compatible services), {again}."
    )
