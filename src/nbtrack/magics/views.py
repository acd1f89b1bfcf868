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
from nbtrack.magics import subcommands
from nbtrack.reading import compare_runs as compare
from nbtrack.store import default_store

STATUS_MARKS = {"ok": "✓", "failed": "✗", "interrupted": "⏸", "crashed": "☠", "running": "…"}
_DIFF_STYLE = "background: #fff3b0"


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _missing(value: object) -> bool:
    """None, NaN, pandas NA/NaT (without comparing, which pd.NA refuses)."""
    if value is None:
        return True
    if isinstance(value, float):
        return value != value
    return type(value).__name__ in ("NAType", "NaTType")


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return "" if value is None else str(value)


# -- runs -------------------------------------------------------------------------------------------
def display_columns(frame) -> list[str]:
    """Columns in reading order: run facts, metrics (nbtrack's own ``_`` metrics after), params, tags."""

    def rank(column: str) -> int:
        for position, prefix in enumerate(("metrics.", "metrics._", "params.", "tags."), 1):
            if column.startswith(prefix) and not (prefix == "metrics." and column.startswith("metrics._")):
                return position
        return 0

    return sorted((c for c in frame.columns if c not in ("run_id", "parent_id")), key=rank)


def frame_html(frame, max_rows: int = 500) -> str:
    """The runs DataFrame as an escaped HTML table with status marks and short ids."""
    columns = display_columns(frame)
    head = "".join(f"<th>{_e(c)}</th>" for c in ["run", *columns])
    rows = []
    for record in frame.head(max_rows).to_dict("records"):
        cells = [f"<td><code>{_e(str(record['run_id'])[-8:])}</code></td>"]
        for column in columns:
            value = record[column]
            if column == "status":
                cells.append(f"<td title='{_e(value)}'>{STATUS_MARKS.get(value, '?')} {_e(value)}</td>")
            elif column == "start" and not _missing(value) and hasattr(value, "strftime"):
                cells.append(f"<td>{_e(value.strftime('%Y-%m-%d %H:%M:%S'))}</td>")
            else:
                cells.append(f"<td>{_e(_fmt(None if _missing(value) else value))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    more = f"<p>{len(frame) - max_rows} more runs not shown</p>" if len(frame) > max_rows else ""
    return f"<table class='nbtrack-runs'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>" + (
        more or f"<p>{len(frame)} run{'s' * (len(frame) != 1)}</p>"
    )


class RunsView:
    """The result of ``%track runs``: ``.frame`` is the DataFrame; displays as a widget or HTML."""

    def __init__(self, frame, query: dict | None = None):
        self.frame = frame
        self.query = query or {}

    def _repr_html_(self) -> str:
        return frame_html(self.frame)

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = {"text/html": self._repr_html_(), "text/plain": f"<{len(self.frame)} nbtrack runs>"}
        if _widget_kernel():
            from nbtrack.magics.widget import RunsWidget

            widget = RunsWidget(frame=self.frame, **self.query)
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
    """%track runs [-e EXPERIMENT] [--where QUERY] [--order-by KEYS] [--limit N]"""
    global _RUNS
    if _RUNS is None:
        _RUNS = subcommands.parser("runs", "Table of runs, newest first.")
        _RUNS.add_argument("-e", "--experiment", default=None)
        _RUNS.add_argument("--where", default=None, help='query, e.g. "metrics.acc > 0.9"')
        _RUNS.add_argument("--order-by", dest="order_by", default=None, help="e.g. -metrics.acc,name")
        _RUNS.add_argument("--limit", type=int, default=None)
    args = subcommands.parse(_RUNS, argstring)

    query = {"experiment": args.experiment, "where": args.where, "order_by": args.order_by, "limit": args.limit}
    return RunsView(nbtrack.runs(**query), query)


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
        r = self.record
        return f"<nbtrack run {r.short_id} {r.status} params={r.params} metrics={r.latest}>"


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
