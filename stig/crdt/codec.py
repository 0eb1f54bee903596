"""The canonical codec: one trace, one byte form (docs/protocol.md §2–§3).

A trace is a msgpack array of 11 elements in a fixed order, with minimal integer encodings,
``str`` for text and ``bin`` for keys, ids and the signature. Decoding re-encodes what it read and
compares: any other byte form of the same values (a longer integer, a str8 where a fixstr fits,
a map, trailing bytes) is refused, so the id of a trace is the id of its meaning.
"""

from __future__ import annotations

from typing import Any

import msgpack

from stig.crdt import layout
from stig.crdt.bounds import MAX_TRACE_BYTES
from stig.crdt.layout import FIELD_COUNT
from stig.crdt.trace import Trace
from stig.crypto.persona import SIGNATURE_BYTES
from stig.errors import InvalidTrace, Reason

__all__ = [
    "FIELD_COUNT",
    "body_and_tags",
    "decode",
    "decode_trusted",
    "describe_bytes",
    "encode",
    "unsigned_bytes",
    "unsigned_fields",
]

# msgpack's own limits, set so a hostile input cannot make the unpacker allocate more than
# the trace bound allows, whatever its length prefixes claim.
_UNPACK_LIMITS: dict[str, Any] = {
    "max_str_len": MAX_TRACE_BYTES,
    "max_bin_len": MAX_TRACE_BYTES,
    # An array cannot hold more elements than the trace has bytes; the real counts are
    # checked by validate, so too many tags or refs get their own reason.
    "max_array_len": MAX_TRACE_BYTES,
    "max_map_len": 0,
    "max_ext_len": 0,
}


def unsigned_fields(trace: Trace) -> list[Any]:
    """Fields 0..9 in wire order: everything the signature and the proof of work cover."""
    return trace.wire_fields(signed=False)


_SIGNED_ARRAY = 0x90 | layout.FIELD_COUNT  # fixarray header of the 11 fields
_UNSIGNED_ARRAY = bytes([0x90 | (layout.FIELD_COUNT - 1)])  # the same, of the first 10
_SIGNATURE_HEADER = b"\xc4" + bytes([SIGNATURE_BYTES])  # bin8 of the 64-byte signature
_SIGNATURE_TAIL = len(_SIGNATURE_HEADER) + SIGNATURE_BYTES


def unsigned_bytes(trace: Trace) -> bytes:
    """The 10-element array without the signature (what is signed, after the context).

    A trace with a 64-byte signature has it last in its canonical bytes, behind a bin8 header,
    and the other ten fields before it are packed exactly as the unsigned array packs them: so
    the unsigned bytes are cut from ``trace.encoded`` (a decoded trace has them already) under
    a 10-element header, not packed a second time. Anything else is packed.
    """
    if len(trace.signature) == SIGNATURE_BYTES:
        raw = trace.encoded
        if raw[0] == _SIGNED_ARRAY and raw[-_SIGNATURE_TAIL:-SIGNATURE_BYTES] == _SIGNATURE_HEADER:
            return _UNSIGNED_ARRAY + raw[1:-_SIGNATURE_TAIL]
    return layout.pack(unsigned_fields(trace))


def encode(trace: Trace) -> bytes:
    """The canonical bytes of a trace (the 11-element array), packed from its fields (not
    taken from ``trace.encoded``, which a decoder may have filled with the bytes it read)."""
    return layout.pack(trace.wire_fields())


def decode(raw: bytes) -> Trace:
    """Parse canonical bytes into a Trace: size, msgpack, shape and canonical form only.

    Bounds and the signature are checked by ``stig.crdt.validate``; use ``validate()`` on
    anything that came from outside.
    """
    if len(raw) > MAX_TRACE_BYTES:
        raise InvalidTrace(Reason.TOO_LARGE, f"{len(raw)} bytes, the limit is {MAX_TRACE_BYTES}")
    try:
        value = msgpack.unpackb(raw, raw=False, use_list=True, **_UNPACK_LIMITS)
    except UnicodeDecodeError as exc:
        raise InvalidTrace(Reason.BAD_ENCODING, _not_utf8(exc, raw)) from exc
    except (ValueError, msgpack.UnpackException) as exc:  # ExtraData, FormatError, StackError,
        # limits exceeded, truncated input: each means "not one msgpack value within bounds"
        raise InvalidTrace(
            Reason.BAD_ENCODING, f"not one msgpack value ({_fault(exc)}): {describe_bytes(raw)}"
        ) from exc
    trace = _from_value(value)
    # ``value`` has exactly the types of a trace's fields now (_from_value), so packing it is
    # packing the trace (encode), without building the field list again.
    if layout.pack(value) != raw:
        raise InvalidTrace(
            Reason.NON_CANONICAL,
            f"decodes, but is not the one canonical byte form ({_first_difference(raw, trace)})",
        )
    # The bytes are the canonical form: keep them rather than encoding again.
    return trace.knowing(raw)


DETAIL_BYTES = 16
"""How many bytes of a refused input a reject detail shows (in hex)."""


def describe_bytes(raw: bytes) -> str:
    """What was found, for a reject detail: the length and the first DETAIL_BYTES in hex."""
    if not raw:
        return "0 bytes"
    more = "…" if len(raw) > DETAIL_BYTES else ""
    return f"{_bytes(len(raw))}, {raw[:DETAIL_BYTES].hex()}{more}"


def _bytes(n: int) -> str:
    return "1 byte" if n == 1 else f"{n} bytes"


def _fault(exc: Exception) -> str:
    """msgpack's own words, or ours where it has none (FormatError and StackError carry no
    message, and a detail must say what was wrong)."""
    if isinstance(exc, msgpack.ExtraData):
        return f"{_bytes(len(exc.extra))} after the end of the value"
    if isinstance(exc, msgpack.FormatError):
        return "a byte that is no msgpack header (c1, or a reserved one)"
    if isinstance(exc, msgpack.StackError):
        return "arrays nested deeper than the parser allows"
    return str(exc) or type(exc).__name__


def _not_utf8(exc: UnicodeDecodeError, raw: bytes) -> str:
    text = bytes(exc.object)
    bad = text[exc.start : exc.end].hex()
    return (
        f"text is not UTF-8: {exc.reason} ({bad}) at byte {exc.start} of a {len(text)}-byte "
        f"str, in {describe_bytes(raw)}"
    )


def _first_difference(raw: bytes, trace: Trace) -> str:
    canonical = encode(trace)
    at = next(
        (i for i, (a, b) in enumerate(zip(raw, canonical, strict=False)) if a != b),
        min(len(raw), len(canonical)),
    )
    return (
        f"byte {at} is {raw[at : at + 1].hex() or 'missing'}, "
        f"the canonical form has {canonical[at : at + 1].hex() or 'nothing'}"
    )


def _what(value: object) -> str:
    if isinstance(value, list):
        return f"an array of {len(value)}"
    if isinstance(value, dict):
        return f"a map of {len(value)} entries"
    if isinstance(value, msgpack.ExtType):
        return f"an extension of type {value.code} with {len(value.data)} bytes"
    return f"{type(value).__name__} {value!r:.40}"


def decode_trusted(raw: bytes, trace_id: bytes | None = None) -> Trace:
    """Decode bytes that were validated before (a store's own): unpacked into a Trace without
    the canonical re-encoding or any check, and without hashing them again if the caller has
    their id (``trace_id``). Never use it on bytes from outside; raises ValueError/TypeError if
    the bytes are not a trace at all (a damaged store)."""
    value = msgpack.unpackb(raw, raw=False)
    version, kind, author, created, expires, tags, place, refs, body, nonce, signature = value
    trace = Trace(
        kind=kind,
        author=author,
        created=created,
        expires=expires,
        tags=tuple(tags),
        place=place,
        refs=tuple(refs),
        body=body,
        nonce=nonce,
        signature=signature,
        version=version,
    )
    return trace.knowing(raw, trace_id)


def body_and_tags(raw: bytes) -> tuple[str, list[str]]:
    """The body and the tags of validated bytes (a store's own), read by position without
    building a Trace: what a store indexes for full-text search. Raises ValueError, TypeError,
    IndexError or msgpack's errors if the bytes are not a trace (a damaged store)."""
    value = msgpack.unpackb(raw, raw=False)
    return value[layout.BODY], value[layout.TAGS]


def _from_value(value: object) -> Trace:
    if not isinstance(value, list) or len(value) != FIELD_COUNT:
        raise InvalidTrace(
            Reason.BAD_SHAPE, f"not an array of {FIELD_COUNT} fields but {_what(value)}"
        )
    version, kind, author, created, expires, tags, place, refs, body, nonce, signature = value
    # Every field of the expected type (the common case, checked at once), else the checks
    # below, field by field, to say which one is not.
    if (
        type(version) is int
        and type(kind) is str
        and type(author) is bytes
        and type(created) is int
        and type(expires) is int
        and type(tags) is list
        and type(place) is str
        and type(refs) is list
        and type(body) is str
        and type(nonce) is int
        and type(signature) is bytes
        and all(type(tag) is str for tag in tags)
        and all(type(ref) is bytes for ref in refs)
    ):
        return Trace(
            kind, author, created, expires, tuple(tags), place, tuple(refs), body, nonce,
            signature, version,
        )  # fmt: skip
    return Trace(
        version=_int(version, "version"),
        kind=_str(kind, "kind"),
        author=_bin(author, "author"),
        created=_int(created, "created"),
        expires=_int(expires, "expires"),
        tags=tuple(_str(tag, "tag") for tag in _array(tags, "tags")),
        place=_str(place, "place"),
        refs=tuple(_bin(ref, "ref") for ref in _array(refs, "refs")),
        body=_str(body, "body"),
        nonce=_int(nonce, "nonce"),
        signature=_bin(signature, "signature"),
    )


# `type(x) is int` and not isinstance: msgpack's booleans are ints to isinstance.
def _int(value: object, name: str) -> int:
    if type(value) is not int:
        raise InvalidTrace(Reason.BAD_SHAPE, f"{name} is {type(value).__name__}, not an integer")
    return value


def _str(value: object, name: str) -> str:
    if type(value) is not str:
        raise InvalidTrace(Reason.BAD_SHAPE, f"{name} is {type(value).__name__}, not text")
    return value


def _bin(value: object, name: str) -> bytes:
    if type(value) is not bytes:
        raise InvalidTrace(Reason.BAD_SHAPE, f"{name} is {type(value).__name__}, not binary")
    return value


def _array(value: object, name: str) -> list[object]:
    if type(value) is not list:
        raise InvalidTrace(Reason.BAD_SHAPE, f"{name} is {type(value).__name__}, not an array")
    return value
