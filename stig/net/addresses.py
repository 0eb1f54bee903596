"""Addresses as the network layer hands them out: concrete ones another node can dial."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import ifaddr


def dialable(addresses: Sequence[str]) -> list[str]:
    """Addresses another node can dial: a wildcard listen address (``/ip4/0.0.0.0``) becomes
    one address per IPv4 address of this machine's interfaces."""
    wildcard = "/ip4/0.0.0.0/"
    if not any(a.startswith(wildcard) for a in addresses):
        return list(addresses)
    local = sorted(
        {ip.ip for adapter in ifaddr.get_adapters() for ip in adapter.ips if ip.is_IPv4},
        key=lambda ip: (ip != "127.0.0.1", ip),
    )
    expanded: list[str] = []
    for address in addresses:
        if address.startswith(wildcard):
            rest = address[len(wildcard) :]
            expanded.extend(f"/ip4/{ip}/{rest}" for ip in local)
        else:
            expanded.append(address)
    return list(dict.fromkeys(expanded))


def is_loopback(address: str) -> bool:
    """Whether ``address`` (a multiaddr) leads to a loopback address (``/ip4/127.…``,
    ``/ip6/::1``): on another machine, to that machine itself."""
    parts = address.split("/")
    if len(parts) < 3 or parts[1] not in ("ip4", "ip6"):
        return False
    try:
        return ipaddress.ip_address(parts[2]).is_loopback
    except ValueError:
        return False
