"""Commands that put the node on the mesh: node, relay, addr, peers."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from stig.cli.options import home_of, network_options, node_config, run
from stig.cli.publishing import DEFAULT_TITLE, site_settings
from stig.cli.render import echo_json
from stig.errors import UsageError
from stig.node import clock
from stig.node.config import Config, RelayPolicy
from stig.node.control import ask_status
from stig.node.home import Home
from stig.node.local import create_store
from stig.node.mesh import MeshNode, read_addresses
from stig.publish.mirror import Mirror
from stig.publish.publisher import DEFAULT_LIMIT, Publisher
from stig.readable import span
from stig.store.sqlite import SqliteStore


def _network_options(command: Any) -> Any:
    return network_options(
        click.option("--verbose", "-v", is_flag=True, help="Log what the node does.")(command)
    )


@click.command()
@_network_options
@click.pass_context
def node(
    ctx: click.Context,
    listen: tuple[str, ...],
    bootstrap: tuple[str, ...],
    lan: bool,
    psk_file: Path | None,
    verbose: bool,
) -> None:
    """Run this node on the mesh, headless, in the foreground (Ctrl-C stops it)."""
    _serve(home_of(ctx), listen, bootstrap, lan, psk_file, verbose, None, None)


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
    verbose: bool,
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
    [relay], or these options); with --publish, republish them to the web (docs/relay.md)."""
    overrides = {
        "carry_tags": carry_tag,
        "refuse_tags": refuse_tag,
        "max_traces": max_traces,
        "author_quota": author_quota,
        "min_pow_bits": min_pow,
    }
    if publish_dir is None:
        _serve(home_of(ctx), listen, bootstrap, lan, psk_file, verbose, overrides, None)
        return
    selection, options = site_settings(
        publish_tag, publish_kind, publish_limit, site_title, base_url
    )
    with Mirror(publish_dir) as mirror:  # refuses a directory it must not write into, now
        publisher = Publisher(mirror, selection, options)
        _serve(home_of(ctx), listen, bootstrap, lan, psk_file, verbose, overrides, publisher)


def _serve(
    home: Home,
    listen: tuple[str, ...],
    bootstrap: tuple[str, ...],
    lan: bool,
    psk_file: Path | None,
    verbose: bool,
    relay_overrides: dict[str, Any] | None,
    publisher: Publisher | None,
) -> None:
    # Imported here: libp2p takes a second to import, and only these commands need it.
    from stig.node.libp2p_net import Libp2pNetwork  # noqa: PLC0415

    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    home.create()
    config = node_config(home, listen, bootstrap, lan, psk_file)
    if relay_overrides is not None:
        config = Config(config.network, _relay_policy(config.relay, relay_overrides))
    network = Libp2pNetwork.for_home(home, config)

    async def go() -> None:
        await create_store(home)
        store = await SqliteStore.open(home.store)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        mesh = MeshNode(home, store, network, config)
        task = loop.create_task(mesh.run(stop))
        publishing: asyncio.Task[None] | None = None
        reader: SqliteStore | None = None
        if publisher is not None:
            # Its own connection: it reads only committed state, never the middle of one of
            # the node's write transactions on the shared one.
            reader = await SqliteStore.open(home.store)
            publishing = loop.create_task(publisher.run(reader, stop))
            # A bug in publishing stops the relay (and surfaces) rather than going unseen.
            publishing.add_done_callback(lambda _: stop.set())
            click.echo(f"publishing into {publisher.mirror.root}", err=True)
        try:
            started = loop.create_task(mesh.started.wait())
            await asyncio.wait({task, started}, return_when=asyncio.FIRST_COMPLETED)
            if mesh.started.is_set():
                kind = "relay" if relay_overrides is not None else "node"
                click.echo(f"stig {kind} {network.peer_id} listening on:", err=True)
                for address in mesh.addresses:
                    click.echo(address)
                sys.stdout.flush()
            await task
        finally:
            stop.set()
            try:
                if publishing is not None:
                    await publishing
            finally:
                if reader is not None:
                    await reader.close()
                await store.close()

    run(go())


def _relay_policy(base: RelayPolicy, overrides: dict[str, Any]) -> RelayPolicy:
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
    for address in status["addresses"]:
        click.echo(f"  {address}")
    if not status["peers"]:
        click.echo("no peers yet: start another node with --bootstrap <one of the addresses>,")
        click.echo("or run with --lan to find nodes on this network")
    now = clock.now()
    for p in status["peers"]:
        state = "connected" if p["connected"] else "gone"
        if p["banned"]:
            state = f"cut off ({p['ban_reason']})"
        synced = f"synced {span(int(now - p['last_sync']))} ago" if p["last_sync"] else "not synced"
        rejected = ", ".join(f"{k} {v}" for k, v in sorted(p["rejected"].items())) or "none"
        click.echo(
            f"{p['peer']}  {state}  {synced}  in {p['bytes_in']} B  out {p['bytes_out']} B  "
            f"accepted {p['accepted']}  rejected: {rejected}"
        )


COMMANDS = [node, relay, addr, peers]
