"""Peer invites (docs/protocol.md §8.9): a short text code, and its QR code, that carries the
addresses at which a node can be reached — its own when it is public, its circuit addresses
through relays when it is behind NAT — so that meeting in person is enough to join the mesh.

``stig-peer1-`` then base32 (lower case, no padding) of::

    body  = version (u8, 1) || id length (u8) || peer id (binary) || count (u8, 1..4)
            || count × (length (u8) || multiaddr (binary, without the final /p2p/<peer id>))
    code  = body || first 4 bytes of BLAKE2b-256(body)

The peer id is written once; every address is a full address once ``/p2p/<peer id>`` is put
back. The check catches copying errors, not forgeries: a code only says where to dial, and
the Noise handshake proves the peer id at the other end.
"""

from __future__ import annotations

import base64
import hashlib

import multiaddr  # type: ignore[import-untyped]
from libp2p.peer.id import ID

from stig.errors import StigError

PEER_INVITE_PREFIX = "stig-peer1-"
PEER_INVITE_VERSION = 1
MAX_INVITE_ADDRESSES = 4
_CHECK_BYTES = 4
_BASE32 = frozenset("abcdefghijklmnopqrstuvwxyz234567")


class PeerInviteError(StigError):
    """A peer invite code that cannot be read; the message says what is wrong with it."""


def peer_invite(addresses: list[str]) -> str:
    """The code for ``addresses`` (full addresses of one peer; the first MAX_INVITE_ADDRESSES)."""
    if not addresses:
        raise PeerInviteError("no address to put in an invite: is the node reachable?")
    peer = addresses[0].rsplit("/p2p/", 1)[-1]
    suffix = f"/p2p/{peer}"
    chosen = [a for a in addresses if a.endswith(suffix)][:MAX_INVITE_ADDRESSES]
    try:
        peer_bytes = ID.from_base58(peer).to_bytes()
    except ValueError as exc:
        raise PeerInviteError(f"{peer!r} is not a libp2p peer id: no invite carries it") from exc
    body = bytearray([PEER_INVITE_VERSION, len(peer_bytes)]) + peer_bytes + bytes([len(chosen)])
    for address in chosen:
        try:
            packed = multiaddr.Multiaddr(address.removesuffix(suffix)).to_bytes()
        except ValueError as exc:
            raise PeerInviteError(f"{address} is not a multiaddr: no invite carries it") from exc
        if len(packed) > 255:
            raise PeerInviteError(f"{address} is too long for an invite")
        body += bytes([len(packed)]) + packed
    check = hashlib.blake2b(bytes(body), digest_size=32).digest()[:_CHECK_BYTES]
    return PEER_INVITE_PREFIX + base64.b32encode(bytes(body) + check).decode().rstrip("=").lower()


def is_peer_invite(text: str) -> bool:
    return "".join(text.split()).lower().startswith(PEER_INVITE_PREFIX)


def read_peer_invite(code: str) -> list[str]:
    """The full addresses in a peer invite code; PeerInviteError saying what is wrong."""
    text = "".join(code.split()).lower()
    if not text.startswith(PEER_INVITE_PREFIX):
        raise PeerInviteError(f"a peer invite starts with {PEER_INVITE_PREFIX!r}")
    data = text.removeprefix(PEER_INVITE_PREFIX)
    if not data or any(c not in _BASE32 for c in data):
        raise PeerInviteError("the invite has characters that cannot be in one; copy it again")
    try:
        raw = base64.b32decode(data.upper() + "=" * (-len(data) % 8))
    except ValueError as exc:
        raise PeerInviteError("the invite is cut short or too long; copy it again, whole") from exc
    body, check = raw[:-_CHECK_BYTES], raw[-_CHECK_BYTES:]
    checked = (
        len(body) >= 3 and hashlib.blake2b(body, digest_size=32).digest()[:_CHECK_BYTES] == check
    )
    if not checked and _cut_short(raw):
        raise PeerInviteError("the invite is cut short; copy it again, whole")
    if base64.b32encode(raw).decode().rstrip("=").lower() != data:
        # Unused low bits of the last character set: one code, one spelling.
        raise PeerInviteError("the invite is damaged at its end; copy it again")
    if not checked:
        raise PeerInviteError("the invite is damaged (its check does not match); copy it again")
    if body[0] != PEER_INVITE_VERSION:
        raise PeerInviteError(f"invite version {body[0]} is not known here: upgrade stig")
    try:
        at = 2 + body[1]
        peer = ID(body[2:at]).to_base58()
        count, at = body[at], at + 1
        if not 1 <= count <= MAX_INVITE_ADDRESSES:
            raise ValueError(f"{count} addresses")
        addresses = []
        for _ in range(count):
            size = body[at]
            packed = body[at + 1 : at + 1 + size]
            if len(packed) != size:
                raise ValueError("an address is cut short")
            addresses.append(f"{multiaddr.Multiaddr(packed)}/p2p/{peer}")
            at += 1 + size
        if at != len(body):
            raise ValueError("bytes after the last address")
    except (ValueError, IndexError, TypeError) as exc:
        raise PeerInviteError(f"the invite's contents are malformed: {exc}") from exc
    return addresses


def _cut_short(raw: bytes) -> bool:
    """Whether ``raw`` is the start of a longer code: the lengths it holds ask for more bytes
    than follow them, check included. A code copied short is the common mistake, and worth
    naming apart from one damaged in the middle."""
    try:
        at = 2 + raw[1]
        count, at = raw[at], at + 1
        for _ in range(count):
            at += 1 + raw[at]
    except IndexError:
        return True
    return len(raw) - at < _CHECK_BYTES
