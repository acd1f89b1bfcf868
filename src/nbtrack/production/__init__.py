"""Notebook to production: run, export, sweep, merge and reproduce (issue 5)."""
