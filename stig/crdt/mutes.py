"""Published mutes: subjective moderation with no moderator (docs/protocol.md §4.3, §6.8).

A person may publish a mute — a signed, expiring trace of kind ``mute`` — to say "I do not want
to see this author, and here is why": its body starts with the muted author's key as 64
lower-case hex characters, on a line of its own (``MUTE_TARGET_CHARS``), optionally followed by
a newline and the reason in words; its refs name the traces that show why. Anyone may *follow*
a persona's mutes. What a node hides is then a pure function of the set, ``now`` and its own
follow list (``followed_mutes``): the targets of the visible mutes whose author it follows.
There is no global list and no default one, and following is never sent anywhere.

A mute whose body does not start with a key is still a valid trace (kept, relayed, shown with
``kind:mute``): it mutes no one. Validity does not depend on this rule, so nodes of every
version hold the same set. A mute lives like any trace: it fades unless others who agree
reinforce it (echo it), within the life cap; its author may retract it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from stig.crdt import kinds
from stig.crdt.trace import Trace
from stig.crdt.views import TraceSet

MUTE_TARGET_CHARS = 64
"""The muted author's Ed25519 public key, as lower-case hex, first in the body."""

_HEX = frozenset("0123456789abcdef")


def mute_body(target: bytes, reason: str = "") -> str:
    """The body of a mute of ``target`` (an author key), with an optional reason."""
    if len(target) != MUTE_TARGET_CHARS // 2:
        raise ValueError("a mute's target is a 32-byte author key")
    reason = reason.strip()
    return target.hex() + ("\n" + reason if reason else "")


def mute_target(trace: Trace) -> bytes | None:
    """The author key a mute names, or None if ``trace`` is not a mute or names no key: the
    body is exactly 64 lower-case hex characters, or those followed by a newline."""
    if trace.kind != kinds.MUTE:
        return None
    head = trace.body[:MUTE_TARGET_CHARS]
    rest = trace.body[MUTE_TARGET_CHARS:]
    if len(head) != MUTE_TARGET_CHARS or not _HEX.issuperset(head):
        return None
    if rest and not rest.startswith("\n"):
        return None
    return bytes.fromhex(head)


def targets(mutes: Iterable[Trace], followed: Collection[bytes]) -> frozenset[bytes]:
    """The authors named by those of ``mutes`` (already known visible) that a followed persona
    published. A persona's mute of itself is ignored."""
    out: set[bytes] = set()
    for trace in mutes:
        if trace.author in followed:
            target = mute_target(trace)
            if target is not None and target != trace.author:
                out.add(target)
    return frozenset(out)


def followed_mutes(traces: TraceSet, followed: Collection[bytes], now: int) -> frozenset[bytes]:
    """The authors this node hides because personas it follows muted them: the targets of
    every visible mute (not hidden by a retract or burn, effective expiry after ``now``) by a
    followed author. A pure function of (set, now, follow list)."""
    return targets(
        (t for t in traces if t.kind == kinds.MUTE and traces.is_visible(t, now)), followed
    )
