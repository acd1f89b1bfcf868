"""Things a tracked cell captures while it runs, each installed for the cell only and undone after.

* :class:`OutputTee`: stdout/stderr still reach the user; a bounded tail is kept for the run.
* :class:`ResourceMeter`: wall time, CPU time and peak RSS growth (a 10 ms /proc sampling thread).
* :class:`FigureCapture`: PNGs of every matplotlib figure the cell creates or changes, in display order.
* :class:`FitRecorder`: every scikit-learn estimator fitted at top level during the cell.

Nothing here imports IPython, and matplotlib/sklearn are only touched if the cell uses them.
"""

from __future__ import annotations

import copy
import importlib.abc
import importlib.util
import io
import os
import resource
import sys
import threading
import time
import weakref
from collections import deque

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


# -- import hooks ----------------------------------------------------------------------------------
class _AfterImport(importlib.abc.MetaPathFinder):
    """Call ``callback(module)`` right after ``name`` is first imported (while installed)."""

    def __init__(self, name: str, callback):
        self.name, self.callback = name, callback

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        loader, callback = spec.loader, self.callback

        class Loader(importlib.abc.Loader):
            def create_module(self, spec):
                return loader.create_module(spec)

            def exec_module(self, module):
                loader.exec_module(module)
                callback(module)

        spec.loader = Loader()
        return spec


def _hook_import(name: str, callback, undo: list) -> None:
    module = sys.modules.get(name)
    if module is not None:
        callback(module)
        return
    finder = _AfterImport(name, callback)
    sys.meta_path.insert(0, finder)
    undo.append(lambda: finder in sys.meta_path and sys.meta_path.remove(finder))


# -- figures ---------------------------------------------------------------------------------------
#: figure -> its signature when it was last rendered or shown during a tracked cell
_SHOWN: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _figure_signature(fig) -> tuple:
    return (len(fig.axes),) + tuple(len(ax.get_children()) for ax in fig.axes) + (len(fig.get_children()),)


class _Displayed:
    """A PNG the display rendered of a figure during a tracked cell, and whether the figure changed since."""

    __slots__ = ("changed", "figure", "png", "signature")

    def __init__(self, figure, png: bytes, signature: tuple):
        self.figure, self.png, self.signature, self.changed = figure, png, signature, False


#: print_figure arguments that do not change the PNG from ``savefig(format="png", bbox_inches="tight")``
_SAME_PNG_KEYS = frozenset({"format", "bbox_inches", "dpi", "facecolor", "edgecolor", "base64"})


def _as_saved(fig, kwargs: dict) -> bool:
    """Whether ``print_figure(..., **kwargs)`` draws the PNG :class:`FigureCapture` saves: what IPython's
    inline backend asks for (``format="png"``, ``bbox_inches="tight"``, the figure's dpi and colours).
    A retina display (``png2x``: twice the dpi) or other options are rendered again for the run."""
    if kwargs.get("format") != "png" or kwargs.get("bbox_inches") != "tight" or not kwargs.keys() <= _SAME_PNG_KEYS:
        return False
    if kwargs.get("dpi", "figure") not in ("figure", None, fig.dpi):
        return False
    for key, getter in (("facecolor", fig.get_facecolor), ("edgecolor", fig.get_edgecolor)):
        if key in kwargs and kwargs[key] not in ("auto", None) and tuple(_rgba(kwargs[key])) != tuple(getter()):
            return False
    return not kwargs.get("base64")


def _rgba(color) -> tuple:
    from matplotlib.colors import to_rgba

    return to_rgba(color)


class FigureCapture:
    """PNG bytes of each matplotlib figure the cell creates or changes, in the order they are shown.

    Figures closed during the cell (``plt.show()`` with the inline backend closes them after display,
    ``plt.close()``) are rendered just before they go; figures still open at the end are rendered
    then, in figure-number order (the order the inline backend displays them). A figure pyplot no longer
    manages (the inline backend closed it after an earlier cell) that the cell changes and shows again
    (``ax[0, 0].text(...)`` then ``fig`` as the cell's value) is rendered when it is shown. Rendering uses
    ``bbox_inches="tight"`` like the inline backend, so the PNG matches what the notebook shows.
    """

    def __init__(self):
        self.pngs: list[tuple[int, bytes]] = []
        self._seen: set[int] = set()
        self._before: dict[int, tuple] = {}
        self._undo: list = []
        self._gcf = None
        self._rendering = False
        #: id(fig) -> the PNG the display (the inline backend) rendered of it during the cell
        self._displayed: dict[int, _Displayed] = {}

    def __enter__(self) -> FigureCapture:
        _hook_import("matplotlib._pylab_helpers", self._patch, self._undo)
        _hook_import("matplotlib.backend_bases", self._patch_canvas, self._undo)
        return self

    def _patch(self, module) -> None:
        gcf = self._gcf = module.Gcf
        for manager in gcf.get_all_fig_managers():
            fig = manager.canvas.figure
            self._before[id(fig)] = _figure_signature(fig)
        destroy, destroy_all = gcf.__dict__["destroy"], gcf.__dict__["destroy_all"]
        capture = self

        def patched_destroy(cls, num):
            manager = num if hasattr(num, "canvas") else cls.figs.get(num)
            if manager is not None:
                capture._grab(manager)
            return destroy.__func__(cls, num)

        def patched_destroy_all(cls):
            for manager in sorted(cls.figs.values(), key=lambda m: m.num):
                capture._grab(manager)
            return destroy_all.__func__(cls)

        gcf.destroy = classmethod(patched_destroy)
        gcf.destroy_all = classmethod(patched_destroy_all)

        def undo():
            gcf.destroy, gcf.destroy_all = destroy, destroy_all

        self._undo.append(undo)

    def _patch_canvas(self, module) -> None:
        """Notice a figure pyplot no longer manages (the inline backend closed it after an earlier cell)
        that this cell changed and shows again (``fig`` as the cell's value, ``display(fig)``)."""
        canvas_class = module.FigureCanvasBase
        print_figure = canvas_class.__dict__["print_figure"]
        capture = self

        def patched_print_figure(canvas, *args, **kwargs):
            fig = canvas.figure
            if capture._rendering:
                return print_figure(canvas, *args, **kwargs)
            gcf = capture._gcf
            managed = gcf is not None and any(m.canvas.figure is fig for m in gcf.figs.values())
            shown = _SHOWN.get(fig)
            wanted = not managed and (fig.stale if shown is None else shown != _figure_signature(fig))
            target = args[0] if args else kwargs.get("filename")
            start = target.tell() if isinstance(target, io.BytesIO) and _as_saved(fig, kwargs) else None
            try:
                result = print_figure(canvas, *args, **kwargs)
                if start is not None and isinstance(target, io.BytesIO):
                    capture._keep_displayed(fig, target.getvalue()[start:])
                return result
            finally:
                _SHOWN[fig] = _figure_signature(fig)
                if wanted:
                    capture._render(fig, getattr(fig, "number", 0) or 0)

        canvas_class.print_figure = patched_print_figure
        self._undo.append(lambda: setattr(canvas_class, "print_figure", print_figure))

    def _keep_displayed(self, fig, png: bytes) -> None:
        """Keep the PNG the display just rendered of ``fig``, and watch the figure: any change to one of its
        artists after this (matplotlib marks the figure stale through ``stale_callback``) voids it."""
        shown = _Displayed(fig, png, _figure_signature(fig))
        previous = self._displayed.get(id(fig))
        self._displayed[id(fig)] = shown
        if previous is not None and previous.figure is fig:
            return  # displayed again: its stale_callback is already watched (it marks the current entry)
        original = fig.stale_callback

        def stale_callback(artist, value) -> None:
            current = self._displayed.get(id(fig))
            if current is not None:
                current.changed = True
            if original is not None:
                original(artist, value)

        fig.stale_callback = stale_callback

        def undo() -> None:
            if fig.stale_callback is stale_callback:
                fig.stale_callback = original

        self._undo.append(undo)

    def _grab(self, manager) -> None:
        fig = manager.canvas.figure
        before = self._before.get(id(fig))
        if before is not None and before == _figure_signature(fig):
            return
        self._render(fig, manager.num)

    def _render(self, fig, number: int) -> None:
        key = id(fig)
        if key in self._seen:
            return
        self._seen.add(key)
        _SHOWN[fig] = _figure_signature(fig)
        shown = self._displayed.pop(key, None)
        if (
            shown is not None
            and shown.figure is fig
            and not shown.changed
            and shown.signature == _figure_signature(fig)
        ):
            self.pngs.append((number, shown.png))  # the PNG the display made of it, unchanged since: no second render
            return
        buffer = io.BytesIO()
        self._rendering = True
        try:
            fig.savefig(buffer, format="png", bbox_inches="tight")
        except Exception:  # a broken figure must not break the user's cell
            return
        finally:
            self._rendering = False
        self.pngs.append((number, buffer.getvalue()))

    def finish(self) -> None:
        """Render the figures still open (call before the inline backend closes them)."""
        if self._gcf is not None:
            for manager in sorted(self._gcf.figs.values(), key=lambda m: m.num):
                self._grab(manager)

    def __exit__(self, *exc) -> None:
        while self._undo:
            self._undo.pop()()


# -- scikit-learn fits -----------------------------------------------------------------------------
class FitRecorder:
    """Every estimator whose ``fit`` (or ``fit_transform``/``fit_predict``) returns during the cell.

    ``fit`` is wrapped on every ``BaseEstimator`` subclass (including classes created during the cell)
    and restored afterwards. A fit that happens inside another fit (a Pipeline's steps, a search's
    clones) is not recorded: only the outermost estimator is.
    """

    METHODS = ("fit", "fit_transform", "fit_predict")

    def __init__(self, namespace: dict | None = None):
        self.fitted: list = []
        #: fits called directly by the user's code (a frame whose globals are ``namespace``)
        self.user_fits = 0
        self._namespace = namespace
        self._ids: set[int] = set()
        self._depth = 0
        self._lock = threading.Lock()
        self._undo: list = []

    def __enter__(self) -> FitRecorder:
        _hook_import("sklearn.base", self._patch_all, self._undo)
        return self

    def _patch_all(self, base_module) -> None:
        base = base_module.BaseEstimator
        stack = [base]
        while stack:
            cls = stack.pop()
            self._patch_class(cls)
            stack.extend(cls.__subclasses__())
        original = base.__dict__.get("__init_subclass__")
        recorder = self

        def init_subclass(cls, **kwargs):
            if original is not None:
                original.__func__(cls, **kwargs)
            else:
                super(base, cls).__init_subclass__(**kwargs)
            recorder._patch_class(cls)

        base.__init_subclass__ = classmethod(init_subclass)

        def undo():
            if original is None:
                del base.__init_subclass__
            else:
                base.__init_subclass__ = original

        self._undo.append(undo)

    def _patch_class(self, cls: type) -> None:
        for method in self.METHODS:
            function = cls.__dict__.get(method)
            if function is None:
                continue
            if callable(function):
                wrapped = self._wrap(function)
            elif callable(getattr(function, "fn", None)) and hasattr(function, "__get__"):
                # scikit-learn's ``available_if`` descriptor (``Pipeline.fit_transform``/``fit_predict``):
                # the same descriptor around the wrapped function
                wrapped = copy.copy(function)
                wrapped.fn = self._wrap(function.fn)
            else:
                continue
            setattr(cls, method, wrapped)
            self._undo.append(lambda cls=cls, method=method, function=function: setattr(cls, method, function))

    def _wrap(self, function):
        recorder = self

        def fit(estimator, *args, **kwargs):
            with recorder._lock:
                recorder._depth += 1
                outermost = recorder._depth == 1
            try:
                result = function(estimator, *args, **kwargs)
            finally:
                with recorder._lock:
                    recorder._depth -= 1
            if outermost:
                namespace = recorder._namespace
                if namespace is None or sys._getframe(1).f_globals is namespace:
                    recorder.user_fits += 1
                if id(estimator) not in recorder._ids:
                    recorder._ids.add(id(estimator))
                    recorder.fitted.append(estimator)
            return result

        fit.__wrapped__ = function
        for attribute in ("__name__", "__qualname__", "__doc__", "__module__"):
            setattr(fit, attribute, getattr(function, attribute, None))
        return fit

    def __exit__(self, *exc) -> None:
        while self._undo:
            self._undo.pop()()


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
