"""The rotwatch command line: a thin layer over the Python API in rotwatch/, archive/, …"""

from __future__ import annotations

import sys
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path

import click

from archive.store import SeedChange, Selection, Store, StoreBusyError, StoreError
from archive.store.lock import StoreBusy, WriterLock
from core.documents import Role, SeedFormat
from core.escaping import one_line
from core.exitcodes import ExitCode, exit_code
from rotwatch import __version__
from rotwatch.cli_daemon import daemon
from rotwatch.cli_report import export, report, verify
from rotwatch.cli_suggest import suggest
from rotwatch.cli_triage import triage
from rotwatch.cli_ui import ui
from rotwatch.config import Config, ConfigError, load_config
from rotwatch.output import write_rows
from rotwatch.progress import check_with_progress, print_summary

LINK_COLUMNS = ("seed", "role", "url", "anchor_text", "context", "checkable", "state")


def _now() -> datetime:
    return datetime.now(UTC)


def _echo_err(message: str) -> None:
    # Messages can quote seed paths and exception text: one safe line each.
    click.echo(one_line(message), err=True)


def _store_failed(exc: StoreError) -> ExitCode:
    """Report a store problem in one line; a store held by another writer is BUSY (3)."""
    _echo_err(f"rotwatch: {exc}")
    return exit_code(busy=isinstance(exc, StoreBusyError), error=True)


class Context:
    def __init__(self, config: Config) -> None:
        self.config = config

    def store(self) -> Store:
        return Store(self.config.store_path)


@click.command()
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
    # Parsers are loaded only by the commands that parse seeds: a `check` parent process
    # (which only starts crawl processes) stays small.
    from rotwatch.ingest import ingest_paths

    cfg = obj.config
    try:
        with obj.store() as store:
            report = ingest_paths(
                store, paths or cfg.ingest.seeds, now=_now(),
                max_seed_bytes=int(cfg.ingest.max_seed_mb * 1e6),
                batch_size=cfg.ingest.batch_size,
                fmt=SeedFormat(fmt) if fmt else None, on_problem=_echo_err)
    except StoreError as exc:
        return _store_failed(exc)
    click.echo(
        f"ingested {len(report.outcomes)} seed(s): {report.count(SeedChange.NEW)} new, "
        f"{report.count(SeedChange.CHANGED)} changed, {report.count(SeedChange.UNCHANGED)} "
        f"unchanged; {report.links} link(s); {len(report.problems)} problem(s)", err=True)
    return exit_code(error=not report.outcomes and bool(report.problems))


@click.command()
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
            rows = (asdict(row) for row in store.links(seeds=seeds, roles=roles,
                                                       include_removed=removed))
            count = write_rows(rows, fmt, LINK_COLUMNS, title="links")
    except StoreError as exc:
        sys.exit(_store_failed(exc))
    if fmt == "table":
        click.echo(f"{count} link(s)", err=True)


@click.command()
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
            runs = store.recent_runs(5)
    except StoreError as exc:
        sys.exit(_store_failed(exc))
    click.echo(f"store: {obj.config.store_path}")
    click.echo("  " + "  ".join(f"{name}={n}" for name, n in counts.items()))
    if states:
        click.echo("targets by state: " + ", ".join(f"{s}={n}" for s, n in sorted(states.items())))
    from scheduler.daemon import fire_times_text

    for line in fire_times_text(obj.config, _now()):
        click.echo(line)
    for r in runs:
        click.echo(f"run {r.id}: {r.kind} ({r.trigger}) {r.started_at} → "
                   f"{r.ended_at or '…'} {r.status} exit={r.exit_code} {r.counts or ''}")


def _check(obj: Context, selection: Selection, allow_private: bool, trigger: str) -> ExitCode:
    config = obj.config
    if allow_private:
        config = replace(config, crawl=replace(config.crawl, allow_private_addresses=True))
    try:
        with WriterLock(config.lock_path, "check"):
            summary = check_with_progress(config, selection, trigger)
    except StoreBusy as exc:
        _echo_err(f"rotwatch: {exc}; not starting a second crawl")
        return exit_code(busy=True)
    except StoreError as exc:
        return _store_failed(exc)
    except ValueError as exc:
        _echo_err(f"rotwatch: {exc}")
        return exit_code(error=True)
    print_summary(summary)
    return summary.exit_code


@click.command()
@click.option("--all", "every", is_flag=True, help="Check every checkable target, due or not.")
@click.option("--seed", "seeds", multiple=True,
              help="Only targets cited by seeds whose path contains this text (repeatable).")
@click.option("--url", "urls", multiple=True, help="Only this target URL (repeatable).")
@click.option("--allow-private", is_flag=True,
              help="Also check targets on loopback/private addresses (refused by default).")
@click.pass_obj
def check(obj: Context, every: bool, seeds: tuple[str, ...], urls: tuple[str, ...],
          allow_private: bool) -> None:
    """Check the links that are due (one Scrapy crawl) and record every verdict.

    Exits 0 when every checked link is healthy, 2 when any is broken or dead,
    1 on error, 3 when another rotwatch process holds the store.

    \b
    Example:
      rotwatch check --seed blinken --all
    """
    from core.urls import resolve

    keys = tuple(resolve(u, None).key for u in urls)
    sys.exit(_check(obj, Selection(every=every, seeds=seeds, keys=keys), allow_private,
                    "manual"))


@click.command()
@click.argument("paths", nargs=-1)
@click.option("--allow-private", is_flag=True,
              help="Also check targets on loopback/private addresses (refused by default).")
@click.pass_obj
def run(obj: Context, paths: tuple[str, ...], allow_private: bool) -> None:
    """Ingest the seeds, check the links that are due, and print the summary.

    PATHS default to the configured seed list (seeds/).

    \b
    Example:
      rotwatch --data-dir ./data run seeds/
    """
    code = run_ingest(obj, paths, None)
    if code is not ExitCode.OK:
        sys.exit(code)
    sys.exit(_check(obj, Selection(), allow_private, "run"))


# Every command, handed to the group when it is built, so no import has to register one.
# Imports that are heavy or only some commands need (parsers, APScheduler) stay inside
# the command functions.
COMMANDS: tuple[click.Command, ...] = (ingest, links, status, check, run, report, export,
                                       verify, daemon, triage, ui, suggest)


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, commands=COMMANDS)
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
        ctx.exit(exit_code(error=True))


def main() -> None:
    cli(prog_name="rotwatch")
