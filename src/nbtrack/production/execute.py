"""Run a notebook through papermill as one tracked run.

The execution is a run of kind ``notebook``: its params are the values actually used, its status
``ok``/``failed``, the input notebook and the executed (possibly partial) output notebook are stored as
``notebook`` artifacts, and the output notebook's metadata carries ``nbtrack: {run_id, store, ...}``
beside papermill's own. ``%%track`` cells inside become child runs: the kernel is started with
``NBTRACK_PARENT_RUN`` and ``NBTRACK_HOME`` in its environment. The latest metric values of those child
runs are copied onto the notebook run ("rolled up") so that sweeps and reproduce can compare notebook
runs by their metrics.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbtrack.errors import InvalidValueError, NbtrackError, NotebookFailedError
from nbtrack.production import params as _params
from nbtrack.store import runs as db

if TYPE_CHECKING:
    from typing import TypeAlias

    from nbformat import NotebookNode

    from nbtrack.production._kernel import KernelPool
    from nbtrack.store import Store, StoreLike
    from nbtrack.tracking import Run

    #: A notebook given to ``run_notebook`` and friends: its path, or the notebook itself.
    NotebookSource: TypeAlias = str | os.PathLike[str] | NotebookNode | dict[str, Any]

NOTEBOOK_MEDIA_TYPE = "application/x-ipynb+json"
INPUT_ARTIFACT = "input.ipynb"
OUTPUT_ARTIFACT = "output.ipynb"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass
class NotebookRun:
    """The outcome of :func:`run_notebook`."""

    run_id: str
    status: str
    params: dict
    metrics: dict = field(default_factory=dict)
    error: dict | None = None
    output_path: str | None = None
    duration_s: float | None = None
    store: str | None = None
    notebook: NotebookNode | None = field(default=None, repr=False)  # the executed notebook

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def load(notebook: NotebookSource) -> tuple[NotebookNode, str | None]:
    """``(NotebookNode, absolute source path or None)`` from a path, a notebook dict or a NotebookNode."""
    import nbformat

    if isinstance(notebook, nbformat.NotebookNode):
        return notebook, None
    if isinstance(notebook, dict):
        return notebook_from_dict(notebook), None
    path = Path(notebook)
    if not path.is_file():
        raise NbtrackError(f"Notebook {path} does not exist: check the path.")
    try:
        return nbformat.read(str(path), as_version=4), str(path.absolute())
    except Exception as error:  # invalid JSON, not a notebook, unreadable
        raise NbtrackError(f"{path} is not a readable notebook ({error}): open it in Jupyter to check it.") from error


def notebook_from_dict(data: Mapping[str, Any]) -> NotebookNode:
    """``data`` (nested dicts included) as a NotebookNode."""
    import nbformat

    return nbformat.from_dict(data)  # pyright: ignore[reportReturnType]  # unannotated; a dict gives a NotebookNode


def run_notebook(
    notebook: NotebookSource,
    params: Mapping[str, object] | None = None,
    *,
    experiment: str | None = None,
    output: str | os.PathLike | None = None,
    name: str | None = None,
    store: StoreLike | None = None,
    kernel_name: str | None = None,
    cwd: str | os.PathLike | None = None,
    parent: Run | str | None = None,
    tags: Mapping[str, object] | None = None,
    kind: str = "notebook",
    timeout: float | None = None,
    check: bool = True,
) -> NotebookRun:
    """Execute a notebook with papermill as one tracked run (kind ``notebook``).

    ``params`` override the notebook's params (its ``parameters`` cell, or the ones inferred as
    ``nbtrack export --to notebook`` would); strings are converted to the type of each param's default and an
    unknown name raises an error listing the known ones, a name assigned a literal in several places one
    listing those places. Without ``params`` the notebook runs exactly as it is (nothing injected), so it
    computes what it computes under plain papermill. ``output`` is where the executed notebook is
    written (also on failure: the partial notebook). With ``check=True`` a failure raises
    :class:`NotebookFailedError` after everything is recorded; with ``check=False`` the result says so.

    Example::

        result = nbtrack.run_notebook("train.ipynb", {"alpha": 0.1}, experiment="prod")
        result.run_id, result.metrics
    """
    return run_with(
        None,
        notebook,
        params,
        experiment=experiment,
        output=output,
        name=name,
        store=store,
        kernel_name=kernel_name,
        cwd=cwd,
        parent=parent,
        tags=tags,
        kind=kind,
        timeout=timeout,
        check=check,
    )


def run_with(
    kernels: KernelPool | None,
    notebook: NotebookSource,
    parameters: Mapping[str, object] | None = None,
    *,
    experiment: str | None = None,
    output: str | os.PathLike | None = None,
    name: str | None = None,
    store: StoreLike | None = None,
    kernel_name: str | None = None,
    cwd: str | os.PathLike | None = None,
    parent: Run | str | None = None,
    tags: Mapping[str, object] | None = None,
    kind: str = "notebook",
    timeout: float | None = None,
    check: bool = True,
) -> NotebookRun:
    """:func:`run_notebook` in a kernel from ``kernels`` (a :class:`._kernel.KernelPool`, for sweeps), or
    in a kernel launched for this run when ``kernels`` is None."""
    from nbtrack._paths import check_output_path
    from nbtrack.store import resolve_store
    from nbtrack.tracking import start_run

    if output is not None:
        check_output_path(output, "output notebook")  # before anything runs: never into the store
    if timeout is not None and not timeout > 0:
        raise InvalidValueError(f"timeout must be a positive number of seconds, not {timeout!r}: e.g. --timeout 0.5")
    store = resolve_store(store)
    nb, source_path = load(notebook)
    used, given, prepared = prepare(nb, parameters)
    kernel_name = kernel_name or notebook_kernel(prepared)
    if cwd is None and source_path:
        cwd = str(Path(source_path).parent)
    run_name = name or (Path(source_path).stem if source_path else None)
    with _pool(kernels, kernel_name, cwd) as kernels:  # a run of its own: a pool of one kernel
        run = start_run(
            run_name, experiment, params=used, tags=tags, kind=kind, source_path=source_path, parent=parent, store=store
        )
        try:
            _log_notebook(run, nb, INPUT_ARTIFACT)
            env = _bind_to_run(prepared, run, store, used)
            executed, error, output_path, interrupt = _execute(
                prepared, nb, given, kernel_name, env, output, timeout, kernels
            )
        except BaseException as exc:  # our own failure (or Ctrl-C): the run must not stay "running"
            from nbtrack.tracking import error_info

            run.finish("interrupted" if isinstance(exc, KeyboardInterrupt) else "failed", error_info(exc))
            raise
        result = _conclude(run, store, used, executed, error, output_path, interrupt)
        if check and error:
            raise NotebookFailedError(result)
        return result


def _bind_to_run(prepared: NotebookNode, run: Run, store: Store, used: dict[str, object]) -> dict[str, str]:
    """Note the run in the notebook's metadata; the kernel variables that make its ``%%track`` cells the
    run's children."""
    prepared.metadata["nbtrack"] = {
        "run_id": run.run_id,
        "store": str(store.root),
        "experiment": run.experiment,
        "parameters": used,
    }
    return {"NBTRACK_PARENT_RUN": run.run_id, "NBTRACK_HOME": str(store.root), "NBTRACK_EXPERIMENT": run.experiment}


def _conclude(
    run: Run,
    store: Store,
    used: dict[str, object],
    executed: NotebookNode | None,
    error: dict[str, Any] | None,
    output_path: str | None,
    interrupt: KeyboardInterrupt | None,
) -> NotebookRun:
    """Record the output notebook and the run's end; Ctrl-C during the notebook is raised again, naming
    where its partial output notebook is kept (as papermill keeps it)."""
    if executed is not None:
        _log_notebook(run, executed, OUTPUT_ARTIFACT)
    if interrupt is not None:
        run.finish("interrupted", error)
        kept = f" at {output_path} and" if output_path else ""
        interrupt.args = (
            f"Notebook run {run.run_id} interrupted: its partial output notebook is kept{kept} in the store "
            f"(`nbtrack show {run.run_id[-8:]}`).",
        )
        raise interrupt
    metrics = _roll_up(run)
    status = "failed" if error else "ok"
    run.finish(status, error)
    duration = _duration(store, run.run_id)
    return NotebookRun(run.run_id, status, used, metrics, error, output_path, duration, str(store.root), executed)


def notebook_kernel(nb: NotebookNode) -> str:
    """The kernel a notebook asks for (its kernelspec), else ``python3``."""
    return nb.metadata.get("kernelspec", {}).get("name") or "python3"


@contextmanager
def _pool(kernels: KernelPool | None, kernel_name: str, cwd: str | os.PathLike | None) -> Iterator[KernelPool]:
    """``kernels``, or a pool of one kernel for a single run (closed, its kernel stopped, at the end)."""
    from nbtrack.production._kernel import KernelPool

    if kernels is not None:
        yield kernels
        return
    own = KernelPool(kernel_name, jobs=1, cwd=cwd)
    try:
        yield own
    finally:
        own.close()


def prepare(
    nb: NotebookNode, parameters: Mapping[str, object] | None
) -> tuple[dict[str, object], dict[str, object], NotebookNode]:
    """``(values used, values given for papermill to inject, the notebook to execute)``.

    Nothing given: the notebook as it is, nothing injected, so it computes exactly what it computes under
    plain papermill. Values given to a notebook with a ``parameters`` cell: injected after that cell by
    papermill, nothing else changed. Values given to a notebook without one: a ``parameters`` cell is added
    for the params given (each one's single literal assignment becomes a marker, see
    :func:`._params.parameterize`) and the values are written at the markers of ``%%track`` cells, so their
    child runs record them. Raises before anything runs for an unknown or ambiguous param (one assigned a
    literal in several places) or a value of the wrong type."""
    import copy

    if not parameters:
        try:
            known = _params.infer(nb)
        except NbtrackError:  # a parameters cell that does not parse: papermill reports it at that cell
            known = []
        return {p.name: p.value for p in known}, {}, copy.deepcopy(nb)
    found = _params.scan(nb)
    given = _params.coerce(found.params, parameters, found.ambiguous)
    used = {p.name: p.value for p in found.params} | given
    if found.cell >= 0:
        return used, given, copy.deepcopy(nb)
    prepared = _params.parameterize(nb, set(given))
    added = _params.find_tagged(prepared, _params.PARAMETERS_TAG)
    prepared.cells[added].metadata["nbtrack"] = {"added_by_run": True}  # a cell the user's notebook does not have
    _params.bind_values(prepared, given)
    return used, given, prepared


def _execute(
    prepared: NotebookNode,
    original: NotebookNode,
    given: dict[str, object],
    kernel_name: str,
    env: dict[str, str],
    output: str | os.PathLike | None,
    timeout: float | None,
    kernels: KernelPool,
) -> tuple[NotebookNode | None, dict[str, Any] | None, str | None, KeyboardInterrupt | None]:
    """Run papermill in a kernel from ``kernels``; returns ``(executed notebook or None, error dict or
    None, output path or None, the KeyboardInterrupt that stopped it or None)``. ``given`` are the values
    papermill injects (none: no injected cell at all)."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from nbtrack.production import _papermill_io

    _papermill_io.install()  # papermill's own local files change the working directory: not thread-safe
    with tempfile.TemporaryDirectory(prefix="nbtrack-run-") as tmp:
        target = str(output) if output is not None else os.path.join(tmp, "output.ipynb")
        error: dict[str, Any] | None = None
        interrupt: KeyboardInterrupt | None = None
        try:  # the pool's kernel starts in its working directory: no chdir of this process
            with kernels.kernel(env) as km:
                papermill.execute_notebook(
                    prepared,
                    target,
                    parameters=given,
                    kernel_name=kernel_name,
                    progress_bar=False,
                    km=km,
                    **_timeout_options(timeout),
                )
        except PapermillExecutionError as exc:
            error = {
                "type": exc.ename,
                "message": _ANSI.sub("", str(exc.evalue)),
                "traceback": _ANSI.sub("", "\n".join(exc.traceback))[-20000:],
                "execution_count": exc.exec_count,
            }
        except KeyboardInterrupt as exc:  # Ctrl-C: papermill has saved the partial notebook; keep it too
            from nbtrack.tracking import error_info

            interrupt, error = exc, error_info(exc)
        except Exception as exc:  # dead kernel, timeout, kernel that cannot start
            from nbclient.exceptions import CellTimeoutError

            from nbtrack.tracking import error_info

            error = error_info(exc)
            if isinstance(exc, CellTimeoutError):  # nbclient's message is a page with the cell's code in it
                error["message"] = (
                    f"the cell ran longer than the timeout of {timeout:g} s: raise --timeout, or make it faster"
                )
        executed = _read_output(target)
        if error is not None and executed is not None:
            error.update(_failing_cell(executed, original))
        return executed, error, (str(output) if output is not None and executed is not None else None), interrupt


class _QuietTimeout(logging.Filter):
    """Drops nbclient's "Timeout waiting for execute reply (0s)." log line: the run's error says it, exactly."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Timeout waiting for execute reply")


_QUIET_TIMEOUT = _QuietTimeout()


def _timeout_options(timeout: float | None) -> dict[str, Any]:
    """papermill's options for a per-cell timeout of ``timeout`` seconds (a float: nbclient's own
    ``timeout`` trait takes only whole seconds, its ``timeout_func`` any number). An expired cell fails the
    run with nbclient's ``CellTimeoutError``; the kernel pool then interrupts the kernel and waits for it
    to answer before shutting it down (no late reply on closed sockets)."""
    if timeout is None:
        return {}
    logging.getLogger("papermill").addFilter(_QUIET_TIMEOUT)  # a filter object is added once
    return {"timeout_func": lambda _cell: timeout}


def _read_output(target: str) -> NotebookNode | None:
    """The notebook papermill wrote at ``target``, or None (never written, or cut short mid-write)."""
    import nbformat

    if not os.path.exists(target):
        return None
    try:
        return nbformat.read(target, as_version=4)
    except Exception:  # a write cut short by Ctrl-C: no readable partial notebook
        return None


def _failing_cell(executed: NotebookNode, original: NotebookNode) -> dict[str, Any]:
    """Index (in the user's notebook numbering) and source of the cell that failed: the one papermill
    marked failed, else (the kernel died, a timeout) the last cell that started.

    papermill removes the error-marker cells a previous papermill run left in the notebook before it runs
    it, and adds its own: the executed cells (neither injected nor added, nor markers) are the user's cells
    that are not markers, in order."""
    users = [
        index
        for index, cell in enumerate(original.cells)
        if _params.ERROR_MARKER_TAG not in cell.get("metadata", {}).get("tags", [])
    ]
    numbered = []
    for cell in executed.cells:
        metadata = cell.get("metadata", {})
        tags = metadata.get("tags", [])
        if _params.INJECTED_TAG in tags or _params.ERROR_MARKER_TAG in tags:
            continue
        if not metadata.get("nbtrack", {}).get("added_by_run"):
            position = len(numbered)
            numbered.append((users[position] if position < len(users) else position, cell))
    started = [(i, c) for i, c in numbered if c.get("metadata", {}).get("papermill", {}).get("start_time")]
    failed = [(i, c) for i, c in started if c.metadata.papermill.get("status") == "failed"]
    if not (failed or started):
        return {"cell_index": None}
    index, cell = (failed or started)[-1]
    return {"cell_index": index, "cell_source": cell.source[:2000]}


def _log_notebook(run: Run, nb: NotebookNode, name: str) -> None:
    import nbformat

    run.log_artifact(nbformat.writes(nb).encode(), name, kind="notebook", media_type=NOTEBOOK_MEDIA_TYPE)


def _roll_up(run: Run) -> dict[str, float]:
    """Copy the latest metrics of the run's children (later children win) onto the run itself.

    Meta metrics (``_wall_s`` and the like, names starting with ``_``) stay on the cells they describe."""
    rows = db.children_latest_metrics(run.store, run.run_id)
    metrics = {key: (float("nan") if value is None else value) for key, value in rows}
    own = {k: v[0] for k, v in run.latest.items()}
    metrics = {k: v for k, v in metrics.items() if k not in own}
    if metrics:
        run.log_metrics(metrics)
    return {**metrics, **own}


def _duration(store: Store, run_id: str) -> float | None:
    return db.duration(store, run_id)
