"""Joining the mesh from a code met in person: ``stig invite`` shows this node's reachable
addresses as a code and a QR code (docs/protocol.md §8.9); ``stig connect CODE_OR_MULTIADDR``
adds a peer to config.toml and, if the node runs, has it dial now (the control socket's one
write request)."""

from __future__ import annotations

import sys

import click

from stig.cli.options import home_of, run
from stig.cli.render import echo_json
from stig.errors import UsageError
from stig.node.home import Home
from stig.node.joining import (
    ABOUT,
    ABOUT_ONION,
    add_peers,
    addresses_of,
    by_control_socket,
    invite_of,
)


def node_invite(home: Home) -> tuple[str, list[str]]:
    """The running node's invite code and the addresses in it."""
    from stig.node.mesh import read_addresses  # noqa: PLC0415 - see stig.node.joining

    addresses = read_addresses(home.addresses_file)
    if not addresses:
        raise UsageError(
            f"no node is running for {home.root}: an invite carries the addresses a running "
            "node is reachable at (start one with `stig node` or `stig tui`)"
        )
    invite = invite_of(addresses)
    return invite.code, list(invite.addresses)


def connect_to(home: Home, addresses: list[str]) -> list[str]:
    """Add ``addresses`` to config.toml and, if a node runs, have it dial them now. One line
    per address saying what happened."""
    return [j.describe() for j in run(add_peers(home, addresses, by_control_socket(home)))]


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON (code and addresses).")
@click.option("--no-qr", is_flag=True, help="Print the code without its QR code.")
@click.pass_context
def invite(ctx: click.Context, as_json: bool, no_qr: bool) -> None:
    """A code (and QR code) with the addresses this running node is reachable at: another
    node joins the mesh with `stig connect CODE`."""
    code, addresses = node_invite(home_of(ctx))
    if as_json:
        echo_json({"code": code, "addresses": addresses})
        return
    click.echo(code)
    for address in addresses:
        click.echo(f"  {address}")
    if not no_qr and sys.stdout.isatty():
        import segno  # noqa: PLC0415 - only this command draws a QR code here

        click.echo("")
        segno.make(code.upper(), error="m", micro=False).terminal(out=sys.stdout, compact=True)
    click.echo("")
    onion_only = all("/onion3/" in address for address in addresses)
    click.echo(ABOUT_ONION if onion_only else ABOUT)


@click.command()
@click.argument("code_or_address")
@click.pass_context
def connect(ctx: click.Context, code_or_address: str) -> None:
    """Add a peer (a `stig invite` code, or a full multiaddr) to config.toml and, if this
    home's node is running, dial it now."""
    for line in connect_to(home_of(ctx), addresses_of(code_or_address)):
        click.echo(line)


COMMANDS = [invite, connect]
