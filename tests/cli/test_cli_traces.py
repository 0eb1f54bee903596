"""The real ``stig`` command, run as a subprocess: post, feed, show, search, the responses
(answer, echo, confirm, dispute, retract, burn), export, import and gc."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest

from tests.cli.running import HEX64, as_json, fails, stig

# About thirty runs of the real command each: on a loaded machine one run can take seconds, so
# the bound is for a hang, not for a slow machine.
pytestmark = pytest.mark.timeout(600)

FEED_FIELDS = {
    "id", "kind", "author", "created", "expires", "tags", "place", "refs", "body",
    "effective_expires", "intensity", "answers", "echoes", "confirms", "disputes", "author_name",
}  # fmt: skip
# The clock seam (stig.node.clock) instead of waiting: a process a minute behind or ahead.
BEHIND = {"STIG_CLOCK_OFFSET": "-60"}
AHEAD = {"STIG_CLOCK_OFFSET": "60"}


def post(home: Path, *args: str, stdin: str = "", env: dict[str, str] | None = None) -> str:
    """Run a command that leaves a trace; return the id it prints."""
    printed = stig(home, *args, stdin=stdin, env=env).stdout.strip()
    assert HEX64.match(printed), printed
    return printed


def responded(home: Path, *args: str) -> str:
    """Run echo, confirm or dispute; check the line it prints (what was done to which trace)
    and return the new trace's id."""
    printed = stig(home, *args).stdout
    done, target, _, noun, _, new = printed.split()
    verb = {"echo": "echoed", "confirm": "confirmed", "dispute": "disputed"}[args[0]]
    assert (done, noun) == (verb, {"echo": "echo", "confirm": "confirmation"}.get(args[0], args[0]))
    assert args[1].startswith(target.rstrip(":")) or target.rstrip(":").startswith(args[1])
    assert HEX64.match(new), printed
    return new


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    root = tmp_path / "home"
    stig(root, "init")
    return root


def test_post_read_respond_retract(home: Path) -> None:
    callout = post(
        home, "post", "Eviction at rue X, 7am", "-k", "callout", "-t", "Housing", "-t", "#J20",
        "--place", "U09T", "--ttl", "2d",
    )  # fmt: skip
    # The letter is written a minute earlier (its clock behind), so the action is strictly
    # newer: posted back to back they may share a second, and then only their ids order them.
    letter = post(
        home, "post", "-t", "prison", "--ttl", "3d", stdin="a letter\nfrom prison\n",
        env=BEHIND,
    )  # fmt: skip
    ben = stig(home, "id", "new", "ben").stdout.split()[1]
    cy = stig(home, "id", "new", "cy").stdout.split()[1]
    action = post(home, "answer", callout[:8], "we are on our way", "-p", "ben")
    responded(home, "echo", callout, "-p", "cy")
    responded(home, "confirm", callout[:8], "-p", "ben")
    responded(home, "dispute", callout, "-p", "cy")

    feed = as_json(home, "feed")
    # Most reinforced first; no meta kinds. The action and the letter have one supporter each,
    # so they follow the feed's tie-breaks: newer first (the action), then by id.
    assert ids(feed) == [callout, action, letter]
    rest = feed[1:]
    assert rest == sorted(rest, key=lambda i: (-i["intensity"], -i["created"], i["id"]))
    assert all(set(item) == FEED_FIELDS for item in feed)
    top, answer, note = feed
    assert (top["kind"], top["tags"], top["place"], top["refs"]) == (
        "callout", ["housing", "j20"], "u09t", [],
    )  # fmt: skip
    assert top["body"] == "Eviction at rue X, 7am"
    assert (top["answers"], top["echoes"], top["confirms"], top["disputes"]) == (1, 1, 1, 1)
    assert 2.9 < top["intensity"] <= 3.0  # its author, ben (action + confirm) and cy's echo
    assert top["expires"] == top["created"] + 2 * 86400
    # Reinforced: the supporters' own 7 days outlive the call-out's 2.
    assert top["effective_expires"] >= top["created"] + 7 * 86400 > top["expires"]
    assert (answer["kind"], answer["refs"], answer["author"]) == ("action", [callout], ben)
    assert note["body"] == "a letter\nfrom prison"
    assert note["expires"] - note["created"] == 3 * 86400
    assert 0.99 < note["intensity"] <= 1.0

    meta = as_json(home, "feed", "--kind", "echo", "--kind", "dispute", "--author", cy)
    assert sorted(item["kind"] for item in meta) == ["dispute", "echo"]
    where = ("--tag", "#HOUSING", "--tag", "j20", "--place", "u0", "--kind", "callout")
    assert ids(as_json(home, "feed", *where)) == [callout]
    assert ids(as_json(home, "feed", "--author", "ben")) == [action]

    shown = as_json(home, "show", callout[:10])
    assert (shown["id"], shown["hidden"], shown["answers_to"]) == (callout, False, [])
    assert ids(shown["answered_by"]) == [action]
    shown = as_json(home, "show", action)
    assert [ref["id"] for ref in shown["answers_to"]] == [callout]
    assert shown["answers_to"][0]["trace"]["body"] == "Eviction at rue X, 7am"
    assert shown["answered_by"] == []
    text = stig(home, "show", callout).stdout
    assert f"id {callout}" in text and "answered by:" in text and action[:12] in text
    assert "1 answer, 1 echo, 1 confirmation, 1 dispute" in text

    assert ids(as_json(home, "search", "eviction")) == [callout]

    assert "only the author of a trace can retract it" in fails(
        home, "retract", callout, "-p", "ben"
    )
    post(home, "retract", callout)
    hidden = as_json(home, "show", callout)
    assert hidden == {
        "id": callout, "hidden": True, "kind": "callout", "author": top["author"],
        "created": top["created"], "author_name": "me",
    }  # fmt: skip
    assert ids(as_json(home, "feed")) == [action, letter]
    assert as_json(home, "show", action)["answers_to"] == [{"id": callout, "trace": None}]
    assert "retracted by its author" in fails(home, "echo", callout, "-p", "cy")
    assert stig(home, "search", "eviction").stdout == "no live trace matches\n"


def test_burn(home: Path) -> None:
    mine = [post(home, "post", "first"), post(home, "post", "second", "-k", "callout")]
    stig(home, "id", "new", "ben")
    theirs = post(home, "post", "not mine", "-p", "ben")

    refused = stig(home, "burn", code=2)
    assert "needs confirmation: add --yes" in refused.stderr
    assert sorted(ids(as_json(home, "feed"))) == sorted([*mine, theirs])

    assert stig(home, "burn", "--yes").stdout.startswith("burned: ")
    assert ids(as_json(home, "feed")) == [theirs]
    assert as_json(home, "show", mine[0])["hidden"] is True


def test_export_import_gc(home: Path, tmp_path: Path) -> None:
    fading = post(home, "post", "gone in a second", "--ttl", "1s")
    kept = [
        post(home, "post", "call-out", "-k", "callout", "-t", "housing"),
        post(home, "post", "report", "-k", "report"),
    ]
    stig(home, "id", "new", "ben")
    echo = responded(home, "echo", kept[0], "-p", "ben")
    other = tmp_path / "other"
    stig(other, "init", "--quiet")
    bundle = tmp_path / "carry.stig"

    # A minute on, ``fading`` has expired and nothing else is near its end: no waiting for it.
    exported = stig(home, "export", str(bundle), env=AHEAD).stdout
    assert exported == f"exported 3 traces to {bundle}\n"
    small = tmp_path / "housing.stig"
    assert stig(home, "export", str(small), "-t", "housing", env=AHEAD).stdout.startswith(
        "exported 1 "
    )

    report = as_json(other, "import", str(bundle))
    assert report == {
        "accepted": 3, "duplicates": 0, "rejected": {}, "rejections": [], "omitted": {}
    }  # fmt: skip
    feed = as_json(other, "feed", "--kind", "callout", "--kind", "report", "--kind", "echo")
    assert sorted(ids(feed)) == sorted([*kept, echo])
    assert next(item for item in feed if item["id"] == kept[0])["echoes"] == 1

    # A bundle with junk in it: the valid trace before the junk is still counted. The junk is
    # shorter than any trace: refused by its length (docs/protocol.md §7).
    damaged = tmp_path / "damaged.stig"
    raw = small.read_bytes()
    junk = b"\xc1 not a trace"
    damaged.write_bytes(raw + struct.pack(">I", len(junk)) + junk)
    report = as_json(other, "import", str(damaged))
    [rejection] = report["rejections"]
    assert rejection["detail"] == f"{len(junk)} bytes, the smallest trace is 111"
    assert report == {
        "accepted": 0,
        "duplicates": 1,
        "rejected": {"too_small": 1},
        "rejections": [{**rejection, "at": f"byte {len(raw)}", "reason": "too_small"}],
        "omitted": {"too_small": 0},
    }
    done = stig(other, "import", str(damaged))
    assert done.stdout.startswith("accepted 0, duplicate 1, rejected 1 (too_small 1)")
    assert f"rejected byte {len(raw)}: too_small:" in done.stderr

    assert stig(home, "gc", env=AHEAD).stdout == "removed 1 expired traces\n"
    assert "no trace here starts with" in fails(home, "show", fading)


def test_echo_confirm_dispute_say_what_they_did_and_refuse_ones_own(home: Path) -> None:
    """A persona's own echo, confirmation or dispute would count for nothing (support and
    counts are by other authors): refused, saying so; another persona of the home is another
    author. The three print a line for a person; post and answer print only the id."""
    mine = post(home, "post", "-k", "callout", "mine")
    said = fails(home, "echo", mine)
    assert said == (
        f"stig: trace {mine[:12]} was posted by persona 'me' itself, and an echo counts only "
        "from other people: it would neither raise its intensity nor extend its life; "
        "nothing was posted\n"
    )
    assert "a confirmation counts only from other people" in fails(home, "confirm", mine[:8])
    said = fails(home, "dispute", mine)
    assert (
        f"a dispute counts only from other people; to take it back, `stig retract {mine[:12]}`"
        in said
    )
    assert as_json(home, "feed", "--kind", "echo", "--kind", "confirm", "--kind", "dispute") == []

    stig(home, "id", "new", "ben")
    done = stig(home, "echo", mine[:8], "-p", "ben").stdout
    assert done.startswith(f"echoed {mine[:12]}: the echo is ") and HEX64.match(done.split()[-1])
    assert stig(home, "confirm", mine, "-p", "ben").stdout.startswith(
        f"confirmed {mine[:12]}: the confirmation is "
    )
    assert as_json(home, "show", mine)["echoes"] == 1
    stig(home, "group", "new", "crew")
    inside = post(home, "post", "--group", "crew", "in the group")
    assert "counts only from other people" in fails(home, "echo", "--group", "crew", inside)
