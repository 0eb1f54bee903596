"""Petnames: `stig name KEY_OR_PREFIX NAME`, `stig name --list`, `stig unname NAME`.

What this device calls authors (stig.node.petnames): shown wherever the CLI shows an author
(feed, show, search; `author_name` in `--json`), accepted wherever it asks for one (`--author`,
`mute`), and never sent anywhere.
"""

from __future__ import annotations

import click

from stig.cli.options import home_of, run
from stig.cli.render import echo_json
from stig.errors import UsageError
from stig.node.local import LocalNode
from stig.readable import SHORT_ID


@click.command()
@click.argument("author", metavar="KEY_OR_PREFIX", required=False)
@click.argument("name", required=False)
@click.option("--list", "listing", is_flag=True, help="Show the names given here.")
@click.option("--json", "as_json", is_flag=True, help="With --list: print JSON.")
@click.pass_context
def name(
    ctx: click.Context, author: str | None, name: str | None, listing: bool, as_json: bool
) -> None:
    """Call the author KEY_OR_PREFIX NAME on this device (never sent; `stig wipe` erases it).

    KEY_OR_PREFIX is the author's key, or at least its first 8 hex characters as the feed
    shows them. Naming an author again renames it."""

    async def go() -> None:
        async with LocalNode.open(home_of(ctx)) as node:
            if as_json and not listing:
                raise UsageError("--json goes with --list (`stig name --list --json`)")
            if listing:
                if author is not None:
                    raise UsageError("`stig name --list` takes nothing else")
                _show(node, as_json)
                return
            if author is None or name is None:
                raise UsageError(
                    "give the author and a name (`stig name 3fa9c1d2e8b0 ana`), "
                    "or `stig name --list`"
                )
            key = await node.resolve_author(author)
            own = node.keyring.owners().get(key)
            if own is not None:
                raise UsageError(
                    f"{key.hex()[:SHORT_ID]} is your persona {own!r}: it shows by that name"
                )
            if name in node.keyring.names():
                raise UsageError(f"{name!r} is one of your personas; choose another name")
            before = node.petnames().name_of(key)
            node.change_petnames(lambda names: names.named(key, name))
            was = f", was {before!r}" if before and before != name else ""
            click.echo(f"{key.hex()[:SHORT_ID]} is {name!r} here{was} (never sent)")

    run(go())


def _show(node: LocalNode, as_json: bool) -> None:
    names = sorted(node.petnames().by_key.items(), key=lambda kv: kv[1])
    if as_json:
        echo_json([{"name": given, "author": key.hex()} for key, given in names])
    elif not names:
        click.echo("no names yet: `stig name KEY_OR_PREFIX NAME` gives one")
    else:
        width = max(len(given) for _, given in names)
        for key, given in names:
            click.echo(f"{given:<{width}}  {key.hex()}")


@click.command()
@click.argument("name")
@click.pass_context
def unname(ctx: click.Context, name: str) -> None:
    """Forget the name NAME given to an author here."""

    async def go() -> None:
        async with LocalNode.open(home_of(ctx)) as node:
            key = node.petnames().key_of(name)
            node.change_petnames(lambda names: names.unnamed(name))
            assert key is not None  # unnamed() refused an unknown name
            click.echo(f"{key.hex()[:SHORT_ID]} is no longer called {name!r} here")

    run(go())


COMMANDS = [name, unname]
