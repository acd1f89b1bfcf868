"""Issue 19: precision without losing recall, and lineage by what the code did.

Every case runs on a real IPython shell with real scikit-learn, pandas and matplotlib; each is a cell
(or a shape of cell) that recorded something spurious, missed something, or recorded lineage backwards.
"""

from __future__ import annotations

import nbtrack

SETUP = (
    "import numpy as np\nimport matplotlib.pyplot as plt\n"
    "from sklearn.datasets import make_blobs\n"
    "X, y = make_blobs(n_samples=150, centers=3, random_state=1)"
)


def user_metrics(run) -> dict:
    return {k: v for k, v in run.latest.items() if not k.startswith("_")}


def model_names(run) -> list[str]:
    return [a["name"] for a in run.artifacts if a["kind"] == "model"]


# -- models ------------------------------------------------------------------------------------------
def test_estimators_fitted_inside_library_calls_are_not_models(shell, run_ok, last_run):
    run_ok(SETUP)
    run_ok(
        "%%track\nfrom sklearn.linear_model import LogisticRegression\nfrom sklearn.tree import DecisionTreeClassifier\n"
        "from sklearn.cluster import KMeans\n"
        "from sklearn.metrics import classification_report, log_loss, silhouette_score\n"
        "clf = LogisticRegression(max_iter=500).fit(X, y)\n"
        "report = classification_report(y, clf.predict(X))\n"
        "ll = log_loss(y, clf.predict_proba(X))\n"
        "labels = KMeans(n_clusters=3, n_init=2, random_state=0).fit_predict(X)\n"
        "sil = silhouette_score(X, labels)\n"
        "tree = DecisionTreeClassifier(random_state=0)\n"
        "path = tree.cost_complexity_pruning_path(X, y)\n"
    )
    run = last_run()
    assert model_names(run) == ["clf.pkl"]  # no LabelEncoder/LabelBinarizer, no pruning-path clone
    assert not [k for k in run.params if k.startswith(("labelencoder", "labelbinarizer", "decisiontree"))]
    assert {"ll", "sil"} <= set(user_metrics(run))


def test_a_loop_of_fits_keeps_the_named_final_model_and_counts_the_fits(shell, run_ok, last_run):
    run_ok(SETUP)
    run_ok(
        "%%track\nfrom sklearn.tree import DecisionTreeClassifier\ntrain_scores = []\n"
        "for size in range(20, 140, 10):\n"
        "    model = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X[:size], y[:size])\n"
        "    train_scores.append(model.score(X[:size], y[:size]))\n"
    )
    run = last_run()
    assert model_names(run) == ["model.pkl"]
    assert run.latest["_fits"] == 12
    assert "fitted 12 estimators" in run.tags["nbtrack.notes"]


def test_models_kept_in_a_container_the_cell_binds_are_recorded(shell, run_ok, last_run):
    run_ok(SETUP)
    run_ok(
        "%%track\nfrom sklearn.linear_model import LogisticRegression\nfrom sklearn.tree import DecisionTreeClassifier\n"
        "models = {'lr': LogisticRegression(max_iter=500), 'tree': DecisionTreeClassifier(random_state=0)}\n"
        "for key, m in models.items():\n    m.fit(X, y)\n"
    )
    assert sorted(model_names(last_run())) == ["models_lr.pkl", "models_tree.pkl"]


def test_models_in_a_list_of_labelled_pairs_are_recorded_by_label(shell, run_ok, last_run):
    run_ok(SETUP)
    run_ok(
        "%%track\nfrom sklearn.linear_model import LogisticRegression\nfrom sklearn.tree import DecisionTreeClassifier\n"
        "classifiers = [('lr', LogisticRegression(max_iter=500)), ('tree', DecisionTreeClassifier(random_state=0))]\n"
        "for label, clf in classifiers:\n    clf.fit(X, y)\n    print(label, clf.score(X, y))\n"
    )
    run = last_run()
    assert sorted(model_names(run)) == ["classifiers_lr.pkl", "classifiers_tree.pkl"]
    assert run.params["classifiers_lr"] == "LogisticRegression" and "_fits" not in run.latest


def test_the_cells_displayed_estimator_is_a_model(shell, run_ok, last_run):
    run_ok(SETUP)
    run_ok("%%track\nfrom sklearn.linear_model import LogisticRegression\nLogisticRegression(max_iter=500).fit(X, y)")
    assert model_names(last_run()) == ["logisticregression_out.pkl"]


def test_max_models_caps_the_models_recorded(shell, run_ok, last_run):
    run_ok(SETUP)
    run_ok(
        "%%track --max-models 2\nfrom sklearn.tree import DecisionTreeClassifier\n"
        "a = DecisionTreeClassifier(max_depth=1).fit(X, y)\nb = DecisionTreeClassifier(max_depth=2).fit(X, y)\n"
        "c = DecisionTreeClassifier(max_depth=3).fit(X, y)\n"
    )
    run = last_run()
    assert model_names(run) == ["a.pkl", "b.pkl"]
    assert "c left out" in run.tags["nbtrack.notes"] and "c" not in run.params


def test_a_fitted_search_records_its_best_score_and_best_params(shell, run_ok, last_run):
    run_ok(SETUP)
    run_ok(
        "%%track\nfrom sklearn.model_selection import GridSearchCV, RandomizedSearchCV\n"
        "from sklearn.tree import DecisionTreeClassifier\n"
        "grid = GridSearchCV(DecisionTreeClassifier(random_state=0), {'max_depth': [1, 3]}, cv=3).fit(X, y)\n"
        "rand = RandomizedSearchCV(DecisionTreeClassifier(random_state=0), {'min_samples_leaf': [1, 5]},\n"
        "                          n_iter=2, cv=3, random_state=0).fit(X, y)\n"
    )
    run = last_run()
    grid, rand = shell.user_ns["grid"], shell.user_ns["rand"]
    assert run.latest["grid.best_score"] == grid.best_score_
    assert run.params["grid.best_params.max_depth"] == grid.best_params_["max_depth"]
    assert run.latest["rand.best_score"] == rand.best_score_
    assert run.params["rand.best_params.min_samples_leaf"] == rand.best_params_["min_samples_leaf"]
    assert sorted(model_names(run)) == ["grid.pkl", "rand.pkl"]


# -- metrics -----------------------------------------------------------------------------------------
SILHOUETTE = """%%track
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_samples, silhouette_score
for n_clusters in [2, 3]:
    fig, (ax1, ax2) = plt.subplots(1, 2)
    clusterer = KMeans(n_clusters=n_clusters, n_init=2, random_state=10)
    cluster_labels = clusterer.fit_predict(X)
    silhouette_avg = silhouette_score(X, cluster_labels)
    print("n_clusters =", n_clusters, "average silhouette:", silhouette_avg)
    sample_silhouette_values = silhouette_samples(X, cluster_labels)
    y_lower = 10
    for i in range(n_clusters):
        ith = sample_silhouette_values[cluster_labels == i]
        ith.sort()
        size_cluster_i = ith.shape[0]
        y_upper = y_lower + size_cluster_i
        ax1.fill_betweenx(np.arange(y_lower, y_upper), 0, ith)
        ax1.text(-0.05, y_lower + 0.5 * size_cluster_i, str(i))
        y_lower = y_upper + 10
    ax1.axvline(x=silhouette_avg, color="red")
"""


def test_loop_temporaries_and_plot_geometry_are_not_metrics(shell, run_ok, last_run):
    run_ok(SETUP)
    run_ok(SILHOUETTE)
    assert user_metrics(last_run()).keys() == {"silhouette_avg"}  # not y_lower, y_upper, size_cluster_i


def test_plot_limits_are_not_metrics_but_the_score_is(shell, run_ok, last_run):
    run_ok(SETUP)
    run_ok(
        "%%track\nfrom sklearn.linear_model import LogisticRegression\n"
        "clf = LogisticRegression(max_iter=500).fit(X, y)\nacc = clf.score(X, y)\nh = 0.5\n"
        "x_min, x_max = X[:, 0].min() - 1, X[:, 0].max() + 1\ny_min, y_max = X[:, 1].min() - 1, X[:, 1].max() + 1\n"
        "xx, yy = np.meshgrid(np.arange(x_min, x_max, h), np.arange(y_min, y_max, h))\n"
        "Z = clf.predict(np.c_[xx.ravel(), yy.ravel()]).reshape(xx.shape)\n"
        "plt.contourf(xx, yy, Z, alpha=0.5)\nplt.scatter(X[:, 0], X[:, 1], c=y)\n"
        "lo, hi = plt.gca().get_ylim()\nplt.ylim(lo - 1, hi + 1)\nplt.xlim(x_min, x_max)\n"
    )
    assert user_metrics(last_run()).keys() == {"acc"}


def test_counters_and_per_iteration_values_a_loop_collects_are_not_metrics(shell, run_ok, last_run):
    run_ok(SETUP)
    run_ok(
        "%%track\nfrom sklearn.model_selection import KFold\nfrom sklearn.tree import DecisionTreeClassifier\n"
        "train_acc, valid_acc = [], []\ni = 0\n"
        "for train_idx, valid_idx in KFold(3).split(X):\n"
        "    m = DecisionTreeClassifier(max_depth=2, random_state=0).fit(X[train_idx], y[train_idx])\n"
        "    tr = m.score(X[train_idx], y[train_idx])\n    va = m.score(X[valid_idx], y[valid_idx])\n"
        "    train_acc.append(tr)\n    valid_acc.append(va)\n    i += 1\n"
        "mean_valid = float(np.mean(valid_acc))\n"
    )
    run = last_run()
    assert user_metrics(run).keys() == {"mean_valid"}
    assert "train_acc" not in run.params and "valid_acc" not in run.params  # accumulators, not params


def test_clock_readings_are_not_metrics_but_durations_are(shell, run_ok, last_run):
    run_ok(
        "%%track\nimport time\nimport datetime\nt0 = time.time()\nstart_time = time.perf_counter()\nstamp_s = int(time.time())\n"
        "stamp = datetime.datetime.now().timestamp()\ntotal = sum(range(1000))\n"
        "elapsed = time.perf_counter() - start_time\nwall = time.time() - t0\n"
    )
    assert user_metrics(last_run()).keys() == {"total", "elapsed", "wall"}


def test_a_metric_of_an_earlier_cell_is_not_recorded_again_by_a_cell_that_does_not_bind_it(shell, last_run):
    def run(code):
        shell.run_cell(code, store_history=True).raise_error()

    run("%%track\nbest = 0.0\nfor s in [0.3, 0.7, 0.5]:\n    if s > best:\n        best = s")
    assert user_metrics(last_run()) == {"best": 0.7}  # recall: the loop's best is a metric
    run("%%track\nfor s in [0.1, 0.2]:\n    if s > best:\n        best = s\nprint(best)\nnew = best * 2")
    run_record = last_run()
    assert user_metrics(run_record) == {"new": 1.4}  # best was not bound by this cell
    assert "best" not in run_record.params  # nor is it a param: an earlier cell computed it


def test_a_name_bound_only_under_a_false_condition_is_not_recorded(shell, run_ok, last_run):
    run_ok("threshold = 0.5\nscore = 0.25 + 0.5")
    run_ok("%%track\nif threshold > 0.9:\n    score = threshold * 2\ntotal = score + 1")
    assert user_metrics(last_run()) == {"total": 1.75}  # score is the earlier cell's


def test_a_failing_cell_does_not_record_an_earlier_value_of_a_name_it_did_not_reach(shell, last_run):
    shell.run_cell("score = 0.25 + 0.5")
    shell.run_cell("%%track\nloss = 0.5 * 3\nraise ValueError('boom')\nscore = loss * 2")
    run = last_run()
    assert run.status == "failed" and user_metrics(run) == {"loss": 1.5}  # not the earlier score


def test_a_variable_named_like_a_logged_series_adds_no_point_to_it(shell, run_ok, last_run):
    run_ok(
        "%%track\nimport nbtrack\nfor epoch in range(3):\n    loss = 1.0 / (epoch + 1)\n"
        "    nbtrack.log_metric('loss', loss, step=epoch)\nloss = 123.0\n"
    )
    run = last_run()
    assert list(run.metric("loss")) == [1.0, 0.5, 1 / 3]  # the explicit series only


# -- params ------------------------------------------------------------------------------------------
def test_empty_accumulators_are_not_params(shell, run_ok, last_run):
    run_ok(
        "%%track\nclfs = []\nclassifiers = []\ntrain_rmse_hist = []\nlr = 0.1\n"
        "for k in range(3):\n    train_rmse_hist.append(k * lr)\n    clfs.append(k)\n"
    )
    assert last_run().params == {"lr": 0.1}


def test_values_computed_in_earlier_cells_are_not_params_but_config_literals_are(shell, last_run):
    for code in ("depth = 4", "acc = sum([0.25, 0.5])", "results = []"):
        shell.run_cell(code, store_history=True).raise_error()
    shell.run_cell("%%track\nprint(acc)\nscore = depth * 2\nresults.append(score)", store_history=True).raise_error()
    run = last_run()
    assert run.params == {"depth": 4}  # not acc (a result of an earlier cell), not results (filled)


# -- %time and %%time ----------------------------------------------------------------------------------
def test_a_score_assigned_on_a_time_line_is_a_metric(shell, run_ok, last_run):
    run_ok(SETUP)
    run_ok(
        "%%track\nfrom sklearn.tree import DecisionTreeClassifier\n"
        "%time model = DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y)\n"
        "%time acc = model.score(X, y)\n"
    )
    run = last_run()
    assert user_metrics(run) == {"acc": shell.user_ns["acc"]}
    assert model_names(run) == ["model.pkl"]


def test_a_time_cell_under_track_records_its_score(shell, run_ok, last_run):
    run_ok(SETUP)
    run_ok(
        "%%track\n%%time\nfrom sklearn.tree import DecisionTreeClassifier\ndepth = 2\n"
        "model = DecisionTreeClassifier(max_depth=depth, random_state=0).fit(X, y)\nacc = model.score(X, y)\n"
    )
    run = last_run()
    assert user_metrics(run) == {"acc": shell.user_ns["acc"]}
    assert run.params["depth"] == 2 and model_names(run) == ["model.pkl"]


# -- lineage -------------------------------------------------------------------------------------------
def test_a_frame_read_from_a_file_in_the_cell_is_an_input_and_a_frame_it_makes_an_output(
    shell, run_ok, last_run, tmp_path
):
    import pandas as pd

    from nbtrack.data import fingerprint

    path = tmp_path / "train.csv"
    pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0]}).to_csv(path, index=False)
    run_ok(
        f"%%track\nimport pandas as pd\ndf = pd.read_csv({str(path)!r})\n"
        "features = df.assign(x2=df.x ** 2)\nraw = pd.read_csv(" + repr(str(path)) + ")\nraw['z'] = 1\n"
    )
    run = last_run()
    ns = shell.user_ns
    assert [(i["name"], i["fingerprint"]) for i in run.inputs] == [("df", fingerprint(ns["df"]))]
    outputs = {o["name"]: o["fingerprint"] for o in run.outputs}
    assert outputs == {"features": fingerprint(ns["features"]), "raw": fingerprint(ns["raw"])}  # changed: made


def test_a_frame_loaded_from_the_store_is_an_input_and_drift_against_the_run_works(shell, run_ok, last_run):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    nbtrack.snapshot(pd.DataFrame({"age": rng.normal(40, 5, 500)}), "customers")
    run_ok("%%track\nimport nbtrack\ncustomers = nbtrack.load('customers')\nmean_age = customers.age.mean()\n")
    run = last_run()
    assert [(i["name"], i.get("dataset"), i.get("version")) for i in run.inputs] == [("customers", "customers", 1)]
    assert run.outputs == []
    nbtrack.snapshot(pd.DataFrame({"age": rng.normal(60, 5, 500)}), "customers")
    report = nbtrack.drift("customers", 2, against=run.run_id)
    assert report.reference["version"] == 1 and report.flagged == ["age"]  # against what the run read
    from click.testing import CliRunner

    from nbtrack.cli import main

    result = CliRunner().invoke(main, ["data", "drift", "customers", "--against", run.run_id])
    assert result.exit_code == 1 and "age" in result.output  # drifted; before: "no input of customers"


# -- figures (issue 19's real-notebook corpus) -------------------------------------------------------
def figure_count(run) -> int:
    return sum(a["kind"] == "figure" for a in run.artifacts)


def test_a_figure_of_an_earlier_cell_changed_and_shown_again_is_saved(shell, run_ok, last_run):
    # the Python Data Science Handbook's subplots notebook: `fig, ax = plt.subplots(2, 3)` in one cell
    # (shown and closed by the inline backend), then a cell writes into `ax[i, j]` and shows `fig`
    from IPython.core.pylabtools import select_figure_formats

    select_figure_formats(shell, {"png"})
    try:
        run_ok("import matplotlib.pyplot as plt\nfig, ax = plt.subplots(2, 3)")
        run_ok("fig.canvas.draw()\nplt.close(fig)")  # what the inline backend does after the cell
        run_ok(
            "%%track\nfor i in range(2):\n    for j in range(3):\n"
            "        ax[i, j].text(0.5, 0.5, str((i, j)), fontsize=18, ha='center')\nfig"
        )
        assert figure_count(last_run()) == 1
        run_ok("%%track\nfig")  # shown again, unchanged: not this cell's figure
        assert figure_count(last_run()) == 0
    finally:
        select_figure_formats(shell, set())


def test_matplotlib_imported_for_the_first_time_inside_a_tracked_cell_works(tmp_path):
    # a fresh interpreter, as a kernel is: pyplot's first import happens under %%track (the statsmodels
    # notebooks import it in their first tracked cell), and its figure is saved
    import subprocess
    import sys

    script = (
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "import matplotlib; matplotlib.use('Agg')\n"
        "ip = InteractiveShell.instance()\n"
        "ip.run_line_magic('load_ext', 'nbtrack')\n"
        "r = ip.run_cell('%%track\\nimport matplotlib.pyplot as plt\\nplt.plot([1, 2])\\nplt.show()')\n"
        "r.raise_error()\n"
        "import nbtrack\n"
        "run = nbtrack.get_run(nbtrack.runs(limit=1).run_id[0])\n"
        "print('figures', sum(a['kind'] == 'figure' for a in run.artifacts), run.status)\n"
    )
    env = {**__import__("os").environ, "NBTRACK_HOME": str(tmp_path / ".nbtrack")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "figures 1 ok" in done.stdout


def test_a_preprocessing_pipeline_fitted_with_fit_transform_is_a_model(shell, run_ok, last_run):
    # Hands-On ML's early-stopping cell: Pipeline.fit_transform is an `available_if` descriptor, not a
    # plain method; its steps' own fits stay inside it
    run_ok(SETUP)
    run_ok(
        "%%track\nfrom sklearn.pipeline import make_pipeline\n"
        "from sklearn.preprocessing import PolynomialFeatures, StandardScaler\n"
        "preprocessing = make_pipeline(PolynomialFeatures(degree=3, include_bias=False), StandardScaler())\n"
        "X_prep = preprocessing.fit_transform(X)\n"
    )
    run = last_run()
    assert model_names(run) == ["preprocessing.pkl"]
    assert run.params["preprocessing"] == "Pipeline" and "_fits" not in run.latest


# -- loops of hand-written training (Hands-On ML, chapter 4) -----------------------------------------
def test_per_iteration_intermediates_of_a_loop_are_not_metrics_but_printed_and_kept_results_are(
    shell, run_ok, last_run
):
    run_ok(
        "import numpy as np\nnp.random.seed(42)\nX_b = np.c_[np.ones(100), np.random.rand(100)]\ny = 4 + 3 * X_b[:, 1:]"
    )
    run_ok(
        "%%track\nn_epochs = 5\nt0, t1 = 5, 50\nm = len(X_b)\n"
        "def learning_schedule(t):\n    return t0 / (t + t1)\n"
        "theta = np.random.randn(2, 1)\nbest_loss = np.inf\n"
        "for epoch in range(n_epochs):\n"
        "    for iteration in range(m):\n"
        "        random_index = np.random.randint(m)\n"  # an index: only used to slice
        "        xi = X_b[random_index : random_index + 1]\n"
        "        yi = y[random_index : random_index + 1]\n"
        "        gradients = 2 * xi.T @ (xi @ theta - yi)\n"
        "        eta = learning_schedule(epoch * m + iteration)\n"  # a step size: only feeds theta
        "        theta = theta - eta * gradients\n"
        "    l2_loss = float((theta[1:] ** 2).sum())\n"  # a component of the printed loss
        "    total_loss = float(((X_b @ theta - y) ** 2).mean()) + 0.1 * l2_loss\n"
        "    print(epoch, round(total_loss, 4))\n"  # printed: the last one is a result
        "    if total_loss < best_loss:\n        best_loss = total_loss\n"
    )
    metrics = user_metrics(last_run())
    assert {"m", "total_loss", "best_loss"} <= set(metrics)
    assert not {"random_index", "eta", "l2_loss"} & set(metrics)


def test_values_that_only_feed_each_other_are_not_plot_geometry(shell, run_ok, last_run):
    # `m = len(X_b)` only feeds the gradient, the gradient only feeds theta: nothing is drawn, so m is
    # the cell's number (plot geometry needs a drawing call at the end of the chain)
    run_ok("import numpy as np\nX_b = np.c_[np.ones(100), np.random.rand(100)]\ny = X_b[:, 1:] * 3")
    run_ok(
        "%%track\neta = 0.1\nn_epochs = 100\nm = len(X_b)\ntheta = np.zeros((2, 1))\n"
        "for epoch in range(n_epochs):\n"
        "    gradients = 2 / m * X_b.T @ (X_b @ theta - y)\n"
        "    theta = theta - eta * gradients\n"
    )
    run = last_run()
    assert user_metrics(run) == {"m": 100}
    assert {"eta", "n_epochs"} <= set(run.params)


def test_a_value_an_earlier_tracked_cell_computed_is_not_a_param(run_ok, last_run):
    run_ok("def compute():\n    return 3", store_history=True)
    run_ok("%%track prep\nscale = 1\nn_outputs = compute()", store_history=True)
    run_ok("%%track use\nresult = n_outputs * 2", store_history=True)
    assert "n_outputs" not in last_run().params


def test_an_imported_value_is_not_a_param(run_ok, last_run):
    run_ok("from math import tau", store_history=True)
    run_ok("%%track circle\nhalf_turn = tau / 2", store_history=True)
    assert "tau" not in last_run().params and last_run().latest["half_turn"] == 3.141592653589793


def test_a_fitted_search_displayed_by_its_fit_is_named_after_its_variable(run_ok, last_run):
    run_ok(
        "from sklearn.model_selection import GridSearchCV\nfrom sklearn.linear_model import LogisticRegression\n"
        "X = [[0.0], [1.0], [2.0], [3.0], [4.0], [5.0]]\ny = [0, 0, 0, 1, 1, 1]\n"
        "grid = GridSearchCV(LogisticRegression(), {'C': [0.1, 1.0]}, cv=2)",
        store_history=True,
    )
    run_ok("%%track search\ngrid.fit(X, y)", store_history=True)
    names = [a["name"] for a in last_run().artifacts if a["kind"] == "model"]
    assert names and all(n.startswith("grid") and "gridsearchcv_out" not in n for n in names), names


def test_a_computed_number_no_metric_can_hold_exactly_is_a_note_not_a_failure(run_ok, last_run, capsys):
    run_ok("%%track big\nhalf = (2**63 - 1) // 2", store_history=True)
    run = last_run()
    assert run.status == "ok" and "half" not in run.latest
    assert "half is not recorded as a metric" in capsys.readouterr().out
