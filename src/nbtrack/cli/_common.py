"""What every command shares: the store it works on and how tables are printed."""

from __future__ import annotations

import click

from nbtrack.store import Store, default_store


def existing_store() -> Store:
    """The store found from the working directory (or NBTRACK_HOME); a clear error if there is none."""
    return default_store(create=False)


def writable_store() -> Store:
    """The store found from the working directory, created there if there is none (commands that record runs)."""
    return default_store()


def echo_frame(frame, fmt: str, empty: str = "(no runs)") -> None:
    """Print a DataFrame as a table, CSV or JSON records."""
    if fmt == "json":
        click.echo(frame.to_json(orient="records", date_format="iso", indent=2))
    elif fmt == "csv":
        click.echo(frame.to_csv(index=False), nl=False)
    elif frame.empty:
        click.echo(empty)
    else:
        import pandas as pd

        with pd.option_context("display.max_columns", None, "display.width", 200, "display.max_colwidth", 40):
            click.echo(frame.to_string(index=False))
