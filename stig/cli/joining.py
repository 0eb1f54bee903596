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
from stig.node.config import add_bootstrap, check_bootstrap
from stig.node.control import ask_connect
from stig.node.home import Home

# stig.net.peer_invite (multiaddr, libp2p's peer ids: a second to import) and stig.node.mesh
# are imported where they are used: every `stig` command loads this module.
PEER_INVITE_PREFIX = "stig-peer1-"

ABOUT = (
    "Whoever holds this code can dial this node (stig connect CODE). It carries the addresses "
    "above — IP addresses of this node or of the relays it is reachable through — so it tells "
    "whoever sees it where this node is: give it in person, or over a channel you trust."
)
ABOUT_ONION = (
    "Whoever holds this code can dial this node (stig connect CODE) through tor. It carries "
    "onion addresses only, which say nothing of where this node is; but a kept onion address "
    "is the same every run: whoever sees the code can recognise this node later."
)


def node_invite(home: Home) -> tuple[str, list[str]]:
    """The running node's invite code and the addresses in it."""
    from stig.net.peer_invite import PeerInviteError, peer_invite, read_peer_invite  # noqa: PLC0415
    from stig.node.mesh import read_addresses  # noqa: PLC0415

    addresses = read_addresses(home.addresses_file)
    if not addresses:
        raise UsageError(
            f"no node is running for {home.root}: an invite carries the addresses a running "
            "node is reachable at (start one with `stig node` or `stig tui`)"
        )
    try:
        code = peer_invite(addresses)
    except PeerInviteError as exc:
        raise UsageError(str(exc)) from exc
    return code, read_peer_invite(code)


def addresses_of(code_or_address: str) -> list[str]:
    """The peer addresses a person gave: a peer invite code or one full multiaddr."""
    if "".join(code_or_address.split()).lower().startswith(PEER_INVITE_PREFIX):
        from stig.net.peer_invite import PeerInviteError, read_peer_invite  # noqa: PLC0415

        try:
            return read_peer_invite(code_or_address)
        except PeerInviteError as exc:
            raise UsageError(str(exc)) from exc
    return [check_bootstrap(code_or_address.strip(), "stig connect")]


def connect_to(home: Home, addresses: list[str]) -> list[str]:
    """Add ``addresses`` to config.toml and, if a node runs, have it dial them now. One line
    per address saying what happened."""
    home.create()
    added = add_bootstrap(home.config_file, addresses)
    lines = []
    running = home.control_socket.exists()
    for address in addresses:
        kept = "added to config.toml" if address in added else "already in config.toml"
        if not running:
            lines.append(f"{address}\n  {kept}; dialed when the node starts")
            continue
        try:
            answer = run(ask_connect(home.control_socket, address))
        except (UsageError, OSError, TimeoutError, ValueError):
            lines.append(f"{address}\n  {kept}; dialed when the node starts")
            continue
        if "peer" in answer:
            lines.append(f"{address}\n  {kept}; connected to {answer['peer']}")
        else:
            lines.append(f"{address}\n  {kept}; not reached yet: {answer.get('error')}")
    return lines


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
