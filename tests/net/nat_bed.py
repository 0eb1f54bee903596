"""A NAT test bed in Linux network namespaces: a "public" network (a bridge, 198.18.0.0/24) and
home networks (198.19.N.0/24), each behind its own router namespace doing kernel NAT with
nftables, like a home router. Everything stays inside namespaces this module creates (the
198.18.0.0/15 benchmarking range); names carry a random token so two runs never collide, and
``Bed.close`` removes every namespace, also when a test fails.

Two kinds of router (measured: docs/architecture.md, "NAT traversal"):

* ``KEEP``: ``masquerade`` keeps the source port where it can (endpoint-independent mapping),
  and a stateful firewall *drops* unsolicited inbound packets — the usual home router;
* ``RANDOM``: ``masquerade random`` picks a fresh port per connection (symmetric-like), with
  the same firewall — the hard case for hole punching.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from dataclasses import dataclass, field

KEEP = "keep"
RANDOM = "random"
PUBLIC_NET = "198.18.0"
SETUP_WITHIN = 20.0


def why_not() -> str | None:
    """None if this process can build the bed; else the one-line reason it cannot."""
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (iproute2 and nftables are needed)"
    probe = f"stigprobe{secrets.token_hex(3)}"
    made = subprocess.run(
        ["ip", "netns", "add", probe], check=False, capture_output=True, text=True
    )
    if made.returncode != 0:
        return f"cannot create network namespaces here: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], check=False, capture_output=True)
    return None


def _run(*args: str) -> None:
    done = subprocess.run(args, check=False, capture_output=True, text=True, timeout=SETUP_WITHIN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {done.stderr.strip()}")


@dataclass
class Home:
    """A host behind a router: ``inside`` runs a command in its namespace."""

    namespace: str
    address: str
    router: str
    router_wan: str

    @property
    def inside(self) -> tuple[str, ...]:
        return ("ip", "netns", "exec", self.namespace)


@dataclass
class Bed:
    token: str = field(default_factory=lambda: secrets.token_hex(3))
    namespaces: list[str] = field(default_factory=list)

    @property
    def public(self) -> str:
        return f"stig-pub-{self.token}"

    @property
    def public_address(self) -> str:
        return f"{PUBLIC_NET}.1"

    @property
    def inside_public(self) -> tuple[str, ...]:
        return ("ip", "netns", "exec", self.public)

    def _netns(self, name: str) -> str:
        _run("ip", "netns", "add", name)
        self.namespaces.append(name)
        _run("ip", "-n", name, "link", "set", "lo", "up")
        return name

    def open(self) -> Bed:
        pub = self._netns(self.public)
        _run("ip", "-n", pub, "link", "add", "br0", "type", "bridge")
        _run("ip", "-n", pub, "addr", "add", f"{self.public_address}/24", "dev", "br0")
        _run("ip", "-n", pub, "link", "set", "br0", "up")
        return self

    def home(self, n: int, nat: str) -> Home:
        """Home network ``n`` (1..99) behind a router of kind ``nat``."""
        router = self._netns(f"stig-rt{n}-{self.token}")
        lan = self._netns(f"stig-lan{n}-{self.token}")
        wan_out, wan_in = f"w{self.token}{n}a", f"w{self.token}{n}b"
        lan_out, lan_in = f"l{self.token}{n}a", f"l{self.token}{n}b"
        wan = f"{PUBLIC_NET}.{10 + n}"
        gateway, host = f"198.19.{n}.1", f"198.19.{n}.2"
        _run("ip", "link", "add", wan_out, "type", "veth", "peer", "name", wan_in)
        _run("ip", "link", "set", wan_out, "netns", self.public)
        _run("ip", "link", "set", wan_in, "netns", router)
        _run("ip", "-n", self.public, "link", "set", wan_out, "master", "br0", "up")
        _run("ip", "-n", router, "addr", "add", f"{wan}/24", "dev", wan_in)
        _run("ip", "-n", router, "link", "set", wan_in, "up")
        _run("ip", "link", "add", lan_out, "type", "veth", "peer", "name", lan_in)
        _run("ip", "link", "set", lan_out, "netns", router)
        _run("ip", "link", "set", lan_in, "netns", lan)
        _run("ip", "-n", router, "addr", "add", f"{gateway}/24", "dev", lan_out)
        _run("ip", "-n", router, "link", "set", lan_out, "up")
        _run("ip", "-n", lan, "addr", "add", f"{host}/24", "dev", lan_in)
        _run("ip", "-n", lan, "link", "set", lan_in, "up")
        _run("ip", "-n", lan, "route", "add", "default", "via", gateway)
        rt = ("ip", "netns", "exec", router)
        _run(*rt, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        _run(*rt, "nft", "add", "table", "ip", "nat")
        _run(*rt, "nft", "add chain ip nat post { type nat hook postrouting priority 100 ; }")
        masquerade = ["masquerade"] if nat == KEEP else ["masquerade", "random"]
        _run(*rt, "nft", "add", "rule", "ip", "nat", "post", "oifname", wan_in, *masquerade)
        # A home router's stateful firewall drops what nobody inside asked for ("fwd" is an
        # nft keyword, hence the chain names).
        _run(*rt, "nft", "add", "table", "ip", "filt")
        for chain, hook in (("cfwd", "forward"), ("cinp", "input")):
            _run(
                *rt, "nft", f"add chain ip filt {chain} {{ type filter hook {hook} priority 0 ; }}"
            )
            _run(*rt, "nft", "add", "rule", "ip", "filt", chain, "iifname", wan_in,
                 "ct", "state", "established,related", "accept")  # fmt: skip
            _run(*rt, "nft", "add", "rule", "ip", "filt", chain, "iifname", wan_in, "drop")
        return Home(lan, host, router, wan)

    def close(self) -> None:
        """Remove every namespace made (their veth pairs go with them)."""
        for name in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)
        self.namespaces.clear()
