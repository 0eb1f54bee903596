"""Option types and small shared pieces of the CLI: durations, times, the home, personas."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from stig.crdt.bounds import LIFE_CAP, MAX_TTL, MIN_TTL
from stig.crypto.persona import Persona
from stig.errors import PersonaError, UsageError
from stig.net.tor.modes import TOR_ONLY, is_onion
from stig.node.config import Config, load_config, with_network
from stig.node.home import HOME_ENV, Home
from stig.node.joining import PEER_INVITE_PREFIX, addresses_of
from stig.node.keyring import Keyring
from stig.readable import cell_of, parse_duration, span

T = TypeVar("T")

PASSPHRASE_ENV = "STIG_PASSPHRASE"  # noqa: S105 - the name of a variable, not a secret


class Duration(click.ParamType[int]):
    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class TimeToLive(Duration):
    """A trace's life as a person writes it (``12h``, ``3d``), refused in the same units when
    it is outside the bounds every node checks (MIN_TTL..MAX_TTL)."""

    name = "ttl"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        seconds = super().convert(value, param, ctx)
        if seconds < MIN_TTL:
            raise UsageError(f"--ttl {value}: the time to live must be at least {span(MIN_TTL)}")
        if seconds > MAX_TTL:
            raise UsageError(
                f"--ttl {value}: the time to live must be at most {span(MAX_TTL)} "
                f"(echoes and answers by others extend it, up to {span(LIFE_CAP)})"
            )
        return seconds


class Place(click.ParamType[str]):
    """A coarse place: a geohash of at most MAX_PLACE_CHARS characters as it is, or ``lat,lon``
    turned into the cell of that many characters holding it (said on stderr, so a person
    sees what was kept; the coordinates themselves go nowhere)."""

    name = "place"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value)
        try:
            cell = cell_of(text)
        except ValueError as exc:
            raise UsageError(f"--place {text}: {exc}") from exc
        if cell is None:
            return text
        click.echo(
            f"stig: --place {text.strip()} is the city-sized geohash cell {cell}; "
            "only the cell is used",
            err=True,
        )
        return cell


class Since(click.ParamType[int]):
    """A point in time: a duration back from now (``3d``), a date (``2026-11-20``), or unix
    seconds with an ``@`` (``@1790000000``)."""

    name = "since"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        text = str(value).strip()
        if text.startswith("@") and text[1:].isdigit():
            return int(text[1:])
        try:
            return int(datetime.now(UTC).timestamp()) - parse_duration(text)
        except ValueError:
            pass
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            self.fail(
                f"{text!r} is not a time; write a duration back from now (3d), "
                "a date (2026-11-20) or @unix-seconds",
                param,
                ctx,
            )
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return int(moment.timestamp())


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


_HOME_GIVEN = "stig.home"
"""Where ``--home`` is remembered in the context's meta (shared by the root and its commands),
whether it was given before the command or after it."""

HOME_HELP = f"Data directory of this node (default: ${HOME_ENV}, else the user data directory)."


def give_home(ctx: click.Context, value: str | None) -> None:
    """Remember ``--home DIR`` from the root or from a command (``stig feed --home X`` means
    ``stig --home X feed``); the same home given twice is fine, two different ones are not."""
    if value is None:
        return
    given = ctx.meta.get(_HOME_GIVEN)
    if given is not None and Home.choose(given) != Home.choose(value):
        raise UsageError(f"--home is given twice ({given} and {value}): give it once")
    ctx.meta[_HOME_GIVEN] = value


def settle_home(ctx: click.Context) -> Home:
    """Choose the home once per run, and protect it (umask 077, private modes) before the
    command does anything. Called when a command's options are parsed: click runs the root's
    callback before it parses the command's, so the root alone cannot know a ``--home`` that
    comes after the command."""
    root = ctx.find_root()
    if isinstance(root.obj, Home):
        return root.obj
    chosen = Home.choose(ctx.meta.get(_HOME_GIVEN))
    if chosen.protect():
        click.echo(
            f"stig: tightened permissions of {chosen.root} to 0700 (its files to 0600): "
            "other users of this machine could read it",
            err=True,
        )
    root.obj = chosen
    return chosen


def _home_after_command(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if ctx.resilient_parsing:
        return
    give_home(ctx, value)
    settle_home(ctx)


def home_option() -> click.Option:
    """``--home DIR`` on a command, with the root's meaning; eager, so the home is settled
    before the command's other options are converted."""
    return click.Option(
        ["--home"],
        type=click.Path(file_okay=False),
        default=None,
        expose_value=False,
        is_eager=True,
        callback=_home_after_command,
        help=HOME_HELP,
    )


def home_of(ctx: click.Context) -> Home:
    return settle_home(ctx)


def load_persona(keyring: Keyring, name: str | None) -> Persona:
    """The persona to sign with, asking for its passphrase if its key file is locked."""
    chosen = name or keyring.default
    if chosen is None:
        return keyring.load(None)  # raises with the right advice
    if not keyring.is_locked(chosen):
        return keyring.load(chosen)
    passphrase = os.environ.get(PASSPHRASE_ENV)
    if passphrase is None:
        if not sys.stdin.isatty():
            raise PersonaError(
                f"persona {chosen!r} is protected by a passphrase; set {PASSPHRASE_ENV} "
                "or run this in a terminal to type it"
            )
        passphrase = click.prompt(f"passphrase for {chosen}", hide_input=True, err=True)
    return keyring.load(chosen, passphrase)


def ask_new_passphrase() -> str:
    passphrase = os.environ.get(PASSPHRASE_ENV)
    if passphrase is not None:
        return passphrase
    if not sys.stdin.isatty():
        raise PersonaError(f"to protect a persona with a passphrase, set {PASSPHRASE_ENV}")
    text: str = click.prompt("new passphrase", hide_input=True, confirmation_prompt=True, err=True)
    return text


def confirm(question: str, yes: bool) -> None:
    """Ask before something irreversible; ``--yes`` answers for scripts."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise click.UsageError(f"{question} needs confirmation: add --yes")
    click.confirm(question, abort=True, err=True)


def network_options(command: Any) -> Any:
    """--listen, --bootstrap, --lan, --psk-file, --tor and --tor-only: what a node on the mesh
    is started with."""
    for option in reversed(
        [
            click.option(
                "--listen",
                multiple=True,
                help="Multiaddr to listen on (repeatable); /ip4/127.0.0.1/tcp/0 picks a port.",
            ),
            click.option(
                "--bootstrap",
                multiple=True,
                help="A peer to dial: its full multiaddr or its invite code (repeatable).",
            ),
            click.option("--lan", is_flag=True, help="Find peers on the LAN (mDNS announces you)."),
            click.option(
                "--psk-file",
                type=click.Path(exists=True, dir_okay=False, path_type=Path),
                help="Private-network key file (64 hex characters): a closed mesh.",
            ),
            click.option(
                "--tor",
                "tor",
                flag_value="tor",
                default=None,
                help="Be an onion service as well as on clearnet (config.toml [tor]).",
            ),
            click.option(
                "--tor-only",
                "tor",
                flag_value="tor-only",
                help="Nothing but tor: an onion service, onion peers only, no mDNS.",
            ),
        ]
    ):
        command = option(command)
    return command


def node_config(
    home: Home,
    listen: tuple[str, ...],
    bootstrap: tuple[str, ...],
    lan: bool,
    psk_file: Path | None,
    tor: str | None = None,
) -> Config:
    """The home's config.toml with the command line's network options on top. A
    ``--bootstrap`` may be a peer invite code (``stig invite``): it stands for the addresses it
    carries, and for a tor-only node for its onion addresses alone."""
    config = load_config(home.config_file)
    only = (tor or config.tor.mode) == TOR_ONLY
    return with_network(
        config,
        listen=listen,
        bootstrap=tuple(a for given in bootstrap for a in bootstrap_addresses(given, only)),
        lan=lan,
        psk_file=str(psk_file) if psk_file else "",
        tor=tor,
    )


def bootstrap_addresses(given: str, tor_only: bool) -> list[str]:
    """What one ``--bootstrap`` stands for: a multiaddr itself (checked later, with the
    others), or the addresses of a peer invite code. A tor-only node takes a code's onion
    addresses and leaves its clearnet ones (it would not dial them); a code that carries no
    onion is refused with what to ask for instead."""
    if not "".join(given.split()).lower().startswith(PEER_INVITE_PREFIX):
        return [given]
    addresses = addresses_of(given, "--bootstrap")
    if not tor_only:
        return addresses
    onions = [a for a in addresses if is_onion(a)]
    if not onions:
        raise UsageError(
            "--bootstrap: this invite carries no onion address, and a tor-only node dials "
            "onions only: ask for an invite from a node run with --tor (or --tor-only)"
        )
    return onions
