"""Runs tables as text: every value formatted the way people read it, the table fitted to a width.

One formatting for ``nbtrack runs``, the terminal-IPython rendering of the ``%track`` views and the cells
of their HTML tables: integers as integers (``3``, also when a gap made pandas store the column as
floats), other numbers with 4 significant digits (``0.8676``, ``12346``, ``1.2e-05``), ids as the
8-character short id, start times as ``12-07 14:05`` this year and ``2025-12-07`` before (UTC),
durations as ``6.01s`` / ``2m05s``, missing values as ``-``, long text cut with ``…``.
"""

from __future__ import annotations

import json
import math
import shutil
import textwrap
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from nbtrack.store import ids as _ids

if TYPE_CHECKING:
    import pandas as pd

MISSING = "-"
MAX_TEXT = 30
SEPARATOR = "  "
#: The width of a table printed where no terminal says one (a pipe, a file, a test).
DEFAULT_WIDTH = 120
_HEADERS = {"run_id": "run", "duration_s": "duration", "parent_id": "parent"}
_GROUPS = ("metrics", "params", "tags")


def terminal_width() -> int:
    """The terminal's width (``COLUMNS`` first); :data:`DEFAULT_WIDTH` when output goes to a pipe or file."""
    return shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns


def is_missing(value: object) -> bool:
    """None, NaN, pandas NA/NaT (without comparing, which pd.NA refuses)."""
    if value is None:
        return True
    if isinstance(value, float):
        return value != value
    return type(value).__name__ in ("NAType", "NaTType")


def number(value: float | int, digits: int = 4) -> str:
    """An int exactly; a float with ``digits`` significant digits, without the fraction from 10,000 up."""
    if isinstance(value, (bool, int)):
        return str(value)
    value = float(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if 10**digits <= abs(value) < 1e15:
        return f"{value:.0f}"
    return f"{value:.{digits}g}"


def duration(seconds: float) -> str:
    """``0.45s``, ``12.3s``, ``2m05s``, ``1h02m``."""
    if seconds < 10:
        return f"{seconds:.2f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    return f"{minutes // 60}h{minutes % 60:02d}m"


def cut(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def value_text(column: str, value: object, digits: int = 4) -> str:
    """One cell of column ``column`` as text (floats with ``digits`` significant digits)."""
    if is_missing(value):
        return MISSING
    if column in ("run_id", "parent_id") and isinstance(value, str):
        return _ids.short_id(value)
    if column == "duration_s" and isinstance(value, (int, float)):
        return duration(float(value))
    if isinstance(value, datetime):  # like ls -l: the day and minute this year, the date before
        return value.strftime("%m-%d %H:%M" if value.year == datetime.now(value.tzinfo).year else "%Y-%m-%d")
    if isinstance(value, (bool, int, float)) or type(value).__module__ == "numpy":
        return number(value.item() if hasattr(value, "item") else value, digits)  # type: ignore[union-attr]
    if isinstance(value, (list, dict, tuple)):
        return cut(json.dumps(value, default=str))
    return cut(str(value))


def header(column: str) -> tuple[str, str]:
    """``(group, label)``: ``("metrics", "acc")`` for ``metrics.acc``, ``("", "run")`` for ``run_id``."""
    group, _, name = column.partition(".")
    if group in _GROUPS and name:
        return group, name
    return "", _HEADERS.get(column, column)


def _numeric(series: pd.Series) -> bool:
    return series.dtype.kind in "iuf" or (
        series.dtype == object and all(isinstance(v, (int, float)) for v in series if not is_missing(v))
    )


class Grid:
    """Cells as text, laid out in columns two spaces apart; numbers right-aligned; an optional group row
    above the labels (``metrics`` over the first metric column)."""

    def __init__(self, labels: Sequence[str], cells: Sequence[Sequence[str]], right: Sequence[bool], groups=None):
        self.labels, self.cells, self.right = list(labels), [list(r) for r in cells], list(right)
        self.groups = list(groups) if groups and any(groups) else None
        self.widths = [max([len(label)] + [len(row[i]) for row in self.cells]) for i, label in enumerate(labels)]
        if self.groups:  # a group's label must fit over its columns, with a space before the next group's
            for start, end in self._spans():
                span = sum(self.widths[start:end]) + len(SEPARATOR) * (end - start - 1)
                need = len(self.groups[start]) + (1 if end < len(self.labels) else 0)
                self.widths[end - 1] += max(0, need - span)

    def _spans(self) -> list[tuple[int, int]]:
        assert self.groups is not None
        spans, start = [], 0
        for i in range(1, len(self.groups) + 1):
            if i == len(self.groups) or self.groups[i] != self.groups[start]:
                if self.groups[start]:
                    spans.append((start, i))
                start = i
        return spans

    @property
    def width(self) -> int:
        return sum(self.widths) + len(SEPARATOR) * max(0, len(self.widths) - 1)

    def _line(self, texts: Sequence[str], right: Sequence[bool]) -> str:
        parts = [t.rjust(w) if r else t.ljust(w) for t, w, r in zip(texts, self.widths, right)]
        return SEPARATOR.join(parts).rstrip()

    def render(self) -> str:
        lines = []
        if self.groups:
            spans = dict(self._spans())
            row = [self.groups[i] if i in spans else "" for i in range(len(self.labels))]
            line = ""
            for i, text in enumerate(row):
                start = sum(self.widths[:i]) + len(SEPARATOR) * i
                if text:
                    line = line.ljust(start) + text
            lines.append(line.rstrip())
        lines.append(self._line(self.labels, self.right))
        lines += [self._line(row, self.right) for row in self.cells]
        return "\n".join(lines)


def runs_table(
    frame: pd.DataFrame, columns: Sequence[str], width: int | None = None, priority: Sequence[str] | None = None
) -> tuple[str, list[str]]:
    """``(text, shown)``: the runs of ``frame`` as a text table of ``columns``. With ``width``, columns are
    taken in ``priority`` order (default: ``columns``' own) while the table fits (the first always), the
    others left out, and shown in ``columns``' order; ``shown`` says which were kept."""
    cells = {c: [value_text(c, v) for v in frame[c]] if c in frame.columns else [MISSING] * len(frame) for c in columns}
    right = {c: c in frame.columns and (_numeric(frame[c]) or c == "duration_s") for c in columns}

    def grid(chosen: list[str]) -> Grid:
        heads = [header(c) for c in chosen]
        rows = list(zip(*(cells[c] for c in chosen))) if chosen else []
        return Grid([h[1] for h in heads], rows, [right[c] for c in chosen], [h[0] for h in heads])

    shown: list[str] = []
    for column in priority or columns:
        candidate = [c for c in columns if c in shown or c == column]
        if width is None or not shown or grid(candidate).width <= width:
            shown = candidate
    return grid(shown).render(), shown


def note(text: str, width: int | None) -> str:
    """A sentence under a table, wrapped to the table's width."""
    return textwrap.fill(text, width=max(40, width)) if width else text


def key_values(title: str, rows: Sequence[tuple[str, Sequence[Any], bool]], ids: Sequence[str], mark: str = "*") -> str:
    """Rows of a comparison under ``title``: ``key  value  value ...`` (floats with 6 significant digits, so
    that close values still differ), ``mark`` before the keys whose values differ."""
    labels = [title, *ids]
    cells = [
        [f"{mark if differs else ' '} {key}", *(value_text(key, v, digits=6) for v in values)]
        for key, values, differs in rows
    ]
    right = [False] + [all(_is_number(values[i]) for _, values, _ in rows) for i in range(len(ids))]
    return Grid(labels, cells, right).render()


def _is_number(value: object) -> bool:
    return is_missing(value) or (isinstance(value, (int, float)) and not isinstance(value, bool))


def run_lines(record) -> list[str]:
    """Everything a :class:`~nbtrack.records.RunRecord` holds, one fact a line (``nbtrack show``, and
    ``%track show`` in terminal IPython)."""
    lines = [f"run        {record.run_id} ({record.short_id})"]
    for label, value in [
        ("name", record.name),
        ("experiment", record.experiment),
        ("status", record.status),
        ("kind", record.kind),
        ("start", record.start),
        ("duration", record.duration_s),
        ("user", f"{record.user} on {record.host}" if record.user else record.host),
        ("source", record.source_path),
        ("parent", record.parent_id),
        (
            "archived",
            f"{record.archived} (nbtrack restore {record.short_id} brings it back)" if record.archived else None,
        ),
        ("note", record.note.replace("\n", "\n           ") if record.note else None),
    ]:
        if value is not None:
            lines.append(f"{label:<10} {value}")
    for title, items in [("params", record.params), ("metrics", record.latest), ("tags", record.tags)]:
        if items:
            lines.append(f"{title}:")
            lines += [f"  {key} = {value!r}" for key, value in items.items()]
    for artifact in record.artifacts:
        lines.append(
            f"artifact   {artifact['name']} ({artifact['kind']}, {artifact['size']} bytes, {artifact['hash']})"
        )
    if record.error:
        lines.append(f"error      {record.error['type']}: {record.error['message']}")
    if record.code:
        lines += ["code:", "  " + record.code.replace("\n", "\n  ")]
    return lines
