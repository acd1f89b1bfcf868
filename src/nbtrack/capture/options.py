"""The ``%%track`` option grammar: one parser for the magic, ``nbtrack export`` and param inference.

::

    %%track [NAME] [-e EXPERIMENT] [-t KEY=VALUE ...] [--params A,B] [--metrics X,Y]
            [--no-figures] [--no-autolog] [--max-models N] [--quiet]

The line is split like a shell line (quotes group words and are removed: ``%%track "my run"``), then
read by argparse: options may come before or after NAME, in any order; long options take their value as
the next word or after ``=`` (``--experiment=churn``) and may be abbreviated while unambiguous;
``--`` ends the options. ``-t``/``--tag`` takes one or more ``KEY=VALUE`` words (split at the first
``=``) and may be repeated; its first word is always a tag, later words are tags while they hold a
``=``, so ``-t stage=dev baseline`` names the run ``baseline``. ``--params``/``--metrics`` take
comma-separated names (given twice, the last wins). Bad input raises
:class:`~nbtrack.errors.TrackUsageError` with the fix in its message. Nothing here imports IPython: the
magic turns the error into a ``UsageError`` and shows this parser's help as ``%track?``.
"""

from __future__ import annotations

import argparse
import functools
import shlex

from nbtrack.capture.plan import TrackOptions
from nbtrack.errors import TrackUsageError

#: The cell magic's name, as written at the top of a tracked cell.
MAGIC = "%%track"
#: The grammar in one line, for error messages.
SYNOPSIS = (
    "%%track [NAME] [-e EXPERIMENT] [-t KEY=VALUE ...] [--params A,B] [--metrics X,Y] "
    "[--no-figures] [--no-autolog] [--max-models N] [--quiet]"
)
_TAG_OPTIONS = ("-t", "--tag")


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are :class:`TrackUsageError` (never ``SystemExit``)."""

    def error(self, message: str):
        hint = ""
        extra = message.partition("unrecognized arguments: ")[2]
        if extra and not extra.startswith("-"):
            hint = ' (one run name at most: quote a name with spaces, %%track "my run")'
        raise TrackUsageError(f"%%track options: {message}{hint}. Write them as {SYNOPSIS} (see %track?).")


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"--max-models takes a whole number >= 0, not {text!r}")
    return value


def track_parser(
    prog: str = MAGIC, description: str | None = None, formatter_class: type = argparse.HelpFormatter
) -> argparse.ArgumentParser:
    """A parser of the ``%%track`` options (a new one each call; the magic builds its help from one)."""
    parser = _Parser(prog=prog, description=description, formatter_class=formatter_class, add_help=False)
    parser.add_argument(
        "name", nargs="?", default=None, help="Run name (optional; the options may come before or after it)."
    )
    parser.add_argument("-e", "--experiment", default=None, help="Experiment to record the run in.")
    parser.add_argument(
        "-t",
        "--tag",
        action="append",
        nargs="+",
        metavar="KEY=VALUE",
        help="Tags for the run, e.g. -t stage=dev owner=ana.",
    )
    parser.add_argument(
        "--params", default=None, metavar="A,B", help="Also record these names as params (must be storable exactly)."
    )
    parser.add_argument(
        "--metrics",
        default=None,
        metavar="X,Y",
        help="Record only these names as metrics (adds names the rules would skip).",
    )
    parser.add_argument("--no-figures", dest="figures", action="store_false", default=None, help="Do not save figures.")
    parser.add_argument(
        "--no-autolog", dest="autolog", action="store_false", default=None, help="Do not record scikit-learn fits."
    )
    parser.add_argument(
        "--max-models",
        dest="max_models",
        type=_non_negative,
        default=None,
        metavar="N",
        help="Record at most N fitted models (params and a pickle each; default 20).",
    )
    parser.add_argument("--quiet", action="store_true", default=None, help="No summary line.")
    return parser


_PARSER = track_parser()
_LONG_OPTIONS = [o for o in _PARSER._option_string_actions if o.startswith("--")]


def is_track_line(line: str) -> bool:
    """Whether ``line`` (a cell's first line) starts the ``%%track`` cell magic (not ``%%tracked``)."""
    return line.split(None, 1)[:1] == [MAGIC]


def parse_track_line(line: str, defaults: TrackOptions | None = None) -> TrackOptions:
    """The :class:`TrackOptions` of a ``%%track`` line.

    ``line`` is what follows ``%%track`` (what IPython hands the magic) or the whole first line of a
    ``%%track`` cell. What the line does not set comes from ``defaults`` (the magic passes its
    ``%config TrackMagics`` settings; default: ``TrackOptions()``). Raises :class:`TrackUsageError`.

    Example::

        parse_track_line("%%track baseline -e churn -t stage=dev --no-figures")
        # TrackOptions(name='baseline', experiment='churn', tags={'stage': 'dev'}, figures=False, ...)
    """
    name, experiment, tags, params, metrics, figures, autolog, quiet, max_models = _parse(line)
    base = defaults if defaults is not None else TrackOptions()
    return TrackOptions(
        name=name if name is not None else base.name,
        experiment=experiment or base.experiment,
        tags={**base.tags, **dict(tags)},
        params=list(params) if params is not None else list(base.params),
        metrics=list(metrics) if metrics is not None else (None if base.metrics is None else list(base.metrics)),
        figures=base.figures if figures is None else figures,
        autolog=base.autolog if autolog is None else autolog,
        quiet=base.quiet if quiet is None else quiet,
        max_output_bytes=base.max_output_bytes,
        max_models=base.max_models if max_models is None else max_models,
        cache_fingerprints=base.cache_fingerprints,
    )


@functools.lru_cache(maxsize=256)
def _parse(line: str) -> tuple:
    """The line's settings as an immutable tuple, ``None`` for what it does not set (cached: a re-run cell
    has the same line)."""
    words = _split(line)
    if words[:1] == [MAGIC]:
        words = words[1:]
    args = _PARSER.parse_args(_one_word_per_tag(words))
    tags = []
    for item in (tag for group in args.tag or [] for tag in group):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise TrackUsageError(f"Tag {item!r} is not key=value: write it as -t {item or 'key'}=value.")
        tags.append((key.strip(), value))
    params = _names(args.params) if args.params is not None else None
    metrics = _names(args.metrics) if args.metrics is not None else None
    return (
        args.name,
        args.experiment,
        tuple(tags),
        params,
        metrics,
        args.figures,
        args.autolog,
        args.quiet,
        args.max_models,
    )


def _split(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError as error:
        raise TrackUsageError(f"Cannot split the %%track options {line!r} ({error}): check the quotes.") from None


def _is_tag_option(word: str) -> bool:
    """``-t``, ``--tag`` or an unambiguous abbreviation of ``--tag``."""
    if word in _TAG_OPTIONS:
        return True
    return len(word) > 2 and word.startswith("--") and [o for o in _LONG_OPTIONS if o.startswith(word)] == ["--tag"]


def _one_word_per_tag(words: list[str]) -> list[str]:
    """``-t a=1 b=2 NAME`` as ``--tag=a=1 --tag=b=2 NAME``: a tag option takes its first word, then the
    following words while they hold ``=`` (argparse alone would take NAME as a tag too)."""
    out: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if word == "--":
            out += words[index - 1 :]
            break
        if not _is_tag_option(word) or index >= len(words) or words[index].startswith("-"):
            out.append(word)  # not a tag option, or one without a value: argparse says what is wrong
            continue
        out.append(f"--tag={words[index]}")
        index += 1
        while index < len(words) and "=" in words[index] and not words[index].startswith("-"):
            out.append(f"--tag={words[index]}")
            index += 1
    return out


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())
