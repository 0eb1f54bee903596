"""Making a new trace: normalise what the author typed, mint the proof of work, sign."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Protocol

from stig.crdt import kinds
from stig.crdt.bounds import DEFAULT_TTL, LIFE_CAP
from stig.crdt.codec import unsigned_bytes
from stig.crdt.normal_form import normalize_place, normalize_tag
from stig.crdt.trace import Trace
from stig.crdt.validate import check_fields, check_times, signing_message
from stig.crypto.pow import mint


class Signer(Protocol):
    """What composing needs of a persona: its public key and a detached Ed25519 signature."""

    @property
    def public_key(self) -> bytes: ...

    def sign(self, message: bytes) -> bytes: ...


def compose(
    signer: Signer,
    kind: str,
    body: str = "",
    *,
    now: int,
    ttl: int = DEFAULT_TTL,
    tags: Iterable[str] = (),
    place: str = "",
    refs: Iterable[bytes] = (),
    pow_bits: int = 0,
) -> Trace:
    """A new, signed, valid trace created at ``now``; raises InvalidTrace if it cannot be one.

    Retract and burn traces ignore ``ttl``: they live exactly LIFE_CAP (kinds.PINNED_LIFE_KINDS).
    """
    life = LIFE_CAP if kind in kinds.PINNED_LIFE_KINDS else ttl
    draft = Trace(
        kind=kind,
        author=signer.public_key,
        created=now,
        expires=now + life,
        tags=tuple(sorted({normalize_tag(tag) for tag in tags})),
        place=normalize_place(place),
        refs=tuple(sorted(set(refs))),
        body=body,
        signature=bytes(64),
    )
    if pow_bits:
        nonce = mint(lambda n: unsigned_bytes(replace(draft, nonce=n)), pow_bits)
        draft = replace(draft, nonce=nonce)
    check_fields(draft)
    trace = replace(draft, signature=signer.sign(signing_message(draft)))
    check_times(trace, now)
    return trace
