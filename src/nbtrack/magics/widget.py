"""``nbtrack.runs_widget()`` / ``%track runs`` in a widget frontend: an ipywidgets table of runs.

A filter box takes the query language (errors shown under it, with the position), a sort dropdown and
a descending toggle sort the rows, status marks show each run's state, and a multiple selection plus a
"Compare" button shows ``%track compare`` for the chosen runs. The table itself is escaped HTML, so a
frontend without widgets still gets the same table.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import ipywidgets as w

import nbtrack
from nbtrack.errors import NbtrackError
from nbtrack.magics.views import STATUS_MARKS, compare_runs, display_columns, frame_html

if TYPE_CHECKING:
    import pandas as pd


class RunsWidget(w.VBox):
    """Interactive runs table. ``.frame`` is the DataFrame currently shown."""

    def __init__(
        self,
        experiment: str | None = None,
        where: str | None = None,
        order_by: str | None = None,
        limit: int | None = 100,
        frame: pd.DataFrame | None = None,
        **kwargs: Any,
    ):
        self.experiment, self.limit, self.order_by = experiment, limit, order_by
        self.filter = w.Text(
            value=where or "",
            placeholder="metrics.acc > 0.9 and status = 'ok'",
            description="where",
            continuous_update=False,
            layout=w.Layout(width="50%"),
        )
        self.sort = w.Dropdown(description="sort by", options=["start"], value="start")
        self.descending = w.ToggleButton(value=True, description="desc", tooltip="descending order")
        self.refresh = w.Button(description="Refresh", icon="refresh")
        self.error = w.HTML()
        self.table = w.HTML()
        self.selection = w.SelectMultiple(description="compare", rows=6, layout=w.Layout(width="50%"))
        self.compare_button = w.Button(description="Compare selected", button_style="info")
        self.output = w.Output()
        self.frame = frame
        super().__init__(
            [
                w.HBox([self.filter, self.sort, self.descending, self.refresh]),
                self.error,
                self.table,
                w.HBox([self.selection, self.compare_button]),
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
            self.frame = nbtrack.runs(
                self.experiment, where=self.filter.value or None, order_by=self.order_by, limit=self.limit
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
        columns = display_columns(frame)
        if list(self.sort.options) != columns and columns:
            current = self.sort.value
            with self.sort.hold_trait_notifications():
                self.sort.options = columns
                self.sort.value = current if current in columns else ("start" if "start" in columns else columns[0])
        if self.sort.value in frame.columns and len(frame):
            frame = frame.sort_values(
                self.sort.value, ascending=not self.descending.value, na_position="last", kind="stable"
            )
        self.shown = frame
        self.table.value = frame_html(frame)
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
