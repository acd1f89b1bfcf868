"""Column and index labels of a DataFrame as JSON (the frame meta a version stores): any hashable label that
comes back equal, index kinds, names and frequencies; anything else refused with what to do."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from nbtrack.errors import UnsupportedDataError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


def encode_label(label: Any, what: str) -> Any:
    """Encode one column/index label as JSON ``[tag, value]`` so it comes back with its type."""
    import numpy as np
    import pandas as pd

    if label is None:
        return ["n", None]
    if isinstance(label, (bool, np.bool_)):
        return ["b", bool(label)]
    if isinstance(label, (int, np.integer)):
        return ["i", int(label)]
    if isinstance(label, (float, np.floating)):
        value = float(label)
        return ["f", repr(value) if not math.isfinite(value) else value]
    if isinstance(label, str):
        return ["s", label]
    if isinstance(label, tuple):
        return ["t", [encode_label(x, what) for x in label]]
    if isinstance(label, pd.Timestamp):
        return ["ts", label.isoformat()]
    raise UnsupportedDataError(
        f"{what} {label!r} has type {type(label).__name__}, which nbtrack cannot store exactly; "
        "rename it to a str, int, float, bool or tuple of those (e.g. df.columns = df.columns.map(str))."
    )


def decode_label(encoded: Any) -> Any:
    import pandas as pd

    tag, value = encoded
    if tag == "f":
        return float(value)
    if tag == "t":
        return tuple(decode_label(x) for x in value)
    if tag == "ts":
        return pd.Timestamp(value)
    return value


def encode_axis(index: pd.Index, what: str) -> dict:
    import pandas as pd

    if isinstance(index, pd.MultiIndex):
        spec = {
            "kind": "multi",
            "names": [encode_label(n, what + " level name") for n in index.names],
            "labels": [encode_label(x, what) for x in index],
            "dtypes": [str(level.dtype) for level in index.levels],
        }
        freqs = [_frequency(level, f"{what} level {i}") for i, level in enumerate(index.levels)]
        if any(f is not None for f in freqs):
            spec["level_freqs"] = freqs
        return spec
    if isinstance(index, pd.RangeIndex):
        return {
            "kind": "range",
            "name": encode_label(index.name, what + " name"),
            "start": index.start,
            "step": index.step,
        }
    spec = {
        "kind": "plain",
        "name": encode_label(index.name, what + " name"),
        "dtype": str(index.dtype),
    }
    freq = _frequency(index, what)
    if freq is not None:  # part of what makes two frames differ, so part of the meta (and the fingerprint)
        spec["freq"] = freq
    return spec


def _frequency(index: pd.Index, what: str) -> str | None:
    """The ``freq`` of a DatetimeIndex or TimedeltaIndex as a string that gives it back, or None."""
    import pandas as pd

    freq = index.freq if isinstance(index, (pd.DatetimeIndex, pd.TimedeltaIndex)) else None
    if freq is None:
        return None
    text = freq.freqstr
    if pd.tseries.frequencies.to_offset(text) != freq:
        raise UnsupportedDataError(
            f"the {what} has the frequency {freq!r}, which nbtrack cannot store exactly (its text {text!r} "
            f"reads back as another frequency); drop it with df.index.freq = None (or .columns.freq = None) "
            "or use a standard frequency such as 'D' or 'h'."
        )
    return text


def with_level_frequencies(index: pd.MultiIndex, spec: dict) -> pd.MultiIndex:
    """``index`` with the frequencies its levels had (where its levels' values still conform to them)."""
    freqs = spec.get("level_freqs")
    if not freqs:
        return index
    levels = list(index.levels)
    for i, freq in enumerate(freqs):
        if freq is not None:
            try:
                levels[i] = with_frequency(levels[i], {"freq": freq})
            except ValueError:  # other values than the original's level: the snapshot check refuses such an index
                pass
    return index.set_levels(levels)


def check_level_frequencies(index: pd.MultiIndex, spec: dict) -> None:
    """Refuse a MultiIndex whose levels' frequencies would not come back (its rebuilt levels differ)."""
    import pandas as pd

    if not spec.get("level_freqs"):
        return
    plain = []
    for i in range(index.nlevels):
        values = index.get_level_values(i)
        if isinstance(values, (pd.DatetimeIndex, pd.TimedeltaIndex)):
            values = values.copy()
            values.freq = None  # as Arrow gives them back
        plain.append(values)
    rebuilt = with_level_frequencies(pd.MultiIndex.from_arrays(plain), spec)
    for i in range(index.nlevels):
        before, after = index.get_level_values(i), rebuilt.get_level_values(i)
        freq = getattr(before, "freq", None)
        if freq != getattr(after, "freq", None):
            raise UnsupportedDataError(
                f"index level {i} ({index.names[i]!r}) has the frequency {freq!r}, which would not load "
                f"back (its levels hold other values than its rows); drop it with "
                f"df.index = df.index.set_levels(df.index.levels[{i}].values, level={i}), "
                "or store the index as columns with df.reset_index()."
            )


def with_frequency(index: pd.Index, spec: dict) -> pd.Index:
    """``index`` with the frequency ``spec`` recorded (pandas checks that the values conform)."""
    import pandas as pd

    freq = spec.get("freq")
    if freq is None or not isinstance(index, (pd.DatetimeIndex, pd.TimedeltaIndex)):
        return index
    return type(index)(index, freq=freq, name=index.name)


def decode_columns(spec: dict, labels: list) -> pd.Index:
    import pandas as pd

    if spec["kind"] == "multi":
        names = [decode_label(n) for n in spec["names"]]
        tuples = [decode_label(x) for x in spec["labels"]]
        if not tuples:
            return pd.MultiIndex(levels=[[]] * len(names), codes=[[]] * len(names), names=names)
        mi = pd.MultiIndex.from_tuples(tuples, names=names)
        levels = [lvl.astype(dt) if str(lvl.dtype) != dt else lvl for lvl, dt in zip(mi.levels, spec["dtypes"])]
        return mi.set_levels(levels)
    name = decode_label(spec["name"])
    if spec["kind"] == "range":
        return pd.RangeIndex(spec["start"], spec["start"] + spec["step"] * len(labels), spec["step"], name=name)
    # tupleize_cols=False: a flat Index of tuple labels stays flat (a MultiIndex is recorded as "multi")
    return with_frequency(pd.Index(labels, dtype=spec["dtype"], name=name, tupleize_cols=False), spec)
