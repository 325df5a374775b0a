"""`rotwatch ingest`: extract every outbound link from seed articles into the store."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Any

import click

from archive.store import SeedChange, Store, StoreBusyError, StoreError
from core.documents import SeedFormat
from core.exitcodes import ExitCode, exit_code
from rotwatch.cli_common import command_line, echo_err


def run_ingest(obj: Any, paths: tuple[str, ...], fmt: str | None, *, quiet: bool = False,
               progress: bool = True) -> ExitCode:
    # Parsers are loaded only by the commands that parse seeds: a `check` parent process
    # (which only starts crawl processes) stays small.
    from rotwatch.ingest import ingest_paths
    from rotwatch.progress import bar, terminal

    cfg = obj.config
    console = terminal() if progress else None
    try:
        with Store(cfg.store_path) as store, bar("ingesting", None, console) as advance:
            report = ingest_paths(
                store, paths or cfg.ingest.seeds, now=datetime.now(UTC),
                max_seed_bytes=int(cfg.ingest.max_seed_mb * 1e6),
                batch_size=cfg.ingest.batch_size,
                fmt=SeedFormat(fmt) if fmt else None, on_problem=echo_err,
                on_seed=lambda done, total: advance("seeds", total))
    except StoreError as exc:
        echo_err(f"rotwatch: {exc}")
        return exit_code(busy=isinstance(exc, StoreBusyError), error=True)
    if not quiet:
        click.echo(
            f"ingested {len(report.outcomes)} seed(s): {report.count(SeedChange.NEW)} new, "
            f"{report.count(SeedChange.CHANGED)} changed, "
            f"{report.count(SeedChange.UNCHANGED)} unchanged; {report.links} link(s); "
            f"{len(report.problems)} problem(s)", err=True)
    return exit_code(error=not report.outcomes and bool(report.problems))


@click.command()
@click.argument("paths", nargs=-1)
@click.option("--format", "fmt", type=click.Choice([f.value for f in SeedFormat]),
              help="Read every seed as this format instead of detecting it.")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but problems.")
@click.option("--no-progress", "no_progress", is_flag=True,
              help="No progress bar, even on a terminal (there is none in pipes/logs).")
@click.pass_obj
def ingest(obj: Any, paths: tuple[str, ...], fmt: str | None, quiet: bool,
           no_progress: bool) -> None:
    """Extract every outbound link from seed articles into the store.

    PATHS are files, directories (searched recursively) or glob patterns;
    the default is the configured seed list (seeds/).

    \b
    Example:
      rotwatch ingest seeds/ 'archive/2024/**/*.html'
    """
    code = run_ingest(obj, paths, fmt, quiet=quiet, progress=not (quiet or no_progress))
    if code is ExitCode.OK and not quiet:
        click.echo(f"next: `{command_line(obj.config, 'check')}` checks the links that are "
                   "due", err=True)
    sys.exit(code)
