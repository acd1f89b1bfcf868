"""Things a tracked cell captures while it runs, each installed for the cell only and undone after.

* :class:`OutputTee`: stdout/stderr still reach the user; a bounded tail is kept for the run.
* :class:`ResourceMeter`: wall time, CPU time and peak RSS growth (a 10 ms /proc sampling thread).
* :class:`~nbtrack.capture.figures.FigureCapture`: PNGs of every matplotlib figure the cell creates or changes, in display order.
* :class:`~nbtrack.capture.fits.FitRecorder`: every scikit-learn estimator fitted at top level during the cell.

Nothing here imports IPython, and matplotlib/sklearn are only touched if the cell uses them.
"""

from __future__ import annotations

import os
import resource
import sys
import threading
import time
from collections import deque

from nbtrack.capture.figures import FigureCapture
from nbtrack.capture.fits import FitRecorder

DEFAULT_MAX_OUTPUT_BYTES = 1 << 20


# -- printed output -------------------------------------------------------------------------------
class _Tail:
    """The last ``limit`` characters written (deque of chunks; cheap append)."""

    def __init__(self, limit: int):
        self.limit = limit
        self.chunks: deque[str] = deque()
        self.size = 0
        self.dropped = 0

    def add(self, text: str) -> None:
        self.chunks.append(text)
        self.size += len(text)
        while self.size > self.limit and self.chunks:
            extra = self.size - self.limit
            first = self.chunks[0]
            if len(first) <= extra:
                self.chunks.popleft()
                self.size -= len(first)
                self.dropped += len(first)
            else:
                self.chunks[0] = first[extra:]
                self.size -= extra
                self.dropped += extra

    def text(self) -> str:
        head = f"[... {self.dropped} earlier characters not kept ...]\n" if self.dropped else ""
        return head + "".join(self.chunks)


class OutputTee:
    """Keep a copy of what is written to ``sys.stdout``/``sys.stderr`` while it still goes out.

    ``skip()`` returning True leaves a write out of the copy (the shell uses it for tracebacks and
    displayed values, which a terminal shell also writes to stdout).

    Like IPython's own history tee, this patches the stream's ``write`` on the instance, so
    ipykernel's stream objects (and isinstance checks on them) stay untouched; streams that do not
    allow that (a bare ``TextIOWrapper``) are replaced by a thin proxy for the cell's duration.
    """

    def __init__(self, limit: int = DEFAULT_MAX_OUTPUT_BYTES, skip=None):
        self.tails = {"stdout": _Tail(limit), "stderr": _Tail(limit)}
        self._undo: list = []
        self._skip = skip or (lambda: False)

    def __enter__(self) -> OutputTee:
        for channel, tail in self.tails.items():
            self._install(channel, tail)
        return self

    def _install(self, channel: str, tail: _Tail) -> None:
        stream = getattr(sys, channel)
        original = stream.write
        skip = self._skip

        def write(data, *args, **kwargs):
            if isinstance(data, str) and data and not skip():
                tail.add(data)
            return original(data, *args, **kwargs)

        try:
            had_own = "write" in vars(stream)
            stream.write = write
            self._undo.append(lambda: setattr(stream, "write", original) if had_own else delattr(stream, "write"))
        except (AttributeError, TypeError):
            proxy = _StreamProxy(stream, write)
            setattr(sys, channel, proxy)
            self._undo.append(lambda: getattr(sys, channel) is proxy and setattr(sys, channel, stream))

    def __exit__(self, *exc) -> None:
        while self._undo:
            try:
                self._undo.pop()()
            except (AttributeError, TypeError):
                pass

    def text(self, channel: str) -> str:
        return self.tails[channel].text()


class _StreamProxy:
    def __init__(self, stream, write):
        self._stream = stream
        self.write = write

    def __getattr__(self, name):
        return getattr(self._stream, name)


# -- time and memory -------------------------------------------------------------------------------
def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class _Sampler:
    """One daemon thread that samples RSS every ``interval`` s while a cell runs and sleeps otherwise.

    Starting a thread per cell costs more than the whole 2 ms budget of a trivial cell, so the thread
    is started on the first tracked cell and then waits on an event between cells (no CPU used).
    """

    def __init__(self, interval: float):
        self.interval = interval
        self.active = threading.Event()
        self.peak = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def begin(self, rss: int) -> None:
        self.peak = rss
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="nbtrack-meter", daemon=True)
            self._thread.start()
        self.active.set()

    def end(self) -> int:
        self.active.clear()
        return self.peak

    def _loop(self) -> None:
        while True:
            self.active.wait()
            time.sleep(self.interval)
            if self.active.is_set():
                rss = _rss_bytes()
                if rss > self.peak:
                    self.peak = rss


_SAMPLER = _Sampler(0.01)


class ResourceMeter:
    """Wall time, CPU time and peak RSS growth of the kernel process during a block.

    The peak is the largest of: ``/proc/self/statm`` sampled every 10 ms during the block, the RSS at
    its end, and the growth of ``ru_maxrss`` (which catches short spikes that set a new high-water mark).
    ``_cpu_s`` is the process's CPU time (all threads) during the block.
    """

    def __enter__(self) -> ResourceMeter:
        self.rss_start = _rss_bytes()
        self.maxrss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        _SAMPLER.begin(self.rss_start)
        self.cpu_start = time.process_time()
        self.wall_start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.wall_s = time.perf_counter() - self.wall_start
        self.cpu_s = time.process_time() - self.cpu_start
        peak = max(_SAMPLER.end(), _rss_bytes())
        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        if maxrss > self.maxrss_start:
            peak = max(peak, maxrss)
        self.peak = peak
        self.peak_growth_mb = max(0, peak - self.rss_start) / 2**20


# -- all of them -----------------------------------------------------------------------------------
class BlockCapture:
    """Every capture of one tracked block (a ``%%track`` cell or a :func:`nbtrack.track` block).

    Enter it around the block's code, call :meth:`finish` when the code is done (failed or not) to
    render the figures still open, then leave it. ``meter``, ``tee``, ``figures`` and ``fits`` hold what
    was captured (``figures``/``fits`` are None when switched off).
    """

    def __init__(
        self,
        max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
        *,
        figures: bool = True,
        autolog: bool = True,
        skip=None,
        namespace: dict | None = None,
    ):
        self.meter = ResourceMeter()
        self.tee = OutputTee(max_output_bytes, skip=skip)
        self.figures = FigureCapture() if figures else None
        self.fits = FitRecorder(namespace) if autolog else None

    def __enter__(self) -> BlockCapture:
        self.meter.__enter__()
        self.tee.__enter__()
        if self.figures:
            self.figures.__enter__()
        if self.fits:
            self.fits.__enter__()
        return self

    def finish(self) -> None:
        """Render the figures still open (before a display backend closes them)."""
        if self.figures:
            self.figures.finish()

    def __exit__(self, *exc) -> None:
        try:
            if self.fits:
                self.fits.__exit__(None, None, None)
            if self.figures:
                self.figures.__exit__(None, None, None)
        finally:
            self.tee.__exit__(None, None, None)
            self.meter.__exit__(None, None, None)
