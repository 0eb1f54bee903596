from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from nacl.pwhash import argon2id

from stig.crypto import verify
from stig.errors import PersonaError, UsageError, WrongPassphrase
from stig.node.keyring import Keyring


def ring_at(directory: Path) -> Keyring:
    # The interactive argon2id preset costs 64 MiB per derivation; tests need the minimum.
    return Keyring(directory, opslimit=argon2id.OPSLIMIT_MIN, memlimit=argon2id.MEMLIMIT_MIN)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_empty_keyring(tmp_path: Path) -> None:
    ring = ring_at(tmp_path / "keys")
    assert ring.names() == []
    assert ring.default is None
    with pytest.raises(PersonaError, match="create one with `stig id new"):
        ring.load()


def test_create_writes_private_files(tmp_path: Path) -> None:
    directory = tmp_path / "home" / "keys"
    ring = ring_at(directory)
    persona = ring.create("ana")
    assert persona.name == "ana"
    assert mode(directory) == 0o700
    assert mode(directory / "ana.key") == 0o600
    assert ring.names() == ["ana"]


def test_modes_ignore_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o700)  # a umask that would strip the owner's own bits
    try:
        ring_at(tmp_path / "keys").create("ana")
    finally:
        os.umask(old)
    assert mode(tmp_path / "keys") == 0o700
    assert mode(tmp_path / "keys" / "ana.key") == 0o600


def test_default_costs_are_interactive(tmp_path: Path) -> None:
    Keyring(tmp_path / "keys").create("ana", passphrase="pw")
    fields = json.loads((tmp_path / "keys" / "ana.key").read_bytes())
    assert fields["opslimit"] == argon2id.OPSLIMIT_INTERACTIVE
    assert fields["memlimit"] == argon2id.MEMLIMIT_INTERACTIVE


def test_create_load_round_trip(tmp_path: Path) -> None:
    ring = ring_at(tmp_path / "keys")
    created = ring.create("ana")
    loaded = ring_at(tmp_path / "keys").load("ana")
    assert loaded == created
    signature = loaded.sign(b"message")
    assert verify(created.public_key, b"message", signature)


def test_first_persona_becomes_default(tmp_path: Path) -> None:
    ring = ring_at(tmp_path / "keys")
    ana = ring.create("ana")
    ring.create("bo")
    assert ring.default == "ana"
    assert (tmp_path / "keys" / "DEFAULT").read_text() == "ana\n"
    assert ring.load() == ana
    assert ring.names() == ["ana", "bo"]


def test_set_default(tmp_path: Path) -> None:
    ring = ring_at(tmp_path / "keys")
    ring.create("ana")
    bo = ring.create("bo")
    ring.set_default("bo")
    assert ring.default == "bo"
    assert ring.load() == bo
    with pytest.raises(PersonaError, match="no persona named 'cy'"):
        ring.set_default("cy")


def test_default_of_a_deleted_persona_is_unset(tmp_path: Path) -> None:
    ring = ring_at(tmp_path / "keys")
    ring.create("ana")
    ring.create("bo")
    (tmp_path / "keys" / "ana.key").unlink()
    assert ring.default is None
    with pytest.raises(PersonaError, match="stig id default"):
        ring.load()
    ring.create("cy")
    assert ring.default == "cy"


@pytest.mark.parametrize("name", ["", "Ana", "../evil", "a" * 33, "-x"])
def test_create_rejects_invalid_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(UsageError, match="not a valid persona name"):
        ring_at(tmp_path / "keys").create(name)
    assert not (tmp_path / "evil.key").exists()


def test_create_rejects_existing_name(tmp_path: Path) -> None:
    ring = ring_at(tmp_path / "keys")
    first = ring.create("ana")
    with pytest.raises(UsageError, match="already exists"):
        ring.create("ana")
    assert ring.load("ana") == first


def test_passphrase_round_trip(tmp_path: Path) -> None:
    ring = ring_at(tmp_path / "keys")
    created = ring.create("ana", passphrase="s3cret words")
    assert ring.is_locked("ana")
    assert ring.public_key("ana") == created.public_key
    assert created.seed.hex() not in (tmp_path / "keys" / "ana.key").read_text()
    assert ring.load("ana", passphrase="s3cret words") == created


def test_wrong_passphrase(tmp_path: Path) -> None:
    ring = ring_at(tmp_path / "keys")
    ring.create("ana", passphrase="right")
    with pytest.raises(WrongPassphrase):
        ring.load("ana", passphrase="wrong")


def test_locked_without_passphrase(tmp_path: Path) -> None:
    ring = ring_at(tmp_path / "keys")
    ring.create("ana", passphrase="right")
    with pytest.raises(PersonaError, match="STIG_PASSPHRASE"):
        ring.load("ana")


def test_unlocked_persona(tmp_path: Path) -> None:
    ring = ring_at(tmp_path / "keys")
    created = ring.create("ana")
    assert not ring.is_locked("ana")
    assert ring.public_key("ana") == created.public_key


@pytest.mark.parametrize("name", ["bo", "../keys/ana", "Ana"])
def test_missing_persona(tmp_path: Path, name: str) -> None:
    ring = ring_at(tmp_path / "keys")
    ring.create("ana")
    for call in (lambda: ring.load(name), lambda: ring.public_key(name)):
        with pytest.raises(PersonaError, match=r"no persona named .*`stig id` lists them"):
            call()
    with pytest.raises(PersonaError, match="no persona named"):
        ring.is_locked(name)


def test_truncated_key_file(tmp_path: Path) -> None:
    ring = ring_at(tmp_path / "keys")
    ring.create("ana")
    path = tmp_path / "keys" / "ana.key"
    path.write_bytes(path.read_bytes()[:40])
    for call in (ring.load, lambda: ring.public_key("ana"), lambda: ring.is_locked("ana")):
        with pytest.raises(PersonaError, match="key file for 'ana' is damaged: it is not valid"):
            call()


def test_wrong_seed_for_public_key(tmp_path: Path) -> None:
    ring = ring_at(tmp_path / "keys")
    ring.create("ana")
    path = tmp_path / "keys" / "ana.key"
    fields = json.loads(path.read_bytes())
    fields["seed"] = bytes(32).hex()
    path.write_text(json.dumps(fields))
    with pytest.raises(PersonaError, match="'ana' is damaged: the public key does not belong"):
        ring.load("ana")
    with pytest.raises(PersonaError, match="damaged"):
        ring.public_key("ana")


def test_bad_hex(tmp_path: Path) -> None:
    ring = ring_at(tmp_path / "keys")
    ring.create("ana")
    path = tmp_path / "keys" / "ana.key"
    fields = json.loads(path.read_bytes())
    fields["public"] = "xy" * 32
    path.write_text(json.dumps(fields))
    with pytest.raises(PersonaError, match="'public' is not valid hex"):
        ring.load("ana")


def test_renamed_key_file(tmp_path: Path) -> None:
    ring = ring_at(tmp_path / "keys")
    ring.create("ana")
    (tmp_path / "keys" / "ana.key").rename(tmp_path / "keys" / "bo.key")
    assert ring.names() == ["bo"]
    with pytest.raises(PersonaError, match="holds persona 'ana', not 'bo'"):
        ring.load("bo")
    with pytest.raises(PersonaError, match="holds persona 'ana', not 'bo'"):
        ring.is_locked("bo")


def test_oversized_key_file(tmp_path: Path) -> None:
    ring = ring_at(tmp_path / "keys")
    ring.create("ana")
    (tmp_path / "keys" / "ana.key").write_bytes(b" " * 100_000)
    with pytest.raises(PersonaError, match="larger than"):
        ring.load("ana")


def test_unreadable_key_file(tmp_path: Path) -> None:
    ring = ring_at(tmp_path / "keys")
    ring.create("ana")
    path = tmp_path / "keys" / "ana.key"
    path.unlink()
    path.mkdir()
    with pytest.raises(PersonaError, match="cannot read key file"):
        ring.load("ana")


def test_names_ignores_other_files(tmp_path: Path) -> None:
    ring = ring_at(tmp_path / "keys")
    ring.create("ana")
    (tmp_path / "keys" / "Notes.key").write_text("x")
    (tmp_path / "keys" / "bo.txt").write_text("x")
    assert ring.names() == ["ana"]


def test_erase(tmp_path: Path) -> None:
    directory = tmp_path / "keys"
    ring = ring_at(directory)
    ring.create("ana")
    ring.create("bo", passphrase="pw")
    ring.erase()
    assert not directory.exists()
    assert ring.names() == []
    assert ring.default is None
    ring.erase()  # erasing nothing is fine


def test_erase_zeroes_before_unlinking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = tmp_path / "keys"
    ring = ring_at(directory)
    ring.create("ana")
    seen: dict[str, bytes] = {}
    original_unlink = Path.unlink

    def spy_unlink(self: Path, missing_ok: bool = False) -> None:
        if self.suffix == ".key":
            seen[self.name] = self.read_bytes()
        original_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", spy_unlink)
    size = (directory / "ana.key").stat().st_size
    ring.erase()
    assert seen == {"ana.key": bytes(size)}


def test_erase_does_not_follow_symlinks(tmp_path: Path) -> None:
    directory = tmp_path / "keys"
    ring = ring_at(directory)
    ring.create("ana")
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me")
    (directory / "link.key").symlink_to(victim)
    ring.erase()
    assert victim.read_text() == "keep me"
    assert not directory.exists()


def test_erase_keeps_foreign_files(tmp_path: Path) -> None:
    directory = tmp_path / "keys"
    ring = ring_at(directory)
    ring.create("ana")
    (directory / "notes.txt").write_text("mine")
    with pytest.raises(PersonaError, match="still holds other files"):
        ring.erase()
    assert not (directory / "ana.key").exists()
    assert (directory / "notes.txt").read_text() == "mine"
