"""What the sidebar's "Open output notebook" relies on to open a stored notebook untrusted.

A notebook artifact is served as it was stored (the server neither renders nor signs it). Saved into
the Jupyter root through the contents API as a notebook, a copy whose cells say ``"trusted": true`` is
signed by jupyter_server and reported trusted (the bug of issue 21, finding 1); saved as a file, as the
sidebar does (labextension/src/untrusted.ts), it is never signed and every code cell is reported
untrusted. tests/browser/test_xss_notebook_artifact.py drives the sidebar itself in a browser.
"""

from __future__ import annotations

import json

import nbtrack

CRAFTED = {
    "nbformat": 4,
    "nbformat_minor": 5,
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "cells": [
        {
            "cell_type": "code",
            "id": "crafted",
            "metadata": {"trusted": True},
            "execution_count": 1,
            "source": "1",
            "outputs": [
                {"output_type": "display_data", "metadata": {}, "data": {"application/javascript": "window.__x = 1"}}
            ],
        }
    ],
}


def _stored_notebook(store) -> tuple[str, bytes]:
    body = json.dumps(CRAFTED).encode()
    with nbtrack.start_run("imported", kind="notebook", store=store) as run:
        digest = run.log_artifact(body, "output.ipynb", kind="notebook", media_type="application/x-ipynb+json")
    return digest, body


async def _saved_trust(jp_fetch, path: str, model: dict) -> list[bool | None]:
    await jp_fetch("api", "contents", path, method="PUT", body=json.dumps(model))
    got = json.loads((await jp_fetch("api", "contents", path, params={"content": "1"})).body)
    return [c["metadata"].get("trusted") for c in got["content"]["cells"] if c["cell_type"] == "code"]


async def test_a_notebook_artifact_is_served_as_stored_and_never_rendered(api, nb_store):
    digest, body = _stored_notebook(nb_store)
    response = await api("artifacts", digest, raw=True)
    assert response.body == body
    assert response.headers["Content-Type"].startswith("application/x-ipynb+json")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response.headers["Content-Security-Policy"]


def _as_the_sidebar_saves_it(served: dict, digest: str, *, saved_copy: bool = True) -> dict:
    """The contents model labextension/src/untrusted.ts + index.ts save: trust flags removed, the
    source named in metadata.nbtrack.saved_copy, the text saved as a file."""
    nb = json.loads(json.dumps(served))
    nb["metadata"].pop("trusted", None)
    for cell in nb["cells"]:
        cell["metadata"].pop("trusted", None)
    if saved_copy:
        nb["metadata"].setdefault("nbtrack", {})["saved_copy"] = {"run_id": "r", "artifact": digest, "trusted": False}
    return {"type": "file", "format": "text", "content": json.dumps(nb, indent=1) + "\n"}


async def test_saved_as_a_file_it_is_never_signed(api, jp_fetch, nb_store):
    digest, _ = _stored_notebook(nb_store)
    served = json.loads((await api("artifacts", digest, raw=True)).body)
    assert await _saved_trust(jp_fetch, "copy.ipynb", _as_the_sidebar_saves_it(served, digest)) == [False]
    # A file save signs nothing, even of a text whose cell still says trusted (the sidebar strips it anyway).
    raw = {"type": "file", "format": "text", "content": json.dumps(CRAFTED)}
    assert await _saved_trust(jp_fetch, "raw.ipynb", raw) == [False]


async def test_a_copy_signed_before_the_fix_does_not_make_the_new_copy_trusted(api, jp_fetch, nb_store):
    digest, _ = _stored_notebook(nb_store)
    served = json.loads((await api("artifacts", digest, raw=True)).body)

    # What the sidebar did before: a notebook save of the trusted cell. jupyter_server signs it.
    as_notebook = {"type": "notebook", "format": "json", "content": served}
    assert await _saved_trust(jp_fetch, "old-copy.ipynb", as_notebook) == [True]

    # The notary remembers that signature for any file with the same content: stripping the flags
    # alone gives the very text it signed, which opens trusted.
    stripped = _as_the_sidebar_saves_it(served, digest, saved_copy=False)
    assert await _saved_trust(jp_fetch, "stripped.ipynb", stripped) == [True]
    # metadata.nbtrack.saved_copy makes the sidebar's copy a text never signed: untrusted.
    assert await _saved_trust(jp_fetch, "copy.ipynb", _as_the_sidebar_saves_it(served, digest)) == [False]
