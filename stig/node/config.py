"""The node's config file, ``<home>/config.toml``: listen addresses, bootstrap peers, discovery,
and the relay policy. Command-line options add to it (``--listen``, ``--bootstrap``) or override
it (``--lan``, ``--psk-file``).

Unknown keys and wrong types are errors that name the key and the file: a typo in a relay's
policy must not silently turn the policy off.

Example (docs/relay.md has the full story)::

    [network]
    listen = ["/ip4/0.0.0.0/tcp/4737"]
    bootstrap = ["/ip4/198.51.100.7/tcp/4737/p2p/12D3KooW..."]
    lan = false                 # mDNS on the LAN: it announces you, so it is opt-in
    psk_file = ""               # a 64-hex-character pre-shared key: a closed mesh
    sync_interval = 30          # seconds between background syncs with a random peer
    reachability = "auto"       # "public" / "private": say whether others can dial you;
                                # auto: public only on a globally routable listen address
    max_connections = 32        # more are turned away; a relay that serves many nodes raises it

    [circuit]                   # circuit relay v2 hop service (docs/relay.md)
    serve = false               # offer it (stig relay, and stig node --relay-service, do)
    max_reservations = 128      # peers reachable through this relay at once
    reservation_ttl = 3600      # seconds a reservation lasts (renewed while connected)
    max_circuits_per_peer = 16  # circuits open at once towards one peer
    max_circuit_seconds = 3600  # a circuit is cut after this long
    max_circuit_bytes = 67108864  # ... or after this many bytes, both ways together

    [tor]                       # docs/tor.md; docs/threat-model.md says what each mode hides
    mode = "off"                # "tor": an onion service too; "tor-only": nothing but tor
    control = "own"             # start stig's own tor (data in <home>/tor), or a running
                                # tor's control port "127.0.0.1:9051" or socket "/run/tor/control"
    password = ""               # that tor's control password, if it uses one (else its cookie)
    onion_key = "kept"          # "kept": a stable onion address (<home>/onion.key, 0600);
                                # "fresh": a new address every run (invites go stale)
    onion_port = 4737           # the port in /onion3/<address>:<port>
    extra_torrc = ""            # lines for stig's own tor's torrc (e.g. bridges)

    [relay]
    carry_tags = []             # if set, only traces with one of these tags are carried
    refuse_tags = []            # traces with any of these tags are refused
    max_traces = 0              # 0 = no limit; above it the coldest traces are evicted
    author_quota = 0            # 0 = no limit; most live traces kept per author
    min_pow_bits = 0            # proof of work a trace must carry to be accepted
    stats_interval = 60         # seconds between stats lines on stdout; 0 = none
    metrics = ""                # "127.0.0.1:9464": a Prometheus endpoint (loopback only)

SIGHUP makes a running node read the file again and take its new relay policy (the keys of
``RelayPolicy``); the other keys are read at start only.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import tempfile
import tomllib
from collections.abc import MutableMapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from stig.crdt.normal_form import normalize_tag
from stig.errors import InvalidTrace, UsageError
from stig.net.circuit import REACHABILITY_MODES, HopLimits
from stig.net.tor.modes import (
    DEFAULT_ONION_PORT,
    KEPT,
    OFF,
    ONION_KEY_CHOICES,
    OWN,
    TOR_MODES,
    TOR_ONLY,
    is_onion,
)
from stig.node.stats import DEFAULT_STATS_INTERVAL

DEFAULT_LISTEN = "/ip4/0.0.0.0/tcp/0"
DEFAULT_SYNC_INTERVAL = 30.0
MIN_SYNC_INTERVAL = 1.0
DEFAULT_MAX_CONNECTIONS = 32
"""A node keeps at most this many connections; a newcomer beyond it gets the peer exchange
answer (so it can find others) and is then hung up on, so early nodes do not become hubs. A
relay that many nodes reach on purpose (docs/relay.md) sets ``network.max_connections``."""


@dataclass(frozen=True)
class RelayPolicy:
    carry_tags: frozenset[str] = frozenset()
    refuse_tags: frozenset[str] = frozenset()
    max_traces: int = 0
    author_quota: int = 0
    min_pow_bits: int = 0
    refuse_authors: frozenset[bytes] = frozenset()
    follow_mutes: frozenset[bytes] = frozenset()

    def admits_tags(self, tags: tuple[str, ...]) -> bool:
        if self.refuse_tags.intersection(tags):
            return False
        return not self.carry_tags or bool(self.carry_tags.intersection(tags))


@dataclass(frozen=True)
class NetworkConfig:
    listen: tuple[str, ...] = ()
    bootstrap: tuple[str, ...] = ()
    lan: bool = False
    psk_file: str = ""
    sync_interval: float = DEFAULT_SYNC_INTERVAL
    reachability: str = "auto"
    max_connections: int = DEFAULT_MAX_CONNECTIONS


@dataclass(frozen=True)
class TorConfig:
    """``[tor]``: whether and how the node uses tor (stig.net.tor.modes, stig.net.tor.link)."""

    mode: str = OFF
    control: str = OWN
    password: str = ""
    onion_key: str = KEPT
    onion_port: int = DEFAULT_ONION_PORT
    extra_torrc: str = ""

    @property
    def only(self) -> bool:
        return self.mode == TOR_ONLY


@dataclass(frozen=True)
class CircuitService:
    """``[circuit]``: whether this node relays circuits for others, within ``limits``."""

    serve: bool = False
    limits: HopLimits = field(default_factory=HopLimits)


@dataclass(frozen=True)
class Monitoring:
    """What a running node tells its operator (docs/relay.md, "Watching a relay"): a stats
    line every ``stats_interval`` seconds (0: none), and, if ``metrics`` names a loopback
    ``host:port``, a Prometheus endpoint there. Keys of ``[relay]``, read at start only."""

    stats_interval: float = DEFAULT_STATS_INTERVAL
    metrics: str = ""


@dataclass(frozen=True)
class Notify:
    """How a trace that matches a watch (`stig watch`) is announced: the terminal bell with
    the terminal UI's toast (``bell``), and a desktop notification from ``stig node``
    (``desktop``, as ``--notify``)."""

    bell: bool = True
    desktop: bool = False


@dataclass(frozen=True)
class Config:
    network: NetworkConfig = field(default_factory=NetworkConfig)
    relay: RelayPolicy = field(default_factory=RelayPolicy)
    monitoring: Monitoring = field(default_factory=Monitoring)
    notify: Notify = field(default_factory=Notify)
    circuit: CircuitService = field(default_factory=CircuitService)
    tor: TorConfig = field(default_factory=TorConfig)


def load_config(path: Path) -> Config:
    """The config at ``path``; defaults if there is no file."""
    if not path.exists():
        return Config()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path} is not valid TOML: {exc}") from exc
    _only(raw, {"network", "relay", "notify", "circuit", "tor"}, path, "")
    network = _section(raw, "network", path)
    relay = _section(raw, "relay", path)
    notify = _section(raw, "notify", path)
    _only(notify, {f.name for f in fields(Notify)}, path, "notify.")
    _only(network, {f.name for f in fields(NetworkConfig)}, path, "network.")
    _only(relay, {f.name for f in (*fields(RelayPolicy), *fields(Monitoring))}, path, "relay.")
    config = Config(
        network=NetworkConfig(
            listen=tuple(
                check_listen(a, f"{path}: network.listen")
                for a in _strings(network, "listen", path, "network")
            ),
            bootstrap=tuple(
                check_bootstrap(a, f"{path}: network.bootstrap")
                for a in _strings(network, "bootstrap", path, "network")
            ),
            lan=_typed(network, "lan", bool, False, path, "network"),
            psk_file=_typed(network, "psk_file", str, "", path, "network"),
            sync_interval=_interval(network, path),
            reachability=_reachability(network, path),
            max_connections=_at_least_one(network, "max_connections", path),
        ),
        relay=RelayPolicy(
            carry_tags=_tags(relay, "carry_tags", path),
            refuse_tags=_tags(relay, "refuse_tags", path),
            max_traces=_count(relay, "max_traces", path),
            author_quota=_count(relay, "author_quota", path),
            min_pow_bits=_count(relay, "min_pow_bits", path),
            refuse_authors=_keys(relay, "refuse_authors", path, files=True),
            follow_mutes=_keys(relay, "follow_mutes", path, files=False),
        ),
        monitoring=_monitoring(relay, path),
        notify=Notify(
            bell=_typed(notify, "bell", bool, True, path, "notify"),
            desktop=_typed(notify, "desktop", bool, False, path, "notify"),
        ),
        circuit=_circuit(_section(raw, "circuit", path), path),
        tor=_tor(_section(raw, "tor", path), path),
    )
    check_tor_mode(config, str(path))
    return config


def _tor(table: dict[str, Any], path: Path) -> TorConfig:
    _only(table, {f.name for f in fields(TorConfig)}, path, "tor.")
    mode = _typed(table, "mode", str, OFF, path, "tor")
    if mode not in TOR_MODES:
        raise UsageError(f"{path}: tor.mode must be one of {', '.join(TOR_MODES)}, not {mode!r}")
    onion_key = _typed(table, "onion_key", str, KEPT, path, "tor")
    if onion_key not in ONION_KEY_CHOICES:
        raise UsageError(f"{path}: tor.onion_key must be one of {', '.join(ONION_KEY_CHOICES)}")
    port = _typed(table, "onion_port", int, DEFAULT_ONION_PORT, path, "tor")
    if not 0 < port < 65536:
        raise UsageError(f"{path}: tor.onion_port must be a port, 1 to 65535")
    return TorConfig(
        mode=mode,
        control=_typed(table, "control", str, OWN, path, "tor") or OWN,
        password=_typed(table, "password", str, "", path, "tor"),
        onion_key=onion_key,
        onion_port=port,
        extra_torrc=_typed(table, "extra_torrc", str, "", path, "tor"),
    )


def check_tor_mode(config: Config, where: str, bootstrap: tuple[str, ...] = ()) -> None:
    """A UsageError for settings that would take a ``tor-only`` node off tor: mDNS (it
    announces the node's IP address on the LAN), clearnet listen addresses, or clearnet
    ``bootstrap`` addresses given on the command line. Clearnet bootstrap addresses already in
    config.toml (from an invite that also carried an onion, say) are skipped by the node."""
    if not config.tor.only:
        return
    net = config.network
    if net.lan:
        raise UsageError(
            f"{where}: LAN discovery (mDNS) announces this device's IP address to the LAN: "
            "it is off in tor-only mode; drop --lan / network.lan"
        )
    clearnet = [a for a in net.listen if not is_onion(a) and a != DEFAULT_LISTEN]
    if clearnet:
        raise UsageError(
            f"{where}: a tor-only node listens as an onion service only, not on "
            f"{', '.join(clearnet)}: drop --listen / network.listen"
        )
    clearnet = [a for a in bootstrap if not is_onion(a)]
    if clearnet:
        raise UsageError(
            f"{where}: a tor-only node dials onion addresses only (/onion3/...), not "
            f"{', '.join(clearnet)}: ask for the peer's onion address (`stig addr` on a node "
            "run with --tor)"
        )


def _reachability(network: dict[str, Any], path: Path) -> str:
    value = _typed(network, "reachability", str, "auto", path, "network")
    if value not in REACHABILITY_MODES:
        raise UsageError(
            f"{path}: network.reachability must be one of {', '.join(REACHABILITY_MODES)}"
        )
    return str(value)


def _circuit(table: dict[str, Any], path: Path) -> CircuitService:
    known = {f.name for f in fields(HopLimits)}
    _only(table, known | {"serve"}, path, "circuit.")
    limits: dict[str, int] = {}
    for key in known:
        value = table.get(key, getattr(HopLimits, key))
        if type(value) is not int or value <= 0:
            raise UsageError(f"{path}: circuit.{key} must be a whole number above 0")
        limits[key] = value
    return CircuitService(
        serve=_typed(table, "serve", bool, False, path, "circuit"), limits=HopLimits(**limits)
    )


def _monitoring(relay: dict[str, Any], path: Path) -> Monitoring:
    interval = relay.get("stats_interval", DEFAULT_STATS_INTERVAL)
    if type(interval) not in (int, float) or interval < 0:
        raise UsageError(f"{path}: relay.stats_interval must be a number of seconds, 0 for none")
    metrics = _typed(relay, "metrics", str, "", path, "relay")
    if metrics:
        check_metrics_address(metrics, f"{path}: relay.metrics")
    return Monitoring(stats_interval=float(interval), metrics=metrics)


def check_metrics_address(address: str, where: str) -> tuple[str, int]:
    """(host, port) of a metrics address ``host:port`` (``[::1]:port`` for IPv6; port 0 picks
    one); a UsageError unless the host is a loopback address. The endpoint tells anyone who can
    reach it how many peers this node has and how much flows through it, minute by minute —
    traffic analysis made easy (docs/threat-model.md) — and has no authentication: an operator
    who scrapes from elsewhere puts an authenticating proxy or an SSH tunnel in front."""
    host, sep, port = address.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise UsageError(f"{where}: {address!r} is not host:port, like 127.0.0.1:9464")
    if host == "localhost":
        host = "127.0.0.1"
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise UsageError(
            f"{where}: {address!r} is not a loopback address; the metrics endpoint has no "
            "authentication and shows this relay's traffic, so it only listens on 127.0.0.1 "
            "or [::1] (scrape it from elsewhere through an SSH tunnel or a proxy that "
            "authenticates: docs/relay.md)"
        )
    return host, int(port)


def _interval(network: dict[str, Any], path: Path) -> float:
    value = network.get("sync_interval", DEFAULT_SYNC_INTERVAL)
    if type(value) not in (int, float) or value < MIN_SYNC_INTERVAL:
        raise UsageError(
            f"{path}: network.sync_interval must be a number of seconds >= {MIN_SYNC_INTERVAL}"
        )
    return float(value)


def _section(raw: dict[str, Any], name: str, path: Path) -> dict[str, Any]:
    value = raw.get(name, {})
    if not isinstance(value, dict):
        raise UsageError(f"{path}: [{name}] must be a table")
    return value


def _only(table: dict[str, Any], known: set[str], path: Path, prefix: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise UsageError(
            f"{path}: unknown key {prefix}{unknown[0]}; known keys: "
            + ", ".join(prefix + k for k in sorted(known))
        )


def _typed(table: dict[str, Any], key: str, kind: type, default: Any, path: Path, sec: str) -> Any:
    value = table.get(key, default)
    if type(value) is not kind:
        raise UsageError(f"{path}: {sec}.{key} must be a {kind.__name__}")
    return value


def _strings(table: dict[str, Any], key: str, path: Path, sec: str) -> list[str]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{path}: {sec}.{key} must be a list of strings")
    return value


def _at_least_one(table: dict[str, Any], key: str, path: Path) -> int:
    value = _typed(table, key, int, DEFAULT_MAX_CONNECTIONS, path, "network")
    if value < 1:
        raise UsageError(f"{path}: network.{key} must be at least 1")
    return int(value)


def _count(table: dict[str, Any], key: str, path: Path) -> int:
    value = _typed(table, key, int, 0, path, "relay")
    if value < 0:
        raise UsageError(f"{path}: relay.{key} must be 0 or more")
    return int(value)


def _tags(table: dict[str, Any], key: str, path: Path) -> frozenset[str]:
    try:
        return frozenset(normalize_tag(tag) for tag in _strings(table, key, path, "relay"))
    except InvalidTrace as exc:
        raise UsageError(f"{path}: relay.{key}: {exc.detail}") from exc


def _keys(table: dict[str, Any], key: str, path: Path, *, files: bool) -> frozenset[bytes]:
    """Author keys, each 64 hex characters; with ``files``, an entry that is not a key names
    a file of keys (relative to the config's folder): one per line, ``#`` starts a comment."""
    out: set[bytes] = set()
    for entry in _strings(table, key, path, "relay"):
        if _is_key(entry):
            out.add(bytes.fromhex(entry))
            continue
        if not files:
            raise UsageError(f"{path}: relay.{key}: {entry!r} is not an author key (64 hex)")
        listed = path.parent / entry
        try:
            lines = listed.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(
                f"{path}: relay.{key}: {entry!r} is neither an author key (64 hex) nor a "
                f"readable file of keys ({exc})"
            ) from exc
        for number, line in enumerate(lines, 1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            if not _is_key(text):
                raise UsageError(f"{listed}:{number}: {text!r} is not an author key (64 hex)")
            out.add(bytes.fromhex(text))
    return frozenset(out)


def _is_key(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdefABCDEF" for c in text)


def read_psk(path: Path) -> str:
    """The private-network key in ``path``: 64 hex characters (go-libp2p's swarm.key layout,
    where the key is the last line, is accepted too)."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the private-network key {path}: {exc}") from exc
    key = text.splitlines()[-1].strip() if text else ""
    try:
        valid = len(key) == 64 and len(bytes.fromhex(key)) == 32
    except ValueError:
        valid = False
    if not valid:
        raise UsageError(
            f"{path} does not hold a private-network key: 64 hexadecimal characters "
            "(make one with: python3 -c 'import os; print(os.urandom(32).hex())')"
        )
    return key


def add_bootstrap(path: Path, addresses: list[str]) -> list[str]:
    """Add ``addresses`` (checked full peer addresses) to ``network.bootstrap`` in the config
    file at ``path``; the ones that were not there yet. The file keeps its comments, layout and
    other settings (tomlkit edits the document in place); it is written whole (mode 0600,
    renamed into place) and must load before it replaces the old one."""
    import tomlkit  # noqa: PLC0415 - only this command writes the config
    from tomlkit.items import Array  # noqa: PLC0415

    document = tomlkit.document()
    if path.exists():
        load_config(path)  # refuse to build on a config that does not load
        document = tomlkit.parse(path.read_text(encoding="utf-8"))
    network = document.setdefault("network", tomlkit.table())
    listed = None  # a [network] table, dotted `network.` keys, or a table split in the file
    if isinstance(network, MutableMapping):
        listed = network.setdefault("bootstrap", tomlkit.array())
    if not isinstance(listed, Array):  # load_config accepted it, so this is not expected
        raise UsageError(f"{path}: network.bootstrap is not a list that can be added to")
    added = [a for a in dict.fromkeys(addresses) if a not in [str(k) for k in listed]]
    if not added:
        return []
    listed.extend(added)
    if len(listed) == len(added):  # a list of our own: one address per line
        listed.multiline(True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".config-", suffix=".toml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(tomlkit.dumps(document))
        load_config(Path(temporary))
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return added


def with_network(
    config: Config,
    *,
    listen: tuple[str, ...] = (),
    bootstrap: tuple[str, ...] = (),
    lan: bool = False,
    psk_file: str = "",
    tor: str | None = None,
) -> Config:
    """``config`` with command-line network options on top: listen and the psk file replace,
    bootstrap peers add, ``lan`` turns discovery on, ``tor`` (a mode) replaces tor.mode."""
    net = config.network
    if tor is not None:
        config = replace(config, tor=replace(config.tor, mode=tor))
    given = replace(
        config,
        network=NetworkConfig(
            listen=tuple(check_listen(a, "--listen") for a in listen)
            or net.listen
            or (DEFAULT_LISTEN,),
            bootstrap=tuple(
                dict.fromkeys(
                    [*net.bootstrap, *(check_bootstrap(a, "--bootstrap") for a in bootstrap)]
                )
            ),
            lan=lan or net.lan,
            psk_file=psk_file or net.psk_file,
            sync_interval=net.sync_interval,
            reachability=net.reachability,
        ),
    )
    check_tor_mode(given, "--tor-only" if tor == TOR_ONLY else "config.toml tor.mode", bootstrap)
    return given


_HOST_PORT = re.compile(r"^\[?(?P<host>[0-9A-Za-z.:]+?)\]?:(?P<port>[0-9]{1,5})$")


def as_multiaddr(host_port: str) -> str | None:
    """The multiaddr a person meant by ``host:port`` (``127.0.0.1:4800``, ``[::1]:4800``,
    ``localhost:4800``): ``/ip4/127.0.0.1/tcp/4800``; None if it is not one of those."""
    match = _HOST_PORT.match(host_port.strip())
    if not match or not 0 < int(match["port"]) < 65536:
        return None
    host = "127.0.0.1" if match["host"] == "localhost" else match["host"]
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    return f"/ip{ip.version}/{ip}/tcp/{match['port']}"


def check_listen(address: str, where: str) -> str:
    """``address`` if it is a multiaddr; else a UsageError that says what to write, in
    multiaddr form when the address was written as ``host:port``."""
    import multiaddr  # type: ignore[import-untyped]  # noqa: PLC0415 - only when there is one

    try:
        multiaddr.Multiaddr(address)
    except ValueError as exc:
        meant = as_multiaddr(address)
        if meant is not None:
            raise UsageError(
                f"{where}: {address!r} is host:port; stig takes a multiaddr: write {meant}"
            ) from exc
        raise UsageError(
            f"{where}: {address!r} is not a multiaddr; write e.g. /ip4/0.0.0.0/tcp/4737 "
            "(every interface) or /ip4/127.0.0.1/tcp/0 (this machine, any free port)"
        ) from exc
    return address


def check_bootstrap(address: str, where: str) -> str:
    """``address`` if it is a full multiaddr of a peer (a transport, then ``/p2p/<peer id>``);
    else a UsageError that says so — a typo must not leave a node quietly alone."""
    import multiaddr  # noqa: PLC0415 - only when there is one

    try:
        names = [p.name for p in multiaddr.Multiaddr(address).protocols()]
    except ValueError as exc:
        meant = as_multiaddr(address)
        if meant is not None:
            raise UsageError(
                f"{where}: {address!r} is host:port; a peer's address is a multiaddr with its "
                f"id: {meant}/p2p/<peer id> (`stig addr` on that node prints it whole)"
            ) from exc
        raise UsageError(f"{where}: {address!r} is not a multiaddr: {exc}") from exc
    if len(names) < 2 or names[-1] != "p2p":
        raise UsageError(
            f"{where}: {address!r} is not a full peer address: it needs where to reach the peer "
            "and its id, like /ip4/198.51.100.7/tcp/4737/p2p/12D3KooW… (`stig addr` prints them)"
        )
    return address
