"""What a tracked cell will record, decided before it runs: its options, its params, the DataFrames it reads.

``plan_cell`` validates the input (``--params`` names, values that cannot be stored exactly) so that a bad
``%%track`` line fails before the user's code runs; :class:`CellReport` is what the run recorded, for the
summary line.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field

from nbtrack import _values
from nbtrack.capture import analysis as _analysis
from nbtrack.capture import outputs as _capture
from nbtrack.errors import InvalidValueError, TrackUsageError


@dataclass
class TrackOptions:
    name: str | None = None
    experiment: str | None = None
    tags: dict = field(default_factory=dict)
    params: list[str] = field(default_factory=list)
    metrics: list[str] | None = None
    figures: bool = True
    autolog: bool = True
    quiet: bool = False
    max_output_bytes: int = _capture.DEFAULT_MAX_OUTPUT_BYTES
    #: at most this many fitted models are recorded (params and a pickle each) per cell
    max_models: int = 20
    #: reuse the fingerprint of a DataFrame that provably did not change (nbtrack.data._fpcache)
    cache_fingerprints: bool = True


@dataclass
class CellReport:
    """What a tracked cell recorded (returned to the magic, used for the summary line)."""

    run_id: str
    short_id: str
    status: str
    duration_s: float
    params: dict
    metrics: dict
    figures: int = 0
    models: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: BaseException | None = None

    def summary(self) -> str:
        shown = [k for k in self.metrics if not k.startswith("_")][:4]
        parts = [f"{k}={_short(self.metrics[k])}" for k in shown]
        extra = []
        if self.figures:
            extra.append(f"{self.figures} figure{'s' * (self.figures > 1)}")
        if self.models:
            extra.append("model " + ", ".join(self.models))
        status = "" if self.status == "ok" else f" {self.status.upper()}"
        line = f"nbtrack: run {self.short_id}{status} {self.duration_s:.2f}s"
        if parts:
            line += "  " + " ".join(parts)
        if extra:
            line += "  (" + "; ".join(extra) + ")"
        return line


def _short(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


@dataclass
class CellPlan:
    analysis: _analysis.CellAnalysis
    params: dict
    late_params: list[str]
    inputs: list[tuple[str, object]]
    notes: list[str]
    #: the values the names the cell binds had before it; a name bound only under a condition (or after
    #: the point where the cell failed) that still holds its value was not bound by this execution
    before: dict[str, object] = field(default_factory=dict)
    #: whether the code raised (set after it runs)
    failed: bool = False
    #: the cell's displayed value (its last expression), set after it runs
    returned: object = None


def plan_cell(code: str, namespace: dict, options: TrackOptions, history: list[str] | None = None) -> CellPlan:
    """Everything decided before the cell runs; raises TrackUsageError for bad input.

    ``history``: the code of the cells run before (IPython's ``In``), newest last; a name the cell
    reads is a param only if the last of them that binds it assigns it a literal (without a history,
    or when no cell in it binds the name, a literal value is enough)."""
    try:
        found = _analysis.analyse(code)
    except SyntaxError:
        found = _analysis.CellAnalysis()
    notes: list[str] = []
    params: dict = {}
    for name in found.reads:
        if name in namespace and name not in found.literals and not name.startswith("_"):
            value = namespace[name]
            if (
                _analysis.is_param_literal(value)
                and name not in found.roles().filled
                and not _empty_container(value)
                and storable(name, value)
                and _assigned_literally(name, history)
            ):
                params[name] = value
    for name, value in found.literals.items():
        if _empty_container(value) or name in found.roles().filled:
            continue  # an accumulator (clfs = [] then clfs.append(...)), not configuration
        if storable(name, value):
            params[name] = value
        else:
            notes.append(f"{name} is not recorded as a param (its value cannot be stored exactly)")
    for name in found.skipped:
        if name not in params and name not in options.params:
            notes.append(
                f"{name} is not recorded as a param (sets, bytes, dicts with non-string keys and "
                "very large literals cannot be stored exactly; use --params with a storable value)"
            )
    late: list[str] = []
    for name in options.params:
        if name in found.literals:
            _check_param(name, found.literals[name])
            params[name] = found.literals[name]
        elif name in found.bound:
            late.append(name)
        elif name in namespace:
            _check_param(name, namespace[name])
            params[name] = namespace[name]
        else:
            raise TrackUsageError(
                f"--params names {name!r}, but the cell does not assign it and it is not defined: "
                "define it first or remove it from --params."
            )
    inputs = []
    pandas = sys.modules.get("pandas")
    if pandas is not None:
        for name in found.reads:
            value = namespace.get(name)
            if isinstance(value, pandas.DataFrame):
                inputs.append((name, value))
    before = {name: namespace[name] for name in found.bound if name in namespace}
    return CellPlan(found, params, late, inputs, notes, before)


def _empty_container(value: object) -> bool:
    return type(value) in (list, dict, tuple) and not value  # type: ignore[arg-type]


def _assigned_literally(name: str, history: list[str] | None) -> bool:
    """Whether the newest earlier cell that binds ``name`` assigns it a literal (True if none is known).
    An earlier ``%%track``/``%%time`` cell counts by its body; an import binds a name with no literal."""
    from nbtrack.capture.cellfacts import cell_facts, python_of

    if not history:
        return True
    # a name starts a line, follows punctuation, or follows an escaped newline inside a magic's body
    binding = re.compile(rf"(?:(?<![\w.])|(?<=\\n)){re.escape(name)}\s*(?:[:,)\]]|[-+*/%@&|^]?=(?!=))")
    for code in reversed(history[-500:]):
        if not isinstance(code, str) or name not in code:
            continue
        binds = cell_facts(code).binds
        if not (name in binds and "import" in code) and not binding.search(code):
            continue  # cheap: only cells that may bind the name are parsed
        try:
            found = _analysis.analyse(python_of(code))
        except SyntaxError:
            continue
        if name in found.literals:
            return True
        if name in found.bound or name in binds:
            return False
    return True


def storable(name: str, value: object) -> bool:
    try:
        _values.encode_param(name, value)
    except InvalidValueError:
        return False
    return True


def _check_param(name: str, value: object) -> None:
    try:
        _values.encode_param(name, value)
    except InvalidValueError as error:
        raise TrackUsageError(f"--params {name}: {error}") from None
    if isinstance(value, dict) and not all(isinstance(k, str) for k in value):
        raise TrackUsageError(
            f"--params {name}: a dict with non-string keys would come back with string keys: "
            "use string keys or log it as an artifact."
        )
