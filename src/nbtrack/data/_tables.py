"""Migration 2 of the store: the tables of DataFrame versions.

``datasets``       one row per name: the chunking parameter fixed by its first version.
``data_versions``  one row per version: fingerprint, shape, how it is stored (full or a keyed
                   delta against ``parent``), the frame meta (labels, index, Arrow schema).
``data_chunks``    the blobs of a version, in order: ``rows`` chunks of a full version, ``delta``
                   chunks and one ``src`` row-source map of a keyed delta.
"""

from __future__ import annotations

import sqlite3

DDL = """
CREATE TABLE datasets (
    name TEXT PRIMARY KEY,
    created REAL NOT NULL,
    avg_rows INTEGER NOT NULL
);
CREATE TABLE data_versions (
    dataset TEXT NOT NULL REFERENCES datasets(name),
    version INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    created REAL NOT NULL,
    rows INTEGER NOT NULL,
    columns INTEGER NOT NULL,
    bytes_added INTEGER NOT NULL,
    bytes_stored INTEGER NOT NULL,
    storage TEXT NOT NULL CHECK (storage IN ('full', 'delta')),
    parent INTEGER,
    depth INTEGER NOT NULL DEFAULT 0,
    key TEXT,
    message TEXT,
    run_id TEXT,
    meta TEXT NOT NULL,
    PRIMARY KEY (dataset, version)
);
CREATE INDEX data_versions_by_fingerprint ON data_versions(fingerprint);
CREATE INDEX data_versions_by_run ON data_versions(run_id);
CREATE TABLE data_chunks (
    dataset TEXT NOT NULL,
    version INTEGER NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('rows', 'delta', 'src')),
    seq INTEGER NOT NULL,
    blob TEXT NOT NULL,
    rows INTEGER NOT NULL,
    nbytes INTEGER NOT NULL,
    PRIMARY KEY (dataset, version, role, seq)
);
CREATE INDEX data_chunks_by_blob ON data_chunks(blob)
"""


def migrate(conn: sqlite3.Connection) -> None:
    from nbtrack._schema import execute_script

    execute_script(conn, DDL)
