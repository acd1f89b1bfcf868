"""The ``nbtrack`` command line: a thin shell over the Python API."""

from __future__ import annotations

import json
import os
import sys

import click

from nbtrack._version import __version__
from nbtrack.cli._common import echo_frame, existing_store
from nbtrack.errors import NbtrackError


class NbtrackGroup(click.Group):
    """Turns nbtrack errors into one-line messages and a non-zero exit, without a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except NbtrackError as error:
            raise click.ClickException(str(error)) from None
        except ValueError as error:  # os functions refuse NUL (only possible in-process: argv cannot hold one)
            if "null byte" not in str(error):
                raise
            raise click.UsageError(
                "An argument contains a NUL byte, which no path or name can hold: remove it."
            ) from None


@click.group(cls=NbtrackGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="nbtrack")
def main():
    """nbtrack: experiment tracking that lives in your notebooks.

    The store is the nearest `.nbtrack/` folder from the working directory upward
    (or NBTRACK_HOME). Run `nbtrack COMMAND --help` for each command.
    """


@main.command()
@click.argument("path", required=False, type=click.Path(file_okay=False))
@click.option("--shared", is_flag=True, help="A store several OS users of one group write (see docs/team.md).")
@click.option("--group", help="The group of a --shared store (default: the group of PATH).")
def init(path, shared, group):
    """Create a store (`.nbtrack/`) in PATH (default: the working directory).

    With --shared, every user of the group may write it: its folders are setgid and group-writable,
    its files group-readable and -writable, whoever makes them. Keep a store on a local disk: SQLite's
    locking is not safe on network filesystems (NFS, SMB); share across machines with `nbtrack merge`.

    Example:

    \b
        nbtrack init
        nbtrack init /srv/projects/churn --shared --group ml-team
    """
    import grp

    from nbtrack.store import STORE_DIRNAME, Store

    if group and not shared:
        raise click.UsageError("--group names the group of a --shared store: add --shared.")
    folder = os.path.abspath(path or ".")
    if shared and not group:
        group = grp.getgrgid(os.stat(folder).st_gid).gr_name if os.path.isdir(folder) else None
        if group is None:
            raise click.UsageError(f"{folder} does not exist yet: create it, or name the group with --group.")
    store = Store.open(os.path.join(folder, STORE_DIRNAME), group=group if shared else None)
    if shared and not store.shared:
        raise click.UsageError(
            f"{store.root} already exists and is not shared. To share it with group {group}, run: "
            f"chgrp -R {group} {store.root} && chmod -R g+rwX {store.root} && "
            f"find {store.root} -type d -exec chmod g+s {{}} +"
        )
    note = f", shared by group {group}" if store.shared and group else (", shared" if store.shared else "")
    click.echo(f"nbtrack store ready at {store.root} (schema version {store.schema_version}{note})")


_query_options = [
    click.option("--where", "-w", help="Filter, e.g. \"metrics.acc > 0.9 and params.model = 'rf'\"."),
    click.option("--order-by", "-o", help="Sort, e.g. -metrics.acc (minus = descending)."),
    click.option("--limit", "-n", type=int, help="At most this many runs."),
    click.option("--experiment", "-e", help="Only runs of this experiment."),
]


def query_options(function):
    for option in reversed(_query_options):
        function = option(function)
    return function


@main.command("runs")
@query_options
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--columns", "-c", help="Columns to show, e.g. name,status,metrics.acc,params.lr (or just acc).")
@click.option("--all", "all_columns", is_flag=True, help="Every column, nbtrack's own metrics too (not fitted).")
@click.option("--flat", is_flag=True, help="List the cell runs of notebook runs as rows of their own too.")
@click.option("--sweep", help="Only the jobs of this sweep run (id, short id or name), best first.")
@click.option("--width", type=int, help="Fit the table to this many characters (default: the terminal's).")
@click.option("--archived", is_flag=True, help="List archived runs too, with the time each was archived.")
@click.option("--only-archived", is_flag=True, help="List only archived runs (`nbtrack restore` brings them back).")
def runs_command(
    where, order_by, limit, experiment, fmt, columns, all_columns, flat, sweep, width, archived, only_archived
):
    """List runs, newest first, as a table that fits the terminal.

    The table shows the run, name, status, start, duration, then the metrics most runs have, then the
    params, as many as fit (COLUMNS, the terminal's width, or 120 in a pipe), for the first 200 runs
    unless --limit says otherwise; nbtrack's own metrics
    (_wall_s...), autologged model hyperparameters and tags only with --columns or --all. A notebook
    run's %%track cell runs are folded into its row (--flat lists them). --format csv/json print every
    run and column (or those of --columns). Archived runs (`nbtrack archive`) are left out unless
    --archived or --only-archived. Rules in docs/tracking.md, "Leaderboards".

    Example:

    \b
        nbtrack runs --where "metrics.acc > 0.9" --order-by -metrics.acc --limit 10
        nbtrack runs --columns name,metrics.acc,params.lr
        nbtrack runs --sweep 7k2m9qxa
    """
    from nbtrack.leaderboard import TEXT_ROWS, choose_columns, leaderboard, render_text

    machine = fmt != "table"
    capped = limit is None and not machine  # a table shows the first TEXT_ROWS: read one more to know
    fetch = TEXT_ROWS + 1 if capped else limit
    view = "only" if only_archived else archived
    store = existing_store()
    frame = leaderboard(
        experiment, where, order_by, fetch, sweep=sweep, flat=flat or machine, archived=view, store=store
    )
    if capped and len(frame) > TEXT_ROWS:
        frame = frame.head(TEXT_ROWS)
        frame.attrs["more"] = True
    if machine:
        echo_frame(frame[choose_columns(frame, columns)] if columns else frame, fmt)
    else:
        rows = TEXT_ROWS if limit is None else max(limit, 0)
        click.echo(render_text(frame, columns, all=all_columns, order_by=order_by, width=width, max_rows=rows))


@main.command()
@click.argument("run")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def show(run, fmt):
    """Show everything RUN recorded (RUN: a run id, its 8-character short id, a unique prefix, or a run name).

    Example:

        nbtrack show 4f7kq2xm
    """
    from nbtrack.records import get_run

    record = get_run(run, store=existing_store())
    if fmt == "json":
        click.echo(json.dumps(record.to_dict(), indent=2, default=str))
        return
    from nbtrack._table import run_lines

    click.echo("\n".join(run_lines(record)))


@main.command()
@click.argument("runs", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
def compare(runs, fmt):
    """Compare params and metrics of two or more runs; differing rows come first.

    Example:

        nbtrack compare 4f7kq2xm 9d2hw1ab
    """
    from nbtrack.comparison import compare as compare_runs

    frame = compare_runs(list(runs), store=existing_store())
    echo_frame(frame.reset_index(names="field"), fmt)


@main.command()
@click.argument("run")
@click.option("--recursive", is_flag=True, help="Also delete the run's child runs.")
@click.confirmation_option(prompt="Delete this run and everything it recorded?")
def delete(run, recursive):
    """Delete RUN and what it recorded (blobs are freed by `nbtrack gc`).

    Example:

        nbtrack delete 4f7kq2xm --yes
    """
    from nbtrack.store.maintenance import delete_run

    deleted = delete_run(run, recursive=recursive, store=existing_store())
    click.echo(f"deleted {len(deleted)} run(s)")


@main.command()
@click.argument("run")
@click.argument("tags", nargs=-1)
@click.option("--remove", "-r", "remove", multiple=True, metavar="KEY", help="Remove this tag (repeatable).")
def tag(run, tags, remove):
    """Set tags (KEY=VALUE ...) on RUN, a run that has ended, or remove them with --remove KEY.

    RUN is a run id, its short id, a unique prefix or a run name. Tags are text; `nbtrack runs
    --where "tags.stage = 'review'"` finds them. A running run sets its own tags (run.set_tags).

    Example:

    \b
        nbtrack tag 4f7kq2xm stage=review owner=ana
        nbtrack tag 4f7kq2xm --remove tmp
    """
    from nbtrack.editing import tag_run

    pairs = {}
    for item in tags:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.UsageError(f"{item!r} is not KEY=VALUE: write each tag as KEY=VALUE (e.g. stage=review).")
        pairs[key.strip()] = value
    if not pairs and not remove:
        raise click.UsageError("Give tags to set (KEY=VALUE ...) or --remove KEY.")
    now = tag_run(run, pairs, remove=remove, store=existing_store())
    shown = ", ".join(f"{k}={v}" for k, v in sorted(now.items()) if k != "nbtrack.note") or "none"
    click.echo(f"tags of {run}: {shown}")


@main.command()
@click.argument("run")
@click.argument("text", required=False)
@click.option("--clear", is_flag=True, help="Remove the note.")
def note(run, text, clear):
    """Set the note of RUN (free text: what was tried, what to remember); without TEXT, print it.

    The note is kept in the reserved tag nbtrack.note (MLflow keeps its note in mlflow.note.content), so
    `nbtrack runs --where "tags.nbtrack.note ~ 'leak'"` finds it; the workspace edits it inline.

    Example:

    \b
        nbtrack note 4f7kq2xm "leaks the test fold: rerun with group k-fold"
        nbtrack note 4f7kq2xm
        nbtrack note 4f7kq2xm --clear
    """
    from nbtrack.editing import NOTE_TAG, set_note

    store = existing_store()
    if clear and text is not None:
        raise click.UsageError("Give TEXT or --clear, not both.")
    if text is None and not clear:
        from nbtrack.records import get_run

        click.echo(get_run(run, store=store).tags.get(NOTE_TAG, ""))
        return
    kept = set_note(run, None if clear else text, store=store)
    click.echo(f"note of {run} removed" if kept is None else f"note of {run} set ({len(kept)} characters)")


@main.command()
@click.argument("runs", nargs=-1, required=True)
def archive(runs):
    """Archive RUNS with their child runs: hidden from listings, kept whole, restorable.

    Like MLflow's soft delete: `nbtrack runs`, nbtrack.runs(), the sidebar and the workspace leave
    archived runs out unless asked (--archived); `nbtrack restore` brings them back; `nbtrack delete`
    deletes for good.

    Example:

    \b
        nbtrack archive 4f7kq2xm 9d2hw1ab
        nbtrack runs --only-archived
    """
    from nbtrack.editing import archive_runs

    archived = archive_runs(runs, store=existing_store())
    click.echo(f"archived {len(archived)} run(s): {' '.join(r[-8:] for r in archived)}".rstrip(": "))
    if archived:
        click.echo(f"undo with: nbtrack restore {' '.join(r[-8:] for r in archived)}")


@main.command()
@click.argument("runs", nargs=-1, required=True)
def restore(runs):
    """Bring archived RUNS (and their archived child runs) back into listings.

    Example:

    \b
        nbtrack restore 4f7kq2xm
    """
    from nbtrack.editing import restore_runs

    restored = restore_runs(runs, store=existing_store())
    click.echo(f"restored {len(restored)} run(s): {' '.join(r[-8:] for r in restored)}".rstrip(": "))


@main.command()
@click.option("--dry-run", is_flag=True, help="Only report what would be removed.")
@click.option(
    "--force",
    is_flag=True,
    help="Remove unreferenced blobs even if they are older than the database (check it was not replaced first).",
)
def gc(dry_run, force):
    """Remove blobs that no run or dataset version refers to (kept if younger than an hour).

    Example:

        nbtrack gc --dry-run
    """
    from nbtrack.store.maintenance import gc as collect

    report = collect(dry_run=dry_run, force=force, store=existing_store())
    verb = "would remove" if dry_run else "removed"
    click.echo(
        f"{verb} {report.removed_blobs} blob(s) ({report.removed_bytes} bytes) and "
        f"{report.removed_temporary} temporary file(s); kept {report.kept_recent} recent unreferenced blob(s)"
    )


@main.command()
@click.option("--repair", is_flag=True, help="Drop artifact rows whose blob is missing or corrupt.")
def fsck(repair):
    """Check that every referenced blob exists and is intact; exit 1 when not clean.

    Example:

        nbtrack fsck --repair
    """
    from nbtrack.store.maintenance import fsck as check

    report = check(repair=repair, store=existing_store())
    for line in report.lines():
        click.echo(line)
    if not report.clean:
        sys.exit(1)


@main.command()
def experiments():
    """List experiments with their number of runs.

    Example:

        nbtrack experiments
    """
    from nbtrack.reading import experiments as list_experiments

    echo_frame(list_experiments(store=existing_store()), "table")


@main.command()
@click.option("--runs", "n_runs", default=6, show_default=True, help="How many runs to record through the API.")
@click.option("--no-notebooks", is_flag=True, help="Skip the papermill notebook run and sweep (no kernels).")
def demo(n_runs, no_notebooks):
    """Record a small scikit-learn experiment in the store here and print the leaderboard.

    It records runs through the Python API, executes a notebook that snapshots a DataFrame and has a
    %%track cell through papermill, sweeps it over a 2 x 2 grid, and says how to open JupyterLab
    with the nbtrack sidebar. The notebooks run in a temporary folder; nothing is left in the working directory.

    Example:

        nbtrack demo
    """
    from nbtrack._demo import run_demo

    run_demo(n_runs=n_runs, notebooks=not no_notebooks, echo=click.echo)
