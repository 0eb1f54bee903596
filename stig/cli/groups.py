"""Affinity groups: `stig group new | invite | join | leave | fork | list`.

A group is a shared secret and nothing else (DESIGN.md §1.1): whoever holds it is in. Its name
is chosen on each device and never leaves it. Posting and reading inside a group is `--group
NAME` on post, answer, echo, confirm, dispute, feed, show and search.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from stig.cli.joining import connect_to, node_invite
from stig.cli.options import confirm, home_of, run
from stig.cli.render import echo_json
from stig.crdt.trace import Trace
from stig.crypto.group import Epoch, advance, day_of, read_invite
from stig.errors import UsageError
from stig.node.groups import INVITE_GRACE_DAYS
from stig.node.joining import addresses_of
from stig.node.local import LocalNode

DEFAULT_NAME_PREFIX = "group-"
DEFAULT_NAME_HEX = 6
WITH_ADDRESS = "+"
"""Joins a group invite and a peer invite (docs/protocol.md §8.9) into one code: "+" is in the
QR alphanumeric set and in neither code's alphabet."""

group_option = click.option(
    "--group",
    "-g",
    "group",
    default=None,
    metavar="NAME",
    help="Inside affinity group NAME: sealed, read only by its members.",
)
anonymous_option = click.option(
    "--anonymous",
    is_flag=True,
    help="Sign with the group's shared key: shown as 'a member of NAME' (needs --group).",
)


def _with_node(ctx: click.Context, act: Callable[[LocalNode], Any]) -> Any:
    """Run ``act`` with the home's node open (an initialised home is required: a group key
    must not be the first thing written into a directory that is not a stig home)."""

    async def go() -> Any:
        async with LocalNode.open(home_of(ctx)) as node:
            return act(node)

    return run(go())


def _today(node: LocalNode) -> int:
    return day_of(node.clock())


def echo_invite(code: str, name: str, as_json: bool, about: str = "") -> None:
    """The code on one line (easy to copy, or to take with `head -1`), then a QR code of it,
    then ``about`` (what the code means)."""
    if as_json:
        echo_json({"code": code, "group": name})
        return
    click.echo(code)
    click.echo("")
    import segno  # noqa: PLC0415 - only these commands draw QR codes; the others start faster

    # Upper case: the same code to `stig group join` (it ignores case), but it fits QR
    # alphanumeric mode, so the square is smaller and easier to scan from a screen.
    qr = segno.make(code.upper(), error="m", micro=False)
    qr.terminal(out=sys.stdout, compact=True)
    click.echo("")
    click.echo(
        about
        or f"Anyone holding this code is in group {name!r}: give it only in person, or over a "
        "channel you trust. They read what is alive in the group now, and what comes after."
    )


@click.group("group")
def group() -> None:
    """Affinity groups: a shared secret is the membership; no list of members anywhere.

    `group new NAME` makes one, `group invite NAME` shows the code to give,
    `group join CODE` enters one; then `--group NAME` on post, answer, feed, show, search...
    """


@group.command("new")
@click.argument("name")
@click.pass_context
def group_new(ctx: click.Context, name: str) -> None:
    """A new group NAME with a fresh secret (NAME stays on this device)."""

    def act(node: LocalNode) -> None:
        node.groups.new(name, _today(node))

    _with_node(ctx, act)
    click.echo(f"group {name} created; `stig group invite {name}` shows the code to give")


@group.command("invite")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (code and group), no QR code.")
@click.option(
    "--with-address",
    is_flag=True,
    help="Add this running node's reachable addresses: one scan joins the group and the mesh.",
)
@click.pass_context
def group_invite(ctx: click.Context, name: str, as_json: bool, with_address: bool) -> None:
    """Print the invite code of group NAME, and a QR code of it."""

    def act(node: LocalNode) -> str:
        return node.groups.invite(name, _today(node))

    code = _with_node(ctx, act)
    if not with_address:
        echo_invite(code, name, as_json)
        return
    peer_code, _ = node_invite(home_of(ctx))
    about = (
        f"Anyone holding this code is in group {name!r} and can dial this node: it carries the "
        "group's key and the IP addresses this node is reachable at (its own, or its relays'). "
        "Whoever sees it can read the group and learns that this node, at those addresses, "
        "holds its key (docs/threat-model.md): give it only in person."
    )
    echo_invite(f"{code}{WITH_ADDRESS}{peer_code}", name, as_json, about)


def default_name(code: str, today: int, taken: list[str]) -> str:
    """``group-`` and the first hex digits of the group's tag of the day it is joined: a name
    that says nothing (the tag changes every day) and differs between groups."""
    chain, day = read_invite(code)
    if day > today + INVITE_GRACE_DAYS:
        return DEFAULT_NAME_PREFIX + "x"  # join refuses it with the right message
    start = max(today, day)
    tag = Epoch.of(advance(chain, start - day), start).tag_text
    size = DEFAULT_NAME_HEX
    while DEFAULT_NAME_PREFIX + tag[:size] in taken and size < len(tag):
        size += 2
    return DEFAULT_NAME_PREFIX + tag[:size]


@group.command("join")
@click.argument("code")
@click.option("--name", default=None, help="What to call the group here (default: group-<hex>).")
@click.pass_context
def group_join(ctx: click.Context, code: str, name: str | None) -> None:
    """Enter the group whose invite code is CODE."""

    code, _, peer_code = "".join(code.split()).partition(WITH_ADDRESS)
    addresses = addresses_of(peer_code) if peer_code else []

    def act(node: LocalNode) -> str:
        today = _today(node)
        chosen = name or default_name(code, today, node.groups.names())
        node.groups.join(chosen, code, today)
        return chosen

    chosen = _with_node(ctx, act)
    for line in connect_to(home_of(ctx), addresses):
        click.echo(line)
    click.echo(
        f"joined group {chosen}: `stig feed --group {chosen}` reads it once its traces are here "
        "(from the mesh, or `stig import`)"
    )


@group.command("leave")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def group_leave(ctx: click.Context, name: str, yes: bool) -> None:
    """Forget group NAME: its key (overwritten first) and what was read in it here."""

    _with_node(ctx, lambda node: node.groups.store_path(name))  # no such group: says so
    confirm(f"forget group {name!r}: its key and every trace read in it here?", yes)
    _with_node(ctx, lambda node: node.groups.leave(name))
    click.echo(
        f"left group {name}: its key and store are erased here (others still hold the key; "
        "to stop them reading what you post, the group forks)"
    )


@group.command("fork")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (code and group), no QR code.")
@click.pass_context
def group_fork(ctx: click.Context, name: str, as_json: bool) -> None:
    """Give group NAME a new secret here; print the new invite code."""

    def act(node: LocalNode) -> str:
        return node.groups.fork(name, _today(node))

    about = (
        f"Group {name} has a new key on this device. Only those who get this code read what is "
        f"posted in {name} from now on; whoever keeps the old key no longer reads your posts, "
        "and you no longer read theirs. Traces already read here stay until they fade."
    )
    echo_invite(_with_node(ctx, act), name, as_json, about)


@group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def group_list(ctx: click.Context, as_json: bool) -> None:
    """The groups this device is in (their local names; nothing secret)."""
    names: list[str] = _with_node(ctx, lambda node: node.groups.names())
    if as_json:
        echo_json([{"group": name} for name in names])
    elif not names:
        click.echo("no groups yet: `stig group new NAME`, or `stig group join CODE`")
    else:
        for name in names:
            click.echo(name)


def author_label(node: LocalNode, group: str | None) -> Callable[[Trace], str]:
    """How an author reads on a terminal: inside ``group``, 'a member of NAME' for the group's
    anonymous key; else this node's persona name, a petname (stig.node.petnames), or the key's
    first hex digits."""
    names, own = node.petnames(), node.keyring.owners()

    def label(trace: Trace) -> str:
        if group is not None and node.rooms.is_anonymous(group, trace):
            return f"a member of {group}"
        return names.label(trace.author, own)

    return label


def trace_fields(node: LocalNode, group: str | None) -> Callable[[Trace], dict[str, Any]]:
    """The fields a trace gains in `--json` output: ``author_name`` (a persona's name here, a
    petname, or null: never a guess), and inside a group ``group`` and ``anonymous`` (an
    anonymous trace has no author name)."""
    name_of = node.author_names()

    def fields(trace: Trace) -> dict[str, Any]:
        if group is None:
            return {"author_name": name_of(trace.author)}
        anonymous = node.rooms.is_anonymous(group, trace)
        return {
            "author_name": None if anonymous else name_of(trace.author),
            "group": group,
            "anonymous": anonymous,
        }

    return fields


def check_anonymous(group: str | None, anonymous: bool, persona: str | None) -> None:
    if anonymous and group is None:
        raise UsageError("--anonymous only means something inside a group: add --group NAME")
    if anonymous and persona is not None:
        raise UsageError("--anonymous signs with the group's shared key, not a persona: drop -p")


COMMANDS = [group]
