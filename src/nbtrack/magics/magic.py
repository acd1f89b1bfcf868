"""``%%track`` (one cell execution = one run) and ``%track <subcommand>`` (views of the store).

A thin shell over :mod:`nbtrack.capture.cell` and the core: parse (with the one ``%%track`` grammar,
:mod:`nbtrack.capture.options`, which ``nbtrack export`` also reads), call, display, and turn
``NbtrackError`` into IPython's ``UsageError`` (no traceback for user mistakes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import MagicHelpFormatter
from traitlets import Bool, Int, Unicode

from nbtrack.capture.cell import track_cell
from nbtrack.capture.options import parse_track_line, track_parser
from nbtrack.capture.plan import TrackOptions
from nbtrack.errors import NbtrackError, TrackUsageError
from nbtrack.magics import subcommands

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell


def _with_track_options(magic):
    """Attach the ``%%track`` option parser as ``magic.parser`` and make ``%track?`` show the docstring
    followed by the options, as IPython's ``magic_arguments`` would (the parser itself is the core's)."""
    magic.parser = track_parser(prog="%track", description=magic.__doc__, formatter_class=MagicHelpFormatter)
    magic.__doc__ = magic.parser.format_help()
    return magic


@magics_class
class TrackMagics(Magics):
    """Track notebook cells as nbtrack runs. Settings: ``%config TrackMagics.<name> = value``."""

    autolog = Bool(True, help="Record scikit-learn estimators fitted in a tracked cell.").tag(config=True)
    figures = Bool(True, help="Save every matplotlib figure a tracked cell shows as a PNG artifact.").tag(config=True)
    quiet = Bool(False, help="Do not print the one-line run summary after a tracked cell.").tag(config=True)
    max_output_bytes = Int(
        1 << 20, help="Keep at most this many characters of a tracked cell's stdout and of its stderr (the tail)."
    ).tag(config=True)
    max_models = Int(
        20, help="Record at most this many fitted models per tracked cell (--max-models N for one cell)."
    ).tag(config=True)
    cache_fingerprints = Bool(
        True,
        help="Reuse the fingerprint of a DataFrame a tracked cell reads when pandas' copy-on-write shows it did "
        "not change since it was last hashed (docs/tracking.md); False hashes every value on every read.",
    ).tag(config=True)
    experiment = Unicode(
        None,
        allow_none=True,
        help="Experiment for tracked cells without -e (default: NBTRACK_EXPERIMENT or 'default').",
    ).tag(config=True)

    def __init__(self, shell: InteractiveShell | None = None, **kwargs: Any):
        super().__init__(shell=shell, **kwargs)
        configurables = self._ipython().configurables
        if self not in configurables:
            configurables.append(self)  # pyright: ignore[reportArgumentType]  # IPython's list holds any Configurable

    def _ipython(self) -> InteractiveShell:
        if self.shell is None:
            raise NbtrackError("The %track magics need an IPython shell: load them with %load_ext nbtrack.")
        return self.shell

    @_with_track_options
    @line_cell_magic
    def track(self, line: str = "", cell: str | None = None):
        """Track a cell as an nbtrack run, or look at runs.

        Cell magic -- every execution of the cell records a new run::

            %%track baseline -e churn -t stage=dev
            lr = 0.1                      # literal assignment -> param lr
            model = RandomForestClassifier(max_depth=lr_depth).fit(X, y)   # model + model.* params
            acc = model.score(X_test, y_test)                              # number bound -> metric acc

        Recorded: the code, execution count, notebook path and cell id; params (literal assignments
        and literal values the cell reads, plus --params), metrics (numbers the cell binds, plus
        nbtrack.log_metric calls; --metrics restricts), fitted scikit-learn estimators (params and a
        pickled model; loading needs trusted=True), matplotlib figures (PNG), stdout/stderr (tail of
        max_output_bytes), DataFrames read (inputs) and bound (outputs), and _wall_s, _cpu_s,
        _peak_mem_mb. Status is ok, failed (exception kept) or interrupted. Errors reach you exactly
        as without %%track. Inside the cell, nbtrack.start_run() makes a child run.

        Line magic -- subcommands (like the nbtrack CLI)::

            %track runs [-e EXPERIMENT] [--where QUERY] [--order-by KEYS] [--limit N]
                        [--columns A,B] [--all] [--flat] [--sweep SWEEP] [--archived | --only-archived]
            %track runs --order-by -metrics.acc --limit 10      # a leaderboard
            %track runs --sweep SWEEP                           # a sweep's jobs, best first
            %track show RUN                                     # everything a run recorded
            %track compare RUN RUN [RUN ...]                    # params/metrics side by side, charts
            %track snapshot df [NAME] [--key COL] [-m MESSAGE]  # store a DataFrame version
            %track diff NAME [A] [B] [--key COL]                # compare two versions
            %track data [list | versions NAME | load NAME@V | lineage NAME@V|RUN]
            %track models [NAME | NAME/V | NAME@ALIAS] [--history]  # registered models
            %track monitor NAME@ALIAS DATA [--retrain NB --holdout H ...]  # drift, quality (nbtrack monitor)
            %track open [RUN ...] [-e EXPERIMENT]               # the JupyterLab workspace / a run / compare
            %track push [REMOTE] [--verify]                     # send this store's history to a remote
            %track pull [REMOTE]                                # bring in what teammates pushed

        RUN is a run id, a unique prefix/suffix of one (the short id), or a run name. Settings (``%config TrackMagics.quiet = True``):
        autolog, figures, quiet, max_output_bytes, max_models, experiment, cache_fingerprints. See docs/tracking.md.
        """
        if cell is None:
            return self._subcommand(line)
        defaults = TrackOptions(
            experiment=self.experiment,
            figures=self.figures,
            autolog=self.autolog,
            quiet=self.quiet,
            max_output_bytes=self.max_output_bytes,
            max_models=self.max_models,
            cache_fingerprints=self.cache_fingerprints,
        )
        try:
            options = parse_track_line(line, defaults)
        except TrackUsageError as error:
            raise UsageError(str(error)) from error
        try:
            report = track_cell(self.shell, cell, options, line=line)
        except NbtrackError as error:
            raise UsageError(str(error)) from error
        if not options.quiet:
            print(report.summary())
            for note in report.notes:
                print(f"nbtrack: note: {note}")
        self._ipython().user_ns["_track_run"] = report.run_id
        return None

    def _subcommand(self, line: str):
        name, _, rest = line.strip().partition(" ")
        if not name:
            raise UsageError(
                f"Use %%track as a cell magic, or %track SUBCOMMAND with one of: "
                f"{', '.join(subcommands.SUBCOMMANDS)} (see %track?)."
            )
        try:
            handler = subcommands.resolve(name)
        except KeyError:
            raise UsageError(
                f"Unknown %track subcommand {name!r}: use one of {', '.join(subcommands.SUBCOMMANDS)} (see %track?)."
            ) from None
        try:
            return handler(self.shell, rest.strip())
        except NbtrackError as error:
            raise UsageError(str(error)) from error
