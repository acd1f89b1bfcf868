"""CLI commands of the production module: export, run, sweep, merge, reproduce.

Thin shells: parse, call :mod:`nbtrack.production`, print. ``NbtrackError`` becomes a one-line message
and exit code 1 through the main group.
"""

from __future__ import annotations

import click


def _store():
    from ..store import default_store

    return default_store()


@click.command("export")
@click.argument("notebook", type=click.Path(exists=True, dir_okay=False))
@click.option("--to", "to", type=click.Choice(["notebook", "script"]), required=True,
              help="A papermill-ready notebook, or a Python script with a CLI.")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Where to write it (default: NOTEBOOK.papermill.ipynb or NOTEBOOK.py next to the notebook).")
def export_command(notebook, to, output):
    """Export NOTEBOOK as a parameterized notebook or a runnable script.

    --to notebook adds a cell tagged `parameters` holding the parameters inferred from the notebook
    (literal params of %%track cells and top-level constants), each with a comment naming where it came
    from; a notebook that already has one is kept as it is. --to script writes a Python script whose
    command line takes those parameters; %%track cells become `with nbtrack.start_run(...)` blocks.
    Lines a script cannot express (shell escapes, other magics) are listed.

    Example:

        nbtrack export train.ipynb --to notebook -o train.papermill.ipynb
        nbtrack export train.ipynb --to script -o train.py && python train.py --lr 0.1
    """
    from pathlib import Path

    from .export import export_notebook, export_script

    source = Path(notebook)
    if to == "notebook":
        output = output or str(source.with_suffix(".papermill.ipynb"))
        export_notebook(notebook, output)
        click.echo(f"Wrote {output}")
        return
    output = output or str(source.with_suffix(".py"))
    result = export_script(notebook, output)
    click.echo(f"Wrote {output} (parameters: {', '.join(p.name for p in result.parameters) or 'none'})")
    for line in result.skipped:
        click.echo(f"  not exported: {line}", err=True)


def _param_options(function):
    return click.option("-p", "--parameter", "parameters", nargs=2, multiple=True, metavar="NAME VALUE",
                        help="Set a parameter (repeatable); the value is converted to the parameter's type.")(function)


@click.command("run")
@click.argument("notebook", type=click.Path(exists=True, dir_okay=False))
@_param_options
@click.option("-e", "--experiment", help="Experiment to record the run in (default: 'default').")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the executed notebook here.")
@click.option("-n", "--name", help="Run name (default: the notebook's file name).")
@click.option("-k", "--kernel", "kernel_name", help="Kernel name (default: the notebook's kernelspec).")
@click.option("--timeout", type=float, help="Per-cell execution timeout in seconds.")
def run_command(notebook, parameters, experiment, output, name, kernel_name, timeout):
    """Execute NOTEBOOK with papermill as one tracked run.

    The run records the parameters used, status, duration, the input and output notebooks; %%track
    cells inside become its child runs. The output notebook's metadata names the run id and store.
    Exits with status 1 if a cell fails (the partial output notebook is kept).

    Example:

        nbtrack run train.ipynb -p lr 0.1 -p depth 5 -e prod -o out.ipynb
    """
    from .execute import run_notebook

    result = run_notebook(notebook, dict(parameters), experiment=experiment, output=output, name=name,
                          kernel_name=kernel_name, timeout=timeout, store=_store())
    metrics = ", ".join(f"{k}={v:.6g}" for k, v in result.metrics.items())
    click.echo(f"Run {result.run_id} ok in {result.duration_s:.1f}s" + (f": {metrics}" if metrics else ""))
    if result.output_path:
        click.echo(f"Output notebook: {result.output_path}")


COMMANDS = [export_command, run_command]
