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


_MONITOR: list = []


def _monitor_parser():
    if not _MONITOR:
        p = subcommands.parser("monitor", "Check a registered model on new data: drift, quality, retraining.")
        p.add_argument("spec", help="NAME, NAME/V or NAME@ALIAS")
        p.add_argument("data", help="a .parquet/.csv file or a stored version NAME@N")
        p.add_argument("--against", default="training", help="training (default), a run, a model version or NAME@N")
        p.add_argument("--threshold", type=float, default=0.2, help="flag columns whose PSI is above this")
        p.add_argument("--columns", help="check only these columns (A,B); none is left out automatically")
        p.add_argument("--exclude", action="append", default=[], help="also leave out this column (A,B; repeat)")
        p.add_argument("--max-drop", type=float, default=0.05, help="alert when the latest batch is this much worse")
        p.add_argument("--quality", help='alert unless the latest batch meets this, e.g. "metrics.auc >= 0.8"')
        p.add_argument("--retrain", metavar="NOTEBOOK", help="on an alert, run this training notebook on DATA")
        p.add_argument("--data-param", default="data", help="the notebook param that gets DATA (default: data)")
        p.add_argument("--artifact", help="the retrained model's artifact when the notebook fits several")
        p.add_argument("--holdout", help="after retraining, compare champion and challenger on this")
        p.add_argument("--label", help="the holdout's column of true outcomes")
        p.add_argument("--slices", help="also compare per value of this column")
        p.add_argument("--promote-if", help='move the alias when this holds: "challenger.auc >= champion.auc"')
        p.add_argument("--trusted", action="store_true", help="unpickle the models (needed to compare them)")
        _MONITOR.append(p)
    return _MONITOR[0]


def _names(values: list[str]) -> list[str] | None:
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    return names or None


def monitor_command(shell, argstring: str):
    """%track monitor NAME[/V|@ALIAS] DATA [--against REF] [--threshold X] [--columns A,B] [--exclude A]
    [--max-drop X] [--quality CONDITION] [--retrain NOTEBOOK [--data-param P] [--artifact A] [--holdout DATA
    [--label COL] [--slices COL] [--promote-if CONDITION]]] [--trusted]

    The same check as ``nbtrack monitor`` (recorded as a run of kind monitor); returns the
    :class:`~nbtrack.registry.MonitorReport`, shown as its summary (``report.alerts``, ``report.exit_code``)."""
    import os

    from IPython.core.error import UsageError

    from nbtrack.errors import UntrustedArtifactError

    args = subcommands.parse(_monitor_parser(), argstring)
    if args.retrain is not None and not os.path.isfile(args.retrain):
        raise UsageError(f"--retrain {args.retrain}: no such notebook file (a path from {os.getcwd()}).")
    try:
        return registry.monitor(
            args.spec, args.data, against=args.against, threshold=args.threshold,
            columns=_names([args.columns]) if args.columns else None, exclude=_names(args.exclude),
            max_drop=args.max_drop, quality=args.quality, retrain=args.retrain, data_param=args.data_param,
            artifact=args.artifact, holdout=args.holdout, label=args.label, slices=args.slices,
            promote_if=args.promote_if, trusted=args.trusted,
        )  # fmt: skip
    except UntrustedArtifactError as error:
        raise UsageError(f"{error} In the magic: --trusted.") from None
