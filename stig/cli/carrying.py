"""Commands that carry traces by hand and keep the store tidy: export, import, gc."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

from stig.cli.options import Since, home_of, run
from stig.cli.render import echo_json, echo_report, report_json
from stig.crdt.normal_form import normalize_tag
from stig.node.local import LocalNode
from stig.store.port import ExportFilter


@contextmanager
def _progress(label: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr when a person is watching; silent in scripts."""
    if not sys.stderr.isatty():
        yield lambda _: None
        return
    columns = [TextColumn(label), BarColumn()]
    if total is not None:
        columns.append(DownloadColumn())
    else:
        columns.append(TextColumn("{task.completed} traces"))
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)


@click.command("export")
@click.argument("file", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option("--tag", "-t", "tags", multiple=True, help="Only traces with all these tags.")
@click.option("--kind", "-k", "kind_names", multiple=True, help="Only these kinds.")
@click.option("--since", type=Since(), default=None, help="Only traces created since (3d, a date).")
@click.pass_context
def export_command(
    ctx: click.Context,
    file: Path,
    tags: tuple[str, ...],
    kind_names: tuple[str, ...],
    since: int | None,
) -> None:
    """Write live traces to a bundle FILE, to carry to another node by hand."""
    where = ExportFilter(
        kinds=frozenset(kind_names),
        tags=frozenset(normalize_tag(tag) for tag in tags),
        since=since or 0,
    )

    async def go() -> int:
        async with LocalNode.open(home_of(ctx)) as node:
            with _progress("exporting", None) as advance:
                return await node.export(file, where, advance)

    count = run(go())
    click.echo(f"exported {count} traces to {file}")


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def import_command(ctx: click.Context, file: Path, as_json: bool) -> None:
    """Read a bundle FILE; every trace is checked as if it came from the network."""

    size = file.stat().st_size

    async def go() -> None:
        async with LocalNode.open(home_of(ctx)) as node:
            with _progress("importing", size) as advance:
                advance(0)
                report = await node.import_bundle(file, advance)
        if as_json:
            echo_json(report_json(report))
        else:
            echo_report(report)

    run(go())


@click.command()
@click.pass_context
def gc(ctx: click.Context) -> None:
    """Remove expired traces for good (they are already invisible)."""

    async def go() -> int:
        async with LocalNode.open(home_of(ctx)) as node:
            return (await node.collect()).expired

    click.echo(f"removed {run(go())} expired traces")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def digest(ctx: click.Context, as_json: bool) -> None:
    """Count and digest of the live traces here: equal digests, equal sets."""

    async def go() -> tuple[int, bytes]:
        async with LocalNode.open(home_of(ctx)) as node:
            return await node.digest()

    count, value = run(go())
    if as_json:
        echo_json({"count": count, "digest": value.hex()})
    else:
        click.echo(f"{count} live traces, digest {value.hex()}")


COMMANDS = [export_command, import_command, gc, digest]
