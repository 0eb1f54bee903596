"""Where each field of a trace sits in its msgpack array, and how the array is packed
(docs/protocol.md §2–§3).

It knows values, not the Trace class: trace.py packs a trace with it, and codec.py decodes
and checks with it, without either importing the other the wrong way round (trace -> layout,
codec -> trace, codec -> layout). Anything that reads stored bytes by position (a store
indexing bodies for search) asks the codec, which reads them with these positions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgpack

VERSION, KIND, AUTHOR, CREATED, EXPIRES, TAGS, PLACE, REFS, BODY, NONCE, SIGNATURE = range(11)
"""The position of each field in the array (docs/protocol.md §2)."""

FIELD_COUNT = 11
"""Elements of a signed trace's array; the unsigned form (what is signed) has the first 10."""


def array(
    *,
    version: int,
    kind: str,
    author: bytes,
    created: int,
    expires: int,
    tags: Sequence[str],
    place: str,
    refs: Sequence[bytes],
    body: str,
    nonce: int,
    signature: bytes | None,
) -> list[Any]:
    """The fields in wire order: 11 elements, or the unsigned 10 if ``signature`` is None."""
    values: list[Any] = [
        version, kind, author, created, expires, list(tags), place, list(refs), body, nonce,
    ]  # fmt: skip
    if signature is not None:
        values.append(signature)
    return values


def pack(values: list[Any]) -> bytes:
    """msgpack of an array in the canonical form (minimal encodings, ``bin`` for bytes)."""
    packed = msgpack.packb(values, use_bin_type=True)
    assert isinstance(packed, bytes)
    return packed
