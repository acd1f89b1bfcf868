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


def kernel_manager(kernel_name: str, env: dict[str, str]):
    """An ``AsyncKernelManager`` for ``kernel_name`` whose kernel gets ``env`` on top of ``os.environ``."""
    from jupyter_client.manager import AsyncKernelManager

    class _Manager(AsyncKernelManager):
        async def start_kernel(self, **kw):
            merged = dict(kw.pop("env", None) or os.environ)
            merged.update(env)
            with _start_lock:
                await super().start_kernel(env=merged, **kw)

    return _Manager(kernel_name=kernel_name)
