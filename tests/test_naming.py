"""One word for one thing (docs/naming.md): the words users read in the CLI help, the %track help and the
sidebar's labels follow the vocabulary. Only the rules adopted in docs/naming.md are checked here."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from nbtrack.cli import main

ROOT = Path(__file__).resolve().parent.parent

# papermill's own words, which name papermill things rather than a run's params: the notebook cell it
# reads is tagged `parameters` ("the parameters cell"), papermill injects `injected-parameters`, and a
# notebook that has such a cell is "parameterized".
PAPERMILL_WORDS = re.compile(r"`parameters`|parameters cell|injected-parameters|parameteri[sz]ed", re.I)


def _cli_help() -> dict[str, str]:
    """Each command's own words: its help text and its options' help (not the usage line, not a group's
    listing of its subcommands, which is checked at the subcommand). `nbtrack data versions` is a name."""
    texts = {}
    for path, command in _commands(main, ["nbtrack"]):
        words = [command.help or ""] + [getattr(p, "help", None) or "" for p in command.params]
        texts[" ".join(path)] = "\n".join(words).replace("nbtrack data versions", "nbtrack data _versions_")
    return texts


def _commands(command: click.Command, path: list[str]):
    yield path, command
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from _commands(sub, path + [name])


def _track_help() -> str:
    """What `%track?` shows: the docstring and the %%track options."""
    from nbtrack.magics.magic import TrackMagics

    return (TrackMagics.track.__doc__ or "") + TrackMagics.track.parser.format_help()


def _sidebar_strings() -> list[tuple[str, str]]:
    """The string literals of the sidebar's TypeScript (labels, headings, titles, messages)."""
    found = []
    for path in sorted((ROOT / "labextension" / "src").glob("*.ts")):
        for line in path.read_text().splitlines():
            if line.lstrip().startswith(("import ", "//", "*", "/*")):
                continue
            for match in re.finditer(r"'((?:[^'\\]|\\.)*)'|`((?:[^`\\]|\\.)*)`|\"((?:[^\"\\]|\\.)*)\"", line):
                found.append((path.name, next(g for g in match.groups() if g is not None)))
    return found


def _surfaces() -> list[tuple[str, str]]:
    return [*(_cli_help().items()), ("%track?", _track_help()), *_sidebar_strings()]


def test_the_sidebar_strings_are_found():
    texts = [text for _, text in _sidebar_strings()]
    assert "Params" in texts and "Metrics" in texts and "Datasets" in texts  # the extractor works


def test_param_not_parameter():
    offenders = []
    for where, text in _surfaces():
        if re.search(r"\bparameters?\b", PAPERMILL_WORDS.sub("", text), re.I):
            offenders.append((where, text))
    assert not offenders, f"say 'param(s)', not 'parameter(s)' (docs/naming.md): {offenders}"


@pytest.mark.parametrize(
    "wrong, right",
    [
        (r"\bdata[ -]sets?\b", "dataset"),
        (r"\bartefacts?\b", "artifact"),
        (r"\bdata versions?\b", "dataset version (or just version)"),
        (r"\b(?:a|the|its|DataFrame) snapshots?\b", "version (snapshot is the verb that makes one)"),
        (r"(?<![/\w])projects?\b(?!/)", "experiment"),
    ],
)
def test_one_word_per_concept(wrong, right):
    offenders = [(where, text) for where, text in _surfaces() if re.search(wrong, text, re.I)]
    assert not offenders, f"say {right!r} (docs/naming.md): {offenders}"


def test_the_store_is_called_store():
    for where, text in _cli_help().items():
        assert not re.search(r"\bhome\b", text.replace("NBTRACK_HOME", ""), re.I), where


def _options(group: click.Group, prefix: str = "nbtrack"):
    for name, command in group.commands.items():
        for param in command.params:
            if isinstance(param, click.Option):
                yield f"{prefix} {name}", param
        if isinstance(command, click.Group):
            yield from _options(command, f"{prefix} {name}")


def test_repeatable_options_are_singular():
    # -p lr 0.1 -p depth 5 / -t stage=dev: an option given once per item is named for one item; options
    # taking a comma-separated list are plural (%%track --params a,b, --metrics x,y).
    for where, option in _options(main):
        if option.multiple:
            longs = [o for o in option.opts if o.startswith("--")]
            assert longs and not any(o.endswith("s") for o in longs), f"{where} {option.opts}"
    from nbtrack.magics.magic import TrackMagics

    actions = {a.dest: a for a in TrackMagics.track.parser._actions}
    assert actions["tag"].option_strings == ["-t", "--tag"] and actions["tag"].nargs == "+"
    assert "--params" in actions["params"].option_strings and "--metrics" in actions["metrics"].option_strings
