"""Sweep jobs on a Dask cluster.

Each job runs on a worker into a temporary store of its own; the worker ships that store back (SQLite
file and blobs, as one tar archive) and it is merged into the user's store with
:func:`nbtrack.store.merge.merge` as each job finishes, so a sweep stopped half-way keeps every finished
job's run.

* **The notebook's folder travels with it** (``ship_folder``, on by default): workers run in folders of
  their own, often on other machines, so the folder holding the notebook (without ``.nbtrack``, ``.git``,
  virtual environments and caches; at most :data:`SHIP_LIMIT_BYTES`) is sent once and unpacked next to
  each job, which runs there, so relative paths (``pd.read_csv("data.csv")``) read what they read locally.
* **No workers is an error, not a wait**: the sweep waits at most ``worker_timeout`` seconds for the
  scheduler and one worker, then says so.
* **Ctrl-C cancels the cluster's work**: jobs not started are cancelled, and running jobs get their
  kernel interrupted (through a Dask ``Event`` each job watches), as Ctrl-C in a notebook would.
"""

from __future__ import annotations

import io
import os
import tarfile
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbtrack.errors import InvalidValueError, NbtrackError
from nbtrack.store import runs as db

if TYPE_CHECKING:
    from distributed import Client

    from nbtrack.production._kernel import KernelPool
    from nbtrack.store import Store

#: The most a notebook's folder may hold to be shipped to the workers.
SHIP_LIMIT_BYTES = 100 * 1024 * 1024

#: Folder names never shipped: stores, version control, environments, caches.
NOT_SHIPPED = frozenset(
    {".nbtrack", ".git", ".hg", ".svn", ".venv", "venv", "node_modules", "__pycache__", ".ipynb_checkpoints"}
    | {".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".hypothesis"}
)

#: ``(summary of the job's run, tar of its temporary store)`` as a worker returns it.
JobResult = tuple[dict[str, Any], bytes]


def connect(executor: Client | None, scheduler: str | None, worker_timeout: float) -> tuple[Client, bool]:
    """``(client with at least one worker, whether this sweep opened it)``; a clear error when the
    scheduler cannot be reached or has no worker within ``worker_timeout`` seconds."""
    try:
        from distributed import Client
    except ImportError:
        raise InvalidValueError(
            "Running a sweep on a Dask cluster needs dask.distributed: pip install 'dask[distributed]' "
            "(or `pip install '.[dask]'` in the nbtrack checkout)."
        ) from None
    client, opened = executor, False
    if client is None:
        try:
            client, opened = Client(scheduler, timeout=worker_timeout), True
        except (OSError, TimeoutError) as error:
            raise NbtrackError(
                f"Could not reach the Dask scheduler at {scheduler} within {worker_timeout:g} s ({error}): "
                "start it with `dask scheduler`, or check the address (tcp://host:8786)."
            ) from None
    try:
        client.wait_for_workers(1, timeout=worker_timeout)
    except TimeoutError:
        address = scheduler or getattr(client.scheduler, "address", "?")
        if opened:
            client.close()
        raise NbtrackError(
            f"The Dask cluster at {address} has no worker after {worker_timeout:g} s, so no job can run: "
            f"start one with `dask worker {address}` (or raise --worker-timeout)."
        ) from None
    return client, opened


def folder_archive(folder: Path) -> bytes:
    """The notebook's folder as a gzipped tar, without :data:`NOT_SHIPPED` folders; refused over
    :data:`SHIP_LIMIT_BYTES`."""
    members = list(_shipped_files(folder))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in members:
            tar.add(str(path), arcname=str(path.relative_to(folder)), recursive=False)
    return buffer.getvalue()


def _shipped_files(folder: Path) -> Iterator[Path]:
    total = 0
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in NOT_SHIPPED)
        for name in sorted(files):
            path = Path(root) / name
            if path.is_symlink() or not path.is_file():
                continue
            total += path.stat().st_size
            if total > SHIP_LIMIT_BYTES:
                raise InvalidValueError(
                    f"The notebook's folder {folder} holds more than {SHIP_LIMIT_BYTES // 2**20} MB to ship to "
                    "the Dask workers: keep large data in nbtrack dataset versions or where every worker reads "
                    "it (a shared folder, object storage), or pass ship_folder=False (--no-ship-folder) if the "
                    "workers already have the files."
                )
            yield path


def run_jobs(
    client: Client,
    points: list[dict[str, object]],
    submit: Callable[[int, dict[str, object], str], Any],
    on_result: Callable[[int, JobResult | BaseException], None],
    cancel_name: str,
    progress: bool,
) -> None:
    """Submit one job per point, hand each result (or the error that ended it) to ``on_result`` as it
    comes; on Ctrl-C cancel pending jobs and interrupt running ones, then re-raise."""
    from distributed import Event
    from distributed import as_completed as dask_completed
    from tqdm.auto import tqdm

    futures = [submit(i, point, cancel_name) for i, point in enumerate(points)]
    index = {f.key: i for i, f in enumerate(futures)}
    try:
        for future in tqdm(dask_completed(futures), total=len(points), disable=not progress, desc="sweep"):
            try:
                result = future.result()
            except Exception as exc:  # the worker itself died or raised
                result = exc
            on_result(index[future.key], result)
    except BaseException:
        Event(cancel_name, client=client).set()
        client.cancel(futures)
        raise


def parent_stub(store: Store, run_id: str) -> dict[str, Any]:
    row = db.run_row(store, run_id)
    return {key: row[key] for key in ("run_id", "name", "experiment", "start")}


def remote_job(
    nb_text: str,
    point: dict[str, object],
    parent_row: dict[str, Any],
    name: str,
    kernel_name: str | None,
    timeout: float | None,
    folder: bytes | None = None,
    cancel_name: str | None = None,
) -> JobResult:
    """Run on a Dask worker: execute into a temporary store (in the unpacked notebook folder when one was
    shipped), return ``(summary, tar of that store)``.

    The parent sweep run is stubbed into the temporary store (so the child can name it) and removed
    before shipping, so the merge never touches the real parent run.
    """
    import nbformat

    from nbtrack.production._kernel import KernelPool
    from nbtrack.production.execute import notebook_kernel, run_with
    from nbtrack.store import Store

    with tempfile.TemporaryDirectory(prefix="nbtrack-worker-") as tmp:
        work = Path(tmp) / "work"
        work.mkdir()
        if folder is not None:
            with tarfile.open(fileobj=io.BytesIO(folder)) as tar:
                tar.extractall(work, filter="data")
        store = Store.open(Path(tmp) / ".nbtrack")
        _stub_parent(store, parent_row)
        nb = nbformat.reads(nb_text, as_version=4)
        kernels = KernelPool(kernel_name or notebook_kernel(nb), jobs=1, cwd=work)
        try:
            with _interrupt_on(cancel_name, kernels):
                result = run_with(
                    kernels,
                    nb,
                    point,
                    experiment=parent_row["experiment"],
                    parent=parent_row["run_id"],
                    store=store,
                    name=name,
                    kernel_name=kernel_name,
                    timeout=timeout,
                    check=False,
                    cwd=work,
                )
        finally:
            kernels.close()
        with store.transaction() as conn:
            db.delete_run_row(conn, parent_row["run_id"])
        store.checkpoint()
        store.close()
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            tar.add(str(Path(tmp) / ".nbtrack"), arcname=".nbtrack")
        summary = {
            "run_id": result.run_id,
            "status": result.status,
            "metrics": result.metrics,
            "duration_s": result.duration_s,
            "error": result.error,
        }
        return summary, buffer.getvalue()


def _stub_parent(store: Store, parent_row: dict[str, Any]) -> None:
    experiment_id = store.experiment_id(parent_row["experiment"])
    with store.transaction() as conn:
        db.insert_run(
            conn,
            run_id=parent_row["run_id"],
            name=parent_row["name"],
            experiment_id=experiment_id,
            status="running",
            kind="sweep",
            start=parent_row["start"],
        )


@contextmanager
def _interrupt_on(cancel_name: str | None, kernels: KernelPool) -> Iterator[None]:
    """While the block runs, interrupt ``kernels`` each second once the sweep's cancel event is set."""
    if cancel_name is None:
        yield
        return
    from distributed import Event, get_client

    event = Event(cancel_name, client=get_client())
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            try:
                cancelled = event.wait(timeout=1)
            except Exception:  # the scheduler went away: nobody can cancel any more
                return
            if cancelled and not done.is_set():
                kernels.interrupt()
                done.wait(1)

    watcher = threading.Thread(target=watch, name="nbtrack-sweep-cancel", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join(timeout=5)
