"""PNGs of every matplotlib figure a tracked cell creates or changes, in display order (:class:`FigureCapture`),
rendered once: a PNG the inline backend already made for the notebook is reused."""

from __future__ import annotations

import io
import weakref

from nbtrack.capture._imports import hook_import

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
        hook_import("matplotlib._pylab_helpers", self._patch, self._undo)
        hook_import("matplotlib.backend_bases", self._patch_canvas, self._undo)
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
