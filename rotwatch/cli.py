"""The rotwatch command line: a thin layer over the Python API in rotwatch/, archive/, …"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from archive.db import StoreError
from archive.store import SeedChange, Store
from crawler.documents import Role, SeedFormat
from rotwatch import __version__
from rotwatch.config import Config, ConfigError, load_config
from rotwatch.exitcodes import ExitCode
from rotwatch.ingest import ingest_paths
from rotwatch.output import write_rows

LINK_COLUMNS = ("seed", "role", "url", "anchor_text", "context", "checkable", "state")


def _now() -> datetime:
    return datetime.now(UTC)


def _echo_err(message: str) -> None:
    click.echo(message, err=True)


class Context:
    def __init__(self, config: Config) -> None:
        self.config = config

    def store(self) -> Store:
        return Store(self.config.store_path)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rotwatch")
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False),
              envvar="ROTWATCH_CONFIG", help="TOML file with every setting (see docs/config.md).")
@click.option("--data-dir", type=click.Path(path_type=Path, file_okay=False),
              help="Where the store and WARC files live. Also $ROTWATCH_DATA_DIR; "
                   "default ~/.local/share/rotwatch.")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, data_dir: Path | None) -> None:
    """Keep the links inside published articles alive and on record.

    \b
    Example:
      rotwatch --data-dir ./data run seeds/
    """
    try:
        ctx.obj = Context(load_config(config_path, data_dir))
    except ConfigError as exc:
        _echo_err(f"rotwatch: {exc}")
        ctx.exit(ExitCode.ERROR)


@cli.command()
@click.argument("paths", nargs=-1)
@click.option("--format", "fmt", type=click.Choice([f.value for f in SeedFormat]),
              help="Read every seed as this format instead of detecting it.")
@click.pass_obj
def ingest(obj: Context, paths: tuple[str, ...], fmt: str | None) -> None:
    """Extract every outbound link from seed articles into the store.

    PATHS are files, directories (searched recursively) or glob patterns;
    the default is the configured seed list (seeds/).

    \b
    Example:
      rotwatch ingest seeds/ 'archive/2024/**/*.html'
    """
    code = run_ingest(obj, paths, fmt)
    sys.exit(code)


def run_ingest(obj: Context, paths: tuple[str, ...], fmt: str | None) -> ExitCode:
    cfg = obj.config
    try:
        with obj.store() as store:
            report = ingest_paths(
                store, paths or cfg.ingest.seeds, now=_now(),
                max_seed_bytes=int(cfg.ingest.max_seed_mb * 1e6),
                batch_size=cfg.ingest.batch_size,
                fmt=SeedFormat(fmt) if fmt else None, on_problem=_echo_err)
    except StoreError as exc:
        _echo_err(f"rotwatch: {exc}")
        return ExitCode.ERROR
    click.echo(
        f"ingested {len(report.outcomes)} seed(s): {report.count(SeedChange.NEW)} new, "
        f"{report.count(SeedChange.CHANGED)} changed, {report.count(SeedChange.UNCHANGED)} "
        f"unchanged; {report.links} link(s); {len(report.problems)} problem(s)", err=True)
    if not report.outcomes and report.problems:
        return ExitCode.ERROR
    return ExitCode.OK


@cli.command()
@click.option("--seed", "seeds", multiple=True, help="Only seeds whose path contains this "
              "text (repeatable).")
@click.option("--role", "roles", multiple=True, type=click.Choice([r.value for r in Role]),
              help="Only links with this role (repeatable).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True, help="Output format.")
@click.option("--removed", is_flag=True, help="Also list links that left their article.")
@click.pass_obj
def links(obj: Context, seeds: tuple[str, ...], roles: tuple[str, ...], fmt: str,
          removed: bool) -> None:
    """List the recorded links with their seed, role and context.

    \b
    Example:
      rotwatch links --role primary-source --format json
    """
    try:
        with obj.store() as store:
            rows = store.links(seeds=seeds, roles=roles, include_removed=removed)
            count = write_rows(rows, fmt, LINK_COLUMNS, title="links")
    except StoreError as exc:
        _echo_err(f"rotwatch: {exc}")
        sys.exit(ExitCode.ERROR)
    if fmt == "table":
        click.echo(f"{count} link(s)", err=True)


@cli.command()
@click.pass_obj
def status(obj: Context) -> None:
    """Show what the store holds: counts, link states and the last runs.

    \b
    Example:
      rotwatch --data-dir ./data status
    """
    try:
        with obj.store() as store:
            counts = store.counts()
            states = store.target_states()
    except StoreError as exc:
        _echo_err(f"rotwatch: {exc}")
        sys.exit(ExitCode.ERROR)
    click.echo(f"store: {obj.config.store_path}")
    click.echo("  " + "  ".join(f"{name}={n}" for name, n in counts.items()))
    if states:
        click.echo("targets by state: " + ", ".join(f"{s}={n}" for s, n in sorted(states.items())))


@cli.command()
@click.argument("paths", nargs=-1)
@click.pass_obj
def run(obj: Context, paths: tuple[str, ...]) -> None:
    """Ingest the seeds, check the links that are due, and print the summary.

    PATHS default to the configured seed list (seeds/).

    \b
    Example:
      rotwatch --data-dir ./data run seeds/
    """
    code = run_ingest(obj, paths, None)
    if code is not ExitCode.OK:
        sys.exit(code)
    with obj.store() as store:
        write_rows(store.links(), "table", LINK_COLUMNS, title="links")
    sys.exit(code)


def main() -> None:
    cli(prog_name="rotwatch")
