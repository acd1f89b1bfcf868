"""The ``nbtrack`` command line: a shell that parses, calls the core and prints."""

from nbtrack.cli.main import main

__all__ = ["main"]
