"""``nbtrack.runs_widget()`` / ``%track runs`` in a widget frontend: an ipywidgets table of runs.

A filter box takes the query language (errors shown under it, with the position); rows keep the query's
order (newest first, or ``order_by``) until a column is picked in the sort dropdown (with a descending
toggle); the toolbar wraps on narrow screens; status marks show each run's state, and a multiple selection plus a
"Compare" button shows ``%track compare`` for the chosen runs. The table itself is escaped HTML, so a
frontend without widgets still gets the same table.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from nbtrack.errors import NbtrackError
from nbtrack.leaderboard import choose_columns, leaderboard
from nbtrack.magics.views import NOTEBOOK_METRICS, NOTEBOOK_PARAMS, STATUS_MARKS, compare_runs, frame_html

if TYPE_CHECKING:
    import pandas as pd


QUERY_ORDER = ""  # the sort dropdown's first entry: the rows as the query ordered them


class RunsWidget(w.VBox):
    """Interactive runs table. ``.frame`` is the DataFrame loaded, ``.shown`` the rows as displayed.

    Rows come in the query's order (newest first, or ``order_by``) until a column is picked in the "sort
    by" dropdown; columns are :func:`nbtrack.leaderboard.choose_columns`' choice (``columns``/``all``)."""

    def __init__(
        self,
        experiment: str | None = None,
        where: str | None = None,
        order_by: str | None = None,
        limit: int | None = 100,
        frame: pd.DataFrame | None = None,
        *,
        columns: Sequence[str] | None = None,
        sweep: str | None = None,
        flat: bool = False,
        archived: bool | str = False,
        **kwargs: Any,
    ):
        self.experiment, self.limit, self.order_by, self.archived = experiment, limit, order_by, archived
        self.sweep, self.flat, self.columns = sweep, flat, list(columns) if columns is not None else None
        wrap = w.Layout(flex_flow="row wrap", align_items="center", width="100%")
        self.filter = w.Text(
            value=where or "",
            placeholder="metrics.acc > 0.9 and status = 'ok'",
            description="where",
            continuous_update=False,
            layout=w.Layout(flex="1 1 320px", min_width="240px", width="auto"),
        )
        label = f"query order ({order_by})" if order_by else "query order (newest first)"
        self.sort = w.Dropdown(
            description="sort by", options=[(label, QUERY_ORDER)], value=QUERY_ORDER, layout=w.Layout(width="auto")
        )
        self.descending = w.ToggleButton(
            value=True, description="desc", tooltip="descending order (for a column picked in 'sort by')"
        )
        self.refresh = w.Button(description="Refresh", icon="refresh")
        self.error = w.HTML()
        self.table = w.HTML()
        self.selection = w.SelectMultiple(
            description="compare", rows=6, layout=w.Layout(flex="1 1 320px", min_width="240px", width="auto")
        )
        self.compare_button = w.Button(description="Compare selected", button_style="info")
        self.output = w.Output()
        self.frame = frame
        super().__init__(
            [
                w.HBox([self.filter, self.sort, self.descending, self.refresh], layout=wrap),
                self.error,
                self.table,
                w.HBox([self.selection, self.compare_button], layout=wrap),
                self.output,
            ],
            **kwargs,
        )
        self.filter.observe(lambda _: self.load(), names="value")
        self.sort.observe(lambda _: self.render(), names="value")
        self.descending.observe(lambda _: self.render(), names="value")
        self.refresh.on_click(lambda _: self.load())
        self.compare_button.on_click(lambda _: self.show_compare())
        if frame is None:
            self.load()
        else:
            self.render()

    def load(self) -> None:
        """Query the store with the filter box's text; show a query error under the box."""

        try:
            self.frame = leaderboard(
                self.experiment,
                where=self.filter.value or None,
                order_by=self.order_by,
                limit=self.limit,
                sweep=self.sweep,
                flat=self.flat,
                archived=self.archived,
            )
        except NbtrackError as error:
            self.error.value = f"<pre style='color:#b00'>{html.escape(str(error))}</pre>"
            return
        self.error.value = ""
        self.render()

    def render(self) -> None:
        frame = self.frame
        if frame is None:  # no runs loaded yet: the first query failed (its error is shown)
            return
        if self.columns is not None:
            columns = self.columns
        else:
            columns = choose_columns(
                frame, order_by=self.order_by, max_metrics=NOTEBOOK_METRICS, max_params=NOTEBOOK_PARAMS
            )
        options = [self.sort.options[0], *[(c, c) for c in columns if c in frame.columns]]
        if list(self.sort.options) != options:
            current = self.sort.value
            with self.sort.hold_trait_notifications():
                self.sort.options = options
                self.sort.value = current if current in [value for _, value in options] else QUERY_ORDER
        if self.sort.value != QUERY_ORDER and len(frame):
            frame = frame.sort_values(
                self.sort.value, ascending=not self.descending.value, na_position="last", kind="stable"
            )
        self.shown = frame
        self.table.value = frame_html(frame, columns=columns)
        self.selection.options = [
            (f"{STATUS_MARKS.get(s, '?')} {r[-8:]} {n or ''}", r)
            for r, s, n in zip(frame["run_id"], frame["status"], frame["name"])
        ]

    def show_compare(self) -> None:
        """Show the comparison of the selected runs under the table (``.comparison`` keeps it)."""
        self.output.outputs = ()
        if len(self.selection.value) < 2:
            self.output.append_stdout("Select at least two runs to compare.\n")
            return
        self.comparison = compare_runs(list(self.selection.value))
        self.output.append_display_data(self.comparison)
