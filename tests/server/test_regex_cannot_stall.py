"""A `~` filter cannot stall the server: patterns match in linear time (RE2), so the classic catastrophic
pattern `(a+)+$` over names like `aaaa...!` answers at once, and Jupyter's own routes stay responsive."""

from __future__ import annotations

import asyncio
import time

import pytest

import nbtrack
from nbtrack.errors import QueryError


@pytest.fixture
def evil_names(nb_store):
    for length in (28, 30, 32):
        with nbtrack.start_run("a" * length + "!", experiment="evil", store=nb_store):
            pass


async def test_a_catastrophic_pattern_answers_at_once_and_jupyter_stays_up(api, jp_fetch, evil_names):
    started = time.monotonic()
    runs, status = await asyncio.gather(
        api("runs", params={"where": "name ~ '(a+)+$'"}),
        jp_fetch("api", "status"),
    )
    assert time.monotonic() - started < 5  # Python's re takes minutes (2^30 steps) on the 30-character name
    assert runs["total"] == 0 and status.code == 200
    matched = await api("runs", params={"where": "name ~ '^a+!$'"})
    assert matched["total"] == 3


def test_the_python_api_uses_the_same_linear_matcher(nb_store, evil_names):
    started = time.monotonic()
    assert nbtrack.runs(where="name ~ '(a+)+$'", store=nb_store).empty
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("pattern", "words"),
    [("(a)\\\\1", "backreferences"), ("(?=a)", "lookaround"), ("a" * 1001, "keep it under 1000")],
)
def test_patterns_re2_cannot_run_are_refused_with_the_reason(nb_store, pattern, words):
    with pytest.raises(QueryError, match=words):
        nbtrack.runs(where=f"name ~ '{pattern}'", store=nb_store)


async def test_the_rest_api_refuses_them_as_query_errors(api_error, nb_store):
    body = await api_error(400, "runs", params={"where": "name ~ '(?=a)'"})
    assert body["code"] == "query" and "lookaround" in body["message"]
