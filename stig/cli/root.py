"""The root command group: chooses the home, then hands over to a command."""

from __future__ import annotations

import click

from stig.cli import (
    carrying,
    groups,
    identity,
    mesh,
    moderation,
    posting,
    publishing,
    reading,
    tui,
    watching,
)
from stig.node.home import HOME_ENV, Home


@click.group(
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--home",
    type=click.Path(file_okay=False),
    default=None,
    help=f"Data directory of this node (default: ${HOME_ENV}, else the user data directory).",
)
@click.version_option(package_name="stig")
@click.pass_context
def cli(ctx: click.Context, home: str | None) -> None:
    """stig: leave signed, expiring traces; read them offline; carry them to other nodes.

    Run `stig` alone in a terminal for the terminal UI; or start with `stig init`, then
    `stig post "..."` and `stig feed`.
    """
    chosen = Home.choose(home)
    if chosen.protect():
        click.echo(
            f"stig: tightened permissions of {chosen.root} to 0700 (its files to 0600): "
            "other users of this machine could read it",
            err=True,
        )
    ctx.obj = chosen
    if ctx.invoked_subcommand is None:
        import sys  # noqa: PLC0415

        if sys.stdin.isatty() and sys.stdout.isatty():
            tui.open_tui(ctx)
        else:
            click.echo(ctx.get_help())


for module in (
    identity,
    posting,
    reading,
    moderation,
    watching,
    carrying,
    groups,
    mesh,
    publishing,
    tui,
):
    for command in module.COMMANDS:
        cli.add_command(command)
