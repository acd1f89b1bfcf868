"""Reads never trust the disk: a blob whose bytes changed (one flipped bit) is refused wherever it is read.

Each test flips a real bit in a real blob file of a real store and reads through the public API: a data
version (``nbtrack.data.load``), an artifact (``nbtrack.load_artifact``) and the REST route that serves
artifacts as ``immutable``. Every read must raise :class:`CorruptBlobError` naming ``nbtrack fsck``;
none may return the damaged content.
"""

from __future__ import annotations

import json
import random

import numpy as np
import pandas as pd
import pytest
from traitlets.config import Config

import nbtrack
import nbtrack.data
from nbtrack.errors import CorruptBlobError, CorruptDataError
from nbtrack.store import Store


def _flip_bit(path, rng: random.Random) -> tuple[int, int]:
    data = bytearray(path.read_bytes())
    offset = rng.randrange(len(data))
    bit = 1 << rng.randrange(8)
    data[offset] ^= bit
    path.write_bytes(bytes(data))
    return offset, bit


def _unflip(path, offset: int, bit: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= bit
    path.write_bytes(bytes(data))


def _frame(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame(
        {
            "id": np.arange(rows, dtype=np.int64),
            "x": rng.normal(size=rows),
            "n": rng.integers(0, 1000, rows).astype(np.int32),
            "s": pd.array([f"user_{i % 997}" for i in range(rows)], dtype="str"),
        }
    )


def test_a_flipped_bit_in_any_data_chunk_is_an_error_never_wrong_values(store):
    df = _frame(60_000)
    nbtrack.data.snapshot(df, "flips", store=store)
    blobs = [r[0] for r in store.query("SELECT blob FROM data_chunks WHERE dataset = 'flips'")]
    assert len(blobs) >= 4
    rng = random.Random(21)
    outcomes: dict[str, int] = {}
    for _trial in range(30):
        path = store.blobs.path(rng.choice(blobs))
        offset, bit = _flip_bit(path, rng)
        try:
            loaded = nbtrack.data.load("flips", store=store)
        except CorruptBlobError as error:
            assert "nbtrack fsck" in str(error)
            outcomes["CorruptBlobError"] = outcomes.get("CorruptBlobError", 0) + 1
        except Exception as error:  # what the bug looked like: raw Arrow errors
            outcomes[type(error).__name__] = outcomes.get(type(error).__name__, 0) + 1
        else:
            same = loaded.equals(df)
            outcomes["returned equal" if same else "returned WRONG values"] = (
                outcomes.get("returned equal" if same else "returned WRONG values", 0) + 1
            )
        finally:
            _unflip(path, offset, bit)
    assert outcomes == {"CorruptBlobError": 30}, outcomes
    pd.testing.assert_frame_equal(nbtrack.data.load("flips", store=store), df)  # restored bytes read again
    assert nbtrack.fsck(store=store).clean


def test_a_corrupt_chunk_is_a_corrupt_data_error_for_callers_that_catch_those(store):
    nbtrack.data.snapshot(_frame(5_000), "one", store=store)
    blob = store.query("SELECT blob FROM data_chunks WHERE dataset = 'one' LIMIT 1")[0][0]
    _flip_bit(store.blobs.path(blob), random.Random(1))
    with pytest.raises(CorruptDataError, match="nbtrack fsck"):
        nbtrack.data.load("one", store=store)
    report = nbtrack.fsck(store=store)
    assert ("data_chunks", blob) in report.corrupt and not report.clean


def test_load_artifact_refuses_damaged_bytes(store):
    payload = bytes(range(256)) * 64
    with nbtrack.start_run(store=store) as run:
        digest = run.log_artifact(payload, "weights.bin")
        run.log_model({"w": [1, 2, 3]}, "model.pkl")
    assert nbtrack.load_artifact(run.run_id, "weights.bin", store=store) == payload
    rng = random.Random(5)
    for _trial in range(20):
        offset, bit = _flip_bit(store.blobs.path(digest), rng)
        with pytest.raises(CorruptBlobError, match="nbtrack fsck") as caught:
            nbtrack.load_artifact(run.run_id, "weights.bin", store=store)
        assert digest in str(caught.value)
        _unflip(store.blobs.path(digest), offset, bit)
    model_blob = store.query("SELECT blob FROM artifacts WHERE name = 'model.pkl'")[0][0]
    _flip_bit(store.blobs.path(model_blob), rng)
    with pytest.raises(CorruptBlobError):  # never unpickles damaged bytes, trusted or not
        nbtrack.load_artifact(run.run_id, "model.pkl", trusted=True, store=store)
    assert nbtrack.load_artifact(run.run_id, "weights.bin", store=store) == payload


# -- the REST route serves artifacts as immutable: it must never serve damaged bytes -------------------
@pytest.fixture
def nb_store(tmp_path):
    store = Store.open(tmp_path / "project" / ".nbtrack", create=True)
    yield store
    store.close()


@pytest.fixture
def jp_server_config(nb_store):
    return Config(
        {
            "ServerApp": {"jpserver_extensions": {"nbtrack": True}},
            "NbtrackServer": {"store_path": str(nb_store.root)},
        }
    )


async def test_the_artifact_route_never_serves_damaged_bytes(jp_fetch, nb_store):
    payload = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4096  # 1 MiB: more than one block sent
    with nbtrack.start_run(store=nb_store) as run:
        digest = run.log_artifact(payload, "curve.png", kind="figure", media_type="image/png")
    ok = await jp_fetch("nbtrack", "api", "v1", "artifacts", digest)
    assert ok.code == 200 and ok.body == payload and "immutable" in ok.headers["Cache-Control"]
    offset, bit = _flip_bit(nb_store.blobs.path(digest), random.Random(9))
    bad = await jp_fetch("nbtrack", "api", "v1", "artifacts", digest, raise_error=False)
    assert bad.code == 500, (bad.code, bad.body[:200])
    assert "immutable" not in bad.headers.get("Cache-Control", "")
    body = json.loads(bad.body)
    assert body["code"] == "corrupt_blob" and "nbtrack fsck" in body["message"], body
    _unflip(nb_store.blobs.path(digest), offset, bit)
    again = await jp_fetch("nbtrack", "api", "v1", "artifacts", digest)
    assert again.code == 200 and again.body == payload
