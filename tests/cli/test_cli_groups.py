"""The real ``stig`` command, run as a subprocess: affinity groups (`stig group ...` and
``--group`` on the commands that post and read), carried between homes by bundle files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.cli.running import HEX64, as_json, fails, stig


def init(*homes: Path) -> None:
    for home in homes:
        stig(home, "init")


def post(home: Path, *args: str) -> str:
    printed = stig(home, *args).stdout.strip()
    assert HEX64.match(printed), printed
    return printed


def invite(home: Path, name: str) -> str:
    shown = as_json(home, "group", "invite", name)
    assert shown["group"] == name and shown["code"].startswith("stig-group1-")
    code: str = shown["code"]
    return code


def carry(source: Path, *targets: Path) -> None:
    bundle = source.parent / f"{source.name}.stig"
    stig(source, "export", str(bundle))
    for target in targets:
        stig(target, "import", str(bundle))


def bodies(items: list[dict[str, Any]]) -> set[str]:
    return {item["body"] for item in items}


def test_invite_join_post_read_across_homes(tmp_path: Path) -> None:
    ana, ben, cy = tmp_path / "ana", tmp_path / "ben", tmp_path / "cy"
    init(ana, ben, cy)
    stig(ana, "group", "new", "crew")
    code = invite(ana, "crew")
    shown = stig(ana, "group", "invite", "crew").stdout.splitlines()
    assert shown[0] == code and any("▄" in line or "▀" in line for line in shown)  # the QR
    joined = stig(ben, "group", "join", code).stdout
    name = joined.split()[2].rstrip(":")  # a default name: group- and hex, nothing of ana's
    assert re.fullmatch(r"group-[0-9a-f]{6}", name), joined
    stig(cy, "group", "new", "other")

    plan = post(ana, "post", "--group", "crew", "-k", "callout", "-t", "j20", "meet at dawn")
    anon = post(ana, "post", "--group", "crew", "--anonymous", "the van is ready")
    carry(ana, ben, cy)
    assert b"dawn" not in (tmp_path / "ana.stig").read_bytes()  # sealed in the bundle too
    answer = post(ben, "answer", "--group", name, plan[:8], "on our way")

    feed = as_json(ben, "feed", "--group", name)
    assert bodies(feed) == {"meet at dawn", "the van is ready", "on our way"}
    by_id = {item["id"]: item for item in feed}
    assert by_id[anon]["anonymous"] and not by_id[plan]["anonymous"]
    assert by_id[plan]["answers"] == 1 and by_id[plan]["group"] == name
    assert by_id[answer]["refs"] == [plan] and by_id[answer]["kind"] == "action"
    assert by_id[plan]["tags"] == ["j20"] and by_id[plan]["kind"] == "callout"
    assert f"by a member of {name}" in stig(ben, "show", "--group", name, anon[:10]).stdout
    thread = stig(ben, "show", "--group", name, plan).stdout
    assert "by me" not in thread.split("answered by:")[0]  # ana's, not ben's own
    assert "on our way" in thread.split("answered by:")[1]
    assert "by me" in stig(ana, "show", "--group", "crew", plan).stdout
    assert [i["id"] for i in as_json(ben, "search", "--group", name, "van")] == [anon]

    # Outside the group: nothing readable anywhere, and no error.
    assert as_json(ben, "feed") == [] and as_json(ana, "feed") == []
    envelopes = as_json(ben, "feed", "--kind", "sealed")
    assert len(envelopes) == 3 and not bodies(envelopes) & bodies(feed)
    # One-time envelope authors: none is a persona or the group's anonymous key.
    assert not {item["author"] for item in envelopes} & {item["author"] for item in feed}
    assert "nothing alive in group other" in stig(cy, "feed", "--group", "other").stdout


def test_errors_fork_leave_wipe(tmp_path: Path) -> None:
    ana, ben = tmp_path / "ana", tmp_path / "ben"
    init(ana, ben)
    stig(ana, "group", "new", "crew")
    code = invite(ana, "crew")
    damaged = code[:20] + ("a" if code[20] != "a" else "b") + code[21:]
    for bad, says in (
        (code[:-6], "cut short"),
        (damaged, "damaged"),
        ("stig-group2-" + code[12:], "starts with 'stig-group1-'"),
        ("stig-group1-#?!", "cannot be in one"),
        (code, "in that group already, as 'crew'"),
    ):
        assert says in fails(ana, "group", "join", bad, "--name", "again")
    assert "exists already" in fails(ana, "group", "new", "crew")
    assert "not a valid group name" in fails(ana, "group", "new", "Crew Two")
    assert "no group named 'nope'" in fails(ana, "post", "--group", "nope", "hello")
    assert "--group" in fails(ana, "post", "--anonymous", "hello")
    assert "at most 29 days" in fails(ana, "post", "--group", "crew", "--ttl", "30d", "hi")
    stig(ben, "group", "join", code, "--name", "crew")
    before = post(ana, "post", "--group", "crew", "before the fork")
    forked = stig(ana, "group", "fork", "crew").stdout
    new_code = forked.splitlines()[0]
    assert new_code.startswith("stig-group1-") and "from now on" in forked
    after = post(ana, "post", "--group", "crew", "after the fork")
    carry(ana, ben)
    # ben kept the old key: he reads what was sealed before the fork, not after.
    assert [i["id"] for i in as_json(ben, "feed", "--group", "crew")] == [before]
    stig(ben, "group", "join", new_code, "--name", "fork")
    assert [i["id"] for i in as_json(ben, "feed", "--group", "fork")] == [after]
    assert {i["id"] for i in as_json(ana, "feed", "--group", "crew")} == {before, after}

    key = ben / "groups" / "crew" / "key.json"
    assert key.exists()
    stig(ben, "group", "leave", "crew", code=2)  # no terminal to ask: --yes is needed
    assert key.exists()
    stig(ben, "group", "leave", "crew", "--yes")
    assert not (ben / "groups" / "crew").exists()
    assert as_json(ben, "group", "list") == [{"group": "fork"}]
    assert "no group named 'crew'" in fails(ben, "feed", "--group", "crew")

    stig(ana, "wipe", "--yes")
    assert not (ana / "groups").exists()
