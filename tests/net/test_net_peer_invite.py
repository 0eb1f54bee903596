"""Peer invites (docs/protocol.md §8.9): the documented vector, and codes that must be refused
with a message that says what to do."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stig.net.peer_invite import (
    MAX_INVITE_ADDRESSES,
    PeerInviteError,
    peer_invite,
    read_peer_invite,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def vector() -> tuple[list[str], str]:
    text = DOC.read_text(encoding="utf-8")
    (block,) = re.findall(r"```stig-peer-invite-vector\n(.*?)```", text, re.S)
    addresses = [line.split(": ", 1)[1] for line in block.splitlines() if line.startswith("addr")]
    (code,) = [line.split(": ", 1)[1] for line in block.splitlines() if line.startswith("code")]
    return addresses, code


def test_the_documented_vector_holds() -> None:
    addresses, code = vector()
    assert peer_invite(addresses) == code
    assert read_peer_invite(code) == addresses
    assert read_peer_invite(code.upper()) == addresses  # as scanned from the QR code


def test_the_documented_onion_vector_holds() -> None:
    """§8.10: an onion address from its key, in text and binary, and in a peer invite."""
    import multiaddr  # type: ignore[import-untyped]

    from stig.net.tor.onion_key import OnionKey

    text = DOC.read_text(encoding="utf-8")
    (block,) = re.findall(r"```stig-onion-vector\n(.*?)```", text, re.S)
    pairs = [line.split(": ", 1) for line in block.splitlines() if ": " in line]
    fields = dict(pairs)
    key = OnionKey(bytes.fromhex(fields["seed"]))
    assert key.public_key.hex() == fields["public key"]
    assert key.multiaddr(4737) == fields["multiaddr"]
    assert multiaddr.Multiaddr(fields["multiaddr"]).to_bytes().hex() == fields["binary"]
    addresses = [value for name, value in pairs if name == "address"]
    assert addresses[0].startswith(fields["multiaddr"] + "/p2p/")
    assert peer_invite(addresses) == fields["code"]
    assert read_peer_invite(fields["code"]) == addresses


@given(st.integers(0, 255), st.integers(11, 200))
def test_a_damaged_code_is_refused_never_misread(flip: int, where: int) -> None:
    _, code = vector()
    where = min(where, len(code) - 1)
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    damaged = code[:where] + alphabet[flip % 32] + code[where + 1 :]
    if damaged == code:
        return
    with pytest.raises(PeerInviteError):
        read_peer_invite(damaged)


def test_at_most_four_addresses_and_only_the_first_peers() -> None:
    addresses, _ = vector()
    many = [addresses[1].replace("198.18.0.11", f"198.18.0.{i}") for i in range(1, 9)]
    assert len(read_peer_invite(peer_invite(many))) == MAX_INVITE_ADDRESSES
    with pytest.raises(PeerInviteError, match="no address"):
        peer_invite([])
    with pytest.raises(PeerInviteError, match="starts with"):
        read_peer_invite("stig-group1-aaaa")


@given(st.integers(1, 200))
def test_a_code_copied_short_says_it_is_cut_short(cut: int) -> None:
    _, code = vector()
    short = code[: max(len("stig-peer1-") + 1, len(code) - cut)]
    with pytest.raises(PeerInviteError, match="cut short"):
        read_peer_invite(short)


def test_addresses_no_invite_can_carry_are_refused_with_the_reason() -> None:
    # The in-memory twin's addresses, for one: the Peers page shows why there is no invite.
    with pytest.raises(PeerInviteError, match="is not a libp2p peer id"):
        peer_invite(["/memory/me/p2p/memec3e6f46408ed723"])
    with pytest.raises(PeerInviteError, match="is not a multiaddr"):
        peer_invite(["/memory/me/p2p/12D3KooWPaU6p1BCEEPhCZ724vZotwf67GkkwLhBcxbYnoLZxmVE"])
