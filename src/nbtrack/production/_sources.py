"""What a run executed, as a notebook that executes it again: the shared source of ``nbtrack reproduce``
and ``nbtrack export``.

* a ``notebook`` run: its stored input notebook (artifact ``input.ipynb``);
* a ``cell`` run: its session slice (:mod:`nbtrack.capture.session`) as a standalone notebook, with the
  DataFrames no recorded cell makes loaded from their dataset versions; a cell run recorded before
  slices existed is rebuilt from its code, its literal params and its input dataset versions.

Each function returns the notebook, or a list of what is missing to build it (said to the user as is).
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING

from nbtrack.errors import NbtrackError
from nbtrack.production import params as _params
from nbtrack.production.execute import INPUT_ARTIFACT
from nbtrack.store import runs as db

if TYPE_CHECKING:
    from nbformat import NotebookNode

    from nbtrack.capture.session import SessionSlice
    from nbtrack.records import RunRecord
    from nbtrack.store import Store


def runnable_notebook(store: Store, record: RunRecord) -> tuple[NotebookNode | list[str], str | None]:
    """``(notebook that executes what the run executed, working directory it ran in)``, or ``(what is
    missing, None)``."""
    if record.kind == "cell":
        return _cell_notebook(store, record)
    cwd = None
    if record.source_path:
        from pathlib import Path

        cwd = str(Path(record.source_path).parent)
    return input_notebook(store, record.run_id), cwd


def input_notebook(store: Store, run_id: str) -> NotebookNode | list[str]:
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


def read_session_slice(store: Store, run_id: str) -> SessionSlice | None:
    """The session slice a ``%%track`` run recorded, or None for a run without one (runs of other kinds,
    cell runs recorded before nbtrack 0.3)."""
    from nbtrack.capture.session import SessionSlice

    text = db.session(store, run_id) if store.schema_version >= 5 else None
    if text is None:
        return None
    try:
        return SessionSlice.from_json(text)
    except (ValueError, KeyError, TypeError) as error:
        raise NbtrackError(
            f"The session slice of run {run_id} is not one nbtrack can read ({error}): it was written by a "
            "newer nbtrack (upgrade), or reproduce the notebook run that contains the cell instead."
        ) from None


def _cell_notebook(store: Store, record: RunRecord) -> tuple[NotebookNode | list[str], str | None]:
    """``(notebook that re-runs a %%track cell, working directory)``, or ``(what is missing, None)``."""
    if not record.code:
        return ["the run recorded no code"], None
    try:
        sliced = read_session_slice(store, record.run_id)
    except NbtrackError as error:
        return [str(error)], None
    if sliced is None:
        return rebuilt_notebook(store, record), None
    loads, missing = _frame_loads(store, record, sliced.unresolved)
    if missing:
        return missing, None
    return slice_notebook(sliced, loads), sliced.cwd


def slice_notebook(sliced: SessionSlice, loads: list[str] | None = None) -> NotebookNode:
    """A standalone notebook of a session slice: nbtrack loaded and the dataset versions the slice read
    pinned, the kept cells in execution order, ``loads`` (``df = nbtrack.load(...)`` lines for frames no
    recorded cell makes), then the tracked cell under its ``%%track`` line."""
    from nbformat.v4 import new_code_cell, new_notebook

    from nbtrack.production.execute import notebook_from_dict

    setup = "%load_ext nbtrack\nimport nbtrack"
    pins = {load["dataset"]: load["version"] for load in sliced.loads}
    if pins:
        setup += f"\nnbtrack.pin_versions({pins!r})  # the dataset versions the original run read"
    sources = sliced.sources()
    cells = [new_code_cell(setup)] + [new_code_cell(source) for source in sources[:-1]]
    if loads:
        cells.append(new_code_cell("\n".join(loads)))
    cells.append(new_code_cell(sources[-1]))
    nb = new_notebook(
        cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    )
    return notebook_from_dict(nb)


def _frame_loads(store: Store, record: RunRecord, names: list[str]) -> tuple[list[str], list[str]]:
    """``(load lines, what is missing)`` for names the cell reads that no recorded cell binds: a
    DataFrame with a stored dataset version is loaded from it; anything else cannot be rebuilt."""
    inputs = {link["name"]: link for link in record.inputs}
    loads: list[str] = []
    missing: list[str] = []
    for name in names:
        link = inputs.get(name)
        dataset, version = (link.get("dataset"), link.get("version")) if link else (None, None)
        if link and dataset is None and link.get("fingerprint"):
            dataset, version = _version_by_fingerprint(store, link["fingerprint"])
        if dataset is not None:
            loads.append(f"{name} = nbtrack.load({dataset!r}, {version!r})")
        elif link:
            missing.append(
                f"DataFrame {name!r} has no stored dataset version: snapshot it with nbtrack.snapshot() before "
                "the cell to make the cell reproducible"
            )
        else:
            missing.append(f"variable {name!r} {_made_outside(store, record)}")
    return loads, missing


def _made_outside(store: Store, record: RunRecord) -> str:
    """Why a variable is missing, and the run to reproduce instead if there is one."""
    advice = "bind it in a cell of the notebook (or inside the tracked cell)"
    parent = record.parent_id
    if parent and db.artifact(store, parent, INPUT_ARTIFACT) is not None:
        advice = f"reproduce the notebook run {parent[-8:]} that contains the cell instead"
    return (
        "is read by the cell, but no cell of the session binds it (it was made outside the kernel's history, "
        f"e.g. by an extension, a widget callback or a kernel restart): {advice}"
    )


def rebuilt_notebook(store: Store, record: RunRecord) -> NotebookNode | list[str]:
    """A cell run without a session slice: its literal params as the parameters cell, its input
    DataFrames loaded from their dataset versions, then its code."""
    from nbformat.v4 import new_code_cell, new_notebook

    from nbtrack.production.execute import notebook_from_dict

    code = record.code or ""
    free = free_names(code)
    params = {k: v for k, v in record.params.items() if k.isidentifier() and k in free}
    loads, missing = _frame_loads(store, record, [name for name in free if name not in params])
    if missing:
        return missing
    parameters = new_code_cell("\n".join(f"{k} = {v!r}" for k, v in params.items()))
    parameters.metadata["tags"] = [_params.PARAMETERS_TAG]
    name = record.name
    header = f"%%track {name}" if name and " " not in name else "%%track"
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
    """Names ``code`` reads before binding them (nor builtins), in the order they first appear."""
    import ast

    from nbtrack.capture.cellfacts import cell_facts, plain_python

    python = plain_python(code)
    known = set(dir(builtins)) | {"get_ipython", "display", "nbtrack"}
    free = cell_facts(python).reads - known
    first: dict[str, tuple[int, int]] = {}
    for node in ast.walk(ast.parse(python)) if free else ():
        if isinstance(node, ast.Name) and node.id in free:
            first[node.id] = min(first.get(node.id, (node.lineno, node.col_offset)), (node.lineno, node.col_offset))
    return sorted(free, key=lambda name: first.get(name, (0, 0)))
