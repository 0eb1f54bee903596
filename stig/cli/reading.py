"""Commands that read: feed, show, search."""

from __future__ import annotations

from collections.abc import Callable

import click

from stig.cli.groups import author_label, group_option, trace_fields
from stig.cli.options import Place, home_of, run
from stig.cli.render import echo_json, echo_ranked, echo_thread, ranked_json, thread_json
from stig.crdt.normal_form import normalize_place, normalize_tag
from stig.crdt.views import FeedFilter
from stig.errors import UsageError
from stig.node.local import LocalNode

_json = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
_limit = click.option(
    "--limit", "-n", type=click.IntRange(1, 10_000), default=50, show_default=True
)


@click.command()
@click.option("--kind", "-k", "kind_names", multiple=True, help="Only these kinds (repeatable).")
@click.option("--tag", "-t", "tags", multiple=True, help="Only traces with all these tags.")
@click.option(
    "--place",
    type=Place(),
    default="",
    help="Only this geohash cell and the cells inside it (or lat,lon: its 4-character cell).",
)
@click.option(
    "--author", default=None, help="Only this author (public key hex, persona name or petname)."
)
@group_option
@_limit
@_json
@click.pass_context
def feed(
    ctx: click.Context,
    kind_names: tuple[str, ...],
    tags: tuple[str, ...],
    place: str,
    author: str | None,
    group: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """What is alive here, most intense first (with --group, inside that group)."""

    async def go() -> None:
        async with LocalNode.open(home_of(ctx)) as node:
            where = FeedFilter(
                kinds=frozenset(kind_names),
                tags=frozenset(normalize_tag(tag) for tag in tags),
                place=normalize_place(place),
                author=_author_key(node, author),
            )
            items = await node.feed(where, limit, group=group)
            if as_json:
                echo_json([ranked_json(item, trace_fields(node, group)) for item in items])
            elif not items and group:
                click.echo(f"nothing alive in group {group} here yet")
            elif not items:
                click.echo(
                    "nothing alive here yet: post with `stig post`, or `stig import` a bundle"
                )
            else:
                echo_ranked(items, node.clock(), author_label(node, group))

    run(go())


def _author_key(node: LocalNode, author: str | None) -> bytes | None:
    if author is None:
        return None
    if author in node.keyring.names():
        return node.keyring.public_key(author)
    named = node.petnames().key_of(author)
    if named is not None:
        return named
    try:
        key = bytes.fromhex(author)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise UsageError(f"--author {author!r} is neither a persona here nor a 64-hex public key")
    return key


def _who(node: LocalNode) -> Callable[[bytes], str]:
    """How a bare author key reads (a retracted trace keeps only its author's key)."""
    names, own = node.petnames(), node.keyring.owners()
    return lambda key: names.label(key, own)


@click.command()
@click.argument("trace_id", metavar="ID")
@group_option
@_json
@click.pass_context
def show(ctx: click.Context, trace_id: str, group: str | None, as_json: bool) -> None:
    """A trace and its thread: what it answers, what answers it, echoes, confirms, disputes."""

    async def go() -> None:
        async with LocalNode.open(home_of(ctx)) as node:
            found = await node.thread(await node.resolve(trace_id, group=group), group=group)
            if as_json:
                echo_json(thread_json(found, trace_fields(node, group), node.author_names()))
            else:
                echo_thread(found, node.clock(), author_label(node, group), _who(node))

    run(go())


@click.command()
@click.argument("query", nargs=-1, required=True)
@group_option
@_limit
@_json
@click.pass_context
def search(
    ctx: click.Context, query: tuple[str, ...], group: str | None, limit: int, as_json: bool
) -> None:
    """Full-text search of live traces (bodies and tags), offline."""

    async def go() -> None:
        async with LocalNode.open(home_of(ctx)) as node:
            items = await node.search(" ".join(query), limit, group=group)
            if as_json:
                echo_json([ranked_json(item, trace_fields(node, group)) for item in items])
            elif not items:
                click.echo("no live trace matches" + (f" in group {group}" if group else ""))
            else:
                echo_ranked(items, node.clock(), author_label(node, group))

    run(go())


COMMANDS = [feed, show, search]
