"""Subjective moderation from the command line: mute, unmute, follow-mutes (issue: moderation
with no moderator). Three homes: a friend who publishes a mute, an abuser, and this device."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.running import HEX64, as_json, fails, stig

pytestmark = pytest.mark.timeout(600)


def key_of(home: Path) -> str:
    (persona,) = json.loads(stig(home, "id", "--json").stdout)
    return str(persona["public_key"])


def carry(source: Path, target: Path, tmp: Path) -> None:
    bundle = tmp / f"{source.name}-to-{target.name}.stig"
    stig(source, "export", str(bundle))
    stig(target, "import", str(bundle))


def feed_authors(home: Path, *args: str) -> list[str]:
    return [item["author"] for item in as_json(home, "feed", *args)]


@pytest.fixture
def homes(tmp_path: Path) -> tuple[Path, Path, Path]:
    made = []
    for name in ("friend", "abuser", "me"):
        stig(tmp_path / name, "init")
        made.append(tmp_path / name)
    return made[0], made[1], made[2]


def test_mute_an_author_and_a_tag_here_only(homes: tuple[Path, Path, Path], tmp_path: Path) -> None:
    friend, abuser, me = homes
    abuse = stig(abuser, "post", "-k", "callout", "-t", "bait", "hateful call-out").stdout.strip()
    assert HEX64.match(abuse)
    stig(friend, "post", "-k", "callout", "-t", "housing", "eviction at 7am").stdout.strip()
    carry(abuser, friend, tmp_path)
    stig(friend, "echo", abuse[:12])  # the friend's support, unwittingly
    carry(abuser, me, tmp_path)
    carry(friend, me, tmp_path)
    assert set(feed_authors(me)) == {key_of(abuser), key_of(friend)}

    abuser_key = key_of(abuser)
    done = stig(me, "mute", abuser_key[:12])
    assert "muted" in done.stdout and abuser_key[:12] in done.stdout
    assert feed_authors(me) == [key_of(friend)]
    assert as_json(me, "search", "hateful") == []
    assert "an author you muted" in fails(me, "show", abuse[:12])
    assert as_json(me, "mute", "--list") == {"authors": [abuser_key], "tags": [], "follows": []}
    # Nothing was deleted: unmuting shows it again.
    stig(me, "unmute", abuser_key)
    assert abuser_key in feed_authors(me)

    stig(me, "mute", "#Bait")
    assert feed_authors(me) == [key_of(friend)]
    assert as_json(me, "mute", "--list")["tags"] == ["bait"]
    stig(me, "unmute", "#bait")
    assert abuser_key in feed_authors(me)

    # Wipe erases the list with everything else.
    stig(me, "mute", abuser_key)
    assert (me / "mutes.json").exists()
    stig(me, "wipe", "--yes")
    assert not (me / "mutes.json").exists()


def test_follow_the_published_mutes_of_a_friend(
    homes: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    friend, abuser, me = homes
    abuse = stig(abuser, "post", "threats").stdout.strip()
    carry(abuser, friend, tmp_path)
    published = stig(
        friend, "mute", key_of(abuser)[:12], "--publish", "--reason", "threats", "--ref", abuse
    ).stdout
    assert "published mute" in published
    carry(friend, me, tmp_path)
    carry(abuser, me, tmp_path)
    third = tmp_path / "third"  # follows no one: still sees the abuser
    stig(third, "init")
    carry(friend, third, tmp_path)
    carry(abuser, third, tmp_path)

    assert key_of(abuser) in feed_authors(me)
    done = stig(me, "follow-mutes", key_of(friend))
    assert "1 author(s) hidden" in done.stdout
    assert key_of(abuser) not in feed_authors(me)
    assert key_of(abuser) in feed_authors(third)
    # The published mute is a trace like any other, shown when asked for by kind.
    (mute,) = as_json(me, "feed", "--kind", "mute")
    assert mute["body"].startswith(key_of(abuser))

    # Unmuting here does not override whom the friend muted; unfollowing does.
    assert "still hidden" in stig(me, "unmute", key_of(abuser)).stdout
    stig(me, "unfollow-mutes", key_of(friend))
    assert key_of(abuser) in feed_authors(me)


def test_mute_errors_say_what_to_do(homes: tuple[Path, Path, Path]) -> None:
    _, _, me = homes
    assert "is neither a persona, a name given here nor an author key" in fails(me, "mute", "zz")
    assert "no author of a trace here starts with" in fails(me, "mute", "abcdef0123")
    assert "one of your own personas" in fails(me, "mute", "me")
    assert "only go with --publish" in fails(me, "mute", "me", "--reason", "x")
    assert "nothing muted" in stig(me, "mute", "--list").stdout
