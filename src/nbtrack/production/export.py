"""``nbtrack export``: a notebook as a papermill-ready notebook or as a runnable Python script.

The script has an ``argparse`` CLI for the notebook's parameters (``python train.py --lr 0.1``), the
notebook's code in order, and each ``%%track`` cell as a ``with nbtrack.track(...)`` block that
records what the magic records (params, metrics, printed output, figures, fitted models, data inputs
and outputs: the magic's own capture code; its options read with the magic's own grammar,
:mod:`nbtrack.capture.options`), so the script still records runs. IPython-only lines are translated where a
plain-Python equivalent exists (``%time stmt`` -> ``stmt``), dropped where they have no effect in a
script (``%matplotlib``, ``%load_ext``), and otherwise commented out and reported in
:attr:`ScriptExport.skipped` (shell escapes ``!cmd``, other magics).
"""

from __future__ import annotations

import io
import os
import tokenize
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from nbtrack._paths import check_output_path, write_error
from nbtrack.errors import InvalidValueError, NbtrackError
from nbtrack.production import params as _params

if TYPE_CHECKING:
    from nbformat import NotebookNode

    from nbtrack.capture.plan import TrackOptions
    from nbtrack.production.execute import NotebookSource, StoreLike
    from nbtrack.store import Store

#: Line magics with no effect in a script: dropped (and reported as such).
NO_EFFECT_MAGICS = {"matplotlib", "load_ext", "reload_ext", "autoreload", "config", "pylab", "precision"}
#: Magics whose argument is plain Python to run as is.
PASS_THROUGH_MAGICS = {"time", "capture"}


@dataclass
class ScriptExport:
    """The exported script's text and what could not be expressed in it."""

    text: str
    parameters: list[_params.Parameter] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "cell 4, line 2: !pip install x (shell escape)"


def export_notebook(notebook: NotebookSource, output: str | os.PathLike | None = None) -> NotebookNode:
    """A papermill-ready copy of ``notebook``: a cell tagged ``parameters`` holds its parameters.

    The parameters are inferred (literal params of ``%%track`` cells and top-level constant
    assignments), each with a comment naming where it came from; the original assignments become marker
    comments, so papermill's injected values are not overwritten. A notebook that already has a
    ``parameters`` cell is kept as it is, so exporting twice changes nothing. Writes ``output`` if
    given; returns the new notebook.

    Example::

        nbtrack.export_notebook("train.ipynb", "train.papermill.ipynb")
    """
    import nbformat

    from nbtrack.production.execute import load

    if output is not None:
        check_output_path(output, "exported notebook")  # never into the store, clear errors for bad names
    nb, _ = load(notebook)
    exported = _params.parameterize(nb)
    if output is not None:
        try:
            nbformat.write(exported, str(output))
        except OSError as error:
            raise write_error(error, output, "exported notebook") from error
    return exported


def export_script(
    notebook: NotebookSource, output: str | os.PathLike | None = None, *, name: str | None = None
) -> ScriptExport:
    """A runnable Python script with a command-line interface for the notebook's parameters.

    The script records one run of kind ``script`` (named ``name``, default the notebook's name) with
    the command line's params, and each ``%%track`` cell as a child run of it, as ``nbtrack run``
    records a notebook. ``display()`` works without IPython (it prints). Lines a script cannot express
    are commented out and listed in :attr:`ScriptExport.skipped`.

    Example::

        result = nbtrack.export_script("train.ipynb", "train.py")
        result.skipped   # lines the script cannot express
        # then: python train.py --lr 0.1 --depth 5
    """
    from nbtrack.production.execute import load

    if output is not None:
        check_output_path(output, "exported script")  # never into the store, clear errors for bad names
    nb, source_path = load(notebook)
    prepared = _params.parameterize(nb)
    params = _params.infer(nb)  # from the original: keeps where each parameter came from
    added = _params.find_tagged(nb, _params.PARAMETERS_TAG) < 0
    # a value given on the command line also replaces a %%track cell's literal of the same param and value;
    # a cell that sets a param to a value of its own keeps it (so the script computes what the notebook does)
    defaults = {p.name: p.value for p in params}
    for cell in prepared.cells:
        if _params.is_track_cell(cell):
            _params.mark_parameters(cell, set(defaults), same_as=defaults)
    title = Path(source_path).name if source_path else (name or "a notebook")
    job = name or Path(source_path or output or "script").stem
    out = _script_head(title, params)
    skipped: list[str] = []
    body = _script_cells(prepared, params, added, skipped)
    # one job-level run, as `nbtrack run` makes for a notebook: the tracked blocks are its children
    out += ["", f"with nbtrack.start_run({job!r}, kind='script', params=vars(_args)):"]
    out += _indent("\n".join(body))
    text = "\n".join(out) + "\n"
    if output is not None:
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as error:
            raise write_error(error, output, "exported script") from error
    return ScriptExport(text, params, skipped)


def _script_head(title: str, params: list[_params.Parameter]) -> list[str]:
    """The script's imports, its ``display`` fallback and its command line, binding each param."""
    out = [
        "#!/usr/bin/env python",
        f'"""Exported from {title} by `nbtrack export --to script`; run it with --help for its params."""',
        "import argparse",
        "import ast",
        "import json",
        "",
        "import nbtrack",
        "",
        "try:",
        "    from IPython.display import display",
        "except ImportError:  # display() is a notebook's; without IPython it prints",
        "    display = print",
        "",
        "",
        _ARGPARSE_HELPERS,
        "def _parse_args(argv=None):",
        "    parser = argparse.ArgumentParser(description=__doc__)",
    ]
    out += [f"    parser.add_argument({', '.join(_argument(p))})" for p in params]
    out += ["    return parser.parse_args(argv)", "", "", "_args = _parse_args()"]
    return out + [f"{p.name} = _args.{p.name}" for p in params]


def _script_cells(
    prepared: NotebookNode, params: list[_params.Parameter], added: bool, skipped: list[str]
) -> list[str]:
    """Each code cell but the parameters cell as script lines under a ``# -- cell N`` header, numbered as
    in the user's notebook; what a script cannot express is commented out and listed in ``skipped``."""
    names = {p.name for p in params}
    parameters_at = _params.find_tagged(prepared, _params.PARAMETERS_TAG)
    body: list[str] = []
    for number, cell in enumerate(prepared.cells):
        if cell.get("cell_type") != "code" or _params.PARAMETERS_TAG in cell.metadata.get("tags", []):
            continue
        number -= int(added and number > parameters_at)
        body += ["", f"# -- cell {number} " + "-" * 60]
        body += _cell_code(cell, number, skipped, names)
    return body


_ARGPARSE_HELPERS = """def _bool(text):
    if text.lower() in ("true", "1", "yes", "on"):
        return True
    if text.lower() in ("false", "0", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, not {text!r}")


def _literal(text):
    try:
        return json.loads(text)
    except ValueError:
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return text


"""


def _argument(p: _params.Parameter) -> list[str]:
    flags = [repr(f"--{p.name}")]
    if "_" in p.name:
        flags.append(repr(f"--{p.name.replace('_', '-')}"))
    kind = {bool: "_bool", int: "int", float: "float", str: "str"}.get(type(p.value), "_literal")
    help_text = f"{p.type_name} (default: {p.value!r}; from {p.source})".replace("%", "%%")
    return flags + [f"dest={p.name!r}", f"type={kind}", f"default={p.value!r}", f"help={help_text!r}"]


def _cell_code(cell: NotebookNode, number: int, skipped: list[str], parameters: set[str]) -> list[str]:
    source = cell.source
    if _params.is_track_cell(cell):
        return _track_block(cell, number, skipped, parameters)
    first = source.lstrip().split("\n", 1)[0]
    if first.startswith("%%"):
        magic = first[2:].split(" ", 1)[0]
        body = source.lstrip().split("\n", 1)[1] if "\n" in source.lstrip() else ""
        if magic in PASS_THROUGH_MAGICS:
            return _plain_lines(body, number, skipped)
        skipped.append(f"cell {number}: %%{magic} cell magic (not expressible in a script; commented out)")
        return ["# nbtrack export: this cell is IPython-only and was not exported:"] + [
            f"# {line}" for line in source.split("\n")
        ]
    return _plain_lines(source, number, skipped)


def _plain_lines(source: str, number: int, skipped: list[str]) -> list[str]:
    lines = []
    for line_number, line in enumerate(source.split("\n"), 1):
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        if stripped.startswith("%") and not stripped.startswith("%%"):
            magic, _, rest = stripped[1:].partition(" ")
            if magic in NO_EFFECT_MAGICS:
                lines.append(f"{indent}pass  # nbtrack export: dropped {stripped!r} (no effect in a script)")
                skipped.append(f"cell {number}, line {line_number}: {stripped} (dropped: no effect in a script)")
            elif magic in PASS_THROUGH_MAGICS:
                lines.append(f"{indent}{rest}")
            else:
                lines.append(f"{indent}pass  # nbtrack export: not exported: {stripped}")
                skipped.append(f"cell {number}, line {line_number}: {stripped} (IPython magic, commented out)")
        elif stripped.startswith("!") or _is_shell_assignment(stripped):
            lines.append(f"{indent}pass  # nbtrack export: not exported: {stripped}")
            skipped.append(f"cell {number}, line {line_number}: {stripped} (shell escape, commented out)")
        else:
            lines.append(line)
    return lines


def _is_shell_assignment(stripped: str) -> bool:
    """``files = !ls`` or ``x = %time f()``."""
    name, eq, rest = stripped.partition("=")
    return bool(eq) and name.strip().isidentifier() and rest.lstrip().startswith(("!", "%"))


def _track_block(cell: NotebookNode, number: int, skipped: list[str], parameters: set[str]) -> list[str]:
    """A ``%%track`` cell as a ``with nbtrack.track(...)`` block: the magic's own capture and recording
    (params, metrics, printed output, figures, fitted models, data inputs and outputs) around the code.

    Parameters the cell reads (or whose assignment became a marker comment) are passed as ``params``
    explicitly, so the values given on the command line are the ones recorded."""
    from nbtrack.capture.analysis import analyse
    from nbtrack.capture.plan import TrackOptions

    head, body = _params.split_track(cell.source)
    options = track_options(head, number)
    code = "\n".join(_plain_lines(body, number, skipped))
    names = [
        line[len(_params.MARKER) :].split(" ", 1)[0] for line in body.split("\n") if line.startswith(_params.MARKER)
    ]
    try:
        found = analyse(code)
    except SyntaxError:
        found = None
    if found is not None:
        names += [
            n for n in [*found.literals, *found.reads] if n not in names and (n in found.literals or n in parameters)
        ]
    # --params names: defined before the cell -> recorded at its start; assigned by it -> at its end
    late = [n for n in options.params if found is not None and n in found.bound and n not in names]
    names += [n for n in options.params if n not in names and n not in late]
    params = "{" + ", ".join(f"{n!r}: {n}" for n in names) + "}"
    defaults = TrackOptions()  # nbtrack.track's defaults are the magic's
    args = [repr(options.name)] + [
        f"{key}={getattr(options, key)!r}"
        for key in _TRACK_ARGUMENTS
        if getattr(options, key) != getattr(defaults, key)
    ]
    args += [f"params={params}", "namespace=globals()", "kind='cell'"]  # track() reads the block's code itself
    lines = [f"# {head}", f"with nbtrack.track({', '.join(args)})" + (" as _nbtrack_run:" if late else ":")]
    lines += _indent(code or "pass")
    if late:
        lines.append("    _nbtrack_run.log_params({" + ", ".join(f"{n!r}: {n}" for n in late) + "})")
    return lines


#: %%track options carried over to ``nbtrack.track`` (besides the name), when they differ from its defaults.
_TRACK_ARGUMENTS = ("experiment", "tags", "metrics", "figures", "autolog")


def track_options(head: str, number: int | None = None) -> TrackOptions:
    """The :class:`~nbtrack.capture.plan.TrackOptions` of a ``%%track`` line, read with the magic's own
    grammar (:func:`nbtrack.capture.options.parse_track_line`); a bad line raises ``TrackUsageError``
    naming the cell."""
    from nbtrack.capture.options import parse_track_line
    from nbtrack.errors import TrackUsageError

    try:
        return parse_track_line(head)
    except TrackUsageError as error:
        where = f"cell {number}: " if number is not None else ""
        raise TrackUsageError(f"Cannot export {where}{head.strip()}: {error}") from error


def _indent(code: str) -> list[str]:
    """``code`` indented one level, except the continuation lines of multi-line strings."""
    lines = code.split("\n")
    keep = set()
    try:
        for token in tokenize.generate_tokens(io.StringIO(code + "\n").readline):
            if token.type == tokenize.STRING and token.end[0] > token.start[0]:
                keep.update(range(token.start[0] + 1, token.end[0] + 1))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    body = [line if (i in keep or not line.strip()) else "    " + line for i, line in enumerate(lines, 1)]
    if not any(line.strip() and not line.lstrip().startswith("#") for line in lines):
        body.append("    pass")
    return body


def export_run(
    run: str,
    to: str = "notebook",
    output: str | os.PathLike | None = None,
    *,
    store: StoreLike | None = None,
) -> NotebookNode | ScriptExport:
    """What run ``run`` (id, unique prefix/suffix, or name) executed, as a standalone notebook
    (``to="notebook"``) or script (``to="script"``, see :func:`export_script`); writes ``output`` if given.

    A ``%%track`` cell run gives its session slice: the earlier cells it depends on, in execution order,
    with the dataset versions they read pinned (:func:`nbtrack.pin_versions`), then the cell under its
    ``%%track`` line (:mod:`nbtrack.capture.session`). A notebook run (``nbtrack run``, a sweep job, a
    reproduction) gives its stored input notebook with the run's params in its parameters cell.

    Example::

        nbtrack.export_run("train", "notebook", "train-standalone.ipynb")
        nbtrack.export_run("1jvj3ssg", "script", "train.py").skipped
    """
    import nbformat

    from nbtrack.store import resolve_store

    if to not in ("notebook", "script"):
        raise InvalidValueError(f"export_run(to={to!r}): say to='notebook' or to='script'.")
    if output is not None:
        check_output_path(output, f"exported {to}")
    store = resolve_store(store, create=False)
    nb, name = run_notebook_source(store, store.resolve_run_id(run))
    if to == "script":
        return export_script(nb, output, name=name)
    if output is not None:
        try:
            nbformat.write(nb, str(output))
        except OSError as error:
            raise write_error(error, output, "exported notebook") from error
    return nb


def run_notebook_source(store: Store, run_id: str) -> tuple[NotebookNode, str]:
    """``(notebook that executes what the run executed, a name for it)``; raises NbtrackError naming
    what is missing."""
    from nbtrack.production._sources import runnable_notebook
    from nbtrack.records import get_run

    record = get_run(run_id, store=store)
    name = record.name or run_id[-8:]
    prepared, _ = runnable_notebook(store, record)
    if record.kind != "cell" and not isinstance(prepared, list) and record.params:
        _inject_parameters(prepared, record.params)
    if isinstance(prepared, list):
        raise NbtrackError(f"Cannot export run {run_id[-8:]}: " + "; ".join(prepared) + ".")
    return prepared, name


def _inject_parameters(nb: NotebookNode, values: Mapping[str, object]) -> None:
    """Add the cell papermill injects (tagged ``injected-parameters``) after the ``parameters`` cell, or
    first: the run's params, so the notebook computes what the run computed."""
    from nbformat.v4 import new_code_cell

    lines = ["# Parameters (the values this run used)"] + [f"{k} = {v!r}" for k, v in values.items()]
    cell = new_code_cell("\n".join(lines), metadata={"tags": ["injected-parameters"]})
    nb.cells.insert(_params.find_tagged(nb, _params.PARAMETERS_TAG) + 1, cell)
