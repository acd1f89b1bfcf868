"""Stores written by released nbtrack versions stay readable; a newer store is refused untouched.

tests/fixtures/stores/schema-N is a store written by the release whose schema version is N (0.1.0
wrote version 2, 0.2.0 version 3; 0.3.0 adds 4, the model registry, 5, session slices, and 6, the user of each run). When a migration is added, add a fixture for the new version with
tests/fixtures/make_store.py and keep the old ones.
"""

import shutil
from pathlib import Path

import pytest

import nbtrack
from nbtrack.errors import StoreVersionError
from nbtrack.production._sources import read_session_slice
from nbtrack.store import Store
from nbtrack.store import schema as _schema

FIXTURES = sorted((Path(__file__).parent.parent / "fixtures" / "stores").glob("schema-*"))


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.name for f in FIXTURES])
def test_released_store_opens_migrates_and_reads_back(fixture, tmp_path):
    root = tmp_path / ".nbtrack"
    shutil.copytree(fixture, root)
    store = Store.open(root)
    assert store.schema_version == _schema.latest_version()
    frame = nbtrack.runs(store=store)
    assert frame["name"].tolist() == ["fixture"]
    record = nbtrack.get_run(frame["run_id"][0], store=store)
    assert record.params == {"lr": 0.1, "layers": [16, 8], "model": "rf"}
    assert record.metric("loss").tolist() == [1.0, 0.5, 1 / 3, 0.25, 0.2] and record.latest["acc"] == 0.9
    assert nbtrack.load_artifact(record.run_id, "curve.png", store=store)[:4] == b"\x89PNG"
    data = nbtrack.load("fixture-data", store=store)
    assert data["id"].tolist() == [1, 2, 3] and str(data["c"].dtype) == "category"
    assert nbtrack.fsck(store=store).clean
    if int(fixture.name.split("-")[1]) >= 4:  # written with the model registry
        assert nbtrack.load_model("fixture-model@champion", trusted=True, store=store) == {"coef": [0.5, 2.0]}
        assert nbtrack.model_history("fixture-model", store=store)[0]["reason"] == "fixture"
    else:
        assert nbtrack.models(store=store).empty
    assert record.user == ("fixture-maker" if int(fixture.name.split("-")[1]) >= 6 else None)
    if int(fixture.name.split("-")[1]) >= 5:  # written with session slices
        sliced = read_session_slice(store, record.run_id)
        assert sliced is not None and sliced.sources() == ["import math", "%%track fixture\nroot = math.sqrt(lr)"]
    else:
        assert read_session_slice(store, record.run_id) is None
    if int(fixture.name.split("-")[1]) >= 9:  # written with a note and an archived run
        assert record.note == "fixture note"
        assert nbtrack.runs(store=store, archived="only")["name"].tolist() == ["archived"]
    else:
        assert record.note is None and record.archived is None
    with nbtrack.start_run("new", store=store):
        pass
    assert len(nbtrack.runs(store=store)) == 2


def test_fixtures_cover_the_current_schema():
    assert f"schema-{_schema.latest_version()}" in {f.name for f in FIXTURES}, (
        "add a fixture store written by this schema version to tests/fixtures/stores/"
    )


def test_store_from_a_newer_nbtrack_is_refused_untouched(tmp_path):
    root = tmp_path / ".nbtrack"
    shutil.copytree(FIXTURES[-1], root)
    store = Store.open(root)
    store.conn.execute(f"PRAGMA user_version = {_schema.latest_version() + 1}")
    store.close()
    before = {p.name: p.read_bytes() for p in root.iterdir() if p.is_file()}
    with pytest.raises(StoreVersionError, match="upgrade nbtrack"):
        Store.open(root)
    assert {p.name: p.read_bytes() for p in root.iterdir() if p.is_file()} == before
