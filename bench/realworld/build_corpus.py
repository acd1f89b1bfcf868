"""Rebuild bench/realworld/notebooks/ from the published sources listed in manifest.json.

Each notebook is taken as published at the recorded commit: outputs and execution counts stripped,
nothing else changed. A Python script from a sphinx-gallery (xgboost's and LightGBM's demos) becomes a
notebook the way sphinx-gallery makes its downloadable notebooks: its docstring a markdown cell, a new
code cell at each line of ``###############...`` (15 or more) or ``# %%``.

Usage: ``python bench/realworld/build_corpus.py MIRRORS`` where MIRRORS holds one git directory per
repository, named ``owner+name/repo`` (a bare clone works: files are read with ``git show COMMIT:PATH``).
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).parent
_SEPARATOR = re.compile(r"^(#{15,}|# %%.*)$")


def from_script(source: str) -> nbformat.NotebookNode:
    """A sphinx-gallery script as a notebook: the module docstring as markdown, a cell per block."""
    nb = nbformat.v4.new_notebook()
    tree = ast.parse(source)
    lines = source.splitlines()
    start = 0
    doc = ast.get_docstring(tree)
    if doc and tree.body and isinstance(tree.body[0], ast.Expr):
        nb.cells.append(nbformat.v4.new_markdown_cell(doc))
        start = tree.body[0].end_lineno or 0
    block: list[str] = []
    for line in lines[start:] + ["#" * 20]:
        if _SEPARATOR.match(line.strip()):
            code = "\n".join(block).strip("\n")
            if code.strip():
                nb.cells.append(nbformat.v4.new_code_cell(code))
            block = []
        else:
            block.append(line)
    return nb


def stripped(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nb.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    }
    return nb


def main(mirrors: Path) -> None:
    manifest = json.loads((HERE / "manifest.json").read_text())
    for entry in manifest["notebooks"]:
        git_dir = mirrors / entry["repo"].replace("/", "+") / "repo"
        text = subprocess.run(
            ["git", "-C", str(git_dir), "show", f"{entry['commit']}:{entry['path']}"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        nb = from_script(text) if entry["path"].endswith(".py") else nbformat.reads(text, as_version=4)
        nb = stripped(nb)
        nbformat.write(nb, HERE / "notebooks" / f"{entry['name']}.ipynb")
        print(entry["name"], sum(c.cell_type == "code" for c in nb.cells), "code cells")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
