"""Parameter sweeps: one ``sweep`` run with one ``notebook`` child run per combination.

Local jobs run in threads of this process, each executing its notebook with papermill in its own
kernel (kernels are processes, so threads give real parallelism; kernel launches are serialised by
:mod:`._kernel` to avoid port races). A job that fails, or whose kernel dies, is recorded ``failed``
and the others go on.

With a Dask ``Client`` (``executor=``) or a scheduler address (``scheduler=``), each job runs on a
worker into a temporary store of its own, merged back into the user's store (:mod:`._dask`).
"""

from __future__ import annotations

import io
import itertools
import random as _random
import tarfile
import tempfile
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbtrack.errors import InvalidValueError, NbtrackError
from nbtrack.production import params as _params

if TYPE_CHECKING:
    import pandas as pd
    from distributed import Client
    from nbformat import NotebookNode

    from nbtrack.production._kernel import KernelPool
    from nbtrack.production.execute import NotebookSource
    from nbtrack.store import Store, StoreLike
    from nbtrack.tracking import Run

#: One job's row of the leaderboard: job, run_id, status, params.*, metrics.*, duration_s, error.
Row = dict[str, Any]


@dataclass(frozen=True)
class _Job:
    """What every job of a sweep shares."""

    nb: NotebookNode
    source_path: str | None
    experiment: str
    parent: Run
    kernel_name: str | None
    timeout: float | None
    stem: str
    ship_folder: bool = True
    worker_timeout: float = 60.0


def combinations(
    known: list[_params.Parameter], grid: Mapping[str, object], random: int | None = None, seed: int | None = None
) -> list[dict[str, object]]:
    """The grid's combinations (values converted to each parameter's type), or ``random`` of them."""
    axes = grid_axes(known, grid)
    grid_points = [dict(zip(axes, combo)) for combo in itertools.product(*axes.values())]
    if random is not None:
        rng = _random.Random(seed)
        grid_points = rng.sample(grid_points, min(random, len(grid_points)))
    return grid_points


def grid_axes(known: list[_params.Parameter], grid: Mapping[str, object]) -> dict[str, list[object]]:
    """``{name: [values converted to the parameter's type]}``; comma-separated strings are split."""
    by_name = {p.name: p for p in known}
    _params.coerce(known, {name: None for name in grid})  # unknown names raise, listing the known ones
    axes = {}
    for name, values in grid.items():
        if isinstance(values, str):
            values = [v.strip() for v in values.split(",") if v.strip()]
        elif not isinstance(values, (list, tuple, range)):
            values = [values]
        if not values:
            raise InvalidValueError(f"Parameter {name!r} has no values to sweep: give e.g. -p {name} 1,2,3.")
        axes[name] = [_params.convert(by_name[name], v) for v in values]
    return axes


def sweep(
    notebook: NotebookSource,
    params: Mapping[str, object],
    *,
    random: int | None = None,
    seed: int | None = None,
    jobs: int = 1,
    experiment: str | None = None,
    executor: Client | None = None,
    scheduler: str | None = None,
    store: StoreLike | None = None,
    name: str | None = None,
    kernel_name: str | None = None,
    timeout: float | None = None,
    metric: str | None = None,
    minimize: bool = False,
    progress: bool = True,
    ship_folder: bool = True,
    worker_timeout: float = 60.0,
) -> pd.DataFrame:
    """Run ``notebook`` once per combination of ``params`` and return the leaderboard DataFrame.

    ``params`` maps names to lists of values (or comma-separated strings); the grid is their
    product, or ``random`` combinations of it drawn with ``seed``. One parent run (kind ``sweep``) gets
    one child notebook run per combination. ``jobs`` notebooks run at once locally; with ``executor``
    (a ``dask.distributed.Client``) or ``scheduler`` (its address) they run on a Dask cluster and their
    runs are merged back as each finishes: the notebook's folder is shipped to the workers
    (``ship_folder``, see :mod:`._dask`), a cluster without a worker after ``worker_timeout`` seconds is
    an error, and Ctrl-C cancels the jobs not started and interrupts the running ones. The frame has one
    row per job (run_id, status, the params, the metrics, duration_s, error), best first by ``metric``
    (default: the first metric seen); ``board.attrs["run_id"]`` is the sweep's own run.

    Example::

        board = nbtrack.sweep("train.ipynb", {"lr": [0.01, 0.1, 1], "depth": [3, 5]}, jobs=2)
    """
    from nbtrack.production.execute import load
    from nbtrack.store import resolve_store
    from nbtrack.tracking import start_run

    store = resolve_store(store)
    nb, source_path = load(notebook)
    found = _params.scan(nb)
    _params.coerce(found.params, {name: None for name in params}, found.ambiguous)  # unknown or ambiguous: refused
    points = combinations(found.params, params, random, seed)
    stem = Path(source_path).stem if source_path else "notebook"
    tags = {"sweep.size": len(points)} | (
        {"sweep.random": random, "sweep.seed": str(seed)} if random is not None else {}
    )
    parent = start_run(
        name or f"sweep {stem}",
        experiment,
        params=grid_axes(found.params, params),
        tags=tags,
        kind="sweep",
        source_path=source_path,
        store=store,
    )
    job = _Job(
        nb=nb,
        source_path=source_path,
        experiment=parent.experiment,
        parent=parent,
        kernel_name=kernel_name,
        timeout=timeout,
        stem=stem,
        ship_folder=ship_folder,
        worker_timeout=worker_timeout,
    )
    try:
        if executor is not None or scheduler is not None:
            rows = _run_dask(points, job, store, executor, scheduler, progress)
        else:
            rows = _run_local(points, job, store, jobs, progress)
    except KeyboardInterrupt as exc:
        raise _interrupted(parent, exc) from None
    except BaseException as exc:
        from nbtrack.tracking import error_info

        parent.finish("failed", error_info(exc))
        raise
    board = leaderboard(rows, metric, minimize)
    _finish_parent(parent, rows, board, metric)
    board.attrs["run_id"] = parent.run_id  # the sweep's own run
    return board


def _interrupted(parent: Run, exc: KeyboardInterrupt) -> KeyboardInterrupt:
    """Ctrl-C: the sweep run ends ``interrupted``; the message says where the finished jobs are."""
    from nbtrack.tracking import error_info

    parent.finish("interrupted", error_info(exc))
    short = parent.run_id[-8:]
    return KeyboardInterrupt(
        f"Sweep {short} interrupted: the jobs that finished are kept as its child runs (`nbtrack show {short}`)."
    )


def _run_local(points: list[dict[str, object]], job: _Job, store: Store, jobs: int, progress: bool) -> list[Row]:
    from tqdm.auto import tqdm

    rows: list[Row | None] = [None] * len(points)
    kernels = _kernel_pool(job, store, len(points))
    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="nbtrack-sweep") as pool:
            futures = {pool.submit(_local_job, i, point, job, store, kernels): i for i, point in enumerate(points)}
            try:
                for future in tqdm(
                    as_completed(futures), total=len(points), disable=not progress, desc="sweep", unit="nb"
                ):
                    rows[futures[future]] = future.result()
            except BaseException:  # Ctrl-C: jobs not started yet are dropped, running ones finish
                for future in futures:
                    future.cancel()
                raise
    finally:
        kernels.close()
    return _complete(rows)


def _complete(rows: list[Row | None]) -> list[Row]:
    """The rows of every job; a job without one is a bug (each job reports a row, failed or not)."""
    missing = [index for index, row in enumerate(rows) if row is None]
    if missing:
        raise NbtrackError(f"Sweep jobs {missing} ended without reporting a result: the sweep run is incomplete.")
    return [row for row in rows if row is not None]


def _kernel_pool(job: _Job, store: Store, size: int) -> KernelPool:
    """Kernels launched ahead of the jobs (see :class:`._kernel.KernelPool`), in the notebook's folder."""
    from nbtrack.production._kernel import KernelPool
    from nbtrack.production.execute import notebook_kernel

    name = job.kernel_name or notebook_kernel(job.nb)
    cwd = str(Path(job.source_path).parent) if job.source_path else None
    return KernelPool(
        name, jobs=size, cwd=cwd, env={"NBTRACK_HOME": str(store.root), "NBTRACK_EXPERIMENT": job.experiment}
    )


def _local_job(index: int, point: dict[str, object], job: _Job, store: Store, kernels: KernelPool) -> Row:
    """One job in a thread: a path is read again by each job (and recorded as the run's source path)."""
    from nbtrack.production.execute import run_with

    started = time.time()
    try:
        result = run_with(
            kernels,
            job.source_path or job.nb,
            point,
            experiment=job.experiment,
            parent=job.parent.run_id,
            store=store,
            name=f"{job.stem} [{index}]",
            kernel_name=job.kernel_name,
            timeout=job.timeout,
            check=False,
            cwd=str(Path(job.source_path).parent) if job.source_path else None,
        )
    except Exception as exc:  # not a notebook failure (those are in the result): report, keep going
        return _row(
            index, None, "failed", point, {}, time.time() - started, {"type": type(exc).__name__, "message": str(exc)}
        )
    return _row(index, result.run_id, result.status, point, result.metrics, result.duration_s, result.error)


def _row(
    index: int,
    run_id: str | None,
    status: str,
    point: Mapping[str, object],
    metrics: Mapping[str, object],
    duration: float | None,
    error: Mapping[str, Any] | None,
) -> Row:
    return {
        "job": index,
        "run_id": run_id,
        "status": status,
        **{f"params.{k}": v for k, v in point.items()},
        **{f"metrics.{k}": v for k, v in metrics.items()},
        "duration_s": duration,
        "error": None if not error else f"{error.get('type')}: {error.get('message')}",
    }


def leaderboard(rows: list[Row], metric: str | None = None, minimize: bool = False) -> pd.DataFrame:
    """The jobs as a DataFrame, successful ones first, best ``metric`` first."""
    import pandas as pd

    frame = pd.DataFrame(rows)
    metric_columns = [c for c in frame.columns if c.startswith("metrics.")]
    column = f"metrics.{metric}" if metric else (metric_columns[0] if metric_columns else None)
    frame["_failed"] = frame["status"] != "ok"
    keys, ascending = ["_failed"], [True]
    if column is not None and column in frame.columns:
        keys.append(column)
        ascending.append(minimize)
    frame = frame.sort_values(keys, ascending=ascending, na_position="last", kind="stable")
    return frame.drop(columns="_failed").reset_index(drop=True)


def _finish_parent(parent: Run, rows: list[Row], board: pd.DataFrame, metric: str | None) -> None:
    ok = sum(1 for r in rows if r["status"] == "ok")
    parent.set_tags({"sweep.ok": ok, "sweep.failed": len(rows) - ok})
    metric_columns = [c for c in board.columns if c.startswith("metrics.")]
    column = f"metrics.{metric}" if metric else (metric_columns[0] if metric_columns else None)
    if ok and column is not None and column in board.columns and board[column].notna().any():
        parent.log_metric(f"best.{column[len('metrics.') :]}", float(board[column].iloc[0]))
        parent.set_tag("sweep.best_run", board["run_id"].iloc[0])
    if ok:
        parent.finish("ok")
    else:
        parent.finish("failed", {"type": "SweepFailed", "message": f"all {len(rows)} jobs failed", "traceback": ""})


def _run_dask(
    points: list[dict[str, object]],
    job: _Job,
    store: Store,
    executor: Client | None,
    scheduler: str | None,
    progress: bool,
) -> list[Row]:
    """The jobs on a Dask cluster (see :mod:`._dask`), each job's store merged back as it finishes."""
    import nbformat

    from nbtrack.production import _dask
    from nbtrack.store.merge import merge

    folder = None
    if job.ship_folder and job.source_path:
        folder = _dask.folder_archive(Path(job.source_path).parent)
    client, opened = _dask.connect(executor, scheduler, job.worker_timeout)
    parent_row = _dask.parent_stub(store, job.parent.run_id)
    nb_text = nbformat.writes(job.nb)
    rows: list[Row | None] = [None] * len(points)
    try:
        shipped = client.scatter(folder) if folder is not None else None

        def submit(i: int, point: dict[str, object], cancel_name: str) -> Any:
            name = f"{job.stem} [{i}]"
            return client.submit(
                _dask.remote_job,
                nb_text,
                point,
                parent_row,
                name,
                job.kernel_name,
                job.timeout,
                shipped,
                cancel_name,
                pure=False,
            )

        def on_result(i: int, result: _dask.JobResult | BaseException) -> None:
            if isinstance(result, BaseException):
                error = {"type": type(result).__name__, "message": str(result)}
                rows[i] = _row(i, None, "failed", points[i], {}, None, error)
                return
            summary, archive = result
            with tempfile.TemporaryDirectory(prefix="nbtrack-merge-") as tmp:
                with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
                    tar.extractall(tmp, filter="data")
                merge(Path(tmp) / ".nbtrack", into=store)
            metrics, duration = summary["metrics"], summary["duration_s"]
            rows[i] = _row(i, summary["run_id"], summary["status"], points[i], metrics, duration, summary["error"])

        _dask.run_jobs(client, points, submit, on_result, f"nbtrack-sweep-{job.parent.run_id}", progress)
        return _complete(rows)
    finally:
        if opened:
            client.close()
