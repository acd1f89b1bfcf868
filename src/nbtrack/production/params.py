"""Notebook parameters: inference, the papermill ``parameters`` cell, and typed overrides.

A notebook's parameters are, in this order of preference:

1. the assignments of its cell tagged ``parameters`` (papermill's convention), when it has one;
2. otherwise the *literal assignments* (``alpha = 1.0``) of its ``%%track`` cells and of its plain code
   cells, as :func:`nbtrack.capture.analysis.analyse` defines them (the same rule the ``%%track`` magic
   uses to record params), minus names that any cell also computes (``n = len(df)``) and names that
   cells of a different kind disagree on.

:func:`parameterize` turns a notebook of the second kind into one of the first: it adds a
``parameters`` cell holding every inferred parameter (a comment per line naming where it came from)
and replaces each original assignment with a marker comment, so papermill's injected values are not
overwritten later by the original literal. :func:`bind_values` is the run-time step: it writes the
values actually used back into the ``%%track`` cells (at the markers, or over a literal assignment of a
parameter name) so that each ``%%track`` child run records the values used, not the defaults.
"""

from __future__ import annotations

import ast
import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nbtrack.errors import InvalidValueError, UnknownParameterError

if TYPE_CHECKING:
    from nbformat import NotebookNode

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
MARKER = "# nbtrack parameter: "
TRACK_PREFIX = "%%track"


@dataclass
class Parameter:
    """One notebook parameter: its default ``value`` and where it was found."""

    name: str
    value: object
    source: str  # human text: "cell 3 (%%track train), line 2" or "parameters cell"

    @property
    def type_name(self) -> str:
        return type(self.value).__name__ if self.value is not None else "any"


# -- cells ---------------------------------------------------------------------------------------------
def is_track_cell(cell: NotebookNode) -> bool:
    """A code cell whose first line is the ``%%track`` cell magic (``%%tracked`` is another magic)."""
    from nbtrack.capture.options import is_track_line

    return cell.get("cell_type") == "code" and is_track_line(cell.source.lstrip().split("\n", 1)[0])


def split_track(source: str) -> tuple[str, str]:
    """``(magic_line, body)`` of a ``%%track`` cell."""
    head, _, body = source.lstrip().partition("\n")
    return head, body


def find_tagged(nb: NotebookNode, tag: str) -> int:
    """The index of the first cell tagged ``tag``, or -1."""
    for index, cell in enumerate(nb.cells):
        if tag in cell.get("metadata", {}).get("tags", []):
            return index
    return -1


def _python_body(cell: NotebookNode) -> tuple[str, int] | None:
    """The plain-Python part of a code cell and its line offset, or None for other magics/shell cells."""
    if cell.get("cell_type") != "code":
        return None
    if is_track_cell(cell):
        return split_track(cell.source)[1], 1
    source = cell.source
    if any(line.lstrip().startswith(("%", "!")) for line in source.splitlines()):
        return None
    return source, 0


def _literal_assignments(code: str) -> list[tuple[str, object, int, int]]:
    """``(name, value, first_line, last_line)`` of top-level ``name = <literal>`` statements (1-based),
    only for statements alone on their lines."""
    from nbtrack.capture.analysis import analyse

    try:
        tree = ast.parse(code)
        literals = analyse(code).literals
    except SyntaxError:
        return []
    found = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name in literals and node.col_offset == 0:
                found.append((name, ast.literal_eval(node.value), node.lineno, node.end_lineno))
    return found


def _computed_names(code: str) -> set[str]:
    from nbtrack.capture.analysis import analyse

    try:
        result = analyse(code)
    except SyntaxError:
        return set()
    return set(result.bound) - set(result.literals)


# -- inference -----------------------------------------------------------------------------------------
def infer(nb: NotebookNode) -> list[Parameter]:
    """The notebook's parameters (see the module docstring for the rules)."""
    index = find_tagged(nb, PARAMETERS_TAG)
    if index >= 0:
        return [
            Parameter(name, value, "parameters cell")
            for name, value, _, _ in _literal_assignments(nb.cells[index].source)
        ]
    found: dict[str, Parameter] = {}
    computed: set[str] = set()
    for number, cell in enumerate(nb.cells):
        body = _python_body(cell)
        if body is None:
            continue
        code, offset = body
        computed |= _computed_names(code)
        where = f"cell {number}" + (f" ({_track_label(split_track(cell.source)[0])})" if offset else "")
        for name, value, line, _ in _literal_assignments(code):
            found.setdefault(name, Parameter(name, value, f"{where}, line {line + offset}"))
    return [p for name, p in found.items() if name not in computed]


def _track_label(head: str) -> str:
    """``%%track NAME`` for a ``%%track`` line (its name read with the magic's grammar), without the options:
    papermill cannot parse a parameter comment holding "=". A line the magic would refuse is just ``%%track``
    (the run of the notebook reports it at that cell)."""
    from nbtrack.capture.options import parse_track_line
    from nbtrack.errors import TrackUsageError

    try:
        name = parse_track_line(head).name
    except TrackUsageError:
        name = None
    if not name or "=" in name or not name.isprintable():
        return TRACK_PREFIX
    return f"{TRACK_PREFIX} {name}"


def parameterize(nb: NotebookNode) -> NotebookNode:
    """A copy of ``nb`` with a ``parameters`` cell (papermill-ready); ``nb`` itself is not changed.

    A notebook that already has a ``parameters`` cell is returned unchanged (as a copy): idempotent.
    """
    import nbformat

    nb = copy.deepcopy(nb)
    if find_tagged(nb, PARAMETERS_TAG) >= 0:
        return nb
    params = infer(nb)
    names = {p.name for p in params}
    for cell in nb.cells:
        mark_parameters(cell, names)
    text = ["# Parameters (papermill reads this cell; inferred by nbtrack export)"]
    text += [f"{p.name} = {_render(p.value)}  # from {p.source}" for p in params]
    cell = nbformat.v4.new_code_cell("\n".join(text))
    cell.metadata["tags"] = [PARAMETERS_TAG]
    cell.pop("id", None)
    nb.cells.insert(_first_code_index(nb), cell)
    _refresh_ids(nb)
    return nb


def mark_parameters(cell: NotebookNode, names: set[str]) -> None:
    """Replace the cell's top-level literal assignments of ``names`` with marker comments (in place)."""
    body = _python_body(cell)
    if body is None:
        return
    code, offset = body
    lines = cell.source.lstrip().split("\n") if offset else cell.source.split("\n")
    for name, _, first, last in reversed(_literal_assignments(code)):
        if name in names:
            lines[first - 1 + offset : last + offset] = [f"{MARKER}{name} (set in the parameters cell)"]
    cell.source = "\n".join(lines)


def bind_values(nb: NotebookNode, values: Mapping[str, object]) -> None:
    """Write ``values`` into the ``%%track`` cells of a parameterized ``nb`` (in place): each marker line
    or literal assignment of a parameter becomes ``name = <value used>``."""
    for cell in nb.cells:
        if not is_track_cell(cell):
            continue
        head, body = split_track(cell.source)
        lines = body.split("\n")
        for name, _, first, last in reversed(_literal_assignments(body)):
            if name in values:
                lines[first - 1 : last] = [f"{name} = {_render(values[name])}"]
        for i, line in enumerate(lines):
            if line.startswith(MARKER):
                name = line[len(MARKER) :].split(" ", 1)[0]
                if name in values:
                    lines[i] = f"{name} = {_render(values[name])}  # nbtrack parameter (value used by this run)"
        cell.source = head + "\n" + "\n".join(lines)


def _first_code_index(nb: NotebookNode) -> int:
    """Where to put the parameters cell: before the first code cell (after a leading title)."""
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") == "code":
            return index
    return len(nb.cells)


def _refresh_ids(nb: NotebookNode) -> None:
    """Give new cells ids when the notebook format has them (nbformat >= 4.5)."""
    if (nb.nbformat, nb.nbformat_minor) >= (4, 5):
        import uuid

        for cell in nb.cells:
            if "id" not in cell:
                cell["id"] = uuid.uuid4().hex[:8]


def _render(value: object) -> str:
    return repr(value)


# -- overrides -----------------------------------------------------------------------------------------
def coerce(params: list[Parameter], overrides: Mapping[str, object]) -> dict[str, object]:
    """Overrides converted to the type of each parameter's default; unknown names raise.

    String values (from the command line) are parsed: ``"0.1"`` becomes ``0.1`` for a float parameter,
    ``"true"``/``"false"`` a bool, JSON or a Python literal for lists/dicts/None. Non-string values
    (from Python) are kept as they are.
    """
    known = {p.name: p for p in params}
    unknown = [name for name in overrides if name not in known]
    if unknown:
        listing = ", ".join(f"{p.name} ({p.type_name}, default {p.value!r})" for p in params) or "none"
        raise UnknownParameterError(
            f"Unknown param{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}. "
            f"The notebook's params are: {listing}. Add it to the notebook's parameters cell or fix the name."
        )
    return {name: convert(known[name], value) for name, value in overrides.items()}


def convert(param: Parameter, value: object) -> object:
    if not isinstance(value, str):
        return value
    default = param.value
    try:
        if isinstance(default, bool):
            lowered = value.strip().lower()
            if lowered in ("true", "1", "yes", "on"):
                return True
            if lowered in ("false", "0", "no", "off"):
                return False
            raise ValueError(value)
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
        if isinstance(default, str):
            return value
        return parse_literal(value)
    except ValueError:
        raise InvalidValueError(
            f"Param {param.name!r} expects a value of type {param.type_name} (default {default!r}), not {value!r}."
        ) from None


def parse_literal(text: str) -> object:
    """JSON, then a Python literal, then the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
