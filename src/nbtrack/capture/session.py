"""The slice of a kernel session that a ``%%track`` run depends on.

A tracked cell often reads what earlier cells made: a split, a fitted transformer, a helper function,
an import. To reproduce or export the run, nbtrack records, with every ``%%track`` run, the earlier
executed cells it depends on, in execution order (the idea of nbgather's "code gathering", Head et al.,
CHI 2019): walking the session history backwards from the tracked cell, a cell is kept when it

* binds a name the kept code still needs (assignments, imports, ``def``/``class``, loop targets), or
* may change such a name in place (``model.fit(X, y)``, ``df["c"] = ...``, ``items.append(x)``), or
* sets process-wide state the result depends on (random seeds, ``os.chdir``, ``sys.path``, pandas and
  scikit-learn options, ``%run``, ``%%writefile``, star imports);

the names a kept cell reads are then needed in turn. Cells that raised are left out (when the magics
saw them run), and so are cells that only show things. The slice is stored with the run (table
``run_sessions``, as JSON); ``nbtrack reproduce`` re-executes it in a fresh kernel and
``nbtrack export RUN`` writes it as a notebook or a script.

What a slice cannot see: state made outside the kernel's history (a module edited on disk, a file a
cell overwrote later, an object built by ``exec`` of a string). Names the tracked code reads that no
recorded cell binds are listed in :attr:`SessionSlice.unresolved`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nbtrack.capture.cellfacts import SESSION_NAMES, cell_facts

FORMAT = 1


@dataclass
class SessionCell:
    """One executed cell kept in a slice: its execution count and its source as typed."""

    count: int
    source: str


@dataclass
class SessionSlice:
    """The earlier cells a tracked run depends on, its own ``%%track`` line and code, the dataset versions
    those cells loaded (``{"cell", "dataset", "version", "fingerprint"}``), the working directory, and
    the names the run reads that no recorded cell binds."""

    cells: list[SessionCell] = field(default_factory=list)
    magic: str = "%%track"
    code: str = ""
    loads: list[dict[str, Any]] = field(default_factory=list)
    cwd: str | None = None
    unresolved: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT,
                "cells": [{"count": c.count, "source": c.source} for c in self.cells],
                "magic": self.magic,
                "code": self.code,
                "loads": self.loads,
                "cwd": self.cwd,
                "unresolved": self.unresolved,
            },
            indent=1,
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> SessionSlice:
        """The slice stored with a run; raises ValueError for text that is not one."""
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError("not an nbtrack session slice (format 1)")
        cells = [SessionCell(int(c["count"]), str(c["source"])) for c in data.get("cells", [])]
        return cls(
            cells,
            str(data.get("magic") or "%%track"),
            str(data.get("code") or ""),
            [dict(load) for load in data.get("loads", [])],
            data.get("cwd"),
            [str(name) for name in data.get("unresolved", [])],
        )

    def sources(self) -> list[str]:
        """The kept cells as runnable code, earlier ``%%track`` lines removed (they would record runs of
        their own), followed by the tracked cell with its ``%%track`` line."""
        return [_untracked(cell.source) for cell in self.cells] + [f"{self.magic}\n{self.code}"]


def _untracked(source: str) -> str:
    stripped = source.lstrip()
    if stripped.startswith("%%track"):
        return stripped.partition("\n")[2]
    return source


def slice_session(
    history: list[str],
    raw: list[str] | None,
    code: str,
    namespace: dict[str, Any],
    failed: set[int] | frozenset[int] = frozenset(),
) -> SessionSlice:
    """The cells of ``history`` (transformed Python of the cells run before, indexed by execution count
    as IPython's ``In``: index 0 is empty) that tracked ``code`` depends on; ``raw`` holds the same cells
    as typed (IPython's ``input_hist_raw``); ``failed`` the execution counts of cells that raised."""
    needed = set(cell_facts(code).reads) - SESSION_NAMES
    reads = set(needed)
    kept: list[SessionCell] = []
    bound_by_kept: set[str] = set()  # a conditional binding (try/except, if) keeps the name needed, yet provides it
    may_bind_anything = False
    for count in range(len(history) - 1, 0, -1):
        python = history[count]
        if count in failed or not isinstance(python, str) or not python.strip():
            continue
        facts = cell_facts(python)
        changes = facts.changes | {n for n in facts.method_receivers if _may_change(namespace.get(n, _MISSING))}
        if not (facts.sets_state or facts.binds & needed or changes & needed):
            continue
        source = raw[count] if raw is not None and count < len(raw) and isinstance(raw[count], str) else python
        kept.append(SessionCell(count, source))
        may_bind_anything |= facts.binds_unknown
        bound_by_kept |= facts.binds
        needed = (needed - facts.kills) | (set(facts.reads) - SESSION_NAMES)
    kept.reverse()
    missing = needed - bound_by_kept
    unresolved = [] if may_bind_anything else sorted(name for name in missing if name in reads or name in namespace)
    return SessionSlice(kept, code=code, unresolved=unresolved)


_MISSING = object()


def _may_change(value: object) -> bool:
    """A method called on ``value`` may change it: not for modules, classes and functions."""
    import types

    return not isinstance(
        value, (types.ModuleType, type, types.FunctionType, types.BuiltinFunctionType, types.MethodType)
    )


class SessionLog:
    """What the kernel session did that its history does not say: which executions raised, and which
    dataset versions each execution loaded. The magics feed it from IPython's ``pre_run_cell`` and
    ``post_run_cell`` events; :func:`nbtrack.load` reports loads to the active log. ``position`` gives
    the running cell's index in the session history (its execution count). Entries are keyed by that
    index and the cell's source, so a new session (whose counts restart) cannot mix them up."""

    def __init__(self, position: Callable[[], int]) -> None:
        self.position = position
        self.failed: dict[int, str] = {}
        self.loads: dict[int, tuple[str, list[dict[str, Any]]]] = {}
        self.running: str | None = None
        self._this_cell: list[dict[str, Any]] | None = None

    def before_cell(self, source: str | None) -> None:
        self.running = (source or "").rstrip("\n")  # as IPython's history stores it
        self._this_cell: list[dict[str, Any]] | None = None  # loads of this execution, once it loads

    def after_cell(self, source: str | None, success: bool) -> None:
        count = self.position()
        if not success:
            self.failed[count] = (source or "").rstrip("\n")
        else:
            self.failed.pop(count, None)
        self.running = None

    def loaded(self, dataset: str, version: int, fingerprint: str) -> None:
        if self.running is None:
            return
        count = self.position()
        if self._this_cell is None:  # the first load of this execution replaces any older entry at its count
            self._this_cell = []
            self.loads[count] = (self.running, self._this_cell)
        self._this_cell.append({"cell": count, "dataset": dataset, "version": version, "fingerprint": fingerprint})

    def failed_cells(self, raw: list[str] | None) -> set[int]:
        """The execution counts, in the current history ``raw``, of cells that raised."""
        return {
            count for count, source in self.failed.items() if raw is None or (count < len(raw) and raw[count] == source)
        }

    def loads_of(self, cells: list[SessionCell]) -> list[dict[str, Any]]:
        found = []
        for cell in cells:
            source, entries = self.loads.get(cell.count, ("", []))
            if source == cell.source.rstrip("\n"):
                found += entries
        return found


_active: SessionLog | None = None


def active_log() -> SessionLog | None:
    """The session log of this process's IPython session, if the magics are loaded."""
    return _active


def activate(log: SessionLog | None) -> None:
    global _active
    _active = log
