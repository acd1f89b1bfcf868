"""%%track on a real InteractiveShell: what one execution records, checked in user_ns and the store."""

from __future__ import annotations

import pytest

import nbtrack


def count_runs() -> int:
    return len(nbtrack.runs())


def test_literal_assignments_are_params_and_computed_numbers_are_metrics(shell, run_ok, last_run):
    run_ok("import numpy as np")
    run_ok(
        "%%track baseline\nlr = 0.1\nepochs = 3\nneg = -2.5\nname = 'rf'\nflag = True\nnothing = None\n"
        "layers = [64, 32]\nopts = {'a': [1, 2], 'b': None}\npair = (1, 'x')\n"
        "acc = np.float64(0.9)\nsteps = epochs * 10\nratio = lr / 2\nbig = np.int64(7)\nis_good = acc > 0.5\n"
        "text = name.upper()"
    )
    assert shell.user_ns["steps"] == 30  # the cell really ran in the user's namespace
    run = last_run()
    assert run.name == "baseline" and run.status == "ok" and run.kind == "cell"
    assert run.params == {
        "lr": 0.1,
        "epochs": 3,
        "neg": -2.5,
        "name": "rf",
        "flag": True,
        "nothing": None,
        "layers": [64, 32],
        "opts": {"a": [1, 2], "b": None},
        "pair": (1, "x"),  # exactly the tuple the cell bound
    }
    metrics = {k: v for k, v in run.latest.items() if not k.startswith("_")}
    assert metrics == {"acc": 0.9, "steps": 30.0, "ratio": 0.05, "big": 7.0}  # no bool, no str
    assert run.code.startswith("lr = 0.1") and "text = name.upper()" in run.code


def test_literals_the_cell_reads_from_a_config_cell_are_params(shell, run_ok, last_run):
    run_ok("depth = 4\nfeatures = ['a', 'b']\nunused = 99\nimport math")
    run_ok("%%track\nscore = depth * len(features) + math.pi")
    assert last_run().params == {"depth": 4, "features": ["a", "b"]}


def test_rerunning_a_cell_makes_a_new_run_each_time(shell, run_ok):
    for _ in range(3):
        run_ok("%%track same\nx = 1\ny = x + 1")
    frame = nbtrack.runs()
    assert len(frame) == 3 and frame.run_id.is_unique and set(frame.name) == {"same"}


def test_code_execution_count_cell_id_and_notebook_path_are_recorded(shell, last_run, monkeypatch):
    monkeypatch.setenv("JPY_SESSION_NAME", "/home/ana/churn.ipynb")
    result = shell.run_cell("%%track\nv = 1", store_history=True, cell_id="cell-abc-123")
    result.raise_error()
    run = last_run()
    assert run.source_cell == "cell-abc-123"
    assert run.source_path == "/home/ana/churn.ipynb"
    assert run.execution_count == result.execution_count
    assert run.code == "v = 1"


def test_params_and_metrics_options_override_the_rules(shell, run_ok, last_run):
    run_ok("threshold = 0.5\nlabels = {'pos': 1}")
    run_ok(
        "%%track --params labels,computed --metrics acc,count\n"
        "computed = 'x' * 3\nacc = threshold + 0.4\ncount = 12\nloss = 0.3"
    )
    run = last_run()
    assert run.params["labels"] == {"pos": 1} and run.params["computed"] == "xxx"
    assert {k for k in run.latest if not k.startswith("_")} == {"acc", "count"}  # loss left out


def test_log_metric_inside_the_cell_keeps_steps_and_start_run_makes_a_child(shell, run_ok, last_run):
    run_ok(
        "%%track parent\nimport nbtrack\nfor step in range(4):\n    nbtrack.log_metric('loss', 1 / (step + 1), step=step)\n"
        "with nbtrack.start_run('inner') as child:\n    child.log_metric('acc', 0.5)\nchild_id = child.run_id"
    )
    frame = nbtrack.runs()
    parent = nbtrack.get_run(frame[frame.name == "parent"].run_id.iloc[0])
    assert list(parent.metric("loss")) == [1.0, 0.5, 1 / 3, 0.25]
    assert parent.children == [shell.user_ns["child_id"]]
    assert nbtrack.get_run(shell.user_ns["child_id"]).parent_id == parent.run_id


def test_sklearn_fits_are_recorded_once_at_top_level_with_prefixed_params_and_a_model(shell, run_ok, last_run):
    run_ok("from sklearn.datasets import make_classification\nX, y = make_classification(n_samples=80, random_state=0)")
    run_ok(
        "%%track\nfrom sklearn.pipeline import make_pipeline\nfrom sklearn.preprocessing import StandardScaler\n"
        "from sklearn.linear_model import LogisticRegression\nfrom sklearn.model_selection import GridSearchCV\n"
        "search = GridSearchCV(make_pipeline(StandardScaler(), LogisticRegression()),\n"
        "                      {'logisticregression__C': [0.1, 1.0]}, cv=2)\nsearch.fit(X, y)\nbest = search.best_score_"
    )
    run = last_run()
    models = [a for a in run.artifacts if a["kind"] == "model"]
    assert [a["name"] for a in models] == ["search.pkl"]  # the inner pipeline/scaler/regression fits are not extra runs
    assert run.params["search"] == "GridSearchCV"
    assert run.params["search.cv"] == 2 and run.params["search.estimator"] == "Pipeline"
    assert run.params["search.estimator__logisticregression__C"] == 1.0
    with pytest.raises(nbtrack.errors.UntrustedArtifactError):
        nbtrack.load_artifact(run.run_id, "search.pkl")
    loaded = nbtrack.load_artifact(run.run_id, "search.pkl", trusted=True)
    assert loaded.predict(shell.user_ns["X"]).tolist() == shell.user_ns["search"].predict(shell.user_ns["X"]).tolist()
    assert "best" in run.latest


def test_fit_patching_is_undone_after_the_cell(shell, run_ok, last_run):
    run_ok("from sklearn.tree import DecisionTreeClassifier")
    fit_before = shell.user_ns["DecisionTreeClassifier"].fit
    run_ok("%%track\nclf = DecisionTreeClassifier(max_depth=2).fit([[0], [1]], [0, 1])")
    assert shell.user_ns["DecisionTreeClassifier"].fit is fit_before
    assert last_run().params["clf.max_depth"] == 2
    run_ok("other = DecisionTreeClassifier().fit([[0], [1]], [0, 1])")  # untracked: nothing recorded
    assert count_runs() == 1


def test_no_autolog_option(shell, run_ok, last_run):
    run_ok(
        "%%track --no-autolog\nfrom sklearn.tree import DecisionTreeClassifier\n"
        "clf = DecisionTreeClassifier().fit([[0], [1]], [0, 1])"
    )
    run = last_run()
    assert not [a for a in run.artifacts if a["kind"] == "model"] and "clf" not in run.params


def test_figures_are_saved_as_png_in_display_order_and_stay_visible(shell, run_ok, last_run):
    run_ok("import matplotlib.pyplot as plt\nold = plt.figure(); plt.plot([0, 1])")
    run_ok(
        "%%track\nfirst = plt.figure(); plt.plot([1, 2, 3])\nclosed = plt.figure(); plt.bar([1], [2]); plt.close(closed)\n"
        "second = plt.figure(); plt.scatter([1], [1])"
    )
    run = last_run()
    figures = [a for a in run.artifacts if a["kind"] == "figure"]
    assert [a["name"] for a in figures] == ["figure-1.png", "figure-2.png", "figure-3.png"]
    for artifact in figures:
        assert nbtrack.load_artifact(run.run_id, artifact["name"]).startswith(b"\x89PNG")
        assert artifact["media_type"] == "image/png"
    import matplotlib.pyplot as plt

    # the closed figure came first (it went away first); the untouched figure from before is not saved;
    # the figures still open stay open for the backend to show
    assert plt.fignum_exists(shell.user_ns["first"].number) and plt.fignum_exists(shell.user_ns["second"].number)
    run_ok("%%track --no-figures\nthird = plt.figure(); plt.plot([1])")
    assert not [a for a in last_run().artifacts if a["kind"] == "figure"]


def test_printed_output_is_shown_and_stored_with_a_bounded_tail(shell, run_ok, last_run, capsys):
    run_ok("%%track\nimport sys\nprint('hello out')\nprint('warn err', file=sys.stderr)")
    seen = capsys.readouterr()
    assert "hello out" in seen.out and "warn err" in seen.err  # still shown to the user
    run = last_run()
    assert nbtrack.load_artifact(run.run_id, "stdout.txt").decode() == "hello out\n"
    assert nbtrack.load_artifact(run.run_id, "stderr.txt").decode() == "warn err\n"
    run_ok("%config TrackMagics.max_output_bytes = 100")
    run_ok("%%track\nfor i in range(200):\n    print(f'line {i:04d}')")
    text = nbtrack.load_artifact(last_run().run_id, "stdout.txt").decode()
    assert text.endswith("line 0199\n") and "line 0000" not in text and "earlier characters not kept" in text
    assert len(text) < 200
    assert "line 0000" in capsys.readouterr().out  # the user still saw everything


def test_dataframes_read_are_inputs_and_dataframes_bound_are_outputs(shell, run_ok, last_run):
    from nbtrack.data import fingerprint

    run_ok("import pandas as pd\nraw = pd.DataFrame({'a': [1, 2, 3], 'b': ['x', 'y', 'z']})")
    run_ok("%%track\nclean = raw[raw.a > 1].reset_index(drop=True)\nn = len(clean)")
    run = last_run()
    assert run.inputs == [
        {
            "fingerprint": fingerprint(shell.user_ns["raw"]),
            "dataset": None,
            "version": None,
            "name": "raw",
            "rows": 3,
            "columns": 2,
        }
    ]
    assert [(d["name"], d["rows"], d["fingerprint"]) for d in run.outputs] == [
        ("clean", 2, fingerprint(shell.user_ns["clean"]))
    ]


def test_wall_cpu_and_peak_memory_are_metrics(shell, run_ok, last_run):
    run_ok("%%track\nimport numpy as np, time\nblock = np.ones(60 * 2**20 // 8)\ntime.sleep(0.05)\ndel block")
    latest = last_run().latest
    assert latest["_wall_s"] >= 0.05 and latest["_cpu_s"] >= 0
    assert latest["_peak_mem_mb"] >= 50  # the 60 MiB block was seen although it was freed


def test_failing_cell_records_the_error_and_the_user_sees_the_normal_exception(shell, last_run, capsys):
    result = shell.run_cell("%%track\nstarted = 1\nprint('before')\nraise ValueError('bad input')\nnot_reached = 2")
    assert isinstance(result.error_in_exec, ValueError) and str(result.error_in_exec) == "bad input"
    assert not result.success  # the kernel replies "error", so papermill/nbclient stop here
    assert shell.user_ns["started"] == 1 and "not_reached" not in shell.user_ns
    out = capsys.readouterr().out
    assert "ValueError" in out and "bad input" in out and "run_cell_magic" not in out
    run = last_run()
    assert run.status == "failed"
    assert run.error["type"] == "ValueError" and run.error["message"] == "bad input"
    assert "raise ValueError('bad input')" in run.error["traceback"]
    assert run.params == {"started": 1, "not_reached": 2}  # literal params are known before the cell runs
    assert nbtrack.load_artifact(run.run_id, "stdout.txt").decode() == "before\n"  # kept up to the failure


def test_keyboard_interrupt_in_the_cell_marks_the_run_interrupted(shell, last_run):
    result = shell.run_cell("%%track\nx = 1\nraise KeyboardInterrupt")
    assert isinstance(result.error_in_exec, KeyboardInterrupt)
    assert last_run().status == "interrupted"


@pytest.mark.parametrize(
    "line, message",
    [
        ("--bogus", "unrecognized arguments"),
        ("-t stage", "is not key=value"),
        ("--params thing", "cannot be stored exactly"),
        ("--params nowhere", "does not assign it and it is not defined"),
    ],
)
def test_bad_input_is_a_usage_error_and_nothing_runs(shell, line, message, capsys):
    shell.run_cell("thing = object()")
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match=message):
        shell.run_cell_magic("track", line, "side_effect = 1\nacc = 0.5")
    assert "side_effect" not in shell.user_ns
    assert count_runs() == 0


def test_summary_line_and_quiet(shell, run_ok, capsys):
    run_ok("%%track\nacc = 0.9 + 0.01\nloss = 0.1 * 2")
    out = capsys.readouterr().out
    (line,) = [l for l in out.splitlines() if l.startswith("nbtrack: run")]
    short = nbtrack.runs().run_id[0][-8:]
    assert short in line and "acc=0.91" in line and "loss=0.2" in line and "s " in line
    run_ok("%%track --quiet\nacc = 1.0")
    assert "nbtrack:" not in capsys.readouterr().out
    run_ok("%config TrackMagics.quiet = True")
    run_ok("%%track\nacc = 1.0")
    assert "nbtrack:" not in capsys.readouterr().out


def test_experiment_and_tags(shell, run_ok, last_run):
    run_ok("%%track -e churn -t stage=dev owner=ana -t note=a=b\nx = 1")
    run = last_run()
    assert run.experiment == "churn" and run.tags == {"stage": "dev", "owner": "ana", "note": "a=b"}
    run_ok("%config TrackMagics.experiment = 'fraud'")
    run_ok("%%track\nx = 2")
    assert last_run().experiment == "fraud"


def test_help_documents_both_forms(shell):
    doc = shell.find_cell_magic("track").__doc__
    for text in (
        "%%track",
        "%track runs",
        "%track show RUN",
        "%track compare",
        "--params",
        "--metrics",
        "--no-figures",
        "--no-autolog",
        "--quiet",
        "trusted=True",
        "_peak_mem_mb",
    ):
        assert text in doc, text
    assert shell.find_line_magic("track").__doc__ == doc


def test_unparseable_value_of_a_literal_is_skipped_with_a_note(shell, run_ok, last_run, capsys):
    run_ok("%%track\ncodes = {1: 'a'}\nok = 1")
    run = last_run()
    assert "codes" not in run.params and run.params["ok"] == 1
    assert "codes" in capsys.readouterr().out  # the note says so


def test_load_ext_is_light(tmp_path):
    """%load_ext nbtrack must not import pandas, matplotlib, sklearn or pyarrow (a cell pays only for what it uses)."""
    import subprocess
    import sys

    code = (
        "import sys\nfrom IPython.core.interactiveshell import InteractiveShell\n"
        "InteractiveShell.instance().run_line_magic('load_ext', 'nbtrack')\n"
        "print(sorted(m for m in ('pandas', 'matplotlib', 'sklearn', 'pyarrow', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_params_named_explicitly_but_computed_are_read_after_the_cell(shell, run_ok, last_run, capsys):
    run_ok("%%track --params label,handle\nlabel = 'run-' + str(3)\nhandle = object()")
    run = last_run()
    assert run.params["label"] == "run-3" and "handle" not in run.params
    assert "--params handle: object value cannot be stored exactly" in capsys.readouterr().out
    assert "handle" in run.tags["nbtrack.notes"]


def test_a_cell_with_ipython_syntax_is_tracked(shell, run_ok, last_run):
    run_ok("%%track\nfiles = !echo a b\nsize = len(files)\n%time total = size * 2")
    run = last_run()
    assert run.status == "ok" and run.latest["size"] == 1.0 and run.code.startswith("files = !echo")


def test_a_syntax_error_fails_the_run_like_an_untracked_cell(shell, last_run):
    result = shell.run_cell("%%track\nx = = 1")
    assert isinstance(result.error_before_exec, SyntaxError) or isinstance(result.error_in_exec, SyntaxError)
    assert last_run().status == "failed" and last_run().error["type"] == "SyntaxError"
