"""Each %%track run records the slice of the session it depends on (capture/session.py), on a real shell."""

from __future__ import annotations

import json

import pytest

import nbtrack
from nbtrack.capture.cellfacts import cell_facts
from nbtrack.capture.session import SessionSlice
from nbtrack.store import runs as db


@pytest.fixture(autouse=True)
def new_session(shell):
    """A session of its own: history and execution counts start again (the shared shell keeps them)."""
    shell.reset(new_session=True)


def _run_cells(shell, cells: list[str]) -> None:
    for code in cells:
        shell.run_cell(code, store_history=True)


def _slice(last_run) -> SessionSlice:
    from nbtrack.store import default_store

    return SessionSlice.from_json(db.session(default_store(), last_run().run_id))


def test_the_slice_holds_the_earlier_cells_the_run_depends_on_in_execution_order(shell, last_run):
    _run_cells(
        shell,
        [
            "import numpy as np\nfrom sklearn.linear_model import LogisticRegression",
            "np.random.seed(0)\nX = np.random.randn(60, 3)\ny = (X[:, 0] > 0).astype(int)",
            "def split(a, n):\n    return a[:n], a[n:]",
            "unrelated = 5\nprint(unrelated)",
            "X_train, X_test = split(X, 40)\ny_train, y_test = split(y, 40)",
            "model = LogisticRegression(C=0.5)",
            "model.fit(X_train, y_train)",
            "X_test.shape",
            "%%track fit\nacc = model.score(X_test, y_test)",
        ],
    )
    sliced = _slice(last_run)
    assert [c.count for c in sliced.cells] == [1, 2, 3, 5, 6, 7]  # not the print or the shape display
    assert sliced.cells[-1].source == "model.fit(X_train, y_train)"  # a fit changes the model in place
    assert sliced.magic == "%%track fit" and sliced.code == "acc = model.score(X_test, y_test)"
    assert sliced.unresolved == []


def test_cells_that_raised_are_left_out_and_a_later_binding_wins(shell, last_run):
    _run_cells(
        shell,
        [
            "rate = 0.1",
            "rate = 0.2",
            "rate = float('not a number')\n",  # raises: rate is still 0.2 (a frontend may send the newline)
            "%%track uses-rate\nscaled = rate * 10",
        ],
    )
    sliced = _slice(last_run)
    assert [c.source for c in sliced.cells] == ["rate = 0.2"]


def test_earlier_tracked_cells_and_time_magics_count_by_their_code(shell, last_run):
    _run_cells(
        shell,
        [
            "%%track prepare\nbase = 3",
            "%time factor = base * 2",
            "%%track use\nresult = factor + 1",
        ],
    )
    sliced = _slice(last_run)
    assert [c.source for c in sliced.cells] == ["%%track prepare\nbase = 3", "%time factor = base * 2"]
    # re-executing it must not record the earlier tracked cell as a run of its own
    assert sliced.sources() == ["base = 3", "%time factor = base * 2", "%%track use\nresult = factor + 1"]


def test_seeds_and_process_state_are_kept(shell, last_run):
    _run_cells(
        shell,
        [
            "import random",
            "random.seed(7)",
            "import os",
            "%%track draw\nvalue = random.random()",
        ],
    )
    assert [c.source for c in _slice(last_run).cells] == ["import random", "random.seed(7)"]


def test_data_versions_loaded_by_kept_cells_are_recorded(shell, last_run):
    import pandas as pd

    nbtrack.snapshot(pd.DataFrame({"a": [1, 2, 3]}), "tiny")
    _run_cells(
        shell,
        [
            "import nbtrack",
            "frame = nbtrack.load('tiny')",
            "%%track total\ntotal = int(frame['a'].sum())",
        ],
    )
    sliced = _slice(last_run)
    assert [(x["dataset"], x["version"]) for x in sliced.loads] == [("tiny", 1)]


def test_a_name_made_outside_the_history_is_unresolved(shell, last_run):
    shell.push({"injected": 4})
    _run_cells(shell, ["%%track outside\ndoubled = injected * 2"])
    assert _slice(last_run).unresolved == ["injected"]


def test_a_reset_session_does_not_mix_up_failed_cells(shell, last_run):
    _run_cells(shell, ["broken = 1 / 0"])
    shell.reset(new_session=True)  # execution counts restart at 1
    _run_cells(shell, ["width = 4", "%%track area\narea = width * 2"])
    assert [c.source for c in _slice(last_run).cells] == ["width = 4"]


def test_the_slice_is_stored_with_the_run_not_as_a_blob(shell, last_run, store):
    _run_cells(shell, ["%%track alone\nx = 1"])
    run = last_run()
    assert [a["name"] for a in run.artifacts] == []  # no fsync'd blob per tracked cell
    assert json.loads(db.session(store, run.run_id))["format"] == 1


@pytest.mark.parametrize(
    ("code", "reads", "kills", "changes"),
    [
        ("x = x + 1", {"x"}, {"x"}, set()),
        ("y = 2\nz = y * w", {"w"}, {"y", "z"}, set()),
        ("def f(a):\n    return a + g", {"g"}, {"f"}, set()),
        ("df['c'] = df['a'] * k", {"df", "k"}, set(), {"df"}),
        ("items.append(v)", {"items", "v"}, set(), {"items"}),
        ("if flag:\n    t = 1", {"flag"}, set(), set()),
        ("total += step", {"total", "step"}, set(), {"total"}),
        ("squares = [i * i for i in range(n)]", {"n", "range"}, {"squares"}, set()),
        ("model.fit(X, y).score(X, y)", {"model", "X", "y"}, set(), {"model"}),
    ],
)
def test_cell_facts(code, reads, kills, changes):
    facts = cell_facts(code)
    assert set(facts.reads) == reads
    assert set(facts.kills) == kills
    assert set(facts.changes) == changes


def test_an_earlier_tracked_cell_with_ipython_lines_still_binds_its_names(shell, last_run):
    _run_cells(
        shell,
        [
            "%%track setup\n%precision 3\nimport math\nradius = 2.0",
            "%%track area\narea = math.pi * radius**2\nfor i in range(3):\n    area += i",
        ],
    )
    sliced = _slice(last_run)
    assert [c.count for c in sliced.cells] == [1] and sliced.unresolved == []  # i is the cell's own loop variable


def test_a_name_bound_in_a_try_except_is_provided_by_that_cell(shell, last_run):
    _run_cells(
        shell,
        [
            "try:\n    from math import isqrt as root\nexcept ImportError:\n    def root(n):\n        return int(n**0.5)",
            "%%track roots\nr = root(17)",
        ],
    )
    sliced = _slice(last_run)
    assert [c.count for c in sliced.cells] == [1] and sliced.unresolved == []
