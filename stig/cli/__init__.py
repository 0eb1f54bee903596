"""The ``stig`` command. ``main`` maps every StigError to one line on stderr and exit code 1;
usage errors exit 2 (click's convention); a traceback means a bug in stig."""

from __future__ import annotations

import sys

import click

from stig.cli.root import cli
from stig.errors import StigError


def main() -> None:
    try:
        code = cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("stig: aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except StigError as exc:
        click.echo(f"stig: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
