"""Commands that leave a trace: post, answer, echo, confirm, dispute, retract, burn."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import click

from stig.cli.groups import anonymous_option, check_anonymous, group_option
from stig.cli.options import Place, TimeToLive, confirm, home_of, load_persona, run
from stig.crdt import kinds
from stig.crdt.bounds import MAX_TTL
from stig.crdt.trace import Trace
from stig.crypto.persona import Persona
from stig.errors import UsageError
from stig.node.local import Draft, LocalNode
from stig.readable import SHORT_ID, span

_persona = click.option("--persona", "-p", default=None, help="Sign as this persona.")
_ttl = click.option(
    "--ttl", type=TimeToLive(), default=None, help=f"Life, e.g. 12h, 3d (max {span(MAX_TTL)})."
)
_tags = click.option("--tag", "-t", "tags", multiple=True, help="A tag (repeatable).")
_place = click.option(
    "--place",
    type=Place(),
    default="",
    help="Coarse place: a geohash of <= 4 characters, or lat,lon (made into that cell).",
)
_any_kind = click.option(
    "--any-kind",
    is_flag=True,
    help="Post a kind stig does not know yet, deliberately (it is checked as a typo otherwise).",
)
_pow = click.option(
    "--pow", "pow_bits", type=click.IntRange(0, 28), default=0, help="Proof-of-work bits."
)


def _check_kind(kind: str, any_kind: bool) -> None:
    """A kind this version does not know is most often a typo; it is posted only when asked
    for with --any-kind (what arrives from the network is kept whatever its kind)."""
    if any_kind or kind in kinds.KNOWN_KINDS:
        return
    near = kinds.nearest_known(kind)
    guess = f" — did you mean {near}?" if near else ""
    raise UsageError(
        f"unknown kind {kind!r}{guess} (known: {', '.join(kinds.KNOWN_KINDS)}; "
        "--any-kind posts a new kind deliberately)"
    )


_DONE = {
    kinds.ECHO: ("echoed", "an", "echo"),
    kinds.CONFIRM: ("confirmed", "a", "confirmation"),
    kinds.DISPUTE: ("disputed", "a", "dispute"),
}
"""What echo, confirm and dispute say they did: (verb, article, noun) — a line for a person; `post`
and `answer` print only the new id, which scripts read."""


async def _refuse_own_word(
    node: LocalNode, target: bytes, kind: str, signer: Persona, group: str | None
) -> None:
    """Echoes, confirmations and disputes count only from other people (docs/protocol.md §6:
    support and counts are by authors other than the trace's), so one of one's own trace would
    be carried everywhere and change nothing: it is refused, saying why, before anything is
    signed. Another persona of this home is another author, and is not refused."""
    if kind not in _DONE:
        return
    if await node.author_of(target, group=group) == signer.public_key:
        _, article, noun = _DONE[kind]
        then = (
            f"; to take it back, `stig retract {target.hex()[:SHORT_ID]}`"
            if kind == kinds.DISPUTE
            else ": it would neither raise its intensity nor extend its life"
        )
        raise UsageError(
            f"trace {target.hex()[:SHORT_ID]} was posted by persona {signer.name!r} itself, and "
            f"{article} {noun} counts only from other people{then}; nothing was posted"
        )


def _body(text: str | None) -> str:
    if text is None:
        if sys.stdin.isatty():
            raise UsageError("give the text as an argument, or pipe it on standard input")
        text = sys.stdin.read()
    if not text.strip():
        raise UsageError("nothing to post: the text is empty")
    return text.strip()


def _post(
    ctx: click.Context,
    persona: str | None,
    act: Callable[[LocalNode, Any], Any],
    anonymous: bool = False,
) -> Trace:
    async def go() -> Trace:
        async with LocalNode.open(home_of(ctx)) as node:
            # Signed with the group's shared key: no persona is used, so none is unlocked (a
            # throwaway key stands in for it, and LocalNode never signs with it).
            signer = (
                Persona("unused", os.urandom(32))
                if anonymous
                else load_persona(node.keyring, persona)
            )
            result: Trace = await act(node, signer)
            return result

    return run(go())


@click.command()
@click.argument("text", required=False)
@click.option("--kind", "-k", default=kinds.NOTE, show_default=True, help="callout, report, ...")
@_tags
@_place
@_ttl
@click.option("--ref", "refs", multiple=True, help="Id (or prefix) of a trace this answers.")
@_any_kind
@_persona
@group_option
@anonymous_option
@_pow
@click.pass_context
def post(
    ctx: click.Context,
    text: str | None,
    kind: str,
    tags: tuple[str, ...],
    place: str,
    ttl: int | None,
    refs: tuple[str, ...],
    any_kind: bool,
    persona: str | None,
    group: str | None,
    anonymous: bool,
    pow_bits: int,
) -> None:
    """Leave a trace. TEXT, or standard input. Prints the new trace's id.

    With --group NAME it is sealed: only the group's members read it (for 29 days at most)."""
    _check_kind(kind, any_kind)
    check_anonymous(group, anonymous, persona)
    body = _body(text)

    async def act(node: LocalNode, signer: Any) -> Trace:
        resolved = tuple([await node.resolve(ref, group=group) for ref in refs])
        draft = Draft(kind, body, tags, place, ttl, resolved, pow_bits)
        return await node.post(draft, signer, group=group, anonymous=anonymous)

    click.echo(_post(ctx, persona, act, anonymous).hex_id)


def _responder(name: str, kind: str | None, summary: str, takes_text: bool) -> click.Command:
    """One command per way of responding to a trace; they differ only in kind and text."""

    @click.pass_context
    def respond(ctx: click.Context, /, trace_id: str, persona: str | None, **extra: Any) -> None:
        chosen: str = extra.pop("kind", None) or kind or kinds.ACTION
        _check_kind(chosen, extra.pop("any_kind", False))
        group: str | None = extra.pop("group", None)
        anonymous: bool = extra.pop("anonymous", False)
        check_anonymous(group, anonymous, persona)
        body = _body(extra.pop("text", None)) if takes_text else ""

        async def act(node: LocalNode, signer: Any) -> Trace:
            target = await node.resolve(trace_id, group=group)
            await _refuse_own_word(node, target, chosen, signer, group)
            draft = Draft(
                chosen,
                body,
                extra.get("tags", ()),
                extra.get("place", ""),
                extra.get("ttl"),
                pow_bits=extra.get("pow_bits", 0),
            )
            return await node.respond(target, draft, signer, group=group, anonymous=anonymous)

        said = _post(ctx, persona, act, anonymous)
        if chosen in _DONE and kind is not None:
            verb, _, noun = _DONE[chosen]
            click.echo(f"{verb} {said.refs[0].hex()[:SHORT_ID]}: the {noun} is {said.hex_id}")
        else:
            click.echo(said.hex_id)

    params: list[click.Parameter] = [click.Argument(["trace_id"], metavar="ID")]
    command = click.Command(name, callback=respond, help=summary, params=params)
    if takes_text:
        command.params.append(click.Argument(["text"], required=False))
    if kind is None:
        click.option(
            "--kind", "-k", default=kinds.ACTION, show_default=True, help="action, report, ..."
        )(command)
        for option in (_tags, _place, _any_kind):
            option(command)
    if kind != kinds.RETRACT:
        _ttl(command)
        _pow(command)
        # A retraction must outlive the trace's longest life; a group's traces cannot (rooms.py).
        group_option(command)
    if takes_text:
        anonymous_option(command)
    _persona(command)
    return command


answer = _responder(
    "answer", None, "Answer trace ID, e.g. with the action that answers a call-out.", True
)
echo = _responder(
    "echo", kinds.ECHO, "Reinforce trace ID: it lives longer and shows higher.", False
)
confirm_command = _responder("confirm", kinds.CONFIRM, "Say trace ID is true.", False)
dispute = _responder("dispute", kinds.DISPUTE, "Say trace ID is false or misleading.", False)
retract = _responder(
    "retract", kinds.RETRACT, "Withdraw your trace ID: its text is purged everywhere.", False
)


@click.command()
@_persona
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def burn(ctx: click.Context, persona: str | None, yes: bool) -> None:
    """Retract every trace this persona has posted so far (the panic button)."""

    async def act(node: LocalNode, signer: Any) -> Trace:
        confirm(f"retract every trace persona {signer.name!r} has posted, everywhere?", yes)
        return await node.burn(signer)

    trace = _post(ctx, persona, act)
    click.echo(f"burned: {trace.hex_id[:SHORT_ID]} retracts everything before it")


COMMANDS = [post, answer, echo, confirm_command, dispute, retract, burn]
