"""The root command group: chooses the home, then hands over to a command."""

from __future__ import annotations

import click

from stig.cli import (
    carrying,
    groups,
    identity,
    joining,
    mesh,
    moderation,
    naming,
    posting,
    publishing,
    reading,
    tui,
    watching,
)
from stig.cli.options import HOME_HELP, give_home, home_option, settle_home


@click.group(
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option("--home", type=click.Path(file_okay=False), default=None, help=HOME_HELP)
@click.version_option(package_name="stig")
@click.pass_context
def cli(ctx: click.Context, home: str | None) -> None:
    """stig: leave signed, expiring traces; read them offline; carry them to other nodes.

    Run `stig` alone in a terminal for the terminal UI; or start with `stig init`, then
    `stig post "..."` and `stig feed`.
    """
    give_home(ctx, home)
    if ctx.invoked_subcommand is None:
        settle_home(ctx)
        import sys  # noqa: PLC0415

        if sys.stdin.isatty() and sys.stdout.isatty():
            tui.open_tui(ctx)
        else:
            click.echo(ctx.get_help())


def _with_home_option(command: click.Command) -> None:
    """Every command takes ``--home`` after its name too (``make run ARGS="--home X"`` gives
    ``stig tui --home X``); a command group passes it on to its own commands."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _with_home_option(sub)
    else:
        command.params.append(home_option())


for module in (
    identity,
    posting,
    reading,
    naming,
    moderation,
    watching,
    carrying,
    groups,
    mesh,
    joining,
    publishing,
    tui,
):
    for command in module.COMMANDS:
        _with_home_option(command)
        cli.add_command(command)
