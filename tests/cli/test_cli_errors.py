"""The real ``stig`` command, run as a subprocess: every mistake a person can make gets one line
on stderr starting with ``stig:`` and exit 1 (a usage error: click's message and exit 2), and
never a traceback. Each check costs a process start, so they are grouped."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.running import fails, stig


@pytest.fixture
def home(tmp_path: Path) -> Path:
    root = tmp_path / "home"
    stig(root, "init")
    return root


def test_user_errors_are_one_line(home: Path, tmp_path: Path) -> None:
    posted = stig(home, "post", "the only trace here").stdout.strip()
    absent = "0" * 64 if not posted.startswith("0") else "f" * 64
    not_a_bundle = tmp_path / "notes.txt"
    not_a_bundle.write_text("just some notes\n")
    cases = [
        (("show", "zzzzzz"), "is not a trace id"),
        (("show", posted[:5]), "at least its first 6 characters"),
        (("echo", absent), "no trace here starts with"),
        (("post", "too long", "--ttl", "31d"), "the time to live must be at most 30d"),
        (("post", "where?", "--place", "u09tv"), "bad_place"),
        (("post", "what?", "-t", "no way!"), "bad_tag"),
        (("post", "who?", "-p", "nobody"), "no persona named 'nobody'"),
        (("post",), "nothing to post: the text is empty"),  # stdin is empty too
        (("feed", "--author", "nobody"), "neither a persona here nor a 64-hex public key"),
        (("import", str(not_a_bundle)), "not a stig bundle"),
    ]
    for args, message in cases:
        assert message in fails(home, *args), args
    for args, message in [
        (("post", "x", "--ttl", "soon"), "Invalid value for '--ttl'"),
        (("feed", "--bogus"), "No such option"),
    ]:
        done = stig(home, *args, code=2)
        assert message in done.stderr and done.stdout == "", args
    assert len(stig(home, "feed").stdout.splitlines()) == 2  # nothing was added on the way

    (home / "store.db").write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    assert "damaged or not a stig store" in fails(home, "post", "hello")


def test_a_missing_home_is_not_created(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    assert f"no stig home at {fresh}; run `stig init` first" in fails(fresh, "feed")
    assert not fresh.exists()


def test_a_mistyped_bootstrap_address_is_an_error_not_a_lonely_node(tmp_path: Path) -> None:
    stig(tmp_path, "init", "-q")
    done = stig(tmp_path, "node", "--bootstrap", "/ip4/1.2.3/garbage", code=1)
    assert "--bootstrap: '/ip4/1.2.3/garbage' is not a multiaddr" in done.stderr
