"""snapshot(expect=<pandera schema>): failing versions are refused with every failing check, nothing written."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pandera.pandas as pa
import pytest

import nbtrack
from nbtrack.data import DataValidationError

SCHEMA = pa.DataFrameSchema(
    {
        "id": pa.Column(int, unique=True),
        "age": pa.Column(int, pa.Check.in_range(0, 120)),
        "email": pa.Column(str, pa.Check.str_contains("@")),
    }
)


def _objects(store) -> list:
    return sorted(p.name for p in (store.root / "objects").rglob("*") if p.is_file())


def test_a_failing_version_lists_column_check_and_examples_and_writes_nothing(store):
    good = pd.DataFrame({"id": [1, 2, 3], "age": [30, 40, 50], "email": ["a@x", "b@x", "c@x"]})
    v1 = nbtrack.snapshot(good, "people", expect=SCHEMA, store=store)
    objects = _objects(store)
    bad = pd.DataFrame({"id": [1, 1, 3], "age": [30, 200, -1], "email": ["a@x", "nope", "c@x"]})
    with pytest.raises(DataValidationError) as caught:
        nbtrack.snapshot(bad, "people", expect=SCHEMA, store=store)
    failures = {(column, check): detail for column, check, detail in caught.value.failures}
    assert failures == {
        ("id", "field_uniqueness"): "2 failing value(s): 1, 1",
        ("age", "in_range(0, 120)"): "2 failing value(s): 200, -1",
        ("email", "str_contains('@')"): "1 failing value(s): 'nope'",
    }
    assert "age: in_range(0, 120) (2 failing value(s): 200, -1)" in str(caught.value)
    assert nbtrack.versions("people", store=store)["version"].tolist() == [v1.version]
    assert _objects(store) == objects


def test_a_model_class_and_a_missing_column_are_reported(store):
    class Orders(pa.DataFrameModel):
        qty: int = pa.Field(ge=0)
        price: float

    with pytest.raises(DataValidationError) as caught:
        nbtrack.snapshot(pd.DataFrame({"qty": [1, -5]}), "orders", expect=Orders, store=store)
    assert set(caught.value.failures) == {
        ("price", "exists", "no such column"),
        ("qty", "greater_than_or_equal_to(0)", "1 failing value(s): -5"),
    }
    v = nbtrack.snapshot(pd.DataFrame({"qty": [1, 5], "price": [1.0, 2.5]}), "orders", expect=Orders, store=store)
    assert v.version == 1


def test_known_content_is_still_checked(store):
    df = pd.DataFrame({"id": [1, 2], "age": [30, 300], "email": ["a@x", "b@x"]})
    nbtrack.snapshot(df, "again", store=store)  # stored once without checks
    with pytest.raises(DataValidationError, match="in_range"):
        nbtrack.snapshot(df, "again", expect=SCHEMA, store=store)


def test_expect_of_another_type_names_the_two_forms(store):
    with pytest.raises(nbtrack.errors.InvalidValueError, match="dict of built-in checks.*pandera"):
        nbtrack.snapshot(pd.DataFrame({"a": [1]}), "t", expect=["a"], store=store)


def test_import_nbtrack_and_builtin_checks_never_import_pandera(store_root):
    script = f"""
import sys
import pandas as pd
import nbtrack
from nbtrack.store import Store
nbtrack.snapshot(pd.DataFrame({{"a": [1, 2]}}), "t", expect={{"a": {{"unique": True}}}}, store=Store.open({str(store_root)!r}))
print("pandera" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
