"""A kind typed by a person is checked against the known kinds: a typo is refused with the
nearest known kind; ``--any-kind`` posts a new kind on purpose, and a trace of a kind this
version does not know is kept and shown plainly, as from the network."""

from __future__ import annotations

from pathlib import Path

import pytest

from stig.crdt import kinds
from tests.cli.running import HEX64, fails, stig

KNOWN = ", ".join(kinds.KNOWN_KINDS)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    root = tmp_path / "home"
    stig(root, "init")
    return root


def test_a_mistyped_kind_is_refused_with_the_nearest_known_one(home: Path) -> None:
    said = fails(home, "post", "--kind", "calout", "Eviction at 7")
    assert said == (
        f"stig: unknown kind 'calout' — did you mean callout? (known: {KNOWN}; "
        "--any-kind posts a new kind deliberately)\n"
    )
    assert "did you mean report?" in fails(home, "post", "-k", "rapport", "x")
    # nothing near: no guess, the known kinds all the same
    said = fails(home, "post", "--kind", "zzzzzz", "x")
    assert said.startswith("stig: unknown kind 'zzzzzz' (known: callout,"), said
    posted = stig(home, "post", "a call-out").stdout.strip()
    assert "did you mean action?" in fails(home, "answer", posted, "--kind", "acton", "on it")
    assert "nothing alive here" not in stig(home, "feed").stdout
    assert len(stig(home, "feed", "--json").stdout.split('"id"')) == 2  # only the call-out


def test_any_kind_posts_a_new_kind_shown_plainly(home: Path) -> None:
    posted = stig(home, "post", "--kind", "petition", "--any-kind", "sign here").stdout.strip()
    assert HEX64.match(posted)
    shown = stig(home, "feed").stdout
    assert "petition (unknown kind)" in shown and "sign here" in shown
    answered = stig(home, "answer", posted, "--kind", "signature", "--any-kind", "signed").stdout
    assert HEX64.match(answered.strip())
    # still a valid kind or nothing: --any-kind does not let a malformed one through
    assert "bad_kind" in fails(home, "post", "--kind", "No way", "--any-kind", "x")
