"""The real ``stig`` command, run as a subprocess: init, personas (``id``), passphrases, wipe."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.cli.running import HEX64, as_json, fails, stig


def init_key(output: str) -> str:
    """The public key from ``stig init``'s ``persona  NAME  KEY`` line."""
    found = re.search(r"^persona +\S+ +([0-9a-f]{64})$", output, re.MULTILINE)
    assert found, output
    return found.group(1)


@pytest.fixture
def home(tmp_path: Path) -> tuple[Path, str]:
    """An initialised home, and the public key of its first persona ``me``."""
    root = tmp_path / "home"
    done = stig(root, "init")
    assert f"home     {root}" in done.stdout
    return root, init_key(done.stdout)


def test_init_is_idempotent_and_id_manages_personas(home: tuple[Path, str]) -> None:
    root, key = home
    again = stig(root, "init")
    assert init_key(again.stdout) == key
    assert stig(root, "init", "--quiet").stdout == ""
    assert as_json(root, "id") == [
        {"name": "me", "public_key": key, "default": True, "passphrase": False}
    ]

    made = stig(root, "id", "new", "ana").stdout.split()
    assert made[0] == "ana" and HEX64.match(made[1]) and made[1] != key
    assert "already exists" in fails(root, "id", "new", "ana")
    assert stig(root, "id", "default", "ana").stdout == "default persona is now ana\n"
    assert "no persona named 'nobody'" in fails(root, "id", "default", "nobody")

    listed = stig(root, "id").stdout.splitlines()
    assert listed == [f"{'ana':<16} {made[1]} (default)", f"{'me':<16} {key}"]

    # The default persona signs unless --persona says otherwise.
    first = stig(root, "post", "by the default").stdout.strip()
    second = stig(root, "post", "by me", "--persona", "me").stdout.strip()
    authors = {item["id"]: item["author"] for item in as_json(root, "feed")}
    assert authors == {first: made[1], second: key}


def test_a_passphrase_protected_persona(home: tuple[Path, str]) -> None:
    root, _ = home
    right, wrong = {"STIG_PASSPHRASE": "correct horse"}, {"STIG_PASSPHRASE": "wrong horse"}
    key = stig(root, "id", "new", "locked", "--passphrase", env=right).stdout.split()[1]
    rows = {row["name"]: row for row in as_json(root, "id")}
    assert rows["locked"] == {
        "name": "locked", "public_key": key, "default": False, "passphrase": True,
    }  # fmt: skip

    posted = stig(root, "post", "signed behind a passphrase", "-p", "locked", env=right)
    trace_id = posted.stdout.strip()
    assert HEX64.match(trace_id)
    assert "passphrase" in fails(root, "post", "not signed", "-p", "locked", env=wrong)
    assert "protected by a passphrase; set STIG_PASSPHRASE" in fails(
        root, "post", "not signed", "-p", "locked"
    )
    assert [(t["id"], t["author"]) for t in as_json(root, "feed")] == [(trace_id, key)]


def test_wipe(home: tuple[Path, str]) -> None:
    root, key = home
    stig(root, "post", "something to lose")
    refused = stig(root, "wipe", code=2)
    assert "needs confirmation: add --yes" in refused.stderr
    assert (root / "personas").is_dir() and (root / "store.db").is_file()

    # As a node over tor leaves them: an onion key, and stig's own tor's state.
    (root / "onion.key").write_bytes(bytes(range(32)))
    (root / "tor").mkdir(mode=0o700)
    (root / "tor" / "state").write_text("Guard in=default rsa_id=...\n")
    assert stig(root, "wipe", "--yes").stdout == f"wiped {root}\n"
    assert not (root / "personas").exists()
    assert not (root / "onion.key").exists() and not (root / "tor").exists()
    assert not any((root / name).exists() for name in ("store.db", "store.db-wal"))
    assert "run `stig init` first" in fails(root, "feed")
    assert init_key(stig(root, "init").stdout) != key  # a fresh start, a new key


def test_the_terminal_ui_needs_a_terminal(tmp_path: Path) -> None:
    done = stig(tmp_path, "tui", code=1)
    assert "needs a terminal" in done.stderr
    assert not (tmp_path / "store.db").exists()  # nothing was created for nothing


def test_bare_stig_without_a_terminal_prints_help(tmp_path: Path) -> None:
    done = stig(tmp_path)
    assert "Usage:" in done.stdout and "tui" in done.stdout
