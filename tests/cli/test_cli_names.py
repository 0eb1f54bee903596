"""Petnames from the command line: `stig name`, `stig name --list`, `stig unname`. A name is
what this device calls an author's key: shown by feed, show and search (and `author_name` in
their JSON), taken by --author and mute, kept in <home>/names.json (0600), never sent, erased
by wipe. Own personas read by their persona name; a group's anonymous traces as "a member of
NAME"."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from tests.cli.running import as_json, fails, stig

pytestmark = pytest.mark.timeout(600)


def key_of(home: Path) -> str:
    (persona,) = json.loads(stig(home, "id", "--json").stdout)
    return str(persona["public_key"])


@pytest.fixture
def homes(tmp_path: Path) -> tuple[Path, Path]:
    ana, me = tmp_path / "ana", tmp_path / "me"
    stig(ana, "init")
    stig(me, "init")
    stig(ana, "post", "-k", "callout", "-t", "housing", "Eviction at rue X, 7am")
    bundle = tmp_path / "ana.stig"
    stig(ana, "export", str(bundle))
    stig(me, "import", str(bundle))
    return ana, me


def test_a_name_shows_wherever_an_author_does(homes: tuple[Path, Path], tmp_path: Path) -> None:
    ana, me = homes
    key = key_of(ana)
    mine = stig(me, "post", "my own note").stdout.strip()
    assert "by " + key[:12] in stig(me, "feed").stdout  # no name yet: the key's digits

    assert (
        stig(me, "name", key[:8], "zorblax").stdout
        == f"{key[:12]} is 'zorblax' here (never sent)\n"
    )
    feed = stig(me, "feed").stdout
    assert "by zorblax" in feed and "by me" in feed  # own persona by its persona name
    by_id = {item["id"]: item for item in as_json(me, "feed")}
    assert {item["author_name"] for item in by_id.values()} == {"zorblax", "me"}
    assert by_id[mine]["author_name"] == "me"
    (callout,) = [i for i in by_id if i != mine]
    assert "by zorblax" in stig(me, "show", callout[:8]).stdout
    assert as_json(me, "show", callout)["author_name"] == "zorblax"
    assert "by zorblax" in stig(me, "search", "eviction").stdout
    assert [i["author_name"] for i in as_json(me, "search", "eviction")] == ["zorblax"]
    assert [i["id"] for i in as_json(me, "feed", "--author", "zorblax")] == [callout]
    assert "muted" in stig(me, "mute", "zorblax").stdout  # a name where a key is asked for
    assert f"author  {key}  (zorblax)" in stig(me, "mute", "--list").stdout
    stig(me, "unmute", "zorblax")

    assert stig(me, "name", "--list").stdout == f"zorblax  {key}\n"
    assert as_json(me, "name", "--list") == [{"name": "zorblax", "author": key}]
    names = me / "names.json"
    assert stat.S_IMODE(names.stat().st_mode) == 0o600
    assert json.loads(names.read_text()) == {key: "zorblax"}

    # Never sent: what this device exports holds no name.
    bundle = tmp_path / "me.stig"
    stig(me, "export", str(bundle))
    assert b"zorblax" not in bundle.read_bytes()

    # Renaming, then forgetting.
    said = stig(me, "name", "zorblax", "ana").stdout
    assert said == f"{key[:12]} is 'ana' here, was 'zorblax' (never sent)\n"
    assert stig(me, "unname", "ana").stdout == f"{key[:12]} is no longer called 'ana' here\n"
    assert as_json(me, "show", callout)["author_name"] is None
    assert stig(me, "name", "--list").stdout.startswith("no names yet")

    stig(me, "name", key, "ana")
    stig(me, "wipe", "--yes")
    assert not names.exists()


def test_naming_mistakes_say_what_to_do(homes: tuple[Path, Path]) -> None:
    ana, me = homes
    key = key_of(ana)
    own = key_of(me)
    stig(me, "name", key[:8], "ana")
    stig(me, "id", "new", "ben")
    cases = [
        (("name", own, "myself"), f"{own[:12]} is your persona 'me': it shows by that name"),
        (("name", key, "ben"), "'ben' is one of your personas; choose another name"),
        (("name", key, "#housing"), "a name cannot start with '#'"),
        (("name", key, "deadbeef"), "'deadbeef' would read as the start of a key"),
        (("name", key, "two words"), "a name is one word of printable characters"),
        (("name", key, "x" * 33), "a name is 1 to 32 characters"),
        (("name", "0" * 8, "nobody"), "no author of a trace here starts with 00000000"),
        (("name", key[:8]), "give the author and a name"),
        (("name", "--list", key), "`stig name --list` takes nothing else"),
        (("name", key, "ana2", "--json"), "--json goes with --list"),
        (("unname", "nobody"), "no author is named 'nobody' here (`stig name --list`"),
    ]
    for args, message in cases:
        assert message in fails(me, *args), args
    assert f"'ana' already names {key[:12]}: `stig unname ana` first" in fails(
        me, "name", "1" * 64, "ana"
    )
    (me / "names.json").write_text("not json")
    (me / "names.json").chmod(0o600)
    assert "names.json is damaged" in fails(me, "feed")


def test_an_anonymous_group_trace_reads_as_a_member(tmp_path: Path) -> None:
    me = tmp_path / "me"
    stig(me, "init")
    stig(me, "group", "new", "crew")
    stig(me, "post", "--group", "crew", "--anonymous", "the van is ready")
    assert "by a member of crew" in stig(me, "feed", "--group", "crew").stdout
    (item,) = as_json(me, "feed", "--group", "crew")
    assert (item["anonymous"], item["author_name"], item["group"]) == (True, None, "crew")
