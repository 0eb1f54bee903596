"""``stig watch``: what to notice when it arrives (stig.node.watch_list)."""

from __future__ import annotations

import click

from stig.cli.options import home_of, run
from stig.cli.render import echo_json
from stig.errors import UsageError
from stig.filter_words import FilterError
from stig.node import watch_list
from stig.node.local import LocalNode
from stig.node.watch_list import read_watch


@click.group()
def watch() -> None:
    """Traces to notice when they arrive: a toast and the bell in the terminal UI, a desktop
    notification from `stig node --notify`. Kept on this device only."""


@watch.command("add")
@click.argument("words")
@click.pass_context
def add(ctx: click.Context, words: str) -> None:
    """Watch for traces that match WORDS, e.g. '#housing @u09 kind:callout' (every word must
    match; by:NAME names a persona or a 64-hex author key)."""

    async def go() -> None:
        async with LocalNode.open(home_of(ctx)) as node:
            try:
                where = read_watch(words, node.author_named)
            except FilterError as exc:
                raise UsageError(str(exc)) from exc
            text, new = watch_list.add(node.home.watches_file, where)
            if not new:
                click.echo(f"already watching {text}")
                return
            count = len(watch_list.load(node.home.watches_file))
            click.echo(f"watching {text} ({count} watch(es); `stig watch list`)")

    run(go())


@watch.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def list_watches(ctx: click.Context, as_json: bool) -> None:
    """The watches of this device, numbered."""
    texts = watch_list.load(home_of(ctx).watches_file)
    if as_json:
        echo_json(texts)
        return
    if not texts:
        click.echo("no watches; `stig watch add '#housing kind:callout'` adds one")
    for number, text in enumerate(texts, 1):
        click.echo(f"{number:>3}  {text}")


@watch.command("rm")
@click.argument("which")
@click.pass_context
def remove(ctx: click.Context, which: str) -> None:
    """Stop watching: WHICH is a number from `stig watch list`, or the watch's words."""
    path = home_of(ctx).watches_file
    texts = watch_list.load(path)
    if which.isdigit() and 1 <= int(which) <= len(texts):
        gone = texts[int(which) - 1]
    elif which in texts:
        gone = which
    else:
        known = f"1 to {len(texts)}" if texts else "there are none"
        raise UsageError(
            f"no watch {which!r}: give its number ({known}) or its words as `stig watch list` "
            "shows them"
        )
    watch_list.save(path, [t for t in texts if t != gone])
    click.echo(f"no longer watching {gone}")


COMMANDS = [watch]
