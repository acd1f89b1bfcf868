"""The store and its data-access layer: the only package that speaks SQL.

``Store`` opens a ``.nbtrack/`` folder (SQLite ``nbtrack.db`` plus content-addressed ``objects/``);
the modules beside it hold every statement the rest of nbtrack runs against it.
"""

from nbtrack.store._store import (
    DB_FILENAME,
    STORE_DIRNAME,
    Store,
    StoreLike,
    default_root,
    default_store,
    find_store_root,
    inspect_store,
    process_start_time,
    resolve_store,
)

__all__ = [
    "DB_FILENAME",
    "STORE_DIRNAME",
    "Store",
    "StoreLike",
    "default_root",
    "default_store",
    "find_store_root",
    "inspect_store",
    "process_start_time",
    "resolve_store",
]
