"""Notebook parameters: inference, the papermill ``parameters`` cell, and typed overrides.

A notebook's parameters are, in this order of preference:

1. the assignments of its cell tagged ``parameters`` (papermill's convention), when it has one;
2. otherwise the *literal assignments* (``alpha = 1.0``, ``alpha: float = 1.0``) of its ``%%track`` cells
   and of its plain code cells, as :func:`nbtrack.capture.analysis.analyse` defines them (the same rule the
   ``%%track`` magic uses to record params), minus names that any cell also computes (``n = len(df)``) and
   names assigned a literal more than once (``alpha = 1`` in one section, ``alpha = 0.1`` in another): those
   are *ambiguous*, no value given from outside could replace "the" assignment without changing what the
   notebook computes, so an override of one is refused with the cells that assign it (:func:`coerce`).

:func:`parameterize` turns a notebook of the second kind into one of the first: it adds a
``parameters`` cell holding the inferred parameters (a comment per line naming where it came from)
and replaces each one's single original assignment with a marker comment, so papermill's injected
values are not overwritten later by the original literal. :func:`bind_values` is the run-time step: it
writes the values actually used at the markers of the ``%%track`` cells so that each ``%%track`` child
run records the values used, not the defaults. A notebook that has a ``parameters`` cell is never
rewritten: values reach it only through papermill's injected cell, as with papermill itself.
"""

from __future__ import annotations

import ast
import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nbtrack.errors import InvalidValueError, NbtrackError, UnknownParameterError

if TYPE_CHECKING:
    from nbformat import NotebookNode

PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
MARKER = "# nbtrack parameter: "
TRACK_PREFIX = "%%track"
#: papermill's markdown cells marking where a previous papermill run failed (it removes them before running).
ERROR_MARKER_TAG = "papermill-error-cell-tag"
#: Annotations that say how a value given as text is converted (``a: float = 2`` takes ``-p a 2.5``).
_ANNOTATED_TYPES: dict[str, type] = {"bool": bool, "int": int, "float": float, "str": str}


@dataclass
class Parameter:
    """One notebook parameter: its default ``value`` and where it was found."""

    name: str
    value: object
    source: str  # human text: "cell 3 (%%track train), line 2" or "parameters cell"
    annotation: str | None = None  # the source of ``T`` in ``name: T = value``

    @property
    def type_name(self) -> str:
        if self.annotation in _ANNOTATED_TYPES:
            return self.annotation
        return type(self.value).__name__ if self.value is not None else "any"


@dataclass
class NotebookParams:
    """What :func:`scan` found: the parameters, the ambiguous names (assigned a literal in several places:
    ``{name: ["cell 2, line 1", "cell 5, line 1"]}``) and the index of the ``parameters`` cell (-1 if none)."""

    params: list[Parameter]
    ambiguous: dict[str, list[str]]
    cell: int


@dataclass
class _Site:
    """One literal assignment of ``name`` in a cell's code (lines 1-based). ``node`` is set when it is a
    statement of its own, at the cell's top level, assigning only ``name``: one a marker can replace."""

    name: str
    first: int
    last: int
    node: ast.Assign | ast.AnnAssign | None


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


#: Cell magics whose body is Python the kernel runs in the notebook's namespace.
_PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun"}
_MAGIC_ASSIGNMENT = re.compile(r"^(\s*[A-Za-z_]\w*\s*=\s*)[!%].*$")


def _magic_cell_python(cell: NotebookNode) -> str | None:
    """The Python of a code cell with line magics or shell escapes (those lines made neutral: ``x = !ls``
    computes ``x``), or of a ``%%time``-like cell; None for other cell magics (``%%bash``) and markdown.

    Read only to see every place a name is assigned: a parameter whose value is replaced from outside must
    have no other assignment anywhere, or the value given would be silently overwritten."""
    if cell.get("cell_type") != "code":
        return None
    source = cell.source
    first = source.lstrip().split("\n", 1)[0]
    if first.startswith("%%") and first[2:].split(" ", 1)[0] not in _PYTHON_CELL_MAGICS:
        return None
    lines = [_MAGIC_ASSIGNMENT.sub(r"\1_nbtrack_magic_()", line) for line in source.split("\n")]
    return _without_magics("\n".join(lines))


def _literal_sites(code: str) -> list[_Site]:
    """Every literal assignment (in the sense of :func:`nbtrack.capture.analysis.analyse`) in ``code``, in
    source order: top-level statements and those inside ``if``/``for``/``with``/``try`` blocks, not inside
    functions or classes. Code that does not parse has none."""
    from nbtrack.capture.analysis import analyse

    try:
        tree = ast.parse(code)
        literals = analyse(code).literals
    except SyntaxError:
        return []
    found: list[_Site] = []

    def walk(statements: list[ast.stmt], top: bool) -> None:
        for node in statements:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                targets = [node.target]
            else:
                for attribute in ("body", "orelse", "finalbody", "handlers", "cases"):
                    walk(getattr(node, attribute, None) or [], False)
                continue
            own = top and node.col_offset == 0 and len(targets) == 1 and isinstance(targets[0], ast.Name)
            last = node.end_lineno or node.lineno
            for target in targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name) and isinstance(name.ctx, ast.Store) and name.id in literals:
                        found.append(_Site(name.id, node.lineno, last, node if own else None))

    walk(tree.body, True)
    return found


def _literal_assignments(code: str) -> list[tuple[str, object, int, int]]:
    """``(name, value, first_line, last_line)`` of top-level ``name = <literal>`` (or ``name: T = <literal>``)
    statements (1-based), only for statements alone on their lines."""
    return [
        (site.name, ast.literal_eval(site.node.value), site.first, site.last)
        for site in _literal_sites(code)
        if site.node is not None and site.node.value is not None
    ]


def _annotation(site: _Site) -> str | None:
    return ast.unparse(site.node.annotation) if isinstance(site.node, ast.AnnAssign) else None


def _without_magics(source: str) -> str:
    """``source`` with IPython-only lines (``%config ...``, ``!pip ...``) turned into ``pass`` (same lines)."""
    lines = []
    for line in source.split("\n"):
        stripped = line.lstrip()
        lines.append(line[: len(line) - len(stripped)] + "pass" if stripped.startswith(("%", "!")) else line)
    return "\n".join(lines)


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
    return scan(nb).params


def scan(nb: NotebookNode) -> NotebookParams:
    """The notebook's parameters, its ambiguous names and its ``parameters`` cell (see the module docstring).

    A ``parameters`` cell that is not valid Python raises :class:`NbtrackError` naming the cell and the error
    (its params cannot be read, and papermill would fail there)."""
    index = find_tagged(nb, PARAMETERS_TAG)
    if index >= 0:
        return NotebookParams(_parameters_cell(nb, index), {}, index)
    sites: dict[str, list[tuple[str, _Site]]] = {}
    computed: set[str] = set()
    for number, cell in enumerate(nb.cells):
        body = _python_body(cell)
        if body is None:  # a cell with magics: its assignments are never params, but they count
            code = _magic_cell_python(cell)
            if code is not None:
                computed |= _computed_names(code)
                for site in _literal_sites(code):
                    where = f"cell {number}, line {site.first}"
                    sites.setdefault(site.name, []).append((where, _Site(site.name, site.first, site.last, None)))
            continue
        code, offset = body
        computed |= _computed_names(code)
        where = f"cell {number}" + (f" ({_track_label(split_track(cell.source)[0])})" if offset else "")
        for site in _literal_sites(code):
            sites.setdefault(site.name, []).append((f"{where}, line {site.first + offset}", site))
    params: list[Parameter] = []
    ambiguous: dict[str, list[str]] = {}
    for name, found in sites.items():
        if name in computed:
            continue
        if len(found) > 1:
            ambiguous[name] = [where for where, _ in found]
            continue
        where, site = found[0]
        if site.node is not None and site.node.value is not None:
            params.append(Parameter(name, ast.literal_eval(site.node.value), where, _annotation(site)))
    return NotebookParams(params, ambiguous, -1)


def _parameters_cell(nb: NotebookNode, index: int) -> list[Parameter]:
    """The literal assignments of the ``parameters`` cell (the last one of a name wins, as in the kernel)."""
    code = _without_magics(nb.cells[index].source)
    try:
        ast.parse(code)
    except SyntaxError as error:
        line = (error.text or "").strip()
        raise NbtrackError(
            f"The parameters cell (cell {index}) is not valid Python: {error.msg} at line {error.lineno}"
            + (f" ({line!r})" if line else "")
            + ". Fix that line: its params cannot be read, and papermill would stop at that cell."
        ) from None
    found = {}
    for site in _literal_sites(code):
        if site.node is not None and site.node.value is not None:
            found[site.name] = Parameter(
                site.name, ast.literal_eval(site.node.value), "parameters cell", _annotation(site)
            )
    return list(found.values())


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


def parameterize(nb: NotebookNode, only: set[str] | None = None) -> NotebookNode:
    """A copy of ``nb`` with a ``parameters`` cell (papermill-ready); ``nb`` itself is not changed.

    The cell holds every parameter, or those named in ``only``; the single original assignment of each
    becomes a marker comment. Ambiguous names (several literal assignments) are left where they are, so the
    copy computes what ``nb`` computes. A notebook that already has a ``parameters`` cell is returned
    unchanged (as a copy): idempotent.
    """
    import nbformat

    nb = copy.deepcopy(nb)
    if find_tagged(nb, PARAMETERS_TAG) >= 0:
        return nb
    params = [p for p in infer(nb) if only is None or p.name in only]
    names = {p.name for p in params}
    for cell in nb.cells:
        mark_parameters(cell, names)
    text = ["# Parameters (papermill reads this cell; inferred by nbtrack export)"]
    text += [f"{_target(p)} = {_render(p.value)}  # from {p.source}" for p in params]
    cell = nbformat.v4.new_code_cell("\n".join(text))
    cell.metadata["tags"] = [PARAMETERS_TAG]
    cell.pop("id", None)
    nb.cells.insert(_first_code_index(nb), cell)
    _refresh_ids(nb)
    return nb


def mark_parameters(cell: NotebookNode, names: set[str], same_as: Mapping[str, object] | None = None) -> None:
    """Replace the cell's top-level literal assignments of ``names`` with marker comments (in place).

    With ``same_as``, only the assignments of the value given there (same type, equal value): a cell that
    sets a param to a value of its own keeps it, so the result computes what the notebook computes."""
    body = _python_body(cell)
    if body is None:
        return
    code, offset = body
    lines = cell.source.lstrip().split("\n") if offset else cell.source.split("\n")
    for name, value, first, last in reversed(_literal_assignments(code)):
        if same_as is not None and not _same(value, same_as.get(name, _MISSING)):
            continue
        if name in names:
            lines[first - 1 + offset : last + offset] = [f"{MARKER}{name} (set in the parameters cell)"]
    cell.source = "\n".join(lines)


def bind_values(nb: NotebookNode, values: Mapping[str, object]) -> None:
    """Write ``values`` into the ``%%track`` cells of a parameterized ``nb`` (in place): each marker line
    of a parameter becomes ``name = <value used>``. Nothing else is rewritten (a literal assignment left in
    a cell is the notebook's own, and stays)."""
    for cell in nb.cells:
        if not is_track_cell(cell):
            continue
        head, body = split_track(cell.source)
        lines = body.split("\n")
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


_MISSING = object()


def _same(value: object, other: object) -> bool:
    """Equal values of the same type (``1 == 1.0 == True`` are three different literals)."""
    return type(value) is type(other) and value == other


def _render(value: object) -> str:
    return repr(value)


def _target(param: Parameter) -> str:
    """``name`` or ``name: T`` (an annotated parameter keeps its annotation in the parameters cell)."""
    return f"{param.name}: {param.annotation}" if param.annotation else param.name


# -- overrides -----------------------------------------------------------------------------------------
def coerce(
    params: list[Parameter], overrides: Mapping[str, object], ambiguous: Mapping[str, list[str]] | None = None
) -> dict[str, object]:
    """Overrides converted to the type of each parameter's default (or its annotation: ``int``, ``float``,
    ``str``, ``bool``); unknown and ambiguous names raise.

    String values (from the command line) are parsed: ``"0.1"`` becomes ``0.1`` for a float parameter,
    ``"true"``/``"false"`` a bool, JSON or a Python literal for lists/dicts/None. Non-string values
    (from Python) are kept as they are.
    """
    known = {p.name: p for p in params}
    several = [name for name in overrides if name not in known and name in (ambiguous or {})]
    if several:
        name = several[0]
        places = "; ".join((ambiguous or {})[name])
        raise InvalidValueError(
            f"Param {name!r} is assigned a literal in several places ({places}): nbtrack cannot tell which one "
            f"the value should replace, and replacing them all would change what the notebook computes. Give "
            f"each a name of its own, or tag a cell `parameters` holding {name} (papermill's convention): the "
            f"value then goes right after that cell, as with papermill."
        )
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
    kind = _ANNOTATED_TYPES.get(param.annotation or "")
    if kind is not None and kind is not type(default):
        default = kind()  # the annotation says how to read the text: ``a: float = 2`` takes "2.5"
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
            f"Param {param.name!r} expects a value of type {param.type_name} (default {param.value!r}), not {value!r}."
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
