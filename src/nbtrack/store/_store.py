"""The embedded store: a ``.nbtrack/`` folder holding ``nbtrack.db`` (SQLite, WAL) and ``objects/`` (blobs).

A store is found the way git finds ``.git``: ``NBTRACK_HOME`` if set (the store folder itself), else the
nearest ``.nbtrack`` folder from the working directory upward, else ``./.nbtrack`` created on first write.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from nbtrack.errors import (
    AmbiguousRunIdError,
    InvalidValueError,
    RunNotFoundError,
    StoreNotFoundError,
    StoreReadOnlyError,
)
from nbtrack.store import _files
from nbtrack.store import experiments as _experiments
from nbtrack.store import ids as _ids
from nbtrack.store import runs as _runs
from nbtrack.store import schema as _schema
from nbtrack.store import seal as _seal
from nbtrack.store._files import DB_FILENAME
from nbtrack.store.blobs import BlobStore

STORE_DIRNAME = ".nbtrack"


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
        self.shared = _files.is_shared_folder(root)
        self.blobs = BlobStore(root / "objects", shared=self.shared)
        self.host = socket.gethostname()
        self._lock = threading.RLock()
        self._depth = 0
        self._experiment_ids: dict[str, int] = {}
        #: Writes note the runs they change and each transaction reseals them (``nbtrack.store.seal``).
        self._sealing = False

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
        if root is not None and not _files.has_database(root) and _files.holds_blobs(root):
            raise _files.damaged_error(root, "is missing")
        if root is None or not _files.has_database(root):
            if not create:
                where = root or Path.cwd()
                raise StoreNotFoundError(
                    f"No nbtrack store found from {where} upward: run `nbtrack init` here, "
                    "log a run, or set NBTRACK_HOME to a store folder."
                )
            root = root or default_root()
            _files.make_store_folder(root, group)
        _files.refuse_newer_schema(root / DB_FILENAME)
        _files.refuse_empty_database(root)
        read_only = not _files.writable(root)
        conn = (
            _files.connect_read_only(root / DB_FILENAME)
            if read_only
            else _files.connect(root / DB_FILENAME, 0o660 if _files.is_shared_folder(root) else 0o600)
        )
        store = cls(root, conn, read_only=read_only)
        try:
            store._check_readable()
            store._migrate()
            if not read_only:
                _seal.install_triggers(conn)
                store._sealing = True
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
            raise _files.damaged_error(self.root, f"cannot be read ({error})") from error
        if version == 0 and _files.holds_blobs(self.root):
            raise _files.damaged_error(self.root, "holds no tables")

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
            _files.execute_retrying(self.conn, "BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self.conn
            except sqlite3.OperationalError as error:
                self._depth = 0
                self._rollback()
                if _files.is_storage_fault(error):
                    raise _files.as_write_error(error, self.root) from error
                raise
            except BaseException:
                self._depth = 0
                self._rollback()
                raise
            else:
                self._depth = 0
                try:
                    self._reseal()
                    _files.execute_retrying(self.conn, "COMMIT")
                except sqlite3.OperationalError as error:
                    self._rollback()
                    raise _files.as_write_error(error, self.root) from error

    def _reseal(self) -> None:
        """Reseal the runs this transaction changed (noted by the triggers ``open`` installs)."""
        if self._sealing:
            _seal.reseal_changed(self.conn)

    def _rollback(self) -> None:
        """Roll back the open transaction; SQLite has already rolled back after some faults (a full disk)."""
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Store]:
        """Several reads that see one consistent state of the store (a read transaction; writers
        in other processes go on, their changes show after it). Inside a write transaction or another
        snapshot, joins it."""
        with self._lock:
            if self._depth or self.conn.in_transaction:
                yield self
                return
            _files.execute_retrying(self.conn, "BEGIN")
            try:
                yield self
            except sqlite3.DatabaseError as error:
                if _files.is_damage(error):
                    raise _files.damaged_database_error(self.root, error) from error
                raise
            finally:
                try:
                    self.conn.execute("COMMIT")
                except sqlite3.DatabaseError as error:  # ending a read over a damaged page can report it too
                    if not _files.is_damage(error):
                        raise
                    raise _files.damaged_database_error(self.root, error) from error

    def query(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[tuple]:
        """The rows of one read; a damaged database page raises :class:`DamagedStoreError` naming the fix."""
        with self._lock:
            try:
                return self.conn.execute(sql, params).fetchall()
            except sqlite3.DatabaseError as error:
                if _files.is_damage(error):
                    raise _files.damaged_database_error(self.root, error) from error
                raise

    def _migrate(self) -> None:
        current = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if current > _schema.latest_version():
            self.conn.close()
            raise _files.newer_schema_error(self.root, current)
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
        found = _experiments.experiment_id(self, name)
        if found is not None:
            self._experiment_ids[name] = found
        if found is not None or not create:
            return found
        with self.transaction() as conn:
            return _experiments.create_experiment(conn, name)

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
    if not _files.has_database(root) and _files.has_database(root / STORE_DIRNAME):
        root = root / STORE_DIRNAME
    return _opened(root, create)


def _opened(root: Path, create: bool) -> Store:
    """The store at ``root``, opened once per process (and again if its database went away)."""
    key = (os.getpid(), root)
    with _stores_lock:
        store = _stores.get(key)
        if store is None or not _files.has_database(root):
            store = Store.open(root, create=create)
            _stores[key] = store
        return store
