"""Each run's seal (``nbtrack.store.seal``): a value of a run's row, artifacts or data links changed inside
``nbtrack.db`` (the bytes a flipped bit leaves, made here with SQL on a real store file) is an error naming
``fsck`` wherever the run is read, and every legitimate write keeps the seal current, so a store that
nbtrack itself changed never reads as damaged."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import nbtrack
import nbtrack.data
from nbtrack.cli.main import main
from nbtrack.errors import DamagedStoreError
from nbtrack.reading import list_runs
from nbtrack.store import Store, seal
from nbtrack.store import merge as store_merge

SEALED = "no longer match its seal.*nbtrack fsck"
FIXTURES = Path(__file__).parent.parent / "fixtures" / "stores"


def _store(root: Path, rows: int = 20) -> str:
    """A finished run with a param, a tag, metrics, an artifact and an input data version; returns its id."""
    store = Store.open(root)
    frame = pd.DataFrame({"id": range(rows), "x": [i / 3 for i in range(rows)]})
    nbtrack.snapshot(frame, "customers", key="id", store=store)
    (fingerprint,) = store.query("SELECT fingerprint FROM data_versions WHERE dataset = 'customers'")[0]
    with nbtrack.start_run("trained", params={"lr": 0.1}, tags={"stage": "dev"}, store=store) as run:
        run.record_data("input", fingerprint, dataset="customers", version=1, rows=rows, columns=2)
        run.log_metrics({"loss": 0.25, "acc": 0.75})
        run.log_artifact(b"weights", "model.bin")
    store.close()
    return run.run_id


def _damage(root: Path, sql: str) -> None:
    conn = sqlite3.connect(root / "nbtrack.db")
    with conn:
        assert conn.execute(sql).rowcount >= 1, sql
    conn.close()


LISTED = [
    "UPDATE runs SET name = 'trainef'",
    "UPDATE runs SET status = 'failed'",
    "UPDATE runs SET start = start + 3600",
    'UPDATE runs SET "end" = "end" - 1',
    "UPDATE runs SET duration_s = duration_s * 2",
    "UPDATE runs SET user = 'mallory'",
    "UPDATE runs SET summary_num = CAST(zeroblob(length(summary_num)) AS BLOB)",
    "UPDATE runs SET kind = 'notebook'",
]
UNLISTED = [
    "UPDATE runs SET code = coalesce(code, '') || ' '",
    "UPDATE runs SET host = 'elsewhere'",
    "UPDATE runs SET source_path = 'other.ipynb'",
    "UPDATE artifacts SET blob = '0' || substr(blob, 2)",
    "UPDATE artifacts SET size = size + 1",
    "DELETE FROM artifacts",
    "INSERT INTO artifacts SELECT run_id, 'extra.bin', kind, blob, size, media_type, created, meta FROM artifacts",
    "UPDATE run_data SET version = 2",
    "UPDATE run_data SET fingerprint = 'f' || substr(fingerprint, 2)",
    "DELETE FROM run_data",
]


@pytest.mark.parametrize("sql", LISTED + UNLISTED)
def test_a_changed_run_is_an_error_in_get_run_and_fsck(tmp_path, sql):
    root = tmp_path / ".nbtrack"
    run_id = _store(root)
    assert nbtrack.fsck(store=root).clean
    _damage(root, sql)
    with pytest.raises(DamagedStoreError, match=SEALED):
        nbtrack.get_run(run_id, store=root)
    report = nbtrack.fsck(store=root)
    assert not report.clean
    assert any(f"1 runs whose rows do not match their seal ({run_id})" in line for line in report.lines())


@pytest.mark.parametrize("sql", LISTED)
def test_a_changed_listed_value_is_an_error_in_every_listing(tmp_path, sql):
    root = tmp_path / ".nbtrack"
    _store(root)
    _damage(root, sql)
    with pytest.raises(DamagedStoreError, match=SEALED):
        nbtrack.runs(store=root)
    with pytest.raises(DamagedStoreError, match=SEALED):
        list_runs(limit=10, store=root)  # a page of GET /runs and the sidebar
    result = CliRunner().invoke(main, ["runs"], env={"NBTRACK_HOME": str(root)})
    assert result.exit_code != 0 and "no longer match its seal" in result.output and "Traceback" not in result.output


def test_changed_summary_names_or_types_are_an_error_in_every_listing(tmp_path):
    """A listing decodes each summary layout with the names and types of one run of it: those must hash to
    the layout (which the seals cover), or a number would be read with another type."""
    root = tmp_path / ".nbtrack"
    run_id = _store(root)
    _damage(root, "UPDATE runs SET summary_codes = replace(summary_codes, 'f', 'i')")
    with pytest.raises(DamagedStoreError, match="summary names of a run.*not its layout.*nbtrack fsck"):
        nbtrack.runs(store=root)
    with pytest.raises(DamagedStoreError, match="summary names of a run.*not its layout"):
        list_runs(limit=10, store=root)
    with pytest.raises(DamagedStoreError, match=SEALED):
        nbtrack.get_run(run_id, store=root)


def test_a_read_only_store_checks_seals_too(tmp_path, monkeypatch):
    """Opened read-only (a read-only mount; tests/reliability/test_read_only_store.py mounts one), the
    store has no triggers and writes nothing, and still checks every seal it reads."""
    from nbtrack.store import _files

    root = tmp_path / ".nbtrack"
    run_id = _store(root)
    _damage(root, "UPDATE runs SET name = 'x'")
    monkeypatch.setattr(_files, "writable", lambda root: False)
    store = Store.open(root, create=False)
    assert store.read_only
    with pytest.raises(DamagedStoreError, match=SEALED):
        nbtrack.get_run(run_id, store=store)
    with pytest.raises(DamagedStoreError, match=SEALED):
        nbtrack.runs(store=store)


def test_edits_after_the_run_keep_its_seal(tmp_path):
    """Tags, a note, archive and restore, a crashed run marked, fsck --repair: nbtrack's own writes reseal."""
    root = tmp_path / ".nbtrack"
    run_id = _store(root)
    nbtrack.tag_run(run_id, {"reviewed": "yes"}, store=root)
    nbtrack.set_note(run_id, "baseline for the Q3 model", store=root)
    nbtrack.archive_runs(run_id, store=root)
    nbtrack.restore_runs(run_id, store=root)
    store = Store.open(root)
    blob = store.query("SELECT blob FROM artifacts")[0][0]
    store.blobs.path(blob).unlink()  # a lost blob: --repair drops its artifact row
    store.close()
    assert nbtrack.fsck(repair=True, store=root).repaired_rows == 1
    record = nbtrack.get_run(run_id, store=root)
    assert record.tags["reviewed"] == "yes" and record.artifacts == []
    assert nbtrack.fsck(store=root).clean
    assert len(nbtrack.runs(store=root)) == 1


def test_merged_runs_are_sealed_in_their_new_store(tmp_path):
    """A merge renumbers data versions (``run_data.version`` changes): the merged runs are resealed."""
    ours, theirs = tmp_path / "ours" / ".nbtrack", tmp_path / "theirs" / ".nbtrack"
    _store(ours, rows=30)
    run_id = _store(theirs)  # its customers@1 is taken by other data here: it becomes customers@2
    store_merge.merge(theirs, into=ours)
    record = nbtrack.get_run(run_id, store=ours)
    assert [d["version"] for d in record.inputs] == [2]
    assert nbtrack.fsck(store=ours).clean and len(nbtrack.runs(store=ours)) == 2


def test_an_older_store_is_sealed_when_it_is_opened(tmp_path):
    root = tmp_path / ".nbtrack"
    shutil.copytree(FIXTURES / "schema-9", root)
    store = Store.open(root)
    assert store.schema_version >= seal.SEAL_SCHEMA
    assert store.query("SELECT COUNT(*) FROM runs WHERE seal IS NULL") == [(0,)]
    assert seal.broken_seals(store.query) == []
    run_id = store.query("SELECT run_id FROM runs LIMIT 1")[0][0]
    store.close()
    _damage(root, f"UPDATE runs SET name = 'renamed' WHERE run_id = '{run_id}'")
    with pytest.raises(DamagedStoreError, match=SEALED):
        nbtrack.get_run(run_id, store=root)


def test_a_damaged_run_is_never_merged_and_sealed_anew(tmp_path):
    """Merge (and so a push's pack) checks the source's seals: a damaged run is refused, not blessed."""
    ours, theirs = tmp_path / "ours" / ".nbtrack", tmp_path / "theirs" / ".nbtrack"
    _store(ours, rows=30)
    _store(theirs)
    _damage(theirs, "UPDATE runs SET name = 'tampered'")
    with pytest.raises(DamagedStoreError, match="no longer match their seal.*nothing was merged.*fsck"):
        store_merge.merge(theirs, into=ours)
    assert list(nbtrack.runs(store=ours)["name"]) == ["trained"]


def test_a_changed_environment_is_an_error(tmp_path):
    """The run's seal covers its environment's hash, and the hash covers the environment's text."""
    root = tmp_path / ".nbtrack"
    run_id = _store(root)
    assert nbtrack.get_run(run_id, store=root).environment["python"]
    _damage(root, "UPDATE environments SET data = replace(data, '\"python\"', '\"pythom\"')")
    with pytest.raises(DamagedStoreError, match="environment of a run.*does not hash.*nbtrack fsck"):
        nbtrack.get_run(run_id, store=root)
    report = nbtrack.fsck(store=root)
    assert not report.clean and "1 environments whose text does not match their hash" in report.integrity


def test_a_changed_experiment_name_is_an_error_wherever_it_is_shown_or_filtered(tmp_path):
    """Listings show experiment names and filters compare them: a name changed on disk would move runs to
    another experiment, or make one look empty."""
    root = tmp_path / ".nbtrack"
    run_id = _store(root)
    _damage(root, "UPDATE experiments SET name = 'Default'")
    for read in (
        lambda: nbtrack.runs(store=root),
        lambda: nbtrack.runs(experiment="default", store=root),
        lambda: nbtrack.runs(where="experiment = 'default'", store=root),
        lambda: list_runs(limit=10, store=root),
        lambda: nbtrack.get_run(run_id, store=root),
    ):
        with pytest.raises(DamagedStoreError, match="experiments row.*no longer match their seal.*nbtrack fsck"):
            read()
    report = nbtrack.fsck(store=root)
    assert not report.clean and "1 experiments whose row does not match its seal" in report.integrity


def test_experiments_made_by_runs_and_merges_are_sealed(tmp_path):
    ours, theirs = tmp_path / "ours" / ".nbtrack", tmp_path / "theirs" / ".nbtrack"
    _store(ours, rows=30)
    store = Store.open(theirs)
    with nbtrack.start_run("elsewhere", experiment="churn", store=store):
        pass
    store.close()
    store_merge.merge(theirs, into=ours)
    assert sorted(nbtrack.runs(store=ours)["experiment"]) == ["churn", "default"]
    store = Store.open(ours)
    assert store.query("SELECT COUNT(*) FROM experiments WHERE seal IS NULL") == [(0,)]
    store.close()
    assert nbtrack.fsck(store=ours).clean


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE data_versions SET rows = rows - 1",
        "UPDATE data_versions SET message = 'other'",
        "UPDATE data_chunks SET rows = rows + 1",
        "DELETE FROM data_chunks WHERE seq = (SELECT MAX(seq) FROM data_chunks)",
    ],
)
def test_a_changed_data_version_is_an_error(tmp_path, sql):
    """A data version's seal covers its row and its chunk list: a chunk row lost or changed would load
    other data, a changed count or message would list wrong."""
    root = tmp_path / ".nbtrack"
    _store(root)
    _damage(root, sql)
    for read in (
        lambda: nbtrack.load("customers", store=root),
        lambda: nbtrack.data.versions("customers", store=root),
    ):
        with pytest.raises(DamagedStoreError, match="data version customers@1.*no longer matches its seal.*fsck"):
            read()
    report = nbtrack.fsck(store=root)
    assert not report.clean and "1 data_versions rows that do not match their seal (customers@1)" in report.integrity


def test_a_changed_model_version_is_an_error(tmp_path):
    root = tmp_path / ".nbtrack"
    store = Store.open(root)
    with nbtrack.start_run("trained", store=store) as run:
        run.log_model({"weights": [0.5]}, "model.pkl")
    nbtrack.register_model(run.run_id, "churn", store=store)
    store.close()
    _damage(root, "UPDATE model_versions SET artifact = 'm' || substr(artifact, 2) || 'x'")
    with pytest.raises(DamagedStoreError, match="model version churn@1.*no longer matches its seal.*fsck"):
        nbtrack.get_model("churn@1", store=root)
    assert "model_versions rows that do not match their seal (churn@1)" in nbtrack.fsck(store=root).integrity
