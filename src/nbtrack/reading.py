"""Reading runs back: tables of runs (:func:`runs`, :func:`list_runs`), experiments, the names runs record.

One run in full is :mod:`nbtrack.records`; several side by side, :mod:`nbtrack.comparison`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from nbtrack.errors import (
    InvalidValueError,
)
from nbtrack.store import Store, StoreLike, resolve_store
from nbtrack.store import experiments as _experiments
from nbtrack.store import ids as _ids
from nbtrack.store import listing as _listing
from nbtrack.store import runs as db
from nbtrack.store import summary as _summary
from nbtrack.store._decode import damaged_value

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

_BASE_COLUMNS = ["run_id", "name", "experiment", "status", "kind", "start", "duration_s", "parent_id", "user"]
_BASE_POSITIONS = [_listing.LIST_FIELDS.index(name) for name in _BASE_COLUMNS]
# Where the summary columns sit in the rows select_runs returns (see nbtrack.store.listing.LIST_FIELDS).
_RUN_ID, _EXPERIMENT, _LAYOUT, _NUM, _STR, _TEXT = (
    _listing.LIST_FIELDS.index(name)
    for name in ("run_id", "experiment", "summary_layout", "summary_num", "summary_str", "summary_text")
)
_ARCHIVED = _listing.LIST_FIELDS.index("archived")
_EXPERIMENT_NAME = _listing.LIST_FIELDS.index("experiment_name")
_PREFIX_ORDER = {"params": 0, "metrics": 1, "tags": 2}


def archived_view(archived: bool | str) -> str:
    """``runs(archived=...)`` as a view of ``nbtrack.store.listing.ARCHIVED_VIEWS``: False leaves archived
    runs out, True lists them too, ``"only"`` lists only them."""
    if archived is False or archived is None:
        return "hide"
    if archived is True:
        return "include"
    if archived == "only":
        return "only"
    raise InvalidValueError(
        f"archived must be False (leave archived runs out), True (list them too) or 'only', not {archived!r}."
    )


def _open_for_reading(store: StoreLike | None) -> Store:
    store = resolve_store(store, create=False)
    store.reconcile_crashed()
    return store


def runs(
    experiment: str | None = None,
    where: str | None = None,
    order_by: str | None = None,
    limit: int | None = None,
    *,
    offset: int = 0,
    archived: bool | str = False,
    store: StoreLike | None = None,
) -> pd.DataFrame:
    """Runs as a pandas DataFrame, newest first.

    Columns: ``run_id, name, experiment, status, kind, start, duration_s, parent_id, user`` (who made the
    run: ``NBTRACK_USER``, else git's ``user.email``, else the OS user; None before nbtrack 0.3), then
    ``params.<k>``, ``metrics.<k>`` (the last value logged) and ``tags.<k>``.

    Archived runs (:func:`nbtrack.archive_runs`) are left out; ``archived=True`` lists them too and
    ``archived="only"`` lists only them, both with an ``archived`` column (when each was archived, NaT
    for a live run).

    Example::

        nbtrack.runs(where="metrics.acc > 0.9 and params.model = 'rf'", order_by="-metrics.acc", limit=10)
    """
    import pandas as pd

    view = archived_view(archived)
    store = _open_for_reading(store)
    with store.snapshot():  # the summary layouts looked up below must be those of the rows read
        rows = _listing.select_runs(store, experiment, where, order_by, limit, offset, columns="frame", archived=view)
        columns: list[Sequence[Any]] = list(zip(*rows)) or [()] * len(_listing.LIST_FIELDS)
        experiments = _experiments.experiment_names(store)
        try:
            columns[_EXPERIMENT] = [experiments[i] for i in columns[_EXPERIMENT]]
        except KeyError as error:  # an experiment id no experiment has: a value damaged on disk
            raise damaged_value("experiment of a run", error) from error
        base = pd.DataFrame({name: columns[i] for i, name in zip(_BASE_POSITIONS, _BASE_COLUMNS)})
        base["start"] = pd.to_datetime(base["start"].astype("float64"), unit="s", utc=True)
        if view != "hide":
            when = pd.Series(columns[_ARCHIVED], dtype="float64")
            base["archived"] = pd.to_datetime(when, unit="s", utc=True)
        summary = _summary_frame(store, rows, columns, base.index)
    if summary.columns.empty:
        return base
    ordered = sorted(summary.columns, key=lambda c: (_PREFIX_ORDER.get(c.partition(".")[0], 3), c))
    summary = summary[ordered]
    metric_columns = [c for c in ordered if c.startswith("metrics.")]
    summary[metric_columns] = summary[metric_columns].astype("float64")  # null (NaN) -> NaN in all-null columns
    return pd.concat([base, summary], axis=1)


class _Layouts:
    """``(names, codes)`` of each summary layout, looked up once per layout from a run that has it."""

    def __init__(self, store: Store):
        self.store, self.known = store, {"": ([], "")}

    def get(self, layout: str, run_id: str) -> tuple[list[str], str]:
        if layout not in self.known:
            self.known[layout] = db.summary_layout(self.store, run_id)
        return self.known[layout]


def _summary_frame(store: Store, rows: list[tuple], columns: list[Sequence[Any]], index: pd.Index) -> pd.DataFrame:
    """The params/metrics/tags columns of ``rows``: runs with the same summary layout are decoded
    together (numbers straight from their packed bytes, texts in one parse), then each column is
    assembled from its layouts' pieces with one indexed assignment per layout, so a store with many
    layouts (experiments that log different names) costs about what a uniform one does."""
    import numpy as np
    import pandas as pd

    layouts = _Layouts(store)
    groups: dict[str, list[int]] = {}
    for position, layout in enumerate(columns[_LAYOUT]):
        groups.setdefault(layout, []).append(position)
    pieces: dict[str, list[tuple[np.ndarray, str, Any]]] = {}
    names: set[str] = set()
    for layout, positions in groups.items():
        keys, codes = layouts.get(layout, rows[positions[0]][0])
        names.update(keys)
        where = np.asarray(positions, dtype=np.intp)
        for key, (code, values) in _group_columns(keys, codes, [rows[p] for p in positions]).items():
            pieces.setdefault(key, []).append((where, code, values))
    data = {key: _assemble(parts, len(rows)) for key, parts in pieces.items()}
    for name in sorted(names - set(data)):  # recorded, but None in every run
        data[name] = np.full(len(rows), None, dtype=object)
    # one constructor call: inserting columns one by one fragments the frame (pandas warns past 100)
    return pd.DataFrame(data, index=index)


def _group_columns(keys: list[str], codes: str, rows: list[tuple]) -> dict[str, tuple[str, Any]]:
    """One layout's runs, column by column: ``{name: (code, values)}``. Numbers come from a numpy view of
    the joined packed bytes, strings as Arrow arrays cut from the joined string bytes, other JSON values
    from one parse. Names whose value is None are left out."""
    import numpy as np

    data: dict[str, tuple[str, Any]] = {}
    packed = _packed_numbers(codes, rows)
    strings = _summary.string_columns(codes, packed, b"".join(row[_STR] or b"" for row in rows)) if "s" in codes else {}
    others = iter(zip(*_summary.parse_texts([row[_TEXT] or "[]" for row in rows]))) if "j" in codes else iter(())
    for i, (key, code) in enumerate(zip(keys, codes)):
        if code in "fi":
            data[key] = (code, packed[f"v{i}"])
        elif code == "b":
            data[key] = (code, packed[f"v{i}"].astype(bool))
        elif code == "s":
            data[key] = (code, strings[i].to_numpy(zero_copy_only=False))
        elif code == "j":
            values = np.empty(len(rows), dtype=object)
            values[:] = next(others)
            data[key] = (code, values)
    return data


def _assemble(parts: list[tuple[np.ndarray, str, Any]], size: int) -> Any:
    """One column from its layouts' ``(positions, code, values)``, typed as concatenating the layouts'
    frames would type it: integers and booleans stay so when every run has them; numbers with gaps are
    float64 (NaN); strings are pandas strings; anything mixed is object (NaN where a run lacks it)."""
    import numpy as np
    import pandas as pd

    codes = {code for _, code, _ in parts}
    complete = sum(len(where) for where, _, _ in parts) == size
    if complete and codes in ({"i"}, {"b"}):
        out = np.empty(size, dtype=np.int64 if codes == {"i"} else bool)
    elif codes <= {"f", "i"}:
        out = np.full(size, np.nan)
    else:
        out = np.full(size, np.nan, dtype=object)
    for where, _, values in parts:
        out[where] = values
    return pd.array(out, dtype="str") if codes == {"s"} else out


def _decode_row(layouts: _Layouts, row: tuple) -> dict[str, object]:
    keys, codes = layouts.get(row[_LAYOUT], row[_RUN_ID])
    return _summary.decode(keys, codes, row[_NUM], row[_STR] or b"", row[_TEXT] or "[]")


def _packed_numbers(codes: str, rows: list[tuple]) -> np.ndarray:
    """The rows' joined ``summary_num`` bytes as one structured array (no fields when the layout has no
    numbers and no strings)."""
    import numpy as np

    dtype = _summary.numeric_dtype(codes)
    if not dtype.itemsize:
        return np.empty(len(rows), dtype=dtype)
    return np.frombuffer(b"".join(row[_NUM] for row in rows), dtype=dtype)


def list_runs(
    experiment: str | None = None,
    where: str | None = None,
    order_by: str | None = None,
    limit: int | None = 100,
    offset: int = 0,
    store: StoreLike | None = None,
    archived: bool | str = False,
) -> tuple[int, list[dict]]:
    """``(total, rows)``: one page of runs as JSON-ready dicts, and how many runs match in all (archived
    runs as :func:`runs` says; each row's ``archived`` is when it was archived, or None)."""
    view = archived_view(archived)
    store = _open_for_reading(store)
    with store.snapshot():
        total = _listing.count_matching(store, experiment, where, view)
        rows = _listing.select_runs(store, experiment, where, order_by, limit, offset, matching=total, archived=view)
        layouts = _Layouts(store)
        return total, [_row_dict(row, _decode_row(layouts, row)) for row in rows]


def _row_dict(row: tuple, summary: dict[str, object]) -> dict[str, object]:
    fields = dict(zip(_listing.LIST_FIELDS[:_LAYOUT], row))
    return {
        **fields,
        "experiment": row[_EXPERIMENT_NAME],
        "short_id": _ids.short_id(fields["run_id"]),
        "start": _iso(fields["start"]),
        "end": _iso(fields["end"]),
        "archived": _iso(fields["archived"]),
        **_split_summary(summary),
    }


def _split_summary(summary: dict[str, object]) -> dict[str, dict[str, object]]:
    parts: dict[str, dict[str, object]] = {"params": {}, "metrics": {}, "tags": {}}
    for key, value in summary.items():
        prefix, _, name = key.partition(".")
        parts[prefix][name] = value
    parts["metrics"] = _json_safe({k: None if v != v else v for k, v in parts["metrics"].items()})
    return parts


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, timezone.utc).isoformat()


def _json_value(value: object) -> object:
    """NaN and infinities as strings, so the result is standard JSON."""
    if isinstance(value, float) and (value != value or abs(value) == float("inf")):
        return str(value)
    return value


def _json_safe(metrics: Mapping[str, object]) -> dict[str, object]:
    return {k: _json_value(v) for k, v in metrics.items()}


def summary_names(experiment: str | None = None, store: StoreLike | None = None) -> dict[str, list[str]]:
    """The param, metric and tag names that the runs (of ``experiment``) record:
    ``{"params": [...], "metrics": [...], "tags": [...]}``, each sorted."""
    store = resolve_store(store, create=False)
    names: dict[str, set[str]] = {"params": set(), "metrics": set(), "tags": set()}
    for keys in db.summary_key_lists(store, experiment):
        for key in keys:
            prefix, _, name = key.partition(".")
            names[prefix].add(name)
    return {prefix: sorted(found) for prefix, found in names.items()}


def list_experiments(store: StoreLike | None = None) -> list[dict[str, object]]:
    """Experiments as JSON-ready dicts ``{name, runs, last_start}`` (no pandas needed)."""
    rows = _experiments.experiment_counts(resolve_store(store, create=False))
    return [{"name": name, "runs": count, "last_start": _iso(last)} for name, count, last in rows]


def experiments(store: StoreLike | None = None) -> pd.DataFrame:
    """Experiments with their number of runs and latest start, as a DataFrame."""
    import pandas as pd

    rows = _experiments.experiment_counts(_open_for_reading(store))
    frame = pd.DataFrame(rows, columns=["experiment", "runs", "last_start"])
    frame["last_start"] = pd.to_datetime(frame["last_start"].astype("float64"), unit="s", utc=True)
    return frame
