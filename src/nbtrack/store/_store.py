"""The embedded store: a ``.nbtrack/`` folder holding ``nbtrack.db`` (SQLite, WAL) and ``objects/`` (blobs).

A store is found the way git finds ``.git``: ``NBTRACK_HOME`` if set (the store folder itself), else the
nearest ``.nbtrack`` folder from the working directory upward, else ``./.nbtrack`` created on first write.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import stat
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from nbtrack.errors import (
    AmbiguousRunIdError,
    DamagedStoreError,
    InvalidValueError,
    RunNotFoundError,
    StoreNotFoundError,
    StoreReadOnlyError,
    StoreVersionError,
    StoreWriteError,
)
from nbtrack.store import ids as _ids
from nbtrack.store import query as _query
from nbtrack.store import runs as _runs
from nbtrack.store import schema as _schema
from nbtrack.store.blobs import BlobStore

STORE_DIRNAME = ".nbtrack"
DB_FILENAME = "nbtrack.db"
BUSY_TIMEOUT_S = 120.0


def find_store_root(start: str | os.PathLike | None = None) -> Path | None:
    """The store folder that applies from ``start`` (default: the working directory), or None.

    Like ``GIT_CEILING_DIRECTORIES``, ``NBTRACK_CEILING_DIRECTORIES`` (paths separated by ``os.pathsep``)
    stops the walk up before those folders.
    """
    home = os.environ.get("NBTRACK_HOME")
    if home:
        return Path(home).expanduser().absolute()
    here = Path(start or os.getcwd()).absolute()
    ceilings = {Path(p).absolute() for p in os.environ.get("NBTRACK_CEILING_DIRECTORIES", "").split(os.pathsep) if p}
    for folder in (here, *here.parents):
        if folder in ceilings:
            break
        candidate = folder / STORE_DIRNAME
        if candidate.is_dir():
            return candidate
    return None


def default_root(start: str | os.PathLike | None = None) -> Path:
    """Where the store is, or where it will be created on first write."""
    return find_store_root(start) or Path(start or os.getcwd()).absolute() / STORE_DIRNAME


class Store:
    """An open store. Constructing one opens it; nothing else happens until you write."""

    def __init__(self, root: Path, conn: sqlite3.Connection, read_only: bool = False):
        self.root = root
        self.conn = conn
        #: Opened read-only because the folder or its database cannot be written (a read-only mount, a
        #: copy owned by someone else): reads work, every write raises :class:`StoreReadOnlyError`.
        self.read_only = read_only
        #: Several OS users of one group write it (``nbtrack init --shared``): its folder is group-writable,
        #: so new folders, blobs and the database are made group-writable too.
        self.shared = is_shared_folder(root)
        self.blobs = BlobStore(root / "objects", shared=self.shared)
        self.host = socket.gethostname()
        self._lock = threading.RLock()
        self._depth = 0
        self._experiment_ids: dict[str, int] = {}

    @classmethod
    def open(cls, path: str | os.PathLike | None = None, create: bool = True, *, group: str | None = None) -> Store:
        """Open the store at ``path`` (a ``.nbtrack`` folder), or the one found from the working directory.

        ``group`` (a group name) creates a missing store shared by that group's users: its folders are
        ``rwxrws---`` (setgid, so everything made in them belongs to the group) and its files ``rw-rw----``
        (see docs/team.md); an existing store is left as it is.

        With ``create=False`` a missing store raises :class:`StoreNotFoundError`. A store whose database
        is missing, empty or unreadable while its ``objects/`` hold blobs raises :class:`DamagedStoreError`
        (it is never silently replaced by a new, empty one). A store that cannot be written (its folder or
        database is read-only) is opened read-only: reads work, writes raise :class:`StoreReadOnlyError`.
        """
        root = Path(path).expanduser().absolute() if path is not None else find_store_root()
        if root is not None and not _has_database(root) and _holds_blobs(root):
            raise _damaged_error(root, "is missing")
        if root is None or not _has_database(root):
            if not create:
                where = root or Path.cwd()
                raise StoreNotFoundError(
                    f"No nbtrack store found from {where} upward: run `nbtrack init` here, "
                    "log a run, or set NBTRACK_HOME to a store folder."
                )
            root = root or default_root()
            _make_store_folder(root, group)
        _refuse_newer_schema(root / DB_FILENAME)
        _refuse_empty_database(root)
        read_only = not _writable(root)
        conn = (
            _connect_read_only(root / DB_FILENAME)
            if read_only
            else _connect(root / DB_FILENAME, 0o660 if is_shared_folder(root) else 0o600)
        )
        store = cls(root, conn, read_only=read_only)
        try:
            store._check_readable()
            store._migrate()
        except BaseException:
            conn.close()
            raise
        return store

    def _check_readable(self) -> None:
        """Read the schema (page 1 and the catalogue): a database damaged there, or one never set up while
        ``objects/`` holds blobs, is refused before anything reads it as an empty store."""
        try:
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]
            self.conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as error:
            raise _damaged_error(self.root, f"cannot be read ({error})") from error
        if version == 0 and _holds_blobs(self.root):
            raise _damaged_error(self.root, "holds no tables")

    def require_writable(self, action: str = "write") -> None:
        """Raise :class:`StoreReadOnlyError` if the store was opened read-only."""
        if self.read_only:
            raise StoreReadOnlyError(
                f"The store at {self.root} is read-only (its folder or nbtrack.db cannot be written), so nbtrack "
                f"cannot {action}: reading it works. To write, make the folder and nbtrack.db writable, or copy "
                "the store to a writable folder and set NBTRACK_HOME to the copy."
            )

    # -- database ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``): all or nothing, never 'database is locked'.

        Nested use joins the outer transaction. A read-only store raises :class:`StoreReadOnlyError`.
        """
        self.require_writable()
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self.conn
                finally:
                    self._depth -= 1
                return
            _execute_retrying(self.conn, "BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self.conn
            except sqlite3.OperationalError as error:
                self._depth = 0
                self._rollback()
                if _is_storage_fault(error):
                    raise _as_write_error(error, self.root) from error
                raise
            except BaseException:
                self._depth = 0
                self._rollback()
                raise
            else:
                self._depth = 0
                try:
                    _execute_retrying(self.conn, "COMMIT")
                except sqlite3.OperationalError as error:
                    self._rollback()
                    raise _as_write_error(error, self.root) from error

    def _rollback(self) -> None:
        """Roll back the open transaction; SQLite has already rolled back after some faults (a full disk)."""
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Store]:
        """Several reads that see one consistent state of the store (a read transaction; writers
        in other processes go on, their changes show after it). Inside a write transaction, joins it."""
        with self._lock:
            if self._depth:
                yield self
                return
            _execute_retrying(self.conn, "BEGIN")
            try:
                yield self
            except sqlite3.DatabaseError as error:
                if _is_damage(error):
                    raise _damaged_database_error(self.root, error) from error
                raise
            finally:
                try:
                    self.conn.execute("COMMIT")
                except sqlite3.DatabaseError as error:  # ending a read over a damaged page can report it too
                    if not _is_damage(error):
                        raise
                    raise _damaged_database_error(self.root, error) from error

    def query(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[tuple]:
        """The rows of one read; a damaged database page raises :class:`DamagedStoreError` naming the fix."""
        with self._lock:
            try:
                return self.conn.execute(sql, params).fetchall()
            except sqlite3.DatabaseError as error:
                if _is_damage(error):
                    raise _damaged_database_error(self.root, error) from error
                raise

    def _migrate(self) -> None:
        current = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if current > _schema.latest_version():
            self.conn.close()
            raise _newer_schema_error(self.root, current)
        if current == _schema.latest_version():
            return
        self.require_writable(
            f"upgrade its schema from version {current} to {_schema.latest_version()}, which reading needs"
        )
        with self.transaction() as conn:
            current = conn.execute("PRAGMA user_version").fetchone()[0]
            for migration in _schema.pending(current):
                _schema.apply(conn, migration)

    @property
    def schema_version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    # -- lookups ----------------------------------------------------------------------------------
    def experiment_id(self, name: str, create: bool = True) -> int | None:
        """The id of experiment ``name`` (ids never change, so they are cached), created if needed."""
        cached = self._experiment_ids.get(name)
        if cached is not None:
            return cached
        found = _runs.experiment_id(self, name)
        if found is not None:
            self._experiment_ids[name] = found
        if found is not None or not create:
            return found
        with self.transaction() as conn:
            return _runs.create_experiment(conn, name)

    def resolve_run_id(self, text: str) -> str:
        """The full id of the run that ``text`` names, the one resolver every shell uses: a full id, a run
        name, or a unique prefix or suffix of an id (the 8-character short id shown everywhere is the id's
        random tail). A name or fragment that fits several runs raises :class:`AmbiguousRunIdError`
        listing them."""
        text = (text or "").strip()
        fragment = text.lower()
        if len(fragment) == _ids.ID_LENGTH and _runs.ids_matching(self, fragment, full=True):
            return fragment
        named = _runs.runs_named(self, text)
        if len(named) == 1:
            return named[0]["run_id"]
        if named:
            raise AmbiguousRunIdError(
                f"{len(named) if len(named) < 6 else 'Several'} runs are named {text!r}; give the short id of "
                f"the one you mean: {_candidates(named)}."
            )
        matches = _runs.ids_matching(self, fragment, full=False) if _ids.looks_like_id_fragment(fragment) else []
        if len(matches) == 1:
            return matches[0]
        if matches:
            shown = ", ".join(matches[:5])
            raise AmbiguousRunIdError(f"{text!r} matches several run ids ({shown}, ...): give more characters.")
        raise RunNotFoundError(f"No run has the id or name {text!r} in {self.root}: run `nbtrack runs` to list runs.")

    def reconcile_crashed(self) -> int:
        """Mark as ``crashed`` the runs left ``running`` by processes of this host that no longer exist
        (nothing in a read-only store: its runs are shown as they are stored)."""
        if self.read_only:
            return 0
        rows = _runs.running_on_host(self, self.host)
        dead = [run_id for run_id, pid, started in rows if not process_alive(pid, started)]
        if dead:
            import time

            now = time.time()
            with self.transaction() as conn:
                _runs.mark_crashed(conn, dead, now)
        return len(dead)

    def checkpoint(self) -> None:
        """Move the write-ahead log into the database file and empty it (before copying the folder)."""
        if self.read_only:
            return
        with self._lock:
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        self.conn.close()


def inspect_store(root: Path) -> tuple[int, int]:
    """``(schema version, number of runs)`` of the store at ``root``, read without migrating or writing
    anything (the database is opened read-only). Raises ``sqlite3.DatabaseError`` when it cannot be read."""
    conn = sqlite3.connect(f"{(root / DB_FILENAME).as_uri()}?mode=ro", uri=True, timeout=10)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        runs = conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] if version else 0
    finally:
        conn.close()
    return version, runs


def _candidates(named: list[dict]) -> str:
    import datetime

    def when(epoch: float) -> str:
        return datetime.datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M:%S")

    return ", ".join(f"{_ids.short_id(r['run_id'])} ({r['status']}, started {when(r['start'])})" for r in named[:5])


def _refuse_newer_schema(db_path: Path) -> None:
    """Refuse a store from a newer nbtrack before opening it: SQLite would switch it to WAL mode."""
    version = _header_version(db_path)
    if isinstance(version, int) and version > _schema.latest_version():
        raise _newer_schema_error(db_path.parent, version)


def _header_version(db_path: Path) -> int | str | None:
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


def _newer_schema_error(root: Path, version: int) -> StoreVersionError:
    from nbtrack._version import __version__

    return StoreVersionError(
        f"The store at {root} has schema version {version}, but nbtrack {__version__} knows only up to "
        f"{_schema.latest_version()}: upgrade nbtrack (`git pull && pip install .` in its checkout, or a newer wheel). The store was not changed."
    )


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of a process (Linux), to tell a reused pid from the original."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            data = handle.read().decode(errors="replace")
    except OSError:
        return None
    return data.rsplit(")", 1)[-1].split()[19]


def process_alive(pid: int | None, started: str | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    if started is not None:
        now_started = process_start_time(pid)
        if now_started is not None and now_started != started:
            return False
        if now_started is None and os.path.isdir("/proc"):
            return False
    return True


_stores: dict[tuple[int, Path], Store] = {}
_stores_lock = threading.Lock()


def default_store(create: bool = True) -> Store:
    """The store for the working directory (or NBTRACK_HOME), opened once per process."""
    root = find_store_root()
    if root is None and not create:
        return Store.open(None, create=False)
    return _opened(root or default_root(), create)


#: What every public ``store=`` argument takes: a :class:`Store`, or the path of a store folder.
StoreLike = Store | str | os.PathLike


def resolve_store(store: StoreLike | None, *, create: bool = True) -> Store:
    """The store a public function's ``store=`` argument names: a :class:`Store` as it is; a path (the
    ``.nbtrack`` folder itself, or a folder holding one), opened once per process like the default store;
    None, the default store (``NBTRACK_HOME``, else found from the working directory upward). With
    ``create=False`` (functions that only read) a path without a store raises :class:`StoreNotFoundError`.
    """
    if isinstance(store, Store):
        return store
    if store is None:
        return default_store(create=create)
    if not isinstance(store, (str, os.PathLike)):
        raise InvalidValueError(
            f"store= takes a Store or the path of a store folder (e.g. 'project/.nbtrack'), not {type(store).__name__}"
        )
    root = Path(store).expanduser().absolute()
    if not _has_database(root) and _has_database(root / STORE_DIRNAME):
        root = root / STORE_DIRNAME
    return _opened(root, create)


def _opened(root: Path, create: bool) -> Store:
    """The store at ``root``, opened once per process (and again if its database went away)."""
    key = (os.getpid(), root)
    with _stores_lock:
        store = _stores.get(key)
        if store is None or not _has_database(root):
            store = Store.open(root, create=create)
            _stores[key] = store
        return store


def _has_database(root: Path) -> bool:
    """Whether ``root`` holds a store's database; a path the OS cannot even look up (too long, a file
    in the way) holds none, so the caller says "no store here" instead of raising OSError."""
    try:
        return (root / DB_FILENAME).exists()
    except OSError:
        return False


def _holds_blobs(root: Path) -> bool:
    """Whether ``objects/`` holds at least one blob (stops at the first)."""
    try:
        return next(BlobStore(root / "objects").iter_hashes(), None) is not None
    except OSError:
        return False


def _damaged_error(root: Path, what: str) -> DamagedStoreError:
    return DamagedStoreError(
        f"The database of the store at {root} ({DB_FILENAME}) {what}, but its objects/ folder holds data: "
        "nbtrack will not read it as a new, empty store. Restore nbtrack.db from a copy of the store (an "
        "interrupted copy leaves it empty), then run `nbtrack fsck`."
    )


def _is_damage(error: sqlite3.DatabaseError) -> bool:
    """SQLite found the file damaged (SQLITE_CORRUPT, SQLITE_NOTADB) or returned a text that is not UTF-8 (a
    value damaged inside a page), as opposed to a busy or bad statement."""
    text = str(error).lower()
    return "malformed" in text or "not a database" in text or "could not decode to utf-8" in text


def _damaged_database_error(root: Path, error: sqlite3.DatabaseError) -> DamagedStoreError:
    return DamagedStoreError(
        f"The database of the store at {root} ({DB_FILENAME}) is damaged ({error}): run `nbtrack fsck` to see "
        "what SQLite finds, and restore nbtrack.db from a copy of the store. Nothing was changed."
    )


def _refuse_empty_database(root: Path) -> None:
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
    version = _header_version(db_path)
    if version == "empty":
        what = "is empty"
    elif version == "not sqlite":
        what = "is not an SQLite database"
    elif version == 0:
        what = "holds no tables"
    else:
        return
    if _holds_blobs(root):
        raise _damaged_error(root, what)


def _writable(root: Path) -> bool:
    """Whether SQLite can write the store: the database and the folder (for its -wal and -shm files)."""
    db_path = root / DB_FILENAME
    return os.access(root, os.W_OK) and (not db_path.exists() or os.access(db_path, os.W_OK))


def _connect_read_only(path: Path) -> sqlite3.Connection:
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
            raise _damaged_error(path.parent, f"cannot be read ({error})") from error
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


def _make_store_folder(root: Path, group: str | None = None) -> None:
    gid = _group_id(group) if group is not None else None
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


def _group_id(group: str) -> int:
    import grp

    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise InvalidValueError(
            f"There is no group {group!r} on this machine: name an existing group (`getent group` lists them), "
            "or create it first (`groupadd`)."
        ) from None


def _connect(path: Path, mode: int = 0o600) -> sqlite3.Connection:
    new = not path.exists()
    conn = None
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        if new:
            os.chmod(path, mode)
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        if mode != "wal":
            _execute_retrying(conn, "PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
    except sqlite3.DatabaseError as error:
        if conn is not None:
            conn.close()
        if isinstance(error, sqlite3.OperationalError) and _is_storage_fault(error):
            # a full or failing disk under a healthy database (switching to WAL writes): not damage
            raise _as_write_error(error, path.parent) from error
        raise DamagedStoreError(
            f"The database of the store at {path.parent} ({DB_FILENAME}) is damaged and cannot be opened "
            f"({error}): restore nbtrack.db from a copy of the store, then run `nbtrack fsck`. Nothing was changed."
        ) from error
    conn.create_function("REGEXP", 2, _query.regexp, deterministic=True)
    return conn


def _execute_retrying(conn: sqlite3.Connection, sql: str, attempts: int = 50) -> None:
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


_STORAGE_FAULTS = ("full", "disk i/o", "readonly", "read-only", "unable to open", "no transaction is active")


def _is_storage_fault(error: sqlite3.OperationalError) -> bool:
    """A fault of the disk or file system under the store, as opposed to a bug in a statement."""
    return any(words in str(error).lower() for words in _STORAGE_FAULTS)


def _as_write_error(error: sqlite3.OperationalError, root: Path) -> StoreWriteError:
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
