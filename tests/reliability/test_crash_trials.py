"""100 writers SIGKILLed at random moments during a run write, a blob write, a snapshot or a merge.

After every kill the store must be clean (`fsck`: no row refers to a missing or corrupt blob, SQLite
integrity ok), the killed process's run must read as `crashed`, and the store must accept new writes.
The trial loop lives in reliability_harness.py; bench/bench_reliability.py runs it larger.
"""

import pytest
from reliability_harness import crash_trials


@pytest.mark.slow
def test_one_hundred_sigkills_leave_the_store_consistent(store_root):
    report = crash_trials(store_root, trials=100, seed=20261123)
    assert not report.failures, "\n".join(report.failures)
    assert report.trials == 100 and report.fsck_clean == 100 and report.killed_alive == 100
    assert set(report.by_kind.values()) == {25}
    assert "running" not in report.statuses
    assert set(report.statuses) <= {"ok", "crashed"} and report.statuses["crashed"] >= 1
    assert report.writable_after
    assert report.dataset_loads
