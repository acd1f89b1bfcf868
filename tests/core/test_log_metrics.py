"""log_metrics(dict, step): the batched path keeps log_metric's rules (steps, validation, values)."""

import math

import pytest

import nbtrack
from nbtrack.errors import InvalidValueError


def test_log_metrics_steps_default_per_key_and_explicit_steps_are_kept(store):
    with nbtrack.start_run() as run:
        run.log_metrics({"a": 1, "b": 2.5})
        run.log_metrics({"a": 3})
        run.log_metrics({"a": 4.0, "c": 7}, step=10)
        run.log_metrics({"c": 8}, step=5)
    record = nbtrack.get_run(run.run_id)
    assert record.metric("a").to_dict() == {0: 1.0, 1: 3.0, 10: 4.0}
    assert record.metric("b").to_dict() == {0: 2.5}
    assert record.metric("c").to_dict() == {5: 8.0, 10: 7.0}
    assert record.latest == {"a": 4.0, "b": 2.5, "c": 7.0}  # a lower step does not replace the latest


def test_log_metrics_values_of_one_call_share_one_timestamp(store):
    with nbtrack.start_run() as run:
        run.log_metrics({f"m{i}": i for i in range(10)}, step=0)
    times = set(nbtrack.get_run(run.run_id).metrics["time"])
    assert len(times) == 1


def test_log_metrics_accepts_numpy_ints_and_nan_and_rejects_bools_atomically(store):
    np = pytest.importorskip("numpy")
    with nbtrack.start_run() as run:
        run.log_metrics({"f32": np.float32(0.5), "i64": np.int64(3), "nan": float("nan"), "big": 2**40})
        with pytest.raises(InvalidValueError):
            run.log_metrics({"ok": 1.0, "flag": True})
        with pytest.raises(InvalidValueError):
            run.log_metrics({"ok": 1.0, "": 2.0})
        with pytest.raises(InvalidValueError):
            run.log_metrics({"ok": 1.0}, step="x")
    record = nbtrack.get_run(run.run_id)
    assert record.latest["f32"] == 0.5 and record.latest["i64"] == 3.0 and record.latest["big"] == 2.0**40
    assert math.isnan(record.latest["nan"])
    assert "ok" not in record.latest and "flag" not in record.latest  # nothing of a rejected call is kept
    assert isinstance(record.latest["i64"], float)
