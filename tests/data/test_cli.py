"""`nbtrack data ...` through click's CliRunner against a real store."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from click.testing import CliRunner

import nbtrack
from nbtrack.cli import main


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_list_versions_show_diff_export(store, tmp_path):
    nbtrack.snapshot(pd.DataFrame({"id": [1, 2], "v": [1.0, 2.0]}), "tiny", key="id", message="first", store=store)
    nbtrack.snapshot(pd.DataFrame({"id": [1, 3], "v": [1.5, 3.0]}), "tiny", key="id", store=store)
    listing = run("data", "list", "--format", "json")
    assert listing.exit_code == 0 and json.loads(listing.output)[0]["name"] == "tiny"
    versions = run("data", "versions", "tiny")
    assert versions.exit_code == 0 and "first" in versions.output
    shown = run("data", "show", "tiny@1")
    assert shown.exit_code == 0 and "tiny@1: 2 rows x 2 columns" in shown.output
    diffed = run("data", "diff", "tiny", "1", "2", "--format", "json")
    assert json.loads(diffed.output)["rows"]["changed"] == 1
    assert "+1 -1 ~1 changed" in run("data", "diff", "tiny", "1", "2").output
    target = tmp_path / "out.parquet"
    exported = run("data", "export", "tiny", "-v", "1", "-o", str(target))
    assert exported.exit_code == 0
    pd.testing.assert_frame_equal(pd.read_parquet(target), pd.DataFrame({"id": [1, 2], "v": [1.0, 2.0]}))


def test_drift_exits_non_zero_when_a_column_is_flagged(store):
    rng = np.random.default_rng(0)
    nbtrack.snapshot(pd.DataFrame({"x": rng.normal(size=3000)}), "d", store=store)
    nbtrack.snapshot(pd.DataFrame({"x": rng.normal(loc=3, size=3000)}), "d", store=store)
    flagged = run("data", "drift", "d@2", "--against", "1")
    assert flagged.exit_code == 1 and "x PSI=" in flagged.output
    calm = run("data", "drift", "d@1", "--against", "d@1", "--format", "json")
    assert calm.exit_code == 0 and json.loads(calm.output)["flagged"] == []


def test_drift_that_cannot_run_exits_2_not_1_so_it_is_not_taken_for_drift(store):
    nbtrack.snapshot(pd.DataFrame({"x": [1.0, 2.0]}), "d", store=store)
    with nbtrack.start_run("trained on nothing stored", store=store) as started:
        pass
    no_input = CliRunner().invoke(main, ["data", "drift", "d", "--against", started.run_id])
    assert no_input.exit_code == 2 and "read no stored data version" in no_input.output
    assert "Traceback" not in no_input.output
    assert CliRunner().invoke(main, ["data", "drift", "nope", "--against", "d@1"]).exit_code == 2


def test_unknown_dataset_is_a_one_line_error(store):
    result = CliRunner().invoke(main, ["data", "show", "nope"])
    assert result.exit_code == 1 and "No dataset named 'nope'" in result.output
    assert "Traceback" not in result.output
