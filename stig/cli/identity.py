"""Commands about the node itself: init, id, wipe."""

from __future__ import annotations

import click

from stig.cli.options import ask_new_passphrase, confirm, home_of, run
from stig.cli.render import echo_json
from stig.node.keyring import Keyring
from stig.node.local import create_store, initialise, wipe


@click.command()
@click.option("--persona", default="me", show_default=True, help="Name of the first persona.")
@click.option("--passphrase", is_flag=True, help="Protect the first persona with a passphrase.")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing if already initialised.")
@click.pass_context
def init(ctx: click.Context, persona: str, passphrase: bool, quiet: bool) -> None:
    """Create the data directory and a first persona (safe to run again)."""
    home = home_of(ctx)
    keyring = Keyring(home.personas)
    # Only a first persona is created here; asking for its passphrase otherwise would be a lie.
    secret = ask_new_passphrase() if passphrase and not keyring.names() else None
    created = initialise(home, persona, secret)
    run(create_store(home))
    if created or not quiet:
        click.echo(f"home     {home.root}")
        default = keyring.default
        if default:
            click.echo(f"persona  {default}  {keyring.public_key(default).hex()}")


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def id(ctx: click.Context, as_json: bool) -> None:
    """List personas (the keys your traces are signed with); `id new NAME` makes another."""
    if ctx.invoked_subcommand is not None:
        return
    keyring = Keyring(home_of(ctx).personas)
    default = keyring.default
    rows = [
        {
            "name": name,
            "public_key": keyring.public_key(name).hex(),
            "default": name == default,
            "passphrase": keyring.is_locked(name),
        }
        for name in keyring.names()
    ]
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("no personas yet; run `stig init`")
    for row in rows:
        marks = " (default)" if row["default"] else ""
        marks += " (passphrase)" if row["passphrase"] else ""
        click.echo(f"{row['name']:<16} {row['public_key']}{marks}")


@id.command("new")
@click.argument("name")
@click.option("--passphrase", is_flag=True, help="Protect it with a passphrase.")
@click.option("--default", "make_default", is_flag=True, help="Make it the default persona.")
@click.pass_context
def id_new(ctx: click.Context, name: str, passphrase: bool, make_default: bool) -> None:
    """Create a persona NAME (the name stays on this node; only the key is ever sent)."""
    keyring = Keyring(home_of(ctx).personas)
    persona = keyring.create(name, ask_new_passphrase() if passphrase else None)
    if make_default:
        keyring.set_default(name)
    click.echo(f"{persona.name:<16} {persona.public_key.hex()}")


@id.command("default")
@click.argument("name")
@click.pass_context
def id_default(ctx: click.Context, name: str) -> None:
    """Sign with persona NAME unless told otherwise."""
    Keyring(home_of(ctx).personas).set_default(name)
    click.echo(f"default persona is now {name}")


@click.command("wipe")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def wipe_command(ctx: click.Context, yes: bool) -> None:
    """Erase this node's keys (overwritten first) and its store, and stop a node or terminal
    UI running on it. Cannot be undone."""
    home = home_of(ctx)
    confirm(f"erase every key and trace in {home.root}?", yes)
    if wipe(home):
        click.echo(f"stopped the stig node (or terminal UI) running on {home.root}", err=True)
    click.echo(f"wiped {home.root}")


COMMANDS = [init, id, wipe_command]
