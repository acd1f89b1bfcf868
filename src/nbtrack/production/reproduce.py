"""``nbtrack reproduce RUN``: execute again what a run executed and compare the metrics.

* a ``notebook`` run (also a sweep job or an earlier reproduction) is re-executed from its stored input
  notebook (artifact ``input.ipynb``) with its recorded params;
* a ``cell`` run (a ``%%track`` cell) is re-executed in a fresh kernel as a small notebook: its recorded
  params as the parameters cell, its input DataFrames loaded from their data versions
  (``nbtrack.load``), then its recorded code as a ``%%track`` cell.

The reproduction is itself a run of kind ``reproduce`` tagged ``nbtrack.reproduces = <original id>``.
The verdict is ``reproduced`` (every metric of the original equal within ``rtol``/``atol``),
``differs`` (which metrics, by how much; or the reproduction failed) or ``cannot`` (what is missing:
the input notebook, a variable the cell reads that no data version provides, the code). Meta metrics
(names starting with ``_``: wall time, CPU, memory) are not compared.
"""

from __future__ import annotations

import ast
import builtins
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nbtrack.errors import NbtrackError
from nbtrack.production import params as _params
from nbtrack.production.execute import INPUT_ARTIFACT
from nbtrack.store import runs as db

if TYPE_CHECKING:
    from nbformat import NotebookNode

    from nbtrack.production.execute import NotebookRun, StoreLike
    from nbtrack.store import Store

REPRODUCES_TAG = "nbtrack.reproduces"


@dataclass
class Reproduction:
    """The verdict of :func:`reproduce`."""

    verdict: str  # reproduced | differs | cannot
    original_id: str
    run_id: str | None = None
    differences: list[dict[str, Any]] = field(default_factory=list)  # {metric, original, reproduced, abs_diff}
    missing: list[str] = field(default_factory=list)
    compared: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        if self.verdict == "cannot":
            return f"cannot reproduce {self.original_id}: " + "; ".join(self.missing)
        if self.verdict == "reproduced":
            return (
                f"reproduced {self.original_id} as {self.run_id}: "
                f"{len(self.compared)} metrics equal ({', '.join(self.compared) or 'none recorded'})"
            )
        lines = [f"differs: {self.original_id} re-executed as {self.run_id}"]
        for d in self.differences:
            diff = f" (|diff| {d['abs_diff']:.3g})" if d.get("abs_diff") is not None else ""
            lines.append(f"  {d['metric']}: {d['original']!r} -> {d['reproduced']!r}{diff}")
        return "\n".join(lines)


def reproduce(
    run: str,
    *,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    store: StoreLike | None = None,
    kernel_name: str | None = None,
    timeout: float | None = None,
) -> Reproduction:
    """Re-execute run ``run`` (id or unique prefix/suffix) and compare its metrics with the original's.

    Example::

        verdict = nbtrack.reproduce("1jvj3ssg")
        verdict.verdict, verdict.differences
    """
    from nbtrack.reading import get_run
    from nbtrack.store import Store, default_store

    store = store if store is not None else default_store(create=False)
    if not isinstance(store, Store):
        store = Store.open(store, create=False)
    run_id = store.resolve_run_id(run)
    record = get_run(run_id, store=store)
    kind, name, experiment, code, params = record.kind, record.name, record.experiment, record.code, record.params
    source_path = record.source_path
    if kind == "cell":
        prepared = _cell_notebook(store, run_id, name, code, params)
    else:
        prepared = _input_notebook(store, run_id)
    if isinstance(prepared, list):
        return Reproduction("cannot", run_id, missing=prepared)
    return _execute_and_compare(
        store,
        run_id,
        name,
        experiment,
        prepared,
        params if kind != "cell" else {},
        source_path if kind != "cell" else None,
        rtol,
        atol,
        kernel_name,
        timeout,
    )


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
    from nbtrack.reading import get_run
    from nbtrack.store import Store, default_store

    store = store if store is not None else default_store(create=False)
    if not isinstance(store, Store):
        store = Store.open(store, create=False)
    record = get_run(store.resolve_run_id(run), store=store)
    nb = _input_notebook(store, record.run_id)
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


def _input_notebook(store: Store, run_id: str) -> NotebookNode | list[str]:
    """The run's stored input notebook, or what is missing to read it."""
    import nbformat

    found = db.artifact(store, run_id, INPUT_ARTIFACT)
    if found is None:
        return [
            f"the run has no stored input notebook ({INPUT_ARTIFACT}): only runs made by `nbtrack run`, "
            "`nbtrack sweep` or %%track cells can be reproduced"
        ]
    blob = found[1]
    if not store.blobs.present(blob):
        return [f"the blob of {INPUT_ARTIFACT} ({blob}) is missing from the store: run `nbtrack fsck`"]
    return nbformat.reads(store.blobs.read_bytes(blob).decode("utf-8"), as_version=4)


def _cell_notebook(
    store: Store, run_id: str, name: str | None, code: str | None, params: Mapping[str, object]
) -> NotebookNode | list[str]:
    """A notebook that re-runs a %%track cell, or the list of what is missing to build one."""
    from nbformat.v4 import new_code_cell, new_notebook

    from nbtrack.production.execute import notebook_from_dict

    if not code:
        return ["the run recorded no code"]
    loads: list[str] = []
    missing: list[str] = []
    inputs = {
        link["name"]: (link["dataset"], link["version"], link["fingerprint"])
        for link in db.data_links(store, run_id, "input")
    }
    for free in free_names(code):
        if free in params:
            continue
        dataset, version, fingerprint = inputs.get(free, (None, None, None))
        if dataset is None and fingerprint is not None:
            dataset, version = _version_by_fingerprint(store, fingerprint)
        if dataset is None and free in inputs:
            missing.append(
                f"DataFrame {free!r} has no stored data version: snapshot it with "
                "nbtrack.snapshot() before the cell to make the cell reproducible"
            )
        elif dataset is None:
            missing.append(
                f"variable {free!r} is defined outside the cell: define it inside the cell, or "
                "reproduce the notebook run that contains the cell"
            )
        else:
            loads.append(f"{free} = nbtrack.load({dataset!r}, {version!r})")
    if missing:
        return missing
    header = f"%%track {name}" if name and " " not in name else "%%track"
    parameters = new_code_cell("\n".join(f"{k} = {v!r}" for k, v in params.items()))
    parameters.metadata["tags"] = [_params.PARAMETERS_TAG]
    cells = [new_code_cell("%load_ext nbtrack\nimport nbtrack"), parameters]
    if loads:
        cells.append(new_code_cell("\n".join(loads)))
    cells.append(new_code_cell(f"{header}\n{code}"))
    nb = new_notebook(
        cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    )
    return notebook_from_dict(nb)


def _version_by_fingerprint(store: Store, fingerprint: str) -> tuple[str, int] | tuple[None, None]:
    from nbtrack.store import datasets

    return datasets.version_by_fingerprint(store, fingerprint) or (None, None)


def free_names(code: str) -> list[str]:
    """Names ``code`` reads that it does not define itself (nor are builtins)."""
    from nbtrack.capture.analysis import analyse

    try:
        tree = ast.parse(code)
        reads = analyse(code).reads
    except SyntaxError:
        return []
    defined = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            defined.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            defined.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, ast.arg):
            defined.add(node.arg)
    known = defined | set(dir(builtins)) | {"get_ipython", "display", "nbtrack"}
    return [name for name in reads if name not in known]


def _execute_and_compare(
    store: Store,
    run_id: str,
    name: str | None,
    experiment: str,
    nb: NotebookNode,
    params: Mapping[str, object],
    source_path: str | None,
    rtol: float,
    atol: float,
    kernel_name: str | None,
    timeout: float | None,
) -> Reproduction:
    from pathlib import Path

    from nbtrack.production.execute import run_notebook

    cwd = str(Path(source_path).parent) if source_path and Path(source_path).parent.is_dir() else None
    result = run_notebook(
        nb,
        params or None,
        experiment=experiment,
        name=f"reproduce {name or run_id[-8:]}",
        store=store,
        kind="reproduce",
        tags={REPRODUCES_TAG: run_id},
        parent=None,
        kernel_name=kernel_name,
        timeout=timeout,
        check=False,
        cwd=cwd,
    )
    original = {k: (math.nan if v is None else v) for k, v in db.latest_metrics(store, run_id, user_only=True)}
    verdict = Reproduction("reproduced", run_id, result.run_id, compared=sorted(original))
    if result.status != "ok":
        error = result.error or {}
        verdict.differences.append(
            {
                "metric": "status",
                "original": "ok",
                "reproduced": result.status,
                "abs_diff": None,
                "error": f"{error.get('type')}: {error.get('message')}",
            }
        )
    for key in sorted(original):
        old, new = original[key], result.metrics.get(key)
        if new is None:
            verdict.differences.append({"metric": key, "original": old, "reproduced": None, "abs_diff": None})
        elif not (math.isnan(old) and math.isnan(new)) and not math.isclose(old, new, rel_tol=rtol, abs_tol=atol):
            verdict.differences.append({"metric": key, "original": old, "reproduced": new, "abs_diff": abs(new - old)})
    if verdict.differences:
        verdict.verdict = "differs"
    return verdict
