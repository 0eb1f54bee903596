"""Commands about the node itself: init, id, wipe."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from stig.cli.options import (
    PASSPHRASE_ENV,
    ask_new_passphrase,
    confirm,
    home_of,
    load_persona,
    run,
)
from stig.cli.render import echo_json
from stig.crypto.carry import carry_code, keyfile_from_code, looks_like_code
from stig.crypto.keyfile import MAX_KEYFILE_BYTES, decode_keyfile, encode_keyfile
from stig.crypto.persona import Persona
from stig.errors import PersonaError, UsageError
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


@id.command("export")
@click.argument("name")
@click.option(
    "--file",
    "path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the locked key file here (e.g. on a USB stick).",
)
@click.option("--no-qr", is_flag=True, help="Print the code without its QR code.")
@click.pass_context
def id_export(ctx: click.Context, name: str, path: Path | None, no_qr: bool) -> None:
    """Carry persona NAME to another device: its key, locked with a passphrase chosen now, as a
    code (and a QR code of it, and with --file a file) that `stig id import` takes there. Both
    devices then post as the same author; a burn from either covers what the key posted."""
    keyring = Keyring(home_of(ctx).personas)
    persona = load_persona(keyring, name)
    click.echo("a passphrase for the journey (asked again on the other device):", err=True)
    data = encode_keyfile(persona, ask_new_passphrase())
    code = carry_code(data)
    if path is not None:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError as exc:
            raise UsageError(f"{path} exists already; choose another file") from exc
        except OSError as exc:
            raise UsageError(f"cannot write {path}: {exc.strerror}") from exc
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        click.echo(f"wrote {path} (locked; `stig id import {path}` on the other device)", err=True)
    click.echo(code)
    if not no_qr and sys.stdout.isatty():
        import segno  # noqa: PLC0415 - only this command draws a QR code here

        segno.make(code.upper(), error="m", micro=False).terminal(out=sys.stdout, compact=True)


@id.command("import")
@click.argument("code_or_file")
@click.option("--name", "new_name", default=None, help="Store it under another name here.")
@click.pass_context
def id_import(ctx: click.Context, code_or_file: str, new_name: str | None) -> None:
    """Take a persona carried from another device: CODE (`stig-persona1-...`) or a key file
    written by `stig id export --file`. Asks for the passphrase chosen there."""
    if looks_like_code(code_or_file):
        data = keyfile_from_code(code_or_file)
    else:
        try:
            data = Path(code_or_file).read_bytes()[: MAX_KEYFILE_BYTES + 1]
        except OSError as exc:
            raise UsageError(
                f"{code_or_file!r} is neither a persona code (stig-persona1-...) nor a readable "
                f"file ({exc.strerror})"
            ) from exc
    passphrase = os.environ.get(PASSPHRASE_ENV)
    if passphrase is None:
        if not sys.stdin.isatty():
            raise PersonaError(f"set {PASSPHRASE_ENV} to the passphrase chosen on export")
        passphrase = click.prompt("passphrase chosen on export", hide_input=True, err=True)
    persona = decode_keyfile(data, passphrase)
    name = new_name or persona.name
    if name != persona.name:
        data = encode_keyfile(Persona(name, persona.seed), passphrase)
    keyring = Keyring(home_of(ctx).personas)
    if persona.public_key in keyring.owners():
        raise UsageError(
            f"this device holds that persona already, as {keyring.owners()[persona.public_key]!r}"
        )
    keyring.add(name, data)
    click.echo(f"{name:<16} {persona.public_key.hex()}  (imported; locked with that passphrase)")


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
