"""Commands that put the node on the mesh: node, relay, addr, peers, status.

A running node (``_serve``) logs on stderr (stig.cli.logs), prints a stats line on stdout every
``relay.stats_interval`` (stig.node.stats), serves metrics if asked (stig.node.metrics), and
re-reads its relay policy from config.toml on SIGHUP, connections untouched."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from contextlib import suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from stig.cli import logs
from stig.cli.options import home_of, network_options, node_config, run
from stig.cli.publishing import DEFAULT_TITLE, site_settings
from stig.cli.render import echo_json
from stig.errors import StigError, UsageError
from stig.net.circuit import REACHABILITY_MODES
from stig.net.tor.modes import describe as describe_tor
from stig.node import clock
from stig.node.config import Config, RelayPolicy, check_metrics_address, load_config
from stig.node.control import ask_status
from stig.node.home import Home
from stig.node.live import reach_words, route_words
from stig.node.local import create_store
from stig.node.mesh import MeshNode, read_addresses
from stig.node.stats import Interval, stats_line, timestamp
from stig.publish.mirror import Mirror
from stig.publish.publisher import DEFAULT_LIMIT, Publisher
from stig.readable import span
from stig.store.sqlite import SqliteStore

if TYPE_CHECKING:
    from stig.node.metrics import MetricsEndpoint

log = logging.getLogger("stig.cli")


@dataclass(frozen=True)
class OperatorView:
    """How a running node shows itself to its operator: the command line's say."""

    verbose: bool = False
    log_format: str = "text"
    stats_interval: float | None = None  # None: config.toml's relay.stats_interval
    metrics: str | None = None  # None: config.toml's relay.metrics
    notify: bool = False  # announce watched traces (stig watch) on the desktop


@dataclass(frozen=True)
class Reaching:
    """The command line's say on reachability and on relaying circuits for others."""

    reachability: str | None = None  # None: config.toml's network.reachability
    serve_circuits: bool = False
    tor: str | None = None  # --tor / --tor-only; None: config.toml's tor.mode

    def apply(self, config: Config) -> Config:
        network = config.network
        if self.reachability is not None:
            network = replace(network, reachability=self.reachability)
        circuit = config.circuit
        if self.serve_circuits:
            circuit = replace(circuit, serve=True)
        return replace(config, network=network, circuit=circuit)


def _network_options(command: Any) -> Any:
    for option in reversed(
        [
            click.option(
                "--verbose", "-v", is_flag=True, help="Log more: stig's debug, libraries' info."
            ),
            click.option(
                "--log-format",
                type=click.Choice(logs.FORMATS),
                default="text",
                help="Log lines on stderr as text, or as one JSON object a line.",
            ),
            click.option(
                "--stats-interval",
                type=click.FloatRange(0),
                default=None,
                help="Seconds between stats lines on stdout (0: none; default: config, 60).",
            ),
            click.option(
                "--metrics",
                default=None,
                metavar="HOST:PORT",
                help="Serve Prometheus metrics there (loopback only, e.g. 127.0.0.1:9464).",
            ),
            click.option(
                "--reachability",
                type=click.Choice(REACHABILITY_MODES),
                default=None,
                help="Can others dial this node's own addresses? (default: config, auto; "
                "a node that is not public reserves a slot on the relays it reaches)",
            ),
        ]
    ):
        command = option(command)
    return network_options(command)


@click.command()
@_network_options
@click.option(
    "--notify",
    is_flag=True,
    help="Announce traces that match a watch (`stig watch`) as desktop notifications.",
)
@click.option(
    "--relay-service",
    is_flag=True,
    help="Relay circuits for nodes behind NAT, within config.toml's [circuit] limits.",
)
@click.pass_context
def node(
    ctx: click.Context,
    listen: tuple[str, ...],
    bootstrap: tuple[str, ...],
    lan: bool,
    psk_file: Path | None,
    tor: str | None,
    verbose: bool,
    log_format: str,
    stats_interval: float | None,
    metrics: str | None,
    reachability: str | None,
    notify: bool,
    relay_service: bool,
) -> None:
    """Run this node on the mesh, headless, in the foreground (Ctrl-C stops it; SIGHUP
    re-reads the relay policy from config.toml)."""
    view = OperatorView(verbose, log_format, stats_interval, metrics, notify)
    reach = Reaching(reachability, relay_service, tor)
    _serve(home_of(ctx), listen, bootstrap, lan, psk_file, view, reach, None, None)


@click.command()
@_network_options
@click.option("--carry-tag", multiple=True, help="Only carry traces with one of these tags.")
@click.option("--refuse-tag", multiple=True, help="Never carry traces with these tags.")
@click.option("--max-traces", type=click.IntRange(0), default=None, help="Evict the coldest above.")
@click.option("--author-quota", type=click.IntRange(0), default=None, help="Traces per author.")
@click.option("--min-pow", type=click.IntRange(0, 32), default=None, help="Proof-of-work bits.")
@click.option(
    "--publish",
    "publish_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep a static site with Atom feeds of the public traces current in this directory.",
)
@click.option("--publish-tag", multiple=True, help="Publish only traces with one of these tags.")
@click.option("--publish-kind", multiple=True, help="Publish only traces of these kinds.")
@click.option(
    "--publish-limit", type=click.IntRange(1), default=DEFAULT_LIMIT, help="Most traces published."
)
@click.option("--site-title", default=DEFAULT_TITLE, help="Title of the published site.")
@click.option("--base-url", default="", help="The site's public address, for links in feeds.")
@click.pass_context
def relay(
    ctx: click.Context,
    listen: tuple[str, ...],
    bootstrap: tuple[str, ...],
    lan: bool,
    psk_file: Path | None,
    tor: str | None,
    verbose: bool,
    log_format: str,
    stats_interval: float | None,
    metrics: str | None,
    reachability: str | None,
    carry_tag: tuple[str, ...],
    refuse_tag: tuple[str, ...],
    max_traces: int | None,
    author_quota: int | None,
    min_pow: int | None,
    publish_dir: Path | None,
    publish_tag: tuple[str, ...],
    publish_kind: tuple[str, ...],
    publish_limit: int,
    site_title: str,
    base_url: str,
) -> None:
    """Run a counter-information relay: carry and re-spread traces, with a policy (config.toml
    [relay], or these options; SIGHUP re-reads config.toml); with --publish, republish them
    to the web. A stats line on stdout every minute; `stig status` on demand (docs/relay.md).
    It relays circuits for nodes behind NAT too (config.toml [circuit] limits), and counts
    itself public unless told otherwise (--reachability, network.reachability)."""
    view = OperatorView(verbose, log_format, stats_interval, metrics)
    reach = Reaching(reachability or "public", serve_circuits=True, tor=tor)
    overrides = {
        "carry_tags": carry_tag,
        "refuse_tags": refuse_tag,
        "max_traces": max_traces,
        "author_quota": author_quota,
        "min_pow_bits": min_pow,
    }
    if publish_dir is None:
        _serve(home_of(ctx), listen, bootstrap, lan, psk_file, view, reach, overrides, None)
        return
    selection, options = site_settings(
        publish_tag, publish_kind, publish_limit, site_title, base_url
    )
    with Mirror(publish_dir) as mirror:  # refuses a directory it must not write into, now
        publisher = Publisher(mirror, selection, options)
        _serve(home_of(ctx), listen, bootstrap, lan, psk_file, view, reach, overrides, publisher)


def _serve(
    home: Home,
    listen: tuple[str, ...],
    bootstrap: tuple[str, ...],
    lan: bool,
    psk_file: Path | None,
    view: OperatorView,
    reach: Reaching,
    relay_overrides: dict[str, Any] | None,
    publisher: Publisher | None,
) -> None:
    # Imported here: libp2p takes a second to import, and only these commands need it.
    from stig.node.transport import libp2p_network  # noqa: PLC0415

    logs.configure(view.log_format, view.verbose)
    home.create()
    given = node_config(home, listen, bootstrap, lan, psk_file, reach.tor)
    config = reach.apply(_watched(given, view))
    if relay_overrides is not None:
        config = replace(config, relay=_relay_policy(config.relay, relay_overrides))
    metrics_at = (
        check_metrics_address(config.monitoring.metrics, "--metrics")
        if config.monitoring.metrics
        else None
    )
    started_with = load_config(home.config_file)
    network = libp2p_network(home, config)

    async def go() -> None:
        await create_store(home)
        store = await SqliteStore.open(home.store)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        mesh = MeshNode(home, store, network, config, on_stats=_print_stats)
        loop.add_signal_handler(
            signal.SIGHUP, lambda: _reload(home, started_with, relay_overrides, mesh)
        )
        task = loop.create_task(mesh.run(stop))
        announce = view.notify or config.notify.desktop
        noticing = loop.create_task(_notice(home, store, stop)) if announce else None
        endpoint: MetricsEndpoint | None = None
        publishing: asyncio.Task[None] | None = None
        reader: SqliteStore | None = None
        if publisher is not None:
            # Its own connection: it reads only committed state, never the middle of one of
            # the node's write transactions on the shared one.
            reader = await SqliteStore.open(home.store)
            publishing = loop.create_task(publisher.run(reader, stop))
            # A bug in publishing stops the relay (and surfaces) rather than going unseen.
            publishing.add_done_callback(lambda _: stop.set())
            log.info("publishing into %s", publisher.mirror.root)
        try:
            started = loop.create_task(mesh.started.wait())
            stopping = loop.create_task(stop.wait())
            await asyncio.wait({task, started, stopping}, return_when=asyncio.FIRST_COMPLETED)
            started.cancel()
            stopping.cancel()
            if not mesh.started.is_set() and stop.is_set() and not task.done():
                # Ctrl-C while the network starts (tor may take minutes to bootstrap): the
                # start is cancelled rather than waited for.
                log.info("stopped while starting")
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task
                return
            if mesh.started.is_set():
                kind = "relay" if relay_overrides is not None else "node"
                log.info(
                    "stig %s %s listening on %s", kind, network.peer_id, " ".join(mesh.addresses)
                )
                for address in mesh.addresses:
                    click.echo(address)
                sys.stdout.flush()
                if metrics_at is not None:
                    endpoint = _serve_metrics(metrics_at, mesh, stop)
            await task
        finally:
            stop.set()
            if endpoint is not None:
                await asyncio.to_thread(endpoint.close)
            try:
                if publishing is not None:
                    await publishing
                if noticing is not None:
                    await noticing
            finally:
                if reader is not None:
                    await reader.close()
                await store.close()

    run(go())


async def _notice(home: Home, store: SqliteStore, stop: asyncio.Event) -> None:
    """``--notify``: log every trace that matches a watch and show it on the desktop."""
    from stig.node import notices  # noqa: PLC0415
    from stig.node.desktop import Desktop  # noqa: PLC0415
    from stig.node.keyring import Keyring  # noqa: PLC0415
    from stig.node.local import LocalNode  # noqa: PLC0415
    from stig.node.notices import Notice  # noqa: PLC0415

    local = LocalNode(home, store, Keyring(home.personas))
    desktop = Desktop()
    sending: set[asyncio.Task[bool]] = set()

    def announce(notice: Notice) -> None:
        trace = notice.trace
        words = "; ".join(w.text for w in notice.watches)
        head = trace.body.splitlines()[0][:120] if trace.body else ""
        log.info("noticed %s %s by %s (watch: %s): %s", trace.kind, trace.hex_id[:12],
                 trace.author.hex()[:12], words, head)  # fmt: skip
        task = asyncio.get_running_loop().create_task(
            desktop.send(f"stig: {trace.kind} ({words})", head or trace.kind)
        )
        sending.add(task)
        task.add_done_callback(sending.discard)

    log.info("announcing traces that match %d watch(es) (stig watch list)", len(local.watches()))
    await notices.follow(store, local.watches, local.mutes, local.keyring.owners, announce, stop)


def _watched(config: Config, view: OperatorView) -> Config:
    """``config`` with the command line's say on stats and metrics on top."""
    monitoring = config.monitoring
    if view.stats_interval is not None:
        monitoring = replace(monitoring, stats_interval=view.stats_interval)
    if view.metrics is not None:
        monitoring = replace(monitoring, metrics=view.metrics)
    return replace(config, monitoring=monitoring)


def _serve_metrics(
    address: tuple[str, int], mesh: MeshNode, stop: asyncio.Event
) -> MetricsEndpoint | None:
    from stig.node import metrics  # noqa: PLC0415

    try:
        endpoint = metrics.serve(*address, mesh.stats, asyncio.get_running_loop())
    except OSError as exc:
        log.error("cannot serve metrics on %s:%s: %s", *address, exc)
        stop.set()  # the operator asked for them: stopping says so louder than a log line
        return None
    log.info("metrics on %s", endpoint.url)
    return endpoint


def _print_stats(interval: Interval) -> None:
    click.echo(stats_line(interval))  # click.echo flushes: a pipe sees each line at once


def _reload(
    home: Home, started_with: Config, overrides: dict[str, Any] | None, mesh: MeshNode
) -> None:
    """SIGHUP: read config.toml again and take its relay policy (the command line's policy
    options still on top); a config that does not load changes nothing."""
    try:
        config = load_config(home.config_file)
        policy = config.relay if overrides is None else _relay_policy(config.relay, overrides)
    except StigError as exc:
        log.error("reload: the relay policy stays as it was: %s", exc)
        return
    log.info("reload: relay policy from %s", home.config_file)
    mesh.apply_policy(policy)
    if (config.network, config.monitoring) != (started_with.network, started_with.monitoring):
        log.warning("reload: [network], relay.stats_interval and relay.metrics apply at restart")


def _relay_policy(base: RelayPolicy, overrides: dict[str, Any]) -> RelayPolicy:
    """``base`` with the command line's policy options on top; every other key as it is."""
    from stig.crdt.normal_form import normalize_tag  # noqa: PLC0415

    # replace(): keys only config.toml sets (refuse_authors, follow_mutes) carry over.
    return replace(
        base,
        carry_tags=base.carry_tags | {normalize_tag(t) for t in overrides["carry_tags"]},
        refuse_tags=base.refuse_tags | {normalize_tag(t) for t in overrides["refuse_tags"]},
        max_traces=_pick(overrides["max_traces"], base.max_traces),
        author_quota=_pick(overrides["author_quota"], base.author_quota),
        min_pow_bits=_pick(overrides["min_pow_bits"], base.min_pow_bits),
    )


def _pick(given: int | None, configured: int) -> int:
    return configured if given is None else given


@click.command()
@click.pass_context
def addr(ctx: click.Context) -> None:
    """Print the running node's full multiaddrs, one per line (for --bootstrap elsewhere)."""
    home = home_of(ctx)
    addresses = read_addresses(home.addresses_file)
    if not addresses:
        raise UsageError(f"no node is running for {home.root}; start one with `stig node`")
    for address in addresses:
        click.echo(address)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def peers(ctx: click.Context, as_json: bool) -> None:
    """Peers of the running node: connected, last sync, bytes, rejects by reason."""
    status = run(ask_status(home_of(ctx).control_socket))
    if as_json:
        echo_json(status)
        return
    click.echo(f"this node  {status['peer_id']}")
    click.echo(f"reach      {reach_words(status.get('reach'))}")
    click.echo(f"tor        {describe_tor(status.get('tor'))}")
    for address in status["addresses"]:
        click.echo(f"  {address}")
    reach = status.get("reach") or {}
    listening = [a for a in reach.get("listening", []) if a not in status["addresses"]]
    if listening:
        click.echo("listening (not handed out: others cannot dial them)")
        for address in listening:
            click.echo(f"  {address}")
    now = clock.now()
    failing = status.get("dialing", [])
    if not status["peers"] and not failing:
        click.echo("no peers yet: start another node with --bootstrap <one of the addresses>,")
        click.echo("or run with --lan to find nodes on this network")
    for d in failing:
        since = span(int(now - d["failing_since"])) if d["failing_since"] else "?"
        wait = max(0, int(d["next_try"] - now)) if d["next_try"] else 0
        click.echo(
            f"not reached  {d['address']}\n  {d['error']} (failing for {since}, "
            f"{d['failures']} tries; next try in {wait} s)"
        )
    for p in status["peers"]:
        state = "connected" if p["connected"] else "gone"
        if p["banned"]:
            state = f"cut off ({p['ban_reason']})"
        synced = f"synced {span(int(now - p['last_sync']))} ago" if p["last_sync"] else "not synced"
        rejected = ", ".join(f"{k} {v}" for k, v in sorted(p["rejected"].items())) or "none"
        route = p.get("route")
        if route and p["connected"]:
            how = route_words(route) + (" over tor (onion)" if route.get("onion") else "")
            state += f" {how} for {span(int(now - route['since']))}"
        click.echo(
            f"{p['peer']}  {state}  {synced}  in {p['bytes_in']} B  out {p['bytes_out']} B  "
            f"accepted {p['accepted']}  rejected: {rejected}"
        )


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """The running node's (or relay's) stats: peers, traces accepted and rejected by reason,
    evicted, store size and live traces, disk use — since it started, and over the interval
    of its last stats line."""
    answer = run(ask_status(home_of(ctx).control_socket))
    stats = answer.get("stats")
    if stats is None:
        raise UsageError("the running node is too old to report stats; restart it")
    if as_json:
        echo_json({"peer_id": answer["peer_id"], **stats})
        return
    click.echo(f"{answer['peer_id']}  at {timestamp(stats['at'])}")
    click.echo(f"reach        {reach_words(answer.get('reach'))}")
    click.echo(f"tor          {describe_tor(answer.get('tor'))}")
    click.echo(
        f"now          peers={stats['peers']} traces={stats['traces']} live={stats['live']} "
        f"disk={stats['disk_bytes']}B"
    )
    click.echo(f"since start  {_counts(stats['totals'])}")
    last = stats["last_interval"]
    click.echo(f"last line    {last['line'] if last else 'none yet'}")


def _counts(counts: dict[str, Any]) -> str:
    rejected = counts["rejected"]
    text = f"accepted={counts['accepted']} rejected={sum(rejected.values())}"
    if rejected:
        text += " (" + " ".join(f"{r}={n}" for r, n in sorted(rejected.items())) + ")"
    return text + f" evicted={counts['evicted']}"


COMMANDS = [node, relay, addr, peers, status]
