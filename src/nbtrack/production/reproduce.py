"""``nbtrack reproduce RUN``: execute again what a run executed, and say what came out different.

* a ``notebook`` run (also a sweep job or an earlier reproduction) is re-executed from its stored input
  notebook (artifact ``input.ipynb``) with its recorded params;
* a ``cell`` run (a ``%%track`` cell) is re-executed in a fresh kernel from its session slice
  (:mod:`nbtrack.capture.session`): the earlier cells it depends on, in execution
  order, then the cell itself under ``%%track``, in the working directory it ran in, with the data
  versions those cells loaded pinned (:func:`nbtrack.pin_versions`). A cell run recorded before slices
  existed is rebuilt from its code, its params and its input dataset versions.

The reproduction is itself a run of kind ``reproduce`` tagged ``nbtrack.reproduces = <original id>``.
The verdict is ``reproduced`` (same status, every metric of the original equal within ``rtol``/``atol``,
the same input data, the same code), ``differs`` (naming which metrics by how much, which input data by
name and fingerprint, the code, a failure) or ``cannot`` (what is missing: the input notebook, a variable
no recorded cell makes, the code). Changed package versions are listed in either case. Meta metrics
(names starting with ``_``: wall time, CPU, memory) are not compared. Data the re-executed code
snapshots again is stored once: an unchanged snapshot adds no version.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nbtrack.errors import NbtrackError
from nbtrack.production._sources import input_notebook, runnable_notebook
from nbtrack.store import runs as db

if TYPE_CHECKING:
    from nbformat import NotebookNode

    from nbtrack.production.execute import NotebookRun, StoreLike
    from nbtrack.records import RunRecord
    from nbtrack.store import Store

REPRODUCES_TAG = "nbtrack.reproduces"


@dataclass
class Reproduction:
    """The verdict of :func:`reproduce`.

    ``differences``: one dict per difference, ``{"metric": name, "original", "reproduced", "abs_diff"}``
    for a metric or the status, ``{"data": name, "original", "reproduced"}`` for an input DataFrame
    (``"customers@2 (3f2a9c1b0d4e)"``), ``{"code": "changed", ...}``. ``environment``: packages (and
    Python) whose versions differ, ``{"package", "original", "reproduced"}``: listed, not a difference."""

    verdict: str  # reproduced | differs | cannot
    original_id: str
    run_id: str | None = None
    differences: list[dict[str, Any]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    compared: list[str] = field(default_factory=list)
    environment: list[dict[str, Any]] = field(default_factory=list)

    def __str__(self) -> str:
        if self.verdict == "cannot":
            return f"cannot reproduce {self.original_id}: " + "; ".join(self.missing)
        if self.verdict == "reproduced":
            lines = [
                f"reproduced {self.original_id} as {self.run_id}: "
                f"{len(self.compared)} metrics equal ({', '.join(self.compared) or 'none recorded'})"
            ]
        else:
            lines = [f"differs: {self.original_id} re-executed as {self.run_id}"]
        for d in self.differences:
            lines.append("  " + _describe(d))
        if self.environment:
            changed = ", ".join(f"{e['package']} {e['original']} -> {e['reproduced']}" for e in self.environment)
            lines.append(f"  environment: {changed}")
        return "\n".join(lines)


def _describe(difference: dict[str, Any]) -> str:
    if "data" in difference:
        return f"input data {difference['data']}: {difference['original']} -> {difference['reproduced']}"
    if "code" in difference:
        return "code: the re-executed code is not the code the run recorded"
    diff = f" (|diff| {difference['abs_diff']:.3g})" if difference.get("abs_diff") is not None else ""
    error = f" ({difference['error']})" if difference.get("error") else ""
    return f"{difference['metric']}: {difference['original']!r} -> {difference['reproduced']!r}{diff}{error}"


def reproduce(
    run: str,
    *,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    store: StoreLike | None = None,
    kernel_name: str | None = None,
    timeout: float | None = None,
) -> Reproduction:
    """Re-execute run ``run`` (id, unique prefix/suffix, or name) in a fresh kernel and compare.

    Example::

        verdict = nbtrack.reproduce("1jvj3ssg")
        verdict.verdict, verdict.differences
    """
    from nbtrack.records import get_run
    from nbtrack.store import resolve_store

    store = resolve_store(store, create=False)
    record = get_run(store.resolve_run_id(run), store=store)
    prepared, cwd = runnable_notebook(store, record)
    if isinstance(prepared, list):
        return Reproduction("cannot", record.run_id, missing=prepared)
    result = _execute(store, record, prepared, cwd, kernel_name, timeout)
    return _verdict(store, record, result, rtol, atol)


def rerun(
    run: str,
    params: Mapping[str, object] | None = None,
    *,
    store: StoreLike | None = None,
    check: bool = False,
    **options: Any,
) -> NotebookRun:
    """Execute a notebook run's stored input notebook again, with its params updated by ``params``.

    For the REST route ``POST /runs/{id}/rerun``: returns the new :class:`NotebookRun` (tagged
    ``nbtrack.rerun_of``); raises :class:`NbtrackError` for a run without a stored input notebook.

    Example::

        nbtrack.production.reproduce.rerun("1jvj3ssg", {"lr": 0.01}).run_id
    """
    from nbtrack.production.execute import run_notebook
    from nbtrack.records import get_run
    from nbtrack.store import resolve_store

    store = resolve_store(store, create=False)
    record = get_run(store.resolve_run_id(run), store=store)
    nb = input_notebook(store, record.run_id)
    if isinstance(nb, list):
        raise NbtrackError(f"Cannot rerun {record.run_id}: {nb[0]}.")
    return run_notebook(
        nb,
        {**record.params, **(params or {})},
        experiment=record.experiment,
        name=record.name,
        store=store,
        tags={"nbtrack.rerun_of": record.run_id},
        check=check,
        **options,
    )


def _execute(
    store: Store,
    record: RunRecord,
    nb: NotebookNode,
    cwd: str | None,
    kernel_name: str | None,
    timeout: float | None,
) -> NotebookRun:
    from pathlib import Path

    from nbtrack.production.execute import run_notebook

    return run_notebook(
        nb,
        (record.params or None) if record.kind != "cell" else None,
        experiment=record.experiment,
        name=f"reproduce {record.name or record.run_id[-8:]}",
        store=store,
        kind="reproduce",
        tags={REPRODUCES_TAG: record.run_id},
        parent=None,
        kernel_name=kernel_name,
        timeout=timeout,
        check=False,
        cwd=cwd if cwd and Path(cwd).is_dir() else None,
    )


def _verdict(store: Store, record: RunRecord, result: NotebookRun, rtol: float, atol: float) -> Reproduction:
    """Compare the original run with its reproduction: status, metrics, input data, code, packages."""
    from nbtrack.records import get_run

    again = _reproduced_cell(store, record, result)
    original = {k: (math.nan if v is None else v) for k, v in db.latest_metrics(store, record.run_id, user_only=True)}
    if again is not None:
        reproduced: Mapping[str, Any] = {k: v for k, v in db.latest_metrics(store, again, user_only=True)}
        compared = get_run(again, store=store)
    else:
        reproduced, compared = result.metrics, get_run(result.run_id, store=store)
    verdict = Reproduction("reproduced", record.run_id, result.run_id, compared=sorted(original))
    if result.status != "ok" or compared.status != record.status:
        error = result.error or compared.error or {}
        verdict.differences.append(
            {
                "metric": "status",
                "original": record.status,
                "reproduced": compared.status if result.status == "ok" else result.status,
                "abs_diff": None,
                "error": f"{error.get('type')}: {error.get('message')}" if error else None,
            }
        )
    for key in sorted(original):
        old, new = original[key], reproduced.get(key)
        if new is None:
            verdict.differences.append({"metric": key, "original": old, "reproduced": None, "abs_diff": None})
        elif not (math.isnan(old) and math.isnan(new)) and not math.isclose(old, new, rel_tol=rtol, abs_tol=atol):
            verdict.differences.append({"metric": key, "original": old, "reproduced": new, "abs_diff": abs(new - old)})
    verdict.differences += _data_differences(record, compared)
    if record.kind == "cell" and again is not None and (compared.code or "").strip() != (record.code or "").strip():
        verdict.differences.append({"code": "changed", "original": record.code, "reproduced": compared.code})
    verdict.environment = _environment_differences(record.environment, compared.environment)
    if verdict.differences:
        verdict.verdict = "differs"
    return verdict


def _reproduced_cell(store: Store, record: RunRecord, result: NotebookRun) -> str | None:
    """The cell run the reproduction of a cell run made (the tracked cell is the last one it runs)."""
    if record.kind != "cell":
        return None
    cells = [c for c in db.child_run_ids(store, result.run_id) if db.run_row(store, c).get("kind") == "cell"]
    return cells[-1] if cells else None


def _data_differences(original: RunRecord, again: RunRecord) -> list[dict[str, Any]]:
    """Input DataFrames whose content differs (by fingerprint), named with their dataset versions."""
    before = {link["name"]: link for link in original.inputs}
    after = {link["name"]: link for link in again.inputs}
    found = []
    for name in sorted(before):
        old, new = before[name], after.get(name)
        if new is None:
            found.append({"data": name, "original": _data_label(old), "reproduced": "not read"})
        elif new["fingerprint"] != old["fingerprint"]:
            found.append({"data": name, "original": _data_label(old), "reproduced": _data_label(new)})
    return found


def _data_label(link: Mapping[str, Any]) -> str:
    stored = f"{link['dataset']}@{link['version']} " if link.get("dataset") else "not stored, "
    shape = f", {link['rows']} rows" if link.get("rows") is not None else ""
    return f"{stored}({str(link['fingerprint'])[:12]}{shape})"


def _environment_differences(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Python and the installed packages whose versions differ (added or removed packages included)."""
    found = []
    if before.get("python") and after.get("python") and before["python"] != after["python"]:
        found.append({"package": "python", "original": before["python"], "reproduced": after["python"]})
    old, new = before.get("packages") or {}, after.get("packages") or {}
    if old and new:
        for name in sorted(set(old) | set(new)):
            if old.get(name) != new.get(name):
                found.append({"package": name, "original": old.get(name), "reproduced": new.get(name)})
    return found
