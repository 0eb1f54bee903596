"""The onion key's address and tor form, without tor (tor itself checks them in
test_tor_control.py: it derives the same address from the key we give it)."""

from __future__ import annotations

import base64
import hashlib
import stat
from pathlib import Path

import multiaddr
import pytest
from hypothesis import given
from hypothesis import strategies as st
from nacl.signing import SigningKey

from stig.errors import TorError
from stig.net.tor.onion_key import OnionKey, address_of, is_onion_address

seeds = st.binary(min_size=32, max_size=32)


@given(seeds)
def test_an_address_is_56_base32_characters_that_check(seed: bytes) -> None:
    key = OnionKey(seed)
    assert len(key.address) == 56
    assert is_onion_address(key.address)
    raw = base64.b32decode(key.address.upper())
    assert raw[:32] == bytes(SigningKey(seed).verify_key)
    assert raw[34] == 3


@given(seeds, st.integers(0, 55))
def test_a_changed_character_fails_the_checksum(seed: bytes, position: int) -> None:
    address = OnionKey(seed).address
    other = "a" if address[position] != "a" else "b"
    changed = address[:position] + other + address[position + 1 :]
    assert not is_onion_address(changed)


def test_not_addresses() -> None:
    assert not is_onion_address("")
    assert not is_onion_address("A" * 56)
    assert not is_onion_address("a" * 55)
    assert not is_onion_address(OnionKey(bytes(32)).address + ".onion")


def test_a_known_address() -> None:
    # The public key of tor's rend-spec-v3 example (all zeros) gives this address; computed
    # independently of this module: base32(pk || sha3-256(".onion checksum"||pk||3)[:2] || 3).
    pk = bytes(32)
    checksum = hashlib.sha3_256(b".onion checksum" + pk + b"\x03").digest()[:2]
    expected = base64.b32encode(pk + checksum + b"\x03").decode().lower()
    assert address_of(pk) == expected
    assert expected.startswith("aaaaaaaa")


@given(seeds)
def test_tor_key_is_the_clamped_expanded_secret(seed: bytes) -> None:
    kind, blob = OnionKey(seed).tor_key()
    expanded = base64.b64decode(blob)
    assert kind == "ED25519-V3"
    assert len(expanded) == 64
    assert expanded[0] & 7 == 0
    assert expanded[31] & 0xC0 == 0x40
    assert expanded[32:] == hashlib.sha512(seed).digest()[32:]


def test_a_kept_key_keeps_its_address(tmp_path: Path) -> None:
    path = tmp_path / "onion.key"
    first = OnionKey.load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert OnionKey.load_or_create(path).address == first.address
    assert first.seed.hex() not in repr(first)


def test_a_damaged_key_file_says_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "onion.key"
    path.write_bytes(b"short")
    with pytest.raises(TorError, match="move it away") as caught:
        OnionKey.load_or_create(path)
    assert caught.value.reason == "bad_key"


def test_multiaddr_round_trip() -> None:
    from stig.net.tor.transport import parse_onion

    key = OnionKey(bytes(range(32)))
    maddr = multiaddr.Multiaddr(key.multiaddr(4001))
    assert multiaddr.Multiaddr(maddr.to_bytes()) == maddr
    assert parse_onion(maddr) == (key.address, 4001)
    with_peer = maddr.encapsulate(
        multiaddr.Multiaddr("/p2p/12D3KooWGRUyDv6wbvX6TabLLa6Li4WsFgsxqjXG2BwQ8sGEVj8b")
    )
    assert parse_onion(with_peer) == (key.address, 4001)


def test_the_transport_uses_a_socks_port_on_this_machine_only() -> None:
    from stig.net.tor.transport import OnionTransport

    with pytest.raises(TorError, match="only used on this machine") as caught:
        OnionTransport(("192.0.2.1", 9050))
    assert caught.value.reason == "not_loopback"
    onion = multiaddr.Multiaddr(OnionKey(bytes(32)).multiaddr(80))
    assert OnionTransport(("127.0.0.1", 9050)).can_dial(onion)
    assert not OnionTransport(("127.0.0.1", 9050)).can_dial(
        multiaddr.Multiaddr("/ip4/127.0.0.1/tcp/80")
    )


def test_a_bad_checksum_is_not_dialed() -> None:
    """multiaddr 0.2.0 takes any 56 base32 characters; the transport checks the checksum."""
    from libp2p.transport.exceptions import OpenConnectionError

    from stig.net.tor.transport import parse_onion

    address = OnionKey(bytes(32)).address
    broken = address[:-2] + ("ab" if address[-2:] != "ab" else "cd")
    maddr = multiaddr.Multiaddr(f"/onion3/{broken}:80")
    with pytest.raises(OpenConnectionError, match="not a valid v3 onion"):
        parse_onion(maddr)
