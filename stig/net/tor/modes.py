"""The words of stig's tor modes (docs/protocol.md §8.10), apart from the code that uses tor so
that config.toml can be checked without importing a tor controller."""

from __future__ import annotations

from typing import Any

OFF = "off"
"""Clearnet only: no tor."""
TOR = "tor"
"""Reachable as an onion service as well as on clearnet; dials onions through tor."""
TOR_ONLY = "tor-only"
"""An onion service only: no clearnet listening or dialing, no mDNS, peer exchange of onion
addresses only. Nothing leaves the process except through tor."""
TOR_MODES = (OFF, TOR, TOR_ONLY)

OWN = "own"
"""``control = "own"``: start a tor of stig's own from the system's ``tor`` binary."""

DEFAULT_ONION_PORT = 4737
"""The virtual port of a node's onion service (what its ``/onion3/<address>:<port>`` says)."""

KEPT = "kept"
"""``onion_key = "kept"``: one onion key kept in the home (0600), a stable address."""
FRESH = "fresh"
"""``onion_key = "fresh"``: a new onion key (and address) every run; links nothing between runs."""
ONION_KEY_CHOICES = (KEPT, FRESH)


def is_onion(address: str) -> bool:
    """Does the multiaddr ``address`` reach its peer through tor?"""
    return "/onion3/" in address


def describe(tor: dict[str, Any] | None) -> str:
    """How a node uses tor, in plain words, from its status (the control socket's ``"tor"``:
    ``stig status``, ``stig peers``, the Peers screen)."""
    if not tor:
        return "unknown (the running node is too old to say)"
    if tor.get("mode") == OFF:
        return "off (clearnet only)"
    which = "stig's own tor" if tor.get("own_tor") else f"the tor at {tor.get('control')}"
    what = "onion only, nothing but tor" if tor.get("mode") == TOR_ONLY else "onion and clearnet"
    return f"{tor.get('mode')} ({what}) as {tor.get('onion')}, through {which}"
