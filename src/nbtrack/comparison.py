"""Several runs side by side: the one comparison behind ``nbtrack.compare``, ``nbtrack compare``,
``%track compare`` and the workspace's compare view."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nbtrack.reading import _json_value, _open_for_reading
from nbtrack.records import RunRecord, get_run
from nbtrack.store import StoreLike

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class ComparedKey:
    """One param or metric across the compared runs: a value per run (None where a run lacks it)."""

    key: str
    values: list[object]
    differs: bool


@dataclass
class Comparison:
    """Several runs side by side: the one comparison behind ``nbtrack.compare``, ``nbtrack compare``,
    ``%track compare`` and the sidebar's compare view."""

    runs: list[RunRecord]
    params: list[ComparedKey]
    metrics: list[ComparedKey]  # the last value of each metric

    @property
    def ids(self) -> list[str]:
        return [r.short_id for r in self.runs]

    def series(self, with_meta: bool = True) -> dict[str, dict[str, list[list]]]:
        """Metric histories ``{key: {run_id: [[step, value], ...]}}`` (``_wall_s``-like metrics only with
        ``with_meta``)."""
        found: dict[str, dict[str, list[list]]] = {}
        for record in self.runs:
            for key, step, value, _ in record._history().itertuples(index=False):
                if with_meta or not key.startswith("_"):
                    found.setdefault(key, {}).setdefault(record.run_id, []).append([int(step), value])
        return {key: found[key] for key in sorted(found)}

    def to_frame(self) -> pd.DataFrame:
        """One row per ``params.k`` / ``metrics.k``, one column per run (short ids) and ``differs``;
        differing rows first."""
        import pandas as pd

        rows = [(f"params.{c.key}", c) for c in self.params] + [(f"metrics.{c.key}", c) for c in self.metrics]
        frame = pd.DataFrame(
            [c.values for _, c in rows], index=[name for name, _ in rows], columns=self.ids, dtype=object
        )
        frame["differs"] = [c.differs for _, c in rows]
        return frame.sort_values("differs", ascending=False, kind="stable")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``runs`` (summaries), ``params`` and ``metrics`` as ``[{key, values, differs}]``,
        ``series`` of every metric."""

        def rows(compared: list[ComparedKey], safe: Callable[[list[object]], list[object]]) -> list[dict[str, Any]]:
            return [{"key": c.key, "values": safe(c.values), "differs": c.differs} for c in compared]

        series = {
            key: {
                run_id: [[step, None if value != value else _json_value(value)] for step, value in points]
                for run_id, points in by_run.items()
            }
            for key, by_run in self.series().items()
        }
        return {
            "runs": [r.to_dict() for r in self.runs],
            "params": rows(self.params, list),
            "metrics": rows(self.metrics, lambda values: [_json_value(v) for v in values]),
            "series": series,
        }


def compare_runs(run_ids: Iterable[str], store: StoreLike | None = None) -> Comparison:
    """Compare runs given by id, short id or name (each once, in the order given)."""
    store = _open_for_reading(store)
    records: list[RunRecord] = []
    for text in run_ids:
        record = get_run(text, store)
        if record.run_id not in {r.run_id for r in records}:
            records.append(record)
    return Comparison(records, _side_by_side([r.params for r in records]), _side_by_side([r.latest for r in records]))


def _side_by_side(dicts: Sequence[Mapping[str, object]]) -> list[ComparedKey]:
    compared = []
    for key in sorted({k for d in dicts for k in d}):
        values = [d.get(key) for d in dicts]
        distinct = {json.dumps(v, sort_keys=True, default=str) for v in values}
        compared.append(ComparedKey(key, values, len(distinct) > 1))
    return compared


def compare(run_ids: Iterable[str], store: StoreLike | None = None) -> pd.DataFrame:
    """Params and metrics of several runs side by side (one column per run), differing rows first.

    Example::

        nbtrack.compare(["4f7kq2xm", "baseline"])
    """
    return compare_runs(run_ids, store).to_frame()
