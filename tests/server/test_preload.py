"""NbtrackServer.preload: the data libraries are imported in the background when the server starts."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _modules_after_start(preload: bool) -> set[str]:
    """The data modules a fresh process holds a moment after making the server's backend."""
    code = textwrap.dedent(
        f"""
        import sys, threading, time
        from nbtrack.server._backend import NbtrackServer
        backend = NbtrackServer(preload={preload})
        for thread in threading.enumerate():
            if thread.name == "nbtrack-preload":
                thread.join(60)
        print(",".join(m for m in ("pandas", "pyarrow", "nbtrack.data._diff") if m in sys.modules))
        backend.close()
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return set(filter(None, done.stdout.strip().split(",")))


def test_the_server_imports_pandas_and_pyarrow_in_the_background_when_it_starts():
    assert _modules_after_start(True) == {"pandas", "pyarrow", "nbtrack.data._diff"}


def test_preload_false_leaves_them_to_the_first_request_that_needs_them():
    assert _modules_after_start(False) == set()
