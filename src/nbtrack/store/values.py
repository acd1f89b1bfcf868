"""The narrow reads of a chart across runs (``reading.run_values``, ``GET /values``): the matching runs' ids
and names in order, and one metric's or param's value of every run from its value index (migration 7),
instead of the runs' wide rows and summaries."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nbtrack.store import query
from nbtrack.store.listing import _experiment_join, _Scope

if TYPE_CHECKING:
    from nbtrack.store import Store


def matching_names(
    store: Store, experiment: str | None, where: str | None, order_by: str | None, limit: int, archived: str = "hide"
) -> list[tuple[str, str | None, float, float | None]]:
    """``(run_id, name, start, duration_s)`` of the runs matching ``where``, in ``order_by``'s order, at
    most ``limit``: the narrow rows a chart across runs reads (``key_values`` gives their values)."""
    scope = _Scope.of(store, experiment, where, archived=archived)
    if scope is None:
        return []
    order_sql, order_params = query.compile_order_by(order_by)
    joins = scope.joins or _experiment_join(order_sql)
    sql = (
        f"SELECT r.run_id, r.name, r.start, r.duration_s FROM runs r{joins} WHERE {scope.clause} "
        f"ORDER BY {order_sql} LIMIT ?"
    )
    return store.query(sql, [*scope.params, *order_params, limit])


def key_values(store: Store, group: str, key: str) -> list[tuple]:
    """Every run's value of one metric (``(run_id, value)``, NaN left out) or param (``(run_id, value,
    type)``), read from the value index of migration 7 alone."""
    if group == "metrics":
        return store.query("SELECT run_id, value FROM latest_metrics WHERE key = ? AND value IS NOT NULL", [key])
    return store.query("SELECT run_id, value, type FROM params WHERE key = ?", [key])
