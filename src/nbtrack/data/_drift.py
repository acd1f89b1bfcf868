"""Drift monitoring: compare a data version with the data a run trained on.

``nbtrack.drift("customers", 5, against=run_id)`` finds the version of ``customers`` the run
read (its recorded inputs, matched by fingerprint) and flags columns whose PSI exceeds
``threshold``. ``against`` may also be a version number or ``"name@3"``.

Columns that are not features are left out by default, each with its reason: the version's key, IDs
(every value unique in both versions, for integers and strings), dates and times, columns constant in
both versions, and numbers increasing monotonically in both (counters, timestamps): a new month of data
always has new IDs and later times, which is not drift. ``columns=`` checks exactly the columns named,
``exclude=`` leaves more out.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from nbtrack.data import _compare
from nbtrack.data._diff import _VersionSource
from nbtrack.data._versions import _store, get_version
from nbtrack.errors import DatasetNotFoundError, InvalidValueError, ModelNotFoundError
from nbtrack.registry._lineage import training_data
from nbtrack.registry._registry import ModelVersion, get_model
from nbtrack.store import datasets as _dal
from nbtrack.store import runs as db

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from nbtrack.store import Store, StoreLike


@dataclass
class DriftReport:
    """Per-column drift of ``name@version`` against a reference version."""

    name: str
    version: int | None  # None: a batch that is not a stored version (a file or a DataFrame)
    reference: dict  # {"dataset", "version", "run_id" (or None)}
    threshold: float
    columns: dict  # column -> {kind, psi, ks, ks_pvalue, flagged}
    #: column -> why it was not checked (key, ID, date/time, constant, monotonic, exclude=)
    excluded: dict = field(default_factory=dict)

    @property
    def flagged(self) -> list[str]:
        """Columns whose PSI is above the threshold."""
        return [c for c, d in self.columns.items() if d["flagged"]]

    @property
    def ok(self) -> bool:
        return not self.flagged

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "version": self.version,
            "reference": self.reference,
            "threshold": self.threshold,
            "columns": self.columns,
            "flagged": self.flagged,
            "excluded": self.excluded,
        }

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(
            [{"column": c, **d} for c, d in self.columns.items()],
            columns=["column", "kind", "psi", "ks", "ks_pvalue", "flagged"],
        )

    def summary(self) -> str:
        ref = self.reference
        against = f"{ref['dataset']}@{ref['version']}" + (
            f" (read by run {ref['run_id'][-8:]})" if ref.get("run_id") else ""
        )
        current = self.name if self.version is None else f"{self.name}@{self.version}"
        head = f"{current} against {against}: "
        if not self.columns:
            line = head + "no column checked"
        elif self.ok:
            line = head + f"no column over PSI {self.threshold}"
        else:
            line = (
                head
                + ", ".join(_flagged_text(c, self.columns[c]["psi"]) for c in self.flagged)
                + f" over {self.threshold}"
            )
        if self.excluded:
            line += "\nnot checked: " + "; ".join(f"{c} ({why})" for c, why in self.excluded.items())
        return line

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        rows = "".join(
            "<tr>"
            + "".join(
                f"<td>{html.escape(_fmt(v))}</td>"
                for v in (c, d["kind"], d["psi"], d["ks"], d["ks_pvalue"], "yes" if d["flagged"] else "")
            )
            + "</tr>"
            for c, d in self.columns.items()
        )
        return (
            f"<div class='nbtrack-drift'><p>{html.escape(self.summary()).replace(chr(10), '<br>')}</p><table><thead>"
            "<tr><th>column</th>"
            f"<th>kind</th><th>PSI</th><th>KS</th><th>KS p-value</th><th>flagged</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></div>"
        )


def _flagged_text(column: Any, psi: float | None) -> str:
    """A flagged column in the summary; monitoring also flags a column whose batch side has no value at all
    (its missing values rose), which has no PSI."""
    return f"{column} PSI={psi:.3f}" if psi is not None else f"{column} (no PSI: a side has no value)"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def drift(
    name: str,
    version: int | str | None = None,
    *,
    against: Any,
    threshold: float = 0.2,
    columns: list[str] | None = None,
    exclude: list[str] | None = None,
    store: StoreLike | None = None,
) -> DriftReport:
    """Compare ``name@version`` (default latest) with ``against`` and flag columns with PSI > ``threshold``.

    ``against``: a run (id, prefix or Run) whose recorded input of this dataset is the reference,
    a registered model version (``"churn@champion"``, ``"churn/3"`` or a ``ModelVersion``: the data
    version its lineage says it was trained on), a version number, or ``"name@N"``.

    By default the columns that are not features are left out, each with its reason in
    ``report.excluded``: the version's key, IDs (integers or strings unique in both versions), dates and
    times, columns constant in both versions, numbers increasing monotonically in both (counters,
    timestamps). ``columns`` checks exactly these columns (none is left out automatically); ``exclude``
    leaves these out too. A name that is in neither version raises :class:`InvalidValueError`.

    Example::

        report = nbtrack.drift("customers", against=training_run_id, exclude=["signup_channel"])
        report.flagged        # ['income']
        report.excluded       # {'customer_id': "the version's key", 'created_at': 'a date/time: ...'}
    """
    store = _store(store)
    current = get_version(name, version, store=store)
    ref_name, ref_version, run_id = _reference(store, name, against)
    ref = get_version(ref_name, ref_version, store=store)
    # one column of each version at a time, like diff: never both versions whole in memory
    reading = mapped_reads(store)
    source_ref = _VersionSource(reading, ref.name, ref.version)
    source_new = _VersionSource(reading, current.name, current.version)
    keys = {str(k) for k in (current.key or []) + (ref.key or [])}
    checked, excluded = compare_sources(source_ref, source_new, keys, threshold, columns, exclude)
    return DriftReport(
        current.name,
        current.version,
        {"dataset": ref.name, "version": ref.version, "run_id": run_id},
        threshold,
        checked,
        excluded,
    )


def mapped_reads(store: Store) -> Store:
    """``store`` for reading versions column by column: its blobs mapped and each hashed once
    (:class:`~nbtrack.store.blobs.MappedBlobStore`), since every column reads every chunk of its version."""
    import copy

    from nbtrack.store.blobs import MappedBlobStore

    view = copy.copy(store)  # the same connection and root; only how blobs are read differs
    view.blobs = MappedBlobStore(store.blobs.root, store.blobs.shared)
    return view


class ColumnSource(Protocol):
    """Columns read one at a time: a stored version (``_VersionSource``) or a DataFrame (:class:`FrameSource`)."""

    names: list

    def series(self, name: Any) -> pd.Series: ...


class FrameSource:
    """A DataFrame in memory as a :class:`ColumnSource`."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame
        self.names = list(frame.columns)

    def series(self, name: Any) -> pd.Series:
        return self.frame[name]


def compare_sources(
    source_ref: ColumnSource,
    source_new: ColumnSource,
    keys: set[str],
    threshold: float,
    columns: list[str] | None = None,
    exclude: list[str] | None = None,
    inspect: Callable[[Any, pd.Series, pd.Series, dict], None] | None = None,
) -> tuple[dict, dict[str, str]]:
    """``(checked, excluded)``: the drift of each feature column both sources hold (PSI, KS, flagged when
    PSI > ``threshold``), and why each other column was left out. Columns are read one at a time;
    ``inspect(column, ref, new, result)`` is called for each checked column while both sides are in memory
    (monitoring measures more of them there instead of reading them again)."""
    in_new = set(source_new.names)
    common = [c for c in source_ref.names if c in in_new]
    chosen, excluded = _chosen_columns(common, source_ref.names, source_new.names, columns, exclude)
    checked = {}
    for column in chosen:
        if columns is None and str(column) in keys:  # known without reading the column
            excluded[column] = KEY_REASON
            continue
        ref_series, new_series = source_ref.series(column), source_new.series(column)
        reason = None if columns is not None else not_a_feature(column, ref_series, new_series, keys)
        if reason is not None:
            excluded[column] = reason
            continue
        result = _compare.column_drift(ref_series, new_series)
        result["flagged"] = bool(result["psi"] is not None and result["psi"] > threshold)
        checked[column] = result
        if inspect is not None:
            inspect(column, ref_series, new_series, result)
    return checked, excluded


def _chosen_columns(
    common: list, ref_names: list, new_names: list, columns: list[str] | None, exclude: list[str] | None
) -> tuple[list, dict[str, str]]:
    """The columns to look at (in the reference's order) and those ``exclude=`` leaves out."""
    by_name = {str(c): c for c in common}
    for what, names in (("columns", columns), ("exclude", exclude)):
        unknown = [n for n in names or [] if str(n) not in by_name]
        if unknown:
            missing = {str(c) for c in ref_names} ^ {str(c) for c in new_names}
            raise InvalidValueError(
                f"{what}= names {', '.join(map(repr, unknown))}, which is not a column of both versions; they share: "
                f"{', '.join(map(str, common)) or 'none'}"
                + (f" (in one version only: {', '.join(sorted(missing))})" if missing else "")
                + "."
            )
    wanted = common if columns is None else [by_name[str(n)] for n in columns]
    left_out = {str(n) for n in exclude or []}
    return [c for c in wanted if str(c) not in left_out], {str(n): "excluded by exclude=" for n in exclude or []}


#: Why a key column is not checked.
KEY_REASON = "the version's key"
#: Fewer values than this are too few to call a column of unique values an ID.
MIN_ID_ROWS = 20
#: Values looked at first, so a 10 M-row column that is plainly not constant nor an ID costs no full pass.
_SAMPLE = 10_000


def _only_value(values: pd.Series) -> list | None:
    """``[v]`` when every value is ``v``, ``[]`` when there is none, else None (a sample decides most columns)."""
    if len(values) == 0:
        return []
    first = values.iloc[0]
    for part in (values.iloc[:_SAMPLE], values):
        if not bool((part == first).all()):
            return None
    return [first]


def _same(a: list, b: list) -> bool:
    return a == b or (bool(a) and bool(b) and str(a[0]) == str(b[0]))


def _unique(values: pd.Series) -> bool:
    """Whether no value repeats (a sample of distinct values first: most columns repeat within it).

    Integers are checked without hashing: strictly increasing values (IDs and times in the order they
    were made) in one pass, others by sorting a copy; hashing 10 M integers took 5 s, the pass 0.03 s."""
    import numpy as np
    import pandas as pd

    if not values.iloc[:_SAMPLE].is_unique:
        return False
    if pd.api.types.is_integer_dtype(values.dtype) and not isinstance(values.dtype, pd.CategoricalDtype):
        array = values.to_numpy()
        if bool(np.all(array[1:] > array[:-1])):
            return True
        ordered = np.sort(array)
        return not bool(np.any(ordered[1:] == ordered[:-1]))
    return bool(values.is_unique)


def not_a_feature(column: Any, ref: pd.Series, new: pd.Series, keys: set[str]) -> str | None:
    """Why ``column`` is not a feature whose drift means anything, or None when it is one.

    A key or an ID (integers or strings unique in both versions) is new in every batch; a date/time, a
    counter or a timestamp (numbers increasing monotonically in both) is later in every batch; a
    column holding one value in both versions says nothing. A column constant in the reference that
    takes new values in the batch is kept: that is drift."""
    import pandas as pd

    if str(column) in keys:
        return KEY_REASON
    dtype = ref.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype) or isinstance(dtype, pd.PeriodDtype):
        return "a date/time: later data always has later values"
    ref_values, new_values = ref.dropna(), new.dropna()
    ref_one, new_one = _only_value(ref_values), _only_value(new_values)
    if ref_one is not None and new_one is not None and _same(ref_one, new_one):
        return f"constant: {ref_one[0]!r} in both" if ref_one else "empty: all values missing"
    if pd.api.types.is_bool_dtype(dtype):
        return None
    numeric = pd.api.types.is_numeric_dtype(dtype)
    big_enough = len(ref_values) >= MIN_ID_ROWS and len(new_values) >= MIN_ID_ROWS
    if (
        (not numeric or pd.api.types.is_integer_dtype(dtype))
        and big_enough
        and _unique(ref_values)
        and _unique(new_values)
    ):
        return "an ID: every value is unique in both versions"
    if (
        numeric
        and big_enough
        and ref_one is None
        and ref_values.is_monotonic_increasing
        and new_values.is_monotonic_increasing
    ):
        return "increases monotonically in both versions: a counter or a time"
    return None


def _registered_model(store: Store, against: Any) -> ModelVersion | None:
    """The model version ``against`` names (``churn@champion``, ``churn/3``, ``models:/churn``), if it names
    one; ``name@3`` stays a data version and anything else a run."""
    if not isinstance(against, str) or ("@" not in against and "/" not in against):
        return None
    text = against.removeprefix("models:/")
    if text.rpartition("@")[2].isdigit():  # name@3: a data version
        return None
    try:
        return get_model(text, store=store)
    except (ModelNotFoundError, InvalidValueError):
        return None


def _model_reference(name: str, model: ModelVersion) -> tuple[str, int, str | None]:
    """The data version a registered model was trained on (its lineage), preferring dataset ``name``."""
    versioned = [(d["dataset"], d["version"]) for d in model.lineage.get("data", []) if d["dataset"] and d["version"]]
    same = [(d, v) for d, v in versioned if d == name]
    if same or versioned:
        dataset, number = (same or versioned)[0]
        return dataset, int(number), model.run_id
    raise DatasetNotFoundError(
        f"Model version {model.spec} was trained on no stored data version (its lineage names none): pass the "
        f"training data's version instead (--against {name}@N / against='{name}@N')."
    )


def _reference(store: Store, name: str, against: Any) -> tuple[str, int, str | None]:
    if isinstance(against, ModelVersion):
        return _model_reference(name, against)
    if hasattr(against, "run_id"):
        against = against.run_id
    if hasattr(against, "version") and hasattr(against, "name"):
        return against.name, against.version, None
    if isinstance(against, int) or (isinstance(against, str) and against.isdigit() and len(against) < 10):
        return name, int(against), None
    model = _registered_model(store, against)
    if model is not None:
        return _model_reference(name, model)
    if isinstance(against, str) and "@" in against:
        ref_name, number = against.rsplit("@", 1)
        if not number.isdigit():
            raise InvalidValueError(f"against={against!r}: the version after @ must be a number, e.g. {ref_name}@3.")
        return ref_name, int(number), None
    run_id = store.resolve_run_id(str(against))
    inputs = _dal.run_input_versions(store, run_id)
    known = [(i.dataset, i.version) for i in inputs if i.dataset is not None and i.version is not None]
    same = [(d, v) for d, v in known if d == name]
    if same or known:
        dataset, number = (same or known)[-1]
        return dataset, int(number), run_id
    # The run's own inputs name no version: a notebook run keeps them on its cells' runs, and a cell that
    # fitted on X_train read what an earlier cell cut from a loaded version (see training_data).
    found = training_data(store, run_id, db.run_row(store, run_id)["parent_id"])
    versioned = [(d["dataset"], d["version"]) for d in found if d["dataset"] is not None and d["version"] is not None]
    same = [(d, v) for d, v in versioned if d == name]
    if same or versioned:
        dataset, number = (same or versioned)[0]
        return dataset, int(number), run_id
    names = ", ".join(str(d["name"]) for d in found if d["name"])
    raise DatasetNotFoundError(
        f"Run {run_id[-8:]} read no stored data version ({len(found)} unversioned input(s)"
        + (f": {names}" if names else "")
        + "), nor did its child runs or the cells it depends on. Pass the training data's "
        f"version (--against {name}@N / against='{name}@N'), or next time load the training data with "
        "nbtrack.load(name) (or snapshot the exact frame you fit on) before training, so the run records it."
    )
