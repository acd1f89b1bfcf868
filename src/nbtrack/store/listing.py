"""Listing runs: the one query behind ``runs()``, ``nbtrack runs``, every ``GET /runs`` page, the sidebar
and the workspace (``select_runs``), its count, and the check of each listed row against its run's seal.

Rows come back in the column order ``LIST_FIELDS``; they are decoded in bulk by ``nbtrack.reading``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from nbtrack.store import experiments as _experiments
from nbtrack.store import query
from nbtrack.store import runs as _runs
from nbtrack.store import seal as _seal

if TYPE_CHECKING:
    from nbtrack.store import Store

#: Column order of the rows ``select_runs`` returns: first the values a run's seal covers for listings
#: (``nbtrack.store.seal.LISTING_TEMPLATE``; ``experiment`` holds the experiment's id), then the seal, then
#: the experiment's name (``"list"`` rows only; None in ``"frame"`` rows, which map ids to names themselves).
LIST_FIELDS = (
    "run_id",
    "name",
    "experiment",
    "status",
    "kind",
    "start",
    "end",
    "duration_s",
    "parent_id",
    "user",
    "archived",
    "summary_layout",
    "summary_num",
    "summary_str",
    "summary_text",
    "seal",
    "experiment_name",
)


_COLUMNS = {
    "list": f"{_seal.LISTING_TEMPLATE}, {{seal}}, e.name",
    "frame": f"{_seal.LISTING_TEMPLATE}, {{seal}}, NULL",
    "count": "COUNT(*)",
}


def _columns(store: Store, columns: str) -> str:
    """The SELECT list of ``columns``; ``user`` is NULL in a store read before migration 6, ``archived``
    before migration 9 (read-only stores)."""
    version = store.schema_version
    return _COLUMNS[columns].format(
        user="r.user" if version >= 6 else "NULL",
        archived="r.archived" if version >= _runs.ARCHIVED_SCHEMA else "NULL",
        seal="r.seal" if version >= _seal.SEAL_SCHEMA else "NULL",
    )


def check_listed(rows: Sequence[tuple]) -> None:
    """Raise :class:`DamagedStoreError` if a row ``select_runs`` returned differs from what its run's seal
    covers (a value changed inside a damaged database: ``nbtrack.store.seal``)."""
    for row in rows:
        seal = row[_SEAL]
        if seal is not None and seal[:16] != _seal.listing_digest(row):
            raise _runs.unsealed(row[0])


_SEAL = LIST_FIELDS.index("seal")


#: Which runs a listing shows: live runs only (the default), live and archived, or archived only.
ARCHIVED_VIEWS = ("hide", "include", "only")


#: The archived runs, read from the partial index ``runs_archived`` (only archived runs are in it).
_ARCHIVED_IDS = "SELECT run_id FROM runs WHERE archived IS NOT NULL"


def select_runs(
    store: Store,
    experiment: str | None,
    where: str | None,
    order_by: str | None,
    limit: int | None,
    offset: int | None,
    columns: str = "list",
    matching: int | None = None,
    archived: str = "hide",
) -> list[tuple]:
    """Runs matching the query language's ``where`` and ``order_by`` (see ``nbtrack.store.query``).

    Call it inside ``store.snapshot()``: a page (``limit`` or ``offset`` given) is read in two statements.
    The first finds the ids of the page's runs and reads nothing else: the index of ``start``, or the
    index of one name's values when the order is ``[-]metrics.k``, ``params.k`` or ``tags.k`` (migration
    7), walked until the page is full. The second reads the page's columns. A deep page thus costs an
    index walk, not the columns and the sort of every run before it.

    A page with a ``where`` first counts the matching runs (``matching``, when the caller has not): when
    most runs match, walking the runs in page order and testing each stops soon, so the test is made per
    run; when few match, they are read from the value indexes and sorted.

    ``archived`` (one of ``ARCHIVED_VIEWS``): archived runs are left out unless it is ``include`` or
    ``only``; while no run is archived, the query is the same as before migration 9.
    """
    if columns == "count":
        return [(count_matching(store, experiment, where, archived),)]
    paged = limit is not None or bool(offset)
    per_run = (
        paged and limit is not None and _mostly_matching(store, experiment, where, matching, limit, offset, archived)
    )
    scope = _Scope.of(store, experiment, where, per_run, archived)
    if scope is None:
        return []
    if not paged:
        order_sql, order_params = query.compile_order_by(order_by)
        sql = (
            f"SELECT {_columns(store, columns)} FROM runs r JOIN experiments e ON e.experiment_id = r.experiment_id "
            f"WHERE {scope.clause} ORDER BY {order_sql}"
        )
        rows = store.query(sql, [*scope.params, *order_params])
    else:
        rows = _rows_by_id(
            store, _page_ids(store, scope, query.order_items(order_by), limit, int(offset or 0)), columns
        )
    check_listed(rows)
    return rows


def count_matching(store: Store, experiment: str | None, where: str | None, archived: str = "hide") -> int:
    """How many runs match ``where`` (in ``experiment``; archived runs as ``select_runs`` says)."""
    scope = _Scope.of(store, experiment, where, archived=archived)
    if scope is None:
        return 0
    return store.query(f"SELECT COUNT(*) FROM runs r{scope.joins} WHERE {scope.clause}", scope.params)[0][0]


class _Scope:
    """The runs a query selects, as SQL over ``runs r``: the joins it needs, its condition and params."""

    def __init__(self, joins: str, clause: str, params: list[object]):
        self.joins, self.clause, self.params = joins, clause, params

    @classmethod
    def of(
        cls, store: Store, experiment: str | None, where: str | None, per_run: bool = False, archived: str = "hide"
    ) -> _Scope | None:
        """None when ``experiment`` does not exist or no run can match (archived only, none archived)."""
        _seal.check_experiments(store)  # listings show experiment names and filters compare them
        where_sql, where_params = query.compile_where(where, per_run)
        clause, params = f"({where_sql})", list(where_params)
        if experiment is not None:
            found = _experiments.experiment_id(store, experiment)
            if found is None:
                return None
            clause += " AND r.experiment_id = ?"
            params.append(found)
        if archived != "include" and _runs.any_archived(store):
            # run ids from the small partial index: tested on the id an index walk already holds
            clause += f" AND r.run_id {'IN' if archived == 'only' else 'NOT IN'} ({_ARCHIVED_IDS})"
        elif archived == "only":
            return None
        return cls(_experiment_join(where_sql), clause, params)

    @property
    def everything(self) -> bool:
        return self.clause == "(1)"


def _mostly_matching(
    store: Store,
    experiment: str | None,
    where: str | None,
    matching: int | None,
    limit: int,
    offset: int | None,
    archived: str = "hide",
) -> bool:
    """Whether testing runs one by one in page order fills the page sooner than reading every match: a
    walk tests about ``(offset + limit) * runs / matching`` runs, reading the matches costs about three
    times more per match (a lookup, a row and a sort)."""
    if where is None or not where.strip():
        return False
    if matching is None:
        matching = count_matching(store, experiment, where, archived)
    runs = count_matching(store, experiment, None, archived)
    return 3 * matching * matching > (int(offset or 0) + int(limit)) * runs


def _experiment_join(sql: str) -> str:
    # Query SQL is made of fixed fragments only (names and literals are bound), so this test is exact.
    return " JOIN experiments e ON e.experiment_id = r.experiment_id" if "e.name" in sql else ""


def _page_ids(store: Store, scope: _Scope, items: list[query.OrderItem], limit: int | None, offset: int) -> list[str]:
    """The ids of the runs of one page, in order."""
    size = -1 if limit is None else int(limit)
    if len(items) == 1 and items[0].table is not None:
        return _page_by_value(store, scope, items[0], size, offset)
    order_sql, order_params = query.compile_order_items(items)
    joins = scope.joins or _experiment_join(order_sql)
    sql = f"SELECT r.run_id FROM runs r{joins} WHERE {scope.clause} ORDER BY {order_sql} LIMIT ? OFFSET ?"
    return [row[0] for row in store.query(sql, [*scope.params, *order_params, size, offset])]


def _page_by_value(store: Store, scope: _Scope, item: query.OrderItem, size: int, offset: int) -> list[str]:
    """A page ordered by one name's values: first the runs that have a value, walked in the value index
    of migration 7 (joined with the runs only to test ``where``), then those without one (NULL sorts
    last both ways), by ``run_id`` descending, as ties are."""
    table, key = item.table, item.key
    valued = f"FROM {table} k WHERE k.key = ? AND k.value IS NOT NULL"
    if not scope.everything:
        valued = (
            f"FROM {table} k CROSS JOIN runs r ON r.run_id = k.run_id{scope.joins} "
            f"WHERE k.key = ? AND k.value IS NOT NULL AND {scope.clause}"
        )
    found = [
        row[0]
        for row in store.query(
            f"SELECT k.run_id {valued} ORDER BY k.value {item.direction}, k.run_id DESC LIMIT ? OFFSET ?",
            [key, *scope.params, size, offset],
        )
    ]
    if 0 <= size <= len(found):
        return found
    if found or not offset:
        before = offset + len(found)
    else:  # the page starts past the runs that have a value: how many are there?
        before = store.query(f"SELECT COUNT(*) {valued}", [key, *scope.params])[0][0]
    rest = store.query(
        f"SELECT r.run_id FROM runs r{scope.joins} WHERE NOT EXISTS (SELECT 1 FROM {table} "
        f"WHERE run_id = r.run_id AND key = ? AND value IS NOT NULL) AND {scope.clause} "
        "ORDER BY r.run_id DESC LIMIT ? OFFSET ?",
        [key, *scope.params, -1 if size < 0 else size - len(found), max(0, offset - before)],
    )
    return found + [row[0] for row in rest]


def _rows_by_id(store: Store, run_ids: list[str], columns: str) -> list[tuple]:
    """The ``columns`` of runs given by id, in that order."""
    if not run_ids:
        return []
    return store.query(
        f"SELECT {_columns(store, columns)} FROM json_each(?) j CROSS JOIN runs r ON r.run_id = j.value "
        "JOIN experiments e ON e.experiment_id = r.experiment_id ORDER BY j.key",
        (json.dumps(run_ids),),
    )
