"""Sealed traces: an affinity group's trace inside an envelope that any node can carry (pure).

The envelope is itself a trace (so it is validated, stored, gossiped, reconciled and collected
exactly like a public one), of kind ``sealed``, shaped so that it shows only what a relay needs
(docs/protocol.md §10):

* ``author`` — a one-time key, made for this envelope and thrown away: it links nothing;
* ``created`` — when it was sealed (a relay sees it arrive then anyway);
* ``expires`` — the end of the UTC day in which the inner trace expires (coarse, rounded up),
  so relays drop it in time;
* ``tags`` — exactly one: the group's tag for that day (32 hex characters, stig.crypto.group);
* ``body`` — base64 (standard alphabet, padded) of ``nonce || SecretBox(padded inner trace)``;
* ``place`` empty, ``refs`` empty.

The inner trace is a full signed trace (by a persona, or by the group's anonymous key of that
day), validated like any other once opened. ``stig.crdt.envelope.check_envelope`` is the part of
validation every node runs; ``open_envelope`` here is what members do.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping

from stig.crdt import kinds
from stig.crdt.bounds import DAY, MAX_TTL
from stig.crdt.codec import encode
from stig.crdt.compose import compose
from stig.crdt.envelope import envelope_expiry, payload
from stig.crdt.trace import Trace
from stig.crdt.validate import validate
from stig.crypto.group import Epoch, GroupError, day_of, open_sealed, seal
from stig.crypto.persona import Persona
from stig.errors import InvalidTrace, Reason

MAX_GROUP_TTL = MAX_TTL - DAY
"""How long a group trace may live: its envelope lives to the end of its last day, and an
envelope, like every trace, lives at most MAX_TTL."""


def seal_trace(
    inner: Trace,
    epoch: Epoch,
    now: int,
    *,
    pow_bits: int = 0,
    envelope_seed: bytes | None = None,
) -> Trace:
    """The envelope of ``inner``, sealed under ``epoch`` (the day in which ``inner`` expires),
    with ``pow_bits`` of proof of work on the envelope (what relays can check).
    ``envelope_seed`` fixes the one-time key and the nonce (tests); by default both are random."""
    if inner.kind == kinds.SEALED:
        raise GroupError("a sealed trace is not sealed again")
    if day_of(inner.expires) != epoch.day:
        raise GroupError(
            f"the trace expires on day {day_of(inner.expires)}, so it is sealed under that "
            f"day's key, not day {epoch.day}'s"
        )
    expires = envelope_expiry(inner.expires)
    if expires - now > MAX_TTL:
        raise GroupError(
            f"a group trace lives at most {MAX_GROUP_TTL // DAY} days (its envelope lives to "
            "the end of its last day); give a shorter time to live"
        )
    seed = envelope_seed or os.urandom(32)
    nonce = None if envelope_seed is None else seed[:24]
    payload = seal(epoch, encode(inner), nonce)
    one_time = Persona("envelope", seed)
    body = base64.b64encode(payload).decode("ascii")
    return compose(
        one_time,
        kinds.SEALED,
        body,
        now=now,
        ttl=expires - now,
        tags=(epoch.tag_text,),
        pow_bits=pow_bits,
    )


def open_envelope(envelope: Trace, epochs: Mapping[str, Epoch], now: int) -> Trace | None:
    """The inner trace if the envelope is of one of ``epochs`` (by tag); None if it is not
    ours (quietly: a node holds many groups' envelopes). Raises InvalidTrace if it is ours but
    damaged: it does not open, the inner trace is invalid, or the days disagree."""
    if envelope.kind != kinds.SEALED or len(envelope.tags) != 1:
        return None
    epoch = epochs.get(envelope.tags[0])
    if epoch is None:
        return None
    try:
        raw = open_sealed(epoch, payload(envelope))
    except GroupError as exc:
        raise InvalidTrace(Reason.BAD_ENVELOPE, str(exc)) from exc
    inner = validate(raw, now)
    if inner.kind == kinds.SEALED:
        raise InvalidTrace(Reason.BAD_ENVELOPE, "an envelope holds a sealed trace")
    if day_of(inner.expires) != epoch.day or envelope.expires != envelope_expiry(inner.expires):
        raise InvalidTrace(
            Reason.BAD_ENVELOPE, "the envelope's day does not match its inner trace's expiry"
        )
    return inner
