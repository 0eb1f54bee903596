"""The canonical codec: one trace, exactly one byte form (DESIGN.md §2 "Canonical encoding").

Non-canonical byte forms are built by hand here, byte by byte, rather than with msgpack, so the
tests do not share the codec's assumptions about what msgpack writes.
"""

from __future__ import annotations

import ast
import struct
from pathlib import Path
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stig.crdt import layout
from stig.crdt.codec import (
    FIELD_COUNT,
    body_and_tags,
    decode,
    decode_trusted,
    encode,
    unsigned_bytes,
    unsigned_fields,
)
from stig.crdt.trace import Trace, trace_id
from stig.crdt.validate import validate
from stig.errors import InvalidTrace, Reason
from tests.crdt.strategies import ANA, T0, any_traces, forge, valid_traces

# -- hand-made msgpack ---------------------------------------------------------------------

INT_FORMS = (  # (type byte, struct format, lowest, highest)
    (0xCC, ">B", 0, 2**8 - 1),
    (0xCD, ">H", 0, 2**16 - 1),
    (0xCE, ">I", 0, 2**32 - 1),
    (0xCF, ">Q", 0, 2**64 - 1),
    (0xD0, ">b", -(2**7), 2**7 - 1),
    (0xD1, ">h", -(2**15), 2**15 - 1),
    (0xD2, ">i", -(2**31), 2**31 - 1),
    (0xD3, ">q", -(2**63), 2**63 - 1),
)


def int_forms(value: int) -> set[bytes]:
    """Every msgpack encoding of an integer (the canonical one among them)."""
    forms = {
        bytes([tag]) + struct.pack(fmt, value)
        for tag, fmt, low, high in INT_FORMS
        if low <= value <= high
    }
    if 0 <= value <= 0x7F:
        forms.add(bytes([value]))  # positive fixint
    if -32 <= value < 0:
        forms.add(struct.pack(">b", value))  # negative fixint
    return forms


def str_forms(text: str) -> set[bytes]:
    data = text.encode("utf-8")
    n = len(data)
    forms = {b"\xda" + struct.pack(">H", n) + data, b"\xdb" + struct.pack(">I", n) + data}
    if n < 32:
        forms.add(bytes([0xA0 | n]) + data)  # fixstr
    if n < 256:
        forms.add(b"\xd9" + bytes([n]) + data)  # str8
    return forms


def bin_forms(data: bytes) -> set[bytes]:
    n = len(data)
    forms = {b"\xc5" + struct.pack(">H", n) + data, b"\xc6" + struct.pack(">I", n) + data}
    if n < 256:
        forms.add(b"\xc4" + bytes([n]) + data)  # bin8
    return forms


def array_headers(n: int) -> set[bytes]:
    forms = {b"\xdc" + struct.pack(">H", n), b"\xdd" + struct.pack(">I", n)}
    if n < 16:
        forms.add(bytes([0x90 | n]))  # fixarray
    return forms


def map_header(n: int) -> bytes:
    return bytes([0x80 | n]) if n < 16 else b"\xde" + struct.pack(">H", n)


def pack(value: Any) -> bytes:
    packed = msgpack.packb(value, use_bin_type=True)
    assert isinstance(packed, bytes)
    return packed


def field_values(trace: Trace) -> list[Any]:
    return [*unsigned_fields(trace), trace.signature]


def field_bytes(trace: Trace) -> list[bytes]:
    """The canonical bytes of each of the 11 fields, in wire order."""
    return [pack(value) for value in field_values(trace)]


def assemble(fields: list[bytes], header: bytes = b"\x9b") -> bytes:
    return header + b"".join(fields)


def other_forms(value: Any) -> set[bytes]:
    """Every msgpack encoding of a field value except the canonical one (arrays: a wider
    header, or one element in a wider form)."""
    if isinstance(value, int):
        forms = int_forms(value)
    elif isinstance(value, str):
        forms = str_forms(value)
    elif isinstance(value, bytes):
        forms = bin_forms(value)
    else:
        items = [pack(item) for item in value]
        forms = {header + b"".join(items) for header in array_headers(len(items))}
        for i, item in enumerate(value):
            for wider in other_forms(item):
                forms.add(array_header(len(items)) + b"".join([*items[:i], wider, *items[i + 1 :]]))
    return forms - {pack(value)}


def array_header(n: int) -> bytes:
    """The canonical (shortest) array header."""
    return bytes([0x90 | n]) if n < 16 else b"\xdc" + struct.pack(">H", n)


def reason_of(raw: bytes, now: int = T0) -> Reason:
    with pytest.raises(InvalidTrace) as caught:
        validate(raw, now)
    return caught.value.reason


# -- round trip ----------------------------------------------------------------------------


def test_hand_assembly_matches_the_codec() -> None:
    trace = forge(tags=("a", "b"), refs=(bytes(32),), place="u09t", body="hello")
    assert assemble(field_bytes(trace)) == trace.encoded == encode(trace)
    assert unsigned_bytes(trace) == b"\x9a" + b"".join(field_bytes(trace)[:10])
    assert trace.id == trace_id(trace.encoded)
    assert len(trace.id) == 32


@settings(max_examples=300, deadline=None)
@given(any_traces)
def test_any_trace_round_trips(trace: Trace) -> None:
    """The codec alone (no bounds) carries every Trace it can encode, and only one byte form."""
    raw = encode(trace)
    decoded = decode(raw)
    assert decoded == trace
    assert encode(decoded) == raw
    assert decoded.encoded == raw
    assert decoded.id == trace.id == trace_id(raw)


@settings(max_examples=150, deadline=None)
@given(valid_traces())
def test_valid_trace_round_trips_and_validates(trace: Trace) -> None:
    raw = trace.encoded
    decoded = validate(raw, trace.created)
    assert decoded == trace
    assert decoded.id == trace.id
    assert encode(decoded) == raw  # re-encoding what was decoded: byte-identical
    assert decode(encode(decode(raw))).encoded == raw


@given(any_traces)
def test_the_store_side_readers_agree_with_decode(trace: Trace) -> None:
    """decode_trusted (told the id, or not) and body_and_tags read the same fields as decode;
    body_and_tags reads them by the layout's positions, where the unpacked array has them."""
    raw = encode(trace)
    assert decode_trusted(raw) == trace
    assert decode_trusted(raw, trace.id).id == trace_id(raw)
    assert body_and_tags(raw) == (trace.body, list(trace.tags))
    unpacked = msgpack.unpackb(raw, raw=False)
    assert unpacked[layout.BODY] == trace.body and unpacked[layout.SIGNATURE] == trace.signature


def test_the_trace_module_packs_itself_without_the_codec() -> None:
    """No import cycle: trace.py packs with layout.py; the codec imports trace.py and
    layout.py, and neither of them imports the codec."""
    crdt = Path(__file__).resolve().parents[2] / "stig" / "crdt"
    for name in ("trace.py", "layout.py"):
        tree = ast.parse((crdt / name).read_text())
        imported = {
            node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
        } | {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        }
        assert not any("codec" in module for module in imported), (name, imported)


def test_equal_traces_have_equal_bytes_and_ids() -> None:
    one, two = forge(body="x"), forge(body="x")
    assert one == two
    assert one.encoded == two.encoded
    assert one.id == two.id
    assert forge(body="y").id != one.id


# -- mutations ------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(valid_traces(max_body=40), st.data())
def test_changing_any_byte_is_rejected(trace: Trace, data: st.DataObject) -> None:
    """Changing one byte of a valid trace never yields a valid trace: it is refused by
    validate(), so no two byte forms ever share a meaning (or an id)."""
    raw = bytearray(trace.encoded)
    index = data.draw(st.integers(0, len(raw) - 1), label="index")
    raw[index] ^= data.draw(st.integers(1, 255), label="xor")
    mutated = bytes(raw)
    try:
        other = validate(mutated, trace.created)
    except InvalidTrace:
        return
    # Unreachable without forging Ed25519; if it ever happens it must at least be another trace.
    assert other.encoded == mutated
    assert other.id != trace.id
    pytest.fail(f"byte {index} changed and the trace still validates")


# -- non-canonical forms of the same values ------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(valid_traces(max_body=40), st.data())
def test_every_other_form_of_a_field_is_non_canonical(trace: Trace, data: st.DataObject) -> None:
    values = field_values(trace)
    index = data.draw(st.integers(0, FIELD_COUNT - 1), label="field")
    forms = sorted(other_forms(values[index]))
    # An unsigned integer of 2**63 or more is already in msgpack's widest form (uint64, and it
    # does not fit an int64): it has no other spelling. Every other value has one.
    if not forms:
        assert isinstance(values[index], int) and values[index] >= 2**63, values[index]
        return
    wider = data.draw(st.sampled_from(forms), label="form")
    fields = field_bytes(trace)
    fields[index] = wider
    raw = assemble(fields)
    # The same values, spelled differently...
    assert msgpack.unpackb(raw, raw=False) == msgpack.unpackb(trace.encoded, raw=False)
    # ...are refused, and the signature is never even looked at.
    with pytest.raises(InvalidTrace) as caught:
        decode(raw)
    assert caught.value.reason is Reason.NON_CANONICAL
    assert reason_of(raw, trace.created) is Reason.NON_CANONICAL


@settings(max_examples=50, deadline=None)
@given(valid_traces(max_body=40), st.sampled_from(sorted(array_headers(FIELD_COUNT))))
def test_wider_outer_array_header_is_non_canonical(trace: Trace, header: bytes) -> None:
    raw = assemble(field_bytes(trace), header)
    if header == b"\x9b":
        assert validate(raw, trace.created) == trace
    else:
        assert reason_of(raw, trace.created) is Reason.NON_CANONICAL


@pytest.mark.parametrize(
    ("index", "form"),
    [
        (0, b"\xcc\x01"),  # version 1 as uint8
        (0, b"\xd3" + struct.pack(">q", 1)),  # as int64
        (3, b"\xcf" + struct.pack(">Q", T0)),  # created as uint64 (uint32 is minimal)
        (1, b"\xd9\x04note"),  # str8 where a fixstr fits
        (1, b"\xda\x00\x04note"),  # str16
        (2, b"\xc5\x00\x20" + ANA.public_key),  # bin16 where bin8 fits
        (5, b"\xdc\x00\x00"),  # empty tags as array16
        (6, b"\xd9\x00"),  # empty place as str8
        (9, b"\xcc\x00"),  # nonce 0 as uint8
    ],
)
def test_examples_of_non_canonical_forms(index: int, form: bytes) -> None:
    trace = forge()
    fields = field_bytes(trace)
    assert fields[index] != form
    fields[index] = form
    assert reason_of(assemble(fields)) is Reason.NON_CANONICAL


def test_negative_integer_in_a_wider_form_is_non_canonical() -> None:
    trace = Trace(kind="note", author=bytes(32), created=-1, expires=-1, version=-1)
    fields = field_bytes(trace)
    assert fields[0] == b"\xff"  # negative fixint
    fields[0] = b"\xd0\xff"  # int8
    with pytest.raises(InvalidTrace) as caught:
        decode(assemble(fields))
    assert caught.value.reason is Reason.NON_CANONICAL


@pytest.mark.parametrize(
    "tags", [("b", "a"), ("a", "a"), ("housing", "bikes", "j20")], ids=["unsorted", "dup", "3"]
)
def test_unsorted_or_duplicate_tags_are_non_canonical(tags: tuple[str, ...]) -> None:
    # Byte-canonical msgpack, correctly signed, but the set of tags has another spelling.
    assert reason_of(forge(tags=tags).encoded) is Reason.NON_CANONICAL


@pytest.mark.parametrize(
    "refs", [(bytes([2]) * 32, bytes([1]) * 32), (bytes(32), bytes(32))], ids=["unsorted", "dup"]
)
def test_unsorted_or_duplicate_refs_are_non_canonical(refs: tuple[bytes, ...]) -> None:
    assert reason_of(forge(kind="echo", refs=refs).encoded) is Reason.NON_CANONICAL


def test_trailing_bytes_are_bad_encoding() -> None:
    raw = forge().encoded
    for tail in (b"\x00", b"\xc0", raw):
        assert reason_of(raw + tail) is Reason.BAD_ENCODING


def test_truncated_trace_is_bad_encoding() -> None:
    raw = forge().encoded
    for cut in (1, 2, 33, len(raw) - 1):
        assert reason_of(raw[:cut]) is Reason.BAD_ENCODING


def test_map_instead_of_array_is_refused() -> None:
    trace = forge()
    fields = field_bytes(trace)
    as_map = map_header(FIELD_COUNT) + b"".join(pack(i) + field for i, field in enumerate(fields))
    # The unpacker refuses any non-empty map outright (a limit, so a hostile map allocates
    # nothing); an empty map parses but is not the array of 11 fields.
    assert reason_of(as_map) in {Reason.BAD_ENCODING, Reason.BAD_SHAPE}
    assert reason_of(b"\x80") is Reason.BAD_SHAPE
    # The same for the tags and refs fields.
    fields[5] = b"\x80"
    assert reason_of(assemble(fields)) is Reason.BAD_SHAPE
    fields[5] = b"\x81\xa1a\xa1b"
    assert reason_of(assemble(fields)) in {Reason.BAD_ENCODING, Reason.BAD_SHAPE}


@pytest.mark.parametrize("count", [0, 1, 10, 12, 15, 16])
def test_array_of_the_wrong_length_is_bad_shape(count: int) -> None:
    fields = field_bytes(forge())
    fields = (fields * 2)[:count]
    assert reason_of(assemble(fields, array_header(count))) is Reason.BAD_SHAPE


@pytest.mark.parametrize(
    ("index", "form"),
    [
        (0, b"\xc3"),  # version true: msgpack booleans are not integers here
        (0, b"\xcb" + struct.pack(">d", 1.0)),  # version 1.0
        (0, b"\xc0"),  # nil
        (1, b"\xc4\x04note"),  # kind as binary
        (2, b"\xd9\x20" + b"a" * 32),  # author as text
        (3, b"\xca" + struct.pack(">f", float(T0))),  # created as float32
        (5, b"\xa0"),  # tags as a string
        (5, b"\x91\x01"),  # a tag that is an integer
        (7, b"\x91\xa1x"),  # a ref that is text
        (8, b"\xc4\x00"),  # body as binary
        (10, b"\x90"),  # signature as an array
    ],
)
def test_field_of_the_wrong_type_is_bad_shape(index: int, form: bytes) -> None:
    fields = field_bytes(forge())
    fields[index] = form
    assert reason_of(assemble(fields)) is Reason.BAD_SHAPE


def test_invalid_utf8_is_bad_encoding() -> None:
    fields = field_bytes(forge())
    fields[8] = b"\xa2\xc3\x28"  # body: a broken two-byte sequence
    assert reason_of(assemble(fields)) is Reason.BAD_ENCODING
    fields = field_bytes(forge())
    fields[1] = b"\xa3\xed\xa0\x80"  # kind: an encoded surrogate (CESU), not UTF-8
    assert reason_of(assemble(fields)) is Reason.BAD_ENCODING


@pytest.mark.parametrize("raw", [b"", b"\xc1", b"\xd4\x05\x00", b"\xc7\x00\x05"])
def test_not_a_trace_at_all(raw: bytes) -> None:
    # Empty, a reserved byte, an ext type (fixext, and a zero-length ext8)
    assert reason_of(raw) in {Reason.BAD_ENCODING, Reason.BAD_SHAPE}


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b"", "(Unpack failed: incomplete input): 0 bytes"),
        (b"\xc1", "(a byte that is no msgpack header (c1, or a reserved one)): 1 byte, c1"),
        (b"\x91" * 1100, "(arrays nested deeper than the parser allows): 1100 bytes, 9191"),
        (b"\x00\x00\x00", "(2 bytes after the end of the value): 3 bytes, 000000"),
        (b"\x81\x00\x00", "(1 exceeds max_map_len(0)): 3 bytes, 810000"),
        (b"\xa2\xff\xfe", "invalid start byte (ff) at byte 0 of a 2-byte str, in 3 bytes, a2fffe"),
        (b"\x80", "not an array of 11 fields but a map of 0 entries"),
        (b"\xc7\x00\x05", "not an array of 11 fields but an extension of type 5 with 0 bytes"),
        (b"\x9a" + b"\x00" * 10, "not an array of 11 fields but an array of 10"),
        (b"\xc0", "not an array of 11 fields but NoneType None"),
    ],
)
def test_a_decoding_detail_says_what_was_found(raw: bytes, says: str) -> None:
    """A reject's detail is never empty after its colon: msgpack's FormatError and StackError
    carry no message, so the detail names the fault and shows the length and first bytes."""
    with pytest.raises(InvalidTrace) as caught:
        decode(raw)
    assert says in caught.value.detail
    assert not caught.value.detail.endswith(": ")


def test_a_non_canonical_detail_names_the_first_differing_byte() -> None:
    raw = encode(forge())
    at = raw.index(b"\xce" + T0.to_bytes(4, "big"))  # created, a uint32
    longer = raw[:at] + b"\xcf\x00\x00\x00\x00" + raw[at + 1 :]
    with pytest.raises(InvalidTrace) as caught:
        decode(longer)
    assert caught.value.detail.endswith(f"(byte {at} is cf, the canonical form has ce)")
