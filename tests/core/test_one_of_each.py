"""One run resolver, one comparison, one error table: every shell gives the same answer."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

import nbtrack
from nbtrack import errors
from nbtrack.cli import main
from nbtrack.comparison import compare_runs
from nbtrack.errors import AmbiguousRunIdError, RunNotFoundError
from nbtrack.server._errors import ERROR_CODES, error_body, http_status


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_a_run_name_resolves_in_the_cli_as_in_the_magic(store):
    with nbtrack.start_run("baseline") as run:
        run.log_metric("acc", 0.9)
    code, out = _cli("show", "baseline")
    assert code == 0, out
    assert run.run_id in out
    assert nbtrack.get_run("baseline").run_id == run.run_id
    assert store.resolve_run_id(run.run_id[-8:]) == run.run_id
    assert store.resolve_run_id(run.run_id.upper()) == run.run_id


def test_an_ambiguous_name_lists_its_candidates(store):
    with nbtrack.start_run("tuned") as first:
        pass
    with nbtrack.start_run("tuned") as second:
        pass
    with pytest.raises(AmbiguousRunIdError) as caught:
        store.resolve_run_id("tuned")
    message = str(caught.value)
    assert first.run_id[-8:] in message and second.run_id[-8:] in message and "short id" in message
    assert message.index(second.run_id[-8:]) < message.index(first.run_id[-8:])  # newest first
    code, out = _cli("show", "tuned")
    assert code != 0 and second.run_id[-8:] in out


def test_an_unknown_run_says_how_to_list_runs(store):
    with pytest.raises(RunNotFoundError, match="nbtrack runs"):
        store.resolve_run_id("no-such-run")


def test_cli_compare_and_the_rest_comparison_agree(store):
    with nbtrack.start_run("a", params={"lr": 0.1}) as a:
        a.log_metric("acc", 0.8)
    with nbtrack.start_run("b", params={"lr": 0.2}) as b:
        b.log_metric("acc", 0.8)
    comparison = compare_runs([a.run_id, "b", a.run_id[-8:]])
    assert [r.run_id for r in comparison.runs] == [a.run_id, b.run_id]  # each run once
    assert [(c.key, c.values, c.differs) for c in comparison.params] == [("lr", [0.1, 0.2], True)]
    assert [(c.key, c.values, c.differs) for c in comparison.metrics] == [("acc", [0.8, 0.8], False)]
    frame = nbtrack.compare([a.run_id, b.run_id])
    assert frame.loc["params.lr", "differs"] and not frame.loc["metrics.acc", "differs"]
    as_json = comparison.to_dict()
    assert as_json["params"] == [{"key": "lr", "values": [0.1, 0.2], "differs": True}]


def _error_classes() -> list[type]:
    return [
        value for value in vars(errors).values() if isinstance(value, type) and issubclass(value, errors.NbtrackError)
    ]


def test_every_error_class_has_a_written_out_status_and_code():
    missing = [cls.__name__ for cls in _error_classes() if cls not in ERROR_CODES]
    assert not missing, f"add these to nbtrack.server._errors.ERROR_CODES: {missing}"
    codes = [code for _, code in ERROR_CODES.values()]
    assert len(codes) == len(set(codes))


def test_error_codes_do_not_follow_class_names():
    # The code comes from the table, not from __name__: a class of another name keeps its parent's code.
    class SomethingElseError(errors.RunNotFoundError):
        pass

    error = SomethingElseError("gone")
    assert http_status(error) == 404 and error_body(error, 404)["code"] == "run_not_found"
    assert error_body(errors.QueryError("bad", "x", 0), 400)["code"] == "query"


def test_a_kernel_that_will_not_stop_is_reported_not_raised():
    code = """
from nbtrack.production import _kernel
class Process:
    pid = 4242
    def poll(self):
        return None  # still alive
class Provisioner:
    process = Process()
class Manager:
    provisioner = Provisioner()
    async def shutdown_kernel(self, now=False):
        raise RuntimeError("stuck")
print(_kernel._stop(Manager(), now=False))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "kernel pid 4242: RuntimeError: stuck"
