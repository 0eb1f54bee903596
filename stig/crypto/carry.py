"""Carrying a persona to a second device: its locked key file as a short code (pure).

``stig id export NAME`` locks the persona's seed with a passphrase chosen for the journey
(argon2id, as a key file: stig/crypto/keyfile.py) and writes it as a file, as a text code and
as a QR code of that text; ``stig id import`` takes any of them and asks for the passphrase.
The code is the locked key file, field for field::

    stig-persona1- then base32 (lower case, no padding) of
        version (1 byte, 1) || name length (1 byte) || name (ASCII) || public key (32)
        || salt (16) || opslimit (1 byte) || memlimit (4 bytes, big-endian) || box (72)
        || first 4 bytes of BLAKE2b-256 of all the former

The check catches a code cut short or mistyped; the passphrase guards the seed. Whoever holds
the code and the passphrase holds the persona (docs/threat-model.md, "A seized device").
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct

from stig.crypto.keyfile import KEYFILE_FORMAT
from stig.crypto.persona import valid_persona_name
from stig.errors import PersonaError

CARRY_PREFIX = "stig-persona1-"
_VERSION = 1
_CHECK_BYTES = 4
_TAIL = struct.Struct(">32s16sBI72s")  # public, salt, opslimit, memlimit, box
_BASE32 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")


def carry_code(keyfile: bytes) -> str:
    """The code of a *locked* key file (encode_keyfile with a passphrase)."""
    fields = json.loads(keyfile)
    if fields.get("kdf") != "argon2id":
        raise PersonaError("only a key file locked with a passphrase can be carried")
    name = fields["name"].encode("ascii")
    body = (
        bytes((_VERSION, len(name)))
        + name
        + _TAIL.pack(
            bytes.fromhex(fields["public"]),
            bytes.fromhex(fields["salt"]),
            fields["opslimit"],
            fields["memlimit"],
            bytes.fromhex(fields["box"]),
        )
    )
    check = hashlib.blake2b(body, digest_size=32).digest()[:_CHECK_BYTES]
    return CARRY_PREFIX + base64.b32encode(body + check).decode("ascii").rstrip("=").lower()


def looks_like_code(text: str) -> bool:
    return "".join(text.split()).lower().startswith(CARRY_PREFIX)


def keyfile_from_code(code: str) -> bytes:
    """The locked key file a code carries; PersonaError saying what is wrong with the code."""
    text = "".join(code.split()).lower()
    if not text.startswith(CARRY_PREFIX):
        raise PersonaError(f"a persona code starts with {CARRY_PREFIX!r}; this one does not")
    data = text.removeprefix(CARRY_PREFIX).upper()
    if not _BASE32.issuperset(data):
        raise PersonaError("the persona code has characters that cannot be in one")
    try:
        raw = base64.b32decode(data + "=" * (-len(data) % 8))
    except ValueError as exc:  # a length no base32 text has: cut short (or pasted twice)
        raise PersonaError(
            "the persona code is cut short or too long; copy it again, whole"
        ) from exc
    if (
        len(raw) < 2 + _TAIL.size + _CHECK_BYTES
        or len(raw) != 2 + raw[1] + _TAIL.size + _CHECK_BYTES
    ):
        raise PersonaError("the persona code is cut short or too long; copy it again, whole")
    body, check = raw[:-_CHECK_BYTES], raw[-_CHECK_BYTES:]
    if hashlib.blake2b(body, digest_size=32).digest()[:_CHECK_BYTES] != check:
        raise PersonaError("the persona code is damaged (its check does not match); copy it again")
    if body[0] != _VERSION:
        raise PersonaError(f"persona code version {body[0]} is not known to this stig")
    name = body[2 : 2 + body[1]].decode("ascii", errors="replace")
    if not valid_persona_name(name):
        raise PersonaError(f"the persona code names no valid persona ({name!r})")
    public, salt, opslimit, memlimit, box = _TAIL.unpack(body[2 + body[1] :])
    fields = {
        "format": KEYFILE_FORMAT,
        "name": name,
        "public": public.hex(),
        "kdf": "argon2id",
        "salt": salt.hex(),
        "opslimit": opslimit,
        "memlimit": memlimit,
        "box": box.hex(),
    }
    return (json.dumps(fields, indent=2) + "\n").encode("utf-8")
