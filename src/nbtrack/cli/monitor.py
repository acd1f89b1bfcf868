"""``nbtrack monitor``, ``nbtrack models outcomes`` and ``nbtrack models compare``: a model's life after
scoring. A thin shell over ``nbtrack.registry``; ``monitor`` exits 0 (fine), 1 (an alert) or 2 (the check
could not run, or the retraining it started failed), so a cron job can act on it.
"""

from __future__ import annotations

import json

import click

from nbtrack.cli._common import existing_store
from nbtrack.cli.data import _CheckNotRun, _names
from nbtrack.errors import NbtrackError, UntrustedArtifactError

FORMAT = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
LABEL = click.option("--label", metavar="COLUMN", help="The column holding the true outcomes (default: the one left).")
SLICES = click.option("--slices", metavar="COLUMN", help="Also compare per value of this column, with the spread.")
PROMOTE_IF = click.option(
    "--promote-if",
    metavar="CONDITION",
    help='Move the champion alias to the challenger when this holds, e.g. "challenger.auc >= champion.auc + 0.01".',
)
TRUSTED = click.option("--trusted", is_flag=True, help="Unpickle the models (required to evaluate them).")


@click.command("outcomes")
@click.argument("batch", metavar="SCORING_RUN")
@click.argument("outcomes", metavar="OUTCOMES")
@click.option("--key", metavar="A,B", help="Join on these columns (default: the predictions' key columns).")
@LABEL
@click.option("--task", type=click.Choice(["classification", "regression"]), help="Default: from the predictions.")
def outcomes_command(batch, outcomes, key, label, task):
    """Record the true OUTCOMES (a .parquet/.csv file or a stored version NAME@N) of the batch scored by
    SCORING_RUN, joined to its predictions by key, and the model's quality on them (a run of kind outcomes).

    Example:

        nbtrack models outcomes 7hx2kq4m labels-june.csv --key txn_id --label churned
    """
    from nbtrack.registry import log_outcomes

    found = log_outcomes(batch, outcomes, key=key, label=label, task=task, store=existing_store())
    metrics = ", ".join(f"{m}={v:.4f}" for m, v in found["metrics"].items())
    click.echo(
        f"{found['matched']} outcomes of batch {found['batch_run'][-8:]} ({found['model']}, {found['task']}): "
        f"{metrics}; run {found['run_id'][-8:]}"
        + (f"; {found['unmatched_outcomes']} outcomes matched no prediction" if found["unmatched_outcomes"] else "")
    )


@click.command("compare")
@click.argument("champion", metavar="CHAMPION")
@click.argument("challenger", metavar="CHALLENGER")
@click.option("--holdout", required=True, metavar="DATA", help="A .parquet/.csv file or stored version NAME@N.")
@LABEL
@SLICES
@PROMOTE_IF
@TRUSTED
@FORMAT
def compare_command(champion, challenger, holdout, label, slices, promote_if, trusted, fmt):
    """Evaluate two versions of a model (churn@champion churn@challenger) on the same holdout, as a
    recorded run: metrics of each, the difference, per slice with the spread; --promote-if moves the
    champion's alias when its condition holds (recorded in the alias history), otherwise says why not.

    Example:

        nbtrack models compare churn@champion churn@challenger --holdout holdout.parquet --slices region \\
            --promote-if "challenger.auc >= champion.auc + 0.01" --trusted
    """
    from nbtrack.registry import compare_models

    try:
        result = compare_models(
            champion, challenger, holdout, label=label, slices=slices, promote_if=promote_if, trusted=trusted,
            store=existing_store(),
        )  # fmt: skip
    except UntrustedArtifactError as error:
        raise click.ClickException(f"{error} On the command line: --trusted.") from None
    click.echo(json.dumps(result.to_dict(), indent=2, default=str) if fmt == "json" else result.summary())


@click.command("monitor")
@click.argument("spec", metavar="NAME[/V|@ALIAS]")
@click.argument("data", metavar="NEW_DATA")
@click.option(
    "--against",
    default="training",
    show_default=True,
    help="The reference: training (the dataset version the model was trained on), a run, a model version or NAME@N.",
)
@click.option("--threshold", default=0.2, show_default=True, help="Flag columns whose PSI is above this.")
@click.option("--columns", metavar="A,B", help="Check only these columns; none is left out automatically.")
@click.option("--exclude", multiple=True, help="Also leave out this column (repeat it, or comma-separate names).")
@click.option("--max-drop", default=0.05, show_default=True, help="Alert when a metric of the latest batch is "
              "worse than the first batch's by more than this.")  # fmt: skip
@click.option(
    "--quality", metavar="CONDITION", help='Alert unless the latest batch meets this, e.g. "metrics.auc >= 0.8".'
)
@click.option("--retrain", type=click.Path(exists=True, dir_okay=False), metavar="NOTEBOOK",
              help="On an alert, run this training notebook on NEW_DATA and register its model as challenger.")  # fmt: skip
@click.option("--data-param", default="data", show_default=True, help="The notebook param that gets NEW_DATA.")
@click.option("--artifact", help="The retrained model's artifact when the notebook fits several (e.g. model.pkl).")
@click.option("--holdout", metavar="DATA", help="After retraining, compare champion and challenger on this.")
@LABEL
@SLICES
@PROMOTE_IF
@TRUSTED
@FORMAT
def monitor_command(spec, data, against, threshold, columns, exclude, max_drop, quality, retrain, data_param,
                    artifact, holdout, label, slices, promote_if, trusted, fmt):  # fmt: skip
    """Check a registered model on NEW_DATA (a .parquet/.csv file or stored version NAME@N): drift of
    each feature against the model's training data, and its quality over the scored batches whose outcomes
    were logged. Recorded as a run of kind monitor, with a figure per drifting feature and of the metrics.

    Exit codes: 0 no alert; 1 drift or a quality drop over its threshold; 2 the check could not run (or
    the retraining it started failed), with what to do. With --retrain, an alert runs the training notebook
    through papermill with --data-param set to NEW_DATA, registers its model with alias challenger and,
    with --holdout, compares it with SPEC (--promote-if moves the alias).

    Example:

        nbtrack monitor churn@champion transactions@12 --retrain train.ipynb --holdout holdout@1 \\
            --promote-if "challenger.auc >= champion.auc + 0.01" --trusted
    """
    from nbtrack.registry import monitor

    try:
        report = monitor(
            spec, data, against=against, threshold=threshold, columns=_names((columns,) if columns else ()),
            exclude=_names(exclude), max_drop=max_drop, quality=quality, retrain=retrain, data_param=data_param,
            artifact=artifact, holdout=holdout, label=label, slices=slices, promote_if=promote_if,
            trusted=trusted, store=existing_store(),
        )  # fmt: skip
    except UntrustedArtifactError as error:
        raise _CheckNotRun(f"{error} On the command line: --trusted.") from None
    except NbtrackError as error:
        raise _CheckNotRun(str(error)) from None
    click.echo(json.dumps(report.to_dict(), indent=2, default=str) if fmt == "json" else report.summary())
    raise SystemExit(report.exit_code)
