"""Notebook to production (issue 5): run, export, sweep, merge and reproduce notebooks.

The public functions are exported lazily from ``nbtrack``: ``run_notebook`` (execute.py),
``export_notebook`` / ``export_script`` (export.py), ``sweep`` (sweep.py), ``merge`` (merge.py) and
``reproduce`` (reproduce.py). Nothing heavy (papermill, nbformat, pandas) is imported here.
See docs/production.md.
"""
