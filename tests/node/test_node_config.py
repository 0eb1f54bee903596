"""config.toml and the command line's network options (stig.node.config)."""

from __future__ import annotations

from pathlib import Path

import pytest

from stig.errors import UsageError
from stig.node.config import add_bootstrap, load_config, with_network

PEER = "/ip4/198.51.100.7/tcp/4737/p2p/12D3KooWB533We1MxvSsv2t4SaYjNGPnBRXDECx7esP1PfjZrUNw"


def written(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_bootstrap_peers_from_the_file_and_the_command_line_add_up(tmp_path: Path) -> None:
    config = load_config(written(tmp_path, f'[network]\nbootstrap = ["{PEER}"]\n'))
    other = PEER.replace("198.51.100.7", "198.51.100.8")
    merged = with_network(config, bootstrap=(other, PEER))
    assert merged.network.bootstrap == (PEER, other)


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("/ip4/1.2.3/garbage", "is not a multiaddr"),
        ("hello", "is not a multiaddr"),
        ("/ip4/198.51.100.7/tcp/4737", "not a full peer address"),
        ("/p2p/12D3KooWB533We1MxvSsv2t4SaYjNGPnBRXDECx7esP1PfjZrUNw", "not a full peer address"),
        ("", "not a full peer address"),
    ],
)
def test_a_bad_bootstrap_address_is_refused_where_it_was_written(
    tmp_path: Path, address: str, why: str
) -> None:
    path = written(tmp_path, f'[network]\nbootstrap = ["{address}"]\n')
    with pytest.raises(UsageError, match=why) as caught:
        load_config(path)
    assert f"{path}: network.bootstrap" in str(caught.value)
    with pytest.raises(UsageError, match=why) as caught:
        with_network(load_config(tmp_path / "absent.toml"), bootstrap=(address,))
    assert str(caught.value).startswith("--bootstrap")


def test_a_relay_raises_its_connection_cap_and_a_cap_below_one_is_refused(
    tmp_path: Path,
) -> None:
    assert load_config(tmp_path / "absent.toml").network.max_connections == 32
    config = load_config(written(tmp_path, "[network]\nmax_connections = 5000\n"))
    assert config.network.max_connections == 5000
    for bad in ("0", '"many"', "2.5"):
        path = written(tmp_path, f"[network]\nmax_connections = {bad}\n")
        with pytest.raises(UsageError, match=r"network\.max_connections"):
            load_config(path)


ONION = (
    "/onion3/5vesrrri2hbmn2xjam4jawmvmeuvsjz2lrr7snrwyfdbjlehg7iuvmyd:4737"
    "/p2p/12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq"
)


def test_the_tor_section_and_the_command_line_mode(tmp_path: Path) -> None:
    config = load_config(
        written(
            tmp_path,
            '[tor]\nmode = "tor"\ncontrol = "127.0.0.1:9051"\nonion_key = "fresh"\n'
            f'onion_port = 4800\n[network]\nbootstrap = ["{ONION}"]\n',
        )
    )
    assert (config.tor.mode, config.tor.control, config.tor.onion_key) == (
        "tor",
        "127.0.0.1:9051",
        "fresh",
    )
    assert config.tor.onion_port == 4800 and not config.tor.only
    assert with_network(config, tor="tor-only").tor.only
    assert load_config(written(tmp_path, "")).tor.mode == "off"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ('[tor]\nmode = "onion"\n', "tor.mode must be one of off, tor, tor-only"),
        ('[tor]\nonion_key = "new"\n', "tor.onion_key must be one of kept, fresh"),
        ("[tor]\nonion_port = 0\n", "tor.onion_port must be a port"),
        ("[tor]\nsocks = 9050\n", "tor.socks"),
        ('[tor]\nmode = "tor-only"\n[network]\nlan = true\n', "mDNS"),
        (
            '[tor]\nmode = "tor-only"\n[network]\nlisten = ["/ip4/0.0.0.0/tcp/4737"]\n',
            "listens as an onion service only",
        ),
    ],
)
def test_a_tor_setting_that_cannot_work_is_refused_in_words(
    tmp_path: Path, text: str, why: str
) -> None:
    with pytest.raises(UsageError, match=why):
        load_config(written(tmp_path, text))


def test_tor_only_refuses_lan_and_clearnet_peers_given_on_the_command_line(
    tmp_path: Path,
) -> None:
    config = load_config(written(tmp_path, ""))
    with pytest.raises(UsageError, match="mDNS"):
        with_network(config, lan=True, tor="tor-only")
    with pytest.raises(UsageError, match="dials onion addresses only"):
        with_network(config, bootstrap=(PEER,), tor="tor-only")
    # An onion peer is fine, and a clearnet one already in config.toml (an invite carried it
    # beside an onion) is kept for the node to skip, not an error that locks the home.
    kept = load_config(written(tmp_path, f'[network]\nbootstrap = ["{PEER}"]\n'))
    both = with_network(kept, bootstrap=(ONION,), tor="tor-only")
    assert both.network.bootstrap == (PEER, ONION)


JOINING = "/ip4/198.18.0.9/tcp/4737/p2p/12D3KooWPaU6p1BCEEPhCZ724vZotwf67GkkwLhBcxbYnoLZxmVE"
JOINING_TOO = "/ip4/198.18.0.10/tcp/4737/p2p/12D3KooWPaU6p1BCEEPhCZ724vZotwf67GkkwLhBcxbYnoLZxmVE"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "# my node\n[network]\n# on the home LAN\nlan = true\n",
        "[network]\nbootstrap = [] # none yet\n",
        "network.lan = false # dotted keys\n",
        f'[network]\nbootstrap = [\n  # the first relay\n  "{JOINING}",\n]\n',
    ],
)
def test_connect_adds_peers_and_keeps_the_files_comments(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config.toml"
    if text:
        path.write_text(text)
    before = load_config(path).network.bootstrap if text else ()
    added = add_bootstrap(path, [JOINING, JOINING_TOO, JOINING])
    assert added == [a for a in (JOINING, JOINING_TOO) if a not in before]
    now = load_config(path).network.bootstrap
    assert now == tuple(dict.fromkeys((*before, JOINING, JOINING_TOO)))
    written = path.read_text()
    for line in text.splitlines():
        if "#" in line:
            assert line[line.index("#") :] in written  # every comment is still there
    assert add_bootstrap(path, [JOINING_TOO]) == []  # nothing twice
