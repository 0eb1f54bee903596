"""Validation: the one gate every trace passes before it is stored, shown or forwarded
(DESIGN.md §2; docs/protocol.md §4 lists the checks in the order they are made).

Cheap checks run first and the signature last, so junk costs the least it can.
"""

from __future__ import annotations

import re

from stig.crdt import kinds
from stig.crdt.bounds import (
    FORMAT_VERSION,
    LIFE_CAP,
    MAX_BODY_BYTES,
    MAX_FUTURE_SKEW,
    MAX_KIND_CHARS,
    MAX_NONCE,
    MAX_REFS,
    MAX_TAGS,
    MAX_TIMESTAMP,
    MAX_TRACE_BYTES,
    MAX_TTL,
    MIN_TTL,
    SIGNATURE_CONTEXT,
)
from stig.crdt.codec import decode, unsigned_bytes
from stig.crdt.envelope import check_envelope
from stig.crdt.normal_form import is_valid_place, is_valid_tag
from stig.crdt.trace import Trace
from stig.crypto.persona import verify
from stig.errors import InvalidTrace, Reason

KEY_BYTES = 32
ID_BYTES = 32
SIGNATURE_BYTES = 64


def validate(raw: bytes, now: int, *, extended_until: int = 0) -> Trace:
    """Decode and fully check a trace that came from outside; raise InvalidTrace or return it.

    ``extended_until`` is the latest ``expires`` of live traces by other authors that support
    this one, as far as the caller knows (views.py: effective expiry): a trace whose own expiry
    has passed is still alive, and still valid, while reinforcement keeps it so.
    """
    trace = check_record(raw)
    check_times(trace, now, extended_until=extended_until)
    return trace


def check_record(raw: bytes) -> Trace:
    """Every check of ``validate`` that does not depend on the clock (decode, bounds,
    signature); raise InvalidTrace or return the trace."""
    trace = decode(raw)
    check_fields(trace)
    check_signature(trace)
    return trace


def check_fields(trace: Trace) -> None:
    """Every bound that does not depend on the clock or the signature."""
    if trace.version != FORMAT_VERSION:
        raise InvalidTrace(
            Reason.UNSUPPORTED_VERSION,
            f"format version {trace.version}; this node reads version {FORMAT_VERSION}",
        )
    if not _is_valid_kind(trace.kind):
        raise InvalidTrace(
            Reason.BAD_KIND,
            f"kind {trace.kind!r} is not 1..{MAX_KIND_CHARS} of [a-z0-9_-] starting with a letter",
        )
    if len(trace.author) != KEY_BYTES:
        raise InvalidTrace(Reason.BAD_SHAPE, f"author is {len(trace.author)} bytes, not 32")
    if len(trace.signature) != SIGNATURE_BYTES:
        raise InvalidTrace(Reason.BAD_SHAPE, f"signature is {len(trace.signature)} bytes, not 64")
    if not 0 <= trace.nonce <= MAX_NONCE:
        raise InvalidTrace(
            Reason.BAD_SHAPE, f"nonce {trace.nonce} is not an unsigned 64-bit integer"
        )
    _check_life(trace)
    _check_tags(trace.tags)
    if not is_valid_place(trace.place):
        raise InvalidTrace(Reason.BAD_PLACE, f"place {trace.place!r} is not a short geohash")
    _check_refs(trace)
    try:
        body_bytes = len(trace.body.encode("utf-8"))
    except UnicodeEncodeError as exc:  # a lone surrogate, e.g. from surrogateescape'd input
        raise InvalidTrace(
            Reason.BAD_ENCODING,
            f"body is not UTF-8 text: {exc.reason} (U+{ord(exc.object[exc.start]):04X} at "
            f"character {exc.start})",
        ) from exc
    if body_bytes > MAX_BODY_BYTES:
        raise InvalidTrace(
            Reason.BODY_TOO_LARGE, f"body is {body_bytes} bytes, the limit is {MAX_BODY_BYTES}"
        )
    try:
        size = len(trace.encoded)
    except UnicodeEncodeError as exc:  # a lone surrogate in a tag (is_valid_tag allows them)
        raise InvalidTrace(
            Reason.BAD_ENCODING,
            f"text is not UTF-8: {exc.reason} (U+{ord(exc.object[exc.start]):04X} at "
            f"character {exc.start} of {exc.object!r:.60})",
        ) from exc
    if size > MAX_TRACE_BYTES:
        raise InvalidTrace(Reason.TOO_LARGE, f"{size} bytes, the limit is {MAX_TRACE_BYTES}")
    if trace.kind == kinds.SEALED:
        check_envelope(trace)


_KIND = re.compile(f"[a-z][a-z0-9_-]{{0,{MAX_KIND_CHARS - 1}}}")


def _is_valid_kind(kind: str) -> bool:
    """1..MAX_KIND_CHARS of [a-z0-9_-], starting with a letter. (Character ranges in a
    pattern are ranges of code points: only ASCII letters and digits match them.)"""
    return _KIND.fullmatch(kind) is not None


def _check_life(trace: Trace) -> None:
    if not 0 <= trace.created <= MAX_TIMESTAMP or not 0 <= trace.expires <= MAX_TIMESTAMP:
        raise InvalidTrace(
            Reason.BAD_TIMES,
            f"created {trace.created} or expires {trace.expires} is outside 0..{MAX_TIMESTAMP}",
        )
    if trace.expires - trace.created < MIN_TTL:
        raise InvalidTrace(
            Reason.BAD_TIMES,
            f"expires {trace.expires} is not after created {trace.created}",
        )
    ttl = trace.expires - trace.created
    if trace.kind in kinds.PINNED_LIFE_KINDS:
        if ttl != LIFE_CAP:
            raise InvalidTrace(
                Reason.BAD_TTL,
                f"a {trace.kind} must live exactly {LIFE_CAP} s (the life cap), not {ttl} s",
            )
    elif ttl > MAX_TTL:
        raise InvalidTrace(Reason.TTL_TOO_LONG, f"asks to live {ttl} s, the limit is {MAX_TTL} s")


def _check_tags(tags: tuple[str, ...]) -> None:
    if len(tags) > MAX_TAGS:
        raise InvalidTrace(Reason.TOO_MANY_TAGS, f"{len(tags)} tags, the limit is {MAX_TAGS}")
    for tag in tags:
        if not is_valid_tag(tag):
            raise InvalidTrace(Reason.BAD_TAG, f"tag {tag!r} is not in normal form")
    if list(tags) != sorted(set(tags)):
        raise InvalidTrace(
            Reason.NON_CANONICAL, f"tags {list(tags)!r:.200} are not sorted and unique"
        )


def _check_refs(trace: Trace) -> None:
    refs = trace.refs
    if len(refs) > MAX_REFS:
        raise InvalidTrace(Reason.TOO_MANY_REFS, f"{len(refs)} refs, the limit is {MAX_REFS}")
    for ref in refs:
        if len(ref) != ID_BYTES:
            raise InvalidTrace(Reason.BAD_SHAPE, f"a ref is {len(ref)} bytes, not 32")
    if list(refs) != sorted(set(refs)):
        at = next(i for i in range(1, len(refs)) if refs[i] <= refs[i - 1])
        raise InvalidTrace(
            Reason.NON_CANONICAL,
            f"refs are not sorted and unique: ref {at} ({refs[at].hex()[:16]}…) is not after "
            f"ref {at - 1} ({refs[at - 1].hex()[:16]}…)",
        )
    if not refs and trace.kind in kinds.REF_REQUIRED_KINDS:
        raise InvalidTrace(Reason.MISSING_REF, f"a {trace.kind} must reference a trace")


def check_signature(trace: Trace) -> None:
    if not verify(trace.author, signing_message(trace), trace.signature):
        raise InvalidTrace(Reason.BAD_SIGNATURE, "signature does not match author and content")


def signing_message(trace: Trace) -> bytes:
    """What the author signs: the context string, then the unsigned encoding."""
    return SIGNATURE_CONTEXT + unsigned_bytes(trace)


def check_times(trace: Trace, now: int, *, extended_until: int = 0) -> None:
    """The clock-dependent checks. ``now`` is passed in: this module never reads a clock."""
    if trace.created > now + MAX_FUTURE_SKEW:
        raise InvalidTrace(
            Reason.FROM_FUTURE,
            f"created {trace.created - now} s in the future (allowed skew {MAX_FUTURE_SKEW} s)",
        )
    alive_until = min(trace.created + LIFE_CAP, max(trace.expires, extended_until))
    if alive_until <= now:
        raise InvalidTrace(Reason.EXPIRED, f"expired {now - alive_until} s ago")
