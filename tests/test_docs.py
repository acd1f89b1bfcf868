"""Every public function and CLI command is documented, in its docstring and in docs/."""

from pathlib import Path

import click
import pytest

import nbtrack
from nbtrack.cli import main

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _commands(group: click.Group, prefix=""):
    for name, command in group.commands.items():
        yield prefix + name, command
        if isinstance(command, click.Group):
            yield from _commands(command, prefix + name + " ")


@pytest.mark.parametrize("name", [n for n in nbtrack.__all__ if not n.startswith("_")])
def test_public_names_have_docstrings_and_appear_in_api_docs(name):
    obj = getattr(nbtrack, name)
    if name == "__version__":
        return
    assert (obj.__doc__ or "").strip(), f"nbtrack.{name} has no docstring"
    api_docs = "".join(p.read_text() for p in DOCS.glob("*.md"))
    assert f"`{name}" in api_docs or f"nbtrack.{name}" in api_docs, f"nbtrack.{name} is not in docs/"


@pytest.mark.parametrize("name, command", list(_commands(main)))
def test_cli_commands_have_help_with_an_example_and_appear_in_cli_docs(name, command):
    help_text = command.help or ""
    assert help_text.strip(), f"`nbtrack {name}` has no help"
    if not isinstance(command, click.Group):
        assert "Example" in help_text, f"`nbtrack {name} --help` shows no example"
    assert f"nbtrack {name}" in (DOCS / "cli.md").read_text(), f"`nbtrack {name}` is missing from docs/cli.md"


def test_cli_reference_is_generated_from_the_current_help():
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen_cli_reference", DOCS / "gen_cli_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (DOCS / "cli.md").read_text() == module.render(), (
        "docs/cli.md is stale: run python docs/gen_cli_reference.py"
    )


def test_cli_examples_are_one_command_per_line():
    """click rewraps a help paragraph: several example lines need a \\b line before them, or --help (and
    docs/cli.md) runs them together on one line."""
    import re

    joined = [line for line in (DOCS / "cli.md").read_text().splitlines() if re.search(r"\S\s{2,}nbtrack \w", line)]
    assert joined == [], "put \\b before these examples in the command's docstring:\n" + "\n".join(joined)


# ---- every fenced example in docs/*.md and README.md runs --------------------------------------------------
# Python blocks run as IPython cells (so %track, %%track and %config lines work), one shell per file, after
# SETUP; shell blocks (bash, sh, console: its "$ " lines) run each `nbtrack ...` line through the CLI and each
# `python ...` line as a process, in a scratch folder whose store is fresh. Other fences (text, json, cron, and
# unlabelled ones) show output or grammar, not code to run. A block that cannot run here carries
# `<!-- doc-test: skip: REASON -->` on the line before it (a whole file: `<!-- doc-test: skip-file: REASON -->`);
# SKIPPED below lists them all, so a new one is a visible decision.
SKIPPED = {  # (file, the block's first line): why it does not run here
    (
        "interop.md",
        "nbtrack export-mlflow --tracking-uri sqlite:///mlflow.db                     # every run of the store",
    ): "line 2 exports to an MLflow server at localhost:5000",
    (
        "interop.md",
        "mkdir /tmp/binder-check && git ls-files -z | xargs -0 cp --parents -t /tmp/binder-check",
    ): "a fresh venv and the whole Binder build (minutes)",
    (
        "production.md",
        "pip install '.[dask]'              # in the nbtrack checkout",
    ): "installs the dask extra; needs a Dask scheduler at 10.0.0.5",
    ("production.md", "from distributed import Client"): "needs a Dask scheduler at 10.0.0.5",
    (
        "production.md",
        "with nbtrack.start_run('train', kind='script', params=vars(_args)):   # one run per script execution",
    ): "the shape of an exported script, its ... standing for the notebook's code",
    ("rest.md", "*"): "curl against a running Jupyter server and its token; tests/server checks the same routes",
    (
        "sidebar.md",
        "pip install .                      # in the nbtrack checkout (or: pip install nbtrack-*.whl)",
    ): "installs nbtrack and enables Jupyter extensions",
    ("sidebar.md", "cd labextension"): "builds the sidebar with jlpm (node, minutes)",
    (
        "team.md",
        "sudo groupadd ml-team && sudo usermod -aG ml-team alice && sudo usermod -aG ml-team bob",
    ): "makes OS groups and users with sudo; tests/team/test_shared_store.py does it with two real users",
    (
        "team.md",
        "export AWS_ENDPOINT_URL=https://minio.internal:9000    # not AWS: say where the service is",
    ): "needs an S3-compatible service; tests/team/test_remotes.py runs the same against moto's S3 server",
    (
        "sidebar.md",
        "python -m pytest tests/browser -m browser          # about 60 s, plus about 100 s for the 100k-run test",
    ): "the browser tests (Chromium, minutes)",
}
# Run ids the docs show, each standing for a run the setup records (PLACEHOLDER -> run name)
PLACEHOLDERS = {
    "7k2m9q1x": "baseline",
    "3bq0zz81": "wider",
    "4f7kq2xm": "churn-next",
    "8t9v0w1x": "churn-fit-unbalanced",
    "1jvj3ssg": "train",
}
#: The names the examples use, defined in each file's shell before its first example.
SETUP = """
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import nbtrack
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split

X, y = make_classification(n_samples=200, n_features=6, random_state=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
X_new = X_test[:5]
alpha, depth, epochs, C = 0.5, 3, 2, 1.0
model = LogisticRegression().fit(X_train, y_train)
proba = model.predict_proba(X_test)
fig = plt.figure()
def train_one_epoch():
    return 0.5
df = pd.DataFrame({"id": range(50), "age": [20 + i % 40 for i in range(50)]})
run_id = nbtrack.runs(where="name = 'churn-fit'").run_id.iloc[0]
"""
#: A %%track run of this session (production.md exports its session slice).
SETUP_CELL = "%%track fit-cell\nscore = alpha * depth"
#: The runs and data versions the examples refer to, recorded once and copied into each file's store.
SEED = """
import nbtrack
import pandas as pd
from sklearn.linear_model import LogisticRegression

from sklearn.datasets import make_classification

model = LogisticRegression().fit(*make_classification(n_samples=200, n_features=6, random_state=0))
people = pd.DataFrame({"id": range(50), "age": [20 + i % 40 for i in range(50)]})
nbtrack.snapshot(people.head(40), "customers", key="id")
nbtrack.snapshot(people.head(45), "customers", key="id")
features, _ = make_classification(n_samples=30, n_features=6, random_state=1)
batch = pd.DataFrame(features, columns=[f"f{i}" for i in range(6)])
for size in range(24, 31):  # transactions@1 .. @7, the batches models.md scores
    nbtrack.snapshot(batch.head(size), "transactions")
customers = nbtrack.load("customers")
seeds = [("churn-v1", 0.91, "balanced"), ("churn-v2", 0.92, "balanced"), ("churn-fit", 0.95, "balanced"),
         ("churn-next", 0.95, "none"), ("churn-fit-unbalanced", 0.874, "balanced")]
for name, auc, weight in seeds:  # each run reads the training data (a stored version): drift finds it
    code = "trained_on = len(customers)"
    with nbtrack.track(name, params={"class_weight": weight}, code=code, namespace={"customers": customers}) as seed_run:
        trained_on = len(customers)
        seed_run.log_metric("auc", auc)
        seed_run.log_model(model, "model.pkl")
    if name in ("churn-v1", "churn-v2"):
        nbtrack.register_model(seed_run.run_id, "churn")  # the docs' examples make version 3 onwards
for name, acc, experiment in [("baseline", 0.93, "churn"), ("wider", 0.95, "churn"), ("forest", 0.97, "wine")]:
    with nbtrack.start_run(name, experiment=experiment) as seed_run:
        seed_run.log_metric("acc", acc)
"""
TRAIN_NOTEBOOK = [
    ("lr = 0.1\ndepth = 3", ["parameters"]),
    ("%load_ext nbtrack", []),
    ("%%track fit\nacc = 1 - lr / (depth + 1)\nprint(acc)", []),
]


def _examples(path: Path):
    """(line, language, code, skip reason or None) of each fenced example of ``path``."""
    import re

    text = path.read_text()
    whole = re.search(r"<!-- doc-test: skip-file: (.+?) -->", text)
    for match in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.S | re.M):
        language = match.group(1)
        if language not in ("python", "bash", "sh", "console"):
            continue
        line = text[: match.start()].count("\n") + 1
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = re.fullmatch(r"<!-- doc-test: skip: (.+?) -->", before.strip())
        reason = whole.group(1) if whole else marker.group(1) if marker else None
        yield line, language, match.group(2), reason


def _doc_files():
    return sorted(p for p in DOCS.glob("*.md") if p.name != "cli.md") + [DOCS.parent / "README.md"]


def test_the_skip_markers_are_the_listed_ones():
    found = {}
    for path in _doc_files():
        text = path.read_text()
        if "<!-- doc-test: skip-file:" in text:
            found[(path.name, "*")] = True
            continue
        for _, _, code, reason in _examples(path):
            if reason:
                found[(path.name, code.split("\n", 1)[0])] = True
    assert sorted(found) == sorted(SKIPPED), "update SKIPPED (and say why) or remove the marker"


@pytest.fixture(scope="module")
def seeded_store(tmp_path_factory):
    """A store holding SEED's runs, data versions and models, made once; each file's test gets a copy."""
    root = tmp_path_factory.mktemp("doc-seed") / ".nbtrack"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NBTRACK_HOME", str(root))
        exec(SEED, {})
    return root


def _write_train_notebook(folder: Path) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    for source, tags in TRAIN_NOTEBOOK:
        nb.cells.append(nbformat.v4.new_code_cell(source, metadata={"tags": tags}))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / "train.ipynb")


def _shell_lines(language: str, code: str):
    """(command, expects failure) for each command of a shell block."""
    lines = code.replace("\\\n", " ").splitlines()
    for index, line in enumerate(lines):
        if language == "console":
            if not line.startswith("$ "):
                continue
            following = lines[index + 1] if index + 1 < len(lines) else ""
            yield line[2:], following.startswith("Error:")
        elif line.strip():
            for part in line.split("&&"):
                yield part, False


def _check_folder(folder: Path, where: str) -> None:
    """The examples run in ``folder``, beside train.ipynb: say so if something moved the process or the file."""
    import os

    assert Path.cwd() == folder and (folder / "train.ipynb").is_file(), (
        f"before {where}: the working folder is {Path.cwd()} and holds {sorted(os.listdir())}: "
        "an earlier example (or a thread left by an earlier test) moved it or removed train.ipynb"
    )


@pytest.mark.slow
@pytest.mark.parametrize("path", _doc_files(), ids=lambda p: p.name)
def test_every_fenced_example_runs(path, tmp_path, monkeypatch, seeded_store):
    import shlex
    import subprocess
    import sys

    from click.testing import CliRunner
    from IPython.core.interactiveshell import InteractiveShell

    examples = [e for e in _examples(path) if e[3] is None]
    if not examples:
        return
    import shutil

    shutil.copytree(seeded_store, tmp_path / ".nbtrack")
    monkeypatch.setenv("NBTRACK_HOME", str(tmp_path / ".nbtrack"))
    monkeypatch.chdir(tmp_path)
    _write_train_notebook(tmp_path)
    (tmp_path / "out").mkdir()  # where production.md writes its output notebook
    batch = nbtrack.load("transactions", store=seeded_store)
    batch.to_csv(tmp_path / "batch.csv", index=False)  # the batch files models.md scores
    batch.to_parquet(tmp_path / "batch.parquet")
    with nbtrack.start_run("on the cluster", store=tmp_path / "cluster" / ".nbtrack"):
        pass  # the other store production.md merges, at PATHS' stand-in for /mnt/cluster/project
    shell = InteractiveShell.instance()
    shell.reset(new_session=False)
    shell.run_line_magic("load_ext", "nbtrack")
    shell.run_cell(SETUP, store_history=True).raise_error()  # as a notebook's cells: in the session's history
    shell.run_cell(SETUP_CELL, store_history=True).raise_error()
    setup_ids = {
        name: nbtrack.runs(where=f"name = '{name}'").run_id.iloc[0]
        for name in set(PLACEHOLDERS.values())
        if name != "train"
    }
    for line, language, code, _ in examples:
        if "1jvj3ssg" in code and "train" not in setup_ids:
            setup_ids["train"] = nbtrack.run_notebook(tmp_path / "train.ipynb", name="train").run_id
        for placeholder, name in PLACEHOLDERS.items():
            if placeholder in code:
                code = code.replace(placeholder, setup_ids[name][-8:])
        code = code.replace("/mnt/cluster/project", str(tmp_path / "cluster"))
        where = f"{path.name}:{line}"
        _check_folder(tmp_path, where)
        if language == "python":
            result = shell.run_cell(code)
            assert result.success, f"{where} failed: {result.error_in_exec or result.error_before_exec}"
            continue
        for command, fails in _shell_lines(language, code):
            words = shlex.split(command, comments=True)
            if not words:
                continue
            _check_folder(tmp_path, f"{where} `{command.strip()}`")
            if words[0] == "nbtrack":
                done = CliRunner().invoke(main, words[1:])
                assert (done.exit_code != 0) == fails, (
                    f"{where}: `{command.strip()}` gave {done.exit_code}:\n{done.output}"
                )
            elif words[0] == "python":
                done = subprocess.run(
                    [sys.executable, *words[1:]], cwd=tmp_path, capture_output=True, text=True, timeout=300
                )
                assert done.returncode == 0, f"{where}: `{command.strip()}` failed:\n{done.stderr}"
            else:
                raise AssertionError(f"{where}: `{command.strip()}` is not nbtrack or python: mark the block")


def test_the_versions_the_docs_show_are_this_nbtrack():
    """What `jupyter labextension list`, `nbtrack doctor` and GET /version print in the docs is the real version."""
    import re

    pattern = re.compile(
        r"nbtrack v?(\d+\.\d+\.\d+) (?:enabled|OK)|nbtrack: (\d+\.\d+\.\d+) \(|lab extension: (\d+\.\d+\.\d+) enabled"
        r'|"version": "(\d+\.\d+\.\d+)"'
    )
    shown = [
        (path.name, next(v for v in match.groups() if v))
        for path in _doc_files()
        for match in pattern.finditer(path.read_text())
    ]
    assert len(shown) >= 4  # sidebar.md, rest.md (twice), interop.md
    assert [s for s in shown if s[1] != nbtrack.__version__] == []
