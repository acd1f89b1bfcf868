"""Leaderboards: which runs and which columns a table of runs shows.

The one choice behind ``nbtrack runs``, ``%track runs`` (HTML table, widget, terminal IPython) and the
``default_columns`` of ``GET /runs?columns=default`` (for the workspace), so that all of them show the
same table:

- **Rows**: the ``%%track`` cell runs of a notebook run are folded into the notebook run's row (the
  notebook run already carries their metrics; the row takes the params it lacks from them), so a sweep
  job or a papermill run is one row; unless two of its cells record the same metric (models compared
  in one notebook), when each cell keeps its row. ``flat=True`` lists every run.
- **Columns** (:func:`choose_columns`): the run, name, status, start and duration, then the metrics most
  runs have, then the params most runs have. nbtrack's own metrics (``_wall_s``, ``_cpu_s``,
  ``_peak_mem_mb``, ``_fits``: every name starting with ``_``), the hyperparameters scikit-learn autolog
  records beside a model (``params.model.max_leaf_nodes`` next to ``params.model``), tags, kind and
  parent are hidden unless asked for by name or with ``all``.

Example::

    board = nbtrack.leaderboard.leaderboard(experiment="churn", order_by="-metrics.auc", limit=10)
    board[nbtrack.leaderboard.choose_columns(board, order_by="-metrics.auc")]
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from nbtrack import _table
from nbtrack.errors import InvalidValueError
from nbtrack.store import StoreLike, resolve_store

if TYPE_CHECKING:
    import pandas as pd

#: What every default table starts with, in this order (``experiment`` and ``user`` only when runs of
#: several experiments, or made by several people, show).
FACTS = ["run_id", "name", "experiment", "user", "status", "start", "duration_s"]
#: Shown by ``all=True`` or by name only.
DETAILS = ["kind", "parent_id"]
ALIASES = {"id": "run_id", "run": "run_id", "duration": "duration_s", "parent": "parent_id"}
SUMMARY_PREFIXES = ("metrics.", "params.", "tags.")


def is_meta_metric(column: str) -> bool:
    """nbtrack's own measurements (``metrics._wall_s``, ``metrics._cpu_s``, ``metrics._peak_mem_mb``...)."""
    return column.startswith("metrics._")


def autolog_details(columns: Sequence[str]) -> set[str]:
    """The params autolog records about a fitted model beside its class: ``params.model.<hyperparameter>``
    where ``params.model`` is also a column (``params.model`` itself is kept)."""
    present = set(columns)
    found = set()
    for column in columns:
        if column.startswith("params.") and "." in column[7:]:
            head = column[7:]
            while "." in head:
                head = head.rpartition(".")[0]
                if f"params.{head}" in present:
                    found.add(column)
                    break
    return found


def resolve_columns(frame: pd.DataFrame, names: Sequence[str]) -> list[str]:
    """Column names as the user typed them (``name``, ``metrics.acc``, ``acc`` when only one of
    ``params.acc``/``metrics.acc``/``tags.acc`` exists, ``id``, ``duration``) as the frame's column names.

    A ``params.``/``metrics.``/``tags.`` name no run has is kept (its cells are empty); any other unknown
    name raises :class:`~nbtrack.errors.InvalidValueError` with the closest known names."""
    known = list(frame.columns)
    chosen: list[str] = []
    for raw in names:
        name = ALIASES.get(raw.strip(), raw.strip())
        if not name:
            continue
        if name in known or name.startswith(SUMMARY_PREFIXES):
            found = name
        else:
            matches = [f"{prefix}{name}" for prefix in SUMMARY_PREFIXES if f"{prefix}{name}" in known]
            if len(matches) != 1:
                if matches:
                    hint = f"it is ambiguous: say {' or '.join(matches)}."
                else:
                    bare = {c.partition(".")[2] if c.startswith(SUMMARY_PREFIXES) else c: c for c in known}
                    close = [bare[c] for c in difflib.get_close_matches(name, list(bare), n=4, cutoff=0.5)]
                    hint = f"did you mean {', '.join(close)}?" if close else "`nbtrack runs --all` lists every column."
                raise InvalidValueError(f"No column {raw!r} in these runs: {hint}")
            found = matches[0]
        if found not in chosen:
            chosen.append(found)
    return chosen


def choose_columns(
    frame: pd.DataFrame,
    columns: Sequence[str] | str | None = None,
    *,
    all: bool = False,
    order_by: str | None = None,
    max_metrics: int | None = None,
    max_params: int | None = None,
) -> list[str]:
    """The columns of a runs table, in display order (:func:`fit_order` says which a table that must fit
    a width keeps first).

    ``columns`` (a list or a comma-separated string) picks them exactly (see :func:`resolve_columns`);
    ``all`` gives every column, nbtrack's own metrics last; otherwise the defaults: run, name, experiment
    and user (when the runs come from several), status, start, duration, the metrics and params that ``order_by``
    names (and a sweep's target metric and swept params: ``frame.attrs["first"]``), then the other
    metrics and params, each most used first (params that differ between the runs before those that
    do not; ties by name), at most ``max_metrics``/``max_params`` of them."""
    if isinstance(columns, str):
        columns = columns.split(",")
    if columns:
        return resolve_columns(frame, columns)
    present = list(frame.columns)
    summary = [c for c in present if c.startswith(SUMMARY_PREFIXES)]
    if all:
        facts = [c for c in FACTS + DETAILS if c in present]
        rest = [c for c in present if c not in facts and not c.startswith(SUMMARY_PREFIXES)]
        metrics = [c for c in summary if c.startswith("metrics.") and not is_meta_metric(c)]
        others = [c for c in summary if c.startswith(("params.", "tags."))]
        return facts + rest + metrics + others + [c for c in summary if is_meta_metric(c)]
    facts = [c for c in FACTS if c in present]
    for varying in ("experiment", "user"):
        if varying in facts and frame[varying].nunique() <= 1:
            facts.remove(varying)
    if "archived" in present and frame["archived"].notna().any():  # runs(archived=True): say which are
        facts.insert(facts.index("status") + 1 if "status" in facts else len(facts), "archived")
    hidden = autolog_details(summary)
    counts = frame[summary].notna().sum()
    first = _first(frame, order_by)

    def most_used(prefix: str, limit: int | None) -> list[str]:
        found = [c for c in summary if c.startswith(prefix) and c not in hidden and not is_meta_metric(c)]
        found = [c for c in found if counts[c] > 0]
        constant = {c for c in found if prefix == "params." and _distinct(frame[c]) <= 1}
        found.sort(key=lambda c: (first.index(c) if c in first else len(first), c in constant, -int(counts[c]), c))
        return found if limit is None else found[: max(limit, len([c for c in found if c in first]))]

    return facts + most_used("metrics.", max_metrics) + most_used("params.", max_params)


def row_columns(
    rows: Sequence[Mapping[str, Any]], *, order_by: str | None = None, max_metrics: int = 10, max_params: int = 10
) -> list[str]:
    """:func:`choose_columns`' default choice for runs given as JSON rows (:func:`nbtrack.reading.list_runs`,
    ``GET /runs``: ``params``/``metrics``/``tags`` nested): the ``default_columns`` of ``GET /runs?columns=default``,
    so that the workspace shows the columns the CLI and ``%track runs`` show."""
    import pandas as pd

    if not rows:
        return []
    groups = ("params", "metrics", "tags")
    flat = [
        {
            **{k: v for k, v in row.items() if k not in groups and k != "archived"},
            **{f"{g}.{k}": v for g in groups for k, v in (row.get(g) or {}).items()},
        }
        for row in rows
    ]
    return choose_columns(pd.DataFrame(flat), order_by=order_by, max_metrics=max_metrics, max_params=max_params)


def _distinct(series: pd.Series) -> int:
    """How many different values a column holds (lists and dicts compared by their text)."""
    try:
        return int(series.nunique())
    except TypeError:  # unhashable values (lists, dicts)
        return int(series.dropna().astype(str).nunique())


def _first(frame: pd.DataFrame, order_by: str | None) -> list[str]:
    """The metrics and params a table shows before the others: those ``order_by`` sorts by, then a sweep's
    target metric and swept params (``frame.attrs["first"]``)."""
    sorted_keys = [k.strip().lstrip("-+ ") for k in (order_by or "").split(",")]
    wanted = [*sorted_keys, *frame.attrs.get("first", [])]
    return [k for k in dict.fromkeys(wanted) if k in frame.columns and k.startswith(("metrics.", "params."))]


def fit_order(frame: pd.DataFrame, columns: Sequence[str], order_by: str | None = None) -> list[str]:
    """The order in which a table that must fit a width takes ``columns`` (shown in their own order): the
    run's facts, the columns :func:`choose_columns` puts first, then the others."""
    first = [c for c in _first(frame, order_by) if c in columns]
    facts = [c for c in columns if not c.startswith(SUMMARY_PREFIXES)]
    return facts + first + [c for c in columns if c not in first and c not in facts]


#: A text table shows at most this many rows (``nbtrack runs`` reads only these without ``--limit``).
TEXT_ROWS = 200


def render_text(
    frame: pd.DataFrame,
    columns: Sequence[str] | str | None = None,
    *,
    all: bool = False,
    order_by: str | None = None,
    width: int | None = None,
    max_rows: int = TEXT_ROWS,
) -> str:
    """The runs as a text table with the note under it (``nbtrack runs``, ``%track runs`` in terminal
    IPython): the first ``max_rows`` runs, the default columns fitted to ``width`` (default: the
    terminal's, 120 without one); ``columns`` or ``all`` shown whole, however wide."""
    if frame.empty:
        return "(no runs)"
    chosen = choose_columns(frame, columns, all=all, order_by=order_by)
    fitted = not (columns or all)
    width = width or _table.terminal_width()
    rows = frame.head(max_rows)
    text, shown = _table.runs_table(rows, chosen, width if fitted else None, fit_order(frame, chosen, order_by))
    return text + "\n" + _table.note("; ".join(notes(frame, shown, len(rows))), width)


def notes(frame: pd.DataFrame, shown: Sequence[str], rows: int | None = None) -> list[str]:
    """What a table of ``frame`` showing ``shown`` (and its first ``rows`` runs) says under it: how many
    runs (of which sweep; whether more match: ``frame.attrs["more"]``), how many columns it leaves out,
    how many cell runs were folded."""
    count = len(frame)
    found = [f"{count} run{'s' * (count != 1)}"]
    if rows is not None and rows < count:
        found = [f"the first {rows} of {count} runs (--limit N)"]
    elif frame.attrs.get("more"):
        found = [f"the first {count} runs; more match (--limit N shows more, --format csv lists every run)"]
    if frame.attrs.get("sweep"):
        found[0] += f" of sweep {frame.attrs['sweep'][-8:]}"
    hidden = len([c for c in frame.columns if c not in shown])
    if hidden:
        found.append(f"{hidden} more columns (--all shows them, --columns picks)")
    if frame.attrs.get("folded"):
        found.append(f"{frame.attrs['folded']} cell runs folded into their notebook runs (--flat lists them)")
    return found


def fold_cell_runs(frame: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """``(frame, folded)``: the ``cell`` runs of a ``notebook`` run in ``frame`` are dropped and the
    notebook run's row takes the params, metrics and tags it lacks from them (the latest cell first),
    unless two of those cells record the same metric (several models compared in one notebook: then
    each keeps its row, the notebook run holding only the last values)."""
    import numpy as np
    import pandas as pd

    if frame.empty or not {"kind", "parent_id", "run_id", "start"} <= set(frame.columns):
        return frame, 0
    kinds = dict(zip(frame["run_id"], frame["kind"]))
    is_cell = (frame["kind"] == "cell") & frame["parent_id"].map(kinds.get).eq("notebook")
    if not is_cell.any():
        return frame, 0
    metrics = [c for c in frame.columns if c.startswith("metrics.") and not is_meta_metric(c)]
    repeated = frame.loc[is_cell, metrics].notna().groupby(frame.loc[is_cell, "parent_id"]).sum().max(axis=1) > 1
    fold = is_cell & ~frame["parent_id"].map(repeated).fillna(False).astype(bool)
    if not fold.any():
        return frame, 0
    position = {run_id: i for i, run_id in enumerate(frame["run_id"])}
    children = np.flatnonzero(fold.to_numpy())
    started = frame["start"].rank(method="first").to_numpy()
    children = children[np.argsort(-started[children], kind="stable")]
    parents = np.array([position[p] for p in frame["parent_id"].to_numpy()[children]], dtype=np.intp)
    data = {}
    for column in frame.columns:
        series = frame[column]
        if column.startswith(SUMMARY_PREFIXES) and series.notna().to_numpy()[children].any():
            values = series.to_numpy(dtype=object, copy=True)
            missing = series.isna().to_numpy().copy()
            for child, parent in zip(children, parents):  # latest cell first: it wins, as in the roll-up
                if missing[parent] and not missing[child]:
                    values[parent], missing[parent] = values[child], False
            series = pd.Series(values, index=frame.index, name=column).infer_objects()
        data[column] = series
    folded = pd.DataFrame(data, index=frame.index).take(np.flatnonzero(~fold.to_numpy())).reset_index(drop=True)
    folded.attrs = {**frame.attrs, "folded_into": list(frame["parent_id"].to_numpy()[children])}
    return folded, int(fold.sum())


def leaderboard(
    experiment: str | None = None,
    where: str | None = None,
    order_by: str | None = None,
    limit: int | None = None,
    *,
    sweep: str | None = None,
    flat: bool = False,
    archived: bool | str = False,
    store: StoreLike | None = None,
) -> pd.DataFrame:
    """Runs as :func:`nbtrack.runs` returns them (``archived`` as it says), with the cell runs of each
    notebook run folded into its row as :func:`fold_cell_runs` does (unless ``flat``);
    ``frame.attrs["folded"]`` says how many were.

    ``sweep`` (a sweep run's id, short id or name) lists that sweep's jobs, each once, best first by the
    metric the sweep ranked (failed jobs last) unless ``order_by`` says otherwise;
    ``frame.attrs["sweep"]`` is the sweep's full id, ``frame.attrs["metric"]`` that metric's column and
    ``frame.attrs["first"]`` it and the swept params (the columns :func:`choose_columns` shows first).
    ``limit`` counts rows after folding.

    Example::

        leaderboard(sweep="sweep wine")  # the jobs of the sweep named "sweep wine"
    """
    from nbtrack.reading import runs

    store = resolve_store(store, create=False)
    attrs: dict[str, object] = {}
    metric, minimize = None, False
    if sweep is not None:
        sweep_id, metric, minimize, swept = _sweep_target(store, sweep)
        attrs.update(sweep=sweep_id, metric=metric, first=[metric, *swept] if metric else swept)
        where = f"parent = '{sweep_id}'" + (f" and ({where})" if where else "")
    ranked_here = sweep is not None and not order_by  # a sweep's jobs: few, ranked below
    fetch = None if limit is None or ranked_here else (limit if flat else limit * 2 + 10)
    while True:  # folding drops rows: read more until ``limit`` rows are left or the runs run out
        frame = runs(experiment, where, order_by, fetch, archived=archived, store=store)
        folded, count = (frame, 0) if flat else fold_cell_runs(frame)
        if fetch is None or limit is None or len(folded) >= limit or len(frame) < fetch:
            break
        fetch *= 4
    if ranked_here:
        folded = _rank_jobs(folded, metric, minimize)
    if limit is not None:
        folded = folded.head(limit)
    if count:  # of the rows kept
        kept = set(folded["run_id"])
        count = sum(parent in kept for parent in folded.attrs.pop("folded_into", ()))
    folded.attrs.update(attrs, folded=count)
    return folded


def _sweep_target(store, text: str) -> tuple[str, str | None, bool, list[str]]:
    """``(sweep id, "metrics.<target>" or None, minimize, swept params' columns)`` of the sweep run ``text``
    names: the target is the
    metric whose best value the sweep recorded (``best.<metric>``); lower is better when that best value is
    the lowest of its jobs'."""
    from nbtrack.records import get_run

    record = get_run(text, store)
    if record.kind != "sweep":
        raise InvalidValueError(
            f"Run {record.short_id} ({record.name}) is a {record.kind} run, not a sweep: give a sweep's id or "
            "name (`nbtrack runs --where \"kind = 'sweep'\"` lists them)."
        )
    swept = [f"params.{name}" for name in record.params]
    best = [k for k in record.latest if k.startswith("best.")]
    if not best:
        return record.run_id, None, False, swept
    metric = best[0][len("best.") :]
    from nbtrack.reading import runs

    values = runs(where=f"parent = '{record.run_id}'", store=store).get(f"metrics.{metric}")
    best_value = record.latest[best[0]]
    minimize = values is not None and values.min() == best_value and values.max() != best_value
    return record.run_id, f"metrics.{metric}", bool(minimize), swept


def _rank_jobs(frame: pd.DataFrame, metric: str | None, minimize: bool) -> pd.DataFrame:
    """Successful jobs first, best ``metric`` first, then newest first."""
    keys = [frame["status"] != "ok"]
    if metric and metric in frame.columns:
        keys.append(frame[metric] if minimize else -frame[metric].astype("float64"))
    names = [f"_k{i}" for i in range(len(keys))]
    order = frame.assign(**dict(zip(names, keys))).sort_values(names, na_position="last", kind="stable")
    return order.drop(columns=names).reset_index(drop=True)
