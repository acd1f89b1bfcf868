"""In-notebook views of the store: ``%track runs``, ``%track show RUN``, ``%track compare A B ...``.

Each view is a small object with ``_repr_html_`` (everything user-controlled is HTML-escaped), so it
renders in JupyterLab, in papermill/nbclient output notebooks and in nbconvert alike. ``RunsView``
adds an ipywidgets table on top when a kernel with widget support runs it.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Sequence

import nbtrack
from nbtrack import _table as tables
from nbtrack.comparison import compare_runs as compare
from nbtrack.leaderboard import choose_columns, leaderboard, notes, render_text
from nbtrack.magics import subcommands
from nbtrack.store import default_store

STATUS_MARKS = {"ok": "✓", "failed": "✗", "interrupted": "⏸", "crashed": "☠", "running": "…"}
_DIFF_STYLE = "background: #fff3b0"


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return "" if value is None else str(value)


# -- runs -------------------------------------------------------------------------------------------
#: At most this many metrics and params in a notebook table by default (``--all``/``--columns`` for more).
NOTEBOOK_METRICS = NOTEBOOK_PARAMS = 10


def frame_html(frame, max_rows: int = 500, columns: Sequence[str] | None = None) -> str:
    """The runs DataFrame as an escaped HTML table (in a horizontally scrolling box) with status marks
    and short ids; ``columns`` as :func:`nbtrack.leaderboard.choose_columns` chose them (default: its
    default choice for a notebook)."""
    if columns is None:
        columns = choose_columns(frame, max_metrics=NOTEBOOK_METRICS, max_params=NOTEBOOK_PARAMS)
    columns = [c for c in columns if c != "run_id"]
    head = "".join(f"<th>{_e(tables.header(c)[1])}</th>" for c in ["run_id", *columns])
    groups = [tables.header(c)[0] for c in columns]
    titles = "".join(f"<th>{_e(g)}</th>" if g else "<th></th>" for g in ["", *groups])
    rows = []
    for record in frame.head(max_rows).to_dict("records"):
        cells = [f"<td><code>{_e(tables.value_text('run_id', record['run_id']))}</code></td>"]
        for column in columns:
            value = record.get(column)
            if column == "status":
                cells.append(f"<td title='{_e(value)}'>{STATUS_MARKS.get(value, '?')} {_e(value)}</td>")
            else:
                cells.append(f"<td>{_e(tables.value_text(column, value))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    more = f"{len(frame) - max_rows} more runs not shown; " if len(frame) > max_rows else ""
    return (
        "<div style='overflow-x:auto;max-width:100%'><table class='nbtrack-runs'>"
        f"<thead><tr class='nbtrack-groups'>{titles}</tr><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody>"
        f"</table></div><p>{_e(more + '; '.join(notes(frame, ['run_id', *columns])))}</p>"
    )


class RunsView:
    """The result of ``%track runs``: ``.frame`` is the DataFrame, ``.columns`` the columns shown; displays
    as a widget, HTML, or (terminal IPython) a text table fitted to the terminal."""

    def __init__(self, frame, query: dict | None = None, columns: Sequence[str] | None = None):
        self.frame = frame
        self.query = query or {}
        self.columns = list(columns) if columns is not None else None

    def _repr_html_(self) -> str:
        return frame_html(self.frame, columns=self.columns)

    def __repr__(self) -> str:
        return render_text(self.frame, self.columns, order_by=self.query.get("order_by"))

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        printer.text(repr(self))

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = {"text/html": self._repr_html_(), "text/plain": repr(self)}
        if _widget_kernel():
            from nbtrack.magics.widget import RunsWidget

            widget = RunsWidget(frame=self.frame, columns=self.columns, **self.query)
            bundle.update(widget._repr_mimebundle_() or {})
        return bundle


def _widget_kernel() -> bool:
    try:
        from IPython import get_ipython

        shell = get_ipython()
        if getattr(shell, "kernel", None) is None:
            return False
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


_RUNS = None


def runs_command(shell, argstring: str) -> RunsView:
    """%track runs [-e EXPERIMENT] [--where QUERY] [--order-by KEYS] [--limit N] [--columns A,B] [--all]
    [--flat] [--sweep SWEEP] [--archived | --only-archived]"""
    global _RUNS
    if _RUNS is None:
        _RUNS = subcommands.parser("runs", "Table of runs, newest first.")
        _RUNS.add_argument("-e", "--experiment", default=None)
        _RUNS.add_argument("--where", default=None, help='query, e.g. "metrics.acc > 0.9"')
        _RUNS.add_argument("--order-by", dest="order_by", default=None, help="e.g. -metrics.acc,name")
        _RUNS.add_argument("--limit", type=int, default=None)
        _RUNS.add_argument("--columns", default=None, help="e.g. name,metrics.acc,params.lr")
        _RUNS.add_argument("--all", dest="all_columns", action="store_true", help="every column")
        _RUNS.add_argument("--flat", action="store_true", help="list cell runs of notebook runs as rows too")
        _RUNS.add_argument("--sweep", default=None, help="only the jobs of this sweep run, best first")
        _RUNS.add_argument("--archived", action="store_true", help="list archived runs too, marked")
        _RUNS.add_argument("--only-archived", dest="only_archived", action="store_true", help="only archived runs")
    args = subcommands.parse(_RUNS, argstring)

    query = {
        "experiment": args.experiment,
        "where": args.where,
        "order_by": args.order_by,
        "limit": args.limit,
        "sweep": args.sweep,
        "flat": args.flat,
        "archived": "only" if args.only_archived else args.archived,
    }
    frame = leaderboard(**query)
    columns = None
    if args.columns or args.all_columns:
        columns = choose_columns(frame, args.columns, all=args.all_columns, order_by=args.order_by)
    return RunsView(frame, query, columns)


# -- one run ----------------------------------------------------------------------------------------
def _table(rows: Sequence[tuple[str, object]], title: str) -> str:
    if not rows:
        return ""
    body = "".join(
        f"<tr><th style='text-align:left'>{_e(k)}</th><td style='text-align:left'>{_e(_fmt(v))}</td></tr>"
        for k, v in rows
    )
    return f"<h4>{_e(title)}</h4><table>{body}</table>"


def _png_tag(data: bytes, title: str) -> str:
    return (
        f"<figure><img src='data:image/png;base64,{base64.b64encode(data).decode()}' "
        f"style='max-width:100%'/><figcaption>{_e(title)}</figcaption></figure>"
    )


class RunView:
    """Everything one run recorded (``%track show RUN``); ``.record`` is the RunRecord."""

    def __init__(self, record, store=None):
        self.record = record
        self.store = store

    def _repr_html_(self) -> str:
        r = self.record

        store = self.store or default_store(create=False)
        head = (
            f"<h3>{STATUS_MARKS.get(r.status, '?')} run <code>{_e(r.short_id)}</code> {_e(r.name or '')} "
            f"<small>({_e(r.status)}, {_e(r.kind)}, experiment {_e(r.experiment)})</small></h3>"
        )
        overview = [
            ("run_id", r.run_id),
            ("start", r.start.isoformat()),
            ("duration_s", r.duration_s),
            ("user", f"{r.user} on {r.host}" if r.user else r.host),
            ("source", r.source_path),
            ("cell", r.source_cell),
            ("execution_count", r.execution_count),
            ("parent", r.parent_id),
            ("children", ", ".join(c[-8:] for c in r.children) or None),
            ("python", r.environment.get("python")),
            ("git", (r.environment.get("git") or {}).get("commit")),
        ]
        parts = [head, _table([(k, v) for k, v in overview if v not in (None, "")], "Run")]
        parts.append(_table(sorted(r.params.items()), "Params"))
        parts.append(_table(sorted(r.latest.items()), "Metrics (last value)"))
        parts.append(_table(sorted(r.tags.items()), "Tags"))
        for title, items in (("Inputs", r.inputs), ("Outputs", r.outputs)):
            parts.append(
                _table(
                    [
                        (
                            d.get("name") or d["fingerprint"][:12],
                            f"{d['rows']} rows x {d['columns']} columns, {d['fingerprint'][:12]}"
                            + (f", {d['dataset']} v{d['version']}" if d.get("dataset") else ""),
                        )
                        for d in items
                    ],
                    title,
                )
            )
        if r.error:
            parts.append(f"<h4>Error</h4><pre>{_e(r.error.get('traceback') or r.error.get('message'))}</pre>")
        if r.code:
            parts.append(f"<h4>Code</h4><pre>{_e(r.code)}</pre>")
        figures = [a for a in r.artifacts if a["kind"] == "figure"]
        for artifact in figures:
            parts.append(_png_tag(store.blobs.read_bytes(artifact["hash"]), artifact["name"]))
        for artifact in r.artifacts:
            if artifact["kind"] == "text" and artifact["size"] <= 100_000:
                text = store.blobs.read_bytes(artifact["hash"]).decode("utf-8", "replace")
                parts.append(f"<h4>{_e(artifact['name'])}</h4><pre>{_e(text)}</pre>")
        others = [
            (
                a["name"],
                f"{a['kind']}, {a['size']} bytes"
                + (", load with nbtrack.load_artifact(..., trusted=True)" if a["kind"] == "model" else ""),
            )
            for a in r.artifacts
            if a["kind"] not in ("figure",)
        ]
        parts.append(_table(others, "Artifacts"))
        return "".join(p for p in parts if p)

    def __repr__(self) -> str:
        return "\n".join(tables.run_lines(self.record))

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        printer.text(repr(self))


def show_command(shell, argstring: str) -> RunView:
    """%track show RUN"""
    parser = subcommands.parser("show", "Everything one run recorded.")
    parser.add_argument("run")
    args = subcommands.parse(parser, argstring)
    return RunView(nbtrack.get_run(args.run))


# -- compare ----------------------------------------------------------------------------------------
class CompareView:
    """Params and metrics of several runs side by side, differing rows highlighted, metric charts."""

    def __init__(self, comparison):
        self.comparison = comparison
        self.records = comparison.runs

    @property
    def ids(self) -> list[str]:
        return self.comparison.ids

    def rows(self, section: str) -> list[tuple[str, list, bool]]:
        compared = self.comparison.params if section == "params" else self.comparison.metrics
        return [(c.key, c.values, c.differs) for c in compared]

    def _section(self, section: str, title: str) -> str:
        rows = self.rows(section)
        if not rows:
            return ""
        head = "".join(f"<th>{_e(i)}</th>" for i in self.ids)
        body = "".join(
            f"<tr style='{_DIFF_STYLE if differs else ''}'><th style='text-align:left'>{_e(key)}</th>"
            + "".join(f"<td>{_e(_fmt(v))}</td>" for v in values)
            + "</tr>"
            for key, values, differs in rows
        )
        return f"<h4>{_e(title)}</h4><table><thead><tr><th></th>{head}</tr></thead><tbody>{body}</tbody></table>"

    def chart_png(self) -> bytes | None:
        """Overlaid metric histories (metrics with more than one step in some run), or None."""
        series = {
            key: by_run
            for key, by_run in self.comparison.series(with_meta=False).items()
            if any(len(points) > 1 for points in by_run.values())
        }
        if not series:
            return None
        try:
            from matplotlib.figure import Figure
        except ImportError:  # matplotlib is optional: the tables say it all without the charts
            return None

        keys = sorted(series)
        fig = Figure(figsize=(5 * min(len(keys), 3), 3.2 * ((len(keys) + 2) // 3)))
        for index, key in enumerate(keys, 1):
            ax = fig.add_subplot((len(keys) + 2) // 3, min(len(keys), 3), index)
            for run_id, points in series[key].items():
                steps, values = zip(*points)
                ax.plot(steps, values, marker=".", label=run_id[-8:])
            ax.set_title(key)
            ax.set_xlabel("step")
            ax.legend(fontsize="small")
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        return buffer.getvalue()

    def __repr__(self) -> str:
        """The comparison as text (terminal IPython): a params and a metrics table, ``*`` on differing rows."""
        head = "Compare " + ", ".join(
            f"{r.short_id} {r.name or ''} ({r.status})".replace(" (", " (", 1) for r in self.records
        )
        parts = [head]
        for section in ("params", "metrics"):
            rows = self.rows(section)
            if rows:
                parts.append(
                    tables.key_values(section if section == "params" else "metrics (last value)", rows, self.ids)
                )
        parts.append("* the values differ")
        return "\n\n".join(parts)

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        printer.text(repr(self))

    def _repr_html_(self) -> str:
        marks = ", ".join(
            f"{STATUS_MARKS.get(r.status, '?')} <code>{_e(r.short_id)}</code> {_e(r.name or '')}" for r in self.records
        )
        parts = [
            f"<h3>Compare {marks}</h3>",
            self._section("params", "Params"),
            self._section("metrics", "Metrics (last value)"),
        ]
        png = self.chart_png()
        if png:
            parts.append(_png_tag(png, "metric histories"))
        return "".join(parts)


def compare_command(shell, argstring: str) -> CompareView:
    """%track compare RUN RUN [RUN ...]"""
    parser = subcommands.parser("compare", "Params and metrics of runs side by side.")
    parser.add_argument("runs", nargs="+")
    args = subcommands.parse(parser, argstring)
    if len(args.runs) < 2:
        from IPython.core.error import UsageError

        raise UsageError("%track compare needs at least two runs: %track compare RUN RUN [RUN ...].")
    return compare_runs(args.runs)


def compare_runs(run_ids) -> CompareView:
    """A CompareView of runs given by id, id fragment or name."""

    return CompareView(compare(run_ids))
