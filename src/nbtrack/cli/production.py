"""CLI commands of the production module: export, run, sweep, merge, reproduce.

Thin shells: parse, call :mod:`nbtrack.production`, print. ``NbtrackError`` becomes a one-line message
and exit code 1 through the main group.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from nbtrack.cli._common import existing_store, writable_store
from nbtrack.errors import NbtrackError, RunNotFoundError


@click.command("export")
@click.argument("source")
@click.option(
    "--to",
    "to",
    type=click.Choice(["notebook", "script"]),
    required=True,
    help="A papermill-ready notebook, or a Python script with a CLI.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="Where to write it (default: next to NOTEBOOK as NOTEBOOK.papermill.ipynb or NOTEBOOK.py; "
    "for a RUN, RUN-NAME.ipynb or RUN-NAME.py here).",
)
def export_command(source, to, output):
    """Export a notebook, or what a run executed, as a notebook or a runnable script.

    SOURCE is a notebook file, or a RUN (id, short id or name). For a notebook, --to notebook adds a
    cell tagged `parameters` holding the params inferred from it (literal params of %%track cells and
    top-level constants), each with a comment naming where it came from; a notebook that already has
    one is kept as it is. --to script writes a Python script whose command line takes those params;
    it records one run of kind script, and %%track cells become `with nbtrack.track(...)` blocks (its
    child runs) that record what the magic records.

    For a %%track cell RUN, the export is its session slice: the earlier cells it depends on, in
    execution order, with the dataset versions they read pinned, then the cell itself. For a notebook RUN
    (nbtrack run, sweep jobs), its stored input notebook with the run's params. Lines a script cannot
    express (shell escapes, other magics) are listed.

    Example:

    \b
        nbtrack export train.ipynb --to notebook -o train.papermill.ipynb
        nbtrack export train.ipynb --to script -o train.py && python train.py --lr 0.1
        nbtrack export fit-cell --to notebook -o fit-standalone.ipynb
    """
    from nbtrack.production.export import ScriptExport, export_notebook, export_run, export_script

    path = Path(source)
    if _is_file(path):
        if to == "notebook":
            output = output or str(path.with_suffix(".papermill.ipynb"))
            export_notebook(source, output)
            click.echo(f"Wrote {output}")
            return
        output = output or str(path.with_suffix(".py"))
        _report_script(export_script(source, output), output)
        return
    if path.suffix == ".ipynb":
        raise click.BadParameter(f"no notebook file {source}: check the path.", param_hint="SOURCE")
    store = existing_store()
    try:
        run_id = store.resolve_run_id(source)
    except RunNotFoundError as error:
        raise RunNotFoundError(f"{source!r} is neither a notebook file nor a run: {error}") from None
    name = _file_stem(_run_name(store, run_id) or run_id[-8:])
    output = output or f"{name}.{'ipynb' if to == 'notebook' else 'py'}"
    result = export_run(run_id, to, output, store=store)
    if isinstance(result, ScriptExport):
        _report_script(result, output)
    else:
        click.echo(f"Wrote {output} ({len(result.cells)} cells)")


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a name too long for a path is a run name, or nothing
        return False


def _report_script(result, output: str) -> None:
    click.echo(f"Wrote {output} (params: {', '.join(p.name for p in result.parameters) or 'none'})")
    for line in result.skipped:
        click.echo(f"  not exported: {line}", err=True)


def _run_name(store, run_id: str) -> str | None:
    from nbtrack.records import get_run

    return get_run(run_id, store=store).name


def _file_stem(name: str) -> str:
    """A run name as a file name: letters, digits, ``-``, ``_`` and ``.`` kept, the rest ``-``."""
    import re

    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "run"


def _param_options(function):
    return click.option(
        "-p",
        "--param",
        "--parameter",
        "params",
        nargs=2,
        multiple=True,
        metavar="NAME VALUE",
        help="Set a param (repeatable); the value is converted to the type of the param's default.",
    )(function)


_timeout_option = click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Fail a cell that runs longer than this many seconds (a number: 0.5, 30, 600).",
)


@click.command("run")
@click.argument("notebook", type=click.Path(exists=True, dir_okay=False))
@_param_options
@click.option("-e", "--experiment", help="Experiment to record the run in (default: 'default').")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the executed notebook here.")
@click.option("-n", "--name", help="Run name (default: the notebook's file name).")
@click.option("-k", "--kernel", "kernel_name", help="Kernel name (default: the notebook's kernelspec).")
@_timeout_option
def run_command(notebook, params, experiment, output, name, kernel_name, timeout):
    """Execute NOTEBOOK with papermill as one tracked run.

    The run records the params used, status, duration, the input and output notebooks; %%track
    cells inside become its child runs. The output notebook's metadata names the run id and store.
    Exits with status 1 if a cell fails (the partial output notebook is kept).

    Example:

        nbtrack run train.ipynb -p lr 0.1 -p depth 5 -e prod -o out.ipynb
    """
    from nbtrack.production.execute import run_notebook

    with _exit_130_on_ctrl_c():  # the message says where the partial output notebook is
        result = run_notebook(
            notebook,
            dict(params),
            experiment=experiment,
            output=output,
            name=name,
            kernel_name=kernel_name,
            timeout=timeout,
            store=writable_store(),
        )
    metrics = ", ".join(f"{k}={v:.6g}" for k, v in result.metrics.items())
    click.echo(f"Run {result.run_id} ok in {result.duration_s:.1f}s" + (f": {metrics}" if metrics else ""))
    if result.output_path:
        click.echo(f"Output notebook: {result.output_path}")


@contextmanager
def _exit_130_on_ctrl_c() -> Iterator[None]:
    """Ctrl-C: the interruption's message on stderr, exit status 130 (as a shell reports SIGINT)."""
    try:
        yield
    except KeyboardInterrupt as interrupted:
        click.echo(str(interrupted) or "Interrupted.", err=True)
        raise SystemExit(130) from None


@click.command("sweep")
@click.argument("notebook", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "-p",
    "--param",
    "--parameter",
    "params",
    nargs=2,
    multiple=True,
    metavar="NAME VALUES",
    help="A param and its comma-separated values to sweep (repeatable).",
)
@click.option("--random", "random_n", type=int, help="Run N random combinations of the grid instead of all.")
@click.option("--seed", type=int, help="Seed for --random.")
@click.option("-j", "--jobs", type=int, default=1, show_default=True, help="Notebooks run at once (locally).")
@click.option("--scheduler", help="Run the jobs on the Dask cluster at this address (tcp://host:8786).")
@click.option(
    "--ship-folder/--no-ship-folder",
    default=True,
    show_default=True,
    help="With --scheduler: send the notebook's folder (up to 100 MB, without .nbtrack, .git, venvs) to the "
    "workers, so relative paths read what they read here.",
)
@click.option(
    "--worker-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="With --scheduler: fail if the cluster has no worker after this many seconds.",
)
@click.option("-e", "--experiment", help="Experiment to record the runs in.")
@click.option("--metric", help="Rank the leaderboard by this metric (default: the first one).")
@click.option("--minimize", is_flag=True, help="Lower --metric is better.")
@_timeout_option
def sweep_command(
    notebook,
    params,
    random_n,
    seed,
    jobs,
    scheduler,
    ship_folder,
    worker_timeout,
    experiment,
    metric,
    minimize,
    timeout,
):
    """Run NOTEBOOK once per combination of param values.

    One parent run (kind sweep) gets a child notebook run per combination; failed jobs are recorded
    and the others go on. Prints the leaderboard and the sweep's own run id; exits 1 if any job failed,
    saying how many. Ctrl-C stops the sweep (on a Dask cluster: cancels the jobs not started and
    interrupts the running ones) and keeps the runs of the jobs that finished.

    Example:

    \b
        nbtrack sweep train.ipynb -p lr 0.01,0.1,1 -p depth 3,5 --jobs 2
        nbtrack sweep train.ipynb -p lr 0.001,0.01,0.1,1 --random 2 --seed 0 --scheduler tcp://10.0.0.5:8786
    """
    import pandas as pd

    from nbtrack.production.sweep import sweep

    if not params:
        raise click.UsageError("Give at least one -p NAME VALUES to sweep.")
    with _exit_130_on_ctrl_c():  # the message says which runs were kept
        board = sweep(
            notebook,
            dict(params),
            random=random_n,
            seed=seed,
            jobs=jobs,
            scheduler=scheduler,
            ship_folder=ship_folder,
            worker_timeout=worker_timeout,
            experiment=experiment,
            metric=metric,
            minimize=minimize,
            timeout=timeout,
            store=writable_store(),
        )
    ok = int((board["status"] == "ok").sum())
    failed = len(board) - ok
    sweep_id = board.attrs["run_id"]
    click.echo(f"\n{len(board)} jobs: {ok} ok, {failed} failed")
    shown = board.drop(columns=["job"]).assign(run_id=board["run_id"].str[-8:])
    with pd.option_context("display.max_columns", None, "display.width", 200, "display.max_colwidth", 60):
        click.echo(shown.to_string(index=False))
    click.echo(f"Sweep run {sweep_id} (`nbtrack show {sweep_id[-8:]}`)")
    if failed:
        raise NbtrackError(
            f"{failed} of {len(board)} jobs of sweep {sweep_id[-8:]} failed: their errors are in the table "
            "above; `nbtrack show RUN` shows one in full."
        )


@click.command("merge")
@click.argument("other", type=click.Path(exists=True, file_okay=False))
def merge_command(other):
    """Merge the store OTHER (a .nbtrack folder, or a folder holding one) into the current store.

    Runs, their params/metrics/tags/artifacts/data links, environments, blobs and dataset versions are
    copied; running it again changes nothing.

    Example:

        nbtrack merge /mnt/cluster/project/.nbtrack
    """
    from nbtrack.store.merge import merge

    click.echo(str(merge(other, into=writable_store())))


@click.command("reproduce")
@click.argument("run")
@click.option("--rtol", type=float, default=1e-6, show_default=True, help="Relative tolerance per metric.")
@click.option("--atol", type=float, default=1e-9, show_default=True, help="Absolute tolerance per metric.")
@_timeout_option
def reproduce_command(run, rtol, atol, timeout):
    """Re-execute RUN and say whether its metrics come out the same.

    A notebook run is re-executed from its stored input notebook with its params; a %%track cell run
    from its code, params and input dataset versions. Prints the verdict: reproduced, differs (which
    metrics, by how much) or cannot (what is missing). Exit status: 0 reproduced, 1 otherwise.

    Example:

        nbtrack reproduce 1jvj3ssg --rtol 1e-3
    """
    from nbtrack.production.reproduce import reproduce

    verdict = reproduce(run, rtol=rtol, atol=atol, timeout=timeout, store=existing_store())
    click.echo(str(verdict))
    if verdict.verdict != "reproduced":
        raise SystemExit(1)


COMMANDS = [export_command, run_command, sweep_command, merge_command, reproduce_command]
