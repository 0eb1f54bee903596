"""The trace: a short, signed, expiring record (DESIGN.md §2, docs/protocol.md §2)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from stig.crdt import layout
from stig.crdt.bounds import FORMAT_VERSION


@dataclass(frozen=True)
class Trace:
    """One trace, exactly as signed. Two traces are equal iff their canonical bytes are equal.

    Field order here is the wire order (docs/protocol.md §2); ``tags`` and ``refs`` are sorted and
    free of duplicates in every valid trace.
    """

    kind: str
    author: bytes
    created: int
    expires: int
    tags: tuple[str, ...] = ()
    place: str = ""
    refs: tuple[bytes, ...] = ()
    body: str = ""
    nonce: int = 0
    signature: bytes = b""
    version: int = FORMAT_VERSION

    def wire_fields(self, *, signed: bool = True) -> list[Any]:
        """The fields in wire order (stig.crdt.layout): all 11, or without the signature the
        10 that the signature covers."""
        return layout.array(
            version=self.version,
            kind=self.kind,
            author=self.author,
            created=self.created,
            expires=self.expires,
            tags=self.tags,
            place=self.place,
            refs=self.refs,
            body=self.body,
            nonce=self.nonce,
            signature=self.signature if signed else None,
        )

    @cached_property
    def encoded(self) -> bytes:
        """The canonical bytes (the one byte form of this trace)."""
        return layout.pack(self.wire_fields())

    @cached_property
    def id(self) -> bytes:
        """Content address: BLAKE2b-256 of the canonical bytes."""
        return trace_id(self.encoded)

    def knowing(self, encoded: bytes, trace_id: bytes | None = None) -> Trace:
        """This trace, told its canonical bytes (and its id) by a caller that has them already
        — a decoder that has just compared them with these fields, a store that keeps both —
        so that neither is computed again. Only a cache is filled: both are functions of the
        fields, and the caller vouches that they are this trace's. Returns the trace itself."""
        # cached_property keeps its value in the instance dict; a frozen dataclass forbids
        # only attribute assignment, so this is the one place that fills it from outside.
        self.__dict__["encoded"] = encoded
        if trace_id is not None:
            self.__dict__["id"] = trace_id
        return self

    @property
    def hex_id(self) -> str:
        return self.id.hex()

    @property
    def ttl(self) -> int:
        return self.expires - self.created


def trace_id(encoded: bytes) -> bytes:
    """BLAKE2b-256 of a trace's canonical bytes (hashlib: 4x faster than PyNaCl's)."""
    return hashlib.blake2b(encoded, digest_size=32).digest()
