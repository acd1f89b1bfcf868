"""``nbtrack remote add/list/remove/check``, ``nbtrack push``, ``nbtrack pull``, ``nbtrack sync``: calls
into :mod:`nbtrack.remote`."""

from __future__ import annotations

import click

from nbtrack.cli._common import existing_store, writable_store

_remote_argument = click.argument("remote", required=False)


@click.group("remote")
def remote_group():
    """The store's remotes: folders or object storage a team pushes to and pulls from.

    A remote is a name and a URL (a folder, file://, s3://bucket/prefix, or anything fsspec reaches).
    Credentials are never stored: S3 takes them, and the endpoint of S3-compatible services
    (AWS_ENDPOINT_URL), from the usual AWS environment variables and ~/.aws files.

    Example:

    \b
        nbtrack remote add origin s3://ml-team/churn
        nbtrack remote list
    """


@remote_group.command("add")
@click.argument("name")
@click.argument("url")
def remote_add(name, url):
    """Add the remote NAME at URL (nothing is sent until `nbtrack push`).

    Example:

    \b
        nbtrack remote add origin /mnt/team/churn
        nbtrack remote add s3 s3://ml-team/churn
    """
    from nbtrack.remote import add_remote

    click.echo(f"Remote {name} added: {add_remote(name, url, store=writable_store())}")


@remote_group.command("list")
def remote_list():
    """List the remotes: name and URL.

    Example:

        nbtrack remote list
    """
    from nbtrack.remote import remotes

    configured = remotes(store=existing_store())
    for name, url in configured.items():
        click.echo(f"{name}\t{url}")
    if not configured:
        click.echo("(no remotes: add one with `nbtrack remote add origin URL`)")


@remote_group.command("remove")
@click.argument("name")
def remote_remove(name):
    """Forget the remote NAME (nothing on the remote is deleted).

    Example:

        nbtrack remote remove origin
    """
    from nbtrack.remote import remove_remote

    remove_remote(name, store=existing_store())
    click.echo(f"Remote {name} removed.")


@remote_group.command("check")
@_remote_argument
def remote_check(remote):
    """Download everything on REMOTE and check each file against its hash. Exit status 1 on a problem.

    Example:

        nbtrack remote check origin
    """
    from nbtrack.errors import RemoteError
    from nbtrack.remote import check_remote

    report = check_remote(remote, store=existing_store())
    click.echo(str(report))
    if not report.ok:
        raise RemoteError(f"{len(report.problems)} damaged or missing files on {report.remote}: see above.")


@click.command("push")
@_remote_argument
@click.option("--verify", is_flag=True, help="Check each object is on the remote instead of trusting its manifests.")
def push_command(remote, verify):
    """Send REMOTE (default: the only remote, or origin) what this store has and it lacks.

    Finished runs with everything they recorded, dataset versions (only the chunks the remote lacks),
    experiments and the model registry. Running it again sends nothing; a push that was killed is
    completed by the next one.

    Example:

    \b
        nbtrack push
        nbtrack push s3 --verify
    """
    from nbtrack.remote import push

    click.echo(str(push(remote, store=existing_store(), verify=verify)))


@click.command("pull")
@_remote_argument
def pull_command(remote):
    """Bring in what was pushed to REMOTE (default: the only remote, or origin) since the last pull.

    Every object is checked against its hash before it is used: a damaged one is refused, and nothing
    of that push is merged. Pulling again changes nothing.

    Example:

        nbtrack pull
    """
    from nbtrack.remote import pull

    click.echo(str(pull(remote, store=existing_store())))


@click.command("sync")
@_remote_argument
def sync_command(remote):
    """Pull from REMOTE, then push to it: both then hold the same history.

    Example:

        nbtrack sync origin
    """
    from nbtrack.remote import sync

    pulled, pushed = sync(remote, store=existing_store())
    click.echo(str(pulled))
    click.echo(str(pushed))


COMMANDS = [remote_group, push_command, pull_command, sync_command]
