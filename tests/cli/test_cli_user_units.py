"""Mistakes told in the units a person wrote them in: a time to live in durations from the
bounds every node checks, a listen address in the multiaddr to write instead, an invite code
that was cut short, a group trace looked for in public; and a place given as lat,lon turned
into its coarse cell, saying which."""

from __future__ import annotations

from pathlib import Path

import pytest

from stig.crdt.bounds import MAX_TTL, MIN_TTL
from stig.readable import span
from tests.cli.running import HEX64, as_json, fails, stig


@pytest.fixture
def home(tmp_path: Path) -> Path:
    root = tmp_path / "home"
    stig(root, "init")
    return root


def test_a_time_to_live_out_of_bounds_is_told_in_durations(home: Path) -> None:
    assert span(MAX_TTL) == "30d" and span(MIN_TTL) == "1s"  # the words come from the bounds
    said = fails(home, "post", "--ttl", "45d", "too long")
    assert said == (
        "stig: --ttl 45d: the time to live must be at most 30d "
        "(echoes and answers by others extend it, up to 90d)\n"
    )
    assert fails(home, "post", "--ttl", "0", "gone at once") == (
        "stig: --ttl 0: the time to live must be at least 1s\n"
    )
    posted = stig(home, "post", "--ttl", "30d", "as long as can be").stdout.strip()
    assert "at most 30d" in fails(home, "echo", posted, "--ttl", "5w")
    assert [item["body"] for item in as_json(home, "feed")] == ["as long as can be"]


def test_a_host_and_port_is_answered_with_the_multiaddr_to_write(home: Path) -> None:
    said = fails(home, "node", "--listen", "127.0.0.1:4800")
    assert said == (
        "stig: --listen: '127.0.0.1:4800' is host:port; stig takes a multiaddr: "
        "write /ip4/127.0.0.1/tcp/4800\n"
    )
    assert "write /ip6/::1/tcp/4800" in fails(home, "relay", "--listen", "[::1]:4800")
    said = fails(home, "node", "--bootstrap", "192.0.2.7:4737")
    assert "/ip4/192.0.2.7/tcp/4737/p2p/<peer id> (`stig addr` on that node" in said
    (home / "config.toml").write_text('[network]\nlisten = ["0.0.0.0:4737"]\n')
    (home / "config.toml").chmod(0o600)
    said = fails(home, "node")
    assert "network.listen: '0.0.0.0:4737' is host:port" in said
    assert "write /ip4/0.0.0.0/tcp/4737" in said


def test_an_invite_code_cut_short_says_so(home: Path) -> None:
    stig(home, "group", "new", "crew")
    code = stig(home, "group", "invite", "crew", "--json").stdout.split('"code": "')[1][:78]
    for cut in (code[:-1], code[:-7], code[:30]):
        said = fails(home, "group", "join", cut, "--name", "again")
        assert "the invite code is cut short (" in said and "copy it again, whole" in said
    assert "too long" in fails(home, "group", "join", code + "aa", "--name", "again")


def test_a_group_trace_looked_for_in_public_hints_its_group(home: Path) -> None:
    stig(home, "group", "new", "crew")
    sealed = stig(home, "post", "--group", "crew", "in the group").stdout.strip()
    public = stig(home, "post", "for everyone").stdout.strip()
    assert fails(home, "show", sealed[:10]) == (
        f"stig: no public trace here starts with {sealed[:10]}, "
        "but one in group crew does: --group crew\n"
    )
    assert "but one in group crew does: --group crew" in fails(home, "echo", sealed)
    assert "but a public one does: drop --group" in fails(
        home, "show", "--group", "crew", public[:10]
    )
    absent = "0" * 64 if not (sealed + public).startswith("0") else "f" * 64
    assert "no trace in group crew here starts with" in fails(home, "show", "-g", "crew", absent)
    assert "in the group" in stig(home, "show", "--group", "crew", sealed[:10]).stdout


def test_a_place_as_lat_lon_becomes_its_coarse_cell(home: Path) -> None:
    done = stig(home, "post", "--place", "48.8566,2.3522", "near the Seine")
    assert HEX64.match(done.stdout.strip())  # still only the id on stdout
    assert done.stderr == (
        "stig: --place 48.8566,2.3522 is the city-sized geohash cell u09t; only the cell is used\n"
    )
    assert [item["place"] for item in as_json(home, "feed")] == ["u09t"]
    found = stig(home, "feed", "--place", "48.85,2.35", "--json")
    assert "cell u09t" in found.stderr and '"place": "u09t"' in found.stdout
    assert "latitude 95 is not between -90 and 90" in fails(home, "post", "--place", "95,2", "x")
    assert "bad_place" in fails(home, "post", "--place", "u09tv", "finer than allowed")
