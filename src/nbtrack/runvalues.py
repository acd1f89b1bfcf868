"""A few values of every run a query matches, as columns: what a chart across runs draws (the workspace's
Charts tab, through ``GET /values``). The narrow sibling of ``reading.list_runs``: each metric and param is
read from its value index (``store/values.py``), not decoded from the runs' summaries."""

from __future__ import annotations

from collections.abc import Sequence

from nbtrack.errors import InvalidValueError
from nbtrack.reading import archived_view
from nbtrack.records import _decoded_param
from nbtrack.store import StoreLike, resolve_store
from nbtrack.store import listing as _listing
from nbtrack.store import values as _store_values

#: The keys ``run_values`` reads besides params and metrics: a run's own numbers.
VALUE_FIELDS = ("start", "duration_s")


def run_values(
    keys: Sequence[str],
    experiment: str | None = None,
    where: str | None = None,
    order_by: str | None = None,
    limit: int | None = None,
    *,
    archived: bool | str = False,
    store: StoreLike | None = None,
) -> tuple[int, dict[str, list]]:
    """``(total, columns)``: a few values of every run matching ``where``, what a chart across runs draws.

    ``columns`` holds ``run_id`` and ``name``, then one list per key, in ``order_by``'s order (newest
    first by default), at most ``limit`` runs (``total`` counts them all). A key is ``metrics.<k>`` (the
    last value logged; None where a run has none or it is NaN), ``params.<k>`` (as logged), ``start``
    (epoch seconds) or ``duration_s``. Each metric and param is read from its value index, not from the
    runs' rows, so 100,000 runs cost one narrow read per key.

    Example::

        total, columns = run_values(["metrics.acc", "params.lr"], experiment="iris", where="params.model = 'rf'")
    """
    view = archived_view(archived)
    for key in keys:
        group, dot, name = key.partition(".")
        if not (key in VALUE_FIELDS or (dot and name and group in ("params", "metrics"))):
            raise InvalidValueError(
                f"Unknown key {key!r}: use metrics.<name>, params.<name>, {' or '.join(VALUE_FIELDS)}."
            )
    store = resolve_store(store, create=False)
    store.reconcile_crashed()
    with store.snapshot():
        rows = _store_values.matching_names(store, experiment, where, order_by, -1 if limit is None else limit, view)
        cut = limit is not None and len(rows) >= limit
        total = _listing.count_matching(store, experiment, where, view) if cut else len(rows)
        ids = [row[0] for row in rows]
        columns: dict[str, list] = {"run_id": ids, "name": [row[1] for row in rows]}
        for key in keys:
            if key in VALUE_FIELDS:
                columns[key] = [row[2 + VALUE_FIELDS.index(key)] for row in rows]
                continue
            group, _, name = key.partition(".")
            found = _store_values.key_values(store, group, name)
            values = (
                {row[0]: row[1] for row in found}
                if group == "metrics"
                else {row[0]: _decoded_param(row[1], row[2]) for row in found}
            )
            columns[key] = [values.get(run_id) for run_id in ids]
    return total, columns
