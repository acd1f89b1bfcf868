"""``nbtrack.track``: the %%track capture around a plain ``with`` block (what exported scripts use)."""

from __future__ import annotations

import pytest

import nbtrack


def test_a_block_records_what_a_track_cell_records(store, capsys):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd
    from sklearn.linear_model import Ridge

    namespace = {"df": pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "y": [1.0, 3.0, 5.0, 7.0]}), "depth": 3}
    code = "alpha = 0.5\nmodel = Ridge(alpha=alpha).fit(df[['x']], df['y'])\nscore = model.score(df[['x']], df['y'])"
    with nbtrack.track("fit", code=code, namespace=namespace, tags={"stage": "dev"}) as run:
        assert nbtrack.active_run() is run
        namespace["alpha"] = 0.5
        namespace["model"] = Ridge(alpha=0.5).fit(namespace["df"][["x"]], namespace["df"]["y"])
        namespace["score"] = namespace["model"].score(namespace["df"][["x"]], namespace["df"]["y"])
        print("fitted")
        plt.plot([1, 2, 3])
    assert "fitted" in capsys.readouterr().out  # the output still reaches the user
    record = nbtrack.get_run(run.run_id)
    assert record.status == "ok" and record.kind == "script" and record.tags == {"stage": "dev"}
    assert record.params["alpha"] == 0.5 and record.params["model"] == "Ridge"
    assert record.latest["score"] == pytest.approx(namespace["score"]) and {"_wall_s", "_cpu_s", "_peak_mem_mb"} <= set(
        record.latest
    )
    artifacts = {a["name"]: a["kind"] for a in record.artifacts}
    assert artifacts == {"model.pkl": "model", "figure-1.png": "figure", "stdout.txt": "text"}
    assert nbtrack.load_artifact(run.run_id, "stdout.txt") == b"fitted\n"
    assert [(i["name"], i["rows"]) for i in record.inputs] == [("df", 4)]
    assert record.code == code
    plt.close("all")


def test_a_failing_block_keeps_what_it_captured_and_re_raises(store):
    with pytest.raises(ZeroDivisionError), nbtrack.track("boom") as run:
        print("before the failure")
        1 / 0
    record = nbtrack.get_run(run.run_id)
    assert record.status == "failed" and record.error["type"] == "ZeroDivisionError"
    assert nbtrack.load_artifact(run.run_id, "stdout.txt") == b"before the failure\n"
    assert nbtrack.active_run() is None


def test_explicit_params_override_inferred_ones_and_bad_ones_are_refused(store):
    with nbtrack.track(code="lr = 0.1", namespace={}, params={"lr": 0.2, "depth": 3}) as run:
        pass
    assert nbtrack.get_run(run.run_id).params == {"lr": 0.2, "depth": 3}
    with pytest.raises(nbtrack.NbtrackError), nbtrack.track(params={"f": object()}):
        pass


def test_the_readme_script_one_liner_finds_its_block_s_code(tmp_path):
    """No `code=`: the block's source is read from the script, so params and computed metrics are recorded."""
    import subprocess
    import sys

    script = tmp_path / "train.py"
    script.write_text(
        "import nbtrack\n"
        "\n"
        "data = [1.0, 2.0, 3.0]\n"
        'with nbtrack.track("baseline", namespace=globals()):\n'
        "    n_estimators = 100\n"
        "    score = sum(data) / n_estimators\n"
        "    print(score)\n"
        'print("after")\n'
    )
    env = {**__import__("os").environ, "NBTRACK_HOME": str(tmp_path / ".nbtrack")}
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    from nbtrack.store import Store

    record = nbtrack.get_run("baseline", store=Store.open(tmp_path / ".nbtrack"))
    assert record.code == "n_estimators = 100\nscore = sum(data) / n_estimators\nprint(score)\n"
    assert record.params == {"data": [1.0, 2.0, 3.0], "n_estimators": 100}
    assert record.latest["score"] == pytest.approx(0.06)
    assert record.source_path == str(script)


def test_the_block_code_is_the_body_of_the_innermost_with_and_exec_records_none(store):
    def fit(rows):
        with (
            open(__file__) as _,
            nbtrack.track(
                "inner",
                namespace={"rows": rows},
            ) as run,
        ):
            width = 3
            print(width * rows)
        return run

    run = fit(2)
    assert nbtrack.get_run(run.run_id).code == "width = 3\nprint(width * rows)\n"

    namespace = {"nbtrack": nbtrack}
    exec('with nbtrack.track("from-exec", namespace=globals()) as run:\n    x = 1\n', namespace)
    record = nbtrack.get_run("from-exec")
    assert record.status == "ok" and record.code is None  # no source to read: nothing invented
