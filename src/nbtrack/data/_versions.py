"""The read side of DataFrame versions: what is stored, and loading it back.

``DataVersion`` (one stored version), ``get_version``, the listings ``datasets`` / ``versions``
(DataFrames) and ``list_datasets`` / ``list_versions`` (JSON-ready rows), ``load`` (a version back
as the exact DataFrame), ``load_table`` (its positional Arrow table, following keyed delta chains,
optionally only some columns) and ``export`` (to Parquet). Writing is in :mod:`nbtrack.data._snapshot`.
"""

from __future__ import annotations

import base64
import re
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from nbtrack._paths import check_output_path, write_error
from nbtrack.data import _chunks, _deltas, _frame, _labels
from nbtrack.errors import (
    ArtifactNotFoundError,
    CorruptDataError,
    DatasetNotFoundError,
    InvalidValueError,
    StoreNotFoundError,
)
from nbtrack.store import datasets as _dal
from nbtrack.store import resolve_store
from nbtrack.store._decode import damaged_value

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import pyarrow as pa

    from nbtrack.store import Store, StoreLike

_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-/]{0,199}")
_GLOBAL_ID_RE = re.compile(r"[0-9a-fA-F]{6,32}")
#: a reference of digits only is a version number unless it is at least this long
_DIGITS_ID_LENGTH = 12


@dataclass
class DataVersion:
    """One stored version of a named DataFrame.

    ``bytes_added`` is what this version added to the store (new chunks only);
    ``storage`` is ``full`` (content-defined chunks) or ``delta`` (changed rows against ``parent``).
    """

    name: str
    version: int
    fingerprint: str
    rows: int
    columns: int
    created: float
    bytes_added: int
    bytes_stored: int
    storage: str
    parent: int | None
    key: list | None
    message: str | None
    run_id: str | None
    #: True when :func:`nbtrack.snapshot` found this content already stored and wrote nothing.
    unchanged: bool = False

    @property
    def id(self) -> str:
        """The global id: the start of the content fingerprint, the same in every store holding this data
        (``version`` is this store's number for it, which may differ after a pull or merge)."""
        return self.fingerprint[:12]

    def load(self, store: StoreLike | None = None) -> pd.DataFrame:
        """The DataFrame of this version."""
        return load(self.name, self.version, store=store)

    def to_dict(self) -> dict:
        """JSON-ready: the stored fields (``unchanged`` is about one snapshot call, not the version)."""
        return {k: v for k, v in asdict(self).items() if k != "unchanged"}

    def __str__(self) -> str:
        return f"{self.name}@{self.version} ({self.rows} rows x {self.columns} columns, {self.fingerprint[:12]})"


def _key_labels(key: dict | None) -> list | None:
    """The key column labels of a stored key (``{"labels", "fields"}``), or None."""
    return [_labels.decode_label(x) for x in key["labels"]] if key else None


def _version_from_row(row: _dal.VersionRow) -> DataVersion:
    return DataVersion(
        name=row.dataset,
        version=row.version,
        fingerprint=row.fingerprint,
        rows=row.rows,
        columns=row.columns,
        created=row.created,
        bytes_added=row.bytes_added,
        bytes_stored=row.bytes_stored,
        storage=row.storage,
        parent=row.parent,
        key=_key_labels(row.key),
        message=row.message,
        run_id=row.run_id,
    )


def _store(store: StoreLike | None, create: bool = False) -> Store:
    return resolve_store(store, create=create)


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise InvalidValueError(
            f"dataset name {name!r} is not valid: use letters, digits, _ . - / (up to 200 characters, "
            "not starting with . - or /), e.g. 'customers' or 'raw/orders'."
        )
    return name


# ---------------------------------------------------------------- reading metadata
def get_version(name: str, version: int | str | None = None, *, store: StoreLike | None = None) -> DataVersion:
    """The :class:`DataVersion` ``name@version`` (default: the latest).

    ``version`` is this store's number (3, -1 for the latest) or a global id: 6 to 32 hex characters of the
    version's content fingerprint (``DataVersion.id``, 12 shown), which name the same data in every store.
    """
    store = _store(store)
    if version is None or version == "latest":
        row = _dal.latest_version(store, name)
    elif _is_global_id(version):
        row = _version_by_id(store, name, str(version).lower())
    else:
        try:
            number = int(version)
        except (TypeError, ValueError):
            raise InvalidValueError(f"version must be a number, not {version!r} (e.g. 3 or 'latest').") from None
        if number < 0:  # -1 = latest, -2 = the one before
            all_versions = _dal.version_numbers(store, name)
            number = all_versions[-number - 1] if -number <= len(all_versions) else 0
        row = _dal.version_row(store, name, number)
    if row is None:
        known = _dal.count_versions(store, name)
        if not known:
            raise DatasetNotFoundError(
                f"No dataset named {name!r}: snapshot one with nbtrack.snapshot(df, {name!r}) "
                "or list them with nbtrack.datasets() / `nbtrack data list`."
            )
        raise DatasetNotFoundError(
            f"Dataset {name!r} has no version {version!r} (it has {known}): see nbtrack.versions({name!r})."
        )
    return _version_from_row(row)


def _is_global_id(version: object) -> bool:
    return (
        isinstance(version, str)
        and _GLOBAL_ID_RE.fullmatch(version) is not None
        and (not version.isdigit() or len(version) >= _DIGITS_ID_LENGTH)
    )


def _version_by_id(store: Store, name: str, prefix: str) -> _dal.VersionRow | None:
    rows = _dal.versions_with_fingerprint_prefix(store, name, prefix)
    if len(rows) > 1:
        shown = ", ".join(f"{r.fingerprint[:12]} (@{r.version})" for r in rows[:5])
        raise InvalidValueError(f"{name}@{prefix} matches several versions ({shown}): give more characters of the id.")
    return rows[0] if rows else None


def match_fingerprint(fingerprint: str, *, store: StoreLike | None = None) -> DataVersion | None:
    """The earliest stored version with this content fingerprint, or None (used for run inputs)."""
    row = _dal.first_version_with_fingerprint(_store(store), fingerprint)
    return _version_from_row(row) if row is not None else None


def datasets(*, store: StoreLike | None = None) -> pd.DataFrame:
    """All datasets as a DataFrame: name, versions, latest, rows, columns, bytes, created, updated."""
    import pandas as pd

    try:
        store = _store(store)
    except StoreNotFoundError:  # no store yet: no datasets (listing creates nothing)
        store = None
    rows = [] if store is None else _dal.dataset_summaries(store)
    frame = pd.DataFrame(rows, columns=list(_dal.DatasetSummary._fields))  # name, versions, latest, rows, ...
    for col in ("created", "updated"):
        frame[col] = pd.to_datetime(frame[col], unit="s", utc=True)
    return frame


def versions(name: str, *, store: StoreLike | None = None) -> pd.DataFrame:
    """The versions of ``name`` as a DataFrame, oldest first.

    Columns: version, created (UTC), rows, columns, bytes_added, fingerprint, message, run_id,
    storage, parent, key.
    """
    import pandas as pd

    store = _store(store)
    get_version(name, store=store)  # raises for unknown names
    rows = _dal.versions_of(store, name)
    columns = [
        "version",
        "created",
        "rows",
        "columns",
        "bytes_added",
        "fingerprint",
        "message",
        "run_id",
        "storage",
        "parent",
        "key",
    ]
    frame = pd.DataFrame([{c: getattr(r, c) for c in columns} for r in rows], columns=columns)
    frame["created"] = pd.to_datetime(frame["created"], unit="s", utc=True)
    frame["parent"] = frame["parent"].astype("Int64")
    frame["key"] = [_key_labels(r.key) for r in rows]
    return frame


def list_datasets(*, store: StoreLike | None = None) -> list[dict]:
    """JSON-ready rows of :func:`datasets` (for REST and the CLI)."""
    frame = datasets(store=store)
    return [
        {**row, "created": row["created"].isoformat(), "updated": row["updated"].isoformat()}
        for row in frame.to_dict("records")
    ]


def list_versions(name: str, *, store: StoreLike | None = None) -> list[dict]:
    """JSON-ready rows of :func:`versions`."""
    store = _store(store)
    get_version(name, store=store)
    return [_version_from_row(r).to_dict() for r in _dal.versions_of(store, name)]


def _schema_from_meta(meta: dict) -> pa.Schema:
    import pyarrow as pa

    try:
        return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(meta["schema"])))
    except (ValueError, OSError, pa.ArrowException) as error:  # bad base64, "Invalid flatbuffers message"...
        raise damaged_value("Arrow schema of a data version", error) from error


# ---------------------------------------------------------------- load
def load_table(
    store: Store,
    name: str,
    version: int,
    columns: list[str] | None = None,
    desc: str | None = None,
) -> pa.Table:
    """The positional Arrow table of ``name@version`` (follows delta chains); ``columns``: only these fields.

    ``desc``: the label of a progress bar shown while chunks are read, when the version is large.
    Categorical columns come back with this version's own dictionary (categories, their order and the
    ordered flag), whatever dictionaries the parent chunks a delta reuses were written with.
    """
    table = _load_rows(store, name, version, columns, desc)
    return _own_dictionaries(store, name, version, table)


def _own_dictionaries(store: Store, name: str, version: int, table: pa.Table) -> pa.Table:
    """``table`` with every dictionary column recoded to ``name@version``'s own dictionary.

    A keyed delta stores only the changed rows; the parent chunks it reuses carry the parent's dictionary,
    and categories added, removed or reordered since would otherwise be lost (issue 21). Every chunk a
    version writes (rows of a full version, changed rows of a delta, even when none changed) carries the
    version's whole dictionary, so that is where it is read from. Chunks already on it cost one comparison.
    """
    import pyarrow.types as pt

    wanted = [i for i, field in enumerate(table.schema) if pt.is_dictionary(field.type)]
    if not wanted:
        return table
    stored = _dal.version_layout(store, name, version)
    own = None
    if stored is not None and stored.storage == "delta":
        first = next((c for c in _dal.version_chunks(store, name, version) if c.role == "delta"), None)
        if first is not None:
            fields = [_schema_from_meta(stored.meta).get_field_index(table.schema.field(i).name) for i in wanted]
            try:
                own = _chunks.decode(store.blobs.read_bytes(first.blob), fields)
            except ArtifactNotFoundError as exc:
                raise CorruptDataError(
                    f"A chunk of {name}@{version} is missing from the store: {exc} Run `nbtrack fsck`."
                ) from exc
    for i in wanted:
        field = table.schema.field(i)
        source = own.column(field.name) if own is not None else table.column(i)
        if source.num_chunks == 0:
            continue
        table = table.set_column(i, field, _recoded(table.column(i), source.chunk(0).dictionary, name, version))
    return table


def _recoded(column: pa.ChunkedArray, dictionary: pa.Array, name: str, version: int) -> pa.ChunkedArray:
    """``column`` (dictionary-encoded) with every chunk on ``dictionary``: the same values, other codes."""
    import pyarrow as pa
    import pyarrow.compute as pc

    chunks = []
    for chunk in column.chunks:
        if chunk.dictionary is dictionary or chunk.dictionary.equals(dictionary):
            chunks.append(chunk)
            continue
        # where each of the chunk's dictionary values sits in the version's dictionary (null: absent)
        positions = pc.index_in(chunk.dictionary, value_set=dictionary)  # pyright: ignore[reportAttributeAccessIssue]  # generated compute functions lack stubs
        indices = positions.take(chunk.indices)
        if indices.null_count != chunk.indices.null_count:
            raise CorruptDataError(
                f"{name}@{version} holds a category its own categories do not list (a damaged chunk or row "
                "map): run `nbtrack fsck`, and snapshot the data again if it reports the version."
            )
        indices = indices.cast(column.type.index_type)
        chunks.append(pa.DictionaryArray.from_arrays(indices, dictionary, ordered=column.type.ordered, safe=False))
    return pa.chunked_array(chunks, type=column.type)


def _load_rows(
    store: Store,
    name: str,
    version: int,
    columns: list[str] | None = None,
    desc: str | None = None,
    then: _deltas.ChunkTransform | None = None,
    out_rows: int | None = None,
) -> pa.Table:
    """The rows of ``name@version`` (``load_table`` without the dictionary step); ``then``: a per-chunk
    transform to apply on top (a later version's delta, see :mod:`._deltas`), and ``out_rows`` the row
    count after it."""
    import numpy as np

    stored = _dal.version_layout(store, name, version)
    if stored is None:
        raise DatasetNotFoundError(f"Dataset {name!r} has no version {version}: see nbtrack.versions({name!r}).")
    parent, meta, rows = stored.parent, stored.meta, stored.rows
    out_rows = rows if out_rows is None else out_rows
    schema = _schema_from_meta(meta)
    cells = rows * (len(columns) if columns is not None else len(schema.names))
    chunks = _dal.version_chunks(store, name, version)
    layout = meta.get("delta") or {}
    try:
        if stored.storage == "full":
            full = [c for c in chunks if c.role == "rows"]
            return _chunks.read_chunks(
                [c.blob for c in full],
                store.blobs,
                schema,
                columns=columns,
                cells=cells,
                desc=desc,
                transform=then,
                chunk_rows=[c.rows for c in full],
                out_rows=out_rows,
            )
        if parent is None:
            raise CorruptDataError(
                f"{name}@{version} is stored as a delta but names no parent version: run `nbtrack fsck`."
            )
        ordered = _deletes_inserts_of(store, name, version, columns)
        if ordered is not None:
            # the parent's surviving rows kept their order: applied to each parent chunk as it is read, and a
            # chain of such deltas is merged into one first, so each chunk under it is rewritten once
            moves, parent, parent_rows = ordered
            while (under := _deletes_inserts_of(store, name, parent, columns)) is not None:
                merged = _deltas.merge_deletes_inserts(under[0], moves)
                if len(merged[0]) >= under[2]:  # nothing of the older parent survives: stop here
                    break
                moves, parent, parent_rows = merged, under[1], under[2]
            transform = _deltas.deletes_inserts(moves[0], moves[1], parent_rows, moves[2])
            return _load_rows(store, name, parent, columns, desc, _deltas.compose(transform, then), out_rows)
        changed = _chunks.read_chunks(
            [c.blob for c in chunks if c.role == "delta"], store.blobs, schema, columns=columns
        )
        src = _chunks.decompress_array(store.blobs.read_bytes(_src_blob(chunks)))
        if layout.get("aligned"):
            # every row kept its position: the edits are patched into each parent chunk as it is read
            # (stores before 0.2.0 kept a full row map here, where -1, -2, ... mark the edited rows)
            positions = src if layout.get("map") == "changed_positions" else np.flatnonzero(src < 0)
            patch = _deltas.aligned_patch(positions, changed, layout.get("changed_fields"))
            return _load_rows(store, name, parent, columns, desc, _deltas.compose(patch, then), out_rows)
        base = _load_rows(store, name, parent, columns, desc)
    except ArtifactNotFoundError as exc:
        raise CorruptDataError(
            f"A chunk of {name}@{version} is missing from the store: {exc} Run `nbtrack fsck`."
        ) from exc
    table = _deltas.take_rows(base, changed, src)  # rows reordered: one gather per column over the whole parent
    return _deltas.per_chunk(table, then) if then is not None else table


def _src_blob(chunks: list[_dal.ChunkRow]) -> str:
    """The blob of a delta version's row-source map (every delta has one: none is a damaged chunk row)."""
    for chunk in chunks:
        if chunk.role == "src":
            return chunk.blob
    raise damaged_value("chunk list of a data version", LookupError("a delta version without its row-source map"))


def _deletes_inserts_of(store: Store, name: str, version: int, columns: list[str] | None):
    """``((deleted, inserted, changed), parent, parent_rows)`` when ``name@version`` is a delta whose parent's
    surviving rows keep their order (see :mod:`._deltas`; stores before 0.2.0 kept a full row map for these
    too), else None."""
    stored = _dal.version_layout(store, name, version)
    if stored is None or stored.storage != "delta" or stored.parent is None:
        return None
    parent, meta = stored.parent, stored.meta
    layout = meta.get("delta") or {}
    if layout.get("aligned"):
        return None
    chunks = _dal.version_chunks(store, name, version)
    src = _chunks.decompress_array(store.blobs.read_bytes(_src_blob(chunks)))
    parent_rows = _dal.row_count(store, name, parent)
    parts = (
        _deltas.unpack_parts(src) if layout.get("map") == "deletes_inserts" else _deltas.ordered_parts(src, parent_rows)
    )
    if parts is None or len(parts[0]) >= parent_rows:
        return None
    changed = _chunks.read_chunks(
        [c.blob for c in chunks if c.role == "delta"], store.blobs, _schema_from_meta(meta), columns=columns
    )
    return (*parts, changed), parent, parent_rows


def load(name: str, version: int | str | None = None, *, store: StoreLike | None = None) -> pd.DataFrame:
    """The DataFrame of ``name@version`` (default: the latest version), exactly as snapshotted.

    ``version`` may also be negative (-1 = latest, -2 = the one before) or ``"name@3"`` style
    given as ``name``.

    Example::

        df = nbtrack.load("customers")        # latest
        old = nbtrack.load("customers", 1)
    """
    store = _store(store)
    if version is None and isinstance(name, str) and "@" in name:
        name, version = name.rsplit("@", 1)
    if version is None:
        version = _pinned.get(name)
    info = get_version(name, version, store=store)
    meta = _dal.version_meta(store, info.name, info.version)
    frame = _frame.from_arrow(
        load_table(store, info.name, info.version, desc=f"load {info.name}@{info.version}"), meta, destruct=True
    )
    _release_arrow_memory()
    _tell_session(info)
    return frame


#: ``{dataset: version}`` that :func:`load` gives when no version is asked for (see :func:`pin_versions`).
_pinned: dict[str, int] = {}


def pin_versions(versions: dict[str, int]) -> None:
    """From now on in this process, ``load(name)`` without a version gives ``versions[name]``, not the
    latest. ``nbtrack reproduce`` and ``nbtrack export RUN`` start with it, so the re-executed code
    reads the data versions the original run read even after newer versions were snapshotted.
    ``pin_versions({})`` removes every pin.

    Example::

        nbtrack.pin_versions({"customers": 2})
        df = nbtrack.load("customers")          # customers@2
    """
    for name, version in versions.items():
        if not isinstance(name, str) or isinstance(version, bool) or not isinstance(version, int):
            raise InvalidValueError(
                f"pin_versions takes {{dataset name: version number}}, not {name!r}: {version!r}; "
                "for example pin_versions({'customers': 2})."
            )
    _pinned.clear()
    _pinned.update(versions)


def _tell_session(info: DataVersion) -> None:
    """Report a load to the kernel session's log (the magics keep one), for the runs' session slices."""
    from nbtrack.capture.session import active_log

    log = active_log()
    if log is not None:
        log.loaded(info.name, info.version, info.fingerprint)


def _release_arrow_memory() -> None:
    """Give the Arrow allocator's freed pages back to the OS (it keeps them otherwise)."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def export(name: str, version: int | str | None, path: str, *, store: StoreLike | None = None) -> DataVersion:
    """Write ``name@version`` to a Parquet file (zstd) and return the version exported."""
    store = _store(store)
    check_output_path(path, "Parquet export")  # never into the store, clear errors for bad names
    info = get_version(name, version, store=store)
    try:
        load(info.name, info.version, store=store).to_parquet(path, compression="zstd")
    except OSError as error:
        raise write_error(error, path, "Parquet export") from error
    return info
