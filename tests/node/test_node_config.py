"""config.toml and the command line's network options (stig.node.config)."""

from __future__ import annotations

from pathlib import Path

import pytest

from stig.errors import UsageError
from stig.node.config import load_config, with_network

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
