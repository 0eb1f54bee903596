"""``stig tui`` (and a bare ``stig`` in a terminal): the terminal UI with the node in-process."""

from __future__ import annotations

from pathlib import Path

import click

from stig.cli.options import home_of, network_options, node_config
from stig.errors import UsageError
from stig.node.local import initialise


@click.command()
@click.option("--offline", is_flag=True, help="Stay off the network: read and post locally.")
@network_options
@click.pass_context
def tui(
    ctx: click.Context,
    offline: bool,
    listen: tuple[str, ...],
    bootstrap: tuple[str, ...],
    lan: bool,
    psk_file: Path | None,
    tor: str | None,
) -> None:
    """Open the terminal UI; the node runs inside it (on the mesh per config.toml)."""
    open_tui(
        ctx,
        offline=offline,
        listen=listen,
        bootstrap=bootstrap,
        lan=lan,
        psk_file=psk_file,
        tor=tor,
    )


def open_tui(
    ctx: click.Context,
    *,
    offline: bool = False,
    listen: tuple[str, ...] = (),
    bootstrap: tuple[str, ...] = (),
    lan: bool = False,
    psk_file: Path | None = None,
    tor: str | None = None,
) -> None:
    if not in_a_terminal():
        raise UsageError(
            "the terminal UI needs a terminal; for scripts use the commands (`stig --help`)"
        )
    from stig.tui.app import StigApp  # noqa: PLC0415 - Textual loads only for the UI

    home = home_of(ctx)
    if initialise(home):
        click.echo(f"stig: created a new home at {home.root} with persona 'me'", err=True)
    config = node_config(home, listen, bootstrap, lan, psk_file, tor)
    app = StigApp(home, offline=offline, config=config)
    app.run()
    from stig.node import outbox  # noqa: PLC0415

    left = outbox.queued(home.outbox, home.synced_file)
    if left:
        click.echo(
            f"stig: {left} post{'s' if left != 1 else ''} of this home not yet acknowledged by "
            "any peer: they leave at the next sync (`stig node`, or the UI when online)",
            err=True,
        )
    if app.return_code:
        # Textual catches a crash, prints its traceback and returns: the exit status is what
        # tells `make run` (and any script) that it crashed.
        ctx.exit(app.return_code)


def in_a_terminal() -> bool:
    import sys  # noqa: PLC0415

    return sys.stdin.isatty() and sys.stdout.isatty()


COMMANDS = [tui]
