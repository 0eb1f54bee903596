"""The shape of an envelope (a ``sealed`` trace) that every node checks, member or not (pure).
See stig.crdt.sealed for what an envelope is, and docs/protocol.md §10."""

from __future__ import annotations

import base64
import binascii

from stig.crdt.bounds import DAY
from stig.crdt.trace import Trace
from stig.crypto.group import BUCKETS, SEALED_OVERHEAD, TAG_BYTES, day_of
from stig.errors import InvalidTrace, Reason

_SEALED_SIZES = frozenset(bucket + SEALED_OVERHEAD for bucket in BUCKETS)
_HEX = frozenset("0123456789abcdef")


def envelope_expiry(inner_expires: int) -> int:
    """The end of the UTC day in which the inner trace expires."""
    return (day_of(inner_expires) + 1) * DAY


def check_envelope(trace: Trace) -> None:
    """The shape every node checks on a ``sealed`` trace (raises InvalidTrace BAD_ENVELOPE)."""
    if len(trace.tags) != 1 or len(trace.tags[0]) != 2 * TAG_BYTES or set(trace.tags[0]) - _HEX:
        raise InvalidTrace(
            Reason.BAD_ENVELOPE, "a sealed trace has exactly one tag: 32 lower-case hex digits"
        )
    if trace.place or trace.refs:
        raise InvalidTrace(Reason.BAD_ENVELOPE, "a sealed trace has no place and no refs")
    if trace.expires % DAY:
        raise InvalidTrace(Reason.BAD_ENVELOPE, "a sealed trace expires at the end of a UTC day")
    size = len(payload(trace))
    if size not in _SEALED_SIZES:
        raise InvalidTrace(
            Reason.BAD_ENVELOPE,
            f"a sealed payload of {size} bytes is not one of the sizes {sorted(_SEALED_SIZES)}",
        )


def payload(trace: Trace) -> bytes:
    """The sealed payload: the body read as canonical base64 (docs/protocol.md §10.3).

    Only the one base64 form that encoding the payload gives is accepted. Decoders ignore the
    unused low bits of the last character before ``=`` (``QR==`` and ``QQ==`` are both ``A``),
    so without the re-encoding a relay could mint a second envelope, with a second id, for
    the same payload — as §3 refuses for the trace itself."""
    body = trace.body
    try:
        value = base64.b64decode(body.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise InvalidTrace(
            Reason.BAD_ENVELOPE,
            f"a sealed body is not base64 (standard, padded: {exc}): {len(body)} characters, "
            f"{body[:16]!r}{'…' if len(body) > 16 else ''}",
        ) from exc
    canonical = base64.b64encode(value).decode("ascii")
    if canonical != body:
        at = next(
            (i for i, (a, b) in enumerate(zip(body, canonical, strict=False)) if a != b),
            min(len(body), len(canonical)),
        )
        raise InvalidTrace(
            Reason.BAD_ENVELOPE,
            f"a sealed body is not canonical base64: character {at} is {body[at : at + 1]!r}, "
            f"the canonical form has {canonical[at : at + 1]!r} (one form only: the unused low "
            "bits of the last character before '=' are zero)",
        )
    return value
