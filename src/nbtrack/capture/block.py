"""``nbtrack.track``: what a ``%%track`` cell records, around a block of plain Python (scripts).

The same planning (params from the code's literals and the literal values it reads, DataFrame inputs),
the same captures (printed output, figures, fitted scikit-learn estimators, time and memory) and the
same recording (:func:`nbtrack.capture.cell.record_and_finish`) as the magic; only the way the code runs differs:
here it is the body of a ``with`` statement. ``nbtrack export --to script`` writes each ``%%track``
cell as such a block. Nothing here imports IPython.
"""

from __future__ import annotations

import ast
import linecache
import os
import sys
import textwrap
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from nbtrack.capture import outputs as _capture
from nbtrack.capture.cell import record_and_finish
from nbtrack.capture.plan import CellReport, TrackOptions, plan_cell
from nbtrack.capture.recording import Execution, frame_record
from nbtrack.errors import TrackUsageError

if TYPE_CHECKING:
    from types import FrameType, TracebackType

    from nbtrack.store import StoreLike
    from nbtrack.tracking import Run


class TrackedBlock:
    """The context manager returned by :func:`track`; ``as`` gives the :class:`nbtrack.Run`.

    After the block, :attr:`report` says what was recorded (params, metrics, figures, models, notes).
    """

    def __init__(
        self,
        name: str | None,
        experiment: str | None,
        params: Mapping[str, object] | None,
        tags: Mapping[str, object] | None,
        code: str | None,
        namespace: dict[str, Any] | None,
        metrics: list[str] | None,
        figures: bool,
        autolog: bool,
        max_output_bytes: int,
        kind: str,
        store: StoreLike | None,
    ):
        self.options = TrackOptions(
            name=name,
            experiment=experiment,
            tags=dict(tags or {}),
            metrics=metrics,
            figures=figures,
            autolog=autolog,
            quiet=True,
            max_output_bytes=max_output_bytes,
        )
        self.params, self.code, self.kind, self.store = dict(params or {}), code, kind, store
        self.namespace = namespace if namespace is not None else {}
        self.run: Run | None = None
        self.report: CellReport | None = None
        self._capture: _capture.BlockCapture | None = None

    def __enter__(self) -> Run:
        from nbtrack.tracking import start_run

        if self.code is None:  # the source of the `with` block that entered us, read from its file
            self.code = block_source(sys._getframe(1))
        plan = self._plan = plan_cell(self.code or "", self.namespace, self.options)
        self._inputs = [r for r in (frame_record(n, f, plan.notes) for n, f in plan.inputs) if r]
        source = self.namespace.get("__file__")
        self.run = start_run(
            self.options.name,
            self.options.experiment,
            params={**plan.params, **self.params},
            tags=self.options.tags,
            kind=self.kind,
            code=self.code,
            store=self.store,
            source_path=os.path.abspath(source) if isinstance(source, str) else None,
        )
        self._capture = _capture.BlockCapture(
            self.options.max_output_bytes,
            figures=self.options.figures,
            autolog=self.options.autolog,
            namespace=self.namespace,
        )
        self._capture.__enter__()
        return self.run

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        from nbtrack.tracking import error_info

        run, capture = self.run, self._capture
        if run is None or capture is None:
            raise TrackUsageError(
                "A tracked block was left without being entered: use it as `with nbtrack.track(...) as run:`."
            )
        try:
            capture.finish()
        finally:
            capture.__exit__(None, None, None)
        self.report = record_and_finish(
            run,
            Execution(self._plan, self.namespace, self.options, capture, self._inputs),
            exc,
            error_info(exc) if exc is not None else None,
        )
        return False


def block_source(frame: FrameType) -> str | None:
    """The source of the body of the ``with`` statement that ``frame`` is executing, dedented; None when the
    source cannot be read (code from ``exec`` of a string, a file changed or gone since it was loaded).

    The file's lines come from :mod:`linecache`, which also holds IPython's cells, so this works in a
    script, an imported module and a notebook cell alike."""
    lines = linecache.getlines(frame.f_code.co_filename, frame.f_globals)
    if not lines:
        return None
    try:
        tree = ast.parse("".join(lines))
    except SyntaxError:
        return None
    line = frame.f_lineno
    enclosing = [
        node
        for node in ast.walk(tree)
        if isinstance(node, (ast.With, ast.AsyncWith)) and node.lineno <= line < node.body[0].lineno
    ]
    if not enclosing:
        return None
    body = max(enclosing, key=lambda node: node.lineno).body
    start, end = body[0].lineno, body[-1].end_lineno or body[-1].lineno
    return textwrap.dedent("".join(lines[start - 1 : end]))


def track(
    name: str | None = None,
    *,
    experiment: str | None = None,
    params: Mapping[str, object] | None = None,
    tags: Mapping[str, object] | None = None,
    code: str | None = None,
    namespace: dict[str, Any] | None = None,
    metrics: list[str] | None = None,
    figures: bool = True,
    autolog: bool = True,
    max_output_bytes: int = _capture.DEFAULT_MAX_OUTPUT_BYTES,
    kind: str = "script",
    store: StoreLike | None = None,
) -> TrackedBlock:
    """Record a block of code as one run, with everything a ``%%track`` cell records.

    ``with nbtrack.track(...) as run:`` starts a run (the active run inside the block) and captures,
    until the block ends: what it prints (stdout/stderr tails as ``stdout.txt``/``stderr.txt``),
    every matplotlib figure it draws (``figure-N.png``), every scikit-learn estimator it fits (the
    model pickled as ``NAME.pkl`` and its parameters as ``NAME.*`` params), wall time, CPU time and
    peak memory growth (``_wall_s``, ``_cpu_s``, ``_peak_mem_mb``). The run ends ``ok``, or ``failed``/
    ``interrupted`` with the error, which is re-raised; what was captured up to then is kept.

    The block's code is read from its source file (``code`` overrides it; a block whose source cannot
    be read, e.g. from ``exec`` of a string, records no code). With ``namespace`` (usually
    ``globals()``), params and metrics follow the magic's rules: params are the literal assignments in
    the block and the literal values it reads from ``namespace``; metrics are the numbers it binds
    (``metrics`` names them instead); DataFrames it reads and binds are recorded as data inputs and
    outputs. ``params`` adds or overrides params. Without ``namespace`` only the code, what is
    captured and what you log is recorded.

    Example::

        with nbtrack.track("fit", namespace=globals()) as run:
            alpha = 0.5                          # a literal: recorded as a param
            model = Ridge(alpha=alpha).fit(X, y)
            score = model.score(X, y)            # a computed number: recorded as a metric
    """
    return TrackedBlock(
        name, experiment, params, tags, code, namespace, metrics, figures, autolog, max_output_bytes, kind, store
    )
