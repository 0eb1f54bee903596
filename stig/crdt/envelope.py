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
    try:
        return base64.b64decode(trace.body.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise InvalidTrace(Reason.BAD_ENVELOPE, "a sealed body is not base64") from exc
