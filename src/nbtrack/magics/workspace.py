"""``%track open``: open the JupyterLab experiments workspace, a run or a comparison from a notebook.

The kernel cannot run JupyterLab commands, so the magic displays an ``application/vnd.nbtrack.open+json``
output; nbtrack's JupyterLab extension renders it as a button and, when the output is fresh (made in
the last 30 seconds, not a saved notebook being reopened), opens the view at once. Where the extension
is not installed (or in terminal IPython) the text/plain part says how to get there.
"""

from __future__ import annotations

import time

from IPython.core.error import UsageError

from nbtrack.errors import NbtrackError
from nbtrack.magics import subcommands

OPEN_MIME = "application/vnd.nbtrack.open+json"


class OpenRequest:
    """A request to open an nbtrack view in JupyterLab (the workspace, one run, or a comparison)."""

    def __init__(self, run_ids: list[str], experiment: str | None = None, where: str | None = None):
        self.run_ids = run_ids
        self.experiment = experiment
        self.where = where
        self.created = time.time()

    @property
    def view(self) -> str:
        return {0: "workspace", 1: "run"}.get(len(self.run_ids), "compare")

    def _text(self) -> str:
        what = {
            "workspace": "the nbtrack workspace" + (f" on experiment {self.experiment}" if self.experiment else ""),
            "run": f"run {self.run_ids[0] if self.run_ids else ''}",
            "compare": f"a comparison of {len(self.run_ids)} runs",
        }[self.view]
        return (
            f"Opening {what} in JupyterLab (nbtrack's extension opens it; or use the command palette: "
            "'nbtrack: Open experiments workspace'). In a terminal, use `nbtrack runs` / `%track runs`."
        )

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        data: dict[str, object] = {"view": self.view, "created": self.created}
        if self.run_ids:
            data["run_ids"] = self.run_ids
        if self.experiment is not None:
            data["experiment"] = self.experiment
        if self.where:
            data["where"] = self.where
        return {OPEN_MIME: data, "text/plain": self._text()}

    def __repr__(self) -> str:
        return self._text()


def open_command(shell, argstring: str) -> OpenRequest:
    """%track open [RUN ...] [-e EXPERIMENT] [--where QUERY]"""
    import nbtrack

    parser = subcommands.parser(
        "open", "Open the experiments workspace in JupyterLab; with one RUN its run view, with several a comparison."
    )
    parser.add_argument("runs", nargs="*")
    parser.add_argument("-e", "--experiment", default=None)
    parser.add_argument("--where", default=None)
    args = subcommands.parse(parser, argstring)
    try:
        run_ids = [nbtrack.get_run(ref).run_id for ref in args.runs]
    except NbtrackError as error:
        raise UsageError(str(error)) from error
    return OpenRequest(run_ids, experiment=args.experiment, where=args.where)
