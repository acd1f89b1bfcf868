"""A kernel manager that starts kernels with extra environment variables, one start at a time.

The environment is how a notebook run tells the kernel's ``%%track`` cells who their parent run is
(``NBTRACK_PARENT_RUN``, honoured by :func:`nbtrack.tracking.start_run`) and which store to write to
(``NBTRACK_HOME``), without touching ``os.environ`` of this process (sweeps run many notebooks from
threads of one process at once).

Kernel starts are serialised by a process-wide lock: jupyter_client picks free ports by binding and
releasing them, and several kernels launched in the same instant can race for the same port. The lock
only covers launching the process (tens of milliseconds), not the kernel's own start-up.
"""

from __future__ import annotations

import os
import threading

_start_lock = threading.Lock()


def kernel_manager_class(env: dict[str, str]):
    """An ``AsyncKernelManager`` subclass whose kernels get ``env`` on top of ``os.environ``.

    A class, not an instance: passed to nbclient as ``kernel_manager_class``, nbclient owns the manager
    and shuts the kernel down after the run (a manager instance passed as ``km`` is left running).
    """
    from jupyter_client.manager import AsyncKernelManager

    class NbtrackKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw):
            merged = dict(kw.pop("env", None) or os.environ)
            merged.update(env)
            with _start_lock:
                await super().start_kernel(env=merged, **kw)

    return NbtrackKernelManager
