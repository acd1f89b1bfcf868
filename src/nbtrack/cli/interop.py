"""CLI commands of the interop module: ``export-mlflow``, ``import-mlflow`` and ``doctor`` (thin shells)."""

from __future__ import annotations

import sys

import click

from nbtrack.cli._common import existing_store


def _echo_report(report, verb: str) -> None:
    for source, target in report.created.items():
        click.echo(f"{source} -> {target}")
    for note in report.notes:
        click.echo(f"note: {note}")
    click.echo(report.summary(verb))


@click.command("export-mlflow")
@click.option(
    "--tracking-uri", required=True, help="MLflow tracking URI, e.g. sqlite:///mlflow.db or http://host:5000."
)
@click.option("--where", "-w", help="Only runs matching this query, e.g. \"status = 'ok'\".")
@click.option(
    "--experiment",
    "-e",
    help="Only runs of this nbtrack experiment (exported to the MLflow experiment of the same name).",
)
def export_mlflow_command(tracking_uri, where, experiment):
    """Copy runs (params, metric histories, tags, artifacts, code, status, times) into MLflow, and the
    registered model versions of those runs as MLflow registered models (scikit-learn flavour) with aliases.

    Runs and versions exported before (MLflow tag nbtrack.run_id) are skipped, so running it again only adds
    what is new.
    Needs `pip install mlflow`.

    Example:

        nbtrack export-mlflow --tracking-uri sqlite:///mlflow.db --where "status = 'ok'"
    """
    from nbtrack.interop.mlflow import export_mlflow

    report = export_mlflow(tracking_uri, where=where, experiment=experiment, store=existing_store())
    _echo_report(report, "exported")


@click.command("import-mlflow")
@click.option(
    "--tracking-uri", required=True, help="MLflow tracking URI, e.g. sqlite:///mlflow.db or http://host:5000."
)
@click.option("--experiment", "-e", help="Only this MLflow experiment (default: all).")
def import_mlflow_command(tracking_uri, experiment):
    """Copy MLflow runs (params typed back, metric histories, tags, artifacts, status, times) into this store,
    and MLflow registered model versions (MLflow 3 log_model models included) with their aliases.

    Runs and versions imported before (nbtrack tag mlflow.run_id) or exported from this store are skipped.
    Needs `pip install mlflow`.

    Example:

        nbtrack import-mlflow --tracking-uri sqlite:///mlflow.db --experiment wine
    """
    from nbtrack.interop.mlflow import import_mlflow

    _echo_report(import_mlflow(tracking_uri, experiment=experiment), "imported")


@click.command("doctor")
def doctor_command():
    """Check the installation: versions, store and schema, server and lab extensions; exit 1 with fixes.

    Example:

        nbtrack doctor
    """
    from nbtrack.doctor import run_checks

    checks = run_checks()
    for check in checks:
        click.echo(check.line())
    problems = [c for c in checks if not c.ok]
    if problems:
        click.echo(f"{len(problems)} problem(s) found; apply the fixes above.")
        sys.exit(1)
    click.echo("all good")


COMMANDS = [export_mlflow_command, import_mlflow_command, doctor_command]
