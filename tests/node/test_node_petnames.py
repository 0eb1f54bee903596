"""stig.node.petnames on its own: how an author reads (own persona, petname, key digits), one
name per key and one key per name, and the file (0600, atomic, a damaged one refused)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from stig.errors import StigError, UsageError
from stig.node import petnames
from stig.node.petnames import Petnames

ANA, BEN = bytes([1]) * 32, bytes([2]) * 32


def test_labels_prefer_own_personas_then_names_then_digits() -> None:
    names = Petnames().named(ANA, "ana")
    assert names.label(ANA) == "ana"
    assert names.label(ANA, {ANA: "me"}) == "me"
    assert names.label(BEN) == BEN.hex()[:12]
    assert names.known(BEN) is None and names.known(ANA) == "ana"


def test_one_name_per_key_and_one_key_per_name() -> None:
    names = Petnames().named(ANA, "ana").named(ANA, "anna")
    assert dict(names.by_key) == {ANA: "anna"}
    with pytest.raises(UsageError, match="'anna' already names 010101010101"):
        names.named(BEN, "anna")
    assert names.named(ANA, "anna") == names
    assert not names.unnamed("anna")
    with pytest.raises(UsageError, match="no author is named 'ana'"):
        names.unnamed("ana")


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("", "1 to 32 characters"),
        ("a" * 33, "1 to 32 characters"),
        ("two words", "one word"),
        ("tab\there", "one word"),
        ("#tag", "cannot start with '#'"),
        ("-p", "cannot start with '-'"),
        ("DEADBEEF", "start of a key"),
    ],
)
def test_names_that_would_read_as_something_else_are_refused(name: str, why: str) -> None:
    with pytest.raises(UsageError, match=why):
        petnames.check_name(name)


def test_short_hex_words_are_names() -> None:
    assert petnames.check_name("cafe") == "cafe"  # shorter than a key prefix (8)
    assert petnames.check_name("zoë") == "zoë"


def test_the_file_round_trips_private_and_refuses_damage(tmp_path: Path) -> None:
    path = tmp_path / "names.json"
    assert petnames.load(path) == Petnames()
    saved = petnames.update(path, lambda names: names.named(ANA, "ana").named(BEN, "zoë"))
    assert petnames.load(path) == saved
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind
    for damaged in ("[]", '{"zz": "x"}', f'{{"{ANA.hex()}": "two words"}}', "{"):
        path.write_text(damaged)
        with pytest.raises(StigError, match="is damaged"):
            petnames.load(path)
