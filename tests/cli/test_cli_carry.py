"""Carrying a persona to a second device: stig id export / stig id import (issue: people in a
hurry, item 4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stig.crypto.carry import carry_code, keyfile_from_code
from stig.crypto.keyfile import decode_keyfile, encode_keyfile
from stig.crypto.persona import Persona
from stig.errors import PersonaError
from tests.cli.running import as_json, fails, stig

pytestmark = pytest.mark.timeout(300)
JOURNEY = {"STIG_PASSPHRASE": "a long journey"}


def key_of(home: Path, name: str) -> str:
    return next(p["public_key"] for p in as_json(home, "id") if p["name"] == name)


def test_the_code_is_the_locked_key_file_field_for_field() -> None:
    persona = Persona.generate("ana")
    data = encode_keyfile(persona, "pass", opslimit=1, memlimit=8192)
    code = carry_code(data)
    assert keyfile_from_code(code) == data
    assert keyfile_from_code(code.upper() + "\n") == data  # case and spaces do not matter
    assert decode_keyfile(keyfile_from_code(code), "pass").seed == persona.seed
    with pytest.raises(PersonaError, match="cut short"):
        keyfile_from_code(code[:-9])
    damaged = code[:-3] + ("a" if code[-3] != "a" else "b") + code[-2:]
    with pytest.raises(PersonaError, match=r"damaged|cut short"):
        keyfile_from_code(damaged)
    with pytest.raises(PersonaError, match="starts with"):
        keyfile_from_code("stig-group1-" + code[14:])
    with pytest.raises(PersonaError, match="only a key file locked"):
        carry_code(encode_keyfile(persona, None))


def test_a_persona_carried_posts_as_the_same_author_and_a_burn_covers_both(
    tmp_path: Path,
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    stig(first, "init")
    stig(second, "init", "--persona", "other")
    key_file = tmp_path / "me.key"
    exported = stig(first, "id", "export", "me", "--file", str(key_file), env=JOURNEY)
    code = exported.stdout.strip()
    assert code.startswith("stig-persona1-") and key_file.stat().st_mode & 0o777 == 0o600
    assert json.loads(key_file.read_text())["kdf"] == "argon2id"

    assert "wrong passphrase" in fails(second, "id", "import", code, env={"STIG_PASSPHRASE": "no"})
    assert "cut short" in fails(second, "id", "import", code[:60], env=JOURNEY)
    stig(second, "id", "import", code, env=JOURNEY)
    assert key_of(second, "me") == key_of(first, "me")
    assert "already" in fails(second, "id", "import", str(key_file), "--name", "again", env=JOURNEY)

    # Both devices post as that author.
    stig(first, "post", "from the first device")
    stig(second, "post", "-p", "me", "from the second device", env=JOURNEY)
    bundle = tmp_path / "b.stig"
    stig(second, "export", str(bundle))
    stig(first, "import", str(bundle))
    authors = {item["body"]: item["author"] for item in as_json(first, "feed")}
    assert authors["from the first device"] == authors["from the second device"]

    # A burn from the second device covers what the key posted on the first.
    stig(second, "burn", "-p", "me", "--yes", env=JOURNEY)
    stig(second, "export", str(bundle))
    stig(first, "import", str(bundle))
    assert as_json(first, "feed") == []
