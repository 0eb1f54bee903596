"""Commands that take traces to the web and feeds into the mesh: publish, serve, import-feed
(docs/relay.md "Publishing"). ``stig relay --publish DIR`` keeps a site current (cli/mesh.py)."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

import click

from stig.cli.options import Duration, home_of, load_persona, run
from stig.cli.render import echo_json
from stig.crdt.bounds import MAX_TTL
from stig.crdt.normal_form import normalize_tag
from stig.errors import UsageError
from stig.node.local import LocalNode
from stig.publish.mirror import Mirror
from stig.publish.publisher import DEFAULT_LIMIT, Publisher, Selection
from stig.publish.site import SiteOptions
from stig.readable import span

DEFAULT_TITLE = "stig traces"


def site_settings(
    tags: tuple[str, ...], kind_names: tuple[str, ...], limit: int, title: str, base_url: str
) -> tuple[Selection, SiteOptions]:
    """What to publish and how, from command-line options (shared with `stig relay`)."""
    base = base_url.strip()
    if base:
        if not base.lower().startswith(("http://", "https://")) or any(c.isspace() for c in base):
            raise UsageError(
                f"--base-url {base_url!r} is not an http(s) URL; give the site's address, "
                "e.g. https://example.org/stig/"
            )
        base = base if base.endswith("/") else base + "/"
    selection = Selection(
        kinds=frozenset(k.strip().lower() for k in kind_names),
        tags=frozenset(normalize_tag(t) for t in tags),
        limit=limit,
    )
    return selection, SiteOptions(title=title, base_url=base)


def _site_options(command: Any) -> Any:
    for option in reversed(
        [
            click.option(
                "--tag", "-t", "tags", multiple=True, help="Only traces with this tag (any of)."
            ),
            click.option(
                "--kind",
                "-k",
                "kind_names",
                multiple=True,
                help="Only traces of this kind (any of).",
            ),
            click.option(
                "--limit",
                type=click.IntRange(1),
                default=DEFAULT_LIMIT,
                show_default=True,
                help="At most this many traces, the most intense.",
            ),
            click.option("--title", default=DEFAULT_TITLE, show_default=True, help="Site title."),
            click.option(
                "--base-url", default="", help="The site's public address, for links in feeds."
            ),
        ]
    ):
        command = option(command)
    return command


@click.command()
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory of the site (created; stig only ever removes what it wrote there).",
)
@_site_options
@click.pass_context
def publish(
    ctx: click.Context,
    out: Path,
    tags: tuple[str, ...],
    kind_names: tuple[str, ...],
    limit: int,
    title: str,
    base_url: str,
) -> None:
    """Write the public traces alive here as a static site with Atom feeds. Run it again (or
    `stig relay --publish`) to follow: traces that faded or were retracted leave the site."""
    selection, options = site_settings(tags, kind_names, limit, title, base_url)

    async def go() -> tuple[int, Any]:
        async with LocalNode.open(home_of(ctx)) as node:
            with Mirror(out) as mirror:
                publisher = Publisher(mirror, selection, options, clock=node.clock)
                threads, written = await publisher.render(node.store)
                return len(threads), written

    count, written = run(go())
    click.echo(
        f"published {count} trace{'' if count == 1 else 's'} into {out}: "
        f"{written.written} files written, {written.removed} removed"
    )


@click.command()
@click.argument("directory", type=click.Path(path_type=Path))
@click.option(
    "--listen",
    default="127.0.0.1:8080",
    show_default=True,
    help="HOST:PORT to listen on (port 0: any free port).",
)
@click.option("--verbose", "-v", is_flag=True, help="Log every request (with its address).")
def serve(directory: Path, listen: str, verbose: bool) -> None:
    """Serve a published DIRECTORY over HTTP, read-only: for a LAN or a preview. Prints its
    address; Ctrl-C stops it."""
    from stig.publish.serve import make_server, parse_listen  # noqa: PLC0415 - http.server is slow to import

    host, port = parse_listen(listen)
    server = make_server(directory, host, port, verbose)
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"http://{shown}:{server.server_address[1]}/")
    click.echo(f"serving {directory} read-only (Ctrl-C stops)", err=True)
    sys.stdout.flush()

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@click.command("import-feed")
@click.argument("source", metavar="FILE_OR_URL")
@click.option("--persona", "-p", default=None, help="Sign as this persona (the relay's own).")
@click.option("--tag", "-t", "tags", multiple=True, help="A tag for every trace (repeatable).")
@click.option(
    "--ttl", type=Duration(), default="7d", show_default=True, help="Life, e.g. 3d (max 30d)."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def import_feed(
    ctx: click.Context,
    source: str,
    persona: str | None,
    tags: tuple[str, ...],
    ttl: int,
    as_json: bool,
) -> None:
    """Bring an Atom or RSS feed (a file or an http(s) URL) into the mesh: each entry becomes a
    `report` trace with a link back to it, once — entries imported before are skipped."""
    # Imported here: feedparser takes ~70 ms to import, and only this command needs it.
    from stig.publish.feed_import import (  # noqa: PLC0415
        LEDGER,
        Ledger,
        import_entries,
        parse_feed,
        read_source,
    )

    if not 0 < ttl <= MAX_TTL:
        raise UsageError(f"--ttl {span(ttl)} is out of range: a trace lives up to 30d")
    normal_tags = tuple(normalize_tag(t) for t in tags)
    feed = parse_feed(read_source(source), source)  # a broken feed stops here, nothing posted
    home = home_of(ctx)

    async def go() -> Any:
        async with LocalNode.open(home) as node:
            signer = load_persona(node.keyring, persona)
            ledger = Ledger.load(home.root / LEDGER)
            return await import_entries(
                node, signer, feed, tags=normal_tags, ttl=ttl, ledger=ledger
            )

    report = run(go())
    if as_json:
        echo_json(
            {
                "imported": report.imported,
                "already_imported": report.already,
                "empty": report.empty,
            }
        )
        return
    click.echo(
        f"imported {len(report.imported)} of {len(feed.entries) + feed.empty} entries as "
        f"report traces; {report.already} imported before, {report.empty} empty"
    )


COMMANDS = [publish, serve, import_feed]
