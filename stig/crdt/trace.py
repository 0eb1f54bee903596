"""The trace: a short, signed, expiring record (DESIGN.md §2, docs/protocol.md §2)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property

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

    @cached_property
    def encoded(self) -> bytes:
        """The canonical bytes (the one byte form of this trace)."""
        # Imported here because the codec needs this class; the cycle is only at import time.
        from stig.crdt.codec import encode  # noqa: PLC0415

        return encode(self)

    @cached_property
    def id(self) -> bytes:
        """Content address: BLAKE2b-256 of the canonical bytes."""
        return trace_id(self.encoded)

    @property
    def hex_id(self) -> str:
        return self.id.hex()

    @property
    def ttl(self) -> int:
        return self.expires - self.created


def trace_id(encoded: bytes) -> bytes:
    """BLAKE2b-256 of a trace's canonical bytes (hashlib: 4x faster than PyNaCl's)."""
    return hashlib.blake2b(encoded, digest_size=32).digest()
