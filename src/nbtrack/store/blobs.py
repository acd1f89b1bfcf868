"""Content-addressed blob storage: one file per distinct content, named by its xxh3-128 hash.

A blob is written to a temporary file in the same folder, flushed to disk with fsync and renamed
into place, so a reader never sees a partial blob and a crash leaves at most a stray temporary file
(which ``gc`` removes). Callers reference a hash in the database only after ``put_*`` returned.

Reads trust nothing on disk: ``read_bytes`` hashes what it read and raises :class:`CorruptBlobError`
when the bytes no longer match the blob's name (xxh3 hashes at memory speed, so this costs little).

A writer that finds the blob it needs already stored (``exists`` or ``put_*`` on known content) refreshes
the file's modification time, so ``gc`` (which keeps files younger than its grace period and re-checks
the time after moving a blob aside) never deletes a blob that a writer is about to refer to.
"""

from __future__ import annotations

import errno
import os
import re
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

import xxhash

from nbtrack.errors import ArtifactNotFoundError, CorruptBlobError, StoreWriteError

_HASH_RE = re.compile(r"[0-9a-f]{32}")
_CHUNK = 1 << 20


def hash_bytes(data: bytes) -> str:
    """The 128-bit content hash nbtrack addresses blobs by (32 lowercase hex characters).

    Through the hasher object, whose constructor releases the GIL while it hashes (the one-shot
    ``xxh3_128_hexdigest`` holds it), so threads reading chunks hash in parallel with each other."""
    return xxhash.xxh3_128(data).hexdigest()


def hash_stream(handle: BinaryIO) -> str:
    """The blob hash of everything left to read in ``handle``, read in 1 MiB blocks."""
    hasher = xxhash.xxh3_128()
    for block in iter(lambda: handle.read(_CHUNK), b""):
        hasher.update(block)
    return hasher.hexdigest()


def is_blob_hash(text: object) -> bool:
    return isinstance(text, str) and _HASH_RE.fullmatch(text) is not None


class BlobStore:
    """The ``objects/`` folder of a store."""

    def __init__(self, root: Path, shared: bool = False):
        self.root = Path(root)
        #: blobs and their folders are group-writable (a store shared by a group, ``nbtrack init --shared``)
        self.shared = shared

    def path(self, digest: str) -> Path:
        """The file of a blob; refuses anything that is not a well-formed hash."""
        if not is_blob_hash(digest):
            raise ArtifactNotFoundError(f"{digest!r} is not a blob hash: expected 32 lowercase hex characters.")
        return self.root / digest[:2] / digest[2:]

    def exists(self, digest: str) -> bool:
        """Whether the blob is stored, as a writer about to reuse it asks: a found blob's modification time
        is set to now, so ``gc`` keeps it through its grace period (see :meth:`reuse`). Checks that only
        read use :meth:`present`."""
        return self.reuse(self.path(digest))

    def present(self, digest: str) -> bool:
        """Whether the blob's file is there, changing nothing."""
        return self.path(digest).is_file()

    @staticmethod
    def reuse(path: Path) -> bool:
        """Refresh the modification time of a blob file a writer is going to refer to; False when it is
        gone (the writer then writes it again). ``gc`` moves a blob aside before it deletes it and keeps it
        if its time was refreshed meanwhile, so the refresh and the deletion cannot both succeed."""
        try:
            os.utime(path, follow_symlinks=False)  # never touch a file a planted link points to
        except (FileNotFoundError, NotADirectoryError):
            return False
        except OSError:  # a read-only store: nothing can collect it either
            pass
        return path.is_file()

    def put_bytes(self, data: bytes) -> str:
        """Store ``data`` durably and return its hash; storing the same bytes twice writes once."""
        digest = hash_bytes(data)
        target = self.path(digest)
        if not self.reuse(target):
            self._write_atomically(target, [data])
        return digest

    def put_file(self, source: str | os.PathLike) -> str:
        """Store the content of a file (streamed, so large files need little memory)."""
        hasher = xxhash.xxh3_128()
        with open(source, "rb") as handle:
            for block in iter(lambda: handle.read(_CHUNK), b""):
                hasher.update(block)
        digest = hasher.hexdigest()
        target = self.path(digest)
        if not self.reuse(target):
            with open(source, "rb") as handle:
                self._write_atomically(target, iter(lambda: handle.read(_CHUNK), b""))
        return digest

    def read_bytes(self, digest: str) -> bytes:
        """The blob's bytes, checked against its hash: damaged bytes raise :class:`CorruptBlobError`."""
        with self.open(digest) as handle:
            data = handle.read()
        self.check(digest, hash_bytes(data))
        return data

    def check(self, digest: str, actual: str) -> None:
        """Raise :class:`CorruptBlobError` unless ``actual`` (the hash of bytes read) is ``digest``."""
        if actual != digest:
            raise CorruptBlobError(
                f"Blob {digest} in {self.root} is damaged: its bytes hash to {actual}, so nothing was read from "
                "it. Run `nbtrack fsck` to see what refers to it (`nbtrack fsck --repair` drops broken artifact "
                "rows), or restore the store's objects/ folder from a copy."
            )

    def file(self, digest: str) -> Path:
        """The blob's file, to read: refuses a missing blob and one that is (or sits in) a link leading
        out of ``objects/``, so a planted symlink never makes nbtrack read or copy a file elsewhere."""
        path = self.path(digest)
        try:
            real = path.resolve(strict=True)
        except (FileNotFoundError, NotADirectoryError):
            raise ArtifactNotFoundError(
                f"Blob {digest} is missing from {self.root}: run `nbtrack fsck` to find what refers to it."
            ) from None
        if not real.is_relative_to(self.root.resolve()) or not real.is_file():
            raise ArtifactNotFoundError(
                f"Blob {digest} in {self.root} links to {real}, outside the store: nbtrack does not follow it. "
                "Remove the link and run `nbtrack fsck` on that store."
            )
        return real

    def open(self, digest: str) -> BinaryIO:
        """The blob's file, unchecked: hash what you read (``hash_stream``, ``check``) or use ``read_bytes``."""
        return open(self.file(digest), "rb")

    def verify(self, digest: str) -> bool:
        """True when the blob exists inside the store and its content still hashes to its name."""
        try:
            with open(self.file(digest), "rb") as handle:
                return hash_stream(handle) == digest
        except (FileNotFoundError, ArtifactNotFoundError):
            return False

    def size(self, digest: str) -> int:
        return self.path(digest).stat().st_size

    def iter_hashes(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for prefix in self.root.iterdir():
            if prefix.is_dir() and len(prefix.name) == 2:
                for entry in prefix.iterdir():
                    digest = prefix.name + entry.name
                    if is_blob_hash(digest):
                        yield digest

    def iter_temporary_files(self) -> Iterator[Path]:
        if self.root.is_dir():
            yield from self.root.glob("*/.tmp-*")

    def delete(self, digest: str) -> None:
        self.path(digest).unlink(missing_ok=True)

    def _write_atomically(self, target: Path, blocks: Iterable[bytes]) -> None:
        try:
            if not target.parent.is_dir():
                target.parent.mkdir(parents=True, exist_ok=True)
                if self.shared:
                    _share(target.parent, 0o2770)
            fd, tmp_name = self._temporary_file(target.parent)
            if self.shared:
                os.fchmod(fd, 0o660)  # mkstemp makes 0600: the group's other users could not read it
        except OSError as error:
            raise _write_error(error, self.root) from error
        try:
            with os.fdopen(fd, "wb") as handle:
                for block in blocks:
                    handle.write(block)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp_name, target)
        except BaseException as error:
            try:
                os.unlink(tmp_name)
            except OSError:
                pass
            if isinstance(error, OSError):
                raise _write_error(error, self.root) from error
            raise

    def _temporary_file(self, folder: Path) -> tuple[int, str]:
        for attempt in range(20 if self.shared else 1):
            try:
                return tempfile.mkstemp(prefix=".tmp-", dir=folder)
            except PermissionError:
                if attempt == 19 or not self.shared:
                    raise
                time.sleep(0.01)  # another member made the folder and is about to make it group-writable
        raise AssertionError("unreachable")


def _share(folder: Path, mode: int) -> None:
    """Make a folder another group member created group-writable; one made by someone else (a race with
    another writer) already is, and only its owner may change it."""
    try:
        os.chmod(folder, mode)
    except PermissionError:
        pass


def _write_error(error: OSError, root: Path) -> StoreWriteError:
    if error.errno == errno.ENOSPC:
        return StoreWriteError(
            f"No space left on the device holding {root}: free some space (or run `nbtrack gc`) "
            "and log again. Nothing already stored was changed."
        )
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return StoreWriteError(
            f"Cannot write to {root} ({error.strerror}): fix its permissions or point NBTRACK_HOME "
            "at a writable folder."
        )
    return StoreWriteError(f"Could not write a blob into {root}: {error}. Nothing already stored was changed.")


class MappedBlobStore(BlobStore):
    """A :class:`BlobStore` for one operation that reads the same blobs many times (drift reads each chunk
    of a version once per column): ``read_bytes`` maps the blob's file instead of copying it, and hashes it
    against its name on its first read only. A reader that decodes one column of a chunk then touches only
    that column's pages; copying every chunk whole for each column was a third of a 10 M-row drift check."""

    def __init__(self, root: Path, shared: bool = False):
        super().__init__(root, shared)
        self._checked: set[str] = set()

    def read_bytes(self, digest: str) -> memoryview:  # pyright: ignore[reportIncompatibleMethodOverride]  # every chunk reader takes any bytes-like
        import mmap

        with self.open(digest) as handle:
            if os.fstat(handle.fileno()).st_size == 0:
                mapped = memoryview(b"")
            else:  # the mapping outlives the file handle and lasts as long as a view of it
                mapped = memoryview(mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ))
        if digest not in self._checked:
            self.check(digest, xxhash.xxh3_128(mapped).hexdigest())  # hash_bytes, for a mapping
            self._checked.add(digest)
        return mapped
