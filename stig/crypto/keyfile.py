"""The key-file format: a persona as bytes and back, optionally locked by a passphrase.

Pure: this module never touches the file system (``stig.node.keyring`` does).

Format ``stig-key/1``
---------------------
A key file is one JSON object, UTF-8, at most ``MAX_KEYFILE_BYTES`` bytes. stig writes it with
two-space indentation, the fields in the order below and a final newline, but a reader must accept
any JSON layout. Every field is required and no other field is allowed; hex is lowercase on write
and case-insensitive on read.

Unprotected (``"kdf": "none"``)::

    {
      "format": "stig-key/1",
      "name": "ana",                          persona name, 1..32 chars of [a-z0-9_-], starts alnum
      "public": "<64 hex>",                   Ed25519 public key (32 bytes)
      "kdf": "none",
      "seed": "<64 hex>"                      Ed25519 seed (32 bytes, RFC 8032 private key)
    }

Passphrase-protected (``"kdf": "argon2id"``)::

    {
      "format": "stig-key/1",
      "name": "ana",
      "public": "<64 hex>",
      "kdf": "argon2id",
      "salt": "<32 hex>",                     16 random bytes
      "opslimit": 2,                          libsodium crypto_pwhash_argon2id opslimit
      "memlimit": 67108864,                   libsodium crypto_pwhash_argon2id memlimit, in bytes
      "box": "<144 hex>"                      72 bytes: 24-byte nonce || XSalsa20-Poly1305 box
    }

To open a protected file: ``key = crypto_pwhash_argon2id(32, passphrase, salt, opslimit,
memlimit)`` (Argon2id v1.3, as libsodium's ``crypto_pwhash`` with ``ALG_ARGON2ID13``), where
``passphrase`` is the UTF-8 encoding of the passphrase in Unicode NFC; then ``seed =
crypto_secretbox_open(box[24:], nonce=box[:24], key)`` (NaCl ``SecretBox``). A box that does not
open means a wrong passphrase: the two cannot be told apart from a damaged box.

``opslimit`` must be in 1..4 and ``memlimit`` in 8192..1073741824 (libsodium's minimum up to its
"sensitive" preset), so that a damaged or hostile file cannot make a reader spend unbounded time
or memory before the passphrase is even checked.

In both variants the reader derives the public key from the seed and rejects the file if it
differs from ``public``. ``public`` is stored in the clear so that the public key of a locked
persona can be shown without the passphrase.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from typing import Final

import nacl.utils
from nacl.exceptions import CryptoError
from nacl.pwhash import argon2id
from nacl.secret import SecretBox

from stig.crypto.persona import (
    PUBLIC_KEY_BYTES,
    SEED_BYTES,
    Persona,
    check_persona_name,
    valid_persona_name,
)
from stig.errors import PersonaError, UsageError, WrongPassphrase

KEYFILE_FORMAT: Final = "stig-key/1"
MAX_KEYFILE_BYTES: Final = 4096

OPSLIMIT_MIN: Final[int] = argon2id.OPSLIMIT_MIN
OPSLIMIT_MAX: Final[int] = argon2id.OPSLIMIT_SENSITIVE
MEMLIMIT_MIN: Final[int] = argon2id.MEMLIMIT_MIN
MEMLIMIT_MAX: Final[int] = argon2id.MEMLIMIT_SENSITIVE
OPSLIMIT_DEFAULT: Final[int] = argon2id.OPSLIMIT_INTERACTIVE
MEMLIMIT_DEFAULT: Final[int] = argon2id.MEMLIMIT_INTERACTIVE

_SALT_BYTES: Final[int] = argon2id.SALTBYTES
_NONCE_BYTES: Final[int] = SecretBox.NONCE_SIZE
_BOX_BYTES: Final[int] = _NONCE_BYTES + SecretBox.MACBYTES + SEED_BYTES

_HEX_DIGITS: Final = frozenset("0123456789abcdefABCDEF")
_PLAIN_FIELDS: Final = ("format", "name", "public", "kdf", "seed")
_LOCKED_FIELDS: Final = ("format", "name", "public", "kdf", "salt", "opslimit", "memlimit", "box")


@dataclass(frozen=True, slots=True)
class _Argon2Box:
    salt: bytes
    opslimit: int
    memlimit: int
    box: bytes


@dataclass(frozen=True, slots=True)
class _KeyFile:
    """A key file whose structure has been checked; the secret part is not opened yet."""

    name: str
    public: bytes
    seed: bytes | None  # None when locked
    locked: _Argon2Box | None


def encode_keyfile(
    persona: Persona,
    passphrase: str | None,
    *,
    opslimit: int = OPSLIMIT_DEFAULT,
    memlimit: int = MEMLIMIT_DEFAULT,
) -> bytes:
    """The key file of ``persona``; locked with ``passphrase`` unless it is ``None``."""
    check_persona_name(persona.name)
    fields: dict[str, object] = {
        "format": KEYFILE_FORMAT,
        "name": persona.name,
        "public": persona.public_key.hex(),
    }
    if passphrase is None:
        fields["kdf"] = "none"
        fields["seed"] = persona.seed.hex()
    else:
        if passphrase == "":
            raise UsageError(
                "an empty passphrase protects nothing; give a real one, or none to store the key "
                "unprotected"
            )
        if not OPSLIMIT_MIN <= opslimit <= OPSLIMIT_MAX:
            raise ValueError(f"opslimit must be in {OPSLIMIT_MIN}..{OPSLIMIT_MAX}, not {opslimit}")
        if not MEMLIMIT_MIN <= memlimit <= MEMLIMIT_MAX:
            raise ValueError(f"memlimit must be in {MEMLIMIT_MIN}..{MEMLIMIT_MAX}, not {memlimit}")
        salt: bytes = nacl.utils.random(_SALT_BYTES)
        key = _derive_key(passphrase, salt, opslimit, memlimit)
        box: bytes = bytes(SecretBox(key).encrypt(persona.seed))
        fields["kdf"] = "argon2id"
        fields["salt"] = salt.hex()
        fields["opslimit"] = opslimit
        fields["memlimit"] = memlimit
        fields["box"] = box.hex()
    return (json.dumps(fields, indent=2) + "\n").encode("utf-8")


def decode_keyfile(
    data: bytes, passphrase: str | None, *, expect_name: str | None = None
) -> Persona:
    """The persona stored in key file ``data``.

    ``passphrase`` is ignored for an unprotected file. ``expect_name`` is the name the caller
    found the file under: it names the persona in error messages even when the file is too
    damaged to say, and a file that names another persona is rejected as damaged.

    Raises ``PersonaError`` for a damaged, foreign-format or locked-without-passphrase file and
    ``WrongPassphrase`` when the passphrase does not open it.
    """
    parsed = _parse(data, expect_name)
    if parsed.locked is None:
        assert parsed.seed is not None
        seed = parsed.seed
    else:
        if passphrase is None:
            raise PersonaError(
                f"persona {parsed.name!r} is protected by a passphrase; set STIG_PASSPHRASE or "
                "type it when asked"
            )
        locked = parsed.locked
        key = _derive_key(passphrase, locked.salt, locked.opslimit, locked.memlimit)
        try:
            opened: bytes = SecretBox(key).decrypt(locked.box)
        except CryptoError as exc:
            raise WrongPassphrase(
                f"wrong passphrase for persona {parsed.name!r}; try again"
            ) from exc
        seed = opened
    persona = Persona(parsed.name, seed)
    if persona.public_key != parsed.public:
        raise _damaged(parsed.name, "the public key does not belong to the stored seed")
    return persona


def keyfile_is_locked(data: bytes) -> bool:
    """True if key file ``data`` needs a passphrase; ``PersonaError`` if it is damaged."""
    return _parse(data, None).locked is not None


def keyfile_public_key(data: bytes, *, expect_name: str | None = None) -> bytes:
    """The public key of key file ``data``, readable without the passphrase.

    For an unprotected file the seed is checked against it; for a locked one it cannot be until
    the file is opened.
    """
    parsed = _parse(data, expect_name)
    if parsed.seed is not None and Persona(parsed.name, parsed.seed).public_key != parsed.public:
        raise _damaged(parsed.name, "the public key does not belong to the stored seed")
    return parsed.public


def _derive_key(passphrase: str, salt: bytes, opslimit: int, memlimit: int) -> bytes:
    # NFC, so that the same passphrase typed on systems that compose accents differently
    # (macOS input methods produce NFD) derives the same key.
    secret = unicodedata.normalize("NFC", passphrase).encode("utf-8")
    key: bytes = argon2id.kdf(
        SecretBox.KEY_SIZE, secret, salt, opslimit=opslimit, memlimit=memlimit
    )
    return key


def _damaged(name: str | None, why: str) -> PersonaError:
    which = f"key file for {name!r}" if name is not None else "key file"
    return PersonaError(
        f"{which} is damaged: {why}; restore it from a backup or create a new persona with "
        "`stig id new`"
    )


def _parse(data: bytes, expect_name: str | None) -> _KeyFile:
    label = expect_name
    if len(data) > MAX_KEYFILE_BYTES:
        raise _damaged(label, f"it is larger than {MAX_KEYFILE_BYTES} bytes")
    try:
        fields: object = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise _damaged(label, "it is not UTF-8 text") from exc
    except (ValueError, RecursionError) as exc:
        raise _damaged(label, "it is not valid JSON") from exc
    if not isinstance(fields, dict):
        raise _damaged(label, "it is not a JSON object")

    fmt = fields.get("format")
    if fmt != KEYFILE_FORMAT:
        if isinstance(fmt, str) and fmt.startswith("stig-key/"):
            which = f"key file for {label!r}" if label is not None else "key file"
            raise PersonaError(
                f"{which} uses format {fmt!r}, which this version of stig cannot read; "
                "upgrade stig to use it"
            )
        raise _damaged(label, f"the format is not {KEYFILE_FORMAT!r}")

    name = fields.get("name")
    if not isinstance(name, str) or not valid_persona_name(name):
        raise _damaged(label, "the persona name is missing or invalid")
    if expect_name is not None and name != expect_name:
        raise _damaged(label, f"it holds persona {name!r}, not {expect_name!r}")
    label = name

    kdf = fields.get("kdf")
    if kdf == "none":
        expected: tuple[str, ...] = _PLAIN_FIELDS
    elif kdf == "argon2id":
        expected = _LOCKED_FIELDS
    else:
        raise _damaged(label, f"unknown kdf {kdf!r}")
    missing = [f for f in expected if f not in fields]
    extra = sorted(f for f in fields if f not in expected)
    if missing:
        raise _damaged(label, f"field {missing[0]!r} is missing")
    if extra:
        raise _damaged(label, f"unexpected field {extra[0]!r}")

    public = _hex_field(fields, "public", PUBLIC_KEY_BYTES, label)
    if kdf == "none":
        return _KeyFile(name, public, _hex_field(fields, "seed", SEED_BYTES, label), None)

    opslimit = _int_field(fields, "opslimit", OPSLIMIT_MIN, OPSLIMIT_MAX, label)
    memlimit = _int_field(fields, "memlimit", MEMLIMIT_MIN, MEMLIMIT_MAX, label)
    locked = _Argon2Box(
        salt=_hex_field(fields, "salt", _SALT_BYTES, label),
        opslimit=opslimit,
        memlimit=memlimit,
        box=_hex_field(fields, "box", _BOX_BYTES, label),
    )
    return _KeyFile(name, public, None, locked)


def _hex_field(fields: dict[str, object], key: str, size: int, label: str) -> bytes:
    value = fields[key]
    if not isinstance(value, str):
        raise _damaged(label, f"field {key!r} is not a hex string")
    # Checked by hand because bytes.fromhex would also accept spaces between the digits.
    if not all(c in _HEX_DIGITS for c in value):
        raise _damaged(label, f"field {key!r} is not valid hex")
    if len(value) != 2 * size:
        raise _damaged(label, f"field {key!r} holds {len(value) / 2:g} bytes, not {size}")
    return bytes.fromhex(value)


def _int_field(fields: dict[str, object], key: str, low: int, high: int, label: str) -> int:
    value = fields[key]
    # bool is an int subclass, and JSON true must not pass for 1.
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise _damaged(label, f"field {key!r} is not an integer in {low}..{high}")
    return value
