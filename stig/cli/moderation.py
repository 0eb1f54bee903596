"""Commands of subjective moderation: mute, unmute, follow-mutes, unfollow-mutes.

Muting is local: this device stops showing an author (or a tag); nothing is deleted and nothing
is sent. ``stig mute KEY --publish`` also leaves a signed, expiring mute trace (docs/protocol.md
§4.3) for those who follow this persona's mutes; following is local too.
"""

from __future__ import annotations

import click

from stig.cli.options import home_of, load_persona, run
from stig.cli.render import echo_json
from stig.crdt.normal_form import normalize_tag
from stig.errors import InvalidTrace, UsageError
from stig.node.local import LocalNode
from stig.node.mute_list import MuteList
from stig.readable import SHORT_ID


def _tag(target: str) -> str | None:
    """The tag of a '#tag' target, normalised; None for an author."""
    if not target.startswith("#"):
        return None
    try:
        return normalize_tag(target[1:])
    except InvalidTrace as exc:
        raise UsageError(f"{target!r} is not a tag: {exc.detail}") from exc


def _describe(node: LocalNode, key: bytes) -> str:
    """The author as it reads everywhere (stig.node.authors), and the key's start when that
    is a name: what `stig unmute` takes."""
    said = node.authors().describe(key)
    prefix = key.hex()[:SHORT_ID]
    return said if said == prefix else f"{prefix} ({said})"


def _show_list(node: LocalNode, listed: MuteList, as_json: bool) -> None:
    if as_json:
        echo_json(
            {
                "authors": sorted(k.hex() for k in listed.authors),
                "tags": sorted(listed.tags),
                "follows": sorted(k.hex() for k in listed.follows),
            }
        )
        return
    if not listed:
        click.echo("nothing muted; `stig mute KEY` or `stig mute '#tag'` hides what you name")
        return
    names = node.petnames()

    def called(key: bytes) -> str:
        name = names.name_of(key)
        return f"  ({name})" if name else ""

    for key in sorted(listed.authors):
        click.echo(f"author  {key.hex()}{called(key)}")
    for tag in sorted(listed.tags):
        click.echo(f"tag     #{tag}")
    for key in sorted(listed.follows):
        click.echo(f"follows {key.hex()}{called(key)}  (their published mutes apply here)")


@click.command()
@click.argument("target", required=False)
@click.option("--list", "listing", is_flag=True, help="Show what is muted and whose mutes apply.")
@click.option("--json", "as_json", is_flag=True, help="With --list: print JSON.")
@click.option(
    "--publish", is_flag=True, help="Also publish the mute, for those who follow your mutes."
)
@click.option("--reason", default="", help="With --publish: why, in a few words.")
@click.option("--ref", "refs", multiple=True, help="With --publish: a trace that shows why.")
@click.option("--persona", "-p", default=None, help="With --publish: sign as this persona.")
@click.pass_context
def mute(
    ctx: click.Context,
    target: str | None,
    listing: bool,
    as_json: bool,
    publish: bool,
    reason: str,
    refs: tuple[str, ...],
    persona: str | None,
) -> None:
    """Stop showing an author (KEY, a key prefix as the feed shows it, or a persona name) or a
    tag ('#tag') on this device: their traces leave the feed, search, threads and contour, and
    their support no longer counts here. Nothing is deleted or sent, unless --publish."""

    async def go() -> None:
        async with LocalNode.open(home_of(ctx)) as node:
            if listing or target is None:
                if target is not None:
                    raise UsageError("give either a TARGET to mute or --list, not both")
                _show_list(node, node.mute_list(), as_json)
                return
            tag = _tag(target)
            if tag is not None:
                if publish:
                    raise UsageError("only an author can be muted in public, not a tag")
                node.change_mutes(lambda m: m.with_tag(tag))
                click.echo(f"muted #{tag} here (`stig unmute '#{tag}'` undoes it)")
                return
            key = await node.resolve_author(target)
            if key in node.keyring.owners():
                raise UsageError(f"{target!r} is one of your own personas; it cannot be muted")
            node.change_mutes(lambda m: m.with_author(key))
            click.echo(
                f"muted {_describe(node, key)} here (`stig unmute {key.hex()[:16]}` undoes it)"
            )
            if publish:
                signer = load_persona(node.keyring, persona)
                resolved = tuple([await node.resolve(ref) for ref in refs])
                trace = await node.publish_mute(key, signer, reason, resolved)
                click.echo(f"published mute {trace.hex_id} as {signer.name}")

    if (reason or refs or persona) and not publish:
        raise UsageError("--reason, --ref and --persona only go with --publish")
    run(go())


@click.command()
@click.argument("target")
@click.pass_context
def unmute(ctx: click.Context, target: str) -> None:
    """Show an author or a '#tag' again on this device (a mute you published stays published:
    retract it with `stig retract ID`)."""

    async def go() -> None:
        async with LocalNode.open(home_of(ctx)) as node:
            tag = _tag(target)
            if tag is not None:
                before = node.mute_list().tags
                node.change_mutes(lambda m: m.with_tag(tag, muted=False))
                click.echo(f"unmuted #{tag}" if tag in before else f"#{tag} was not muted")
                return
            key = await node.resolve_author(target)
            before_authors = node.mute_list().authors
            node.change_mutes(lambda m: m.with_author(key, muted=False))
            if key in before_authors:
                click.echo(f"unmuted {_describe(node, key)}")
            else:
                click.echo(f"{_describe(node, key)} was not muted here")
            mutes = await node.mutes()
            if key in mutes.authors:
                click.echo(
                    "it is still hidden: a persona whose mutes you follow muted it "
                    "(`stig mute --list` shows whom you follow)"
                )

    run(go())


@click.command("follow-mutes")
@click.argument("who")
@click.pass_context
def follow_mutes(ctx: click.Context, who: str) -> None:
    """Apply the published mutes of a persona you trust (KEY, key prefix or persona name) on
    this device. Nobody is told; `stig unfollow-mutes` stops it."""

    async def go() -> None:
        async with LocalNode.open(home_of(ctx)) as node:
            key = await node.resolve_author(who)
            node.change_mutes(lambda m: m.with_follow(key))
            now_hidden = len((await node.mutes()).authors - node.mute_list().authors)
            click.echo(
                f"following the mutes of {_describe(node, key)}: "
                f"{now_hidden} author(s) hidden by the mutes you follow"
            )

    run(go())


@click.command("unfollow-mutes")
@click.argument("who")
@click.pass_context
def unfollow_mutes(ctx: click.Context, who: str) -> None:
    """Stop applying a persona's published mutes on this device."""

    async def go() -> None:
        async with LocalNode.open(home_of(ctx)) as node:
            key = await node.resolve_author(who)
            was = key in node.mute_list().follows
            node.change_mutes(lambda m: m.with_follow(key, followed=False))
            what = "no longer following" if was else "you were not following"
            click.echo(f"{what} the mutes of {_describe(node, key)}")

    run(go())


COMMANDS = [mute, unmute, follow_mutes, unfollow_mutes]
