"""Joining the mesh from a code met in person (docs/protocol.md §8.9): this node's invite code,
and a peer a person gives — a peer invite code or a full multiaddr — added to config.toml and
dialed now. ``stig invite`` / ``stig connect`` and the terminal UI's Peers screen both come
here, so that they say the same things in the same words.

stig.net.peer_invite (multiaddr and libp2p's peer ids: a second to import) is imported where it
is used: every ``stig`` command loads this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from stig.errors import UsageError
from stig.node.config import add_bootstrap, check_bootstrap
from stig.node.control import Connect, ask_connect
from stig.node.home import Home

PEER_INVITE_PREFIX = "stig-peer1-"

ABOUT = (
    "Whoever holds this code can dial this node (stig connect CODE). It carries the addresses "
    "above — IP addresses of this node or of the relays it is reachable through — so it tells "
    "whoever sees it where this node is: give it in person, or over a channel you trust."
)
ABOUT_ONION = (
    "Whoever holds this code can dial this node (stig connect CODE) through tor. It carries "
    "onion addresses only, which say nothing of where this node is; but a kept onion address "
    "is the same every run: whoever sees the code can recognise this node later."
)

WHEN_IT_STARTS = "dialed when the node starts"


@dataclass(frozen=True)
class Invite:
    code: str
    addresses: tuple[str, ...]
    """The full addresses the code carries (the first few the node is reachable at)."""


def invite_of(addresses: Sequence[str]) -> Invite:
    """The invite code of a node reachable at ``addresses`` (its advertised ones); a
    UsageError saying why there is none. Loopback addresses are left out when there are others:
    a relay listening on 0.0.0.0 lists 127.0.0.1 first, which on the machine that reads the
    code leads to that machine itself (a refused dial at best, and a bootstrap entry that fails
    at every start)."""
    from stig.net.addresses import is_loopback  # noqa: PLC0415
    from stig.net.peer_invite import PeerInviteError, peer_invite, read_peer_invite  # noqa: PLC0415

    shared = [a for a in addresses if not is_loopback(a)] or list(addresses)
    try:
        code = peer_invite(shared)
    except PeerInviteError as exc:
        raise UsageError(str(exc)) from exc
    return Invite(code, tuple(read_peer_invite(code)))


def addresses_of(code_or_address: str, where: str = "stig connect") -> list[str]:
    """The peer addresses a person gave: a peer invite code or one full multiaddr; else a
    UsageError that says what is wrong, in plain words."""
    if "".join(code_or_address.split()).lower().startswith(PEER_INVITE_PREFIX):
        from stig.net.peer_invite import PeerInviteError, read_peer_invite  # noqa: PLC0415

        try:
            return read_peer_invite(code_or_address)
        except PeerInviteError as exc:
            raise UsageError(str(exc)) from exc
    return [check_bootstrap(code_or_address.strip(), where)]


@dataclass(frozen=True)
class Joined:
    """What became of one address given to ``add_peers``."""

    address: str
    added: bool  # False: it was in config.toml already
    peer: str = ""  # the peer reached, if dialed and reached
    error: str = ""  # why the dial failed, if dialed and not reached
    later: str = WHEN_IT_STARTS  # when it is dialed, if it was not dialed now

    def describe(self) -> str:
        kept = "added to config.toml" if self.added else "already in config.toml"
        if self.peer:
            return f"{self.address}\n  {kept}; connected to {self.peer}"
        if self.error:
            return f"{self.address}\n  {kept}; not reached yet: {self.error}"
        return f"{self.address}\n  {kept}; {self.later}"


async def add_peers(
    home: Home, addresses: list[str], dial: Connect | None, later: str = WHEN_IT_STARTS
) -> list[Joined]:
    """Add ``addresses`` to config.toml (kept for every start) and dial each now with ``dial``
    (a running node's ``connect``; None: no node runs, it is dialed ``later``). ``dial``
    answers ``{"peer": id}``, ``{"error": why}``, or ``{}`` when no node was there after all."""
    home.create()
    added = add_bootstrap(home.config_file, addresses)
    joined = []
    for address in addresses:
        answer = await dial(address) if dial is not None else {}
        joined.append(
            Joined(
                address,
                address in added,
                peer=str(answer.get("peer") or ""),
                error=str(answer.get("error") or "") if "peer" not in answer else "",
                later=later,
            )
        )
    return joined


def by_control_socket(home: Home) -> Connect | None:
    """``add_peers``'s dial through the control socket of the node running for ``home`` (None if
    none runs): how a process that does not run the mesh has it dial now."""
    if not home.control_socket.exists():
        return None

    async def dial(address: str) -> dict[str, Any]:
        try:
            return await ask_connect(home.control_socket, address)
        except (UsageError, OSError, TimeoutError, ValueError):
            return {}  # gone meanwhile (a socket left by a node that died): dialed when it starts

    return dial
