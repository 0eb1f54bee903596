"""Shared personas, helpers and Hypothesis strategies for the tests of the pure core.

Personas come from fixed seeds (no fixtures: Hypothesis tests must not depend on
function-scoped fixtures), and every time is an offset from ``T0`` so failures are readable.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import strategies as st

from stig.crdt import kinds
from stig.crdt.bounds import (
    DAY,
    GEOHASH_ALPHABET,
    HOUR,
    LIFE_CAP,
    MAX_NONCE,
    MAX_REFS,
    MAX_TAGS,
    MAX_TIMESTAMP,
    MAX_TTL,
    MINUTE,
)
from stig.crdt.compose import compose
from stig.crdt.mutes import mute_body
from stig.crdt.trace import Trace
from stig.crdt.validate import signing_message
from stig.crdt.views import TraceSet
from stig.crypto.persona import Persona

T0 = 1_700_000_000
"""A fixed 'now' (Nov 2023) that every test time is measured from."""

ANA = Persona("ana", bytes([1]) * 32)
BEN = Persona("ben", bytes([2]) * 32)
CY = Persona("cy", bytes([3]) * 32)
DEE = Persona("dee", bytes([4]) * 32)
PERSONAS = (ANA, BEN, CY, DEE)
BY_KEY = {p.public_key: p for p in PERSONAS}

UNKNOWN_KIND = "vote2"
"""A kind from some future version: valid, kept, relayed and shown plainly."""

SET_KINDS = (*(k for k in kinds.KNOWN_KINDS if k != kinds.SEALED), UNKNOWN_KIND)
"""Kinds free-form traces are drawn from. Sealed traces have a shape of their own (an envelope,
tests/crdt/test_crdt_sealed.py), so a free-form trace of that kind is simply invalid."""

_WEIGHTED_KINDS = (
    *SET_KINDS,
    *(kinds.ECHO, kinds.ECHO, kinds.ACTION, kinds.CONFIRM, kinds.CALLOUT, kinds.BURN),
    *(kinds.CONFIRM, kinds.DISPUTE),  # several words by one author on one trace (§6.6)
)
"""Supporting kinds (and burns) more often than the rest, so several authors back the same
trace and burns overlap."""

DANGLING_REF = bytes([0xEE]) * 32
"""The id of a trace nobody has: refs may point outside the set."""


# -- building traces by hand ---------------------------------------------------------------


def resign(trace: Trace, persona: Persona | None = None) -> Trace:
    """``trace`` with a correct signature by ``persona`` (default: its author's persona), so a
    trace compose() would refuse can still fail validation on exactly one bound."""
    signer = persona or BY_KEY[trace.author]
    return dataclasses.replace(trace, signature=signer.sign(signing_message(trace)))


def forge(persona: Persona = ANA, **fields: Any) -> Trace:
    """A correctly signed trace with any fields, valid or not: a note at T0 living 7 days unless
    ``fields`` say otherwise."""
    values: dict[str, Any] = {
        "kind": kinds.NOTE,
        "author": persona.public_key,
        "created": T0,
        "expires": T0 + 7 * DAY,
    }
    values.update(fields)
    return resign(Trace(**values), persona)


def post(
    persona: Persona,
    kind: str,
    at: int,
    *,
    ttl: int = 7 * DAY,
    refs: tuple[Trace, ...] = (),
    body: str = "",
    tags: tuple[str, ...] = (),
    place: str = "",
) -> Trace:
    """compose() with refs given as traces and the time as an offset from T0."""
    return compose(
        persona,
        kind,
        body,
        now=T0 + at,
        ttl=ttl,
        refs=[r.id for r in refs],
        tags=tags,
        place=place,
    )


def callouts_with_echoes(n: int, start: int = 0) -> list[Trace]:
    """Callouts ``start`` .. ``start + n - 1``, a minute apart, each third one echoed: supports
    make a store recompute derived columns."""
    made: list[Trace] = []
    for i in range(start, start + n):
        persona = (ANA, BEN, CY, DEE)[i % 4]
        target = post(persona, kinds.CALLOUT, i * MINUTE, body=f"callout {i}", tags=("food",))
        made.append(target)
        if i % 3 == 0:
            echoer = (BEN, CY, DEE, ANA)[i % 4]
            made.append(post(echoer, kinds.ECHO, i * MINUTE + 1, refs=(target,)))
    return made


# -- single traces -------------------------------------------------------------------------

valid_tags = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,31}", fullmatch=True)
typed_tags = st.one_of(
    valid_tags,
    st.from_regex(r"#?[A-Za-z0-9]{1,20}", fullmatch=True),
    st.sampled_from(["Ünïcode", "日本", "ΣΊΣΥΦΟΣ", "Straße", "ｆｕｌｌ", "x y"]),
)
"""What a person might type as a tag: compose() normalises it."""

places = st.text(alphabet=GEOHASH_ALPHABET, max_size=4)
ids = st.binary(min_size=32, max_size=32)
kind_names = st.one_of(
    st.sampled_from(SET_KINDS),
    st.from_regex(r"[a-z][a-z0-9_-]{0,15}", fullmatch=True).filter(lambda k: k != kinds.SEALED),
)


@st.composite
def valid_traces(draw: st.DrawFn, *, max_body: int = 300) -> Trace:
    """Any valid trace, created at some time in the format's range (validate it at ``created``)."""
    persona = draw(st.sampled_from(PERSONAS))
    kind = draw(kind_names)
    min_refs = 1 if kind in kinds.REF_REQUIRED_KINDS else 0
    refs = draw(st.lists(ids, min_size=min_refs, max_size=MAX_REFS, unique=True))
    created = draw(
        st.one_of(st.integers(T0 - 400 * DAY, T0 + 400 * DAY), st.integers(0, MAX_TIMESTAMP - 1))
    )
    life_left = MAX_TIMESTAMP - created
    ttl = draw(st.integers(1, max(1, min(MAX_TTL, life_left))))
    if kind in kinds.PINNED_LIFE_KINDS and life_left < LIFE_CAP:
        created = MAX_TIMESTAMP - LIFE_CAP
    tags = draw(st.lists(typed_tags, max_size=MAX_TAGS))
    trace = compose(
        persona,
        kind,
        draw(st.text(max_size=max_body)),
        now=created,
        ttl=ttl,
        tags=tags,
        place=draw(places),
        refs=refs,
    )
    nonce = draw(st.one_of(st.just(0), st.integers(0, MAX_NONCE)))
    if nonce:
        trace = resign(dataclasses.replace(trace, nonce=nonce), persona)
    return trace


msgpack_ints = st.integers(-(2**63), 2**64 - 1)

any_traces = st.builds(
    Trace,
    kind=st.text(max_size=20),
    author=st.binary(max_size=40),
    created=msgpack_ints,
    expires=msgpack_ints,
    tags=st.lists(st.text(max_size=12), max_size=10).map(tuple),
    place=st.text(max_size=6),
    refs=st.lists(st.binary(max_size=40), max_size=20).map(tuple),
    body=st.text(max_size=200),
    nonce=msgpack_ints,
    signature=st.binary(max_size=70),
    version=msgpack_ints,
)
"""Any Trace the codec can carry, valid or not: the codec alone must round-trip all of them."""


# -- histories: small sets of interacting traces -------------------------------------------

_STEP = 6 * HOUR
_DELTAS = (-DAY, -1, 0, 1, MINUTE, HOUR, DAY, 6 * DAY, 7 * DAY, 29 * DAY, 60 * DAY, 85 * DAY)
_TTLS = (1, HOUR, DAY, 7 * DAY, MAX_TTL)


@st.composite
def histories(draw: st.DrawFn, max_size: int = 12, personas: int = 4) -> list[Trace]:
    """0..max_size valid traces by a few fixed personas, of mixed kinds (an unknown one too),
    each referencing earlier ones, created over ~100 days around T0 with many ties, so that
    echoes, retracts, burns, expiry and the life cap all interact."""
    pool = PERSONAS[:personas]
    out: list[Trace] = []
    for _ in range(draw(st.integers(0, max_size))):
        kind = draw(st.sampled_from(_WEIGHTED_KINDS))
        refs: list[Trace] = []
        if out:
            picked = draw(
                st.lists(
                    st.integers(0, len(out) - 1),
                    min_size=1 if kind in kinds.REF_REQUIRED_KINDS else 0,
                    max_size=3,
                    unique=True,
                )
            )
            refs = [out[i] for i in picked]
        ref_ids = [r.id for r in refs]
        if kind in kinds.REF_REQUIRED_KINDS and not ref_ids:
            ref_ids = [DANGLING_REF]
        # Often about one's own trace: that is what makes retracts (and self-echoes) bite.
        about_own: bool = draw(
            st.sampled_from((True, True, False)) if kind == kinds.RETRACT else st.booleans()
        )
        persona = BY_KEY[refs[0].author] if refs and about_own else draw(st.sampled_from(pool))
        relative: bool = draw(st.booleans())
        if refs and relative:
            created = refs[0].created + draw(st.sampled_from(_DELTAS))
        elif out and draw(st.integers(0, 3)) == 0:
            created = draw(st.sampled_from(out)).created  # a tie
        else:
            created = T0 + draw(st.integers(0, 100 * DAY // _STEP)) * _STEP
        ttl = draw(st.one_of(st.sampled_from(_TTLS), st.integers(1, MAX_TTL)))
        body = f"#{len(out)}"
        if kind == kinds.MUTE:  # usually naming one of the personas (stig.crdt.mutes)
            target = draw(st.sampled_from(pool))
            body = draw(st.sampled_from((mute_body(target.public_key, body), body)))
        out.append(compose(persona, kind, body, now=created, ttl=ttl, refs=ref_ids))
    return out


def interesting_nows(traces: list[Trace]) -> list[int]:
    """Times at which something changes, and just before: where views are most fragile."""
    times = {T0 - 1, T0 + 200 * DAY}
    full = TraceSet(traces)
    for t in traces:
        times.add(t.created)
        for end in (t.expires, full.effective_expiry(t), t.created + LIFE_CAP):
            times.update((end - 1, end))
    return sorted(times)
