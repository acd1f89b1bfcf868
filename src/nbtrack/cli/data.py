"""``nbtrack data ...``: list, show, diff, check drift of and export DataFrame versions.

A thin shell: every command parses its options, calls ``nbtrack.data`` and prints the result.
"""

from __future__ import annotations

import json
import sys

import click

from nbtrack.cli._common import echo_frame, existing_store
from nbtrack.errors import NbtrackError


def _split(spec: str, version: str | None = None) -> tuple[str, str | None]:
    if "@" in spec:
        name, _, at = spec.rpartition("@")
        return name, at
    return spec, version


FORMAT = click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="Output format.",
)


@click.group("data")
def data_group():
    """DataFrame versions: list, show, diff, drift, export.

    Example:

    \b
        nbtrack data list
        nbtrack data diff customers 1 2
    """


@data_group.command("list")
@FORMAT
def list_command(fmt):
    """List datasets with their latest version, size and dates.

    Example:

        nbtrack data list --format json
    """
    from nbtrack.data import datasets

    echo_frame(datasets(store=existing_store()), fmt, "(no datasets: snapshot one with nbtrack.snapshot(df, name))")


@data_group.command("versions")
@click.argument("name")
@FORMAT
def versions_command(name, fmt):
    """List the versions of dataset NAME (rows, columns, bytes added, fingerprint, run).

    Example:

        nbtrack data versions customers
    """
    from nbtrack.data import versions

    frame = versions(name, store=existing_store())
    if fmt == "table":
        frame = frame.assign(fingerprint=frame["fingerprint"].str[:12], run_id=frame["run_id"].str[-8:])
    echo_frame(frame, fmt, "(no versions)")


@data_group.command("show")
@click.argument("spec", metavar="NAME[@V]")
@click.option("-n", "--rows", default=10, show_default=True, help="How many rows to print.")
def show_command(spec, rows):
    """Describe a version and print its first rows (default: the latest version).

    Example:

        nbtrack data show customers@2 -n 5
    """
    from nbtrack.data import get_version, load

    name, version = _split(spec)
    store = existing_store()
    info = get_version(name, version, store=store)
    click.echo(
        f"{info.name}@{info.version}: {info.rows} rows x {info.columns} columns, "
        f"{info.storage}, {info.bytes_added} bytes added, fingerprint {info.fingerprint}"
    )
    if info.message:
        click.echo(f"message: {info.message}")
    if info.run_id:
        click.echo(f"run: {info.run_id}")
    click.echo(load(info.name, info.version, store=store).head(rows).to_string())


@data_group.command("diff")
@click.argument("name")
@click.argument("a", required=False)
@click.argument("b", required=False)
@click.option("--key", help="Match rows by this column (default: the key given at snapshot time).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "table", "json"]),
    default="text",
    show_default=True,
    help="text: summary; table: one row per column; json: everything.",
)
def diff_command(name, a, b, key, fmt):
    """Compare versions A and B of NAME (default: the two latest): schema, rows, statistics, drift.

    Example:

        nbtrack data diff customers 1 2 --format table
    """
    from nbtrack.data import diff

    result = diff(name, a, b, key=key, store=existing_store())
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(), indent=2))
    elif fmt == "table":
        echo_frame(result.to_frame(), "table", "(no columns)")
    else:
        click.echo(result.summary())


@data_group.command("drift")
@click.argument("spec", metavar="NAME[@V]")
@click.option(
    "--against",
    required=True,
    help="A run id (the data it trained on), a registered model (churn@champion, churn/3) or a version: 3 or name@3.",
)
@click.option("--threshold", default=0.2, show_default=True, help="Flag columns whose PSI is above this.")
@click.option(
    "--columns", metavar="A,B", help="Check only these columns (comma-separated); none is left out automatically."
)
@click.option("--exclude", multiple=True, help="Also leave out this column (repeat it, or comma-separate names).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def drift_command(spec, against, threshold, columns, exclude, fmt):
    """Check NAME[@V] for drift against the data a run trained on; exit 1 if any column is flagged,
    2 if the check could not run (so a scheduler retrains on 1 and alerts on 2).

    Columns that are not features are left out and listed with the reason: the version's key, IDs
    (integers or strings unique in both versions), dates and times, columns constant in both versions,
    numbers increasing monotonically in both (counters, timestamps). --columns checks exactly the
    columns named; --exclude leaves more out. Nothing left to check exits 2.

    Example:

        nbtrack data drift customers --against 1a2b3c4d --threshold 0.25 --exclude region
    """
    from nbtrack.data import drift

    name, version = _split(spec)
    try:
        report = drift(
            name,
            version,
            against=against,
            threshold=threshold,
            columns=_names((columns,) if columns else ()),
            exclude=_names(exclude),
            store=existing_store(),
        )
    except NbtrackError as error:
        raise _CheckNotRun(str(error)) from None
    if not report.columns:
        raise _CheckNotRun(
            f"{report.summary()}\nNo column was left to check: name the columns to check with --columns."
        )
    if fmt == "json":
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        click.echo(report.summary())
        echo_frame(report.to_frame(), "table", "(no common columns)")
    if report.flagged:
        sys.exit(1)


def _names(values: tuple[str, ...]) -> list[str] | None:
    """``("a,b", "c")`` -> ``["a", "b", "c"]``; nothing given -> None."""
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    return names or None


class _CheckNotRun(click.ClickException):
    exit_code = 2


@data_group.command("export")
@click.argument("name")
@click.option("-v", "--version", "version", help="Version number (default: latest).")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Parquet file to write.")
def export_command(name, version, output):
    """Write a version of NAME to a Parquet file (zstd).

    Example:

        nbtrack data export customers -v 2 -o customers-v2.parquet
    """
    from nbtrack.data import export

    name, version = _split(name, version)
    info = export(name, version, output, store=existing_store())
    click.echo(f"wrote {info.name}@{info.version} ({info.rows} rows) to {output}")


@data_group.command("lineage")
@click.argument("thing", metavar="RUN|NAME@V")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def lineage_command(thing, fmt):
    """Show which runs read and wrote a dataset version, or which versions a run read and wrote.

    Example:

        nbtrack data lineage customers@2
    """
    from nbtrack.data import lineage

    graph = lineage(thing, store=existing_store())
    click.echo(json.dumps(graph.to_dict(), indent=2) if fmt == "json" else str(graph))
