"""Kernels for notebook runs: launched ahead of time, one launch at a time, the run's environment set.

Every notebook run takes its kernel from a :class:`KernelPool` (a single run from a pool of one). The
environment is how a notebook run tells the kernel's ``%%track`` cells who their parent run is
(``NBTRACK_PARENT_RUN``, honoured by :func:`nbtrack.tracking.start_run`) and which store to write to
(``NBTRACK_HOME``), without touching ``os.environ`` of this process (sweeps run many notebooks from
threads of one process at once).

Kernel launches are serialised by a process-wide lock: jupyter_client picks free ports by binding and
releasing them, and several kernels launched in the same instant can race for the same port. The lock
only covers launching the process (tens of milliseconds), not the kernel's own start-up.

Where a papermill run's wall time goes (trivial notebook, quiet 2-core machine, ~0.95 s): the kernel's
boot (~0.45 s of CPU in the kernel process), nbclient's ``wait_for_ready`` (it ends by waiting until
IOPub has been quiet for 0.2 s), the cells (~0.03 s), papermill's saves after each cell (~0.02 s) and
the graceful shutdown (~0.15-0.2 s, mostly polling every 0.1 s). The pool boots each worker's next
kernel while the current notebook runs, primes the client nbclient will use (no 0.2 s wait) and shuts
a used kernel down in the background. Every kernel still runs exactly one notebook, in a fresh process.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbtrack.errors import KernelShutdownError, KernelStartError

if TYPE_CHECKING:
    from jupyter_client.asynchronous.client import AsyncKernelClient
    from jupyter_client.manager import AsyncKernelManager

_start_lock = threading.Lock()
#: What nbclient passes to an IPython kernel it starts itself (no history database shared by kernels).
_IPYKERNEL_ARGUMENTS = ["--HistoryManager.hist_file=:memory:"]


_BASE: list = []


def _manager_base():
    """The shared ``AsyncKernelManager`` subclass (built on first use: jupyter_client loads lazily)."""
    if _BASE:
        return _BASE[0]
    from jupyter_client.manager import AsyncKernelManager

    class _EnvKernelManager(AsyncKernelManager):
        extra_env: dict = {}

        async def start_kernel(self, **kw: Any) -> None:
            merged = dict(kw.pop("env", None) or os.environ)
            merged.update(self.extra_env)
            with _start_lock:
                await super().start_kernel(env=merged, **kw)

        def client(self, **kwargs: Any) -> AsyncKernelClient:
            """The client :func:`_prime` prepared (once), else a new one; every client is remembered, so
            the pool can close the ones nbclient leaves open."""
            made = vars(self).pop("nbtrack_primed", None) or super().client(**kwargs)
            vars(self).setdefault("nbtrack_clients", []).append(made)
            return made

    _BASE.append(_EnvKernelManager)
    return _EnvKernelManager


_PRIMED: list = []


def _primed_client_class() -> type[AsyncKernelClient]:
    """An ``AsyncKernelClient`` that skips nbclient's start-up calls once :func:`_prime` has done them.

    nbclient starts a client's channels and calls ``wait_for_ready``, which ends by waiting until IOPub
    has been quiet for 0.2 s: idle time on every notebook. A primed client has started its channels and
    seen the kernel answer on shell and IOPub already, so both calls return at once."""
    if _PRIMED:
        return _PRIMED[0]
    from jupyter_client.asynchronous.client import AsyncKernelClient

    class _PrimedClient(AsyncKernelClient):
        primed = False

        def start_channels(self, *args: Any, **kwargs: Any) -> None:
            if not self.primed:
                super().start_channels(*args, **kwargs)

        async def wait_for_ready(self, timeout: float | None = None) -> None:
            if not self.primed:
                await super().wait_for_ready(timeout=timeout)

    _PRIMED.append(_PrimedClient)
    return _PrimedClient


class KernelPool:
    """Kernels for ``jobs`` notebooks, one fresh kernel per notebook, launched ahead when there are more.

    Worker threads call :meth:`kernel` once per notebook. Each call takes the oldest launched kernel
    (or launches one) and launches a spare while more notebooks remain than spares exist, so with N
    workers about N spare kernels boot while N notebooks run. The kernel a notebook used is shut down
    in the background (papermill's graceful shutdown: interrupt, ``shutdown_request``, SIGTERM/SIGKILL
    after ``shutdown_wait_time``), so the thread goes straight on to its next notebook. :meth:`close`
    waits for those shutdowns and kills kernels that were launched but never used. A single run uses a
    pool with ``jobs=1``.

    ``env`` is given to the kernels at launch (for a whole sweep: store, experiment); the per-run
    variables (the parent run id) are set inside the kernel by :meth:`kernel` before the notebook's
    first cell, with a silent execution that binds no name, so the notebook sees exactly what a kernel
    launched for it would have in ``os.environ``.
    """

    def __init__(
        self,
        kernel_name: str,
        *,
        jobs: int,
        cwd: str | os.PathLike | None = None,
        env: dict[str, str] | None = None,
        startup_timeout: float = 60.0,
    ):
        self.kernel_name = kernel_name
        self.cwd = cwd or os.getcwd()
        self.env = dict(env or {})
        self.startup_timeout = startup_timeout
        self._lock = threading.Lock()
        self._untaken = jobs  # notebooks that have not taken a kernel yet
        self._spares: list[AsyncKernelManager] = []  # launched kernels waiting for a notebook, oldest first
        self._launching = 0
        self._stopping: list[Future[str | None]] = []  # background shutdowns: a problem description, or None
        self._reaper = ThreadPoolExecutor(max_workers=2, thread_name_prefix="nbtrack-kernel-stop")
        # Kernels talk over Unix sockets in a private folder (not TCP ports: no "running over TCP without
        # encryption" warning, and only this user can connect).
        self._sockets = _socket_folder()
        self._launched = 0
        self._busy: set[AsyncKernelManager] = set()  # kernels running a notebook now

    @contextmanager
    def kernel(self, env: dict[str, str]) -> Iterator[AsyncKernelManager]:
        """A started kernel's manager (for papermill's ``km=``), with ``env`` set in its ``os.environ``."""
        from jupyter_core.utils import run_sync

        km = self._take()
        failed = True
        with self._lock:
            self._busy.add(km)
        try:
            run_sync(_prime)(km, {**self.env, **env}, self.startup_timeout)
            yield km
            failed = False
        finally:
            with self._lock:
                self._busy.discard(km)
            self._release(km, failed)

    def interrupt(self) -> None:
        """Interrupt every kernel running a notebook now, as Ctrl-C in the notebook would (from any thread)."""
        with self._lock:
            busy = list(self._busy)
        for km in busy:
            process = getattr(getattr(km, "provisioner", None), "process", None)
            if process is not None and process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGINT)

    def close(self) -> None:
        """Wait for the background shutdowns; kill kernels launched for notebooks that never ran."""
        with self._lock:
            spares, self._spares = self._spares, []
            self._untaken = 0
        for km in spares:
            self._stopping.append(self._reaper.submit(_stop, km, True))
        self._reaper.shutdown(wait=True)
        shutil.rmtree(self._sockets, ignore_errors=True)
        failed = [problem for problem in (f.result() for f in self._stopping) if problem]
        if failed:
            raise KernelShutdownError(
                "Some kernels could not be stopped after their notebooks ran: "
                + "; ".join(failed)
                + ". The runs were recorded; stop the processes with `kill PID`."
            )

    def _take(self) -> AsyncKernelManager:
        """The oldest spare kernel (the likeliest to have booted), and a new spare launched if jobs remain."""
        with self._lock:
            self._untaken -= 1
            spare = self._spares.pop(0) if self._spares else None
            launch_next = self._untaken > len(self._spares) + self._launching
            self._launching += launch_next
        try:
            km = spare if spare is not None and _alive(spare) else self._launch()
        finally:
            if launch_next:
                self._launch_spare()
        if spare is not None and km is not spare:
            self._stopping.append(self._reaper.submit(_stop, spare, True))
        return km

    def _launch_spare(self) -> None:
        try:
            spare = self._launch()
        except Exception:  # the notebook that would use it launches its own kernel (and reports the error)
            spare = None
        with self._lock:
            self._launching -= 1
            if spare is not None:
                self._spares.append(spare)

    def _launch(self) -> AsyncKernelManager:
        from jupyter_core.utils import run_sync

        with self._lock:
            self._launched += 1
            socket_prefix = str(self._sockets / f"kernel-{self._launched}")
        km = _manager_base()(
            kernel_name=self.kernel_name, client_factory=_primed_client_class(), transport="ipc", ip=socket_prefix
        )
        km.extra_env = self.env
        arguments = list(_IPYKERNEL_ARGUMENTS) if getattr(km, "ipykernel", False) else []
        run_sync(km.start_kernel)(extra_arguments=arguments, cwd=self.cwd)
        return km

    def _release(self, km: AsyncKernelManager, failed: bool = False) -> None:
        unused = vars(km).pop("nbtrack_primed", None)  # papermill failed before it asked for a client
        for client in vars(km).pop("nbtrack_clients", []) + ([unused] if unused else []):
            client.stop_channels()
        self._stopping.append(self._reaper.submit(_settle_and_stop if failed else _stop, km, False))


#: Room a socket folder leaves for ``kernel-N-PORT`` within the 107 bytes of a Unix socket path.
_SOCKET_FOLDER_MAX = 80


def _socket_folder() -> Path:
    """A private (0700) folder for kernel sockets: in the temporary folder, or in /tmp when ``TMPDIR`` is so
    long that a socket path in it would pass the Unix limit (the kernel would fail to start)."""
    folder = Path(tempfile.mkdtemp(prefix="nbtrack-kernels-"))
    if len(os.fsencode(folder)) <= _SOCKET_FOLDER_MAX:
        return folder
    folder.rmdir()
    return Path(tempfile.mkdtemp(prefix="nbk-", dir="/tmp"))


def _alive(km: AsyncKernelManager) -> bool:
    provisioner = getattr(km, "provisioner", None)
    return (
        provisioner is not None
        and getattr(provisioner, "process", None) is not None
        and provisioner.process.poll() is None
    )


async def _prime(km, env: dict[str, str], timeout: float) -> None:
    """Make the client nbclient will use: channels started, ``os.environ.update(env)`` run silently in
    the kernel (no output, no history, no name bound), its reply seen on shell and its idle status on
    IOPub (so IOPub is connected). Waits for the kernel to finish booting if it has not yet."""
    client = km.client()
    client.start_channels()
    msg_id = client.execute(f"__import__('os').environ.update({env!r})", silent=True, store_history=False)
    reply = await _reply(km, client, msg_id, timeout)
    if reply["content"].get("status") != "ok":
        raise KernelStartError(
            f"Setting the run's environment in the kernel failed: "
            f"{reply['content'].get('ename')}: {reply['content'].get('evalue')}."
        )
    if not await _idle_seen(client, msg_id, 2.0):  # IOPub not connected yet: the standard, slower check
        await client.wait_for_ready(timeout=timeout)
    client.primed = True
    km.nbtrack_clients.remove(client)
    km.nbtrack_primed = client


async def _reply(km, client, msg_id: str, timeout: float) -> dict:
    """The shell reply to ``msg_id``; a clear error if the kernel dies or stays silent for ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            reply = await client.get_shell_msg(timeout=0.5)
        except queue.Empty:
            if not await km.is_alive():
                raise KernelStartError(
                    f"The kernel {km.kernel_name!r} died while starting: run the "
                    "notebook alone with `nbtrack run` to see its error."
                ) from None
            if time.monotonic() > deadline:
                raise KernelStartError(
                    f"The kernel {km.kernel_name!r} did not answer within {timeout:.0f} s: "
                    "check the machine's load, or run the notebook alone."
                ) from None
            continue
        if reply.get("parent_header", {}).get("msg_id") == msg_id:
            return reply


async def _idle_seen(client, msg_id: str, timeout: float) -> bool:
    """True once IOPub brings the kernel's idle status for ``msg_id`` (earlier messages are dropped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            msg = await client.get_iopub_msg(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            return False
        if (
            msg.get("parent_header", {}).get("msg_id") == msg_id
            and msg["msg_type"] == "status"
            and msg["content"].get("execution_state") == "idle"
        ):
            return True
    return False


def _settle_and_stop(km, now: bool, wait: float = 5.0) -> str | None:
    """Stop a kernel whose notebook failed: it may still be running a cell (a timeout, Ctrl-C). Interrupt
    it and wait up to ``wait`` s for it to answer a silent no-op (it answers the cut-short cell first), so
    a ``%%track`` cell records its run interrupted and no reply is sent on sockets already closed (the
    kernel's ``ZMQError`` traceback on the terminal); a kernel that does not answer is killed."""
    try:
        settled = asyncio.run(_interrupt_and_wait(km, wait))
    except Exception:
        settled = False
    return _stop(km, now or not settled)


async def _interrupt_and_wait(km, wait: float) -> bool:
    if not await km.is_alive():
        return False
    await km.interrupt_kernel()
    client = km.client()
    client.start_channels()
    try:
        msg_id = client.execute("", silent=True, store_history=False)
        await _reply(km, client, msg_id, wait)
        return True
    except KernelStartError:  # died, or no answer within ``wait``
        return False
    finally:
        client.stop_channels()


def _stop(km, now: bool) -> str | None:
    """Shut a kernel down in this (reaper) thread; returns a problem description, or None."""
    pid = getattr(getattr(getattr(km, "provisioner", None), "process", None), "pid", "?")
    try:
        asyncio.run(km.shutdown_kernel(now=now))
        return None
    except Exception as error:  # fall back to killing the process outright
        problem = f"{type(error).__name__}: {error}"
        try:
            asyncio.run(km.shutdown_kernel(now=True))
        except Exception:
            pass
    return None if not _alive(km) else f"kernel pid {pid}: {problem}"
