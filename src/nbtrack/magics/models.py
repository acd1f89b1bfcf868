"""``%track models`` (a handler of the magics' dispatch table): registered models, one model's versions, one
version with its lineage, or a model's alias history.

The handler is ``handler(shell, argstring)``: parse, call ``nbtrack.registry``, return what to display.
"""

from __future__ import annotations

from nbtrack import registry
from nbtrack.magics import subcommands

_PARSER: list = []


def _parser():
    if not _PARSER:
        p = subcommands.parser("models", "Registered models, the versions of one, one version, or alias history.")
        p.add_argument("spec", nargs="?", default=None, help="NAME, NAME/V or NAME@ALIAS")
        p.add_argument("--history", action="store_true", help="the alias moves of model NAME")
        _PARSER.append(p)
    return _PARSER[0]


def models_command(shell, argstring: str):
    """%track models [NAME | NAME/V | NAME@ALIAS] [--history]"""
    import pandas as pd
    from IPython.core.error import UsageError

    args = subcommands.parse(_parser(), argstring)
    if args.spec is None:
        if args.history:
            raise UsageError("%track models --history needs a model name: %track models NAME --history.")
        return registry.models()
    name, number, alias = registry.parse_spec(args.spec)
    if args.history:
        return pd.DataFrame(registry.model_history(name))
    if number is None and alias is None and "@" not in args.spec:
        rows = [
            {
                "version": v.version,
                "aliases": ", ".join(v.aliases),
                "created": v.created,
                "created_by": v.created_by,
                "run_id": v.run_id,
                "artifact": v.artifact,
                **{f"metrics.{k}": value for k, value in v.lineage["metrics"].items()},
            }
            for v in registry.model_versions(name)
        ]
        return pd.DataFrame(rows)
    print(registry.get_model(args.spec).summary())
    return None
