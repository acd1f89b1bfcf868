"""Path traversal and hostile names against every CLI argument that names a run, a dataset or a file.

Each command of ``nbtrack --help`` (and of ``nbtrack data --help``) that takes a run id, a dataset name,
a version, a column, a notebook, another store or an output file is called in-process with click's
``CliRunner`` against a real store, once per entry of a corpus: ``../`` chains, absolute paths,
URL-encoded forms, NUL bytes, very long names, names with newlines, SQL wildcards and symlinks placed
inside the project and inside the store that point outside. After every call:

* the command failed (exit code not 0) with a one-line message that names the fix, and no traceback;
* nothing outside the store changed (every file under the test folder is compared by size and mtime);
* the store holds the same runs, versions and blobs, no file of it is outside content, and ``fsck`` is clean.

Output paths (``-o``) are the user's to name: a legal name is written exactly there and nowhere else;
a path inside the store (which would overwrite the database or a blob) is refused before any work.
NUL bytes cannot reach a real command line (``execve`` refuses them); they are checked in-process so the
Python API's shells fail as cleanly as a shell would.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

import nbtrack
from nbtrack.cli import main
from nbtrack.store import Store

SECRET = "TOP-SECRET-not-for-nbtrack-7f3a"

# A run id, dataset name, version or file read by a command: each must be refused cleanly.
CORPUS = [
    "../outside/secret.txt",
    "../" * 16 + "etc/passwd",
    "/etc/passwd",
    "{secret}",  # the absolute path of the secret file
    "..%2foutside%2fsecret.txt",
    "%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "....//....//outside/secret.txt",
    "customers/../../outside/secret.txt",
    "link-out/secret.txt",  # a symlink in the project pointing outside
    ".nbtrack/../../outside/secret.txt",
    "a\x00b",
    "\x00",
    "x" * 5000,
    "y" * 256,
    "line\nbreak",
    "customers\n../../outside",
    "\u202eevil",
    "%",
    "_",
    "*",
    "'; DROP TABLE runs; --",
    "",
    " ",
    ".",
    "..",
    "~root",
]

RUN = "<run>"  # replaced by a real run id
OUT = "<out>"  # replaced by a fresh output file name inside the project

# Every CLI argument that names something, with "{}" where the corpus goes.
READ_SLOTS = [
    ["show", "{}"],
    ["show", "{}", "--format", "json"],
    ["compare", "{}", RUN],
    ["compare", RUN, "{}"],
    ["delete", "{}", "--yes"],
    ["delete", "{}", "--yes", "--recursive"],
    ["reproduce", "{}"],
    ["data", "versions", "{}"],
    ["data", "show", "{}"],
    ["data", "show", "customers@{}"],
    ["data", "diff", "{}"],
    ["data", "diff", "customers", "{}", "2"],
    ["data", "diff", "customers", "1", "{}"],
    ["data", "diff", "customers", "1", "2", "--key", "{}"],
    ["data", "drift", "{}", "--against", "1"],
    ["data", "drift", "customers", "--against", "{}"],
    ["data", "drift", "customers", "--against", "customers@{}"],
    ["data", "lineage", "{}"],
    ["data", "lineage", "customers@{}"],
    ["data", "export", "{}", "-o", OUT],
    ["data", "export", "customers", "-v", "{}", "-o", OUT],
    ["merge", "{}"],
    ["export", "{}", "--to", "script"],
    ["export", "{}", "--to", "notebook"],
    ["run", "{}"],
    ["sweep", "{}", "-p", "a", "1"],
]

# Arguments that are files the user names: these may legitimately read the named file, so the secret's
# own path is not a violation there (reading it as a notebook fails, and that is the clean error).
PATH_SLOTS = {"merge", "export", "run", "sweep"}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A project folder with a store (runs, an artifact, two dataset versions), a notebook, a secret
    file outside the project and a symlink from the project to the secret's folder."""
    import nbformat
    import pandas as pd

    base = tmp_path_factory.mktemp("cli-paths")
    outside = base / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    proj = base / "proj"
    store = Store.open(proj / ".nbtrack")
    with nbtrack.start_run("first", params={"lr": 0.1}, store=store) as first:
        first.log_metric("acc", 0.5)
        first.log_artifact(b"artifact bytes", "a.txt")
    with nbtrack.start_run("second", params={"lr": 0.2}, store=store) as run:
        run.log_metric("acc", 0.6)
        frame = pd.DataFrame({"id": range(20), "x": [float(i) for i in range(20)]})
        nbtrack.snapshot(frame, "customers", key="id", store=store)
        nbtrack.snapshot(frame.assign(x=frame["x"] * 2), "customers", key="id", store=store)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("a = 1")])
    nbformat.write(notebook, proj / "nb.ipynb")
    (proj / "link-out").symlink_to(outside, target_is_directory=True)
    (proj / "link-store").symlink_to(proj / ".nbtrack", target_is_directory=True)
    store.close()
    return {
        "base": base,
        "proj": proj,
        "root": proj / ".nbtrack",
        "secret": outside / "secret.txt",
        "run": first.run_id,
    }


@pytest.fixture
def cli(project, monkeypatch):
    """Invoke ``nbtrack`` in-process from the project folder with the store as NBTRACK_HOME."""
    monkeypatch.chdir(project["proj"])
    monkeypatch.setenv("NBTRACK_HOME", str(project["root"]))
    monkeypatch.setenv("NBTRACK_CEILING_DIRECTORIES", str(project["base"]))
    runner = CliRunner()

    def invoke(args, env=None):
        return runner.invoke(main, args, env=env, catch_exceptions=True)

    return invoke


def tree(base: Path, skip: Path) -> dict:
    """Every file and link under ``base`` (not following links, leaving out ``skip``): size and mtime."""
    found = {}
    for folder, dirs, files in os.walk(base):
        if Path(folder) == skip or skip in Path(folder).parents:
            dirs[:] = []
            continue
        for name in files + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
            path = os.path.join(folder, name)
            stat = os.lstat(path)
            found[os.path.relpath(path, base)] = (stat.st_size, stat.st_mtime_ns)
    return found


def store_state(root: Path) -> tuple:
    """What a user would notice changing in a store: runs, data versions, artifacts and blobs."""
    store = Store.open(root, create=False)
    try:
        return (
            store.query("SELECT run_id, status, updated FROM runs ORDER BY run_id"),
            store.query("SELECT dataset, version, fingerprint FROM data_versions ORDER BY dataset, version"),
            store.query("SELECT run_id, name, blob FROM artifacts ORDER BY run_id, name"),
            sorted(store.blobs.iter_hashes()),
        )
    finally:
        store.close()


def secret_copied_into(root: Path) -> list[str]:
    """Files of the store whose bytes contain the secret (a traversal that read it and stored it)."""
    hits = []
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            if not os.path.islink(path) and SECRET.encode() in Path(path).read_bytes():
                hits.append(path)
    return hits


def assert_store_clean(root: Path) -> None:
    report = nbtrack.fsck(store=Store.open(root, create=False))
    assert report.clean, report.lines()


NAMES_THE_FIX = (
    "`nbtrack ",
    "nbtrack.",
    "e.g.",
    "--help",
    "give ",
    "name ",
    "choose",
    "check",
    "use ",
    "run ",
    "remove",
    "create",
)


def clean_error(result, args) -> list[str]:
    """What is wrong with how a command failed, if anything (empty list: a clean, helpful error)."""
    problems = []
    shown = " ".join(repr(a) if len(a) < 60 else repr(a[:57] + "...") for a in args)
    if result.exit_code == 0:
        problems.append(f"nbtrack {shown}: succeeded (exit 0): {result.output[-300:]!r}")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        problems.append(f"nbtrack {shown}: raised {type(result.exception).__name__}: {str(result.exception)[:200]}")
    if "Traceback" in result.output:
        problems.append(f"nbtrack {shown}: printed a traceback")
    error_lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    if result.exception is None or isinstance(result.exception, SystemExit):
        if not error_lines:
            problems.append(f"nbtrack {shown}: no 'Error:' line in {result.output[-300:]!r}")
        elif not any(hint in result.output.lower() for hint in NAMES_THE_FIX) and "does not exist" not in result.output:
            problems.append(f"nbtrack {shown}: the message does not say what to do: {error_lines[-1]!r}")
    return problems


def _fill(template: list[str], value: str, project: dict, out_name: str) -> list[str]:
    value = value.replace("{secret}", str(project["secret"]))
    return [part.replace("{}", value).replace(RUN, project["run"]).replace(OUT, out_name) for part in template]


@pytest.mark.parametrize("template", READ_SLOTS, ids=lambda t: " ".join(t))
def test_hostile_names_ids_and_paths_are_refused_cleanly(cli, project, template):
    root, base = project["root"], project["base"]
    before_tree, before_store = tree(base, root), store_state(root)
    problems = []
    for index, value in enumerate(CORPUS):
        out_name = f"out-{index}.parquet"
        args = _fill(template, value, project, out_name)
        result = cli(args)
        problems += clean_error(result, args)
        names_the_secret = (
            template[0] in PATH_SLOTS
            and template[1] == "{}"
            and "\x00" not in args[1]
            and os.path.realpath(args[1]) == os.path.realpath(project["secret"])
        )
        if SECRET in result.output and not names_the_secret:
            problems.append(f"nbtrack {args}: printed the secret")
        if os.path.lexists(project["proj"] / out_name):
            problems.append(f"nbtrack {args}: wrote {out_name} although it failed")
    assert not problems, "\n".join(problems)
    assert tree(base, root) == before_tree, "a file outside the store changed"
    assert store_state(root) == before_store, "the store changed"
    assert not secret_copied_into(root)
    assert_store_clean(root)


@pytest.mark.parametrize(
    "value",
    ["../outside", "/nonexistent-nbtrack/.nbtrack", "{secret}", "x" * 5000, "line\nbreak", "link-out", "", "%2e%2e%2f"],
)
def test_hostile_store_location_is_refused_cleanly(cli, project, value):
    """NBTRACK_HOME naming something that is not a store: reading commands say how to create one and
    create nothing."""
    value = value.replace("{secret}", str(project["secret"]))
    before = tree(project["base"], project["root"])
    problems = []
    for args in (["runs"], ["show", project["run"]], ["data", "list"], ["fsck"], ["gc", "--dry-run"]):
        result = cli(args, env={"NBTRACK_HOME": value})
        if value == "":  # empty means unset: discovery walks up from the project and finds its store
            problems += [] if result.exit_code == 0 else [f"{args} with NBTRACK_HOME='': {result.output}"]
            continue
        problems += clean_error(result, [*args, f"NBTRACK_HOME={value}"])
    assert not problems, "\n".join(problems)
    assert tree(project["base"], project["root"]) == before
    assert Path(project["secret"]).read_text() == SECRET


# -- output paths ---------------------------------------------------------------------------------

WRITERS = [
    ["data", "export", "customers", "-o", "{}"],
    ["export", "nb.ipynb", "--to", "script", "-o", "{}"],
    ["export", "nb.ipynb", "--to", "notebook", "-o", "{}"],
    ["run", "nb.ipynb", "-o", "{}"],
]

INSIDE_THE_STORE = [
    ".nbtrack/nbtrack.db",
    ".nbtrack/new-file",
    ".nbtrack/objects/00/x",
    "link-store/nbtrack.db",
    "sub/../.nbtrack/nbtrack.db",
    "{root}/nbtrack.db",
]


@pytest.mark.parametrize("template", WRITERS, ids=lambda t: " ".join(t))
def test_output_paths_inside_the_store_are_refused(cli, project, template):
    """`-o` naming a file in the store (directly, through a symlink, or with `..`) would overwrite the
    database or a blob: refused before anything runs, the store unchanged and clean."""
    root = project["root"]
    before_tree, before_store = tree(project["base"], root), store_state(root)
    before_files = tree(root, root / "none")
    problems = []
    for value in INSIDE_THE_STORE:
        args = [part.replace("{}", value.replace("{root}", str(root))) for part in template]
        result = cli(args)
        problems += clean_error(result, args)
        if "store" not in result.output:
            problems.append(
                f"nbtrack {args}: the message does not say the path is inside the store: {result.output[-200:]!r}"
            )
    assert not problems, "\n".join(problems)
    assert tree(project["base"], root) == before_tree
    assert store_state(root) == before_store
    after_files = tree(root, root / "none")
    # the database's WAL and shared-memory files may be touched by reads; nothing else appears or changes
    assert {k: v for k, v in after_files.items() if "nbtrack.db" not in k} == {
        k: v for k, v in before_files.items() if "nbtrack.db" not in k
    }
    assert after_files["nbtrack.db"] == before_files["nbtrack.db"] or store_state(root) == before_store
    assert_store_clean(root)


UNWRITABLE = ["x" * 5000, "missing-folder/out.file", "a\x00b", ".", "..", "link-out"]


@pytest.mark.parametrize("template", WRITERS[:3], ids=lambda t: " ".join(t))
def test_unwritable_output_paths_give_a_clear_error(cli, project, template):
    before_tree, before_store = tree(project["base"], project["root"]), store_state(project["root"])
    problems = []
    for value in UNWRITABLE + ([""] if template[0] == "data" else []):  # export -o '' means the default
        args = [part.replace("{}", value) for part in template]
        problems += clean_error(cli(args), args)
    assert not problems, "\n".join(problems)
    assert tree(project["base"], project["root"]) == before_tree
    assert store_state(project["root"]) == before_store
    assert Path(project["secret"]).read_text() == SECRET
    assert_store_clean(project["root"])


ODD_BUT_LEGAL = [
    "line\nbreak.out",
    "%2e%2e%2fout.out",
    "'; DROP TABLE runs; --.out",
    "\u202eevil.out",
    "../proj-sibling.out",
    "deep/../flat.out",
    "sp ace.out",
]


@pytest.mark.parametrize("template", WRITERS[:3], ids=lambda t: " ".join(t))
def test_odd_but_legal_output_names_are_written_exactly_there(cli, project, template):
    """The user names the output: it is written at exactly that path (relative to the working folder)
    and nowhere else; the store does not change."""
    proj = project["proj"]
    before_store = store_state(project["root"])
    for value in ODD_BUT_LEGAL:
        before = tree(project["base"], project["root"])
        (proj / "deep").mkdir(exist_ok=True)
        args = [part.replace("{}", value) for part in template]
        result = cli(args)
        assert result.exit_code == 0, (args, result.output)
        target = Path(os.path.normpath(proj / value))
        assert target.is_file() and target.stat().st_size > 0, (args, target)
        added = set(tree(project["base"], project["root"])) - set(before)
        assert added == {os.path.relpath(target, project["base"])}, (args, added)
        target.unlink()
    assert store_state(project["root"]) == before_store
    assert_store_clean(project["root"])


# -- symlinks inside the store ---------------------------------------------------------------------


def _chunk_blob(root: Path) -> str:
    store = Store.open(root, create=False)
    try:
        return store.query("SELECT blob FROM data_chunks LIMIT 1")[0][0]
    finally:
        store.close()


def test_a_blob_that_links_outside_the_store_is_never_read(tmp_path, monkeypatch):
    """A data chunk whose file was replaced by a symlink to a file outside the store: reading commands
    refuse it with a message naming `nbtrack fsck`, fsck reports it, and the outside file's bytes reach
    neither the output nor the store."""
    import pandas as pd

    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    root = tmp_path / "proj" / ".nbtrack"
    store = Store.open(root)
    nbtrack.snapshot(pd.DataFrame({"id": range(5), "v": list("abcde")}), "customers", key="id", store=store)
    digest = _chunk_blob(root)
    store.close()
    path = root / "objects" / digest[:2] / digest[2:]
    path.unlink()
    path.symlink_to(secret)
    monkeypatch.chdir(root.parent)
    monkeypatch.setenv("NBTRACK_HOME", str(root))
    runner = CliRunner()
    problems = []
    for args in (
        ["data", "show", "customers"],
        ["data", "export", "customers", "-o", "out.parquet"],
        ["data", "diff", "customers", "1", "1"],
    ):
        result = runner.invoke(main, args)
        problems += clean_error(result, args)
        if SECRET in result.output:
            problems.append(f"{args}: printed the outside file")
        if "fsck" not in result.output:
            problems.append(f"{args}: the message does not name `nbtrack fsck`: {result.output[-200:]!r}")
    assert not problems, "\n".join(problems)
    result = runner.invoke(main, ["fsck"])
    assert result.exit_code == 1 and digest in result.output and SECRET not in result.output
    assert not secret_copied_into(root)
    assert not (root.parent / "out.parquet").exists()


def test_merge_never_copies_a_file_a_store_links_to(tmp_path, monkeypatch):
    """OTHER holds a symlink named by the real hash of a file outside it (so the hash check alone would
    pass): merge refuses it with a message naming the store and `nbtrack fsck`, and copies nothing."""
    from nbtrack.store.blobs import hash_bytes

    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    other_root = tmp_path / "other" / ".nbtrack"
    other = Store.open(other_root)
    with nbtrack.start_run("theirs", store=other) as run:
        run.log_artifact(b"their artifact", "a.txt")
    digest = hash_bytes(SECRET.encode())
    link = other.blobs.path(digest)
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(secret)
    with other.transaction() as conn:  # and a row that refers to it, as if it were a real artifact
        conn.execute(
            "INSERT INTO artifacts VALUES (?, 'stolen.txt', 'file', ?, 10, 'text/plain', 0, NULL)", (run.run_id, digest)
        )
    other.close()
    ours = tmp_path / "ours" / ".nbtrack"
    Store.open(ours).close()
    monkeypatch.chdir(ours.parent)
    monkeypatch.setenv("NBTRACK_HOME", str(ours))
    result = CliRunner().invoke(main, ["merge", str(other_root)])
    problems = clean_error(result, ["merge", str(other_root)])
    assert not problems, "\n".join(problems)
    assert "fsck" in result.output and SECRET not in result.output
    assert not secret_copied_into(ours)
    assert store_state(ours)[0] == []  # a merge that fails leaves the target as it was
    assert_store_clean(ours)


def test_a_blob_folder_that_links_outside_the_store_is_never_read(tmp_path, monkeypatch):
    """The two-character folder of a blob replaced by a symlink to a folder outside the store."""
    import shutil

    secret_dir = tmp_path / "elsewhere"
    root = tmp_path / "proj" / ".nbtrack"
    store = Store.open(root)
    with nbtrack.start_run("r", store=store) as run:
        digest = run.log_artifact(b"artifact bytes", "a.txt")
    store.close()
    folder = root / "objects" / digest[:2]
    shutil.copytree(folder, secret_dir)
    shutil.rmtree(folder)
    folder.symlink_to(secret_dir, target_is_directory=True)
    monkeypatch.chdir(root.parent)
    monkeypatch.setenv("NBTRACK_HOME", str(root))
    result = CliRunner().invoke(main, ["fsck"])
    assert result.exit_code == 1 and digest in result.output, result.output
    from nbtrack.errors import ArtifactNotFoundError

    with pytest.raises(ArtifactNotFoundError, match="fsck"):
        nbtrack.load_artifact(run.run_id, "a.txt", store=Store.open(root, create=False))


def test_init_refuses_paths_it_cannot_use_and_creates_exactly_the_one_named(cli, project):
    """`nbtrack init PATH` creates PATH/.nbtrack and nothing else; a path that cannot hold a store
    (too long, NUL, a file, below a file) is refused with a clear error and nothing is created."""
    before = tree(project["base"], project["root"])
    problems = []
    for value in ["x" * 5000, "a\x00b", "{secret}", "{secret}/below", "link-out/secret.txt/below"]:
        args = ["init", value.replace("{secret}", str(project["secret"]))]
        problems += clean_error(cli(args), args)
    assert not problems, "\n".join(problems)
    assert tree(project["base"], project["root"]) == before
    result = cli(["init", "../elsewhere"])
    assert result.exit_code == 0, result.output
    created = set(tree(project["base"], project["root"])) - set(before)
    assert {os.path.dirname(path) for path in created} == {"elsewhere/.nbtrack"}, created
    assert "elsewhere/.nbtrack/nbtrack.db" in created
    assert Store.open(project["base"] / "elsewhere" / ".nbtrack", create=False).schema_version >= 1


def test_a_blob_reference_that_is_a_path_is_reported_and_never_merged(tmp_path, monkeypatch):
    """An artifact row whose blob column holds a path instead of a hash (a damaged or hand-made store):
    `fsck` reports it instead of stopping, `--repair` drops it, and `merge` refuses the store before
    copying anything."""
    other_root = tmp_path / "other" / ".nbtrack"
    other = Store.open(other_root)
    with nbtrack.start_run("theirs", store=other) as run:
        run.log_artifact(b"their artifact", "a.txt")
    with other.transaction() as conn:
        conn.execute(
            "INSERT INTO artifacts VALUES (?, 'evil', 'file', '../../../outside/secret.txt', 10, "
            "'text/plain', 0, NULL)",
            (run.run_id,),
        )
    other.close()
    ours = tmp_path / "ours" / ".nbtrack"
    Store.open(ours).close()
    runner = CliRunner()
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(main, ["merge", str(other_root)], env={"NBTRACK_HOME": str(ours)})
    assert not clean_error(result, ["merge", str(other_root)]), result.output
    assert "fsck --repair" in result.output
    assert store_state(ours) == ([], [], [], [])
    result = runner.invoke(main, ["fsck"], env={"NBTRACK_HOME": str(other_root)})
    assert result.exit_code == 1 and "../../../outside/secret.txt" in result.output, result.output
    result = runner.invoke(main, ["fsck", "--repair"], env={"NBTRACK_HOME": str(other_root)})
    assert "removed 1 artifact row" in result.output, result.output
    assert runner.invoke(main, ["merge", str(other_root)], env={"NBTRACK_HOME": str(ours)}).exit_code == 0
    assert_store_clean(ours)
