"""The store's files on disk: checks made before SQLite opens ``nbtrack.db`` (a newer schema, an empty or
foreign file next to blobs), the connections (WAL, busy timeout, read-only and immutable reads), the folder
and its modes (private or shared with a group), and SQLite's errors translated into what happened to the
disk and what to do."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

from nbtrack.errors import DamagedStoreError, InvalidValueError, StoreReadOnlyError, StoreVersionError, StoreWriteError
from nbtrack.store import query as _query
from nbtrack.store import schema as _schema
from nbtrack.store.blobs import BlobStore

DB_FILENAME = "nbtrack.db"
BUSY_TIMEOUT_S = 120.0


def refuse_newer_schema(db_path: Path) -> None:
    """Refuse a store from a newer nbtrack before opening it: SQLite would switch it to WAL mode."""
    version = header_version(db_path)
    if isinstance(version, int) and version > _schema.latest_version():
        raise newer_schema_error(db_path.parent, version)


def header_version(db_path: Path) -> int | str | None:
    """The schema version (``PRAGMA user_version``) of the database file, ``"empty"`` for a 0-byte file,
    ``"not sqlite"`` for a file SQLite does not recognise, None when it cannot be read (missing, locked).

    Read through SQLite, never with ``open()``: closing any other descriptor of the database file would
    drop the POSIX locks this process's open connections hold on it, and another process could then
    checkpoint and delete the write-ahead log under them ("disk I/O error", lost writes). ``immutable``:
    the file's own header, as written at the last checkpoint, with no -wal or -shm file made."""
    try:
        if db_path.stat().st_size == 0:
            return "empty"
    except OSError:
        return None
    try:
        conn = sqlite3.connect(f"{db_path.absolute().as_uri()}?mode=ro&immutable=1", uri=True)
    except sqlite3.Error:
        return None
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.DatabaseError as error:
        return "not sqlite" if "not a database" in str(error) else None
    finally:
        conn.close()


def newer_schema_error(root: Path, version: int) -> StoreVersionError:
    from nbtrack._version import __version__

    return StoreVersionError(
        f"The store at {root} has schema version {version}, but nbtrack {__version__} knows only up to "
        f"{_schema.latest_version()}: upgrade nbtrack (`git pull && pip install .` in its checkout, or a newer wheel). The store was not changed."
    )


def has_database(root: Path) -> bool:
    """Whether ``root`` holds a store's database; a path the OS cannot even look up (too long, a file
    in the way) holds none, so the caller says "no store here" instead of raising OSError."""
    try:
        return (root / DB_FILENAME).exists()
    except OSError:
        return False


def holds_blobs(root: Path) -> bool:
    """Whether ``objects/`` holds at least one blob (stops at the first)."""
    try:
        return next(BlobStore(root / "objects").iter_hashes(), None) is not None
    except OSError:
        return False


def damaged_error(root: Path, what: str) -> DamagedStoreError:
    return DamagedStoreError(
        f"The database of the store at {root} ({DB_FILENAME}) {what}, but its objects/ folder holds data: "
        "nbtrack will not read it as a new, empty store. Restore nbtrack.db from a copy of the store (an "
        "interrupted copy leaves it empty), then run `nbtrack fsck`."
    )


def is_damage(error: sqlite3.DatabaseError) -> bool:
    """SQLite found the file damaged (SQLITE_CORRUPT, SQLITE_NOTADB), returned a text that is not UTF-8 (a
    value damaged inside a page) or misses a column of the schema every store is migrated to before it is
    read (a name damaged inside the stored schema text), as opposed to a busy or bad statement."""
    text = str(error).lower()
    return any(sign in text for sign in ("malformed", "not a database", "could not decode to utf-8", "no such column"))


def damaged_database_error(root: Path, error: sqlite3.DatabaseError) -> DamagedStoreError:
    return DamagedStoreError(
        f"The database of the store at {root} ({DB_FILENAME}) is damaged ({error}): run `nbtrack fsck` to see "
        "what SQLite finds, and restore nbtrack.db from a copy of the store. Nothing was changed."
    )


def refuse_empty_database(root: Path) -> None:
    """An empty (0-byte) or non-SQLite database file next to blobs is damage, not a new store; so is an
    SQLite file never set up by nbtrack (schema version 0, read from the header at offset 60). Checked
    before SQLite opens the file, which would switch it to WAL mode. Not while a write-ahead log holds
    transactions: the header is then out of date (``_check_readable`` checks after opening)."""
    db_path = root / DB_FILENAME
    try:
        if (root / (DB_FILENAME + "-wal")).stat().st_size > 0:
            return
    except OSError:
        pass
    version = header_version(db_path)
    if version == "empty":
        what = "is empty"
    elif version == "not sqlite":
        what = "is not an SQLite database"
    elif version == 0:
        what = "holds no tables"
    else:
        return
    if holds_blobs(root):
        raise damaged_error(root, what)


def writable(root: Path) -> bool:
    """Whether SQLite can write the store: the database and the folder (for its -wal and -shm files)."""
    db_path = root / DB_FILENAME
    return os.access(root, os.W_OK) and (not db_path.exists() or os.access(db_path, os.W_OK))


def connect_read_only(path: Path) -> sqlite3.Connection:
    """Open a store that cannot be written: no migration, no WAL switch, nothing written.

    ``mode=ro`` reads a WAL database whose -shm file exists; a checkpointed store on a read-only mount has
    none and cannot get one, and is then opened ``immutable=1`` (safe: no process can be writing it). A
    store whose write-ahead log holds transactions that cannot be read this way is refused."""
    wal = path.with_name(path.name + "-wal")
    last: sqlite3.DatabaseError | None = None
    for flags in ("mode=ro", "immutable=1"):
        if flags == "immutable=1" and wal.exists() and wal.stat().st_size > 0:
            break
        try:
            conn = sqlite3.connect(
                f"{path.as_uri()}?{flags}",
                uri=True,
                timeout=BUSY_TIMEOUT_S,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError as error:
            last = error
            continue
        except sqlite3.DatabaseError as error:
            raise damaged_error(path.parent, f"cannot be read ({error})") from error
        conn.create_function("REGEXP", 2, _query.regexp, deterministic=True)
        return conn
    raise StoreReadOnlyError(
        f"The store at {path.parent} is read-only and SQLite cannot read it in place ({last}): its write-ahead "
        "log (nbtrack.db-wal) has data and no shared-memory file can be made. Copy the store folder to a "
        "writable place and set NBTRACK_HOME to the copy."
    )


def is_shared_folder(root: Path) -> bool:
    """A store folder its group may write (made by ``nbtrack init --shared``)."""
    try:
        return bool(root.stat().st_mode & stat.S_IWGRP)
    except OSError:
        return False


def make_store_folder(root: Path, group: str | None = None) -> None:
    gid = group_id(group) if group is not None else None
    try:
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        (root / "objects").mkdir(exist_ok=True, mode=0o700)
        if gid is not None:
            for folder in (root, root / "objects"):
                os.chown(folder, -1, gid)
                os.chmod(folder, SHARED_FOLDER_MODE)
        gitignore = root / ".gitignore"
        if not gitignore.exists():
            gitignore.write_text("# nbtrack store: runs, blobs and data versions\n*\n")
            if gid is not None:
                os.chmod(gitignore, 0o660)
    except OSError as error:
        raise StoreWriteError(
            f"Cannot create the nbtrack store at {root} ({error.strerror}): choose a writable folder "
            "or set NBTRACK_HOME."
        ) from error


#: Folders of a shared store: the group reads and writes, and what is made in them belongs to the group.
SHARED_FOLDER_MODE = 0o2770


def group_id(group: str) -> int:
    import grp

    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise InvalidValueError(
            f"There is no group {group!r} on this machine: name an existing group (`getent group` lists them), "
            "or create it first (`groupadd`)."
        ) from None


def connect(path: Path, mode: int = 0o600) -> sqlite3.Connection:
    new = not path.exists()
    conn = None
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        if new:
            os.chmod(path, mode)
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        if mode != "wal":
            execute_retrying(conn, "PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
    except (sqlite3.DatabaseError, UnicodeDecodeError) as error:  # a header damaged into a non-UTF-8 answer
        if conn is not None:
            conn.close()
        if isinstance(error, sqlite3.OperationalError) and is_storage_fault(error):
            # a full or failing disk under a healthy database (switching to WAL writes): not damage
            raise as_write_error(error, path.parent) from error
        raise DamagedStoreError(
            f"The database of the store at {path.parent} ({DB_FILENAME}) is damaged and cannot be opened "
            f"({error}): restore nbtrack.db from a copy of the store, then run `nbtrack fsck`. Nothing was changed."
        ) from error
    conn.create_function("REGEXP", 2, _query.regexp, deterministic=True)
    return conn


def execute_retrying(conn: sqlite3.Connection, sql: str, attempts: int = 50) -> None:
    """Run a statement that can meet SQLITE_BUSY outside the busy handler (BEGIN, COMMIT, WAL switch)."""
    import random
    import time

    for attempt in range(attempts):
        try:
            conn.execute(sql)
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) and "busy" not in str(error):
                raise
            if attempt == attempts - 1:
                raise
            time.sleep(0.01 + random.random() * 0.05 * (attempt + 1))


STORAGE_FAULTS = ("full", "disk i/o", "readonly", "read-only", "unable to open", "no transaction is active")


def is_storage_fault(error: sqlite3.OperationalError) -> bool:
    """A fault of the disk or file system under the store, as opposed to a bug in a statement."""
    return any(words in str(error).lower() for words in STORAGE_FAULTS)


def as_write_error(error: sqlite3.OperationalError, root: Path) -> StoreWriteError:
    text = str(error).lower()
    if "full" in text:
        cause = "the disk holding it is full: free some space, then retry"
    elif "readonly" in text or "read-only" in text:
        cause = "it is read-only: make the folder and nbtrack.db writable, or set NBTRACK_HOME to a writable store"
    elif "disk i/o" in text:
        cause = "the disk reported an I/O error: check the disk, then run `nbtrack fsck`"
    else:
        cause = f"{error}: check the folder's permissions and free space, then retry"
    return StoreWriteError(f"Could not write to the store at {root}: {cause}. Nothing of this write was stored.")
