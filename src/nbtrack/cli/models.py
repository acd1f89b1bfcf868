"""``nbtrack models ...``: list, show, register, alias and delete registered models, and their history.

A thin shell: every command parses its options, calls ``nbtrack.registry`` and prints the result.
"""

from __future__ import annotations

import json

import click

from nbtrack.cli._common import existing_store

FORMAT = click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True, help="Output format."
)
REQUIRE = click.option(
    "--require",
    metavar="CONDITION",
    help="Refuse unless the run meets this condition (query language of `nbtrack runs --where`), "
    'e.g. "metrics.auc >= 0.9".',
)


@click.group("models")
def models_group():
    """Registered models: versions made from runs, aliases (champion, challenger, ...) and their history.

    Example:

    \b
        nbtrack models register 4f7kq2xm churn --require "metrics.auc >= 0.9"
        nbtrack models alias churn 3 champion --reason "beat v2 on the May holdout"
    """


@models_group.command("list")
@FORMAT
def list_command(fmt):
    """List registered models with their number of versions, latest version and aliases.

    Example:

        nbtrack models list
    """
    from nbtrack.registry import list_models

    rows = list_models(store=existing_store())
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("(no registered models: nbtrack models register RUN NAME)")
    for row in rows:
        aliases = ", ".join(f"{a} -> {v}" for a, v in row["aliases"].items()) or "no aliases"
        click.echo(f"{row['name']}: {row['versions']} version(s), latest {row['latest']}; {aliases}")


@models_group.command("show")
@click.argument("spec", metavar="NAME[/V|@ALIAS]")
@FORMAT
def show_command(spec, fmt):
    """Show a model's versions (NAME), or one version with its lineage (NAME/3, NAME@champion).

    Example:

        nbtrack models show churn@champion
    """
    from nbtrack.registry import get_model, model_versions, parse_spec

    store = existing_store()
    name, number, alias = parse_spec(spec)
    if number is None and alias is None and "@" not in spec:
        versions = model_versions(name, store=store)
        if fmt == "json":
            click.echo(json.dumps([v.to_dict() for v in versions], indent=2))
            return
        for version in versions:
            aliases = f" [{', '.join(version.aliases)}]" if version.aliases else ""
            metrics = ", ".join(f"{k}={v:.4g}" for k, v in version.lineage["metrics"].items() if v is not None)
            click.echo(
                f"{version.spec}{aliases}  {version.created:%Y-%m-%d %H:%M}  run {version.run_id[-8:]}  {metrics}"
            )
        return
    version = get_model(spec, store=store)
    click.echo(json.dumps(version.to_dict(), indent=2) if fmt == "json" else version.summary())


@models_group.command("register")
@click.argument("run")
@click.argument("name")
@click.option("--artifact", help="The model artifact to register when the run has several (e.g. model.pkl).")
@click.option("--description", help="What this version is.")
@REQUIRE
def register_command(run, name, artifact, description, require):
    """Register RUN's fitted model as the next version of model NAME.

    Example:

        nbtrack models register 4f7kq2xm churn --require "metrics.auc >= 0.9"
    """
    from nbtrack.registry import register_model

    version = register_model(run, name, artifact, store=existing_store(), description=description, require=require)
    click.echo(f"registered {version.spec} from {version.artifact} of run {version.run_id[-8:]}")


@models_group.command("alias")
@click.argument("name")
@click.argument("version", type=int)
@click.argument("alias")
@click.option("--reason", help="Why (kept in the alias history).")
@REQUIRE
def alias_command(name, version, alias, reason, require):
    """Point ALIAS of model NAME at VERSION (recorded with your user name, the time and --reason).

    Example:

        nbtrack models alias churn 3 champion --reason "beat v2 on the May holdout"
    """
    from nbtrack.registry import set_model_alias

    set_model_alias(name, version, alias, reason=reason, require=require, store=existing_store())
    click.echo(f"{name}@{alias} -> {version}")


@models_group.command("unalias")
@click.argument("name")
@click.argument("alias")
@click.option("--reason", help="Why (kept in the alias history).")
def unalias_command(name, alias, reason):
    """Remove ALIAS from model NAME (recorded in the alias history).

    Example:

        nbtrack models unalias churn challenger --reason "lost the comparison"
    """
    from nbtrack.registry import remove_model_alias

    was = remove_model_alias(name, alias, reason=reason, store=existing_store())
    click.echo(f"removed {name}@{alias} (was {was})")


@models_group.command("history")
@click.argument("name")
@click.option("--alias", help="Only the moves of this alias.")
@FORMAT
def history_command(name, alias, fmt):
    """Show who moved which alias of model NAME, when, from which version to which, and why.

    Example:

        nbtrack models history churn --alias champion
    """
    from nbtrack.registry import model_history

    moves = model_history(name, alias, store=existing_store())
    if fmt == "json":
        click.echo(json.dumps(moves, indent=2))
        return
    if not moves:
        click.echo("(no alias moves)")
    for move in moves:
        before = "-" if move["from_version"] is None else move["from_version"]
        after = "removed" if move["to_version"] is None else move["to_version"]
        reason = f": {move['reason']}" if move["reason"] else ""
        click.echo(
            f"{move['moved'][:19]}  {move['alias']}  {before} -> {after}  by {move['user']}@{move['host']}{reason}"
        )


@models_group.command("delete")
@click.argument("name")
@click.argument("version", type=int)
@click.confirmation_option(prompt="Delete this model version?")
def delete_command(name, version):
    """Delete VERSION of model NAME (refused while an alias points at it); its run can then be deleted.

    Example:

        nbtrack models delete churn 1 --yes
    """
    from nbtrack.registry import delete_model_version

    delete_model_version(name, version, store=existing_store())
    click.echo(f"deleted {name}/{version}")


@models_group.command("scoring-notebook")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default="score.ipynb",
    show_default=True,
    help="Where to write it.",
)
def scoring_notebook_command(output):
    """Write the batch-scoring notebook: papermill params (model, data, output, save_as, key, trusted)
    and one cell that scores the batch. Each `nbtrack run` of it is a notebook run whose child is the
    scoring run, linked to the model version, the batch and the predictions.

    Example:

    \b
        nbtrack models scoring-notebook -o score.ipynb
        nbtrack run score.ipynb -p model churn@champion -p data june.parquet -p output june-scores.parquet -p trusted True
    """
    from nbtrack.registry import scoring_notebook

    click.echo(f"wrote {scoring_notebook(output)}")


@click.command("score")
@click.argument("spec", metavar="NAME[/V|@ALIAS]")
@click.argument("data", metavar="INPUT")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the predictions to this .parquet/.csv.")
@click.option("--save-as", metavar="DATASET", help="Store the predictions as the next version of DATASET.")
@click.option("--key", metavar="A,B", help="Carry these columns of INPUT into the predictions (to join outcomes on).")
@click.option("--trusted", is_flag=True, help="Unpickle the model (required: unpickling runs code).")
def score_command(spec, data, output, save_as, key, trusted):
    """Score INPUT (a .parquet/.csv file or a stored version NAME@N) with a registered model, as a run
    linked to the model version, its input and its output. Without -o or --save-as the predictions go to
    standard output as CSV.

    Example:

        nbtrack score churn@champion transactions@7 --trusted --save-as churn-scores
    """
    import sys

    from nbtrack.errors import UntrustedArtifactError
    from nbtrack.registry import score

    try:
        result = score(spec, data, trusted=trusted, output=output, save_as=save_as, key=key, store=existing_store())
    except UntrustedArtifactError as error:
        raise click.ClickException(f"{error} On the command line: --trusted.") from None
    where = [w for w in (output, save_as and f"dataset {save_as}") if w]
    message = f"scored {len(result)} rows with {spec} in run {result.attrs['run_id'][-8:]}"
    if where:
        click.echo(message + " -> " + ", ".join(where))
    else:
        click.echo(result.to_csv(index=False), nl=False)
        click.echo(message, file=sys.stderr)
