"""Drift of large columns is counted in buckets instead of sorting both sides (issue 18's speed target);
the figures must stay exactly those of a straightforward computation: PSI over the reference's deciles,
KS as scipy computes it, missing-value rates and unseen categories as plain counts."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import ks_2samp

from nbtrack.data import _buckets, _compare
from nbtrack.data._drift import FrameSource, compare_sources
from nbtrack.registry._monitor import _missing_and_unseen


def reference_numeric(a: np.ndarray, b: np.ndarray) -> tuple[float | None, float | None]:
    """PSI over 10 bins cut at the reference's deciles (counts of values at most each edge) and scipy's KS."""
    a, b = np.sort(a[~np.isnan(a)]), np.sort(b[~np.isnan(b)])
    if not len(a) or not len(b):
        return None, None
    deciles = sorted({a[round(q * (len(a) - 1))] for q in np.linspace(0, 1, 11)[1:-1]})
    at_most = [[int((side <= edge).sum()) for edge in deciles] for side in (a, b)]
    p, q = (np.diff([0, *counts, len(side)]) / len(side) for counts, side in zip(at_most, (a, b)))
    statistic = float(ks_2samp(a, b, method="asymp").statistic)  # pyright: ignore[reportAttributeAccessIssue]
    return _compare._psi(p, q), statistic  # _psi: the formula itself, floored shares (same summation order)


def reference_missing_unseen(a: pd.Series, b: pd.Series, categorical: bool) -> dict:
    missing = [sum(1 for v in side if v is None or v != v) for side in (a, b)]
    found = {
        "missing_ref": missing[0] / len(a) if len(a) else 0.0,
        "missing_new": missing[1] / len(b) if len(b) else 0.0,
        "unseen": None,
    }
    if categorical:
        known = {v for v in a if isinstance(v, str)}
        values = [v for v in b if isinstance(v, str)]
        found["unseen"] = sum(1 for v in values if v not in known) / len(values) if values else 0.0
    return found


def frame(rng: np.random.Generator, n: int, shift: float, grid: int, special: bool) -> pd.DataFrame:
    """``x`` (normal, on a grid of 1/grid when grid > 0: ties), ``count`` (integers), ``channel``
    (categories, some the other side lacks); with ``special``, missing values and infinities."""
    x = rng.normal(shift, 1.0, n)
    if grid:
        x = np.round(x * grid) / grid
    channel = rng.choice(["web", "store", "phone", "app" if shift else "web"], n).astype(object)
    if special:
        x[rng.random(n) < 0.1] = np.nan
        x[rng.random(n) < 0.02] = rng.choice([np.inf, -np.inf])
        channel[rng.random(n) < 0.1] = None
    return pd.DataFrame({"x": x, "count": rng.poisson(3 + shift, n), "channel": channel})


def check(ref: pd.DataFrame, new: pd.DataFrame) -> None:
    kept = ref.copy(), new.copy()
    measured: dict = {}
    checked, _ = compare_sources(
        FrameSource(ref), FrameSource(new), set(), 0.2, columns=["x", "count", "channel"],
        inspect=lambda c, a, b, found: measured.__setitem__(c, _missing_and_unseen(a, b, found["kind"])),
    )  # fmt: skip
    for column in ("x", "count"):
        psi, statistic = reference_numeric(ref[column].to_numpy(float), new[column].to_numpy(float))
        found = checked[column]
        assert (found["psi"], found["ks"]) == (psi, statistic), column
        if statistic is None:
            continue
        sizes = int(ref[column].notna().sum()), int(new[column].notna().sum())
        assert found["ks_pvalue"] == _compare.ks_pvalue(statistic, *sizes)
        if 1 <= round(sizes[0] * sizes[1] / sum(sizes)) <= 10_000:  # scipy's exact distribution of KS there
            expected = ks_2samp(ref[column].dropna(), new[column].dropna(), method="asymp").pvalue  # pyright: ignore[reportAttributeAccessIssue]
            assert found["ks_pvalue"] == pytest.approx(expected, abs=1e-12), column
    # categories (fewer than 50: each its own bin); not bucketed, checked here without missing values
    counts = [Counter(v for v in side["channel"] if isinstance(v, str)) for side in (ref, new)]
    if all(counts) and not any(side["channel"].isna().any() for side in (ref, new)):
        shares = [np.array([c[k] for k in sorted(counts[0] | counts[1])], float) for c in counts]
        assert checked["channel"]["psi"] == pytest.approx(_compare._psi(*(s / s.sum() for s in shares)), rel=1e-12)
    for column in ("x", "count", "channel"):
        assert measured[column] == reference_missing_unseen(ref[column], new[column], column == "channel")
    pd.testing.assert_frame_equal(ref, kept[0])  # the columns' own arrays are read, never changed
    pd.testing.assert_frame_equal(new, kept[1])


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # scipy's KS of 1 value against 1
@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    sizes=st.tuples(st.integers(1, 300), st.integers(1, 300)),
    shift=st.sampled_from([0.0, 0.5]),
    grid=st.sampled_from([0, 1, 4, 100]),
    buckets=st.sampled_from([2, 3, 16, 4096]),
    special=st.booleans(),
)
def test_bucketed_drift_gives_the_figures_of_a_straightforward_computation(seed, sizes, shift, grid, buckets, special):
    rng = np.random.default_rng(seed)
    ref, new = frame(rng, sizes[0], 0.0, grid, special), frame(rng, sizes[1], shift, grid, special)
    with pytest.MonkeyPatch.context() as patch:  # every column through the buckets, few of them: many per bucket
        patch.setattr(_compare, "BUCKETED", 0)
        patch.setattr(_buckets, "BUCKETS", buckets)
        check(ref, new)


@pytest.mark.parametrize(("seed", "shift", "grid"), [(0, 0.0, 0), (1, 0.5, 0), (2, 0.0, 100)])
def test_large_columns_with_the_default_buckets_give_the_same_figures(seed, shift, grid):
    rng = np.random.default_rng(seed)
    ref, new = frame(rng, 300_000, 0.0, grid, False), frame(rng, 200_000, shift, grid, False)
    assert len(ref) + len(new) >= _compare.BUCKETED
    check(ref, new)


def test_drift_reads_chunks_mapped_and_still_refuses_a_damaged_one(store):
    """Drift maps each chunk and hashes it once (not once per column): a flipped byte is still refused."""
    import nbtrack
    from nbtrack.errors import CorruptBlobError

    rng = np.random.default_rng(0)
    nbtrack.snapshot(pd.DataFrame({"x": rng.normal(size=5000), "n": rng.poisson(3, 5000)}), "d")
    nbtrack.snapshot(pd.DataFrame({"x": rng.normal(size=5000), "n": rng.poisson(3, 5000)}), "d")
    before = nbtrack.drift("d", 2, against=1).to_dict()
    blob = store.query("SELECT blob FROM data_chunks WHERE dataset = 'd' AND version = 2 LIMIT 1")[0][0]
    path = store.blobs.path(blob)
    damaged = bytearray(path.read_bytes())
    damaged[len(damaged) // 2] ^= 0x10
    path.chmod(0o600)
    path.write_bytes(bytes(damaged))
    with pytest.raises(CorruptBlobError, match="nbtrack fsck"):
        nbtrack.drift("d", 2, against=1)
    damaged[len(damaged) // 2] ^= 0x10
    path.write_bytes(bytes(damaged))
    assert nbtrack.drift("d", 2, against=1).to_dict() == before


@pytest.mark.parametrize(
    ("ref", "new"),
    [
        ([0.0, 5e-324, 1e-323] * 40, [5e-324, 1e-323] * 50),  # a range of subnormals: the scale overflows
        ([-1e308, 1e308] * 50, [0.0, 1e308] * 50),  # the range itself overflows
        ([-0.0, 0.0, 1.0] * 40, [0.0, 1.0, 1.0] * 40),  # -0.0 and 0.0 are one value
        ([2.5] * 100, [2.5] * 99 + [3.0]),  # a single value in the reference
        ([2**60, 2**60 + 1, 2**60 + 3] * 40, [2**60 + 2, 2**60 + 5] * 50),  # integers beyond float's exact range
    ],
)
def test_awkward_columns_give_the_figures_of_the_straightforward_computation(ref, new):
    ref_series, new_series = pd.Series(ref), pd.Series(new)
    expected = reference_numeric(ref_series.to_numpy(float), new_series.to_numpy(float))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_compare, "BUCKETED", 0)
        patch.setattr(_buckets, "BUCKETS", 16)
        found = _compare.column_drift(ref_series, new_series)
    assert (found["psi"], found["ks"]) == expected
