"""One %%track option grammar (nbtrack.capture.options): the magic and `nbtrack export` read the same options."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from types import SimpleNamespace

import nbformat
import pytest

import nbtrack
from nbtrack.capture.plan import TrackOptions
from nbtrack.production import export

DEFAULTS = {
    "name": None,
    "experiment": None,
    "tags": {},
    "params": [],
    "metrics": None,
    "figures": True,
    "autolog": True,
    "quiet": False,
}

SPELLINGS = [
    ("", {}),
    ("baseline", {"name": "baseline"}),
    ("--quiet baseline", {"name": "baseline", "quiet": True}),
    ("baseline --quiet", {"name": "baseline", "quiet": True}),
    ("-e exp baseline", {"name": "baseline", "experiment": "exp"}),
    ("baseline -e exp", {"name": "baseline", "experiment": "exp"}),
    ("--experiment=exp baseline", {"name": "baseline", "experiment": "exp"}),
    ("baseline --experiment exp", {"name": "baseline", "experiment": "exp"}),
    ("-e exp", {"experiment": "exp"}),
    (
        "-t stage=dev owner=ana -t note=a=b baseline",
        {"name": "baseline", "tags": {"stage": "dev", "owner": "ana", "note": "a=b"}},
    ),
    ("baseline --tag stage=dev --tag owner=ana", {"name": "baseline", "tags": {"stage": "dev", "owner": "ana"}}),
    ("baseline -t stage=dev --quiet", {"name": "baseline", "tags": {"stage": "dev"}, "quiet": True}),
    ("--tag=stage=dev baseline", {"name": "baseline", "tags": {"stage": "dev"}}),
    ("--exp exp baseline", {"name": "baseline", "experiment": "exp"}),  # unambiguous abbreviations, as argparse
    ("-- --odd-name", {"name": "--odd-name"}),
    ("--params a,b --metrics acc baseline", {"name": "baseline", "params": ["a", "b"], "metrics": ["acc"]}),
    ("baseline --params=a,b --metrics=acc,b", {"name": "baseline", "params": ["a", "b"], "metrics": ["acc", "b"]}),
    ("--no-figures --no-autolog baseline", {"name": "baseline", "figures": False, "autolog": False}),
    (
        "baseline --no-figures --no-autolog -e exp",
        {"name": "baseline", "figures": False, "autolog": False, "experiment": "exp"},
    ),
    ("--no-autolog", {"autolog": False}),
    ('"my run" -e exp --quiet', {"name": "my run", "experiment": "exp", "quiet": True}),
    (
        "fit -e prod -t stage=dev owner=ana --metrics score --no-figures --no-autolog",
        {
            "name": "fit",
            "experiment": "prod",
            "tags": {"stage": "dev", "owner": "ana"},
            "metrics": ["score"],
            "figures": False,
            "autolog": False,
        },
    ),
]


def _magic_options(shell, monkeypatch, line: str) -> TrackOptions:
    """The TrackOptions the %%track magic hands the capture engine for ``line``."""
    from nbtrack.magics import magic

    seen = []

    def fake_track_cell(shell_, cell, options, line=None):
        seen.append(options)
        return SimpleNamespace(summary=lambda: "", notes=[], run_id="fake")

    monkeypatch.setattr(magic, "track_cell", fake_track_cell)
    shell.run_cell_magic("track", line, "a = 1\nb = 2\nacc = a + b")
    (options,) = seen
    return options


def _script_call(monkeypatch, line: str) -> tuple[str | None, dict]:
    """The arguments the exported script passes to nbtrack.track for a ``%%track line`` cell."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f"%%track {line}\na = 1\nb = 2\nacc = a + b")])
    text = export.export_script(nb).text
    calls = []

    def fake_track(name=None, **kwargs):
        calls.append((name, kwargs))
        return contextlib.nullcontext()

    monkeypatch.setattr(nbtrack, "track", fake_track)
    monkeypatch.setattr(sys, "argv", ["exported.py"])
    exec(compile(text, "exported.py", "exec"), {"__name__": "__main__"})
    (call,) = calls
    return call


@pytest.mark.parametrize("line, expected", SPELLINGS, ids=[s[0] or "(none)" for s in SPELLINGS])
def test_the_magic_and_export_read_the_same_options(shell, monkeypatch, line, expected):
    want = {**DEFAULTS, **expected}
    from_magic = _magic_options(shell, monkeypatch, line)
    assert {key: getattr(from_magic, key) for key in want} == want
    name, kwargs = _script_call(monkeypatch, line)  # what the exported script really passes to nbtrack.track
    from_script = {
        "name": name,
        "experiment": kwargs.get("experiment"),
        "tags": kwargs.get("tags", {}),
        "metrics": kwargs.get("metrics"),
        "figures": kwargs.get("figures", True),
        "autolog": kwargs.get("autolog", True),
    }
    assert from_script == {key: want[key] for key in from_script}
    assert set(want["params"]) <= set(kwargs["params"])
    assert export.track_options(f"%%track {line}") == from_magic  # the export's reading, option for option


def test_the_magic_settings_fill_what_the_line_does_not_set(shell, monkeypatch):
    shell.run_line_magic("config", "TrackMagics.quiet = True")
    shell.run_line_magic("config", "TrackMagics.figures = False")
    shell.run_line_magic("config", "TrackMagics.experiment = 'configured'")
    options = _magic_options(shell, monkeypatch, "fit")
    assert (options.quiet, options.figures, options.autolog, options.experiment) == (True, False, True, "configured")
    assert _magic_options(shell, monkeypatch, "fit -e mine").experiment == "mine"


@pytest.mark.parametrize(
    "line, message",
    [
        ("--bogus", "unrecognized arguments: --bogus"),
        ("one two", "quote a name with spaces"),
        ("-t stage", "is not key=value: write it as -t stage=value"),
        ("-e", "expected one argument"),
        ("'unclosed", "check the quotes"),
        ("--no x", "ambiguous option"),
    ],
)
def test_bad_options_are_a_usage_error_from_the_core_error(shell, line, message):
    from IPython.core.error import UsageError

    from nbtrack.capture.options import parse_track_line
    from nbtrack.errors import TrackUsageError

    with pytest.raises(TrackUsageError, match=message):
        parse_track_line(line)
    with pytest.raises(UsageError, match=message) as info:
        shell.run_cell_magic("track", line, "x = 1")
    assert isinstance(info.value.__cause__, TrackUsageError)
    assert "x" not in shell.user_ns and len(nbtrack.runs()) == 0


def test_track_help_shows_every_option():
    from nbtrack.magics.magic import TrackMagics

    help_text = TrackMagics.track.__doc__
    assert help_text.startswith("::\n\n  %%track ") and "Track a cell as an nbtrack run" in help_text
    for option in (
        "name",
        "-e EXPERIMENT, --experiment EXPERIMENT",
        "-t <KEY=VALUE [KEY=VALUE ...]>, --tag",
        "--params <A,B>",
        "--metrics <X,Y>",
        "--no-figures",
        "--no-autolog",
        "--quiet",
    ):
        assert option in help_text, option
    assert "%track runs" in help_text and "%track snapshot" in help_text  # the subcommands stay documented


def test_the_grammar_does_not_import_a_shell():
    code = (
        "import sys; from nbtrack.capture.options import parse_track_line; parse_track_line('x -e y'); "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'IPython', 'click', 'tornado', 'ipywidgets', 'jupyter_server', 'traitlets'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_max_models_setting_fills_what_the_line_leaves_out(shell, run_ok, last_run):
    shell.run_line_magic("config", "TrackMagics.max_models = 1")
    run_ok(
        "from sklearn.linear_model import LinearRegression\n"
        "import numpy as np\nX = np.arange(10.0).reshape(-1, 1)\ny = 2 * X.ravel()"
    )
    run_ok("%%track two\nfirst = LinearRegression().fit(X, y)\nsecond = LinearRegression().fit(X, y)")
    models = [a for a in last_run().artifacts if a["kind"] == "model"]
    assert len(models) == 1
