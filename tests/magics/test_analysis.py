"""The static rules that decide params, metric candidates and reads (docs/tracking.md, "Params"/"Metrics")."""

from __future__ import annotations

import pytest

from nbtrack.capture.analysis import analyse, is_param_literal


def test_literal_assignments_in_all_their_forms():
    found = analyse(
        "a = 1\nb: float = -2.5\nc, d = 'x', None\ne = f = [1, (2, 3)]\n"
        "g = {'k': {'n': True}}\nif flag:\n    h = 'inside if'\nwith ctx():\n    i = 3\n"
    )
    assert found.literals == {
        "a": 1,
        "b": -2.5,
        "c": "x",
        "d": None,
        "e": [1, (2, 3)],
        "f": [1, (2, 3)],
        "g": {"k": {"n": True}},
        "h": "inside if",
        "i": 3,
    }


def test_names_also_computed_are_not_literals_but_are_bound():
    found = analyse("best = 0\nfor s in scores:\n    best = max(best, s)\ntotal = 0\ntotal += 5\nn = len(x)")
    assert found.literals == {}
    assert found.bound == ["best", "total", "n"]  # loop targets (s) are not bound results


def test_non_storable_literals_are_reported_not_taken():
    found = analyse("s = {1, 2}\nb = b'x'\nk = {1: 'a'}\nz = 1j\nok = 2")
    assert found.literals == {"ok": 2}
    assert found.skipped == ["s", "b", "k", "z"]


def test_functions_classes_and_comprehensions_do_not_bind_at_top_level():
    found = analyse(
        "def f(p):\n    inner = 1\n    return p + g\nclass C:\n    attr = 2\n"
        "sq = [v * v for v in values]\nlam = lambda q: q + w\n"
    )
    assert found.literals == {}
    assert found.bound == ["sq", "lam"]
    assert found.reads == ["g", "values", "w"]  # globals read by the function, comprehension, lambda


def test_reads_are_names_used_before_the_cell_binds_them():
    found = analyse(
        "x = x + 1\ny = 2\nz = y * depth\nimport math\nr = math.pi\n"
        "for i in range(n):\n    use(i)\ntry:\n    pass\nexcept Exception as err:\n    log(err)\n"
    )
    assert found.reads == ["x", "depth", "range", "n", "use", "Exception", "log"]


def test_walrus_binds_at_top_level():
    found = analyse("if (m := compute()) > 0:\n    pass\nvals = [(t := v) for v in data]")
    assert "m" in found.bound and "t" not in found.bound


@pytest.mark.parametrize(
    "value, expected",
    [
        (1, True),
        (-1.5, True),
        ("s", True),
        (None, True),
        (True, True),
        ([1, "a", None], True),
        ({"a": [1, {"b": 2}]}, True),
        ((1, 2), True),
        ({1: 2}, False),
        ({1, 2}, False),
        (b"x", False),
        (list(range(300)), False),
        ("x" * 2000, False),
        (object(), False),
    ],
)
def test_what_counts_as_a_param_value(value, expected):
    assert is_param_literal(value) is expected
