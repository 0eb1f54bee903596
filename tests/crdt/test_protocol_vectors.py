"""docs/protocol.md and the code can never drift: the test vectors of §9 are parsed out of the
document and checked against the implementation, and every constant of the §4.1 tables, every
reason string and every kind role is checked against the modules that define them.

The vectors are stored twice: in the document (fenced ``stig-vector`` blocks, for people) and in
tests/crdt/vectors.json (for programs). Both must equal what ``build_vectors()`` computes from the
fixed seeds and times below. After a *deliberate* protocol change, regenerate both with::

    python tests/crdt/test_protocol_vectors.py            # prints the §9 blocks, writes the JSON

and paste the printed blocks over the old ones in §9.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import importlib
import io
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st
from nacl.signing import SigningKey, VerifyKey

from stig.crdt import bounds, bundle, kinds
from stig.crdt.codec import decode, encode, unsigned_bytes, unsigned_fields
from stig.crdt.compose import compose
from stig.crdt.mutes import followed_mutes, mute_body, mute_target
from stig.crdt.sealed import seal_trace
from stig.crdt.trace import Trace
from stig.crdt.validate import signing_message, validate
from stig.crdt.views import Mutes, TraceSet
from stig.crypto.group import Epoch, day_of
from stig.crypto.persona import Persona
from stig.crypto.pow import POW_CONTEXT, work_bits
from stig.errors import InvalidBundle, InvalidTrace, Reason

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "protocol.md"
JSON_FILE = Path(__file__).resolve().with_name("vectors.json")

# The fixed inputs of every vector (docs/protocol.md §9).
SEED_A = bytes(range(32))
SEED_B = bytes([0xA5]) * 32
GROUP_CHAIN = bytes(range(32))
"""The chain key of the day the call-out expires, for the envelope vector (§10)."""
ENVELOPE_SEED = bytes([0x5E]) * 32
"""The envelope's one-time key seed; its first 24 bytes are the nonce."""
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
T0 = 1_790_000_000
DAY = bounds.DAY
HOUR = bounds.HOUR

Vector = dict[str, Any]


# -- an encoder written from docs/protocol.md §3 alone, independent of the msgpack library ------


class RawStr(bytes):
    """Bytes to be written with a msgpack *str* header (to build invalid UTF-8 on purpose)."""


def spec_pack(value: object) -> bytes:
    """The canonical msgpack encoding of §3: smallest header for every int, str, bin, array."""
    if isinstance(value, bool) or value is None:
        raise TypeError("no nil or boolean in a trace")
    if isinstance(value, int):
        return _spec_int(value)
    if isinstance(value, RawStr | str):
        data = bytes(value) if isinstance(value, RawStr) else value.encode("utf-8")
        return _spec_head(len(data), fix=(0xA0, 32), heads=(0xD9, 0xDA, 0xDB)) + data
    if isinstance(value, bytes):
        return _spec_head(len(value), fix=None, heads=(0xC4, 0xC5, 0xC6)) + value
    if isinstance(value, list | tuple):
        head = _spec_head(len(value), fix=(0x90, 16), heads=(None, 0xDC, 0xDD))
        return head + b"".join(spec_pack(item) for item in value)
    raise TypeError(f"no {type(value).__name__} in a trace")


def _spec_int(value: int) -> bytes:
    if 0 <= value < 0x80:
        return bytes([value])  # positive fixint
    if -32 <= value < 0:
        return (value & 0xFF).to_bytes(1, "big")  # negative fixint
    heads = (0xCC, 0xCD, 0xCE, 0xCF) if value >= 0 else (0xD0, 0xD1, 0xD2, 0xD3)
    for head, size in zip(heads, (1, 2, 4, 8), strict=True):
        lo, hi = (0, 1 << (8 * size)) if value >= 0 else (-(1 << (8 * size - 1)), 0)
        if lo <= value < hi:
            return bytes([head]) + value.to_bytes(size, "big", signed=value < 0)
    raise OverflowError(value)


def _spec_head(n: int, *, fix: tuple[int, int] | None, heads: tuple[int | None, ...]) -> bytes:
    if fix is not None and n < fix[1]:
        return bytes([fix[0] | n])
    for head, size in zip(heads, (1, 2, 4), strict=True):
        if head is not None and n < 1 << (8 * size):
            return bytes([head]) + n.to_bytes(size, "big")
    raise OverflowError(n)


# -- building the vectors from the fixed seeds (the single source of the §9 blocks) ------------


def _sign(persona: Persona, trace: Trace) -> Trace:
    """Sign any trace, valid or not: invalid vectors must fail for their reason, not the
    signature."""
    return replace(trace, signature=persona.sign(signing_message(trace)))


def _trace_vector(name: str, trace: Trace, author: str, valid_at: int, **extra: Any) -> Vector:
    vector: Vector = {
        "name": name,
        "type": "trace",
        "author": author,
        "version": trace.version,
        "kind": trace.kind,
        "created": trace.created,
        "expires": trace.expires,
        "tags": list(trace.tags),
        "place": trace.place,
        "refs": [ref.hex() for ref in trace.refs],
        "body": trace.body,
        "nonce": trace.nonce,
    }
    vector.update(extra)
    vector["valid_at"] = valid_at
    vector["unsigned_hex"] = unsigned_bytes(trace).hex()
    if name == "callout":
        vector["signing_message_hex"] = signing_message(trace).hex()
    vector["signature_hex"] = trace.signature.hex()
    vector["trace_hex"] = trace.encoded.hex()
    vector["id_hex"] = trace.id.hex()
    return vector


def _invalid(name: str, how: str, raw: bytes, now: int, reason: Reason) -> Vector:
    return {
        "name": name,
        "type": "invalid",
        "how": how,
        "now": now,
        "reason": reason.value,
        "trace_hex": raw.hex(),
    }


def _envelope(callout: Trace) -> Trace:
    """The call-out sealed for the group whose chain key on its last day is GROUP_CHAIN."""
    epoch = Epoch.of(GROUP_CHAIN, day_of(callout.expires))
    return seal_trace(callout, epoch, callout.created, envelope_seed=ENVELOPE_SEED)


def _padding_bits_set(envelope: Trace) -> Trace:
    """The envelope with the unused low bits of its last base64 character before '=' not zero
    (the same payload, another body), signed again by its one-time key."""
    body = envelope.body
    assert body.endswith("=") and not body.endswith("==")  # 296 bytes: 2 bits unused
    last = B64.index(body[-2])
    assert last & 0b11 == 0
    wrong = body[:-2] + B64[last | 0b01] + "="
    return _sign(Persona("envelope", ENVELOPE_SEED), replace(envelope, body=wrong))


def live_digest(traces: list[Trace], now: int) -> tuple[int, bytes]:
    """§8.7 from the document: H of the sorted ids of the live items of §8.4 — effective
    expiry after now, and not hidden unless of a pinned-life kind (whose bytes are kept)."""
    state = TraceSet(traces)
    ids = sorted(
        t.id
        for t in traces
        if state.effective_expiry(t) > now
        and (not state.is_hidden(t) or t.kind in kinds.PINNED_LIFE_KINDS)
    )
    return len(ids), hashlib.blake2b(b"".join(ids), digest_size=32).digest()


def _bundle_bytes(records: list[bytes]) -> bytes:
    out = io.BytesIO()
    bundle.write_header(out)
    for raw in records:
        bundle.write_record(out, raw)
    return out.getvalue()


def build_vectors() -> list[Vector]:
    """Every vector of §9, computed from the seeds, times and texts fixed here."""
    a = Persona("a", SEED_A)
    b = Persona("b", SEED_B)
    callout = compose(
        a,
        "callout",
        "Eviction at 12 rue des Lilas, Thursday 07:00 — come early.",
        now=T0,
        ttl=7 * DAY,
        tags=["Housing", "#J20"],
        place="u09t",
    )
    echo = compose(b, "echo", now=T0 + DAY, ttl=7 * DAY, refs=[callout.id])
    retract = compose(a, "retract", "moved to Friday", now=T0 + 2 * DAY, refs=[callout.id])
    pow_note = compose(
        a, "note", "paid for with work", now=T0 + 3 * DAY, ttl=DAY, tags=["j20"], pow_bits=8
    )
    burn = compose(b, "burn", now=T0 + 36 * HOUR)
    # B's word on the call-out: a confirm with the echo, then a dispute an hour later (§6.6).
    confirm = compose(b, "confirm", now=T0 + DAY, ttl=7 * DAY, refs=[callout.id])
    dispute = compose(b, "dispute", "the date is wrong", now=T0 + DAY + HOUR, refs=[callout.id])
    traces = {
        "callout": callout, "echo": echo, "retract": retract, "pow": pow_note, "burn": burn,
        "confirm": confirm, "dispute": dispute,
    }  # fmt: skip

    vectors: list[Vector] = [
        {
            "name": "persona-a",
            "type": "persona",
            "seed_hex": SEED_A.hex(),
            "public_key_hex": a.public_key.hex(),
        },
        {
            "name": "persona-b",
            "type": "persona",
            "seed_hex": SEED_B.hex(),
            "public_key_hex": b.public_key.hex(),
        },
        _trace_vector("callout", callout, "persona-a", T0),
        _trace_vector("echo", echo, "persona-b", T0 + DAY),
        _trace_vector("retract", retract, "persona-a", T0 + 2 * DAY),
        _trace_vector("burn", burn, "persona-b", T0 + 36 * HOUR),
        _trace_vector(
            "pow",
            pow_note,
            "persona-a",
            T0 + 3 * DAY,
            pow_bits=8,
            pow_hash_hex=hashlib.blake2b(
                POW_CONTEXT + unsigned_bytes(pow_note), digest_size=32
            ).hexdigest(),
            work_bits=work_bits(unsigned_bytes(pow_note)),
        ),
        _trace_vector("confirm", confirm, "persona-b", T0 + DAY),
        _trace_vector("dispute", dispute, "persona-b", T0 + DAY + HOUR),
    ]

    # Clock-dependent checks of the callout (created T0, expires T0 + 7 days; the echo by B
    # expires T0 + 8 days): [now, extended_until, "ok" or the reason].
    skew, life = bounds.MAX_FUTURE_SKEW, bounds.LIFE_CAP
    vectors.append(
        {
            "name": "callout-times",
            "type": "times",
            "trace": "callout",
            "cases": [
                [T0 - skew, 0, "ok"],
                [T0 - skew - 1, 0, Reason.FROM_FUTURE.value],
                [T0 + 7 * DAY - 1, 0, "ok"],
                [T0 + 7 * DAY, 0, Reason.EXPIRED.value],
                [T0 + 7 * DAY, echo.expires, "ok"],
                [T0 + 8 * DAY, echo.expires, Reason.EXPIRED.value],
                [T0 + life - 1, T0 + life + DAY, "ok"],
                [T0 + life, T0 + life + DAY, Reason.EXPIRED.value],
            ],
        }
    )

    raw = callout.encoded
    longer = b"\xcf" + T0.to_bytes(8, "big")
    assert raw.count(b"\xce" + T0.to_bytes(4, "big")) == 1
    fields = unsigned_fields(callout)
    bad_utf8 = [*fields[:8], RawStr(b"caf\xe9"), *fields[9:], callout.signature]
    author_as_text = [*fields[:2], callout.author.hex(), *fields[3:], callout.signature]
    vectors += [
        _invalid(
            "created-not-minimal",
            "the callout with created written as uint64 (cf) instead of uint32 (ce); "
            "the signature is still valid, over the canonical unsigned form",
            raw.replace(b"\xce" + T0.to_bytes(4, "big"), longer),
            T0,
            Reason.NON_CANONICAL,
        ),
        _invalid(
            "tags-unsorted",
            'the callout with tags ["j20", "housing"], signed again',
            _sign(a, replace(callout, tags=("j20", "housing"))).encoded,
            T0,
            Reason.NON_CANONICAL,
        ),
        _invalid(
            "refs-duplicate",
            "the echo with its one ref written twice, signed again",
            _sign(b, replace(echo, refs=(callout.id, callout.id))).encoded,
            T0 + DAY,
            Reason.NON_CANONICAL,
        ),
        _invalid(
            "signature-flipped",
            "the callout with the lowest bit of the last signature byte flipped",
            raw[:-1] + bytes([raw[-1] ^ 0x01]),
            T0,
            Reason.BAD_SIGNATURE,
        ),
        _invalid(
            "body-edited",
            "the callout with body changed to 'Eviction cancelled.', old signature kept",
            replace(callout, body="Eviction cancelled.").encoded,
            T0,
            Reason.BAD_SIGNATURE,
        ),
        _invalid(
            "trailing-byte",
            "the callout followed by one 00 byte",
            raw + b"\x00",
            T0,
            Reason.BAD_ENCODING,
        ),
        _invalid(
            "body-not-utf8",
            "the callout with body the str 63 61 66 e9 (Latin-1 'café')",
            spec_pack(bad_utf8),
            T0,
            Reason.BAD_ENCODING,
        ),
        _invalid(
            "ten-fields",
            "the unsigned 10-element array of the callout, alone",
            unsigned_bytes(callout),
            T0,
            Reason.BAD_SHAPE,
        ),
        _invalid(
            "author-as-text",
            "the callout with the author as a 64-character hex str instead of 32 bytes of bin",
            spec_pack(author_as_text),
            T0,
            Reason.BAD_SHAPE,
        ),
        _invalid(
            "version-2",
            "the callout with version 2, signed again",
            _sign(a, replace(callout, version=2)).encoded,
            T0,
            Reason.UNSUPPORTED_VERSION,
        ),
        _invalid(
            "kind-upper-case",
            "the callout with kind 'Callout', signed again",
            _sign(a, replace(callout, kind="Callout")).encoded,
            T0,
            Reason.BAD_KIND,
        ),
        _invalid(
            "ttl-31-days",
            "the callout with expires = created + 31 days, signed again",
            _sign(a, replace(callout, expires=T0 + 31 * DAY)).encoded,
            T0,
            Reason.TTL_TOO_LONG,
        ),
        _invalid(
            "expires-equals-created",
            "the callout with expires = created, signed again",
            _sign(a, replace(callout, expires=T0)).encoded,
            T0,
            Reason.BAD_TIMES,
        ),
        _invalid(
            "retract-short-life",
            "the retract with expires = created + 7 days, signed again",
            _sign(a, replace(retract, expires=retract.created + 7 * DAY)).encoded,
            retract.created,
            Reason.BAD_TTL,
        ),
        _invalid(
            "tag-not-normal",
            'the callout with tags ["Housing", "j20"], signed again',
            _sign(a, replace(callout, tags=("Housing", "j20"))).encoded,
            T0,
            Reason.BAD_TAG,
        ),
        _invalid(
            "nine-tags",
            'the callout with tags ["a", "b", ..., "i"], signed again',
            _sign(a, replace(callout, tags=tuple("abcdefghi"))).encoded,
            T0,
            Reason.TOO_MANY_TAGS,
        ),
        _invalid(
            "place-too-fine",
            "the callout with place 'u09tv' (5 characters), signed again",
            _sign(a, replace(callout, place="u09tv")).encoded,
            T0,
            Reason.BAD_PLACE,
        ),
        _invalid(
            "echo-without-ref",
            "the echo with no refs, signed again",
            _sign(b, replace(echo, refs=())).encoded,
            T0 + DAY,
            Reason.MISSING_REF,
        ),
        _invalid(
            "envelope-base64-padding-bits",
            "the callout sealed (§10: chain key 000102…1f on the day it expires, one-time key "
            "seed and nonce from 32 bytes of 5e) with the unused low bits of the last base64 "
            "character before '=' set (A -> B: the same payload), signed again",
            _padding_bits_set(_envelope(callout)).encoded,
            T0,
            Reason.BAD_ENVELOPE,
        ),
    ]

    truncated_echo = len(echo.encoded).to_bytes(4, "big") + echo.encoded[:10]
    vectors += [
        {
            "name": "bundle",
            "type": "bundle",
            "records": [{"trace": "callout"}, {"trace": "echo"}],
            "bundle_hex": _bundle_bytes([callout.encoded, echo.encoded]).hex(),
        },
        {
            "name": "bundle-truncated",
            "type": "bundle",
            "records": [{"trace": "callout"}, {"error": Reason.TRUNCATED.value}],
            "bundle_hex": (_bundle_bytes([callout.encoded]) + truncated_echo).hex(),
        },
        {
            "name": "bundle-too-small",
            "type": "bundle",
            "records": [
                {"trace": "callout"},
                {"error": Reason.TOO_SMALL.value, "count": 2},
                {"trace": "echo"},
            ],
            "bundle_hex": _bundle_bytes([callout.encoded, b"", b"\xc0", echo.encoded]).hex(),
        },
    ]

    def view(name: str, members: list[str], now: int, target: str) -> Vector:
        state = TraceSet(traces[member] for member in members)
        trace = traces[target]
        counts = state.counts(trace, now)
        kept = state.collect(now).ids()
        return {
            "name": name,
            "type": "view",
            "set": members,
            "now": now,
            "target": target,
            "hidden": state.is_hidden(trace),
            "effective_expiry": state.effective_expiry(trace),
            "visible": state.is_visible(trace, now),
            "support_times": state.support_times(trace, now),
            "intensity": state.intensity(trace, now),
            "counts": {
                "answers": counts.answers,
                "echoes": counts.echoes,
                "confirms": counts.confirms,
                "disputes": counts.disputes,
            },
            "kept_by_collect": [m for m in members if traces[m].id in kept],
        }

    vectors += [
        view("view-echoed", ["callout", "echo"], T0 + 2 * DAY, "callout"),
        view("view-echoed-late", ["callout", "echo"], T0 + 7 * DAY, "callout"),
        view("view-retracted", ["callout", "echo", "retract"], T0 + 2 * DAY, "callout"),
        view("view-burned-echo", ["callout", "echo", "burn"], T0 + 2 * DAY, "callout"),
        view("view-burn-hides-itself", ["burn"], T0 + 36 * HOUR, "burn"),
        view("view-collected", ["callout", "echo", "retract", "burn", "pow"], T0 + 8 * DAY, "echo"),
        view(
            "view-latest-word",
            ["callout", "echo", "confirm", "dispute"],
            T0 + 2 * DAY,
            "callout",
        ),
    ]

    def digest(name: str, members: list[str], now: int) -> Vector:
        count, value = live_digest([traces[member] for member in members], now)
        return {
            "name": name,
            "type": "digest",
            "set": members,
            "now": now,
            "count": count,
            "digest_hex": value.hex(),
        }

    vectors += [
        digest("digest-empty", [], T0),
        digest("digest", ["callout", "echo", "retract", "burn"], T0 + 2 * DAY),
    ]

    # §4.3 and §6.8: A publishes a mute of B, naming B's echo as why. A node that follows A's
    # mutes hides B: the callout is shown without B's support (its life is unchanged).
    mute = compose(
        a,
        "mute",
        mute_body(b.public_key, "threats, see refs"),
        now=T0 + DAY + HOUR,
        ttl=7 * DAY,
        refs=[echo.id],
    )
    traces["mute"] = mute
    vectors.append(
        _trace_vector("mute", mute, "persona-a", T0 + DAY + HOUR, target_hex=b.public_key.hex())
    )

    def muted_view(name: str, members: list[str], now: int, follows: list[str]) -> Vector:
        state = TraceSet(traces[member] for member in members)
        keys = {"persona-a": a.public_key, "persona-b": b.public_key}
        muted = followed_mutes(state, {keys[f] for f in follows}, now)
        shown = state.feed(now, mutes=Mutes(authors=muted))
        return {
            "name": name,
            "type": "mutes",
            "set": members,
            "now": now,
            "follows": follows,
            "muted": sorted(k.hex() for k in muted),
            "feed": [
                {
                    "id_hex": item.trace.id.hex(),
                    "intensity": item.intensity,
                    "effective_expiry": item.effective_expiry,
                    "echoes": item.counts.echoes,
                }
                for item in shown
            ],
        }

    vectors += [
        muted_view("mutes-followed", ["callout", "echo", "mute"], T0 + 2 * DAY, ["persona-a"]),
        muted_view("mutes-not-followed", ["callout", "echo", "mute"], T0 + 2 * DAY, []),
        muted_view("mutes-faded", ["callout", "echo", "mute"], T0 + 8 * DAY + HOUR, ["persona-a"]),
    ]
    return vectors


# -- the §9 block format: ```stig-vector fences of "key: value" lines -------------------------
#
# A key ending in _hex has a bare hex value, wrapped over indented continuation lines; every
# other value is JSON on one line.

_FENCE = re.compile(r"^```stig-vector\n(.*?)^```$", re.MULTILINE | re.DOTALL)
_HEX_WIDTH = 64


def render_block(vector: Vector) -> str:
    lines = ["```stig-vector"]
    for key, value in vector.items():
        if key.endswith("_hex"):
            chunks = [value[i : i + _HEX_WIDTH] for i in range(0, len(value), _HEX_WIDTH)] or [""]
            lines.append(f"{key}: {chunks[0]}")
            lines += [f"  {chunk}" for chunk in chunks[1:]]
        else:
            lines.append(f"{key}: {json.dumps(value, ensure_ascii=False)}")
    lines.append("```")
    return "\n".join(lines)


def parse_blocks(text: str) -> list[Vector]:
    vectors = []
    for match in _FENCE.finditer(text):
        vector: Vector = {}
        key = ""
        for line in match.group(1).splitlines():
            if line.startswith("  "):
                assert key.endswith("_hex"), f"continuation of {key!r}: {line!r}"
                vector[key] += line.strip()
                continue
            key, _, value = line.partition(": ")
            assert key and key not in vector, f"bad or repeated key in {line!r}"
            vector[key] = value.strip() if key.endswith("_hex") else json.loads(value)
        vectors.append(vector)
    return vectors


def _doc() -> str:
    return DOC.read_text(encoding="utf-8")


DOC_VECTORS = parse_blocks(_doc()) if DOC.exists() else []
BY_NAME = {vector["name"]: vector for vector in DOC_VECTORS}


def _of_type(kind: str) -> list[str]:
    return [vector["name"] for vector in DOC_VECTORS if vector["type"] == kind]


def _raw(name: str) -> bytes:
    return bytes.fromhex(BY_NAME[name]["trace_hex"])


def _persona(name: str) -> Persona:
    return Persona(name, bytes.fromhex(BY_NAME[name]["seed_hex"]))


# -- the document and the JSON hold exactly what the code computes -----------------------------


def test_document_holds_the_vectors_the_code_computes() -> None:
    expected = build_vectors()
    assert [v["name"] for v in DOC_VECTORS] == [v["name"] for v in expected]
    for found, wanted in zip(DOC_VECTORS, expected, strict=True):
        assert found == wanted, f"§9 vector {wanted['name']!r} is out of date"


def test_json_file_holds_the_document_vectors() -> None:
    assert json.loads(JSON_FILE.read_text(encoding="utf-8")) == DOC_VECTORS


def test_every_vector_type_is_covered() -> None:
    types = {vector["type"] for vector in DOC_VECTORS}
    assert types == {
        "persona", "trace", "times", "invalid", "bundle", "view", "digest", "mutes"
    }  # fmt: skip


# -- personas and valid traces -----------------------------------------------------------------


@pytest.mark.parametrize("name", _of_type("persona"))
def test_persona_public_key(name: str) -> None:
    vector = BY_NAME[name]
    seed = bytes.fromhex(vector["seed_hex"])
    public_key = bytes.fromhex(vector["public_key_hex"])
    assert SigningKey(seed).verify_key.encode() == public_key
    assert Persona(name, seed).public_key == public_key


@pytest.mark.parametrize("name", _of_type("trace"))
def test_valid_trace(name: str) -> None:
    vector = BY_NAME[name]
    raw = _raw(name)
    unsigned = bytes.fromhex(vector["unsigned_hex"])
    signature = bytes.fromhex(vector["signature_hex"])
    author = _persona(vector["author"])

    trace = validate(raw, vector["valid_at"])
    expected = Trace(
        version=vector["version"],
        kind=vector["kind"],
        author=author.public_key,
        created=vector["created"],
        expires=vector["expires"],
        tags=tuple(vector["tags"]),
        place=vector["place"],
        refs=tuple(bytes.fromhex(ref) for ref in vector["refs"]),
        body=vector["body"],
        nonce=vector["nonce"],
        signature=signature,
    )
    assert trace == expected
    assert decode(raw) == expected
    assert encode(expected) == raw
    assert unsigned_bytes(expected) == unsigned
    # §3 from the document alone reproduces the bytes, without the msgpack library.
    assert spec_pack([*unsigned_fields(expected), signature]) == raw
    assert spec_pack(unsigned_fields(expected)) == unsigned
    # §2: the full encoding is the unsigned one with 9a -> 9b and the signature as bin8 appended.
    assert unsigned[0] == 0x9A
    assert raw == b"\x9b" + unsigned[1:] + b"\xc4\x40" + signature
    # §5: the signature and the id, checked with the libraries directly.
    message = bounds.SIGNATURE_CONTEXT + unsigned
    if "signing_message_hex" in vector:
        assert bytes.fromhex(vector["signing_message_hex"]) == message
    assert signing_message(trace) == message
    VerifyKey(author.public_key).verify(message, signature)
    assert SigningKey(author.seed).sign(message).signature == signature
    digest = hashlib.blake2b(raw, digest_size=32).digest()
    assert digest.hex() == vector["id_hex"]
    assert trace.id == digest


def test_pow_vector() -> None:
    vector = BY_NAME["pow"]
    unsigned = bytes.fromhex(vector["unsigned_hex"])
    digest = hashlib.blake2b(b"stig/pow/v1" + unsigned, digest_size=32).digest()
    assert digest.hex() == vector["pow_hash_hex"]
    leading_zeros = 256 - int.from_bytes(digest, "big").bit_length()
    assert leading_zeros == vector["work_bits"] == work_bits(unsigned)
    assert leading_zeros >= vector["pow_bits"]
    # The nonce is field 9, and it is the smallest nonce that reaches pow_bits.
    trace = decode(_raw("pow"))
    assert trace.nonce == vector["nonce"] > 0
    for nonce in range(vector["nonce"]):
        assert work_bits(unsigned_bytes(replace(trace, nonce=nonce))) < vector["pow_bits"]


@pytest.mark.parametrize("name", _of_type("times"))
def test_clock_dependent_checks(name: str) -> None:
    vector = BY_NAME[name]
    raw = _raw(vector["trace"])
    for now, extended_until, outcome in vector["cases"]:
        if outcome == "ok":
            validate(raw, now, extended_until=extended_until)
        else:
            with pytest.raises(InvalidTrace) as caught:
                validate(raw, now, extended_until=extended_until)
            assert caught.value.reason == outcome, (now, extended_until)


# -- invalid byte strings ----------------------------------------------------------------------


@pytest.mark.parametrize("name", _of_type("invalid"))
def test_invalid_vector(name: str) -> None:
    vector = BY_NAME[name]
    with pytest.raises(InvalidTrace) as caught:
        validate(_raw(name), vector["now"])
    assert caught.value.reason == Reason(vector["reason"])


def test_envelope_padding_bits_are_the_only_difference() -> None:
    """§10.3: the vector's body decodes to the very payload of the canonical envelope, and its
    signature holds, so only the canonical-base64 check refuses it."""
    wrong = decode(_raw("envelope-base64-padding-bits"))
    envelope = _envelope(decode(_raw("callout")))
    validate(envelope.encoded, T0)
    assert base64.b64decode(wrong.body, validate=True) == base64.b64decode(envelope.body)
    assert [
        i for i, (x, y) in enumerate(zip(wrong.body, envelope.body, strict=True)) if x != y
    ] == [len(envelope.body) - 2]
    assert replace(wrong, body=envelope.body, signature=b"") == replace(envelope, signature=b"")
    with pytest.raises(InvalidTrace) as caught:
        validate(wrong.encoded, T0)
    assert "not canonical base64" in caught.value.detail


def test_non_canonical_int_would_have_a_valid_signature() -> None:
    """The point of §3: the longer form carries the very same signed content, so only the
    canonical check stops a second id for one trace."""
    raw = _raw("created-not-minimal")
    callout = decode(_raw("callout"))
    assert hashlib.blake2b(raw, digest_size=32).digest() != callout.id
    assert len(raw) == len(callout.encoded) + 4


# -- bundles -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", _of_type("bundle"))
def test_bundle_vector(name: str) -> None:
    vector = BY_NAME[name]
    data = bytes.fromhex(vector["bundle_hex"])
    assert data[:9] == b"STIGBNDL\x01"
    records = list(bundle.read_records(io.BytesIO(data)))
    assert len(records) == len(vector["records"])
    offset = 9
    for record, wanted in zip(records, vector["records"], strict=True):
        assert record.offset == offset
        if "trace" in wanted:
            assert record.error is None
            assert record.raw == _raw(wanted["trace"])
            validate(record.raw, BY_NAME[wanted["trace"]]["valid_at"])
        else:
            assert record.error is not None
            assert record.error.reason == Reason(wanted["error"])
            assert record.count == wanted.get("count", 1)
        offset += record.size
    if all("trace" in wanted for wanted in vector["records"]):
        assert _bundle_bytes([_raw(w["trace"]) for w in vector["records"]]) == data


def test_bundle_oversize_record_is_skipped_and_reading_goes_on() -> None:
    """§7: a record longer than MAX_TRACE_BYTES is skipped unread; the next one is read."""
    callout = _raw("callout")
    oversize = bounds.MAX_TRACE_BYTES + 1
    data = _bundle_bytes([bytes(oversize), callout])
    records = list(bundle.read_records(io.BytesIO(data)))
    assert [r.error.reason if r.error else None for r in records] == [Reason.TOO_LARGE, None]
    assert records[1].raw == callout
    assert records[1].offset == 9 + 4 + oversize
    # Claiming more than the file holds ends reading with truncated.
    cut = list(bundle.read_records(io.BytesIO(_bundle_bytes([bytes(oversize)])[:-1])))
    assert [r.error.reason for r in cut if r.error] == [Reason.TRUNCATED]
    # A length prefix cut short is truncated too; an empty bundle has no records.
    short = list(bundle.read_records(io.BytesIO(bundle.HEADER + b"\x00\x00")))
    assert [r.error.reason for r in short if r.error] == [Reason.TRUNCATED]
    assert list(bundle.read_records(io.BytesIO(bundle.HEADER))) == []


@pytest.mark.parametrize("header", [b"", b"STIG", b"STIGBNDL", b"STIGBNDL\x02", b"stigbndl\x01"])
def test_bundle_bad_header(header: bytes) -> None:
    with pytest.raises(InvalidBundle):
        list(bundle.read_records(io.BytesIO(header)))


# -- the set digest ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", _of_type("digest"))
def test_digest_vector(name: str) -> None:
    """§8.7, by the formula alone: BLAKE2b-256 of the sorted ids of the live items."""
    vector = BY_NAME[name]
    members = [decode(_raw(member)) for member in vector["set"]]
    count, value = live_digest(members, vector["now"])
    assert (count, value.hex()) == (vector["count"], vector["digest_hex"])
    if not members:
        assert value == hashlib.blake2b(b"", digest_size=32).digest()


# -- derived views -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", _of_type("view"))
def test_view_vector(name: str) -> None:
    vector = BY_NAME[name]
    now = vector["now"]
    members = {member: decode(_raw(member)) for member in vector["set"]}
    state = TraceSet(members.values())
    trace = members[vector["target"]]
    assert state.is_hidden(trace) == vector["hidden"]
    assert state.effective_expiry(trace) == vector["effective_expiry"]
    assert state.is_visible(trace, now) == vector["visible"]
    assert state.support_times(trace, now) == vector["support_times"]
    assert state.intensity(trace, now) == vector["intensity"]
    counts = state.counts(trace, now)
    assert vars(counts) == vector["counts"]
    kept = state.collect(now).ids()
    assert [m for m, t in members.items() if t.id in kept] == vector["kept_by_collect"]
    # Merge is set union: any order, any duplication, the same views.
    shuffled = TraceSet(reversed(list(members.values()))).merge(members.values())
    assert shuffled.ids() == state.ids()
    assert shuffled.intensity(trace, now) == vector["intensity"]


@pytest.mark.parametrize("name", _of_type("mutes"))
def test_mutes_vector(name: str) -> None:
    """§6.8 from the document alone: the mute trace's target, the muted authors for the follow
    list, and the feed as shown with them."""
    vector = BY_NAME[name]
    now = vector["now"]
    state = TraceSet(decode(_raw(member)) for member in vector["set"])
    keys = {f: bytes.fromhex(BY_NAME[f]["public_key_hex"]) for f in ("persona-a", "persona-b")}
    muted = followed_mutes(state, {keys[f] for f in vector["follows"]}, now)
    assert sorted(k.hex() for k in muted) == vector["muted"]
    shown = state.feed(now, mutes=Mutes(authors=muted))
    assert [
        {
            "id_hex": item.trace.id.hex(),
            "intensity": item.intensity,
            "effective_expiry": item.effective_expiry,
            "echoes": item.counts.echoes,
        }
        for item in shown
    ] == vector["feed"]
    assert mute_target(decode(_raw("mute"))) == bytes.fromhex(BY_NAME["mute"]["target_hex"])


def test_intensity_formula_by_hand() -> None:
    """§6: the echoed callout, two days on, by the formula rather than by views.py."""
    vector = BY_NAME["view-echoed"]
    h = bounds.INTENSITY_HALF_LIFE
    expected = sum(2.0 ** ((t - vector["now"]) / h) for t in vector["support_times"])
    assert vector["intensity"] == expected == 0.75


# -- the §3 encoding rules, against the msgpack library ----------------------------------------

_fields = st.tuples(
    st.integers(0, 2**64 - 1),
    st.text(max_size=40),
    st.binary(max_size=300),
    st.integers(0, 2**64 - 1),
    st.integers(0, 2**64 - 1),
    st.lists(st.text(max_size=40), max_size=20),
    st.text(max_size=300),
    st.lists(st.binary(min_size=32, max_size=32), max_size=17),
    st.text(max_size=400),
    st.integers(0, 2**64 - 1),
    st.binary(max_size=300),
)


@given(_fields)
def test_spec_encoder_matches_the_codec(values: tuple[Any, ...]) -> None:
    version, kind, author, created, expires, tags, place, refs, body, nonce, signature = values
    trace = Trace(
        version=version,
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
    )
    assert spec_pack([*unsigned_fields(trace), signature]) == encode(trace)


_BOUNDARY_INTS = [0, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**64 - 1]
_BOUNDARY_LENGTHS = [0, 15, 16, 31, 32, 255, 256, 65535, 65536]


@pytest.mark.parametrize(
    "value",
    [
        *_BOUNDARY_INTS,
        *[-n for n in (1, 32, 33, 128, 129, 32768, 32769, 2**31, 2**31 + 1, 2**63)],
        *["é" * (n // 2) + "x" * (n % 2) for n in _BOUNDARY_LENGTHS],
        *[bytes(n) for n in _BOUNDARY_LENGTHS],
        *[[0] * n for n in _BOUNDARY_LENGTHS],
    ],
    ids=lambda v: f"{type(v).__name__}-{v if isinstance(v, int) else len(v)}",
)
def test_spec_encoder_boundaries(value: object) -> None:
    """Every header-size boundary of §3, against the msgpack library the codec uses."""
    assert spec_pack(value) == msgpack.packb(value, use_bin_type=True)


# -- §4.1 tables, §4 reasons, kind roles and § citations -----------------------------------------


def _section(number: str) -> str:
    """The text of section ``number`` (e.g. "4.1"), up to the next heading of any level."""
    text = _doc()
    match = re.search(rf"^#+ {re.escape(number)}\.? .*?$(.*?)(?=^#+ |\Z)", text, re.M | re.S)
    assert match, f"no section {number} in docs/protocol.md"
    return match.group(1)


def _table_rows(text: str) -> Iterator[list[str]]:
    for line in text.splitlines():
        if line.startswith("|") and not re.match(r"^\|[\s:|-]+\|$", line):
            yield [cell.strip() for cell in line.strip().strip("|").split("|")]


def _literal(cell: str) -> object:
    match = re.fullmatch(r"`([^`]+)`", cell)
    assert match, f"not a `literal` cell: {cell!r}"
    return ast.literal_eval(match.group(1))


def _constant_rows() -> dict[str, object]:
    rows = {}
    for cells in _table_rows(_section("4.1")):
        name = re.fullmatch(r"`([\w.]+)`", cells[0])
        if name:
            rows[name.group(1)] = _literal(cells[1])
    return rows


def test_worked_example_spells_the_callout() -> None:
    """§2.1: the field-by-field bytes, concatenated, are the call-out vector."""
    rows = list(_table_rows(_section("2.1")))[1:]
    assert [cells[1] for cells in rows][1:] == [
        "version", "kind", "author", "created", "expires", "tags", "place", "refs", "body",
        "nonce", "signature",
    ]  # fmt: skip
    spelled = "".join("".join(re.findall(r"`([0-9a-f]+)`", cells[2])) for cells in rows)
    assert spelled == BY_NAME["callout"]["trace_hex"]


def test_every_bound_is_in_the_table_with_its_value() -> None:
    rows = _constant_rows()
    constants = {
        name: value
        for name, value in vars(bounds).items()
        if name.isupper() and isinstance(value, int | str | bytes)
    }
    assert constants, "no constants found in bounds.py"
    for name, value in constants.items():
        assert name in rows, f"bounds.{name} is missing from the §4.1 table"
        assert rows[name] == value, f"§4.1 says {name} = {rows[name]!r}, bounds.py {value!r}"


def test_constants_outside_bounds_are_in_the_table_with_their_value() -> None:
    rows = _constant_rows()
    qualified = {name: value for name, value in rows.items() if "." in name}
    assert qualified, "no module-qualified constants in the §4.1 table"
    for name, value in qualified.items():
        module, _, attribute = name.rpartition(".")
        actual = getattr(importlib.import_module(f"stig.{module}"), attribute)
        assert actual == value, f"§4.1 says {name} = {value!r}, the code {actual!r}"


def test_every_reason_is_documented_in_section_4() -> None:
    text = _section("4")
    for reason in Reason:
        assert f"`{reason.value}`" in text, f"reason {reason.value} is not in §4"


def test_kind_roles_table() -> None:
    roles = {
        "support": kinds.SUPPORT_KINDS,
        "needs a ref": kinds.REF_REQUIRED_KINDS,
        "pinned life": kinds.PINNED_LIFE_KINDS,
        "meta": kinds.META_KINDS,
        "word": kinds.VERDICT_KINDS,
    }
    rows = list(_table_rows(_section("4.3")))
    header, body = rows[0], rows[1:]
    assert header[0] == "kind"
    assert set(header[1:]) == set(roles)
    documented = {_literal(cells[0]): cells for cells in body}
    assert list(documented) == list(kinds.KNOWN_KINDS)
    for kind, cells in documented.items():
        for column, cell in zip(header[1:], cells[1:], strict=True):
            assert (cell == "yes") == (kind in roles[column]), (kind, column)


def test_citations_of_the_document_resolve() -> None:
    """Code comments cite ``docs/protocol.md §N``: every cited section exists."""
    headings = set(re.findall(r"^#+ (\d+(?:\.\d+)?)\.? ", _doc(), re.M))
    cited = set()
    for path in sorted((ROOT / "stig").rglob("*.py")):
        for match in re.finditer(r"protocol\.md (§[\d.§–, -]+)", path.read_text("utf-8")):
            cited.update(re.findall(r"§(\d+(?:\.\d+)?)", match.group(1)))
    assert cited, "no citations found"
    assert cited <= headings, f"cited but missing: {sorted(cited - headings)}"
    assert {str(n) for n in range(1, 10)} <= headings


# -- regeneration ------------------------------------------------------------------------------


def main() -> None:
    vectors = build_vectors()
    JSON_FILE.write_text(json.dumps(vectors, indent=1, ensure_ascii=False) + "\n", "utf-8")
    for vector in vectors:
        sys.stdout.write(render_block(vector) + "\n\n")


if __name__ == "__main__":
    main()
